/*
 * inv-ansible-ini.c - Ansible's INI inventory format, as ansible-core's
 * `ini` inventory plugin reads it (checked against ansible-core 2.14).
 *
 * What is implemented:
 *  - Lines are stripped; blank lines and lines starting with '#' or ';' are
 *    comments.  Hosts before the first section belong to `ungrouped`.
 *  - Sections [g] (hosts), [g:children] (one group name a line), [g:vars]
 *    (key=value a line); any other section type is an error.  A group named
 *    in :children, or given :vars, must be declared by a [g] or
 *    [g:children] section somewhere (in this file or an earlier one), as
 *    Ansible requires.
 *  - Host lines are split like a POSIX shell (Python's shlex with
 *    comments): quotes, backslashes, and '#' starting a comment.  The first
 *    word is the host pattern: `name`, `name:port`, `[v6addr]:port`, a bare
 *    IPv6 address, with Ansible ranges ([01:50], [a:f], [1:10:2], several
 *    in one name, zero padding with equal widths).  The other words are
 *    key=value host vars.  `host:port` sets ansible_port (a host var given
 *    on the line wins over it).
 *  - Values are typed as Ansible types them: both host-line values and
 *    [g:vars] values go through Python's ast.literal_eval, so 5 is an
 *    integer, 1.5 a float, True/False booleans, None null, '...'/"..."
 *    strings, [..] and (..) lists, {..} dicts; anything that is not a
 *    Python literal (01, FALSE, yes, a b) stays a string.  (Ansible's
 *    documentation says [g:vars] values are strings, but its code parses
 *    them like host values; we follow the code, which is what
 *    ansible-inventory prints.)  Not supported, kept as strings: sets,
 *    complex numbers, integers beyond 64 bits, \N{...} escapes.
 *  - Host names are validated (RFC 1123 labels with '_' admitted, IPv4,
 *    IPv6) and group names too (letters, digits, '_', '-').  Unlike
 *    Ansible, nothing is dropped silently: a backwards range, a bad name or
 *    a stray word is an error with file:line.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* ---------------------------------------------------------------------- */
/* Python literals (ast.literal_eval), the subset JSON can hold           */

struct pylit {
	const char *s;
	size_t i, len;
	int depth;
};

static void
py_ws(struct pylit *p)
{
	while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
	    p->s[p->i] == '\f'))
		p->i++;
}

static json_t *py_expr(struct pylit *);

