/*
 * test_job.c - jobs through the local executor with real child
 * processes: the concurrency bound, timeouts, cancel (children killed),
 * retry of the failed hosts, coalesced output, events, audit rows, and
 * the API refusing a viewer.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "act.h"

static const char conf[] =
    "{\"demo\": {\"enabled\": false, \"local\": false},\n"
    " \"actions\": {\"define\": [\n"
    "  {\"name\": \"overlap\", \"kind\": \"local\", \"concurrency\": 3,\n"
    "   \"command\": \"echo + >> $INPUT:dir$/log; sleep 0.3; "
    "echo - >> $INPUT:dir$/log\",\n"
    "   \"inputs\": [{\"name\": \"dir\", \"pattern\": \"/[A-Za-z0-9/._-]+\"}]},\n"
    "  {\"name\": \"slow\", \"kind\": \"local\", \"timeout\": \"300ms\",\n"
    "   \"command\": \"sleep 5; echo never\"},\n"
    "  {\"name\": \"pidsleep\", \"kind\": \"local\", \"concurrency\": 2,\n"
    "   \"command\": \"echo $$$$ > $INPUT:dir$/$HOSTNAME$.pid; exec sleep 30\",\n"
    "   \"inputs\": [{\"name\": \"dir\"}]},\n"
    "  {\"name\": \"parity\", \"kind\": \"local\",\n"
    "   \"command\": \"case $HOSTNAME$ in n1|n3|n5) echo odd;; *) echo even >&2; "
    "exit 3;; esac\"},\n"
    "  {\"name\": \"env\", \"kind\": \"local\",\n"
    "   \"command\": \"printf '%s %s %s' \\\"$$NEXUS_HOSTNAME\\\" "
    "\\\"$$NEXUS_HOSTADDRESS\\\" \\\"$$NEXUS_VARS\\\"\"},\n"
    "  {\"name\": \"halt\", \"kind\": \"local\", \"role\": \"admin\", "
    "\"command\": \"true\"},\n"
    "  {\"name\": \"poke\", \"kind\": \"provider\", \"provider_action\": "
    "\"poke\", \"concurrency\": 2},\n"
    "  {\"name\": \"zap\", \"kind\": \"provider\", \"provider_action\": "
    "\"zap\"}\n"
    "]}}";

struct fx {
	uv_loop_t loop;
	struct nx_config cfg;
	struct engine e;
	uint32_t nodes[6];
	char dir[64];
	int events, done_calls;
	struct nx_actor op;
};

static void
on_event(void *arg, const struct event *ev)
{
	struct fx *fx = arg;

	if (ev->kind == NX_EV_JOB) {
		fx->events++;
		assert_non_null(ev->text);
		assert_non_null(strstr(ev->text, "job "));
	}
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	struct nx_err err = { { 0 } };
	uint32_t i;

	uv_loop_init(&fx->loop);
	config_defaults(&fx->cfg);
	if (config_load_buffer(&fx->cfg, "job.json", conf, strlen(conf),
	    &err) != 0)
		fail_msg("%s", err.msg);
	engine_init(&fx->e, &fx->loop, &fx->cfg);
	for (i = 0; i < 6; i++) {
		char name[8], addr[16];
		struct node *n;

		snprintf(name, sizeof name, "n%u", i + 1);
		snprintf(addr, sizeof addr, "10.1.0.%u", i + 1);
		n = fleet_add_node(&fx->e.fleet, name, addr, &provider_inventory);
		n->vars = json_pack("{s:i}", "rack", (int)i);
		fx->nodes[i] = n->id;
	}
	snprintf(fx->dir, sizeof fx->dir, "/tmp/nx-test-job.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	bus_subscribe(&fx->e.bus, on_event, fx);
	fx->op.user = "tester";
	fx->op.roles = NX_ROLE_BIT(NX_ROLE_OPERATOR);
	fx->op.origin = "test";
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char *cmd;
	uint32_t i;

	for (i = 0; i < fx->e.fleet.nnodes; i++) {
		json_decref(fx->e.fleet.nodes[i].vars);
		fx->e.fleet.nodes[i].vars = NULL;
	}
	engine_free(&fx->e);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	config_free(&fx->cfg);
	xasprintf(&cmd, "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(fx);
	return 0;
}

static void
guard_cb(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Runs the loop until job id is final, at most ms. */
static struct job *
wait_job(struct fx *fx, uint32_t id, uint64_t ms)
{
	uv_timer_t guard;
	struct job *j;
	uint64_t t0 = uv_now(&fx->loop);

	uv_timer_init(&fx->loop, &guard);
	uv_timer_start(&guard, guard_cb, 20, 20);
	while ((j = job_find(&fx->e, id)) != NULL && !job_final(j) &&
	    uv_now(&fx->loop) - t0 < ms)
		uv_run(&fx->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_non_null(j);
	return j;
}

static void
done_cb(struct engine *e, struct job *j, void *arg)
{
	struct fx *fx = arg;

	(void)e;
	assert_true(job_final(j));
	fx->done_calls++;
}

static uint32_t
run(struct fx *fx, const char *action, size_t n, json_t *inputs)
{
	struct nx_err err = { { 0 } };
	struct job *j;
	uint32_t id = 0;

	if (api_run(&fx->e, &fx->op, action, fx->nodes, n, inputs, false, &id,
	    &err) != 0)
		fail_msg("api_run %s: %s", action, err.msg);
	json_decref(inputs);
	if ((j = job_find(&fx->e, id)) != NULL && !job_final(j)) {
		j->done = done_cb;
		j->done_arg = fx;
	}
	return id;
}

static void
test_concurrency(void **state)
{
	struct fx *fx = *state;
	struct job *j;
	char path[128], line[16];
	int cur = 0, max = 0, lines = 0;
	uint64_t t0 = uv_hrtime();
	FILE *f;

	j = wait_job(fx, run(fx, "overlap", 6, json_pack("{s:s}", "dir",
	    fx->dir)), 10000);
	assert_int_equal(j->state, JOB_SUCCEEDED);
	assert_int_equal(j->nok, 6);
	assert_int_equal(fx->done_calls, 1);
	snprintf(path, sizeof path, "%s/log", fx->dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		cur += line[0] == '+' ? 1 : -1;
		if (cur > max)
			max = cur;
		lines++;
	}
	fclose(f);
	assert_int_equal(lines, 12);
	assert_int_equal(max, 3);       /* the bound held, and was used */
	/* Two waves of 0.3 s: neither serial (1.8 s) nor unbounded. */
	assert_true((uv_hrtime() - t0) / 1000000 >= 550);
	assert_true((uv_hrtime() - t0) / 1000000 < 1700);
	/* Events: created, running, succeeded. */
	assert_int_equal(fx->events, 3);
}

static void
test_timeout(void **state)
{
	struct fx *fx = *state;
	uint64_t t0 = uv_hrtime();
	struct job_group *g;
	struct job *j;
	size_t ng;

	j = wait_job(fx, run(fx, "slow", 2, NULL), 5000);
	assert_int_equal(j->state, JOB_FAILED);
	assert_int_equal(j->nerror, 2);
	assert_true((uv_hrtime() - t0) / 1000000 < 2000);
	ng = job_coalesce(&fx->e, j, &g);
	assert_int_equal(ng, 1);
	assert_string_equal(g[0].hostlist, "n[1-2]");
	assert_string_equal(j->hosts[0].fail, "timeout");
	assert_string_equal(g[0].error, "timed out after 300 ms (killed)");
	job_groups_free(g, ng);
}

static void
test_cancel(void **state)
{
	struct fx *fx = *state;
	struct nx_err err = { { 0 } };
	struct nx_actor viewer = { "guest", NX_ROLE_BIT(NX_ROLE_VIEWER), "test" };
	char path[128];
	uint32_t id, i;
	pid_t pids[2];
	struct job *j;
	FILE *f;

	id = run(fx, "pidsleep", 4, json_pack("{s:s}", "dir", fx->dir));
	j = job_find(&fx->e, id);
	assert_int_equal(j->state, JOB_RUNNING);
	assert_int_equal(j->nrunning, 2);
	assert_int_equal(j->nqueued, 2);
	/* Wait for both children to write their pid. */
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/n%u.pid", fx->dir, i + 1);
		pids[i] = 0;
		while (pids[i] == 0) {
			uv_run(&fx->loop, UV_RUN_NOWAIT);
			if ((f = fopen(path, "r")) != NULL) {
				if (fscanf(f, "%d", &pids[i]) != 1)
					pids[i] = 0;
				fclose(f);
			}
			if (pids[i] == 0)
				usleep(10000);
		}
		assert_int_equal(kill(pids[i], 0), 0);
	}
	/* A viewer may not cancel; refused and audited. */
	assert_int_equal(api_job_cancel(&fx->e, &viewer, id, &err), -1);
	assert_string_equal(err.msg, "refused: user guest has role viewer; "
	    "cancel needs operator or admin");
	assert_string_equal(act_audit_at(&fx->e, act_audit_count(&fx->e) -
	    1)->result, err.msg);
	assert_int_equal(api_job_cancel(&fx->e, &fx->op, id, &err), 0);
	assert_int_equal(j->state, JOB_CANCELLED);
	assert_int_equal(j->ncancelled, 4);
	assert_int_equal(fx->done_calls, 1);
	/* The children are gone (killed, then reaped by the loop). */
	for (i = 0; i < 50; i++) {
		uv_run(&fx->loop, UV_RUN_NOWAIT);
		if (kill(pids[0], 0) != 0 && kill(pids[1], 0) != 0)
			break;
		usleep(20000);
	}
	assert_int_not_equal(kill(pids[0], 0), 0);
	assert_int_not_equal(kill(pids[1], 0), 0);
	/* Nothing else started: the queued ones never wrote a pid. */
	snprintf(path, sizeof path, "%s/n3.pid", fx->dir);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(api_job_cancel(&fx->e, &fx->op, id, &err), -1);
	assert_non_null(strstr(err.msg, "already cancelled"));
}

