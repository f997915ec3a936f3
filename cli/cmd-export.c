/*
 * cmd-export.c - `nexusctl export --format json|csv|prometheus`: current
 * state of every node and check.
 *
 * With --state FILE the state is the projection of that store (its
 * snapshot plus the events after it, engine/snapshot.c), read without
 * writing, while an engine may be writing it; when that engine is running
 * (it holds the store's lock) its metrics come from FILE.status.  Without
 * --state, export runs one round of its own engine (as `check`) and
 * prints that.
 *
 * Exit statuses: 0; 78 no such state file; 65 a file that is not a
 * nexusctl store; 70 anything else; 64 usage.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

enum export_format { FMT_JSON, FMT_CSV, FMT_PROM };
static const char *const export_formats[] = { "json", "csv", "prometheus",
	NULL };

#define EXPORT_ROUND_TIMEOUT_MS 60000

/* What export prints besides the projection. */
struct export_ctx {
	const struct snap_proj *p;
	const char *source;             /* "store" or "engine" */
	const char *path;               /* the state file, or NULL */
	json_t *metrics;                /* object; owned */
	bool running;                   /* an engine holds the store */
	size_t *order;                  /* objs sorted by node, then check,
					 * without removed ones */
	size_t norder;
	int64_t dead_letters;           /* rows in dead_letters; -1 unknown */
};

static const struct snap_proj *export_sort_p;

static int
export_cmp(const void *a, const void *b)
{
	const struct snap_obj *x = &export_sort_p->objs[*(const size_t *)a];
	const struct snap_obj *y = &export_sort_p->objs[*(const size_t *)b];
	int c = strcmp(x->node, y->node);

	if (c != 0)
		return c;
	if (x->check == NULL || y->check == NULL)
		return (x->check != NULL) - (y->check != NULL);
	return strcmp(x->check, y->check);
}

static const char *
export_state_name(const struct snap_obj *o)
{
	if (o->check == NULL)
		return nx_host_state_name(o->state);
	if (!o->has_result)
		return "PENDING";
	return nx_state_name(o->state);
}

/* Health of the node starting at order[i] (its checks follow). */
static enum nx_health
export_health(const struct export_ctx *x, size_t i, size_t end)
{
	static const int rank[] = {
		[NX_OK] = 0, [NX_WARNING] = 1, [NX_UNKNOWN] = 2,
		[NX_CRITICAL] = 3,
	};
	static const enum nx_health of[] = {
		[NX_OK] = NX_H_OK, [NX_WARNING] = NX_H_WARNING,
		[NX_CRITICAL] = NX_H_CRITICAL, [NX_UNKNOWN] = NX_H_UNKNOWN,
	};
	const struct snap_obj *n = &x->p->objs[x->order[i]];
	int worst = -1;

	if (n->check == NULL && n->state == NX_HOST_DOWN)
		return NX_H_DOWN;
	if (n->check == NULL && n->state == NX_HOST_UNREACHABLE)
		return NX_H_UNREACHABLE;
	for (; i < end; i++) {
		const struct snap_obj *c = &x->p->objs[x->order[i]];

		if (c->check == NULL || !c->has_result || c->state > NX_UNKNOWN)
			continue;
		if (worst < 0 || rank[c->state] > rank[worst])
			worst = c->state;
	}
	return worst < 0 ? NX_H_PENDING : of[worst];
}

/* The end of the group of objects of the node at order[i]. */
static size_t
export_group_end(const struct export_ctx *x, size_t i)
{
	const char *node = x->p->objs[x->order[i]].node;
	size_t j = i + 1;

	while (j < x->norder && strcmp(x->p->objs[x->order[j]].node,
	    node) == 0)
		j++;
	return j;
}

static bool
export_in_downtime(const struct snap_proj *p, const struct snap_obj *o)
{
	size_t i;

	for (i = 0; i < p->ndts; i++) {
		const struct snap_downtime *d = &p->dts[i];

		if (!d->in_effect || strcmp(d->node, o->node) != 0)
			continue;
		if (d->check == NULL || (o->check != NULL &&
		    strcmp(d->check, o->check) == 0))
			return true;
	}
	return false;
}

static json_t *
export_time(nx_time t)
{
	return t != 0 ? json_real((double)t / 1000.0) : json_null();
}

