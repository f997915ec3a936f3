/*
 * remed.c - remediation rules (doc/remediation.md): a check result that
 * matches a rule makes a job of the rule's action on that node, through
 * guards that keep automation from making an incident worse.
 *
 *	"remediation": { "enabled": true, "max_concurrent": 8,
 *	    "rate": 30, "burst": 10, "rules": [
 *	    { "name": "fix-flag", "check": "^flag$", "states": ["critical"],
 *	      "action": "fix", "mode": "auto", "cooldown": "1m",
 *	      "breaker": { "runs": 3, "window": "30m" } } ] }
 *
 * Three parts:
 *
 *  - the configuration: the section's keys as CFG_CUSTOM rows of
 *    config.c, every error naming file:line:column; a rule's action is
 *    looked up at remed_start(), since actions.define may come later in
 *    the file (or in a later file);
 *  - the trigger and its guards, on every NX_EV_RESULT: a rule matches on
 *    the check name (PCRE2), the state, HARD (or SOFT at attempt N), the
 *    node (a target expression) and optionally the output; then, in this
 *    order, enabled, suppression (acknowledged, downtime, flapping, host
 *    not UP), the node's breaker, a job of the rule already in flight on
 *    the node, the node's cooldown, concurrency (rule, global) and token
 *    buckets (rule, global).  Each refusal is counted by reason;
 *  - the outcome: when a job ends, the triggering check runs again at once
 *    and its next result says RECOVERED (OK) or NOT_RECOVERED.  A run that
 *    did not recover counts towards the breaker: `runs` of them within
 *    `window` open the rule for that node until remed_reset().
 *
 * Rule state lives in struct remed (e->remed), made by remed_start() and
 * freed by remed_stop(); the configuration (struct nx_remed) is owned by
 * struct nx_config.  Everything runs on the loop thread.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "act.h"

#define REMED_NAME_MAX 64
#define REMED_MINUTE 60000.0

/* ---------------------------------------------------------------------- */
/* Configuration                                                           */

struct remed_rule {
	char *name;
	char *check;            /* PCRE2 on the check name */
	uint8_t states;         /* bit (1 << enum nx_state) */
	bool soft;              /* SOFT at `attempt`, else HARD */
	uint8_t attempt;
	char *target;           /* nodes it applies to; NULL = all */
	char *output;           /* PCRE2 on the output, or NULL */
	char *action;
	json_t *inputs;         /* object, or NULL */
	enum remed_mode mode;
	uint32_t concurrency;   /* jobs of the rule at once; 0 = no limit */
	uint32_t rate, burst;   /* jobs per minute; rate 0 = no limit */
	uint32_t cooldown_ms;
	uint32_t breaker_runs;  /* 0 = no breaker */
	uint32_t breaker_window_ms;
	bool dry_run;
	bool enabled;
	char *where;            /* "file:line:column" of the rule */
	char *action_where;     /* ... of its action */
};

struct nx_remed {
	bool enabled;
	bool dry_run;
	uint32_t max_concurrent;        /* 0 = no limit */
	uint32_t rate, burst;           /* jobs per minute; rate 0 = no limit */
	struct remed_rule *rules;
	size_t nrules;
};

/* Defaults of the section and of a rule (doc/remediation.md). */
#define REMED_DEF_MAX_CONCURRENT 8
#define REMED_DEF_RATE 30
#define REMED_DEF_BURST 10
#define REMED_DEF_RULE_CONCURRENCY 4
#define REMED_DEF_COOLDOWN_MS (5 * 60 * 1000)
#define REMED_DEF_BREAKER_RUNS 3
#define REMED_DEF_BREAKER_WINDOW_MS (30 * 60 * 1000)

static const char *const remed_mode_names[] = {
	[REMED_AUTO] = "auto",
	[REMED_APPROVE] = "approve",
	[REMED_SUGGEST] = "suggest",
};

static const char *const remed_state_names[] = {
	[NX_OK] = "ok",
	[NX_WARNING] = "warning",
	[NX_CRITICAL] = "critical",
	[NX_UNKNOWN] = "unknown",
};

static const char *const remed_rule_keys[] = {
	"name", "check", "states", "state_type", "attempt", "target", "output",
	"action", "inputs", "mode", "concurrency", "rate", "burst", "cooldown",
	"breaker", "dry_run", "enabled",
};

/* What one parse works on: the text (for positions) and the rule. */
struct rc_ctx {
	const char *file;
	const char *text;
	size_t len;
	const char *key;        /* the section's key */
	size_t index;           /* of the rule (key "rules"), or SIZE_MAX */
	struct nx_err *err;
};

/*
 * The place of remediation.KEY.sub[0].sub[1]... (nsub keys), with key
 * "rules" and an index remediation.rules[index].sub...
 */
static void
rc_place(const struct rc_ctx *ctx, const char *const *sub, size_t nsub,
    bool at_key, struct jpos_place *pl)
{
	jpos_place_init(pl, ctx->file, ctx->text, ctx->len, "remediation",
	    ctx->key);
	if (strcmp(ctx->key, "rules") == 0 && ctx->index != SIZE_MAX)
		jpos_place_elem(pl, ctx->index);
	jpos_place_keys(pl, sub, nsub);
	pl->at_key = at_key;
}

/*
 * Sets "file:line:column: remediation.rules[i].KEY: message" at the key
 * (at_key) or value of the element's sub... (jpos_fail).  Returns -1.
 */
static int __attribute__((format(printf, 5, 6)))
rc_fail(struct rc_ctx *ctx, const char *const *sub, size_t nsub, bool at_key,
    const char *fmt, ...)
{
	struct jpos_place pl;
	va_list ap;

	rc_place(ctx, sub, nsub, at_key, &pl);
	va_start(ap, fmt);
	jpos_vfail(ctx->err, &pl, fmt, ap);
	va_end(ap);
	return -1;
}

/* "file:line:column" of the rule's key (or the rule), malloc'ed. */
static char *
rc_where(struct rc_ctx *ctx, const char *key)
{
	struct jpos_place pl;

	rc_place(ctx, &key, key != NULL ? 1 : 0, false, &pl);
	return jpos_where(&pl);
}

static const char *
rc_string(const json_t *v)
{
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* Compiles re to check it; the message names the offset. */
static int
rc_regex(struct rc_ctx *ctx, const char *key, const char *re)
{
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	pcre2_code *code;
	int code_err;

	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0,
	    &code_err, &off, NULL);
	if (code == NULL) {
		pcre2_get_error_message(code_err, msg, sizeof msg);
		return rc_fail(ctx, &key, 1, false, "bad regular expression "
		    "at offset %zu: %s", (size_t)off, (const char *)msg);
	}
	pcre2_code_free(code);
	return 0;
}

static int
rc_uint(struct rc_ctx *ctx, const char *const *sub, size_t nsub,
    const json_t *v, json_int_t min, json_int_t max, uint32_t *out)
{
	char got[64];

	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		config_describe(v, got, sizeof got);
		return rc_fail(ctx, sub, nsub, false, "expected an integer "
		    "from %lld to %lld, got %s", (long long)min,
		    (long long)max, got);
	}
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int
rc_duration(struct rc_ctx *ctx, const char *const *sub, size_t nsub,
    const json_t *v, uint64_t min, uint64_t max, uint32_t *out)
{
	char got[64], lo[32], hi[32];
	uint64_t ms;

	config_describe(v, got, sizeof got);
	if (rc_string(v) != NULL) {
		if (config_parse_duration(json_string_value(v), &ms) != 0)
			goto bad;
	} else if (json_is_number(v)) {
		double secs = json_number_value(v);

		ms = !(secs > 0) ? 0 : secs * 1000 > 1e15 ? UINT64_MAX :
		    (uint64_t)(secs * 1000 + 0.5);
	} else
		goto bad;
	if (ms < min || ms > max) {
		config_format_duration(min, lo, sizeof lo);
		config_format_duration(max, hi, sizeof hi);
		return rc_fail(ctx, sub, nsub, false, "expected a duration "
		    "from %s to %s, got %s", lo, hi, got);
	}
	*out = (uint32_t)ms;
	return 0;
bad:
	return rc_fail(ctx, sub, nsub, false, "expected a duration like "
	    "\"10s\" or a number of seconds, got %s", got);
}