static void
test_coalesce_retry(void **state)
{
	struct fx *fx = *state;
	struct nx_err err = { { 0 } };
	struct job_group *g;
	struct job *j, *r;
	uint32_t id, nid;
	size_t ng, n;
	json_t *js;

	id = run(fx, "parity", 6, NULL);
	j = wait_job(fx, id, 5000);
	assert_int_equal(j->state, JOB_FAILED);
	assert_int_equal(j->nok, 3);
	assert_int_equal(j->nfailed, 3);
	ng = job_coalesce(&fx->e, j, &g);
	assert_int_equal(ng, 2);
	assert_string_equal(g[0].hostlist, "n[1,3,5]");
	assert_string_equal(j->hosts[g[0].hosts[0]].out, "odd\n");
	assert_string_equal(g[1].hostlist, "n[2,4,6]");
	assert_int_equal(j->hosts[g[1].hosts[0]].exit_status, 3);
	assert_string_equal(j->hosts[g[1].hosts[0]].err, "even\n");
	job_groups_free(g, ng);
	js = job_to_json(&fx->e, j);
	assert_string_equal(json_string_value(json_object_get(js, "state")),
	    "failed");
	assert_int_equal(json_array_size(json_object_get(js, "results")), 2);
	json_decref(js);
	/* The final state is an audit row. */
	n = act_audit_count(&fx->e);
	assert_string_equal(act_audit_at(&fx->e, n - 1)->action, "job");
	assert_string_equal(act_audit_at(&fx->e, n - 1)->result,
	    "failed 3/6 (3 ok, 3 failed, 0 error, 0 cancelled)");
	assert_string_equal(act_audit_at(&fx->e, n - 1)->target, "n[1-6]");
	assert_string_equal(act_audit_at(&fx->e, n - 1)->who, "tester");
	assert_string_equal(act_audit_at(&fx->e, n - 1)->role, "operator");
	/* Retry: a new job over the failed hosts only. */
	assert_int_equal(api_job_retry(&fx->e, &fx->op, id, &nid, &err), 0);
	r = wait_job(fx, nid, 5000);
	assert_int_equal(r->retry_of, id);
	assert_int_equal(r->nhosts, 3);
	assert_string_equal(fx->e.fleet.nodes[r->hosts[0].node].name, "n2");
	assert_int_equal(r->nfailed, 3);
	/* A succeeded job has nothing to retry. */
	id = run(fx, "env", 1, NULL);
	j = wait_job(fx, id, 5000);
	assert_int_equal(j->state, JOB_SUCCEEDED);
	assert_int_equal(api_job_retry(&fx->e, &fx->op, id, &nid, &err), -1);
	assert_non_null(strstr(err.msg, "no failed host"));
}

