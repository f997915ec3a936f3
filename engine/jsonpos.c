/*
 * jsonpos.c - where things are in JSON text.
 *
 * jansson reports line:column only for syntax errors; once a document has
 * parsed, its values carry no position.  To say "file:7:15: checks.interval:
 * ..." the configuration (and any other JSON reader) walks the raw text a
 * second time with this scanner and asks where a key path is.
 *
 * The scanner is a tolerant tokenizer, not a validator: it is meant for text
 * jansson has accepted (or accepted up to a known offset), but it must not
 * crash, loop or read out of bounds whatever the bytes are, because config
 * files are untrusted input (tests/fuzz/fuzz_config.c exercises it).  It is
 * iterative, so nesting depth costs nothing but a counter.
 *
 * Lines and columns are 1-based and count characters, not bytes (a UTF-8
 * sequence is one column), the way jansson counts them.
 *
 * On top of the scanner, the place of a configuration error and its
 * message ("file:line:column: section.key[i].sub: what is wrong"): one
 * locator and one formatter for every module that parses a section
 * (struct jpos_place, engine.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

struct jscan {
	const unsigned char *s;
	size_t len;
	size_t off;
	int line;
	int column;
};

static void
jscan_init(struct jscan *j, const char *text, size_t len)
{
	j->s = (const unsigned char *)text;
	j->len = len;
	j->off = 0;
	j->line = 1;
	j->column = 1;
}

/* Steps over one byte; a continuation byte does not start a new column. */
static void
jscan_next(struct jscan *j)
{
	unsigned char c;

	if (j->off >= j->len)
		return;
	c = j->s[j->off++];
	if (c == '\n') {
		j->line++;
		j->column = 1;
	} else if ((c & 0xc0) != 0x80)
		j->column++;
}

static void
jscan_pos(const struct jscan *j, struct jpos *p)
{
	p->line = j->line;
	p->column = j->column;
	p->offset = j->off;
}

static void
jscan_ws(struct jscan *j)
{
	while (j->off < j->len && (j->s[j->off] == ' ' ||
	    j->s[j->off] == '\t' || j->s[j->off] == '\n' ||
	    j->s[j->off] == '\r'))
		jscan_next(j);
}