static int
rc_bool(struct rc_ctx *ctx, const char *const *sub, size_t nsub,
    const json_t *v, bool *out)
{
	char got[64];

	if (!json_is_boolean(v)) {
		config_describe(v, got, sizeof got);
		return rc_fail(ctx, sub, nsub, false, "expected true or false, "
		    "got %s", got);
	}
	*out = json_is_true(v);
	return 0;
}

static bool
rc_valid_name(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > REMED_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static int
rc_states(struct rc_ctx *ctx, const json_t *v, uint8_t *out)
{
	const char *key = "states";
	enum nx_state st;
	json_t *el;
	size_t i;
	char got[64];

	if (!json_is_array(v) || json_array_size(v) == 0) {
		config_describe(v, got, sizeof got);
		return rc_fail(ctx, &key, 1, false, "expected a non-empty "
		    "array of warning, critical, unknown; got %s", got);
	}
	*out = 0;
	json_array_foreach(v, i, el) {
		const char *s = rc_string(el);

		if (s == NULL || nx_state_from_name(s, &st) != 0 ||
		    st == NX_OK) {
			config_describe(el, got, sizeof got);
			return rc_fail(ctx, &key, 1, false, "element %zu: "
			    "expected warning, critical or unknown, got %s",
			    i, got);
		}
		*out |= (uint8_t)(1u << st);
	}
	return 0;
}

static int
rc_breaker(struct rc_ctx *ctx, const json_t *v, struct remed_rule *r)
{
	const char *sub[2] = { "breaker", NULL };
	const char *k;
	json_t *m;
	char got[64];

	if (!json_is_object(v)) {
		config_describe(v, got, sizeof got);
		return rc_fail(ctx, sub, 1, false, "expected an object "
		    "{\"runs\": N, \"window\": \"30m\"}, got %s", got);
	}
	json_object_foreach((json_t *)v, k, m) {
		sub[1] = k;
		if (strcmp(k, "runs") == 0) {
			if (rc_uint(ctx, sub, 2, m, 0, 1000,
			    &r->breaker_runs) != 0)
				return -1;
		} else if (strcmp(k, "window") == 0) {
			if (rc_duration(ctx, sub, 2, m, 1000,
			    7 * 24 * 3600 * 1000ULL,
			    &r->breaker_window_ms) != 0)
				return -1;
		} else
			return rc_fail(ctx, sub, 2, true, "unknown key \"%s\" "
			    "(known: runs, window)", k);
	}
	return 0;
}

/* Parses one rule into r (zeroed by the caller).  Returns 0 or -1. */
static int
rc_parse_rule(struct rc_ctx *ctx, const json_t *el, struct remed_rule *r)
{
	const char *key, *s;
	json_t *v;
	char got[64];
	size_t i;
	bool has_attempt = false, has_burst = false;

	if (!json_is_object(el)) {
		config_describe(el, got, sizeof got);
		return rc_fail(ctx, NULL, 0, false, "expected an object "
		    "(a rule), got %s", got);
	}
	r->states = 1u << NX_CRITICAL;
	r->mode = REMED_APPROVE;
	r->concurrency = REMED_DEF_RULE_CONCURRENCY;
	r->cooldown_ms = REMED_DEF_COOLDOWN_MS;
	r->breaker_runs = REMED_DEF_BREAKER_RUNS;
	r->breaker_window_ms = REMED_DEF_BREAKER_WINDOW_MS;
	r->enabled = true;
	json_object_foreach((json_t *)el, key, v) {
		for (i = 0; i < NX_ARRAY_LEN(remed_rule_keys); i++) {
			if (strcmp(key, remed_rule_keys[i]) == 0)
				break;
		}
		if (i == NX_ARRAY_LEN(remed_rule_keys))
			return rc_fail(ctx, &key, 1, true, "unknown key \"%s\" "
			    "(known: name, check, states, state_type, attempt, "
			    "target, output, action, inputs, mode, concurrency, "
			    "rate, burst, cooldown, breaker, dry_run, enabled)",
			    key);
	}
	if ((v = json_object_get(el, "name")) == NULL)
		return rc_fail(ctx, NULL, 0, false, "missing \"name\"");
	key = "name";
	if ((s = rc_string(v)) == NULL || !rc_valid_name(s)) {
		config_describe(v, got, sizeof got);
		return rc_fail(ctx, &key, 1, false, "expected a name of letters, "
		    "digits, '.', '_' and '-' (at most %d), got %s",
		    REMED_NAME_MAX, got);
	}
	r->name = xstrdup(s);
	r->where = rc_where(ctx, "name");

	key = "check";
	if ((v = json_object_get(el, key)) == NULL)
		return rc_fail(ctx, NULL, 0, false, "rule \"%s\" has no "
		    "\"check\" (a regular expression on check names)", r->name);
	if ((s = rc_string(v)) == NULL || *s == '\0') {
		config_describe(v, got, sizeof got);
		return rc_fail(ctx, &key, 1, false, "expected a regular "
		    "expression, got %s", got);
	}
	if (rc_regex(ctx, key, s) != 0)
		return -1;
	r->check = xstrdup(s);

	key = "action";
	if ((v = json_object_get(el, key)) == NULL)
		return rc_fail(ctx, NULL, 0, false, "rule \"%s\" has no "
		    "\"action\" (a name in actions.define)", r->name);
	if ((s = rc_string(v)) == NULL || *s == '\0') {
		config_describe(v, got, sizeof got);
		return rc_fail(ctx, &key, 1, false, "expected the name of an "
		    "action, got %s", got);
	}
	r->action = xstrdup(s);
	r->action_where = rc_where(ctx, "action");

	if ((v = json_object_get(el, "states")) != NULL &&
	    rc_states(ctx, v, &r->states) != 0)
		return -1;
	if ((v = json_object_get(el, "attempt")) != NULL) {
		key = "attempt";
		if (rc_uint(ctx, &key, 1, v, 1, 100, &(uint32_t){ 0 }) != 0)
			return -1;
		r->attempt = (uint8_t)json_integer_value(v);
		has_attempt = true;
	}
	if ((v = json_object_get(el, "state_type")) != NULL) {
		key = "state_type";
		s = rc_string(v);
		if (s != NULL && strcasecmp(s, "hard") == 0)
			r->soft = false;
		else if (s != NULL && strcasecmp(s, "soft") == 0)
			r->soft = true;
		else {
			config_describe(v, got, sizeof got);
			return rc_fail(ctx, &key, 1, false, "expected \"hard\" "
			    "or \"soft\", got %s", got);
		}
	}
	if (r->soft && !has_attempt)
		return rc_fail(ctx, NULL, 0, false, "rule \"%s\": state_type "
		    "soft needs \"attempt\" (the SOFT attempt that triggers "
		    "it)", r->name);
	if (!r->soft && has_attempt) {
		key = "attempt";
		return rc_fail(ctx, &key, 1, true, "\"attempt\" is for "
		    "state_type soft (a HARD state has no attempt to match)");
	}
	if ((v = json_object_get(el, "target")) != NULL) {
		struct nx_target *t;
		struct nx_err terr;

		key = "target";
		if ((s = rc_string(v)) == NULL) {
			config_describe(v, got, sizeof got);
			return rc_fail(ctx, &key, 1, false, "expected a target "
			    "expression, got %s", got);
		}
		if ((t = target_parse(s, &terr)) == NULL)
			return rc_fail(ctx, &key, 1, false, "%s", terr.msg);
		target_free(t);
		r->target = xstrdup(s);
	}
	if ((v = json_object_get(el, "output")) != NULL) {
		key = "output";
		if ((s = rc_string(v)) == NULL || *s == '\0') {
			config_describe(v, got, sizeof got);
			return rc_fail(ctx, &key, 1, false, "expected a regular "
			    "expression, got %s", got);
		}
		if (rc_regex(ctx, key, s) != 0)
			return -1;
		r->output = xstrdup(s);
	}
	if ((v = json_object_get(el, "inputs")) != NULL) {
		key = "inputs";
		if (!json_is_object(v)) {
			config_describe(v, got, sizeof got);
			return rc_fail(ctx, &key, 1, false, "expected an object "
			    "of the action's inputs, got %s", got);
		}
		r->inputs = json_deep_copy(v);
	}
	if ((v = json_object_get(el, "mode")) != NULL) {
		key = "mode";
		s = rc_string(v);
		for (i = 0; s != NULL && i < NX_ARRAY_LEN(remed_mode_names);
		    i++) {
			if (strcmp(s, remed_mode_names[i]) == 0)
				break;
		}
		if (s == NULL || i == NX_ARRAY_LEN(remed_mode_names)) {
			config_describe(v, got, sizeof got);
			return rc_fail(ctx, &key, 1, false, "expected auto, "
			    "approve or suggest, got %s", got);
		}
		r->mode = (enum remed_mode)i;
	}
	key = "concurrency";
	if ((v = json_object_get(el, key)) != NULL &&
	    rc_uint(ctx, &key, 1, v, 0, 100000, &r->concurrency) != 0)
		return -1;
	key = "rate";
	if ((v = json_object_get(el, key)) != NULL &&
	    rc_uint(ctx, &key, 1, v, 0, 1000000, &r->rate) != 0)
		return -1;
	key = "burst";
	if ((v = json_object_get(el, key)) != NULL) {
		if (rc_uint(ctx, &key, 1, v, 1, 1000000, &r->burst) != 0)
			return -1;
		has_burst = true;
	}
	if (has_burst && r->rate == 0)
		return rc_fail(ctx, &key, 1, true, "\"burst\" needs \"rate\" "
		    "(jobs per minute)");
	if (!has_burst)
		r->burst = r->rate > 0 ? r->rate : 0;
	key = "cooldown";
	if ((v = json_object_get(el, key)) != NULL &&
	    rc_duration(ctx, &key, 1, v, 0, 7 * 24 * 3600 * 1000ULL,
	    &r->cooldown_ms) != 0)
		return -1;
	if ((v = json_object_get(el, "breaker")) != NULL &&
	    rc_breaker(ctx, v, r) != 0)
		return -1;
	key = "dry_run";
	if ((v = json_object_get(el, key)) != NULL &&
	    rc_bool(ctx, &key, 1, v, &r->dry_run) != 0)
		return -1;
	key = "enabled";
	if ((v = json_object_get(el, key)) != NULL &&
	    rc_bool(ctx, &key, 1, v, &r->enabled) != 0)
		return -1;
	return 0;
}

static void
rc_rules_free(struct remed_rule *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(r[i].name);
		free(r[i].check);
		free(r[i].target);
		free(r[i].output);
		free(r[i].action);
		json_decref(r[i].inputs);
		free(r[i].where);
		free(r[i].action_where);
	}
	free(r);
}

