/*
 * action.c - actions.define: what operators and rules may run
 * (doc/actions.md).
 *
 * Every definition is checked when the file loads: kind, template macros
 * (tmpl_validate), input patterns (pcre2, anchored at both ends), target
 * grammar, defaults against their patterns.  A mistake is an error at
 * file:line:column, never a surprise at 3 a.m.
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"

#define ACTION_NAME_MAX 64
#define ACTION_INPUT_MAX_LEN 256
#define ACTION_DEFAULT_TIMEOUT 60000
#define ACTION_DEFAULT_CONCURRENCY 32

struct ac_ctx {
	const char *file;
	const char *text;
	size_t len;
	size_t index;           /* of the element in actions.define */
	struct nx_err *err;
};

/*
 * The place of actions.define[i].key (key NULL: the definition; input >= 0:
 * inside inputs[input], ikey NULL: the input itself).
 */
static void
ac_place(const struct ac_ctx *ctx, const char *key, long input,
    const char *ikey, bool at_key, struct jpos_place *pl)
{
	jpos_place_init(pl, ctx->file, ctx->text, ctx->len, "actions",
	    "define");
	jpos_place_elem(pl, ctx->index);
	if (key != NULL)
		jpos_place_key(pl, key);
	if (key != NULL && input >= 0)
		jpos_place_elem(pl, (size_t)input);
	if (key != NULL && input >= 0 && ikey != NULL)
		jpos_place_key(pl, ikey);
	pl->at_key = at_key;
}

/*
 * Sets "file:line:column: actions.define[i].KEY: message" at the value (or
 * the key) of the place (ac_place, jpos_fail).  Returns -1.
 */
static int __attribute__((format(printf, 6, 7)))
ac_fail(struct ac_ctx *ctx, const char *key, long input, const char *ikey,
    bool at_key, const char *fmt, ...)
{
	struct jpos_place pl;
	va_list ap;

	ac_place(ctx, key, input, ikey, at_key, &pl);
	va_start(ap, fmt);
	jpos_vfail(ctx->err, &pl, fmt, ap);
	va_end(ap);
	return -1;
}

/* "file:line:column" of the definition (its name), or file; malloc'ed. */
static char *
ac_where(struct ac_ctx *ctx)
{
	struct jpos_place pl;

	ac_place(ctx, NULL, -1, NULL, false, &pl);
	pl.floor = 3;
	return jpos_where(&pl);
}

/* A JSON string without NUL bytes, or NULL. */
static const char *
ac_string(const json_t *v)
{
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static bool
ac_valid_name(const char *s, bool input)
{
	size_t i;

	if (*s == '\0' || strlen(s) > ACTION_NAME_MAX)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_')
			continue;
		if (!input && ((c >= 'A' && c <= 'Z') || c == '-' || c == '.'))
			continue;
		return false;
	}
	return true;
}

/* Compiles pattern anchored at both ends; NULL with msg set on error. */
static pcre2_code *
ac_compile(const char *pattern, char *msg, size_t len)
{
	PCRE2_UCHAR emsg[256];
	PCRE2_SIZE eoff;
	pcre2_code *re;
	int ec;

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	    PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF, &ec, &eoff, NULL);
	if (re == NULL) {
		pcre2_get_error_message(ec, emsg, sizeof emsg);
		snprintf(msg, len, "bad pattern at offset %zu: %s",
		    (size_t)eoff, (const char *)emsg);
	}
	return re;
}

static bool
ac_match(pcre2_code *re, const char *s)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc;

	rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

/*
 * Checks one value of input in against its pattern, length and the
 * printable rule.  Returns 0, or -1 with err set (the value quoted).
 */
static int
ac_check_value(const struct nx_input *in, const char *s, size_t len,
    struct nx_err *err)
{
	char msg[300];
	size_t i;

