/*
 * history.c - metric history in the state store: numeric series (node
 * metrics, perfdata of results) in three tiers, and the retention of the
 * history and of the event log.
 *
 * Everything here but hist_read() runs on the store's writer thread, on
 * its connection, inside the transaction of a group commit (store.c): raw
 * samples are inserted with the group's events, finished minutes are
 * rolled up from metric_raw into metric_1m (avg, min, max, count),
 * finished hours from metric_1m into metric_1h, and expired rows are
 * deleted at most HIST_DELETE_BATCH per table and pass, so no transaction
 * grows long.
 *
 * "Now" for retention and rollup is data time: the newest sample time
 * (metrics) and the newest event time (events) the file holds, not the
 * wall clock.  A process that was stopped for a week therefore does not
 * wipe its history at start, and synthetic timestamps (tests, the bench)
 * drive everything.
 *
 * Watermarks in meta make the rollup crash-safe: metric_1m_done is the
 * first minute not rolled up yet (every minute before it is in
 * metric_1m), metric_1h_done the same for hours; they are written in the
 * transaction that writes the rows.  Raw rows are deleted only behind
 * metric_1m_done and minute rows only behind metric_1h_done, so nothing is
 * lost before it is summarised.  A sample that arrives more than
 * HIST_GRACE_MS after its minute ended lands in metric_raw only.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "engine.h"

#define HIST_MINUTE 60000LL
#define HIST_HOUR 3600000LL
#define HIST_GRACE_MS 10000LL           /* a minute is finished this long after it ended */
#define HIST_ROLL_MAX (60 * HIST_MINUTE)        /* rolled up per pass, at most */

/* Series ids by "node\x1fname", open addressing (writer thread). */
struct hist_slot {
	char *key;
	int64_t id;
};

enum {
	HS_INS_RAW,
	HS_SERIES_INS,
	HS_SERIES_GET,
	HS_ROLL_M,
	HS_ROLL_H,
	HS_META_GET,
	HS_META_SET,
	HS_DEL_RAW,
	HS_DEL_M,
	HS_DEL_H,
	HS_DEL_EVENTS,
	HS_OLDEST_EVENT,
	HS__COUNT
};

static const char *const hist_sql[HS__COUNT] = {
	[HS_INS_RAW] = "INSERT OR REPLACE INTO metric_raw (series, time, value) "
	    "VALUES (?, ?, ?)",
	[HS_SERIES_INS] = "INSERT OR IGNORE INTO metric_series (node, name) "
	    "VALUES (?, ?)",
	[HS_SERIES_GET] = "SELECT id FROM metric_series WHERE node = ? AND "
	    "name = ?",
	[HS_ROLL_M] = "INSERT OR REPLACE INTO metric_1m (series, time, avg, "
	    "min, max, count) SELECT series, (time / 60000) * 60000, "
	    "avg(value), min(value), max(value), count(*) FROM metric_raw "
	    "WHERE time >= ?1 AND time < ?2 GROUP BY series, time / 60000",
	[HS_ROLL_H] = "INSERT OR REPLACE INTO metric_1h (series, time, avg, "
	    "min, max, count) SELECT series, (time / 3600000) * 3600000, "
	    "sum(avg * count) / sum(count), min(min), max(max), sum(count) "
	    "FROM metric_1m WHERE time >= ?1 AND time < ?2 "
	    "GROUP BY series, time / 3600000",
	[HS_META_GET] = "SELECT value FROM meta WHERE key = ?",
	[HS_META_SET] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
	[HS_DEL_RAW] = "DELETE FROM metric_raw WHERE (series, time) IN "
	    "(SELECT series, time FROM metric_raw WHERE time < ?1 "
	    "ORDER BY time LIMIT ?2)",
	[HS_DEL_M] = "DELETE FROM metric_1m WHERE (series, time) IN "
	    "(SELECT series, time FROM metric_1m WHERE time < ?1 "
	    "ORDER BY time LIMIT ?2)",
	[HS_DEL_H] = "DELETE FROM metric_1h WHERE (series, time) IN "
	    "(SELECT series, time FROM metric_1h WHERE time < ?1 "
	    "ORDER BY time LIMIT ?2)",
	/*
	 * The oldest ?3 events by seq, before the snapshot's seq, that are
	 * older than the cutoff: a bounded window, no index on time needed
	 * (times grow with seq).
	 */
	[HS_DEL_EVENTS] = "DELETE FROM events WHERE seq IN (SELECT seq FROM "
	    "events WHERE seq < ?1 ORDER BY seq LIMIT ?3) AND time < ?2",
	/* Whether anything is expired at all: one lookup, no scan. */
	[HS_OLDEST_EVENT] = "SELECT time FROM events ORDER BY seq LIMIT 1",
};