static void
test_env(void **state)
{
	struct fx *fx = *state;
	struct job *j;

	j = wait_job(fx, run(fx, "env", 1, NULL), 5000);
	assert_int_equal(j->state, JOB_SUCCEEDED);
	assert_string_equal(j->hosts[0].out, "n1 10.1.0.1 {\"rack\":0}");
}

static void
test_refused(void **state)
{
	struct fx *fx = *state;
	struct nx_err err = { { 0 } };
	struct nx_actor viewer = { "guest", NX_ROLE_BIT(NX_ROLE_VIEWER), "test" };
	const struct nx_audit_entry *row;
	json_t *bad;
	uint32_t id = 0;

	assert_int_equal(api_run(&fx->e, &viewer, "env", fx->nodes, 2, NULL,
	    false, &id, &err), -1);
	assert_string_equal(err.msg, "refused: user guest has role viewer; run "
	    "needs operator or admin");
	assert_int_equal(job_count(&fx->e), 0);
	row = act_audit_at(&fx->e, act_audit_count(&fx->e) - 1);
	assert_string_equal(row->who, "guest");
	assert_string_equal(row->role, "viewer");
	assert_string_equal(row->action, "run");
	assert_string_equal(row->target, "n[1-2]");
	assert_string_equal(row->result, err.msg);
	assert_non_null(strstr(row->args, "\"action\":\"env\""));
	/* An admin action needs admin; ad-hoc too. */
	assert_int_equal(api_run(&fx->e, &fx->op, "halt", fx->nodes, 1, NULL,
	    false, &id, &err), -1);
	assert_string_equal(err.msg, "refused: user tester has role operator; "
	    "run needs admin");
	assert_int_equal(api_run_adhoc(&fx->e, &fx->op, "id", fx->nodes, 1,
	    &id, &err), -1);
	assert_string_equal(err.msg, "refused: user tester has role operator; "
	    "adhoc needs admin");
	/* An input failing validation: nothing created, the error audited. */
	bad = json_pack("{s:s}", "dir", "/tmp; rm -rf /");
	assert_int_equal(api_run(&fx->e, &fx->op, "overlap", fx->nodes, 1,
	    bad, false, &id, &err), -1);
	json_decref(bad);
	assert_non_null(strstr(err.msg, "does not match the pattern"));
	assert_int_equal(job_count(&fx->e), 0);
	row = act_audit_at(&fx->e, act_audit_count(&fx->e) - 1);
	assert_true(strncmp(row->result, "error: action overlap: input dir",
	    32) == 0);
	/* A dry run shows the commands and runs nothing. */
	assert_int_equal(api_run(&fx->e, &fx->op, "parity", fx->nodes, 2, NULL,
	    true, &id, &err), 0);
	assert_int_equal(job_find(&fx->e, id)->state, JOB_SUCCEEDED);
	assert_int_equal(job_find(&fx->e, id)->hosts[1].state, JH_DRY_RUN);
	assert_non_null(strstr(job_find(&fx->e, id)->hosts[1].command,
	    "case 'n2' in"));
}

