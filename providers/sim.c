/*
 * sim.c - the simulated demo fleet.
 *
 * N nodes that look like a real estate: web, api, db, cache... servers spread
 * over datacenters, named like `web-0042.fra1`, each in its role group and
 * its datacenter group, each with the standard checks (ping, load, cpu, mem,
 * disk; see metric_checks_add_standard()).
 *
 * Every metric is a pure function of (seed, node index, simulated second).
 * Nothing is stored per node, two engines with the same seed agree exactly,
 * and `nexusctl check --demo --seed S` prints the same fleet every time.
 * The simulated clock is the engine's elapsed time (now - start_time, in
 * whole seconds) plus an offset chosen by the seed: a few hours into the
 * story, a little after an incident began, so that the first round already
 * shows a believable mix whatever the wall clock says.
 *
 * The story, per node:
 *  - most nodes are healthy; their metrics wander smoothly around their
 *    role's typical values, with a little jitter, and now and then a short
 *    CPU spike;
 *  - some degrade: a disk filling or a memory leak.  The metric sits at its
 *    baseline, climbs past WARNING and CRITICAL, then someone "fixes" it and
 *    it drops back, on a cycle of 20-60 minutes per node;
 *  - a few flap: one metric oscillates around a threshold every 30-90 s;
 *  - a few go down on their own for 2-15 minutes now and then;
 * and for the fleet: in every 10 minutes an incident takes one role in one
 * datacenter off the network for 1-5 minutes (a failed top-of-rack switch).
 *
 * Provider actions (act.h) act on the story for real while the engine runs
 * live: `reboot` takes the node off the network for SIM_REBOOT_MS (its
 * host check runs at once, so it goes DOWN, and again when it is back, so
 * it comes UP) and finishes the job's host when the node is back; `stop`
 * keeps it DOWN until `start`, and both finish at once.  These overrides
 * are the only state the sim keeps per node (struct sim_state).  In an
 * engine that is not running live (a batch `nexusctl run`) there is no
 * state to change: the actions finish at once and say so.
 */
#include "config.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"

/* A role: what a kind of server typically looks like. */
struct sim_role {
	const char *name;
	unsigned weight;        /* share of the fleet, relative */
	int digits;             /* width of the number in the name */
	unsigned cores;
	double cpu, mem, disk;  /* typical % */
};

static const struct sim_role sim_roles[] = {
	/* name      weight digits cores  cpu  mem disk */
	{ "web",      30,   4,     8,    35,  55,  40 },
	{ "api",      18,   4,     8,    45,  60,  35 },
	{ "worker",   14,   4,    16,    55,  50,  45 },
	{ "k8s",      12,   3,    32,    50,  65,  50 },
	{ "cache",     8,   3,    16,    20,  72,  30 },
	{ "db",        6,   3,    32,    45,  70,  62 },
	{ "queue",     5,   3,     8,    30,  60,  55 },
	{ "lb",        4,   2,     4,    25,  30,  25 },
	{ "search",    3,   3,    16,    40,  68,  58 },
};

/* A datacenter, and the round trip to it from the monitoring station. */
struct sim_dc {
	const char *name;
	unsigned weight;
	double latency_ms;
};

static const struct sim_dc sim_dcs[] = {
	{ "fra1", 24,   0.8 },
	{ "ams2", 18,   7.5 },
	{ "lon1", 16,  14.0 },
	{ "nyc3", 14,  88.0 },
	{ "sfo2", 10, 148.0 },
	{ "tor1",  8,  96.0 },
	{ "sgp1",  6, 162.0 },
	{ "blr1",  4, 128.0 },
};

#define SIM_NROLES NX_ARRAY_LEN(sim_roles)
#define SIM_NDCS NX_ARRAY_LEN(sim_dcs)

/* 10.0.0.0/8 without .0 and .255 in the last octet. */
#define SIM_MAX_NODES (254u * 256u * 256u)

#define SIM_SAMPLE_MS 1000

/* The story's rhythm, in simulated seconds. */
#define SIM_INCIDENT_EPOCH 600          /* one incident in each */
#define SIM_DOWN_WINDOW 1800            /* a node's own outages */
#define SIM_SPIKE_WINDOW 300            /* CPU spikes */

