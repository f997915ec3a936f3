/*
 * bench_monitor.c - the monitor's two budgets, on one core.
 *
 *  1. State-machine throughput: 100,000 checks (20,000 nodes x 5, the
 *     first a host check; every node behind one of 100 parent nodes), results
 *     through mon_apply_result() with one bus subscriber that counts events.
 *     Two mixes: "steady", where each result keeps its check's state with
 *     probability 0.95 and otherwise draws a random state (SOFT/HARD
 *     changes, state events, host changes and flapping all happen), and
 *     "churn", where every result draws a random state.  Budget: >=
 *     1,000,000 results/s.
 *  2. Scheduling latency at 50,000 checks: the real scheduler and libuv loop,
 *     checks of a synchronous kind at a 1 s interval (50,000 results/s), for
 *     a few seconds; latency is actual start - planned start (c->next_due),
 *     as the monitor measures it into e->mon.latency.
 *
 * Usage: bench_monitor [ROUNDS [RESULTS_PER_ROUND [LATENCY_SECONDS]]]
 * Prints each round and the median.  Not a pass/fail test.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

#define BENCH_NODES 20000
#define BENCH_PER_NODE 5
#define BENCH_LAT_CHECKS 50000
#define BENCH_SEQ 1048576       /* pre-drawn states, cycled */

struct counts {
	uint64_t n[NX_EV__COUNT];
};

static void
count_event(void *arg, const struct event *ev)
{
	struct counts *c = arg;

	c->n[ev->kind]++;
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

static void
bench_engine(struct engine *e, uv_loop_t *loop)
{
	struct nx_config cfg;

	uv_loop_init(loop);
	config_defaults(&cfg);
	cfg.demo.enabled = false;
	cfg.demo.local = false;
	engine_init(e, loop, &cfg);
	e->cfg.console.theme = NULL;
	config_free(&cfg);
}

static void
bench_engine_free(struct engine *e, uv_loop_t *loop)
{
	engine_free(e);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
}

static void
nop_run(struct engine *e, struct check *c)
{
}

static const struct check_kind nop_kind = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "bench-nop",
	.run = nop_run,
};

static void
add_fleet(struct engine *e, uint32_t nodes, uint32_t per_node,
    const struct check_kind *kind, uint32_t interval_ms)
{
	char name[32];
	uint32_t i, j;

	for (i = 0; i < nodes; i++) {
		snprintf(name, sizeof name, "node%05u", i);
		fleet_add_node(&e->fleet, name, NULL, NULL);
		/* Every node behind one of 100 switches (nodes 0..99). */
		if (i >= 100)
			mon_node_add_parent(e, &e->fleet.nodes[i], i % 100);
		for (j = 0; j < per_node; j++) {
			struct check *c;

			snprintf(name, sizeof name, "check%u", j);
			c = fleet_add_check(&e->fleet, &e->fleet.nodes[i], name,
			    kind, NULL);
			c->max_attempts = 3;
			c->interval_ms = interval_ms;
			c->retry_ms = interval_ms;
			c->timeout_ms = 10000;
			c->is_host_check = j == 0;
		}
	}
}

/* One throughput round: returns results per second of CPU time. */
static double
bench_throughput(uint64_t nresults, const uint8_t *seq, double *wall_rate,
    struct counts *out)
{
	static const char *const outputs[] = {
		"OK - load 0.12|load=0.12;4;8",
		"WARNING - load 5.10|load=5.10;4;8",
		"CRITICAL - load 9.70|load=9.70;4;8",
		"UNKNOWN - no load sample yet",
	};
	size_t outlen[4];
	struct engine e;
	uv_loop_t loop;
	struct counts counts;
	uint32_t nchecks;
	uint64_t i;
	double t0, c0, t1, c1;
	nx_time now = 1700000000000LL;

	bench_engine(&e, &loop);
	add_fleet(&e, BENCH_NODES, BENCH_PER_NODE, &nop_kind, 60000);
	nchecks = e.fleet.nchecks;
	memset(&counts, 0, sizeof counts);
	bus_subscribe(&e.bus, count_event, &counts);
	for (i = 0; i < 4; i++)
		outlen[i] = strlen(outputs[i]);

	t0 = mono();
	c0 = cpu();
	for (i = 0; i < nresults; i++) {
		struct check *c = &e.fleet.checks[i % nchecks];
		uint8_t s = seq[i % BENCH_SEQ];
		struct nx_result r;

		/* seq: 0..3 a new state, 4 = keep the current one. */
		r.state = s < 4 ? (enum nx_state)s : (enum nx_state)c->state;
		r.output = outputs[r.state];
		r.output_len = outlen[r.state];
		r.duration_ms = 1.5;
		r.time = now + (nx_time)(i / nchecks) * 1000;
		mon_apply_result(&e, c, &r);
	}
	c1 = cpu();
	t1 = mono();
	*wall_rate = (double)nresults / (t1 - t0);
	*out = counts;
	bench_engine_free(&e, &loop);
	return (double)nresults / (c1 - c0);
}

/* ---------------------------------------------------------------------- */

/* A synchronous check: an OK result at once. */
static void
sync_run(struct engine *e, struct check *c)
{
	struct nx_result r = { .state = NX_OK, .output = "OK", .output_len = 2,
	    .duration_ms = 0.1, .time = engine_now(e) };

	mon_apply_result(e, c, &r);
}