static char *
rc_strdup0(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* A deep copy of src (n rules). */
static struct remed_rule *
rc_rules_clone(const struct remed_rule *src, size_t n)
{
	struct remed_rule *d;
	size_t i;

	if (n == 0)
		return NULL;
	d = xcalloc(n, sizeof *d);
	for (i = 0; i < n; i++) {
		d[i] = src[i];
		d[i].name = rc_strdup0(src[i].name);
		d[i].check = rc_strdup0(src[i].check);
		d[i].target = rc_strdup0(src[i].target);
		d[i].output = rc_strdup0(src[i].output);
		d[i].action = rc_strdup0(src[i].action);
		d[i].inputs = src[i].inputs != NULL ?
		    json_deep_copy(src[i].inputs) : NULL;
		d[i].where = rc_strdup0(src[i].where);
		d[i].action_where = rc_strdup0(src[i].action_where);
	}
	return d;
}

static struct nx_remed *
rc_new(void)
{
	struct nx_remed *r = xcalloc(1, sizeof *r);

	r->enabled = true;
	r->max_concurrent = REMED_DEF_MAX_CONCURRENT;
	r->rate = REMED_DEF_RATE;
	r->burst = REMED_DEF_BURST;
	return r;
}

/* The section's values, or the defaults when there is no section. */
static const struct nx_remed *
rc_get(const struct nx_config *cfg)
{
	static struct nx_remed defaults = {
		.enabled = true,
		.max_concurrent = REMED_DEF_MAX_CONCURRENT,
		.rate = REMED_DEF_RATE,
		.burst = REMED_DEF_BURST,
	};

	return cfg->remed != NULL ? cfg->remed : &defaults;
}

enum rc_key {
	RC_ENABLED,
	RC_DRY_RUN,
	RC_MAX_CONCURRENT,
	RC_RATE,
	RC_BURST,
	RC_RULES,
};

static const char *const rc_key_names[] = {
	[RC_ENABLED] = "enabled",
	[RC_DRY_RUN] = "dry_run",
	[RC_MAX_CONCURRENT] = "max_concurrent",
	[RC_RATE] = "rate",
	[RC_BURST] = "burst",
	[RC_RULES] = "rules",
};

/* Parses the section's key `which` into cfg->remed (made when absent). */
static int
rc_parse_key(enum rc_key which, struct nx_config *cfg, const char *file,
    const char *text, size_t len, const json_t *v, struct nx_err *err)
{
	struct rc_ctx ctx = { file, text, len, rc_key_names[which], SIZE_MAX,
	    err };
	struct remed_rule *rules;
	struct nx_remed *r;
	char got[64];
	size_t i, j;
	uint32_t u = 0;
	bool b = false;

	if (cfg->remed == NULL)
		cfg->remed = rc_new();
	r = cfg->remed;
	switch (which) {
	case RC_ENABLED:
	case RC_DRY_RUN:
		if (rc_bool(&ctx, NULL, 0, v, &b) != 0)
			return -1;
		*(which == RC_ENABLED ? &r->enabled : &r->dry_run) = b;
		return 0;
	case RC_MAX_CONCURRENT:
	case RC_RATE:
		if (rc_uint(&ctx, NULL, 0, v, 0, 1000000, &u) != 0)
			return -1;
		*(which == RC_RATE ? &r->rate : &r->max_concurrent) = u;
		return 0;
	case RC_BURST:
		return rc_uint(&ctx, NULL, 0, v, 1, 1000000, &r->burst);
	case RC_RULES:
		break;
	}
	if (!json_is_array(v)) {
		config_describe(v, got, sizeof got);
		return rc_fail(&ctx, NULL, 0, false, "expected an array of "
		    "rules, got %s", got);
	}
	rules = json_array_size(v) > 0 ?
	    xcalloc(json_array_size(v), sizeof *rules) : NULL;
	for (i = 0; i < json_array_size(v); i++) {
		ctx.index = i;
		if (rc_parse_rule(&ctx, json_array_get(v, i), &rules[i]) != 0)
			goto fail;
		for (j = 0; j < i; j++) {
			const char *key = "name";

			if (strcmp(rules[j].name, rules[i].name) == 0) {
				rc_fail(&ctx, &key, 1, false, "a second rule "
				    "named \"%s\" (the first is at %s)",
				    rules[i].name, rules[j].where);
				goto fail;
			}
		}
	}
	rc_rules_free(r->rules, r->nrules);
	r->rules = rules;
	r->nrules = i;
	return 0;
fail:
	rc_rules_free(rules, i + 1);
	return -1;
}

static void
rc_free(struct nx_config *cfg)
{
	if (cfg->remed == NULL)
		return;
	rc_rules_free(cfg->remed->rules, cfg->remed->nrules);
	free(cfg->remed);
	cfg->remed = NULL;
}

/* Every row's clone runs; the first to see src's pointer copies it. */
static void
rc_clone(struct nx_config *dst, const struct nx_config *src)
{
	struct nx_remed *r;

	if (src->remed == NULL || dst->remed != src->remed)
		return;
	r = xmalloc(sizeof *r);
	*r = *src->remed;
	r->rules = rc_rules_clone(src->remed->rules, src->remed->nrules);
	dst->remed = r;
}

static json_t *
rc_duration_json(uint32_t ms)
{
	char buf[32];

	config_format_duration(ms, buf, sizeof buf);
	return json_string(buf);
}

static json_t *
rc_rule_json(const struct remed_rule *r)
{
	json_t *o = json_object(), *a = json_array(), *b;
	int st;

	json_object_set_new(o, "name", json_string(r->name));
	json_object_set_new(o, "check", json_string(r->check));
	for (st = NX_WARNING; st <= NX_UNKNOWN; st++) {
		if (r->states & (1u << st))
			json_array_append_new(a,
			    json_string(remed_state_names[st]));
	}
	json_object_set_new(o, "states", a);
	json_object_set_new(o, "state_type", json_string(r->soft ? "soft" :
	    "hard"));
	if (r->soft)
		json_object_set_new(o, "attempt", json_integer(r->attempt));
	if (r->target != NULL)
		json_object_set_new(o, "target", json_string(r->target));
	if (r->output != NULL)
		json_object_set_new(o, "output", json_string(r->output));
	json_object_set_new(o, "action", json_string(r->action));
	if (r->inputs != NULL)
		json_object_set_new(o, "inputs", json_deep_copy(r->inputs));
	json_object_set_new(o, "mode", json_string(remed_mode_names[r->mode]));
	json_object_set_new(o, "concurrency", json_integer(r->concurrency));
	json_object_set_new(o, "rate", json_integer(r->rate));
	if (r->rate > 0)
		json_object_set_new(o, "burst", json_integer(r->burst));
	json_object_set_new(o, "cooldown", rc_duration_json(r->cooldown_ms));
	b = json_object();
	json_object_set_new(b, "runs", json_integer(r->breaker_runs));
	json_object_set_new(b, "window",
	    rc_duration_json(r->breaker_window_ms));
	json_object_set_new(o, "breaker", b);
	json_object_set_new(o, "dry_run", json_boolean(r->dry_run));
	json_object_set_new(o, "enabled", json_boolean(r->enabled));
	return o;
}

static json_t *
rc_key_json(enum rc_key which, const struct nx_config *cfg)
{
	const struct nx_remed *r = rc_get(cfg);
	json_t *a;
	size_t i;

	switch (which) {
	case RC_ENABLED:
		return json_boolean(r->enabled);
	case RC_DRY_RUN:
		return json_boolean(r->dry_run);
	case RC_MAX_CONCURRENT:
		return json_integer(r->max_concurrent);
	case RC_RATE:
		return json_integer(r->rate);
	case RC_BURST:
		return json_integer(r->burst);
	case RC_RULES:
		break;
	}
	a = json_array();
	for (i = 0; i < r->nrules; i++)
		json_array_append_new(a, rc_rule_json(&r->rules[i]));
	return a;
}

/* One parse and to_json per key; free and clone work on the whole. */
#define RC_KEY_OPS(name, fn, which)						\
static int								\
fn##_parse(struct nx_config *cfg, const char *file, const char *text,	\
    size_t len, const json_t *v, struct nx_err *err)			\
{									\
	return rc_parse_key(which, cfg, file, text, len, v, err);	\
}									\
static json_t *								\
fn##_json(const struct nx_config *cfg)					\
{									\
	return rc_key_json(which, cfg);					\
}									\
const struct cfg_custom name = {					\
	.parse = fn##_parse, .free = rc_free, .clone = rc_clone,	\
	.to_json = fn##_json,						\
};