	if (strlen(s) != len) {
		nx_err_set(err, "input %s: the value holds a NUL byte",
		    in->name);
		return -1;
	}
	if (len > in->max_len) {
		nx_err_set(err, "input %s: the value is %zu bytes long, at "
		    "most %u allowed", in->name, len, in->max_len);
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			nx_err_set(err, "input %s: the value holds a control "
			    "character (\\x%02x)", in->name, c);
			return -1;
		}
	}
	if (in->pattern != NULL) {
		pcre2_code *re = ac_compile(in->pattern, msg, sizeof msg);
		bool ok;

		if (re == NULL) {
			nx_err_set(err, "input %s: %s", in->name, msg);
			return -1;
		}
		ok = ac_match(re, s);
		pcre2_code_free(re);
		if (!ok) {
			nx_err_set(err, "input %s: value \"%.64s\" does not "
			    "match the pattern %.128s", in->name, s,
			    in->pattern);
			return -1;
		}
	}
	return 0;
}

static int
ac_parse_input(struct ac_ctx *ctx, long idx, const json_t *el,
    struct nx_input *in)
{
	const char *key, *s;
	char got[64], msg[300];
	json_t *v;

	if (!json_is_object(el)) {
		config_describe(el, got, sizeof got);
		return ac_fail(ctx, "inputs", idx, NULL, false, "expected an "
		    "object such as {\"name\": \"unit\", \"pattern\": "
		    "\"[a-z]+\"}, got %s", got);
	}
	in->max_len = ACTION_INPUT_MAX_LEN;
	json_object_foreach((json_t *)el, key, v) {
		if (strcmp(key, "max_len") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 65536) {
				config_describe(v, got, sizeof got);
				return ac_fail(ctx, "inputs", idx, key, false,
				    "expected an integer from 1 to 65536, got "
				    "%s", got);
			}
			in->max_len = (uint32_t)json_integer_value(v);
			continue;
		}
		if (strcmp(key, "name") != 0 && strcmp(key, "description") != 0 &&
		    strcmp(key, "pattern") != 0 && strcmp(key, "default") != 0)
			return ac_fail(ctx, "inputs", idx, key, true, "unknown "
			    "key \"%.40s\" (known: name, description, pattern, "
			    "default, max_len)", key);
		if ((s = ac_string(v)) == NULL) {
			config_describe(v, got, sizeof got);
			return ac_fail(ctx, "inputs", idx, key, false,
			    "expected a string, got %s", got);
		}
		if (strcmp(key, "name") == 0) {
			if (!ac_valid_name(s, true))
				return ac_fail(ctx, "inputs", idx, key, false,
				    "expected a name of a-z, 0-9 and '_', got "
				    "\"%.40s\"", s);
			in->name = xstrdup(s);
		} else if (strcmp(key, "description") == 0)
			in->description = xstrdup(s);
		else if (strcmp(key, "pattern") == 0) {
			pcre2_code *re = ac_compile(s, msg, sizeof msg);

			if (re == NULL)
				return ac_fail(ctx, "inputs", idx, key, false,
				    "%s", msg);
			pcre2_code_free(re);
			in->pattern = xstrdup(s);
		} else
			in->def = xstrdup(s);
	}
	if (in->name == NULL)
		return ac_fail(ctx, "inputs", idx, NULL, false, "input has no "
		    "\"name\"");
	if (in->def != NULL) {
		struct nx_err verr;

		if (ac_check_value(in, in->def, strlen(in->def), &verr) != 0)
			return ac_fail(ctx, "inputs", idx, "default", false,
			    "the default fails its own check: %s", verr.msg);
	}
	return 0;
}

static void
ac_free_one(struct nx_action *a)
{
	size_t i;

	free(a->name);
	free(a->description);
	free(a->command);
	free(a->provider_action);
	free(a->target);
	for (i = 0; i < a->ninputs; i++) {
		free(a->inputs[i].name);
		free(a->inputs[i].description);
		free(a->inputs[i].pattern);
		free(a->inputs[i].def);
	}
	free(a->inputs);
	free(a->where);
}

static const char *const ac_keys[] = {
	"name", "description", "kind", "command", "provider_action", "target",
	"timeout", "concurrency", "confirm", "dangerous", "role", "inputs",
};

