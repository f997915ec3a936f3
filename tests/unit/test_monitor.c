/*
 * test_monitor.c - the Nagios state machine of monitor.c, table-driven:
 * SOFT/HARD transitions and retry scheduling, flapping against hand-computed
 * percentages and against an independent transcription of Nagios's
 * check_for_service_flapping() loop, acknowledgements, downtime, freshness,
 * timeouts, UNREACHABLE through parents, the concurrency limit and the
 * scheduling latency metric.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

#define T0 1700000000000LL      /* a wall-clock instant, ms */
#define INTERVAL 60000
#define RETRY 10000

/* Events as a subscriber saw them. */
struct seen {
	uint16_t kind;
	uint32_t node, check;
	uint8_t state, prev_state, state_type, attempt, flags;
	char text[128];
};

struct fix {
	struct engine *e;
	struct seen ev[512];
	size_t nev;
	uint32_t started[64];   /* check ids in the order the test kind ran */
	size_t nstarted;
};

static struct fix *current;

static void
on_event(void *arg, const struct event *ev)
{
	struct fix *f = arg;
	struct seen *s;

	if (f->nev == NX_ARRAY_LEN(f->ev))
		return;
	s = &f->ev[f->nev++];
	s->kind = ev->kind;
	s->node = ev->node;
	s->check = ev->check;
	s->state = ev->state;
	s->prev_state = ev->prev_state;
	s->state_type = ev->state_type;
	s->attempt = ev->attempt;
	s->flags = ev->flags;
	snprintf(s->text, sizeof s->text, "%s", ev->text ? ev->text : "");
}

/* A check kind that only records that it started: results come by hand. */
static void
manual_run(struct engine *e, struct check *c)
{
	if (current->nstarted < NX_ARRAY_LEN(current->started))
		current->started[current->nstarted++] = c->id;
}

static const struct check_kind manual_kind = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "manual",
	.run = manual_run,
};

static int
setup(void **state)
{
	struct fix *f = xcalloc(1, sizeof *f);
	uv_loop_t *loop = xmalloc(sizeof *loop);
	struct nx_config cfg;

	uv_loop_init(loop);
	config_defaults(&cfg);
	cfg.demo.enabled = false;
	cfg.demo.local = false;
	f->e = xcalloc(1, sizeof *f->e);
	engine_init(f->e, loop, &cfg);
	f->e->cfg.console.theme = NULL;
	config_free(&cfg);
	f->e->frozen_now = T0;
	f->e->start_time = T0;
	bus_subscribe(&f->e->bus, on_event, f);
	current = f;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	uv_loop_t *loop = f->e->loop;

	engine_free(f->e);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	free(loop);
	free(f->e);
	free(f);
	return 0;
}

static struct check *
add_check(struct fix *f, const char *node, const char *name, uint8_t max)
{
	struct node *n = fleet_find_node(&f->e->fleet, node);
	struct check *c;

	if (n == NULL)
		n = fleet_add_node(&f->e->fleet, node, NULL, NULL);
	c = fleet_add_check(&f->e->fleet, n, name, &manual_kind, NULL);
	c->max_attempts = max;
	c->interval_ms = INTERVAL;
	c->retry_ms = RETRY;
	c->timeout_ms = 10000;
	return c;
}

/* Applies a result at time t as if the check had been run. */
static void
result_at(struct fix *f, uint32_t id, enum nx_state s, nx_time t)
{
	struct check *c = &f->e->fleet.checks[id];
	struct nx_result r = { .state = s, .output = "out", .output_len = 3,
	    .time = t };

	if (!c->running) {
		c->running = true;
		f->e->pending++;
	}
	mon_apply_result(f->e, c, &r);
}

static size_t
count_kind(const struct fix *f, enum nx_event_kind k, size_t from)
{
	size_t i, n = 0;

	for (i = from; i < f->nev; i++)
		n += f->ev[i].kind == k;
	return n;
}

/* The last event of kind k; fails the test when there is none. */
static const struct seen *
last_kind(const struct fix *f, enum nx_event_kind k)
{
	static const struct seen none;
	size_t i;

	for (i = f->nev; i > 0; i--) {
		if (f->ev[i - 1].kind == k)
			return &f->ev[i - 1];
	}
	fail_msg("no event of kind %s", event_kind_name(k));
	return &none;
}

/* ---------------------------------------------------------------------- */

enum { NO_EV = -1 };

struct step {
	enum nx_state in;
	enum nx_state state;
	enum nx_state_type type;
	uint8_t attempt;
	int state_event;        /* NO_EV, or the state_type the STATE event has */
	uint32_t next;          /* INTERVAL or RETRY */
	const char *what;
};

static const struct step steps_max3[] = {
	{ NX_OK, NX_OK, NX_HARD, 1, NO_EV, INTERVAL, "first result OK: no change" },
	{ NX_CRITICAL, NX_CRITICAL, NX_SOFT, 1, NX_SOFT, RETRY, "OK -> SOFT" },
	{ NX_CRITICAL, NX_CRITICAL, NX_SOFT, 2, NO_EV, RETRY, "SOFT retry" },
	{ NX_CRITICAL, NX_CRITICAL, NX_HARD, 3, NX_HARD, INTERVAL, "SOFT -> HARD" },
	{ NX_CRITICAL, NX_CRITICAL, NX_HARD, 3, NO_EV, INTERVAL, "HARD stays" },
	{ NX_WARNING, NX_WARNING, NX_HARD, 3, NX_HARD, INTERVAL, "HARD -> HARD" },
	{ NX_UNKNOWN, NX_UNKNOWN, NX_HARD, 3, NX_HARD, INTERVAL, "HARD -> HARD" },
	{ NX_OK, NX_OK, NX_HARD, 1, NX_HARD, INTERVAL, "hard recovery" },
	{ NX_WARNING, NX_WARNING, NX_SOFT, 1, NX_SOFT, RETRY, "OK -> SOFT" },
	{ NX_OK, NX_OK, NX_HARD, 1, NX_SOFT, INTERVAL, "soft recovery" },
	{ NX_UNKNOWN, NX_UNKNOWN, NX_SOFT, 1, NX_SOFT, RETRY, "OK -> SOFT" },
	{ NX_CRITICAL, NX_CRITICAL, NX_SOFT, 2, NX_SOFT, RETRY, "SOFT -> SOFT" },
	{ NX_WARNING, NX_WARNING, NX_HARD, 3, NX_HARD, INTERVAL,
	    "change on the last attempt goes HARD" },
	{ NX_OK, NX_OK, NX_HARD, 1, NX_HARD, INTERVAL, "hard recovery" },
	{ NX_OK, NX_OK, NX_HARD, 1, NO_EV, INTERVAL, "OK stays" },
};

