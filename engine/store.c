/*
 * store.c - the state store: one SQLite file in WAL mode.
 *
 * The loop thread never touches the disk.  store_subscribe() puts a bus
 * subscriber on the engine that serialises every event (event_to_json) into
 * an in-memory batch; one writer thread swaps that batch out and commits it
 * in a single `BEGIN IMMEDIATE` transaction ("group commit"), at most
 * group_ms after the first event of the batch arrived or as soon as
 * group_events are queued.  Readers (store_last_seq, store_events_since,
 * `nexusctl audit verify`) use their own connections.
 *
 * The subscriber never drops an event silently.  The queue is bounded by
 * queue_max_bytes:
 *  - while the writer is healthy and the bound is reached, the loop thread
 *    waits (briefly: the writer drains at > 250,000 events/s) until the
 *    queue is half empty - producers slow down, nothing is lost;
 *  - while the store is degraded (a commit failed: disk full, database
 *    locked by another process, I/O error) events stay queued in memory up
 *    to the bound and the writer retries every retry_ms; past the bound the
 *    loop must not freeze for an unbounded time, so new events are refused,
 *    counted in stats.dropped, and the missing range is written to the
 *    `gaps` table as soon as commits succeed again.  A gap is therefore
 *    always explained in the file itself.
 *
 * Durability: journal_mode=WAL, synchronous=NORMAL.  A committed group
 * survives the process being killed (kill -9) at any moment; a power loss
 * may lose the last groups, never corrupt the file.  Audit rows
 * (store_run_sync with durable = true) commit with synchronous=FULL, and
 * opts.sync_full makes every group fsync (one fsync per group, so group
 * commit keeps it cheap).
 *
 * Threads: the loop thread calls the subscriber, store_flush, store_close,
 * the readers and store_run_sync; the writer thread owns s->db.  Everything
 * shared is under s->mu.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "engine.h"

#define STORE_APP_ID 0x4e585354         /* "NXST" in PRAGMA application_id */
#define STORE_LAT_RING 1024
#define STORE_NOLEN UINT32_MAX
#define STORE_KEEP_BYTES ((size_t)4 << 20)  /* a batch buffer kept between groups */

/*
 * The schema, one step per version: step i brings user_version from i to
 * i + 1 inside one transaction.  Never edit a released step; append one.
 */
static const char *const store_migrations[] = {
	/* 0 -> 1: events, audit chain, gaps, meta. */
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY,"            /* the bus seq */
	"  time INTEGER NOT NULL,"              /* ms since the epoch */
	"  kind TEXT NOT NULL,"
	"  node TEXT,"
	"  \"check\" TEXT,"
	"  payload TEXT NOT NULL"               /* JSON: the other fields */
	");"
	"CREATE TABLE audit ("
	"  seq INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  who TEXT NOT NULL,"
	"  role TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  args TEXT NOT NULL,"
	"  result TEXT NOT NULL,"
	"  prev BLOB NOT NULL,"
	"  hash BLOB NOT NULL"
	");"
	"CREATE TABLE gaps ("
	"  first_seq INTEGER NOT NULL,"
	"  last_seq INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  reason TEXT NOT NULL"
	");"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
	/* 1 -> 2: the snapshot of engine state (snapshot.c). */
	"CREATE TABLE snapshot ("
	"  node TEXT NOT NULL,"
	"  \"check\" TEXT NOT NULL,"           /* '' for the node itself */
	"  state INTEGER NOT NULL,"
	"  state_type INTEGER NOT NULL,"
	"  attempt INTEGER NOT NULL,"
	"  last_hard_state INTEGER NOT NULL,"
	"  has_result INTEGER NOT NULL,"
	"  flapping INTEGER NOT NULL,"
	"  flap_ring INTEGER NOT NULL,"
	"  flap_count INTEGER NOT NULL,"
	"  flap_last INTEGER NOT NULL,"
	"  last_check INTEGER NOT NULL,"
	"  last_change INTEGER NOT NULL,"
	"  last_hard_change INTEGER NOT NULL,"
	"  output TEXT,"
	"  ack_type INTEGER NOT NULL,"
	"  ack_author TEXT,"
	"  ack_comment TEXT,"
	"  ack_time INTEGER NOT NULL,"
	"  ack_expires INTEGER NOT NULL,"
	"  PRIMARY KEY (node, \"check\")"
	") WITHOUT ROWID;"
	"CREATE TABLE snapshot_downtimes ("
	"  id INTEGER PRIMARY KEY,"
	"  node TEXT NOT NULL,"
	"  \"check\" TEXT,"
	"  start INTEGER NOT NULL,"
	"  \"end\" INTEGER NOT NULL,"
	"  duration_ms INTEGER NOT NULL,"
	"  fixed INTEGER NOT NULL,"
	"  in_effect INTEGER NOT NULL,"
	"  began INTEGER NOT NULL,"
	"  author TEXT,"
	"  comment TEXT"
	");",
	/*
	 * 2 -> 3: metric history in three tiers (history.c), dead letters,
	 * and events by node for point reads (store_node_state).
	 */
	"CREATE TABLE metric_series ("
	"  id INTEGER PRIMARY KEY,"
	"  node TEXT NOT NULL,"
	"  name TEXT NOT NULL,"                /* "load", "check/label" */
	"  UNIQUE (node, name)"
	");"
	"CREATE TABLE metric_raw ("
	"  series INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"             /* ms since the epoch */
	"  value REAL NOT NULL,"
	"  PRIMARY KEY (series, time)"
	") WITHOUT ROWID;"
	"CREATE INDEX metric_raw_time ON metric_raw (time);"
	"CREATE TABLE metric_1m ("
	"  series INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"             /* start of the minute */
	"  avg REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  PRIMARY KEY (series, time)"
	") WITHOUT ROWID;"
	"CREATE INDEX metric_1m_time ON metric_1m (time);"
	"CREATE TABLE metric_1h ("
	"  series INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"             /* start of the hour */
	"  avg REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  PRIMARY KEY (series, time)"
	") WITHOUT ROWID;"
	"CREATE INDEX metric_1h_time ON metric_1h (time);"
	"CREATE TABLE dead_letters ("
	"  id INTEGER PRIMARY KEY,"
	"  seq INTEGER,"                       /* the bus seq */
	"  time INTEGER NOT NULL,"             /* the event's */
	"  kind TEXT NOT NULL,"
	"  node TEXT,"
	"  \"check\" TEXT,"
	"  payload TEXT,"                      /* as in events, when it could be encoded */
	"  reason TEXT NOT NULL,"
	"  recorded INTEGER NOT NULL"          /* wall clock, ms */
	");"
	"CREATE INDEX events_node ON events (node, seq);",
	/*
	 * 3 -> 4: events by kind, for the readers that want one kind in seq
	 * order (`nexusctl jobs`: kind = 'job') without scanning the whole
	 * log.
	 */
	"CREATE INDEX events_kind ON events (kind, seq);",
};
#define STORE_VERSION ((int)NX_ARRAY_LEN(store_migrations))

/* One queued event: offsets into its batch's byte buffer. */
struct store_rec {
	uint64_t seq;
	nx_time time;
	uint16_t kind;
	uint32_t node_off, node_len;    /* node_len STORE_NOLEN = NULL */
	uint32_t check_off, check_len;
	uint32_t payload_off, payload_len;
	uint32_t reason_off, reason_len;        /* a dead letter; else STORE_NOLEN */
};


struct store_batch {
	struct store_rec *recs;
	size_t n, cap;
	char *buf;
	size_t len, cap_bytes;
};

/* One queued metric sample: strings in its batch's buffer. */
struct store_msample {
	uint32_t node_off, node_len;
	uint32_t name_off, name_len;
	nx_time time;
	double value;
};

struct store_mbatch {
	struct store_msample *v;
	size_t n, cap;
	struct store_batch strs;        /* only its buffer is used */
};

/* A range of seqs refused while degraded and full (see the top). */
struct store_gap {
	uint64_t first, last;
};

/* A function to run on the writer thread (store_run_sync). */
struct store_job {
	store_job_fn fn;
	void *arg;
	bool durable;
	bool done;
	int rc;
	struct nx_err err;
};

struct store {
	char *path;
	struct store_opts opts;
	sqlite3 *db;                    /* the writer's; writer thread only */
	sqlite3 *rdb;                   /* readers', caller's thread */
	struct snap_reader *node_reader; /* store_node_state's, on rdb */
	sqlite3_stmt *ins_event;
	sqlite3_stmt *ins_gap;
	struct engine *e;
	int lock_fd;                    /* flock'd while we may write; -1 */
	bool reader_only;               /* store_open_reader: no writer */

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t wake;            /* the writer waits on it */
	pthread_cond_t done;            /* producers, flushers and jobs wait */

	/* Under mu. */
	struct store_batch cur;         /* filled by the subscriber */
	uint64_t cur_first_ns;          /* when cur got its first event */
	size_t inflight_n, inflight_bytes;
	uint64_t enqueued_seq;          /* last seq put in the queue */
	uint64_t committed_seq;         /* last seq in the file */
	uint64_t failures;              /* failed commit attempts */
	bool degraded;
	bool stop;
	bool writer_exited;
	uint32_t flushers;
	struct store_job *job;
	struct snap_proj *snap_pending; /* to be written with the next group */
	struct store_gap *gaps;         /* refused and not yet recorded */
	size_t ngaps, gaps_cap;
	struct store_stats st;
	double lat[STORE_LAT_RING];
	size_t nlat;

