/*
 * bench_history.c - point reads while ingesting, and the metric history
 * over simulated days.
 *
 * Part 1: an engine with a simulated fleet (1,000 nodes, 2 checks each)
 * publishes N result events as fast as it can with the store subscribed
 * (snapshots every 100,000 events, the default), while a second thread
 * with its own reader connection (store_open_reader) reads the current
 * state of one random node at a time (store_node_state: its snapshot rows
 * and its events after the snapshot).  Prints the ingest rate and the
 * read latency (p50, p99, max).
 *
 * Part 3 (after part 2): the console node view's read, one node's four
 * series over each of its windows from the tier it uses, 20 times each.
 *
 * Part 2: no engine; NODES nodes x 5 metrics sampled every 10 s of
 * synthetic time (HIST_SAMPLE_MS), fed through store_metric_sample() for
 * DAYS simulated days, a flush per simulated minute.  Retention runs as in
 * production (raw 1 h, 1-minute 24 h, 1-hour 30 d).  Prints samples/s,
 * rollup rows, pruned rows, rows per tier and the file size at the end of
 * each simulated day.
 *
 *	bench_history [-n EVENTS] [-N NODES] [-D DAYS] [-d DIR]
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/resource.h>

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "engine.h"

#define READS_MAX 4000000

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct reader {
	const char *path;
	const struct fleet *f;
	volatile int stop;
	long max;                       /* reads, then stop by itself; 0 = until stop */
	double *lat;                    /* ms, wall */
	double *cpu;                    /* ms, this thread's CPU time */
	size_t n;
	size_t objs;
	int failed;
	size_t slow;                    /* reads over 1 ms */
	size_t slow_slept;              /* of which slept (not preempted) */
	char msg[sizeof(struct nx_err)];
};

static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	struct nx_err err = { { 0 } };
	enum store_fail fail;
	struct snap_proj p;
	struct store *s;
	struct rusage ru;
	unsigned seed = 7;
	double t0, c0;
	long vcsw;

	if ((s = store_open_reader(r->path, &fail, &err)) == NULL) {
		snprintf(r->msg, sizeof r->msg, "%s", err.msg);
		r->failed = 1;
		return NULL;
	}
	getrusage(RUSAGE_THREAD, &ru);
	vcsw = ru.ru_nvcsw;
	while (!r->stop && r->n < READS_MAX &&
	    (r->max == 0 || (long)r->n < r->max)) {
		const char *name = r->f->nodes[rand_r(&seed) %
		    r->f->nnodes].name;

		snap_proj_init(&p);
		t0 = now_s();
		c0 = cpu_s();
		if (store_node_state(s, name, &p, &err) != 0) {
			snprintf(r->msg, sizeof r->msg, "%s", err.msg);
			r->failed = 1;
			snap_proj_free(&p);
			break;
		}
		r->cpu[r->n] = (cpu_s() - c0) * 1e3;
		/*
		 * A slow read either slept (a voluntary context switch: a
		 * lock, the busy handler, I/O) or was preempted.
		 */
		getrusage(RUSAGE_THREAD, &ru);
		if ((now_s() - t0) * 1e3 > 1.0) {
			r->slow++;
			if (ru.ru_nvcsw != vcsw)
				r->slow_slept++;
		}
		vcsw = ru.ru_nvcsw;
		r->lat[r->n++] = (now_s() - t0) * 1e3;
		r->objs += p.nobjs;
		snap_proj_free(&p);
	}
	store_close(s, &err);
	return NULL;
}

static void
reader_report(const char *what, struct reader *r)
{
	if (r->n == 0)
		return;
	qsort(r->lat, r->n, sizeof *r->lat, cmp_double);
	qsort(r->cpu, r->n, sizeof *r->cpu, cmp_double);
	printf("%s: %zu reads (%.1f objects each), wall p50 %.3f ms, p99 "
	    "%.3f ms, p99.9 %.3f ms, max %.3f ms; CPU p50 %.3f ms, p99 %.3f "
	    "ms\n", what, r->n, (double)r->objs / (double)r->n,
	    r->lat[r->n / 2], r->lat[(r->n * 99) / 100],
	    r->lat[(r->n * 999) / 1000], r->lat[r->n - 1], r->cpu[r->n / 2],
	    r->cpu[(r->n * 99) / 100]);
	printf("%s: %zu reads over 1 ms, %zu of them slept (lock, busy "
	    "handler, I/O), the others were preempted\n", what, r->slow,
	    r->slow_slept);
}

