/*
 * bench_restore.c - how long a restart takes on a big store: the time from
 * opening the file to an engine holding its restored state (snapshot +
 * tail of events), as `nexusctl engine` does on start.
 *
 *	bench_restore [EVENTS [NODES [DIR]]]
 *
 * Builds a store of EVENTS events (default 10,000,000) from a simulated
 * fleet of NODES nodes (default 10,000, five checks each) through the
 * real monitor and store, with the production snapshot settings, stops
 * without a final snapshot (as after kill -9), then times: opening the
 * store, loading the fleet, restoring.  The file is built once under DIR
 * (default /tmp) and reused when it is already there with enough events.
 * Prints figures; not a pass/fail test.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
load(struct engine *e, uv_loop_t *loop, struct nx_config *cfg, long nodes)
{
	struct nx_err err;

	config_defaults(cfg);
	cfg->demo.enabled = true;
	cfg->demo.nodes = (uint32_t)nodes;
	cfg->demo.local = false;
	engine_init(e, loop, cfg);
	if (engine_load(e, &err) != 0) {
		fprintf(stderr, "bench_restore: %s\n", err.msg);
		exit(1);
	}
}

/* Results through the monitor until the bus has published `events`. */
static void
build(const char *path, long events, long nodes)
{
	struct nx_err err = { { 0 } };
	struct nx_config cfg;
	struct store_stats st;
	struct engine e;
	struct store *s;
	uv_loop_t loop;
	nx_time t0 = nx_wallclock() - 3600000;
	char out[64];
	double t;
	uint64_t r = 0;

	uv_loop_init(&loop);
	load(&e, &loop, &cfg, nodes);
	if ((s = store_open(path, &err)) == NULL) {
		fprintf(stderr, "bench_restore: %s\n", err.msg);
		exit(1);
	}
	store_subscribe(s, &e);
	t = now_s();
	while (e.bus.seq < (uint64_t)events) {
		uint32_t c = (uint32_t)(r % e.fleet.nchecks);
		uint64_t round = r / e.fleet.nchecks;
		uint32_t k = (uint32_t)((c * 7 + round * (c % 5 + 1)) % 23);
		struct nx_result res;

		memset(&res, 0, sizeof res);
		res.state = k < 19 ? NX_OK : k < 21 ? NX_WARNING : NX_CRITICAL;
		snprintf(out, sizeof out, "%s - value %u", nx_state_name(res.state),
		    k);
		res.output = out;
		res.output_len = strlen(out);
		res.time = t0 + (nx_time)(r / 1000);
		mon_apply_result(&e, &e.fleet.checks[c], &res);
		r++;
		if (r % 1000000 == 0) {
			fprintf(stderr, "  built %llu events\r",
			    (unsigned long long)e.bus.seq);
		}
	}
	if (store_close(s, &err) != 0) {
		fprintf(stderr, "bench_restore: %s\n", err.msg);
		exit(1);
	}
	store_get_stats(s, &st);
	printf("built %s: %llu events from %llu results in %.1f s\n", path,
	    (unsigned long long)e.bus.seq, (unsigned long long)r,
	    now_s() - t);
	engine_free(&e);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	config_free(&cfg);
}

int
main(int argc, char **argv)
{
	long events = argc > 1 ? atol(argv[1]) : 10000000;
	long nodes = argc > 2 ? atol(argv[2]) : 10000;
	const char *dir = argc > 3 ? argv[3] : "/tmp";
	struct nx_err err = { { 0 } };
	struct snap_restore_stats rs;
	struct nx_config cfg;
	struct engine e;
	struct store *s;
	uv_loop_t loop;
	char path[512];
	double t0, t_open, t_load, t_restore;
	int i;

	snprintf(path, sizeof path, "%s/nx-bench-restore-%ld-%ld.db", dir,
	    events, nodes);
	if (access(path, F_OK) != 0)
		build(path, events, nodes);
	else
		printf("reusing %s\n", path);

	for (i = 0; i < 3; i++) {
		uv_loop_init(&loop);
		t0 = now_s();
		if ((s = store_open(path, &err)) == NULL) {
			fprintf(stderr, "bench_restore: %s\n", err.msg);
			return 1;
		}
		t_open = now_s();
		load(&e, &loop, &cfg, nodes);
		t_load = now_s();
		if (store_restore(s, &e, &rs, &err) != 0) {
			fprintf(stderr, "bench_restore: %s\n", err.msg);
			return 1;
		}
		t_restore = now_s();
		printf("restart %d: %llu events in the file; snapshot at %llu "
		    "(%u checks, %u nodes) + tail of %llu events; open %.0f ms, "
		    "fleet %.0f ms, restore %.0f ms (%.0f tail events/s); "
		    "total %.0f ms\n", i + 1, (unsigned long long)rs.last_seq,
		    (unsigned long long)rs.snap_seq, rs.checks, rs.nodes,
		    (unsigned long long)rs.tail, (t_open - t0) * 1e3,
		    (t_load - t_open) * 1e3, (t_restore - t_load) * 1e3,
		    rs.tail / (t_restore - t_load), (t_restore - t0) * 1e3);
		{
			struct snap_proj p;
			double ts = now_s();

			snap_proj_init(&p);
			snap_proj_from_engine(&p, &e, rs.last_seq);
			printf("  taking a snapshot of it (loop thread): %.1f ms "
			    "for %zu objects", (now_s() - ts) * 1e3, p.nobjs);
			snap_proj_free(&p);
			{
				uint8_t *dn = xcalloc(e.fleet.nnodes, 1);
				uint8_t *dc = xcalloc(e.fleet.nchecks, 1);
				uint32_t k;

				/* One check in eight changed since the last. */
				for (k = 0; k < e.fleet.nchecks; k += 8)
					dc[k] = 1;
				ts = now_s();
				snap_proj_init(&p);
				snap_proj_from_engine_dirty(&p, &e, rs.last_seq,
				    dn, e.fleet.nnodes, dc, e.fleet.nchecks);
				printf("; incremental, 1 check in 8 changed: "
				    "%.1f ms for %zu objects\n",
				    (now_s() - ts) * 1e3, p.nobjs);
				snap_proj_free(&p);
				free(dn);
				free(dc);
			}
		}
		store_close(s, &err);
		engine_free(&e);
		uv_run(&loop, UV_RUN_NOWAIT);
		uv_loop_close(&loop);
		config_free(&cfg);
	}
	return 0;
}
