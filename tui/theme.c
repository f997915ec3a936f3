/*
 * theme.c - colours and attributes for each part of the screen.
 *
 * A theme names a colour (foreground, background) and attributes for each
 * part of the screen.  "default" and "mono" are built in; any other name is
 * a JSON file NAME.json looked up, first found wins, in
 *
 *   $XDG_CONFIG_HOME/nexusctl/themes/  (else ~/.config/nexusctl/themes/)
 *   themes/ beside the nexusctl binary (a build tree)
 *   $(pkgdatadir)/themes/              (installed themes)
 *
 * and a name with a '/' is a path.  A file found for "default" or "mono"
 * overrides the built-in one.  A theme that is missing or wrong is an error
 * naming file:line:column, never a silent fallback.
 *
 * Colour is never the only carrier of meaning: every state is also written
 * as a word.  On a monochrome terminal, with NO_COLOR set, or with the
 * "mono" theme, parts get attributes only, so the screen loses emphasis,
 * not information.  256-colour indexes degrade to the nearest of the 8 basic
 * colours on terminals that have fewer.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

/* The parts of the screen a theme colours; pair numbers are index + 1. */
static const char *const theme_part_names[TP__COUNT] = {
	[TP_TITLE] = "title",
	[TP_COLHDR] = "column_header",
	[TP_SELECT] = "selection",
	[TP_KEY] = "key",
	[TP_DIM] = "dim",
	[TP_OK] = "ok",
	[TP_WARNING] = "warning",
	[TP_CRITICAL] = "critical",
	[TP_UNKNOWN] = "unknown",
	[TP_DOWN] = "down",
	[TP_UNREACHABLE] = "unreachable",
	[TP_PENDING] = "pending",
};

static const struct theme_spec theme_builtin_default = {
	.name = "default",
	.part = {
		[TP_TITLE] = { COLOR_WHITE, COLOR_BLUE, A_BOLD },
		[TP_COLHDR] = { COLOR_CYAN, -1, A_BOLD },
		[TP_SELECT] = { COLOR_BLACK, COLOR_CYAN, 0 },
		[TP_KEY] = { COLOR_BLACK, COLOR_CYAN, 0 },
		[TP_DIM] = { COLOR_BLUE, -1, A_BOLD },
		[TP_OK] = { COLOR_GREEN, -1, 0 },
		[TP_WARNING] = { COLOR_YELLOW, -1, A_BOLD },
		[TP_CRITICAL] = { COLOR_RED, -1, A_BOLD },
		[TP_UNKNOWN] = { COLOR_MAGENTA, -1, A_BOLD },
		[TP_DOWN] = { COLOR_WHITE, COLOR_RED, A_BOLD },
		[TP_UNREACHABLE] = { COLOR_RED, -1, 0 },
		[TP_PENDING] = { COLOR_BLUE, -1, A_BOLD },
	},
};

/* Attributes only: what every theme becomes without colour. */
static const struct theme_spec theme_builtin_mono = {
	.name = "mono",
	.mono = true,
	.part = {
		[TP_TITLE] = { -1, -1, A_REVERSE | A_BOLD },
		[TP_COLHDR] = { -1, -1, A_BOLD | A_UNDERLINE },
		[TP_SELECT] = { -1, -1, A_REVERSE },
		[TP_KEY] = { -1, -1, A_REVERSE },
		[TP_DIM] = { -1, -1, A_DIM },
		[TP_OK] = { -1, -1, A_NORMAL },
		[TP_WARNING] = { -1, -1, A_BOLD },
		[TP_CRITICAL] = { -1, -1, A_BOLD | A_UNDERLINE },
		[TP_UNKNOWN] = { -1, -1, A_BOLD },
		[TP_DOWN] = { -1, -1, A_BOLD | A_UNDERLINE },
		[TP_UNREACHABLE] = { -1, -1, A_UNDERLINE },
		[TP_PENDING] = { -1, -1, A_DIM },
	},
};

