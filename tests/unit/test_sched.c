/*
 * test_sched.c - the timing wheel: checks run once when due (never early,
 * at most one slot late), superseded entries are skipped, entries past the
 * wheel's reach wait in the far heap and still run on time, and an idle
 * scheduler disarms its timer.  Time is the engine's frozen clock, so
 * nothing here sleeps.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

#define T0 ((nx_time)1800000000000LL)

static nx_time ran_at[64];
static uint32_t runs[64];

static void
record_run(struct engine *e, struct check *c)
{
	struct nx_result r = { .state = NX_OK, .output = "ok",
	    .output_len = 2, .time = engine_now(e) };

	ran_at[c->id] = engine_now(e);
	runs[c->id]++;
	mon_apply_result(e, c, &r);
}

static const struct check_kind record_kind = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "record",
	.run = record_run,
};

static int
setup(void **state)
{
	struct engine *e = xcalloc(1, sizeof *e);
	uv_loop_t *loop = xmalloc(sizeof *loop);
	struct nx_config cfg;
	struct node *n;
	int i;

	uv_loop_init(loop);
	config_defaults(&cfg);
	cfg.demo.enabled = false;
	cfg.demo.local = false;
	engine_init(e, loop, &cfg);
	e->cfg.console.theme = NULL;
	config_free(&cfg);
	e->frozen_now = T0;
	n = fleet_add_node(&e->fleet, "n", NULL, NULL);
	for (i = 0; i < 8; i++) {
		char name[8];
		struct check *c;

		snprintf(name, sizeof name, "c%d", i);
		c = fleet_add_check(&e->fleet, n, name, &record_kind, NULL);
		c->interval_ms = 1000;
		c->retry_ms = 1000;
		c->max_attempts = 1;
		n = &e->fleet.nodes[0];
	}
	memset(ran_at, 0, sizeof ran_at);
	memset(runs, 0, sizeof runs);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct engine *e = *state;
	uv_loop_t *loop = e->loop;

	e->running = false;
	engine_free(e);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	free(loop);
	free(e);
	return 0;
}

/*
 * Moves the frozen clock to t and runs what is due, as the timer would
 * (the timer itself counts real milliseconds, which this test does not
 * spend).
 */
static void
advance(struct engine *e, nx_time t)
{
	e->frozen_now = t;
	sched_run(e->sched, t);
}

static void
test_runs_when_due_not_before(void **state)
{
	struct engine *e = *state;
	struct check *c = &e->fleet.checks[0];

	sched_add(e->sched, c, T0 + 500);
	sched_start(e->sched);
	advance(e, T0 + 499);
	assert_int_equal(runs[0], 0);
	advance(e, T0 + 520);
	assert_int_equal(runs[0], 1);
	assert_true(ran_at[0] >= T0 + 500 && ran_at[0] <= T0 + 540);
	advance(e, T0 + 5000);
	assert_int_equal(runs[0], 1);           /* not running live: no repeat */
	assert_int_equal(sched_size(e->sched), 0);
}

static void
test_superseded_entry_skipped(void **state)
{
	struct engine *e = *state;
	struct check *c = &e->fleet.checks[1];

	sched_add(e->sched, c, T0 + 100);
	sched_add(e->sched, c, T0 + 3000);      /* supersedes the first */
	sched_start(e->sched);
	advance(e, T0 + 1000);
	assert_int_equal(runs[1], 0);
	advance(e, T0 + 3100);
	assert_int_equal(runs[1], 1);
}

static void
test_far_entries_and_live_repeat(void **state)
{
	struct engine *e = *state;
	struct check *far = &e->fleet.checks[2];
	struct check *live = &e->fleet.checks[3];
	nx_time hour = 3600 * 1000, t;

	sched_add(e->sched, far, T0 + hour);    /* past the wheel's ~22 min */
	sched_add(e->sched, live, T0 + 10);
	e->running = true;                      /* results re-schedule */
	sched_start(e->sched);
	for (t = T0; t <= T0 + 10000; t += 100)
		advance(e, t);
	/* Every second for 10 s: 10 runs, give or take the edges. */
	assert_in_range(runs[3], 9, 11);
	assert_int_equal(runs[2], 0);
	advance(e, T0 + hour - 1);
	assert_int_equal(runs[2], 0);
	advance(e, T0 + hour + 25);
	assert_int_equal(runs[2], 1);
	assert_true(ran_at[2] >= T0 + hour);
}

static void
test_past_due_runs_next(void **state)
{
	struct engine *e = *state;
	struct check *c = &e->fleet.checks[4];

	sched_start(e->sched);
	advance(e, T0 + 10000);
	sched_add(e->sched, c, T0 + 50);        /* already late */
	advance(e, T0 + 10030);
	assert_int_equal(runs[4], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_runs_when_due_not_before,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_superseded_entry_skipped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_far_entries_and_live_repeat,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_past_due_runs_next,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
