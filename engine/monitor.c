/*
 * monitor.c - check results through the Nagios state machine.
 *
 * mon_apply_result() is the one way a check's state changes.  It follows
 * handle_async_service_check_result() of Nagios/Naemon step by step (see
 * doc/monitor.md for the state machine and every deviation):
 *
 *  - a check starts OK, HARD, attempt 1, as if Nagios's initial state;
 *  - while SOFT and below max_attempts each result counts one attempt; a
 *    problem becomes HARD when the attempt reaches max_attempts and the state
 *    differs from the last HARD state; a change between problem states while
 *    HARD stays HARD; any recovery leaves the check OK HARD attempt 1 (a
 *    "soft recovery" when the problem never became HARD);
 *  - a problem on a node that is not UP goes HARD at once, without retries,
 *    and is flagged as not a separate incident (NX_EVF_HOST_PROBLEM);
 *  - flapping: the last 21 HARD states (and recoveries) as 20 change bits,
 *    weighted from 0.75 (oldest) to 1.25 (newest), against low/high
 *    thresholds with hysteresis;
 *  - acknowledgements (normal, sticky) and scheduled downtime (fixed,
 *    flexible) on checks and nodes; they suppress notifications and
 *    remediation through NX_EVF_SUPPRESS on the events;
 *  - a host check decides its node's host state, DOWN or UNREACHABLE
 *    through the node's parents.
 *
 * It also owns the start of check executions: mon_run_check() keeps at most
 * mon.max_running executions in flight and queues the rest, and measures
 * the scheduling latency (actual start - planned start).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define MON_OUTPUT_MAX 8192
#define MON_MAX_RUNNING 512
#define MON_FLAP_LOW 20.0
#define MON_FLAP_HIGH 30.0
#define MON_FLAP_STATES 21      /* Nagios's MAX_STATE_HISTORY_ENTRIES */
#define MON_FLAP_MASK ((1u << (MON_FLAP_STATES - 1)) - 1)
#define MON_FRESHNESS_SLACK_MS 15000    /* additional_freshness_latency */
#define MON_FRESHNESS_SLICES 10         /* mon_tick covers all in 10 ticks */
#define MON_REACH_DEPTH 64      /* parent levels followed at most */

static void mon_update_host(struct engine *, struct node *, struct check *,
    nx_time);
static void mon_node_set_host_state(struct engine *, struct node *,
    enum nx_host_state, const char *, nx_time, int);

/* ---------------------------------------------------------------------- */
/* Latency metric                                                          */

static unsigned
mon_latency_bucket(uint64_t ms)
{
	unsigned b;

	if (ms < 16)
		return (unsigned)ms;
	if (ms > UINT32_MAX)
		ms = UINT32_MAX;
	b = 63u - (unsigned)__builtin_clzll(ms);         /* floor(log2), >= 4 */
	return 16 + (b - 4) * 8 + (unsigned)((ms >> (b - 3)) & 7);
}

/* The largest value that falls in bucket i. */
static double
mon_latency_bucket_top(unsigned i)
{
	unsigned b, sub;

	if (i < 16)
		return i;
	b = (i - 16) / 8 + 4;
	sub = (i - 16) % 8;
	return (double)((((uint64_t)8 + sub) << (b - 3)) +
	    ((uint64_t)1 << (b - 3)) - 1);
}

/* Adds one observation, in milliseconds (negative counts as 0). */
void
mon_latency_add(struct nx_latency *l, double ms)
{
	if (ms < 0)
		ms = 0;
	l->count++;
	l->sum_ms += ms;
	if (ms > l->max_ms)
		l->max_ms = ms;
	l->hist[mon_latency_bucket((uint64_t)ms)]++;
}

/*
 * The q-quantile (0 < q <= 1) from the histogram: the top of the bucket it
 * falls in, capped at the maximum seen.  0 when there is no observation.
 */
double
mon_latency_quantile(const struct nx_latency *l, double q)
{
	uint64_t want, seen = 0;
	unsigned i;

	if (l->count == 0)
		return 0;
	want = (uint64_t)(q * (double)l->count + 0.999999);
	if (want == 0)
		want = 1;
	for (i = 0; i < NX_LAT_BUCKETS; i++) {
		seen += l->hist[i];
		if (seen >= want) {
			double top = mon_latency_bucket_top(i);

			return top < l->max_ms ? top : l->max_ms;
		}
	}
	return l->max_ms;
}

/* ---------------------------------------------------------------------- */
/* Starting checks: concurrency limit and queue                            */

static uint32_t
mon_max_running(const struct engine *e)
{
	return e->mon.max_running != 0 ? e->mon.max_running : MON_MAX_RUNNING;
}

/* Starts c now; measures how late it is against its planned start. */
static void
mon_start(struct engine *e, struct check *c)
{
	nx_time now;

	if (c->next_due != 0 && c->next_due > c->last_check) {
		now = engine_now(e);
		if (now >= c->next_due)
			mon_latency_add(&e->mon.latency,
			    (double)(now - c->next_due));
	}
	c->running = true;
	e->pending++;
	c->kind->run(e, c);
}

/*
 * Starts queued checks while there is room.  Re-entrant calls (a
 * synchronous kind applies its result inside run()) return at once and the
 * outer loop goes on, so the stack stays flat however long the queue.
 */
