/*
 * bench_ssh_warm.c - the SSH pool's exec throughput, cold and warm: one
 * command on every host of a hostlist with at most F in flight, first over
 * new sessions (connect, key exchange, authentication), then ROUNDS times
 * over the sessions the first round left open (one channel open, exec and
 * close each), as the engine's checks and jobs run.  Run by
 * tests/bench/bench_fanout.sh in the SSH lab; prints one line per round
 * and the warm median.  A benchmark, not a test.
 *
 *	bench_ssh_warm HOSTLIST PORT USER IDENTITY KNOWN_HOSTS [F [ROUNDS]]
 */
#include "config.h"

#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define BENCH_COMMAND "cat /proc/loadavg"

struct bench {
	uv_loop_t *loop;
	struct ssh_pool *pool;
	char **hosts;
	size_t nhosts, next, done, ok;
	unsigned inflight, fanout;
	uint16_t port;
	const char *user;
};

static void bench_submit(struct bench *);

static void
bench_done(void *arg, const struct ssh_result *res)
{
	struct bench *b = arg;

	b->done++;
	b->inflight--;
	if (res->fail == SSH_OK && res->exit_status == 0 && res->out_len > 0)
		b->ok++;
	else if (b->done - b->ok <= 3)
		fprintf(stderr, "bench_ssh_warm: %s\n", res->fail != SSH_OK ?
		    res->error : "the command failed");
	bench_submit(b);
}

/* Keeps up to fanout execs in flight until every host has had one. */
static void
bench_submit(struct bench *b)
{
	while (b->inflight < b->fanout && b->next < b->nhosts) {
		b->inflight++;
		if (ssh_exec(b->pool, b->hosts[b->next++], b->port, b->user,
		    BENCH_COMMAND, 60000, bench_done, b) != 0) {
			b->inflight--;
			b->done++;
		}
	}
}

static double
bench_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* One round over every host; returns its wall seconds. */
static double
bench_round(struct bench *b, const char *name)
{
	uint64_t t0 = uv_hrtime();
	double cpu0 = bench_cpu(), wall;

	b->next = b->done = b->ok = 0;
	bench_submit(b);
	while (b->done < b->nhosts)
		uv_run(b->loop, UV_RUN_ONCE);
	wall = (double)(uv_hrtime() - t0) / 1e9;
	printf("%s: wall=%.3fs cpu=%.2fs hosts/s=%.1f ok=%zu/%zu\n", name, wall,
	    bench_cpu() - cpu0, (double)b->nhosts / wall, b->ok, b->nhosts);
	fflush(stdout);
	return wall;
}

static int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct ssh_opts o;
	struct nx_err err;
	const char *ids[1];
	uv_loop_t loop;
	double *walls, med;
	int rounds, i;

	if (argc < 6) {
		fprintf(stderr, "usage: bench_ssh_warm HOSTLIST PORT USER "
		    "IDENTITY KNOWN_HOSTS [FANOUT [ROUNDS]]\n");
		return 64;
	}
	memset(&b, 0, sizeof b);
	if (hostlist_expand(argv[1], &b.hosts, &b.nhosts, &err) != 0) {
		fprintf(stderr, "bench_ssh_warm: %s\n", err.msg);
		return 64;
	}
	b.port = (uint16_t)atoi(argv[2]);
	b.user = argv[3];
	b.fanout = argc > 6 ? (unsigned)atoi(argv[6]) : 64;
	rounds = argc > 7 ? atoi(argv[7]) : 3;
	if (b.fanout == 0 || rounds < 1)
		return 64;
	uv_loop_init(&loop);
	b.loop = &loop;
	memset(&o, 0, sizeof o);
	ids[0] = argv[4];
	o.identities = ids;
	o.nidentities = 1;
	o.known_hosts = argv[5];
	o.config_file = "none";
	o.no_agent = true;
	o.max_channels = 8;
	/* As the engine: the runner unless NEXUSCTL_SSH_RUNNER=0. */
	o.runner = getenv("NEXUSCTL_SSH_RUNNER") == NULL ||
	    strcmp(getenv("NEXUSCTL_SSH_RUNNER"), "0") != 0;
	if ((b.pool = ssh_pool_new(&loop, &o, &err)) == NULL) {
		fprintf(stderr, "bench_ssh_warm: %s\n", err.msg);
		return 70;
	}
	printf("hosts: %zu, command: %s, in flight: %u, %s\n", b.nhosts,
	    BENCH_COMMAND, b.fanout, o.runner ? "runner" : "a channel each");
	bench_round(&b, "cold (new sessions)");
	walls = xcalloc((size_t)rounds, sizeof *walls);
	for (i = 0; i < rounds; i++)
		walls[i] = bench_round(&b, "warm (open sessions)");
	qsort(walls, (size_t)rounds, sizeof *walls, bench_cmp);
	med = rounds % 2 ? walls[rounds / 2] : (walls[rounds / 2 - 1] +
	    walls[rounds / 2]) / 2;
	printf("warm median: %.3fs %.1f hosts/s (%d rounds)\n", med,
	    (double)b.nhosts / med, rounds);
	free(walls);
	ssh_pool_close(b.pool);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	range_free(b.hosts, b.nhosts);
	return 0;
}
