/*
 * test_remed.c - remediation rules (engine/remed.c) on a real engine: the
 * nodes' checks are plugin checks (/bin/sh reading a flag file per node),
 * the actions local-kind jobs (/bin/sh children through job.c), and the
 * loop runs for real.  Nothing is mocked: a test waits, bounded, for what
 * the rules did.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "engine.h"
#include "act.h"

/* ---------------------------------------------------------------------- */
/* Configuration errors                                                    */

static int
load(struct nx_config *cfg, const char *text, struct nx_err *err)
{
	config_defaults(cfg);
	memset(err, 0, sizeof *err);
	return config_load_buffer(cfg, "t.json", text, strlen(text), err);
}

static void
expect_error(const char *text, const char *want)
{
	struct nx_config cfg;
	struct nx_err err;

	if (load(&cfg, text, &err) == 0)
		fail_msg("loaded, expected %s", want);
	if (strstr(err.msg, want) == NULL)
		fail_msg("got \"%s\", expected \"%s\"", err.msg, want);
	config_free(&cfg);
}

static void
test_config_errors(void **state)
{
	(void)state;
	expect_error("{\"remediation\": {\"rules\": 3}}",
	    "t.json:1:27: remediation.rules: expected an array of rules");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"check\": \"x\"}]}}", "t.json:2:3: remediation.rules[0]: rule "
	    "\"a\" has no \"action\"");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"check\": \"(x\", \"action\": \"f\"}]}}",
	    "t.json:2:25: remediation.rules[0].check: bad regular expression");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"check\": \"x\", \"action\": \"f\",\n  \"states\": [\"ok\"]}]}}",
	    "t.json:3:13: remediation.rules[0].states: element 0: expected "
	    "warning, critical or unknown");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"check\": \"x\", \"action\": \"f\",\n  \"mode\": \"yolo\"}]}}",
	    "t.json:3:11: remediation.rules[0].mode: expected auto, approve "
	    "or suggest");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"check\": \"x\", \"action\": \"f\", \"state_type\": \"soft\"}]}}",
	    "t.json:2:3: remediation.rules[0]: rule \"a\": state_type soft "
	    "needs \"attempt\"");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"check\": \"x\", \"action\": \"f\",\n  \"breaker\": {\"runs\": 2, "
	    "\"windw\": \"1m\"}}]}}",
	    "t.json:3:26: remediation.rules[0].breaker.windw: unknown key");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"check\": \"x\", \"action\": \"f\"},\n {\"name\": \"a\", "
	    "\"check\": \"y\", \"action\": \"f\"}]}}",
	    "t.json:3:11: remediation.rules[1].name: a second rule named "
	    "\"a\" (the first is at t.json:2:11)");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"check\": \"x\", \"action\": \"f\", \"target\": \"web:&db\"}]}}",
	    "t.json:2:55: remediation.rules[0].target: column 4:");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"check\": \"x\", \"action\": \"f\", \"cooldown\": \"5 min\"}]}}",
	    "t.json:2:57: remediation.rules[0].cooldown: expected a duration");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"check\": \"x\", \"action\": \"f\", \"burst\": 3}]}}",
	    "t.json:2:45: remediation.rules[0].burst: \"burst\" needs \"rate\"");
	expect_error("{\"remediation\": {\"rate\": -1}}",
	    "t.json:1:26: remediation.rate: expected an integer from 0");
	expect_error("{\"remediation\": {\"rules\": [\n {\"name\": \"a\", "
	    "\"chek\": \"x\"}]}}", "t.json:2:16: remediation.rules[0].chek: "
	    "unknown key \"chek\"");
	expect_error("{\"remediation\": {\"rulez\": []}}",
	    "unknown key \"rulez\" in remediation (did you mean \"rules\"?)");
}

