/*
 * inv-ansible-yaml.c - Ansible YAML inventories (the `yaml` inventory
 * plugin of ansible-core), read with libyaml:
 *
 *   all:
 *     vars: { ntp: 10.0.0.1 }
 *     hosts:
 *       jumper: { ansible_host: 192.0.2.50, ansible_port: 5555 }
 *     children:
 *       web:
 *         hosts:
 *           www[01:50].example.com:
 *           db:5432:
 *
 * Top-level keys are groups; a group is a mapping with `hosts` (host
 * pattern -> mapping of vars, or null), `vars` and `children` (group name
 * -> group, recursively), or null.  A string where one of those mappings
 * is expected means a mapping of that one key to null (Ansible's rule).
 * Host keys are Ansible host patterns (ranges, name:port), expanded by
 * inv_host_word() exactly as INI host lines are.
 *
 * Values are typed as Ansible's loader (PyYAML, YAML 1.1) types them:
 * plain scalars become null, booleans (yes/no/on/off/true/false in three
 * cases), integers (decimal, 0x hex, 0 octal, 0b binary, `_` separators,
 * sexagesimal 1:30), floats (a dot required, .inf/.nan kept as strings
 * since JSON has no such numbers) or strings; quoted and block scalars and
 * `!!str`/`!unsafe` are strings; sequences and mappings become JSON arrays
 * and objects.  `<<` merge keys are applied.  Anchors and aliases are
 * resolved by sharing the anchored node; an alias of an anchor that is not
 * complete yet (a recursive structure) is refused, and aliases that expand
 * to more than INV_YAML_BUDGET nodes ("billion laughs") are refused.
 *
 * Where Ansible warns and skips (an unknown key in a group, a group that
 * is not a mapping) this is an error with file:line:column, since nothing
 * is dropped silently; a duplicate key is a warning and the last value
 * wins, as in Ansible.  `!vault` values and plugin configuration files
 * (`plugin:` at the top) are refused with a clear message.
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "engine.h"

#define INV_YAML_BUDGET 2000000         /* nodes visited, aliases expanded */
#define INV_YAML_DEPTH 256              /* nesting of collections */

enum ytype { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ytype type;
	char *text;             /* scalar value (NUL-terminated, may hold NULs) */
	size_t len;
	char *tag;              /* explicit tag or NULL */
	bool plain;             /* a plain (unquoted) scalar */
	bool complete;          /* its end event was seen (for aliases) */
	unsigned line, col;     /* 1-based */
	struct ynode **items;   /* sequence items; mapping key, value pairs */
	size_t nitems;
};

struct yanchor {
	char *name;
	struct ynode *node;
};

struct yinv {
	struct inventory *inv;
	const char *path;
	struct nx_err *err;
	struct ynode **all;     /* every node, owned, for freeing */
	size_t nall;
	struct yanchor *anchors;
	size_t nanchors;
	long budget;
	size_t expanded;        /* hosts made by ranges */
};