static const struct step steps_first_crit[] = {
	{ NX_CRITICAL, NX_CRITICAL, NX_SOFT, 1, NX_SOFT, RETRY,
	    "first result CRITICAL: from the assumed OK HARD" },
	{ NX_CRITICAL, NX_CRITICAL, NX_HARD, 2, NX_HARD, INTERVAL, "HARD" },
	{ NX_OK, NX_OK, NX_HARD, 1, NX_HARD, INTERVAL, "hard recovery" },
};

static const struct step steps_max1[] = {
	{ NX_CRITICAL, NX_CRITICAL, NX_HARD, 1, NX_HARD, INTERVAL,
	    "max_attempts 1: HARD at once" },
	{ NX_WARNING, NX_WARNING, NX_HARD, 1, NX_HARD, INTERVAL, "HARD -> HARD" },
	{ NX_OK, NX_OK, NX_HARD, 1, NX_HARD, INTERVAL, "hard recovery" },
};

static void
run_steps(struct fix *f, uint8_t max, const struct step *steps, size_t n)
{
	struct check *c = add_check(f, "h", "svc", max);
	uint32_t id = c->id;
	nx_time t = T0, last_change = 0, last_hard = 0;
	enum nx_state prev = NX_OK;
	size_t i;

	f->e->running = true;   /* results schedule the next run */
	for (i = 0; i < n; i++) {
		const struct step *s = &steps[i];
		size_t before = f->nev;
		const struct seen *ev;

		print_message("step %zu: %s\n", i, s->what);
		t += 1000;
		result_at(f, id, s->in, t);
		c = &f->e->fleet.checks[id];
		assert_int_equal(c->state, s->state);
		assert_int_equal(c->state_type, s->type);
		assert_int_equal(c->attempt, s->attempt);
		assert_int_equal(c->next_due, t + (nx_time)s->next);
		assert_int_equal(count_kind(f, NX_EV_RESULT, before), 1);
		ev = last_kind(f, NX_EV_RESULT);       /* flapping may come first */
		assert_int_equal(ev->state, s->state);
		assert_int_equal(ev->state_type, s->type);
		assert_int_equal(ev->attempt, s->attempt);
		if (s->state_event == NO_EV) {
			assert_int_equal(count_kind(f, NX_EV_STATE, before), 0);
		} else {
			assert_int_equal(count_kind(f, NX_EV_STATE, before), 1);
			ev = last_kind(f, NX_EV_STATE);
			assert_int_equal(ev->state_type, s->state_event);
			assert_int_equal(ev->state, s->state);
			if (s->state_event == NX_HARD)
				last_hard = t;
		}
		/* last_change moves with the state, last_hard_change with HARD. */
		if (i == 0 || s->state != prev)
			last_change = t;
		if (i == 0)
			last_hard = t;
		prev = s->state;
		assert_int_equal(c->last_change, last_change);
		assert_int_equal(c->last_hard_change, last_hard);
		assert_int_equal(c->last_check, t);
	}
	assert_int_equal(f->e->results, n);
	assert_int_equal(f->e->pending, 0);
}

static void
test_transitions(void **state)
{
	run_steps(*state, 3, steps_max3, NX_ARRAY_LEN(steps_max3));
}

static void
test_transitions_first_critical(void **state)
{
	run_steps(*state, 2, steps_first_crit, NX_ARRAY_LEN(steps_first_crit));
}

static void
test_transitions_max1(void **state)
{
	run_steps(*state, 1, steps_max1, NX_ARRAY_LEN(steps_max1));
}

/* A result that did not come from a run (stale, passive) is not rescheduled. */
static void
test_passive_not_rescheduled(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 3);
	struct nx_result r = { .state = NX_CRITICAL, .time = T0 + 5 };

	f->e->running = true;
	c->next_due = 42;
	mon_apply_result(f->e, c, &r);
	assert_int_equal(c->next_due, 42);
	assert_int_equal(sched_size(f->e->sched), 0);
	assert_int_equal(f->e->pending, 0);
}

/* ---------------------------------------------------------------------- */
/* Flapping                                                                */

/*
 * Nagios's check_for_service_flapping() loop, transcribed independently
 * over a 21-entry state history (initialised to OK) to check monitor.c's
 * bit ring against it.
 */
struct nagios_hist {
	int states[21];
	int index;
};

static double
nagios_flap(struct nagios_hist *h, int now_state)
{
	double curved = 0.0, low = 0.75, high = 1.25;
	int x, y, last = 0;

	h->states[h->index] = now_state;
	h->index++;
	if (h->index >= 21)
		h->index = 0;
	for (x = 0, y = h->index; x < 21; x++) {
		if (x == 0) {
			last = h->states[y];
			y++;
			if (y >= 21)
				y = 0;
			continue;
		}
		if (last != h->states[y])
			curved += (((double)(x - 1) * (high - low)) /
			    ((double)(21 - 2))) + low;
		last = h->states[y];
		y++;
		if (y >= 21)
			y = 0;
	}
	return (double)((curved * 100.0) / (double)(21 - 1));
}

