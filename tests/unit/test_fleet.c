/*
 * test_fleet.c - the node and check model, interning, health counters, and
 * the monitor's SOFT/HARD basics as seen through the fleet.
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

static void
test_intern_dedups(void **state)
{
	struct strpool p;
	const char *a, *b, *c;
	char buf[32];
	int i;

	strpool_init(&p);
	a = strpool_intern(&p, "web01");
	b = strpool_intern_len(&p, "web01xyz", 5);
	c = strpool_intern(&p, "web02");
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, c);
	assert_string_equal(c, "web02");
	/* Enough strings to grow the table and roll over several arenas. */
	for (i = 0; i < 100000; i++) {
		snprintf(buf, sizeof buf, "node-%d", i);
		assert_string_equal(strpool_intern(&p, buf), buf);
	}
	assert_ptr_equal(strpool_intern(&p, "web01"), a);
	assert_int_equal(p.count, 100002);
	strpool_free(&p);
}

static void
test_nodes_groups_checks(void **state)
{
	struct fleet f;
	struct node *n;
	struct check *c;

	fleet_init(&f);
	n = fleet_add_node(&f, "db1", "192.0.2.1", NULL);
	node_add_group(&f, n, "db");
	node_add_group(&f, n, "prod");
	node_add_group(&f, n, "db");
	assert_int_equal(n->ngroups, 2);
	assert_string_equal(node_group_name(&f, n), "db");
	c = fleet_add_check(&f, n, "load", &check_kind_metric, NULL);
	assert_int_equal(c->node, 0);
	assert_int_equal(f.nodes[0].nchecks, 1);
	assert_int_equal(f.health_count[NX_H_PENDING], 1);
	assert_ptr_equal(fleet_find_node(&f, "db1"), &f.nodes[0]);
	assert_null(fleet_find_node(&f, "db2"));
	assert_int_equal(node_compute_health(&f, &f.nodes[0]), NX_H_PENDING);
	fleet_free(&f);
}

static void
test_health_counters(void **state)
{
	struct fleet f;
	struct node *n;
	struct check *c;

	fleet_init(&f);
	n = fleet_add_node(&f, "a", NULL, NULL);
	assert_string_equal(n->address, "a");
	c = fleet_add_check(&f, n, "x", &check_kind_metric, NULL);
	c->has_result = true;
	c->state = NX_UNKNOWN;
	n = &f.nodes[0];
	assert_int_equal(node_compute_health(&f, n), NX_H_UNKNOWN);
	fleet_set_health(&f, n, NX_H_UNKNOWN, 1);
	assert_int_equal(f.health_count[NX_H_PENDING], 0);
	assert_int_equal(f.health_count[NX_H_UNKNOWN], 1);
	n->host_state = NX_HOST_DOWN;
	assert_int_equal(node_compute_health(&f, n), NX_H_DOWN);
	fleet_free(&f);
}

static int
engine_setup(void **state)
{
	struct engine *e = xcalloc(1, sizeof *e);
	uv_loop_t *loop = xmalloc(sizeof *loop);
	struct nx_config cfg;

	uv_loop_init(loop);
	config_defaults(&cfg);
	cfg.demo.enabled = false;
	cfg.demo.local = false;
	engine_init(e, loop, &cfg);
	e->cfg.console.theme = NULL;
	config_free(&cfg);
	*state = e;
	return 0;
}

static int
engine_teardown(void **state)
{
	struct engine *e = *state;
	uv_loop_t *loop = e->loop;

	engine_free(e);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	free(loop);
	free(e);
	return 0;
}

static void
apply(struct engine *e, struct check *c, enum nx_state s)
{
	struct nx_result r = { .state = s, .output = "out", .output_len = 3,
	    .time = 1000 };

	mon_apply_result(e, c, &r);
}

static void
test_soft_hard(void **state)
{
	struct engine *e = *state;
	struct node *n = fleet_add_node(&e->fleet, "h", NULL, NULL);
	struct check *c = fleet_add_check(&e->fleet, n, "c",
	    &check_kind_metric, NULL);

	c->max_attempts = 3;
	apply(e, c, NX_OK);
	assert_int_equal(c->state_type, NX_HARD);
	apply(e, c, NX_CRITICAL);
	assert_int_equal(c->state_type, NX_SOFT);
	assert_int_equal(c->attempt, 1);
	apply(e, c, NX_CRITICAL);
	assert_int_equal(c->attempt, 2);
	assert_int_equal(c->state_type, NX_SOFT);
	apply(e, c, NX_CRITICAL);
	assert_int_equal(c->attempt, 3);
	assert_int_equal(c->state_type, NX_HARD);
	apply(e, c, NX_WARNING);        /* HARD to HARD between problems */
	assert_int_equal(c->state_type, NX_HARD);
	assert_int_equal(c->state, NX_WARNING);
	apply(e, c, NX_OK);
	assert_int_equal(c->state_type, NX_HARD);
	assert_int_equal(c->attempt, 1);
	assert_int_equal(e->fleet.health_count[NX_H_OK], 1);
	assert_int_equal(e->results, 6);
}

static void
test_host_check_down_when_hard(void **state)
{
	struct engine *e = *state;
	struct node *n = fleet_add_node(&e->fleet, "h", NULL, NULL);
	struct check *c = fleet_add_check(&e->fleet, n, "ping",
	    &check_kind_metric, NULL);

	c->is_host_check = true;
	c->max_attempts = 2;
	apply(e, c, NX_OK);
	apply(e, c, NX_CRITICAL);
	assert_int_equal(e->fleet.nodes[0].host_state, NX_HOST_UP);
	apply(e, c, NX_CRITICAL);
	assert_int_equal(e->fleet.nodes[0].host_state, NX_HOST_DOWN);
	assert_int_equal(e->fleet.nodes[0].health, NX_H_DOWN);
	assert_int_equal(e->fleet.health_count[NX_H_DOWN], 1);
	apply(e, c, NX_OK);
	assert_int_equal(e->fleet.nodes[0].host_state, NX_HOST_UP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_dedups),
		cmocka_unit_test(test_nodes_groups_checks),
		cmocka_unit_test(test_health_counters),
		cmocka_unit_test_setup_teardown(test_soft_hard, engine_setup,
		    engine_teardown),
		cmocka_unit_test_setup_teardown(test_host_check_down_when_hard,
		    engine_setup, engine_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