static void
mon_drain(struct engine *e)
{
	struct nx_monitor *m = &e->mon;

	if (m->draining)
		return;
	m->draining = true;
	while (m->nqueued > 0 && e->pending < mon_max_running(e)) {
		struct check *c = &e->fleet.checks[m->qhead];

		m->qhead = c->queue_next;
		m->nqueued--;
		c->queued = false;
		if (e->fleet.nodes[c->node].removed || c->removed)
			continue;       /* removed by an inventory reload */
		mon_start(e, c);
	}
	m->draining = false;
}

/*
 * Starts one execution; the kind calls mon_apply_result() when done.  When
 * mon.max_running executions are already in flight, the check waits in a
 * FIFO and starts when a result frees a slot.  A check already running or
 * queued is left alone.
 */
void
mon_run_check(struct engine *e, struct check *c)
{
	struct nx_monitor *m = &e->mon;

	if (c->running || c->queued || e->fleet.nodes[c->node].removed ||
	    c->removed)
		return;
	if (e->pending < mon_max_running(e) && m->nqueued == 0) {
		mon_start(e, c);
		return;
	}
	c->queued = true;
	c->queue_next = NX_NONE;
	if (m->nqueued == 0)
		m->qhead = c->id;
	else
		e->fleet.checks[m->qtail].queue_next = c->id;
	m->qtail = c->id;
	m->nqueued++;
	mon_drain(e);
}

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

/* Keeps a capped, NUL-terminated copy, reusing the buffer when it fits. */
static void
mon_set_output(struct check *c, const char *out, size_t len)
{
	if (out == NULL)
		len = 0;
	if (len > MON_OUTPUT_MAX)
		len = MON_OUTPUT_MAX;
	if (c->output == NULL || c->output_cap < len + 1) {
		free(c->output);
		c->output_cap = (uint32_t)(len < 63 ? 64 : len + 1);
		c->output = xmalloc(c->output_cap);
	}
	if (len > 0)
		memcpy(c->output, out, len);
	c->output[len] = '\0';
}

static uint8_t
mon_max_attempts(const struct check *c)
{
	return c->max_attempts != 0 ? c->max_attempts : 1;
}

static void
mon_event(struct event *ev, nx_time now, enum nx_event_kind kind,
    uint32_t node, uint32_t check)
{
	memset(ev, 0, sizeof *ev);
	ev->time = now;
	ev->kind = (uint16_t)kind;
	ev->node = node;
	ev->check = check;
}

static const char *
mon_intern(struct engine *e, const char *s)
{
	return s != NULL ? strpool_intern(&e->fleet.strings, s) : NULL;
}

/* ---------------------------------------------------------------------- */
/* Flags: acknowledged, downtime, flapping, host problem                   */

bool
mon_check_in_downtime(const struct engine *e, const struct check *c)
{
	return c->downtime_depth > 0 ||
	    e->fleet.nodes[c->node].downtime_depth > 0;
}

/*
 * The NX_EVF_* flags of check c as it is now.  A host check's problem is the
 * node's own incident, so it never carries HOST_PROBLEM; its ack and
 * downtime are the node's as well as its own.
 */
uint8_t
mon_check_flags(const struct engine *e, const struct check *c)
{
	const struct node *n = &e->fleet.nodes[c->node];
	uint8_t f = 0;

	if (c->ack.type != NX_ACK_NONE ||
	    (c->is_host_check && n->ack.type != NX_ACK_NONE))
		f |= NX_EVF_ACKED;
	if (c->downtime_depth > 0 || n->downtime_depth > 0)
		f |= NX_EVF_DOWNTIME;
	if (c->flapping)
		f |= NX_EVF_FLAPPING;
	if (!c->is_host_check && (c->host_problem ||
	    n->host_state != NX_HOST_UP))
		f |= NX_EVF_HOST_PROBLEM;
	if (f != 0)
		f |= NX_EVF_SUPPRESS;
	return f;
}

static uint8_t
mon_node_flags(const struct node *n)
{
	uint8_t f = 0;

	if (n->ack.type != NX_ACK_NONE)
		f |= NX_EVF_ACKED;
	if (n->downtime_depth > 0)
		f |= NX_EVF_DOWNTIME;
	if (n->host_state == NX_HOST_UNREACHABLE)
		f |= NX_EVF_HOST_PROBLEM;
	if (f != 0)
		f |= NX_EVF_SUPPRESS;
	return f;
}

/* ---------------------------------------------------------------------- */
/* Flapping                                                                */

/*
 * The percent state change of a ring of 20 change bits (newest in bit 0),
 * computed as check_for_service_flapping() does over its 21 states: the
 * x-th transition from the oldest (x = 1..20) weighs
 * (x - 1) * (1.25 - 0.75) / 19 + 0.75, summed from the oldest, times 100/20.
 */
double
mon_flap_percent(uint32_t ring)
{
	double changes = 0;
	int x;

	ring &= MON_FLAP_MASK;
	while (ring != 0) {
		int bit = 31 - __builtin_clz(ring);     /* the oldest left */

		x = MON_FLAP_STATES - 1 - bit;          /* 1 = oldest */
		changes += ((double)(x - 1) * (1.25 - 0.75)) /
		    (double)(MON_FLAP_STATES - 2) + 0.75;
		ring &= ~(1u << bit);
	}
	return changes * 100.0 / (double)(MON_FLAP_STATES - 1);
}

