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

/*
 * A bounded string builder for the check's output line.  A demo round
 * formats half a million of these lines, and printf's floating-point path
 * was most of the round's time, so numbers are formatted by hand.
 */
struct metric_out {
	char *p, *end;          /* end leaves room for the NUL */
};

static void
metric_put(struct metric_out *o, const char *s)
{
	while (*s != '\0' && o->p < o->end)
		*o->p++ = *s++;
}

/*
 * Appends v as "%.2f" prints it, or, when `trim`, as "%g" does.  The fast
 * path handles what the checks print all the time (metrics below 10^7;
 * thresholds below 10^4 that are whole hundredths) and gives the same text
 * as printf; the rest, and ties that printf rounds by the exact binary
 * value, go through snprintf.
 */
static void
metric_put_num(struct metric_out *o, double v, bool trim)
{
	char tmp[32], *q = tmp + sizeof tmp;
	double x = (v < 0 ? -v : v) * 100, frac;
	long long c;
	int i;

	if (!(x < (trim ? 1e6 : 1e9)) || (v == 0 && signbit(v)))
		goto slow;
	c = (long long)x;
	frac = x - (double)c;
	if (trim && frac != 0)
		goto slow;
	if (frac > 0.5 - 1e-6 && frac < 0.5 + 1e-6)
		goto slow;
	c += frac > 0.5;
	*--q = '\0';
	for (i = 0; i < 2; i++) {
		*--q = (char)('0' + c % 10);
		c /= 10;
	}
	*--q = '.';
	do {
		*--q = (char)('0' + c % 10);
		c /= 10;
	} while (c > 0);
	if (v < 0)
		*--q = '-';
	if (trim) {
		char *z = tmp + sizeof tmp - 2;

		while (*z == '0')
			*z-- = '\0';
		if (*z == '.')
			*z = '\0';
	}
	metric_put(o, q);
	return;
slow:
	snprintf(tmp, sizeof tmp, trim ? "%g" : "%.2f", v);
	metric_put(o, tmp);
}

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
		/* "%s %s - %s %.2f%s|%s=%.2f%s;%g;%g" */
		struct metric_out o = { buf, buf + sizeof buf - 1 };

		r.state = v >= mc->crit ? NX_CRITICAL :
		    v >= mc->warn ? NX_WARNING : NX_OK;
		metric_put(&o, c->name);
		metric_put(&o, " ");
		metric_put(&o, nx_state_name(r.state));
		metric_put(&o, " - ");
		metric_put(&o, label);
		metric_put(&o, " ");
		metric_put_num(&o, v, false);
		metric_put(&o, uom);
		metric_put(&o, "|");
		metric_put(&o, label);
		metric_put(&o, "=");
		metric_put_num(&o, v, false);
		metric_put(&o, uom);
		metric_put(&o, ";");
		metric_put_num(&o, mc->warn, true);
		metric_put(&o, ";");
		metric_put_num(&o, mc->crit, true);
		*o.p = '\0';
		len = (int)(o.p - buf);
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