static int
bench_reads(const char *dir, long n)
{
	char path[300];
	struct nx_err err = { { 0 } };
	struct store_opts o;
	struct store_stats st;
	struct nx_config cfg;
	enum store_fail fail;
	struct reader r;
	struct engine e;
	struct store *s;
	struct event ev;
	uv_loop_t loop;
	pthread_t th;
	double t0, secs;
	long i;

	snprintf(path, sizeof path, "%s/reads.db", dir);
	config_defaults(&cfg);
	cfg.demo.enabled = true;
	cfg.demo.nodes = 1000;
	cfg.demo.local = false;
	uv_loop_init(&loop);
	engine_init(&e, &loop, &cfg);
	if (engine_load(&e, &err) != 0) {
		fprintf(stderr, "bench_history: %s\n", err.msg);
		return -1;
	}
	store_opts_default(&o);
	if ((s = store_open_opts(path, &o, &fail, &err)) == NULL) {
		fprintf(stderr, "bench_history: %s\n", err.msg);
		return -1;
	}
	store_subscribe(s, &e);
	/* A first committed snapshot and some history before reading. */
	store_snapshot(s);
	store_flush(s, &err);
	memset(&r, 0, sizeof r);
	r.path = path;
	r.f = &e.fleet;
	r.lat = malloc(READS_MAX * sizeof *r.lat);
	r.cpu = malloc(READS_MAX * sizeof *r.cpu);
	pthread_create(&th, NULL, reader_main, &r);
	t0 = now_s();
	for (i = 0; i < n; i++) {
		uint32_t c = (uint32_t)(i % e.fleet.nchecks);

		memset(&ev, 0, sizeof ev);
		ev.time = 1700000000000 + i;
		ev.kind = NX_EV_RESULT;
		ev.check = c;
		ev.node = e.fleet.checks[c].node;
		ev.state = (uint8_t)(i % 97 == 0 ? 2 : 0);
		ev.state_type = NX_HARD;
		ev.attempt = 1;
		ev.text = "OK - load average: 0.42, 0.37, 0.30";
		bus_publish(&e.bus, &ev);
	}
	store_flush(s, &err);
	secs = now_s() - t0;
	r.stop = 1;
	pthread_join(th, NULL);
	store_get_stats(s, &st);
	if (r.failed) {
		fprintf(stderr, "bench_history: reader: %s\n", r.msg);
		return -1;
	}
	{
		char wal[320];
		struct stat sb;

		snprintf(wal, sizeof wal, "%s-wal", path);
		printf("point reads while ingesting: %ld events in %.2f s = "
		    "%.0f events/s (%llu snapshots, WAL %.1f MiB)\n", n, secs,
		    (double)n / secs, (unsigned long long)st.snapshots,
		    stat(wal, &sb) == 0 ? (double)sb.st_size / (1 << 20) :
		    0.0);
	}
	reader_report("  store_node_state while ingesting", &r);
	/* The same reads with the writer idle: what a read costs alone. */
	r.n = 0;
	r.objs = 0;
	r.slow = r.slow_slept = 0;
	r.stop = 0;
	r.max = 5000;
	pthread_create(&th, NULL, reader_main, &r);
	pthread_join(th, NULL);
	reader_report("  store_node_state, writer idle", &r);
	free(r.lat);
	free(r.cpu);
	store_close(s, &err);
	engine_free(&e);
	config_free(&cfg);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	return 0;
}