struct hist_writer {
	sqlite3 *db;
	sqlite3_stmt *st[HS__COUNT];
	struct hist_slot *slots;
	size_t nslots, used;            /* nslots a power of two */
	nx_time metric_now;             /* newest sample time; INT64_MIN none */
	nx_time done_m, done_h;         /* watermarks; INT64_MIN = not loaded */
	bool loaded;
};

/* A writer-side history state for db (the writer's connection). */
struct hist_writer *
hist_writer_new(sqlite3 *db)
{
	struct hist_writer *h = xcalloc(1, sizeof *h);

	h->db = db;
	h->nslots = 1024;
	h->slots = xcalloc(h->nslots, sizeof *h->slots);
	h->metric_now = INT64_MIN;
	return h;
}

void
hist_writer_free(struct hist_writer *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < HS__COUNT; i++)
		sqlite3_finalize(h->st[i]);
	for (i = 0; i < h->nslots; i++)
		free(h->slots[i].key);
	free(h->slots);
	free(h);
}

static void
hist_err(struct nx_err *err, sqlite3 *db, const char *doing)
{
	nx_err_set(err, "metric history: %s: %s", doing, sqlite3_errmsg(db));
}

/* The prepared statement i (prepared on first use, reset on return). */
static sqlite3_stmt *
hist_stmt(struct hist_writer *h, int i, struct nx_err *err)
{
	if (h->st[i] == NULL && sqlite3_prepare_v3(h->db, hist_sql[i], -1,
	    SQLITE_PREPARE_PERSISTENT, &h->st[i], NULL) != SQLITE_OK) {
		hist_err(err, h->db, "preparing");
		return NULL;
	}
	return h->st[i];
}

/* Runs a statement without rows; returns 0 or -1 with err. */
static int
hist_step(struct hist_writer *h, sqlite3_stmt *st, const char *doing,
    struct nx_err *err)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		hist_err(err, h->db, doing);
		return -1;
	}
	return 0;
}

/* meta[key] as an integer, or def when absent. */
static int
hist_meta_get(struct hist_writer *h, const char *key, int64_t def,
    int64_t *out, struct nx_err *err)
{
	sqlite3_stmt *st = hist_stmt(h, HS_META_GET, err);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : def;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		hist_err(err, h->db, "reading meta");
		return -1;
	}
	return 0;
}

static int
hist_meta_set(struct hist_writer *h, const char *key, int64_t v,
    struct nx_err *err)
{
	sqlite3_stmt *st = hist_stmt(h, HS_META_SET, err);
	char buf[32];

	if (st == NULL)
		return -1;
	snprintf(buf, sizeof buf, "%lld", (long long)v);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, buf, -1, SQLITE_TRANSIENT);
	return hist_step(h, st, "writing meta", err);
}