/* A good section prints back as given, defaults filled; clones deeply. */
static void
test_config_roundtrip(void **state)
{
	const char *text = "{\"remediation\": {\"max_concurrent\": 3, "
	    "\"rate\": 12, \"burst\": 4, \"dry_run\": true, \"rules\": [\n"
	    " {\"name\": \"fix-flag\", \"check\": \"^flag$\", \"states\": "
	    "[\"critical\", \"warning\"], \"state_type\": \"soft\", \"attempt\": "
	    "2, \"target\": \"@web\", \"output\": \"FLAG\", \"action\": \"fix\", "
	    "\"inputs\": {\"unit\": \"nginx\"}, \"mode\": \"auto\", "
	    "\"concurrency\": 2, \"rate\": 6, \"cooldown\": \"90s\", "
	    "\"breaker\": {\"runs\": 5, \"window\": \"1h\"}}]}}";
	struct nx_config cfg, copy;
	struct nx_err err;
	json_t *j, *r;
	char *s;

	(void)state;
	if (load(&cfg, text, &err) != 0)
		fail_msg("%s", err.msg);
	j = config_to_json(&cfg);
	r = json_object_get(j, "remediation");
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r,
	    "max_concurrent")), 3);
	assert_true(json_is_true(json_object_get(r, "dry_run")));
	assert_true(json_is_true(json_object_get(r, "enabled")));
	r = json_array_get(json_object_get(r, "rules"), 0);
	s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(s, "{\"name\":\"fix-flag\",\"check\":\"^flag$\","
	    "\"states\":[\"warning\",\"critical\"],\"state_type\":\"soft\","
	    "\"attempt\":2,\"target\":\"@web\",\"output\":\"FLAG\","
	    "\"action\":\"fix\",\"inputs\":{\"unit\":\"nginx\"},\"mode\":\"auto\","
	    "\"concurrency\":2,\"rate\":6,\"burst\":6,\"cooldown\":\"1m30s\","
	    "\"breaker\":{\"runs\":5,\"window\":\"1h\"},\"dry_run\":false,"
	    "\"enabled\":true}");
	free(s);
	json_decref(j);
	/* A second file over the first keeps what it does not set. */
	if (config_load_buffer(&cfg, "u.json", "{\"remediation\": {\"rate\": 1}}",
	    28, &err) != 0)
		fail_msg("%s", err.msg);
	j = config_to_json(&cfg);
	r = json_object_get(j, "remediation");
	assert_int_equal(json_integer_value(json_object_get(r, "rate")), 1);
	assert_int_equal(json_array_size(json_object_get(r, "rules")), 1);
	json_decref(j);
	config_free(&cfg);
	/* No section: the defaults, no rules. */
	config_defaults(&copy);
	j = config_to_json(&copy);
	r = json_object_get(j, "remediation");
	assert_int_equal(json_integer_value(json_object_get(r, "rate")), 30);
	assert_int_equal(json_array_size(json_object_get(r, "rules")), 0);
	json_decref(j);
	config_free(&copy);
}

/* ---------------------------------------------------------------------- */
/* A real engine                                                           */

struct fx {
	uv_loop_t loop;
	struct nx_config cfg;
	struct engine e;
	char dir[64];
	/* What the bus said. */
	unsigned outcome_recovered, outcome_not;
	unsigned rule_open, rule_reset, rule_proposed;
	unsigned hard_problems;         /* non-OK HARD results */
	unsigned flapping;              /* NX_EV_FLAPPING starts */
	bool reflag;                    /* set n01's flag again on each OK */
	/* Concurrency seen by the sampler. */
	uint32_t max_running[4], max_total;
	uv_timer_t sampler;
};

/* The flag file of node `name`. */
static void
fx_flag(struct fx *f, const char *name, bool set)
{
	char p[128];
	FILE *fp;

	snprintf(p, sizeof p, "%s/%s", f->dir, name);
	if (!set) {
		unlink(p);
		return;
	}
	assert_non_null(fp = fopen(p, "w"));
	fclose(fp);
}

static void
fx_on_event(void *arg, const struct event *ev)
{
	struct fx *f = arg;

	if (ev->kind == NX_EV_JOB && ev->text != NULL &&
	    strstr(ev->text, ": outcome ") != NULL) {
		if (strstr(ev->text, "outcome recovered") != NULL)
			f->outcome_recovered++;
		else if (strstr(ev->text, "outcome not_recovered") != NULL)
			f->outcome_not++;
	}
	if (ev->kind == NX_EV_RULE) {
		if (ev->state == 1)
			f->rule_open++;
		else if (ev->state == 0)
			f->rule_reset++;
		else if (ev->state == 2)
			f->rule_proposed++;
	}
	if (ev->kind == NX_EV_RESULT && ev->state != NX_OK &&
	    ev->state_type == NX_HARD)
		f->hard_problems++;
	if (ev->kind == NX_EV_FLAPPING && ev->state)
		f->flapping++;
	if (f->reflag && ev->kind == NX_EV_RESULT && ev->state == NX_OK &&
	    ev->node == 0)
		fx_flag(f, "n01", true);
}

static bool
fx_flagged(struct fx *f, const char *name)
{
	char p[128];

	snprintf(p, sizeof p, "%s/%s", f->dir, name);
	return access(p, F_OK) == 0;
}

/*
 * An engine of nodes n01..nN (group web for the first half, db for the
 * rest), a `flag` plugin check on every node (CRITICAL while DIR/NAME
 * exists), the actions `fix` (removes the flag), `nofix` (does not) and
 * `slow` (sleeps 0.3 s), and the remediation section `remed` (JSON text
 * of the section's object).  max_attempts and the intervals are short.
 */