RC_KEY_OPS(remed_enabled_config, rc_enabled, RC_ENABLED)
RC_KEY_OPS(remed_dry_run_config, rc_dry_run, RC_DRY_RUN)
RC_KEY_OPS(remed_max_concurrent_config, rc_max_concurrent, RC_MAX_CONCURRENT)
RC_KEY_OPS(remed_rate_config, rc_rate, RC_RATE)
RC_KEY_OPS(remed_burst_config, rc_burst, RC_BURST)
RC_KEY_OPS(remediation_config, rc_rules, RC_RULES)

/* ---------------------------------------------------------------------- */
/* Rule state                                                              */

enum remed_refusal {
	RR_DISABLED,
	RR_ACKED,
	RR_DOWNTIME,
	RR_FLAPPING,
	RR_HOST,
	RR_BREAKER,
	RR_IN_PROGRESS,
	RR_COOLDOWN,
	RR_RULE_CONCURRENCY,
	RR_GLOBAL_CONCURRENCY,
	RR_RULE_RATE,
	RR_GLOBAL_RATE,
	RR_SUBMIT,
	RR__COUNT
};

/* The names are the keys of remed_status()'s "refused" objects. */
static const char *const remed_refusal_names[] = {
	[RR_DISABLED] = "disabled",
	[RR_ACKED] = "acknowledged",
	[RR_DOWNTIME] = "downtime",
	[RR_FLAPPING] = "flapping",
	[RR_HOST] = "host_problem",
	[RR_BREAKER] = "breaker_open",
	[RR_IN_PROGRESS] = "in_progress",
	[RR_COOLDOWN] = "cooldown",
	[RR_RULE_CONCURRENCY] = "rule_concurrency",
	[RR_GLOBAL_CONCURRENCY] = "global_concurrency",
	[RR_RULE_RATE] = "rule_rate",
	[RR_GLOBAL_RATE] = "global_rate",
	[RR_SUBMIT] = "submit_failed",
};

/* A token bucket: `rate` tokens a minute, at most `burst` saved. */
struct remed_bucket {
	double tokens;
	nx_time last;
	uint32_t rate, burst;
};

/* One rule on one node. */
struct remed_node {
	uint32_t job;           /* in flight (not final), or 0 */
	bool submitting;        /* inside job_submit */
	bool counted;           /* job holds a concurrency slot */
	bool awaiting;          /* job ended; waiting for the re-run check */
	bool rerun;             /* the check was running already: run again */
	bool withdrawn;         /* its proposal is cancelled: the check is OK */
	uint32_t await_job, await_check;
	nx_time last_end;       /* the last job ended (cooldown from here) */
	nx_time *runs;          /* ends of runs not recovered, oldest first */
	uint32_t nruns;
	bool open;              /* breaker */
	nx_time opened;
};

struct remed_rt {
	const struct remed_rule *cfg;
	pcre2_code *check_re, *output_re;
	pcre2_match_data *md;
	struct nx_target *target;
	const struct nx_action *action;
	bool enabled;
	uint32_t running;       /* jobs holding a slot */
	struct remed_bucket bucket;
	struct remed_node *nodes;
	uint32_t nnodes;
	uint8_t *check_match;   /* per check: 0 not known yet, 1 yes, 2 no */
	uint32_t ncheck_match;
	uint64_t matched, jobs, recovered, not_recovered, opened;
	uint64_t refused[RR__COUNT];
	nx_time last_refused;
	enum remed_refusal last_reason;
	uint32_t last_refused_node;
};

struct remed {
	struct engine *e;
	const struct nx_remed *cfg;
	struct remed_rt *rules;
	size_t nrules;
	bool enabled;
	uint32_t running;
	struct remed_bucket bucket;
	uint64_t jobs;
	uint64_t refused[RR__COUNT];
	char last_error[sizeof ((struct nx_err *)NULL)->msg];
};

static void
remed_bucket_init(struct remed_bucket *b, uint32_t rate, uint32_t burst,
    nx_time now)
{
	b->rate = rate;
	b->burst = burst > 0 ? burst : 1;
	b->tokens = b->burst;
	b->last = now;
}

static void
remed_bucket_fill(struct remed_bucket *b, nx_time now)
{
	if (b->rate == 0)
		return;
	if (now > b->last) {
		b->tokens += (double)(now - b->last) * b->rate / REMED_MINUTE;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
	}
	b->last = now;
}

