/*
 * job.c - jobs: one action (or ad-hoc command) on many nodes
 * (doc/actions.md).
 *
 * A job holds one slot per host.  job_pump() starts queued hosts through
 * the executor of the job's kind until `concurrency` run at once; each
 * executor calls job_host_finish() exactly once per host it started, now
 * or later on the loop.  Nothing blocks: local commands are child
 * processes (engine/child.c), ssh commands channels of an SSH pool, provider
 * actions the provider's own code on the loop.
 *
 * The same engine serves the console's actions, remediation rules and
 * `nexusctl run` (ad-hoc -w fan-out and defined actions): one fan-out.
 *
 * Jobs live in e->act (struct act), oldest first; past JOB_KEEP the oldest
 * finished jobs are evicted.  Executors never keep a job pointer across a
 * callback: they find the job again by id, so an evicted or cancelled job
 * is simply gone when a late result arrives.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "act.h"

#define JOB_KEEP 1000
#define JOB_OUTPUT_CAP (64 * 1024)
#define JOB_PIPE_GRACE_MS 1000  /* output still open after the exit */


struct act_row {
	nx_time time;
	char *who, *role, *action, *target, *args, *result;
};

struct act {
	struct job **jobs;      /* oldest first */
	size_t njobs, cap;
	uint32_t next_id;
	struct ssh_pool *ssh;   /* set by act_set_ssh_pool, not owned */
	uint32_t adhoc_concurrency, adhoc_timeout_ms;   /* 0: 32, 60 s */
	act_audit_fn audit_fn;
	void *audit_arg;
	struct act_row ring[ACT_AUDIT_RECENT];
	size_t ring_head, ring_count;
	struct nx_audit_entry view;     /* what act_audit_at returns */
};

/* An executor: how one host of a job runs, by action kind. */
struct job_executor {
	const char *name;
	int (*start)(struct engine *, struct job *, uint32_t host,
	    struct nx_err *);
	void (*cancel)(struct engine *, struct job *, uint32_t host);
};

static void job_pump(struct engine *, struct job *);
static const struct job_executor *job_executor(const struct job *);

/* ---------------------------------------------------------------------- */
/* Names                                                                   */

const char *
job_state_name(enum job_state s)
{
	static const char *const names[JOB__COUNT] = {
		[JOB_SUGGESTED] = "suggested",
		[JOB_PROPOSED] = "proposed",
		[JOB_QUEUED] = "queued",
		[JOB_RUNNING] = "running",
		[JOB_SUCCEEDED] = "succeeded",
		[JOB_FAILED] = "failed",
		[JOB_CANCELLED] = "cancelled",
		[JOB_REJECTED] = "rejected",
	};

	return (unsigned)s < JOB__COUNT ? names[s] : "?";
}

const char *
job_host_state_name(enum job_host_state s)
{
	switch (s) {
	case JH_QUEUED:
		return "queued";
	case JH_RUNNING:
		return "running";
	case JH_OK:
		return "ok";
	case JH_FAILED:
		return "failed";
	case JH_ERROR:
		return "error";
	case JH_CANCELLED:
		return "cancelled";
	case JH_DRY_RUN:
		return "dry-run";
	}
	return "?";
}

bool
job_final(const struct job *j)
{
	return j->state == JOB_SUCCEEDED || j->state == JOB_FAILED ||
	    j->state == JOB_CANCELLED || j->state == JOB_REJECTED ||
	    j->state == JOB_SUGGESTED;
}

/* ---------------------------------------------------------------------- */
/* The act state                                                           */

void
act_init(struct engine *e)
{
	e->act = xcalloc(1, sizeof *e->act);
	e->act->next_id = 1;
}

static void
act_row_free(struct act_row *r)
{
	free(r->who);
	free(r->role);
	free(r->action);
	free(r->target);
	free(r->args);
	free(r->result);
	memset(r, 0, sizeof *r);
}

static void
job_free(struct job *j)
{
	uint32_t i;

	for (i = 0; i < j->nhosts; i++) {
		struct job_host *h = &j->hosts[i];

		free(h->signal);
		free(h->command);
		free(h->out);
		free(h->err);
		free(h->error);
	}
	free(j->hosts);
	free(j->command);
	free(j->user);
	free(j->origin);
	free(j->reason);
	json_decref(j->inputs);
	free(j);
}

/*
 * Frees every job and the audit ring.  Running hosts are stopped first
 * (children killed); their handles close when the loop next runs.
 */
void
act_free(struct engine *e)
{
	struct act *a = e->act;
	size_t i;

	if (a == NULL)
		return;
	/*
	 * Running hosts are stopped (children killed, late results dropped)
	 * without events, audit rows or done calls: subscribers and the audit
	 * sink may be gone already.
	 */
	for (i = 0; i < a->njobs; i++) {
		struct job *j = a->jobs[i];
		uint32_t k;

		for (k = 0; k < j->nhosts; k++) {
			if (j->hosts[k].state == JH_RUNNING)
				job_executor(j)->cancel(e, j, k);
		}
		job_free(j);
	}
	free(a->jobs);
	for (i = 0; i < ACT_AUDIT_RECENT; i++)
		act_row_free(&a->ring[i]);
	free(a);
	e->act = NULL;
}

/* The pool ssh actions use; not owned (the caller closes it after). */
void
act_set_ssh_pool(struct engine *e, struct ssh_pool *pool)
{
	e->act->ssh = pool;
}

/* Fan-out and timeout of ad-hoc jobs (`run -w -f -u`); 0: the defaults. */
void
act_set_adhoc_limits(struct engine *e, uint32_t concurrency,
    uint32_t timeout_ms)
{
	e->act->adhoc_concurrency = concurrency;
	e->act->adhoc_timeout_ms = timeout_ms;
}

/* ---------------------------------------------------------------------- */
/* Audit rows                                                              */

void
act_set_audit(struct engine *e, act_audit_fn fn, void *arg)
{
	if (e->act == NULL)     /* not initialised (an early error) */
		return;
	e->act->audit_fn = fn;
	e->act->audit_arg = arg;
}

size_t
act_audit_count(const struct engine *e)
{
	return e->act != NULL ? e->act->ring_count : 0;
}

