/*
 * test_local.c - the local provider: the /proc parsers on fixtures, the
 * mounts filter, and a live sample of this machine.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"

static void
test_loadavg(void **state)
{
	double l = -1;

	assert_int_equal(local_parse_loadavg("0.52 0.58 0.59 1/467 12345\n",
	    &l), 0);
	assert_float_equal(l, 0.52, 1e-9);
	assert_int_equal(local_parse_loadavg("17.00 3.1 2.0 9/9 1\n", &l), 0);
	assert_float_equal(l, 17.0, 1e-9);
	assert_int_equal(local_parse_loadavg("", &l), -1);
	assert_int_equal(local_parse_loadavg("load\n", &l), -1);
	assert_int_equal(local_parse_loadavg("-1.0 0 0\n", &l), -1);
}

static void
test_meminfo(void **state)
{
	static const char modern[] =
	    "MemTotal:       16000000 kB\n"
	    "MemFree:         1000000 kB\n"
	    "MemAvailable:    4000000 kB\n"
	    "Buffers:          200000 kB\n"
	    "Cached:          2500000 kB\n"
	    "SwapTotal:             0 kB\n";
	static const char old[] =       /* before Linux 3.14 */
	    "MemTotal:       16000000 kB\n"
	    "MemFree:         1000000 kB\n"
	    "Buffers:          500000 kB\n"
	    "Cached:          2500000 kB\n"
	    "SwapCached:      9999999 kB\n";
	static const char order[] =     /* keys are matched whole */
	    "MemTotalX:             1 kB\n"
	    "MemAvailable:    1000000 kB\n"
	    "MemTotal:        2000000 kB\n";
	double u = -1;

	assert_int_equal(local_parse_meminfo(modern, &u), 0);
	assert_float_equal(u, 75.0, 1e-9);
	assert_int_equal(local_parse_meminfo(old, &u), 0);
	assert_float_equal(u, 75.0, 1e-9);
	assert_int_equal(local_parse_meminfo(order, &u), 0);
	assert_float_equal(u, 50.0, 1e-9);
	assert_int_equal(local_parse_meminfo("MemFree: 10 kB\n", &u), -1);
	assert_int_equal(local_parse_meminfo("MemTotal: 0 kB\n"
	    "MemAvailable: 0 kB\n", &u), -1);
	assert_int_equal(local_parse_meminfo("", &u), -1);
}

static void
test_stat(void **state)
{
	static const char s1[] =
	    "cpu  100 0 50 800 50 0 0 0 0 0\n"
	    "cpu0 50 0 25 400 25 0 0 0 0 0\n"
	    "cpu1 50 0 25 400 25 0 0 0 0 0\n"
	    "intr 12345 0 0 0\n";
	static const char s2[] =
	    "cpu  250 0 100 1550 100 0 0 0 0 0\n"
	    "cpu0 125 0 50 775 50 0 0 0 0 0\n";
	struct local_cpu_times a, b;

	assert_int_equal(local_parse_stat(s1, &a), 0);
	assert_int_equal(a.total, 1000);
	assert_int_equal(a.busy, 150);
	assert_int_equal(local_parse_stat(s2, &b), 0);
	assert_int_equal(b.total, 2000);
	assert_int_equal(b.busy, 350);
	/* Between the two: 200 busy of 1000 jiffies. */
	assert_float_equal(local_cpu_busy_pct(&a, &b), 20.0, 1e-9);
	/* Since boot, as vmstat's first line. */
	assert_float_equal(local_cpu_busy_pct(NULL, &a), 15.0, 1e-9);
	/* No jiffy in between, or counters going back: not known. */
	assert_true(isnan(local_cpu_busy_pct(&a, &a)));
	assert_true(isnan(local_cpu_busy_pct(&b, &a)));
	/* An old kernel with four fields; the aggregate line found later. */
	assert_int_equal(local_parse_stat("cpu  10 0 10 80\n", &a), 0);
	assert_int_equal(a.total, 100);
	assert_int_equal(a.busy, 20);
	assert_int_equal(local_parse_stat("cpu0 1 2 3 4\ncpu  1 1 1 7 0\n",
	    &a), 0);
	assert_int_equal(a.total, 10);
	assert_int_equal(a.busy, 3);
	/* Broken input. */
	assert_int_equal(local_parse_stat("cpu  1 2 3\n", &a), -1);
	assert_int_equal(local_parse_stat("cpu0 1 2 3 4\n", &a), -1);
	assert_int_equal(local_parse_stat("", &a), -1);
}

