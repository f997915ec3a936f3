/*
 * cmd-engine.c - `nexusctl engine`: the engine without a terminal.  It
 * loads the fleet (providers, inventories, checks), opens the state store
 * (--state, else the default path), restores from it, records every event
 * in it and runs until SIGTERM or SIGINT; then it stops the checks, takes
 * a last snapshot, commits everything and exits 0.
 *
 * It logs one line per notable happening to standard error (started,
 * store degraded and recovered, stopping, stopped), and once a second
 * rewrites STATE.status, a small JSON document with its pid and metrics
 * that `nexusctl export --state` reads.  The status file is preallocated
 * and rewritten in place, so it stays current on a full disk.  Next to
 * it, STATE.remed.json holds remed_status() (the rules' state) for
 * `nexusctl rules`: replaced atomically when it changed, removed at exit.
 * STATE.sock is its control socket (engine/ctl.c): `run --engine` and
 * `rules reset|enable|disable` as the caller's uid; removed at exit.
 *
 * Exit statuses: 0 stopped cleanly; 78 configuration or a state store
 * that cannot be used (locked by another process, foreign, corrupt: the
 * file is left untouched); 70 events could not be committed at the end.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act.h"
#include "cli.h"

#define ENGINE_STATUS_BYTES 4096

enum {
	ENGINE_OPT_SNAP_EVENTS = CLI_OPT__CMD,
	ENGINE_OPT_SNAP_INTERVAL,
};

struct engine_run {
	struct engine *e;
	struct store *store;
	uv_signal_t sigint, sigterm;
	uv_timer_t tick;
	bool degraded;
	uint64_t last_results;
	uint64_t last_ns;
	double results_per_s;
	uint64_t last_events;
	double events_per_s;
	int status_fd;
	char *status_path;
	uv_timer_t anchor;              /* store.audit_head_* */
	const struct nx_config *cfg;
	uint64_t anchored;              /* seq of the head written last */
	char *remed_path;               /* STATE.remed.json, or NULL */
	char *remed_last;               /* remed_status() written last */
	struct ctl_server *ctl;         /* STATE.sock, or NULL */
};

