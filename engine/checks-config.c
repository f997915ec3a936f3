/*
 * checks-config.c - checks defined in the configuration file.
 *
 *	"checks": { "interval": "30s", "define": [
 *	    { "name": "ssh", "kind": "tcp", "target": "@web", "port": 22 },
 *	    { "name": "users", "kind": "plugin", "local": true,
 *	      "command": ["/usr/lib/nagios/plugins/check_users", "-w", "$ARG1$"],
 *	      "args": ["5"], "thresholds": { "users": { "critical": "10" } } } ] }
 *
 * Three steps, in three places:
 *
 *  - checkdefs_parse() validates checks.define when the file loads (from
 *    config.c) into struct nx_checkdef, every error naming
 *    file:line:column of the offending key or value;
 *  - checks_config_apply() (from engine_load(), after the inventories)
 *    resolves each definition's target over the fleet and adds one check
 *    per selected node through its kind's configure hook;
 *  - checkdef_apply_result() is what the configurable kinds call with an
 *    execution's state and output: it judges the perfdata against the
 *    definition's thresholds, says so in the output, and applies the
 *    result to the monitor.
 *
 * Macros follow Nagios: $HOSTNAME$, $HOSTADDRESS$, $ARG1$..$ARGn$ and $$
 * for a dollar sign, expanded per argv element (never through a shell).
 * An unknown or unterminated macro is a configuration error, not text
 * passed on silently.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define CD_NAME_MAX 64
#define CD_NOTE_MAX 384         /* bytes of threshold notes in an output */

/* The keys of a definition; `kind` NULL means every kind uses it, else
 * the kinds that do, separated by ", ". */
static const struct {
	const char *key;
	const char *kind;
} cd_keys[] = {
	{ "name", NULL },
	{ "kind", NULL },
	{ "target", NULL },
	{ "local", NULL },
	{ "host_check", NULL },
	{ "interval", NULL },
	{ "retry_interval", NULL },
	{ "timeout", NULL },
	{ "max_attempts", NULL },
	{ "thresholds", NULL },
	{ "command", "plugin, ssh" },
	{ "args", "plugin, ssh" },
	{ "address", "tcp" },
	{ "port", "tcp" },
	{ "send", "tcp" },
	{ "expect", "tcp" },
};

/* Whether kind is one of the ", "-separated names in kinds. */
static bool
cd_key_for_kind(const char *kinds, const char *kind)
{
	size_t n = strlen(kind);
	const char *p;

	for (p = kinds; p != NULL; p = strchr(p, ',')) {
		while (*p == ',' || *p == ' ')
			p++;
		if (strncmp(p, kind, n) == 0 && (p[n] == '\0' || p[n] == ','))
			return true;
	}
	return false;
}

/* What one parse works on: the text (for positions) and the element. */
struct cd_ctx {
	const char *file;
	const char *text;
	size_t len;
	size_t index;           /* of the element in checks.define */
	struct nx_err *err;
};

/* ---------------------------------------------------------------------- */
/* Errors with positions                                                   */

/* The place of checks.define[index].sub[0].sub[1]... (nsub keys). */
static void
cd_place(const struct cd_ctx *ctx, const char *const *sub, size_t nsub,
    bool at_key, struct jpos_place *pl)
{
	jpos_place_init(pl, ctx->file, ctx->text, ctx->len, "checks",
	    "define");
	jpos_place_elem(pl, ctx->index);
	jpos_place_keys(pl, sub, nsub);
	pl->at_key = at_key;
}

/*
 * Sets the error "file:line:column: checks.define[i].KEY: message" at the
 * key (at_key) or value of checks.define[i].sub... (jpos_fail).  Returns -1.
 */
static int __attribute__((format(printf, 5, 6)))
cd_fail(struct cd_ctx *ctx, const char *const *sub, size_t nsub, bool at_key,
    const char *fmt, ...)
{
	struct jpos_place pl;
	va_list ap;

	cd_place(ctx, sub, nsub, at_key, &pl);
	va_start(ap, fmt);
	jpos_vfail(ctx->err, &pl, fmt, ap);
	va_end(ap);
	return -1;
}

/* "file:line:column" of checks.define[i].key's value (or key), malloc'ed. */
static char *
cd_where(struct cd_ctx *ctx, const char *key, bool at_key)
{
	struct jpos_place pl;

	cd_place(ctx, &key, 1, at_key, &pl);
	return jpos_where(&pl);
}

