/*
 * bench_reload.c - how long a live inventory reload takes
 * (providers/inv-reload.c) against the initial load, on an INI inventory
 * of N hosts (one range line, two vars each):
 *
 *	bench_reload [N [DIR]]
 *
 * Times: engine_load() of the file; inv_reload() of the same file (every
 * node kept); inv_reload() after an edit that changes a var of every
 * host, removes 10 and adds one.  N defaults to 100,000; the file goes in
 * DIR (default /tmp).  Prints figures; not a pass/fail test.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
write_inventory(const char *path, long n, const char *rack, bool extra)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(fp, "[web]\nweb[000001:%06ld] ansible_user=ops rack=%s\n%s"
	    "[db]\ndb1\n", n, rack, extra ? "new1\n" : "");
	fclose(fp);
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	struct inv_reload_stats st;
	struct nx_config cfg;
	struct nx_err err;
	struct engine e;
	uv_loop_t loop;
	char *path, *inv[1];
	double t0;

	if (n < 11 || n > 999999) {
		fprintf(stderr, "usage: bench_reload [N (11-999999) [DIR]]\n");
		return 64;
	}
	xasprintf(&path, "%s/bench_reload.ini", dir);
	write_inventory(path, n, "r1", false);
	config_defaults(&cfg);
	cfg.demo.enabled = false;
	cfg.demo.local = false;
	inv[0] = path;
	cfg.inventories = inv;
	cfg.ninventories = 1;
	uv_loop_init(&loop);
	engine_init(&e, &loop, &cfg);
	t0 = now_ms();
	if (engine_load(&e, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	printf("load:              %7u nodes  %8.1f ms\n", e.fleet.nnodes,
	    now_ms() - t0);
	t0 = now_ms();
	if (inv_reload(&e, &st, &err) != 0)
		return 1;
	printf("reload, unchanged: +%u -%u ~%u =%u  %8.1f ms\n", st.added,
	    st.removed, st.changed, st.kept, now_ms() - t0);
	write_inventory(path, n - 10, "r2", true);
	t0 = now_ms();
	if (inv_reload(&e, &st, &err) != 0)
		return 1;
	printf("reload, edited:    +%u -%u ~%u =%u  %8.1f ms\n", st.added,
	    st.removed, st.changed, st.kept, now_ms() - t0);
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	cfg.inventories = NULL;
	cfg.ninventories = 0;
	config_free(&cfg);
	remove(path);
	free(path);
	return 0;
}