static int
ac_parse_one(struct ac_ctx *ctx, const json_t *el, struct nx_action *a)
{
	const char *key, *s;
	const char **names;
	char got[64];
	size_t i, j;
	json_t *v;
	int rc;

	if (!json_is_object(el)) {
		config_describe(el, got, sizeof got);
		return ac_fail(ctx, NULL, -1, NULL, false, "expected an object "
		    "defining an action, got %s", got);
	}
	json_object_foreach((json_t *)el, key, v) {
		for (i = 0; i < NX_ARRAY_LEN(ac_keys); i++) {
			if (strcmp(ac_keys[i], key) == 0)
				break;
		}
		if (i == NX_ARRAY_LEN(ac_keys))
			return ac_fail(ctx, key, -1, NULL, true, "unknown key "
			    "\"%.40s\" (known: name, description, kind, "
			    "command, provider_action, target, timeout, "
			    "concurrency, confirm, dangerous, role, inputs)",
			    key);
	}
	a->where = ac_where(ctx);
	a->timeout_ms = ACTION_DEFAULT_TIMEOUT;
	a->concurrency = ACTION_DEFAULT_CONCURRENCY;
	a->role = NX_ROLE_OPERATOR;
	if ((v = json_object_get(el, "name")) == NULL)
		return ac_fail(ctx, NULL, -1, NULL, false, "missing \"name\"");
	if ((s = ac_string(v)) == NULL || !ac_valid_name(s, false)) {
		config_describe(v, got, sizeof got);
		return ac_fail(ctx, "name", -1, NULL, false, "expected a name of "
		    "letters, digits, '_', '-' and '.' (at most %d), got %s",
		    ACTION_NAME_MAX, got);
	}
	a->name = xstrdup(s);
	if ((v = json_object_get(el, "kind")) == NULL)
		return ac_fail(ctx, "name", -1, NULL, true, "action \"%s\" has "
		    "no \"kind\" (ssh, local or provider)", a->name);
	s = ac_string(v);
	if (s != NULL && strcmp(s, "ssh") == 0)
		a->kind = NX_ACTION_SSH;
	else if (s != NULL && strcmp(s, "local") == 0)
		a->kind = NX_ACTION_LOCAL;
	else if (s != NULL && strcmp(s, "provider") == 0)
		a->kind = NX_ACTION_PROVIDER;
	else {
		config_describe(v, got, sizeof got);
		return ac_fail(ctx, "kind", -1, NULL, false, "expected ssh, "
		    "local or provider, got %s", got);
	}

	/* Inputs first: the template names them. */
	if ((v = json_object_get(el, "inputs")) != NULL) {
		if (!json_is_array(v)) {
			config_describe(v, got, sizeof got);
			return ac_fail(ctx, "inputs", -1, NULL, false, "expected "
			    "an array of inputs, got %s", got);
		}
		a->inputs = xcalloc(json_array_size(v) + 1, sizeof *a->inputs);
		for (i = 0; i < json_array_size(v); i++) {
			a->ninputs = i + 1;
			if (ac_parse_input(ctx, (long)i, json_array_get(v, i),
			    &a->inputs[i]) != 0)
				return -1;
			for (j = 0; j < i; j++) {
				if (strcmp(a->inputs[j].name,
				    a->inputs[i].name) == 0)
					return ac_fail(ctx, "inputs", (long)i,
					    "name", false, "input \"%s\" is "
					    "defined twice", a->inputs[i].name);
			}
		}
	}

	json_object_foreach((json_t *)el, key, v) {
		if (strcmp(key, "description") == 0 ||
		    strcmp(key, "command") == 0 ||
		    strcmp(key, "provider_action") == 0 ||
		    strcmp(key, "target") == 0) {
			if ((s = ac_string(v)) == NULL || (*s == '\0' &&
			    key[0] != 'd')) {
				config_describe(v, got, sizeof got);
				return ac_fail(ctx, key, -1, NULL, false,
				    "expected a non-empty string, got %s", got);
			}
			if (key[0] == 'd')
				a->description = xstrdup(s);
			else if (key[0] == 'c')
				a->command = xstrdup(s);
			else if (key[0] == 'p')
				a->provider_action = xstrdup(s);
			else {
				struct nx_err terr;
				struct nx_target *t = target_parse(s, &terr);

				if (t == NULL)
					return ac_fail(ctx, key, -1, NULL,
					    false, "%s", terr.msg);
				target_free(t);
				a->target = xstrdup(s);
			}
		} else if (strcmp(key, "timeout") == 0) {
			uint64_t ms;

			if (json_is_integer(v) && json_integer_value(v) >= 1 &&
			    json_integer_value(v) <= 86400)
				ms = (uint64_t)json_integer_value(v) * 1000;
			else if ((s = ac_string(v)) == NULL ||
			    config_parse_duration(s, &ms) != 0 || ms < 100 ||
			    ms > 86400000) {
				config_describe(v, got, sizeof got);
				return ac_fail(ctx, key, -1, NULL, false,
				    "expected a duration from 100ms to 1d "
				    "(\"30s\") or seconds, got %s", got);
			}
			a->timeout_ms = (uint32_t)ms;
		} else if (strcmp(key, "concurrency") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 100000) {
				config_describe(v, got, sizeof got);
				return ac_fail(ctx, key, -1, NULL, false,
				    "expected an integer from 1 to 100000, got "
				    "%s", got);
			}
			a->concurrency = (uint32_t)json_integer_value(v);
		} else if (strcmp(key, "confirm") == 0 ||
		    strcmp(key, "dangerous") == 0) {
			if (!json_is_boolean(v)) {
				config_describe(v, got, sizeof got);
				return ac_fail(ctx, key, -1, NULL, false,
				    "expected true or false, got %s", got);
			}
			if (key[0] == 'c')
				a->confirm = json_is_true(v);
			else
				a->dangerous = json_is_true(v);
		} else if (strcmp(key, "role") == 0) {
			s = ac_string(v);
			if (s != NULL && strcmp(s, "operator") == 0)
				a->role = NX_ROLE_OPERATOR;
			else if (s != NULL && strcmp(s, "admin") == 0)
				a->role = NX_ROLE_ADMIN;
			else {
				config_describe(v, got, sizeof got);
				return ac_fail(ctx, key, -1, NULL, false,
				    "expected operator or admin, got %s", got);
			}
		}
	}

	if (a->kind == NX_ACTION_PROVIDER) {
		if (a->provider_action == NULL)
			return ac_fail(ctx, "kind", -1, NULL, false, "provider "
			    "action \"%s\" has no \"provider_action\" (such as "
			    "\"reboot\")", a->name);
		if (a->command != NULL)
			return ac_fail(ctx, "command", -1, NULL, true, "a "
			    "provider action runs its provider's "
			    "\"provider_action\", not a command");
		return 0;
	}
	if (a->provider_action != NULL)
		return ac_fail(ctx, "provider_action", -1, NULL, true, "only "
		    "for kind provider");
	if (a->command == NULL)
		return ac_fail(ctx, "kind", -1, NULL, false, "%s action \"%s\" "
		    "has no \"command\"", a->kind == NX_ACTION_SSH ? "ssh" :
		    "local", a->name);
	names = xcalloc(a->ninputs + 1, sizeof *names);
	for (i = 0; i < a->ninputs; i++)
		names[i] = a->inputs[i].name;
	rc = tmpl_validate(a->command, names, a->ninputs, ctx->err);
	free(names);
	if (rc != 0) {
		char msg[sizeof ctx->err->msg];

		snprintf(msg, sizeof msg, "%s", ctx->err->msg);
		return ac_fail(ctx, "command", -1, NULL, false, "%s", msg);
	}
	return 0;
}