/* Appends code point cp as UTF-8; false for a surrogate or > U+10FFFF. */
static bool
py_utf8(char *buf, size_t *o, uint32_t cp)
{
	if (cp >= 0xd800 && cp <= 0xdfff)
		return false;
	if (cp < 0x80)
		buf[(*o)++] = (char)cp;
	else if (cp < 0x800) {
		buf[(*o)++] = (char)(0xc0 | (cp >> 6));
		buf[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		buf[(*o)++] = (char)(0xe0 | (cp >> 12));
		buf[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp <= 0x10ffff) {
		buf[(*o)++] = (char)(0xf0 | (cp >> 18));
		buf[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		buf[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else
		return false;
	return true;
}

static int
py_hex(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (!isxdigit(c))
			return -1;
		v = v * 16 + (uint32_t)(isdigit(c) ? c - '0' :
		    tolower(c) - 'a' + 10);
	}
	*out = v;
	return 0;
}

/*
 * One string literal with its prefix (r, u, b and combinations) at p->i,
 * appended to buf (room for 4 bytes per source byte).  -1 when it is not
 * a well-formed literal.
 */
static int
py_string(struct pylit *p, char *buf, size_t *o)
{
	bool raw = false, bytes = false;
	char q;

	while (p->i < p->len && strchr("rRuUbB", p->s[p->i]) != NULL) {
		char c = (char)tolower((unsigned char)p->s[p->i]);

		if (c == 'r')
			raw = true;
		else if (c == 'b')
			bytes = true;
		p->i++;
	}
	if (p->i >= p->len || (p->s[p->i] != '\'' && p->s[p->i] != '"'))
		return -1;
	q = p->s[p->i++];
	while (p->i < p->len && p->s[p->i] != q) {
		unsigned char c = (unsigned char)p->s[p->i++];
		uint32_t cp;

		if (c == '\n')
			return -1;
		if (bytes && c >= 0x80)
			return -1;
		if (c != '\\' || raw) {
			if (c == '\\' && raw && p->i < p->len) {
				buf[(*o)++] = '\\';
				c = (unsigned char)p->s[p->i++];
			}
			buf[(*o)++] = (char)c;
			continue;
		}
		if (p->i >= p->len)
			return -1;
		c = (unsigned char)p->s[p->i++];
		switch (c) {
		case '\\': case '\'': case '"':
			buf[(*o)++] = (char)c;
			break;
		case 'n': buf[(*o)++] = '\n'; break;
		case 't': buf[(*o)++] = '\t'; break;
		case 'r': buf[(*o)++] = '\r'; break;
		case 'a': buf[(*o)++] = '\a'; break;
		case 'b': buf[(*o)++] = '\b'; break;
		case 'f': buf[(*o)++] = '\f'; break;
		case 'v': buf[(*o)++] = '\v'; break;
		case 'x':
			if (p->i + 2 > p->len || py_hex(p->s + p->i, 2, &cp) != 0)
				return -1;
			p->i += 2;
			if (bytes && cp >= 0x80)
				return -1;      /* not valid text */
			if (!py_utf8(buf, o, cp))
				return -1;
			break;
		case 'u': case 'U': {
			size_t n = c == 'u' ? 4 : 8;

			if (bytes) {
				buf[(*o)++] = '\\';
				buf[(*o)++] = (char)c;
				break;
			}
			if (p->i + n > p->len ||
			    py_hex(p->s + p->i, n, &cp) != 0)
				return -1;
			p->i += n;
			if (!py_utf8(buf, o, cp))
				return -1;
			break;
		}
		case 'N':
			return -1;
		default:
			if (c >= '0' && c <= '7') {
				size_t k = 1;

				cp = c - '0';
				while (k < 3 && p->i < p->len &&
				    p->s[p->i] >= '0' && p->s[p->i] <= '7') {
					cp = cp * 8 + (uint32_t)(p->s[p->i++] - '0');
					k++;
				}
				if ((bytes && cp >= 0x80) || !py_utf8(buf, o, cp))
					return -1;
			} else {
				/* Python keeps unknown escapes as they are. */
				buf[(*o)++] = '\\';
				buf[(*o)++] = (char)c;
			}
		}
	}
	if (p->i >= p->len)
		return -1;
	p->i++;
	return 0;
}

/* Adjacent string literals concatenate, as in Python. */
static json_t *
py_strings(struct pylit *p)
{
	char *buf = xmalloc(p->len * 4 + 1);
	size_t o = 0;
	json_t *j;

	do {
		if (py_string(p, buf, &o) != 0) {
			free(buf);
			return NULL;
		}
		py_ws(p);
	} while (p->i < p->len && (p->s[p->i] == '\'' || p->s[p->i] == '"' ||
	    (strchr("rRuUbB", p->s[p->i]) != NULL && p->i + 1 < p->len &&
	    strchr("rRuUbB'\"", p->s[p->i + 1]) != NULL)));
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

static bool
py_digit_run(const char *s, size_t *i, size_t len, int (*isok)(int))
{
	size_t start = *i;

	while (*i < len && (isok((unsigned char)s[*i]) ||
	    (s[*i] == '_' && *i > start && *i + 1 < len &&
	    isok((unsigned char)s[*i + 1]))))
		(*i)++;
	return *i > start;
}

static int
py_isodigit(int c)
{
	return c >= '0' && c <= '7';
}

static int
py_isbdigit(int c)
{
	return c == '0' || c == '1';
}

/* A number with an optional sign; NULL if not one JSON can hold. */
static json_t *
py_number(struct pylit *p)
{
	const char *s = p->s;
	size_t start = p->i, i = p->i, k, o = 0;
	bool neg = false, is_float = false;
	char buf[128];
	int base = 10;

	if (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-';
		i++;
		while (i < p->len && (s[i] == ' ' || s[i] == '\t'))
			i++;
	}
	if (i + 1 < p->len && s[i] == '0' && strchr("xXoObB", s[i + 1])) {
		char c = (char)tolower((unsigned char)s[i + 1]);

		base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
		i += 2;
		if (i < p->len && s[i] == '_')
			i++;
		k = i;
		if (!py_digit_run(s, &i, p->len, base == 16 ? isxdigit :
		    base == 8 ? py_isodigit : py_isbdigit))
			return NULL;
	} else {
		k = i;
		py_digit_run(s, &i, p->len, isdigit);
		if (i < p->len && s[i] == '.') {
			is_float = true;
			i++;
			if (i < p->len && isdigit((unsigned char)s[i]))
				py_digit_run(s, &i, p->len, isdigit);
		}
		if (i == k || (i == k + 1 && s[k] == '.'))
			return NULL;
		if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
			is_float = true;
			i++;
			if (i < p->len && (s[i] == '+' || s[i] == '-'))
				i++;
			if (!py_digit_run(s, &i, p->len, isdigit))
				return NULL;
		}
		if (!is_float) {
			/* Python 3 refuses 01, accepts 0 and 000. */
			size_t z;

			for (z = k; z < i && (s[z] == '0' || s[z] == '_'); z++)
				;
			if (s[k] == '0' && z < i)
				return NULL;
		}
	}
	if (i < p->len && (isalnum((unsigned char)s[i]) || s[i] == '_' ||
	    s[i] == '.'))
		return NULL;                    /* 1j, 1x, 1.2.3 */
	if (i - start >= sizeof buf - 2)
		return NULL;
	if (neg)
		buf[o++] = '-';
	for (; k < i; k++) {
		if (s[k] != '_')
			buf[o++] = s[k];
	}
	buf[o] = '\0';
	p->i = i;
	if (is_float) {
		char *end;
		double d = strtod(buf, &end);

		return *end == '\0' ? json_real(d) : NULL;
	} else {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(buf, &end, base);
		if (errno != 0 || *end != '\0')
			return NULL;
		return json_integer(v);
	}
}

/* The text of a dict key as Python's json.dumps writes non-string keys. */
static char *
py_key(const json_t *k)
{
	if (json_is_string(k))
		return xstrdup(json_string_value(k));
	if (json_is_true(k))
		return xstrdup("true");
	if (json_is_false(k))
		return xstrdup("false");
	if (json_is_null(k))
		return xstrdup("null");
	if (json_is_number(k))
		return json_dumps(k, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	return NULL;
}

/* [..], (..) or {..}; `open` is at p->i. */
static json_t *
py_container(struct pylit *p)
{
	char open = p->s[p->i], close = open == '[' ? ']' : open == '(' ? ')' :
	    '}';
	json_t *out = open == '{' ? json_object() : json_array();
	bool comma = true, any = false, tuple_comma = false;

	if (++p->depth > 64)
		goto fail;
	p->i++;
	for (;;) {
		json_t *v, *k;

		py_ws(p);
		if (p->i >= p->len)
			goto fail;
		if (p->s[p->i] == close) {
			p->i++;
			break;
		}
		if (!comma)
			goto fail;
		if ((k = py_expr(p)) == NULL)
			goto fail;
		py_ws(p);
		if (open == '{') {
			char *key;

			if (p->i >= p->len || p->s[p->i] != ':' ||
			    json_is_array(k) || json_is_object(k)) {
				json_decref(k);
				goto fail;
			}
			p->i++;
			if ((v = py_expr(p)) == NULL) {
				json_decref(k);
				goto fail;
			}
			key = py_key(k);
			json_decref(k);
			if (key == NULL) {
				json_decref(v);
				goto fail;
			}
			json_object_set_new(out, key, v);
			free(key);
		} else
			json_array_append_new(out, k);
		any = true;
		py_ws(p);
		comma = p->i < p->len && p->s[p->i] == ',';
		if (comma) {
			p->i++;
			tuple_comma = true;
		}
	}
	p->depth--;
	if (open == '(' && any && !tuple_comma) {
		/* (x) is x, not a tuple */
		json_t *one = json_incref(json_array_get(out, 0));

		json_decref(out);
		return one;
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

static bool
py_word(struct pylit *p, const char *w)
{
	size_t n = strlen(w);

	if (p->len - p->i < n || strncmp(p->s + p->i, w, n) != 0)
		return false;
	if (p->i + n < p->len && (isalnum((unsigned char)p->s[p->i + n]) ||
	    p->s[p->i + n] == '_'))
		return false;
	p->i += n;
	return true;
}

static json_t *
py_expr(struct pylit *p)
{
	char c;

	py_ws(p);
	if (p->i >= p->len)
		return NULL;
	c = p->s[p->i];
	if (c == '[' || c == '(' || c == '{')
		return py_container(p);
	if (c == '\'' || c == '"' || (strchr("rRuUbB", c) != NULL &&
	    p->i + 1 < p->len && strchr("rRuUbB'\"", p->s[p->i + 1]) != NULL))
		return py_strings(p);
	if (py_word(p, "True"))
		return json_true();
	if (py_word(p, "False"))
		return json_false();
	if (py_word(p, "None"))
		return json_null();
	if (isdigit((unsigned char)c) || c == '.' || c == '-' || c == '+')
		return py_number(p);
	return NULL;
}

/*
 * The value of an INI variable as Ansible types it: a Python literal
 * becomes its JSON equivalent, anything else stays the string it is.
 * Returns a new reference.
 */
json_t *
inv_ini_value(const char *v)
{
	struct pylit p = { .s = v, .len = strlen(v) };
	json_t *j = py_expr(&p);

	if (j != NULL) {
		py_ws(&p);
		if (p.i < p.len && p.s[p.i] == '#')
			p.i = p.len;            /* a Python comment */
		if (p.i == p.len)
			return j;
		json_decref(j);
	}
	return nx_json_text(v);
}

/* ---------------------------------------------------------------------- */
/* Shell-like splitting (Python shlex, posix, with '#' comments)          */

struct word {
	char *text;
	size_t col;             /* 1-based column where it starts */
};

/*
 * Splits line[0..len) into words; returns the count, or -1 with *why set
 * (an unclosed quote, a trailing backslash).  Words are new strings.
 */
static int
ini_split(const char *line, size_t len, struct word **out, const char **why)
{
	struct word *w = NULL;
	size_t n = 0, i = 0, o;
	char *buf = xmalloc(len + 1);

	for (;;) {
		bool any = false;

		while (i < len && isspace((unsigned char)line[i]))
			i++;
		if (i >= len || line[i] == '#')
			break;
		o = 0;
		w = xreallocarray(w, n + 1, sizeof *w);
		w[n].col = i + 1;
		while (i < len && !isspace((unsigned char)line[i])) {
			char c = line[i];

			if (c == '#')
				break;
			any = true;
			if (c == '\'') {
				const char *e = memchr(line + i + 1, '\'',
				    len - i - 1);

				if (e == NULL)
					goto unclosed;
				memcpy(buf + o, line + i + 1,
				    (size_t)(e - line - i - 1));
				o += (size_t)(e - line - i - 1);
				i = (size_t)(e - line) + 1;
			} else if (c == '"') {
				for (i++; i < len && line[i] != '"'; i++) {
					if (line[i] == '\\' && i + 1 < len &&
					    (line[i + 1] == '"' ||
					    line[i + 1] == '\\'))
						i++;
					buf[o++] = line[i];
				}
				if (i >= len)
					goto unclosed;
				i++;
			} else if (c == '\\') {
				if (i + 1 >= len) {
					*why = "a backslash at the end of the line";
					goto fail;
				}
				buf[o++] = line[i + 1];
				i += 2;
			} else
				buf[o++] = line[i++];
		}
		if (!any)
			break;
		w[n].text = xstrndup(buf, o);
		n++;
		if (i < len && line[i] == '#')
			break;
	}
	free(buf);
	*out = w;
	return (int)n;
unclosed:
	*why = "no closing quotation";
fail:
	while (n > 0)
		free(w[--n].text);
	free(w);
	free(buf);
	return -1;
}

/* ---------------------------------------------------------------------- */
/* The INI file                                                            */

enum ini_state { INI_HOSTS, INI_CHILDREN, INI_VARS };

struct ini_pending {
	uint32_t group;
	unsigned line;
	bool as_child;          /* else as :vars */
	uint32_t parent;
};

struct ini {
	struct inventory *inv;
	const char *path;
	unsigned line;
	enum ini_state state;
	uint32_t group;
	struct ini_pending *pending;
	size_t npending;
	size_t expanded;        /* hosts made by ranges in this file */
	struct nx_err *err;
};

static bool
ini_valid_group(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > 255)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

static int
ini_error(struct ini *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
ini_error(struct ini *p, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	nx_err_set(p->err, "%s:%u: %s", p->path, p->line, msg);
	return -1;
}

static uint32_t
ini_group(struct ini *p, const char *name, bool declare)
{
	size_t before = p->inv->ngroups;
	uint32_t g = inv_group(p->inv, name);

	if (p->inv->ngroups != before)
		p->inv->groups[g].line = p->line;
	if (declare)
		p->inv->groups[g].declared = true;
	return g;
}

/*
 * Whether the line is a section header as Ansible's pattern has it:
 * `[name]` or `[name:type]`, then maybe spaces and a '#' comment.
 */
static bool
ini_is_section(const char *s, size_t len)
{
	size_t i = 1, nb = 1;

	while (i < len && s[i] != ':' && s[i] != ']' &&
	    !isspace((unsigned char)s[i]))
		i++;
	if (i == nb)
		return false;
	if (i < len && s[i] == ':') {
		size_t tb = ++i;

		while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
			i++;
		if (i == tb)
			return false;
	}
	if (i >= len || s[i] != ']')
		return false;
	for (i++; i < len && isspace((unsigned char)s[i]); i++)
		;
	return i == len || s[i] == '#';
}

/* A section header (ini_is_section() holds). */
static int
ini_section(struct ini *p, const char *s, size_t len)
{
	size_t i = 1, nb, ne, tb = 0, te = 0;
	char *name, *type = NULL;
	int rc = -1;

	nb = i;
	while (i < len && s[i] != ':' && s[i] != ']')
		i++;
	ne = i;
	if (s[i] == ':') {
		tb = ++i;
		while (s[i] != ']')
			i++;
		te = i;
	}
	name = xstrndup(s + nb, ne - nb);
	if (tb != 0)
		type = xstrndup(s + tb, te - tb);
	if (!ini_valid_group(name)) {
		ini_error(p, "invalid group name '%s' (letters, digits, '_' "
		    "and '-')", name);
		goto out;
	}
	if (type == NULL || strcmp(type, "hosts") == 0)
		p->state = INI_HOSTS;
	else if (strcmp(type, "children") == 0)
		p->state = INI_CHILDREN;
	else if (strcmp(type, "vars") == 0)
		p->state = INI_VARS;
	else {
		ini_error(p, "section [%s:%s] has unknown type '%s' (hosts, "
		    "children or vars)", name, type, type);
		goto out;
	}
	p->group = ini_group(p, name, p->state != INI_VARS);
	if (p->state == INI_VARS) {
		p->pending = xreallocarray(p->pending, p->npending + 1,
		    sizeof *p->pending);
		p->pending[p->npending++] = (struct ini_pending){
			.group = p->group, .line = p->line, .as_child = false,
		};
	}
	rc = 0;
out:
	free(name);
	free(type);
	return rc;
}

/* A var line of [g:vars]: key = value, both stripped. */
static int
ini_var_line(struct ini *p, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	size_t kl, vb;
	char *key, *val;

	if (eq == NULL)
		return ini_error(p, "expected key=value, got '%.*s'", (int)len, s);
	kl = (size_t)(eq - s);
	while (kl > 0 && isspace((unsigned char)s[kl - 1]))
		kl--;
	if (kl == 0)
		return ini_error(p, "a variable with no name before '='");
	vb = (size_t)(eq - s) + 1;
	while (vb < len && isspace((unsigned char)s[vb]))
		vb++;
	key = xstrndup(s, kl);
	val = xstrndup(s + vb, len - vb);
	json_object_set_new(p->inv->groups[p->group].vars, key,
	    inv_ini_value(val));
	free(key);
	free(val);
	return 0;
}

/* A line of [g:children]: one group name, then maybe a comment. */
static int
ini_child_line(struct ini *p, const char *s, size_t len)
{
	size_t i = 0, k;
	char *name;
	uint32_t c;

	while (i < len && s[i] != ':' && s[i] != ']' &&
	    !isspace((unsigned char)s[i]))
		i++;
	for (k = i; k < len && isspace((unsigned char)s[k]); k++)
		;
	if (i == 0 || (k < len && s[k] != '#'))
		return ini_error(p, "expected a group name, got '%.*s'",
		    (int)len, s);
	name = xstrndup(s, i);
	if (!ini_valid_group(name)) {
		ini_error(p, "invalid group name '%s' (letters, digits, '_' "
		    "and '-')", name);
		free(name);
		return -1;
	}
	if (strcmp(name, "all") == 0) {
		free(name);
		return ini_error(p, "group 'all' cannot be a child");
	}
	c = ini_group(p, name, false);
	free(name);
	if (c == p->group)
		return ini_error(p, "group '%s' cannot be its own child",
		    p->inv->groups[c].name);
	inv_group_add_child(p->inv, p->group, c);
	p->pending = xreallocarray(p->pending, p->npending + 1,
	    sizeof *p->pending);
	p->pending[p->npending++] = (struct ini_pending){
		.group = c, .line = p->line, .as_child = true,
		.parent = p->group,
	};
	return 0;
}

/*
 * Splits a host pattern into the name pattern and a port: name:port,
 * [v6]:port, [v6], a bare IPv6 address, or a name with Ansible ranges.
 * Returns the new pattern, or NULL with *why set.
 */
static char *
ini_host_pattern(const char *w, long *port, const char **why)
{
	size_t len = strlen(w), i;
	const char *colon = NULL;
	int depth = 0;
	char *end;

	*port = -1;
	if (len > 0 && w[len - 1] == ':') {
		*why = "a host pattern may only end in ':' with a port after it";
		return NULL;
	}
	if (w[0] == '[') {
		const char *close = strchr(w, ']');

		if (close != NULL && memchr(w, ':', (size_t)(close - w)) != NULL) {
			char *addr = xstrndup(w + 1, (size_t)(close - w - 1));
			const char *dummy;

			if (inv_valid_name(addr, &dummy) && strchr(addr, ':')) {
				if (close[1] == '\0')
					return addr;
				if (close[1] == ':' && isdigit((unsigned char)close[2])) {
					*port = strtol(close + 2, &end, 10);
					if (*end == '\0')
						return addr;
				}
				free(addr);
				*why = "expected a port number after '[address]:'";
				return NULL;
			}
			free(addr);
		}
	}
	for (i = 0; i < len; i++) {
		if (w[i] == '[')
			depth++;
		else if (w[i] == ']' && depth > 0)
			depth--;
		else if (w[i] == ':' && depth == 0) {
			if (colon != NULL) {    /* two colons: a bare IPv6 */
				const char *dummy;

				if (inv_valid_name(w, &dummy))
					return xstrdup(w);
				*why = "not a valid IPv6 address (put an IPv6 "
				    "address with a port in brackets)";
				return NULL;
			}
			colon = w + i;
		}
	}
	if (colon == NULL)
		return xstrdup(w);
	errno = 0;
	*port = strtol(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0) {
		*why = "the text after ':' is not a port number";
		return NULL;
	}
	return xstrndup(w, (size_t)(colon - w));
}

/*
 * Expands one Ansible host word (name, name:port, [v6]:port, bare IPv6,
 * names with [beg:end[:step]] ranges) into *names (owned by the caller,
 * free with range_free()) and *port (-1 if none), every name validated.
 * Shared by the INI and YAML sources.  Returns 0, or -1 with err holding
 * "host 'WORD': reason" (no file:line: the caller adds it).
 */
int
inv_host_word(const char *word, char ***names, size_t *nnames, long *port,
    struct nx_err *err)
{
	const char *why = "";
	char *pat, *b;
	struct nx_err rerr;
	size_t i;

	*names = NULL;
	*nnames = 0;
	if ((pat = ini_host_pattern(word, port, &why)) == NULL) {
		nx_err_set(err, "host '%s': %s", word, why);
		return -1;
	}
	if (*port == 0 || *port > 65535) {
		nx_err_set(err, "host '%s': port %ld is not in 1-65535", word,
		    *port);
		goto fail;
	}
	/* Ansible ranges only: pdsh lists and top-level commas are not Ansible's. */
	for (b = strchr(pat, '['); b != NULL; b = strchr(b + 1, '[')) {
		const char *close = strchr(b, ']');

		if (close != NULL && memchr(b, ':', (size_t)(close - b)) == NULL) {
			nx_err_set(err, "host '%s': an INI range is [begin:end] "
			    "or [begin:end:step]", word);
			goto fail;
		}
	}
	if (strchr(pat, ',') != NULL && (strchr(pat, '[') == NULL ||
	    strchr(pat, ',') < strchr(pat, '['))) {
		nx_err_set(err, "host '%s': ',' is not allowed in a host name",
		    word);
		goto fail;
	}
	if (strchr(pat, '[') == NULL) {
		*names = xmalloc(sizeof **names);
		(*names)[0] = xstrdup(pat);
		*nnames = 1;
	} else if (hostlist_expand(pat, names, nnames, &rerr) != 0) {
		nx_err_set(err, "host '%s': %s", word, rerr.msg);
		goto fail;
	}
	for (i = 0; i < *nnames; i++) {
		if (!inv_valid_name((*names)[i], &why)) {
			nx_err_set(err, "invalid host name '%s': %s", (*names)[i],
			    why);
			goto fail;
		}
	}
	free(pat);
	return 0;
fail:
	if (*names != NULL)
		range_free(*names, *nnames);
	*names = NULL;
	*nnames = 0;
	free(pat);
	return -1;
}

/* A host line of [g]: pattern, then key=value words. */
static int
ini_host_line(struct ini *p, const char *s, size_t len)
{
	struct word *w = NULL;
	const char *why = "";
	char **names = NULL;
	size_t nnames = 0, i, k;
	long port;
	int nw, rc = -1;
	struct nx_err rerr;

	if ((nw = ini_split(s, len, &w, &why)) < 0)
		return ini_error(p, "cannot split the host line: %s", why);
	if (nw == 0) {
		rc = 0;
		goto out;
	}
	if (inv_host_word(w[0].text, &names, &nnames, &port, &rerr) != 0) {
		ini_error(p, "%s", rerr.msg);
		goto out;
	}
	p->expanded += nnames;
	if (p->expanded > NX_RANGE_MAX) {
		ini_error(p, "host '%s': ranges in this file make more than %d "
		    "hosts", w[0].text, NX_RANGE_MAX);
		goto out;
	}
	for (k = 1; k < (size_t)nw; k++) {
		if (strchr(w[k].text, '=') == NULL) {
			ini_error(p, "expected key=value host variable, got '%s' "
			    "(column %zu)", w[k].text, w[k].col);
			goto out;
		}
		if (w[k].text[0] == '=') {
			ini_error(p, "a host variable with no name before '=' "
			    "(column %zu)", w[k].col);
			goto out;
		}
	}
	for (i = 0; i < nnames; i++) {
		/* As Ansible's add_host(): `host:port` counts only where the
		 * host is first defined, in any file. */
		bool fresh = inv_host_find(p->inv, names[i]) < 0;
		uint32_t h = inv_host(p->inv, names[i], p->line);
		json_t *vars = p->inv->hosts[h].vars;

		if (p->group != INV_ALL)
			inv_host_add_group(p->inv, h, p->group);
		if (port > 0 && fresh)
			json_object_set_new(vars, "ansible_port",
			    json_integer(port));
		for (k = 1; k < (size_t)nw; k++) {
			char *eq = strchr(w[k].text, '=');

			*eq = '\0';
			json_object_set_new(vars, w[k].text, inv_ini_value(eq + 1));
			*eq = '=';
		}
	}
	rc = 0;
out:
	for (k = 0; k < (size_t)(nw > 0 ? nw : 0); k++)
		free(w[k].text);
	free(w);
	if (names != NULL)
		range_free(names, nnames);
	return rc;
}

/*
 * Parses an Ansible INI inventory (the contents of path) into inv.
 * Returns 0, or -1 with err naming path:line and the reason.
 */
int
inv_parse_ini(struct inventory *inv, const char *path, const char *text,
    size_t len, struct nx_err *err)
{
	struct ini p = {
		.inv = inv, .path = path, .state = INI_HOSTS,
		.group = INV_UNGROUPED, .err = err,
	};
	size_t i = 0, k;
	int rc = -1;

	if (memchr(text, '\0', len) != NULL) {
		nx_err_set(err, "%s: a NUL byte: not a text inventory", path);
		return -1;
	}
	while (i < len) {
		size_t e = i, b, t;
		const char *s;
		int r;

		while (e < len && text[e] != '\n')
			e++;
		p.line++;
		b = i;
		t = e;
		while (b < t && isspace((unsigned char)text[b]))
			b++;
		while (t > b && isspace((unsigned char)text[t - 1]))
			t--;
		i = e + 1;
		s = text + b;
		if (t == b || s[0] == '#' || s[0] == ';')
			continue;
		if (s[0] == '[' && ini_is_section(s, t - b)) {
			if (ini_section(&p, s, t - b) != 0)
				goto out;
			continue;
		}
		if (s[0] == '[' && s[t - b - 1] == ']') {
			ini_error(&p, "invalid section header '%.*s' (a section "
			    "is [group], [group:children] or [group:vars], with "
			    "no spaces)", (int)(t - b), s);
			goto out;
		}
		switch (p.state) {
		case INI_HOSTS:
			r = ini_host_line(&p, s, t - b);
			break;
		case INI_VARS:
			r = ini_var_line(&p, s, t - b);
			break;
		default:
			r = ini_child_line(&p, s, t - b);
			break;
		}
		if (r != 0)
			goto out;
	}
	for (k = 0; k < p.npending; k++) {
		const struct ini_pending *pd = &p.pending[k];
		const struct inv_group *g = &inv->groups[pd->group];

		if (g->declared)
			continue;
		p.line = pd->line;
		if (pd->as_child)
			ini_error(&p, "section [%s:children] includes undefined "
			    "group '%s'", inv->groups[pd->parent].name, g->name);
		else
			ini_error(&p, "section [%s:vars] is for a group that is "
			    "not defined", g->name);
		goto out;
	}
	rc = 0;
out:
	free(p.pending);
	return rc;
}
