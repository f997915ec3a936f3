/*
 * test_history.c - metric history, retention and dead letters of the
 * state store, on real SQLite files: rollups against hand-computed
 * averages, minima and maxima; retention deleting exactly the expired rows
 * and never an event after the snapshot; sampling node metrics at most
 * every HIST_SAMPLE_MS; perfdata series; the migration from schema 2; dead
 * letters with their reason.
 */
#include "config.h"

#include <sys/stat.h>

#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "engine.h"

#define T0 1700002800000LL              /* the start of an hour */
#define MINUTE 60000LL
#define HOURS 3600000LL

#include "store_fixture.h"

static int
setup(void **state)
{
	return fix_setup_at(state, "nx-hist", "state.db");
}

static int
teardown(void **state)
{
	return fix_teardown(state);
}

static struct store *
open_store(struct fix *f, struct store_opts *o)
{
	struct store_opts def;
	struct nx_err err = { { 0 } };
	enum store_fail fail;
	struct store *s;

	if (o == NULL) {
		store_opts_default(&def);
		o = &def;
	}
	o->busy_timeout_ms = 500;
	s = store_open_opts(f->path, o, &fail, &err);
	if (s == NULL)
		fail_msg("%s", err.msg);
	return s;
}

static int64_t
q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	return db;
}

struct points {
	struct hist_point p[64];
	size_t n;
};

static int
collect(void *arg, const struct hist_point *p)
{
	struct points *ps = arg;

	assert_true(ps->n < NX_ARRAY_LEN(ps->p));
	ps->p[ps->n++] = *p;
	return 0;
}

static void
read_series(struct store *s, const char *node, const char *series,
    enum hist_tier tier, struct points *ps)
{
	struct nx_err err = { { 0 } };

	memset(ps, 0, sizeof *ps);
	if (store_metric_series(s, node, series, tier, 0, INT64_MAX, collect,
	    ps, &err) != 0)
		fail_msg("%s", err.msg);
}

static void
assert_point(const struct hist_point *p, nx_time t, double avg, double min,
    double max, uint64_t count)
{
	assert_int_equal(p->time, t);
	assert_true(fabs(p->avg - avg) < 1e-9);
	assert_true(fabs(p->min - min) < 1e-9);
	assert_true(fabs(p->max - max) < 1e-9);
	assert_int_equal(p->count, count);
}

/*
 * Minutes and hours against hand-computed figures, and the raw tier's
 * retention (1 h behind the newest sample, never ahead of the rollup).
 */
static void
test_rollup_and_metric_retention(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct points ps;
	struct store_stats st;
	struct store *s = open_store(f, NULL);
	size_t deleted;

	/* Minute 0: 1 2 3 6; minute 1: 10 20; minute 2: -5; minute 3: 100. */
	store_metric_sample(s, "web1", "cpu", T0, 1);
	store_metric_sample(s, "web1", "cpu", T0 + 15000, 2);
	store_metric_sample(s, "web1", "cpu", T0 + 30000, 3);
	store_metric_sample(s, "web1", "cpu", T0 + 45000, 6);
	store_metric_sample(s, "web1", "cpu", T0 + MINUTE + 1000, 10);
	store_metric_sample(s, "web1", "cpu", T0 + MINUTE + 59999, 20);
	store_metric_sample(s, "web1", "cpu", T0 + 2 * MINUTE + 5, -5);
	store_metric_sample(s, "web1", "cpu", T0 + 3 * MINUTE + 20000, 100);
	/* Another series in the same minutes must not mix in. */
	store_metric_sample(s, "web1", "mem", T0 + 1, 50);
	store_metric_sample(s, "web2", "cpu", T0 + 2, 1000);
	assert_int_equal(store_prune(s, &deleted, &err), 0);
	read_series(s, "web1", "cpu", HIST_1M, &ps);
	/* Minute 3 is not finished: it ended less than the grace ago. */
	assert_int_equal(ps.n, 3);
	assert_point(&ps.p[0], T0, 3, 1, 6, 4);
	assert_point(&ps.p[1], T0 + MINUTE, 15, 10, 20, 2);
	assert_point(&ps.p[2], T0 + 2 * MINUTE, -5, -5, -5, 1);
	read_series(s, "web1", "cpu", HIST_1H, &ps);
	assert_int_equal(ps.n, 0);
	read_series(s, "web1", "cpu", HIST_RAW, &ps);
	assert_int_equal(ps.n, 8);
	store_get_stats(s, &st);
	assert_int_equal(st.pruned_rows, 0);

	/* An hour and two minutes later: the first hour is finished. */
	store_metric_sample(s, "web1", "cpu", T0 + HOURS + 2 * MINUTE, 7);
	assert_int_equal(store_prune(s, &deleted, &err), 0);
	read_series(s, "web1", "cpu", HIST_1H, &ps);
	assert_int_equal(ps.n, 1);
	assert_point(&ps.p[0], T0, 137.0 / 8, -5, 100, 8);
	read_series(s, "web1", "cpu", HIST_1M, &ps);
	assert_int_equal(ps.n, 4);
	assert_point(&ps.p[3], T0 + 3 * MINUTE, 100, 100, 100, 1);
	read_series(s, "web2", "cpu", HIST_1H, &ps);
	assert_int_equal(ps.n, 1);
	assert_point(&ps.p[0], T0, 1000, 1000, 1000, 1);
	/*
	 * Raw kept 1 h behind the newest sample (T0 + 62 min): everything
	 * before T0 + 2 min goes - the 6 samples of web1/cpu in minutes 0
	 * and 1, web1/mem and web2/cpu: 8 rows (by the writer's own pass or
	 * store_prune's).
	 */
	store_get_stats(s, &st);
	assert_int_equal(st.pruned_rows, 8);
	read_series(s, "web1", "cpu", HIST_RAW, &ps);
	assert_int_equal(ps.n, 3);
	assert_int_equal(ps.p[0].time, T0 + 2 * MINUTE + 5);
	assert_true(ps.p[0].avg == -5);
	assert_int_equal(store_close(s, &err), 0);
}