/*
 * Records the check's current state in its flap ring and starts or stops
 * flapping against the thresholds, as check_for_service_flapping(): only
 * HARD states and recoveries are recorded (a SOFT problem is not), and
 * between the low and the high threshold nothing changes (hysteresis).
 * Publishes NX_EV_FLAPPING on a change.
 */
static void
mon_flap_update(struct engine *e, struct check *c, nx_time now)
{
	double pct, low, high;
	bool flapping;
	struct event ev;
	char msg[160];

	if (c->state_type == NX_SOFT && c->state != NX_OK)
		return;
	c->flap_ring = ((c->flap_ring << 1) | (c->state != c->flap_last)) &
	    MON_FLAP_MASK;
	c->flap_last = c->state;
	if (c->flap_count < MON_FLAP_STATES)
		c->flap_count++;
	if (c->flap_ring == 0 && !c->flapping) {
		c->flap_pct = 0;
		return;
	}
	pct = mon_flap_percent(c->flap_ring);
	c->flap_pct = (float)pct;
	low = c->flap_low > 0 ? c->flap_low :
	    e->mon.flap_low > 0 ? e->mon.flap_low : MON_FLAP_LOW;
	high = c->flap_high > 0 ? c->flap_high :
	    e->mon.flap_high > 0 ? e->mon.flap_high : MON_FLAP_HIGH;
	if (pct > low && pct < high)
		return;
	flapping = pct >= high;
	if (flapping == c->flapping)
		return;
	c->flapping = flapping;
	if (flapping)
		snprintf(msg, sizeof msg, "started flapping (%.1f%% change >= "
		    "%.1f%% threshold)", pct, high);
	else
		snprintf(msg, sizeof msg, "stopped flapping (%.1f%% change < "
		    "%.1f%% threshold)", pct, low);
	mon_event(&ev, now, NX_EV_FLAPPING, c->node, c->id);
	ev.state = flapping;
	ev.prev_state = !flapping;
	ev.state_type = c->state_type;
	ev.attempt = c->attempt;
	ev.text = msg;
	ev.flags = mon_check_flags(e, c);
	bus_publish(&e->bus, &ev);
}

/* ---------------------------------------------------------------------- */
/* Acknowledgements                                                        */

static void
mon_ack_event(struct engine *e, uint32_t node, uint32_t check, bool set,
    const struct nx_ack *a, const char *why, nx_time now)
{
	struct event ev;
	char msg[600];

	if (set)
		snprintf(msg, sizeof msg, "acknowledged (%s) by %s: %s",
		    a->type == NX_ACK_STICKY ? "sticky" : "normal",
		    a->author ? a->author : "?", a->comment ? a->comment : "");
	else
		snprintf(msg, sizeof msg, "acknowledgement removed: %s", why);
	mon_event(&ev, now, NX_EV_ACK, node, check);
	ev.state = set;
	ev.state_type = a->type;
	ev.text = msg;
	bus_publish(&e->bus, &ev);
}

static int
mon_ack_fill(struct engine *e, struct nx_ack *a, enum nx_ack_type type,
    const char *author, const char *comment, nx_time expires,
    struct nx_err *err)
{
	if (type != NX_ACK_NORMAL && type != NX_ACK_STICKY) {
		nx_err_set(err, "acknowledgement: type must be normal or sticky");
		return -1;
	}
	a->type = (uint8_t)type;
	a->author = mon_intern(e, author);
	a->comment = mon_intern(e, comment);
	a->time = engine_now(e);
	a->expires = expires;
	if (expires != 0 && (e->mon.next_ack_expiry == 0 ||
	    expires < e->mon.next_ack_expiry))
		e->mon.next_ack_expiry = expires;
	return 0;
}

/*
 * Acknowledges the problem of check c.  As in Nagios, only a problem can be
 * acknowledged: -1 with err when c is OK or has no result.  author and
 * comment are copied (interned).  expires is wall-clock ms, 0 for never.
 */
int
mon_ack_check(struct engine *e, struct check *c, enum nx_ack_type type,
    const char *author, const char *comment, nx_time expires,
    struct nx_err *err)
{
	if (!c->has_result || c->state == NX_OK) {
		nx_err_set(err, "%s/%s: cannot acknowledge: not a problem",
		    e->fleet.nodes[c->node].name, c->name);
		return -1;
	}
	if (mon_ack_fill(e, &c->ack, type, author, comment, expires, err) != 0)
		return -1;
	mon_ack_event(e, c->node, c->id, true, &c->ack, NULL, c->ack.time);
	return 0;
}

/* Acknowledges node n's host problem; -1 with err when n is UP. */
int
mon_ack_node(struct engine *e, struct node *n, enum nx_ack_type type,
    const char *author, const char *comment, nx_time expires,
    struct nx_err *err)
{
	if (n->host_state == NX_HOST_UP) {
		nx_err_set(err, "%s: cannot acknowledge: host is UP", n->name);
		return -1;
	}
	if (mon_ack_fill(e, &n->ack, type, author, comment, expires, err) != 0)
		return -1;
	mon_ack_event(e, n->id, NX_NONE, true, &n->ack, NULL, n->ack.time);
	return 0;
}

static void
mon_ack_clear(struct engine *e, struct nx_ack *a, uint32_t node,
    uint32_t check, const char *why, nx_time now)
{
	struct nx_ack old = *a;

	if (a->type == NX_ACK_NONE)
		return;
	memset(a, 0, sizeof *a);
	mon_ack_event(e, node, check, false, &old, why, now);
}