static bool
remed_bucket_has(struct remed_bucket *b, nx_time now)
{
	if (b->rate == 0)
		return true;
	remed_bucket_fill(b, now);
	return b->tokens >= 1.0;
}

static void
remed_bucket_take(struct remed_bucket *b)
{
	if (b->rate != 0)
		b->tokens -= 1.0;
}

/* The state of rule r on node id, grown when the fleet grew. */
static struct remed_node *
remed_node_get(struct remed_rt *r, uint32_t id)
{
	uint32_t n;

	if (id >= r->nnodes) {
		n = id + 1 > r->nnodes * 2 ? id + 1 : r->nnodes * 2;
		r->nodes = xreallocarray(r->nodes, n, sizeof *r->nodes);
		memset(r->nodes + r->nnodes, 0,
		    (n - r->nnodes) * sizeof *r->nodes);
		r->nnodes = n;
	}
	return &r->nodes[id];
}

/* Whether rule r's check pattern matches check c's name (cached). */
static bool
remed_check_matches(struct remed_rt *r, const struct check *c)
{
	uint32_t n;
	int rc;

	if (c->id >= r->ncheck_match) {
		n = c->id + 1 > r->ncheck_match * 2 ? c->id + 1 :
		    r->ncheck_match * 2;
		r->check_match = xrealloc(r->check_match, n);
		memset(r->check_match + r->ncheck_match, 0,
		    n - r->ncheck_match);
		r->ncheck_match = n;
	}
	if (r->check_match[c->id] == 0) {
		rc = pcre2_match(r->check_re, (PCRE2_SPTR)c->name,
		    PCRE2_ZERO_TERMINATED, 0, 0, r->md, NULL);
		r->check_match[c->id] = rc >= 0 ? 1 : 2;
	}
	return r->check_match[c->id] == 1;
}

static pcre2_code *
remed_compile(const char *re)
{
	PCRE2_SIZE off;
	int code_err;
	pcre2_code *code;

	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0,
	    &code_err, &off, NULL);
	if (code != NULL)
		(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	return code;
}

static void
remed_free(struct remed *rm)
{
	size_t i;
	uint32_t k;

	for (i = 0; i < rm->nrules; i++) {
		struct remed_rt *r = &rm->rules[i];

		pcre2_code_free(r->check_re);
		pcre2_code_free(r->output_re);
		pcre2_match_data_free(r->md);
		target_free(r->target);
		for (k = 0; k < r->nnodes; k++)
			free(r->nodes[k].runs);
		free(r->nodes);
		free(r->check_match);
	}
	free(rm->rules);
	free(rm);
}

/* ---------------------------------------------------------------------- */
/* Events and audit rows                                                   */

static const struct nx_actor *
remed_actor(const struct remed_rt *r, char *buf, size_t len,
    struct nx_actor *a)
{
	snprintf(buf, len, "rule:%s", r->cfg->name);
	a->user = "nexusctl";
	a->roles = NX_ROLE_BIT(NX_ROLE_ENGINE);
	a->origin = buf;
	return a;
}

static void
remed_audit(struct remed *rm, const struct remed_rt *r, const char *what,
    uint32_t node, json_t *args, const char *result)
{
	const struct fleet *f = &rm->e->fleet;
	struct nx_actor a;
	char origin[REMED_NAME_MAX + 8];

	remed_actor(r, origin, sizeof origin, &a);
	act_audit(rm->e, &a, what, node < f->nnodes ? f->nodes[node].name :
	    "", args, result);
	json_decref(args);
}

/* NX_EV_RULE: state 1 breaker opened, 0 reset, 2 proposal made. */
static void
remed_rule_event(struct remed *rm, uint32_t node, uint32_t check,
    uint8_t state, const char *text)
{
	struct event ev;

	memset(&ev, 0, sizeof ev);
	ev.time = engine_now(rm->e);
	ev.kind = NX_EV_RULE;
	ev.node = node;
	ev.check = check;
	ev.state = state;
	ev.text = text;
	bus_publish(&rm->e->bus, &ev);
}

static const char *
remed_outcome_name(enum job_outcome o)
{
	switch (o) {
	case JOB_OUTCOME_NONE:
		return "none";
	case JOB_OUTCOME_PENDING:
		return "pending";
	case JOB_OUTCOME_RECOVERED:
		return "recovered";
	case JOB_OUTCOME_NOT_RECOVERED:
		return "not_recovered";
	}
	return "?";
}

/* ---------------------------------------------------------------------- */
/* The breaker                                                             */

/* Drops runs older than the window. */
static void
remed_runs_expire(const struct remed_rt *r, struct remed_node *rn,
    nx_time now)
{
	uint32_t k = 0;

	while (k < rn->nruns &&
	    now - rn->runs[k] > (nx_time)r->cfg->breaker_window_ms)
		k++;
	if (k > 0) {
		memmove(rn->runs, rn->runs + k,
		    (rn->nruns - k) * sizeof *rn->runs);
		rn->nruns -= k;
	}
}

/* Counts a run that did not recover; opens the breaker at `runs`. */
static void
remed_breaker_count(struct remed *rm, struct remed_rt *r, uint32_t node,
    uint32_t check, nx_time now)
{
	struct remed_node *rn = remed_node_get(r, node);
	char text[384], win[32];
	json_t *args;

	if (r->cfg->breaker_runs == 0 || rn->open)
		return;
	remed_runs_expire(r, rn, now);
	if (rn->runs == NULL)
		rn->runs = xreallocarray(NULL, r->cfg->breaker_runs,
		    sizeof *rn->runs);
	if (rn->nruns == r->cfg->breaker_runs) {
		memmove(rn->runs, rn->runs + 1,
		    (rn->nruns - 1) * sizeof *rn->runs);
		rn->nruns--;
	}
	rn->runs[rn->nruns++] = now;
	if (rn->nruns < r->cfg->breaker_runs)
		return;
	rn->open = true;
	rn->opened = now;
	r->opened++;
	config_format_duration(r->cfg->breaker_window_ms, win, sizeof win);
	snprintf(text, sizeof text, "rule %s: breaker open on %s after %u "
	    "runs within %s without recovery", r->cfg->name,
	    rm->e->fleet.nodes[node].name, rn->nruns, win);
	args = json_pack("{s:s, s:s, s:i, s:s}", "rule", r->cfg->name,
	    "check", check < rm->e->fleet.nchecks ?
	    rm->e->fleet.checks[check].name : "", "runs", (int)rn->nruns,
	    "window", win);
	remed_audit(rm, r, "rule.breaker_open", node, args, "open");
	remed_rule_event(rm, node, check, 1, text);
}

/* ---------------------------------------------------------------------- */
/* Outcome                                                                 */

static struct remed *remed_of(const struct engine *e);

/* Records job's outcome from the check's state and publishes NX_EV_JOB. */
static void
remed_outcome(struct remed *rm, struct remed_rt *r, struct remed_node *rn,
    uint32_t node, const struct check *c, nx_time now)
{
	struct job *j = job_find(rm->e, rn->await_job);
	enum job_outcome o = c->state == NX_OK ? JOB_OUTCOME_RECOVERED :
	    JOB_OUTCOME_NOT_RECOVERED;
	struct event ev;
	char text[384];
	json_t *args;

	rn->awaiting = false;
	rn->rerun = false;
	rn->last_end = now;
	if (j != NULL)
		j->outcome = o;
	snprintf(text, sizeof text, "job %u rule %s action %s on %s: outcome "
	    "%s (%s %s)", rn->await_job, r->cfg->name, r->cfg->action,
	    rm->e->fleet.nodes[node].name, remed_outcome_name(o), c->name,
	    nx_state_name((enum nx_state)c->state));
	memset(&ev, 0, sizeof ev);
	ev.time = now;
	ev.kind = NX_EV_JOB;
	ev.node = node;
	ev.check = c->id;
	ev.state = j != NULL ? (uint8_t)j->state : 0;
	ev.prev_state = ev.state;
	ev.attempt = (uint8_t)o;
	ev.text = text;
	bus_publish(&rm->e->bus, &ev);
	args = json_pack("{s:i, s:s, s:s, s:s}", "job", (int)rn->await_job,
	    "rule", r->cfg->name, "check", c->name, "state",
	    nx_state_name((enum nx_state)c->state));
	remed_audit(rm, r, "rule.outcome", node, args,
	    remed_outcome_name(o));
	rn->await_job = 0;
	if (o == JOB_OUTCOME_RECOVERED) {
		r->recovered++;
		rn->nruns = 0;
	} else {
		r->not_recovered++;
		remed_breaker_count(rm, r, node, c->id, now);
	}
}