/* Publishes one result event of check c at time t. */
static uint64_t
publish_at(struct engine *e, uint32_t c, nx_time t, const char *text)
{
	struct event ev;

	memset(&ev, 0, sizeof ev);
	ev.time = t;
	ev.kind = NX_EV_RESULT;
	ev.check = c;
	ev.node = e->fleet.checks[c].node;
	ev.state_type = NX_HARD;
	ev.attempt = 1;
	ev.text = text;
	return bus_publish(&e->bus, &ev);
}

/*
 * Events: 100, one an hour; retention 2 days behind the newest.  Only
 * events before the snapshot's seq may go, then exactly the expired ones.
 */
static void
test_event_retention(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct store_opts o;
	struct engine *e = fix_engine(f, 3);
	struct store *s;
	sqlite3 *db;
	size_t deleted;
	uint32_t i;

	store_opts_default(&o);
	o.event_retention_ms = 48 * HOURS;
	o.snapshot_ms = 0;
	o.snapshot_events = 0;
	s = open_store(f, &o);
	store_subscribe(s, e);
	for (i = 0; i < 30; i++)
		publish_at(e, i % e->fleet.nchecks, T0 + i * HOURS, "OK");
	store_snapshot(s);              /* covers seq 30 */
	for (; i < 100; i++)
		publish_at(e, i % e->fleet.nchecks, T0 + i * HOURS, "OK");
	assert_int_equal(store_prune(s, &deleted, &err), 0);
	db = raw_open(f->path);
	assert_int_equal(q_int(db, "SELECT value FROM meta WHERE key = "
	    "'snapshot_seq'"), 30);
	/* Expired: seq 1..51 (times up to T0 + 50 h); allowed: before 30. */
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 71);
	assert_int_equal(q_int(db, "SELECT min(seq) FROM events"), 30);
	assert_int_equal(q_int(db, "SELECT max(seq) FROM events"), 100);

	/* A snapshot at 100: now exactly the expired ones go. */
	store_snapshot(s);
	assert_int_equal(store_prune(s, &deleted, &err), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 49);
	assert_int_equal(q_int(db, "SELECT min(seq) FROM events"), 52);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events WHERE time < "
	    "(SELECT max(time) FROM events) - 48 * 3600000"), 0);
	sqlite3_close(db);
	assert_int_equal(store_close(s, &err), 0);

	/* The file's state still loads: snapshot plus tail. */
	s = open_store(f, &o);
	assert_int_equal(store_last_seq(s), 100);
	assert_int_equal(store_close(s, &err), 0);
}