void
mon_ack_remove_check(struct engine *e, struct check *c, nx_time now)
{
	mon_ack_clear(e, &c->ack, c->node, c->id, "removed", now);
}

void
mon_ack_remove_node(struct engine *e, struct node *n, nx_time now)
{
	mon_ack_clear(e, &n->ack, n->id, NX_NONE, "removed", now);
}

/*
 * Nagios's rule on a state change or a hard state change: a normal ack goes
 * on any state change (state_change || !hard_change within that block), a
 * sticky one only on recovery.
 */
static void
mon_ack_on_change(struct engine *e, struct nx_ack *a, uint32_t node,
    uint32_t check, bool state_change, bool hard_change, bool recovered,
    nx_time now)
{
	if (!state_change && !hard_change)
		return;
	if (a->type == NX_ACK_NORMAL && (state_change || !hard_change))
		mon_ack_clear(e, a, node, check, "state changed", now);
	else if (a->type == NX_ACK_STICKY && recovered)
		mon_ack_clear(e, a, node, check, "recovered", now);
}

/*
 * Removes check c from its node (an inventory reload: its definition no
 * longer selects the node) or revives it.  Removed, it is never run again
 * (a result still out is dropped), its id stays (indexes held elsewhere
 * stay valid) but it leaves node.checks' live part, so that no view, no
 * export and no health counts it; its result and acknowledgement are
 * cleared, so that it is no problem anywhere.  A host check removed from
 * a node that is not UP and has no other host check makes the node UP.
 * Revived, it is PENDING until it runs (the caller schedules it).
 */
void
mon_check_set_removed(struct engine *e, struct check *c, bool removed,
    nx_time now)
{
	struct fleet *f = &e->fleet;
	struct node *n = &f->nodes[c->node];
	uint16_t k;

	if (c->removed == removed)
		return;
	fleet_set_check_removed(f, c, removed);
	if (!removed)
		return;
	mon_ack_clear(e, &c->ack, c->node, c->id, "removed", now);
	c->has_result = false;
	c->state = c->last_hard_state = NX_OK;
	c->state_type = NX_HARD;
	c->attempt = 1;
	c->flapping = false;
	c->flap_count = 0;
	c->flap_ring = 0;
	if (c->is_host_check && n->host_state != NX_HOST_UP) {
		for (k = 0; k < n->nchecks; k++) {
			if (f->checks[n->checks[k]].is_host_check)
				break;
		}
		if (k == n->nchecks)
			mon_node_set_host_state(e, n, NX_HOST_UP,
			    "host check removed", now, 0);
	}
	fleet_set_health(f, n, node_compute_health(f, n), now);
}

/* ---------------------------------------------------------------------- */
/* Downtime                                                                */

static void
mon_downtime_event(struct engine *e, const struct nx_downtime *d, bool start,
    nx_time now)
{
	struct event ev;
	char msg[600];

	snprintf(msg, sizeof msg, "%s %s downtime %u by %s: %s",
	    start ? "started" : "ended", d->fixed ? "fixed" : "flexible", d->id,
	    d->author ? d->author : "?", d->comment ? d->comment : "");
	mon_event(&ev, now, NX_EV_DOWNTIME,
	    d->node != NX_NONE ? d->node : e->fleet.checks[d->check].node,
	    d->check);
	ev.state = start;
	ev.text = msg;
	bus_publish(&e->bus, &ev);
}

static uint16_t *
mon_downtime_depth(struct engine *e, const struct nx_downtime *d)
{
	if (d->check != NX_NONE)
		return &e->fleet.checks[d->check].downtime_depth;
	return &e->fleet.nodes[d->node].downtime_depth;
}

static void
mon_downtime_begin(struct engine *e, struct nx_downtime *d, nx_time now)
{
	d->in_effect = true;
	d->began = now;
	(*mon_downtime_depth(e, d))++;
	mon_downtime_event(e, d, true, now);
}

static void
mon_downtime_finish(struct engine *e, struct nx_downtime *d, nx_time now)
{
	uint16_t *depth = mon_downtime_depth(e, d);

	if (d->in_effect && *depth > 0)
		(*depth)--;
	if (d->in_effect)
		mon_downtime_event(e, d, false, now);
	d->in_effect = false;
}

/* Whether the object of d is in a HARD problem state (or not UP). */
static bool
mon_downtime_object_problem(const struct engine *e,
    const struct nx_downtime *d)
{
	if (d->check != NX_NONE) {
		const struct check *c = &e->fleet.checks[d->check];

		return c->has_result && c->state != NX_OK &&
		    c->state_type == NX_HARD;
	}
	return e->fleet.nodes[d->node].host_state != NX_HOST_UP;
}

/*
 * Schedules a downtime on check `check` (node = NX_NONE) or on node `node`
 * (check = NX_NONE), from start to end (wall-clock ms).  A fixed downtime
 * is in effect for the whole window; a flexible one starts when the object
 * is in a HARD problem state within the window and lasts duration_ms.
 * author and comment are interned.  Puts the new id in *id (when not NULL)
 * and starts it at once if it is due.  Returns 0, or -1 with err.
 */
int
mon_downtime_add(struct engine *e, uint32_t node, uint32_t check,
    nx_time start, nx_time end, bool fixed, uint32_t duration_ms,
    const char *author, const char *comment, uint32_t *id,
    struct nx_err *err)
{
	struct nx_monitor *m = &e->mon;
	struct nx_downtime *d;

