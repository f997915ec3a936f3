/*
 * test_store.c - the state store on real SQLite files in a temporary
 * directory: creation, migrations, refusing foreign files without touching
 * them, group commit of bus events without gaps, a second process holding
 * the lock, disk full (max_page_count), the queue bound, and resuming seq.
 */
#include "config.h"

#include <sys/stat.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "engine.h"

#include "store_fixture.h"

static int
setup(void **state)
{
	return fix_setup_at(state, "nx-store", "a/b/state.db");
}

static int
teardown(void **state)
{
	return fix_teardown(state);
}

/* Publishes n result events on e's bus, as the monitor would. */
static void
publish(struct engine *e, uint32_t n)
{
	struct event ev;
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint32_t c = i % e->fleet.nchecks;

		memset(&ev, 0, sizeof ev);
		ev.time = 1700000000000 + i;
		ev.kind = i % 7 == 0 ? NX_EV_STATE : NX_EV_RESULT;
		ev.check = c;
		ev.node = e->fleet.checks[c].node;
		ev.state = (uint8_t)(i % 4);
		ev.state_type = NX_HARD;
		ev.attempt = 1;
		ev.text = "OK - load average: 0.42, 0.37, 0.30";
		bus_publish(&e->bus, &ev);
	}
}

static void
fast_opts(struct store_opts *o)
{
	store_opts_default(o);
	o->busy_timeout_ms = 200;
	o->retry_ms = 20;
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

static char *
q_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	char *v = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
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

/* Every seq from 1 to n is there exactly once. */
static void
assert_events_1_to_n(const char *path, int64_t n)
{
	sqlite3 *db = raw_open(path);

	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), n);
	assert_int_equal(q_int(db, "SELECT min(seq) FROM events"), n ? 1 : -1);
	assert_int_equal(q_int(db, "SELECT max(seq) FROM events"), n ? n : -1);
	sqlite3_close(db);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void
write_file(const char *path, const void *p, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, len, fp), len);
	fclose(fp);
}

static bool
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void
test_open_creates(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct store *s = store_open(f->path, &err);
	sqlite3 *db;
	char *mode;

	assert_non_null(s);
	assert_true(exists(f->path));
	assert_int_equal(store_last_seq(s), 0);
	assert_int_equal(store_close(s, &err), 0);
	db = raw_open(f->path);
	assert_int_equal(q_int(db, "PRAGMA application_id"), 0x4e585354);
	assert_int_equal(q_int(db, "PRAGMA user_version"), 4);
	mode = q_text(db, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	free(mode);
	assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "name IN ('events', 'audit', 'gaps', 'meta', 'snapshot', "
	    "'snapshot_downtimes')"), 6);
	sqlite3_close(db);
}

static void
test_migrations_idempotent(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct store *s;
	sqlite3 *db;
	char *schema1, *schema2;
	int i;

	assert_non_null(s = store_open(f->path, &err));
	assert_int_equal(store_close(s, &err), 0);
	db = raw_open(f->path);
	schema1 = q_text(db, "SELECT group_concat(sql, ';') FROM sqlite_master");
	sqlite3_close(db);
	for (i = 0; i < 3; i++) {
		assert_non_null(s = store_open(f->path, &err));
		assert_int_equal(store_close(s, &err), 0);
	}
	db = raw_open(f->path);
	schema2 = q_text(db, "SELECT group_concat(sql, ';') FROM sqlite_master");
	assert_int_equal(q_int(db, "PRAGMA user_version"), 4);
	sqlite3_close(db);
	assert_string_equal(schema1, schema2);
	free(schema1);
	free(schema2);
}

/*
 * A file of schema 3 (this code's, without the version 4 index): a reader
 * uses it as it is, without writing to it; the first writer upgrades it in
 * place (the index is there, user_version 4) and every event and audit
 * row stays; `kind = 'job'` then reads through the index.
 */