static int64_t
count_rows(const char *path, const char *table)
{
	char sql[128];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		return -1;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static double
file_mib(const char *path)
{
	char wal[320];
	struct stat sb;
	double b = 0;

	if (stat(path, &sb) == 0)
		b += (double)sb.st_size;
	snprintf(wal, sizeof wal, "%s-wal", path);
	if (stat(wal, &sb) == 0)
		b += (double)sb.st_size;
	return b / (1 << 20);
}

static int
count_point(void *arg, const struct hist_point *p)
{
	(void)p;
	(*(uint64_t *)arg)++;
	return 0;
}

/*
 * Part 3: the console node view's read (tui/view-node.c): one node's
 * load, cpu, mem and disk over each of its windows, from the tier it
 * uses, on a reader connection of its own; 20 reads a window.  Prints
 * the points read and the time per read (4 series), p50 and max.
 */
static int
bench_series_reads(const char *path, nx_time end)
{
	static const struct {
		const char *name;
		nx_time span;
		enum hist_tier tier;
	} win[] = {
		{ "10 minutes, raw", 600000LL, HIST_RAW },
		{ "hour, raw", 3600000LL, HIST_RAW },
		{ "day, 1-minute", 86400000LL, HIST_1M },
		{ "30 days, 1-hour", 30 * 86400000LL, HIST_1H },
	};
	static const char *const metric[] = { "load", "cpu", "mem", "disk" };
	struct nx_err err = { { 0 } };
	enum store_fail fail;
	struct store *r;
	double ms[20], t;
	uint64_t points;
	size_t w;
	int k, m;

	if ((r = store_open_reader(path, &fail, &err)) == NULL) {
		fprintf(stderr, "bench_history: %s\n", err.msg);
		return -1;
	}
	printf("node view reads (node00000, 4 series, 20 reads each):\n");
	for (w = 0; w < sizeof win / sizeof win[0]; w++) {
		for (k = 0; k < 20; k++) {
			points = 0;
			t = now_s();
			for (m = 0; m < 4; m++)
				if (store_metric_series(r, "node00000",
				    metric[m], win[w].tier, end - win[w].span,
				    end, count_point, &points, &err) != 0) {
					fprintf(stderr, "bench_history: %s\n",
					    err.msg);
					store_close(r, &err);
					return -1;
				}
			ms[k] = (now_s() - t) * 1e3;
		}
		qsort(ms, 20, sizeof ms[0], cmp_double);
		printf("  last %-17s %6llu points, p50 %.3f ms, max %.3f ms\n",
		    win[w].name, (unsigned long long)points, ms[10], ms[19]);
	}
	store_close(r, &err);
	return 0;
}

static int
bench_days(const char *dir, uint32_t nodes, int days)
{
	static const char *const metric[] = { "load", "cpu", "mem", "disk",
	    "latency" };
	char path[300], name[64];
	struct nx_err err = { { 0 } };
	struct store_opts o;
	struct store_stats st;
	enum store_fail fail;
	struct store *s;
	const nx_time t0 = 1700002800000LL, day = 86400000LL;
	nx_time t;
	double w0, secs = 0;
	uint64_t samples = 0;
	char **names;
	uint32_t i;
	int d, m;

	snprintf(path, sizeof path, "%s/history.db", dir);
	store_opts_default(&o);
	if ((s = store_open_opts(path, &o, &fail, &err)) == NULL) {
		fprintf(stderr, "bench_history: %s\n", err.msg);
		return -1;
	}
	names = calloc(nodes, sizeof *names);
	for (i = 0; i < nodes; i++) {
		snprintf(name, sizeof name, "node%05u", i);
		names[i] = strdup(name);
	}
	printf("history: %u nodes x 5 metrics every %d s of synthetic time\n",
	    nodes, HIST_SAMPLE_MS / 1000);
	for (d = 0; d < days; d++) {
		w0 = now_s();
		for (t = t0 + d * day; t < t0 + (d + 1) * day;
		    t += HIST_SAMPLE_MS) {
			for (i = 0; i < nodes; i++)
				for (m = 0; m < 5; m++)
					store_metric_sample(s, names[i],
					    metric[m], t, 50 + 40 * sin((double)
					    (t / 1000 + i * 7 + m) / 600.0));
			samples += (uint64_t)nodes * 5;
			if ((t - t0) % 60000 == 50000 &&
			    store_flush(s, &err) != 0) {
				fprintf(stderr, "bench_history: %s\n",
				    err.msg);
				return -1;
			}
		}
		store_flush(s, &err);
		secs += now_s() - w0;
		store_get_stats(s, &st);
		printf("  day %d: %.0f samples/s (wall), %llu committed, "
		    "%llu dropped, %llu rollup rows, %llu pruned; rows raw "
		    "%lld, 1m %lld, 1h %lld; file %.1f MiB\n", d + 1,
		    (double)samples / secs,
		    (unsigned long long)st.samples_committed,
		    (unsigned long long)st.samples_dropped,
		    (unsigned long long)st.rollup_rows,
		    (unsigned long long)st.pruned_rows,
		    (long long)count_rows(path, "metric_raw"),
		    (long long)count_rows(path, "metric_1m"),
		    (long long)count_rows(path, "metric_1h"), file_mib(path));
		fflush(stdout);
	}
	store_close(s, &err);
	for (i = 0; i < nodes; i++)
		free(names[i]);
	free(names);
	return bench_series_reads(path, t0 + days * day);
}

int
main(int argc, char **argv)
{
	char dir[256];
	const char *base = "/tmp";
	long n = 300000;
	uint32_t nodes = 100;
	int days = 1, c, rc;

	while ((c = getopt(argc, argv, "n:N:D:d:")) != -1) {
		switch (c) {
		case 'n':
			n = atol(optarg);
			break;
		case 'N':
			nodes = (uint32_t)atol(optarg);
			break;
		case 'D':
			days = atoi(optarg);
			break;
		case 'd':
			base = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_history [-n EVENTS] "
			    "[-N NODES] [-D DAYS] [-d DIR]\n");
			return 2;
		}
	}
	snprintf(dir, sizeof dir, "%s/nx-bench-history-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror("bench_history: mkdtemp");
		return 1;
	}
	rc = bench_reads(dir, n) != 0 || (nodes > 0 && days > 0 &&
	    bench_days(dir, nodes, days) != 0);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
