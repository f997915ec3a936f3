/*
 * test_marks.c - the console's pure models: the marks set (tui/marks.c)
 * and the jobs view's cells (tui/joblist.c).
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

/* ---- marks --------------------------------------------------------- */

static void
test_marks_toggle(void **state)
{
	struct marks m;
	struct problem host = { 3, NX_NONE };
	uint64_t keys[4];

	(void)state;
	marks_init(&m);
	assert_false(marks_has(&m, 7));
	assert_int_equal(marks_count(&m), 0);
	assert_true(marks_toggle(&m, 7));
	assert_true(marks_has(&m, 7));
	assert_true(marks_toggle(&m, 0));       /* key 0 is a key like any */
	assert_true(marks_toggle(&m, MARKS_PROBLEM(&host)));
	assert_int_equal(marks_count(&m), 3);
	assert_false(marks_toggle(&m, 7));
	assert_false(marks_has(&m, 7));
	assert_int_equal(marks_count(&m), 2);
	assert_int_equal(marks_keys(&m, keys), 2);
	assert_int_equal(keys[0], 0);
	assert_int_equal(keys[1], ((uint64_t)3 << 32) | 0xffffffffu);
	marks_clear(&m);
	assert_int_equal(marks_count(&m), 0);
	assert_false(marks_has(&m, 0));
	assert_false(m.have_anchor);
	marks_free(&m);
}

/*
 * Many keys, then every other one removed: backward-shift deletion must
 * keep every remaining key findable (a wrong shift loses keys that
 * collided), across growth of the table.
 */
static void
test_marks_many(void **state)
{
	struct marks m;
	uint64_t i, *keys;
	const uint64_t n = 50000;

	(void)state;
	marks_init(&m);
	for (i = 0; i < n; i++)
		marks_set(&m, i * 7919, true);
	assert_int_equal(marks_count(&m), n);
	marks_set(&m, 7919, true);              /* twice: no change */
	assert_int_equal(marks_count(&m), n);
	for (i = 0; i < n; i += 2)
		marks_set(&m, i * 7919, false);
	assert_int_equal(marks_count(&m), n / 2);
	for (i = 0; i < n; i++)
		assert_int_equal(marks_has(&m, i * 7919), i % 2 == 1);
	keys = xcalloc(marks_count(&m), sizeof *keys);
	assert_int_equal(marks_keys(&m, keys), n / 2);
	for (i = 1; i < n / 2; i++)
		assert_true(keys[i - 1] < keys[i]);
	free(keys);
	marks_free(&m);
}

static uint64_t
key_at(void *arg, size_t i)
{
	return ((const uint64_t *)arg)[i];
}

/* The range key: anchor to current, either direction; no anchor: one row. */
static void
test_marks_range(void **state)
{
	/* A view's rows in display order (sorted by something). */
	uint64_t rows[] = { 40, 10, 30, 20, 50, 60 };
	struct marks m;

	(void)state;
	marks_init(&m);
	/* No anchor: only the current row. */
	assert_int_equal(marks_range(&m, key_at, rows, 6, 2), 1);
	assert_true(marks_has(&m, 30));
	marks_clear(&m);

	marks_toggle(&m, 10);                   /* Space on row 1 */
	assert_int_equal(marks_range(&m, key_at, rows, 6, 4), 3);
	assert_true(marks_has(&m, 10) && marks_has(&m, 30) &&
	    marks_has(&m, 20) && marks_has(&m, 50));
	assert_false(marks_has(&m, 40) || marks_has(&m, 60));
	/* The current row is the new anchor: upwards to row 0. */
	assert_int_equal(marks_range(&m, key_at, rows, 6, 0), 1);
	assert_int_equal(marks_count(&m), 5);
	assert_false(marks_has(&m, 60));
	/* An anchor filtered out of the view: only the current row. */
	marks_clear(&m);
	marks_toggle(&m, 99);
	assert_int_equal(marks_range(&m, key_at, rows, 6, 5), 1);
	assert_int_equal(marks_count(&m), 2);
	/* Out of range: nothing. */
	assert_int_equal(marks_range(&m, key_at, rows, 6, 6), 0);
	marks_free(&m);
}

/* ---- joblist --------------------------------------------------------- */

static void
test_joblist_cells(void **state)
{
	struct fleet f;
	struct job j;
	struct job_host hosts[4];
	struct nx_action act = { .name = (char *)"restart",
	    .kind = NX_ACTION_SSH, .command = (char *)"systemctl restart x" };
	char buf[128], *list;
	uint32_t i;

	(void)state;
	fleet_init(&f);
	fleet_add_node(&f, "web01", "10.0.0.1", NULL);
	fleet_add_node(&f, "web02", "10.0.0.2", NULL);
	fleet_add_node(&f, "web03", "10.0.0.3", NULL);
	fleet_add_node(&f, "db1", "10.0.0.4", NULL);
	memset(&j, 0, sizeof j);
	memset(hosts, 0, sizeof hosts);
	for (i = 0; i < 4; i++)
		hosts[i].node = i;
	j.hosts = hosts;
	j.nhosts = 4;

	assert_string_equal(joblist_action(&j), "(ad-hoc)");
	j.action = &act;
	assert_string_equal(joblist_action(&j), "restart");

	joblist_counts(&j, buf, sizeof buf);
	assert_string_equal(buf, "4 hosts");
	j.nok = 2;
	j.nrunning = 1;
	j.nqueued = 1;
	joblist_counts(&j, buf, sizeof buf);
	assert_string_equal(buf, "2 ok 1 running 1 queued of 4");
	j.nrunning = j.nqueued = 0;
	j.nfailed = 1;
	j.nerror = 1;
	joblist_counts(&j, buf, sizeof buf);
	assert_string_equal(buf, "2 ok 1 failed 1 error");
	joblist_counts(&j, buf, 8);             /* cut, still terminated */
	assert_int_equal(strlen(buf), 7);

	assert_string_equal(joblist_outcome(&j), "");
	j.outcome = JOB_OUTCOME_RECOVERED;
	assert_string_equal(joblist_outcome(&j), "recovered");
	j.outcome = JOB_OUTCOME_NOT_RECOVERED;
	assert_string_equal(joblist_outcome(&j), "not recovered");

	list = joblist_targets(&f, &j);
	assert_non_null(strstr(list, "web[01-03]"));
	assert_non_null(strstr(list, "db1"));
	free(list);

	joblist_proposal(NULL, &j, buf, sizeof buf);
	assert_string_equal(buf, "ssh command: systemctl restart x");
	j.inputs = json_pack("{s:s}", "unit", "nginx");
	joblist_proposal(NULL, &j, buf, sizeof buf);
	assert_string_equal(buf, "ssh command: systemctl restart x  inputs "
	    "{\"unit\":\"nginx\"}");
	json_decref(j.inputs);
	fleet_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks_toggle),
		cmocka_unit_test(test_marks_many),
		cmocka_unit_test(test_marks_range),
		cmocka_unit_test(test_joblist_cells),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