static const struct {
	const char *name;
	short color;
} theme_colors[] = {
	{ "default", -1 }, { "black", COLOR_BLACK }, { "red", COLOR_RED },
	{ "green", COLOR_GREEN }, { "yellow", COLOR_YELLOW },
	{ "blue", COLOR_BLUE }, { "magenta", COLOR_MAGENTA },
	{ "cyan", COLOR_CYAN }, { "white", COLOR_WHITE },
	{ "bright-black", 8 }, { "bright-red", 9 }, { "bright-green", 10 },
	{ "bright-yellow", 11 }, { "bright-blue", 12 },
	{ "bright-magenta", 13 }, { "bright-cyan", 14 },
	{ "bright-white", 15 },
};

static const struct {
	const char *name;
	attr_t attr;
} theme_attrs[] = {
	{ "bold", A_BOLD }, { "dim", A_DIM }, { "underline", A_UNDERLINE },
	{ "reverse", A_REVERSE }, { "standout", A_STANDOUT },
	{ "italic", A_ITALIC },
};

/* ---------------------------------------------------------------------- */
/* Loading                                                                 */

struct theme_file {
	const char *path;
	const char *text;
	size_t len;
};

/* Sets err to "path:line:column: what", placed at the member at path. */
static void __attribute__((format(printf, 5, 6)))
theme_err_at(const struct theme_file *tf, const char *const *path,
    size_t npath, struct nx_err *err, const char *fmt, ...)
{
	struct jpos key = { 1, 1, 0 };
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (npath > 0)
		jpos_find(tf->text, tf->len, path, npath, &key, NULL);
	nx_err_set(err, "%s:%d:%d: %s", tf->path, key.line, key.column, what);
}

static int
theme_parse_color(const struct theme_file *tf, const char *const *path,
    json_t *v, short *out, struct nx_err *err)
{
	size_t i;

	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= 255) {
		*out = (short)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		for (i = 0; i < NX_ARRAY_LEN(theme_colors); i++) {
			if (strcmp(json_string_value(v),
			    theme_colors[i].name) == 0) {
				*out = theme_colors[i].color;
				return 0;
			}
		}
	}
	theme_err_at(tf, path, 3, err, "colors.%s.%s: expected a colour "
	    "name (default, black, red, green, yellow, blue, magenta, cyan, "
	    "white, bright-...) or a number 0-255", path[1], path[2]);
	return -1;
}

static int
theme_parse_part(const struct theme_file *tf, const char *part, json_t *obj,
    struct theme_color *tc, struct nx_err *err)
{
	const char *path[3] = { "colors", part, NULL };
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		theme_err_at(tf, path, 2, err, "colors.%s: expected an object "
		    "like {\"fg\": \"red\", \"attrs\": [\"bold\"]}", part);
		return -1;
	}
	tc->fg = tc->bg = -1;
	tc->attr = 0;
	json_object_foreach(obj, key, v) {
		path[2] = key;
		if (strcmp(key, "fg") == 0) {
			if (theme_parse_color(tf, path, v, &tc->fg, err) != 0)
				return -1;
		} else if (strcmp(key, "bg") == 0) {
			if (theme_parse_color(tf, path, v, &tc->bg, err) != 0)
				return -1;
		} else if (strcmp(key, "attrs") == 0 && json_is_array(v)) {
			size_t i, k;
			json_t *a;

			json_array_foreach(v, i, a) {
				for (k = 0; k < NX_ARRAY_LEN(theme_attrs); k++) {
					if (json_is_string(a) && strcmp(
					    json_string_value(a),
					    theme_attrs[k].name) == 0)
						break;
				}
				if (k == NX_ARRAY_LEN(theme_attrs)) {
					theme_err_at(tf, path, 3, err,
					    "colors.%s.attrs: unknown attribute "
					    "(bold, dim, underline, reverse, "
					    "standout, italic)", part);
					return -1;
				}
				tc->attr |= theme_attrs[k].attr;
			}
		} else {
			theme_err_at(tf, path, 3, err, "colors.%s: unknown key "
			    "\"%.64s\" (fg, bg, attrs)", part, key);
			return -1;
		}
	}
	return 0;
}

