/*
 * check-metric.c - the `metric` check kind.
 *
 * Judges one live metric of a node, as its provider last sampled it, against
 * WARNING and CRITICAL thresholds, and writes a Nagios-style first line with
 * perfdata.  The host check variant (`is_host_check`) is CRITICAL when the
 * provider cannot reach the node at all.  Synchronous: the result is applied
 * before run() returns.
 */
#include "config.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"

static const char *const metric_units[] = {
	[NX_M_LOAD] = "",
	[NX_M_CPU] = "%",
	[NX_M_MEM] = "%",
	[NX_M_DISK] = "%",
	[NX_M_LATENCY] = "ms",
};

static void
metric_run(struct engine *e, struct check *c)
{
	const struct metric_check *mc = c->data;
	const struct node *n = &e->fleet.nodes[c->node];
	const char *label = nx_metric_name(mc->metric);
	const char *uom = metric_units[mc->metric];
	double v = n->m.v[mc->metric];
	struct nx_result r = { .time = engine_now(e) };
	char buf[256];
	int len;

	if (!n->m.up) {
		r.state = c->is_host_check ? NX_CRITICAL : NX_UNKNOWN;
		len = snprintf(buf, sizeof buf, "%s - %s unreachable",
		    c->is_host_check ? "CRITICAL" : "UNKNOWN", n->name);
	} else if (isnan(v)) {
		r.state = NX_UNKNOWN;
		len = snprintf(buf, sizeof buf, "UNKNOWN - no %s sample yet",
		    label);
	} else {
		r.state = v >= mc->crit ? NX_CRITICAL :
		    v >= mc->warn ? NX_WARNING : NX_OK;
		len = snprintf(buf, sizeof buf,
		    "%s %s - %s %.2f%s|%s=%.2f%s;%g;%g",
		    c->name, nx_state_name(r.state), label, v, uom,
		    label, v, uom, mc->warn, mc->crit);
	}
	r.output = buf;
	r.output_len = len < 0 ? 0 : (size_t)len >= sizeof buf ?
	    sizeof buf - 1 : (size_t)len;
	mon_apply_result(e, c, &r);
}

const struct check_kind check_kind_metric = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "metric",
	.run = metric_run,
	.free_data = free,
};

/* Adds a metric check to node n; the check owns its thresholds. */
struct check *
metric_check_add(struct engine *e, struct node *n, const char *name,
    enum nx_metric metric, double warn, double crit, bool is_host_check)
{
	struct metric_check *mc = xmalloc(sizeof *mc);
	struct check *c;

	mc->metric = (uint8_t)metric;
	mc->warn = warn;
	mc->crit = crit;
	c = fleet_add_check(&e->fleet, n, name, &check_kind_metric, mc);
	c->is_host_check = is_host_check;
	return c;
}

/*
 * The thresholds of the standard checks, shared by every provider so that a
 * simulated node and a real one are judged alike.  Load is per core: a run
 * queue of 1.5 per core is WARNING, 2.5 per core CRITICAL.
 */
void
metric_thresholds(enum nx_metric m, unsigned cores, double *warn, double *crit)
{
	static const struct {
		double warn, crit;
	} std[] = {
		[NX_M_LOAD] = { 1.5, 2.5 },
		[NX_M_CPU] = { 85, 95 },
		[NX_M_MEM] = { 85, 95 },
		[NX_M_DISK] = { 80, 90 },
		[NX_M_LATENCY] = { 200, 500 },
	};

	assert((unsigned)m < NX_ARRAY_LEN(std));
	*warn = std[m].warn;
	*crit = std[m].crit;
	if (m == NX_M_LOAD) {
		*warn *= cores > 0 ? cores : 1;
		*crit *= cores > 0 ? cores : 1;
	}
}

/*
 * Adds the standard checks to node n: `ping` (the host check, on latency),
 * then `load`, `cpu`, `mem` and `disk`, with metric_thresholds().
 */
void
metric_checks_add_standard(struct engine *e, struct node *n, unsigned cores)
{
	static const struct {
		const char *name;
		enum nx_metric metric;
	} std[] = {
		{ "ping", NX_M_LATENCY },
		{ "load", NX_M_LOAD },
		{ "cpu", NX_M_CPU },
		{ "mem", NX_M_MEM },
		{ "disk", NX_M_DISK },
	};
	double warn, crit;
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(std); i++) {
		metric_thresholds(std[i].metric, cores, &warn, &crit);
		metric_check_add(e, n, std[i].name, std[i].metric, warn, crit,
		    std[i].metric == NX_M_LATENCY);
	}
}