static void
test_mounts(void **state)
{
	static const char host[] =
	    "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
	    "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
	    "udev /dev devtmpfs rw,nosuid,relatime,size=8000000k 0 0\n"
	    "tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime 0 0\n"
	    "/dev/sda2 /boot ext4 rw,relatime 0 0\n"
	    "/dev/mapper/vg-root / ext4 rw,relatime,errors=remount-ro 0 0\n"
	    "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec 0 0\n"
	    "/dev/loop3 /snap/core20/2105 squashfs ro,nodev,relatime 0 0\n"
	    "/dev/sdb1 /srv/my\\040data xfs rw,relatime 0 0\n"
	    "/dev/sdb1 /var/lib/bind xfs rw,relatime 0 0\n"
	    "overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0\n"
	    "nas:/export /mnt/nas nfs4 rw,relatime,vers=4.2 0 0\n"
	    "tank/data /tank zfs rw,xattr,noacl 0 0\n"
	    "/dev/sr0 /media/cdrom iso9660 ro 0 0\n"
	    "short line\n"
	    "/dev/sdc1 /mnt/usb vfat rw";       /* no final newline */
	static const char container[] =
	    "overlay / overlay rw,relatime,lowerdir=/l,upperdir=/u 0 0\n"
	    "proc /proc proc rw 0 0\n"
	    "/dev/vda /etc/hosts ext4 rw,relatime 0 0\n"
	    "/dev/vda /etc/resolv.conf ext4 rw,relatime 0 0\n"
	    "shm /dev/shm tmpfs rw 0 0\n";
	static const char *const want_host[] = { "/", "/boot",
	    "/srv/my data", "/tank", "/mnt/usb" };
	char **dirs;
	size_t n, i;

	dirs = local_parse_mounts(host, &n);
	for (i = 0; i < n; i++)
		print_message("mount %zu: %s\n", i, dirs[i]);
	assert_int_equal(n, NX_ARRAY_LEN(want_host));
	for (i = 0; i < n; i++)
		assert_string_equal(dirs[i], want_host[i]);
	local_mounts_free(dirs, n);

	dirs = local_parse_mounts(container, &n);
	assert_int_equal(n, 2);
	assert_string_equal(dirs[0], "/");
	assert_string_equal(dirs[1], "/etc/hosts");
	local_mounts_free(dirs, n);

	dirs = local_parse_mounts("", &n);
	assert_int_equal(n, 0);
	local_mounts_free(dirs, n);
}

/* A mounts fixture written to a file: the worst of the listed ones. */
static void
test_disk_worst(void **state)
{
	char path[] = "/tmp/test_local_mountsXXXXXX";
	static const char one[] = "rootfs / rootfs rw 0 0\n";
	double root = local_disk_used_pct("/"), worst;
	int fd;

	assert_true(root >= 0 && root <= 100);
	assert_true(isnan(local_disk_used_pct("/nonexistent/nexusctl")));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, one, sizeof one - 1), (ssize_t)sizeof one - 1);
	close(fd);
	worst = local_disk_worst_pct(path);
	unlink(path);
	/* Only `/` is listed: its usage, give or take a write meanwhile. */
	assert_float_equal(worst, root, 1.0);
	/* The real list: at least as full as `/`. */
	worst = local_disk_worst_pct("/proc/mounts");
	assert_true(worst >= root - 1.0 && worst <= 100);
	/* Unreadable list: `/` alone. */
	assert_float_equal(local_disk_worst_pct("/nonexistent/mounts"), root,
	    1.0);
}

static void
test_read_all(void **state)
{
	size_t len = 0;
	char *buf = local_read_all("/proc/self/status", 1 << 20, &len);

	assert_non_null(buf);
	assert_true(len > 0);
	assert_int_equal(strlen(buf), len);
	assert_non_null(strstr(buf, "Pid:"));
	free(buf);
	/* Capped: max bytes including the NUL. */
	buf = local_read_all("/proc/self/status", 16, &len);
	assert_non_null(buf);
	assert_int_equal(len, 15);
	free(buf);
	assert_null(local_read_all("/nonexistent/file", 16, NULL));
}