static void
test_migration_from_3(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct nx_audit_entry ent = { .who = "alice", .role = "admin",
		.action = "adhoc", .target = "n1", .args = "{\"job\":1}",
		.result = "started job 1" };
	enum store_fail fail;
	struct store *s;
	sqlite3 *db;
	sqlite3_stmt *st;
	char *plan, *before, *after;
	size_t n1, n2;
	bool index_used = false, sorted = false;

	assert_non_null(s = store_open(f->path, &err));
	assert_int_equal(audit_append(s, &ent, &err), 0);
	assert_int_equal(store_close(s, &err), 0);
	db = raw_open(f->path);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX events_kind; "
	    "PRAGMA user_version = 3; PRAGMA journal_mode = DELETE; "
	    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
	    "WHERE i < 1000) INSERT INTO events SELECT i, 1700000000000 + i, "
	    "CASE WHEN i % 100 = 0 THEN 'job' ELSE 'result' END, 'n1', "
	    "NULL, '{}' FROM c", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "name = 'events_kind'"), 0);
	sqlite3_close(db);

	/* A reader: the old file as it is, not a byte written. */
	before = read_file(f->path, &n1);
	assert_int_equal(store_open_db(f->path, true, 200, &db, &fail, &err),
	    0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events WHERE kind = "
	    "'job'"), 10);
	assert_int_equal(q_int(db, "PRAGMA user_version"), 3);
	sqlite3_close(db);
	after = read_file(f->path, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	free(before);
	free(after);

	/* The first writer upgrades it. */
	assert_non_null(s = store_open(f->path, &err));
	assert_int_equal(store_last_seq(s), 1000);
	assert_int_equal(store_close(s, &err), 0);
	db = raw_open(f->path);
	assert_int_equal(q_int(db, "PRAGMA user_version"), 4);
	assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'index' AND name = 'events_kind' AND tbl_name = "
	    "'events'"), 1);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 1000);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events WHERE kind = "
	    "'job'"), 10);
	assert_int_equal(q_int(db, "SELECT sum(seq) FROM events WHERE kind = "
	    "'job'"), 100 * (1 + 10) * 10 / 2);
	assert_int_equal(q_int(db, "SELECT count(*) FROM audit"), 1);
	plan = q_text(db, "PRAGMA integrity_check");
	assert_string_equal(plan, "ok");
	free(plan);
	/* What `nexusctl jobs` asks: a search of the index, no sort. */
	assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT "
	    "seq, time, node, \"check\", payload FROM events WHERE kind = "
	    "'job' ORDER BY seq", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 3);

		if (strstr(d, "events_kind") != NULL)
			index_used = true;
		if (strstr(d, "TEMP B-TREE") != NULL)
			sorted = true;
	}
	sqlite3_finalize(st);
	assert_true(index_used);
	assert_false(sorted);
	sqlite3_close(db);
}

/*
 * What an inventory reload removed is in no projection: a live engine's
 * leaves removed nodes and checks out; a stored one marks a node removed
 * by a `node` event "removed" in its tail (and its checks with it), back
 * with "added"; the digest skips them as an engine does.
 */
