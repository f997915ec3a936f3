/*
 * inv-json.c - nexusctl's own JSON inventory:
 *
 *   {
 *     "nodes": [
 *       { "name": "web01", "address": "10.0.0.1", "port": 22, "user": "ops",
 *         "groups": ["web"], "vars": { "rack": "r1" } }
 *     ],
 *     "groups": {
 *       "web":  { "vars": { "http_port": 80 }, "children": ["canary"],
 *                 "hosts": ["web02"] }
 *     }
 *   }
 *
 * Only "name" is required.  "address", "port" and "user" are stored as the
 * host vars ansible_host, ansible_port and ansible_user (over any the node's
 * "vars" give), so JSON and INI nodes resolve the same way.  A group's
 * "hosts" adds hosts to it (creating them), as Ansible's JSON does.  Unknown
 * keys and wrong types are errors.
 *
 * jansson reports positions only for syntax errors; for the semantic
 * errors found here, nx_json_locate() walks the text to the offending key
 * so the message still reads file:line:column: $.nodes[3].port: ...
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* ---------------------------------------------------------------------- */
/* Locating a JSON path in the text                                        */

struct jcur {
	const char *s;
	size_t i, len;
	unsigned line, col;
};

static void
jc_adv(struct jcur *c)
{
	if (c->i >= c->len)
		return;
	if (c->s[c->i] == '\n') {
		c->line++;
		c->col = 1;
	} else if (((unsigned char)c->s[c->i] & 0xc0) != 0x80)
		c->col++;
	c->i++;
}

static void
jc_ws(struct jcur *c)
{
	while (c->i < c->len && isspace((unsigned char)c->s[c->i]))
		jc_adv(c);
}

/* Skips a string at c (on its quote); raw, rawlen: its raw contents. */
static int
jc_string(struct jcur *c, const char **raw, size_t *rawlen)
{
	size_t b;

	if (c->i >= c->len || c->s[c->i] != '"')
		return -1;
	jc_adv(c);
	b = c->i;
	while (c->i < c->len && c->s[c->i] != '"') {
		if (c->s[c->i] == '\\')
			jc_adv(c);
		jc_adv(c);
	}
	if (c->i >= c->len)
		return -1;
	if (raw != NULL) {
		*raw = c->s + b;
		*rawlen = c->i - b;
	}
	jc_adv(c);
	return 0;
}

static int
jc_skip(struct jcur *c)
{
	int depth = 0;

	jc_ws(c);
	do {
		if (c->i >= c->len)
			return -1;
		switch (c->s[c->i]) {
		case '"':
			if (jc_string(c, NULL, NULL) != 0)
				return -1;
			continue;
		case '{': case '[':
			depth++;
			break;
		case '}': case ']':
			depth--;
			break;
		default:
			if (depth == 0) {
				while (c->i < c->len && !strchr(",]} \t\r\n",
				    c->s[c->i]))
					jc_adv(c);
				return 0;
			}
		}
		jc_adv(c);
	} while (depth > 0);
	return 0;
}

/*
 * Finds the path (keys separated by '.', array indexes as [N], e.g.
 * "nodes[3].port") in the JSON text: *line and *column (1-based) of the
 * last key, or of the element for a last index.  Returns 0, or -1 when it
 * is not there.
 */
