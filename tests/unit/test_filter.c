/*
 * test_filter.c - the console's '/' filter (tui/filter.c) and the fleet's
 * sort orders, on a small hand-made fleet: every kind of term, negation,
 * errors with columns, and the orders with unknown metrics last; and the
 * completion of the ':' line (tui.c), the other thing typed.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tui/tui.h"

static const struct check_kind test_kind = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "test",
};

/*
 * web01 (web, fra1)  OK        load 0.5 cpu 10  checks ping OK, disk WARNING
 * web02 (web, lon1)  CRITICAL  load 6   cpu 95  checks ping CRITICAL
 * db01  (db, fra1)   DOWN      load NaN         vars env=prod
 * Web03 (web)        PENDING   load 4           no checks
 */
static int
setup(void **state)
{
	struct fleet *f = xcalloc(1, sizeof *f);
	struct node *n;
	struct check *c;
	int m;

	fleet_init(f);
	n = fleet_add_node(f, "web01", "10.0.0.1", NULL);
	node_add_group(f, n, "web");
	node_add_group(f, n, "fra1");
	c = fleet_add_check(f, n, "ping", &test_kind, NULL);
	c->has_result = true;
	c = fleet_add_check(f, &f->nodes[0], "disk", &test_kind, NULL);
	c->has_result = true;
	c->state = NX_WARNING;
	n = fleet_add_node(f, "web02", "10.0.0.2", NULL);
	node_add_group(f, n, "web");
	node_add_group(f, n, "lon1");
	c = fleet_add_check(f, n, "ping", &test_kind, NULL);
	c->has_result = true;
	c->state = NX_CRITICAL;
	n = fleet_add_node(f, "db01", "10.0.0.3", NULL);
	node_add_group(f, n, "db");
	node_add_group(f, n, "fra1");
	n->vars = json_pack("{s:s}", "env", "prod");
	fleet_add_node(f, "Web03", "10.0.0.4", NULL);
	f->nodes[0].health = NX_H_OK;
	f->nodes[1].health = NX_H_CRITICAL;
	f->nodes[2].health = NX_H_DOWN;
	f->nodes[2].host_state = NX_HOST_DOWN;
	f->nodes[3].health = NX_H_PENDING;
	for (m = 0; m < NX_M__COUNT; m++) {
		f->nodes[0].m.v[m] = NAN;
		f->nodes[1].m.v[m] = NAN;
		f->nodes[2].m.v[m] = NAN;
		f->nodes[3].m.v[m] = NAN;
	}
	f->nodes[0].m.v[NX_M_LOAD] = 0.5;
	f->nodes[0].m.v[NX_M_CPU] = 10;
	f->nodes[1].m.v[NX_M_LOAD] = 6;
	f->nodes[1].m.v[NX_M_CPU] = 95;
	f->nodes[3].m.v[NX_M_LOAD] = 4;
	f->nodes[0].last_change = 1000;
	f->nodes[1].last_change = 3000;
	f->nodes[2].last_change = 2000;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fleet *f = *state;

	fleet_free(f);          /* frees the nodes' vars too */
	free(f);
	return 0;
}

/* The names the filter selects, comma-separated, in fleet order. */
static const char *
sel(const struct fleet *f, const char *text)
{
	static char out[256];
	struct filter *flt;
	struct nx_err err;
	uint32_t ids[16];
	size_t n, i, len = 0;

	if (filter_parse(text, &flt, &err) != 0)
		fail_msg("'%s' does not parse: %s", text, err.msg);
	n = filter_select(flt, f, ids);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%s",
		    i ? "," : "", f->nodes[ids[i]].name);
	filter_free(flt);
	return out;
}

/* The error of text that must not parse. */
static const char *
bad(const char *text)
{
	static struct nx_err err;
	struct filter *flt = (struct filter *)1;

	err.msg[0] = '\0';
	assert_int_equal(filter_parse(text, &flt, &err), -1);
	assert_null(flt);
	return err.msg;
}

static void
test_empty_is_no_filter(void **state)
{
	struct fleet *f = *state;
	struct filter *flt = (struct filter *)1;
	struct nx_err err;

	assert_int_equal(filter_parse("   ", &flt, &err), 0);
	assert_null(flt);
	assert_true(filter_match(NULL, f, &f->nodes[0], NULL));
	assert_string_equal(sel(f, ""), "web01,web02,db01,Web03");
}

