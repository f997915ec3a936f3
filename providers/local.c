/*
 * local.c - this machine as one real node.
 *
 * The node is named after gethostname(), has address 127.0.0.1, is in group
 * `local` and gets the same standard checks as a simulated node.  Its
 * metrics come from /proc and statvfs(), read with plain read() (no popen,
 * no fork): fast enough to do on the loop every two seconds.
 *
 *  load     the 1-minute load average of /proc/loadavg
 *  cpu      % of jiffies busy (not idle, not iowait) in /proc/stat between
 *           two samples.  With no previous sample (a batch round, or the
 *           very first sample) it is the average since boot, as vmstat's
 *           first line is.
 *  mem      MemTotal - MemAvailable of /proc/meminfo, in % of MemTotal
 *  disk     the worst % used (df's used / (used + available)) of `/` and
 *           the other local block-device filesystems in /proc/mounts
 *  latency  0: it is this machine
 *
 * The parsers take a buffer (or a path) so that tests can feed fixtures.
 */
#include "config.h"

#include <sys/statvfs.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

#define LOCAL_SAMPLE_MS 2000
#define LOCAL_SMALL_MAX (64 * 1024)
#define LOCAL_MOUNTS_MAX (4 * 1024 * 1024)

/* Per-engine state while the engine runs live. */
struct local_state {
	struct provider_sampler sampler;        /* first */
	struct local_cpu_times prev;    /* the last /proc/stat sample */
	bool have_prev;
	double last_cpu;
};

/*
 * Reads at most `max` bytes of a file (a /proc file has no size, so this
 * reads until EOF) into a NUL-terminated buffer that the caller frees.
 * Returns NULL when the file cannot be opened or read; *len, when not NULL,
 * is the number of bytes read.
 */