static void
fx_open(struct fx *f, unsigned nodes, unsigned max_attempts,
    const char *remed)
{
	char *text, name[16];
	struct nx_err err;
	unsigned i;

	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_remed.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	xasprintf(&text, "{\"checks\": {\"interval\": \"300ms\", "
	    "\"retry_interval\": \"200ms\", \"max_attempts\": %u, "
	    "\"define\": [{\"name\": \"flag\", \"kind\": \"plugin\", "
	    "\"target\": \"*\", "
	    "\"command\": [\"/bin/sh\", \"-c\", \"if [ -e %s/$HOSTNAME$ ]; "
	    "then echo FLAG up; exit 2; fi; echo fine\"]}]},\n"
	    "\"actions\": {\"define\": ["
	    "{\"name\": \"fix\", \"kind\": \"local\", \"command\": "
	    "\"rm -f %s/$HOSTNAME$\", \"timeout\": \"5s\"},"
	    "{\"name\": \"nofix\", \"kind\": \"local\", \"command\": \"true\"},"
	    "{\"name\": \"slow\", \"kind\": \"local\", \"command\": "
	    "\"sleep 0.3\"}]},\n\"remediation\": %s}", max_attempts, f->dir,
	    f->dir, remed);
	if (load(&f->cfg, text, &err) != 0)
		fail_msg("%s\n%s", err.msg, text);
	free(text);
	f->cfg.demo.enabled = false;
	f->cfg.demo.local = false;
	uv_loop_init(&f->loop);
	engine_init(&f->e, &f->loop, &f->cfg);
	for (i = 0; i < nodes; i++) {
		struct node *n;

		snprintf(name, sizeof name, "n%02u", i + 1);
		n = fleet_add_node(&f->e.fleet, name, "127.0.0.1",
		    &provider_inventory);
		node_add_group(&f->e.fleet, n, i < (nodes + 1) / 2 ? "web" :
		    "db");
	}
	if (engine_load(&f->e, &err) != 0)
		fail_msg("%s", err.msg);
	bus_subscribe(&f->e.bus, fx_on_event, f);
}

static void
fx_start(struct fx *f)
{
	assert_int_equal(engine_start(&f->e), 0);
	assert_non_null(f->e.remed);
}

static void
fx_close(struct fx *f)
{
	char cmd[128];

	engine_free(&f->e);
	/* Let children and handles finish closing. */
	uv_run(&f->loop, UV_RUN_NOWAIT);
	uv_loop_close(&f->loop);
	config_free(&f->cfg);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
}

static void
fx_wake(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop until done(f) or ms pass; returns whether done. */
static bool
fx_run(struct fx *f, uint64_t ms, bool (*done)(struct fx *))
{
	uv_timer_t t;
	uint64_t end;
	bool ok = false;

	uv_timer_init(&f->loop, &t);
	uv_timer_start(&t, fx_wake, 20, 20);
	uv_update_time(&f->loop);
	end = uv_now(&f->loop) + ms;
	for (;;) {
		if (done != NULL && done(f)) {
			ok = true;
			break;
		}
		if (uv_now(&f->loop) >= end)
			break;
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	return ok;
}

/* The JSON status of rule i. */
static json_t *
fx_rule(struct fx *f, size_t i, json_t **all)
{
	*all = remed_status(&f->e);
	return json_array_get(json_object_get(*all, "rules"), i);
}

static json_int_t
fx_refused(struct fx *f, size_t rule, const char *reason)
{
	json_t *all, *r = fx_rule(f, rule, &all);
	json_int_t v = json_integer_value(json_object_get(json_object_get(r,
	    "refused"), reason));

	json_decref(all);
	return v;
}

/* Jobs of rule `rule` (NX_NONE: any) on node (NX_NONE: any). */
static unsigned
fx_jobs(struct fx *f, uint32_t rule, uint32_t node)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < job_count(&f->e); i++) {
		const struct job *j = job_at(&f->e, i);

		if (j->rule == NX_NONE || j->nhosts == 0)
			continue;
		if ((rule == NX_NONE || j->rule == rule) &&
		    (node == NX_NONE || j->hosts[0].node == node))
			n++;
	}
	return n;
}

static const struct check *
fx_check(struct fx *f, uint32_t node)
{
	return &f->e.fleet.checks[f->e.fleet.nodes[node].checks[0]];
}

/* ---------------------------------------------------------------------- */
/* Auto mode: the fix fixes                                                */

static bool
all_recovered(struct fx *f)
{
	uint32_t i;

	for (i = 0; i < f->e.fleet.nnodes; i++) {
		const struct check *c = fx_check(f, i);

		if (!c->has_result || c->state != NX_OK)
			return false;
	}
	return f->outcome_recovered >= f->e.fleet.nnodes;
}

