/*
 * test_sim.c - the simulated demo fleet: layout (names, addresses, groups,
 * checks), determinism under a seed, the mix of states of the first round,
 * incidents, metrics that move, and the live sampling timer.
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

#include <cmocka.h>

#include "engine.h"

#define SIM_N 5000

static const char *const roles[] = { "web", "api", "worker", "k8s", "cache",
    "db", "queue", "lb", "search" };
static const char *const dcs[] = { "fra1", "ams2", "lon1", "nyc3", "sfo2",
    "tor1", "sgp1", "blr1" };

/* A loaded engine of n simulated nodes (no local node) with this seed. */
static struct engine *
sim_engine(uint32_t n, uint64_t seed)
{
	struct engine *e = xcalloc(1, sizeof *e);
	uv_loop_t *loop = xmalloc(sizeof *loop);
	struct nx_config cfg;
	struct nx_err err;

	uv_loop_init(loop);
	config_defaults(&cfg);
	cfg.demo.enabled = true;
	cfg.demo.nodes = n;
	cfg.demo.seed = seed;
	cfg.demo.local = false;
	engine_init(e, loop, &cfg);
	e->cfg.console.theme = NULL;
	config_free(&cfg);
	assert_int_equal(engine_load(e, &err), 0);
	assert_int_equal(e->fleet.nnodes, n);
	return e;
}

static void
sim_engine_free(struct engine *e)
{
	uv_loop_t *loop = e->loop;

	engine_free(e);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
	free(loop);
	free(e);
}

static int
setup(void **state)
{
	*state = sim_engine(SIM_N, 1);
	return 0;
}

static int
teardown(void **state)
{
	sim_engine_free(*state);
	return 0;
}

