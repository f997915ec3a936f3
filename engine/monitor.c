/*
 * monitor.c - check results through the state machine.
 *
 * mon_apply_result() is the one way a check's state changes.  It follows
 * Nagios: a non-OK result starts SOFT and becomes HARD after max_attempts
 * consecutive non-OK results; a change between two problem states while
 * HARD stays HARD; recovery to OK is immediately HARD.  Every result is an
 * event; every state change another.  A host check's result decides its
 * node's host state.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define MON_OUTPUT_MAX 8192

/* Starts one execution; the kind calls mon_apply_result() when done. */
void
mon_run_check(struct engine *e, struct check *c)
{
	if (c->running)
		return;
	c->running = true;
	e->pending++;
	c->kind->run(e, c);
}

static void
mon_set_output(struct check *c, const char *out, size_t len)
{
	if (len > MON_OUTPUT_MAX)
		len = MON_OUTPUT_MAX;
	free(c->output);
	c->output = xstrndup(out ? out : "", len);
}

static void
mon_update_host(struct engine *e, struct node *n, struct check *c, nx_time now)
{
	enum nx_host_state hs = c->state == NX_OK || c->state == NX_WARNING ?
	    NX_HOST_UP : NX_HOST_DOWN;
	struct event ev;

	/* Nagios: a host is DOWN only once its check is HARD non-OK. */
	if (hs == NX_HOST_DOWN && c->state_type != NX_HARD)
		return;
	if (hs == n->host_state)
		return;
	memset(&ev, 0, sizeof ev);
	ev.time = now;
	ev.kind = NX_EV_HOST;
	ev.node = n->id;
	ev.check = NX_NONE;
	ev.prev_state = n->host_state;
	ev.state = hs;
	ev.text = c->output;
	n->host_state = hs;
	bus_publish(&e->bus, &ev);
}

/*
 * Applies one result to its check: output, attempt, SOFT/HARD state, events,
 * the node's health, and the next run.  `r` is borrowed.
 */
void
mon_apply_result(struct engine *e, struct check *c, const struct nx_result *r)
{
	struct node *n = &e->fleet.nodes[c->node];
	enum nx_state prev = c->state, st = r->state;
	uint8_t prev_type = c->state_type;
	nx_time now = r->time ? r->time : engine_now(e);
	bool changed;
	struct event ev;

	if (c->running) {
		c->running = false;
		e->pending--;
	}
	if ((unsigned)st > NX_UNKNOWN)
		st = NX_UNKNOWN;
	e->results++;
	mon_set_output(c, r->output, r->output_len);
	c->duration_ms = r->duration_ms;
	c->last_check = now;

	if (!c->has_result) {
		/* The first result: no previous state to compare with. */
		c->attempt = 1;
		c->state_type = st == NX_OK || c->max_attempts <= 1 ?
		    NX_HARD : NX_SOFT;
		changed = true;
		prev = NX_OK;
	} else if (st == NX_OK) {
		changed = c->state != NX_OK;
		c->attempt = 1;
		c->state_type = NX_HARD;
	} else if (c->state == NX_OK) {
		changed = true;
		c->attempt = 1;
		c->state_type = c->max_attempts <= 1 ? NX_HARD : NX_SOFT;
	} else {
		changed = c->state != st;
		if (c->state_type == NX_SOFT) {
			if (c->attempt < c->max_attempts)
				c->attempt++;
			if (c->attempt >= c->max_attempts)
				c->state_type = NX_HARD;
		}
	}
	c->has_result = true;
	c->state = st;
	if (changed || c->state_type != prev_type)
		c->last_change = now;
	if (c->state_type == NX_HARD && (c->last_hard_state != st ||
	    prev_type != NX_HARD)) {
		if (c->last_hard_state != st)
			c->last_hard_change = now;
		c->last_hard_state = st;
	}

	memset(&ev, 0, sizeof ev);
	ev.time = now;
	ev.kind = NX_EV_RESULT;
	ev.node = n->id;
	ev.check = c->id;
	ev.state = st;
	ev.prev_state = prev;
	ev.state_type = c->state_type;
	ev.attempt = c->attempt;
	ev.text = c->output;
	bus_publish(&e->bus, &ev);
	if (changed || c->state_type != prev_type) {
		ev.kind = NX_EV_STATE;
		bus_publish(&e->bus, &ev);
	}

	if (c->is_host_check)
		mon_update_host(e, n, c, now);
	fleet_set_health(&e->fleet, n, node_compute_health(&e->fleet, n), now);

	if (e->running && e->sched != NULL) {
		uint32_t wait = c->state != NX_OK && c->state_type == NX_SOFT ?
		    c->retry_ms : c->interval_ms;

		sched_add(e->sched, c, now + wait);
	}
}
