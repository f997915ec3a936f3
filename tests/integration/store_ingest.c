/*
 * store_ingest.c - a helper of store-kill.sh: runs the engine live on the
 * simulated fleet with a store subscribed, so the store ingests heavily,
 * and prints "committed SEQ" (flushed) every time the committed seq moves.
 * store-kill.sh kills it with SIGKILL and checks that the file holds at
 * least every seq this program printed.
 *
 *	store_ingest STATE_DB SECONDS [NODES [INTERVAL_MS]]
 *
 * It appends one audit row ("engine start") per run.  With no arguments it
 * runs a one-second self-check in a temporary directory (so that `make
 * check`, which runs every check program, exercises it too).
 */
#include "config.h"

#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

struct ingest {
	struct store *store;
	uint64_t printed;
	uv_timer_t tick, end;
};

static void
ingest_tick(uv_timer_t *t)
{
	struct ingest *in = t->data;
	struct store_stats st;

	store_get_stats(in->store, &st);
	if (st.last_seq != in->printed) {
		printf("committed %llu\n", (unsigned long long)st.last_seq);
		fflush(stdout);
		in->printed = st.last_seq;
	}
	if (st.degraded)
		fprintf(stderr, "store_ingest: degraded: %s\n", st.reason);
}

static void
ingest_end(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static int
ingest(const char *path, long seconds, long nodes, long interval_ms)
{
	struct nx_err err = { { 0 } };
	struct nx_config cfg;
	struct engine e;
	struct ingest in;
	uv_loop_t loop;
	char args[64];
	struct nx_audit_entry ent = {
		.role = "engine", .action = "engine.start", .target = "fleet",
		.args = args, .result = "ok",
	};
	uint64_t last;

	memset(&in, 0, sizeof in);
	uv_loop_init(&loop);
	config_defaults(&cfg);
	cfg.demo.enabled = true;
	cfg.demo.nodes = (uint32_t)nodes;
	cfg.demo.local = false;
	cfg.checks.interval_ms = (uint32_t)interval_ms;
	cfg.checks.retry_ms = (uint32_t)interval_ms;
	engine_init(&e, &loop, &cfg);
	if (engine_load(&e, &err) != 0) {
		fprintf(stderr, "store_ingest: %s\n", err.msg);
		return 1;
	}
	if ((in.store = store_open(path, &err)) == NULL) {
		fprintf(stderr, "store_ingest: %s\n", err.msg);
		return 1;
	}
	snprintf(args, sizeof args, "{\"nodes\": %ld, \"interval_ms\": %ld}",
	    nodes, interval_ms);
	if (audit_append(in.store, &ent, &err) != 0) {
		fprintf(stderr, "store_ingest: %s\n", err.msg);
		return 1;
	}
	store_subscribe(in.store, &e);
	printf("start %llu\n", (unsigned long long)e.bus.seq);
	fflush(stdout);
	uv_timer_init(&loop, &in.tick);
	in.tick.data = &in;
	uv_timer_start(&in.tick, ingest_tick, 20, 20);
	uv_timer_init(&loop, &in.end);
	uv_timer_start(&in.end, ingest_end, (uint64_t)seconds * 1000, 0);
	if (engine_start(&e) != 0) {
		fprintf(stderr, "store_ingest: the engine did not start\n");
		return 1;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	engine_stop(&e);
	last = e.bus.seq;
	if (store_close(in.store, &err) != 0) {
		fprintf(stderr, "store_ingest: %s\n", err.msg);
		return 1;
	}
	printf("committed %llu\nclosed %llu\n", (unsigned long long)last,
	    (unsigned long long)last);
	uv_close((uv_handle_t *)&in.tick, NULL);
	uv_close((uv_handle_t *)&in.end, NULL);
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
	return 0;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

/* One second of ingest into a fresh file; everything published is there. */
static int
self_check(void)
{
	char dir[] = "/tmp/nx-ingest-XXXXXX", path[64];
	struct audit_verify_result r;
	struct nx_err err = { { 0 } };
	struct store *s;
	uint64_t last;
	int rc = 0;

	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(path, sizeof path, "%s/state.db", dir);
	if (ingest(path, 1, 500, 100) != 0)
		rc = 1;
	else if ((s = store_open(path, &err)) == NULL)
		rc = 1;
	else {
		last = store_last_seq(s);
		printf("self-check: %llu events in the file\n",
		    (unsigned long long)last);
		if (last < 1000)
			rc = 1;
		store_close(s, &err);
		if (audit_verify(path, NULL, &r, &err) != 0 || r.rows != 1)
			rc = 1;
	}
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
}

int
main(int argc, char **argv)
{
	long nodes = 5000, interval = 500;

	if (argc == 1)
		return self_check();
	if (argc < 3) {
		fprintf(stderr, "usage: store_ingest STATE_DB SECONDS "
		    "[NODES [INTERVAL_MS]]\n");
		return 64;
	}
	if (argc > 3)
		nodes = atol(argv[3]);
	if (argc > 4)
		interval = atol(argv[4]);
	return ingest(argv[1], atol(argv[2]), nodes, interval);
}