	struct store_batch inflight;    /* writer only */

	char *scratch;                  /* subscriber only */
	size_t scratch_cap;
	uint64_t snap_last_ns;          /* subscriber only: last snapshot taken */
	uint64_t snap_last_seq;
	uint32_t snap_dt_id;            /* downtimes as of the last snapshot */
	size_t snap_dt_n;
	bool snap_soon;                 /* a downtime changed: at the next event */
	uint8_t *dirty_nodes;           /* changed since the last snapshot taken */
	uint8_t *dirty_checks;
	uint32_t dirty_nnodes, dirty_nchecks;   /* sizes of the flag arrays */
	bool snap_full;                 /* the next snapshot must be complete */

	struct snap_proj *snap_inflight;        /* writer only */

	/* Metric history and retention (history.c). */
	struct store_mbatch mcur;       /* under mu: filled by the loop thread */
	struct store_mbatch minflight;  /* writer only */
	struct store_retention ret;     /* under mu */
	struct hist_writer *hist;       /* writer only */
	nx_time event_now;              /* writer only: newest event time */
	uint64_t ret_next_ns;           /* writer only: next retention pass */
	nx_time ret_next_data;          /* writer only: ... or at this data time */
	nx_time data_now;               /* writer only: newest event or sample time */
	bool ret_more;                  /* writer only: the last pass was full */
	nx_time *hist_last;             /* loop only: last sample per node */
	uint32_t hist_nlast;
	nx_time *hist_check_last;       /* loop only: last perfdata per check */
	uint32_t hist_nchecks;
	uint64_t hist_sweep_ns;         /* loop only: last sweep */
	sqlite3_stmt *ins_dead;         /* writer only */
};

static uint64_t
store_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
store_abstime(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}

void
store_opts_default(struct store_opts *o)
{
	memset(o, 0, sizeof *o);
	o->group_ms = 50;
	o->group_events = 5000;
	o->queue_max_bytes = (size_t)64 << 20;
	o->busy_timeout_ms = 5000;
	o->retry_ms = 1000;
	o->snapshot_ms = 60000;
	o->snapshot_events = 100000;
	o->event_retention_ms = 7 * 86400000ULL;
	o->metric_raw_ms = 3600000ULL;
	o->metric_1m_ms = 86400000ULL;
	o->metric_1h_ms = 30 * 86400000ULL;
	o->retention_batch = 1000;
	o->metric_queue_max_bytes = (size_t)8 << 20;
}

/*
 * $XDG_STATE_HOME/nexusctl/state.db, else ~/.local/state/nexusctl/state.db.
 * The caller frees the result.
 */
char *
store_default_path(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *p;

	if (xdg != NULL && *xdg == '/')
		xasprintf(&p, "%s/nexusctl/state.db", xdg);
	else
		xasprintf(&p, "%s/.local/state/nexusctl/state.db",
		    home != NULL && *home != '\0' ? home : ".");
	return p;
}

const char *
store_path(const struct store *s)
{
	return s->path;
}

/* ---------------------------------------------------------------------- */
/* Batches                                                                 */

static uint32_t
batch_put(struct store_batch *b, const char *p, size_t len)
{
	uint32_t off = (uint32_t)b->len;

	if (b->len + len > b->cap_bytes) {
		size_t cap = b->cap_bytes ? b->cap_bytes : 65536;

		while (cap < b->len + len)
			cap *= 2;
		b->buf = xrealloc(b->buf, cap);
		b->cap_bytes = cap;
	}
	memcpy(b->buf + b->len, p, len);
	b->len += len;
	return off;
}

static struct store_rec *
batch_add(struct store_batch *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 1024;
		b->recs = xreallocarray(b->recs, b->cap, sizeof *b->recs);
	}
	return &b->recs[b->n++];
}

static void
batch_put_str(struct store_batch *b, const char *s, uint32_t *off,
    uint32_t *len)
{
	if (s == NULL) {
		*off = 0;
		*len = STORE_NOLEN;
		return;
	}
	*len = (uint32_t)strlen(s);
	*off = batch_put(b, s, *len);
}

/* Appends every record of src to dst (offsets rebased); src is emptied. */
static void
batch_move(struct store_batch *dst, struct store_batch *src)
{
	size_t i;
	uint32_t base;

	if (dst->n == 0) {
		struct store_batch t = *dst;

		*dst = *src;
		*src = t;
		src->n = 0;
		src->len = 0;
		return;
	}
	base = batch_put(dst, src->buf, src->len);
	for (i = 0; i < src->n; i++) {
		struct store_rec *r = batch_add(dst);

		*r = src->recs[i];
		r->node_off += base;
		r->check_off += base;
		r->payload_off += base;
	}
	src->n = 0;
	src->len = 0;
}

static void
batch_free(struct store_batch *b)
{
	free(b->recs);
	free(b->buf);
	memset(b, 0, sizeof *b);
}

static size_t
batch_bytes(const struct store_batch *b)
{
	return b->len + b->n * sizeof *b->recs;
}

/* ---------------------------------------------------------------------- */
/* Opening                                                                 */

/* What an SQLite result code means for the caller (and its exit status). */
enum store_fail
store_fail_of_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return STORE_FAIL_BUSY;
	case SQLITE_NOTADB:
		return STORE_FAIL_FOREIGN;
	case SQLITE_CORRUPT:
		return STORE_FAIL_CORRUPT;
	default:
		return STORE_FAIL_IO;
	}
}

/* An error message for SQLite result rc on db, naming the file. */
static void
store_sql_err(struct nx_err *err, const char *path, sqlite3 *db, int rc,
    const char *doing, uint32_t busy_ms)
{
	const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		nx_err_set(err, "%s: %s: the database is locked by another "
		    "process (waited %u ms): %s", path, doing, busy_ms, msg);
	else
		nx_err_set(err, "%s: %s: %s", path, doing, msg);
}

/* Creates every missing directory of path's dirname (mode 0700). */
static int
store_mkdirs(const char *path, struct nx_err *err)
{
	char *d = xstrdup(path), *p;

	for (p = d + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(d, 0700) != 0 && errno != EEXIST) {
			nx_err_set(err, "%s: cannot create directory: %s", d,
			    strerror(errno));
			free(d);
			return -1;
		}
		*p = '/';
	}
	free(d);
	return 0;
}

/*
 * Looks at the file before SQLite does, so that a file that is not an
 * SQLite database is refused without a single byte written to it (SQLite
 * would treat a short file as a new database).  Sets *exists.  Safe while
 * this process has the file open (see the comment on the read).
 */
static int
store_probe(const char *path, bool *exists, enum store_fail *fail,
    struct nx_err *err)
{
	static const char magic[16] = "SQLite format 3";
	char hdr[16];
	struct stat sb;
	sqlite3_vfs *vfs;
	sqlite3_file *file;
	ssize_t n;
	int rc, oflags;

	*exists = false;
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT) {
			*fail = STORE_FAIL_MISSING;
			nx_err_set(err, "%s: no such state file", path);
			return 0;
		}
		*fail = STORE_FAIL_IO;
		nx_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	*exists = true;
	if (!S_ISREG(sb.st_mode)) {
		*fail = STORE_FAIL_FOREIGN;
		nx_err_set(err, "%s: not a regular file", path);
		return -1;
	}
	if (sb.st_size == 0)
		return 0;
	/*
	 * Read through SQLite's own VFS, not open()/close(): closing any
	 * descriptor of the file drops every POSIX lock this process holds
	 * on it, among them the SHARED lock of an open WAL connection, and
	 * another process's last close would then checkpoint and delete the
	 * WAL under us.  The unix VFS defers such a close while locks are held.
	 */
	vfs = sqlite3_vfs_find(NULL);
	file = xcalloc(1, (size_t)vfs->szOsFile);
	rc = vfs->xOpen(vfs, path, file, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_MAIN_DB, &oflags);
	if (rc != SQLITE_OK) {
		free(file);
		*fail = STORE_FAIL_IO;
		nx_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = file->pMethods->xRead(file, hdr, (int)sizeof hdr, 0);
	file->pMethods->xClose(file);
	free(file);
	n = rc == SQLITE_OK ? (ssize_t)sizeof hdr : 0;
	if (n != (ssize_t)sizeof hdr || memcmp(hdr, magic, sizeof hdr) != 0) {
		*fail = STORE_FAIL_FOREIGN;
		nx_err_set(err, "%s: not an SQLite database; refusing to use "
		    "it as the nexusctl state store (file left untouched)",
		    path);
		return -1;
	}
	return 0;
}

static int
store_pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		*out = 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * Opens path as a nexusctl store without writing to it: refuses a file
 * that is not SQLite, an SQLite file of another application, a schema
 * newer than this build, and reports busy/corrupt clearly.  With readonly
 * a missing file is an error (STORE_FAIL_MISSING); otherwise it is created.
 * On success *dbp is an open connection (the caller closes it).
 */
static pthread_once_t store_sqlite_once = PTHREAD_ONCE_INIT;

/*
 * Once per process, before SQLite initialises: no memory statistics.
 * With them (the default) every SQLite allocation takes one global mutex,
 * which the writer thread and the readers of the same process contend
 * for: bench_history's point reads slept on it (26-44 reads over 1 ms a
 * run that had a voluntary context switch; 0-7 without).  Nothing here
 * reads sqlite3_memory_used().  Too late (SQLITE_MISUSE) is harmless.
 */