	if ((node == NX_NONE) == (check == NX_NONE)) {
		nx_err_set(err, "downtime: give a node or a check, not both");
		return -1;
	}
	if ((node != NX_NONE && node >= e->fleet.nnodes) ||
	    (check != NX_NONE && check >= e->fleet.nchecks)) {
		nx_err_set(err, "downtime: no such %s",
		    node != NX_NONE ? "node" : "check");
		return -1;
	}
	if (end <= start) {
		nx_err_set(err, "downtime: end must be after start");
		return -1;
	}
	if (!fixed && duration_ms == 0) {
		nx_err_set(err, "downtime: a flexible downtime needs a duration");
		return -1;
	}
	if (m->ndowntimes == m->downtimes_cap) {
		m->downtimes_cap = m->downtimes_cap ? m->downtimes_cap * 2 : 16;
		m->downtimes = xreallocarray(m->downtimes, m->downtimes_cap,
		    sizeof *m->downtimes);
	}
	d = &m->downtimes[m->ndowntimes++];
	memset(d, 0, sizeof *d);
	d->id = ++m->next_downtime_id;
	d->node = node;
	d->check = check;
	d->start = start;
	d->end = end;
	d->fixed = fixed;
	d->duration_ms = duration_ms;
	d->author = mon_intern(e, author);
	d->comment = mon_intern(e, comment);
	if (id != NULL)
		*id = d->id;
	mon_downtimes_update(e, engine_now(e));
	return 0;
}

const struct nx_downtime *
mon_downtime_find(const struct engine *e, uint32_t id)
{
	size_t i;

	for (i = 0; i < e->mon.ndowntimes; i++) {
		if (e->mon.downtimes[i].id == id)
			return &e->mon.downtimes[i];
	}
	return NULL;
}

static void
mon_downtime_drop(struct engine *e, size_t i, nx_time now)
{
	struct nx_monitor *m = &e->mon;

	mon_downtime_finish(e, &m->downtimes[i], now);
	memmove(&m->downtimes[i], &m->downtimes[i + 1],
	    (m->ndowntimes - i - 1) * sizeof *m->downtimes);
	m->ndowntimes--;
}

/* Cancels downtime id (ending it if in effect).  0, or -1 if unknown. */
int
mon_downtime_remove(struct engine *e, uint32_t id, nx_time now)
{
	size_t i;

	for (i = 0; i < e->mon.ndowntimes; i++) {
		if (e->mon.downtimes[i].id == id) {
			mon_downtime_drop(e, i, now);
			return 0;
		}
	}
	return -1;
}

/*
 * Starts and ends downtimes at time now: fixed ones by their window,
 * flexible ones when their object is in a problem within the window, and
 * for duration_ms from then.  Expired ones are removed.
 */
void
mon_downtimes_update(struct engine *e, nx_time now)
{
	struct nx_monitor *m = &e->mon;
	size_t i = 0;

	while (i < m->ndowntimes) {
		struct nx_downtime *d = &m->downtimes[i];
		nx_time until;

		if (d->in_effect) {
			until = d->fixed ? d->end :
			    d->began + (nx_time)d->duration_ms;
			if (now >= until) {
				mon_downtime_drop(e, i, now);
				continue;
			}
		} else if (now >= d->end) {
			mon_downtime_drop(e, i, now);   /* never triggered */
			continue;
		} else if (now >= d->start && (d->fixed ||
		    mon_downtime_object_problem(e, d)))
			mon_downtime_begin(e, d, now);
		i++;
	}
}

/* Triggers pending flexible downtimes of check c or node n (one is NULL). */
static void
mon_downtime_trigger(struct engine *e, const struct check *c,
    const struct node *n, nx_time now)
{
	struct nx_monitor *m = &e->mon;
	size_t i;

	for (i = 0; i < m->ndowntimes; i++) {
		struct nx_downtime *d = &m->downtimes[i];

		if (d->fixed || d->in_effect || now < d->start || now >= d->end)
			continue;
		if ((c != NULL && d->check == c->id) ||
		    (n != NULL && d->node == n->id))
			mon_downtime_begin(e, d, now);
	}
}

/* ---------------------------------------------------------------------- */
/* Hosts and reachability                                                  */

/*
 * Makes node `parent` a parent of n (once).  The array is n's, freed with
 * the fleet.  Parents must be added through here so the children index
 * stays true.
 */
void
mon_node_add_parent(struct engine *e, struct node *n, uint32_t parent)
{
	uint16_t i;

	for (i = 0; i < n->nparents; i++) {
		if (n->parents[i] == parent)
			return;
	}
	n->parents = xreallocarray(n->parents, n->nparents + 1,
	    sizeof *n->parents);
	n->parents[n->nparents++] = parent;
	e->mon.nedges++;
}

/*
 * Replaces n's parents by the n_ids node ids of ids (an inventory reload
 * re-read its nexus_parents; the caller checked for loops), rebuilds the
 * children index on its next use, and re-decides DOWN/UNREACHABLE of n
 * when it is not UP (and of its children down the tree).
 */
