/*
 * test_jobevent.c - the text of job events (doc/actions.md, "Job
 * events"): the summary, then created=, origin=, user=, dry_run=,
 * retry_of= and target= fields, values %XX-encoded so that they hold no
 * space, and a long target cut at 200 bytes with "...".  `nexusctl jobs`
 * parses exactly this.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "act.h"

static const char conf[] =
    "{\"demo\": {\"enabled\": false, \"local\": false},\n"
    " \"actions\": {\"define\": [\n"
    "  {\"name\": \"noop\", \"kind\": \"local\", \"command\": \"true\"}\n"
    "]}}";

#define NNODES 60

struct fx {
	uv_loop_t loop;
	struct nx_config cfg;
	struct engine e;
	uint32_t nodes[NNODES];
	char last[1024];        /* the text of the last job event */
	int events;
};

static void
on_event(void *arg, const struct event *ev)
{
	struct fx *fx = arg;

	if (ev->kind != NX_EV_JOB)
		return;
	assert_non_null(ev->text);
	assert_true(strlen(ev->text) < sizeof fx->last);
	snprintf(fx->last, sizeof fx->last, "%s", ev->text);
	fx->events++;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	struct nx_err err = { { 0 } };
	uint32_t i;

	uv_loop_init(&fx->loop);
	config_defaults(&fx->cfg);
	if (config_load_buffer(&fx->cfg, "jobevent.json", conf, strlen(conf),
	    &err) != 0)
		fail_msg("%s", err.msg);
	engine_init(&fx->e, &fx->loop, &fx->cfg);
	/* n1..n3, then names without digits: no hostlist compresses them. */
	for (i = 0; i < NNODES; i++) {
		char name[16];

		if (i < 3)
			snprintf(name, sizeof name, "n%u", i + 1);
		else
			snprintf(name, sizeof name, "x%c%c", 'a' + i / 26,
			    'a' + i % 26);
		fx->nodes[i] = fleet_add_node(&fx->e.fleet, name, "127.0.0.1",
		    &provider_inventory)->id;
	}
	bus_subscribe(&fx->e.bus, on_event, fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	engine_free(&fx->e);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	config_free(&fx->cfg);
	free(fx);
	return 0;
}

static void
guard_cb(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* A dry run of noop on nodes[from, from + n) as user; waits for it. */
static struct job *
dry_run(struct fx *fx, const char *user, size_t from, size_t n)
{
	struct nx_actor a = { .user = user, .origin = "console",
		.roles = NX_ROLE_BIT(NX_ROLE_OPERATOR) };
	struct nx_err err = { { 0 } };
	uv_timer_t guard;
	struct job *j;
	uint32_t id = 0;
	uint64_t t0;

	if (api_run(&fx->e, &a, "noop", fx->nodes + from, n, NULL, true, &id,
	    &err) != 0)
		fail_msg("api_run: %s", err.msg);
	uv_timer_init(&fx->loop, &guard);
	uv_timer_start(&guard, guard_cb, 20, 20);
	t0 = uv_now(&fx->loop);
	while ((j = job_find(&fx->e, id)) != NULL && !job_final(j) &&
	    uv_now(&fx->loop) - t0 < 5000)
		uv_run(&fx->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_non_null(j);
	assert_true(job_final(j));
	return j;
}

static void
test_fields(void **state)
{
	struct fx *fx = *state;
	char want[256], created[32];
	struct job *j;
	unsigned id, done, total, ok, failed, error, cancelled;
	char action[32], st[32];
	int n = -1;

	j = dry_run(fx, "al ice%", 0, 3);
	assert_true(fx->events >= 2);
	/* The summary people read, unchanged. */
	assert_int_equal(sscanf(fx->last, "job %u %31[^: ]: %31s %u/%u (%u ok, "
	    "%u failed, %u error, %u cancelled)%n", &id, action, st, &done,
	    &total, &ok, &failed, &error, &cancelled, &n), 9);
	assert_int_equal(id, j->id);
	assert_string_equal(action, "noop");
	assert_string_equal(st, job_state_name(j->state));
	assert_int_equal(total, 3);
	/* Then the fields, in their order. */
	assert_int_equal(sscanf(fx->last + n, " created=%31s", created), 1);
	assert_int_equal(strlen(created), strlen("2026-11-27T17:40:28.123Z"));
	assert_true(created[4] == '-' && created[10] == 'T' &&
	    created[19] == '.' && created[23] == 'Z');
	snprintf(want, sizeof want, " created=%s origin=console user=al%%20ice%%25 "
	    "dry_run=yes target=n[1-3]", created);
	assert_string_equal(fx->last + n, want);
}

static void
test_long_target(void **state)
{
	struct fx *fx = *state;
	const char *t;

	dry_run(fx, "op", 3, NNODES - 3);
	t = strstr(fx->last, " target=");
	assert_non_null(t);
	t += strlen(" target=");
	assert_int_equal(strlen(t), 200 + 3);
	assert_string_equal(t + 200, "...");
	assert_null(strchr(t, ' '));
	assert_true(strncmp(t, "xad,xae,", 8) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_target, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