/* Row i of the ring, oldest first; borrowed until the next row. */
const struct nx_audit_entry *
act_audit_at(const struct engine *e, size_t i)
{
	struct act *a = e->act;
	const struct act_row *r;

	if (a == NULL || i >= a->ring_count)
		return NULL;
	r = &a->ring[(a->ring_head + ACT_AUDIT_RECENT - a->ring_count + i) %
	    ACT_AUDIT_RECENT];
	a->view.time = r->time;
	a->view.who = r->who;
	a->view.role = r->role;
	a->view.action = r->action;
	a->view.target = r->target;
	a->view.args = r->args;
	a->view.result = r->result;
	return &a->view;
}

static char *
act_dup(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

/*
 * Writes one audit row with an explicit role name to the sink (if any)
 * and the ring.  A sink failure is reported through cfg.warn.
 */
void
act_audit_role(struct engine *e, const char *who, const char *role,
    const char *action, const char *target, const json_t *args,
    const char *result)
{
	struct act *a = e->act;
	struct nx_audit_entry ent;
	struct nx_err err = { { 0 } };
	struct act_row *r;
	char *jargs;

	jargs = args != NULL ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY) : NULL;
	r = &a->ring[a->ring_head];
	act_row_free(r);
	r->time = nx_wallclock();
	r->who = act_dup(who);
	r->role = act_dup(role);
	r->action = act_dup(action);
	r->target = act_dup(target);
	r->args = xstrdup(jargs != NULL ? jargs : "{}");
	r->result = act_dup(result);
	free(jargs);
	a->ring_head = (a->ring_head + 1) % ACT_AUDIT_RECENT;
	if (a->ring_count < ACT_AUDIT_RECENT)
		a->ring_count++;
	if (a->audit_fn == NULL)
		return;
	ent.time = r->time;
	ent.who = r->who;
	ent.role = r->role;
	ent.action = r->action;
	ent.target = r->target;
	ent.args = r->args;
	ent.result = r->result;
	if (a->audit_fn(a->audit_arg, &ent, &err) != 0) {
		char msg[600];

		snprintf(msg, sizeof msg, "audit: row not recorded: %s",
		    err.msg);
		if (e->cfg.warn != NULL)
			e->cfg.warn(e->cfg.warn_arg, msg);
		else
			fprintf(stderr, "nexusctl: %s\n", msg);
	}
}

void
act_audit(struct engine *e, const struct nx_actor *actor, const char *action,
    const char *target, const json_t *args, const char *result)
{
	char roles[64];

	role_names(actor->roles, roles, sizeof roles);
	act_audit_role(e, actor->user, roles, action, target, args, result);
}

/* The sink for a store (the CLI's): audit_append. */
int
act_audit_store(void *store, const struct nx_audit_entry *ent,
    struct nx_err *err)
{
	return audit_append(store, ent, err);
}

/* ---------------------------------------------------------------------- */
/* Job list                                                                */