void
mon_node_set_parents(struct engine *e, struct node *n, const uint32_t *ids,
    size_t n_ids, nx_time now)
{
	struct nx_monitor *m = &e->mon;
	enum nx_host_state hs;
	size_t k;

	m->nedges -= n->nparents;
	free(n->parents);
	n->parents = NULL;
	n->nparents = 0;
	/* Links went away: the counts alone no longer tell it is stale. */
	free(m->child_off);
	free(m->child_ids);
	m->child_off = m->child_ids = NULL;
	for (k = 0; k < n_ids; k++)
		mon_node_add_parent(e, n, ids[k]);
	if (n->host_state == NX_HOST_UP || n->removed)
		return;
	hs = mon_node_reachability(&e->fleet, n);
	if (hs != n->host_state)
		mon_node_set_host_state(e, n, hs, NULL, now, 0);
}

/* (Re)builds the children index (CSR) when nodes or links were added. */
static void
mon_children_index(struct engine *e)
{
	struct nx_monitor *m = &e->mon;
	struct fleet *f = &e->fleet;
	uint32_t i, *fill;
	uint16_t k;

	if (m->child_off != NULL && m->child_nodes == f->nnodes &&
	    m->child_edges == m->nedges)
		return;
	free(m->child_off);
	free(m->child_ids);
	m->child_off = xcalloc((size_t)f->nnodes + 1, sizeof *m->child_off);
	m->child_ids = xcalloc(m->nedges + 1, sizeof *m->child_ids);
	for (i = 0; i < f->nnodes; i++) {
		for (k = 0; k < f->nodes[i].nparents; k++) {
			if (f->nodes[i].parents[k] < f->nnodes)
				m->child_off[f->nodes[i].parents[k] + 1]++;
		}
	}
	for (i = 0; i < f->nnodes; i++)
		m->child_off[i + 1] += m->child_off[i];
	fill = xcalloc((size_t)f->nnodes + 1, sizeof *fill);
	for (i = 0; i < f->nnodes; i++) {
		for (k = 0; k < f->nodes[i].nparents; k++) {
			uint32_t p = f->nodes[i].parents[k];

			if (p < f->nnodes && m->child_off[p] + fill[p] <
			    m->child_off[p + 1])
				m->child_ids[m->child_off[p] + fill[p]++] = i;
		}
	}
	free(fill);
	m->child_nodes = f->nnodes;
	m->child_edges = m->nedges;
}

/*
 * What a node whose host check has a HARD problem is, as Nagios's
 * determine_host_reachability(): DOWN when it has no parents or any parent
 * is UP, else UNREACHABLE.
 */
enum nx_host_state
mon_node_reachability(const struct fleet *f, const struct node *n)
{
	uint16_t i;

	if (n->nparents == 0)
		return NX_HOST_DOWN;
	for (i = 0; i < n->nparents; i++) {
		if (n->parents[i] < f->nnodes &&
		    f->nodes[n->parents[i]].host_state == NX_HOST_UP)
			return NX_HOST_DOWN;
	}
	return NX_HOST_UNREACHABLE;
}

/*
 * After node p changed host state, re-decides DOWN/UNREACHABLE of its
 * children that are not UP (their host checks are not run again: the last
 * HARD result stands), and so on down the tree.
 */
static void
mon_reclassify_children(struct engine *e, const struct node *p, nx_time now,
    int depth)
{
	struct fleet *f = &e->fleet;
	uint32_t pid = p->id, i;

	if (depth >= MON_REACH_DEPTH || e->mon.nedges == 0)
		return;
	mon_children_index(e);
	for (i = e->mon.child_off[pid]; i < e->mon.child_off[pid + 1]; i++) {
		struct node *n = &f->nodes[e->mon.child_ids[i]];
		enum nx_host_state hs;

		if (n->host_state == NX_HOST_UP)
			continue;
		hs = mon_node_reachability(f, n);
		if (hs != n->host_state)
			mon_node_set_host_state(e, n, hs, NULL, now, depth + 1);
	}
}

/*
 * Moves node n to host state hs: HOST event, Nagios's ack rules, flexible
 * downtime trigger, health, and its children's reachability.
 */
static void
mon_node_set_host_state(struct engine *e, struct node *n,
    enum nx_host_state hs, const char *text, nx_time now, int depth)
{
	struct event ev;
	enum nx_host_state prev = n->host_state;

	n->host_state = (uint8_t)hs;
	mon_ack_on_change(e, &n->ack, n->id, NX_NONE, true, true,
	    hs == NX_HOST_UP, now);
	if (hs != NX_HOST_UP)
		mon_downtime_trigger(e, NULL, n, now);
	mon_event(&ev, now, NX_EV_HOST, n->id, NX_NONE);
	ev.prev_state = (uint8_t)prev;
	ev.state = (uint8_t)hs;
	ev.state_type = NX_HARD;
	ev.text = text;
	ev.flags = mon_node_flags(n);
	bus_publish(&e->bus, &ev);
	fleet_set_health(&e->fleet, n, node_compute_health(&e->fleet, n), now);
	mon_reclassify_children(e, n, now, depth);
}

/*
 * A host check's result decides its node's host state: OK and WARNING are
 * UP (Nagios 3+); a HARD problem is DOWN or UNREACHABLE by the parents; a
 * SOFT problem leaves the host state as it was (host_state is the HARD
 * state).
 */
static void
mon_update_host(struct engine *e, struct node *n, struct check *c, nx_time now)
{
	enum nx_host_state hs;

	if (c->state == NX_OK || c->state == NX_WARNING)
		hs = NX_HOST_UP;
	else if (c->state_type == NX_HARD)
		hs = mon_node_reachability(&e->fleet, n);
	else
		return;
	if (hs != n->host_state)
		mon_node_set_host_state(e, n, hs, c->output, now, 0);
}

