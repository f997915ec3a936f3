/*
 * tui.h - the console layer's private header.
 *
 * The console is a screen manager (tui.c) that owns the terminal, the loop
 * handles and the frame timing, and a const table of views (tui_views[],
 * one file per view: view-fleet.c, ...).  The manager draws the header and
 * the footer; the current view draws the body and handles its keys.  Key
 * hints in the footer are generated from the view's key table, so a binding
 * and its hint cannot drift apart.
 *
 * Every piece of text drawn goes through text_sanitize() (text.c): nothing
 * from a node reaches the terminal raw.
 */
#ifndef NX_TUI_H
#define NX_TUI_H

#include <curses.h>

#include "engine.h"

struct tui_opts {
	bool readonly;
	uint32_t fps;           /* frame cap; 0 = default (10) */
	const char *theme;
};

struct tui;

#define TUI_CTRL(c) ((c) & 0x1f)
#define TUI_KEY_ESC 27

/*
 * Actions the screen manager carries out itself.  A view's own actions are
 * numbered from 0 up; these are negative so both fit in tui_key.action.
 */
enum {
	TUI_ACT_NONE = -1,
	TUI_ACT_QUIT = -2,      /* leave the console (exit status 0) */
	TUI_ACT_BACK = -3,      /* leave the view; quits from the top level */
	TUI_ACT_REDRAW = -4,    /* repaint the whole terminal */
};

/*
 * One key binding.  `key` is a character (as wget_wch returns it) when
 * `keycode` is false, or a KEY_* code when it is true.  Rows with a `hint`
 * make one footer entry ("j/k move"); rows without one are aliases (Down
 * for j) and stay out of the footer.
 */
struct tui_key {
	int key;
	bool keycode;
	int action;             /* the view's action, or a TUI_ACT_* */
	const char *hint;       /* the keys as the footer names them */
	const char *help;       /* what they do, one or two words */
};

/* A key as it was read. */
struct tui_input {
	wint_t ch;
	bool keycode;           /* ch is a KEY_* code */
};

/*
 * A view: a const table entry (designated initialisers, version first),
 * listed in tui_views[].  Every hook but draw is optional.
 *
 *  init        make the view's state (owned by the manager, freed with
 *              free); called once, the first time the view is shown.
 *  draw        draw the body into `body` (erased already); t->now is the
 *              engine time of this frame.
 *  handle_key  act on a key; `bound` is the row of `keys` it matched, or
 *              NULL.  Returns true when the key was used (and the view
 *              called tui_mark_dirty() if it changed something), false to
 *              let the manager try its global keys.
 *  position    write where the view is ("rows 1-45 of 5001") into buf for
 *              the right end of the footer.
 */
#define TUI_VIEW_VERSION 1
struct view {
	int version;
	const char *name;
	int key;                /* switches to this view; 0 for none */
	const struct tui_key *keys;
	size_t nkeys;
	void *(*init)(struct tui *);
	void (*free)(void *state);
	void (*draw)(struct tui *, void *state, WINDOW *body);
	bool (*handle_key)(struct tui *, void *state, const struct tui_input *,
	    const struct tui_key *bound);
	void (*position)(struct tui *, void *state, char *buf, size_t len);
};

/* What the theme gives each part of the screen (theme.c). */
struct tui_theme {
	bool color;
	attr_t normal;
	attr_t title;           /* the header's first line */
	attr_t colhdr;          /* table column titles */
	attr_t select;          /* the selection bar */
	attr_t key;             /* a key name in the footer */
	attr_t dim;             /* secondary text */
	attr_t health[NX_H__COUNT];
};

#define TUI_STACK_MAX 8

/* The console: one per tui_run(), on the heap, freed after its handles close. */
struct tui {
	struct engine *e;
	uv_loop_t *loop;
	const struct tui_opts *opts;
	struct tui_theme theme;
	bool utf8;              /* the locale's charset is UTF-8 */

	WINDOW *header, *body, *footer;
	WINDOW *input_pad;      /* keys are read here: a pad never refreshes */
	int lines, cols;

	uv_poll_t input;
	uv_timer_t frame;       /* one-shot, armed when something changed */
	uv_timer_t clock;       /* every wall-clock second */
	uv_signal_t sig[4];     /* SIGWINCH SIGINT SIGTERM SIGHUP */
	int nopen;              /* handles not yet closed */

	bool dirty;             /* a frame is due */
	bool quit;
	int exit_status;
	uint32_t frame_ms;
	uint64_t last_frame;    /* uv_now() of the last frame */
	uint64_t frames;

	uint64_t results;       /* result events seen */
	uint64_t results_mark;  /* at the last clock tick */
	uint64_t mark_ms;
	uint32_t eps;           /* result events in the last second */

	nx_time now;            /* engine time of the frame being drawn */
	size_t stack[TUI_STACK_MAX];    /* indexes into tui_views[] */
	size_t depth;
	void **vstate;          /* per view, by table index */
};

/* tui.c */
extern const struct view *const tui_views[];
extern const size_t tui_nviews;
int tui_run(struct engine *, const struct tui_opts *);
void tui_mark_dirty(struct tui *);
const struct tui_key *tui_key_find(const struct tui_key *, size_t,
    const struct tui_input *);
int tui_print(struct tui *, WINDOW *, int y, int x, int width, attr_t,
    const char *, size_t);
int tui_print_right(struct tui *, WINDOW *, int y, int x, int width, attr_t,
    const char *);
void tui_format_age(char *, size_t, nx_time age_ms);

/* text.c */
size_t text_sanitize(char *dst, size_t dstlen, const char *src, size_t srclen);
size_t text_fit(const char *, size_t, int maxcols, int *cols);
int text_width(const char *, size_t);
int text_cp_width(uint32_t);
size_t text_next(const char *, size_t, uint32_t *);

/* theme.c */
void theme_init(struct tui_theme *, const char *name, bool color);

/* view-fleet.c */
extern const struct view view_fleet;

#endif /* NX_TUI_H */