/* What a node is: its fate in the story. */
enum sim_fate {
	SIM_HEALTHY,
	SIM_DISK_FILL,
	SIM_MEM_LEAK,
	SIM_FLAP,
};

/* Salts that keep the noise streams of one node apart. */
enum sim_salt {
	SALT_ROLE = 1, SALT_CPU, SALT_JITTER, SALT_MEM, SALT_PING, SALT_SPIKE,
	SALT_DOWN, SALT_CYCLE, SALT_FLAP, SALT_INCIDENT, SALT_STORY,
};

/* A node as derived from (seed, index); recomputed at every sample. */
struct sim_node {
	uint64_t key;
	const struct sim_role *role;
	const struct sim_dc *dc;
	enum sim_fate fate;
};

/* The incident of the current epoch, if one is under way. */
struct sim_incident {
	bool active;
	const struct sim_role *role;
	const struct sim_dc *dc;
};

/*
 * What every derivation needs: the seed's key, and the weighted tables
 * unrolled (slot -> entry) so that a weighted pick is one load, not a loop
 * of unpredictable branches (it runs for every node at every sample).
 */
#define SIM_MAX_WEIGHT 256
struct sim_world {
	uint64_t seed_key;
	unsigned role_total, dc_total;
	uint8_t role_at[SIM_MAX_WEIGHT];
	uint8_t dc_at[SIM_MAX_WEIGHT];
};

#define SIM_REBOOT_MS 45000          /* long enough for a HARD DOWN at the
					 * default 3 attempts 10 s apart */
#define SIM_STOPPED INT64_MAX

/* A node taken down by a provider action. */
struct sim_act {
	uint32_t node;
	nx_time until;          /* back up then; SIM_STOPPED: until `start` */
	uint32_t job, host;     /* the job host waiting for it; job 0: none */
};

/*
 * Per-engine state while the fleet runs live: the sampling timer (first:
 * provider_sampler_start allocates and frees the whole) and the nodes
 * taken down by actions.
 */
struct sim_state {
	struct provider_sampler ps;
	struct sim_act *acts;   /* owned */
	size_t nacts;
	uint32_t reboot_ms;
};

/* One noise value for (key, salt, t). */
static uint64_t
sim_mix(uint64_t key, uint64_t salt, int64_t t)
{
	return nx_hash64(key ^ (salt * 0x9e3779b97f4a7c15ULL) ^
	    ((uint64_t)t * 0xd1b54a32d192ed03ULL));
}

/* The top 53 bits of h as a double in [0, 1). */
static double
sim_unit(uint64_t h)
{
	return (double)(h >> 11) * 0x1.0p-53;
}

/* Field 0, 1 or 2 of h (21 bits each) as a double in [0, 1). */
static double
sim_unit21(uint64_t h, int field)
{
	return (double)((h >> (21 * field)) & 0x1fffff) * 0x1.0p-21;
}

/* Field 0, 1 or 2 of h scaled to [0, n). */
static unsigned
sim_scale21(uint64_t h, int field, unsigned n)
{
	return (unsigned)((((h >> (21 * field)) & 0x1fffff) * n) >> 21);
}

static int64_t
sim_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

/*
 * Smooth value noise in [-1, 1]: random values at knots `period` seconds
 * apart, joined by a smoothstep, so a metric drifts instead of jumping.
 * One pair of hashes gives three independent streams (21 bits each), so
 * out[0..nout-1] are filled for the price of one.
 */
static inline void
sim_wander(uint64_t key, uint64_t salt, int64_t t, int64_t period,
    double *out, int nout)
{
	int64_t k = sim_floor_div(t, period);
	double f = (double)(t - k * period) / (double)period;
	uint64_t a = sim_mix(key, salt, k), b = sim_mix(key, salt, k + 1);
	int i;

	assert(nout >= 1 && nout <= 3);
	f = f * f * (3 - 2 * f);
	for (i = 0; i < nout; i++) {
		double x = sim_unit21(a, i), y = sim_unit21(b, i);

		out[i] = 2 * (x + (y - x) * f) - 1;
	}
}

