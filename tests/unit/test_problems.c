/*
 * test_problems.c - the problems view's list (tui/problems.c), fed by the
 * real monitor's bus events: rows come and go with states, the order is
 * DOWN hosts, then CRITICAL, UNKNOWN, WARNING, the longest-standing first,
 * and the incremental list always equals a fresh scan.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tui/tui.h"

#define T0 1700000000000LL

struct fix {
	struct engine *e;
	struct problems pl;
	uint32_t seen;
};

static void
manual_run(struct engine *e, struct check *c)
{
}

static const struct check_kind manual_kind = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "manual",
	.run = manual_run,
};

static void
on_event(void *arg, const struct event *ev)
{
	struct fix *f = arg;

	f->seen++;
	problems_event(&f->pl, &f->e->fleet, ev);
}

static int
setup(void **state)
{
	struct fix *f = xcalloc(1, sizeof *f);
	uv_loop_t *loop = xmalloc(sizeof *loop);
	struct nx_config cfg;

	uv_loop_init(loop);
	config_defaults(&cfg);
	cfg.demo.enabled = false;
	cfg.demo.local = false;
	f->e = xcalloc(1, sizeof *f->e);
	engine_init(f->e, loop, &cfg);
	config_free(&cfg);
	f->e->frozen_now = T0;
	f->e->start_time = T0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	uv_loop_t *loop = f->e->loop;

	problems_free(&f->pl);
	engine_free(f->e);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	free(loop);
	free(f->e);
	free(f);
	return 0;
}

static uint32_t
add(struct fix *f, const char *node, const char *name, uint8_t max, bool host)
{
	struct node *n = fleet_find_node(&f->e->fleet, node);
	struct check *c;

	if (n == NULL)
		n = fleet_add_node(&f->e->fleet, node, NULL, NULL);
	c = fleet_add_check(&f->e->fleet, n, name, &manual_kind, NULL);
	c->max_attempts = max;
	c->interval_ms = 60000;
	c->retry_ms = 10000;
	c->timeout_ms = 10000;
	c->is_host_check = host;
	return c->id;
}

static void
result(struct fix *f, uint32_t id, enum nx_state s, nx_time at)
{
	struct check *c = &f->e->fleet.checks[id];
	struct nx_result r = { .state = s, .output = "out", .output_len = 3,
	    .time = T0 + at };

	if (!c->running) {
		c->running = true;
		f->e->pending++;
	}
	mon_apply_result(f->e, c, &r);
}

/* The rows as "node/check" (or "node/HOST"), comma-separated, in order. */
static const char *
rows(struct fix *f)
{
	static char out[512];
	const struct fleet *fl = &f->e->fleet;
	size_t i, len = 0;

	problems_sort(&f->pl, fl);
	out[0] = '\0';
	for (i = 0; i < f->pl.n; i++) {
		const struct problem *p = &f->pl.v[i];

		len += (size_t)snprintf(out + len, sizeof out - len, "%s%s/%s",
		    i ? "," : "", fl->nodes[p->node].name,
		    p->check == NX_NONE ? "HOST" : fl->checks[p->check].name);
	}
	return out;
}

/* The incremental list holds what a full scan finds, in the same order. */
static void
assert_same_as_scan(struct fix *f)
{
	struct problems fresh;
	char inc[512];

	snprintf(inc, sizeof inc, "%s", rows(f));
	memset(&fresh, 0, sizeof fresh);
	problems_init(&fresh, &f->e->fleet);
	problems_sort(&fresh, &f->e->fleet);
	{
		struct problems keep = f->pl;

		f->pl = fresh;
		assert_string_equal(rows(f), inc);
		f->pl = keep;
	}
	problems_free(&fresh);
}