static void
test_regex_word(void **state)
{
	struct fleet *f = *state;

	/* Case-insensitive, searched anywhere in the name. */
	assert_string_equal(sel(f, "web"), "web01,web02,Web03");
	assert_string_equal(sel(f, "^WEB0[12]$"), "web01,web02");
	assert_string_equal(sel(f, "b0"), "web01,web02,db01,Web03");
	assert_string_equal(sel(f, "nomatch"), "");
}

static void
test_state_terms(void **state)
{
	struct fleet *f = *state;

	assert_string_equal(sel(f, "state:crit"), "web02");
	assert_string_equal(sel(f, "state:CRITICAL"), "web02");
	assert_string_equal(sel(f, "state:down,pend"), "db01,Web03");
	assert_string_equal(sel(f, "!state:ok"), "web02,db01,Web03");
	assert_string_equal(sel(f, "state:unrch"), "");
	/* A check row's state is the check's. */
	{
		struct filter *flt;
		struct nx_err err;

		assert_int_equal(filter_parse("state:warn", &flt, &err), 0);
		assert_false(filter_match(flt, f, &f->nodes[0], NULL));
		assert_true(filter_match(flt, f, &f->nodes[0], &f->checks[1]));
		assert_false(filter_match(flt, f, &f->nodes[0], &f->checks[0]));
		assert_true(filter_dynamic(flt));
		filter_free(flt);
	}
	assert_non_null(strstr(bad("state:u"), "column 7"));
	assert_non_null(strstr(bad("state:crit,bogus"), "'bogus' is not a state"));
}

static void
test_metric_terms(void **state)
{
	struct fleet *f = *state;

	assert_string_equal(sel(f, "load>4"), "web02");
	assert_string_equal(sel(f, "load>=4"), "web02,Web03");
	assert_string_equal(sel(f, "load<4"), "web01");
	assert_string_equal(sel(f, "load<=4"), "web01,Web03");
	assert_string_equal(sel(f, "load=6"), "web02");
	assert_string_equal(sel(f, "cpu>50"), "web02");
	/* An unknown value never matches, negated it always does. */
	assert_string_equal(sel(f, "mem>0"), "");
	assert_string_equal(sel(f, "!load>1"), "web01,db01");
	assert_non_null(strstr(bad("load>x"), "column 6: 'x' is not a number"));
	assert_non_null(strstr(bad("cpu>="), "is not a number"));
}

static void
test_group_check_name_target(void **state)
{
	struct fleet *f = *state;

	assert_string_equal(sel(f, "group:web"), "web01,web02");
	assert_string_equal(sel(f, "group:f*"), "web01,db01");
	assert_string_equal(sel(f, "check:disk"), "web01");
	assert_string_equal(sel(f, "check:p?ng"), "web01,web02");
	assert_string_equal(sel(f, "name:web[01-02]"), "web01,web02");
	assert_string_equal(sel(f, "@fra1"), "web01,db01");
	assert_string_equal(sel(f, "@web&@fra1"), "web01");
	assert_string_equal(sel(f, "@web,db01"), "web01,web02,db01");
	assert_string_equal(sel(f, "env=prod"), "db01");
	assert_string_equal(sel(f, "/^w/"), "web01,web02,Web03");
	assert_string_equal(sel(f, "!@web"), "db01,Web03");
	assert_non_null(strstr(bad("@web&"), "target '@web&'"));
	assert_non_null(strstr(bad("name:"), "wants a pattern"));
	assert_non_null(strstr(bad("group:"), "wants a name"));
}

static void
test_terms_and(void **state)
{
	struct fleet *f = *state;

	assert_string_equal(sel(f, "web !state:crit"), "web01,Web03");
	assert_string_equal(sel(f, "  group:web   load>1 "), "web02");
	assert_string_equal(sel(f, "@fra1 !db"), "web01");
}

static void
test_bad_regex_column(void **state)
{
	const char *msg = bad("web [");

	assert_non_null(strstr(msg, "column 6"));
	assert_non_null(strstr(msg, "bad regex '['"));
	assert_non_null(strstr(bad("!"), "'!' wants a term"));
	assert_non_null(strstr(bad("a(b"), "bad regex"));
}

/* target_match() on each node agrees with target_select() on the fleet. */
static void
test_target_match_agrees(void **state)
{
	static const char *const exprs[] = {
		"all", "web01", "web0[1-2]", "web*", "@web", "@fra1&@web",
		"@web,!web02", "env=prod", "/^W/", "!@db", "@f*", "db01,Web03",
		"@all", "&@web", "@web,!web01&@fra1",
	};
	struct fleet *f = *state;
	struct nx_target *t;
	struct nx_err err;
	uint32_t *ids, i;
	size_t n, k, j;

	for (k = 0; k < NX_ARRAY_LEN(exprs); k++) {
		t = target_parse(exprs[k], &err);
		if (t == NULL)
			fail_msg("'%s': %s", exprs[k], err.msg);
		target_select(t, f, &ids, &n);
		for (i = 0, j = 0; i < f->nnodes; i++) {
			bool in = j < n && ids[j] == i;

			if (in)
				j++;
			if (target_match(t, f, &f->nodes[i]) != in)
				fail_msg("'%s' on %s: target_match says %d",
				    exprs[k], f->nodes[i].name, !in);
		}
		free(ids);
		target_free(t);
	}
}