/*
 * A job of a rule reached a final state: frees its slot and, unless it
 * was a dry run or never ran, runs the triggering check again at once;
 * its next result decides the outcome (remed_on_result).
 */
static void
remed_job_done(struct engine *e, struct job *j, void *arg)
{
	struct remed *rm = remed_of(e);
	struct remed_rt *r;
	struct remed_node *rn;
	struct check *c;
	uint32_t node;
	bool ran;

	(void)arg;
	if (rm == NULL || j->rule >= rm->nrules || j->nhosts == 0)
		return;
	r = &rm->rules[j->rule];
	node = j->hosts[0].node;
	rn = remed_node_get(r, node);
	if (rn->counted) {
		rn->counted = false;
		r->running--;
		rm->running--;
	}
	rn->job = 0;
	rn->submitting = false;
	ran = !j->dry_run && (j->state == JOB_SUCCEEDED ||
	    j->state == JOB_FAILED);
	if (!ran || j->check >= e->fleet.nchecks) {
		/* A proposal withdrawn because the check recovered did
		 * nothing: no cooldown. */
		if (!rn->withdrawn)
			rn->last_end = engine_now(e);
		return;
	}
	c = &e->fleet.checks[j->check];
	j->outcome = JOB_OUTCOME_PENDING;
	rn->awaiting = true;
	rn->await_job = j->id;
	rn->await_check = c->id;
	/* A result already on its way may predate the fix: wait for it,
	 * then run the check once more. */
	rn->rerun = c->running;
	mon_run_check(e, c);
}

/* ---------------------------------------------------------------------- */
/* The trigger                                                             */

static void
remed_refuse(struct remed *rm, struct remed_rt *r, uint32_t node,
    enum remed_refusal why, nx_time now)
{
	r->refused[why]++;
	rm->refused[why]++;
	r->last_refused = now;
	r->last_reason = why;
	r->last_refused_node = node;
}

/* Whether the result event ev of check c matches rule r's trigger. */
static bool
remed_matches(struct remed *rm, struct remed_rt *r, const struct event *ev,
    const struct check *c)
{
	const struct node *n = &rm->e->fleet.nodes[c->node];
	int rc;

	if (!(r->cfg->states & (1u << (ev->state & 7))))
		return false;
	if (r->cfg->soft) {
		if (ev->state_type != NX_SOFT ||
		    ev->attempt != r->cfg->attempt)
			return false;
	} else if (ev->state_type != NX_HARD)
		return false;
	if (!remed_check_matches(r, c))
		return false;
	if (r->target != NULL && !target_match(r->target, &rm->e->fleet, n))
		return false;
	if (r->output_re != NULL) {
		const char *out = ev->text != NULL ? ev->text : "";

		rc = pcre2_match(r->output_re, (PCRE2_SPTR)out,
		    PCRE2_ZERO_TERMINATED, 0, 0, r->md, NULL);
		if (rc < 0)
			return false;
	}
	return true;
}

/* The proposal (or suggestion) text kept in job.reason. */
static void
remed_proposal(struct remed *rm, struct remed_rt *r, const struct check *c,
    const struct event *ev, char *buf, size_t len)
{
	const char *out = ev->text != NULL ? ev->text : "";
	size_t ol = strcspn(out, "\n");

	if (ol > 160)
		ol = 160;
	snprintf(buf, len, "rule %s: %s on %s is %s %s (attempt %u): %.*s; "
	    "%s action %s", r->cfg->name, c->name,
	    rm->e->fleet.nodes[c->node].name,
	    nx_state_name((enum nx_state)ev->state),
	    ev->state_type == NX_HARD ? "HARD" : "SOFT", ev->attempt,
	    (int)ol, out, r->cfg->mode == REMED_SUGGEST ? "suggests" :
	    "proposes", r->cfg->action);
}

/* Rule r matched result ev of check c: guards, then a job. */
static void
remed_fire(struct remed *rm, struct remed_rt *r, const struct event *ev,
    struct check *c, nx_time now)
{
	struct remed_node *rn = remed_node_get(r, c->node);
	const struct remed_rule *rc = r->cfg;
	struct job_spec spec;
	struct nx_actor actor;
	struct nx_err err;
	struct job *j;
	char origin[REMED_NAME_MAX + 8], reason[512];
	uint32_t node = c->node, id = 0;
	bool slot;
	json_t *args;
	static const enum job_state initial[] = {
		[REMED_AUTO] = JOB_QUEUED,
		[REMED_APPROVE] = JOB_PROPOSED,
		[REMED_SUGGEST] = JOB_SUGGESTED,
	};

	r->matched++;
	if (!rm->enabled || !r->enabled) {
		remed_refuse(rm, r, node, RR_DISABLED, now);
		return;
	}
	if (ev->flags & NX_EVF_SUPPRESS) {
		remed_refuse(rm, r, node, (ev->flags & NX_EVF_ACKED) ?
		    RR_ACKED : (ev->flags & NX_EVF_DOWNTIME) ? RR_DOWNTIME :
		    (ev->flags & NX_EVF_FLAPPING) ? RR_FLAPPING : RR_HOST, now);
		return;
	}
	/* A host check's own problem: nothing to fix on a node that is
	 * only unreachable behind a parent that is down. */
	if (c->is_host_check && ev->state != NX_OK &&
	    mon_node_reachability(&rm->e->fleet,
	    &rm->e->fleet.nodes[node]) == NX_HOST_UNREACHABLE) {
		remed_refuse(rm, r, node, RR_HOST, now);
		return;
	}
	if (rn->open) {
		remed_refuse(rm, r, node, RR_BREAKER, now);
		return;
	}
	if (rn->submitting || rn->awaiting) {
		remed_refuse(rm, r, node, RR_IN_PROGRESS, now);
		return;
	}
	if (rn->job != 0) {
		/* A suggestion stands until the check recovers. */
		if ((j = job_find(rm->e, rn->job)) != NULL && (!job_final(j) ||
		    j->state == JOB_SUGGESTED)) {
			remed_refuse(rm, r, node, RR_IN_PROGRESS, now);
			return;
		}
		rn->job = 0;
	}
	if (rn->last_end != 0 && now - rn->last_end < (nx_time)rc->cooldown_ms) {
		remed_refuse(rm, r, node, RR_COOLDOWN, now);
		return;
	}
	slot = rc->mode == REMED_AUTO;
	if (slot && rc->concurrency > 0 && r->running >= rc->concurrency) {
		remed_refuse(rm, r, node, RR_RULE_CONCURRENCY, now);
		return;
	}
	if (slot && rm->cfg->max_concurrent > 0 &&
	    rm->running >= rm->cfg->max_concurrent) {
		remed_refuse(rm, r, node, RR_GLOBAL_CONCURRENCY, now);
		return;
	}
	if (!remed_bucket_has(&r->bucket, now)) {
		remed_refuse(rm, r, node, RR_RULE_RATE, now);
		return;
	}
	if (!remed_bucket_has(&rm->bucket, now)) {
		remed_refuse(rm, r, node, RR_GLOBAL_RATE, now);
		return;
	}

	remed_proposal(rm, r, c, ev, reason, sizeof reason);
	memset(&spec, 0, sizeof spec);
	spec.action = r->action;
	spec.nodes = &node;
	spec.nnodes = 1;
	spec.inputs = rc->inputs;
	spec.actor = remed_actor(r, origin, sizeof origin, &actor);
	spec.role = NX_ROLE_ENGINE;
	spec.initial = initial[rc->mode];
	spec.dry_run = rm->cfg->dry_run || rc->dry_run;
	spec.rule = (uint32_t)(r - rm->rules);
	spec.check = c->id;
	spec.reason = reason;
	spec.done = remed_job_done;
	spec.done_arg = rm;