void
actions_free(struct nx_action *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ac_free_one(&a[i]);
	free(a);
}

/*
 * Parses the value of actions.define.  On success *out is a new array of
 * *n actions (actions_free).  Returns 0, or -1 with err at file:line:col.
 */
int
actions_parse(const char *file, const char *text, size_t len,
    const json_t *define, struct nx_action **out, size_t *n,
    struct nx_err *err)
{
	struct ac_ctx ctx = { file, text, len, 0, err };
	struct jpos_place pl;
	struct nx_action *a;
	char got[64];
	size_t i, j;

	*out = NULL;
	*n = 0;
	if (!json_is_array(define)) {
		config_describe(define, got, sizeof got);
		jpos_place_init(&pl, file, text, len, "actions", "define");
		return jpos_fail(err, &pl, "expected an array of action "
		    "definitions, got %s", got);
	}
	a = xcalloc(json_array_size(define) + 1, sizeof *a);
	for (i = 0; i < json_array_size(define); i++) {
		ctx.index = i;
		if (ac_parse_one(&ctx, json_array_get(define, i), &a[i]) != 0)
			goto fail;
		for (j = 0; j < i; j++) {
			if (strcmp(a[j].name, a[i].name) == 0) {
				ac_fail(&ctx, "name", -1, NULL, false, "action "
				    "\"%s\" is already defined at %s",
				    a[i].name, a[j].where);
				goto fail;
			}
		}
	}
	*out = a;
	*n = i;
	return 0;
fail:
	actions_free(a, i + 1);
	return -1;
}