static void
test_projection_removed(void **state)
{
	struct fix *f = *state;
	struct engine *e = fix_engine(f, 3);
	struct snap_proj p, q;
	struct store_event_row r;
	struct node *n0 = &e->fleet.nodes[0];
	struct check *c1 = &e->fleet.checks[e->fleet.nodes[1].checks[0]];
	const char *c1_node = e->fleet.nodes[c1->node].name;
	uint64_t d_all, d_gone;
	size_t i;

	fleet_set_removed(&e->fleet, n0, true);
	fleet_set_check_removed(&e->fleet, c1, true);
	snap_proj_init(&p);
	snap_proj_from_engine(&p, e, 1);
	assert_true(p.nobjs > 0);
	for (i = 0; i < p.nobjs; i++) {
		assert_string_not_equal(p.objs[i].node, n0->name);
		assert_false(p.objs[i].check != NULL &&
		    strcmp(p.objs[i].node, c1_node) == 0 &&
		    strcmp(p.objs[i].check, c1->name) == 0);
	}
	snap_proj_free(&p);

	/* A stored projection: n1 and n2 with a check each. */
	snap_proj_init(&p);
	snap_proj_get(&p, "n1", NULL)->state = NX_HOST_DOWN;
	snap_proj_get(&p, "n1", "c")->has_result = true;
	snap_proj_get(&p, "n2", "c")->has_result = true;
	d_all = snap_proj_digest(&p);
	snap_proj_init(&q);
	snap_proj_get(&q, "n2", "c")->has_result = true;
	d_gone = snap_proj_digest(&q);
	snap_proj_free(&q);
	assert_int_not_equal(d_all, d_gone);

	memset(&r, 0, sizeof r);
	r.seq = 10;
	r.kind = "node";
	r.node = "n1";
	r.payload = "{\"output\":\"removed\"}";
	assert_int_equal(snap_proj_apply(&p, &r), 0);
	assert_true(snap_obj_removed(&p, snap_proj_find(&p, "n1", NULL)));
	assert_true(snap_obj_removed(&p, snap_proj_find(&p, "n1", "c")));
	assert_false(snap_obj_removed(&p, snap_proj_find(&p, "n2", "c")));
	assert_int_equal(snap_proj_digest(&p), d_gone);
	/* A node the snapshot never had: removed all the same. */
	r.node = "n3";
	assert_int_equal(snap_proj_apply(&p, &r), 0);
	assert_true(snap_obj_removed(&p, snap_proj_find(&p, "n3", NULL)));
	assert_int_equal(snap_proj_digest(&p), d_gone);
	/* Back. */
	r.node = "n1";
	r.payload = "{\"output\":\"added\"}";
	assert_int_equal(snap_proj_apply(&p, &r), 0);
	assert_false(snap_obj_removed(&p, snap_proj_find(&p, "n1", "c")));
	/* "changed" of a node never seen adds nothing. */
	r.node = "n4";
	r.payload = "{\"output\":\"changed\"}";
	assert_int_equal(snap_proj_apply(&p, &r), 0);
	assert_null(snap_proj_find(&p, "n4", NULL));
	snap_proj_free(&p);
}