static json_t *
export_ack_json(const struct snap_obj *o)
{
	json_t *a;

	if (o->ack_type == NX_ACK_NONE)
		return json_null();
	a = json_object();
	json_object_set_new(a, "type", json_string(o->ack_type ==
	    NX_ACK_STICKY ? "sticky" : "normal"));
	json_object_set_new(a, "author", nx_json_text(o->ack_author));
	json_object_set_new(a, "comment", nx_json_text(o->ack_comment));
	json_object_set_new(a, "time", export_time(o->ack_time));
	json_object_set_new(a, "expires", export_time(o->ack_expires));
	return a;
}

static int
export_json(const struct export_ctx *x)
{
	const struct snap_proj *p = x->p;
	json_t *root = json_object(), *nodes = json_array(), *dts = json_array();
	uint32_t count[NX_H__COUNT] = { 0 };
	json_t *summary = json_object();
	size_t i, end, nchecks = 0, nnodes = 0;
	int h, rc;

	json_object_set_new(root, "source", json_string(x->source));
	json_object_set_new(root, "state_file", x->path ?
	    json_string(x->path) : json_null());
	json_object_set_new(root, "seq", json_integer((json_int_t)p->last_seq));
	json_object_set_new(root, "snapshot_seq",
	    json_integer((json_int_t)p->snap_seq));
	json_object_set_new(root, "tail_events",
	    json_integer((json_int_t)p->tail));
	json_object_set_new(root, "engine_running", json_boolean(x->running));
	/* Events a subscriber could not handle, kept in the file. */
	json_object_set_new(root, "dead_letters", x->dead_letters >= 0 ?
	    json_integer((json_int_t)x->dead_letters) : json_null());
	{
		char hex[24];

		snprintf(hex, sizeof hex, "%016llx",
		    (unsigned long long)snap_proj_digest(p));
		json_object_set_new(root, "digest", json_string(hex));
	}
	json_object_set_new(root, "metrics", json_incref(x->metrics));
	for (i = 0; i < x->norder; i = end) {
		const struct snap_obj *n = &p->objs[x->order[i]];
		json_t *no = json_object(), *checks = json_array();
		enum nx_health health;
		size_t k;

		end = export_group_end(x, i);
		health = export_health(x, i, end);
		count[health]++;
		nnodes++;
		json_object_set_new(no, "name", nx_json_text(n->node));
		json_object_set_new(no, "host_state", json_string(n->check ==
		    NULL ? nx_host_state_name(n->state) : "UP"));
		json_object_set_new(no, "health",
		    json_string(nx_health_name(health)));
		json_object_set_new(no, "ack", n->check == NULL ?
		    export_ack_json(n) : json_null());
		json_object_set_new(no, "in_downtime", json_boolean(n->check ==
		    NULL && export_in_downtime(p, n)));
		for (k = i; k < end; k++) {
			const struct snap_obj *c = &p->objs[x->order[k]];
			json_t *co;

			if (c->check == NULL)
				continue;
			nchecks++;
			co = json_object();
			json_object_set_new(co, "name", nx_json_text(c->check));
			json_object_set_new(co, "state",
			    json_string(export_state_name(c)));
			json_object_set_new(co, "state_type", json_string(
			    c->state_type == NX_HARD ? "HARD" : "SOFT"));
			json_object_set_new(co, "attempt",
			    json_integer(c->attempt));
			json_object_set_new(co, "last_hard_state", json_string(
			    nx_state_name(c->last_hard_state <= NX_UNKNOWN ?
			    c->last_hard_state : NX_UNKNOWN)));
			json_object_set_new(co, "last_check",
			    export_time(c->last_check));
			json_object_set_new(co, "last_change",
			    export_time(c->last_change));
			json_object_set_new(co, "last_hard_change",
			    export_time(c->last_hard_change));
			json_object_set_new(co, "flapping",
			    json_boolean(c->flapping));
			json_object_set_new(co, "flap_ring",
			    json_integer(c->flap_ring));
			json_object_set_new(co, "ack", export_ack_json(c));
			json_object_set_new(co, "in_downtime",
			    json_boolean(export_in_downtime(p, c)));
			json_object_set_new(co, "output", nx_json_text(c->output));
			json_array_append_new(checks, co);
		}
		json_object_set_new(no, "checks", checks);
		json_array_append_new(nodes, no);
	}
	json_object_set_new(summary, "nodes", json_integer((json_int_t)nnodes));
	json_object_set_new(summary, "checks",
	    json_integer((json_int_t)nchecks));
	for (h = 0; h < NX_H__COUNT; h++) {
		char key[32];
		size_t j;

		snprintf(key, sizeof key, "%s", nx_health_name(h));
		for (j = 0; key[j] != '\0'; j++)
			key[j] = (char)(key[j] | 0x20);
		json_object_set_new(summary, key, json_integer(count[h]));
	}
	json_object_set_new(root, "summary", summary);
	json_object_set_new(root, "nodes", nodes);
	for (i = 0; i < p->ndts; i++) {
		const struct snap_downtime *d = &p->dts[i];
		json_t *o = json_object();

		json_object_set_new(o, "id", json_integer(d->id));
		json_object_set_new(o, "node", nx_json_text(d->node));
		json_object_set_new(o, "check", nx_json_text(d->check));
		json_object_set_new(o, "start", export_time(d->start));
		json_object_set_new(o, "end", export_time(d->end));
		json_object_set_new(o, "fixed", json_boolean(d->fixed));
		json_object_set_new(o, "duration_ms",
		    json_integer(d->duration_ms));
		json_object_set_new(o, "in_effect", json_boolean(d->in_effect));
		json_object_set_new(o, "author", nx_json_text(d->author));
		json_object_set_new(o, "comment", nx_json_text(d->comment));
		json_array_append_new(dts, o);
	}
	json_object_set_new(root, "downtimes", dts);
	rc = json_dumpf(root, stdout, JSON_INDENT(1) | NX_JSON_FLAGS);
	fputc('\n', stdout);
	json_decref(root);
	return rc;
}