static int
local_setup(void **state)
{
	struct engine *e = xcalloc(1, sizeof *e);
	uv_loop_t *loop = xmalloc(sizeof *loop);
	struct nx_config cfg;
	struct nx_err err;

	uv_loop_init(loop);
	config_defaults(&cfg);
	cfg.demo.enabled = false;
	cfg.demo.local = true;
	engine_init(e, loop, &cfg);
	e->cfg.console.theme = NULL;
	config_free(&cfg);
	assert_int_equal(engine_load(e, &err), 0);
	*state = e;
	return 0;
}

static int
local_teardown(void **state)
{
	struct engine *e = *state;
	uv_loop_t *loop = e->loop;

	engine_free(e);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
	free(loop);
	free(e);
	return 0;
}

static void
assert_sane(const struct node *n)
{
	const double *v = n->m.v;

	print_message("%s: load %.2f cpu %.1f%% mem %.1f%% disk %.1f%% "
	    "latency %.1fms\n", n->name, v[NX_M_LOAD], v[NX_M_CPU],
	    v[NX_M_MEM], v[NX_M_DISK], v[NX_M_LATENCY]);
	assert_true(n->m.up);
	assert_true(n->m.sampled > 0);
	assert_true(v[NX_M_LOAD] >= 0 && v[NX_M_LOAD] < 10000);
	assert_true(v[NX_M_CPU] >= 0 && v[NX_M_CPU] <= 100);
	assert_true(v[NX_M_MEM] > 0 && v[NX_M_MEM] <= 100);
	assert_true(v[NX_M_DISK] >= 0 && v[NX_M_DISK] <= 100);
	assert_true(v[NX_M_LATENCY] == 0);
}

/* This machine: one node, named after it, with sane live values. */
static void
test_live_sample(void **state)
{
	struct engine *e = *state;
	struct node *n;
	char host[256];
	uint16_t k;

	assert_int_equal(e->fleet.nnodes, 1);
	n = &e->fleet.nodes[0];
	assert_int_equal(gethostname(host, sizeof host), 0);
	host[sizeof host - 1] = '\0';
	assert_string_equal(n->name, host);
	assert_string_equal(n->address, "127.0.0.1");
	assert_string_equal(node_group_name(&e->fleet, n), "local");
	assert_int_equal(n->nchecks, 5);
	assert_true(e->fleet.checks[n->checks[0]].is_host_check);
	provider_local.sample(e, engine_now(e));
	assert_sane(n);
	/* A round judges them all; the host check is OK: it is here. */
	assert_int_equal(engine_round(e, 1000), 0);
	for (k = 0; k < n->nchecks; k++) {
		const struct check *c = &e->fleet.checks[n->checks[k]];

		assert_true(c->has_result);
		assert_true(c->state != NX_UNKNOWN);
	}
	assert_int_equal(e->fleet.checks[n->checks[0]].state, NX_OK);
	assert_int_equal(n->host_state, NX_HOST_UP);
}

/*
 * Running live, CPU is measured between samples: spin one core for 200 ms
 * between two samples and the machine was at least partly busy.
 */
static void
test_live_cpu_delta(void **state)
{
	struct engine *e = *state;
	struct node *n = &e->fleet.nodes[0];
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct timespec t0, t;
	volatile uint64_t x = 0;

	assert_int_equal(engine_start(e), 0);
	assert_non_null(e->provider_state[provider_index(&provider_local)]);
	provider_local.sample(e, engine_now(e));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			x += (uint64_t)i;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 +
	    (t.tv_nsec - t0.tv_nsec) / 1000000 < 200);
	provider_local.sample(e, engine_now(e));
	assert_sane(n);
	assert_true(n->m.v[NX_M_CPU] >= 60.0 / (double)(cores > 0 ? cores : 1));
	engine_stop(e);
	assert_null(e->provider_state[provider_index(&provider_local)]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loadavg),
		cmocka_unit_test(test_meminfo),
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_mounts),
		cmocka_unit_test(test_disk_worst),
		cmocka_unit_test(test_read_all),
		cmocka_unit_test_setup_teardown(test_live_sample, local_setup,
		    local_teardown),
		cmocka_unit_test_setup_teardown(test_live_cpu_delta,
		    local_setup, local_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