static int
yerr(struct yinv *y, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the error as file:line:column: message (at node at, if any). */
static int
yerr(struct yinv *y, const struct ynode *at, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (at != NULL)
		nx_err_set(y->err, "%s:%u:%u: %s", y->path, at->line, at->col,
		    msg);
	else
		nx_err_set(y->err, "%s: %s", y->path, msg);
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Events to a tree                                                        */

static struct ynode *
ynode_new(struct yinv *y, enum ytype type, const yaml_mark_t *m)
{
	struct ynode *n = xcalloc(1, sizeof *n);

	n->type = type;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	y->all = xreallocarray(y->all, y->nall + 1, sizeof *y->all);
	y->all[y->nall++] = n;
	return n;
}

static void
ynode_push(struct ynode *parent, struct ynode *child)
{
	parent->items = xreallocarray(parent->items, parent->nitems + 1,
	    sizeof *parent->items);
	parent->items[parent->nitems++] = child;
}

static void
yinv_free(struct yinv *y)
{
	size_t i;

	for (i = 0; i < y->nall; i++) {
		free(y->all[i]->text);
		free(y->all[i]->tag);
		free(y->all[i]->items);
		free(y->all[i]);
	}
	free(y->all);
	for (i = 0; i < y->nanchors; i++)
		free(y->anchors[i].name);
	free(y->anchors);
}

static void
yanchor_set(struct yinv *y, const yaml_char_t *name, struct ynode *n)
{
	size_t i;

	/* A redefined anchor replaces the earlier one for later aliases. */
	for (i = 0; i < y->nanchors; i++) {
		if (strcmp(y->anchors[i].name, (const char *)name) == 0) {
			y->anchors[i].node = n;
			return;
		}
	}
	y->anchors = xreallocarray(y->anchors, y->nanchors + 1,
	    sizeof *y->anchors);
	y->anchors[y->nanchors].name = xstrdup((const char *)name);
	y->anchors[y->nanchors++].node = n;
}

static struct ynode *
yanchor_get(struct yinv *y, const yaml_char_t *name)
{
	size_t i;

	for (i = 0; i < y->nanchors; i++) {
		if (strcmp(y->anchors[i].name, (const char *)name) == 0)
			return y->anchors[i].node;
	}
	return NULL;
}

/*
 * Builds the tree of the single document in text.  *root is the document's
 * root node (NULL for an empty stream); nodes are owned by y.  Returns 0,
 * or -1 with the error at libyaml's mark.
 */
static int
yinv_load(struct yinv *y, const char *text, size_t len, struct ynode **root)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ynode *stack[INV_YAML_DEPTH], *n;
	size_t depth = 0;
	int ndocs = 0, rc = -1;
	bool done = false;

	*root = NULL;
	if (!yaml_parser_initialize(&parser))
		return yerr(y, NULL, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		yaml_char_t *anchor = NULL;
		yaml_char_t *tag = NULL;

		if (!yaml_parser_parse(&parser, &ev)) {
			nx_err_set(y->err, "%s:%zu:%zu: %s%s%s", y->path,
			    parser.problem_mark.line + 1,
			    parser.problem_mark.column + 1,
			    parser.context != NULL ? parser.context : "",
			    parser.context != NULL ? ": " : "",
			    parser.problem != NULL ? parser.problem :
			    "YAML syntax error");
			goto out;
		}
		n = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1) {
				nx_err_set(y->err, "%s:%zu:%zu: a second YAML "
				    "document: an inventory is one document",
				    y->path, ev.start_mark.line + 1,
				    ev.start_mark.column + 1);
				yaml_event_delete(&ev);
				goto out;
			}
			break;
		case YAML_ALIAS_EVENT:
			n = yanchor_get(y, ev.data.alias.anchor);
			if (n == NULL || !n->complete) {
				nx_err_set(y->err, "%s:%zu:%zu: alias *%s refers to "
				    "%s", y->path, ev.start_mark.line + 1,
				    ev.start_mark.column + 1,
				    (const char *)ev.data.alias.anchor,
				    n == NULL ? "no anchor defined before it" :
				    "a node that contains it (recursive "
				    "structures are not supported)");
				yaml_event_delete(&ev);
				goto out;
			}
			break;
		case YAML_SCALAR_EVENT:
			n = ynode_new(y, Y_SCALAR, &ev.start_mark);
			n->text = xmalloc(ev.data.scalar.length + 1);
			memcpy(n->text, ev.data.scalar.value,
			    ev.data.scalar.length);
			n->text[ev.data.scalar.length] = '\0';
			n->len = ev.data.scalar.length;
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			n->complete = true;
			anchor = ev.data.scalar.anchor;
			tag = ev.data.scalar.tag;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == INV_YAML_DEPTH) {
				nx_err_set(y->err, "%s:%zu:%zu: nested more than %d "
				    "deep", y->path, ev.start_mark.line + 1,
				    ev.start_mark.column + 1, INV_YAML_DEPTH);
				yaml_event_delete(&ev);
				goto out;
			}
			if (ev.type == YAML_SEQUENCE_START_EVENT) {
				n = ynode_new(y, Y_SEQ, &ev.start_mark);
				anchor = ev.data.sequence_start.anchor;
				tag = ev.data.sequence_start.tag;
			} else {
				n = ynode_new(y, Y_MAP, &ev.start_mark);
				anchor = ev.data.mapping_start.anchor;
				tag = ev.data.mapping_start.tag;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			assert(depth > 0);
			n = stack[--depth];
			n->complete = true;
			n = NULL;
			break;
		default:
			break;
		}
		if (n != NULL) {
			if (tag != NULL && n->tag == NULL)
				n->tag = xstrdup((const char *)tag);
			if (depth > 0)
				ynode_push(stack[depth - 1], n);
			else
				*root = n;
			/* Set at the start, so an alias inside is caught. */
			if (anchor != NULL)
				yanchor_set(y, anchor, n);
			if (ev.type == YAML_SEQUENCE_START_EVENT ||
			    ev.type == YAML_MAPPING_START_EVENT)
				stack[depth++] = n;
		}
		yaml_event_delete(&ev);
	}
	rc = 0;