	remed_bucket_take(&r->bucket);
	remed_bucket_take(&rm->bucket);
	if (slot) {
		r->running++;
		rm->running++;
		rn->counted = true;
	}
	rn->submitting = true;
	if (job_submit(rm->e, &spec, &id, &err) != 0) {
		if (rn->counted) {
			rn->counted = false;
			r->running--;
			rm->running--;
		}
		rn->submitting = false;
		rn->last_end = now;
		snprintf(rm->last_error, sizeof rm->last_error, "%s", err.msg);
		remed_refuse(rm, r, node, RR_SUBMIT, now);
		args = json_pack("{s:s, s:s, s:s, s:s}", "rule", rc->name,
		    "check", c->name, "action", rc->action, "error", err.msg);
		remed_audit(rm, r, "rule.job", node, args, "error");
		return;
	}
	/* The job may have ended inside job_submit (remed_job_done). */
	if (rn->submitting) {
		rn->submitting = false;
		rn->job = id;
	}
	r->jobs++;
	rm->jobs++;
	args = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:b, s:O?}",
	    "job", (int)id, "rule", rc->name, "check", c->name, "state",
	    nx_state_name((enum nx_state)ev->state), "action", rc->action,
	    "mode", remed_mode_names[rc->mode], "dry_run", spec.dry_run,
	    "inputs", rc->inputs);
	remed_audit(rm, r, "rule.job", node, args,
	    job_state_name(initial[rc->mode]));
	if (rc->mode == REMED_APPROVE)
		remed_rule_event(rm, node, c->id, 2, reason);
}

/*
 * A check recovered: proposals and suggestions of rules for it that wait
 * are cancelled (nothing left to fix), and the node's runs reset.
 */
static void
remed_recovered(struct remed *rm, struct remed_rt *r, const struct check *c)
{
	struct remed_node *rn = remed_node_get(r, c->node);
	struct job *j;

	if (!remed_check_matches(r, c))
		return;
	rn->nruns = 0;
	if (rn->job == 0 || (j = job_find(rm->e, rn->job)) == NULL ||
	    j->check != c->id)
		return;
	if (j->state == JOB_PROPOSED || j->state == JOB_SUGGESTED) {
		rn->withdrawn = true;
		job_cancel(rm->e, j, "the check recovered");
		rn->withdrawn = false;
		rn->job = 0;
	}
}

static void
remed_on_event(void *arg, const struct event *ev)
{
	struct remed *rm = arg;
	struct engine *e = rm->e;
	struct check *c;
	nx_time now;
	size_t i;

	if (ev->kind != NX_EV_RESULT || ev->check >= e->fleet.nchecks)
		return;
	c = &e->fleet.checks[ev->check];
	now = engine_now(e);
	for (i = 0; i < rm->nrules; i++) {
		struct remed_rt *r = &rm->rules[i];
		struct remed_node *rn;

		if (c->node < r->nnodes) {
			rn = &r->nodes[c->node];
			if (rn->awaiting && rn->await_check == c->id) {
				if (rn->rerun) {
					rn->rerun = false;
					mon_run_check(e, c);
				} else
					remed_outcome(rm, r, rn, c->node, c,
					    now);
			}
		}
		if (ev->state == NX_OK) {
			if (ev->prev_state != NX_OK)
				remed_recovered(rm, r, c);
			continue;
		}
		if (remed_matches(rm, r, ev, c))
			remed_fire(rm, r, ev, c, now);
	}
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

static struct remed *
remed_of(const struct engine *e)
{
	return e->remed;
}

/*
 * Builds the rule state from the configuration, resolving each rule's
 * action and checking its inputs, and subscribes to the bus.  Returns 0,
 * or -1 with err naming the rule's file:line:column.  Without a
 * remediation section there is nothing to do.
 */
int
remed_start(struct engine *e, struct nx_err *err)
{
	const struct nx_remed *cfg = e->cfg.remed;
	struct remed *rm;
	nx_time now = engine_now(e);
	size_t i;

	if (e->remed != NULL)
		return 0;
	if (cfg == NULL)
		cfg = rc_get(&e->cfg);
	rm = xcalloc(1, sizeof *rm);
	rm->e = e;
	rm->cfg = cfg;
	rm->enabled = cfg->enabled;
	remed_bucket_init(&rm->bucket, cfg->rate, cfg->burst, now);
	rm->nrules = cfg->nrules;
	rm->rules = cfg->nrules > 0 ?
	    xcalloc(cfg->nrules, sizeof *rm->rules) : NULL;
	for (i = 0; i < cfg->nrules; i++) {
		const struct remed_rule *rc = &cfg->rules[i];
		struct remed_rt *r = &rm->rules[i];
		struct nx_err ierr;
		json_t *in;

		r->cfg = rc;
		r->enabled = rc->enabled;
		remed_bucket_init(&r->bucket, rc->rate, rc->burst, now);
		if ((r->action = action_find(e, rc->action)) == NULL) {
			nx_err_set(err, "%s: remediation.rules[%zu].action: "
			    "rule \"%s\": no action named \"%s\" in "
			    "actions.define", rc->action_where, i, rc->name,
			    rc->action);
			goto fail;
		}
		if ((in = action_inputs(r->action, rc->inputs, &ierr)) ==
		    NULL) {
			nx_err_set(err, "%s: remediation.rules[%zu]: rule "
			    "\"%s\": inputs of action \"%s\": %s", rc->where,
			    i, rc->name, rc->action, ierr.msg);
			goto fail;
		}
		json_decref(in);
		r->check_re = remed_compile(rc->check);
		if (rc->output != NULL)
			r->output_re = remed_compile(rc->output);
		if (r->check_re == NULL ||
		    (rc->output != NULL && r->output_re == NULL)) {
			nx_err_set(err, "%s: rule \"%s\": bad regular "
			    "expression", rc->where, rc->name);
			goto fail;
		}
		r->md = pcre2_match_data_create(4, NULL);
		if (rc->target != NULL &&
		    (r->target = target_parse(rc->target, &ierr)) == NULL) {
			nx_err_set(err, "%s: rule \"%s\": target: %s",
			    rc->where, rc->name, ierr.msg);
			goto fail;
		}
		remed_node_get(r, e->fleet.nnodes > 0 ?
		    e->fleet.nnodes - 1 : 0);
	}
	e->remed = rm;
	bus_subscribe(&e->bus, remed_on_event, rm);
	return 0;
fail:
	remed_free(rm);
	return -1;
}

/*
 * Unsubscribes and frees the rule state.  Jobs of rules still in flight
 * lose their done callback: nothing is left to record their outcome.
 */
void
remed_stop(struct engine *e)
{
	struct remed *rm = e->remed;
	size_t i;
	uint32_t k;

	if (rm == NULL)
		return;
	bus_unsubscribe(&e->bus, remed_on_event, rm);
	for (i = 0; i < rm->nrules; i++) {
		for (k = 0; k < rm->rules[i].nnodes; k++) {
			struct remed_node *rn = &rm->rules[i].nodes[k];
			struct job *j;

			if (rn->job != 0 && (j = job_find(e, rn->job)) != NULL &&
			    j->done == remed_job_done) {
				j->done = NULL;
				j->done_arg = NULL;
			}
		}
	}
	e->remed = NULL;
	remed_free(rm);
}

static struct remed_rt *
remed_rule_find(struct remed *rm, const char *name)
{
	size_t i;

	for (i = 0; i < rm->nrules; i++) {
		if (strcmp(rm->rules[i].cfg->name, name) == 0)
			return &rm->rules[i];
	}
	return NULL;
}

static void
remed_reset_node(struct remed *rm, struct remed_rt *r, uint32_t node)
{
	struct remed_node *rn = remed_node_get(r, node);
	char text[256];
	bool was_open = rn->open;

	rn->open = false;
	rn->opened = 0;
	rn->nruns = 0;
	rn->last_end = 0;
	if (!was_open)
		return;
	snprintf(text, sizeof text, "rule %s: breaker reset on %s",
	    r->cfg->name, rm->e->fleet.nodes[node].name);
	remed_rule_event(rm, node, NX_NONE, 0, text);
}

/*
 * Closes the breaker of rule `rule` (NULL: every rule) on node (NX_NONE:
 * every node) and forgets its runs and cooldown; publishes NX_EV_RULE for
 * each breaker that was open.  The caller (api_rule_reset) audits.
 * Returns 0, or -1 with err set for an unknown rule or node.
 */
int
remed_reset(struct engine *e, const char *rule, uint32_t node,
    struct nx_err *err)
{
	struct remed *rm = e->remed;
	struct remed_rt *r;
	size_t i;
	uint32_t k;

	if (rm == NULL) {
		nx_err_set(err, "remediation is not running");
		return -1;
	}
	if (node != NX_NONE && node >= e->fleet.nnodes) {
		nx_err_set(err, "no node %u", node);
		return -1;
	}
	if (rule != NULL && remed_rule_find(rm, rule) == NULL) {
		nx_err_set(err, "no remediation rule named \"%s\"", rule);
		return -1;
	}
	for (i = 0; i < rm->nrules; i++) {
		r = &rm->rules[i];
		if (rule != NULL && strcmp(r->cfg->name, rule) != 0)
			continue;
		if (node != NX_NONE)
			remed_reset_node(rm, r, node);
		else {
			for (k = 0; k < r->nnodes && k < e->fleet.nnodes; k++)
				remed_reset_node(rm, r, k);
		}
	}
	return 0;
}

/*
 * Enables or disables rule `rule` (NULL: remediation as a whole).  A
 * disabled rule still counts its matches (refused as "disabled").
 */
int
remed_enable(struct engine *e, const char *rule, bool on, struct nx_err *err)
{
	struct remed *rm = e->remed;
	struct remed_rt *r;

	if (rm == NULL) {
		nx_err_set(err, "remediation is not running");
		return -1;
	}
	if (rule == NULL) {
		rm->enabled = on;
		return 0;
	}
	if ((r = remed_rule_find(rm, rule)) == NULL) {
		nx_err_set(err, "no remediation rule named \"%s\"", rule);
		return -1;
	}
	r->enabled = on;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Status                                                                  */

static json_t *
remed_refused_json(const uint64_t *refused)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < RR__COUNT; i++)
		json_object_set_new(o, remed_refusal_names[i],
		    json_integer((json_int_t)refused[i]));
	return o;
}