static void
test_flap_percent_values(void **state)
{
	assert_true(mon_flap_percent(0) == 0.0);
	assert_true(fabs(mon_flap_percent(1) - 6.25) < 1e-12);
	assert_true(fabs(mon_flap_percent(1u << 19) - 3.75) < 1e-12);
	assert_true(fabs(mon_flap_percent(0xfffff) - 100.0) < 1e-9);
	assert_true(fabs(mon_flap_percent(0x3) - 12.368421052631579) < 1e-9);
	/* Bits above the 20 transitions are ignored. */
	assert_true(mon_flap_percent(0x100001) == mon_flap_percent(1));
}

/*
 * Alternating OK/CRITICAL with max_attempts 1, then OK: hand-computed
 * percentages (weights 0.75 + (x-1)/38, x = 1 oldest .. 20 newest, sum *5):
 * 6.25, 12.368, 18.355, 24.211, 29.934, 35.526 (starts: >= 30), then the six
 * changes age: 34.737 after one OK, ..., 24.474 after 14 (still flapping:
 * hysteresis), 20.066 after 15 (the oldest change left the window; still
 * above 20), 15.789 after 16 (stops: <= 20).
 */
static void
test_flapping_sequence(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 1);
	uint32_t id = c->id;
	static const double up[] = {
		6.25, 12.368421052631579, 18.355263157894736,
		24.210526315789473, 29.934210526315788, 35.526315789473685,
	};
	nx_time t = T0;
	size_t i;
	const struct seen *ev;

	for (i = 0; i < 6; i++) {
		result_at(f, id, i % 2 == 0 ? NX_CRITICAL : NX_OK, t += 1000);
		c = &f->e->fleet.checks[id];
		assert_true(fabs(c->flap_pct - up[i]) < 1e-4);
		assert_int_equal(c->flapping, i == 5);
	}
	assert_int_equal(count_kind(f, NX_EV_FLAPPING, 0), 1);
	ev = last_kind(f, NX_EV_FLAPPING);
	assert_int_equal(ev->state, 1);
	assert_non_null(strstr(ev->text, "35.5% change >= 30.0% threshold"));
	/* The last result event already carries the flag. */
	ev = last_kind(f, NX_EV_RESULT);
	assert_true(ev->flags & NX_EVF_FLAPPING);
	assert_true(ev->flags & NX_EVF_SUPPRESS);

	for (i = 1; i <= 16; i++) {
		double want = i <= 14 ?
		    22.5 + 5.0 * (99.0 - 6.0 * (double)i) / 38.0 :
		    i == 15 ? 20.065789473684212 : 15.789473684210526;

		result_at(f, id, NX_OK, t += 1000);
		c = &f->e->fleet.checks[id];
		assert_true(fabs(c->flap_pct - want) < 1e-4);
		assert_int_equal(c->flapping, i < 16);
	}
	assert_int_equal(count_kind(f, NX_EV_FLAPPING, 0), 2);
	ev = last_kind(f, NX_EV_FLAPPING);
	assert_int_equal(ev->state, 0);
	assert_non_null(strstr(ev->text, "stopped flapping"));
}

/* Random state sequences against the transcription of Nagios's loop. */
static void
test_flapping_matches_nagios(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 2);
	uint32_t id = c->id, seed = 12345;
	struct nagios_hist h;
	nx_time t = T0;
	bool flapping = false;
	double last = 0;
	int i, round;

	for (round = 0; round < 4; round++) {
		memset(&h, 0, sizeof h);
		if (round > 0) {
			c = add_check(f, "h", round == 1 ? "a" : round == 2 ?
			    "b" : "c", (uint8_t)round);
			id = c->id;
			flapping = false;
			last = 0;
		}
		for (i = 0; i < 400; i++) {
			enum nx_state s;
			double want;

			seed = seed * 1103515245u + 12345u;
			/* Runs of the same state, of random length. */
			s = (seed >> 16) % (round + 3) < 2 ?
			    (enum nx_state)((seed >> 20) % 4) :
			    (enum nx_state)f->e->fleet.checks[id].state;
			result_at(f, id, s, t += 1000);
			c = &f->e->fleet.checks[id];
			/* Nagios records only HARD states and recoveries. */
			if (c->state_type == NX_HARD || s == NX_OK)
				want = last = nagios_flap(&h, (int)s);
			else
				want = last;
			assert_true(mon_flap_percent(c->flap_ring) == want);
			assert_true(c->flap_pct == (float)want);
			if (want >= 30.0)
				flapping = true;
			else if (want <= 20.0)
				flapping = false;
			assert_int_equal(c->flapping, flapping);
		}
	}
}

/* SOFT problems are not recorded: only the HARD state counts. */
static void
test_flapping_soft_not_recorded(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 3);
	uint32_t id = c->id;

	result_at(f, id, NX_OK, T0 + 1);
	result_at(f, id, NX_CRITICAL, T0 + 2);
	result_at(f, id, NX_WARNING, T0 + 3);
	c = &f->e->fleet.checks[id];
	assert_int_equal(c->state_type, NX_SOFT);
	assert_int_equal(c->flap_ring, 0);
	assert_true(c->flap_pct == 0);
	assert_int_equal(c->flap_count, 1);
	result_at(f, id, NX_WARNING, T0 + 4);           /* HARD WARNING */
	c = &f->e->fleet.checks[id];
	assert_int_equal(c->flap_ring, 1);
	assert_true(fabs(c->flap_pct - 6.25) < 1e-6);
	/*
	 * A soft recovery is recorded, but the SOFT problem before it was not,
	 * so it is no change against the OK recorded before.
	 */
	result_at(f, id, NX_CRITICAL, T0 + 5);          /* HARD -> HARD */
	result_at(f, id, NX_OK, T0 + 6);
	result_at(f, id, NX_WARNING, T0 + 7);           /* SOFT: skipped */
	result_at(f, id, NX_OK, T0 + 8);                /* soft recovery */
	c = &f->e->fleet.checks[id];
	assert_int_equal(c->flap_ring, 0xe);   /* OK WARNING CRITICAL OK OK */
	assert_int_equal(c->flap_count, 5);
}

