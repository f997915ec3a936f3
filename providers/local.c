/*
 * local.c - this machine as one real node.  (First cut.)
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "engine.h"

static int
local_inventory(struct engine *e, struct nx_err *err)
{
	char host[256];
	struct node *n;

	if (!e->cfg.demo.local)
		return 0;
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	n = fleet_add_node(&e->fleet, host, "127.0.0.1", &provider_local);
	node_add_group(&e->fleet, n, "local");
	metric_check_add(e, n, "load", NX_M_LOAD, 4, 8, false);
	return 0;
}

static void
local_sample(struct engine *e, nx_time now)
{
	uint32_t i;
	double l;
	FILE *fp = fopen("/proc/loadavg", "r");

	if (fp == NULL)
		return;
	if (fscanf(fp, "%lf", &l) != 1)
		l = 0;
	fclose(fp);
	for (i = 0; i < e->fleet.nnodes; i++) {
		struct node *n = &e->fleet.nodes[i];

		if (n->provider != &provider_local)
			continue;
		n->m.up = true;
		n->m.v[NX_M_LOAD] = l;
		n->m.sampled = now;
	}
}

const struct provider provider_local = {
	.version = NX_PROVIDER_VERSION,
	.name = "local",
	.description = "this machine, sampled from /proc",
	.inventory = local_inventory,
	.sample = local_sample,
};