static void
engine_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
engine_log(const char *fmt, ...)
{
	va_list ap;

	fputs("nexusctl engine: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * The engine's metrics as one JSON object (a new reference): what the
 * status file holds and `export` prints.
 */
static json_t *
engine_metrics_json(struct engine_run *r, const struct store_stats *st)
{
	json_t *o = json_object();

	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "updated",
	    json_real((double)nx_wallclock() / 1000.0));
	json_object_set_new(o, "degraded", json_boolean(st->degraded));
	json_object_set_new(o, "reason", st->degraded ?
	    json_string(st->reason) : json_null());
	json_object_set_new(o, "events_total",
	    json_integer((json_int_t)r->e->bus.seq));
	json_object_set_new(o, "events_committed",
	    json_integer((json_int_t)st->last_seq));
	json_object_set_new(o, "results_total",
	    json_integer((json_int_t)r->e->results));
	json_object_set_new(o, "results_per_s", json_real(r->results_per_s));
	json_object_set_new(o, "queue_depth",
	    json_integer((json_int_t)st->queue_depth));
	json_object_set_new(o, "dropped", json_integer((json_int_t)st->dropped));
	json_object_set_new(o, "commit_ms_last", json_real(st->last_commit_ms));
	json_object_set_new(o, "commit_ms_p99", json_real(st->p99_commit_ms));
	json_object_set_new(o, "snapshots",
	    json_integer((json_int_t)st->snapshots));
	json_object_set_new(o, "snapshot_seq",
	    json_integer((json_int_t)st->snapshot_seq));
	json_object_set_new(o, "sched_latency_ms_p99",
	    json_real(mon_latency_quantile(&r->e->mon.latency, 0.99)));
	/* Added for export's engine metrics (doc/store.md). */
	json_object_set_new(o, "events_per_s", json_real(r->events_per_s));
	json_object_set_new(o, "queue_bytes",
	    json_integer((json_int_t)st->queue_bytes));
	json_object_set_new(o, "sample_queue_depth",
	    json_integer((json_int_t)st->sample_queue_depth));
	json_object_set_new(o, "producer_waits",
	    json_integer((json_int_t)st->producer_waits));
	json_object_set_new(o, "commits", json_integer((json_int_t)st->commits));
	json_object_set_new(o, "commit_ms_p50", json_real(st->p50_commit_ms));
	json_object_set_new(o, "commit_ms_max", json_real(st->max_commit_ms));
	json_object_set_new(o, "sched_latency_ms_p50",
	    json_real(mon_latency_quantile(&r->e->mon.latency, 0.5)));
	json_object_set_new(o, "sched_latency_ms_max",
	    json_real(r->e->mon.latency.max_ms));
	json_object_set_new(o, "sched_latency_ms_sum",
	    json_real(r->e->mon.latency.sum_ms));
	json_object_set_new(o, "sched_latency_count",
	    json_integer((json_int_t)r->e->mon.latency.count));
	json_object_set_new(o, "samples_dropped",
	    json_integer((json_int_t)st->samples_dropped));
	json_object_set_new(o, "dead_letters_since_start",
	    json_integer((json_int_t)st->dead_letters));
	return o;
}

/* Rewrites the status file in place (fixed size, padded with spaces). */
static void
engine_write_status(struct engine_run *r, const struct store_stats *st)
{
	char buf[ENGINE_STATUS_BYTES];
	json_t *j;
	size_t n;

	if (r->status_fd == -1)
		return;
	j = engine_metrics_json(r, st);
	n = json_dumpb(j, buf, sizeof buf - 1, JSON_COMPACT | NX_JSON_FLAGS);
	json_decref(j);
	if (n >= sizeof buf - 1)
		return;
	memset(buf + n, ' ', sizeof buf - n - 1);
	buf[sizeof buf - 1] = '\n';
	if (pwrite(r->status_fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf) {
		/* Not fatal: the store is what matters; say it once. */
		engine_log("warning: %s: %s", r->status_path, strerror(errno));
		close(r->status_fd);
		r->status_fd = -1;
	}
}

static void
engine_open_status(struct engine_run *r)
{
	xasprintf(&r->status_path, "%s.status", store_path(r->store));
	r->status_fd = open(r->status_path, O_WRONLY | O_CREAT | O_CLOEXEC,
	    0600);
	if (r->status_fd == -1 ||
	    posix_fallocate(r->status_fd, 0, ENGINE_STATUS_BYTES) != 0) {
		engine_log("warning: %s: %s (no status file)", r->status_path,
		    strerror(errno));
		if (r->status_fd != -1)
			close(r->status_fd);
		r->status_fd = -1;
	}
}

/*
 * STATE.remed.json: remed_status() plus "pid" and "updated", for `nexusctl
 * rules` (doc/remediation.md).  Written when the status changed, through
 * a temporary file in the same directory, fsynced and renamed over it, so
 * a reader sees the old or the new document, never a part.  A failure is
 * said once and the file is given up.
 */
static void
engine_write_remed(struct engine_run *r)
{
	json_t *st, *doc;
	char *text, *tmp;
	int fd;
	bool ok;

	if (r->remed_path == NULL)
		return;
	st = remed_status(r->e);
	text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS | NX_JSON_FLAGS);
	if (text == NULL || (r->remed_last != NULL &&
	    strcmp(text, r->remed_last) == 0)) {
		free(text);
		json_decref(st);
		return;
	}
	free(r->remed_last);
	r->remed_last = text;
	doc = json_deep_copy(st);
	json_decref(st);
	json_object_set_new(doc, "pid", json_integer(getpid()));
	json_object_set_new(doc, "updated",
	    json_real((double)nx_wallclock() / 1000.0));
	xasprintf(&tmp, "%s.XXXXXX", r->remed_path);
	ok = (fd = mkstemp(tmp)) != -1;
	if (ok) {
		ok = json_dumpfd(doc, fd, JSON_INDENT(1) | NX_JSON_FLAGS) == 0 &&
		    write(fd, "\n", 1) == 1 && fchmod(fd, 0600) == 0 &&
		    fsync(fd) == 0;
		ok = close(fd) == 0 && ok;
		ok = ok && rename(tmp, r->remed_path) == 0;
	}
	json_decref(doc);
	if (!ok) {
		engine_log("warning: %s: %s (no rules state file)",
		    r->remed_path, strerror(errno));
		if (fd != -1)
			unlink(tmp);
		free(r->remed_path);
		r->remed_path = NULL;
	}
	free(tmp);
}

/* The engine stops: its rules' state goes with it. */
static void
engine_remove_remed(struct engine_run *r)
{
	if (r->remed_path != NULL && unlink(r->remed_path) != 0 &&
	    errno != ENOENT)
		engine_log("warning: %s: %s", r->remed_path, strerror(errno));
	free(r->remed_path);
	r->remed_path = NULL;
	free(r->remed_last);
	r->remed_last = NULL;
}

/* Once a second: results/s, degraded/recovered transitions, status file. */
static void
engine_on_tick(uv_timer_t *t)
{
	struct engine_run *r = t->data;
	struct store_stats st;
	uint64_t now = uv_hrtime();

	if (r->last_ns != 0 && now > r->last_ns) {
		r->results_per_s = (double)(r->e->results - r->last_results) *
		    1e9 / (double)(now - r->last_ns);
		r->events_per_s = (double)(r->e->bus.seq - r->last_events) *
		    1e9 / (double)(now - r->last_ns);
	}
	r->last_ns = now;
	r->last_results = r->e->results;
	r->last_events = r->e->bus.seq;
	store_get_stats(r->store, &st);
	if (st.degraded && !r->degraded)
		engine_log("store degraded: %s (events kept in memory, "
		    "retrying)", st.reason);
	else if (!st.degraded && r->degraded)
		engine_log("store recovered: %llu events committed, %llu "
		    "refused while full", (unsigned long long)st.last_seq,
		    (unsigned long long)st.dropped);
	r->degraded = st.degraded;
	engine_write_status(r, &st);
	engine_write_remed(r);
}

/* Every store.audit_head_interval, and at stop: anchor the audit head. */
static void
engine_anchor_head(struct engine_run *r)
{
	struct nx_err err = { { 0 } };

	if (audit_anchor_store(r->store, r->cfg->store.audit_head_file,
	    r->cfg->store.audit_head_syslog, &r->anchored, &err) < 0)
		engine_log("warning: audit head: %s", err.msg);
}

static void
engine_on_anchor(uv_timer_t *t)
{
	engine_anchor_head(t->data);
}

static void
engine_on_signal(uv_signal_t *h, int signum)
{
	engine_log("stopping (%s): committing", strsignal(signum));
	uv_stop(h->loop);
}

/*
 * The control socket, STATE.sock (engine/ctl.c): 0600, or 0666 with a
 * roles section.  Not fatal: without it the engine runs on, said once.
 */
static void
engine_listen(struct engine_run *r, const struct nx_config *cfg)
{
	struct nx_err err = { { 0 } };
	char *path = ctl_socket_path(store_path(r->store));

	if ((r->ctl = ctl_listen(r->e, path, cfg->roles != NULL, &err)) ==
	    NULL)
		engine_log("warning: no control socket: %s", err.msg);
	else
		engine_log("control socket %s (%s)", path, cfg->roles != NULL ?
		    "0666: requests by the caller's role" : "0600");
	free(path);
}

int
cmd_engine_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "snapshot-events", required_argument, NULL,
		    ENGINE_OPT_SNAP_EVENTS },
		{ "snapshot-interval", required_argument, NULL,
		    ENGINE_OPT_SNAP_INTERVAL },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("engine");
	struct store_opts so;
	uint64_t ms;
	long v;
	struct nx_err err = { { 0 } };
	struct engine_run r;
	struct store_stats st;
	struct cli_common co;
	struct nx_config cfg;
	struct engine e;
	uv_loop_t loop;
	int opt, rc, status = 0;

	cli_common_init(&co, argv);
	store_opts_default(&so);
	while ((opt = cli_next_opt(cmd, &co, argc, argv, CLI_COMMON_SHORTOPTS,
	    longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == ENGINE_OPT_SNAP_EVENTS) {
			if (cli_parse_long("--snapshot-events", optarg, 0,
			    UINT32_MAX, &v) != 0)
				return cli_usage_error(cmd, "--snapshot-events "
				    "wants a number of events, not '%s'", optarg);
			so.snapshot_events = (uint32_t)v;
		} else if (opt == ENGINE_OPT_SNAP_INTERVAL) {
			if (config_parse_duration(optarg, &ms) != 0 ||
			    ms > UINT32_MAX)
				return cli_usage_error(cmd, "--snapshot-interval "
				    "wants a duration (e.g. 60s), not '%s'",
				    optarg);
			so.snapshot_ms = (uint32_t)ms;
		}
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);

	signal(SIGPIPE, SIG_IGN);
	memset(&e, 0, sizeof e);
	memset(&r, 0, sizeof r);
	r.status_fd = -1;
	config_defaults(&cfg);
	uv_loop_init(&loop);
	if ((rc = cli_engine_open(&e, &loop, &co, &cfg)) != 0) {
		status = rc;
		goto out;
	}
	if ((r.store = cli_store_open_opts(&co, &so, "engine", &status)) ==
	    NULL)
		goto out;
	store_set_retention(r.store, &cfg);
	if ((rc = cli_store_restore(r.store, &e, "engine")) != 0) {
		status = rc;
		goto out;
	}
	store_subscribe(r.store, &e);
	/* Rows the engine writes itself (a refused host key). */
	act_set_audit(&e, act_audit_store, r.store);
	r.e = &e;
	engine_open_status(&r);
	uv_signal_init(&loop, &r.sigint);
	uv_signal_start(&r.sigint, engine_on_signal, SIGINT);
	uv_signal_init(&loop, &r.sigterm);
	uv_signal_start(&r.sigterm, engine_on_signal, SIGTERM);
	uv_timer_init(&loop, &r.tick);
	r.tick.data = &r;
	uv_timer_start(&r.tick, engine_on_tick, 1000, 1000);
	r.cfg = &cfg;
	r.anchored = UINT64_MAX;
	uv_timer_init(&loop, &r.anchor);
	r.anchor.data = &r;
	if (cfg.store.audit_head_file != NULL || cfg.store.audit_head_syslog)
		uv_timer_start(&r.anchor, engine_on_anchor, 0,
		    cfg.store.audit_head_interval_ms);
	if (engine_start(&e) != 0) {
		engine_log("the engine did not start");
		status = NX_EXIT_SOFTWARE;
	} else {
		engine_listen(&r, &cfg);
		engine_log("started: %u nodes, %u checks, state %s (pid %ld)",
		    e.fleet.nnodes, e.fleet.nchecks, store_path(r.store),
		    (long)getpid());
		xasprintf(&r.remed_path, "%s.remed.json", store_path(r.store));
		engine_write_remed(&r);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	ctl_close(r.ctl);
	r.ctl = NULL;
	engine_remove_remed(&r);
	uv_close((uv_handle_t *)&r.sigint, NULL);
	uv_close((uv_handle_t *)&r.sigterm, NULL);
	uv_close((uv_handle_t *)&r.tick, NULL);
	uv_close((uv_handle_t *)&r.anchor, NULL);
	engine_stop(&e);
	store_snapshot(r.store);
	if (store_flush(r.store, &err) == 0) {
		store_get_stats(r.store, &st);
		engine_write_status(&r, &st);
		if (cfg.store.audit_head_file != NULL ||
		    cfg.store.audit_head_syslog)
			engine_anchor_head(&r);
	}
out:
	if (e.act != NULL)
		act_set_audit(&e, NULL, NULL);
	if (r.store != NULL) {
		store_get_stats(r.store, &st);
		if (store_close(r.store, &err) != 0) {
			engine_log("stopping: %s", err.msg);
			status = NX_EXIT_SOFTWARE;
		} else if (status == 0)
			engine_log("stopped: %llu events in the store",
			    (unsigned long long)st.last_seq);
	}
	if (r.status_fd != -1)
		close(r.status_fd);
	free(r.status_path);
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
	return status;
}