static bool
in_list(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether a sorted array of n strings has two equal neighbours. */
static bool
has_duplicates(const char **v, size_t n)
{
	size_t i;

	qsort(v, n, sizeof *v, cmp_str);
	for (i = 1; i < n; i++) {
		if (strcmp(v[i - 1], v[i]) == 0)
			return true;
	}
	return false;
}

static void
test_layout(void **state)
{
	struct engine *e = *state;
	struct fleet *f = &e->fleet;
	const char **names = xcalloc(f->nnodes, sizeof *names);
	const char **addrs = xcalloc(f->nnodes, sizeof *addrs);
	static const char *const checks[] = { "ping", "load", "cpu", "mem",
	    "disk" };
	unsigned per_role[NX_ARRAY_LEN(roles)] = { 0 };
	uint32_t i;
	size_t k;

	for (i = 0; i < f->nnodes; i++) {
		const struct node *n = &f->nodes[i];
		const char *role, *dc, *dot;
		unsigned a, b, c, d;

		assert_ptr_equal(n->provider, &provider_sim);
		assert_int_equal(n->ngroups, 2);
		role = f->groups[n->groups[0]];
		dc = f->groups[n->groups[1]];
		assert_true(in_list(role, roles, NX_ARRAY_LEN(roles)));
		assert_true(in_list(dc, dcs, NX_ARRAY_LEN(dcs)));
		for (k = 0; k < NX_ARRAY_LEN(roles); k++) {
			if (strcmp(role, roles[k]) == 0)
				per_role[k]++;
		}
		/* role-NNNN.dc */
		assert_int_equal(strncmp(n->name, role, strlen(role)), 0);
		assert_int_equal(n->name[strlen(role)], '-');
		dot = strchr(n->name, '.');
		assert_non_null(dot);
		assert_string_equal(dot + 1, dc);
		assert_true(dot - n->name > (ptrdiff_t)strlen(role) + 2);
		assert_int_equal(sscanf(n->address, "%u.%u.%u.%u", &a, &b, &c,
		    &d), 4);
		assert_int_equal(a, 10);
		assert_true(b < 256 && c < 256 && d >= 1 && d <= 254);
		assert_int_equal(n->nchecks, NX_ARRAY_LEN(checks));
		for (k = 0; k < NX_ARRAY_LEN(checks); k++) {
			const struct check *ck = &f->checks[n->checks[k]];

			assert_string_equal(ck->name, checks[k]);
			assert_int_equal(ck->is_host_check, k == 0);
		}
		names[i] = n->name;
		addrs[i] = n->address;
	}
	assert_false(has_duplicates(names, f->nnodes));
	assert_false(has_duplicates(addrs, f->nnodes));
	/* Every role and datacenter is a group; web outnumbers db. */
	for (k = 0; k < NX_ARRAY_LEN(roles); k++)
		assert_true(per_role[k] > 0);
	assert_true(per_role[0] > 3 * per_role[5]);
	for (k = 0; k < f->ngroups; k++) {
		assert_true(in_list(f->groups[k], roles, NX_ARRAY_LEN(roles)) ||
		    in_list(f->groups[k], dcs, NX_ARRAY_LEN(dcs)));
	}
	assert_int_equal(f->ngroups, NX_ARRAY_LEN(roles) + NX_ARRAY_LEN(dcs));
	free(names);
	free(addrs);
}

/* How many nodes of a and b differ in any metric or in reachability. */
static uint32_t
count_differences(const struct engine *a, const struct engine *b)
{
	uint32_t i, diff = 0;

	assert_int_equal(a->fleet.nnodes, b->fleet.nnodes);
	for (i = 0; i < a->fleet.nnodes; i++) {
		const struct nx_metrics *ma = &a->fleet.nodes[i].m;
		const struct nx_metrics *mb = &b->fleet.nodes[i].m;

		if (ma->up != mb->up ||
		    memcmp(ma->v, mb->v, sizeof ma->v) != 0)
			diff++;
	}
	return diff;
}

static void
test_determinism(void **state)
{
	struct engine *e1 = *state;
	struct engine *e2 = sim_engine(SIM_N, 1);
	struct engine *e3 = sim_engine(SIM_N, 2);
	nx_time t = 12000;
	uint32_t i;

	/* Same seed, same elapsed time, different wall clocks. */
	e1->start_time = 1700000000000;
	e2->start_time = 1800000000000;
	provider_sim.sample(e1, e1->start_time + t);
	provider_sim.sample(e2, e2->start_time + t);
	assert_int_equal(count_differences(e1, e2), 0);
	for (i = 0; i < SIM_N; i++) {
		assert_int_equal(e1->fleet.nodes[i].m.sampled,
		    e1->start_time + t);
		assert_string_equal(e1->fleet.nodes[i].name,
		    e2->fleet.nodes[i].name);
	}
	/* Within the same simulated second: the same values. */
	provider_sim.sample(e2, e2->start_time + t + 999);
	assert_int_equal(count_differences(e1, e2), 0);

	/* Another seed: another fleet. */
	e3->start_time = e1->start_time;
	provider_sim.sample(e3, e3->start_time + t);
	assert_true(count_differences(e1, e3) > SIM_N * 95 / 100);
	sim_engine_free(e2);
	sim_engine_free(e3);
}

struct mix {
	uint32_t ok, warning, critical, unreachable, other;
};

static void
count_mix(const struct engine *e, struct mix *mx)
{
	uint32_t i;

	memset(mx, 0, sizeof *mx);
	for (i = 0; i < e->fleet.nnodes; i++) {
		const struct node *n = &e->fleet.nodes[i];

		/*
		 * A batch round's results are final: a node the sim cannot
		 * reach, or whose ping is CRITICAL, is DOWN.
		 */
		if (!n->m.up || n->health == NX_H_DOWN)
			mx->unreachable++;
		else if (n->health == NX_H_OK)
			mx->ok++;
		else if (n->health == NX_H_WARNING)
			mx->warning++;
		else if (n->health == NX_H_CRITICAL)
			mx->critical++;
		else
			mx->other++;
	}
}

/*
 * One batch round at the start shows a believable mix, for several seeds:
 * mostly OK, some WARNING, a few CRITICAL and a few unreachable.
 */
static void
test_first_round_mix(void **state)
{
	uint64_t seed;

	for (seed = 1; seed <= 6; seed++) {
		struct engine *e = seed == 1 ? *state : sim_engine(SIM_N, seed);
		struct mix mx;

		assert_int_equal(engine_round(e, 1000), 0);
		count_mix(e, &mx);
		print_message("seed %llu: %u OK, %u WARNING, %u CRITICAL, "
		    "%u unreachable\n", (unsigned long long)seed, mx.ok,
		    mx.warning, mx.critical, mx.unreachable);
		assert_int_equal(mx.other, 0);
		assert_in_range(mx.ok, SIM_N * 85 / 100, SIM_N * 92 / 100);
		assert_in_range(mx.warning, SIM_N * 2 / 100, SIM_N * 10 / 100);
		assert_in_range(mx.critical, SIM_N / 200, SIM_N * 6 / 100);
		assert_in_range(mx.unreachable, SIM_N / 300, SIM_N * 4 / 100);
		assert_int_equal(mx.ok + mx.warning + mx.critical +
		    mx.unreachable, SIM_N);
		if (seed != 1)
			sim_engine_free(e);
	}
}

/* Every value a sampled, reachable node has is in its range. */
static void
test_values_sane(void **state)
{
	struct engine *e = *state;
	nx_time t;
	uint32_t i;

	for (t = 0; t < 3600 * 1000; t += 600 * 1000) {
		provider_sim.sample(e, e->start_time + t);
		for (i = 0; i < e->fleet.nnodes; i++) {
			const struct nx_metrics *m = &e->fleet.nodes[i].m;

			if (!m->up)
				continue;
			assert_true(m->v[NX_M_LOAD] >= 0 &&
			    m->v[NX_M_LOAD] < 500);
			assert_true(m->v[NX_M_CPU] >= 0 &&
			    m->v[NX_M_CPU] <= 100);
			assert_true(m->v[NX_M_MEM] >= 0 &&
			    m->v[NX_M_MEM] <= 100);
			assert_true(m->v[NX_M_DISK] >= 0 &&
			    m->v[NX_M_DISK] <= 100);
			assert_true(m->v[NX_M_LATENCY] > 0 &&
			    m->v[NX_M_LATENCY] < 1000);
		}
	}
}

/*
 * Within a simulated hour an incident begins that takes down every node of
 * one role in one datacenter at once, and the group is back within five
 * minutes.  (A node can also be down on its own, so "back" is "most of it".)
 */
static void
test_incident(void **state)
{
	struct engine *e = *state;
	struct fleet *f = &e->fleet;
	uint32_t ng = f->ngroups, i, p;
	uint32_t *total = xcalloc((size_t)ng * ng, sizeof *total);
	uint32_t *down = xcalloc((size_t)ng * ng, sizeof *down);
	bool *was_down = xcalloc((size_t)ng * ng, sizeof *was_down);
	int64_t onset = -1, back = -1, pair = -1;
	unsigned onsets = 0;
	nx_time t;

	for (i = 0; i < f->nnodes; i++)
		total[f->nodes[i].groups[0] * ng + f->nodes[i].groups[1]]++;
	for (t = 0; t <= 3600 * 1000; t += 15 * 1000) {
		uint32_t ndown = 0;

		provider_sim.sample(e, e->start_time + t);
		memset(down, 0, (size_t)ng * ng * sizeof *down);
		for (i = 0; i < f->nnodes; i++) {
			const struct node *n = &f->nodes[i];

			if (!n->m.up) {
				down[n->groups[0] * ng + n->groups[1]]++;
				ndown++;
			}
		}
		/* Never a large part of the fleet at once. */
		assert_true(ndown < f->nnodes / 10);
		if (pair >= 0 && back < 0 && down[pair] < total[pair] / 2)
			back = t;
		for (p = 0; p < ng * ng; p++) {
			bool all = total[p] >= 3 && down[p] == total[p];

			if (all && !was_down[p] && t > 0) {
				onsets++;
				if (pair < 0) {
					pair = p;
					onset = t;
				}
			}
			was_down[p] = all;
		}
	}
	assert_true(pair >= 0);
	print_message("%u incidents in an hour; the first: %s in %s, %u "
	    "nodes, from +%llds to +%llds\n", onsets, f->groups[pair / ng],
	    f->groups[pair % ng], total[pair], (long long)onset / 1000,
	    (long long)back / 1000);
	assert_true(onsets >= 2);
	assert_true(back > onset);
	assert_true(back - onset <= (5 * 60 + 15) * 1000);
	free(total);
	free(down);
	free(was_down);
}

/*
 * Metrics move: a minute later almost every node's CPU differs; over an
 * hour some disk fills past CRITICAL and is cleaned again, and some node
 * flaps between OK and WARNING several times in ten minutes.
 */
static void
test_metrics_move(void **state)
{
	struct engine *e = *state;
	struct fleet *f = &e->fleet;
	double *cpu = xcalloc(f->nnodes, sizeof *cpu);
	double *dmax = xcalloc(f->nnodes, sizeof *dmax);
	double *dmin = xcalloc(f->nnodes, sizeof *dmin);
	uint8_t *last = xcalloc(f->nnodes, sizeof *last);
	uint8_t *changes = xcalloc(f->nnodes, sizeof *changes);
	uint32_t i, moved = 0, up = 0, cycled = 0, flappers = 0;
	nx_time t;

	provider_sim.sample(e, e->start_time);
	for (i = 0; i < f->nnodes; i++)
		cpu[i] = f->nodes[i].m.v[NX_M_CPU];
	provider_sim.sample(e, e->start_time + 60 * 1000);
	for (i = 0; i < f->nnodes; i++) {
		const struct node *n = &f->nodes[i];

		if (!n->m.up || isnan(cpu[i]))
			continue;
		up++;
		if (n->m.v[NX_M_CPU] != cpu[i])
			moved++;
	}
	assert_true(moved > up * 9 / 10);

	for (i = 0; i < f->nnodes; i++) {
		dmin[i] = 100;
		dmax[i] = 0;
	}
	for (t = 0; t < 3600 * 1000; t += 30 * 1000) {
		provider_sim.sample(e, e->start_time + t);
		for (i = 0; i < f->nnodes; i++) {
			double d = f->nodes[i].m.v[NX_M_DISK];

			if (isnan(d))
				continue;
			dmin[i] = d < dmin[i] ? d : dmin[i];
			dmax[i] = d > dmax[i] ? d : dmax[i];
		}
	}
	for (i = 0; i < f->nnodes; i++) {
		if (dmax[i] >= 90 && dmin[i] < 80)
			cycled++;
	}
	assert_true(cycled > f->nnodes / 100);

	/* Flapping: the load, cpu, mem or ping check changes state often. */
	for (t = 0; t < 600 * 1000; t += 5 * 1000) {
		provider_sim.sample(e, e->start_time + t);
		for (i = 0; i < f->nnodes; i++) {
			const struct node *n = &f->nodes[i];
			uint8_t bits = 0;
			int m;

			for (m = 0; m < NX_M__COUNT; m++) {
				double w, c;

				metric_thresholds(m, 1, &w, &c);
				if (m == NX_M_LOAD)
					continue;
				if (n->m.v[m] >= w)
					bits |= (uint8_t)(1u << m);
			}
			if (t > 0 && bits != last[i] && changes[i] < 255)
				changes[i]++;
			last[i] = bits;
		}
	}
	for (i = 0; i < f->nnodes; i++) {
		if (changes[i] >= 8)
			flappers++;
	}
	assert_true(flappers > f->nnodes / 200);
	free(cpu);
	free(dmax);
	free(dmin);
	free(last);
	free(changes);
}

static void
on_stop_timer(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Live: the provider's own timer samples every second. */
static void
test_live_timer(void **state)
{
	struct engine *e = *state;
	uv_timer_t stop;
	nx_time first;

	assert_int_equal(engine_start(e), 0);
	first = e->fleet.nodes[0].m.sampled;
	assert_true(first > 0);
	uv_timer_init(e->loop, &stop);
	uv_timer_start(&stop, on_stop_timer, 1300, 0);
	uv_run(e->loop, UV_RUN_DEFAULT);
	assert_true(e->fleet.nodes[0].m.sampled >= first + 900);
	assert_true(e->fleet.nodes[SIM_N - 1].m.sampled >= first + 900);
	uv_close((uv_handle_t *)&stop, NULL);
	engine_stop(e);
	uv_run(e->loop, UV_RUN_NOWAIT);         /* `stop` is on this stack */
	assert_null(e->provider_state[provider_index(&provider_sim)]);
}

/* More nodes than fit in 10.0.0.0/8 is an error, not a wrap. */
static void
test_too_many(void **state)
{
	struct engine e;
	uv_loop_t loop;
	struct nx_config cfg;
	struct nx_err err;

	uv_loop_init(&loop);
	config_defaults(&cfg);
	cfg.demo.nodes = 254u * 256 * 256 + 1;
	cfg.demo.local = false;
	engine_init(&e, &loop, &cfg);
	assert_int_equal(engine_load(&e, &err), -1);
	assert_non_null(strstr(err.msg, "demo.nodes"));
	assert_int_equal(e.fleet.nnodes, 0);
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
}

/*
 * The metric check's output line is formatted by hand for speed; it must
 * read exactly as "%s %s - %s %.2f%s|%s=%.2f%s;%g;%g" would.
 */
static void
test_metric_output(void **state)
{
	static const double thresholds[][2] = {
		{ 80, 90 }, { 1.5, 2.5 }, { 12, 20 }, { 0.25, 1e6 },
		{ 1.1, 3.3333 }, { 200, 500 }, { 0, 99999.99 },
	};
	struct engine *e = *state;
	struct node *n;
	struct check *c;
	char want[256];
	size_t k;
	uint64_t i;

	n = fleet_add_node(&e->fleet, "fmt", NULL, NULL);
	for (k = 0; k < NX_ARRAY_LEN(thresholds); k++) {
		metric_check_add(e, &e->fleet.nodes[n->id], "disk", NX_M_DISK,
		    thresholds[k][0], thresholds[k][1], false);
	}
	n = &e->fleet.nodes[e->fleet.nnodes - 1];
	n->m.up = true;
	for (i = 0; i < 60000; i++) {
		double v;

		/* Hundredths, near-ties, exact ties, arbitrary doubles. */
		switch (i % 5) {
		case 0:
			v = (double)i / 100;
			break;
		case 4:                 /* exact binary ties: x.125, x.375 */
			v = (double)i / 8;
			break;
		case 1:
			v = (double)i / 1000 + 0.005;
			break;
		case 2:
			v = (double)(nx_hash64(i) >> 11) * 0x1.0p-53 * 120;
			break;
		default:
			v = (double)(nx_hash64(i) >> 11) * 0x1.0p-53 * 2e9 -
			    1e9;
			break;
		}
		n->m.v[NX_M_DISK] = v;
		for (k = 0; k < n->nchecks; k++) {
			const struct metric_check *mc;
			enum nx_state st;

			c = &e->fleet.checks[n->checks[k]];
			mc = c->data;
			mon_run_check(e, c);
			st = v >= mc->crit ? NX_CRITICAL : v >= mc->warn ?
			    NX_WARNING : NX_OK;
			snprintf(want, sizeof want,
			    "disk %s - disk %.2f%%|disk=%.2f%%;%g;%g",
			    nx_state_name(st), v, v, mc->warn, mc->crit);
			if (strcmp(c->output, want) != 0)
				print_message("%.17g: got %s\n", v, c->output);
			assert_string_equal(c->output, want);
			assert_int_equal(c->state, st);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_determinism, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_first_round_mix, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_values_sane, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_incident, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_metrics_move, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_live_timer, setup,
		    teardown),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test_setup_teardown(test_metric_output, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
