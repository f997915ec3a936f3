/*
 * cmd-jobs.c - `nexusctl jobs [--state FILE] [--format text|json]
 * [--limit N] [JOB]`: the history of jobs from a state store's events,
 * read-only, while an engine may be writing it.
 *
 * Jobs are not stored as such: job.c publishes an NX_EV_JOB event (kind
 * "job") at a job's creation and at every state change, whose text is a
 * summary followed by key=value fields (doc/actions.md, "Events"), and
 * remed.c one when a remediation job's outcome is known ("job 12 rule R
 * action A on NODE: outcome recovered (...)").  This command folds them
 * into one record per job: its latest state and time, action, target,
 * counts, origin and outcome.  Job ids start at 1 in every engine
 * process, so a job is its id and its creation time (`created=`).
 *
 * A batch `nexusctl run` (without --engine) publishes no events into the
 * store (its own engine's seqs would collide with those of the engine
 * that owns the file), but it writes audit rows into the store's chain:
 * `run`/`adhoc` with origin "batch" and "started job N" when it starts,
 * `job` with the result ("succeeded 2/2", "failed ...") and "origin" and
 * "created" in its args when it ends.  Those rows are folded into batch
 * records ("batch": true, origin batch), listed with the others by
 * creation time (doc/actions.md, "Batch jobs in `nexusctl jobs`").
 *
 * Without JOB: one line per job, the last --limit (default 50; 0 all),
 * oldest first (by creation).  With JOB: every event of that job (of each job with that
 * id when several engine runs used it).
 *
 * Exit statuses: 0; 1 JOB not found; 78 no such state file; 65 a file
 * that is not a nexusctl store; 70 anything else; 64 usage.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "cli.h"

#define JOBS_DEFAULT_LIMIT 50

enum jobs_format { JOBS_TEXT, JOBS_JSON };
static const char *const jobs_formats[] = { "text", "json", NULL };

enum {
	JOBS_OPT_LIMIT = CLI_OPT__CMD,
};

/* One job folded from its events.  Strings owned. */
struct jobs_rec {
	uint32_t id;
	char *created;          /* ISO time from the events, or NULL */
	char *action;
	char *state;
	uint32_t done, total, ok, failed, error, cancelled;
	char *origin, *user, *target;
	bool dry_run;
	uint32_t retry_of;
	char *outcome;          /* "recovered", "not_recovered", or NULL */
	char *outcome_text;     /* the outcome event's text */
	char *node, *check;     /* the events' columns, when set */
	int64_t first_ms, last_ms;
	uint64_t first_seq, last_seq;
	uint32_t nevents;
	json_t *events;         /* kept for the JOB asked for, else NULL */
	bool batch;             /* from the audit rows of a batch run */
	uint64_t audit_first, audit_last;       /* their seqs (batch) */
	size_t order;           /* as read, for a stable sort */
};

/* The records, and an open-addressing index: job id -> its latest record. */
struct jobs_ctx {
	struct jobs_rec *v;
	size_t n, cap;
	long want;              /* JOB, or -1 */
	uint32_t *keys;         /* job ids */
	size_t *slots;          /* index in v + 1; 0 = empty */
	size_t nslots, used;    /* nslots a power of two */
	size_t nfromevents;     /* v[0..nfromevents) are from events */
};

static void
jobs_rec_free(struct jobs_rec *r)
{
	free(r->created);
	free(r->action);
	free(r->state);
	free(r->origin);
	free(r->user);
	free(r->target);
	free(r->outcome);
	free(r->outcome_text);
	free(r->node);
	free(r->check);
	json_decref(r->events);
}

static void
jobs_set(char **dst, const char *s, size_t len)
{
	free(*dst);
	*dst = s != NULL ? xstrndup(s, len) : NULL;
}

