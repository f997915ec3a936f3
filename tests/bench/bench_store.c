/*
 * bench_store.c - how fast the store makes events durable.
 *
 * Publishes N result events on an engine's bus (a simulated fleet of 1,000
 * nodes, 2 checks each, a realistic plugin output line) with a store
 * subscribed, and measures from the first publish until store_flush()
 * returns: every event serialised (event_to_json), queued, and committed
 * by the writer thread in groups.  Each run uses a fresh file in a
 * temporary directory; the median of the runs is printed.
 *
 *	bench_store [-n EVENTS] [-r RUNS] [-d DIR] [-f]
 *
 * -f commits with synchronous=FULL (an fsync per group) instead of the
 * default NORMAL (fsync at checkpoints; kill -9 safe, power-loss may lose
 * the last groups).
 */
#include "config.h"

#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define BENCH_MAX_RUNS 15

struct run {
	double events_per_s;
	double publish_us;              /* loop-thread cost per event */
	double p99_ms, last_ms;
	uint64_t commits;
	double bytes_per_event;
	uint64_t waits;
};

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
	return remove(p);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
bench_run(const char *base, long n, bool full, struct run *out)
{
	char dir[256], path[300];
	struct nx_err err = { { 0 } };
	struct store_opts o;
	struct store_stats st;
	struct nx_config cfg;
	enum store_fail fail;
	struct engine e;
	struct store *s;
	struct event ev;
	struct stat sb;
	uv_loop_t loop;
	double t0, t1, t2;
	long i;

	snprintf(dir, sizeof dir, "%s/nx-bench-store-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return -1;
	}
	snprintf(path, sizeof path, "%s/state.db", dir);
	uv_loop_init(&loop);
	config_defaults(&cfg);
	cfg.demo.nodes = 1000;
	cfg.demo.local = false;
	engine_init(&e, &loop, &cfg);
	if (engine_load(&e, &err) != 0)
		goto fail;
	store_opts_default(&o);
	o.sync_full = full;
	if ((s = store_open_opts(path, &o, &fail, &err)) == NULL)
		goto fail;
	store_subscribe(s, &e);

	t0 = now_s();
	for (i = 0; i < n; i++) {
		uint32_t c = (uint32_t)(i % e.fleet.nchecks);

		memset(&ev, 0, sizeof ev);
		ev.time = 1700000000000 + i / 10;
		ev.kind = NX_EV_RESULT;
		ev.check = c;
		ev.node = e.fleet.checks[c].node;
		ev.state = (uint8_t)(nx_hash64((uint64_t)i) % 100 == 0 ?
		    NX_WARNING : NX_OK);
		ev.state_type = NX_HARD;
		ev.attempt = 1;
		ev.text = "OK - load average: 0.42, 0.37, 0.30";
		bus_publish(&e.bus, &ev);
	}
	t1 = now_s();
	if (store_flush(s, &err) != 0)
		goto fail;
	t2 = now_s();
	store_get_stats(s, &st);
	if (store_close(s, &err) != 0)
		goto fail;
	if (stat(path, &sb) != 0) {
		perror(path);
		return -1;
	}
	out->events_per_s = (double)n / (t2 - t0);
	out->publish_us = (t1 - t0) * 1e6 / (double)n;
	out->p99_ms = st.p99_commit_ms;
	out->last_ms = st.last_commit_ms;
	out->commits = st.commits;
	out->waits = st.producer_waits;
	out->bytes_per_event = (double)sb.st_size / (double)n;
	engine_free(&e);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	config_free(&cfg);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
fail:
	fprintf(stderr, "bench_store: %s\n", err.msg);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return -1;
}

int
main(int argc, char **argv)
{
	struct run r[BENCH_MAX_RUNS];
	double eps[BENCH_MAX_RUNS], pub[BENCH_MAX_RUNS], p99[BENCH_MAX_RUNS];
	double bpe[BENCH_MAX_RUNS], commits[BENCH_MAX_RUNS];
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	long n = 1000000, runs = 3;
	bool full = false;
	int opt, k;

	while ((opt = getopt(argc, argv, "n:r:d:f")) != -1) {
		switch (opt) {
		case 'n':
			n = atol(optarg);
			break;
		case 'r':
			runs = atol(optarg);
			break;
		case 'd':
			base = optarg;
			break;
		case 'f':
			full = true;
			break;
		default:
			fprintf(stderr, "usage: bench_store [-n EVENTS] "
			    "[-r RUNS] [-d DIR] [-f]\n");
			return 64;
		}
	}
	if (n < 1 || runs < 1 || runs > BENCH_MAX_RUNS) {
		fprintf(stderr, "bench_store: -n >= 1, -r 1..%d\n",
		    BENCH_MAX_RUNS);
		return 64;
	}
	printf("bench_store: %ld events per run, %ld runs, synchronous=%s, "
	    "dir %s\n", n, runs, full ? "FULL" : "NORMAL", base);
	for (k = 0; k < runs; k++) {
		if (bench_run(base, n, full, &r[k]) != 0)
			return 1;
		printf("  run %d: %.0f events/s durable, publish %.2f us/event, "
		    "%llu commits, p99 commit %.2f ms, %.1f bytes/event, "
		    "%llu producer waits\n", k + 1, r[k].events_per_s,
		    r[k].publish_us, (unsigned long long)r[k].commits,
		    r[k].p99_ms, r[k].bytes_per_event,
		    (unsigned long long)r[k].waits);
		eps[k] = r[k].events_per_s;
		pub[k] = r[k].publish_us;
		p99[k] = r[k].p99_ms;
		bpe[k] = r[k].bytes_per_event;
		commits[k] = (double)r[k].commits;
	}
	printf("median: %.0f events/s durable (budget 250000), publish "
	    "%.2f us/event on the loop thread, %.0f commits, p99 commit "
	    "%.2f ms, %.1f bytes/event on disk\n", median(eps, (int)runs),
	    median(pub, (int)runs), median(commits, (int)runs),
	    median(p99, (int)runs), median(bpe, (int)runs));
	return 0;
}