static double
sim_clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void
sim_world_init(struct sim_world *w, uint64_t seed)
{
	size_t i;
	unsigned k;

	w->seed_key = nx_hash64(seed ^ 0x5eed5eed5eed5eedULL);
	w->role_total = w->dc_total = 0;
	for (i = 0; i < SIM_NROLES; i++) {
		for (k = 0; k < sim_roles[i].weight; k++)
			w->role_at[w->role_total++] = (uint8_t)i;
	}
	for (i = 0; i < SIM_NDCS; i++) {
		for (k = 0; k < sim_dcs[i].weight; k++)
			w->dc_at[w->dc_total++] = (uint8_t)i;
	}
	assert(w->role_total <= SIM_MAX_WEIGHT && w->dc_total <= SIM_MAX_WEIGHT);
}

/* The role and the datacenter at field `field` of hash h, by weight. */
static const struct sim_role *
sim_pick_role(const struct sim_world *w, uint64_t h, int field)
{
	return &sim_roles[w->role_at[sim_scale21(h, field, w->role_total)]];
}

static const struct sim_dc *
sim_pick_dc(const struct sim_world *w, uint64_t h, int field)
{
	return &sim_dcs[w->dc_at[sim_scale21(h, field, w->dc_total)]];
}

/* The share of the fleet in one role and one datacenter. */
static double
sim_group_share(const struct sim_world *w, const struct sim_role *r,
    const struct sim_dc *d)
{
	return (double)r->weight / w->role_total *
	    (double)d->weight / w->dc_total;
}

/* Who node `index` is: one hash gives its role, datacenter and fate. */
static void
sim_node_init(struct sim_node *sn, const struct sim_world *w, uint32_t index)
{
	uint64_t h;
	double u;

	sn->key = nx_hash64(w->seed_key ^ ((uint64_t)index + 1) *
	    0xa0761d6478bd642fULL);
	h = sim_mix(sn->key, SALT_ROLE, 0);
	sn->role = sim_pick_role(w, h, 0);
	sn->dc = sim_pick_dc(w, h, 1);
	u = sim_unit21(h, 2);
	if (u < 0.11)
		sn->fate = SIM_DISK_FILL;
	else if (u < 0.21)
		sn->fate = SIM_MEM_LEAK;
	else if (u < 0.27)
		sn->fate = SIM_FLAP;
	else
		sn->fate = SIM_HEALTHY;
}

/*
 * The incident of epoch k: which role in which datacenter, and when within
 * the epoch it starts and for how long (60-300 s, always ending inside it).
 */
static void
sim_incident_of_epoch(const struct sim_world *w, int64_t k,
    struct sim_incident *inc, int64_t *start, int64_t *duration)
{
	uint64_t h = sim_mix(w->seed_key, SALT_INCIDENT, k);
	uint64_t h2 = nx_hash64(h);

	inc->role = sim_pick_role(w, h, 0);
	inc->dc = sim_pick_dc(w, h, 1);
	*start = (int64_t)(h2 % 300);
	*duration = 60 + (int64_t)((h2 >> 32) % 241);
}

static void
sim_incident_at(const struct sim_world *w, int64_t t, struct sim_incident *inc)
{
	int64_t k = sim_floor_div(t, SIM_INCIDENT_EPOCH);
	int64_t into = t - k * SIM_INCIDENT_EPOCH, start, duration;

	sim_incident_of_epoch(w, k, inc, &start, &duration);
	inc->active = into >= start && into < start + duration;
}

/*
 * Where the story starts for a seed: 6 to 30 hours in, a third of the way
 * into the first incident from there on that takes down less than 2 % of
 * the fleet, so the first round shows a few unreachable nodes, not a
 * disaster.
 */
static int64_t
sim_story_offset(const struct sim_world *w)
{
	int64_t k = 36 + (int64_t)(sim_mix(w->seed_key, SALT_STORY, 0) % 144);
	struct sim_incident inc;
	int64_t start, duration;

	for (;; k++) {
		sim_incident_of_epoch(w, k, &inc, &start, &duration);
		if (sim_group_share(w, inc.role, inc.dc) < 0.02)
			break;
	}
	return k * SIM_INCIDENT_EPOCH + start + duration / 3;
}