static char *
ac_dup0(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct nx_action *
actions_clone(const struct nx_action *src, size_t n)
{
	struct nx_action *d = xcalloc(n + 1, sizeof *d);
	size_t i, k;

	for (i = 0; i < n; i++) {
		d[i] = src[i];
		d[i].name = ac_dup0(src[i].name);
		d[i].description = ac_dup0(src[i].description);
		d[i].command = ac_dup0(src[i].command);
		d[i].provider_action = ac_dup0(src[i].provider_action);
		d[i].target = ac_dup0(src[i].target);
		d[i].where = ac_dup0(src[i].where);
		d[i].inputs = xcalloc(src[i].ninputs + 1, sizeof *d[i].inputs);
		for (k = 0; k < src[i].ninputs; k++) {
			d[i].inputs[k] = src[i].inputs[k];
			d[i].inputs[k].name = ac_dup0(src[i].inputs[k].name);
			d[i].inputs[k].description =
			    ac_dup0(src[i].inputs[k].description);
			d[i].inputs[k].pattern =
			    ac_dup0(src[i].inputs[k].pattern);
			d[i].inputs[k].def = ac_dup0(src[i].inputs[k].def);
		}
	}
	return d;
}

const char *
action_kind_name(enum nx_action_kind k)
{
	switch (k) {
	case NX_ACTION_SSH:
		return "ssh";
	case NX_ACTION_LOCAL:
		return "local";
	case NX_ACTION_PROVIDER:
		return "provider";
	}
	return "?";
}

/* One action as JSON (config show, run --list --format json). */
json_t *
action_to_json(const struct nx_action *a)
{
	json_t *o = json_object(), *in = json_array();
	char buf[64];
	size_t k;

	json_object_set_new(o, "name", json_string(a->name));
	if (a->description != NULL)
		json_object_set_new(o, "description", nx_json_text(a->description));
	json_object_set_new(o, "kind", json_string(action_kind_name(a->kind)));
	if (a->command != NULL)
		json_object_set_new(o, "command", nx_json_text(a->command));
	if (a->provider_action != NULL)
		json_object_set_new(o, "provider_action",
		    nx_json_text(a->provider_action));
	json_object_set_new(o, "target", a->target != NULL ?
	    nx_json_text(a->target) : json_string("*"));
	config_format_duration(a->timeout_ms, buf, sizeof buf);
	json_object_set_new(o, "timeout", json_string(buf));
	json_object_set_new(o, "concurrency", json_integer(a->concurrency));
	json_object_set_new(o, "confirm", json_boolean(a->confirm));
	json_object_set_new(o, "dangerous", json_boolean(a->dangerous));
	json_object_set_new(o, "role", json_string(role_name(a->role)));
	for (k = 0; k < a->ninputs; k++) {
		const struct nx_input *i = &a->inputs[k];
		json_t *jo = json_object();

		json_object_set_new(jo, "name", json_string(i->name));
		if (i->description != NULL)
			json_object_set_new(jo, "description",
			    nx_json_text(i->description));
		if (i->pattern != NULL)
			json_object_set_new(jo, "pattern",
			    nx_json_text(i->pattern));
		json_object_set_new(jo, "default", i->def != NULL ?
		    nx_json_text(i->def) : json_null());
		json_object_set_new(jo, "max_len", json_integer(i->max_len));
		json_array_append_new(in, jo);
	}
	json_object_set_new(o, "inputs", in);
	return o;
}

static int
ac_config_parse(struct nx_config *cfg, const char *file, const char *text,
    size_t len, const json_t *value, struct nx_err *err)
{
	struct nx_action *a;
	size_t n;

	if (actions_parse(file, text, len, value, &a, &n, err) != 0)
		return -1;
	actions_free(cfg->actions, cfg->nactions);
	cfg->actions = a;
	cfg->nactions = n;
	return 0;
}

static void
ac_config_free(struct nx_config *cfg)
{
	actions_free(cfg->actions, cfg->nactions);
	cfg->actions = NULL;
	cfg->nactions = 0;
}

static void
ac_config_clone(struct nx_config *dst, const struct nx_config *src)
{
	dst->actions = src->actions != NULL ?
	    actions_clone(src->actions, src->nactions) : NULL;
	dst->nactions = src->nactions;
}

static json_t *
ac_config_json(const struct nx_config *cfg)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < cfg->nactions; i++)
		json_array_append_new(a, action_to_json(&cfg->actions[i]));
	return a;
}