static void
test_auto_recovers(void **state)
{
	struct fx f;
	char name[16];
	unsigned i;
	size_t k;

	(void)state;
	fx_open(&f, 4, 2, "{\"rules\": [{\"name\": \"fix-flag\", \"check\": "
	    "\"^flag$\", \"action\": \"fix\", \"mode\": \"auto\", "
	    "\"cooldown\": 0}]}");
	for (i = 1; i <= 4; i++) {
		snprintf(name, sizeof name, "n%02u", i);
		fx_flag(&f, name, true);
	}
	fx_start(&f);
	assert_true(fx_run(&f, 15000, all_recovered));
	for (i = 1; i <= 4; i++) {
		snprintf(name, sizeof name, "n%02u", i);
		assert_false(fx_flagged(&f, name));
	}
	/* One job per node, each recovered; an audit row each, and one
	 * for each outcome. */
	assert_int_equal(fx_jobs(&f, 0, NX_NONE), 4);
	for (k = 0; k < job_count(&f.e); k++) {
		const struct job *j = job_at(&f.e, k);

		if (j->rule != 0)
			continue;
		assert_int_equal(j->outcome, JOB_OUTCOME_RECOVERED);
		assert_int_equal(j->state, JOB_SUCCEEDED);
		assert_string_equal(j->origin, "rule:fix-flag");
		assert_string_equal(j->user, "nexusctl");
		assert_int_equal(j->role, NX_ROLE_ENGINE);
	}
	assert_int_equal(f.outcome_recovered, 4);
	assert_int_equal(f.outcome_not, 0);
	{
		size_t jobs = 0, outcomes = 0;

		for (k = 0; k < act_audit_count(&f.e); k++) {
			const struct nx_audit_entry *a = act_audit_at(&f.e, k);

			if (strcmp(a->action, "rule.job") == 0 &&
			    strcmp(a->result, "queued") == 0 &&
			    strcmp(a->role, "engine") == 0)
				jobs++;
			if (strcmp(a->action, "rule.outcome") == 0 &&
			    strcmp(a->result, "recovered") == 0)
				outcomes++;
		}
		assert_int_equal(jobs, 4);
		assert_int_equal(outcomes, 4);
	}
	fx_close(&f);
}

/* ---------------------------------------------------------------------- */
/* The breaker                                                             */

static bool
two_open(struct fx *f)
{
	return f->rule_open >= 2;
}

static bool
three_open(struct fx *f)
{
	return f->rule_open >= 3;
}

static void
test_breaker(void **state)
{
	struct fx f;
	json_t *all, *r;
	struct nx_err err;
	unsigned jobs;

	(void)state;
	fx_open(&f, 2, 1, "{\"rules\": [{\"name\": \"nf\", \"check\": "
	    "\"^flag$\", \"action\": \"nofix\", \"mode\": \"auto\", "
	    "\"cooldown\": 0, \"breaker\": {\"runs\": 3, \"window\": "
	    "\"1m\"}}]}");
	fx_flag(&f, "n01", true);
	fx_flag(&f, "n02", true);
	fx_start(&f);
	assert_true(fx_run(&f, 15000, two_open));
	/* Exactly `runs` jobs per node, then nothing more. */
	fx_run(&f, 1200, NULL);
	assert_int_equal(fx_jobs(&f, 0, 0), 3);
	assert_int_equal(fx_jobs(&f, 0, 1), 3);
	assert_int_equal(f.outcome_not, 6);
	assert_int_equal(f.rule_open, 2);
	assert_true(fx_refused(&f, 0, "breaker_open") > 0);
	r = fx_rule(&f, 0, &all);
	assert_int_equal(json_array_size(json_object_get(r, "open")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r,
	    "counts"), "breakers_opened")), 2);
	json_decref(all);

	/* Through the API: a viewer is refused (and nothing changes), an
	 * operator's reset on n01 closes its breaker: three more runs there,
	 * none on n02. */
	{
		struct nx_actor viewer = { "vic", NX_ROLE_BIT(NX_ROLE_VIEWER),
		    "console" };
		struct nx_actor op = { "olga", NX_ROLE_BIT(NX_ROLE_OPERATOR),
		    "console" };

		assert_int_equal(api_rule_reset(&f.e, &viewer, "nf", 0, &err),
		    -1);
		assert_int_equal(f.rule_reset, 0);
		assert_int_equal(api_rule_reset(&f.e, &op, "nf", 0, &err), 0);
	}
	assert_int_equal(f.rule_reset, 1);
	assert_int_equal(remed_reset(&f.e, "nope", 0, &err), -1);
	assert_non_null(strstr(err.msg, "no remediation rule named \"nope\""));
	assert_true(fx_run(&f, 15000, three_open));
	fx_run(&f, 1200, NULL);
	jobs = fx_jobs(&f, 0, 0);
	assert_int_equal(jobs, 6);
	assert_int_equal(fx_jobs(&f, 0, 1), 3);
	assert_int_equal(f.rule_open, 3);
	fx_close(&f);
}