static void
test_flapping_thresholds_on_check(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 1);
	uint32_t id = c->id;

	c->flap_low = 5;
	c->flap_high = 10;
	result_at(f, id, NX_CRITICAL, T0 + 1);
	assert_false(f->e->fleet.checks[id].flapping);         /* 6.25 */
	result_at(f, id, NX_OK, T0 + 2);
	assert_true(f->e->fleet.checks[id].flapping);          /* 12.37 */
	/* Engine-wide thresholds apply when the check has none. */
	c = add_check(f, "h", "svc2", 1);
	f->e->mon.flap_high = 6;
	result_at(f, c->id, NX_CRITICAL, T0 + 3);
	assert_true(f->e->fleet.checks[c->id].flapping);
}

/* ---------------------------------------------------------------------- */
/* Acknowledgements                                                        */

static void
test_ack_normal(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 2);
	uint32_t id = c->id;
	struct nx_err err;
	const struct seen *ev;

	result_at(f, id, NX_OK, T0 + 1);
	assert_int_equal(mon_ack_check(f->e, c, NX_ACK_NORMAL, "ann", "x", 0,
	    &err), -1);
	assert_non_null(strstr(err.msg, "not a problem"));
	result_at(f, id, NX_CRITICAL, T0 + 2);          /* SOFT 1 */
	c = &f->e->fleet.checks[id];
	assert_int_equal(mon_ack_check(f->e, c, NX_ACK_NORMAL, "ann",
	    "on it", 0, &err), 0);
	ev = last_kind(f, NX_EV_ACK);
	assert_int_equal(ev->state, 1);
	assert_non_null(strstr(ev->text, "ann"));
	assert_string_equal(c->ack.author, "ann");
	assert_string_equal(c->ack.comment, "on it");
	/* SOFT -> HARD of the same state: a hard change, not a state change. */
	result_at(f, id, NX_CRITICAL, T0 + 3);
	c = &f->e->fleet.checks[id];
	assert_int_equal(c->state_type, NX_HARD);
	assert_int_equal(c->ack.type, NX_ACK_NORMAL);
	ev = last_kind(f, NX_EV_RESULT);
	assert_int_equal(ev->flags & (NX_EVF_ACKED | NX_EVF_SUPPRESS),
	    NX_EVF_ACKED | NX_EVF_SUPPRESS);
	result_at(f, id, NX_CRITICAL, T0 + 4);
	assert_int_equal(f->e->fleet.checks[id].ack.type, NX_ACK_NORMAL);
	/* Any state change clears a normal ack, problem to problem too. */
	result_at(f, id, NX_WARNING, T0 + 5);
	c = &f->e->fleet.checks[id];
	assert_int_equal(c->ack.type, NX_ACK_NONE);
	ev = last_kind(f, NX_EV_ACK);
	assert_int_equal(ev->state, 0);
	assert_int_equal(last_kind(f, NX_EV_RESULT)->flags & NX_EVF_ACKED, 0);
}

static void
test_ack_sticky(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 1);
	uint32_t id = c->id;
	struct nx_err err;

	result_at(f, id, NX_CRITICAL, T0 + 1);
	c = &f->e->fleet.checks[id];
	assert_int_equal(mon_ack_check(f->e, c, NX_ACK_STICKY, "bob", "", 0,
	    &err), 0);
	result_at(f, id, NX_WARNING, T0 + 2);
	assert_int_equal(f->e->fleet.checks[id].ack.type, NX_ACK_STICKY);
	result_at(f, id, NX_UNKNOWN, T0 + 3);
	assert_int_equal(f->e->fleet.checks[id].ack.type, NX_ACK_STICKY);
	result_at(f, id, NX_OK, T0 + 4);
	assert_int_equal(f->e->fleet.checks[id].ack.type, NX_ACK_NONE);
	assert_non_null(strstr(last_kind(f, NX_EV_ACK)->text, "recovered"));
}

static void
test_ack_expiry_and_removal(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 1);
	uint32_t id = c->id;
	struct nx_err err;

	result_at(f, id, NX_CRITICAL, T0 + 1);
	c = &f->e->fleet.checks[id];
	assert_int_equal(mon_ack_check(f->e, c, NX_ACK_STICKY, "c", "d",
	    T0 + 5000, &err), 0);
	mon_tick(f->e, T0 + 4999);
	assert_int_equal(f->e->fleet.checks[id].ack.type, NX_ACK_STICKY);
	mon_tick(f->e, T0 + 5000);
	assert_int_equal(f->e->fleet.checks[id].ack.type, NX_ACK_NONE);
	assert_non_null(strstr(last_kind(f, NX_EV_ACK)->text, "expired"));
	assert_int_equal(mon_ack_check(f->e, c, NX_ACK_NORMAL, "c", "d", 0,
	    &err), 0);
	mon_ack_remove_check(f->e, c, T0 + 6000);
	assert_int_equal(c->ack.type, NX_ACK_NONE);
	assert_int_equal(mon_ack_check(f->e, c, (enum nx_ack_type)7, "c", "d",
	    0, &err), -1);
}

static void
test_ack_node(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "ping", 1);
	uint32_t id = c->id;
	struct node *n;
	struct nx_err err;

	c->is_host_check = true;
	n = &f->e->fleet.nodes[c->node];
	assert_int_equal(mon_ack_node(f->e, n, NX_ACK_NORMAL, "a", "b", 0,
	    &err), -1);
	result_at(f, id, NX_CRITICAL, T0 + 1);
	assert_int_equal(n->host_state, NX_HOST_DOWN);
	assert_int_equal(mon_ack_node(f->e, n, NX_ACK_STICKY, "a", "b", 0,
	    &err), 0);
	assert_true(mon_check_flags(f->e, &f->e->fleet.checks[id]) &
	    NX_EVF_ACKED);
	result_at(f, id, NX_OK, T0 + 2);
	assert_int_equal(n->host_state, NX_HOST_UP);
	assert_int_equal(n->ack.type, NX_ACK_NONE);
}

/* ---------------------------------------------------------------------- */
/* Downtime                                                                */