/* The simulated second of wall-clock `now` for this engine. */
static int64_t
sim_clock(const struct engine *e, const struct sim_world *w, nx_time now)
{
	nx_time elapsed = now - e->start_time;

	if (elapsed < 0)
		elapsed = 0;
	return elapsed / 1000 + sim_story_offset(w);
}

/* Whether the node is down on its own at t (about 0.5 % of the time). */
static bool
sim_node_down(const struct sim_node *sn, int64_t t)
{
	int64_t shift = (int64_t)(sn->key % SIM_DOWN_WINDOW), k, into;
	uint64_t h;

	k = sim_floor_div(t + shift, SIM_DOWN_WINDOW);
	into = t + shift - k * SIM_DOWN_WINDOW;
	h = sim_mix(sn->key, SALT_DOWN, k);
	if (h % 1000 >= 20)
		return false;
	return into >= (int64_t)((h >> 10) % 900) &&
	    into < (int64_t)((h >> 10) % 900) + 120 + (int64_t)((h >> 30) % 780);
}

/*
 * A degrading metric: flat at `base` for 40 % of the node's cycle, then a
 * steady climb to `peak`, then back to base (someone fixed it).
 */
static double
sim_degrade(const struct sim_node *sn, int64_t t, double base, double peak)
{
	uint64_t h = sim_mix(sn->key, SALT_CYCLE, 0);
	int64_t len = 1200 + (int64_t)(h % 2400);
	int64_t pos = (t + (int64_t)((h >> 32) % (uint64_t)len)) % len;
	double p = (double)pos / (double)len;

	if (p < 0.4)
		return base;
	return base + (peak - base) * (p - 0.4) / 0.6;
}

/* A smoothed triangle wave in [-1, 1] with the given period and phase. */
static double
sim_wave(int64_t t, int64_t period, int64_t phase)
{
	double p = (double)((t + phase) % period) / (double)period;
	double tri = p < 0.5 ? 4 * p - 1 : 3 - 4 * p;

	return tri * (1.5 - 0.5 * tri * tri);
}

/*
 * A flapping node: one metric oscillates around a threshold (WARNING for
 * most, CRITICAL for a quarter) every 30-90 s.
 */
static void
sim_flap(const struct sim_node *sn, int64_t t, double *v)
{
	static const enum nx_metric which[] = {
		NX_M_LOAD, NX_M_CPU, NX_M_MEM, NX_M_LATENCY, NX_M_LOAD,
	};
	uint64_t h = sim_mix(sn->key, SALT_FLAP, 0);
	enum nx_metric m = which[h % NX_ARRAY_LEN(which)];
	int64_t period = 30 + (int64_t)((h >> 8) % 61);
	double warn, crit, thr, amp, jitter;

	metric_thresholds(m, sn->role->cores, &warn, &crit);
	thr = (h >> 16) % 4 == 0 ? crit : warn;
	amp = thr * (0.03 + 0.05 * sim_unit(nx_hash64(h)));
	sim_wander(sn->key, SALT_JITTER, t, 5, &jitter, 1);
	v[m] = thr + amp * sim_wave(t, period, (int64_t)((h >> 24) % 97)) +
	    amp * 0.2 * jitter;
	if (m == NX_M_CPU || m == NX_M_MEM)
		v[m] = sim_clamp(v[m], 0, 100);
}