/* ---------------------------------------------------------------------- */
/* The state machine                                                       */

/*
 * Applies one result to its check: output, attempt, SOFT/HARD state,
 * acknowledgements, flapping, flexible downtime, events, the node's host
 * state and health, the next run, and the next queued check.  `r` is
 * borrowed.  Publishes NX_EV_RESULT always, NX_EV_STATE on a state change
 * or a hard state change, NX_EV_FLAPPING, NX_EV_ACK and NX_EV_HOST as they
 * happen.
 */
void
mon_apply_result(struct engine *e, struct check *c, const struct nx_result *r)
{
	struct node *n = &e->fleet.nodes[c->node];
	enum nx_state prev = (enum nx_state)c->state, st = r->state;
	nx_time now = r->time ? r->time : engine_now(e);
	uint8_t max = mon_max_attempts(c), event_type;
	bool was_running = c->running, first = !c->has_result, host_up,
	    state_change, hard_change = false, retry = false;
	struct event ev;

	if (c->running) {
		c->running = false;
		e->pending--;
	}
	if (n->removed || c->removed) {
		/* Its node left the inventory (or its definition the node)
		 * while it ran: no state, no event. */
		if (e->mon.nqueued > 0)
			mon_drain(e);
		return;
	}
	if ((unsigned)st > NX_UNKNOWN)
		st = NX_UNKNOWN;
	e->results++;
	mon_set_output(c, r->output, r->output_len);
	c->duration_ms = r->duration_ms;
	c->last_check = now;
	host_up = c->is_host_check || n->host_state == NX_HOST_UP;

	/* A check rechecked while SOFT counts one more attempt. */
	if (c->state_type == NX_SOFT && c->attempt < max)
		c->attempt++;
	if (c->attempt == 0)
		c->attempt = 1;
	c->state = (uint8_t)st;
	state_change = st != prev;
	if (c->host_problem && st == NX_OK)
		hard_change = true;
	if (c->attempt >= max && st != c->last_hard_state)
		hard_change = true;

	if (st == NX_OK) {
		/* A recovery: HARD when the problem was, else SOFT. */
		event_type = hard_change ? NX_HARD : NX_SOFT;
		c->host_problem = false;
		c->attempt = 1;
		c->state_type = NX_HARD;
		c->last_hard_state = NX_OK;
	} else {
		if (!host_up) {
			/* No retries on a node that is not UP. */
			if (c->last_hard_state != st)
				hard_change = true;
			if (hard_change) {
				c->state_type = NX_HARD;
				c->last_hard_state = (uint8_t)st;
			}
			c->host_problem = true;
		} else if (c->host_problem) {
			/* The node came back: give the check its retries. */
			c->host_problem = false;
			if (c->state_type == NX_SOFT)
				c->attempt = 1;
		}
		if (c->attempt < max) {
			if (host_up) {
				c->state_type = NX_SOFT;
				retry = true;
			}
		} else {
			c->state_type = NX_HARD;
			c->last_hard_state = (uint8_t)st;
		}
		event_type = c->state_type;
	}
	/* As Naemon: a hard change alone moves last_change only off-UP. */
	if (state_change || (hard_change && !host_up) || first)
		c->last_change = now;
	if (hard_change || first)
		c->last_hard_change = now;
	c->has_result = true;

	mon_ack_on_change(e, &c->ack, c->node, c->id, state_change, hard_change,
	    st == NX_OK, now);
	if (c->ack.type != NX_ACK_NONE && c->ack.expires != 0 &&
	    now >= c->ack.expires)
		mon_ack_clear(e, &c->ack, c->node, c->id, "expired", now);
	mon_flap_update(e, c, now);
	if (st != NX_OK && c->state_type == NX_HARD &&
	    (state_change || hard_change))
		mon_downtime_trigger(e, c, NULL, now);

	mon_event(&ev, now, NX_EV_RESULT, n->id, c->id);
	ev.state = (uint8_t)st;
	ev.prev_state = (uint8_t)prev;
	ev.state_type = c->state_type;
	ev.attempt = c->attempt;
	ev.text = c->output;
	ev.flags = mon_check_flags(e, c);
	bus_publish(&e->bus, &ev);
	if (state_change || hard_change) {
		ev.kind = NX_EV_STATE;
		ev.state_type = event_type;
		bus_publish(&e->bus, &ev);
	}

	if (c->is_host_check)
		mon_update_host(e, n, c, now);
	/* Health moves only with a check's state (host changes do their own). */
	if (state_change || first)
		fleet_set_health(&e->fleet, n,
		    node_compute_health(&e->fleet, n), now);

	if (was_running && e->running && e->sched != NULL)
		sched_add(e->sched, c, now + (retry ? c->retry_ms :
		    c->interval_ms));
	if (e->mon.nqueued > 0)
		mon_drain(e);
}

/* ---------------------------------------------------------------------- */
/* Timeouts, freshness, periodic work                                      */

enum nx_state
mon_timeout_state(const struct engine *e)
{
	return e->mon.timeout_state_set ?
	    (enum nx_state)e->mon.timeout_state : NX_CRITICAL;
}

/* Sets the state a timed-out check gets (Nagios's service_check_timeout_state). */
void
mon_set_timeout_state(struct engine *e, enum nx_state st)
{
	e->mon.timeout_state = (uint8_t)st;
	e->mon.timeout_state_set = true;
}