static void
test_downtime_fixed(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 1);
	uint32_t id = c->id, dt;
	struct nx_err err;
	const struct seen *ev;

	assert_int_equal(mon_downtime_add(f->e, NX_NONE, id, T0 + 1000,
	    T0 + 11000, true, 0, "ops", "patching", &dt, &err), 0);
	assert_int_equal(c->downtime_depth, 0);         /* not yet */
	assert_false(mon_check_in_downtime(f->e, c));
	mon_downtimes_update(f->e, T0 + 1000);
	assert_int_equal(c->downtime_depth, 1);
	ev = last_kind(f, NX_EV_DOWNTIME);
	assert_int_equal(ev->state, 1);
	assert_non_null(strstr(ev->text, "patching"));
	result_at(f, id, NX_CRITICAL, T0 + 2000);
	ev = last_kind(f, NX_EV_STATE);
	assert_int_equal(ev->flags & (NX_EVF_DOWNTIME | NX_EVF_SUPPRESS),
	    NX_EVF_DOWNTIME | NX_EVF_SUPPRESS);
	mon_downtimes_update(f->e, T0 + 10999);
	assert_int_equal(c->downtime_depth, 1);
	mon_downtimes_update(f->e, T0 + 11000);
	assert_int_equal(c->downtime_depth, 0);
	assert_int_equal(last_kind(f, NX_EV_DOWNTIME)->state, 0);
	assert_null(mon_downtime_find(f->e, dt));
	result_at(f, id, NX_CRITICAL, T0 + 12000);
	assert_int_equal(last_kind(f, NX_EV_RESULT)->flags, 0);

	/* Bad requests. */
	assert_int_equal(mon_downtime_add(f->e, 0, id, T0, T0 + 1, true, 0,
	    NULL, NULL, NULL, &err), -1);
	assert_int_equal(mon_downtime_add(f->e, NX_NONE, id, T0 + 5, T0 + 5,
	    true, 0, NULL, NULL, NULL, &err), -1);
	assert_int_equal(mon_downtime_add(f->e, NX_NONE, id, T0, T0 + 5,
	    false, 0, NULL, NULL, NULL, &err), -1);
	assert_int_equal(mon_downtime_add(f->e, NX_NONE, 999, T0, T0 + 5,
	    true, 0, NULL, NULL, NULL, &err), -1);
}

static void
test_downtime_flexible(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 2);
	uint32_t id = c->id, dt, dt2;
	struct nx_err err;
	const struct nx_downtime *d;

	/* Window T0..T0+60s, 5 s once triggered; now is T0 (frozen). */
	assert_int_equal(mon_downtime_add(f->e, NX_NONE, id, T0, T0 + 60000,
	    false, 5000, "ops", "maybe", &dt, &err), 0);
	result_at(f, id, NX_OK, T0 + 1000);
	mon_downtimes_update(f->e, T0 + 1000);
	assert_int_equal(f->e->fleet.checks[id].downtime_depth, 0);
	/* A SOFT problem does not trigger it; the HARD one does. */
	result_at(f, id, NX_CRITICAL, T0 + 2000);
	assert_int_equal(f->e->fleet.checks[id].downtime_depth, 0);
	result_at(f, id, NX_CRITICAL, T0 + 3000);
	assert_int_equal(f->e->fleet.checks[id].downtime_depth, 1);
	d = mon_downtime_find(f->e, dt);
	assert_non_null(d);
	assert_true(d->in_effect);
	assert_int_equal(d->began, T0 + 3000);
	mon_downtimes_update(f->e, T0 + 7999);
	assert_int_equal(f->e->fleet.checks[id].downtime_depth, 1);
	mon_downtimes_update(f->e, T0 + 8000);
	assert_int_equal(f->e->fleet.checks[id].downtime_depth, 0);
	assert_null(mon_downtime_find(f->e, dt));

	/* One that never triggers goes at the end of its window. */
	result_at(f, id, NX_OK, T0 + 9000);
	assert_int_equal(mon_downtime_add(f->e, NX_NONE, id, T0, T0 + 20000,
	    false, 5000, NULL, NULL, &dt2, &err), 0);
	mon_downtimes_update(f->e, T0 + 19999);
	assert_non_null(mon_downtime_find(f->e, dt2));
	mon_downtimes_update(f->e, T0 + 20000);
	assert_null(mon_downtime_find(f->e, dt2));
	assert_int_equal(f->e->fleet.checks[id].downtime_depth, 0);

	/* Already in a HARD problem when the window opens: starts then. */
	result_at(f, id, NX_CRITICAL, T0 + 21000);
	result_at(f, id, NX_CRITICAL, T0 + 22000);
	assert_int_equal(mon_downtime_add(f->e, NX_NONE, id, T0 + 30000,
	    T0 + 40000, false, 1000, NULL, NULL, &dt2, &err), 0);
	mon_downtimes_update(f->e, T0 + 29999);
	assert_int_equal(f->e->fleet.checks[id].downtime_depth, 0);
	mon_downtimes_update(f->e, T0 + 30000);
	assert_int_equal(f->e->fleet.checks[id].downtime_depth, 1);
	assert_int_equal(mon_downtime_remove(f->e, dt2, T0 + 30500), 0);
	assert_int_equal(f->e->fleet.checks[id].downtime_depth, 0);
	assert_int_equal(mon_downtime_remove(f->e, dt2, T0 + 30500), -1);
}

/* A node in downtime suppresses its services' events too (Nagios). */
static void
test_downtime_node(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 1);
	uint32_t id = c->id;
	struct nx_err err;

	assert_int_equal(mon_downtime_add(f->e, c->node, NX_NONE, T0 - 1,
	    T0 + 1000, true, 0, NULL, NULL, NULL, &err), 0);
	assert_int_equal(f->e->fleet.nodes[c->node].downtime_depth, 1);
	result_at(f, id, NX_CRITICAL, T0 + 10);
	assert_true(last_kind(f, NX_EV_RESULT)->flags & NX_EVF_DOWNTIME);
	assert_true(mon_check_in_downtime(f->e, &f->e->fleet.checks[id]));
}

/* ---------------------------------------------------------------------- */
/* Freshness and timeouts                                                  */