/* The metrics of one node at simulated second t. */
static void
sim_node_metrics(const struct sim_node *sn, int64_t t,
    const struct sim_incident *inc, struct nx_metrics *m)
{
	const struct sim_role *r = sn->role;
	double *v = m->v, cpu, mem, disk, lat, load, fast[3], slow[2], jitter;
	uint64_t base, h;
	int i;

	if ((inc->active && inc->role == r && inc->dc == sn->dc) ||
	    sim_node_down(sn, t)) {
		m->up = false;
		for (i = 0; i < NX_M__COUNT; i++)
			v[i] = NAN;
		return;
	}
	m->up = true;

	base = sim_mix(sn->key, SALT_CPU, -1);  /* the node's own baselines */
	sim_wander(sn->key, SALT_CPU, t, 40, fast, 3);  /* cpu, load, ping */
	sim_wander(sn->key, SALT_MEM, t, 300, slow, 2); /* mem, disk */
	sim_wander(sn->key, SALT_JITTER, t, 3, &jitter, 1);

	cpu = r->cpu + 8 * (2 * sim_unit21(base, 0) - 1) + 12 * fast[0] +
	    3 * jitter;
	h = sim_mix(sn->key, SALT_SPIKE, sim_floor_div(t, SIM_SPIKE_WINDOW));
	if (h % 100 < 6) {
		int64_t into = t % SIM_SPIKE_WINDOW;
		int64_t from = (int64_t)((h >> 8) % 200);

		if (into >= from && into < from + 20 + (int64_t)((h >> 20) % 80))
			cpu = 86 + 13 * sim_unit(nx_hash64(h));
	}
	cpu = sim_clamp(cpu, 0.5, 100);

	mem = r->mem + 6 * (2 * sim_unit21(base, 1) - 1) + 3 * slow[0];
	disk = r->disk + 10 * (2 * sim_unit21(base, 2) - 1) + 1.5 * slow[1];
	if (sn->fate == SIM_DISK_FILL)
		disk = sim_degrade(sn, t, disk, 99.5);
	else if (sn->fate == SIM_MEM_LEAK)
		mem = sim_degrade(sn, t, mem, 99.0);
	mem = sim_clamp(mem, 1, 100);
	disk = sim_clamp(disk, 1, 100);

	/* The run queue follows the CPU; a node out of memory thrashes. */
	load = r->cores * cpu / 100 * (1 + 0.15 * fast[1]);
	if (mem > 95)
		load += r->cores * (mem - 95) * 0.4;

	lat = sn->dc->latency_ms * (1 + 0.04 * fast[2]) + 0.2;
	h = sim_mix(sn->key, SALT_PING, t);
	lat += 2.5 * sim_unit(h) * sim_unit(h) * sim_unit(h);

	v[NX_M_LOAD] = load;
	v[NX_M_CPU] = cpu;
	v[NX_M_MEM] = mem;
	v[NX_M_DISK] = disk;
	v[NX_M_LATENCY] = lat;
	if (sn->fate == SIM_FLAP)
		sim_flap(sn, t, v);
}

/*
 * Adds the demo.nodes simulated nodes with their groups and checks.  Names
 * are numbered per role and datacenter in index order; the address is the
 * index laid out in 10.0.0.0/8.
 */
static int
sim_inventory(struct engine *e, struct nx_err *err)
{
	uint32_t count = e->cfg.demo.nodes, i;
	struct sim_world w;
	unsigned *serial;
	char name[64], addr[32];

	if (!e->cfg.demo.enabled || count == 0)
		return 0;
	if (count > SIM_MAX_NODES) {
		nx_err_set(err, "demo.nodes: %u simulated nodes do not fit in "
		    "10.0.0.0/8 (at most %u)", count, SIM_MAX_NODES);
		return -1;
	}
	sim_world_init(&w, e->cfg.demo.seed);
	serial = xcalloc(SIM_NROLES * SIM_NDCS, sizeof *serial);
	for (i = 0; i < count; i++) {
		struct sim_node sn;
		struct node *n;
		size_t ri, di;
		uint32_t host = i % 254 + 1, net = i / 254;

		sim_node_init(&sn, &w, i);
		ri = (size_t)(sn.role - sim_roles);
		di = (size_t)(sn.dc - sim_dcs);
		snprintf(name, sizeof name, "%s-%0*u.%s", sn.role->name,
		    sn.role->digits, ++serial[ri * SIM_NDCS + di], sn.dc->name);
		snprintf(addr, sizeof addr, "10.%u.%u.%u", net >> 8, net & 255,
		    host);
		n = fleet_add_node(&e->fleet, name, addr, &provider_sim);
		node_add_group(&e->fleet, n, sn.role->name);
		node_add_group(&e->fleet, n, sn.dc->name);
		metric_checks_add_standard(e, n, sn.role->cores);
	}
	free(serial);
	return 0;
}

static void sim_sample(struct engine *, nx_time);
static void sim_acts_apply(struct engine *, nx_time);

static struct sim_state *
sim_state(const struct engine *e)
{
	return e->running ? provider_state(e, &provider_sim) : NULL;
}

static void
sim_node_off(struct node *n)
{
	int i;

	n->m.up = false;
	for (i = 0; i < NX_M__COUNT; i++)
		n->m.v[i] = NAN;
}