out:
	yaml_parser_delete(&parser);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Scalars typed as Ansible's loader types them                            */

static bool
ytag_is(const struct ynode *n, const char *short_tag)
{
	static const char prefix[] = "tag:yaml.org,2002:";

	if (n->tag == NULL)
		return false;
	if (strncmp(n->tag, prefix, sizeof prefix - 1) == 0)
		return strcmp(n->tag + sizeof prefix - 1, short_tag) == 0;
	return strcmp(n->tag, short_tag) == 0;
}

static bool
yword_in(const char *s, const char *const *words)
{
	for (; *words != NULL; words++) {
		if (strcmp(s, *words) == 0)
			return true;
	}
	return false;
}

/* Copies s without '_' separators; NULL if it is too long. */
static char *
yint_digits(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		if (*s == '_')
			continue;
		if (o + 1 >= size)
			return NULL;
		buf[o++] = *s;
	}
	buf[o] = '\0';
	return buf;
}

/* YAML 1.1 integers as PyYAML resolves and constructs them. */
static bool
yscalar_int(const char *s, json_int_t *out)
{
	char buf[80], *d, *end;
	int sign = 1, base = 10;
	const char *p = s;
	unsigned long long u;
	long long v;

	if (*p == '-' || *p == '+') {
		sign = *p == '-' ? -1 : 1;
		p++;
	}
	if (*p == '\0' || !isdigit((unsigned char)*p))
		return false;
	if ((d = yint_digits(p, buf, sizeof buf)) == NULL || *d == '\0')
		return false;
	if (strchr(p, ':') != NULL) {           /* sexagesimal: 1:30:00 */
		long long acc = 0;
		char *part = d, *colon;

		if (*p == '0')
			return false;
		for (;;) {
			colon = strchr(part, ':');
			if (colon != NULL)
				*colon = '\0';
			if (*part == '\0' || strspn(part, "0123456789") !=
			    strlen(part) || (part != d && strlen(part) > 2) ||
			    (part != d && atoi(part) > 59))
				return false;
			errno = 0;
			v = strtoll(part, &end, 10);
			if (errno != 0 || acc > (LLONG_MAX - v) / 60)
				return false;
			acc = acc * 60 + v;
			if (colon == NULL)
				break;
			part = colon + 1;
		}
		*out = sign * acc;
		return true;
	}
	if (d[0] == '0' && d[1] == 'X')
		return false;   /* PyYAML: 0x only with a lower case x */
	if (d[0] == '0' && d[1] == 'x') {
		base = 16;
		d += 2;
	} else if (d[0] == '0' && d[1] == 'b') {
		base = 2;
		d += 2;
	} else if (d[0] == '0' && d[1] != '\0')
		base = 8;
	if (*d == '\0')
		return false;
	if (base == 16 && strspn(d, "0123456789abcdefABCDEF") != strlen(d))
		return false;
	if (base == 10 && strspn(d, "0123456789") != strlen(d))
		return false;
	if (base == 8 && strspn(d, "01234567") != strlen(d))
		return false;
	if (base == 2 && strspn(d, "01") != strlen(d))
		return false;
	if (base == 10 && p[0] == '0' && p[1] != '\0')
		return false;
	errno = 0;
	u = strtoull(d, &end, base);
	if (errno != 0 || *end != '\0' || u > (unsigned long long)LLONG_MAX +
	    (sign < 0))
		return false;           /* beyond 64 bits: kept as a string */
	*out = sign < 0 ? (json_int_t)(0 - u) : (json_int_t)u;
	return true;
}