/* One CSV field (RFC 4180): quoted when it holds , " CR or LF. */
static void
export_csv_field(const char *s, bool last)
{
	if (s == NULL)
		s = "";
	if (strpbrk(s, ",\"\r\n") == NULL)
		fputs(s, stdout);
	else {
		fputc('"', stdout);
		for (; *s != '\0'; s++) {
			if (*s == '"')
				fputc('"', stdout);
			fputc(*s, stdout);
		}
		fputc('"', stdout);
	}
	fputc(last ? '\n' : ',', stdout);
}

static void
export_csv(const struct export_ctx *x)
{
	const struct snap_proj *p = x->p;
	char num[32], when[32];
	size_t i;

	fputs("node,check,state,state_type,attempt,last_change,flapping,"
	    "acknowledged,in_downtime,output\n", stdout);
	for (i = 0; i < x->norder; i++) {
		const struct snap_obj *o = &p->objs[x->order[i]];

		export_csv_field(o->node, false);
		export_csv_field(o->check, false);
		export_csv_field(export_state_name(o), false);
		export_csv_field(o->check == NULL ? "HARD" :
		    o->state_type == NX_HARD ? "HARD" : "SOFT", false);
		snprintf(num, sizeof num, "%u", o->check ? o->attempt : 1);
		export_csv_field(num, false);
		snprintf(when, sizeof when, "%.3f", (double)o->last_change /
		    1000.0);
		export_csv_field(when, false);
		export_csv_field(o->flapping ? "1" : "0", false);
		export_csv_field(o->ack_type != NX_ACK_NONE ? "1" : "0", false);
		export_csv_field(export_in_downtime(p, o) ? "1" : "0", false);
		export_csv_field(o->output, true);
	}
}

/* A Prometheus label value: \ " and newline escaped. */
static void
export_prom_label(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", stdout);
		else if (*s == '"')
			fputs("\\\"", stdout);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			fputc(*s, stdout);
	}
}

