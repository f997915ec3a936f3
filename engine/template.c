/*
 * template.c - command templates of actions (doc/actions.md).
 *
 * A template is the operator's shell text with Nagios-style macros:
 *
 *   $HOSTNAME$ $HOSTADDRESS$ $HOSTPORT$  the node
 *   $VAR:name$                           a var of the node (exact name)
 *   $_HOSTNAME$                          $_HOST + a var name, any case
 *   $INPUT:name$                         an input of the action
 *   $USER$                               the operator
 *   $$                                   a literal $
 *
 * Every substituted value is validated (a string or number; no NUL, no
 * newline) and goes in shell-quoted ('...' with ' as '\'', the quoting of
 * ssh_shell_quote), so whatever it holds reaches the shell as one word of
 * data.  There is no other way to build a command from values.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "act.h"

#define TMPL_NAME_MAX 128

struct tmpl_buf {
	char *p;
	size_t len, cap;
};

static void
tmpl_add(struct tmpl_buf *b, const char *s, size_t n)
{
	if (b == NULL)
		return;
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/*
 * The text of a scalar JSON value: a string as it is, a number in
 * decimal (num is the buffer for it), a boolean as true/false when
 * allow_bool.  Returns NULL for anything else (null, arrays, objects).
 * Shared with ssh_expand_command's `{{ var }}`.
 */
const char *
tmpl_scalar(const json_t *v, bool allow_bool, char num[TMPL_SCALAR_NUM])
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(num, TMPL_SCALAR_NUM, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return num;
	}
	if (json_is_real(v)) {
		snprintf(num, TMPL_SCALAR_NUM, "%.17g", json_real_value(v));
		return num;
	}
	if (allow_bool && json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return NULL;
}

/* The member of obj named name, compared without case. */
static const json_t *
tmpl_get_nocase(const json_t *obj, const char *name)
{
	const char *k;
	json_t *v;

	if (obj == NULL)
		return NULL;
	if ((v = json_object_get(obj, name)) != NULL)
		return v;
	json_object_foreach((json_t *)obj, k, v) {
		if (strcasecmp(k, name) == 0)
			return v;
	}
	return NULL;
}

/*
 * Appends the value of macro `macro` (for messages: "$VAR:x$") quoted,
 * after checking it.  what names the value ("var x", "input x").
 */
static int
tmpl_put_value(struct tmpl_buf *b, const char *macro, const char *node,
    const json_t *v, const char *what, struct nx_err *err)
{
	const char *s;
	char num[TMPL_SCALAR_NUM], *q;

	if (v == NULL) {
		nx_err_set(err, "%s: %s is not defined for node %s", macro,
		    what, node);
		return -1;
	}
	if ((s = tmpl_scalar(v, false, num)) == NULL) {
		nx_err_set(err, "%s: %s of node %s is not a string or number",
		    macro, what, node);
		return -1;
	}
	if (json_is_string(v) && strlen(s) != json_string_length(v)) {
		nx_err_set(err, "%s: %s of node %s holds a NUL byte", macro,
		    what, node);
		return -1;
	}
	if (strpbrk(s, "\n\r") != NULL) {
		nx_err_set(err, "%s: %s of node %s holds a newline", macro,
		    what, node);
		return -1;
	}
	if (b != NULL) {
		q = ssh_shell_quote(s);
		tmpl_add(b, q, strlen(q));
		free(q);
	}
	return 0;
}

static int
tmpl_put_text(struct tmpl_buf *b, const char *macro, const char *node,
    const char *s, const char *what, struct nx_err *err)
{
	json_t *v = s != NULL ? json_string(s) : NULL;
	int rc;

	rc = tmpl_put_value(b, macro, node, v, what, err);
	json_decref(v);
	return rc;
}

static bool
tmpl_has_input(const char *const *inputs, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(inputs[i], name) == 0)
			return true;
	}
	return false;
}

/*
 * Walks tmpl.  With n == NULL it only validates: macros known, inputs
 * among names[0..nnames).  Else it expands into b for node n.
 */
static int
tmpl_walk(const char *tmpl, const struct node *n, const json_t *inputs,
    const char *user, const char *const *names, size_t nnames,
    struct tmpl_buf *b, struct nx_err *err)
{
	const char *s = tmpl, *end, *node = n != NULL ? n->name : "?";
	char name[TMPL_NAME_MAX + 1], macro[TMPL_NAME_MAX + 3];
	size_t mlen;