/* ---------------------------------------------------------------------- */
/* Cooldown, rate, concurrency                                             */

static void
test_cooldown(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f, 1, 1, "{\"rules\": [{\"name\": \"c\", \"check\": "
	    "\"^flag$\", \"action\": \"nofix\", \"mode\": \"auto\", "
	    "\"cooldown\": \"1500ms\", \"breaker\": {\"runs\": 0}}]}");
	fx_flag(&f, "n01", true);
	fx_start(&f);
	fx_run(&f, 2500, NULL);
	/* One at once, one after 1.5 s; the results between are refused. */
	assert_int_equal(fx_jobs(&f, 0, 0), 2);
	assert_true(fx_refused(&f, 0, "cooldown") >= 2);
	assert_int_equal(fx_refused(&f, 0, "breaker_open"), 0);
	fx_close(&f);
}

static void
test_token_buckets(void **state)
{
	struct fx f;
	json_t *all, *r;
	unsigned n, i;
	char name[16];

	(void)state;
	/* Global: 60 a minute (one a second), burst 2; each node at most
	 * once (cooldown 1h). */
	fx_open(&f, 8, 1, "{\"rate\": 60, \"burst\": 2, \"rules\": "
	    "[{\"name\": \"g\", \"check\": \"^flag$\", \"action\": \"nofix\", "
	    "\"mode\": \"auto\", \"cooldown\": \"1h\"}]}");
	for (i = 1; i <= 8; i++) {
		snprintf(name, sizeof name, "n%02u", i);
		fx_flag(&f, name, true);
	}
	fx_start(&f);
	fx_run(&f, 2600, NULL);
	n = fx_jobs(&f, 0, NX_NONE);
	/* 2 at once, then one a second: 4 by 2.6 s (3 at least). */
	assert_true(n >= 3 && n <= 4);
	assert_true(fx_refused(&f, 0, "global_rate") > 0);
	assert_int_equal(fx_refused(&f, 0, "rule_rate"), 0);
	r = fx_rule(&f, 0, &all);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r,
	    "counts"), "jobs")), n);
	json_decref(all);
	fx_close(&f);

	/* Per rule: 30 a minute, burst 1, under a generous global bucket. */
	fx_open(&f, 8, 1, "{\"rate\": 600, \"burst\": 100, \"rules\": "
	    "[{\"name\": \"r\", \"check\": \"^flag$\", \"action\": \"nofix\", "
	    "\"mode\": \"auto\", \"cooldown\": \"1h\", \"rate\": 30, "
	    "\"burst\": 1}]}");
	for (i = 1; i <= 8; i++) {
		snprintf(name, sizeof name, "n%02u", i);
		fx_flag(&f, name, true);
	}
	fx_start(&f);
	fx_run(&f, 2800, NULL);
	n = fx_jobs(&f, 0, NX_NONE);
	/* 1 at once, then one each 2 s. */
	assert_true(n == 2);
	assert_true(fx_refused(&f, 0, "rule_rate") > 0);
	assert_int_equal(fx_refused(&f, 0, "global_rate"), 0);
	fx_close(&f);
}

static void
sample_running(uv_timer_t *t)
{
	struct fx *f = t->data;
	uint32_t per[4] = { 0 }, total = 0;
	size_t i;

	for (i = 0; i < job_count(&f->e); i++) {
		const struct job *j = job_at(&f->e, i);

		if (j->rule < 4 && (j->state == JOB_RUNNING ||
		    j->state == JOB_QUEUED)) {
			per[j->rule]++;
			total++;
		}
	}
	for (i = 0; i < 4; i++) {
		if (per[i] > f->max_running[i])
			f->max_running[i] = per[i];
	}
	if (total > f->max_total)
		f->max_total = total;
}

static void
test_concurrency(void **state)
{
	struct fx f;
	char name[16];
	unsigned i;

	(void)state;
	/* Rule a on web (n01-n06) at most 2, rule b on db (n07-n12) at most
	 * 2, both at most 3 together; no rate limits. */
	fx_open(&f, 12, 1, "{\"rate\": 0, \"max_concurrent\": 3, \"rules\": ["
	    "{\"name\": \"a\", \"check\": \"^flag$\", \"target\": \"@web\", "
	    "\"action\": \"slow\", \"mode\": \"auto\", \"cooldown\": \"1h\", "
	    "\"concurrency\": 2},"
	    "{\"name\": \"b\", \"check\": \"^flag$\", \"target\": \"@db\", "
	    "\"action\": \"slow\", \"mode\": \"auto\", \"cooldown\": \"1h\", "
	    "\"concurrency\": 2}]}");
	for (i = 1; i <= 12; i++) {
		snprintf(name, sizeof name, "n%02u", i);
		fx_flag(&f, name, true);
	}
	uv_timer_init(&f.loop, &f.sampler);
	f.sampler.data = &f;
	uv_timer_start(&f.sampler, sample_running, 5, 5);
	fx_start(&f);
	fx_run(&f, 4000, NULL);
	uv_close((uv_handle_t *)&f.sampler, NULL);
	assert_true(f.max_running[0] <= 2);
	assert_true(f.max_running[1] <= 2);
	assert_int_equal(f.max_total, 3);
	assert_true(fx_jobs(&f, NX_NONE, NX_NONE) >= 6);
	assert_true(fx_refused(&f, 0, "rule_concurrency") +
	    fx_refused(&f, 1, "rule_concurrency") > 0);
	assert_true(fx_refused(&f, 0, "global_concurrency") +
	    fx_refused(&f, 1, "global_concurrency") > 0);
	fx_close(&f);
}