static void
test_freshness(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 3);
	struct check *auto_c = add_check(f, "h", "auto", 3);
	uint32_t id = c->id, aid = auto_c->id;

	f->e->fleet.checks[id].freshness_ms = 5000;
	result_at(f, id, NX_OK, T0 + 1000);
	result_at(f, aid, NX_OK, T0 + 1000);
	assert_int_equal(mon_check_freshness(f->e, T0 + 6000), 0);
	assert_int_equal(mon_check_freshness(f->e, T0 + 7500), 1);
	c = &f->e->fleet.checks[id];
	assert_int_equal(c->state, NX_UNKNOWN);
	assert_int_equal(c->state_type, NX_SOFT);
	assert_string_equal(c->output, "stale: no result for 6s");
	assert_int_equal(c->last_check, T0 + 7500);
	assert_int_equal(f->e->mon.stale, 1);
	f->e->fleet.checks[id].freshness_ms = 1000000;
	/* Automatic: interval 60 s + timeout 10 s + 15 s. */
	assert_int_equal(f->e->fleet.checks[aid].state, NX_OK);
	assert_int_equal(mon_check_freshness(f->e, T0 + 1000 + 85000), 0);
	/* A running check is not stale: its timeout will speak. */
	f->e->fleet.checks[aid].running = true;
	assert_int_equal(mon_check_freshness(f->e, T0 + 1000 + 85001), 0);
	assert_int_equal(f->e->fleet.checks[aid].state, NX_OK);
	f->e->fleet.checks[aid].running = false;
	assert_int_equal(mon_check_freshness(f->e, T0 + 1000 + 85001), 1);
	assert_int_equal(f->e->fleet.checks[aid].state, NX_UNKNOWN);
}

static void
test_freshness_never_checked(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 1);

	c->freshness_ms = 1000;
	assert_int_equal(mon_check_freshness(f->e, T0 + 1000), 0);
	assert_int_equal(mon_check_freshness(f->e, T0 + 2000), 1);
	assert_string_equal(c->output, "stale: no result for 2s");
	assert_int_equal(c->state_type, NX_HARD);
}

static void
test_timeout(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 1);

	assert_int_equal(mon_timeout_state(f->e), NX_CRITICAL);
	mon_run_check(f->e, c);
	assert_true(c->running);
	mon_apply_timeout(f->e, c, 10012);
	assert_false(c->running);
	assert_int_equal(c->state, NX_CRITICAL);
	assert_string_equal(c->output,
	    "(Service check timed out after 10.01 seconds)");
	mon_set_timeout_state(f->e, NX_UNKNOWN);
	mon_apply_timeout(f->e, c, 500);
	assert_int_equal(c->state, NX_UNKNOWN);
	assert_string_equal(c->output,
	    "(Service check timed out after 0.50 seconds)");
	c->is_host_check = true;
	mon_apply_timeout(f->e, c, 500);
	assert_non_null(strstr(c->output, "(Host check timed out"));
}

/* ---------------------------------------------------------------------- */
/* Hosts: DOWN, UNREACHABLE through parents, services on problem hosts      */

static void
test_unreachable_through_parents(void **state)
{
	struct fix *f = *state;
	struct check *rping = add_check(f, "router", "ping", 2);
	struct check *wping = add_check(f, "web", "ping", 2);
	struct check *http = add_check(f, "web", "http", 3);
	uint32_t r = rping->id, w = wping->id, h = http->id;
	uint32_t rn = rping->node, wn = wping->node;
	const struct seen *ev;

	f->e->fleet.checks[r].is_host_check = true;
	f->e->fleet.checks[w].is_host_check = true;
	mon_node_add_parent(f->e, &f->e->fleet.nodes[wn], rn);
	mon_node_add_parent(f->e, &f->e->fleet.nodes[wn], rn);
	assert_int_equal(f->e->fleet.nodes[wn].nparents, 1);

	/* The router goes DOWN (HARD after 2). */
	result_at(f, r, NX_CRITICAL, T0 + 1);
	assert_int_equal(f->e->fleet.nodes[rn].host_state, NX_HOST_UP);
	result_at(f, r, NX_CRITICAL, T0 + 2);
	assert_int_equal(f->e->fleet.nodes[rn].host_state, NX_HOST_DOWN);
	/* web's own check fails: UNREACHABLE, not DOWN. */
	result_at(f, w, NX_CRITICAL, T0 + 3);
	result_at(f, w, NX_CRITICAL, T0 + 4);
	assert_int_equal(f->e->fleet.nodes[wn].host_state, NX_HOST_UNREACHABLE);
	assert_int_equal(f->e->fleet.nodes[wn].health, NX_H_UNREACHABLE);
	ev = last_kind(f, NX_EV_HOST);
	assert_int_equal(ev->node, wn);
	assert_int_equal(ev->state, NX_HOST_UNREACHABLE);
	assert_true(ev->flags & NX_EVF_HOST_PROBLEM);

	/* A service problem on it: HARD at once, not a separate incident. */
	result_at(f, h, NX_CRITICAL, T0 + 5);
	assert_int_equal(f->e->fleet.checks[h].state_type, NX_HARD);
	assert_int_equal(f->e->fleet.checks[h].attempt, 1);
	assert_true(f->e->fleet.checks[h].host_problem);
	assert_int_equal(f->e->fleet.checks[h].next_due, 0);   /* not live */
	ev = last_kind(f, NX_EV_STATE);
	assert_int_equal(ev->state_type, NX_HARD);
	assert_int_equal(ev->flags & (NX_EVF_HOST_PROBLEM | NX_EVF_SUPPRESS),
	    NX_EVF_HOST_PROBLEM | NX_EVF_SUPPRESS);

	/* The router comes back: web is now DOWN in its own right. */
	result_at(f, r, NX_OK, T0 + 6);
	assert_int_equal(f->e->fleet.nodes[rn].host_state, NX_HOST_UP);
	assert_int_equal(f->e->fleet.nodes[wn].host_state, NX_HOST_DOWN);
	ev = last_kind(f, NX_EV_HOST);
	assert_int_equal(ev->node, wn);
	assert_int_equal(ev->prev_state, NX_HOST_UNREACHABLE);
	assert_int_equal(ev->state, NX_HOST_DOWN);

	/* Router DOWN again while web is DOWN: web becomes UNREACHABLE. */
	result_at(f, r, NX_CRITICAL, T0 + 7);
	result_at(f, r, NX_CRITICAL, T0 + 8);
	assert_int_equal(f->e->fleet.nodes[wn].host_state, NX_HOST_UNREACHABLE);

	/* All up: the service recovery after a host problem is HARD. */
	result_at(f, r, NX_OK, T0 + 9);
	result_at(f, w, NX_OK, T0 + 10);
	assert_int_equal(f->e->fleet.nodes[wn].host_state, NX_HOST_UP);
	result_at(f, h, NX_OK, T0 + 11);
	ev = last_kind(f, NX_EV_STATE);
	assert_int_equal(ev->check, h);
	assert_int_equal(ev->state_type, NX_HARD);
	assert_false(f->e->fleet.checks[h].host_problem);
	assert_int_equal(last_kind(f, NX_EV_RESULT)->flags, 0);
}