/* Node metrics: sampled at most every HIST_SAMPLE_MS; perfdata series. */
static void
test_engine_samples(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct engine *e = fix_engine(f, 2);
	struct node *n = &e->fleet.nodes[0];
	struct points ps;
	struct store *s = open_store(f, NULL);
	char series[128];
	uint32_t c = 0;
	int m;

	store_subscribe(s, e);
	for (m = 0; m < NX_M__COUNT; m++)
		n->m.v[m] = m + 0.5;
	e->fleet.nodes[1].m.sampled = 0;        /* never sampled: nothing */
	n->m.sampled = T0;
	store_sample_metrics(s);
	n->m.v[NX_M_LOAD] = 2.5;
	n->m.sampled = T0 + HIST_SAMPLE_MS - 1;  /* too soon */
	store_sample_metrics(s);
	n->m.sampled = T0 + HIST_SAMPLE_MS;
	store_sample_metrics(s);
	n->m.v[NX_M_CPU] = NAN;                 /* unknown: not stored */
	n->m.sampled = T0 + 3 * HIST_SAMPLE_MS;
	store_sample_metrics(s);
	while (e->fleet.checks[c].node != 0)
		c++;
	publish_at(e, c, T0 + 5, "PING OK | rta=0.25ms;1;2 pl=0%;10;20 x=U");
	/* Sooner than HIST_SAMPLE_MS after the last: not a sample. */
	publish_at(e, c, T0 + 5 + HIST_SAMPLE_MS - 1, "PING OK | rta=9ms");
	publish_at(e, c, T0 + 5 + HIST_SAMPLE_MS, "PING OK | rta=0.5ms");
	assert_int_equal(store_flush(s, &err), 0);

	read_series(s, n->name, "load", HIST_RAW, &ps);
	assert_int_equal(ps.n, 3);
	assert_int_equal(ps.p[0].time, T0);
	assert_true(ps.p[0].avg == 0.5);
	assert_int_equal(ps.p[1].time, T0 + HIST_SAMPLE_MS);
	assert_true(ps.p[1].avg == 2.5);
	read_series(s, n->name, "cpu", HIST_RAW, &ps);
	assert_int_equal(ps.n, 2);
	read_series(s, n->name, "latency", HIST_RAW, &ps);
	assert_int_equal(ps.n, 3);
	assert_true(ps.p[0].avg == 4.5);
	read_series(s, e->fleet.nodes[1].name, "load", HIST_RAW, &ps);
	assert_int_equal(ps.n, 0);
	snprintf(series, sizeof series, "%s/rta", e->fleet.checks[c].name);
	read_series(s, n->name, series, HIST_RAW, &ps);
	assert_int_equal(ps.n, 2);
	assert_true(ps.p[0].avg == 0.25);
	assert_true(ps.p[1].avg == 0.5);
	snprintf(series, sizeof series, "%s/x", e->fleet.checks[c].name);
	read_series(s, n->name, series, HIST_RAW, &ps);
	assert_int_equal(ps.n, 0);
	assert_int_equal(store_close(s, &err), 0);
}

/*
 * A file of schema 2, made by this code without the version 3 and 4
 * objects, is migrated on open (two steps) and keeps its events.
 */
static void
test_migration_from_2(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct points ps;
	struct store *s = open_store(f, NULL);
	sqlite3 *db;

	assert_int_equal(store_close(s, &err), 0);
	db = raw_open(f->path);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE metric_series; "
	    "DROP TABLE metric_raw; DROP TABLE metric_1m; DROP TABLE metric_1h; "
	    "DROP TABLE dead_letters; DROP INDEX events_node; "
	    "DROP INDEX events_kind; PRAGMA user_version = 2; INSERT INTO events VALUES "
	    "(7, 1700000000000, 'result', 'n1', 'c1', '{}')", NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "name LIKE 'metric%'"), 0);
	sqlite3_close(db);

	s = open_store(f, NULL);
	assert_int_equal(store_last_seq(s), 7);
	assert_int_equal(store_dead_letter_count(s), 0);
	store_metric_sample(s, "n1", "cpu", T0, 42);
	assert_int_equal(store_flush(s, &err), 0);
	read_series(s, "n1", "cpu", HIST_RAW, &ps);
	assert_int_equal(ps.n, 1);
	assert_int_equal(store_close(s, &err), 0);
	db = raw_open(f->path);
	assert_int_equal(q_int(db, "PRAGMA user_version"), 4);
	assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "name IN ('metric_series', 'metric_raw', 'metric_1m', "
	    "'metric_1h', 'dead_letters', 'events_node', 'events_kind')"), 7);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 1);
	sqlite3_close(db);
}

/*
 * An event the file refuses (its seq is already there) is a dead letter
 * with SQLite's reason, and the events around it are committed; another
 * subscriber's failure is recorded with its own reason.
 */
