/*
 * theme.c - colours and attributes for each part of the screen.
 *
 * One built-in theme, "default", in two renderings: colour pairs on
 * terminals that have colours, and plain attributes (bold, underline,
 * reverse) on monochrome terminals or when NO_COLOR is set.  Colour is never
 * the only carrier of meaning: every state is also written as a word, so
 * the mono rendering loses emphasis, not information.  Theme files (themes/)
 * will be loaded here by name; until then every name gets the default.
 */
#include "config.h"

#include <string.h>

#include "tui.h"

struct theme_color {
	short fg, bg;           /* -1 is the terminal's default */
	attr_t attr;
};

/* The default theme; pair numbers are the array index + 1. */
enum {
	TC_TITLE,
	TC_COLHDR,
	TC_SELECT,
	TC_KEY,
	TC_DIM,
	TC_OK,
	TC_WARNING,
	TC_CRITICAL,
	TC_UNKNOWN,
	TC_DOWN,
	TC_UNREACHABLE,
	TC_PENDING,
	TC__COUNT
};

static const struct theme_color theme_default[TC__COUNT] = {
	[TC_TITLE] = { COLOR_WHITE, COLOR_BLUE, A_BOLD },
	[TC_COLHDR] = { COLOR_CYAN, -1, A_BOLD },
	[TC_SELECT] = { COLOR_BLACK, COLOR_CYAN, 0 },
	[TC_KEY] = { COLOR_BLACK, COLOR_CYAN, 0 },
	[TC_DIM] = { COLOR_BLUE, -1, A_BOLD },
	[TC_OK] = { COLOR_GREEN, -1, 0 },
	[TC_WARNING] = { COLOR_YELLOW, -1, A_BOLD },
	[TC_CRITICAL] = { COLOR_RED, -1, A_BOLD },
	[TC_UNKNOWN] = { COLOR_MAGENTA, -1, A_BOLD },
	[TC_DOWN] = { COLOR_WHITE, COLOR_RED, A_BOLD },
	[TC_UNREACHABLE] = { COLOR_RED, -1, 0 },
	[TC_PENDING] = { COLOR_BLUE, -1, A_BOLD },
};

/* What each health gets without colour: emphasis grows with severity. */
static const attr_t theme_mono_health[NX_H__COUNT] = {
	[NX_H_OK] = A_NORMAL,
	[NX_H_WARNING] = A_BOLD,
	[NX_H_CRITICAL] = A_BOLD | A_UNDERLINE,
	[NX_H_UNKNOWN] = A_BOLD,
	[NX_H_DOWN] = A_BOLD | A_UNDERLINE,
	[NX_H_UNREACHABLE] = A_UNDERLINE,
	[NX_H_PENDING] = A_DIM,
};

static attr_t
theme_pair(int tc)
{
	return COLOR_PAIR(tc + 1) | theme_default[tc].attr;
}

/*
 * Fills th for theme `name` (NULL or unknown: the default).  With color
 * false, or on a terminal without colours, it uses attributes only; with
 * colours it allocates the pairs (start_color() must have been called).
 */
void
theme_init(struct tui_theme *th, const char *name, bool color)
{
	bool dflt = false;
	int i;

	memset(th, 0, sizeof *th);
	th->normal = A_NORMAL;
	if (color && has_colors() && COLORS >= 8 && COLOR_PAIRS > TC__COUNT) {
		dflt = use_default_colors() == OK;
		for (i = 0; i < TC__COUNT; i++) {
			short fg = theme_default[i].fg, bg = theme_default[i].bg;

			if (!dflt && fg < 0)
				fg = COLOR_WHITE;
			if (!dflt && bg < 0)
				bg = COLOR_BLACK;
			init_pair((short)(i + 1), fg, bg);
		}
		th->color = true;
		th->title = theme_pair(TC_TITLE);
		th->colhdr = theme_pair(TC_COLHDR);
		th->select = theme_pair(TC_SELECT);
		th->key = theme_pair(TC_KEY);
		th->dim = theme_pair(TC_DIM);
		for (i = 0; i < NX_H__COUNT; i++)
			th->health[i] = theme_pair(TC_OK + i);
		return;
	}
	th->title = A_REVERSE | A_BOLD;
	th->colhdr = A_BOLD | A_UNDERLINE;
	th->select = A_REVERSE;
	th->key = A_REVERSE;
	th->dim = A_DIM;
	for (i = 0; i < NX_H__COUNT; i++)
		th->health[i] = theme_mono_health[i];
}