/* ---------------------------------------------------------------------- */
/* Suppression, SOFT trigger, modes, dry run                               */

static bool
four_refusals(struct fx *f)
{
	return fx_refused(f, 0, "acknowledged") >= 2 &&
	    fx_refused(f, 0, "downtime") >= 2 &&
	    fx_refused(f, 0, "host_problem") >= 2 &&
	    fx_refused(f, 1, "disabled") >= 2;
}

static bool
all_critical(struct fx *f)
{
	uint32_t i;

	for (i = 0; i < f->e.fleet.nnodes; i++) {
		if (!fx_check(f, i)->has_result ||
		    fx_check(f, i)->state != NX_CRITICAL)
			return false;
	}
	return f->e.fleet.nodes[2].host_state == NX_HOST_DOWN;
}

static void
test_suppression(void **state)
{
	struct fx f;
	struct nx_err err;
	struct check *c;
	uint32_t id;
	nx_time now;

	(void)state;
	/* n01 acknowledged, n02 in downtime, n03's host check fails (DOWN),
	 * n04 under a disabled rule. */
	fx_open(&f, 4, 1, "{\"rules\": [{\"name\": \"s\", \"check\": "
	    "\"^flag$\", \"target\": \"n01,n02,n03\", \"action\": \"nofix\", "
	    "\"mode\": \"auto\"}, {\"name\": \"off\", \"check\": \"^flag$\", "
	    "\"target\": \"n04\", \"action\": \"nofix\", \"enabled\": false, "
	    "\"mode\": \"auto\"}]}");
	c = metric_check_add(&f.e, &f.e.fleet.nodes[2], "ping", NX_M_LATENCY,
	    1e9, 1e9, true);
	c->interval_ms = c->retry_ms = 300;
	c->timeout_ms = 1000;
	c->max_attempts = 1;
	fx_flag(&f, "n01", true);
	fx_flag(&f, "n02", true);
	fx_flag(&f, "n03", true);
	fx_flag(&f, "n04", true);
	now = engine_now(&f.e);
	assert_int_equal(mon_downtime_add(&f.e, 1, NX_NONE, now - 1,
	    now + 3600000, true, 0, "t", "maint", &id, &err), 0);
	fx_start(&f);
	/* Off until the problems are there to acknowledge. */
	assert_int_equal(remed_enable(&f.e, NULL, false, &err), 0);
	assert_true(fx_run(&f, 10000, all_critical));
	assert_true(fx_refused(&f, 0, "disabled") > 0);
	assert_int_equal(mon_ack_check(&f.e, (struct check *)fx_check(&f, 0),
	    NX_ACK_STICKY, "t", "known", 0, &err), 0);
	assert_int_equal(remed_enable(&f.e, NULL, true, &err), 0);
	assert_true(fx_run(&f, 10000, four_refusals));
	assert_int_equal(fx_jobs(&f, NX_NONE, NX_NONE), 0);
	/* Enabling the rule lets n04's next result through. */
	assert_int_equal(remed_enable(&f.e, "off", true, &err), 0);
	assert_int_equal(remed_enable(&f.e, "nope", true, &err), -1);
	fx_run(&f, 1000, NULL);
	assert_int_equal(fx_jobs(&f, 1, 3), 1);
	assert_int_equal(fx_jobs(&f, 0, NX_NONE), 0);
	fx_close(&f);
}


static bool
flap_refused(struct fx *f)
{
	return f->flapping > 0 && fx_refused(f, 0, "flapping") > 0;
}

/*
 * A problem that keeps coming back (the fix works, the flag returns) makes
 * the check flap; a flapping check is not remediated.
 */
static void
test_flapping(void **state)
{
	struct fx f;
	unsigned jobs;

	(void)state;
	fx_open(&f, 1, 1, "{\"rules\": [{\"name\": \"fl\", \"check\": "
	    "\"^flag$\", \"action\": \"fix\", \"mode\": \"auto\", "
	    "\"cooldown\": 0, \"breaker\": {\"runs\": 0}}]}");
	f.reflag = true;
	fx_flag(&f, "n01", true);
	fx_start(&f);
	assert_true(fx_run(&f, 20000, flap_refused));
	assert_true(fx_check(&f, 0)->flapping);
	jobs = fx_jobs(&f, 0, 0);
	assert_true(jobs >= 2);
	fx_close(&f);
}