static void
test_dead_letters(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct store_stats st;
	struct engine *e = fix_engine(f, 2);
	struct store *s = open_store(f, NULL);
	struct event ev;
	sqlite3 *db;
	sqlite3_stmt *q;
	uint32_t i;

	store_subscribe(s, e);
	for (i = 0; i < 5; i++)
		publish_at(e, 0, T0 + i, "OK");
	assert_int_equal(store_flush(s, &err), 0);
	db = raw_open(f->path);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO events VALUES (8, 0, "
	    "'result', 'x', 'y', '{}')", NULL, NULL, NULL), SQLITE_OK);
	for (; i < 10; i++)
		publish_at(e, 0, T0 + i, "OK");
	assert_int_equal(store_flush(s, &err), 0);
	store_get_stats(s, &st);
	assert_int_equal(st.dead_letters, 1);
	assert_int_equal(st.events_committed, 9);
	assert_int_equal(st.last_seq, 10);
	assert_int_equal(store_dead_letter_count(s), 1);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, time, kind, "
	    "node, payload, reason FROM dead_letters", -1, &q, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(q, 0), 8);
	assert_int_equal(sqlite3_column_int64(q, 1), T0 + 7);
	assert_string_equal(sqlite3_column_text(q, 2), "result");
	assert_string_equal(sqlite3_column_text(q, 3),
	    e->fleet.nodes[e->fleet.checks[0].node].name);
	assert_non_null(strstr((const char *)sqlite3_column_text(q, 5),
	    "UNIQUE constraint failed: events.seq"));
	sqlite3_finalize(q);

	memset(&ev, 0, sizeof ev);
	ev.seq = 9;
	ev.time = T0 + 8;
	ev.kind = NX_EV_RESULT;
	ev.check = 0;
	ev.node = e->fleet.checks[0].node;
	ev.text = "OK";
	store_dead_letter(s, &ev, "notify: smtp: connection refused");
	assert_int_equal(store_flush(s, &err), 0);
	assert_int_equal(store_dead_letter_count(s), 2);
	assert_int_equal(q_int(db, "SELECT count(*) FROM dead_letters WHERE "
	    "seq = 9 AND reason = 'notify: smtp: connection refused' AND "
	    "payload IS NOT NULL"), 1);
	sqlite3_close(db);
	store_get_stats(s, &st);
	assert_int_equal(st.dead_letters, 2);
	assert_int_equal(store_close(s, &err), 0);
}

/* The point read of one node while nothing else is in the way. */
static void
test_node_state(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct engine *e = fix_engine(f, 3);
	struct store *s = open_store(f, NULL);
	struct snap_proj p;
	const char *name = e->fleet.nodes[1].name;
	uint32_t c, n = 0;
	int i;

	store_subscribe(s, e);
	for (c = 0; c < e->fleet.nchecks; c++) {
		publish_at(e, c, T0 + c, "OK");
		n += e->fleet.checks[c].node == 1;
	}
	assert_true(n > 0);
	assert_int_equal(store_flush(s, &err), 0);
	snap_proj_init(&p);
	assert_int_equal(store_node_state(s, name, &p, &err), 0);
	assert_int_equal(p.nobjs, n);
	for (c = 0; c < p.nobjs; c++)
		assert_string_equal(p.objs[c].node, name);
	snap_proj_free(&p);

	/*
	 * Again after a snapshot and more events, on the statements
	 * prepared by the first read: the same projection as the uncached
	 * read on a connection of its own.
	 */
	store_snapshot(s);
	for (c = 0; c < e->fleet.nchecks; c++)
		publish_at(e, c, T0 + 100 + c, c % 2 ? "CRIT" : "OK");
	assert_int_equal(store_flush(s, &err), 0);
	for (i = 0; i < 2; i++) {
		struct snap_proj q;
		sqlite3 *db;

		snap_proj_init(&p);
		snap_proj_init(&q);
		assert_int_equal(store_node_state(s, name, &p, &err), 0);
		assert_int_equal(sqlite3_open_v2(f->path, &db,
		    SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(snap_proj_load_node(&q, db, name, &err), 0);
		sqlite3_close(db);
		assert_true(p.nobjs >= n);      /* and the node's own row */
		assert_int_equal(p.nobjs, q.nobjs);
		assert_true(p.snap_seq > 0);
		assert_int_equal(p.snap_seq, q.snap_seq);
		assert_true(snap_proj_digest(&p) == snap_proj_digest(&q));
		for (c = 0; c < p.nobjs; c++)
			assert_true(p.objs[c].check == NULL ||
			    p.objs[c].last_check >= T0 + 100);
		snap_proj_free(&p);
		snap_proj_free(&q);
	}
	assert_int_equal(store_close(s, &err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_rollup_and_metric_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_retention, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_engine_samples, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_2, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dead_letters, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_node_state, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
