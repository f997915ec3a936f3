/*
 * bench_plugins.c - plugin checks per second through the engine.
 *
 * N checks of the `plugin` kind (default: check_dummy 0 "ok" from
 * monitoring-plugins) on one node, run as one batch round (engine_round)
 * with the monitor's concurrency limit at each value given, R times each;
 * prints the median rate.  For scale it first measures the same plugin
 * started one at a time with posix_spawn + waitpid (no engine, no pipes):
 * the cost of process creation alone on this machine.
 *
 *	bench_plugins [-n CHECKS] [-r RUNS] [-p PLUGIN] [CONCURRENCY...]
 */
#include "config.h"

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"

static double
now_s(void)
{
	return (double)uv_hrtime() / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * posix_spawn + waitpid of argv n times, `par` children at a time (stdout
 * to /dev/null, no pipes, no engine); returns spawns/s.  The floor of what
 * any plugin runner pays per check on this machine.
 */
static double
bench_spawn(char **argv, unsigned n, unsigned par)
{
	posix_spawn_file_actions_t fa;
	double t0 = now_s();
	unsigned started = 0, running = 0;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
	while (started < n || running > 0) {
		pid_t pid;

		if (started < n && running < par) {
			if (posix_spawn(&pid, argv[0], &fa, NULL, argv,
			    environ) != 0) {
				perror("posix_spawn");
				exit(1);
			}
			started++;
			running++;
			continue;
		}
		if (waitpid(-1, &st, 0) > 0)
			running--;
	}
	posix_spawn_file_actions_destroy(&fa);
	return n / (now_s() - t0);
}

/* One round of n plugin checks at concurrency conc; returns checks/s. */
static double
bench_round(const struct nx_checkdef *d, unsigned n, unsigned conc)
{
	struct nx_config cfg;
	struct nx_err err;
	struct engine e;
	uv_loop_t loop;
	struct node *node;
	double t0, secs;
	unsigned i, ok = 0;

	config_defaults(&cfg);
	cfg.demo.enabled = false;
	cfg.demo.local = false;
	uv_loop_init(&loop);
	engine_init(&e, &loop, &cfg);
	if (engine_load(&e, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	node = fleet_add_node(&e.fleet, "bench", "127.0.0.1",
	    &provider_inventory);
	for (i = 0; i < n; i++) {
		char name[32];
		struct check *c;

		snprintf(name, sizeof name, "c%u", i);
		c = fleet_add_check(&e.fleet, node, name, &check_kind_plugin,
		    check_kind_plugin.configure(&e, node, d));
		c->timeout_ms = 60000;
		c->interval_ms = 60000;
		c->retry_ms = 60000;
	}
	e.mon.max_running = conc;
	t0 = now_s();
	if (engine_round(&e, 600000) != 0) {
		fprintf(stderr, "round did not finish\n");
		exit(1);
	}
	secs = now_s() - t0;
	for (i = 0; i < e.fleet.nchecks; i++)
		ok += e.fleet.checks[i].state == NX_OK;
	if (ok != n) {
		fprintf(stderr, "%u of %u checks not OK, e.g. %s\n", n - ok, n,
		    e.fleet.checks[0].output);
		exit(1);
	}
	engine_free(&e);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	config_free(&cfg);
	return n / secs;
}

int
main(int argc, char **argv)
{
	static const unsigned defconc[] = { 1, 4, 8, 16, 32, 64 };
	const char *plugin = "/usr/lib/nagios/plugins/check_dummy";
	unsigned n = 2000, runs = 3, i, r, nconc = 0, conc[32];
	char a0[256], a1[] = "0", a2[] = "ok";
	char *cmd[] = { a0, a1, a2, NULL };
	struct nx_checkdef d;
	double rates[16];
	int opt;

	while ((opt = getopt(argc, argv, "n:r:p:")) != -1) {
		switch (opt) {
		case 'n':
			n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			plugin = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_plugins [-n CHECKS] "
			    "[-r RUNS] [-p PLUGIN] [CONCURRENCY...]\n");
			return 64;
		}
	}
	if (runs < 1 || runs > 16 || n < 1)
		return 64;
	for (; optind < argc && nconc < 32; optind++)
		conc[nconc++] = (unsigned)strtoul(argv[optind], NULL, 10);
	if (nconc == 0) {
		for (i = 0; i < NX_ARRAY_LEN(defconc); i++)
			conc[nconc++] = defconc[i];
	}
	if (access(plugin, X_OK) != 0) {
		fprintf(stderr, "bench_plugins: %s: not executable\n", plugin);
		return 77;
	}
	snprintf(a0, sizeof a0, "%s", plugin);
	memset(&d, 0, sizeof d);
	d.name = a2;
	d.kind = &check_kind_plugin;
	d.command = cmd;
	d.ncommand = 3;

	printf("plugin: %s 0 ok; %u checks per round; median of %u runs; "
	    "%ld CPUs online\n", plugin, n, runs, sysconf(_SC_NPROCESSORS_ONLN));
	for (i = 1; i <= 4; i *= 4) {
		for (r = 0; r < runs; r++)
			rates[r] = bench_spawn(cmd, n, i);
		qsort(rates, runs, sizeof *rates, cmp_double);
		printf("posix_spawn+waitpid, %u at a time   %8.0f /s  (min %.0f, "
		    "max %.0f)\n", i, rates[runs / 2], rates[0],
		    rates[runs - 1]);
	}
	for (i = 0; i < nconc; i++) {
		for (r = 0; r < runs; r++)
			rates[r] = bench_round(&d, n, conc[i]);
		qsort(rates, runs, sizeof *rates, cmp_double);
		printf("engine, concurrency %-14u %8.0f /s  (min %.0f, max "
		    "%.0f)\n", conc[i], rates[runs / 2], rates[0],
		    rates[runs - 1]);
		fflush(stdout);
	}
	return 0;
}