static bool
parent_job(struct fx *f)
{
	return fx_jobs(f, 0, 0) >= 1 && fx_refused(f, 0, "host_problem") >= 2;
}

/*
 * Rules on a host check act on DOWN nodes, never on nodes that are only
 * UNREACHABLE behind a parent that is down.
 */
static void
test_host_rule(void **state)
{
	struct fx f;
	struct check *c;
	uint32_t i;

	(void)state;
	fx_open(&f, 2, 1, "{\"rules\": [{\"name\": \"down\", \"check\": "
	    "\"^ping$\", \"action\": \"nofix\", \"mode\": \"auto\", "
	    "\"cooldown\": \"1h\"}]}");
	mon_node_add_parent(&f.e, &f.e.fleet.nodes[1], 0);
	for (i = 0; i < 2; i++) {
		/* Inventory nodes are never sampled: the ping fails. */
		c = metric_check_add(&f.e, &f.e.fleet.nodes[i], "ping",
		    NX_M_LATENCY, 1e9, 1e9, true);
		c->interval_ms = c->retry_ms = 300;
		c->timeout_ms = 1000;
		c->max_attempts = 1;
	}
	fx_start(&f);
	assert_true(fx_run(&f, 10000, parent_job));
	assert_int_equal(f.e.fleet.nodes[0].host_state, NX_HOST_DOWN);
	assert_int_equal(f.e.fleet.nodes[1].host_state, NX_HOST_UNREACHABLE);
	assert_int_equal(fx_jobs(&f, 0, 1), 0);
	assert_int_equal(fx_jobs(&f, 0, 0), 1);
	fx_close(&f);
}

static bool
soft_done(struct fx *f)
{
	return f->outcome_recovered >= 1;
}

static void
test_soft_attempt(void **state)
{
	struct fx f;
	const struct job *j;

	(void)state;
	/* max_attempts 4, retries 200 ms apart: the rule fires at SOFT
	 * attempt 2, the fix works, the check never goes HARD. */
	fx_open(&f, 1, 4, "{\"rules\": [{\"name\": \"early\", \"check\": "
	    "\"^flag$\", \"state_type\": \"soft\", \"attempt\": 2, "
	    "\"output\": \"^FLAG\", \"action\": \"fix\", \"mode\": \"auto\"}]}");
	fx_flag(&f, "n01", true);
	fx_start(&f);
	assert_true(fx_run(&f, 10000, soft_done));
	assert_false(fx_flagged(&f, "n01"));
	assert_int_equal(f.hard_problems, 0);
	assert_int_equal(fx_jobs(&f, 0, 0), 1);
	j = job_at(&f.e, 0);
	assert_int_equal(j->outcome, JOB_OUTCOME_RECOVERED);
	assert_int_equal(fx_check(&f, 0)->state, NX_OK);
	fx_close(&f);

	/* An output pattern that does not match: no job. */
	fx_open(&f, 1, 4, "{\"rules\": [{\"name\": \"early\", \"check\": "
	    "\"^flag$\", \"state_type\": \"soft\", \"attempt\": 2, "
	    "\"output\": \"^DISK\", \"action\": \"fix\", \"mode\": \"auto\"}]}");
	fx_flag(&f, "n01", true);
	fx_start(&f);
	fx_run(&f, 1500, NULL);
	assert_int_equal(fx_jobs(&f, 0, 0), 0);
	assert_true(fx_flagged(&f, "n01"));
	fx_close(&f);
}

static bool
proposed(struct fx *f)
{
	return f->rule_proposed >= 1;
}

static bool
suggestion_gone(struct fx *f)
{
	return job_at(&f->e, 0)->state == JOB_CANCELLED;
}

static bool
two_suggestions(struct fx *f)
{
	return fx_jobs(f, 0, 0) == 2;
}