static void
test_order_and_removal(void **state)
{
	struct fix *f = *state;
	uint32_t a_ping, a_load, b_load, c_disk, d_ping;

	a_ping = add(f, "a", "ping", 1, true);
	a_load = add(f, "a", "load", 1, false);
	b_load = add(f, "b", "load", 1, false);
	c_disk = add(f, "c", "disk", 1, false);
	d_ping = add(f, "d", "ping", 3, true);
	problems_init(&f->pl, &f->e->fleet);
	bus_subscribe(&f->e->bus, on_event, f);
	assert_int_equal(f->pl.n, 0);

	result(f, a_ping, NX_OK, 100);
	result(f, a_load, NX_WARNING, 1000);
	result(f, c_disk, NX_UNKNOWN, 1500);
	result(f, b_load, NX_CRITICAL, 2000);
	assert_true(f->seen > 0);
	assert_string_equal(rows(f), "b/load,c/disk,a/load");
	/* a's host check fails: the host row comes first of all. */
	result(f, a_ping, NX_CRITICAL, 3000);
	assert_int_equal(f->e->fleet.nodes[0].host_state, NX_HOST_DOWN);
	assert_string_equal(rows(f), "a/HOST,b/load,a/ping,c/disk,a/load");
	assert_same_as_scan(f);

	/* SOFT: a row from the first attempt, "SOFT 1/3". */
	result(f, d_ping, NX_WARNING, 3500);
	assert_string_equal(rows(f),
	    "a/HOST,b/load,a/ping,c/disk,a/load,d/ping");
	assert_int_equal(f->e->fleet.checks[d_ping].state_type, NX_SOFT);

	/* Recoveries remove their rows; the rest keep their order. */
	result(f, b_load, NX_OK, 4000);
	assert_string_equal(rows(f), "a/HOST,a/ping,c/disk,a/load,d/ping");
	result(f, a_ping, NX_OK, 5000);
	assert_string_equal(rows(f), "c/disk,a/load,d/ping");
	assert_same_as_scan(f);

	/* Worse state, same check: moves up; the duration restarts. */
	result(f, a_load, NX_CRITICAL, 6000);
	assert_string_equal(rows(f), "a/load,c/disk,d/ping");
	assert_int_equal(problem_since(&f->e->fleet, &f->pl.v[0]), T0 + 6000);
	/* Two CRITICALs: the longest-standing first. */
	result(f, c_disk, NX_CRITICAL, 7000);
	assert_string_equal(rows(f), "a/load,c/disk,d/ping");
	result(f, a_load, NX_OK, 8000);
	result(f, a_load, NX_CRITICAL, 9000);
	assert_string_equal(rows(f), "c/disk,a/load,d/ping");
	assert_same_as_scan(f);
	bus_unsubscribe(&f->e->bus, on_event, f);
}

static void
test_sort_only_when_changed(void **state)
{
	struct fix *f = *state;
	uint32_t x = add(f, "x", "load", 1, false);
	uint64_t v;

	problems_init(&f->pl, &f->e->fleet);
	bus_subscribe(&f->e->bus, on_event, f);
	result(f, x, NX_CRITICAL, 100);
	assert_true(problems_sort(&f->pl, &f->e->fleet));
	assert_false(problems_sort(&f->pl, &f->e->fleet));
	v = f->pl.version;
	/* The same state again: a result, no change, no re-sort. */
	result(f, x, NX_CRITICAL, 200);
	assert_int_equal(f->pl.version, v);
	assert_false(problems_sort(&f->pl, &f->e->fleet));
	/* A node added: the list is rebuilt, with a slot for it. */
	add(f, "y", "load", 1, false);
	result(f, x, NX_CRITICAL, 300);
	assert_int_equal(f->pl.nchecks, f->e->fleet.nchecks);
	assert_int_equal(f->pl.n, 1);
	bus_unsubscribe(&f->e->bus, on_event, f);
}

static void
test_rank(void **state)
{
	struct fix *f = *state;
	uint32_t x = add(f, "x", "load", 1, false);
	struct problem host = { 0, NX_NONE }, chk = { 0, x };

	f->e->fleet.nodes[0].host_state = NX_HOST_UNREACHABLE;
	f->e->fleet.checks[x].state = NX_CRITICAL;
	assert_true(problem_rank(&f->e->fleet, &host) <
	    problem_rank(&f->e->fleet, &chk));
	assert_true(problems_cmp(&f->e->fleet, &host, &chk) < 0);
	assert_true(problems_cmp(&f->e->fleet, &chk, &host) > 0);
	assert_int_equal(problems_cmp(&f->e->fleet, &chk, &chk), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_removal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sort_only_when_changed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rank, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