/* A store refused: NULL, the expected failure, and no byte changed. */
static void
assert_refused(const char *path, enum store_fail want, const char *msg_part)
{
	struct store_opts o;
	struct nx_err err = { { 0 } };
	enum store_fail fail;
	char *before, *after, wal[256];
	size_t n1, n2;

	before = read_file(path, &n1);
	fast_opts(&o);
	assert_null(store_open_opts(path, &o, &fail, &err));
	assert_int_equal(fail, want);
	assert_non_null(strstr(err.msg, msg_part));
	assert_non_null(strstr(err.msg, path));
	after = read_file(path, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	snprintf(wal, sizeof wal, "%s-wal", path);
	assert_false(exists(wal));
	free(before);
	free(after);
}

static void
test_foreign_sqlite_refused(void **state)
{
	struct fix *f = *state;
	char path[160];
	sqlite3 *db;

	snprintf(path, sizeof path, "%s/other.db", f->dir);
	db = raw_open(path);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t "
	    "VALUES (1), (2)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_refused(path, STORE_FAIL_FOREIGN, "another application");

	/* Another application's id, no tables yet. */
	snprintf(path, sizeof path, "%s/other2.db", f->dir);
	db = raw_open(path);
	assert_int_equal(sqlite3_exec(db, "PRAGMA application_id = 1234; "
	    "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_refused(path, STORE_FAIL_FOREIGN, "another application");
}

static void
test_non_sqlite_refused(void **state)
{
	struct fix *f = *state;
	static const char text[] = "hosts:\n  web01: {}\n  web02: {}\n";
	unsigned char bin[4096];
	char path[160];
	size_t i;

	snprintf(path, sizeof path, "%s/inventory.yml", f->dir);
	write_file(path, text, sizeof text - 1);
	assert_refused(path, STORE_FAIL_FOREIGN, "not an SQLite database");

	/* Shorter than the SQLite header. */
	snprintf(path, sizeof path, "%s/short", f->dir);
	write_file(path, "SQLite", 6);
	assert_refused(path, STORE_FAIL_FOREIGN, "not an SQLite database");

	/* The right magic, then garbage: SQLite itself refuses it. */
	memset(bin, 0, sizeof bin);
	memcpy(bin, "SQLite format 3", 16);
	for (i = 16; i < sizeof bin; i++)
		bin[i] = (unsigned char)(nx_hash64(i) & 0xff);
	snprintf(path, sizeof path, "%s/garbage.db", f->dir);
	write_file(path, bin, sizeof bin);
	{
		struct store_opts o;
		struct nx_err err = { { 0 } };
		enum store_fail fail;
		char *after;
		size_t n;

		fast_opts(&o);
		assert_null(store_open_opts(path, &o, &fail, &err));
		assert_true(fail == STORE_FAIL_FOREIGN ||
		    fail == STORE_FAIL_CORRUPT);
		after = read_file(path, &n);
		assert_int_equal(n, sizeof bin);
		assert_memory_equal(after, bin, sizeof bin);
		free(after);
	}
}

/* One of our stores, cut in half (a crashed copy, a full disk at copy). */
static void
test_corrupt_store_refused(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct engine *e = fix_engine(f, 50);
	struct store *s;
	struct stat sb;

	assert_non_null(s = store_open(f->path, &err));
	store_subscribe(s, e);
	publish(e, 20000);
	assert_int_equal(store_close(s, &err), 0);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(truncate(f->path, sb.st_size / 2), 0);
	assert_refused(f->path, STORE_FAIL_CORRUPT, "malformed");
}

struct seen {
	uint64_t next;
	uint64_t n;
	bool bad;
	bool payload_ok;
};

static int
check_row(void *arg, const struct store_event_row *r)
{
	struct seen *s = arg;
	json_t *j;

	if (r->seq != s->next)
		s->bad = true;
	s->next = r->seq + 1;
	s->n++;
	if (r->node == NULL || r->time == 0 ||
	    (r->check == NULL) != (strcmp(r->kind, "host") == 0))
		s->bad = true;
	if ((j = json_loads(r->payload, 0, NULL)) == NULL ||
	    json_object_get(j, "state") == NULL ||
	    json_object_get(j, "seq") != NULL)
		s->bad = true;
	if (j != NULL && json_object_get(j, "output") != NULL)
		s->payload_ok = true;
	json_decref(j);
	return 0;
}

static void
test_bus_events_committed_in_order(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct engine *e = fix_engine(f, 200);
	struct store_stats st;
	struct store *s;
	struct seen seen = { .next = 1 };
	int round;

	assert_non_null(s = store_open(f->path, &err));
	store_subscribe(s, e);
	/* Real rounds through the monitor, then a burst. */
	for (round = 0; round < 5; round++)
		assert_int_equal(engine_round(e, 1000), 0);
	publish(e, 60000);
	assert_int_equal(store_flush(s, &err), 0);
	store_get_stats(s, &st);
	assert_int_equal(st.last_seq, e->bus.seq);
	assert_int_equal(st.events_committed, e->bus.seq);
	assert_int_equal(st.queue_depth, 0);
	assert_false(st.degraded);
	/* Grouped: a burst is a few transactions, not one per event. */
	assert_true(st.commits > 0 && st.commits < e->bus.seq / 100);
	assert_true(st.p99_commit_ms > 0);
	assert_int_equal(store_last_seq(s), e->bus.seq);
	assert_int_equal(store_events_since(s, 0, check_row, &seen, &err), 0);
	assert_false(seen.bad);
	assert_true(seen.payload_ok);
	assert_int_equal(seen.n, e->bus.seq);
	publish(e, 1234);
	assert_int_equal(store_close(s, &err), 0);
	assert_events_1_to_n(f->path, (int64_t)e->bus.seq);
}

static void
test_reopen_resumes_seq(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct engine *e = fix_engine(f, 20);
	struct store *s;

	assert_non_null(s = store_open(f->path, &err));
	store_subscribe(s, e);
	publish(e, 777);
	assert_int_equal(store_close(s, &err), 0);

	/* A new engine starts its bus at 0; the store moves it on. */
	e = fix_engine(f, 20);
	assert_int_equal(e->bus.seq, 0);
	assert_non_null(s = store_open(f->path, &err));
	assert_int_equal(store_last_seq(s), 777);
	store_subscribe(s, e);
	assert_int_equal(e->bus.seq, 777);
	publish(e, 223);
	assert_int_equal(store_close(s, &err), 0);
	assert_events_1_to_n(f->path, 1000);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_busy_commit(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct engine *e = fix_engine(f, 20);
	struct store_opts o;
	struct store_stats st;
	enum store_fail fail;
	struct store *s;
	sqlite3 *other;
	double t0;

	assert_non_null(s = store_open(f->path, &err));
	assert_int_equal(store_close(s, &err), 0);

	/* Opening waits for the write lock and then reports it. */
	other = raw_open(f->path);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL,
	    NULL), SQLITE_OK);
	fast_opts(&o);
	assert_null(store_open_opts(f->path, &o, &fail, &err));
	assert_int_equal(fail, STORE_FAIL_BUSY);
	assert_non_null(strstr(err.msg, "locked by another process"));
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);

	/* Taken while the store is open: commits degrade until it goes. */
	assert_non_null(s = store_open_opts(f->path, &o, &fail, &err));
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL,
	    NULL), SQLITE_OK);
	store_subscribe(s, e);
	publish(e, 5000);
	t0 = now_s();
	assert_int_equal(store_flush(s, &err), -1);
	assert_true(now_s() - t0 < 3.0);
	assert_non_null(strstr(err.msg, "locked by another process"));
	store_get_stats(s, &st);
	assert_true(st.degraded);
	assert_non_null(strstr(st.reason, "locked"));
	assert_int_equal(st.queue_depth, 5000);
	assert_int_equal(st.dropped, 0);

	/* The other process lets go: the writer catches up by itself. */
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	publish(e, 10);
	t0 = now_s();
	while (store_flush(s, &err) != 0)
		assert_true(now_s() - t0 < 5.0);
	store_get_stats(s, &st);
	assert_false(st.degraded);
	assert_int_equal(st.queue_depth, 0);
	assert_int_equal(store_close(s, &err), 0);
	assert_events_1_to_n(f->path, 5010);
}