static const char *
order(const struct fleet *f, enum fleet_sort s, bool reverse)
{
	static char out[256];
	uint32_t ids[4] = { 0, 1, 2, 3 };
	size_t i, len = 0;

	{
		struct sort_cache sc = { 0 };

		sort_rows(f, &sc, ids, 4, s, reverse);
		sort_cache_free(&sc);
	}
	for (i = 0; i < 4; i++)
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%s",
		    i ? "," : "", f->nodes[ids[i]].name);
	return out;
}

static void
test_sort_orders(void **state)
{
	struct fleet *f = *state;
	enum fleet_sort s;

	assert_string_equal(order(f, SORT_NONE, false), "web01,web02,db01,Web03");
	assert_string_equal(order(f, SORT_NAME, false), "Web03,db01,web01,web02");
	assert_string_equal(order(f, SORT_NAME, true), "web02,web01,db01,Web03");
	/* Most severe first: DOWN, CRITICAL, PENDING, OK. */
	assert_string_equal(order(f, SORT_STATE, false), "db01,web02,Web03,web01");
	/* Highest first, unknown last even reversed. */
	assert_string_equal(order(f, SORT_LOAD, false), "web02,Web03,web01,db01");
	assert_string_equal(order(f, SORT_LOAD, true), "web01,Web03,web02,db01");
	/* Most recent change first; never changed last. */
	assert_string_equal(order(f, SORT_CHANGE, false), "web02,db01,web01,Web03");
	assert_int_equal(sort_from_name("lo", &s), 0);
	assert_int_equal(s, SORT_LOAD);
	assert_int_equal(sort_from_name("c", &s), -1);   /* cpu or change */
	assert_int_equal(sort_from_name("disk", &s), 0);
	assert_string_equal(sort_name(s), "disk");
	assert_int_equal(sort_from_name("bogus", &s), -1);
}

static void
test_health_rank(void **state)
{
	assert_true(health_rank(NX_H_DOWN) < health_rank(NX_H_UNREACHABLE));
	assert_true(health_rank(NX_H_UNREACHABLE) < health_rank(NX_H_CRITICAL));
	assert_true(health_rank(NX_H_CRITICAL) < health_rank(NX_H_UNKNOWN));
	assert_true(health_rank(NX_H_UNKNOWN) < health_rank(NX_H_WARNING));
	assert_true(health_rank(NX_H_WARNING) < health_rank(NX_H_PENDING));
	assert_true(health_rank(NX_H_PENDING) < health_rank(NX_H_OK));
}

static void
test_command_completion(void **state)
{
	char out[64];

	assert_int_equal(tui_complete("pro", out, sizeof out), 1);
	assert_string_equal(out, "problems");
	/* A command with an argument gets its space. */
	assert_int_equal(tui_complete("so", out, sizeof out), 1);
	assert_string_equal(out, "sort ");
	assert_int_equal(tui_complete("no", out, sizeof out), 1);
	assert_string_equal(out, "node ");
	/* Several: their common prefix. */
	assert_int_equal(tui_complete("q", out, sizeof out), 2);
	assert_string_equal(out, "q");
	assert_int_equal(tui_complete("", out, sizeof out), 17);
	assert_int_equal(tui_complete("col", out, sizeof out), 1);
	assert_string_equal(out, "columns ");
	assert_int_equal(tui_complete("zz", out, sizeof out), 0);
	assert_string_equal(out, "zz");
	/* The column of :sort. */
	assert_int_equal(tui_complete("sort lo", out, sizeof out), 1);
	assert_string_equal(out, "sort load");
	assert_int_equal(tui_complete("sort c", out, sizeof out), 2);
	assert_string_equal(out, "sort c");
	assert_int_equal(tui_complete("node web", out, sizeof out), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_is_no_filter, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_regex_word, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_terms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metric_terms, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_group_check_name_target,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_terms_and, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_regex_column, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sort_orders, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_target_match_agrees, setup,
		    teardown),
		cmocka_unit_test(test_health_rank),
		cmocka_unit_test(test_command_completion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
