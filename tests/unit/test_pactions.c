/*
 * test_pactions.c - provider actions through the job engine: the sim
 * provider's reboot (the node goes DOWN, comes back UP, and only then is
 * the job's host done), stop and start; and inventory nodes' actions from
 * providers.actions, run as local commands per node on a Terraform state
 * fixture, with hostile ids and tags reaching the command as data only.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "act.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures/inventory"
#endif

#define MAX_REC 256

/* Host events seen: node id and state, in order. */
struct hostlog {
	struct engine *e;
	uint32_t node[MAX_REC];
	uint8_t state[MAX_REC];
	nx_time time[MAX_REC];
	int n;
};

static void
on_event(void *arg, const struct event *ev)
{
	struct hostlog *h = arg;

	if (ev->kind != NX_EV_HOST || h->n >= MAX_REC)
		return;
	h->node[h->n] = ev->node;
	h->state[h->n] = ev->state;
	h->time[h->n] = ev->time;
	h->n++;
}

static bool deadline_hit;

static void
on_deadline(uv_timer_t *t)
{
	(void)t;
	deadline_hit = true;
}

/* Runs the loop until job id is final or ms pass; returns the job. */
static struct job *
run_job(struct engine *e, uint32_t id, uint32_t ms)
{
	uv_timer_t t;
	struct job *j;

	deadline_hit = false;
	uv_timer_init(e->loop, &t);
	uv_timer_start(&t, on_deadline, ms, 0);
	while ((j = job_find(e, id)) != NULL && !job_final(j) && !deadline_hit)
		uv_run(e->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(e->loop, UV_RUN_NOWAIT);
	return job_find(e, id);
}

/* Runs the loop for ms. */
static void
run_for(struct engine *e, uint32_t ms)
{
	uv_timer_t t;

	deadline_hit = false;
	uv_timer_init(e->loop, &t);
	uv_timer_start(&t, on_deadline, ms, 0);
	while (!deadline_hit)
		uv_run(e->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(e->loop, UV_RUN_NOWAIT);
}

static uint32_t
submit(struct engine *e, const char *action, const uint32_t *nodes,
    size_t n)
{
	static struct nx_action a[3];
	static const char *const names[] = { "reboot", "stop", "start" };
	const struct nx_actor actor = { .user = "tester",
	    .roles = NX_ROLE_BIT(NX_ROLE_OPERATOR), .origin = "test" };
	struct job_spec spec;
	struct nx_err err = { { 0 } };
	uint32_t id = 0;
	size_t i;

	for (i = 0; i < 3; i++) {
		a[i].name = (char *)names[i];
		a[i].kind = NX_ACTION_PROVIDER;
		a[i].provider_action = (char *)names[i];
		a[i].timeout_ms = 10000;
		a[i].concurrency = 1;
		a[i].role = NX_ROLE_OPERATOR;
	}
	for (i = 0; i < 3 && strcmp(names[i], action) != 0; i++)
		;
	assert_true(i < 3);
	memset(&spec, 0, sizeof spec);
	spec.action = &a[i];
	spec.nodes = nodes;
	spec.nnodes = n;
	spec.actor = &actor;
	spec.role = NX_ROLE_OPERATOR;
	spec.initial = JOB_QUEUED;
	spec.rule = spec.check = NX_NONE;
	if (job_submit(e, &spec, &id, &err) != 0)
		fail_msg("%s", err.msg);
	return id;
}

/* ---------------------------------------------------------------------- */
/* sim                                                                     */

struct simfx {
	uv_loop_t loop;
	struct nx_config cfg;
	struct engine e;
	struct hostlog log;
};

static int
sim_setup(void **state)
{
	struct simfx *fx = xcalloc(1, sizeof *fx);
	struct nx_err err = { { 0 } };

	uv_loop_init(&fx->loop);
	config_defaults(&fx->cfg);
	fx->cfg.demo.enabled = true;
	fx->cfg.demo.nodes = 40;
	fx->cfg.demo.seed = 7;
	fx->cfg.demo.local = false;
	fx->cfg.checks.max_attempts = 1;
	fx->cfg.checks.interval_ms = 600000;    /* only the actions re-check */
	engine_init(&fx->e, &fx->loop, &fx->cfg);
	if (engine_load(&fx->e, &err) != 0)
		fail_msg("%s", err.msg);
	fx->log.e = &fx->e;
	bus_subscribe(&fx->e.bus, on_event, &fx->log);
	assert_int_equal(engine_start(&fx->e), 0);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	sim_set_reboot_ms(&fx->e, 300);
	*state = fx;
	return 0;
}

static int
sim_teardown(void **state)
{
	struct simfx *fx = *state;

	engine_free(&fx->e);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	config_free(&fx->cfg);
	free(fx);
	return 0;
}

/* Up to n sim nodes that are UP now. */
static size_t
up_nodes(struct engine *e, uint32_t *ids, size_t n)
{
	size_t k = 0;
	uint32_t i;

	for (i = 0; i < e->fleet.nnodes && k < n; i++) {
		if (e->fleet.nodes[i].host_state == NX_HOST_UP &&
		    e->fleet.nodes[i].m.up)
			ids[k++] = i;
	}
	return k;
}

/* The index of the first host event for node after position from, or -1. */
static int
host_event(const struct hostlog *l, uint32_t node, uint8_t st, int from)
{
	int i;

	for (i = from; i < l->n; i++) {
		if (l->node[i] == node && l->state[i] == st)
			return i;
	}
	return -1;
}

static void
test_sim_reboot(void **state)
{
	struct simfx *fx = *state;
	uint32_t ids[3];
	struct job *j;
	nx_time t0;
	uint32_t id;
	size_t i;
	int down, up;

	assert_int_equal(up_nodes(&fx->e, ids, 3), 3);
	fx->log.n = 0;
	t0 = engine_now(&fx->e);
	id = submit(&fx->e, "reboot", ids, 3);
	j = job_find(&fx->e, id);
	assert_non_null(j);
	/* concurrency 1: the first node is down, the job waits for it */
	assert_int_equal(j->state, JOB_RUNNING);
	assert_int_equal(fx->e.fleet.nodes[ids[0]].host_state, NX_HOST_DOWN);
	assert_int_equal(j->hosts[0].state, JH_RUNNING);
	j = run_job(&fx->e, id, 8000);
	assert_non_null(j);
	assert_int_equal(j->state, JOB_SUCCEEDED);
	for (i = 0; i < 3; i++) {
		struct node *n = &fx->e.fleet.nodes[ids[i]];

		assert_int_equal(j->hosts[i].state, JH_OK);
		assert_non_null(strstr(j->hosts[i].out, "back up"));
		down = host_event(&fx->log, ids[i], NX_HOST_DOWN, 0);
		assert_true(down >= 0);
		up = host_event(&fx->log, ids[i], NX_HOST_UP, down);
		assert_true(up > down);
		/* down for the simulated reboot, not less */
		assert_true(fx->log.time[up] - fx->log.time[down] >= 300);
		assert_int_equal(n->host_state, NX_HOST_UP);
		assert_true(n->m.up);
	}
	/* one after the other: node 1 went down after node 0 was up */
	assert_true(host_event(&fx->log, ids[1], NX_HOST_DOWN, 0) >
	    host_event(&fx->log, ids[0], NX_HOST_UP, 0));
	assert_true(engine_now(&fx->e) - t0 >= 900);
}

static void
test_sim_stop_start(void **state)
{
	struct simfx *fx = *state;
	uint32_t node;
	struct job *j;
	uint32_t id;

	assert_int_equal(up_nodes(&fx->e, &node, 1), 1);
	id = submit(&fx->e, "stop", &node, 1);
	j = run_job(&fx->e, id, 2000);
	assert_int_equal(j->state, JOB_SUCCEEDED);
	assert_int_equal(fx->e.fleet.nodes[node].host_state, NX_HOST_DOWN);

	/* It stays down through samples; a reboot of it is refused. */
	run_for(&fx->e, 1300);
	assert_false(fx->e.fleet.nodes[node].m.up);
	id = submit(&fx->e, "reboot", &node, 1);
	j = run_job(&fx->e, id, 2000);
	assert_int_equal(j->state, JOB_FAILED);
	assert_int_equal(j->hosts[0].state, JH_ERROR);
	assert_non_null(strstr(j->hosts[0].error, "is stopped"));

	id = submit(&fx->e, "start", &node, 1);
	j = run_job(&fx->e, id, 2000);
	assert_int_equal(j->state, JOB_SUCCEEDED);
	assert_int_equal(fx->e.fleet.nodes[node].host_state, NX_HOST_UP);
	assert_true(fx->e.fleet.nodes[node].m.up);
}

/* ---------------------------------------------------------------------- */
/* Inventory nodes: providers.actions                                      */

#define PWNED "/tmp/nx-pactions-pwned"

struct invfx {
	char dir[64];
	uv_loop_t loop;
	struct nx_config cfg;
	struct engine e;
};

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	size_t n;

	if (fp == NULL)
		return xstrdup("");
	buf = xcalloc(1, 65536);
	n = fread(buf, 1, 65535, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int
inv_setup(void **state)
{
	struct invfx *fx = xcalloc(1, sizeof *fx);
	struct nx_err err = { { 0 } };
	char *script, *conf, *text;

	snprintf(fx->dir, sizeof fx->dir, "/tmp/nx-pactions-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	unlink(PWNED);
	/* The "cloud CLI": records its arguments, one per line, bracketed. */
	xasprintf(&script, "%s/cloud.sh", fx->dir);
	xasprintf(&text, "#!/bin/sh\n"
	    "{ printf 'argc=%%s\\n' \"$#\"; for a do printf '[%%s]\\n' "
	    "\"$a\"; done; } >>'%s/argv.log'\n"
	    "[ \"$1\" = fail ] && { echo 'cloud: denied' >&2; exit 3; }\n"
	    "exit 0\n", fx->dir);
	write_file(script, text, 0755);
	free(text);
	xasprintf(&conf, "%s/nexusctl.conf", fx->dir);
	xasprintf(&text, "{\n"
	    "  \"providers\": {\n"
	    "    \"actions\": {\n"
	    "      \"terraform\": {\n"
	    "        \"reboot\": \"%s reboot-instances $VAR:tf_id$ "
	    "$HOSTNAME$ $HOSTADDRESS$\",\n"
	    "        \"stop\": \"%s fail $VAR:tf_id$\"\n"
	    "      },\n"
	    "      \"inventory\": { \"start\": \"%s start $VAR:rack$\" }\n"
	    "    }\n"
	    "  }\n"
	    "}\n", script, script, script);
	write_file(conf, text, 0644);
	free(text);
	config_defaults(&fx->cfg);
	if (config_load(&fx->cfg, conf, &err) != 0)
		fail_msg("%s", err.msg);
	free(conf);
	free(script);
	fx->cfg.demo.enabled = false;
	fx->cfg.demo.local = false;
	fx->cfg.inventories = xcalloc(2, sizeof *fx->cfg.inventories);
	fx->cfg.inventories[0] = xstrdup(FIXTURES "/actions.tfstate");
	fx->cfg.inventories[1] = xstrdup(FIXTURES "/actions.json");
	fx->cfg.ninventories = 2;
	uv_loop_init(&fx->loop);
	engine_init(&fx->e, &fx->loop, &fx->cfg);
	if (engine_load(&fx->e, &err) != 0)
		fail_msg("%s", err.msg);
	*state = fx;
	return 0;
}

static int
inv_teardown(void **state)
{
	struct invfx *fx = *state;
	char *cmd;

	engine_free(&fx->e);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	config_free(&fx->cfg);         /* frees the inventories too */
	xasprintf(&cmd, "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(fx);
	return 0;
}

static uint32_t
node_id(struct engine *e, const char *name)
{
	struct node *n = fleet_find_node(&e->fleet, name);

	assert_non_null(n);
	return n->id;
}

static void
test_terraform_reboot(void **state)
{
	struct invfx *fx = *state;
	uint32_t ids[2];
	struct job *j;
	char *log, *path, *want;
	struct stat st;

	ids[0] = node_id(&fx->e, "api-1");
	ids[1] = node_id(&fx->e, "api-2");
	assert_string_equal(fx->e.fleet.nodes[ids[1]].source, "terraform");
	j = run_job(&fx->e, submit(&fx->e, "reboot", ids, 2), 5000);
	assert_non_null(j);
	assert_int_equal(j->state, JOB_SUCCEEDED);
	assert_int_equal(j->hosts[0].state, JH_OK);
	assert_int_equal(j->hosts[1].state, JH_OK);
	assert_non_null(strstr(j->hosts[0].command, "reboot-instances "
	    "'i-0f00000000000001' 'api-1' '198.51.100.21'"));

	xasprintf(&path, "%s/argv.log", fx->dir);
	log = slurp(path);
	free(path);
	xasprintf(&want, "argc=4\n[reboot-instances]\n[i-0f00000000000001]\n"
	    "[api-1]\n[198.51.100.21]\n"
	    "argc=4\n[reboot-instances]\n"
	    "[i-2'; touch " PWNED "; echo '$(touch " PWNED ")`touch " PWNED
	    "` \"x\" $HOME]\n[api-2]\n[198.51.100.22]\n");
	assert_string_equal(log, want);
	free(want);
	free(log);
	/* The hostile id and tag stayed data: nothing was touched. */
	assert_int_not_equal(stat(PWNED, &st), 0);
}

static void
test_inventory_action_errors(void **state)
{
	struct invfx *fx = *state;
	uint32_t id, legacy = node_id(&fx->e, "legacy1");
	struct job *j;
	char *log, *path;

	/* A command that fails: the host FAILED with its stderr. */
	id = node_id(&fx->e, "api-1");
	j = run_job(&fx->e, submit(&fx->e, "stop", &id, 1), 5000);
	assert_int_equal(j->state, JOB_FAILED);
	assert_int_equal(j->hosts[0].state, JH_FAILED);
	assert_int_equal(j->hosts[0].exit_status, 3);
	assert_non_null(strstr(j->hosts[0].err, "cloud: denied"));

	/* No template for a json node's reboot: an error saying what to set. */
	j = run_job(&fx->e, submit(&fx->e, "reboot", &legacy, 1), 5000);
	assert_int_equal(j->state, JOB_FAILED);
	assert_int_equal(j->hosts[0].state, JH_ERROR);
	assert_non_null(strstr(j->hosts[0].error,
	    "set providers.actions.json.reboot"));

	/* The `inventory` entry serves every source; a var as data. */
	j = run_job(&fx->e, submit(&fx->e, "start", &legacy, 1), 5000);
	assert_int_equal(j->state, JOB_SUCCEEDED);
	xasprintf(&path, "%s/argv.log", fx->dir);
	log = slurp(path);
	free(path);
	assert_non_null(strstr(log, "argc=2\n[start]\n[r7; reboot]\n"));
	free(log);

	/* A terraform node without a start template falls back to it too,
	 * and fails to expand: no var `rack`. */
	j = run_job(&fx->e, submit(&fx->e, "start", &id, 1), 5000);
	assert_int_equal(j->hosts[0].state, JH_ERROR);
	assert_non_null(strstr(j->hosts[0].error, "rack"));
}

static void
test_config_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{ "{\"providers\": {\"actions\": []}}",
		  "x.conf:1:27: providers.actions: expected an object" },
		{ "{\"providers\": {\"actions\": {\"aws\": {}}}}",
		  "x.conf:1:35: providers.actions.aws: unknown inventory "
		  "source \"aws\"" },
		{ "{\"providers\": {\"actions\": {\"terraform\": "
		  "{\"destroy\": \"x\"}}}}",
		  "x.conf:1:53: providers.actions.terraform.destroy: unknown "
		  "provider action \"destroy\"" },
		{ "{\"providers\": {\"actions\": {\"terraform\":\n"
		  "  {\"reboot\": \"aws $NOPE$\"}}}}",
		  "x.conf:2:14: providers.actions.terraform.reboot: " },
		{ "{\"providers\": {\"actions\": {\"ini\": {\"stop\": 3}}}}",
		  "providers.actions.ini.stop: expected a command template" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NX_ARRAY_LEN(bad); i++) {
		struct nx_config cfg;
		struct nx_err err = { { 0 } };

		config_defaults(&cfg);
		assert_int_equal(config_load_buffer(&cfg, "x.conf", bad[i].text,
		    strlen(bad[i].text), &err), -1);
		if (strstr(err.msg, bad[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err.msg,
			    bad[i].want);
		config_free(&cfg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sim_reboot, sim_setup,
		    sim_teardown),
		cmocka_unit_test_setup_teardown(test_sim_stop_start, sim_setup,
		    sim_teardown),
		cmocka_unit_test_setup_teardown(test_terraform_reboot,
		    inv_setup, inv_teardown),
		cmocka_unit_test_setup_teardown(test_inventory_action_errors,
		    inv_setup, inv_teardown),
		cmocka_unit_test(test_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