/* DOWN when any parent is UP (Nagios's determine_host_reachability). */
static void
test_reachability_two_parents(void **state)
{
	struct fix *f = *state;
	struct check *a = add_check(f, "a", "ping", 1);
	struct check *b = add_check(f, "b", "ping", 1);
	struct check *x = add_check(f, "x", "ping", 1);
	uint32_t ai = a->id, bi = b->id, xi = x->id;
	struct node *xn;

	a->is_host_check = b->is_host_check = x->is_host_check = true;
	xn = &f->e->fleet.nodes[x->node];
	mon_node_add_parent(f->e, xn, a->node);
	mon_node_add_parent(f->e, xn, b->node);
	result_at(f, ai, NX_CRITICAL, T0 + 1);
	result_at(f, xi, NX_CRITICAL, T0 + 2);
	xn = &f->e->fleet.nodes[f->e->fleet.checks[xi].node];
	assert_int_equal(xn->host_state, NX_HOST_DOWN);         /* b is UP */
	assert_int_equal(mon_node_reachability(&f->e->fleet, xn), NX_HOST_DOWN);
	result_at(f, bi, NX_CRITICAL, T0 + 3);
	assert_int_equal(xn->host_state, NX_HOST_UNREACHABLE);
}

/* A chain r <- m <- l: a change propagates down the tree. */
static void
test_reachability_chain(void **state)
{
	struct fix *f = *state;
	uint32_t r = add_check(f, "r", "ping", 1)->id;
	uint32_t m = add_check(f, "m", "ping", 1)->id;
	uint32_t l = add_check(f, "l", "ping", 1)->id;
	struct fleet *fl = &f->e->fleet;
	uint32_t rn = fl->checks[r].node, mn = fl->checks[m].node,
	    ln = fl->checks[l].node;

	fl->checks[r].is_host_check = fl->checks[m].is_host_check =
	    fl->checks[l].is_host_check = true;
	mon_node_add_parent(f->e, &fl->nodes[mn], rn);
	mon_node_add_parent(f->e, &fl->nodes[ln], mn);
	result_at(f, l, NX_CRITICAL, T0 + 1);
	assert_int_equal(fl->nodes[ln].host_state, NX_HOST_DOWN);
	result_at(f, m, NX_CRITICAL, T0 + 2);
	assert_int_equal(fl->nodes[mn].host_state, NX_HOST_DOWN);
	assert_int_equal(fl->nodes[ln].host_state, NX_HOST_UNREACHABLE);
	result_at(f, r, NX_CRITICAL, T0 + 3);
	assert_int_equal(fl->nodes[rn].host_state, NX_HOST_DOWN);
	assert_int_equal(fl->nodes[mn].host_state, NX_HOST_UNREACHABLE);
	assert_int_equal(fl->nodes[ln].host_state, NX_HOST_UNREACHABLE);
	result_at(f, r, NX_OK, T0 + 4);
	assert_int_equal(fl->nodes[mn].host_state, NX_HOST_DOWN);
	assert_int_equal(fl->nodes[ln].host_state, NX_HOST_UNREACHABLE);
	result_at(f, m, NX_OK, T0 + 5);
	assert_int_equal(fl->nodes[mn].host_state, NX_HOST_UP);
	assert_int_equal(fl->nodes[ln].host_state, NX_HOST_DOWN);
	assert_int_equal(fl->health_count[NX_H_DOWN], 1);
	assert_int_equal(fl->health_count[NX_H_UNREACHABLE], 0);
	assert_int_equal(fl->health_count[NX_H_OK], 2);
}

/* A node goes DOWN while a service is SOFT: HARD at once; back up: retries. */
static void
test_service_on_down_host(void **state)
{
	struct fix *f = *state;
	struct check *ping = add_check(f, "h", "ping", 1);
	struct check *svc = add_check(f, "h", "svc", 3);
	uint32_t p = ping->id, s = svc->id;
	size_t before;

	ping->is_host_check = true;
	f->e->running = true;
	result_at(f, s, NX_WARNING, T0 + 1);
	assert_int_equal(f->e->fleet.checks[s].state_type, NX_SOFT);
	result_at(f, p, NX_CRITICAL, T0 + 2);
	result_at(f, s, NX_WARNING, T0 + 3);            /* attempt 2, host DOWN */
	svc = &f->e->fleet.checks[s];
	assert_int_equal(svc->state_type, NX_HARD);
	assert_int_equal(svc->attempt, 2);
	assert_int_equal(svc->next_due, T0 + 3 + INTERVAL);    /* no retry */
	before = f->nev;
	result_at(f, s, NX_WARNING, T0 + 4);            /* still down: no change */
	assert_int_equal(count_kind(f, NX_EV_STATE, before), 0);
	result_at(f, p, NX_OK, T0 + 5);
	/*
	 * Host back with attempt 2 of 3: Nagios gives the check its remaining
	 * retries, so the HARD problem reads SOFT again (no state event) and
	 * returns to HARD, silently, on the last attempt.
	 */
	before = f->nev;
	result_at(f, s, NX_WARNING, T0 + 6);
	svc = &f->e->fleet.checks[s];
	assert_int_equal(svc->state_type, NX_SOFT);
	assert_int_equal(svc->attempt, 2);
	assert_int_equal(svc->next_due, T0 + 6 + RETRY);
	assert_false(svc->host_problem);
	result_at(f, s, NX_WARNING, T0 + 7);
	svc = &f->e->fleet.checks[s];
	assert_int_equal(svc->state_type, NX_HARD);
	assert_int_equal(svc->attempt, 3);
	assert_int_equal(count_kind(f, NX_EV_STATE, before), 0);
}