static void
store_sqlite_init(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
store_open_db(const char *path, bool readonly, uint32_t busy_timeout_ms,
    sqlite3 **dbp, enum store_fail *fail, struct nx_err *err)
{
	sqlite3 *db = NULL;
	int64_t app_id = 0, version = 0, nobjects = 0;
	bool exists;
	int rc, flags;

	*dbp = NULL;
	*fail = STORE_FAIL_NONE;
	pthread_once(&store_sqlite_once, store_sqlite_init);
	if (store_probe(path, &exists, fail, err) != 0)
		return -1;
	if (!exists && readonly)
		return -1;
	*fail = STORE_FAIL_NONE;
	if (!exists && store_mkdirs(path, err) != 0) {
		*fail = STORE_FAIL_IO;
		return -1;
	}
	flags = (readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_FULLMUTEX;
	if ((rc = sqlite3_open_v2(path, &db, flags, NULL)) != SQLITE_OK) {
		*fail = store_fail_of_sqlite(rc);
		store_sql_err(err, path, db, rc, "open", busy_timeout_ms);
		goto fail;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, (int)busy_timeout_ms);
	if ((rc = store_pragma_int(db, "PRAGMA application_id", &app_id)) ||
	    (rc = store_pragma_int(db, "PRAGMA user_version", &version)) ||
	    (rc = store_pragma_int(db, "SELECT count(*) FROM sqlite_master",
	    &nobjects))) {
		*fail = store_fail_of_sqlite(rc);
		if (*fail == STORE_FAIL_FOREIGN)
			nx_err_set(err, "%s: not an SQLite database; refusing "
			    "to use it as the nexusctl state store", path);
		else
			store_sql_err(err, path, db, rc, "reading the schema",
			    busy_timeout_ms);
		goto fail;
	}
	if (app_id != STORE_APP_ID && !(app_id == 0 && version == 0 &&
	    nobjects == 0)) {
		*fail = STORE_FAIL_FOREIGN;
		nx_err_set(err, "%s: an SQLite database of another application "
		    "(application_id %#llx, %lld schema objects); refusing to "
		    "use it as the nexusctl state store (file left untouched)",
		    path, (unsigned long long)app_id, (long long)nobjects);
		goto fail;
	}
	if (version > STORE_VERSION) {
		*fail = STORE_FAIL_NEWER;
		nx_err_set(err, "%s: schema version %lld is newer than this "
		    "nexusctl understands (%d); upgrade nexusctl", path,
		    (long long)version, STORE_VERSION);
		goto fail;
	}
	if (readonly && version == 0) {
		*fail = STORE_FAIL_FOREIGN;
		nx_err_set(err, "%s: an empty database, not a nexusctl state "
		    "store", path);
		goto fail;
	}
	*dbp = db;
	return 0;
fail:
	sqlite3_close(db);
	return -1;
}

static int
store_exec(struct store *s, sqlite3 *db, const char *sql, const char *doing,
    struct nx_err *err)
{
	int rc;

	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
		store_sql_err(err, s->path, db, rc, doing,
		    s->opts.busy_timeout_ms);
		return rc;
	}
	return SQLITE_OK;
}

/*
 * Brings the schema to STORE_VERSION, one transaction per step; running it
 * on an up-to-date file writes nothing.
 */
static int
store_migrate(struct store *s, enum store_fail *fail, struct nx_err *err)
{
	int64_t version;
	char sql[128];
	int rc;

	/* Up to date: no lock needed (another writer may hold it). */
	if ((rc = store_pragma_int(s->db, "PRAGMA user_version", &version)) !=
	    SQLITE_OK) {
		store_sql_err(err, s->path, s->db, rc, "reading the schema",
		    s->opts.busy_timeout_ms);
		goto fail;
	}
	if (version >= STORE_VERSION)
		return 0;
	for (;;) {
		if ((rc = store_exec(s, s->db, "BEGIN IMMEDIATE",
		    "migrating the schema", err)) != SQLITE_OK)
			goto fail;
		/* Read again inside the lock: another process may have won. */
		if ((rc = store_pragma_int(s->db, "PRAGMA user_version",
		    &version)) != SQLITE_OK) {
			store_sql_err(err, s->path, s->db, rc,
			    "migrating the schema", s->opts.busy_timeout_ms);
			goto rollback;
		}
		if (version >= STORE_VERSION) {
			sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
			return 0;
		}
		snprintf(sql, sizeof sql, "PRAGMA application_id = %d; "
		    "PRAGMA user_version = %lld", STORE_APP_ID,
		    (long long)version + 1);
		if ((rc = store_exec(s, s->db, store_migrations[version],
		    "migrating the schema", err)) != SQLITE_OK ||
		    (rc = store_exec(s, s->db, sql, "migrating the schema",
		    err)) != SQLITE_OK ||
		    (rc = store_exec(s, s->db, "COMMIT", "migrating the schema",
		    err)) != SQLITE_OK)
			goto rollback;
	}
rollback:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
fail:
	*fail = store_fail_of_sqlite(rc);
	return -1;
}

static void *store_writer(void *);

/*
 * Takes the one-writer lock: flock(2) on the database file itself, which
 * SQLite's POSIX locks do not see, held until store_close.  A second
 * engine or console on the same file is refused here, before it writes
 * anything, instead of degrading on conflicting seqs later.
 */
static int
store_lock(struct store *s, enum store_fail *fail, struct nx_err *err)
{
	if ((s->lock_fd = open(s->path, O_RDONLY | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		*fail = STORE_FAIL_IO;
		nx_err_set(err, "%s: %s", s->path, strerror(errno));
		return -1;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		*fail = errno == EWOULDBLOCK ? STORE_FAIL_BUSY : STORE_FAIL_IO;
		if (errno == EWOULDBLOCK)
			nx_err_set(err, "%s: the state store is in use by another "
			    "nexusctl process (an engine or a console); one "
			    "writer per file", s->path);
		else
			nx_err_set(err, "%s: lock: %s", s->path, strerror(errno));
		close(s->lock_fd);
		s->lock_fd = -1;
		return -1;
	}
	return 0;
}

/*
 * Whether another process holds the one-writer lock of path (a running
 * engine or console).  Call it before opening SQLite connections to path
 * in this process: closing any descriptor of the file drops the process's
 * POSIX locks on it.
 */
bool
store_in_use(const char *path)
{
	bool busy = false;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0)
		busy = errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

struct store *
store_open(const char *path, struct nx_err *err)
{
	struct store_opts o;
	enum store_fail fail;

	store_opts_default(&o);
	return store_open_opts(path, &o, &fail, err);
}

/*
 * Opens (creating if needed) the store at path, migrates it and starts the
 * writer thread.  Returns the store (freed by store_close) or NULL with err
 * and *fail set; a refused file is left exactly as it was.
 */
struct store *
store_open_opts(const char *path, const struct store_opts *o,
    enum store_fail *fail, struct nx_err *err)
{
	struct store *s;
	pthread_condattr_t ca;
	char pragma[64];
	const char *mode;
	sqlite3_stmt *st;
	int64_t last = 0;
	int rc;

	s = xcalloc(1, sizeof *s);
	s->path = xstrdup(path);
	s->opts = *o;
	s->lock_fd = -1;
	if (s->opts.group_events == 0)
		s->opts.group_events = 1;
	if (store_open_db(path, false, o->busy_timeout_ms, &s->db, fail,
	    err) != 0)
		goto fail;
	if (store_lock(s, fail, err) != 0)
		goto fail;

	/* From here on the file is ours (or new): it may be written. */
	if ((rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1,
	    &st, NULL)) != SQLITE_OK) {
		store_sql_err(err, path, s->db, rc, "setting WAL mode",
		    o->busy_timeout_ms);
		*fail = store_fail_of_sqlite(rc);
		goto fail;
	}
	rc = sqlite3_step(st);
	mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) :
	    NULL;
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		if (rc == SQLITE_ROW)
			rc = SQLITE_ERROR;
		store_sql_err(err, path, s->db, rc, "setting WAL mode",
		    o->busy_timeout_ms);
		*fail = store_fail_of_sqlite(rc);
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	if (store_exec(s, s->db, o->sync_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", "setting synchronous", err) !=
	    SQLITE_OK) {
		*fail = STORE_FAIL_IO;
		goto fail;
	}
	if (o->max_pages != 0) {
		snprintf(pragma, sizeof pragma, "PRAGMA max_page_count = %u",
		    o->max_pages);
		sqlite3_exec(s->db, pragma, NULL, NULL, NULL);
	}
	if (store_migrate(s, fail, err) != 0)
		goto fail;
	/*
	 * Make sure we can write now: a process holding the write lock
	 * (another SQLite client) is reported here, after busy_timeout,
	 * instead of degrading the first commit.
	 */
	if ((rc = store_exec(s, s->db, "BEGIN IMMEDIATE; COMMIT",
	    "taking the write lock", err)) != SQLITE_OK) {
		*fail = store_fail_of_sqlite(rc);
		goto fail;
	}
	if ((rc = sqlite3_prepare_v3(s->db, "INSERT INTO events (seq, time, "
	    "kind, node, \"check\", payload) VALUES (?, ?, ?, ?, ?, ?)", -1,
	    SQLITE_PREPARE_PERSISTENT, &s->ins_event, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v3(s->db, "INSERT INTO gaps (first_seq, "
	    "last_seq, time, reason) VALUES (?, ?, ?, ?)", -1,
	    SQLITE_PREPARE_PERSISTENT, &s->ins_gap, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v3(s->db, "INSERT INTO dead_letters (seq, "
	    "time, kind, node, \"check\", payload, reason, recorded) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?)", -1, SQLITE_PREPARE_PERSISTENT,
	    &s->ins_dead, NULL)) != SQLITE_OK) {
		store_sql_err(err, path, s->db, rc, "preparing statements",
		    o->busy_timeout_ms);
		*fail = store_fail_of_sqlite(rc);
		goto fail;
	}
	if (store_open_db(path, true, o->busy_timeout_ms, &s->rdb, fail,
	    err) != 0)
		goto fail;
	/*
	 * The seq to continue from: retention keeps the newest event, but a
	 * dead letter or the snapshot may be later than it.
	 */
	if ((rc = store_pragma_int(s->rdb, "SELECT max(coalesce((SELECT "
	    "max(seq) FROM events), 0), coalesce((SELECT max(seq) FROM "
	    "dead_letters), 0), coalesce((SELECT CAST(value AS INTEGER) FROM "
	    "meta WHERE key = 'snapshot_seq'), 0))", &last)) != SQLITE_OK ||
	    (rc = store_pragma_int(s->rdb, "SELECT coalesce((SELECT time FROM "
	    "events ORDER BY seq DESC LIMIT 1), -9223372036854775808)",
	    &s->event_now)) != SQLITE_OK) {
		store_sql_err(err, path, s->rdb, rc, "reading the last event",
		    o->busy_timeout_ms);
		*fail = store_fail_of_sqlite(rc);
		goto fail;
	}
	s->committed_seq = s->enqueued_seq = s->st.last_seq = (uint64_t)last;
	s->snap_last_seq = (uint64_t)last;
	s->snap_last_ns = store_mono_ns();
	s->hist = hist_writer_new(s->db);
	s->ret.events_ms = o->event_retention_ms;
	s->ret.metric_raw_ms = o->metric_raw_ms;
	s->ret.metric_1m_ms = o->metric_1m_ms;
	s->ret.metric_1h_ms = o->metric_1h_ms;
	if (s->opts.retention_batch == 0)
		s->opts.retention_batch = 1000;
	if (s->opts.metric_queue_max_bytes == 0)
		s->opts.metric_queue_max_bytes = (size_t)8 << 20;

	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_cond_init(&s->done, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&s->thread, NULL, store_writer, s)) != 0) {
		nx_err_set(err, "%s: cannot start the writer thread: %s", path,
		    strerror(rc));
		*fail = STORE_FAIL_IO;
		pthread_cond_destroy(&s->wake);
		pthread_cond_destroy(&s->done);
		pthread_mutex_destroy(&s->mu);
		hist_writer_free(s->hist);
		goto fail;
	}
	s->thread_started = true;
	*fail = STORE_FAIL_NONE;
	return s;
fail:
	sqlite3_finalize(s->ins_event);
	sqlite3_finalize(s->ins_gap);
	sqlite3_finalize(s->ins_dead);
	sqlite3_close(s->rdb);
	sqlite3_close(s->db);
	if (s->lock_fd != -1)
		close(s->lock_fd);
	free(s->path);
	free(s);
	return NULL;
}

/*
 * Opens path read-only for the readers only (store_events_since,
 * store_last_seq, store_load_projection): no writer thread, no lock, and
 * a missing file is an error.  Closed with store_close.
 */
struct store *
store_open_reader(const char *path, enum store_fail *fail, struct nx_err *err)
{
	struct store *s = xcalloc(1, sizeof *s);

	s->path = xstrdup(path);
	store_opts_default(&s->opts);
	s->lock_fd = -1;
	s->reader_only = true;
	if (store_open_db(path, true, s->opts.busy_timeout_ms, &s->rdb, fail,
	    err) != 0) {
		free(s->path);
		free(s);
		return NULL;
	}
	return s;
}

/* ---------------------------------------------------------------------- */
/* The writer thread                                                       */

/* What one group commit did, for the stats (writer thread). */
struct store_commit_res {
	uint64_t max_seq;               /* highest seq handled (stored or dead) */
	uint64_t events, dead, samples, rollup_rows;
	size_t pruned;
};

static const char *
store_rec_str(const struct store_batch *b, uint32_t off, uint32_t len,
    int *n)
{
	if (len == STORE_NOLEN)
		return NULL;
	*n = (int)len;
	return b->buf + off;
}

/*
 * Writes r to dead_letters with reason (NUL-terminated or of reason_len
 * bytes).  Inside the group's transaction.
 */
static int
store_put_dead(struct store *s, const struct store_batch *b,
    const struct store_rec *r, const char *reason, int reason_len)
{
	sqlite3_stmt *st = s->ins_dead;
	const char *p;
	int n = 0, rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->seq);
	sqlite3_bind_int64(st, 2, r->time);
	sqlite3_bind_text(st, 3, event_kind_name(r->kind), -1, SQLITE_STATIC);
	if ((p = store_rec_str(b, r->node_off, r->node_len, &n)) != NULL)
		sqlite3_bind_text(st, 4, p, n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	if ((p = store_rec_str(b, r->check_off, r->check_len, &n)) != NULL)
		sqlite3_bind_text(st, 5, p, n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	if (r->payload_len > 0)
		sqlite3_bind_text(st, 6, b->buf + r->payload_off,
		    (int)r->payload_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_text(st, 7, reason, reason_len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 8, nx_wallclock());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/*
 * Inserts one event.  An event the file refuses by a constraint (a seq
 * already there, say) cannot succeed on a retry: it goes to dead_letters
 * with SQLite's reason instead of failing the group forever.  Other
 * errors (disk full, locked, I/O) fail the group, which is retried.
 */
static int
store_put_event(struct store *s, const struct store_batch *b,
    const struct store_rec *r, struct store_commit_res *res)
{
	sqlite3_stmt *st = s->ins_event;
	char reason[256];
	int rc;

	if (r->reason_len != STORE_NOLEN) {
		rc = store_put_dead(s, b, r, b->buf + r->reason_off,
		    (int)r->reason_len);
		res->dead += rc == SQLITE_DONE;
		return rc;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->seq);
	sqlite3_bind_int64(st, 2, r->time);
	sqlite3_bind_text(st, 3, event_kind_name(r->kind), -1, SQLITE_STATIC);
	if (r->node_len == STORE_NOLEN)
		sqlite3_bind_null(st, 4);
	else
		sqlite3_bind_text(st, 4, b->buf + r->node_off,
		    (int)r->node_len, SQLITE_STATIC);
	if (r->check_len == STORE_NOLEN)
		sqlite3_bind_null(st, 5);
	else
		sqlite3_bind_text(st, 5, b->buf + r->check_off,
		    (int)r->check_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, b->buf + r->payload_off, (int)r->payload_len,
	    SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		res->events++;
		if (r->time > s->event_now)
			s->event_now = r->time;
		return rc;
	}
	if ((rc & 0xff) != SQLITE_CONSTRAINT)
		return rc;
	snprintf(reason, sizeof reason, "insert: %s", sqlite3_errmsg(s->db));
	rc = store_put_dead(s, b, r, reason, -1);
	res->dead += rc == SQLITE_DONE;
	return rc;
}

/*
 * The history part of a group (history.c): the samples, the rollup of
 * finished minutes and hours, and a retention pass at most once a second
 * (or at once again after a full one).
 */
static int
store_put_history(struct store *s, const struct store_mbatch *m,
    size_t nevents, struct store_commit_res *res, struct nx_err *err)
{
	struct store_retention ret;
	const char *buf = m->strs.buf;
	uint64_t now;
	size_t i, batch;
	bool more;
	int rc;

	for (i = 0; i < m->n; i++) {
		const struct store_msample *x = &m->v[i];

		if (hist_insert(s->hist, buf + x->node_off, x->node_len,
		    buf + x->name_off, x->name_len, x->time, x->value,
		    err) != 0)
			return -1;
		if (x->time > s->data_now)
			s->data_now = x->time;
	}
	if (s->event_now > s->data_now)
		s->data_now = s->event_now;
	res->samples = m->n;
	if ((rc = hist_rollup(s->hist, &res->rollup_rows, err)) < 0)
		return -1;
	if (rc > 0)
		s->ret_more = true;     /* come back soon */
	/*
	 * A pass a second: of wall time, or of data time (which is what
	 * makes a synthetic clock, running faster, prune at its own pace).
	 */
	now = store_mono_ns();
	if (!s->ret_more && now < s->ret_next_ns &&
	    s->data_now < s->ret_next_data)
		return 0;
	pthread_mutex_lock(&s->mu);
	ret = s->ret;
	pthread_mutex_unlock(&s->mu);
	/*
	 * Batches follow the ingest (twice this group), so that deleting
	 * keeps up with writing however large the groups grow.
	 */
	batch = s->opts.retention_batch;
	if (batch < 2 * (m->n + nevents))
		batch = 2 * (m->n + nevents);
	if (hist_retain(s->hist, &ret, s->event_now, batch, &res->pruned,
	    &more, err) != 0)
		return -1;
	s->ret_more = more;
	s->ret_next_ns = now + 1000000000u;
	s->ret_next_data = s->data_now + 1000;
	return 0;
}

/*
 * Commits b, the samples m, a pending gap record and a snapshot in one
 * transaction.  Runs without the lock.  Returns 0 with *res, or -1 with
 * err (the transaction rolled back, b and m untouched, to be retried).
 */
static int
store_commit(struct store *s, const struct store_batch *b,
    const struct store_mbatch *m, const struct store_gap *gaps, size_t ngaps,
    const struct snap_proj *snap, struct store_commit_res *res,
    struct nx_err *err)
{
	nx_time event_now = s->event_now;
	size_t i;
	int rc;

	memset(res, 0, sizeof *res);
	if ((rc = store_exec(s, s->db, "BEGIN IMMEDIATE", "committing events",
	    err)) != SQLITE_OK)
		return -1;
	for (i = 0; i < b->n; i++) {
		if ((rc = store_put_event(s, b, &b->recs[i], res)) !=
		    SQLITE_DONE)
			goto fail;
		if (b->recs[i].seq > res->max_seq)
			res->max_seq = b->recs[i].seq;
	}
	for (i = 0; i < ngaps; i++) {
		sqlite3_bind_int64(s->ins_gap, 1, (sqlite3_int64)gaps[i].first);
		sqlite3_bind_int64(s->ins_gap, 2, (sqlite3_int64)gaps[i].last);
		sqlite3_bind_int64(s->ins_gap, 3, nx_wallclock());
		sqlite3_bind_text(s->ins_gap, 4, "queue bound reached while "
		    "the store was degraded", -1, SQLITE_STATIC);
		rc = sqlite3_step(s->ins_gap);
		sqlite3_reset(s->ins_gap);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	if (store_put_history(s, m, b->n, res, err) != 0)
		goto rollback;
	if (snap != NULL && snap_proj_write(snap, s->db, err) != 0)
		goto rollback;
	if ((rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL)) !=
	    SQLITE_OK)
		goto fail;
	return 0;
fail:
	store_sql_err(err, s->path, s->db, rc, "committing events",
	    s->opts.busy_timeout_ms);
rollback:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->event_now = event_now;
	hist_writer_reset(s->hist);
	return -1;
}

/* Runs one store_run_sync job in its own transaction.  Unlocked. */
static void
store_run_job(struct store *s, struct store_job *j)
{
	int rc;

	if (j->durable)
		sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL,
		    NULL);
	j->rc = -1;
	if ((rc = store_exec(s, s->db, "BEGIN IMMEDIATE", "writing",
	    &j->err)) == SQLITE_OK) {
		if (j->fn(s->db, j->arg, &j->err) == 0) {
			if ((rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL,
			    NULL)) == SQLITE_OK)
				j->rc = 0;
			else
				store_sql_err(&j->err, s->path, s->db, rc,
				    "committing", s->opts.busy_timeout_ms);
		}
		if (j->rc != 0)
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	if (j->durable && !s->opts.sync_full)
		sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL,
		    NULL);
}

static void
store_record_latency(struct store *s, double ms)
{
	s->lat[s->nlat % STORE_LAT_RING] = ms;
	s->nlat++;
	s->st.last_commit_ms = ms;
}

/*
 * The writer: waits for work, lets a group build up for at most group_ms
 * (or group_events), commits it, and on failure keeps it and retries every
 * retry_ms.  Exits when asked to stop and the queue is empty, or after one
 * last failed attempt.
 */
static void *
store_writer(void *arg)
{
	struct store *s = arg;
	struct timespec ts;
	struct nx_err err;
	struct store_gap *gaps = NULL;
	struct store_commit_res res;
	uint64_t deadline, t0;
	size_t ngaps, i;
	int rc;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && s->job == NULL && s->cur.n == 0 &&
		    s->inflight.n == 0 && s->ngaps == 0 && s->mcur.n == 0 &&
		    s->minflight.n == 0 &&
		    s->snap_pending == NULL && s->snap_inflight == NULL)
			pthread_cond_wait(&s->wake, &s->mu);
		if (s->job != NULL) {
			struct store_job *j = s->job;

			pthread_mutex_unlock(&s->mu);
			store_run_job(s, j);
			pthread_mutex_lock(&s->mu);
			j->done = true;
			s->job = NULL;
			pthread_cond_broadcast(&s->done);
			continue;
		}
		if (s->cur.n == 0 && s->inflight.n == 0 && s->ngaps == 0 &&
		    s->mcur.n == 0 && s->minflight.n == 0 &&
		    s->snap_pending == NULL && s->snap_inflight == NULL)
			break;          /* stopping, nothing left */

		/* Let the group build up, or wait before retrying. */
		if (s->degraded)
			deadline = store_mono_ns() +
			    (uint64_t)s->opts.retry_ms * 1000000u;
		else
			deadline = s->cur_first_ns +
			    (uint64_t)s->opts.group_ms * 1000000u;
		store_abstime(deadline, &ts);
		while (!s->stop && s->job == NULL && (s->degraded ||
		    (s->flushers == 0 && s->cur.n < s->opts.group_events &&
		    batch_bytes(&s->cur) < s->opts.queue_max_bytes / 2)) &&
		    store_mono_ns() < deadline) {
			if (pthread_cond_timedwait(&s->wake, &s->mu, &ts) ==
			    ETIMEDOUT)
				break;
		}
		if (s->job != NULL)
			continue;

		batch_move(&s->inflight, &s->cur);
		if (s->minflight.n == 0) {
			struct store_mbatch t = s->minflight;

			s->minflight = s->mcur;
			s->mcur = t;
		}
		if (s->snap_pending != NULL) {
			/* The newer snapshot covers what the older did. */
			if (s->snap_inflight != NULL) {
				snap_proj_free(s->snap_inflight);
				free(s->snap_inflight);
			}
			s->snap_inflight = s->snap_pending;
			s->snap_pending = NULL;
		}
		s->inflight_n = s->inflight.n;
		s->inflight_bytes = batch_bytes(&s->inflight);
		ngaps = s->ngaps;
		if (ngaps > 0) {
			gaps = xreallocarray(gaps, ngaps, sizeof *gaps);
			memcpy(gaps, s->gaps, ngaps * sizeof *gaps);
		}
		pthread_mutex_unlock(&s->mu);
		/* Wake a producer waiting for room: cur is empty now. */
		pthread_cond_broadcast(&s->done);

		t0 = store_mono_ns();
		rc = store_commit(s, &s->inflight, &s->minflight, gaps, ngaps,
		    s->snap_inflight, &res, &err);

		pthread_mutex_lock(&s->mu);
		if (rc == 0) {
			if (s->inflight.n > 0) {
				if (res.max_seq > s->committed_seq)
					s->committed_seq = res.max_seq;
				s->st.events_committed += res.events;
				s->st.dead_letters += res.dead;
				s->st.commits++;
				store_record_latency(s,
				    (double)(store_mono_ns() - t0) / 1e6);
			}
			s->st.samples_committed += res.samples;
			s->st.rollup_rows += res.rollup_rows;
			s->st.pruned_rows += res.pruned;
			s->minflight.n = 0;
			s->minflight.strs.len = 0;
			if (s->minflight.strs.cap_bytes > STORE_KEEP_BYTES) {
				batch_free(&s->minflight.strs);
				free(s->minflight.v);
				s->minflight.v = NULL;
				s->minflight.cap = 0;
			}
			/*
			 * Forget the recorded ranges; the last one may have
			 * grown meanwhile: keep what was added to it.
			 */
			if (ngaps > 0) {
				i = ngaps - 1;
				if (s->gaps[i].last > gaps[i].last)
					s->gaps[i].first = gaps[i].last + 1;
				else
					i = ngaps;
				memmove(s->gaps, s->gaps + i,
				    (s->ngaps - i) * sizeof *s->gaps);
				s->ngaps -= i;
			}
			s->inflight.n = 0;
			s->inflight.len = 0;
			s->inflight_n = s->inflight_bytes = 0;
			if (s->snap_inflight != NULL) {
				s->st.snapshots++;
				s->st.snapshots_partial +=
				    s->snap_inflight->partial;
				s->st.snapshot_seq = s->snap_inflight->snap_seq;
				snap_proj_free(s->snap_inflight);
				free(s->snap_inflight);
				s->snap_inflight = NULL;
			}
			/* Give back what a burst grew, keep a working size. */
			if (s->inflight.cap_bytes > STORE_KEEP_BYTES)
				batch_free(&s->inflight);
			s->degraded = false;
		} else {
			s->failures++;
			s->degraded = true;
			memcpy(s->st.reason, err.msg, sizeof s->st.reason);
		}
		pthread_cond_broadcast(&s->done);
		if (s->stop && rc != 0)
			break;          /* give up: store_close reports it */
	}
	s->writer_exited = true;
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->mu);
	free(gaps);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* The bus subscriber (loop thread)                                        */

/*
 * An acknowledgement event carries the whole acknowledgement in the store
 * (the bus event has only a message), so that a restore can rebuild it:
 * "set", and when set "ack_type", "author", "comment", "ack_time",
 * "expires".  Read from the object, which the monitor updated before
 * publishing.
 */
static void
store_ack_fields(struct store *s, const struct event *ev, json_t *j)
{
	const struct fleet *f = &s->e->fleet;
	const struct nx_ack *a = NULL;

	if (ev->check != NX_NONE && ev->check < f->nchecks)
		a = &f->checks[ev->check].ack;
	else if (ev->node != NX_NONE && ev->node < f->nnodes)
		a = &f->nodes[ev->node].ack;
	json_object_set_new(j, "set", json_boolean(ev->state != 0));
	if (ev->state == 0 || a == NULL || a->type == NX_ACK_NONE)
		return;
	json_object_set_new(j, "ack_type", json_string(a->type ==
	    NX_ACK_STICKY ? "sticky" : "normal"));
	json_object_set_new(j, "author", nx_json_text(a->author));
	json_object_set_new(j, "comment", nx_json_text(a->comment));
	json_object_set_new(j, "ack_time", json_integer(a->time));
	json_object_set_new(j, "expires", json_integer(a->expires));
}

/* Serialises ev's payload into s->scratch; returns its length. */
static size_t
store_serialise(struct store *s, const struct event *ev)
{
	json_t *j = event_to_json(s->e, ev);
	size_t n;

	/* The columns carry these; the payload keeps the rest. */
	json_object_del(j, "seq");
	json_object_del(j, "time");
	json_object_del(j, "kind");
	json_object_del(j, "node");
	json_object_del(j, "check");
	if (ev->kind == NX_EV_ACK)
		store_ack_fields(s, ev, j);
	else if (ev->kind == NX_EV_STATE && ev->check < s->e->fleet.nchecks) {
		/* The monitor's change times, which a replay cannot infer. */
		const struct check *c = &s->e->fleet.checks[ev->check];

		json_object_set_new(j, "last_change",
		    json_integer(c->last_change));
		json_object_set_new(j, "last_hard_change",
		    json_integer(c->last_hard_change));
	}
	n = json_dumpb(j, s->scratch, s->scratch_cap,
	    JSON_COMPACT | NX_JSON_FLAGS);
	if (n > s->scratch_cap) {
		s->scratch_cap = n + 1024;
		s->scratch = xrealloc(s->scratch, s->scratch_cap);
		n = json_dumpb(j, s->scratch, s->scratch_cap,
		    JSON_COMPACT | NX_JSON_FLAGS);
	}
	json_decref(j);
	return n;
}

static void store_dirty_reset(struct store *);

/*
 * Builds a snapshot of the engine covering every event up to seq and
 * hands it to the writer, which writes it in the transaction of the group
 * holding that event (or a later one).  Loop thread.
 */
static void
store_take_snapshot(struct store *s, uint64_t seq)
{
	struct snap_proj *p = xmalloc(sizeof *p);
	bool full;

	/*
	 * Incremental (only what changed since the last snapshot taken) when
	 * that one is committed; complete when it is still queued or failed,
	 * as this one then replaces it and must cover what it covered.
	 */
	pthread_mutex_lock(&s->mu);
	full = s->snap_full || s->snap_pending != NULL ||
	    s->snap_inflight != NULL;
	pthread_mutex_unlock(&s->mu);
	snap_proj_init(p);
	if (full)
		snap_proj_from_engine(p, s->e, seq);
	else
		snap_proj_from_engine_dirty(p, s->e, seq, s->dirty_nodes,
		    s->dirty_nnodes, s->dirty_checks, s->dirty_nchecks);
	s->snap_full = false;
	store_dirty_reset(s);
	s->snap_last_ns = store_mono_ns();
	s->snap_last_seq = seq;
	s->snap_dt_id = s->e->mon.next_downtime_id;
	s->snap_dt_n = s->e->mon.ndowntimes;
	pthread_mutex_lock(&s->mu);
	if (s->snap_pending != NULL) {
		snap_proj_free(s->snap_pending);
		free(s->snap_pending);
	}
	s->snap_pending = p;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

/* Starts a new set of changed objects, sized to the fleet as it is now. */
static void
store_dirty_reset(struct store *s)
{
	const struct fleet *f = &s->e->fleet;

	if (s->dirty_nnodes != f->nnodes) {
		free(s->dirty_nodes);
		s->dirty_nnodes = f->nnodes;
		s->dirty_nodes = xcalloc(f->nnodes + 1, 1);
	} else
		memset(s->dirty_nodes, 0, s->dirty_nnodes);
	if (s->dirty_nchecks != f->nchecks) {
		free(s->dirty_checks);
		s->dirty_nchecks = f->nchecks;
		s->dirty_checks = xcalloc(f->nchecks + 1, 1);
	} else
		memset(s->dirty_checks, 0, s->dirty_nchecks);
}

/*
 * Marks what ev changed for the next incremental snapshot: its check, or
 * its node for node events (host state, a node's acknowledgement).
 */
static void
store_mark_dirty(struct store *s, const struct event *ev)
{
	if (ev->check != NX_NONE) {
		if (ev->check < s->dirty_nchecks)
			s->dirty_checks[ev->check] = 1;
	} else if (ev->node != NX_NONE && ev->node < s->dirty_nnodes)
		s->dirty_nodes[ev->node] = 1;
}

/*
 * At an inventory reload (below); every snapshot_ms or snapshot_events,
 * and whenever the downtimes changed: downtime events do not carry the downtime, and scheduling or
 * cancelling one publishes nothing, so the snapshot is what keeps them.
 *
 * Only at a result event: the monitor publishes it after it has updated
 * the check (state, attempt, output, acknowledgement, flap ring), and what
 * it changes afterwards (host state, other checks) comes as later events,
 * which a restore replays.  At a flapping or acknowledgement event the
 * check is half updated (its flap ring would be shifted twice).
 */
static void
store_maybe_snapshot(struct store *s, const struct event *ev)
{
	const struct nx_monitor *m = &s->e->mon;
	bool want;

	store_mark_dirty(s, ev);
	/*
	 * An inventory reload (its one config event comes after everything
	 * it changed): a complete snapshot at once, which drops the rows of
	 * the nodes and checks it removed (an incremental one writes only
	 * what changed, and removed objects are in no snapshot).
	 */
	if (ev->kind == NX_EV_CONFIG) {
		s->snap_full = true;
		store_take_snapshot(s, ev->seq);
		return;
	}
	if (ev->kind == NX_EV_DOWNTIME)
		s->snap_soon = true;
	if (ev->kind != NX_EV_RESULT)
		return;
	want = s->snap_soon || m->next_downtime_id != s->snap_dt_id ||
	    m->ndowntimes != s->snap_dt_n;
	s->snap_soon = false;
	if (!want && s->opts.snapshot_events != 0 &&
	    ev->seq - s->snap_last_seq >= s->opts.snapshot_events)
		want = true;
	if (!want && s->opts.snapshot_ms != 0 && (ev->seq & 15) == 0 &&
	    store_mono_ns() - s->snap_last_ns >=
	    (uint64_t)s->opts.snapshot_ms * 1000000u)
		want = true;
	if (want)
		store_take_snapshot(s, ev->seq);
}

/*
 * Takes a snapshot now (covering the engine's last published event), to
 * be committed with the next group: a clean shutdown calls it before
 * store_close so that the next start replays no tail.
 */
void
store_snapshot(struct store *s)
{
	if (s->e != NULL && !s->reader_only)
		store_take_snapshot(s, s->e->bus.seq);
}

/*
 * Queues ev for the writer: its payload (n bytes of s->scratch) and, for a
 * dead letter, the reason.  Applies the queue bound (see the top).  Loop
 * thread.
 */
static void
store_enqueue(struct store *s, const struct event *ev, size_t n,
    const char *reason)
{
	const struct fleet *f = &s->e->fleet;
	const char *node = NULL, *check = NULL;
	struct store_rec *r;

	if (ev->node != NX_NONE && ev->node < f->nnodes)
		node = f->nodes[ev->node].name;
	if (ev->check != NX_NONE && ev->check < f->nchecks)
		check = f->checks[ev->check].name;

	pthread_mutex_lock(&s->mu);
	if (batch_bytes(&s->cur) + s->inflight_bytes >=
	    s->opts.queue_max_bytes && !s->degraded && !s->writer_exited) {
		/* Back-pressure: wait until the writer made room. */
		s->st.producer_waits++;
		pthread_cond_signal(&s->wake);
		while (batch_bytes(&s->cur) + s->inflight_bytes >=
		    s->opts.queue_max_bytes / 2 && !s->degraded &&
		    !s->writer_exited)
			pthread_cond_wait(&s->done, &s->mu);
	}
	if (batch_bytes(&s->cur) + s->inflight_bytes >=
	    s->opts.queue_max_bytes || s->writer_exited) {
		/* Degraded and full: refuse, count, record the gap later. */
		s->st.dropped++;
		s->snap_full = true;    /* what it changed is in no event */
		if (s->ngaps > 0 && s->gaps[s->ngaps - 1].last + 1 == ev->seq)
			s->gaps[s->ngaps - 1].last = ev->seq;
		else {
			if (s->ngaps == s->gaps_cap) {
				s->gaps_cap = s->gaps_cap ? s->gaps_cap * 2 : 4;
				s->gaps = xreallocarray(s->gaps, s->gaps_cap,
				    sizeof *s->gaps);
			}
			s->gaps[s->ngaps].first = s->gaps[s->ngaps].last =
			    ev->seq;
			s->ngaps++;
		}
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (s->cur.n == 0 && s->mcur.n == 0)
		s->cur_first_ns = store_mono_ns();
	r = batch_add(&s->cur);
	r->seq = ev->seq;
	r->time = ev->time;
	r->kind = ev->kind;
	batch_put_str(&s->cur, node, &r->node_off, &r->node_len);
	batch_put_str(&s->cur, check, &r->check_off, &r->check_len);
	r->payload_len = (uint32_t)n;
	r->payload_off = batch_put(&s->cur, s->scratch, n);
	batch_put_str(&s->cur, reason, &r->reason_off, &r->reason_len);
	if (ev->seq > s->enqueued_seq)
		s->enqueued_seq = ev->seq;
	if (s->cur.n == 1 || s->cur.n == s->opts.group_events)
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

/*
 * Queues one metric sample for the history (history.c).  The loop never
 * waits for it: past metric_queue_max_bytes samples are refused and
 * counted (samples_dropped); history is a summary, events are not.
 */
void
store_metric_sample(struct store *s, const char *node, const char *series,
    nx_time t, double v)
{
	struct store_mbatch *m = &s->mcur;
	struct store_msample *x;

	if (s->reader_only || node == NULL || series == NULL || isnan(v) ||
	    isinf(v))
		return;
	pthread_mutex_lock(&s->mu);
	if (m->strs.len + m->n * sizeof *m->v + s->minflight.strs.len +
	    s->minflight.n * sizeof *m->v >= s->opts.metric_queue_max_bytes ||
	    s->writer_exited) {
		s->st.samples_dropped++;
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (s->cur.n == 0 && m->n == 0)
		s->cur_first_ns = store_mono_ns();
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->v = xreallocarray(m->v, m->cap, sizeof *m->v);
	}
	x = &m->v[m->n++];
	batch_put_str(&m->strs, node, &x->node_off, &x->node_len);
	batch_put_str(&m->strs, series, &x->name_off, &x->name_len);
	x->time = t;
	x->value = v;
	if (m->n == 1)
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

/*
 * Samples every node's metrics (n->m.v[]) whose provider has sampled them
 * since the last time, at most once per HIST_SAMPLE_MS of the node's
 * sample time.  Loop thread; the subscriber calls it about once a second,
 * a caller with a timer may too.
 */
void
store_sample_metrics(struct store *s)
{
	const struct fleet *f;
	uint32_t i;
	int m;

	if (s->e == NULL || s->reader_only)
		return;
	f = &s->e->fleet;
	if (s->hist_nlast != f->nnodes) {
		s->hist_last = xreallocarray(s->hist_last, f->nnodes + 1,
		    sizeof *s->hist_last);
		for (i = s->hist_nlast; i < f->nnodes; i++)
			s->hist_last[i] = 0;
		s->hist_nlast = f->nnodes;
	}
	for (i = 0; i < f->nnodes; i++) {
		const struct node *n = &f->nodes[i];

		if (n->m.sampled == 0 ||
		    n->m.sampled < s->hist_last[i] + HIST_SAMPLE_MS)
			continue;
		s->hist_last[i] = n->m.sampled;
		for (m = 0; m < NX_M__COUNT; m++)
			store_metric_sample(s, n->name,
			    hist_metric_name((enum nx_metric)m), n->m.sampled,
			    n->m.v[m]);
	}
}

/*
 * The perfdata of a result as history samples: series "CHECK/LABEL" of
 * the check's node, at the event's time; at most one result per check
 * and HIST_SAMPLE_MS, like node metrics, however often it runs.
 */
static void
store_sample_perfdata(struct store *s, const struct event *ev)
{
	const struct fleet *f = &s->e->fleet;
	struct nx_plugin_output out;
	const struct check *c;
	char name[256];
	size_t i;

	if (ev->text == NULL || strchr(ev->text, '|') == NULL ||
	    ev->check >= f->nchecks)
		return;
	c = &f->checks[ev->check];
	if (c->node >= f->nnodes)
		return;
	if (s->hist_nchecks != f->nchecks) {
		s->hist_check_last = xreallocarray(s->hist_check_last,
		    f->nchecks + 1, sizeof *s->hist_check_last);
		for (i = s->hist_nchecks; i < f->nchecks; i++)
			s->hist_check_last[i] = INT64_MIN;
		s->hist_nchecks = f->nchecks;
	}
	if (s->hist_check_last[ev->check] != INT64_MIN &&
	    ev->time < s->hist_check_last[ev->check] + HIST_SAMPLE_MS)
		return;
	s->hist_check_last[ev->check] = ev->time;
	plugin_output_parse(ev->text, strlen(ev->text), &out);
	for (i = 0; i < out.nperf; i++) {
		const struct nx_perf *pd = &out.perf[i];

		if (pd->undetermined || pd->label == NULL)
			continue;
		snprintf(name, sizeof name, "%s/%s", c->name, pd->label);
		store_metric_sample(s, f->nodes[c->node].name, name, ev->time,
		    pd->value);
	}
	plugin_output_free(&out);
}

static void
store_on_event(void *arg, const struct event *ev)
{
	struct store *s = arg;
	size_t n = store_serialise(s, ev);
	uint64_t now;

	/* An event that cannot be encoded is kept as a dead letter. */
	store_enqueue(s, ev, n, n == 0 ? "cannot be encoded as JSON" : NULL);
	if (ev->kind == NX_EV_RESULT)
		store_sample_perfdata(s, ev);
	if ((now = store_mono_ns()) - s->hist_sweep_ns >= 1000000000u) {
		s->hist_sweep_ns = now;
		store_sample_metrics(s);
	}
	store_maybe_snapshot(s, ev);
}

/*
 * Records ev as a dead letter with reason: for a bus subscriber that could
 * not handle an event it must not lose.  Written with the next group
 * (dead_letters table); counted in stats.dead_letters.  Loop thread.
 */
void
store_dead_letter(struct store *s, const struct event *ev, const char *reason)
{
	size_t n;

	if (s->e == NULL || s->reader_only)
		return;
	n = store_serialise(s, ev);
	store_enqueue(s, ev, n, reason != NULL ? reason : "unknown");
}

/*
 * Subscribes the store to e's bus.  The bus continues from the last seq in
 * the file, so a restarted engine appends without gaps or duplicates.  The
 * store must be closed before the engine is freed.
 */
void
store_subscribe(struct store *s, struct engine *e)
{
	s->e = e;
	if (e->bus.seq < s->committed_seq)
		e->bus.seq = s->committed_seq;
	/* The first snapshot is complete (a restore changed everything). */
	s->snap_full = true;
	store_dirty_reset(s);
	bus_subscribe(&e->bus, store_on_event, s);
}

/*
 * Whether anything is queued or being written: events, dead letters,
 * samples, a snapshot.  Under mu.
 */
static bool
store_busy(const struct store *s)
{
	return s->cur.n > 0 || s->inflight.n > 0 || s->mcur.n > 0 ||
	    s->minflight.n > 0 || s->snap_pending != NULL ||
	    s->snap_inflight != NULL;
}

/*
 * Waits until everything queued before the call is committed.  Returns 0,
 * or -1 with the reason when a commit attempt failed meanwhile (the events
 * stay queued; the writer keeps retrying).
 */
int
store_flush(struct store *s, struct nx_err *err)
{
	uint64_t target, failures;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	target = s->enqueued_seq;
	failures = s->failures;
	s->flushers++;
	pthread_cond_signal(&s->wake);
	while ((s->committed_seq < target || store_busy(s)) &&
	    s->failures == failures && !s->writer_exited)
		pthread_cond_wait(&s->done, &s->mu);
	s->flushers--;
	if (s->committed_seq < target || store_busy(s)) {
		nx_err_set(err, "%s", s->st.reason[0] != '\0' ? s->st.reason :
		    "the store writer stopped");
		rc = -1;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/*
 * Runs fn(db, arg, err) on the writer thread inside its own BEGIN
 * IMMEDIATE transaction, committed with synchronous=FULL when durable, and
 * waits for it.  Returns fn's result (-1 rolls back) or -1 on a commit
 * error.  Calls are serialised.
 */
int
store_run_sync(struct store *s, store_job_fn fn, void *arg, bool durable,
    struct nx_err *err)
{
	struct store_job j;

	memset(&j, 0, sizeof j);
	j.fn = fn;
	j.arg = arg;
	j.durable = durable;
	pthread_mutex_lock(&s->mu);
	while (s->job != NULL && !s->writer_exited)
		pthread_cond_wait(&s->done, &s->mu);
	if (s->writer_exited) {
		pthread_mutex_unlock(&s->mu);
		nx_err_set(err, "%s: the store writer has stopped", s->path);
		return -1;
	}
	s->job = &j;
	pthread_cond_signal(&s->wake);
	while (!j.done)
		pthread_cond_wait(&s->done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	if (j.rc != 0)
		*err = j.err;
	return j.rc;
}

static int
store_job_max_pages(struct sqlite3 *db, void *arg, struct nx_err *err)
{
	char sql[64];

	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %u",
	    *(uint32_t *)arg);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		nx_err_set(err, "max_page_count: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Changes PRAGMA max_page_count of the writer (tests of SQLITE_FULL). */
int
store_set_max_pages(struct store *s, uint32_t pages, struct nx_err *err)
{
	return store_run_sync(s, store_job_max_pages, &pages, false, err);
}

/*
 * Flushes, stops the writer and closes the file; frees s.  Returns 0, or
 * -1 when events could not be committed (err says how many and why).
 */
int
store_close(struct store *s, struct nx_err *err)
{
	size_t lost;
	int rc = 0;

	if (s == NULL)
		return 0;
	if (s->reader_only) {
		snap_reader_free(s->node_reader);
		sqlite3_close(s->rdb);
		free(s->path);
		free(s);
		return 0;
	}
	if (s->e != NULL)
		bus_unsubscribe(&s->e->bus, store_on_event, s);
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	lost = s->cur.n + s->inflight.n;
	if (lost > 0 || s->ngaps > 0) {
		nx_err_set(err, "%s: %zu events not committed: %s", s->path,
		    lost, s->st.reason);
		rc = -1;
	}
	sqlite3_finalize(s->ins_event);
	sqlite3_finalize(s->ins_gap);
	sqlite3_finalize(s->ins_dead);
	hist_writer_free(s->hist);
	snap_reader_free(s->node_reader);
	sqlite3_close(s->rdb);
	if (sqlite3_close(s->db) != SQLITE_OK && rc == 0) {
		nx_err_set(err, "%s: close: %s", s->path, sqlite3_errmsg(s->db));
		rc = -1;
	}
	if (s->lock_fd != -1)
		close(s->lock_fd);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->done);
	pthread_mutex_destroy(&s->mu);
	if (s->snap_pending != NULL) {
		snap_proj_free(s->snap_pending);
		free(s->snap_pending);
	}
	if (s->snap_inflight != NULL) {
		snap_proj_free(s->snap_inflight);
		free(s->snap_inflight);
	}
	batch_free(&s->cur);
	batch_free(&s->inflight);
	batch_free(&s->mcur.strs);
	batch_free(&s->minflight.strs);
	free(s->mcur.v);
	free(s->minflight.v);
	free(s->hist_last);
	free(s->hist_check_last);
	free(s->dirty_nodes);
	free(s->dirty_checks);
	free(s->gaps);
	free(s->scratch);
	free(s->path);
	free(s);
	return rc;
}

static int
store_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A snapshot of the counters; safe from any thread. */
void
store_get_stats(struct store *s, struct store_stats *out)
{
	double lat[STORE_LAT_RING];
	size_t n;

	pthread_mutex_lock(&s->mu);
	*out = s->st;
	out->last_seq = s->committed_seq;
	out->queue_depth = s->cur.n + s->inflight_n;
	out->queue_bytes = batch_bytes(&s->cur) + s->inflight_bytes;
	out->sample_queue_depth = s->mcur.n;
	out->degraded = s->degraded;
	if (!s->degraded)
		out->reason[0] = '\0';
	n = s->nlat < STORE_LAT_RING ? s->nlat : STORE_LAT_RING;
	memcpy(lat, s->lat, n * sizeof *lat);
	pthread_mutex_unlock(&s->mu);
	if (n > 0) {
		qsort(lat, n, sizeof *lat, store_cmp_double);
		out->p99_commit_ms = lat[(n * 99 + 99) / 100 - 1];
		out->p50_commit_ms = lat[(n + 1) / 2 - 1];
		out->max_commit_ms = lat[n - 1];
	}
}

/* ---------------------------------------------------------------------- */
/* Readers (their own connection)                                          */

/* The highest seq in the file, as a reader sees it now. */
uint64_t
store_last_seq(struct store *s)
{
	int64_t v = 0;

	if (store_pragma_int(s->rdb, "SELECT max(seq) FROM events", &v) !=
	    SQLITE_OK)
		return 0;
	return (uint64_t)v;
}

/*
 * Calls fn for every committed event with seq > after, in seq order, until
 * fn returns non-zero (that value is returned).  Rows are borrowed for the
 * call.  Returns -1 with err on a read error.
 */
int
store_events_since(struct store *s, uint64_t after, store_event_fn fn,
    void *arg, struct nx_err *err)
{
	struct store_event_row row;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if ((rc = sqlite3_prepare_v2(s->rdb, "SELECT seq, time, kind, node, "
	    "\"check\", payload FROM events WHERE seq > ? ORDER BY seq", -1,
	    &st, NULL)) != SQLITE_OK) {
		store_sql_err(err, s->path, s->rdb, rc, "reading events",
		    s->opts.busy_timeout_ms);
		return -1;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row.seq = (uint64_t)sqlite3_column_int64(st, 0);
		row.time = sqlite3_column_int64(st, 1);
		row.kind = (const char *)sqlite3_column_text(st, 2);
		row.node = (const char *)sqlite3_column_text(st, 3);
		row.check = (const char *)sqlite3_column_text(st, 4);
		row.payload = (const char *)sqlite3_column_text(st, 5);
		if ((ret = fn(arg, &row)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sql_err(err, s->path, s->rdb, rc, "reading events",
		    s->opts.busy_timeout_ms);
		ret = -1;
	}
	sqlite3_finalize(st);
	return ret;
}

/*
 * Reads the current state of the file - the snapshot and the events after
 * it - into p (initialised, empty), through the reader connection.
 */
int
store_load_projection(struct store *s, struct snap_proj *p, struct nx_err *err)
{
	return snap_proj_load(p, s->rdb, err);
}

/*
 * Restores e (loaded, not started) from the file: the snapshot plus the
 * tail of events after it (snapshot.c).  Fills *st (unknown objects are
 * counted and ignored).  Returns 0 or -1 with err.
 */
int
store_restore(struct store *s, struct engine *e, struct snap_restore_stats *st,
    struct nx_err *err)
{
	struct snap_proj p;
	int rc;

	snap_proj_init(&p);
	if ((rc = snap_proj_load(&p, s->rdb, err)) == 0)
		snap_proj_restore(&p, e, st);
	snap_proj_free(&p);
	return rc;
}

/*
 * Reads one metric series (node, series name) of a tier between from
 * (inclusive) and to (exclusive), in time order, through the reader
 * connection; fn as in hist_read().  Returns 0, fn's non-zero value, or -1
 * with err.
 */
int
store_metric_series(struct store *s, const char *node, const char *series,
    enum hist_tier tier, nx_time from, nx_time to, hist_point_fn fn,
    void *arg, struct nx_err *err)
{
	return hist_read(s->rdb, node, series, tier, from, to, fn, arg, err);
}

/*
 * The current state of one node (its snapshot rows and its events after
 * the snapshot) into p (initialised, empty), through the reader
 * connection: a point read, indexed (events_node), with its statements
 * prepared once per connection (snap_reader_load_node).
 */
int
store_node_state(struct store *s, const char *node, struct snap_proj *p,
    struct nx_err *err)
{
	return snap_reader_load_node(&s->node_reader, s->rdb, node, p, err);
}

/*
 * The head of the audit chain (seq 0 and zeros when empty), read on the
 * reader connection: one primary-key lookup.  Returns 0 or -1 with err.
 */
int
store_audit_head(struct store *s, uint64_t *seq,
    char hex[2 * AUDIT_HASH_LEN + 1], struct nx_err *err)
{
	int rc;

	if ((rc = audit_read_head(s->rdb, seq, hex)) != SQLITE_OK) {
		store_sql_err(err, s->path, s->rdb, rc, "reading the audit head",
		    s->opts.busy_timeout_ms);
		return -1;
	}
	return 0;
}

/* Rows in dead_letters, or -1 (a file without the table, a read error). */
int64_t
store_dead_letter_count(struct store *s)
{
	int64_t v = 0;

	if (store_pragma_int(s->rdb, "SELECT count(*) FROM dead_letters",
	    &v) != SQLITE_OK)
		return -1;
	return v;
}

/* The retentions of cfg's store section, from the next pass on. */
void
store_set_retention(struct store *s, const struct nx_config *cfg)
{
	if (s->reader_only)
		return;
	pthread_mutex_lock(&s->mu);
	s->ret.events_ms = cfg->store.event_retention_ms;
	s->ret.metric_raw_ms = cfg->store.metric_raw_ms;
	s->ret.metric_1m_ms = cfg->store.metric_1m_ms;
	s->ret.metric_1h_ms = cfg->store.metric_1h_ms;
	pthread_mutex_unlock(&s->mu);
}

struct store_prune_arg {
	struct store *s;
	size_t deleted;
	bool more;
};

static int
store_job_prune(struct sqlite3 *db, void *arg, struct nx_err *err)
{
	struct store_prune_arg *a = arg;
	struct store *s = a->s;
	struct store_retention ret;
	uint64_t rows = 0;
	int rc;

	(void)db;
	pthread_mutex_lock(&s->mu);
	ret = s->ret;
	pthread_mutex_unlock(&s->mu);
	if ((rc = hist_rollup(s->hist, &rows, err)) < 0 ||
	    hist_retain(s->hist, &ret, s->event_now, s->opts.retention_batch,
	    &a->deleted, &a->more, err) != 0) {
		hist_writer_reset(s->hist);
		return -1;
	}
	a->more |= rc > 0;
	return 0;
}

/*
 * Rolls up and deletes every expired row now, one small transaction per
 * batch on the writer thread (what the writer otherwise does at most once
 * a second, with the groups).  Flushes first.  *deleted counts the rows.
 */
int
store_prune(struct store *s, size_t *deleted, struct nx_err *err)
{
	struct store_prune_arg a;

	*deleted = 0;
	if (store_flush(s, err) != 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.s = s;
	do {
		a.more = false;
		if (store_run_sync(s, store_job_prune, &a, false, err) != 0)
			return -1;
	} while (a.more);
	*deleted = a.deleted;
	pthread_mutex_lock(&s->mu);
	s->st.pruned_rows += a.deleted;
	pthread_mutex_unlock(&s->mu);
	return 0;
}