char *
local_read_all(const char *path, size_t max, size_t *len)
{
	size_t used = 0, size = max < 4096 ? max : 4096;
	char *buf;
	int fd;

	assert(max > 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	buf = xmalloc(size);
	for (;;) {
		ssize_t r;

		if (used + 1 >= size) {
			if (size >= max)
				break;
			size = size * 2 > max ? max : size * 2;
			buf = xrealloc(buf, size);
		}
		r = read(fd, buf + used, size - used - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			close(fd);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	close(fd);
	buf[used] = '\0';
	if (len != NULL)
		*len = used;
	return buf;
}

/* The first field of /proc/loadavg: "0.52 0.58 0.59 1/467 12345". */
int
local_parse_loadavg(const char *buf, double *load1)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(buf, &end);
	if (end == buf || errno != 0 || v < 0 || isnan(v))
		return -1;
	*load1 = v;
	return 0;
}

/*
 * The value in kB of the /proc/meminfo line `key` ("MemTotal"), or -1 when
 * the key is missing.
 */
static long long
local_meminfo_value(const char *buf, const char *key)
{
	size_t klen = strlen(key);
	const char *p = buf;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			char *end;
			long long v = strtoll(p + klen + 1, &end, 10);

			return end == p + klen + 1 || v < 0 ? -1 : v;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

/*
 * Memory used in % from /proc/meminfo: MemTotal minus MemAvailable, or, on
 * kernels before 3.14 that lack MemAvailable, minus MemFree + Buffers +
 * Cached.  Returns -1 when MemTotal is missing or zero.
 */
int
local_parse_meminfo(const char *buf, double *used_pct)
{
	long long total = local_meminfo_value(buf, "MemTotal");
	long long avail = local_meminfo_value(buf, "MemAvailable");

	if (total <= 0)
		return -1;
	if (avail < 0) {
		long long fr = local_meminfo_value(buf, "MemFree");
		long long bu = local_meminfo_value(buf, "Buffers");
		long long ca = local_meminfo_value(buf, "Cached");

		if (fr < 0)
			return -1;
		avail = fr + (bu > 0 ? bu : 0) + (ca > 0 ? ca : 0);
	}
	if (avail > total)
		avail = total;
	*used_pct = 100.0 * (double)(total - avail) / (double)total;
	return 0;
}

/*
 * The aggregate `cpu` line of /proc/stat: user nice system idle iowait irq
 * softirq steal (guest and guest_nice are already in user and nice).  Idle
 * and iowait are not busy.  Needs at least the first four fields.
 */
int
local_parse_stat(const char *buf, struct local_cpu_times *ct)
{
	const char *p = buf;
	unsigned long long f[8] = { 0 };
	int i;

	while (p != NULL && strncmp(p, "cpu ", 4) != 0) {
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	if (p == NULL)
		return -1;
	p += 4;
	for (i = 0; i < 8; i++) {
		char *end;

		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			break;
		errno = 0;
		f[i] = strtoull(p, &end, 10);
		if (errno != 0)
			return -1;
		p = end;
	}
	if (i < 4)
		return -1;
	ct->total = 0;
	for (i = 0; i < 8; i++)
		ct->total += f[i];
	ct->busy = ct->total - f[3] - f[4];
	return 0;
}

/*
 * CPU busy in % between two samples, or since boot when prev is NULL.
 * NaN when no jiffy elapsed between them (or the counters went backwards).
 */
double
local_cpu_busy_pct(const struct local_cpu_times *prev,
    const struct local_cpu_times *cur)
{
	static const struct local_cpu_times zero;
	double pct;

	if (prev == NULL)
		prev = &zero;
	if (cur->total <= prev->total || cur->busy < prev->busy)
		return NAN;
	pct = 100.0 * (double)(cur->busy - prev->busy) /
	    (double)(cur->total - prev->total);
	return pct > 100 ? 100 : pct;
}

/* Decodes the octal escapes of /proc/mounts (\040 is a space) in place. */
static void
local_unescape(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
			    (s[3] - '0'));
			s += 3;
		} else
			*w++ = *s;
	}
	*w = '\0';
}

/*
 * Whether a mount holds data whose fullness matters: `/` always (in a
 * container it is an overlay over the real disk), else a filesystem on a
 * block device (or ZFS, whose device is a dataset name).  Pseudo and memory
 * filesystems have no block device; network filesystems are left out too,
 * because statvfs() on a hung server would block the loop; read-only images
 * (squashfs, iso9660, erofs) are always 100 % full by design.
 */
static bool
local_mount_is_real(const char *dev, const char *dir, const char *type)
{
	static const char *const images[] = { "squashfs", "iso9660", "erofs",
	    "udf" };
	size_t i;

	if (strcmp(dir, "/") == 0)
		return true;
	for (i = 0; i < NX_ARRAY_LEN(images); i++) {
		if (strcmp(type, images[i]) == 0)
			return false;
	}
	if (strcmp(type, "zfs") == 0)
		return true;
	return strncmp(dev, "/dev/", 5) == 0;
}

/*
 * The mount points of the real filesystems in a /proc/mounts buffer, one
 * per device (bind mounts of a device already listed are skipped), `/`
 * first when present.  Returns an array of *count strings that the caller
 * frees with local_mounts_free().
 */
char **
local_parse_mounts(const char *buf, size_t *count)
{
	char *copy = xstrdup(buf), *line, *next;
	char **dirs = NULL, **devs = NULL;
	size_t n = 0, i;

	for (line = copy; line != NULL && *line != '\0'; line = next) {
		char *dev, *dir, *type, *save = NULL;
		bool dup = false;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		dev = strtok_r(line, " \t", &save);
		dir = strtok_r(NULL, " \t", &save);
		type = strtok_r(NULL, " \t", &save);
		if (dev == NULL || dir == NULL || type == NULL)
			continue;
		local_unescape(dev);
		local_unescape(dir);
		if (!local_mount_is_real(dev, dir, type))
			continue;
		for (i = 0; i < n; i++) {
			if (strcmp(dirs[i], dir) == 0 ||
			    (strcmp(devs[i], dev) == 0 && strcmp(dir, "/") != 0))
				dup = true;
		}
		if (dup)
			continue;
		dirs = xreallocarray(dirs, n + 1, sizeof *dirs);
		devs = xreallocarray(devs, n + 1, sizeof *devs);
		dirs[n] = dir;
		devs[n] = dev;
		if (strcmp(dir, "/") == 0 && n > 0) {
			/* Keep `/` first, whatever was bound before it. */
			memmove(dirs + 1, dirs, n * sizeof *dirs);
			memmove(devs + 1, devs, n * sizeof *devs);
			dirs[0] = dir;
			devs[0] = dev;
		}
		n++;
	}
	for (i = 0; i < n; i++)
		dirs[i] = xstrdup(dirs[i]);
	free(devs);
	free(copy);
	*count = n;
	return dirs;
}

void
local_mounts_free(char **dirs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

/* % used of the filesystem at mountpoint, as df computes it; NaN on error. */
double
local_disk_used_pct(const char *mountpoint)
{
	struct statvfs sv;
	double used, avail;

	if (statvfs(mountpoint, &sv) != 0 || sv.f_blocks == 0)
		return NAN;
	used = (double)(sv.f_blocks - sv.f_bfree);
	avail = (double)sv.f_bavail;
	if (used + avail <= 0)
		return NAN;
	return 100.0 * used / (used + avail);
}

/*
 * The worst % used over the real filesystems listed in mounts_path (a
 * /proc/mounts); `/` alone when the file cannot be read.  NaN when no
 * filesystem could be measured.
 */
double
local_disk_worst_pct(const char *mounts_path)
{
	char *buf = local_read_all(mounts_path, LOCAL_MOUNTS_MAX, NULL);
	char **dirs;
	size_t n = 0, i;
	double worst = NAN;

	if (buf == NULL)
		return local_disk_used_pct("/");
	dirs = local_parse_mounts(buf, &n);
	free(buf);
	for (i = 0; i < n; i++) {
		double v = local_disk_used_pct(dirs[i]);

		if (!isnan(v) && (isnan(worst) || v > worst))
			worst = v;
	}
	local_mounts_free(dirs, n);
	return worst;
}

static unsigned
local_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

static int
local_inventory(struct engine *e, struct nx_err *err)
{
	char host[256];
	struct node *n;

	if (!e->cfg.demo.local)
		return 0;
	if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	n = fleet_add_node(&e->fleet, host, "127.0.0.1", &provider_local);
	node_add_group(&e->fleet, n, "local");
	metric_checks_add_standard(e, n, local_cores());
	return 0;
}

/* Reads one file and hands it to a parser; NaN when either fails. */
static double
local_read_metric(const char *path, int (*parse)(const char *, double *))
{
	char *buf = local_read_all(path, LOCAL_SMALL_MAX, NULL);
	double v = NAN;

	if (buf != NULL && parse(buf, &v) != 0)
		v = NAN;
	free(buf);
	return v;
}

/* CPU % busy since the last sample of this engine, or since boot. */
static double
local_sample_cpu(struct local_state *st)
{
	struct local_cpu_times cur;
	char *buf = local_read_all("/proc/stat", LOCAL_SMALL_MAX, NULL);
	double pct;
	int rc;

	rc = buf != NULL ? local_parse_stat(buf, &cur) : -1;
	free(buf);
	if (rc != 0)
		return NAN;
	if (st == NULL)
		return local_cpu_busy_pct(NULL, &cur);
	pct = st->have_prev ? local_cpu_busy_pct(&st->prev, &cur) : NAN;
	if (isnan(pct)) {
		/* No jiffy since the last sample: say what we said then. */
		if (st->have_prev && !isnan(st->last_cpu))
			return st->last_cpu;
		pct = local_cpu_busy_pct(NULL, &cur);
	}
	st->prev = cur;
	st->have_prev = true;
	st->last_cpu = pct;
	return pct;
}

static void
local_sample(struct engine *e, nx_time now)
{
	struct fleet *f = &e->fleet;
	struct node *n = NULL;
	uint32_t i;

	/* The local inventory runs after the sim's: look from the end. */
	for (i = f->nnodes; i > 0; i--) {
		if (f->nodes[i - 1].provider == &provider_local) {
			n = &f->nodes[i - 1];
			break;
		}
	}
	if (n == NULL)
		return;
	n->m.v[NX_M_LOAD] = local_read_metric("/proc/loadavg",
	    local_parse_loadavg);
	n->m.v[NX_M_CPU] = local_sample_cpu(provider_state(e, &provider_local));
	n->m.v[NX_M_MEM] = local_read_metric("/proc/meminfo",
	    local_parse_meminfo);
	n->m.v[NX_M_DISK] = local_disk_worst_pct("/proc/mounts");
	n->m.v[NX_M_LATENCY] = 0;
	n->m.up = true;
	n->m.sampled = now;
}

/*
 * Samples every two seconds while the engine runs; the state keeps the last
 * /proc/stat sample for the CPU figure (provider_sampler_start).
 */
static int
local_start(struct engine *e)
{
	struct local_state *st;

	if (!e->cfg.demo.local)
		return 0;
	st = provider_sampler_start(e, &provider_local, sizeof *st,
	    LOCAL_SAMPLE_MS);
	if (st != NULL)
		st->last_cpu = NAN;
	return 0;
}

static void
local_stop(struct engine *e)
{
	provider_sampler_stop(e, &provider_local);
}

const struct provider provider_local = {
	.version = NX_PROVIDER_VERSION,
	.name = "local",
	.description = "this machine, sampled from /proc",
	.inventory = local_inventory,
	.start = local_start,
	.stop = local_stop,
	.sample = local_sample,
};