/* Runs the node's host check now, so that its state follows at once. */
static void
sim_recheck(struct engine *e, struct node *n)
{
	uint16_t k;

	for (k = 0; k < n->nchecks; k++) {
		struct check *c = &e->fleet.checks[n->checks[k]];

		if (c->is_host_check && !c->running && !c->queued)
			mon_run_check(e, c);
	}
}

static void
sim_finish(struct engine *e, uint32_t job, uint32_t host,
    enum job_host_state st, const char *out, const char *error)
{
	struct job *j = job != 0 ? job_find(e, job) : NULL;
	struct job_host_result r;

	if (j == NULL)
		return;
	memset(&r, 0, sizeof r);
	r.state = st;
	r.exit_status = st == JH_OK ? 0 : -1;
	r.out = out;
	r.err = "";
	r.error = error;
	job_host_finish(e, j, host, &r);
}

/*
 * After a sample: the nodes taken down stay off the network, and those
 * whose reboot is over come back (their metrics are the story's again),
 * are checked at once and finish their job's host.
 */
static void
sim_acts_apply(struct engine *e, nx_time now)
{
	struct sim_state *st = sim_state(e);
	size_t i = 0;

	if (st == NULL)
		return;
	while (i < st->nacts) {
		struct sim_act a = st->acts[i];
		struct node *n = &e->fleet.nodes[a.node];

		if (a.until == SIM_STOPPED || now < a.until) {
			sim_node_off(n);
			i++;
			continue;
		}
		st->acts[i] = st->acts[--st->nacts];
		sim_recheck(e, n);
		sim_finish(e, a.job, a.host, JH_OK, "rebooted: the node is "
		    "back up", NULL);
	}
}

static struct sim_act *
sim_act_find(struct sim_state *st, uint32_t node)
{
	size_t i;

	for (i = 0; i < st->nacts; i++) {
		if (st->acts[i].node == node)
			return &st->acts[i];
	}
	return NULL;
}

enum sim_action { SIM_REBOOT, SIM_STOP, SIM_START };

/*
 * The three provider actions.  Refused (-1, err) on a node that is not a
 * simulated one, a reboot or stop of a stopped node, and any action on a
 * node that is rebooting.
 */
static int
sim_action(struct engine *e, struct node *n, struct job *j, uint32_t host,
    enum sim_action what, struct nx_err *err)
{
	static const char *const names[] = { "reboot", "stop", "start" };
	struct sim_state *st;
	struct sim_act *a;
	char out[128];

	if (n->provider != &provider_sim) {
		nx_err_set(err, "%s is not a simulated node", n->name);
		return -1;
	}
	if ((st = sim_state(e)) == NULL) {
		snprintf(out, sizeof out, "simulated %s: nothing changes (the "
		    "engine is not running live)", names[what]);
		sim_finish(e, j->id, host, JH_OK, out, NULL);
		return 0;
	}
	a = sim_act_find(st, n->id);
	if (a != NULL && a->until != SIM_STOPPED) {
		nx_err_set(err, "%s is rebooting", n->name);
		return -1;
	}
	switch (what) {
	case SIM_REBOOT:
	case SIM_STOP:
		if (a != NULL) {
			nx_err_set(err, "%s is stopped: start it first",
			    n->name);
			return -1;
		}
		st->acts = xreallocarray(st->acts, st->nacts + 1,
		    sizeof *st->acts);
		a = &st->acts[st->nacts++];
		a->node = n->id;
		a->job = what == SIM_REBOOT ? j->id : 0;
		a->host = host;
		a->until = what == SIM_REBOOT ? engine_now(e) +
		    (st->reboot_ms ? st->reboot_ms : SIM_REBOOT_MS) :
		    SIM_STOPPED;
		sim_node_off(n);
		sim_recheck(e, n);
		if (what == SIM_STOP)
			sim_finish(e, j->id, host, JH_OK, "stopped: the node "
			    "is down until started", NULL);
		return 0;
	case SIM_START:
		if (a == NULL) {
			sim_finish(e, j->id, host, JH_OK, "already running",
			    NULL);
			return 0;
		}
		*a = st->acts[--st->nacts];
		sim_sample(e, engine_now(e));   /* its metrics are back */
		sim_recheck(e, n);
		sim_finish(e, j->id, host, JH_OK, "started: the node is up",
		    NULL);
		return 0;
	}
	return -1;
}