static void
test_modes(void **state)
{
	struct fx f;
	struct job *j;

	(void)state;
	/* approve: a proposal with its text; started, it runs and is
	 * judged. */
	fx_open(&f, 1, 1, "{\"rules\": [{\"name\": \"ask\", \"check\": "
	    "\"^flag$\", \"action\": \"fix\", \"mode\": \"approve\"}]}");
	fx_flag(&f, "n01", true);
	fx_start(&f);
	assert_true(fx_run(&f, 10000, proposed));
	fx_run(&f, 700, NULL);
	assert_int_equal(fx_jobs(&f, 0, 0), 1);
	j = job_at(&f.e, 0);
	assert_int_equal(j->state, JOB_PROPOSED);
	assert_non_null(j->reason);
	assert_string_equal(j->reason, "rule ask: flag on n01 is CRITICAL "
	    "HARD (attempt 1): FLAG up; proposes action fix");
	assert_true(fx_flagged(&f, "n01"));
	assert_true(fx_refused(&f, 0, "in_progress") > 0);
	assert_int_equal(job_start(&f.e, j), 0);
	assert_true(fx_run(&f, 10000, soft_done));
	assert_false(fx_flagged(&f, "n01"));
	assert_int_equal(job_at(&f.e, 0)->outcome, JOB_OUTCOME_RECOVERED);
	fx_close(&f);

	/* suggest: shown only, once. */
	fx_open(&f, 1, 1, "{\"rules\": [{\"name\": \"hint\", \"check\": "
	    "\"^flag$\", \"action\": \"fix\", \"mode\": \"suggest\"}]}");
	fx_flag(&f, "n01", true);
	fx_start(&f);
	fx_run(&f, 1500, NULL);
	assert_int_equal(fx_jobs(&f, 0, 0), 1);
	assert_int_equal(job_at(&f.e, 0)->state, JOB_SUGGESTED);
	assert_non_null(strstr(job_at(&f.e, 0)->reason, "suggests action fix"));
	assert_true(fx_flagged(&f, "n01"));
	/* The check recovers by itself: the suggestion goes. */
	fx_flag(&f, "n01", false);
	assert_true(fx_run(&f, 5000, suggestion_gone));
	assert_int_equal(fx_jobs(&f, 0, 0), 1);
	/* Withdrawn, it started no cooldown (5 min by default): the next
	 * problem gets its suggestion at once. */
	fx_flag(&f, "n01", true);
	assert_true(fx_run(&f, 5000, two_suggestions));
	assert_int_equal(job_at(&f.e, 1)->state, JOB_SUGGESTED);
	fx_close(&f);
}

static bool
one_final(struct fx *f)
{
	return job_count(&f->e) > 0 && job_final(job_at(&f->e, 0));
}

static void
test_dry_run(void **state)
{
	struct fx f;
	const struct job *j;

	(void)state;
	fx_open(&f, 1, 1, "{\"dry_run\": true, \"rules\": [{\"name\": \"d\", "
	    "\"check\": \"^flag$\", \"action\": \"fix\", \"mode\": \"auto\"}]}");
	fx_flag(&f, "n01", true);
	fx_start(&f);
	assert_true(fx_run(&f, 10000, one_final));
	fx_run(&f, 500, NULL);
	j = job_at(&f.e, 0);
	assert_true(j->dry_run);
	assert_int_equal(j->hosts[0].state, JH_DRY_RUN);
	assert_non_null(j->hosts[0].command);
	assert_non_null(strstr(j->hosts[0].command, "rm -f"));
	assert_int_equal(j->outcome, JOB_OUTCOME_NONE);
	assert_true(fx_flagged(&f, "n01"));
	fx_close(&f);
}

static void
on_warn(void *arg, const char *msg)
{
	snprintf(arg, 512, "%s", msg);
}

/* A rule naming an action that is not defined stops the engine start. */
static void
test_missing_action(void **state)
{
	struct fx f;
	struct nx_err err;
	char warned[512] = "";

	(void)state;
	fx_open(&f, 1, 1, "{\"rules\": [\n{\"name\": \"m\", \"check\": "
	    "\"x\", \"action\": \"nosuch\"}]}");
	assert_int_equal(remed_start(&f.e, &err), -1);
	assert_non_null(strstr(err.msg, ":4:39: remediation.rules[0].action: "
	    "rule \"m\": no action named \"nosuch\""));
	assert_null(f.e.remed);
	fx_close(&f);

	/* Inputs the action does not have: refused at start too. */
	fx_open(&f, 1, 1, "{\"rules\": [\n{\"name\": \"m\", \"check\": "
	    "\"x\", \"action\": \"fix\", \"inputs\": {\"unit\": \"a\"}}]}");
	f.e.cfg.warn = on_warn;
	f.e.cfg.warn_arg = warned;
	assert_int_equal(engine_start(&f.e), -1);
	assert_null(f.e.remed);
	assert_string_equal(warned, "t.json:4:10: remediation.rules[0]: rule "
	    "\"m\": inputs of action \"fix\": action fix has no input \"unit\"");
	fx_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_roundtrip),
		cmocka_unit_test(test_missing_action),
		cmocka_unit_test(test_auto_recovers),
		cmocka_unit_test(test_breaker),
		cmocka_unit_test(test_cooldown),
		cmocka_unit_test(test_token_buckets),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_suppression),
		cmocka_unit_test(test_host_rule),
		cmocka_unit_test(test_flapping),
		cmocka_unit_test(test_soft_attempt),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_dry_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