static void
export_prom_head(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
export_prom_metric(const struct export_ctx *x, const char *key,
    const char *name, const char *type, const char *help, double scale)
{
	json_t *v = json_object_get(x->metrics, key);

	if (!json_is_number(v))
		return;
	export_prom_head(name, type, help);
	printf("%s %.9g\n", name, json_number_value(v) * scale);
}

/*
 * One family of quantiles: name{quantile="q"} for each (key, q) present
 * in the metrics, then name_sum and name_count when sum_key and count_key
 * are (a summary), all scaled (ms to seconds).  Nothing when none is.
 */
static void
export_prom_quantiles(const struct export_ctx *x, const char *name,
    const char *type, const char *help, const char *const keys[][2],
    size_t nkeys, const char *sum_key, const char *count_key, double scale)
{
	json_t *v;
	size_t i;
	bool head = false;

	for (i = 0; i < nkeys; i++) {
		if (!json_is_number(v = json_object_get(x->metrics,
		    keys[i][0])))
			continue;
		if (!head)
			export_prom_head(name, type, help);
		head = true;
		printf("%s{quantile=\"%s\"} %.9g\n", name, keys[i][1],
		    json_number_value(v) * scale);
	}
	if (!head)
		return;
	if (sum_key != NULL && json_is_number(v = json_object_get(x->metrics,
	    sum_key)))
		printf("%s_sum %.9g\n", name, json_number_value(v) * scale);
	if (count_key != NULL && json_is_number(v = json_object_get(x->metrics,
	    count_key)))
		printf("%s_count %.9g\n", name, json_number_value(v));
}

/*
 * The engine's metrics: from the running engine's status file (export
 * --state while `nexusctl engine` runs) or from export's own round.
 * Metric names are a contract (doc/store.md, nexusctl(1)).
 */
static void
export_prom_engine(const struct export_ctx *x)
{
	static const char *const commit_q[][2] = {
		{ "commit_ms_p50", "0.5" }, { "commit_ms_p99", "0.99" },
		{ "commit_ms_max", "1" },
	};
	static const char *const sched_q[][2] = {
		{ "sched_latency_ms_p50", "0.5" },
		{ "sched_latency_ms_p99", "0.99" },
		{ "sched_latency_ms_max", "1" },
	};

	export_prom_metric(x, "events_total", "nexus_events_total", "counter",
	    "Events published by the engine.", 1);
	export_prom_metric(x, "events_per_s", "nexus_events_per_second",
	    "gauge", "Events published per second (last second).", 1);
	export_prom_metric(x, "events_committed",
	    "nexus_store_events_committed", "gauge",
	    "Highest event seq committed to the state store.", 1);
	export_prom_metric(x, "results_per_s", "nexus_results_per_second",
	    "gauge", "Check results applied per second.", 1);
	export_prom_metric(x, "queue_depth", "nexus_store_queue_depth", "gauge",
	    "Events queued for the state store.", 1);
	export_prom_metric(x, "queue_bytes", "nexus_store_queue_bytes", "gauge",
	    "Bytes of events queued for the state store.", 1);
	export_prom_metric(x, "sample_queue_depth",
	    "nexus_store_sample_queue_depth", "gauge",
	    "Metric samples queued for the state store.", 1);
	export_prom_metric(x, "producer_waits",
	    "nexus_store_producer_waits_total", "counter",
	    "Times the engine loop waited for the store's writer.", 1);
	export_prom_metric(x, "dropped", "nexus_store_dropped_total", "counter",
	    "Events refused while the store was degraded and its queue full.",
	    1);
	export_prom_metric(x, "samples_dropped",
	    "nexus_store_samples_dropped_total", "counter",
	    "Metric samples refused because their queue was full.", 1);
	export_prom_metric(x, "commits", "nexus_store_commits_total", "counter",
	    "Group commits of the store's writer.", 1);
	export_prom_quantiles(x, "nexus_store_commit_latency_seconds", "gauge",
	    "Group commit latency (BEGIN to COMMIT) over the last 1024 groups: "
	    "median, 99th percentile, longest.", commit_q,
	    NX_ARRAY_LEN(commit_q), NULL, NULL, 1e-3);
	export_prom_metric(x, "commit_ms_p99",
	    "nexus_store_commit_latency_p99_seconds", "gauge",
	    "99th percentile of the store's group commit latency.", 1e-3);
	export_prom_quantiles(x, "nexus_sched_latency_seconds", "summary",
	    "Delay of check starts behind their schedule since the engine "
	    "started (quantile 1: the longest).", sched_q,
	    NX_ARRAY_LEN(sched_q), "sched_latency_ms_sum",
	    "sched_latency_count", 1e-3);
	export_prom_metric(x, "sched_latency_ms_p99",
	    "nexus_sched_latency_p99_seconds", "gauge",
	    "99th percentile of check start delay behind schedule.", 1e-3);
	if (x->dead_letters >= 0) {
		export_prom_head("nexus_store_dead_letters", "gauge",
		    "Rows in the store's dead_letters table.");
		printf("nexus_store_dead_letters %lld\n",
		    (long long)x->dead_letters);
	}
}

static void
export_prometheus(const struct export_ctx *x)
{
	const struct snap_proj *p = x->p;
	uint32_t count[NX_H__COUNT] = { 0 };
	size_t i, end;
	int h;

	export_prom_head("nexus_node_health", "gauge", "Health of a node: 0 "
	    "OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, 4 DOWN, 5 UNREACHABLE, 6 "
	    "PENDING.");
	for (i = 0; i < x->norder; i = end) {
		enum nx_health health;

		end = export_group_end(x, i);
		health = export_health(x, i, end);
		count[health]++;
		fputs("nexus_node_health{node=\"", stdout);
		export_prom_label(p->objs[x->order[i]].node);
		printf("\"} %d\n", (int)health);
	}
	export_prom_head("nexus_nodes", "gauge", "Nodes by health.");
	for (h = 0; h < NX_H__COUNT; h++)
		printf("nexus_nodes{health=\"%s\"} %u\n", nx_health_name(h),
		    count[h]);
	export_prom_head("nexus_check_state", "gauge", "State of a check "
	    "(Nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN); checks without "
	    "a result are left out.");
	for (i = 0; i < x->norder; i++) {
		const struct snap_obj *o = &p->objs[x->order[i]];

		if (o->check == NULL || !o->has_result)
			continue;
		fputs("nexus_check_state{node=\"", stdout);
		export_prom_label(o->node);
		fputs("\",check=\"", stdout);
		export_prom_label(o->check);
		printf("\"} %u\n", o->state);
	}
	export_prom_head("nexus_check_hard", "gauge", "1 when the check's "
	    "state is HARD, 0 when SOFT.");
	for (i = 0; i < x->norder; i++) {
		const struct snap_obj *o = &p->objs[x->order[i]];

		if (o->check == NULL || !o->has_result)
			continue;
		fputs("nexus_check_hard{node=\"", stdout);
		export_prom_label(o->node);
		fputs("\",check=\"", stdout);
		export_prom_label(o->check);
		printf("\"} %d\n", o->state_type == NX_HARD);
	}
	export_prom_engine(x);
	export_prom_head("nexus_store_degraded", "gauge", "1 when the state "
	    "store cannot commit (disk full, locked, I/O error).");
	printf("nexus_store_degraded %d\n", json_is_true(json_object_get(
	    x->metrics, "degraded")));
}

/*
 * The metrics of the engine writing path, from its status file, when it
 * holds the store (is running).  A new reference, or an empty object.
 */
static json_t *
export_status_metrics(const char *path)
{
	json_t *j;
	char *sp;

	xasprintf(&sp, "%s.status", path);
	j = json_load_file(sp, 0, NULL);
	free(sp);
	if (!json_is_object(j)) {
		json_decref(j);
		return json_object();
	}
	return j;
}

static int
export_fail_status(enum store_fail fail)
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

int
cmd_export_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("export");
	enum export_format fmt = FMT_JSON;
	struct nx_err err = { { 0 } };
	struct export_ctx x;
	struct snap_proj p;
	struct cli_common co;
	struct nx_config cfg;
	struct store *s = NULL;
	enum store_fail fail;
	struct engine e;
	uv_loop_t loop;
	bool have_engine = false;
	size_t i;
	int choice, opt, rc, status = 0;

	cli_common_init(&co, argv);
	while ((opt = cli_next_opt(cmd, &co, argc, argv, CLI_COMMON_SHORTOPTS,
	    longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == CLI_OPT_FORMAT) {
			if ((rc = cli_choice(cmd, "format", optarg,
			    export_formats, &choice)) >= 0)
				return rc;
			fmt = (enum export_format)choice;
		}
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);

	memset(&x, 0, sizeof x);
	snap_proj_init(&p);
	config_defaults(&cfg);
	memset(&e, 0, sizeof e);
	uv_loop_init(&loop);
	if (co.state_path != NULL) {
		/* Before SQLite opens the file (see store_in_use). */
		x.running = store_in_use(co.state_path);
		if ((s = store_open_reader(co.state_path, &fail, &err)) ==
		    NULL) {
			fprintf(stderr, "nexusctl: export: %s\n", err.msg);
			status = export_fail_status(fail);
			goto out;
		}
		if (store_load_projection(s, &p, &err) != 0) {
			fprintf(stderr, "nexusctl: export: %s\n", err.msg);
			status = NX_EXIT_SOFTWARE;
			goto out;
		}
		x.source = "store";
		x.path = co.state_path;
		x.dead_letters = store_dead_letter_count(s);
		x.metrics = x.running ? export_status_metrics(co.state_path) :
		    json_object();
		if (json_object_get(x.metrics, "events_total") == NULL)
			json_object_set_new(x.metrics, "events_total",
			    json_integer((json_int_t)p.last_seq));
	} else {
		uint64_t t0 = uv_hrtime();
		double secs;

		have_engine = true;
		if ((rc = cli_engine_open(&e, &loop, &co, &cfg)) != 0) {
			status = rc;
			goto out;
		}
		if (engine_round(&e, EXPORT_ROUND_TIMEOUT_MS) != 0)
			fprintf(stderr, "nexusctl: export: %u checks still "
			    "running after %d s\n", e.pending,
			    EXPORT_ROUND_TIMEOUT_MS / 1000);
		secs = (double)(uv_hrtime() - t0) / 1e9;
		snap_proj_from_engine(&p, &e, e.bus.seq);
		x.source = "engine";
		x.running = true;
		x.dead_letters = -1;
		x.metrics = json_object();
		json_object_set_new(x.metrics, "events_total",
		    json_integer((json_int_t)e.bus.seq));
		json_object_set_new(x.metrics, "results_total",
		    json_integer((json_int_t)e.results));
		json_object_set_new(x.metrics, "results_per_s",
		    json_real(secs > 0 ? (double)e.results / secs : 0));
		json_object_set_new(x.metrics, "queue_depth", json_integer(0));
		json_object_set_new(x.metrics, "sched_latency_ms_p99",
		    json_real(mon_latency_quantile(&e.mon.latency, 0.99)));
		json_object_set_new(x.metrics, "sched_latency_ms_p50",
		    json_real(mon_latency_quantile(&e.mon.latency, 0.5)));
		json_object_set_new(x.metrics, "sched_latency_ms_max",
		    json_real(e.mon.latency.max_ms));
		json_object_set_new(x.metrics, "sched_latency_ms_sum",
		    json_real(e.mon.latency.sum_ms));
		json_object_set_new(x.metrics, "sched_latency_count",
		    json_integer((json_int_t)e.mon.latency.count));
		json_object_set_new(x.metrics, "events_per_s",
		    json_real(secs > 0 ? (double)e.bus.seq / secs : 0));
		json_object_set_new(x.metrics, "degraded", json_false());
	}
	x.p = &p;
	/* Not what an inventory reload removed (still in an older snapshot
	 * or its tail; snap_obj_removed). */
	x.order = xreallocarray(NULL, p.nobjs + 1, sizeof *x.order);
	for (i = 0; i < p.nobjs; i++) {
		if (!snap_obj_removed(&p, &p.objs[i]))
			x.order[x.norder++] = i;
	}
	export_sort_p = &p;
	qsort(x.order, x.norder, sizeof *x.order, export_cmp);
	switch (fmt) {
	case FMT_CSV:
		export_csv(&x);
		break;
	case FMT_PROM:
		export_prometheus(&x);
		break;
	default:
		export_json(&x);
		break;
	}
	if (fflush(stdout) != 0) {
		perror("nexusctl: export: stdout");
		status = NX_EXIT_SOFTWARE;
	}
out:
	store_close(s, &err);
	snap_proj_free(&p);
	free(x.order);
	json_decref(x.metrics);
	if (have_engine)
		engine_free(&e);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	config_free(&cfg);
	return status;
}
