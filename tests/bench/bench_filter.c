/*
 * bench_filter.c - what one keystroke of the console's '/' filter costs on
 * a large fleet: the fleet view parses the filter text and rebuilds its
 * rows (filter_select over every node, then the sort when one is set) on
 * every keystroke, so that is what is timed, for typical filters.  Also
 * the problems list: the one full scan at start, and one sort.
 *
 * The fleet is the demo fleet after one engine_round (real metrics,
 * states and outputs).  Prints a table; not a pass/fail test.
 *
 * Usage: bench_filter [NODES]   (default 100000)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui/tui.h"

#define RUNS 15

/* The fleet view's name-order cache: made by the first name sort. */
static struct sort_cache cache;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return v[n / 2];
}

/* One keystroke: parse, select, sort.  Returns ms; *matched the rows. */
static double
keystroke(const struct fleet *f, const char *text, enum fleet_sort s,
    uint32_t *ids, size_t *matched)
{
	struct filter *flt;
	struct nx_err err;
	double t0 = now_ms();

	if (filter_parse(text, &flt, &err) != 0) {
		fprintf(stderr, "bench_filter: '%s': %s\n", text, err.msg);
		exit(1);
	}
	*matched = filter_select(flt, f, ids);
	if (s != SORT_NONE)
		sort_rows(f, &cache, ids, *matched, s, false);
	filter_free(flt);
	return now_ms() - t0;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *text;
		enum fleet_sort sort;
	} cases[] = {
		{ "w", SORT_NONE },
		{ "web", SORT_NONE },
		{ "web-00[1-4]", SORT_NONE },
		{ "state:crit", SORT_NONE },
		{ "load>4", SORT_NONE },
		{ "@web&@fra1", SORT_NONE },
		{ "group:db !state:ok cpu>=50", SORT_NONE },
		{ "env=prod", SORT_NONE },
		{ "", SORT_LOAD },
		{ "", SORT_NAME },
		{ "web", SORT_LOAD },
	};
	uint32_t nodes = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
	struct nx_config cfg;
	struct nx_err err;
	struct engine e;
	struct problems pl;
	uv_loop_t loop;
	uint32_t *ids;
	double ms[RUNS];
	size_t c, r, matched = 0;

	uv_loop_init(&loop);
	config_defaults(&cfg);
	cfg.demo.enabled = true;
	cfg.demo.nodes = nodes;
	cfg.demo.seed = 1;
	engine_init(&e, &loop, &cfg);
	if (engine_load(&e, &err) != 0) {
		fprintf(stderr, "bench_filter: %s\n", err.msg);
		return 1;
	}
	engine_round(&e, 60000);
	ids = xmalloc(e.fleet.nnodes * sizeof *ids);
	printf("fleet: %u nodes, %u checks; median of %d runs, ms\n\n",
	    e.fleet.nnodes, e.fleet.nchecks, RUNS);
	printf("%-32s %-6s %9s %9s\n", "filter", "sort", "matched", "ms");
	for (c = 0; c < NX_ARRAY_LEN(cases); c++) {
		for (r = 0; r < RUNS; r++)
			ms[r] = keystroke(&e.fleet, cases[c].text, cases[c].sort,
			    ids, &matched);
		printf("%-32s %-6s %9zu %9.2f\n", cases[c].text[0] ?
		    cases[c].text : "(none)", sort_name(cases[c].sort), matched,
		    median(ms, RUNS));
	}
	for (r = 0; r < RUNS; r++) {
		double t0 = now_ms();

		memset(&pl, 0, sizeof pl);
		problems_init(&pl, &e.fleet);
		ms[r] = now_ms() - t0;
		if (r + 1 < RUNS)
			problems_free(&pl);
	}
	printf("\nproblems_init (full scan): %zu problems, %.2f ms\n", pl.n,
	    median(ms, RUNS));
	for (r = 0; r < RUNS; r++) {
		double t0 = now_ms();

		pl.unsorted = true;
		problems_sort(&pl, &e.fleet);
		ms[r] = now_ms() - t0;
	}
	printf("problems_sort: %.2f ms\n", median(ms, RUNS));
	problems_free(&pl);
	sort_cache_free(&cache);
	free(ids);
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
	return 0;
}