static void
test_busy_open(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct store_opts o;
	enum store_fail fail;
	char path[160];
	sqlite3 *other;
	double t0;

	/* A new file, locked by another process before it is initialised. */
	snprintf(path, sizeof path, "%s/locked.db", f->dir);
	other = raw_open(path);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL,
	    NULL), SQLITE_OK);
	fast_opts(&o);
	t0 = now_s();
	assert_null(store_open_opts(path, &o, &fail, &err));
	assert_true(now_s() - t0 < 3.0);
	assert_int_equal(fail, STORE_FAIL_BUSY);
	assert_non_null(strstr(err.msg, "locked by another process"));
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
}

static void
test_disk_full_degrades_and_recovers(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct engine *e = fix_engine(f, 50);
	struct store_opts o;
	struct store_stats st;
	enum store_fail fail;
	struct store *s;
	sqlite3 *db;

	fast_opts(&o);
	o.max_pages = 40;
	assert_non_null(s = store_open_opts(f->path, &o, &fail, &err));
	store_subscribe(s, e);
	publish(e, 20000);
	assert_int_equal(store_flush(s, &err), -1);
	assert_non_null(strstr(err.msg, "full"));
	store_get_stats(s, &st);
	assert_true(st.degraded);
	assert_true(st.queue_depth > 0);
	assert_int_equal(st.dropped, 0);
	publish(e, 100);        /* still queued while degraded */

	assert_int_equal(store_set_max_pages(s, 1u << 30, &err), 0);
	assert_int_equal(store_flush(s, &err), 0);
	store_get_stats(s, &st);
	assert_false(st.degraded);
	assert_int_equal(st.queue_depth, 0);
	assert_int_equal(store_close(s, &err), 0);
	assert_events_1_to_n(f->path, 20100);
	db = raw_open(f->path);
	assert_int_equal(q_int(db, "SELECT count(*) FROM gaps"), 0);
	sqlite3_close(db);
}