static int
jobs_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The value of a key=value field, %XX decoded; a new string. */
static char *
jobs_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    (hi = jobs_hexval(s[i + 1])) >= 0 &&
		    (lo = jobs_hexval(s[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

static size_t
jobs_hash(uint32_t id, size_t nslots)
{
	return (size_t)(id * 2654435761u) & (nslots - 1);
}

/* The latest record of job id, or NULL. */
static struct jobs_rec *
jobs_latest(const struct jobs_ctx *x, uint32_t id)
{
	size_t h;

	if (x->nslots == 0)
		return NULL;
	for (h = jobs_hash(id, x->nslots); x->slots[h] != 0;
	    h = (h + 1) & (x->nslots - 1)) {
		if (x->keys[h] == id)
			return &x->v[x->slots[h] - 1];
	}
	return NULL;
}

/* Makes record idx the latest of its id. */
static void
jobs_index(struct jobs_ctx *x, uint32_t id, size_t idx)
{
	uint32_t *okeys = x->keys;
	size_t *oslots = x->slots, on = x->nslots, h, i;

	if (2 * (x->used + 1) > x->nslots) {
		x->nslots = on == 0 ? 256 : on * 2;
		x->keys = xcalloc(x->nslots, sizeof *x->keys);
		x->slots = xcalloc(x->nslots, sizeof *x->slots);
		x->used = 0;
		for (i = 0; i < on; i++) {
			if (oslots[i] != 0)
				jobs_index(x, okeys[i], oslots[i] - 1);
		}
		free(okeys);
		free(oslots);
	}
	for (h = jobs_hash(id, x->nslots); x->slots[h] != 0 &&
	    x->keys[h] != id; h = (h + 1) & (x->nslots - 1))
		;
	if (x->slots[h] == 0)
		x->used++;
	x->keys[h] = id;
	x->slots[h] = idx + 1;
}

/*
 * The record of job id created at `created` (may be NULL): its latest
 * record, or a new one when that one is of another engine run (another
 * creation time; without created=, a final job that starts again).
 */
static struct jobs_rec *
jobs_rec_get(struct jobs_ctx *x, uint32_t id, const char *created,
    bool initial)
{
	struct jobs_rec *r = jobs_latest(x, id);

	if (r != NULL && !(created != NULL && r->created != NULL &&
	    strcmp(created, r->created) != 0) &&
	    !(created == NULL && initial && r->state != NULL &&
	    (strcmp(r->state, "succeeded") == 0 ||
	    strcmp(r->state, "failed") == 0 ||
	    strcmp(r->state, "cancelled") == 0 ||
	    strcmp(r->state, "rejected") == 0)))
		return r;
	if (x->n == x->cap) {
		x->cap = x->cap == 0 ? 64 : x->cap * 2;
		x->v = xreallocarray(x->v, x->cap, sizeof *x->v);
	}
	r = &x->v[x->n];
	memset(r, 0, sizeof *r);
	r->id = id;
	if (created != NULL)
		r->created = xstrdup(created);
	jobs_index(x, id, x->n++);
	return r;
}

/*
 * Folds job.c's event text into a record: "job ID ACTION: STATE D/T (A ok,
 * B failed, C error, D cancelled)" and key=value fields.  Returns the
 * record, or NULL when the text is not of that form.
 */
static struct jobs_rec *
jobs_fold_state(struct jobs_ctx *x, const char *text)
{
	char action[128], state[32];
	uint32_t id, done, total, ok, failed, error, cancelled;
	const char *p, *sp, *eq;
	char *created = NULL;
	struct jobs_rec *r;
	int n = -1;
	bool initial;

	if (sscanf(text, "job %u %127[^: ]: %31s %u/%u (%u ok, %u failed, "
	    "%u error, %u cancelled)%n", &id, action, state, &done, &total,
	    &ok, &failed, &error, &cancelled, &n) != 9 || n < 0)
		return NULL;
	if ((p = strstr(text + n, " created=")) != NULL) {
		p += strlen(" created=");
		created = xstrndup(p, strcspn(p, " "));
	}
	initial = strcmp(state, "queued") == 0 ||
	    strcmp(state, "proposed") == 0 || strcmp(state, "suggested") == 0;
	r = jobs_rec_get(x, id, created, initial);
	free(created);
	jobs_set(&r->action, action, strlen(action));
	jobs_set(&r->state, state, strlen(state));
	r->done = done;
	r->total = total;
	r->ok = ok;
	r->failed = failed;
	r->error = error;
	r->cancelled = cancelled;
	for (p = text + n; *p == ' '; p = sp) {
		p++;
		sp = p + strcspn(p, " ");
		if ((eq = memchr(p, '=', (size_t)(sp - p))) == NULL)
			continue;
#define JOBS_KEY(k) ((size_t)(eq - p) == strlen(k) && \
	    strncmp(p, k, strlen(k)) == 0)
		if (JOBS_KEY("origin")) {
			free(r->origin);
			r->origin = jobs_decode(eq + 1, (size_t)(sp - eq - 1));
		} else if (JOBS_KEY("user")) {
			free(r->user);
			r->user = jobs_decode(eq + 1, (size_t)(sp - eq - 1));
		} else if (JOBS_KEY("target")) {
			free(r->target);
			r->target = jobs_decode(eq + 1, (size_t)(sp - eq - 1));
		} else if (JOBS_KEY("dry_run"))
			r->dry_run = strncmp(eq + 1, "yes", 3) == 0;
		else if (JOBS_KEY("retry_of"))
			r->retry_of = (uint32_t)strtoul(eq + 1, NULL, 10);
#undef JOBS_KEY
	}
	return r;
}

/*
 * Folds remed.c's outcome text, "job ID rule R action A on NODE: outcome
 * O (CHECK STATE)", into the latest record of that id.  Returns it, or
 * NULL when the text is not of that form or the job is unknown.
 */
static struct jobs_rec *
jobs_fold_outcome(struct jobs_ctx *x, const char *text)
{
	struct jobs_rec *r;
	char outcome[32];
	const char *p;
	uint32_t id;
	int n = -1;

	if (sscanf(text, "job %u rule %*s action %*s on %n", &id, &n) != 1 ||
	    n < 0 || (p = strstr(text, ": outcome ")) == NULL ||
	    sscanf(p, ": outcome %31s", outcome) != 1)
		return NULL;
	if ((r = jobs_latest(x, id)) == NULL)
		return NULL;
	jobs_set(&r->outcome, outcome, strlen(outcome));
	jobs_set(&r->outcome_text, text, strlen(text));
	return r;
}

/* One stored job event: folded into its record. */
static void
jobs_row(struct jobs_ctx *x, sqlite3_stmt *st)
{
	const char *text = NULL, *payload, *node, *check;
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
	int64_t ms = sqlite3_column_int64(st, 1);
	struct jobs_rec *r;
	json_t *pl, *ev;

	node = (const char *)sqlite3_column_text(st, 2);
	check = (const char *)sqlite3_column_text(st, 3);
	payload = (const char *)sqlite3_column_text(st, 4);
	pl = payload != NULL ? json_loads(payload, 0, NULL) : NULL;
	text = json_string_value(json_object_get(pl, "output"));
	if (text == NULL || ((r = jobs_fold_state(x, text)) == NULL &&
	    (r = jobs_fold_outcome(x, text)) == NULL)) {
		json_decref(pl);
		return;
	}
	if (r->nevents++ == 0) {
		r->first_ms = ms;
		r->first_seq = seq;
	}
	r->last_ms = ms;
	r->last_seq = seq;
	if (node != NULL && r->node == NULL)
		jobs_set(&r->node, node, strlen(node));
	if (check != NULL && r->check == NULL)
		jobs_set(&r->check, check, strlen(check));
	if (x->want >= 0 && r->id == (uint32_t)x->want) {
		if (r->events == NULL)
			r->events = json_array();
		ev = json_object();
		json_object_set_new(ev, "seq", json_integer((json_int_t)seq));
		json_object_set_new(ev, "time", json_real((double)ms / 1000.0));
		if (node != NULL)
			json_object_set_new(ev, "node", nx_json_text(node));
		if (check != NULL)
			json_object_set_new(ev, "check", nx_json_text(check));
		json_object_set_new(ev, "output", nx_json_text(text));
		json_array_append_new(r->events, ev);
	}
	json_decref(pl);
}

static int
jobs_fail_status(enum store_fail fail)
{
	switch (fail) {
	case STORE_FAIL_MISSING:
		return NX_EXIT_CONFIG;
	case STORE_FAIL_FOREIGN:
	case STORE_FAIL_CORRUPT:
	case STORE_FAIL_NEWER:
		return NX_EXIT_DATAERR;
	default:
		return NX_EXIT_SOFTWARE;
	}
}

/* ---------------------------------------------------------------------- */
/* Batch jobs, from the audit chain                                        */

/* A new batch record of job id; owned by x. */
static struct jobs_rec *
jobs_batch_new(struct jobs_ctx *x, uint32_t id)
{
	struct jobs_rec *r;

	if (x->n == x->cap) {
		x->cap = x->cap == 0 ? 64 : x->cap * 2;
		x->v = xreallocarray(x->v, x->cap, sizeof *x->v);
	}
	r = &x->v[x->n++];
	memset(r, 0, sizeof *r);
	r->id = id;
	r->batch = true;
	r->origin = xstrdup("batch");
	return r;
}

static bool
jobs_streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/*
 * The batch record a final `job` row belongs to: the latest one still
 * running with that id, user and action (ids start at 1 in every batch
 * process), one with the same target first.  NULL when there is none.
 */
static struct jobs_rec *
jobs_batch_pending(struct jobs_ctx *x, uint32_t id, const char *who,
    const char *action, const char *target)
{
	struct jobs_rec *any = NULL, *r;
	size_t i;

	for (i = x->n; i > x->nfromevents; i--) {
		r = &x->v[i - 1];
		if (!r->batch || r->id != id || !jobs_streq(r->state,
		    "running") || !jobs_streq(r->user, who) ||
		    !jobs_streq(r->action, action))
			continue;
		if (jobs_streq(r->target, target))
			return r;
		if (any == NULL)
			any = r;
	}
	return any;
}

/* "2026-11-27T17:40:28.123Z" of ms since the epoch; a new string. */
static char *
jobs_iso(int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	char buf[40];
	struct tm tm;
	size_t tl;

	if (gmtime_r(&secs, &tm) == NULL ||
	    (tl = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
		return NULL;
	snprintf(buf + tl, sizeof buf - tl, ".%03dZ", (int)(ms % 1000));
	return xstrdup(buf);
}

/*
 * Folds a final row's result (engine/job.c, job_audit_final) into r:
 * "succeeded N/T", "failed F/T (A ok, B failed, C error, D cancelled)",
 * "cancelled (A ok, B failed, C error, D cancelled)[: reason]",
 * "rejected[: reason]".
 */
static void
jobs_batch_result(struct jobs_rec *r, const char *result)
{
	uint32_t a, b, ok, failed, error, cancelled;
	char state[32];

	if (sscanf(result, "%31[a-z_]", state) != 1)
		snprintf(state, sizeof state, "?");
	jobs_set(&r->state, state, strlen(state));
	if (sscanf(result, "succeeded %u/%u", &a, &b) == 2) {
		r->ok = r->done = a;
		r->total = b;
		r->failed = r->error = r->cancelled = 0;
	} else if (sscanf(result, "failed %u/%u (%u ok, %u failed, %u error, "
	    "%u cancelled)", &a, &b, &ok, &failed, &error, &cancelled) == 6) {
		r->total = b;
		r->ok = ok;
		r->failed = failed;
		r->error = error;
		r->cancelled = cancelled;
		r->done = ok + failed + error;
	} else if (sscanf(result, "cancelled (%u ok, %u failed, %u error, "
	    "%u cancelled)", &ok, &failed, &error, &cancelled) == 4) {
		r->ok = ok;
		r->failed = failed;
		r->error = error;
		r->cancelled = cancelled;
		r->done = ok + failed + error;
		if (r->total < r->done + cancelled)
			r->total = r->done + cancelled;
	}
}

/*
 * One audit row of a batch run (see the top): a `run`/`adhoc` row of
 * origin "batch" starts a record, running; the `job` row at its end
 * gives it its state and counts.  A `job` row of another origin is an
 * engine's job (its events are the record); one without an origin (rows
 * written before origin was added) counts only when a batch record waits
 * for it.  Other rows are not jobs.
 */
static void
jobs_audit_row(struct jobs_ctx *x, sqlite3_stmt *st)
{
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
	int64_t ms = sqlite3_column_int64(st, 1);
	const char *who = (const char *)sqlite3_column_text(st, 2);
	const char *action = (const char *)sqlite3_column_text(st, 3);
	const char *target = (const char *)sqlite3_column_text(st, 4);
	const char *args = (const char *)sqlite3_column_text(st, 5);
	const char *result = (const char *)sqlite3_column_text(st, 6);
	const char *origin, *name, *label, *created;
	struct jobs_rec *r;
	json_int_t id;
	json_t *a, *ev;
	bool start;
	char **names;
	size_t n;

	if (action == NULL || result == NULL || args == NULL)
		return;
	start = strcmp(action, "run") == 0 || strcmp(action, "adhoc") == 0;
	if (!start && strcmp(action, "job") != 0)
		return;
	if ((a = json_loads(args, 0, NULL)) == NULL)
		return;
	origin = json_string_value(json_object_get(a, "origin"));
	id = json_integer_value(json_object_get(a, "job"));
	name = json_string_value(json_object_get(a, "action"));
	label = name != NULL ? name : "ad-hoc";
	created = json_string_value(json_object_get(a, "created"));
	if (id < 1 || id > (json_int_t)UINT32_MAX ||
	    (origin != NULL && strcmp(origin, "batch") != 0) ||
	    (start && (origin == NULL ||
	    strncmp(result, "started job ", 12) != 0))) {
		json_decref(a);
		return;
	}
	if (start) {
		r = jobs_batch_new(x, (uint32_t)id);
		jobs_set(&r->state, "running", 7);
	} else if ((r = jobs_batch_pending(x, (uint32_t)id, who, label,
	    target)) == NULL) {
		if (origin == NULL) {
			json_decref(a);
			return;
		}
		r = jobs_batch_new(x, (uint32_t)id);
	}
	if (r->nevents++ == 0) {
		r->first_ms = ms;
		r->audit_first = seq;
		jobs_set(&r->action, label, strlen(label));
		if (who != NULL)
			jobs_set(&r->user, who, strlen(who));
		if (target != NULL) {
			jobs_set(&r->target, target, strlen(target));
			if (hostlist_expand(target, &names, &n, NULL) == 0) {
				r->total = (uint32_t)n;
				range_free(names, n);
			}
		}
		if (created == NULL)
			r->created = jobs_iso(ms);
	}
	if (created != NULL)
		jobs_set(&r->created, created, strlen(created));
	if (json_is_true(json_object_get(a, "dry_run")))
		r->dry_run = true;
	if (json_integer_value(json_object_get(a, "retry_of")) > 0)
		r->retry_of = (uint32_t)json_integer_value(json_object_get(a,
		    "retry_of"));
	if (!start)
		jobs_batch_result(r, result);
	r->last_ms = ms;
	r->audit_last = seq;
	if (x->want >= 0 && r->id == (uint32_t)x->want) {
		if (r->events == NULL)
			r->events = json_array();
		ev = json_object();
		json_object_set_new(ev, "audit_seq", json_integer(
		    (json_int_t)seq));
		json_object_set_new(ev, "time", json_real((double)ms / 1000.0));
		json_object_set_new(ev, "action", nx_json_text(action));
		json_object_set_new(ev, "result", nx_json_text(result));
		json_array_append_new(r->events, ev);
	}
	json_decref(a);
}

/* Creation order; the order read (seq) among equals. */
static int
jobs_cmp(const void *pa, const void *pb)
{
	const struct jobs_rec *a = pa, *b = pb;

	if (a->first_ms != b->first_ms)
		return a->first_ms < b->first_ms ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* Reads every job event of the store at path into x.  Exit status. */
static int
jobs_read(struct jobs_ctx *x, const char *path)
{
	struct nx_err err = { { 0 } };
	enum store_fail fail;
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	if (store_open_db(path, true, 5000, &db, &fail, &err) != 0) {
		fprintf(stderr, "nexusctl: jobs: %s\n", err.msg);
		return jobs_fail_status(fail);
	}
	if (sqlite3_prepare_v2(db, "SELECT seq, time, node, \"check\", "
	    "payload FROM events WHERE kind = 'job' ORDER BY seq", -1, &st,
	    NULL) != SQLITE_OK) {
		fprintf(stderr, "nexusctl: jobs: %s: %s\n", path,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return NX_EXIT_DATAERR;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		jobs_row(x, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "nexusctl: jobs: %s: reading events: %s\n",
		    path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return NX_EXIT_SOFTWARE;
	}
	x->nfromevents = x->n;
	if (sqlite3_prepare_v2(db, "SELECT seq, time, who, action, target, "
	    "args, result FROM audit WHERE action IN ('run', 'adhoc', 'job') "
	    "ORDER BY seq", -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "nexusctl: jobs: %s: %s\n", path,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return NX_EXIT_DATAERR;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		jobs_audit_row(x, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "nexusctl: jobs: %s: reading the audit rows: "
		    "%s\n", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return NX_EXIT_SOFTWARE;
	}
	sqlite3_close(db);
	for (i = 0; i < x->n; i++)
		x->v[i].order = i;
	if (x->n > 1)
		qsort(x->v, x->n, sizeof *x->v, jobs_cmp);
	return 0;
}

/* Prints s with C0 controls and DEL made visible (remote text is data). */
static void
jobs_put(const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/* "2026-11-27 17:40:28" in local time. */
static void
jobs_put_time(int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	char buf[32];
	struct tm tm;

	if (localtime_r(&secs, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, sizeof buf, "%lld", (long long)ms);
	fputs(buf, stdout);
}

static json_t *
jobs_str_json(const char *s)
{
	return s != NULL ? nx_json_text(s) : json_null();
}

static json_t *
jobs_rec_json(const struct jobs_rec *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "created", jobs_str_json(r->created));
	json_object_set_new(o, "time", json_real((double)r->last_ms / 1000.0));
	json_object_set_new(o, "state", jobs_str_json(r->state));
	json_object_set_new(o, "action", jobs_str_json(r->action));
	json_object_set_new(o, "target", jobs_str_json(r->target));
	json_object_set_new(o, "hosts", json_integer(r->total));
	json_object_set_new(o, "done", json_integer(r->done));
	json_object_set_new(o, "ok", json_integer(r->ok));
	json_object_set_new(o, "failed", json_integer(r->failed));
	json_object_set_new(o, "error", json_integer(r->error));
	json_object_set_new(o, "cancelled", json_integer(r->cancelled));
	json_object_set_new(o, "origin", jobs_str_json(r->origin));
	json_object_set_new(o, "user", jobs_str_json(r->user));
	json_object_set_new(o, "dry_run", json_boolean(r->dry_run));
	json_object_set_new(o, "retry_of", r->retry_of != 0 ?
	    json_integer(r->retry_of) : json_null());
	json_object_set_new(o, "outcome", jobs_str_json(r->outcome));
	json_object_set_new(o, "node", jobs_str_json(r->node));
	json_object_set_new(o, "check", jobs_str_json(r->check));
	json_object_set_new(o, "first_seq", r->batch ? json_null() :
	    json_integer((json_int_t)r->first_seq));
	json_object_set_new(o, "last_seq", r->batch ? json_null() :
	    json_integer((json_int_t)r->last_seq));
	json_object_set_new(o, "events", json_integer(r->nevents));
	json_object_set_new(o, "batch", json_boolean(r->batch));
	json_object_set_new(o, "audit_first_seq", r->batch ? json_integer(
	    (json_int_t)r->audit_first) : json_null());
	json_object_set_new(o, "audit_last_seq", r->batch ? json_integer(
	    (json_int_t)r->audit_last) : json_null());
	return o;
}

/* One job, one line. */
static void
jobs_print_line(const struct jobs_rec *r)
{
	printf("%5u  ", r->id);
	jobs_put_time(r->last_ms);
	printf("  %-10s ", r->state != NULL ? r->state : "?");
	jobs_put(r->action);
	fputs(" on ", stdout);
	jobs_put(r->target != NULL ? r->target : r->node != NULL ? r->node :
	    "?");
	printf(": %u/%u (%u ok, %u failed, %u error, %u cancelled), ",
	    r->done, r->total, r->ok, r->failed, r->error, r->cancelled);
	jobs_put(r->origin != NULL ? r->origin : "?");
	if (r->user != NULL) {
		fputs(" by ", stdout);
		jobs_put(r->user);
	}
	if (r->dry_run)
		fputs(", dry run", stdout);
	if (r->retry_of != 0)
		printf(", retry of %u", r->retry_of);
	if (r->outcome != NULL) {
		fputs(", outcome ", stdout);
		jobs_put(r->outcome);
	}
	putchar('\n');
}

/* `jobs N`, text: the job's line, then each of its events. */
static void
jobs_print_events(const struct jobs_rec *r)
{
	const json_t *ev;
	size_t i;

	jobs_print_line(r);
	if (r->created != NULL) {
		fputs("       created ", stdout);
		jobs_put(r->created);
		putchar('\n');
	}
	json_array_foreach(r->events, i, ev) {
		double t = json_real_value(json_object_get(ev, "time"));

		if (r->batch)
			printf("       audit %lld  ", (long long)
			    json_integer_value(json_object_get(ev,
			    "audit_seq")));
		else
			printf("       seq %lld  ", (long long)
			    json_integer_value(json_object_get(ev, "seq")));
		jobs_put_time((int64_t)(t * 1000.0));
		printf(".%03d  ", (int)((int64_t)(t * 1000.0 + 0.5) % 1000));
		if (r->batch) {
			jobs_put(json_string_value(json_object_get(ev,
			    "action")));
			fputs(": ", stdout);
			jobs_put(json_string_value(json_object_get(ev,
			    "result")));
		} else
			jobs_put(json_string_value(json_object_get(ev,
			    "output")));
		putchar('\n');
	}
}

int
cmd_jobs_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "limit", required_argument, NULL, JOBS_OPT_LIMIT },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("jobs");
	enum jobs_format fmt = JOBS_TEXT;
	long limit = JOBS_DEFAULT_LIMIT;
	struct jobs_ctx x;
	struct cli_common co;
	json_t *out = NULL, *o;
	size_t i, from, found = 0;
	char *path;
	int choice, opt, rc, status = 0;

	memset(&x, 0, sizeof x);
	x.want = -1;
	cli_common_init(&co, argv);
	while ((opt = cli_next_opt(cmd, &co, argc, argv, CLI_COMMON_SHORTOPTS,
	    longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == CLI_OPT_FORMAT) {
			if ((rc = cli_choice(cmd, "format", optarg,
			    jobs_formats, &choice)) >= 0)
				return rc;
			fmt = (enum jobs_format)choice;
		} else if (opt == JOBS_OPT_LIMIT && cli_parse_long("--limit",
		    optarg, 0, LONG_MAX, &limit) != 0)
			return cli_usage_error(cmd, "--limit wants a number of "
			    "jobs (0: all), not '%s'", optarg);
	}
	if (optind < argc) {
		if (cli_parse_long("JOB", argv[optind], 1, UINT32_MAX,
		    &x.want) != 0)
			return cli_usage_error(cmd, "JOB is a job number, not "
			    "'%s'", argv[optind]);
		if (optind + 1 < argc)
			return cli_usage_error(cmd, "unexpected argument '%s'",
			    argv[optind + 1]);
	}

	path = cli_state_path(&co);
	if ((status = jobs_read(&x, path)) != 0)
		goto out;
	if (fmt == JOBS_JSON)
		out = json_array();
	from = limit > 0 && x.n > (size_t)limit && x.want < 0 ?
	    x.n - (size_t)limit : 0;
	for (i = from; i < x.n; i++) {
		const struct jobs_rec *r = &x.v[i];

		if (x.want >= 0 && r->id != (uint32_t)x.want)
			continue;
		found++;
		if (fmt == JOBS_JSON) {
			o = jobs_rec_json(r);
			if (x.want >= 0)
				json_object_set(o, "events", r->events);
			json_array_append_new(out, o);
		} else if (x.want >= 0)
			jobs_print_events(r);
		else
			jobs_print_line(r);
	}
	if (out != NULL && json_dumpf(out, stdout, JSON_INDENT(2) |
	    NX_JSON_FLAGS) == 0)
		putchar('\n');
	if (x.want >= 0 && found == 0) {
		fprintf(stderr, "nexusctl: jobs: no job %ld in %s\n", x.want,
		    path);
		status = 1;
	} else if (found == 0 && fmt == JOBS_TEXT)
		puts("no jobs");
	if (fflush(stdout) != 0) {
		perror("nexusctl: jobs: stdout");
		status = NX_EXIT_SOFTWARE;
	}
out:
	json_decref(out);
	for (i = 0; i < x.n; i++)
		jobs_rec_free(&x.v[i]);
	free(x.v);
	free(x.keys);
	free(x.slots);
	free(path);
	return status;
}