int
nx_json_locate(const char *text, size_t len, const char *path,
    unsigned *line, unsigned *column)
{
	struct jcur c = { .s = text, .len = len, .line = 1, .col = 1 };
	const char *p = path;

	while (*p != '\0') {
		jc_ws(&c);
		if (*p == '[') {
			long want = strtol(p + 1, NULL, 10), k = 0;

			p = strchr(p, ']');
			if (p == NULL || c.i >= c.len || c.s[c.i] != '[')
				return -1;
			p++;
			if (*p == '.')
				p++;
			jc_adv(&c);
			for (;;) {
				jc_ws(&c);
				if (c.i >= c.len || c.s[c.i] == ']')
					return -1;
				if (k == want)
					break;
				if (jc_skip(&c) != 0)
					return -1;
				jc_ws(&c);
				if (c.i < c.len && c.s[c.i] == ',')
					jc_adv(&c);
				k++;
			}
			if (*p == '\0') {
				*line = c.line;
				*column = c.col;
				return 0;
			}
		} else {
			size_t kl = strcspn(p, ".[");
			bool found = false;

			if (c.i >= c.len || c.s[c.i] != '{')
				return -1;
			jc_adv(&c);
			while (!found) {
				const char *raw;
				size_t rawlen;
				unsigned kline, kcol;

				jc_ws(&c);
				if (c.i >= c.len || c.s[c.i] == '}')
					return -1;
				kline = c.line;
				kcol = c.col;
				if (jc_string(&c, &raw, &rawlen) != 0)
					return -1;
				jc_ws(&c);
				if (c.i < c.len && c.s[c.i] == ':')
					jc_adv(&c);
				if (rawlen == kl && memcmp(raw, p, kl) == 0) {
					found = true;
					if (p[kl] == '\0') {
						*line = kline;
						*column = kcol;
						return 0;
					}
					break;
				}
				if (jc_skip(&c) != 0)
					return -1;
				jc_ws(&c);
				if (c.i < c.len && c.s[c.i] == ',')
					jc_adv(&c);
			}
			p += kl;
			if (*p == '.')
				p++;
		}
	}
	return -1;
}

/* ---------------------------------------------------------------------- */
/* The schema                                                              */

struct jinv {
	struct inventory *inv;
	const char *path, *text;
	size_t len;
	struct nx_err *err;
};

