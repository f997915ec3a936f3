/*
 * bench_round.c - what the demo fleet costs: engine_load, one batch round
 * (engine_round: every provider samples, every check runs through the
 * monitor) and ten samples of the simulated fleet, at 5,000 and 100,000
 * nodes, with the peak RSS.
 *
 * Each size runs in a fresh child process (fork) so that the peak RSS is
 * that size's alone; each size runs `-r RUNS` times (5 by default) and the
 * medians are printed.  The configuration is the embedded default (the sim
 * fleet plus this machine as a local node), seed 1.  Not a test: it prints
 * figures and exits 0.
 *
 * usage: bench_round [-r RUNS] [NODES...]
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define BENCH_SAMPLES 10

/* Wall-clock and CPU milliseconds of one phase. */
struct bench_phase {
	double wall, cpu;
};

enum { PH_LOAD, PH_ROUND, PH_SAMPLE, PH__COUNT };

struct bench_figures {
	struct bench_phase ph[PH__COUNT];       /* PH_SAMPLE: all of them */
	double rss_mb;          /* peak */
	uint32_t nodes, checks;
	int ok;
};

static double
bench_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
bench_begin(struct bench_phase *p)
{
	p->wall = bench_ms(CLOCK_MONOTONIC);
	p->cpu = bench_ms(CLOCK_PROCESS_CPUTIME_ID);
}

static void
bench_end(struct bench_phase *p)
{
	p->wall = bench_ms(CLOCK_MONOTONIC) - p->wall;
	p->cpu = bench_ms(CLOCK_PROCESS_CPUTIME_ID) - p->cpu;
}

/* One run at `nodes` simulated nodes, in this (child) process. */
static void
bench_run(uint32_t nodes, struct bench_figures *fig)
{
	uv_loop_t loop;
	struct engine e;
	struct nx_config cfg;
	struct nx_err err;
	struct rusage ru;
	nx_time now;
	int i;

	memset(fig, 0, sizeof *fig);
	uv_loop_init(&loop);
	config_defaults(&cfg);
	cfg.demo.enabled = true;
	cfg.demo.nodes = nodes;
	cfg.demo.seed = 1;
	engine_init(&e, &loop, &cfg);

	bench_begin(&fig->ph[PH_LOAD]);
	if (engine_load(&e, &err) != 0) {
		fprintf(stderr, "bench_round: %s\n", err.msg);
		exit(1);
	}
	bench_end(&fig->ph[PH_LOAD]);

	bench_begin(&fig->ph[PH_ROUND]);
	fig->ok = engine_round(&e, 60000) == 0;
	bench_end(&fig->ph[PH_ROUND]);

	now = engine_now(&e);
	bench_begin(&fig->ph[PH_SAMPLE]);
	for (i = 1; i <= BENCH_SAMPLES; i++)
		provider_sim.sample(&e, now + i * 1000);
	bench_end(&fig->ph[PH_SAMPLE]);
	fig->ph[PH_SAMPLE].wall /= BENCH_SAMPLES;
	fig->ph[PH_SAMPLE].cpu /= BENCH_SAMPLES;

	fig->nodes = e.fleet.nnodes;
	fig->checks = e.fleet.nchecks;
	getrusage(RUSAGE_SELF, &ru);
	fig->rss_mb = (double)ru.ru_maxrss / 1024.0;   /* Linux: kB */
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
}

/* Runs bench_run in a child and reads its figures back through a pipe. */
static int
bench_fork(uint32_t nodes, struct bench_figures *fig)
{
	int fds[2], status;
	pid_t pid;
	ssize_t r;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		close(fds[0]);
		bench_run(nodes, fig);
		r = write(fds[1], fig, sizeof *fig);
		_exit(r == (ssize_t)sizeof *fig ? 0 : 1);
	}
	close(fds[1]);
	r = read(fds[0], fig, sizeof *fig);
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || r != (ssize_t)sizeof *fig)
		return -1;
	return 0;
}

static int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, bench_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
	static const uint32_t default_sizes[] = { 5000, 100000 };
	uint32_t sizes[16];
	int nsizes = 0, runs = 5, opt, s;

	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt == 'r' && atoi(optarg) > 0 && atoi(optarg) <= 100)
			runs = atoi(optarg);
		else {
			fprintf(stderr, "usage: bench_round [-r RUNS] "
			    "[NODES...]\n");
			return NX_EXIT_USAGE;
		}
	}
	for (; optind < argc && nsizes < 16; optind++)
		sizes[nsizes++] = (uint32_t)strtoul(argv[optind], NULL, 10);
	if (nsizes == 0) {
		for (s = 0; s < (int)NX_ARRAY_LEN(default_sizes); s++)
			sizes[nsizes++] = default_sizes[s];
	}

	printf("bench_round: medians of %d runs, each size in a fresh "
	    "process; milliseconds as wall / CPU\n\n", runs);
	printf("%8s %8s %15s %15s %15s %9s\n", "nodes", "checks",
	    "engine_load", "engine_round", "sim sample", "peak RSS");
	for (s = 0; s < nsizes; s++) {
		double v[PH__COUNT][2][100], rss[100];
		struct bench_figures fig;
		char cell[PH__COUNT][32];
		int r, p;

		for (r = 0; r < runs; r++) {
			if (bench_fork(sizes[s], &fig) != 0 || !fig.ok) {
				fprintf(stderr, "bench_round: run at %u nodes "
				    "failed\n", sizes[s]);
				return 1;
			}
			for (p = 0; p < PH__COUNT; p++) {
				v[p][0][r] = fig.ph[p].wall;
				v[p][1][r] = fig.ph[p].cpu;
			}
			rss[r] = fig.rss_mb;
		}
		for (p = 0; p < PH__COUNT; p++) {
			snprintf(cell[p], sizeof cell[p], "%.*f / %.*f",
			    p == PH_SAMPLE ? 2 : 1, bench_median(v[p][0], runs),
			    p == PH_SAMPLE ? 2 : 1, bench_median(v[p][1], runs));
		}
		printf("%8u %8u %15s %15s %15s %6.1f MB\n", fig.nodes,
		    fig.checks, cell[PH_LOAD], cell[PH_ROUND], cell[PH_SAMPLE],
		    bench_median(rss, runs));
		fflush(stdout);
	}
	printf("\nnodes = simulated + 1 local; sim sample = one "
	    "provider_sim.sample() over all simulated nodes (mean of %d)\n",
	    BENCH_SAMPLES);
	return 0;
}