static int
sim_reboot(struct engine *e, struct node *n, struct job *j, uint32_t host,
    struct nx_err *err)
{
	return sim_action(e, n, j, host, SIM_REBOOT, err);
}

static int
sim_stop_node(struct engine *e, struct node *n, struct job *j, uint32_t host,
    struct nx_err *err)
{
	return sim_action(e, n, j, host, SIM_STOP, err);
}

static int
sim_start_node(struct engine *e, struct node *n, struct job *j,
    uint32_t host, struct nx_err *err)
{
	return sim_action(e, n, j, host, SIM_START, err);
}

/* A cancelled reboot still ends (the node comes back); no one waits. */
static void
sim_cancel(struct engine *e, struct job *j, uint32_t host)
{
	struct sim_state *st = sim_state(e);
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nacts; i++) {
		if (st->acts[i].job == j->id && st->acts[i].host == host)
			st->acts[i].job = 0;
	}
}

/*
 * How long a simulated reboot takes in this running engine (tests); 0
 * restores the default.
 */
void
sim_set_reboot_ms(struct engine *e, uint32_t ms)
{
	struct sim_state *st = sim_state(e);

	if (st != NULL)
		st->reboot_ms = ms;
}

/*
 * Sets the metrics of every simulated node for wall-clock `now`.  The sim's
 * nodes are one contiguous run of the node array (one inventory call added
 * them), so this is a single pass with no lookups.
 */
static void
sim_sample(struct engine *e, nx_time now)
{
	struct fleet *f = &e->fleet;
	struct sim_world w;
	struct sim_incident inc;
	uint32_t first, i;
	int64_t t;

	sim_world_init(&w, e->cfg.demo.seed);
	t = sim_clock(e, &w, now);
	sim_incident_at(&w, t, &inc);
	for (first = 0; first < f->nnodes; first++) {
		if (f->nodes[first].provider == &provider_sim)
			break;
	}
	for (i = first; i < f->nnodes; i++) {
		struct node *n = &f->nodes[i];
		struct sim_node sn;

		if (n->provider != &provider_sim)
			break;
		sim_node_init(&sn, &w, i - first);
		sim_node_metrics(&sn, t, &inc, &n->m);
		n->m.sampled = now;
	}
	sim_acts_apply(e, now);
}

/* Samples every second while the engine runs (provider_sampler_start). */
static int
sim_start(struct engine *e)
{
	if (e->cfg.demo.enabled)
		provider_sampler_start(e, &provider_sim,
		    sizeof(struct sim_state), SIM_SAMPLE_MS);
	return 0;
}

/* The jobs still waiting for a reboot are told the engine stopped. */
static void
sim_stop(struct engine *e)
{
	struct sim_state *st = provider_state(e, &provider_sim);
	size_t i;

	if (st != NULL) {
		for (i = 0; i < st->nacts; i++)
			sim_finish(e, st->acts[i].job, st->acts[i].host,
			    JH_ERROR, "", "the engine stopped during the "
			    "reboot");
		free(st->acts);
		st->acts = NULL;
		st->nacts = 0;
	}
	provider_sampler_stop(e, &provider_sim);
}

static const struct provider_action sim_actions[] = {
	{ .name = "reboot", .description = "reboot the simulated node: DOWN "
	  "for a while, then UP (the job waits for it)", .dangerous = true,
	  .run = sim_reboot, .cancel = sim_cancel },
	{ .name = "stop", .description = "stop the simulated node: DOWN "
	  "until started", .dangerous = true, .run = sim_stop_node },
	{ .name = "start", .description = "start a stopped simulated node",
	  .run = sim_start_node },
};

const struct provider provider_sim = {
	.version = NX_PROVIDER_VERSION,
	.name = "sim",
	.description = "simulated demo fleet",
	.inventory = sim_inventory,
	.start = sim_start,
	.stop = sim_stop,
	.sample = sim_sample,
	.actions = sim_actions,
	.nactions = NX_ARRAY_LEN(sim_actions),
};