/* Loads the watermarks and the newest sample time once. */
static int
hist_load(struct hist_writer *h, struct nx_err *err)
{
	sqlite3_stmt *st;

	if (h->loaded)
		return 0;
	if (hist_meta_get(h, "metric_1m_done", INT64_MIN, &h->done_m,
	    err) != 0 || hist_meta_get(h, "metric_1h_done", INT64_MIN,
	    &h->done_h, err) != 0)
		return -1;
	if (sqlite3_prepare_v2(h->db, "SELECT max(time) FROM metric_raw", -1,
	    &st, NULL) != SQLITE_OK) {
		hist_err(err, h->db, "reading the newest sample");
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		h->metric_now = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	h->loaded = true;
	return 0;
}

static uint64_t
hist_hash(const char *s, size_t len)
{
	uint64_t x = 1469598103934665603ULL;

	while (len-- > 0)
		x = (x ^ (uint8_t)*s++) * 1099511628211ULL;
	return x;
}

/* The id of series (node, name), created when new. */
static int
hist_series_id(struct hist_writer *h, const char *node, size_t nlen,
    const char *name, size_t mlen, int64_t *id, struct nx_err *err)
{
	char key[512];
	size_t klen, i, mask;
	sqlite3_stmt *st;
	int rc;

	if (nlen + mlen + 2 > sizeof key) {
		nx_err_set(err, "metric history: series name too long");
		return -1;
	}
	memcpy(key, node, nlen);
	key[nlen] = '\x1f';
	memcpy(key + nlen + 1, name, mlen);
	klen = nlen + 1 + mlen;
	key[klen] = '\0';
	mask = h->nslots - 1;
	for (i = hist_hash(key, klen) & mask; h->slots[i].key != NULL;
	    i = (i + 1) & mask) {
		if (strcmp(h->slots[i].key, key) == 0) {
			*id = h->slots[i].id;
			return 0;
		}
	}
	if ((st = hist_stmt(h, HS_SERIES_INS, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, node, (int)nlen, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, (int)mlen, SQLITE_STATIC);
	if (hist_step(h, st, "adding a series", err) != 0)
		return -1;
	if ((st = hist_stmt(h, HS_SERIES_GET, err)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, node, (int)nlen, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, (int)mlen, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		hist_err(err, h->db, "reading a series");
		return -1;
	}
	/*
	 * Cache it.  A rolled-back transaction may leave an id cached whose
	 * row is gone; INSERT OR IGNORE recreates it under a new id, so the
	 * cache is dropped on any failure (hist_writer_reset).
	 */
	if (h->used * 2 >= h->nslots) {
		struct hist_slot *old = h->slots;
		size_t n = h->nslots, j;

		h->nslots *= 2;
		h->slots = xcalloc(h->nslots, sizeof *h->slots);
		mask = h->nslots - 1;
		for (j = 0; j < n; j++) {
			if (old[j].key == NULL)
				continue;
			for (i = hist_hash(old[j].key, strlen(old[j].key)) &
			    mask; h->slots[i].key != NULL; i = (i + 1) & mask)
				;
			h->slots[i] = old[j];
		}
		free(old);
	}
	for (i = hist_hash(key, klen) & mask; h->slots[i].key != NULL;
	    i = (i + 1) & mask)
		;
	h->slots[i].key = xstrdup(key);
	h->slots[i].id = *id;
	h->used++;
	return 0;
}

/*
 * Forgets what the writer cached (series ids, watermarks): called after a
 * transaction rolled back, as the file no longer has what it wrote.
 */
void
hist_writer_reset(struct hist_writer *h)
{
	size_t i;

	for (i = 0; i < h->nslots; i++) {
		free(h->slots[i].key);
		h->slots[i].key = NULL;
	}
	h->used = 0;
	h->loaded = false;
	h->metric_now = INT64_MIN;
}

/* Inserts one raw sample (inside the caller's transaction). */
int
hist_insert(struct hist_writer *h, const char *node, size_t nlen,
    const char *name, size_t mlen, nx_time t, double v, struct nx_err *err)
{
	sqlite3_stmt *st;
	int64_t id;

	if (hist_load(h, err) != 0 ||
	    hist_series_id(h, node, nlen, name, mlen, &id, err) != 0 ||
	    (st = hist_stmt(h, HS_INS_RAW, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, t);
	sqlite3_bind_double(st, 3, v);
	if (hist_step(h, st, "inserting a sample", err) != 0)
		return -1;
	if (h->done_m == INT64_MIN) {
		/* The first sample of the file starts the tiers. */
		h->done_m = t - ((t % HIST_MINUTE) + HIST_MINUTE) % HIST_MINUTE;
		h->done_h = h->done_m - ((h->done_m % HIST_HOUR) + HIST_HOUR) %
		    HIST_HOUR;
		if (hist_meta_set(h, "metric_1m_done", h->done_m, err) != 0 ||
		    hist_meta_set(h, "metric_1h_done", h->done_h, err) != 0)
			return -1;
	}
	if (t > h->metric_now)
		h->metric_now = t;
	return 0;
}

static nx_time
hist_floor(nx_time t, nx_time unit)
{
	return t - ((t % unit) + unit) % unit;
}

/*
 * Rolls up every finished minute (ended more than HIST_GRACE_MS before the
 * newest sample) into metric_1m and every hour whose minutes are all
 * rolled up into metric_1h; at most HIST_ROLL_MAX of raw time per call.
 * Inside the caller's transaction.  *rows counts the tier rows written.
 * Returns 0, 1 when finished minutes are left for another call (the
 * cap), or -1 with err.
 */
int
hist_rollup(struct hist_writer *h, uint64_t *rows, struct nx_err *err)
{
	sqlite3_stmt *st;
	nx_time lim;
	int more = 0;

	if (hist_load(h, err) != 0)
		return -1;
	if (h->done_m == INT64_MIN || h->metric_now == INT64_MIN)
		return 0;
	lim = hist_floor(h->metric_now - HIST_GRACE_MS, HIST_MINUTE);
	if (lim > h->done_m + HIST_ROLL_MAX) {
		lim = h->done_m + HIST_ROLL_MAX;
		more = 1;
	}
	if (lim > h->done_m) {
		if ((st = hist_stmt(h, HS_ROLL_M, err)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, h->done_m);
		sqlite3_bind_int64(st, 2, lim);
		if (hist_step(h, st, "rolling up minutes", err) != 0)
			return -1;
		*rows += (uint64_t)sqlite3_changes(h->db);
		if (hist_meta_set(h, "metric_1m_done", lim, err) != 0)
			return -1;
		h->done_m = lim;
	}
	lim = hist_floor(h->done_m, HIST_HOUR);
	if (lim > h->done_h) {
		if ((st = hist_stmt(h, HS_ROLL_H, err)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, h->done_h);
		sqlite3_bind_int64(st, 2, lim);
		if (hist_step(h, st, "rolling up hours", err) != 0)
			return -1;
		*rows += (uint64_t)sqlite3_changes(h->db);
		if (hist_meta_set(h, "metric_1h_done", lim, err) != 0)
			return -1;
		h->done_h = lim;
	}
	return more;
}

static int
hist_delete(struct hist_writer *h, int which, nx_time cutoff, int64_t arg3,
    size_t batch, size_t *deleted, struct nx_err *err)
{
	sqlite3_stmt *st = hist_stmt(h, which, err);

	if (st == NULL)
		return -1;
	if (which == HS_DEL_EVENTS) {
		sqlite3_bind_int64(st, 1, arg3);
		sqlite3_bind_int64(st, 2, cutoff);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)batch);
	} else {
		sqlite3_bind_int64(st, 1, cutoff);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)batch);
	}
	if (hist_step(h, st, "deleting expired rows", err) != 0)
		return -1;
	*deleted += (size_t)sqlite3_changes(h->db);
	return 0;
}

/*
 * One retention pass inside the caller's transaction: deletes at most
 * `batch` expired rows from each of metric_raw, metric_1m, metric_1h and
 * events.  Events go only when older than events_ms before event_now and
 * before the last snapshot's seq (a restore replays what follows it; the
 * newest event stays, it carries the seq a restart continues from).
 * Metric rows go only behind the rollup watermarks.  *more is set when a
 * table had a full batch (call again soon).  Retentions of 0 keep all.
 */
int
hist_retain(struct hist_writer *h, const struct store_retention *r,
    nx_time event_now, size_t batch, size_t *deleted, bool *more,
    struct nx_err *err)
{
	sqlite3_stmt *st = NULL;
	nx_time cut;
	int64_t snap;
	size_t n;
	int rc = SQLITE_DONE;

	*more = false;
	if (hist_load(h, err) != 0)
		return -1;
	if (h->metric_now != INT64_MIN && h->done_m != INT64_MIN) {
		if (r->metric_raw_ms != 0) {
			cut = h->metric_now - (nx_time)r->metric_raw_ms;
			if (cut > h->done_m)
				cut = h->done_m;
			n = 0;
			if (hist_delete(h, HS_DEL_RAW, cut, 0, batch, &n,
			    err) != 0)
				return -1;
			*more |= n == batch;
			*deleted += n;
		}
		if (r->metric_1m_ms != 0) {
			cut = h->metric_now - (nx_time)r->metric_1m_ms;
			if (cut > h->done_h)
				cut = h->done_h;
			n = 0;
			if (hist_delete(h, HS_DEL_M, cut, 0, batch, &n,
			    err) != 0)
				return -1;
			*more |= n == batch;
			*deleted += n;
		}
		if (r->metric_1h_ms != 0) {
			n = 0;
			if (hist_delete(h, HS_DEL_H, h->metric_now -
			    (nx_time)r->metric_1h_ms, 0, batch, &n, err) != 0)
				return -1;
			*more |= n == batch;
			*deleted += n;
		}
	}
	if (r->events_ms != 0 && event_now != INT64_MIN) {
		if (hist_meta_get(h, "snapshot_seq", 0, &snap, err) != 0)
			return -1;
		cut = event_now - (nx_time)r->events_ms;
		if (snap > 1) {
			/* The oldest not expired: nothing is (one lookup). */
			if ((st = hist_stmt(h, HS_OLDEST_EVENT, err)) == NULL)
				return -1;
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) >=
			    cut)
				snap = 0;
			sqlite3_reset(st);
			if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
				hist_err(err, h->db, "reading the oldest event");
				return -1;
			}
		}
		if (snap > 1) {
			n = 0;
			if (hist_delete(h, HS_DEL_EVENTS, cut, snap, batch, &n,
			    err) != 0)
				return -1;
			*more |= n == batch;
			*deleted += n;
		}
	}
	return 0;
}

/*
 * Reads one series of one tier between from (inclusive) and to
 * (exclusive) on db (a reader connection), calling fn for every point in
 * time order until it returns non-zero (returned).  Raw points have
 * min = max = avg and count 1.  Returns -1 with err on a read error.
 */
int
hist_read(sqlite3 *db, const char *node, const char *series,
    enum hist_tier tier, nx_time from, nx_time to, hist_point_fn fn,
    void *arg, struct nx_err *err)
{
	static const char *const sql[] = {
		[HIST_RAW] = "SELECT r.time, r.value, r.value, r.value, 1 "
		    "FROM metric_series s JOIN metric_raw r ON r.series = s.id "
		    "WHERE s.node = ?1 AND s.name = ?2 AND r.time >= ?3 AND "
		    "r.time < ?4 ORDER BY r.time",
		[HIST_1M] = "SELECT r.time, r.avg, r.min, r.max, r.count "
		    "FROM metric_series s JOIN metric_1m r ON r.series = s.id "
		    "WHERE s.node = ?1 AND s.name = ?2 AND r.time >= ?3 AND "
		    "r.time < ?4 ORDER BY r.time",
		[HIST_1H] = "SELECT r.time, r.avg, r.min, r.max, r.count "
		    "FROM metric_series s JOIN metric_1h r ON r.series = s.id "
		    "WHERE s.node = ?1 AND s.name = ?2 AND r.time >= ?3 AND "
		    "r.time < ?4 ORDER BY r.time",
	};
	struct hist_point p;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if ((unsigned)tier >= NX_ARRAY_LEN(sql)) {
		nx_err_set(err, "metric history: no such tier %d", (int)tier);
		return -1;
	}
	if (sqlite3_prepare_v2(db, sql[tier], -1, &st, NULL) != SQLITE_OK) {
		hist_err(err, db, "reading a series");
		return -1;
	}
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, series, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, from);
	sqlite3_bind_int64(st, 4, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		p.time = sqlite3_column_int64(st, 0);
		p.avg = sqlite3_column_double(st, 1);
		p.min = sqlite3_column_double(st, 2);
		p.max = sqlite3_column_double(st, 3);
		p.count = (uint64_t)sqlite3_column_int64(st, 4);
		if ((ret = fn(arg, &p)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		hist_err(err, db, "reading a series");
		ret = -1;
	}
	sqlite3_finalize(st);
	return ret;
}

/* The name of metric m as a history series ("load", "cpu", ...). */
const char *
hist_metric_name(enum nx_metric m)
{
	static const char *const names[NX_M__COUNT] = {
		[NX_M_LOAD] = "load",
		[NX_M_CPU] = "cpu",
		[NX_M_MEM] = "mem",
		[NX_M_DISK] = "disk",
		[NX_M_LATENCY] = "latency",
	};

	return (unsigned)m < NX_M__COUNT ? names[m] : "?";
}