	while (*s != '\0') {
		if (*s != '$') {
			mlen = strcspn(s, "$");
			tmpl_add(b, s, mlen);
			s += mlen;
			continue;
		}
		if ((end = strchr(s + 1, '$')) == NULL) {
			nx_err_set(err, "column %zu: '$' without a closing '$' "
			    "(write $$ for a dollar sign)",
			    (size_t)(s - tmpl) + 1);
			return -1;
		}
		mlen = (size_t)(end - s - 1);
		if (mlen == 0) {
			tmpl_add(b, "$", 1);
			s = end + 1;
			continue;
		}
		if (mlen > TMPL_NAME_MAX) {
			nx_err_set(err, "column %zu: macro name too long "
			    "(write $$ for a dollar sign)",
			    (size_t)(s - tmpl) + 1);
			return -1;
		}
		memcpy(name, s + 1, mlen);
		name[mlen] = '\0';
		snprintf(macro, sizeof macro, "$%s$", name);
		s = end + 1;
		if (strcmp(name, "HOSTNAME") == 0) {
			if (n != NULL && tmpl_put_text(b, macro, node, n->name,
			    "the name", err) != 0)
				return -1;
		} else if (strcmp(name, "HOSTADDRESS") == 0) {
			if (n != NULL && tmpl_put_text(b, macro, node,
			    n->address, "the address", err) != 0)
				return -1;
		} else if (strcmp(name, "HOSTPORT") == 0) {
			if (n != NULL) {
				json_t *v = json_integer(n->port != 0 ?
				    n->port : 22);

				tmpl_put_value(b, macro, node, v, "the port",
				    err);
				json_decref(v);
			}
		} else if (strcmp(name, "USER") == 0) {
			if (n != NULL && tmpl_put_text(b, macro, node, user,
			    "the user", err) != 0)
				return -1;
		} else if (strncmp(name, "VAR:", 4) == 0 && name[4] != '\0') {
			char what[TMPL_NAME_MAX + 8];

			snprintf(what, sizeof what, "var %s", name + 4);
			if (n != NULL && tmpl_put_value(b, macro, node,
			    n->vars != NULL ? json_object_get(n->vars,
			    name + 4) : NULL, what, err) != 0)
				return -1;
		} else if (strncasecmp(name, "_HOST", 5) == 0 &&
		    name[5] != '\0') {
			char what[TMPL_NAME_MAX + 8];

			snprintf(what, sizeof what, "var %s", name + 5);
			if (n != NULL && tmpl_put_value(b, macro, node,
			    tmpl_get_nocase(n->vars, name + 5), what,
			    err) != 0)
				return -1;
		} else if (strncmp(name, "INPUT:", 6) == 0 && name[6] != '\0') {
			char what[TMPL_NAME_MAX + 8];

			snprintf(what, sizeof what, "input %s", name + 6);
			if (n == NULL) {
				if (!tmpl_has_input(names, nnames, name + 6)) {
					nx_err_set(err, "%s: the action has no "
					    "input \"%s\"", macro, name + 6);
					return -1;
				}
			} else if (tmpl_put_value(b, macro, node,
			    inputs != NULL ? json_object_get(inputs,
			    name + 6) : NULL, what, err) != 0)
				return -1;
		} else {
			nx_err_set(err, "unknown macro %.64s (known: $HOSTNAME$, "
			    "$HOSTADDRESS$, $HOSTPORT$, $USER$, $VAR:name$, "
			    "$_HOSTname$, $INPUT:name$, $$)", macro);
			return -1;
		}
	}
	return 0;
}

/*
 * Expands tmpl for node n with the action's validated inputs (an object
 * or NULL) and the operator's name.  Returns 0 with *out a new string the
 * caller frees, or -1 with err naming the macro and the node.
 */
int
tmpl_expand(const char *tmpl, const struct node *n, const json_t *inputs,
    const char *user, char **out, struct nx_err *err)
{
	struct tmpl_buf b = { NULL, 0, 0 };

	*out = NULL;
	if (n == NULL) {
		nx_err_set(err, "no node to expand the template for");
		return -1;
	}
	tmpl_add(&b, "", 0);
	if (tmpl_walk(tmpl, n, inputs, user, NULL, 0, &b, err) != 0) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	return 0;
}

/*
 * Checks tmpl when the configuration loads: every macro known, every
 * $INPUT:name$ one of inputs[0..n).  Returns 0, or -1 with err set.
 */
int
tmpl_validate(const char *tmpl, const char *const *inputs, size_t n,
    struct nx_err *err)
{
	return tmpl_walk(tmpl, NULL, NULL, NULL, inputs, n, NULL, err);
}