/* YAML 1.1 floats (a dot required) as PyYAML 5+ resolves them. */
static bool
yscalar_float(const char *s, double *out)
{
	char buf[80], *d, *end;
	const char *p = s;
	size_t i;

	if (*p == '-' || *p == '+')
		p++;
	/* [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? or \.[0-9][0-9_]*(...)? */
	i = 0;
	if (isdigit((unsigned char)p[0])) {
		while (isdigit((unsigned char)p[i]) || p[i] == '_')
			i++;
		if (p[i] != '.')
			return false;
		i++;
		while (isdigit((unsigned char)p[i]) || p[i] == '_')
			i++;
	} else if (p == s && p[0] == '.' && isdigit((unsigned char)p[1])) {
		i = 1;
		while (isdigit((unsigned char)p[i]) || p[i] == '_')
			i++;
	} else
		return false;
	if (p[i] == 'e' || p[i] == 'E') {
		if ((p[i + 1] != '-' && p[i + 1] != '+') ||
		    !isdigit((unsigned char)p[i + 2]))
			return false;
		i += 2;
		while (isdigit((unsigned char)p[i]))
			i++;
	}
	if (p[i] != '\0')
		return false;
	if ((d = yint_digits(s, buf, sizeof buf)) == NULL)
		return false;
	errno = 0;
	*out = strtod(d, &end);
	return *end == '\0' && errno == 0;
}

/* The JSON value of a scalar node (new reference), or NULL for !vault. */
static json_t *
yscalar_value(const struct ynode *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL",
	    NULL };
	static const char *const trues[] = { "yes", "Yes", "YES", "true",
	    "True", "TRUE", "on", "On", "ON", NULL };
	static const char *const falses[] = { "no", "No", "NO", "false",
	    "False", "FALSE", "off", "Off", "OFF", NULL };
	json_int_t i;
	double f;

	if (n->tag != NULL && (strcmp(n->tag, "!vault") == 0 ||
	    strcmp(n->tag, "!vault-encrypted") == 0))
		return NULL;
	if (ytag_is(n, "str") || (n->tag != NULL && strcmp(n->tag,
	    "!unsafe") == 0) || (!n->plain && n->tag == NULL) ||
	    strlen(n->text) != n->len)
		return json_stringn(n->text, n->len);
	if (ytag_is(n, "float") && yscalar_float(n->text, &f))
		return json_real(f);
	if (ytag_is(n, "float") || ytag_is(n, "int")) {
		char *end;

		/* an explicit tag on text the resolver would not type so */
		f = strtod(n->text, &end);
		if (*end == '\0' && end != n->text && isfinite(f))
			return ytag_is(n, "int") && f == (double)(json_int_t)f ?
			    json_integer((json_int_t)f) : json_real(f);
	}
	if (yword_in(n->text, nulls) || ytag_is(n, "null"))
		return json_null();
	if (yword_in(n->text, trues))
		return json_true();
	if (yword_in(n->text, falses))
		return json_false();
	if (yscalar_int(n->text, &i))
		return json_integer(i);
	if (yscalar_float(n->text, &f))
		return json_real(f);
	return json_stringn(n->text, n->len);
}

/* ---------------------------------------------------------------------- */
/* Mappings with merge keys and duplicates                                 */

struct ypair {
	const struct ynode *key, *value;
};

static bool
ykey_is(const struct ynode *k, const char *s)
{
	return k->type == Y_SCALAR && strcmp(k->text, s) == 0 &&
	    strlen(s) == k->len;
}

static int
yspend(struct yinv *y, const struct ynode *at)
{
	if (--y->budget < 0)
		return yerr(y, at, "aliases expand to more than %d nodes",
		    INV_YAML_BUDGET);
	return 0;
}

static int yflatten_into(struct yinv *, const struct ynode *, struct ypair **,
    size_t *, json_t *, bool, int);