static int
audit_sink(void *arg, const struct nx_audit_entry *ent, struct nx_err *err)
{
	int *n = arg;

	(void)err;
	assert_non_null(ent->who);
	(*n)++;
	return 0;
}

static void
test_audit_api(void **state)
{
	struct fx *fx = *state;
	struct nx_err err = { { 0 } };
	struct nx_actor aud = { "bob", NX_ROLE_BIT(NX_ROLE_AUDITOR), "test" };
	int rows = 0;
	size_t i;

	act_set_audit(&fx->e, audit_sink, &rows);
	assert_int_equal(api_audit_read(&fx->e, &aud, &err), 0);
	assert_int_equal(api_audit_read(&fx->e, &fx->op, &err), -1);
	assert_string_equal(err.msg, "refused: user tester has role operator; "
	    "audit-read needs auditor or admin");
	assert_int_equal(rows, 2);
	/* The ring keeps the last ACT_AUDIT_RECENT rows. */
	for (i = 0; i < ACT_AUDIT_RECENT + 10; i++)
		act_audit(&fx->e, &aud, "test", "t", NULL, "ok");
	assert_int_equal(act_audit_count(&fx->e), ACT_AUDIT_RECENT);
	assert_string_equal(act_audit_at(&fx->e, 0)->action, "test");
	assert_string_equal(act_audit_at(&fx->e, 0)->args, "{}");
	assert_null(act_audit_at(&fx->e, ACT_AUDIT_RECENT));
}