static void
test_queue_bound(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct engine *e = fix_engine(f, 50);
	struct store_opts o;
	struct store_stats st;
	enum store_fail fail;
	struct store *s;
	sqlite3 *db;
	int64_t events, gap_first, gap_last;
	uint64_t dropped1;

	/* Healthy writer, small bound: the producer waits, nothing lost. */
	fast_opts(&o);
	o.queue_max_bytes = 256 * 1024;
	assert_non_null(s = store_open_opts(f->path, &o, &fail, &err));
	store_subscribe(s, e);
	publish(e, 100000);
	assert_int_equal(store_flush(s, &err), 0);
	store_get_stats(s, &st);
	assert_true(st.producer_waits > 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.events_committed, 100000);

	/* Degraded and full: refused loudly, and the gap is recorded. */
	assert_int_equal(store_set_max_pages(s, 1, &err), 0);
	publish(e, 20000);
	store_get_stats(s, &st);
	assert_true(st.degraded);
	assert_true(st.dropped > 0);
	assert_true(st.queue_bytes <= o.queue_max_bytes + 4096);
	assert_int_equal(store_set_max_pages(s, 1u << 30, &err), 0);
	assert_int_equal(store_flush(s, &err), 0);
	store_get_stats(s, &st);
	assert_false(st.degraded);
	dropped1 = st.dropped;
	/* Accepted again; then a second degraded spell: a second range. */
	publish(e, 1000);
	assert_int_equal(store_flush(s, &err), 0);
	assert_int_equal(store_set_max_pages(s, 1, &err), 0);
	publish(e, 20000);
	assert_int_equal(store_set_max_pages(s, 1u << 30, &err), 0);
	assert_int_equal(store_flush(s, &err), 0);
	store_get_stats(s, &st);
	assert_true(st.dropped > dropped1);
	assert_int_equal(store_close(s, &err), 0);
	db = raw_open(f->path);
	assert_int_equal(q_int(db, "SELECT count(*) FROM gaps"), 2);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events JOIN gaps ON "
	    "seq BETWEEN first_seq AND last_seq"), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events") +
	    q_int(db, "SELECT sum(last_seq - first_seq + 1) FROM gaps"),
	    141000);
	assert_int_equal(q_int(db, "SELECT sum(last_seq - first_seq + 1) FROM "
	    "gaps"), (int64_t)st.dropped);
	assert_int_equal(q_int(db, "SELECT max(last_seq) FROM gaps"), 141000);
	sqlite3_exec(db, "DELETE FROM gaps WHERE first_seq > 121000", NULL,
	    NULL, NULL);
	events = q_int(db, "SELECT count(*) FROM events WHERE seq <= 120000");
	gap_first = q_int(db, "SELECT min(first_seq) FROM gaps");
	gap_last = q_int(db, "SELECT max(last_seq) FROM gaps");
	assert_int_equal(q_int(db, "SELECT max(seq) FROM events WHERE seq <= "
	    "120000"), gap_first - 1);
	assert_int_equal(gap_last, 120000);
	assert_int_equal(events + (gap_last - gap_first + 1), 120000);
	assert_int_equal((uint64_t)(gap_last - gap_first + 1), dropped1);
	sqlite3_close(db);
}

