/*
 * sim.c - the simulated demo fleet.  (First cut.)
 */
#include "config.h"

#include <stdio.h>

#include "engine.h"

static int
sim_inventory(struct engine *e, struct nx_err *err)
{
	uint32_t i;
	char name[64], addr[32];

	if (!e->cfg.demo.enabled)
		return 0;
	for (i = 0; i < e->cfg.demo.nodes; i++) {
		struct node *n;

		snprintf(name, sizeof name, "web%05u", i + 1);
		snprintf(addr, sizeof addr, "10.%u.%u.%u", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		n = fleet_add_node(&e->fleet, name, addr, &provider_sim);
		node_add_group(&e->fleet, n, "web");
		metric_check_add(e, n, "ping", NX_M_LATENCY, 100, 500, true);
		metric_check_add(e, n, "load", NX_M_LOAD, 4, 8, false);
	}
	return 0;
}

static void
sim_sample(struct engine *e, nx_time now)
{
	uint32_t i;

	for (i = 0; i < e->fleet.nnodes; i++) {
		struct node *n = &e->fleet.nodes[i];
		uint64_t h = nx_hash64(i ^ (uint64_t)(now / 1000) << 24);

		if (n->provider != &provider_sim)
			continue;
		n->m.up = h % 100 != 0;
		n->m.v[NX_M_LOAD] = (double)(h % 1000) / 100.0;
		n->m.v[NX_M_LATENCY] = (double)(h % 300);
		n->m.sampled = now;
	}
}

const struct provider provider_sim = {
	.version = NX_PROVIDER_VERSION,
	.name = "sim",
	.description = "simulated demo fleet",
	.inventory = sim_inventory,
	.sample = sim_sample,
};