/* Adds the pairs of a `<<` value (a mapping or a list of mappings). */
static int
ymerge(struct yinv *y, const struct ynode *v, struct ypair **out, size_t *n,
    json_t *seen, int depth)
{
	size_t i;

	if (v->type == Y_MAP)
		return yflatten_into(y, v, out, n, seen, true, depth + 1);
	if (v->type == Y_SEQ) {
		for (i = 0; i < v->nitems; i++) {
			if (v->items[i]->type != Y_MAP)
				return yerr(y, v->items[i], "a '<<' merge takes "
				    "a mapping or a list of mappings");
			if (yflatten_into(y, v->items[i], out, n, seen, true,
			    depth + 1) != 0)
				return -1;
		}
		return 0;
	}
	return yerr(y, v, "a '<<' merge takes a mapping or a list of mappings");
}

/*
 * Appends the pairs of mapping m to *out: its own keys (a repeated key
 * warns and replaces the earlier), then those of its `<<` merges that are
 * not there yet (merged = true: keys already present win silently).
 * seen maps each key in *out to its index, so this is linear.
 */
static int
yflatten_into(struct yinv *y, const struct ynode *m, struct ypair **out,
    size_t *n, json_t *seen, bool merged, int depth)
{
	size_t i, k;

	if (depth > INV_YAML_DEPTH)
		return yerr(y, m, "'<<' merges nested too deep");
	for (i = 0; i + 1 < m->nitems; i += 2) {
		const struct ynode *key = m->items[i], *v = m->items[i + 1];
		json_t *at;

		if (yspend(y, key) != 0)
			return -1;
		if (key->type != Y_SCALAR)
			return yerr(y, key, "a key must be a scalar, not a %s",
			    key->type == Y_SEQ ? "list" : "mapping");
		if (key->plain && key->tag == NULL && ykey_is(key, "<<"))
			continue;
		at = json_object_getn(seen, key->text, key->len);
		if (at != NULL && merged)
			continue;
		if (at != NULL) {
			k = (size_t)json_integer_value(at);
			inv_warn(y->inv, "%s:%u:%u: duplicate key '%s' (also at "
			    "line %u); the last value wins", y->path, key->line,
			    key->col, key->text, (*out)[k].key->line);
			(*out)[k].key = key;
			(*out)[k].value = v;
			continue;
		}
		json_object_setn_new(seen, key->text, key->len,
		    json_integer((json_int_t)*n));
		*out = xreallocarray(*out, *n + 1, sizeof **out);
		(*out)[*n].key = key;
		(*out)[(*n)++].value = v;
	}
	for (i = 0; i + 1 < m->nitems; i += 2) {
		const struct ynode *key = m->items[i];

		if (key->type == Y_SCALAR && key->plain && key->tag == NULL &&
		    ykey_is(key, "<<") && ymerge(y, m->items[i + 1], out, n,
		    seen, depth) != 0)
			return -1;
	}
	return 0;
}