/* A second writer on the same file is refused before it writes anything. */
static void
test_second_writer_refused(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct store_opts o;
	enum store_fail fail;
	struct store *s, *s2;

	fast_opts(&o);
	assert_non_null(s = store_open_opts(f->path, &o, &fail, &err));
	assert_null(s2 = store_open_opts(f->path, &o, &fail, &err));
	assert_int_equal(fail, STORE_FAIL_BUSY);
	assert_non_null(strstr(err.msg, "in use by another nexusctl process"));
	assert_int_equal(store_close(s, &err), 0);
	assert_false(store_in_use(f->path));
	assert_non_null(s = store_open_opts(f->path, &o, &fail, &err));
	assert_int_equal(store_close(s, &err), 0);
}

/* The digest of what engine e holds now. */
static uint64_t
engine_digest(const struct engine *e)
{
	struct snap_proj p;
	uint64_t d;

	snap_proj_init(&p);
	snap_proj_from_engine(&p, e, e->bus.seq);
	d = snap_proj_digest(&p);
	snap_proj_free(&p);
	return d;
}

/*
 * Drives e's monitor through `rounds` rounds of results: every check gets
 * a state from a pattern that makes SOFT and HARD problems, recoveries and
 * flapping; some problems are acknowledged; downtimes are scheduled.
 */
static void
drive(struct engine *e, int from, int to, nx_time t0)
{
	struct nx_err err;
	char out[64];
	int r;
	uint32_t c;

	for (r = from; r < to; r++) {
		for (c = 0; c < e->fleet.nchecks; c++) {
			struct check *ck = &e->fleet.checks[c];
			struct nx_result res;
			uint32_t k = (c * 7 + (uint32_t)r * (c % 5 + 1)) % 11;

			memset(&res, 0, sizeof res);
			res.state = k < 6 ? NX_OK : k < 8 ? NX_WARNING :
			    k < 10 ? NX_CRITICAL : NX_UNKNOWN;
			if (c % 13 == 0)        /* a flapper */
				res.state = r % 2 ? NX_CRITICAL : NX_OK;
			snprintf(out, sizeof out, "%s - round %d check %u",
			    nx_state_name(res.state), r, c);
			res.output = out;
			res.output_len = strlen(out);
			res.time = t0 + (nx_time)r * 10000 + c;
			mon_apply_result(e, ck, &res);
			if (r % 4 == 3 && ck->state != NX_OK && c % 3 == 0 &&
			    ck->ack.type == NX_ACK_NONE)
				mon_ack_check(e, ck, c % 2 ? NX_ACK_STICKY :
				    NX_ACK_NORMAL, "alice", "looking", c % 4 ?
				    0 : t0 + 3600000, &err);
		}
		if (r == 2) {
			assert_int_equal(mon_downtime_add(e, NX_NONE, 5,
			    t0 - 1000, t0 + 86400000, true, 0, "bob",
			    "maintenance", NULL, &err), 0);
			assert_int_equal(mon_downtime_add(e, 3, NX_NONE,
			    t0 + 86400000, t0 + 2 * 86400000, false, 60000,
			    "bob", "later", NULL, &err), 0);
		}
	}
}