static const struct check_kind sync_kind = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "bench-sync",
	.run = sync_run,
};

static void
stop_loop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

struct lat_result {
	double mean, p50, p99, max, rate, cpu_pct;
};

static void
bench_latency(double seconds, struct lat_result *lr)
{
	struct engine e;
	uv_loop_t loop;
	uv_timer_t stop;
	uint32_t c;
	nx_time now;
	uint64_t results0;
	double t0, c0, t1, c1;
	const struct nx_latency *l = &e.mon.latency;

	bench_engine(&e, &loop);
	add_fleet(&e, BENCH_LAT_CHECKS / BENCH_PER_NODE, BENCH_PER_NODE,
	    &sync_kind, 1000);
	/* As engine_start() does, without providers: a phase per check. */
	e.running = true;
	now = engine_now(&e);
	for (c = 0; c < e.fleet.nchecks; c++) {
		struct check *ck = &e.fleet.checks[c];

		sched_add(e.sched, ck, now + (nx_time)(nx_hash64(c) %
		    ck->interval_ms));
	}
	sched_start(e.sched);
	uv_timer_init(&loop, &stop);
	uv_timer_start(&stop, stop_loop, (uint64_t)(seconds * 1000), 0);
	results0 = e.results;
	t0 = mono();
	c0 = cpu();
	uv_run(&loop, UV_RUN_DEFAULT);
	c1 = cpu();
	t1 = mono();
	lr->mean = l->count ? l->sum_ms / (double)l->count : 0;
	lr->p50 = mon_latency_quantile(l, 0.5);
	lr->p99 = mon_latency_quantile(l, 0.99);
	lr->max = l->max_ms;
	lr->rate = (double)(e.results - results0) / (t1 - t0);
	lr->cpu_pct = 100 * (c1 - c0) / (t1 - t0);
	uv_close((uv_handle_t *)&stop, NULL);
	engine_stop(&e);
	bench_engine_free(&e, &loop);
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5, i, mix;
	uint64_t nresults = argc > 2 ? strtoull(argv[2], NULL, 10) : 5000000;
	double lat_s = argc > 3 ? atof(argv[3]) : 5;
	uint8_t *seq = malloc(BENCH_SEQ);
	uint64_t x = 88172645463325252ULL;
	double *cpu_rate, *wall_rate, *p99, *p50, *mean, *mx;
	struct counts counts;
	struct lat_result lr;

	if (rounds < 1 || seq == NULL)
		return 1;
	cpu_rate = calloc((size_t)rounds, sizeof *cpu_rate);
	wall_rate = calloc((size_t)rounds, sizeof *wall_rate);
	p99 = calloc((size_t)rounds, sizeof *p99);
	p50 = calloc((size_t)rounds, sizeof *p50);
	mean = calloc((size_t)rounds, sizeof *mean);
	mx = calloc((size_t)rounds, sizeof *mx);

	for (mix = 0; mix < 2; mix++) {
		/*
		 * Mix 0 ("steady"): 5 % of results draw a new random state.
		 * Mix 1 ("churn"): every result draws one (3 in 4 change).
		 */
		for (i = 0; i < BENCH_SEQ; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			seq[i] = mix == 1 || x % 100 < 5 ?
			    (uint8_t)((x >> 32) % 4) : 4;
		}
		printf("monitor throughput (%s): %d checks, %llu results per "
		    "round\n", mix ? "churn" : "steady",
		    BENCH_NODES * BENCH_PER_NODE, (unsigned long long)nresults);
		for (i = 0; i < rounds; i++) {
			cpu_rate[i] = bench_throughput(nresults, seq,
			    &wall_rate[i], &counts);
			printf("  round %d: %.0f results/s (cpu), %.0f results/s "
			    "(wall); events result=%llu state=%llu host=%llu "
			    "flapping=%llu\n", i + 1, cpu_rate[i], wall_rate[i],
			    (unsigned long long)counts.n[NX_EV_RESULT],
			    (unsigned long long)counts.n[NX_EV_STATE],
			    (unsigned long long)counts.n[NX_EV_HOST],
			    (unsigned long long)counts.n[NX_EV_FLAPPING]);
		}
		printf("  median: %.0f results/s (cpu), %.0f results/s (wall); "
		    "budget 1000000\n", median(cpu_rate, rounds),
		    median(wall_rate, rounds));
	}

	printf("scheduling latency: %d checks at 1 s, %.1f s per round\n",
	    BENCH_LAT_CHECKS, lat_s);
	for (i = 0; i < rounds; i++) {
		bench_latency(lat_s, &lr);
		mean[i] = lr.mean;
		p50[i] = lr.p50;
		p99[i] = lr.p99;
		mx[i] = lr.max;
		printf("  round %d: %.0f results/s, %.1f%% cpu, latency mean "
		    "%.1f ms, p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", i + 1,
		    lr.rate, lr.cpu_pct, lr.mean, lr.p50, lr.p99, lr.max);
	}
	printf("  median: latency mean %.1f ms, p50 %.0f ms, p99 %.0f ms, "
	    "max %.0f ms\n", median(mean, rounds), median(p50, rounds),
	    median(p99, rounds), median(mx, rounds));
	free(seq);
	free(cpu_rate);
	free(wall_rate);
	free(p99);
	free(p50);
	free(mean);
	free(mx);
	return 0;
}