/*
 * What a check kind calls when an execution of c ran out of time (after it
 * killed what it ran): applies a result in the configured timeout state
 * with an output that says so.
 */
void
mon_apply_timeout(struct engine *e, struct check *c, double duration_ms)
{
	struct nx_result r;
	char buf[128];
	int len;

	len = snprintf(buf, sizeof buf, "(%s check timed out after %.2f "
	    "seconds)", c->is_host_check ? "Host" : "Service",
	    duration_ms / 1000.0);
	memset(&r, 0, sizeof r);
	r.state = mon_timeout_state(e);
	r.output = buf;
	r.output_len = len > 0 ? (size_t)len : 0;
	r.duration_ms = duration_ms;
	r.time = engine_now(e);
	mon_apply_result(e, c, &r);
}

/*
 * Checks ids [from, from + count) (wrapping at nchecks) for freshness: every
 * check not running whose last result (or, before the first one, the
 * engine's start) is older than its freshness threshold gets an UNKNOWN
 * result "stale: no result for Ns" through the state machine.  The
 * threshold is c->freshness_ms, or automatically the interval (the retry
 * interval while SOFT) + timeout + 15 s as Nagios computes it.  Returns how
 * many went stale.
 */
static uint32_t
mon_freshness_scan(struct engine *e, nx_time now, uint32_t from,
    uint32_t count)
{
	uint32_t k, n = 0, total = e->fleet.nchecks;

	for (k = 0; k < count && total > 0; k++) {
		struct check *c = &e->fleet.checks[(from + k) % total];
		nx_time last, limit;
		struct nx_result r;
		char buf[96];
		int len;

		if (c->running || c->queued || e->fleet.nodes[c->node].removed ||
		    c->removed)
			continue;
		last = c->has_result ? c->last_check : e->start_time;
		if (c->freshness_ms != 0)
			limit = c->freshness_ms;
		else
			limit = (nx_time)(c->state_type == NX_SOFT &&
			    c->state != NX_OK ? c->retry_ms : c->interval_ms) +
			    c->timeout_ms + MON_FRESHNESS_SLACK_MS;
		if (now - last <= limit)
			continue;
		len = snprintf(buf, sizeof buf, "stale: no result for %llds",
		    (long long)((now - last) / 1000));
		memset(&r, 0, sizeof r);
		r.state = NX_UNKNOWN;
		r.output = buf;
		r.output_len = len > 0 ? (size_t)len : 0;
		r.time = now;
		mon_apply_result(e, c, &r);
		e->mon.stale++;
		n++;
	}
	return n;
}

/* Freshness over every check at once; returns how many went stale. */
uint32_t
mon_check_freshness(struct engine *e, nx_time now)
{
	return mon_freshness_scan(e, now, 0, e->fleet.nchecks);
}

/*
 * Expires acknowledgements whose time has come.  Most acks never expire,
 * so the scan runs only once the earliest expiry set has passed, and
 * remembers the next one.
 */
static void
mon_acks_expire(struct engine *e, nx_time now)
{
	nx_time next = 0;
	uint32_t i;

	if (e->mon.next_ack_expiry == 0 || now < e->mon.next_ack_expiry)
		return;
	for (i = 0; i < e->fleet.nchecks; i++) {
		struct check *c = &e->fleet.checks[i];

		if (c->ack.type == NX_ACK_NONE || c->ack.expires == 0)
			continue;
		if (now >= c->ack.expires)
			mon_ack_clear(e, &c->ack, c->node, c->id, "expired", now);
		else if (next == 0 || c->ack.expires < next)
			next = c->ack.expires;
	}
	for (i = 0; i < e->fleet.nnodes; i++) {
		struct node *n = &e->fleet.nodes[i];

		if (n->ack.type == NX_ACK_NONE || n->ack.expires == 0)
			continue;
		if (now >= n->ack.expires)
			mon_ack_clear(e, &n->ack, n->id, NX_NONE, "expired", now);
		else if (next == 0 || n->ack.expires < next)
			next = n->ack.expires;
	}
	e->mon.next_ack_expiry = next;
}

/*
 * The monitor's periodic work, meant for a timer of about a second on the
 * loop: downtimes, acknowledgement expiry, freshness.
 */
void
mon_tick(struct engine *e, nx_time now)
{
	uint32_t slice = e->fleet.nchecks / MON_FRESHNESS_SLICES + 1;

	mon_downtimes_update(e, now);
	mon_acks_expire(e, now);
	/*
	 * A tenth of the checks a tick: each is looked at every ~10 s, well
	 * inside the 15 s slack of its threshold, and a 500,000-check fleet
	 * does not walk all of its memory every second.
	 */
	if (e->fleet.nchecks > 0) {
		mon_freshness_scan(e, now, e->mon.fresh_cursor, slice);
		e->mon.fresh_cursor = (e->mon.fresh_cursor + slice) %
		    e->fleet.nchecks;
	}
}

/* Frees what the monitor allocated in the engine (not the fleet's). */
void
mon_free(struct engine *e)
{
	free(e->mon.downtimes);
	e->mon.downtimes = NULL;
	e->mon.ndowntimes = e->mon.downtimes_cap = 0;
	free(e->mon.child_off);
	free(e->mon.child_ids);
	e->mon.child_off = e->mon.child_ids = NULL;
}