static void
restore_case(struct fix *f, uint32_t snapshot_events, bool final_snapshot)
{
	struct nx_err err = { { 0 } };
	struct snap_restore_stats st;
	struct store_opts o;
	enum store_fail fail;
	struct engine *e = fix_engine(f, 40);
	nx_time t0 = nx_wallclock() - 200000;
	uint64_t live, seq;
	struct store *s;
	struct snap_proj p;
	struct store_stats sst;
	uint32_t acks = 0, c;
	int r;

	fast_opts(&o);
	o.snapshot_events = snapshot_events;
	assert_non_null(s = store_open_opts(f->path, &o, &fail, &err));
	store_subscribe(s, e);
	/*
	 * Commit between rounds, so that the next snapshots are incremental
	 * (written over the previous one) rather than complete.
	 */
	for (r = 0; r < 12; r++) {
		drive(e, r, r + 1, t0);
		assert_int_equal(store_flush(s, &err), 0);
	}
	for (c = 0; c < e->fleet.nchecks; c++)
		acks += e->fleet.checks[c].ack.type != NX_ACK_NONE;
	assert_true(acks > 0);
	assert_int_equal(e->mon.ndowntimes, 2);
	live = engine_digest(e);
	seq = e->bus.seq;
	if (final_snapshot)
		store_snapshot(s);
	assert_int_equal(store_flush(s, &err), 0);
	store_get_stats(s, &sst);
	if (snapshot_events != 0)
		assert_true(sst.snapshots_partial > 0);
	if (final_snapshot)
		assert_int_equal(sst.snapshot_seq, seq);
	assert_int_equal(store_close(s, &err), 0);

	/* The projection of the file equals the live engine ... */
	assert_non_null(s = store_open_reader(f->path, &fail, &err));
	snap_proj_init(&p);
	assert_int_equal(store_load_projection(s, &p, &err), 0);
	assert_int_equal(p.last_seq, seq);
	if (final_snapshot)
		assert_int_equal(p.tail, 0);
	else if (snapshot_events != 0)
		assert_true(p.snap_seq > 0 && p.tail > 0);
	assert_int_equal(snap_proj_digest(&p), live);
	snap_proj_free(&p);
	store_close(s, &err);

	/* ... and so does a fresh engine restored from it. */
	e = fix_engine(f, 40);
	assert_non_null(s = store_open_opts(f->path, &o, &fail, &err));
	assert_int_equal(store_restore(s, e, &st, &err), 0);
	assert_int_equal(st.unknown, 0);
	assert_int_equal(st.downtimes, 2);
	assert_int_equal(engine_digest(e), live);
	for (c = 0; c < e->fleet.nchecks; c++)
		acks -= e->fleet.checks[c].ack.type != NX_ACK_NONE;
	assert_int_equal(acks, 0);
	assert_true(e->fleet.checks[5].downtime_depth == 1);
	assert_non_null(mon_downtime_find(e, 2));
	assert_string_equal(mon_downtime_find(e, 2)->comment, "later");
	store_subscribe(s, e);
	assert_int_equal(e->bus.seq, seq);
	assert_int_equal(store_close(s, &err), 0);
}

static void
test_restore_tail_only(void **state)
{
	restore_case(*state, 0, false);
}

static void
test_restore_snapshot_and_tail(void **state)
{
	restore_case(*state, 700, false);
}

static void
test_restore_final_snapshot(void **state)
{
	restore_case(*state, 0, true);
}

/* Checks the fleet no longer has are counted and ignored. */
static void
test_restore_unknown_ignored(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct snap_restore_stats st;
	struct store_opts o;
	enum store_fail fail;
	struct engine *e = fix_engine(f, 30);
	struct store *s;
	uint32_t gone;

	fast_opts(&o);
	assert_non_null(s = store_open_opts(f->path, &o, &fail, &err));
	store_subscribe(s, e);
	drive(e, 0, 3, nx_wallclock() - 100000);
	store_snapshot(s);
	assert_int_equal(store_close(s, &err), 0);
	e = fix_engine(f, 20);
	gone = 0;
	assert_non_null(s = store_open_opts(f->path, &o, &fail, &err));
	assert_int_equal(store_restore(s, e, &st, &err), 0);
	gone = st.unknown;
	assert_true(gone > 0);
	assert_int_equal(st.checks, e->fleet.nchecks);
	assert_int_equal(store_close(s, &err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_second_writer_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_tail_only, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restore_snapshot_and_tail,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_final_snapshot,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_unknown_ignored,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_creates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrations_idempotent,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_3, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_projection_removed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_foreign_sqlite_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_sqlite_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_store_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bus_events_committed_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_resumes_seq, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_busy_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_busy_open, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_disk_full_degrades_and_recovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bound, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