/* ---------------------------------------------------------------------- */
/* Concurrency limit and latency                                           */

static void
test_concurrency_limit(void **state)
{
	struct fix *f = *state;
	uint32_t ids[5];
	int i;

	f->e->mon.max_running = 2;
	for (i = 0; i < 5; i++) {
		char name[8];

		snprintf(name, sizeof name, "c%d", i);
		ids[i] = add_check(f, "h", name, 1)->id;
	}
	for (i = 0; i < 5; i++)
		mon_run_check(f->e, &f->e->fleet.checks[ids[i]]);
	mon_run_check(f->e, &f->e->fleet.checks[ids[4]]);       /* no dup */
	assert_int_equal(f->nstarted, 2);
	assert_int_equal(f->e->pending, 2);
	assert_int_equal(f->e->mon.nqueued, 3);
	assert_true(f->e->fleet.checks[ids[2]].queued);
	result_at(f, ids[1], NX_OK, T0 + 1);
	assert_int_equal(f->nstarted, 3);
	assert_int_equal(f->started[2], ids[2]);
	assert_int_equal(f->e->pending, 2);
	result_at(f, ids[0], NX_OK, T0 + 2);
	result_at(f, ids[2], NX_OK, T0 + 3);
	assert_int_equal(f->nstarted, 5);
	assert_int_equal(f->started[3], ids[3]);
	assert_int_equal(f->started[4], ids[4]);
	assert_int_equal(f->e->mon.nqueued, 0);
	result_at(f, ids[3], NX_OK, T0 + 4);
	result_at(f, ids[4], NX_OK, T0 + 5);
	assert_int_equal(f->e->pending, 0);
	/* The default limit is 512. */
	f->e->mon.max_running = 0;
	for (i = 0; i < 600; i++) {
		char name[8];

		snprintf(name, sizeof name, "m%d", i);
		add_check(f, "h", name, 1);
	}
	for (i = 0; i < 600; i++)
		mon_run_check(f->e, &f->e->fleet.checks[ids[4] + 1 + i]);
	assert_int_equal(f->e->pending, 512);
	assert_int_equal(f->e->mon.nqueued, 88);
}

static void
test_latency(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 1);
	struct nx_latency l;
	int i;

	c->next_due = T0 - 50;          /* planned 50 ms ago */
	mon_run_check(f->e, c);
	assert_int_equal(f->e->mon.latency.count, 1);
	assert_true(f->e->mon.latency.sum_ms == 50);
	assert_true(f->e->mon.latency.max_ms == 50);
	result_at(f, c->id, NX_OK, T0);
	/* Run again without being rescheduled: not a scheduled start. */
	mon_run_check(f->e, c);
	assert_int_equal(f->e->mon.latency.count, 1);

	memset(&l, 0, sizeof l);
	assert_true(mon_latency_quantile(&l, 0.99) == 0);
	for (i = 1; i <= 1000; i++)
		mon_latency_add(&l, i);
	assert_int_equal(l.count, 1000);
	assert_true(l.max_ms == 1000);
	assert_true(mon_latency_quantile(&l, 0.99) >= 990);
	assert_true(mon_latency_quantile(&l, 0.99) <= 990 * 1.125);
	assert_true(mon_latency_quantile(&l, 0.5) >= 500);
	assert_true(mon_latency_quantile(&l, 0.5) <= 500 * 1.125);
	assert_true(mon_latency_quantile(&l, 1.0) == 1000);
	memset(&l, 0, sizeof l);
	mon_latency_add(&l, 3);
	assert_true(mon_latency_quantile(&l, 0.99) == 3);
}

/* Output is capped and copied; a shorter one reuses the buffer. */
static void
test_output_copy(void **state)
{
	struct fix *f = *state;
	struct check *c = add_check(f, "h", "svc", 1);
	char *big = xmalloc(10000);
	struct nx_result r = { .state = NX_OK, .output = big,
	    .output_len = 10000, .time = T0 };

	memset(big, 'x', 10000);
	mon_apply_result(f->e, c, &r);
	assert_int_equal(strlen(c->output), 8192);
	r.output = "short";
	r.output_len = 5;
	mon_apply_result(f->e, c, &r);
	assert_string_equal(c->output, "short");
	r.output = NULL;
	mon_apply_result(f->e, c, &r);
	assert_string_equal(c->output, "");
	free(big);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_transitions),
		T(test_transitions_first_critical),
		T(test_transitions_max1),
		T(test_passive_not_rescheduled),
		cmocka_unit_test(test_flap_percent_values),
		T(test_flapping_sequence),
		T(test_flapping_matches_nagios),
		T(test_flapping_soft_not_recorded),
		T(test_flapping_thresholds_on_check),
		T(test_ack_normal),
		T(test_ack_sticky),
		T(test_ack_expiry_and_removal),
		T(test_ack_node),
		T(test_downtime_fixed),
		T(test_downtime_flexible),
		T(test_downtime_node),
		T(test_freshness),
		T(test_freshness_never_checked),
		T(test_timeout),
		T(test_unreachable_through_parents),
		T(test_reachability_two_parents),
		T(test_reachability_chain),
		T(test_service_on_down_host),
		T(test_concurrency_limit),
		T(test_latency),
		T(test_output_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