static int
jinv_error(struct jinv *j, const char *jpath, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the error as file:line:column: $.path: message (or file: $.path). */
static int
jinv_error(struct jinv *j, const char *jpath, const char *fmt, ...)
{
	char msg[300];
	unsigned line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (nx_json_locate(j->text, j->len, jpath, &line, &col) == 0)
		nx_err_set(j->err, "%s:%u:%u: $.%s: %s", j->path, line, col,
		    jpath, msg);
	else
		nx_err_set(j->err, "%s: $.%s: %s", j->path, jpath, msg);
	return -1;
}

static unsigned
jinv_line(struct jinv *j, const char *jpath)
{
	unsigned line = 0, col;

	nx_json_locate(j->text, j->len, jpath, &line, &col);
	return line;
}

static bool
jinv_valid_group(const char *s)
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

/* A group named by value at jpath, declared; -1 if it is not valid. */
static int
jinv_group_ref(struct jinv *j, const json_t *v, const char *jpath,
    uint32_t *out)
{
	size_t before = j->inv->ngroups;
	uint32_t g;

	if (!json_is_string(v))
		return jinv_error(j, jpath, "a group name must be a string");
	if (!jinv_valid_group(json_string_value(v)))
		return jinv_error(j, jpath, "invalid group name '%s' (letters, "
		    "digits, '_' and '-')", json_string_value(v));
	g = inv_group(j->inv, json_string_value(v));
	if (j->inv->ngroups != before)
		j->inv->groups[g].line = jinv_line(j, jpath);
	j->inv->groups[g].declared = true;
	*out = g;
	return 0;
}

static int
jinv_host_ref(struct jinv *j, const json_t *v, const char *jpath,
    uint32_t *out)
{
	const char *why = "";

	if (!json_is_string(v))
		return jinv_error(j, jpath, "a host name must be a string");
	if (!inv_valid_name(json_string_value(v), &why))
		return jinv_error(j, jpath, "invalid host name '%s': %s",
		    json_string_value(v), why);
	*out = inv_host(j->inv, json_string_value(v), jinv_line(j, jpath));
	return 0;
}

static int
jinv_node(struct jinv *j, const json_t *node, size_t idx)
{
	char jp[96];
	const char *key, *why = "";
	const json_t *v, *name;
	json_t *vars;
	uint32_t h, g;
	size_t k;

	snprintf(jp, sizeof jp, "nodes[%zu]", idx);
	if (!json_is_object(node))
		return jinv_error(j, jp, "a node must be an object");
	json_object_foreach((json_t *)node, key, v) {
		if (strcmp(key, "name") != 0 && strcmp(key, "address") != 0 &&
		    strcmp(key, "port") != 0 && strcmp(key, "user") != 0 &&
		    strcmp(key, "groups") != 0 && strcmp(key, "vars") != 0) {
			snprintf(jp, sizeof jp, "nodes[%zu].%s", idx, key);
			return jinv_error(j, jp, "unknown key '%s' (name, "
			    "address, port, user, groups, vars)", key);
		}
	}
	if ((name = json_object_get(node, "name")) == NULL)
		return jinv_error(j, jp, "a node needs a \"name\"");
	snprintf(jp, sizeof jp, "nodes[%zu].name", idx);
	if (jinv_host_ref(j, name, jp, &h) != 0)
		return -1;
	vars = j->inv->hosts[h].vars;
	if ((v = json_object_get(node, "vars")) != NULL) {
		snprintf(jp, sizeof jp, "nodes[%zu].vars", idx);
		if (!json_is_object(v))
			return jinv_error(j, jp, "\"vars\" must be an object");
		json_object_update(vars, (json_t *)v);
	}
	if ((v = json_object_get(node, "address")) != NULL) {
		snprintf(jp, sizeof jp, "nodes[%zu].address", idx);
		if (!json_is_string(v))
			return jinv_error(j, jp, "\"address\" must be a string");
		if (!inv_valid_address(json_string_value(v), &why))
			return jinv_error(j, jp, "'%s' is not an address: %s",
			    json_string_value(v), why);
		json_object_set(vars, "ansible_host", (json_t *)v);
	}
	if ((v = json_object_get(node, "port")) != NULL) {
		snprintf(jp, sizeof jp, "nodes[%zu].port", idx);
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 65535)
			return jinv_error(j, jp, "\"port\" must be an integer "
			    "from 1 to 65535");
		json_object_set(vars, "ansible_port", (json_t *)v);
	}
	if ((v = json_object_get(node, "user")) != NULL) {
		snprintf(jp, sizeof jp, "nodes[%zu].user", idx);
		if (!json_is_string(v) || json_string_length(v) == 0)
			return jinv_error(j, jp, "\"user\" must be a non-empty "
			    "string");
		json_object_set(vars, "ansible_user", (json_t *)v);
	}
	if ((v = json_object_get(node, "groups")) != NULL) {
		snprintf(jp, sizeof jp, "nodes[%zu].groups", idx);
		if (!json_is_array(v))
			return jinv_error(j, jp, "\"groups\" must be an array of "
			    "group names");
		for (k = 0; k < json_array_size(v); k++) {
			snprintf(jp, sizeof jp, "nodes[%zu].groups[%zu]", idx, k);
			if (jinv_group_ref(j, json_array_get(v, k), jp, &g) != 0)
				return -1;
			if (g != INV_ALL)
				inv_host_add_group(j->inv, h, g);
		}
	}
	return 0;
}