/*
 * Parses a theme file's text into spec, which starts as a copy of the
 * built-in default so a theme may set only some parts.  Returns 0 or -1
 * with err naming path:line:column.
 */
static int
theme_parse(const struct theme_file *tf, struct theme_spec *spec,
    struct nx_err *err)
{
	const char *path[2] = { NULL, NULL };
	json_error_t je;
	json_t *root, *v, *part;
	const char *key, *pname;
	int rc = -1;
	size_t i;

	root = json_loadb(tf->text, tf->len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		nx_err_set(err, "%s:%d:%d: %s", tf->path, je.line, je.column,
		    je.text);
		return -1;
	}
	if (!json_is_object(root)) {
		nx_err_set(err, "%s:1:1: a theme is a JSON object with "
		    "\"colors\"", tf->path);
		goto out;
	}
	json_object_foreach(root, key, v) {
		path[0] = key;
		if (strcmp(key, "name") == 0 || strcmp(key, "description") == 0) {
			if (!json_is_string(v)) {
				theme_err_at(tf, path, 1, err, "%s: expected a "
				    "string", key);
				goto out;
			}
		} else if (strcmp(key, "mono") == 0) {
			if (!json_is_boolean(v)) {
				theme_err_at(tf, path, 1, err, "mono: expected "
				    "true or false");
				goto out;
			}
			spec->mono = json_is_true(v);
		} else if (strcmp(key, "colors") == 0) {
			if (!json_is_object(v)) {
				theme_err_at(tf, path, 1, err, "colors: expected "
				    "an object of screen parts");
				goto out;
			}
			json_object_foreach(v, pname, part) {
				const char *ppath[2] = { "colors", pname };

				for (i = 0; i < TP__COUNT; i++) {
					if (strcmp(pname, theme_part_names[i]) == 0)
						break;
				}
				if (i == TP__COUNT) {
					theme_err_at(tf, ppath, 2, err,
					    "colors: unknown screen part "
					    "\"%.64s\" (title, column_header, "
					    "selection, key, dim, ok, warning, "
					    "critical, unknown, down, "
					    "unreachable, pending)", pname);
					goto out;
				}
				if (theme_parse_part(tf, pname, part,
				    &spec->part[i], err) != 0)
					goto out;
			}
		} else {
			theme_err_at(tf, path, 1, err, "unknown key \"%.64s\" "
			    "(name, description, mono, colors)", key);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* Reads a whole file; returns NULL with errno set. */
static char *
theme_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (fp == NULL)
		return NULL;
	do {
		if (n == cap) {
			if (cap >= TUI_THEME_MAX_BYTES) {
				fclose(fp);
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			cap = cap ? cap * 2 : 4096;
			buf = xrealloc(buf, cap + 1);
		}
		got = fread(buf + n, 1, cap - n, fp);
		n += got;
	} while (got > 0);
	if (ferror(fp)) {
		fclose(fp);
		free(buf);
		errno = EIO;
		return NULL;
	}
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The directories searched, in order; fills dirs, returns how many. */
static size_t
theme_dirs(char dirs[][PATH_MAX], size_t max)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char exe[PATH_MAX];
	ssize_t n;
	size_t k = 0;

	if (xdg != NULL && xdg[0] == '/')
		snprintf(dirs[k++], PATH_MAX, "%s/nexusctl/themes", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(dirs[k++], PATH_MAX, "%s/.config/nexusctl/themes",
		    home);
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0 && k < max) {
		char *slash;

		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			if (snprintf(dirs[k], PATH_MAX, "%s/themes", exe) <
			    PATH_MAX)
				k++;
		}
	}
	if (k < max)
		snprintf(dirs[k++], PATH_MAX, "%s/themes", PKGDATADIR);
	return k;
}

/*
 * Loads the theme called name (NULL or "" is "default") into spec.
 * Returns 0, or -1 with err saying what is wrong or where it looked.
 */
int
theme_load(const char *name, struct theme_spec *spec, struct nx_err *err)
{
	char dirs[4][PATH_MAX], path[PATH_MAX + 64], looked[1024] = "";
	struct theme_file tf;
	size_t ndirs, i, len = 0;
	char *text = NULL;

	if (name == NULL || *name == '\0')
		name = "default";
	*spec = theme_builtin_default;
	if (strchr(name, '/') != NULL) {
		snprintf(path, sizeof path, "%s", name);
		if ((text = theme_read(path, &len)) == NULL) {
			nx_err_set(err, "theme %s: %s", path, strerror(errno));
			return -1;
		}
	} else {
		ndirs = theme_dirs(dirs, NX_ARRAY_LEN(dirs));
		for (i = 0; i < ndirs && text == NULL; i++) {
			snprintf(path, sizeof path, "%s/%s.json", dirs[i], name);
			text = theme_read(path, &len);
			if (text == NULL && errno != ENOENT) {
				nx_err_set(err, "theme %s: %s", path,
				    strerror(errno));
				return -1;
			}
			if (text == NULL)
				snprintf(looked + strlen(looked),
				    sizeof looked - strlen(looked), "%s%s",
				    i ? ", " : "", dirs[i]);
		}
		if (text == NULL) {
			if (strcmp(name, "default") == 0)
				return 0;
			if (strcmp(name, "mono") == 0) {
				*spec = theme_builtin_mono;
				return 0;
			}
			nx_err_set(err, "theme \"%.64s\" not found (looked for "
			    "%.64s.json in %s)", name, name, looked);
			return -1;
		}
	}
	tf.path = path;
	tf.text = text;
	tf.len = len;
	snprintf(spec->name, sizeof spec->name, "%s", name);
	if (theme_parse(&tf, spec, err) != 0) {
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Applying                                                                */

/* The nearest of the 8 basic colours to a 256-colour index. */
static short
theme_color8(short c)
{
	int r, g, b;

	if (c < 8)
		return c;
	if (c < 16)
		return (short)(c - 8);
	if (c >= 232)
		return c < 244 ? COLOR_BLACK : COLOR_WHITE;
	c = (short)(c - 16);
	r = c / 36 >= 3;
	g = (c / 6) % 6 >= 3;
	b = c % 6 >= 3;
	return (short)((r ? COLOR_RED : 0) | (g ? COLOR_GREEN : 0) |
	    (b ? COLOR_BLUE : 0));
}

static attr_t
theme_mono_attr(int part)
{
	return theme_builtin_mono.part[part].attr;
}

/*
 * Fills th from spec.  With color false, a mono theme, or a terminal
 * without colours, it uses attributes only; with colours it allocates the
 * pairs (start_color() must have been called).
 */
void
theme_init(struct tui_theme *th, const struct theme_spec *spec, bool color)
{
	attr_t a[TP__COUNT];
	bool dflt;
	int i;

	memset(th, 0, sizeof *th);
	th->normal = A_NORMAL;
	if (color && !spec->mono && has_colors() && COLORS >= 8 &&
	    COLOR_PAIRS > TP__COUNT) {
		dflt = use_default_colors() == OK;
		for (i = 0; i < TP__COUNT; i++) {
			short fg = spec->part[i].fg, bg = spec->part[i].bg;

			if (fg >= COLORS)
				fg = theme_color8(fg);
			if (bg >= COLORS)
				bg = theme_color8(bg);
			if (!dflt && fg < 0)
				fg = COLOR_WHITE;
			if (!dflt && bg < 0)
				bg = COLOR_BLACK;
			init_pair((short)(i + 1), fg, bg);
			a[i] = COLOR_PAIR(i + 1) | spec->part[i].attr;
		}
		th->color = true;
	} else {
		/* Keep the terminal's own colours where colours were started. */
		if (color && has_colors())
			use_default_colors();
		for (i = 0; i < TP__COUNT; i++)
			a[i] = spec->mono ? spec->part[i].attr :
			    theme_mono_attr(i);
	}
	th->title = a[TP_TITLE];
	th->colhdr = a[TP_COLHDR];
	th->select = a[TP_SELECT];
	th->key = a[TP_KEY];
	th->dim = a[TP_DIM];
	for (i = 0; i < NX_H__COUNT; i++)
		th->health[i] = a[TP_OK + i];
}