static int
jscan_hex4(const unsigned char *s, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
jscan_utf8(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Steps over the string starting at the current '"'.  When out is not NULL
 * stores its decoded value there (malloc'ed, NUL-terminated, the caller
 * frees it), decoding escapes as jansson does; malformed escapes decode to
 * U+FFFD.  Returns -1 (and stores nothing) if the string is unterminated.
 */
static int
jscan_string(struct jscan *j, char **out)
{
	size_t start = j->off + 1, end, i, n = 0;
	char *buf;

	jscan_next(j);
	while (j->off < j->len && j->s[j->off] != '"') {
		if (j->s[j->off] == '\\')
			jscan_next(j);
		jscan_next(j);
	}
	if (j->off >= j->len)
		return -1;
	end = j->off;
	jscan_next(j);
	if (out == NULL)
		return 0;

	/* Valid escapes only shrink (\uXXXX, 6 bytes, is at most 3 bytes of
	 * UTF-8), but a malformed "\u" (2 bytes) becomes U+FFFD (3). */
	buf = xmalloc(3 * (end - start) + 1);
	for (i = start; i < end; i++) {
		const unsigned char *s = j->s;
		uint32_t cp, lo;

		if (s[i] != '\\') {
			buf[n++] = (char)s[i];
			continue;
		}
		i++;
		switch (s[i]) {
		case 'b': buf[n++] = '\b'; break;
		case 'f': buf[n++] = '\f'; break;
		case 'n': buf[n++] = '\n'; break;
		case 'r': buf[n++] = '\r'; break;
		case 't': buf[n++] = '\t'; break;
		case 'u':
			if (end - i < 5 || jscan_hex4(s + i + 1, &cp) != 0) {
				n += jscan_utf8(0xfffd, buf + n);
				break;
			}
			i += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && end - i >= 7 &&
			    s[i + 1] == '\\' && s[i + 2] == 'u' &&
			    jscan_hex4(s + i + 3, &lo) == 0 &&
			    lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;
			n += jscan_utf8(cp, buf + n);
			break;
		default:
			buf[n++] = (char)s[i];  /* \" \\ \/ and the invalid */
			break;
		}
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* Steps over a number or literal (true, false, null, or junk). */
static void
jscan_literal(struct jscan *j)
{
	do
		jscan_next(j);
	while (j->off < j->len && strchr(" \t\r\n{}[],:\"", j->s[j->off]) ==
	    NULL);
}

/*
 * Walks the whole text and calls fn for every object member up to
 * JPOS_MAX_DEPTH deep, in document order, with the decoded key path from the
 * root (path[depth - 1] is this member's key; an array on the way is a NULL
 * entry), the position of the key's
 * opening quote, the offset just past its closing quote, and the position of
 * the first character of its value.  The path strings belong to the walk.
 *
 * Returns what fn returned when it returned non-zero (to stop the walk), 0
 * when the text ended, -1 when it stopped at something it cannot step over
 * (an unterminated string, nesting deeper than it keeps track of).
 */
static int jpos_walk_index(const char *, size_t, jpos_visit_fn, void *,
    size_t *);

int
jpos_walk(const char *text, size_t len, jpos_visit_fn fn, void *arg)
{
	return jpos_walk_index(text, len, fn, arg, NULL);
}

/*
 * jpos_walk(), also keeping in index[d] (when index is not NULL, room for
 * JPOS_MAX_DEPTH) the number of the element being walked in the array at
 * depth d, for visitors that need to tell array elements apart.
 */
static int
jpos_walk_index(const char *text, size_t len, jpos_visit_fn fn, void *arg,
    size_t *index)
{
	enum { CONT_OBJECT = 1, CONT_ARRAY = 2 };
	unsigned char *stack;
	char *path[JPOS_MAX_DEPTH] = { NULL };
	size_t depth = 0, maxdepth = 4096, i;
	struct jscan j;
	bool want_key = false;
	int rc = 0;

	jscan_init(&j, text, len);
	stack = xmalloc(maxdepth);
	for (;;) {
		struct jpos kpos, vpos;
		size_t kend;
		char *key;
		int c;

		jscan_ws(&j);
		if (j.off >= j.len)
			break;
		c = j.s[j.off];
		if (c == '{' || c == '[') {
			if (depth == maxdepth) {
				rc = -1;
				break;
			}
			stack[depth++] = c == '{' ? CONT_OBJECT : CONT_ARRAY;
			want_key = c == '{';
			if (c == '[' && depth <= JPOS_MAX_DEPTH) {
				free(path[depth - 1]);
				path[depth - 1] = NULL;
				if (index != NULL)
					index[depth - 1] = 0;
			}
			jscan_next(&j);
		} else if (c == '}' || c == ']') {
			if (depth > 0) {
				depth--;
				if (depth < JPOS_MAX_DEPTH) {
					free(path[depth]);
					path[depth] = NULL;
				}
			}
			want_key = false;
			jscan_next(&j);
		} else if (c == ',') {
			want_key = depth > 0 && stack[depth - 1] == CONT_OBJECT;
			if (index != NULL && depth > 0 && depth <= JPOS_MAX_DEPTH &&
			    stack[depth - 1] == CONT_ARRAY)
				index[depth - 1]++;
			jscan_next(&j);
		} else if (c == ':') {
			want_key = false;
			jscan_next(&j);
		} else if (c == '"' && want_key) {
			want_key = false;
			jscan_pos(&j, &kpos);
			key = NULL;
			if (jscan_string(&j, depth <= JPOS_MAX_DEPTH ? &key :
			    NULL) != 0) {
				rc = -1;
				break;
			}
			kend = j.off;
			jscan_ws(&j);
			if (j.off < j.len && j.s[j.off] == ':') {
				jscan_next(&j);
				jscan_ws(&j);
			}
			jscan_pos(&j, &vpos);
			if (key == NULL)
				continue;
			free(path[depth - 1]);
			path[depth - 1] = key;
			rc = fn(arg, (const char *const *)path, depth, &kpos,
			    kend, &vpos);
			if (rc != 0)
				break;
		} else if (c == '"') {
			if (jscan_string(&j, NULL) != 0) {
				rc = -1;
				break;
			}
		} else
			jscan_literal(&j);
	}
	for (i = 0; i < JPOS_MAX_DEPTH; i++)
		free(path[i]);
	free(stack);
	return rc;
}

struct jpos_find {
	const char *const *path;
	size_t npath;
	struct jpos *key, *value;
};

static int
jpos_find_visit(void *arg, const char *const *path, size_t depth,
    const struct jpos *key, size_t key_end, const struct jpos *value)
{
	struct jpos_find *f = arg;
	size_t i;

	if (depth != f->npath)
		return 0;
	for (i = 0; i < depth; i++) {
		if (path[i] == NULL || strcmp(path[i], f->path[i]) != 0)
			return 0;
	}
	if (f->key != NULL)
		*f->key = *key;
	if (f->value != NULL)
		*f->value = *value;
	return 1;
}

/*
 * Finds the member at path (npath keys from the root, at most
 * JPOS_MAX_DEPTH) and stores where its key and its value start; either
 * pointer may be NULL.  Returns 0 when found, -1 when not.
 */
int
jpos_find(const char *text, size_t len, const char *const *path,
    size_t npath, struct jpos *key, struct jpos *value)
{
	struct jpos_find f = { path, npath, key, value };

	if (npath == 0 || npath > JPOS_MAX_DEPTH)
		return -1;
	return jpos_walk(text, len, jpos_find_visit, &f) == 1 ? 0 : -1;
}

struct jpos_find_indexed {
	const char *const *path;
	const size_t *want;     /* element numbers where path[i] is NULL */
	size_t npath;
	size_t index[JPOS_MAX_DEPTH];
	struct jpos *key, *value;
};

static int
jpos_find_indexed_visit(void *arg, const char *const *path, size_t depth,
    const struct jpos *key, size_t key_end, const struct jpos *value)
{
	struct jpos_find_indexed *f = arg;
	size_t i;

	(void)key_end;
	if (depth != f->npath)
		return 0;
	for (i = 0; i < depth; i++) {
		if (f->path[i] == NULL) {
			if (path[i] != NULL || f->index[i] != f->want[i])
				return 0;
		} else if (path[i] == NULL || strcmp(path[i], f->path[i]) != 0)
			return 0;
	}
	if (f->key != NULL)
		*f->key = *key;
	if (f->value != NULL)
		*f->value = *value;
	return 1;
}

/*
 * jpos_find() through arrays: a NULL in path stands for the element
 * index[i] (0-based) of the array at that depth, so {"checks", "define",
 * NULL, "kind"} with index {0, 0, 2, 0} is checks.define[2].kind.  Only
 * object members can be found (an element that is not an object has no
 * key).  Returns 0 when found, -1 when not.
 */
int
jpos_find_indexed(const char *text, size_t len, const char *const *path,
    const size_t *index, size_t npath, struct jpos *key, struct jpos *value)
{
	struct jpos_find_indexed f;

	if (npath == 0 || npath > JPOS_MAX_DEPTH)
		return -1;
	memset(&f, 0, sizeof f);
	f.path = path;
	f.want = index;
	f.npath = npath;
	f.key = key;
	f.value = value;
	return jpos_walk_index(text, len, jpos_find_indexed_visit, &f,
	    f.index) == 1 ? 0 : -1;
}

/* The line and column of byte offset off (clamped to the text). */
void
jpos_at(const char *text, size_t len, size_t off, struct jpos *pos)
{
	struct jscan j;

	jscan_init(&j, text, len);
	while (j.off < off && j.off < j.len)
		jscan_next(&j);
	jscan_pos(&j, pos);
}

/*
 * Finds the first character after the first value of the text (skipping
 * white space on both sides) and stores its position: where trailing
 * garbage starts.  Returns 0 when there is such a character, -1 when the
 * text ends first.
 */
int
jpos_after_value(const char *text, size_t len, struct jpos *pos)
{
	struct jscan j;
	size_t depth = 0;

	jscan_init(&j, text, len);
	jscan_ws(&j);
	do {
		int c;

		if (j.off >= j.len)
			return -1;
		c = j.s[j.off];
		if (c == '{' || c == '[') {
			depth++;
			jscan_next(&j);
		} else if (c == '}' || c == ']') {
			if (depth > 0)
				depth--;
			jscan_next(&j);
		} else if (c == '"') {
			if (jscan_string(&j, NULL) != 0)
				return -1;
		} else if (c == ',' || c == ':' || c == ' ' || c == '\t' ||
		    c == '\r' || c == '\n')
			jscan_next(&j);
		else
			jscan_literal(&j);
	} while (depth > 0);
	jscan_ws(&j);
	if (j.off >= j.len)
		return -1;
	jscan_pos(&j, pos);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Places of configuration errors                                          */

/*
 * A place in text (NULL: no positions) of the file named file, its path
 * starting with section and key (each only when not NULL), which is also
 * where it falls back at the furthest (floor).
 */
void
jpos_place_init(struct jpos_place *pl, const char *file, const char *text,
    size_t len, const char *section, const char *key)
{
	memset(pl, 0, sizeof *pl);
	pl->file = file;
	pl->text = text;
	pl->len = len;
	pl->nlabel = JPOS_MAX_DEPTH;
	if (section != NULL)
		jpos_place_key(pl, section);
	if (key != NULL)
		jpos_place_key(pl, key);
	pl->floor = pl->npath > 0 ? pl->npath : 1;
}

/* Appends the member key (not copied: it must outlive the place). */
void
jpos_place_key(struct jpos_place *pl, const char *key)
{
	if (pl->npath == JPOS_MAX_DEPTH)
		return;
	pl->path[pl->npath] = key;
	pl->index[pl->npath++] = 0;
}

/* Appends the n member keys of keys (keys may be NULL when n is 0). */
void
jpos_place_keys(struct jpos_place *pl, const char *const *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		jpos_place_key(pl, keys[i]);
}

/* Appends the array element i. */
void
jpos_place_elem(struct jpos_place *pl, size_t i)
{
	if (pl->npath == JPOS_MAX_DEPTH)
		return;
	pl->path[pl->npath] = NULL;
	pl->index[pl->npath++] = i;
}

/*
 * Where the first n entries of pl's path are: a member at its key (at_key)
 * or value, an element at its "name" or "kind" member's key.  Returns 0 or
 * -1.
 */
static int
jpos_locate_prefix(const struct jpos_place *pl, size_t n, bool at_key,
    struct jpos *pos)
{
	static const char *const ids[] = { "name", "kind" };
	const char *path[JPOS_MAX_DEPTH];
	struct jpos k, v;
	size_t i;

	if (pl->path[n - 1] != NULL) {
		if (jpos_find_indexed(pl->text, pl->len, pl->path, pl->index,
		    n, &k, &v) != 0)
			return -1;
		*pos = at_key ? k : v;
		return 0;
	}
	if (n == JPOS_MAX_DEPTH)
		return -1;
	memcpy(path, pl->path, n * sizeof *path);
	for (i = 0; i < NX_ARRAY_LEN(ids); i++) {
		path[n] = ids[i];
		if (jpos_find_indexed(pl->text, pl->len, path, pl->index,
		    n + 1, &k, NULL) == 0) {
			*pos = k;
			return 0;
		}
	}
	return -1;
}

/*
 * Finds the place, else its nearest parent down to pl->floor entries (see
 * engine.h).  Returns 0, or -1 when nothing is found.
 */
int
jpos_locate(const struct jpos_place *pl, struct jpos *pos)
{
	size_t n;

	if (pl->text == NULL)
		return -1;
	for (n = pl->npath; n > 0 && n >= pl->floor; n--) {
		if (jpos_locate_prefix(pl, n, n == pl->npath && pl->at_key,
		    pos) == 0)
			return 0;
	}
	return -1;
}

/*
 * Sets err to "file:line:column: LABEL: message" (see engine.h) with the
 * message from fmt and ap.  Returns -1.
 */
int
jpos_vfail(struct nx_err *err, const struct jpos_place *pl, const char *fmt,
    va_list ap)
{
	char msg[sizeof err->msg], label[160];
	const char *sep = pl->nlabel > 0 ? ": " : "";
	struct jpos pos;
	size_t i, n = 0;
	int w;

	if (err == NULL)
		return -1;
	vsnprintf(msg, sizeof msg, fmt, ap);
	label[0] = '\0';
	for (i = 0; i < pl->nlabel && i < pl->npath && n < sizeof label; i++) {
		if (pl->path[i] == NULL)
			w = snprintf(label + n, sizeof label - n, "[%zu]",
			    pl->index[i]);
		else
			w = snprintf(label + n, sizeof label - n, "%s%s",
			    i > 0 ? "." : "", pl->path[i]);
		n += w > 0 ? (size_t)w : 0;
	}
	if (jpos_locate(pl, &pos) == 0)
		nx_err_set(err, "%s:%d:%d: %s%s%s", pl->file, pos.line,
		    pos.column, label, sep, msg);
	else
		nx_err_set(err, "%s: %s%s%s", pl->file, label, sep, msg);
	/* Messages reach terminals: no control characters from the file. */
	for (i = 0; err->msg[i] != '\0'; i++) {
		if ((unsigned char)err->msg[i] < 0x20 ||
		    (unsigned char)err->msg[i] == 0x7f)
			err->msg[i] = '?';
	}
	return -1;
}

/* jpos_vfail() with the arguments of fmt.  Returns -1. */
int
jpos_fail(struct nx_err *err, const struct jpos_place *pl, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	jpos_vfail(err, pl, fmt, ap);
	va_end(ap);
	return -1;
}

/* "file:line:column" of the place, or file; malloc'ed. */
char *
jpos_where(const struct jpos_place *pl)
{
	struct jpos pos;
	char *s;

	if (jpos_locate(pl, &pos) != 0)
		return xstrdup(pl->file);
	xasprintf(&s, "%s:%d:%d", pl->file, pos.line, pos.column);
	return s;
}