static int
jinv_group(struct jinv *j, const char *gname, const json_t *def)
{
	char jp[320];
	const char *key;
	const json_t *v, *list;
	json_t *name = json_string(gname);
	uint32_t g, c, h;
	size_t k;
	int rc;

	snprintf(jp, sizeof jp, "groups.%s", gname);
	rc = jinv_group_ref(j, name, jp, &g);
	json_decref(name);
	if (rc != 0)
		return -1;
	if (!json_is_object(def))
		return jinv_error(j, jp, "a group must be an object");
	json_object_foreach((json_t *)def, key, v) {
		if (strcmp(key, "vars") != 0 && strcmp(key, "children") != 0 &&
		    strcmp(key, "hosts") != 0) {
			snprintf(jp, sizeof jp, "groups.%s.%s", gname, key);
			return jinv_error(j, jp, "unknown key '%s' (vars, "
			    "children, hosts)", key);
		}
	}
	if ((v = json_object_get(def, "vars")) != NULL) {
		snprintf(jp, sizeof jp, "groups.%s.vars", gname);
		if (!json_is_object(v))
			return jinv_error(j, jp, "\"vars\" must be an object");
		json_object_update(j->inv->groups[g].vars, (json_t *)v);
	}
	if ((list = json_object_get(def, "children")) != NULL) {
		snprintf(jp, sizeof jp, "groups.%s.children", gname);
		if (!json_is_array(list))
			return jinv_error(j, jp, "\"children\" must be an array "
			    "of group names");
		for (k = 0; k < json_array_size(list); k++) {
			snprintf(jp, sizeof jp, "groups.%s.children[%zu]", gname,
			    k);
			if (jinv_group_ref(j, json_array_get(list, k), jp,
			    &c) != 0)
				return -1;
			if (c == g || c == INV_ALL)
				return jinv_error(j, jp, "group '%s' cannot be "
				    "a child of '%s'", j->inv->groups[c].name,
				    gname);
			inv_group_add_child(j->inv, g, c);
		}
	}
	if ((list = json_object_get(def, "hosts")) != NULL) {
		snprintf(jp, sizeof jp, "groups.%s.hosts", gname);
		if (!json_is_array(list))
			return jinv_error(j, jp, "\"hosts\" must be an array of "
			    "host names");
		for (k = 0; k < json_array_size(list); k++) {
			snprintf(jp, sizeof jp, "groups.%s.hosts[%zu]", gname, k);
			if (jinv_host_ref(j, json_array_get(list, k), jp,
			    &h) != 0)
				return -1;
			if (g != INV_ALL)
				inv_host_add_group(j->inv, h, g);
		}
	}
	return 0;
}

/*
 * Parses a nexusctl JSON inventory (the contents of path) into inv.
 * Returns 0, or -1 with err naming path:line:column where it can.
 */
int
inv_parse_json(struct inventory *inv, const char *path, const char *text,
    size_t len, struct nx_err *err)
{
	struct jinv j = { .inv = inv, .path = path, .text = text, .len = len,
	    .err = err };
	json_error_t je;
	json_t *root, *v;
	const char *key;
	size_t k;
	int rc = -1;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		nx_err_set(err, "%s:%d:%d: %s", path, je.line, je.column,
		    je.text);
		return -1;
	}
	if (!json_is_object(root)) {
		nx_err_set(err, "%s:1:1: an inventory is an object with "
		    "\"nodes\" and \"groups\"", path);
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "nodes") != 0 && strcmp(key, "groups") != 0) {
			jinv_error(&j, key, "unknown key '%s' (nodes, groups)",
			    key);
			goto out;
		}
	}
	if ((v = json_object_get(root, "groups")) != NULL) {
		if (!json_is_object(v)) {
			jinv_error(&j, "groups", "\"groups\" must be an object "
			    "of group name to group");
			goto out;
		}
	}
	if ((v = json_object_get(root, "nodes")) != NULL) {
		if (!json_is_array(v)) {
			jinv_error(&j, "nodes", "\"nodes\" must be an array");
			goto out;
		}
		for (k = 0; k < json_array_size(v); k++) {
			if (jinv_node(&j, json_array_get(v, k), k) != 0)
				goto out;
		}
	}
	if ((v = json_object_get(root, "groups")) != NULL) {
		json_t *def;

		json_object_foreach(v, key, def) {
			if (jinv_group(&j, key, def) != 0)
				goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}