struct job *
job_find(const struct engine *e, uint32_t id)
{
	struct act *a = e->act;
	size_t lo = 0, hi;

	if (a == NULL)
		return NULL;
	hi = a->njobs;
	while (lo < hi) {               /* ids grow with the index */
		size_t mid = (lo + hi) / 2;

		if (a->jobs[mid]->id == id)
			return a->jobs[mid];
		if (a->jobs[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t
job_count(const struct engine *e)
{
	return e->act != NULL ? e->act->njobs : 0;
}

struct job *
job_at(const struct engine *e, size_t i)
{
	return e->act != NULL && i < e->act->njobs ? e->act->jobs[i] : NULL;
}

/* Evicts the oldest finished jobs past JOB_KEEP. */
static void
job_evict(struct engine *e)
{
	struct act *a = e->act;
	size_t i, o = 0, excess;

	if (a->njobs <= JOB_KEEP)
		return;
	excess = a->njobs - JOB_KEEP;
	for (i = 0; i < a->njobs; i++) {
		struct job *j = a->jobs[i];

		if (excess > 0 && job_final(j) && !j->in_done) {
			job_free(j);
			excess--;
			continue;
		}
		a->jobs[o++] = j;
	}
	a->njobs = o;
}

/* ---------------------------------------------------------------------- */
/* State changes                                                           */

/* The longest target an event names; a longer one is cut, ending "...". */
#define JOB_EVENT_TARGET_MAX 200

/*
 * Appends " key=value" to buf (len bytes, *off used so far), the value
 * with every byte at or below space, DEL and '%' written as %XX, so that
 * the fields split on spaces (doc/actions.md).  Stops quietly when full.
 */
static void
job_summary_field(char *buf, size_t len, size_t *off, const char *key,
    const char *val)
{
	static const char hex[] = "0123456789ABCDEF";
	int n;

	if (*off >= len)
		return;
	n = snprintf(buf + *off, len - *off, " %s=", key);
	if (n < 0 || (size_t)n >= len - *off) {
		*off = len;
		return;
	}
	*off += (size_t)n;
	for (; *val != '\0' && *off + 4 < len; val++) {
		unsigned char c = (unsigned char)*val;

		if (c <= 0x20 || c == 0x7f || c == '%') {
			buf[(*off)++] = '%';
			buf[(*off)++] = hex[c >> 4];
			buf[(*off)++] = hex[c & 0xf];
		} else
			buf[(*off)++] = (char)c;
	}
	buf[*off] = '\0';
}

/*
 * j's creation time as "2026-11-27T17:40:28.123Z" (UTC, ms) in buf, the
 * job's identity with its id (ids start at 1 in every process): the
 * created= of its events and the "created" of its final audit row.
 * Returns false (buf empty) when the time cannot be represented.
 */
static bool
job_created_iso(const struct job *j, char *buf, size_t len)
{
	time_t secs = (time_t)(j->created / 1000);
	struct tm tm;
	size_t tl;

	buf[0] = '\0';
	if (gmtime_r(&secs, &tm) == NULL ||
	    (tl = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
		return false;
	snprintf(buf + tl, len - tl, ".%03dZ", (int)(j->created % 1000));
	return true;
}

/*
 * The text of a job's events (doc/actions.md, "Events"): a summary for
 * people, then key=value fields for `nexusctl jobs`:
 *   job 12 restart-nginx: running 3/20 (2 ok, 1 failed, 0 error,
 *   0 cancelled) created=2026-11-27T17:40:28.123Z origin=console
 *   user=alice target=web[01-20]
 * with dry_run=yes and retry_of=N before target when they apply.
 */
static void
job_summary(const struct engine *e, const struct job *j, char *buf,
    size_t len)
{
	char created[40], num[24], *target;
	size_t off, tl;
	int n;

	n = snprintf(buf, len, "job %u %s: %s %u/%u (%u ok, %u failed, "
	    "%u error, %u cancelled)", j->id, j->action != NULL ?
	    j->action->name : "ad-hoc", job_state_name(j->state), j->nok +
	    j->nfailed + j->nerror, j->nhosts, j->nok, j->nfailed, j->nerror,
	    j->ncancelled);
	if (n < 0 || (size_t)n >= len)
		return;
	off = (size_t)n;
	if (job_created_iso(j, created, sizeof created))
		job_summary_field(buf, len, &off, "created", created);
	job_summary_field(buf, len, &off, "origin",
	    j->origin != NULL ? j->origin : "?");
	job_summary_field(buf, len, &off, "user",
	    j->user != NULL ? j->user : "?");
	if (j->dry_run)
		job_summary_field(buf, len, &off, "dry_run", "yes");
	if (j->retry_of != 0) {
		snprintf(num, sizeof num, "%u", j->retry_of);
		job_summary_field(buf, len, &off, "retry_of", num);
	}
	target = job_hostlist(e, j, -1);
	if ((tl = strlen(target)) > JOB_EVENT_TARGET_MAX) {
		tl = JOB_EVENT_TARGET_MAX;
		while (tl > 0 && ((unsigned char)target[tl] & 0xc0) == 0x80)
			tl--;           /* not inside a UTF-8 sequence */
		memcpy(target + tl, "...", 4);
	}
	job_summary_field(buf, len, &off, "target", target);
	free(target);
}

static void
job_publish(struct engine *e, struct job *j, enum job_state prev)
{
	struct event ev;
	char text[1024];

	job_summary(e, j, text, sizeof text);
	memset(&ev, 0, sizeof ev);
	ev.time = engine_now(e);
	ev.kind = NX_EV_JOB;
	ev.node = j->nhosts == 1 ? j->hosts[0].node : NX_NONE;
	ev.check = j->check;
	ev.state = (uint8_t)j->state;
	ev.prev_state = (uint8_t)prev;
	ev.text = text;
	bus_publish(&e->bus, &ev);
}

/* The hosts of j (those in state st, or all with st < 0) compressed. */
char *
job_hostlist(const struct engine *e, const struct job *j, int st)
{
	const char **names = xcalloc(j->nhosts + 1, sizeof *names);
	size_t n = 0;
	uint32_t i;
	char *s;

	for (i = 0; i < j->nhosts; i++) {
		if (st < 0 || (int)j->hosts[i].state == st)
			names[n++] = e->fleet.nodes[j->hosts[i].node].name;
	}
	s = hostlist_compress(names, n);
	free(names);
	return s;
}

/*
 * The audit row of a job that reached its final state.  Its origin and
 * creation time make it a job's record on its own: `nexusctl jobs` lists
 * the jobs of batch runs from these rows (a batch process has no events
 * in the store).
 */
static void
job_audit_final(struct engine *e, struct job *j)
{
	json_t *args = json_object();
	char result[256], created[40], *target;

	json_object_set_new(args, "job", json_integer(j->id));
	json_object_set_new(args, "origin", nx_json_text(j->origin != NULL ?
	    j->origin : "?"));
	if (job_created_iso(j, created, sizeof created))
		json_object_set_new(args, "created", json_string(created));
	if (j->action != NULL)
		json_object_set_new(args, "action", json_string(j->action->name));
	else
		json_object_set_new(args, "command", nx_json_text(j->command));
	if (j->retry_of != 0)
		json_object_set_new(args, "retry_of", json_integer(j->retry_of));
	if (j->dry_run)
		json_object_set_new(args, "dry_run", json_true());
	switch (j->state) {
	case JOB_SUCCEEDED:
		snprintf(result, sizeof result, "succeeded %u/%u%s", j->nok,
		    j->nhosts, j->dry_run ? " (dry run)" : "");
		break;
	case JOB_FAILED:
		snprintf(result, sizeof result, "failed %u/%u (%u ok, %u "
		    "failed, %u error, %u cancelled)", j->nfailed + j->nerror,
		    j->nhosts, j->nok, j->nfailed, j->nerror, j->ncancelled);
		break;
	case JOB_CANCELLED:
		snprintf(result, sizeof result, "cancelled (%u ok, %u failed, "
		    "%u error, %u cancelled)%s%s", j->nok, j->nfailed,
		    j->nerror, j->ncancelled, j->reason ? ": " : "",
		    j->reason ? j->reason : "");
		break;
	case JOB_REJECTED:
		snprintf(result, sizeof result, "rejected%s%s",
		    j->reason ? ": " : "", j->reason ? j->reason : "");
		break;
	default:
		snprintf(result, sizeof result, "%s", job_state_name(j->state));
		break;
	}
	target = job_hostlist(e, j, -1);
	act_audit_role(e, j->user, role_name(j->role), "job", target, args,
	    result);
	free(target);
	json_decref(args);
}

/* Moves j to st; a final state is audited and calls done once. */
static void
job_set_state(struct engine *e, struct job *j, enum job_state st)
{
	enum job_state prev = j->state;

	if (prev == st)
		return;
	j->state = st;
	if (st == JOB_RUNNING)
		j->started = engine_now(e);
	if (job_final(j))
		j->finished = engine_now(e);
	job_publish(e, j, prev);
	if (!job_final(j) || j->state == JOB_SUGGESTED)
		return;
	job_audit_final(e, j);
	if (j->done != NULL) {
		void (*done)(struct engine *, struct job *, void *) = j->done;

		j->done = NULL;
		j->in_done = true;
		done(e, j, j->done_arg);
		j->in_done = false;
	}
	job_evict(e);
}

/* A running job with nothing queued or running is finished. */
static void
job_maybe_finish(struct engine *e, struct job *j)
{
	if (j->state != JOB_RUNNING || j->nqueued > 0 || j->nrunning > 0)
		return;
	job_set_state(e, j, j->nfailed + j->nerror + j->ncancelled == 0 ?
	    JOB_SUCCEEDED : JOB_FAILED);
}

/* ---------------------------------------------------------------------- */
/* Host results                                                            */

static char *
job_cap(const char *s)
{
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	return xstrndup(s, n > JOB_OUTPUT_CAP ? JOB_OUTPUT_CAP : n);
}

/*
 * Records the result of host slot `host` of job j (borrowed strings are
 * copied, output capped at 64 KiB).  A host not running (cancelled, or
 * already finished) is left as it is.  Then starts the next hosts and
 * finishes the job when none is left.
 */
void
job_host_finish(struct engine *e, struct job *j, uint32_t host,
    const struct job_host_result *res)
{
	struct job_host *h;

	if (host >= j->nhosts || j->hosts[host].state != JH_RUNNING)
		return;
	h = &j->hosts[host];
	h->exec = NULL;
	h->state = res->state;
	if (h->state != JH_OK && h->state != JH_FAILED)
		h->state = JH_ERROR;
	h->exit_status = res->exit_status;
	h->signal = res->signal != NULL ? xstrdup(res->signal) : NULL;
	h->out = job_cap(res->out);
	h->err = job_cap(res->err);
	h->error = h->state == JH_ERROR ? xstrdup(res->error != NULL ?
	    res->error : "failed") : NULL;
	h->fail = res->fail != NULL ? res->fail : h->state == JH_ERROR ?
	    "error" : NULL;
	h->truncated = res->truncated;
	h->ms = (double)(uv_hrtime() - h->t0) / 1e6;
	j->nrunning--;
	if (h->state == JH_OK)
		j->nok++;
	else if (h->state == JH_FAILED)
		j->nfailed++;
	else
		j->nerror++;
	job_pump(e, j);
}

/* Finishes a host that did not start, with an error. */
static void
job_host_error(struct engine *e, struct job *j, uint32_t host,
    const char *fail, const char *error)
{
	struct job_host_result r;

	memset(&r, 0, sizeof r);
	r.state = JH_ERROR;
	r.exit_status = -1;
	r.error = error;
	r.fail = fail;
	job_host_finish(e, j, host, &r);
}

/* ---------------------------------------------------------------------- */
/* The ssh executor                                                        */

struct job_ssh_ref {
	struct engine *e;
	uint32_t job, host;
};

static void
job_ssh_cb(void *arg, const struct ssh_result *res)
{
	struct job_ssh_ref *ref = arg;
	struct job *j = job_find(ref->e, ref->job);
	struct job_host_result r;

	if (j != NULL && ref->host < j->nhosts &&
	    j->hosts[ref->host].exec == ref) {
		memset(&r, 0, sizeof r);
		if (res->fail != SSH_OK) {
			r.state = JH_ERROR;
			r.exit_status = -1;
			r.error = res->error != NULL ? res->error : "failed";
			r.fail = ssh_fail_name(res->fail);
		} else {
			r.state = res->exit_status == 0 &&
			    res->exit_signal == NULL ? JH_OK : JH_FAILED;
			r.exit_status = res->exit_status;
			r.signal = res->exit_signal;
		}
		r.out = res->out;
		r.err = res->err;
		r.truncated = res->out_truncated || res->err_truncated;
		job_host_finish(ref->e, j, ref->host, &r);
	}
	free(ref);
}

static bool
job_ssh_node(const struct node *n)
{
	return n->provider == NULL || n->provider == &provider_inventory ||
	    n->provider == &provider_ssh;
}

static int
job_ssh_start(struct engine *e, struct job *j, uint32_t host,
    struct nx_err *err)
{
	struct job_host *h = &j->hosts[host];
	const struct node *n = &e->fleet.nodes[h->node];
	struct job_ssh_ref *ref;
	struct ssh_pool *pool = e->act->ssh;

	if (!job_ssh_node(n)) {
		nx_err_set(err, "not an SSH node (its provider has no SSH "
		    "transport)");
		return -1;
	}
	if (pool == NULL && (pool = ssh_engine_pool(e, err)) == NULL)
		return -1;
	ref = xmalloc(sizeof *ref);
	ref->e = e;
	ref->job = j->id;
	ref->host = host;
	h->exec = ref;
	if (ssh_exec(pool, n->address, ssh_node_port(n), n->user, h->command,
	    j->timeout_ms, job_ssh_cb, ref) != 0) {
		h->exec = NULL;
		free(ref);
		nx_err_set(err, "not started");
		return -1;
	}
	return 0;
}

/*
 * Withdraws the host's exec from the pool: a queued one never starts, a
 * running one's channel is closed (the command on the node is not
 * signalled).  Its callback, called now or later, only frees the ref.
 */
static void
job_ssh_cancel(struct engine *e, struct job *j, uint32_t host)
{
	struct job_host *h = &j->hosts[host];
	const struct node *n = &e->fleet.nodes[h->node];
	struct ssh_pool *pool = e->act->ssh;
	void *ref = h->exec;
	struct nx_err err;

	h->exec = NULL;
	if (ref == NULL)
		return;
	if (pool == NULL)
		pool = ssh_engine_pool(e, &err);
	if (pool != NULL)
		(void)ssh_exec_cancel(pool, n->address, ssh_node_port(n),
		    n->user, ref);
}

/* ---------------------------------------------------------------------- */
/* The local executor: /bin/sh -c COMMAND on this machine, per node        */

struct job_local {
	struct engine *e;
	uint32_t job, host;
	uint32_t timeout_ms;
	struct child *child;
};

/*
 * The child is done: reports the result to the host, unless the job went
 * (evicted) or the host was cancelled meanwhile.  Frees l.
 */
static void
job_local_done(void *arg, const struct child_result *res)
{
	struct job_local *l = arg;
	struct engine *e = l->e;
	uint32_t host = l->host;
	struct job_host_result r;
	struct job *j;
	char msg[128];

	j = job_find(e, l->job);
	if (j == NULL || j->hosts[host].exec != l) {
		free(l);
		return;
	}
	memset(&r, 0, sizeof r);
	r.out = res->out[CHILD_OUT];
	r.err = res->out[CHILD_ERR];
	r.truncated = res->truncated[CHILD_OUT] || res->truncated[CHILD_ERR];
	r.exit_status = (int)res->exit_status;
	if (res->timed_out) {
		r.state = JH_ERROR;
		r.exit_status = -1;
		r.fail = "timeout";
		snprintf(msg, sizeof msg, "timed out after %u ms (killed)",
		    l->timeout_ms);
		r.error = msg;
	} else if (res->term_signal != 0) {
		r.state = JH_FAILED;
		r.exit_status = -1;
		r.signal = res->signal;
	} else
		r.state = res->exit_status == 0 ? JH_OK : JH_FAILED;
	free(l);
	job_host_finish(e, j, host, &r);
}

/* NEXUS_* for the child, then the environment we were given. */
static char **
job_local_env(const struct node *n)
{
	size_t count = 0, i, o = 0;
	char **env, *vars;

	while (environ[count] != NULL)
		count++;
	env = xcalloc(count + 4, sizeof *env);
	xasprintf(&env[o++], "NEXUS_HOSTNAME=%s", n->name);
	xasprintf(&env[o++], "NEXUS_HOSTADDRESS=%s", n->address);
	vars = n->vars != NULL ? json_dumps(n->vars, JSON_COMPACT |
	    JSON_SORT_KEYS) : NULL;
	xasprintf(&env[o++], "NEXUS_VARS=%s", vars != NULL ? vars : "{}");
	free(vars);
	for (i = 0; i < count; i++) {
		if (strncmp(environ[i], "NEXUS_HOSTNAME=", 15) == 0 ||
		    strncmp(environ[i], "NEXUS_HOSTADDRESS=", 18) == 0 ||
		    strncmp(environ[i], "NEXUS_VARS=", 11) == 0)
			continue;
		env[o++] = xstrdup(environ[i]);
	}
	env[o] = NULL;
	return env;
}

/*
 * Starts `sh -c COMMAND` for host slot `host` through engine/child.c (its
 * own process group, the job's timeout, stdout and stderr capped at 64 KiB
 * each, a second of linger for a background process that keeps them open).
 * Returns -1 with err set when /bin/sh cannot be started.
 */
static int
job_local_start(struct engine *e, struct job *j, uint32_t host,
    struct nx_err *err)
{
	struct job_host *h = &j->hosts[host];
	const struct node *n = &e->fleet.nodes[h->node];
	struct child_opts o;
	struct job_local *l;
	struct nx_err cerr;
	char *args[4], **env;
	size_t i;

	l = xcalloc(1, sizeof *l);
	l->e = e;
	l->job = j->id;
	l->host = host;
	l->timeout_ms = j->timeout_ms;
	args[0] = (char *)"sh";
	args[1] = (char *)"-c";
	args[2] = h->command;
	args[3] = NULL;
	env = job_local_env(n);
	memset(&o, 0, sizeof o);
	o.file = "/bin/sh";
	o.argv = args;
	o.env = env;
	o.timeout_ms = j->timeout_ms;
	o.linger_ms = JOB_PIPE_GRACE_MS;
	o.out_cap = o.err_cap = JOB_OUTPUT_CAP;
	l->child = child_spawn(e->loop, &o, job_local_done, l, &cerr);
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
	if (l->child == NULL) {
		nx_err_set(err, "cannot start /bin/sh: %s", cerr.msg);
		free(l);
		return -1;
	}
	h->exec = l;
	return 0;
}

/* Kills the host's command (its whole group); its result is not reported. */
static void
job_local_cancel(struct engine *e, struct job *j, uint32_t host)
{
	struct job_local *l = j->hosts[host].exec;

	(void)e;
	if (l == NULL)
		return;
	j->hosts[host].exec = NULL;
	child_kill(l->child);
	free(l);
}

/* ---------------------------------------------------------------------- */
/* The provider executor                                                   */

static const struct provider_action *
job_provider_action(const struct node *n, const char *name)
{
	size_t i;

	if (n->provider == NULL || n->provider->version < 2)
		return NULL;
	for (i = 0; i < n->provider->nactions; i++) {
		if (strcmp(n->provider->actions[i].name, name) == 0)
			return &n->provider->actions[i];
	}
	return NULL;
}

static int
job_provider_start(struct engine *e, struct job *j, uint32_t host,
    struct nx_err *err)
{
	struct node *n = &e->fleet.nodes[j->hosts[host].node];
	const struct provider_action *pa;

	pa = job_provider_action(n, j->action->provider_action);
	if (pa == NULL) {
		nx_err_set(err, "provider %s has no action \"%s\"",
		    n->provider != NULL ? n->provider->name : "(none)",
		    j->action->provider_action);
		return -1;
	}
	return pa->run(e, n, j, host, err);
}

static void
job_provider_cancel(struct engine *e, struct job *j, uint32_t host)
{
	struct node *n = &e->fleet.nodes[j->hosts[host].node];
	const struct provider_action *pa;

	pa = job_provider_action(n, j->action->provider_action);
	if (pa != NULL && pa->cancel != NULL)
		pa->cancel(e, j, host);
}

static const struct job_executor job_executors[] = {
	[NX_ACTION_SSH] = { "ssh", job_ssh_start, job_ssh_cancel },
	[NX_ACTION_LOCAL] = { "local", job_local_start, job_local_cancel },
	[NX_ACTION_PROVIDER] = { "provider", job_provider_start,
	    job_provider_cancel },
};

static const struct job_executor *
job_executor(const struct job *j)
{
	return &job_executors[j->action != NULL ? j->action->kind :
	    NX_ACTION_SSH];
}

/* ---------------------------------------------------------------------- */
/* Running                                                                 */

/* Starts queued hosts while fewer than j->concurrency run. */
static void
job_pump(struct engine *e, struct job *j)
{
	const struct job_executor *x = job_executor(j);

	if (j->pumping)
		return;
	j->pumping = true;
	while (j->state == JOB_RUNNING && j->nrunning < j->concurrency &&
	    j->next_host < j->nhosts) {
		uint32_t i = j->next_host++;
		struct job_host *h = &j->hosts[i];
		struct nx_err err = { { 0 } };

		if (h->state != JH_QUEUED)
			continue;
		h->state = JH_RUNNING;
		h->t0 = uv_hrtime();
		j->nqueued--;
		j->nrunning++;
		if (h->error != NULL) {         /* could not expand */
			char *msg = h->error;

			h->error = NULL;
			job_host_error(e, j, i, "command", msg);
			free(msg);
			continue;
		}
		if (x->start(e, j, i, &err) != 0)
			job_host_error(e, j, i, x->name, err.msg);
	}
	j->pumping = false;
	job_maybe_finish(e, j);
}

/* PROPOSED or QUEUED -> RUNNING, and the first hosts start. */
int
job_start(struct engine *e, struct job *j)
{
	if (j->state != JOB_PROPOSED && j->state != JOB_QUEUED)
		return -1;
	if (j->dry_run) {
		uint32_t i;

		for (i = 0; i < j->nhosts; i++)
			j->hosts[i].state = JH_DRY_RUN;
		j->nqueued = 0;
		job_set_state(e, j, JOB_RUNNING);
		job_set_state(e, j, JOB_SUCCEEDED);
		return 0;
	}
	uv_update_time(e->loop);
	job_set_state(e, j, JOB_RUNNING);
	job_pump(e, j);
	return 0;
}

/*
 * Cancels j: queued hosts are cancelled, running ones killed (local),
 * abandoned (ssh: the late result is ignored) or handed to the provider's
 * cancel.  A proposal or suggestion is cancelled too.  No-op when final.
 */
void
job_cancel(struct engine *e, struct job *j, const char *reason)
{
	const struct job_executor *x = job_executor(j);
	uint32_t i;

	if (job_final(j) && j->state != JOB_SUGGESTED)
		return;
	for (i = 0; i < j->nhosts; i++) {
		struct job_host *h = &j->hosts[i];

		if (h->state == JH_RUNNING) {
			x->cancel(e, j, i);
			h->exec = NULL;
			j->nrunning--;
		} else if (h->state == JH_QUEUED)
			j->nqueued--;
		else
			continue;
		h->state = JH_CANCELLED;
		h->exit_status = -1;
		j->ncancelled++;
	}
	free(j->reason);
	j->reason = reason != NULL ? xstrdup(reason) : NULL;
	job_set_state(e, j, JOB_CANCELLED);
}

/* A proposal an operator rejected: final, nothing ran. */
int
job_reject(struct engine *e, struct job *j, const char *reason)
{
	uint32_t i;

	if (j->state != JOB_PROPOSED)
		return -1;
	for (i = 0; i < j->nhosts; i++) {
		if (j->hosts[i].state == JH_QUEUED) {
			j->hosts[i].state = JH_CANCELLED;
			j->nqueued--;
			j->ncancelled++;
		}
	}
	free(j->reason);
	j->reason = reason != NULL ? xstrdup(reason) : NULL;
	job_set_state(e, j, JOB_REJECTED);
	return 0;
}

static bool
job_node_in_target(const struct engine *e, const struct nx_action *a,
    const struct node *n)
{
	struct nx_err err;
	struct nx_target *t;
	bool ok;

	if (a->target == NULL)
		return true;
	if ((t = target_parse(a->target, &err)) == NULL)
		return false;
	ok = target_match(t, &e->fleet, n);
	target_free(t);
	return ok;
}

/*
 * Creates a job from spec and, when spec->initial is JOB_QUEUED, starts
 * it.  A defined action's inputs are validated (action_inputs), its nodes
 * must be in its target, and its template is expanded for every node
 * before anything runs: any error refuses the whole job (-1, err set,
 * nothing created).  An ad-hoc command's `{{ var }}` are expanded per
 * node (ssh_expand_command); a node where that fails ends in error.
 * Returns 0 with *id set.
 */
int
job_submit(struct engine *e, const struct job_spec *spec, uint32_t *id,
    struct nx_err *err)
{
	const struct nx_action *a = spec->action;
	struct job *j;
	json_t *inputs = NULL;
	size_t i;

	if ((a == NULL) == (spec->command == NULL)) {
		nx_err_set(err, "a job runs an action or a command");
		return -1;
	}
	if (spec->nnodes == 0) {
		nx_err_set(err, "no node to run %s on", a != NULL ? a->name :
		    "the command");
		return -1;
	}
	if (spec->nnodes > UINT32_MAX / 2) {
		nx_err_set(err, "too many nodes");
		return -1;
	}
	for (i = 0; i < spec->nnodes; i++) {
		if (spec->nodes[i] >= e->fleet.nnodes) {
			nx_err_set(err, "no node #%u", spec->nodes[i]);
			return -1;
		}
		if (a != NULL && !job_node_in_target(e, a,
		    &e->fleet.nodes[spec->nodes[i]])) {
			nx_err_set(err, "action %s: node %s is not in its "
			    "target %s", a->name,
			    e->fleet.nodes[spec->nodes[i]].name, a->target);
			return -1;
		}
	}
	if (a != NULL && (inputs = action_inputs(a, spec->inputs, err)) ==
	    NULL)
		return -1;

	j = xcalloc(1, sizeof *j);
	j->action = a;
	j->command = spec->command != NULL ? xstrdup(spec->command) : NULL;
	j->user = xstrdup(spec->actor != NULL && spec->actor->user != NULL ?
	    spec->actor->user : "nexusctl");
	j->role = spec->role;
	j->origin = xstrdup(spec->actor != NULL && spec->actor->origin !=
	    NULL ? spec->actor->origin : "engine");
	j->inputs = inputs;
	j->created = engine_now(e);
	j->nhosts = (uint32_t)spec->nnodes;
	j->hosts = xcalloc(j->nhosts, sizeof *j->hosts);
	j->nqueued = j->nhosts;
	j->concurrency = spec->concurrency != 0 ? spec->concurrency :
	    a != NULL ? a->concurrency : e->act->adhoc_concurrency != 0 ?
	    e->act->adhoc_concurrency : 32;
	j->timeout_ms = spec->timeout_ms != 0 ? spec->timeout_ms :
	    a != NULL ? a->timeout_ms : e->act->adhoc_timeout_ms != 0 ?
	    e->act->adhoc_timeout_ms : 60000;
	j->dry_run = spec->dry_run;
	j->rule = spec->rule;
	j->check = spec->check;
	j->reason = spec->reason != NULL ? xstrdup(spec->reason) : NULL;
	j->retry_of = spec->retry_of;
	j->done = spec->done;
	j->done_arg = spec->done_arg;
	j->state = spec->initial;
	for (i = 0; i < j->nhosts; i++) {
		struct job_host *h = &j->hosts[i];
		const struct node *n = &e->fleet.nodes[spec->nodes[i]];

		h->node = spec->nodes[i];
		h->state = JH_QUEUED;
		h->exit_status = -1;
		if (a != NULL && a->kind != NX_ACTION_PROVIDER) {
			if (tmpl_expand(a->command, n, inputs, j->user,
			    &h->command, err) != 0) {
				char msg[sizeof err->msg];

				snprintf(msg, sizeof msg, "%s", err->msg);
				nx_err_set(err, "action %s: %s", a->name, msg);
				j->done = NULL;
				job_free(j);
				return -1;
			}
		} else if (a == NULL) {
			struct nx_err xerr = { { 0 } };

			if (ssh_expand_command(j->command, n->name, n->vars,
			    &h->command, &xerr) != 0) {
				h->command = NULL;
				xasprintf(&h->error, "command: %s", xerr.msg);
			}
		}
	}
	if (e->act->njobs == e->act->cap) {
		e->act->cap = e->act->cap ? e->act->cap * 2 : 64;
		e->act->jobs = xreallocarray(e->act->jobs, e->act->cap,
		    sizeof *e->act->jobs);
	}
	j->id = e->act->next_id++;
	e->act->jobs[e->act->njobs++] = j;
	*id = j->id;
	if (j->state != JOB_QUEUED && j->state != JOB_PROPOSED &&
	    j->state != JOB_SUGGESTED)
		j->state = JOB_QUEUED;
	job_publish(e, j, j->state);    /* created */
	if (j->state == JOB_QUEUED && !spec->hold)
		job_start(e, j);
	return 0;
}

/*
 * A new job running j's action or command again on its failed and error
 * hosts (actor and role given), queued at once.  Returns 0 with *id, or
 * -1 with err set (nothing to retry, or j not final).
 */
int
job_retry(struct engine *e, struct job *j, const struct nx_actor *actor,
    enum nx_role role, uint32_t *id, struct nx_err *err)
{
	struct job_spec spec;
	uint32_t *nodes, i, n = 0;
	int rc;

	if (!job_final(j) || j->state == JOB_SUGGESTED ||
	    j->state == JOB_REJECTED) {
		nx_err_set(err, "job %u is %s: only a finished job can be "
		    "retried", j->id, job_state_name(j->state));
		return -1;
	}
	nodes = xcalloc(j->nhosts, sizeof *nodes);
	for (i = 0; i < j->nhosts; i++) {
		if (j->hosts[i].state == JH_FAILED ||
		    j->hosts[i].state == JH_ERROR)
			nodes[n++] = j->hosts[i].node;
	}
	if (n == 0) {
		free(nodes);
		nx_err_set(err, "job %u has no failed host to retry", j->id);
		return -1;
	}
	memset(&spec, 0, sizeof spec);
	spec.action = j->action;
	spec.command = j->command;
	spec.nodes = nodes;
	spec.nnodes = n;
	spec.inputs = j->inputs;
	spec.actor = actor;
	spec.role = role;
	spec.initial = JOB_QUEUED;
	spec.rule = j->rule;
	spec.check = j->check;
	spec.concurrency = j->concurrency;
	spec.timeout_ms = j->timeout_ms;
	spec.retry_of = j->id;
	rc = job_submit(e, &spec, id, err);
	free(nodes);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Coalescing and JSON                                                     */

struct job_sort {
	const struct job *j;
	char **norm;            /* errors with the address as {host} */
};
static struct job_sort job_sort_ctx;

static char *
job_replace(const char *s, const char *what, const char *with)
{
	size_t wl = strlen(what), n = 0;
	const char *p;
	char *out, *o;

	if (wl == 0)
		return xstrdup(s);
	for (p = s; (p = strstr(p, what)) != NULL; p += wl)
		n++;
	out = o = xmalloc(strlen(s) + n * strlen(with) + 1);
	while ((p = strstr(s, what)) != NULL) {
		memcpy(o, s, (size_t)(p - s));
		o += p - s;
		memcpy(o, with, strlen(with));
		o += strlen(with);
		s = p + wl;
	}
	strcpy(o, s);
	return out;
}

static int
job_strcmp0(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "");
}

/* Orders two hosts by result: state, error, exit, signal, output. */
static int
job_result_cmp(uint32_t ia, uint32_t ib)
{
	const struct job_host *a = &job_sort_ctx.j->hosts[ia];
	const struct job_host *b = &job_sort_ctx.j->hosts[ib];
	int c;

	if (a->state != b->state)
		return (int)a->state - (int)b->state;
	if ((c = job_strcmp0(a->fail, b->fail)) != 0)
		return c;
	if ((c = job_strcmp0(job_sort_ctx.norm[ia], job_sort_ctx.norm[ib])) !=
	    0)
		return c;
	if (a->exit_status != b->exit_status)
		return a->exit_status < b->exit_status ? -1 : 1;
	if ((c = job_strcmp0(a->signal, b->signal)) != 0)
		return c;
	if ((c = job_strcmp0(a->out, b->out)) != 0)
		return c;
	if ((c = job_strcmp0(a->err, b->err)) != 0)
		return c;
	if (a->truncated != b->truncated)
		return a->truncated ? 1 : -1;
	if (a->state == JH_DRY_RUN)     /* a dry run shows the commands */
		return job_strcmp0(a->command, b->command);
	return 0;
}

static int
job_index_cmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int c = job_result_cmp(a, b);

	if (c != 0)
		return c;
	return a < b ? -1 : a > b;
}

static int
job_group_cmp(const void *pa, const void *pb)
{
	const struct job_group *a = pa, *b = pb;

	return a->hosts[0] < b->hosts[0] ? -1 : a->hosts[0] > b->hosts[0];
}

/*
 * Groups the hosts of j by identical result (state, failure, error with
 * the node's address as {host}, exit status, signal, stdout, stderr), in
 * the order of each group's first host.  *out is a new array of groups
 * (job_groups_free); returns how many.
 */
size_t
job_coalesce(const struct engine *e, const struct job *j,
    struct job_group **out)
{
	uint32_t *order, i, k;
	struct job_group *g;
	size_t ng = 0, start;

	*out = NULL;
	if (j->nhosts == 0)
		return 0;
	job_sort_ctx.j = j;
	job_sort_ctx.norm = xcalloc(j->nhosts, sizeof *job_sort_ctx.norm);
	for (i = 0; i < j->nhosts; i++) {
		const struct job_host *h = &j->hosts[i];

		if (h->error != NULL)
			job_sort_ctx.norm[i] = job_replace(h->error,
			    e->fleet.nodes[h->node].address, "{host}");
	}
	order = xcalloc(j->nhosts, sizeof *order);
	for (i = 0; i < j->nhosts; i++)
		order[i] = i;
	qsort(order, j->nhosts, sizeof *order, job_index_cmp);
	g = xcalloc(j->nhosts, sizeof *g);
	start = 0;
	for (i = 1; i <= j->nhosts; i++) {
		if (i < j->nhosts && job_result_cmp(order[i], order[start]) == 0)
			continue;
		g[ng].nhosts = (uint32_t)(i - start);
		g[ng].hosts = xcalloc(g[ng].nhosts, sizeof *g[ng].hosts);
		memcpy(g[ng].hosts, order + start, g[ng].nhosts *
		    sizeof *order);
		ng++;
		start = i;
	}
	qsort(g, ng, sizeof *g, job_group_cmp);
	for (k = 0; k < ng; k++) {
		const char **names = xcalloc(g[k].nhosts, sizeof *names);

		for (i = 0; i < g[k].nhosts; i++)
			names[i] = e->fleet.nodes[j->hosts[g[k].hosts[i]].node].name;
		g[k].hostlist = hostlist_compress(names, g[k].nhosts);
		g[k].error = g[k].nhosts > 1 ?
		    (job_sort_ctx.norm[g[k].hosts[0]] != NULL ?
		    xstrdup(job_sort_ctx.norm[g[k].hosts[0]]) : NULL) :
		    (j->hosts[g[k].hosts[0]].error != NULL ?
		    xstrdup(j->hosts[g[k].hosts[0]].error) : NULL);
		free(names);
	}
	for (i = 0; i < j->nhosts; i++)
		free(job_sort_ctx.norm[i]);
	free(job_sort_ctx.norm);
	job_sort_ctx.norm = NULL;
	free(order);
	*out = g;
	return ng;
}

void
job_groups_free(struct job_group *g, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(g[i].hosts);
		free(g[i].hostlist);
		free(g[i].error);
	}
	free(g);
}

static json_t *
job_time_json(nx_time t)
{
	return t != 0 ? json_integer(t) : json_null();
}

/* A job as JSON: its fields and its coalesced results. */
json_t *
job_to_json(const struct engine *e, const struct job *j)
{
	json_t *o = json_object(), *groups = json_array();
	struct job_group *g;
	size_t ng, k;
	uint32_t i;

	json_object_set_new(o, "id", json_integer(j->id));
	json_object_set_new(o, "state", json_string(job_state_name(j->state)));
	json_object_set_new(o, "action", j->action != NULL ?
	    json_string(j->action->name) : json_null());
	json_object_set_new(o, "kind", json_string(j->action != NULL ?
	    action_kind_name(j->action->kind) : "ssh"));
	json_object_set_new(o, "command", j->action != NULL ?
	    nx_json_text(j->action->command) : nx_json_text(j->command));
	json_object_set_new(o, "user", nx_json_text(j->user));
	json_object_set_new(o, "role", json_string(role_name(j->role)));
	json_object_set_new(o, "origin", nx_json_text(j->origin));
	json_object_set_new(o, "inputs", j->inputs != NULL ?
	    json_deep_copy(j->inputs) : json_object());
	json_object_set_new(o, "dry_run", json_boolean(j->dry_run));
	json_object_set_new(o, "created", job_time_json(j->created));
	json_object_set_new(o, "started", job_time_json(j->started));
	json_object_set_new(o, "finished", job_time_json(j->finished));
	json_object_set_new(o, "hosts", json_integer(j->nhosts));
	json_object_set_new(o, "queued", json_integer(j->nqueued));
	json_object_set_new(o, "running", json_integer(j->nrunning));
	json_object_set_new(o, "ok", json_integer(j->nok));
	json_object_set_new(o, "failed", json_integer(j->nfailed));
	json_object_set_new(o, "error", json_integer(j->nerror));
	json_object_set_new(o, "cancelled", json_integer(j->ncancelled));
	json_object_set_new(o, "concurrency", json_integer(j->concurrency));
	json_object_set_new(o, "timeout_ms", json_integer(j->timeout_ms));
	json_object_set_new(o, "retry_of", j->retry_of != 0 ?
	    json_integer(j->retry_of) : json_null());
	json_object_set_new(o, "reason", nx_json_text(j->reason));
	json_object_set_new(o, "rule", j->rule != NX_NONE && j->rule != 0 ?
	    json_integer(j->rule) : json_null());
	json_object_set_new(o, "outcome", json_string(
	    j->outcome == JOB_OUTCOME_PENDING ? "pending" :
	    j->outcome == JOB_OUTCOME_RECOVERED ? "recovered" :
	    j->outcome == JOB_OUTCOME_NOT_RECOVERED ? "not-recovered" :
	    "none"));
	ng = job_coalesce(e, j, &g);
	for (k = 0; k < ng; k++) {
		const struct job_host *h = &j->hosts[g[k].hosts[0]];
		json_t *go = json_object(), *names = json_array();

		for (i = 0; i < g[k].nhosts; i++)
			json_array_append_new(names, nx_json_text(
			    e->fleet.nodes[j->hosts[g[k].hosts[i]].node].name));
		json_object_set_new(go, "hosts", nx_json_text(g[k].hostlist));
		json_object_set_new(go, "count", json_integer(g[k].nhosts));
		json_object_set_new(go, "names", names);
		json_object_set_new(go, "state",
		    json_string(job_host_state_name(h->state)));
		json_object_set_new(go, "fail", nx_json_text(h->fail));
		json_object_set_new(go, "error", nx_json_text(g[k].error));
		json_object_set_new(go, "exit", h->exit_status >= 0 &&
		    h->signal == NULL ? json_integer(h->exit_status) :
		    json_null());
		json_object_set_new(go, "signal", nx_json_text(h->signal));
		json_object_set_new(go, "command", nx_json_text(h->command));
		json_object_set_new(go, "stdout", nx_json_text(h->out ?
		    h->out : ""));
		json_object_set_new(go, "stderr", nx_json_text(h->err ?
		    h->err : ""));
		json_object_set_new(go, "truncated", json_boolean(h->truncated));
		json_array_append_new(groups, go);
	}
	job_groups_free(g, ng);
	json_object_set_new(o, "results", groups);
	return o;
}

/*
 * For providers whose actions are local commands (providers/inv-actions.c:
 * a cloud CLI per node): runs `command` for host slot `host` of job j
 * exactly as the local executor runs an action's command (sh -c on this
 * machine, its own process group, the job's timeout, output capped) and
 * calls job_host_finish() when it is done.  The host's command becomes a
 * copy of it (shown in the job's output).  Returns -1 with err set when
 * it cannot start.  job_run_local_cancel() is the matching cancel.
 */
int
job_run_local(struct engine *e, struct job *j, uint32_t host,
    const char *command, struct nx_err *err)
{
	free(j->hosts[host].command);
	j->hosts[host].command = xstrdup(command);
	return job_local_start(e, j, host, err);
}

void
job_run_local_cancel(struct engine *e, struct job *j, uint32_t host)
{
	job_local_cancel(e, j, host);
}