/* The pairs of mapping m with merges applied (free *out). */
static int
yflatten(struct yinv *y, const struct ynode *m, struct ypair **out, size_t *n)
{
	json_t *seen = json_object();
	int rc;

	*out = NULL;
	*n = 0;
	rc = yflatten_into(y, m, out, n, seen, false, 0);
	json_decref(seen);
	if (rc != 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* The JSON value of node n (new reference), or NULL with the error set. */
static json_t *
yvalue(struct yinv *y, const struct ynode *n, int depth)
{
	struct ypair *pairs;
	json_t *v, *item;
	size_t i, np;

	if (yspend(y, n) != 0)
		return NULL;
	if (depth > INV_YAML_DEPTH) {
		yerr(y, n, "nested more than %d deep", INV_YAML_DEPTH);
		return NULL;
	}
	switch (n->type) {
	case Y_SCALAR:
		if ((v = yscalar_value(n)) == NULL)
			yerr(y, n, "vault-encrypted values are not supported");
		return v;
	case Y_SEQ:
		v = json_array();
		for (i = 0; i < n->nitems; i++) {
			if ((item = yvalue(y, n->items[i], depth + 1)) == NULL) {
				json_decref(v);
				return NULL;
			}
			json_array_append_new(v, item);
		}
		return v;
	case Y_MAP:
		if (yflatten(y, n, &pairs, &np) != 0)
			return NULL;
		v = json_object();
		for (i = 0; i < np; i++) {
			if ((item = yvalue(y, pairs[i].value, depth + 1)) == NULL) {
				json_decref(v);
				free(pairs);
				return NULL;
			}
			json_object_setn_new(v, pairs[i].key->text,
			    pairs[i].key->len, item);
		}
		free(pairs);
		return v;
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* The inventory structure                                                 */

static bool
yinv_valid_group(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 255 || strlen(s) != len)
		return false;
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

static bool
yis_null(const struct ynode *n)
{
	json_t *v;
	bool null;

	if (n->type != Y_SCALAR)
		return false;
	v = yscalar_value(n);
	null = json_is_null(v);
	json_decref(v);
	return null;
}

/*
 * The pairs of a section (`hosts`, `vars`, `children`): a mapping, or a
 * string meaning a mapping of that key to null.  *single is the string
 * case (then *out holds one pair with a NULL value).
 */
static int
ysection(struct yinv *y, const struct ynode *v, const char *section,
    const char *group, struct ypair **out, size_t *n)
{
	if (v->type == Y_MAP)
		return yflatten(y, v, out, n);
	if (v->type == Y_SCALAR) {
		*out = xmalloc(sizeof **out);
		(*out)[0].key = v;
		(*out)[0].value = NULL;
		*n = 1;
		return 0;
	}
	return yerr(y, v, "\"%s\" of group '%s' must be a mapping, not a list",
	    section, group);
}

static int yinv_group(struct yinv *, const struct ynode *,
    const struct ynode *, int, uint32_t *);

static int
yinv_hosts(struct yinv *y, uint32_t g, const struct ypair *pairs, size_t np)
{
	struct nx_err herr;
	char **names;
	size_t nnames, i, k;
	json_t *vars;
	long port;

	for (i = 0; i < np; i++) {
		const struct ynode *key = pairs[i].key, *v = pairs[i].value;
		struct ypair *hv = NULL;
		size_t nhv = 0;

		if (strlen(key->text) != key->len || key->len == 0)
			return yerr(y, key, "an empty host name");
		if (v != NULL && !yis_null(v) && v->type != Y_MAP)
			return yerr(y, v, "host '%s': its value must be a mapping "
			    "of variables, or empty", key->text);
		if (inv_host_word(key->text, &names, &nnames, &port,
		    &herr) != 0)
			return yerr(y, key, "%s", herr.msg);
		y->expanded += nnames;
		if (y->expanded > NX_RANGE_MAX) {
			range_free(names, nnames);
			return yerr(y, key, "host '%s': ranges in this file "
			    "make more than %d hosts", key->text, NX_RANGE_MAX);
		}
		vars = json_object();
		if (v != NULL && v->type == Y_MAP) {
			if (yflatten(y, v, &hv, &nhv) != 0)
				goto fail;
			for (k = 0; k < nhv; k++) {
				json_t *val = yvalue(y, hv[k].value, 0);

				if (val == NULL)
					goto fail;
				json_object_setn_new(vars, hv[k].key->text,
				    hv[k].key->len, val);
			}
			free(hv);
			hv = NULL;
		}
		for (k = 0; k < nnames; k++) {
			/* As Ansible's add_host(): `host:port` counts only
			 * where the host is first defined, in any file. */
			bool fresh = inv_host_find(y->inv, names[k]) < 0;
			uint32_t h = inv_host(y->inv, names[k], key->line);

			if (g != INV_ALL)
				inv_host_add_group(y->inv, h, g);
			if (port > 0 && fresh)
				json_object_set_new(y->inv->hosts[h].vars,
				    "ansible_port", json_integer(port));
			json_object_update(y->inv->hosts[h].vars, vars);
		}
		json_decref(vars);
		range_free(names, nnames);
		continue;
fail:
		free(hv);
		json_decref(vars);
		range_free(names, nnames);
		return -1;
	}
	return 0;
}

/* One group: key is its name, def its mapping (or null). */
static int
yinv_group(struct yinv *y, const struct ynode *key, const struct ynode *def,
    int depth, uint32_t *out)
{
	struct ypair *pairs = NULL, *sec = NULL;
	size_t np = 0, ns, i, k;
	size_t before = y->inv->ngroups;
	uint32_t g, c;
	int rc = -1;

	if (depth > INV_YAML_DEPTH)
		return yerr(y, key, "children nested more than %d deep",
		    INV_YAML_DEPTH);
	if (!yinv_valid_group(key->text, key->len))
		return yerr(y, key, "invalid group name '%s' (letters, digits, "
		    "'_' and '-')", key->text);
	g = inv_group(y->inv, key->text);
	if (y->inv->ngroups != before)
		y->inv->groups[g].line = key->line;
	y->inv->groups[g].declared = true;
	*out = g;
	if (def == NULL || yis_null(def))
		return 0;
	if (def->type != Y_MAP)
		return yerr(y, def, "group '%s' must be a mapping of hosts, vars "
		    "and children, or empty", key->text);
	if (yflatten(y, def, &pairs, &np) != 0)
		return -1;
	for (i = 0; i < np; i++) {
		const struct ynode *sk = pairs[i].key, *sv = pairs[i].value;

		if (!ykey_is(sk, "hosts") && !ykey_is(sk, "vars") &&
		    !ykey_is(sk, "children")) {
			yerr(y, sk, "unknown key '%s' in group '%s' (hosts, vars, "
			    "children)", sk->text, key->text);
			goto out;
		}
		if (yis_null(sv))
			continue;
		if (ysection(y, sv, sk->text, key->text, &sec, &ns) != 0)
			goto out;
		if (ykey_is(sk, "vars")) {
			for (k = 0; k < ns; k++) {
				json_t *val = sec[k].value == NULL ? json_null() :
				    yvalue(y, sec[k].value, 0);

				if (val == NULL)
					goto out;
				json_object_setn_new(y->inv->groups[g].vars,
				    sec[k].key->text, sec[k].key->len, val);
			}
		} else if (ykey_is(sk, "children")) {
			for (k = 0; k < ns; k++) {
				if (yinv_group(y, sec[k].key, sec[k].value,
				    depth + 1, &c) != 0)
					goto out;
				if (c == g || c == INV_ALL) {
					yerr(y, sec[k].key, "group '%s' cannot be "
					    "a child of '%s'",
					    y->inv->groups[c].name, key->text);
					goto out;
				}
				inv_group_add_child(y->inv, g, c);
			}
		} else if (yinv_hosts(y, g, sec, ns) != 0)
			goto out;
		free(sec);
		sec = NULL;
	}
	rc = 0;
out:
	free(sec);
	free(pairs);
	return rc;
}

/*
 * Parses an Ansible YAML inventory (the contents of path) into inv.
 * Returns 0, or -1 with err naming path:line:column and the reason.
 */
int
inv_parse_yaml(struct inventory *inv, const char *path, const char *text,
    size_t len, struct nx_err *err)
{
	struct yinv y = { .inv = inv, .path = path, .err = err,
	    .budget = INV_YAML_BUDGET };
	struct ynode *root;
	struct ypair *pairs = NULL;
	size_t np = 0, i;
	uint32_t g;
	int rc = -1;

	if (yinv_load(&y, text, len, &root) != 0)
		goto out;
	if (root == NULL || yis_null(root)) {
		yerr(&y, NULL, "an empty YAML inventory");
		goto out;
	}
	if (root->type != Y_MAP) {
		yerr(&y, root, "a YAML inventory is a mapping of group names "
		    "(all:, web:, ...), not a %s", root->type == Y_SEQ ?
		    "list" : "scalar");
		goto out;
	}
	if (yflatten(&y, root, &pairs, &np) != 0)
		goto out;
	for (i = 0; i < np; i++) {
		if (ykey_is(pairs[i].key, "plugin")) {
			yerr(&y, pairs[i].key, "an inventory plugin configuration "
			    "(plugin:), not a YAML inventory; inventory plugins "
			    "are not supported");
			goto out;
		}
	}
	for (i = 0; i < np; i++) {
		if (yinv_group(&y, pairs[i].key, pairs[i].value, 0, &g) != 0)
			goto out;
	}
	rc = 0;
out:
	free(pairs);
	yinv_free(&y);
	return rc;
}