const struct cfg_custom actions_config = {
	.parse = ac_config_parse,
	.free = ac_config_free,
	.clone = ac_config_clone,
	.to_json = ac_config_json,
};

/* The action called name in the engine's configuration, or NULL. */
const struct nx_action *
action_find(const struct engine *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->cfg.nactions; i++) {
		if (strcmp(e->cfg.actions[i].name, name) == 0)
			return &e->cfg.actions[i];
	}
	return NULL;
}

/*
 * Checks inputs (an object of strings, or NULL) against action a: every
 * name known, every value a string passing its input's length, printable
 * and pattern checks, every input without a default given.  Returns a
 * new object with the defaults filled (the caller decrefs), or NULL with
 * err set.
 */
json_t *
action_inputs(const struct nx_action *a, const json_t *inputs,
    struct nx_err *err)
{
	json_t *out = json_object(), *v;
	const char *key;
	size_t i;

	if (inputs != NULL && !json_is_object(inputs)) {
		nx_err_set(err, "action %s: inputs must be an object of "
		    "name: value", a->name);
		goto fail;
	}
	if (inputs != NULL) {
		json_object_foreach((json_t *)inputs, key, v) {
			for (i = 0; i < a->ninputs; i++) {
				if (strcmp(a->inputs[i].name, key) == 0)
					break;
			}
			if (i == a->ninputs) {
				nx_err_set(err, "action %s has no input \"%.64s\"",
				    a->name, key);
				goto fail;
			}
		}
	}
	for (i = 0; i < a->ninputs; i++) {
		const struct nx_input *in = &a->inputs[i];
		const char *s;
		size_t len;

		v = inputs != NULL ? json_object_get(inputs, in->name) : NULL;
		if (v == NULL) {
			if (in->def == NULL) {
				nx_err_set(err, "action %s: input %s is required"
				    "%s%s", a->name, in->name,
				    in->description ? " (" : "",
				    in->description ? in->description : "");
				if (in->description != NULL)
					strncat(err->msg, ")", sizeof err->msg -
					    strlen(err->msg) - 1);
				goto fail;
			}
			json_object_set_new(out, in->name, json_string(in->def));
			continue;
		}
		if (!json_is_string(v)) {
			nx_err_set(err, "action %s: input %s must be a string",
			    a->name, in->name);
			goto fail;
		}
		s = json_string_value(v);
		len = json_string_length(v);
		if (ac_check_value(in, s, len, err) != 0) {
			char msg[sizeof err->msg];

			snprintf(msg, sizeof msg, "%s", err->msg);
			nx_err_set(err, "action %s: %s", a->name, msg);
			goto fail;
		}
		json_object_set_new(out, in->name, json_stringn(s, len));
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}