/* A JSON string without NUL bytes, or NULL. */
static const char *
cd_string(const json_t *v)
{
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* ---------------------------------------------------------------------- */
/* Macros                                                                  */

/*
 * Expands the macros of tmpl for node n ($HOSTNAME$, $HOSTADDRESS$, $$, and
 * $ARGn$ for n in 1..nargs when args is not NULL).  With n NULL it only
 * validates (host macros expand to nothing).  Returns a malloc'ed string,
 * or NULL with err set ("unknown macro $FOO$", ...).
 */
char *
checkdef_expand(const char *tmpl, const struct node *n, char *const *args,
    size_t nargs, struct nx_err *err)
{
	size_t len = 0, cap = strlen(tmpl) + 64;
	char *out = xmalloc(cap);
	const char *s = tmpl;

	while (*s != '\0') {
		const char *val = NULL, *end;
		char name[32];
		size_t vlen, mlen;
		unsigned long k;
		char *ep;

		if (*s != '$') {
			val = s;
			vlen = strcspn(s, "$");
			s += vlen;
			goto append;
		}
		end = strchr(s + 1, '$');
		if (end == NULL) {
			nx_err_set(err, "unterminated macro in '%.64s' (write "
			    "$$ for a dollar sign)", tmpl);
			goto fail;
		}
		mlen = (size_t)(end - s - 1);
		if (mlen == 0) {
			val = "$";
			vlen = 1;
			s = end + 1;
			goto append;
		}
		snprintf(name, sizeof name, "%.*s", (int)(mlen < 31 ? mlen : 31),
		    s + 1);
		if (mlen < sizeof name && strcmp(name, "HOSTNAME") == 0)
			val = n != NULL ? n->name : "";
		else if (mlen < sizeof name && strcmp(name, "HOSTADDRESS") == 0)
			val = n != NULL ? n->address : "";
		else if (mlen < sizeof name && strncmp(name, "ARG", 3) == 0 &&
		    name[3] >= '1' && name[3] <= '9') {
			k = strtoul(name + 3, &ep, 10);
			if (*ep != '\0') {
				nx_err_set(err, "unknown macro $%s$ in '%.64s'",
				    name, tmpl);
				goto fail;
			}
			if (args == NULL) {
				nx_err_set(err, "macro $%s$ is not allowed here "
				    "(only $HOSTNAME$ and $HOSTADDRESS$)", name);
				goto fail;
			}
			if (k > nargs) {
				nx_err_set(err, "macro $%s$ but only %zu "
				    "argument%s in \"args\"", name, nargs,
				    nargs == 1 ? "" : "s");
				goto fail;
			}
			val = args[k - 1];
		} else {
			nx_err_set(err, "unknown macro $%.*s$ in '%.64s' "
			    "(known: $HOSTNAME$, $HOSTADDRESS$, $ARGn$, $$)",
			    (int)(mlen > 32 ? 32 : mlen), s + 1, tmpl);
			goto fail;
		}
		vlen = strlen(val);
		s = end + 1;
	append:
		if (len + vlen + 1 > cap) {
			cap = (len + vlen + 1) * 2;
			out = xrealloc(out, cap);
		}
		memcpy(out + len, val, vlen);
		len += vlen;
	}
	out[len] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

/*
 * The argv of a plugin definition for node n: every command element with
 * its macros expanded, the arguments first expanded themselves (they may
 * hold host macros).  Returns a NULL-terminated malloc'ed array to free
 * with checkdef_argv_free(), or NULL with err set.
 */
char **
checkdef_argv(const struct nx_checkdef *d, const struct node *n,
    struct nx_err *err)
{
	char **args = xcalloc(d->nargs + 1, sizeof *args);
	char **argv = xcalloc(d->ncommand + 1, sizeof *argv);
	size_t i;

	for (i = 0; i < d->nargs; i++) {
		if ((args[i] = checkdef_expand(d->args[i], n, NULL, 0,
		    err)) == NULL)
			goto fail;
	}
	for (i = 0; i < d->ncommand; i++) {
		if ((argv[i] = checkdef_expand(d->command[i], n, args,
		    d->nargs, err)) == NULL)
			goto fail;
	}
	checkdef_argv_free(args);
	return argv;
fail:
	checkdef_argv_free(args);
	checkdef_argv_free(argv);
	return NULL;
}

void
checkdef_argv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* ---------------------------------------------------------------------- */
/* Parsing one definition                                                  */

static int
cd_duration(struct cd_ctx *ctx, const json_t *v, const char *key,
    uint64_t min, uint64_t max, uint32_t *out)
{
	char got[64], lo[32], hi[32];
	uint64_t ms;

	if (cd_string(v) != NULL) {
		if (config_parse_duration(json_string_value(v), &ms) != 0)
			goto bad;
	} else if (json_is_number(v)) {
		double secs = json_number_value(v);

		ms = !(secs > 0) ? 0 : secs * 1000 > 1e15 ? UINT64_MAX :
		    (uint64_t)(secs * 1000 + 0.5);
	} else
		goto bad;
	if (ms < min || ms > max) {
		config_describe(v, got, sizeof got);
		config_format_duration(min, lo, sizeof lo);
		config_format_duration(max, hi, sizeof hi);
		return cd_fail(ctx, &key, 1, false, "expected a duration from "
		    "%s to %s, got %s", lo, hi, got);
	}
	*out = (uint32_t)ms;
	return 0;
bad:
	config_describe(v, got, sizeof got);
	return cd_fail(ctx, &key, 1, false, "expected a duration like \"10s\" "
	    "or a number of seconds, got %s", got);
}

/* Reads an array of strings into a NULL-terminated owned vector. */
static int
cd_strings(struct cd_ctx *ctx, const json_t *v, const char *key,
    char ***out, size_t *n)
{
	size_t i;
	json_t *el;
	char got[64];

	if (!json_is_array(v)) {
		config_describe(v, got, sizeof got);
		return cd_fail(ctx, &key, 1, false, "expected an array of "
		    "strings, got %s", got);
	}
	*out = xcalloc(json_array_size(v) + 1, sizeof **out);
	*n = 0;
	json_array_foreach(v, i, el) {
		if (cd_string(el) == NULL) {
			config_describe(el, got, sizeof got);
			return cd_fail(ctx, &key, 1, false, "element %zu: "
			    "expected a string without NUL bytes, got %s", i,
			    got);
		}
		(*out)[(*n)++] = xstrdup(json_string_value(el));
	}
	return 0;
}

/* A range given as a string (or a plain number) for a threshold. */
static int
cd_range(struct cd_ctx *ctx, const char *label, const json_t *v,
    const char *which, char **text, struct nx_range *r)
{
	const char *sub[3] = { "thresholds", label, which };
	struct nx_err rerr;
	char buf[64], got[64];

	if (cd_string(v) != NULL)
		snprintf(buf, sizeof buf, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
	else {
		config_describe(v, got, sizeof got);
		return cd_fail(ctx, sub, 3, false, "expected a range such as "
		    "\"10\", \"5:\", \"~:10\" or \"@10:20\", got %s", got);
	}
	if (cd_string(v) != NULL && json_string_length(v) >= sizeof buf)
		return cd_fail(ctx, sub, 3, false, "range too long");
	if (range_parse(buf, r, &rerr) != 0)
		return cd_fail(ctx, sub, 3, false, "%s", rerr.msg);
	*text = xstrdup(buf);
	return 0;
}

static int
cd_thresholds(struct cd_ctx *ctx, const json_t *v, struct nx_checkdef *d)
{
	const char *label, *key = "thresholds";
	json_t *o;
	char got[64];

	if (!json_is_object(v)) {
		config_describe(v, got, sizeof got);
		return cd_fail(ctx, &key, 1, false, "expected an object of "
		    "perfdata labels, got %s", got);
	}
	d->thresholds = xcalloc(json_object_size(v) + 1,
	    sizeof *d->thresholds);
	json_object_foreach((json_t *)v, label, o) {
		const char *sub[3] = { "thresholds", label, NULL };
		struct nx_threshold *t = &d->thresholds[d->nthresholds];
		const char *k;
		json_t *r;

		if (label[0] == '\0')
			return cd_fail(ctx, sub, 2, true, "empty perfdata "
			    "label");
		if (!json_is_object(o)) {
			config_describe(o, got, sizeof got);
			return cd_fail(ctx, sub, 2, false, "expected an object "
			    "with \"warning\" and/or \"critical\", got %s", got);
		}
		t->label = xstrdup(label);
		d->nthresholds++;
		json_object_foreach(o, k, r) {
			sub[2] = k;
			if (strcmp(k, "warning") == 0) {
				if (cd_range(ctx, label, r, k, &t->warn_text,
				    &t->warn) != 0)
					return -1;
			} else if (strcmp(k, "critical") == 0) {
				if (cd_range(ctx, label, r, k, &t->crit_text,
				    &t->crit) != 0)
					return -1;
			} else
				return cd_fail(ctx, sub, 3, true, "unknown key "
				    "\"%.40s\" (known: warning, critical)", k);
		}
		if (t->warn_text == NULL && t->crit_text == NULL)
			return cd_fail(ctx, sub, 2, false, "expected "
			    "\"warning\" and/or \"critical\"");
	}
	return 0;
}

static bool
cd_valid_name(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.' || c == ':'))
			return false;
	}
	return i > 0 && i <= CD_NAME_MAX;
}

/* Checks that every string of v has valid macros (args: host macros only). */
static int
cd_macros(struct cd_ctx *ctx, const char *key, char *const *v, size_t n,
    char *const *args, size_t nargs, bool allow_args)
{
	struct nx_err merr;
	size_t i;
	char *s;

	for (i = 0; i < n; i++) {
		s = checkdef_expand(v[i], NULL, allow_args ? args : NULL,
		    nargs, &merr);
		if (s == NULL)
			return cd_fail(ctx, &key, 1, false, "element %zu: %s",
			    i, merr.msg);
		free(s);
	}
	return 0;
}

/* The kind named by v, if it can be defined in the configuration. */
static int
cd_kind(struct cd_ctx *ctx, const json_t *v, const struct check_kind **kind)
{
	const char *key = "kind", *name = cd_string(v);
	char got[64], known[128];
	size_t i, n = 0;

	known[0] = '\0';
	for (i = 0; check_kinds[i] != NULL; i++) {
		if (check_kinds[i]->configure == NULL)
			continue;
		if (name != NULL && strcmp(check_kinds[i]->name, name) == 0) {
			*kind = check_kinds[i];
			return 0;
		}
		n += (size_t)snprintf(known + n, n < sizeof known ?
		    sizeof known - n : 0, "%s%s", n > 0 ? ", " : "",
		    check_kinds[i]->name);
		if (n >= sizeof known)
			n = sizeof known - 1;
	}
	config_describe(v, got, sizeof got);
	return cd_fail(ctx, &key, 1, false, "unknown check kind %s (known: "
	    "%s)", got, known);
}

/* Parses checks.define[ctx->index] (el) into d.  Returns 0 or -1. */
static int
cd_parse_one(struct cd_ctx *ctx, const json_t *el, struct nx_checkdef *d)
{
	struct nx_err merr;
	const char *key, *s;
	json_t *v;
	char got[64];
	size_t i;

	if (!json_is_object(el)) {
		config_describe(el, got, sizeof got);
		return cd_fail(ctx, NULL, 0, false, "expected an object "
		    "defining a check, got %s", got);
	}
	json_object_foreach((json_t *)el, key, v) {
		for (i = 0; i < NX_ARRAY_LEN(cd_keys); i++) {
			if (strcmp(cd_keys[i].key, key) == 0)
				break;
		}
		if (i == NX_ARRAY_LEN(cd_keys))
			return cd_fail(ctx, &key, 1, true, "unknown key "
			    "\"%.40s\" (known: name, kind, target, local, "
			    "host_check, interval, retry_interval, timeout, "
			    "max_attempts, thresholds; plugin: command, args; "
			    "tcp: address, port, send, expect; ssh: command, "
			    "args)", key);
	}
	d->where = cd_where(ctx, "name", true);
	key = "name";
	if ((v = json_object_get(el, "name")) == NULL)
		return cd_fail(ctx, NULL, 0, false, "missing \"name\"");
	if ((s = cd_string(v)) == NULL || !cd_valid_name(s)) {
		config_describe(v, got, sizeof got);
		return cd_fail(ctx, &key, 1, false, "expected a name of "
		    "letters, digits, '_', '-', '.' and ':' (at most %d), "
		    "got %s", CD_NAME_MAX, got);
	}
	d->name = xstrdup(s);
	if ((v = json_object_get(el, "kind")) == NULL)
		return cd_fail(ctx, &key, 1, true, "check \"%s\" has no "
		    "\"kind\" (plugin, tcp or ssh)", d->name);
	if (cd_kind(ctx, v, &d->kind) != 0)
		return -1;
	json_object_foreach((json_t *)el, key, v) {
		for (i = 0; i < NX_ARRAY_LEN(cd_keys); i++) {
			if (strcmp(cd_keys[i].key, key) == 0)
				break;
		}
		if (cd_keys[i].kind != NULL &&
		    !cd_key_for_kind(cd_keys[i].kind, d->kind->name))
			return cd_fail(ctx, &key, 1, true, "key \"%s\" is for "
			    "kind %s, not %s", key, cd_keys[i].kind,
			    d->kind->name);
	}

	json_object_foreach((json_t *)el, key, v) {
		if (strcmp(key, "target") == 0) {
			struct nx_err terr;
			struct nx_target *t;

			if ((s = cd_string(v)) == NULL || *s == '\0') {
				config_describe(v, got, sizeof got);
				return cd_fail(ctx, &key, 1, false, "expected a "
				    "target such as \"@web\" or \"web[01-10]\", "
				    "got %s", got);
			}
			if ((t = target_parse(s, &terr)) == NULL)
				return cd_fail(ctx, &key, 1, false, "%s",
				    terr.msg);
			target_free(t);
			d->target = xstrdup(s);
			d->target_where = cd_where(ctx, key, false);
		} else if (strcmp(key, "local") == 0 ||
		    strcmp(key, "host_check") == 0) {
			if (!json_is_boolean(v)) {
				config_describe(v, got, sizeof got);
				return cd_fail(ctx, &key, 1, false, "expected "
				    "true or false, got %s", got);
			}
			if (key[0] == 'l')
				d->local = json_is_true(v);
			else
				d->host_check = json_is_true(v);
		} else if (strcmp(key, "interval") == 0) {
			if (cd_duration(ctx, v, key, 100, 7 * 86400000ULL,
			    &d->interval_ms) != 0)
				return -1;
		} else if (strcmp(key, "retry_interval") == 0) {
			if (cd_duration(ctx, v, key, 100, 7 * 86400000ULL,
			    &d->retry_ms) != 0)
				return -1;
		} else if (strcmp(key, "timeout") == 0) {
			if (cd_duration(ctx, v, key, 100, 3600000,
			    &d->timeout_ms) != 0)
				return -1;
		} else if (strcmp(key, "max_attempts") == 0 ||
		    strcmp(key, "port") == 0) {
			json_int_t lo = 1, hi = key[0] == 'p' ? 65535 : 100;

			if (!json_is_integer(v) || json_integer_value(v) < lo ||
			    json_integer_value(v) > hi) {
				config_describe(v, got, sizeof got);
				return cd_fail(ctx, &key, 1, false, "expected an "
				    "integer from %d to %d, got %s", (int)lo,
				    (int)hi, got);
			}
			if (key[0] == 'p')
				d->port = (uint16_t)json_integer_value(v);
			else
				d->max_attempts =
				    (uint8_t)json_integer_value(v);
		} else if (strcmp(key, "thresholds") == 0) {
			if (cd_thresholds(ctx, v, d) != 0)
				return -1;
		} else if (strcmp(key, "command") == 0 &&
		    strcmp(d->kind->name, "ssh") == 0) {
			/* One shell command line, kept as a 1-element vector. */
			if ((s = cd_string(v)) == NULL || *s == '\0') {
				config_describe(v, got, sizeof got);
				return cd_fail(ctx, &key, 1, false, "expected a "
				    "command line for the node's shell (a "
				    "non-empty string), got %s", got);
			}
			d->command = xcalloc(2, sizeof *d->command);
			d->command[0] = xstrdup(s);
			d->ncommand = 1;
		} else if (strcmp(key, "command") == 0) {
			if (cd_strings(ctx, v, key, &d->command,
			    &d->ncommand) != 0)
				return -1;
		} else if (strcmp(key, "args") == 0) {
			if (cd_strings(ctx, v, key, &d->args, &d->nargs) != 0)
				return -1;
		} else if (strcmp(key, "address") == 0 ||
		    strcmp(key, "send") == 0 || strcmp(key, "expect") == 0) {
			char **dst = key[0] == 'a' ? &d->address :
			    key[0] == 's' ? &d->send : &d->expect;

			if ((s = cd_string(v)) == NULL || (*s == '\0' &&
			    key[0] != 's')) {
				config_describe(v, got, sizeof got);
				return cd_fail(ctx, &key, 1, false, "expected a "
				    "non-empty string, got %s", got);
			}
			*dst = xstrdup(s);
		}
	}

	if (d->target == NULL && !d->local)
		return cd_fail(ctx, NULL, 0, false, "check \"%s\" has no "
		    "\"target\" (such as \"@web\" or \"*\") and is not "
		    "\"local\": true", d->name);
	if (d->target_where == NULL)
		d->target_where = xstrdup(d->where);
	if (strcmp(d->kind->name, "plugin") == 0) {
		key = "command";
		if (d->command == NULL)
			return cd_fail(ctx, NULL, 0, false, "plugin check "
			    "\"%s\" has no \"command\" (an argv array such as "
			    "[\"/usr/lib/nagios/plugins/check_load\", \"-w\", "
			    "\"$ARG1$\"])", d->name);
		if (d->ncommand == 0 || d->command[0][0] == '\0')
			return cd_fail(ctx, &key, 1, false, "expected the "
			    "plugin's path first");
		if (d->args != NULL && cd_macros(ctx, "args", d->args,
		    d->nargs, NULL, 0, false) != 0)
			return -1;
		if (cd_macros(ctx, key, d->command, d->ncommand, d->args,
		    d->nargs, true) != 0)
			return -1;
	} else if (strcmp(d->kind->name, "ssh") == 0) {
		key = "command";
		if (d->command == NULL)
			return cd_fail(ctx, NULL, 0, false, "ssh check \"%s\" "
			    "has no \"command\" (a command line run on the node, "
			    "such as \"/usr/lib/nagios/plugins/check_load -w "
			    "$ARG1$\")", d->name);
		if (d->args != NULL && cd_macros(ctx, "args", d->args,
		    d->nargs, NULL, 0, false) != 0)
			return -1;
		if ((s = checkdef_expand(d->command[0], NULL, d->args != NULL ?
		    d->args : (char *[]){ NULL }, d->nargs, &merr)) == NULL)
			return cd_fail(ctx, &key, 1, false, "%s", merr.msg);
		free((char *)s);
	} else if (strcmp(d->kind->name, "tcp") == 0 && d->port == 0)
		return cd_fail(ctx, NULL, 0, false, "tcp check \"%s\" has no "
		    "\"port\"", d->name);
	return 0;
}

/*
 * Parses the value of checks.define (an array of definitions) from the
 * file `file` whose raw text is text[0..len) (for positions).  On success
 * *defs becomes a new array of *n definitions the caller frees with
 * checkdefs_free().  Returns 0, or -1 with err set at file:line:column.
 */
int
checkdefs_parse(const char *file, const char *text, size_t len,
    const json_t *define, struct nx_checkdef **defs, size_t *n,
    struct nx_err *err)
{
	struct nx_checkdef *d;
	struct cd_ctx ctx = { file, text, len, 0, err };
	struct jpos_place pl;
	char got[64];
	size_t i;

	*defs = NULL;
	*n = 0;
	if (!json_is_array(define)) {
		config_describe(define, got, sizeof got);
		jpos_place_init(&pl, file, text, len, "checks", "define");
		return jpos_fail(err, &pl, "expected an array of check "
		    "definitions, got %s", got);
	}
	d = xcalloc(json_array_size(define) + 1, sizeof *d);
	for (i = 0; i < json_array_size(define); i++) {
		ctx.index = i;
		if (cd_parse_one(&ctx, json_array_get(define, i), &d[i]) != 0) {
			checkdefs_free(d, i + 1);
			return -1;
		}
	}
	*defs = d;
	*n = i;
	return 0;
}

static char **
cd_strv_clone(char *const *v, size_t n)
{
	char **c;
	size_t i;

	if (v == NULL)
		return NULL;
	c = xcalloc(n + 1, sizeof *c);
	for (i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

static char *
cd_strdup0(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* A deep copy of n definitions (NULL for none). */
struct nx_checkdef *
checkdefs_clone(const struct nx_checkdef *src, size_t n)
{
	struct nx_checkdef *d;
	size_t i, k;

	if (src == NULL || n == 0)
		return NULL;
	d = xcalloc(n, sizeof *d);
	for (i = 0; i < n; i++) {
		d[i] = src[i];
		d[i].name = cd_strdup0(src[i].name);
		d[i].target = cd_strdup0(src[i].target);
		d[i].command = cd_strv_clone(src[i].command, src[i].ncommand);
		d[i].args = cd_strv_clone(src[i].args, src[i].nargs);
		d[i].address = cd_strdup0(src[i].address);
		d[i].send = cd_strdup0(src[i].send);
		d[i].expect = cd_strdup0(src[i].expect);
		d[i].where = cd_strdup0(src[i].where);
		d[i].target_where = cd_strdup0(src[i].target_where);
		d[i].thresholds = src[i].nthresholds > 0 ? xcalloc(
		    src[i].nthresholds, sizeof *d[i].thresholds) : NULL;
		for (k = 0; k < src[i].nthresholds; k++) {
			const struct nx_threshold *t = &src[i].thresholds[k];

			d[i].thresholds[k] = *t;
			d[i].thresholds[k].label = cd_strdup0(t->label);
			d[i].thresholds[k].warn_text = cd_strdup0(t->warn_text);
			d[i].thresholds[k].crit_text = cd_strdup0(t->crit_text);
		}
	}
	return d;
}

/* Frees n definitions and the array (either may be empty/NULL). */
void
checkdefs_free(struct nx_checkdef *d, size_t n)
{
	size_t i, k;

	if (d == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(d[i].name);
		free(d[i].target);
		checkdef_argv_free(d[i].command);
		checkdef_argv_free(d[i].args);
		free(d[i].address);
		free(d[i].send);
		free(d[i].expect);
		free(d[i].where);
		free(d[i].target_where);
		for (k = 0; k < d[i].nthresholds; k++) {
			free(d[i].thresholds[k].label);
			free(d[i].thresholds[k].warn_text);
			free(d[i].thresholds[k].crit_text);
		}
		free(d[i].thresholds);
	}
	free(d);
}

static json_t *
cd_strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void
cd_duration_json(json_t *o, const char *key, uint32_t ms)
{
	char buf[64];

	if (ms == 0)
		return;
	config_format_duration(ms, buf, sizeof buf);
	json_object_set_new(o, key, json_string(buf));
}

/* The definitions in the file's schema (loads back the same).  New ref. */
json_t *
checkdefs_to_json(const struct nx_checkdef *d, size_t n)
{
	json_t *a = json_array();
	size_t i, k;

	for (i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(d[i].name));
		json_object_set_new(o, "kind", json_string(d[i].kind->name));
		if (d[i].target != NULL)
			json_object_set_new(o, "target",
			    json_string(d[i].target));
		if (d[i].local)
			json_object_set_new(o, "local", json_true());
		if (d[i].host_check)
			json_object_set_new(o, "host_check", json_true());
		cd_duration_json(o, "interval", d[i].interval_ms);
		cd_duration_json(o, "retry_interval", d[i].retry_ms);
		cd_duration_json(o, "timeout", d[i].timeout_ms);
		if (d[i].max_attempts != 0)
			json_object_set_new(o, "max_attempts",
			    json_integer(d[i].max_attempts));
		if (d[i].command != NULL && strcmp(d[i].kind->name, "ssh") == 0)
			json_object_set_new(o, "command",
			    json_string(d[i].command[0]));
		else if (d[i].command != NULL)
			json_object_set_new(o, "command",
			    cd_strv_json(d[i].command, d[i].ncommand));
		if (d[i].args != NULL)
			json_object_set_new(o, "args",
			    cd_strv_json(d[i].args, d[i].nargs));
		if (d[i].address != NULL)
			json_object_set_new(o, "address",
			    json_string(d[i].address));
		if (d[i].port != 0)
			json_object_set_new(o, "port", json_integer(d[i].port));
		if (d[i].send != NULL)
			json_object_set_new(o, "send", json_string(d[i].send));
		if (d[i].expect != NULL)
			json_object_set_new(o, "expect",
			    json_string(d[i].expect));
		if (d[i].nthresholds > 0) {
			json_t *th = json_object();

			for (k = 0; k < d[i].nthresholds; k++) {
				const struct nx_threshold *t =
				    &d[i].thresholds[k];
				json_t *r = json_object();

				if (t->warn_text != NULL)
					json_object_set_new(r, "warning",
					    json_string(t->warn_text));
				if (t->crit_text != NULL)
					json_object_set_new(r, "critical",
					    json_string(t->crit_text));
				json_object_set_new(th, t->label, r);
			}
			json_object_set_new(o, "thresholds", th);
		}
		json_array_append_new(a, o);
	}
	return a;
}

/* ---------------------------------------------------------------------- */
/* Applying definitions to the fleet                                       */

static void
cd_warn(struct engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
cd_warn(struct engine *e, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (e->cfg.warn != NULL)
		e->cfg.warn(e->cfg.warn_arg, buf);
	else
		fprintf(stderr, "nexusctl: warning: %s\n", buf);
}

/* Adds the check of definition d to node n.  Returns 0 or -1. */
static int
cd_add(struct engine *e, const struct nx_checkdef *d, struct node *n,
    struct nx_err *err)
{
	struct check *c;
	void *data;
	uint16_t k;

	for (k = 0; k < n->nchecks; k++) {
		if (strcmp(e->fleet.checks[n->checks[k]].name, d->name) == 0) {
			nx_err_set(err, "%s: check \"%s\" already exists on "
			    "node \"%s\" (choose another name)", d->where,
			    d->name, n->name);
			return -1;
		}
	}
	if ((data = d->kind->configure(e, n, d)) == NULL) {
		nx_err_set(err, "%s: check \"%s\" of kind %s cannot run on "
		    "node \"%s\"", d->where, d->name, d->kind->name, n->name);
		return -1;
	}
	c = fleet_add_check(&e->fleet, n, d->name, d->kind, data);
	c->interval_ms = d->interval_ms;
	c->retry_ms = d->retry_ms;
	c->timeout_ms = d->timeout_ms;
	c->max_attempts = d->max_attempts;
	c->is_host_check = d->host_check;
	return 0;
}

/*
 * Adds the checks of the configuration (e->cfg.checks.defs) to the fleet:
 * each definition on every node its target selects and, with `local`, on
 * the local node, once per node.  A definition that selects no node is a
 * warning (the same file serves runs with other inventories); a name that
 * a node already has is an error.  Returns 0, or -1 with err set.
 */
int
checks_config_apply(struct engine *e, struct nx_err *err)
{
	return checks_config_apply_from(e, 0, err);
}

/*
 * The same for the nodes from id `first` on (nodes an inventory reload
 * added): a definition that selects none of them is no warning.
 */
int
checks_config_apply_from(struct engine *e, uint32_t first, struct nx_err *err)
{
	size_t i, k;

	for (i = 0; i < e->cfg.checks.ndefs; i++) {
		const struct nx_checkdef *d = &e->cfg.checks.defs[i];
		uint32_t nnodes = e->fleet.nnodes, *ids = NULL;
		uint8_t *pick = xcalloc(nnodes + 1, 1);
		size_t nids = 0, added = 0;
		uint32_t j;

		if (d->target != NULL) {
			struct nx_target *t = target_parse(d->target, err);

			if (t == NULL) {
				free(pick);
				return -1;
			}
			target_select(t, &e->fleet, &ids, &nids);
			target_free(t);
			for (k = 0; k < nids; k++)
				pick[ids[k]] = 1;
			free(ids);
		}
		if (d->local) {
			for (j = 0; j < nnodes; j++) {
				if (e->fleet.nodes[j].provider ==
				    &provider_local)
					pick[j] = 1;
			}
		}
		for (j = first; j < nnodes; j++) {
			if (!pick[j])
				continue;
			if (cd_add(e, d, &e->fleet.nodes[j], err) != 0) {
				free(pick);
				return -1;
			}
			added++;
		}
		free(pick);
		if (added == 0 && first == 0)
			cd_warn(e, "%s: check \"%s\": %s%s%s matches no node",
			    d->target_where, d->name,
			    d->target != NULL ? "target \"" : "",
			    d->target != NULL ? d->target : "\"local\" (no "
			    "local node: demo.local is false)",
			    d->target != NULL ? "\"" : "");
	}
	return 0;
}

/*
 * Evaluates checks.define again for the nodes ids[0..n) (kept or revived
 * by an inventory reload, whose groups or vars may differ now).  On each:
 * a definition that selects it and has no check there adds one (or
 * revives the one it had); a definition that no longer selects it removes
 * its check as a removed node's checks are: never run again, hidden from
 * views and exports, id kept (mon_check_set_removed).  A check is the
 * definition's when it has its name and kind.  What cannot be added is a
 * warning (cfg.warn), as a name another check of the node already has.
 * The caller starts the checks added or revived.
 */
void
checks_config_reapply(struct engine *e, const uint32_t *ids, size_t n)
{
	struct fleet *f = &e->fleet;
	nx_time now = engine_now(e);
	struct nx_err err;
	size_t i, k;

	for (i = 0; i < e->cfg.checks.ndefs && n > 0; i++) {
		const struct nx_checkdef *d = &e->cfg.checks.defs[i];
		struct nx_target *t = NULL;

		if (d->target != NULL &&
		    (t = target_parse(d->target, &err)) == NULL) {
			cd_warn(e, "%s", err.msg);      /* parsed at load: not here */
			continue;
		}
		for (k = 0; k < n; k++) {
			struct node *nd = &f->nodes[ids[k]];
			struct check *c;
			bool want;

			if (nd->removed)
				continue;
			want = (t != NULL && target_match(t, f, nd)) ||
			    (d->local && nd->provider == &provider_local);
			c = fleet_node_check(f, nd, d->name, true);
			if (c != NULL && c->kind != d->kind) {
				if (want)
					cd_warn(e, "%s: check \"%s\" already "
					    "exists on node \"%s\" (choose "
					    "another name)", d->where, d->name,
					    nd->name);
				continue;
			}
			if (want && c == NULL) {
				if (cd_add(e, d, nd, &err) != 0)
					cd_warn(e, "%s", err.msg);
			} else if (c != NULL && want == c->removed)
				mon_check_set_removed(e, c, !want, now);
		}
		target_free(t);
	}
}

/* ---------------------------------------------------------------------- */
/* Results                                                                 */

/* The worse of two states in Nagios's order: OK, WARNING, UNKNOWN, CRITICAL. */
enum nx_state
nx_state_worse(enum nx_state a, enum nx_state b)
{
	static const int rank[] = {
		[NX_OK] = 0, [NX_WARNING] = 1, [NX_UNKNOWN] = 2,
		[NX_CRITICAL] = 3,
	};

	if ((unsigned)a > NX_UNKNOWN)
		a = NX_UNKNOWN;
	if ((unsigned)b > NX_UNKNOWN)
		b = NX_UNKNOWN;
	return rank[b] > rank[a] ? b : a;
}

static void
cd_note(char *buf, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends one "; "-separated note to buf (CD_NOTE_MAX bytes). */
static void
cd_note(char *buf, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*n >= CD_NOTE_MAX - 1)
		return;
	if (*n > 0) {
		w = snprintf(buf + *n, CD_NOTE_MAX - *n, "; ");
		*n += w > 0 ? (size_t)w : 0;
		if (*n >= CD_NOTE_MAX)
			*n = CD_NOTE_MAX - 1;
	}
	va_start(ap, fmt);
	w = vsnprintf(buf + *n, CD_NOTE_MAX - *n, fmt, ap);
	va_end(ap);
	*n += w > 0 ? (size_t)w : 0;
	if (*n >= CD_NOTE_MAX)
		*n = CD_NOTE_MAX - 1;
}

/*
 * Judges the perfdata of out[0..len) against d's thresholds: for each
 * label, CRITICAL when its critical range alerts, else WARNING when its
 * warning range does; UNKNOWN when the plugin gave no such label or `U`.
 * Writes a note per verdict that is not OK into notes.  Returns the worst.
 */
static enum nx_state
cd_judge(const struct nx_checkdef *d, const char *out, size_t len,
    char *notes, size_t *nn)
{
	struct nx_plugin_output po;
	enum nx_state worst = NX_OK;
	size_t i, k;

	plugin_output_parse(out, len, &po);
	for (i = 0; i < d->nthresholds; i++) {
		const struct nx_threshold *t = &d->thresholds[i];
		const struct nx_perf *p = NULL;

		for (k = 0; k < po.nperf; k++) {
			if (strcmp(po.perf[k].label, t->label) == 0) {
				p = &po.perf[k];
				break;
			}
		}
		if (p == NULL || p->undetermined) {
			cd_note(notes, nn, "threshold on '%s': %s, UNKNOWN",
			    t->label, p == NULL ? "no such perfdata" :
			    "value undetermined");
			worst = nx_state_worse(worst, NX_UNKNOWN);
		} else if (t->crit_text != NULL &&
		    range_alert(&t->crit, p->value)) {
			cd_note(notes, nn, "%s=%g%s is CRITICAL (critical "
			    "range %s)", t->label, p->value, p->uom,
			    t->crit_text);
			worst = nx_state_worse(worst, NX_CRITICAL);
		} else if (t->warn_text != NULL &&
		    range_alert(&t->warn, p->value)) {
			cd_note(notes, nn, "%s=%g%s is WARNING (warning range "
			    "%s)", t->label, p->value, p->uom, t->warn_text);
			worst = nx_state_worse(worst, NX_WARNING);
		}
	}
	plugin_output_free(&po);
	return worst;
}

/*
 * Applies one execution's result of a configured check: state st and
 * output out[0..len) (borrowed) as the kind got them, `note` (or NULL) a
 * remark of the kind's such as a truncation.  With thresholds, the state
 * becomes the worst of st and the verdicts.  Notes go into the status line,
 * before its perfdata: "TEXT (note; note) | perfdata".
 */
void
checkdef_apply_result(struct engine *e, struct check *c,
    const struct nx_checkdef *d, enum nx_state st, const char *out,
    size_t len, const char *note, double duration_ms)
{
	struct nx_result r;
	char notes[CD_NOTE_MAX];
	size_t nn = 0, first, cut, tail;
	enum nx_state verdict;
	char *buf = NULL;
	int w;

	notes[0] = '\0';
	if (out == NULL)
		len = 0;
	/* Nagios strips the trailing newline plugins print. */
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r' ||
	    out[len - 1] == ' ' || out[len - 1] == '\t'))
		len--;
	if (len == 0) {
		out = "(No output returned from plugin)";
		len = strlen(out);
	}
	if (note != NULL && note[0] != '\0')
		cd_note(notes, &nn, "%s", note);
	if (d != NULL && d->nthresholds > 0) {
		verdict = cd_judge(d, out, len, notes, &nn);
		if (nx_state_worse(st, verdict) != st)
			cd_note(notes, &nn, "state %s by thresholds, plugin "
			    "said %s", nx_state_name(verdict),
			    nx_state_name(st));
		st = nx_state_worse(st, verdict);
	}
	if (nn > 0) {
		/* Splice the notes into the first line, before its '|'. */
		const char *nl = memchr(out, '\n', len), *bar;

		first = nl != NULL ? (size_t)(nl - out) : len;
		bar = memchr(out, '|', first);
		cut = bar != NULL ? (size_t)(bar - out) : first;
		tail = cut;
		while (cut > 0 && (out[cut - 1] == ' ' || out[cut - 1] == '\t'))
			cut--;
		buf = xmalloc(len + nn + 8);
		memcpy(buf, out, cut);
		w = sprintf(buf + cut, " (%s)%s", notes, bar != NULL ? " " :
		    "");
		memcpy(buf + cut + (size_t)w, out + tail, len - tail);
		len = cut + (size_t)w + (len - tail);
		out = buf;
	}
	memset(&r, 0, sizeof r);
	r.state = st;
	r.output = out;
	r.output_len = len;
	r.duration_ms = duration_ms;
	r.time = engine_now(e);
	mon_apply_result(e, c, &r);
	free(buf);
}

/*
 * The result of an execution that could not start or run: UNKNOWN with
 * the reason (printf-style, cut at 1 KiB).  For check kinds.
 */
void
checkdef_unknown(struct engine *e, struct check *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	checkdef_apply_result(e, c, NULL, NX_UNKNOWN, buf,
	    n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n,
	    NULL, 0);
}

/* checks.define as a configuration key (engine/config.c's cfg_keys[]). */
static int
cd_cfg_parse(struct nx_config *cfg, const char *file, const char *text,
    size_t len, const json_t *v, struct nx_err *err)
{
	struct nx_checkdef *defs;
	size_t n;

	if (checkdefs_parse(file, text, len, v, &defs, &n, err) != 0)
		return -1;
	checkdefs_free(cfg->checks.defs, cfg->checks.ndefs);
	cfg->checks.defs = defs;
	cfg->checks.ndefs = n;
	return 0;
}

static void
cd_cfg_free(struct nx_config *cfg)
{
	checkdefs_free(cfg->checks.defs, cfg->checks.ndefs);
	cfg->checks.defs = NULL;
	cfg->checks.ndefs = 0;
}

static void
cd_cfg_clone(struct nx_config *dst, const struct nx_config *src)
{
	dst->checks.defs = checkdefs_clone(src->checks.defs,
	    src->checks.ndefs);
	dst->checks.ndefs = src->checks.ndefs;
}

static json_t *
cd_cfg_to_json(const struct nx_config *cfg)
{
	return checkdefs_to_json(cfg->checks.defs, cfg->checks.ndefs);
}

const struct cfg_custom checkdefs_config = {
	.parse = cd_cfg_parse,
	.free = cd_cfg_free,
	.clone = cd_cfg_clone,
	.to_json = cd_cfg_to_json,
};