static json_t *
remed_bucket_json(const struct remed_bucket *b, nx_time now)
{
	struct remed_bucket tmp = *b;
	json_t *o = json_object();

	json_object_set_new(o, "rate", json_integer(b->rate));
	if (b->rate == 0)
		return o;
	remed_bucket_fill(&tmp, now);
	json_object_set_new(o, "burst", json_integer(b->burst));
	json_object_set_new(o, "tokens", json_real(floor(tmp.tokens * 100) /
	    100));
	return o;
}

static json_t *
remed_rule_status(const struct remed *rm, const struct remed_rt *r,
    nx_time now)
{
	const struct fleet *f = &rm->e->fleet;
	json_t *o = json_object(), *open = json_array(), *busy = json_array(),
	    *counts = json_object(), *x;
	uint32_t k;

	json_object_set_new(o, "name", json_string(r->cfg->name));
	json_object_set_new(o, "enabled", json_boolean(r->enabled));
	json_object_set_new(o, "mode",
	    json_string(remed_mode_names[r->cfg->mode]));
	json_object_set_new(o, "action", json_string(r->cfg->action));
	json_object_set_new(o, "dry_run",
	    json_boolean(rm->cfg->dry_run || r->cfg->dry_run));
	json_object_set_new(o, "running", json_integer(r->running));
	json_object_set_new(o, "concurrency",
	    json_integer(r->cfg->concurrency));
	json_object_set_new(o, "bucket", remed_bucket_json(&r->bucket, now));
	json_object_set_new(o, "cooldown_ms",
	    json_integer(r->cfg->cooldown_ms));
	x = json_object();
	json_object_set_new(x, "runs", json_integer(r->cfg->breaker_runs));
	json_object_set_new(x, "window_ms",
	    json_integer(r->cfg->breaker_window_ms));
	json_object_set_new(o, "breaker", x);
	json_object_set_new(counts, "matched",
	    json_integer((json_int_t)r->matched));
	json_object_set_new(counts, "jobs", json_integer((json_int_t)r->jobs));
	json_object_set_new(counts, "recovered",
	    json_integer((json_int_t)r->recovered));
	json_object_set_new(counts, "not_recovered",
	    json_integer((json_int_t)r->not_recovered));
	json_object_set_new(counts, "breakers_opened",
	    json_integer((json_int_t)r->opened));
	json_object_set_new(o, "counts", counts);
	json_object_set_new(o, "refused", remed_refused_json(r->refused));
	if (r->last_refused != 0 && r->last_refused_node < f->nnodes) {
		x = json_object();
		json_object_set_new(x, "time",
		    json_real((double)r->last_refused / 1000.0));
		json_object_set_new(x, "node",
		    json_string(f->nodes[r->last_refused_node].name));
		json_object_set_new(x, "reason",
		    json_string(remed_refusal_names[r->last_reason]));
		json_object_set_new(o, "last_refusal", x);
	}
	for (k = 0; k < r->nnodes && k < f->nnodes; k++) {
		const struct remed_node *rn = &r->nodes[k];

		if (rn->open) {
			x = json_object();
			json_object_set_new(x, "node",
			    json_string(f->nodes[k].name));
			json_object_set_new(x, "opened",
			    json_real((double)rn->opened / 1000.0));
			json_object_set_new(x, "runs", json_integer(rn->nruns));
			json_array_append_new(open, x);
		}
		if (rn->job != 0 || rn->awaiting) {
			x = json_object();
			json_object_set_new(x, "node",
			    json_string(f->nodes[k].name));
			json_object_set_new(x, "job", json_integer(rn->awaiting ?
			    rn->await_job : rn->job));
			json_object_set_new(x, "awaiting_outcome",
			    json_boolean(rn->awaiting));
			json_array_append_new(busy, x);
		}
	}
	json_object_set_new(o, "open", open);
	json_object_set_new(o, "in_flight", busy);
	return o;
}

/*
 * The state of remediation as a new JSON object (doc/remediation.md):
 * global guards, per rule its guards, counters, refusals by reason, open
 * breakers and jobs in flight.
 */
json_t *
remed_status(const struct engine *e)
{
	const struct remed *rm = remed_of(e);
	nx_time now = engine_now(e);
	json_t *o = json_object(), *rules;
	size_t i;

	json_object_set_new(o, "running", json_boolean(rm != NULL));
	if (rm == NULL)
		return o;
	json_object_set_new(o, "enabled", json_boolean(rm->enabled));
	json_object_set_new(o, "dry_run", json_boolean(rm->cfg->dry_run));
	json_object_set_new(o, "jobs_running", json_integer(rm->running));
	json_object_set_new(o, "max_concurrent",
	    json_integer(rm->cfg->max_concurrent));
	json_object_set_new(o, "bucket", remed_bucket_json(&rm->bucket, now));
	json_object_set_new(o, "jobs", json_integer((json_int_t)rm->jobs));
	json_object_set_new(o, "refused", remed_refused_json(rm->refused));
	if (rm->last_error[0] != '\0')
		json_object_set_new(o, "last_error",
		    json_string(rm->last_error));
	rules = json_array();
	for (i = 0; i < rm->nrules; i++)
		json_array_append_new(rules,
		    remed_rule_status(rm, &rm->rules[i], now));
	json_object_set_new(o, "rules", rules);
	return o;
}