/*
 * A provider of the test's own: `poke` finishes node n1 at once (ok) and
 * the others 50 ms later on the loop (n2 failed, the rest ok); it has no
 * `zap`.
 */
struct poke {
	uv_timer_t timer;
	struct engine *e;
	uint32_t job, host;
	bool fail;
};

static int poke_running, poke_max;

static void
poke_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
poke_fire(uv_timer_t *t)
{
	struct poke *p = t->data;
	struct job_host_result r;
	struct job *j = job_find(p->e, p->job);

	memset(&r, 0, sizeof r);
	r.state = p->fail ? JH_FAILED : JH_OK;
	r.exit_status = p->fail ? 1 : 0;
	r.out = "poked";
	poke_running--;
	if (j != NULL)
		job_host_finish(p->e, j, p->host, &r);
	uv_close((uv_handle_t *)t, poke_closed);
}

static int
poke_run(struct engine *e, struct node *n, struct job *j, uint32_t host,
    struct nx_err *err)
{
	struct job_host_result r;
	struct poke *p;

	(void)err;
	if (strcmp(n->name, "n1") == 0) {
		memset(&r, 0, sizeof r);
		r.state = JH_OK;
		r.out = "poked";
		job_host_finish(e, j, host, &r);
		return 0;
	}
	p = calloc(1, sizeof *p);
	p->e = e;
	p->job = j->id;
	p->host = host;
	p->fail = strcmp(n->name, "n2") == 0;
	uv_timer_init(e->loop, &p->timer);
	p->timer.data = p;
	uv_timer_start(&p->timer, poke_fire, 50, 0);
	if (++poke_running > poke_max)
		poke_max = poke_running;
	return 0;
}

static const struct provider_action poke_actions[] = {
	{ .name = "poke", .description = "poke a node", .run = poke_run },
};

static const struct provider provider_poke = {
	.version = NX_PROVIDER_VERSION,
	.name = "poke",
	.actions = poke_actions,
	.nactions = NX_ARRAY_LEN(poke_actions),
};

static void
test_provider(void **state)
{
	struct fx *fx = *state;
	struct job_group *g;
	struct job *j;
	size_t ng, i;

	for (i = 0; i < 6; i++)
		fx->e.fleet.nodes[fx->nodes[i]].provider = &provider_poke;
	j = wait_job(fx, run(fx, "poke", 6, NULL), 5000);
	assert_int_equal(j->state, JOB_FAILED);
	assert_int_equal(j->nok, 5);
	assert_int_equal(j->nfailed, 1);
	assert_int_equal(poke_max, 2);  /* the action's concurrency */
	ng = job_coalesce(&fx->e, j, &g);
	assert_int_equal(ng, 2);
	assert_string_equal(g[0].hostlist, "n[1,3-6]");
	assert_string_equal(g[1].hostlist, "n2");
	job_groups_free(g, ng);
	/* An action the provider does not have: every host in error. */
	j = wait_job(fx, run(fx, "zap", 2, NULL), 5000);
	assert_int_equal(j->state, JOB_FAILED);
	assert_int_equal(j->nerror, 2);
	assert_string_equal(j->hosts[0].error, "provider poke has no action "
	    "\"zap\"");
	assert_string_equal(j->hosts[0].fail, "provider");
	for (i = 0; i < 6; i++)
		fx->e.fleet.nodes[fx->nodes[i]].provider = &provider_inventory;
}

static void
test_keep(void **state)
{
	struct fx *fx = *state;
	struct nx_err err = { { 0 } };
	uint32_t id = 0, first = 0;
	size_t i;

	for (i = 0; i < 1005; i++) {
		assert_int_equal(api_run(&fx->e, &fx->op, "env", fx->nodes, 1,
		    NULL, true, &id, &err), 0);
		if (i == 0)
			first = id;
	}
	assert_int_equal(job_count(&fx->e), 1000);
	assert_null(job_find(&fx->e, first));
	assert_null(job_find(&fx->e, first + 4));
	assert_non_null(job_find(&fx->e, first + 5));
	assert_int_equal(job_at(&fx->e, 0)->id, first + 5);
	assert_int_equal(job_at(&fx->e, 999)->id, id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrency, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coalesce_retry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_api, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_provider, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keep, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
