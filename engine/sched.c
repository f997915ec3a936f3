/*
 * sched.c - when each check runs next.
 *
 * A timing wheel: SCHED_SLOTS slots of SCHED_SLOT_MS each (about 22
 * minutes in all), each slot a vector of (due time, check id), plus a
 * min-heap for the rare entries due further out than the wheel reaches.
 * Adding and running a check are O(1) and touch one slot's memory, where a
 * heap of 500,000 entries misses the cache on every level of every pop
 * (it was half of the engine's idle CPU at 100,000 nodes).
 *
 * One uv_timer is armed for the end of the next non-empty slot, so checks
 * run at most SCHED_SLOT_MS late and 20,000 results a second cost fifty
 * wakeups, not 20,000.  The monitor re-adds a check when its result
 * arrives, at now + interval (or the retry interval while SOFT).  Entries
 * are never removed early: the check's next_due names its one live entry,
 * and an entry that a later sched_add() superseded is skipped when due.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define SCHED_SLOT_MS 20
#define SCHED_SLOTS 65536
#define SCHED_SPAN ((nx_time)SCHED_SLOT_MS * SCHED_SLOTS)

struct sched_item {
	nx_time due;
	uint32_t check;
};

struct sched_slot {
	struct sched_item *items;
	uint32_t n, cap;
};

struct sched {
	struct engine *e;
	struct sched_slot *slots;       /* SCHED_SLOTS, allocated on first add */
	nx_time cursor;         /* start of the first slot not yet run */
	size_t nwheel;          /* entries in the slots */
	struct sched_item *far; /* min-heap of entries due past the wheel */
	size_t nfar, farcap;
	uv_timer_t timer;
	bool started;
	bool timer_open;
	bool running;           /* inside sched_run_due() */
	nx_time armed_for;      /* when the timer fires; 0 = not armed */
};

static struct sched_slot *
sched_slot_at(struct sched *s, nx_time t)
{
	return &s->slots[(uint64_t)(t / SCHED_SLOT_MS) % SCHED_SLOTS];
}

static void
sched_slot_push(struct sched_slot *sl, nx_time due, uint32_t check)
{
	if (sl->n == sl->cap) {
		sl->cap = sl->cap ? sl->cap * 2 : 16;
		sl->items = xreallocarray(sl->items, sl->cap, sizeof *sl->items);
	}
	sl->items[sl->n].due = due;
	sl->items[sl->n].check = check;
	sl->n++;
}

/* The far heap: a binary min-heap on due. */
static void
sched_far_push(struct sched *s, nx_time due, uint32_t check)
{
	size_t i;

	if (s->nfar == s->farcap) {
		s->farcap = s->farcap ? s->farcap * 2 : 64;
		s->far = xreallocarray(s->far, s->farcap, sizeof *s->far);
	}
	i = s->nfar++;
	while (i > 0 && s->far[(i - 1) / 2].due > due) {
		s->far[i] = s->far[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->far[i].due = due;
	s->far[i].check = check;
}

static struct sched_item
sched_far_pop(struct sched *s)
{
	struct sched_item top = s->far[0], last = s->far[--s->nfar];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, m;

		if (l >= s->nfar)
			break;
		m = l + 1 < s->nfar && s->far[l + 1].due < s->far[l].due ?
		    l + 1 : l;
		if (last.due <= s->far[m].due)
			break;
		s->far[i] = s->far[m];
		i = m;
	}
	if (s->nfar > 0)
		s->far[i] = last;
	return top;
}

/* Files one entry in the wheel, or in the far heap when out of its reach. */
static void
sched_file(struct sched *s, nx_time due, uint32_t check)
{
	if (due >= s->cursor + SCHED_SPAN) {
		sched_far_push(s, due, check);
		return;
	}
	/* Already past: it goes in the first slot still to run. */
	sched_slot_push(sched_slot_at(s, due < s->cursor ? s->cursor : due),
	    due, check);
	s->nwheel++;
}

static void sched_arm(struct sched *);

/*
 * Runs every slot that has ended by now, moving far entries into the wheel
 * as the cursor advances.  A check added while its slot runs (only a check
 * already due can land in the slot being run) is run in the same pass.
 */
static void
sched_run_due(struct sched *s, nx_time now)
{
	struct engine *e = s->e;

	s->running = true;
	if (s->nwheel == 0 && now - s->cursor > SCHED_SLOT_MS)
		s->cursor = now - now % SCHED_SLOT_MS;  /* nothing in between */
	while (s->cursor + SCHED_SLOT_MS <= now) {
		struct sched_slot *sl = sched_slot_at(s, s->cursor);
		uint32_t i;

		for (i = 0; i < sl->n; i++) {
			struct sched_item it = sl->items[i];
			struct check *c;

			s->nwheel--;
			if (it.check >= e->fleet.nchecks)
				continue;
			c = &e->fleet.checks[it.check];
			/* A later sched_add() superseded this entry. */
			if (c->next_due != it.due || c->running)
				continue;
			mon_run_check(e, c);
		}
		sl->n = 0;
		s->cursor += SCHED_SLOT_MS;
		while (s->nfar > 0 && s->far[0].due < s->cursor + SCHED_SPAN) {
			struct sched_item it = sched_far_pop(s);

			sched_file(s, it.due, it.check);
		}
		if (s->nwheel == 0 && s->nfar == 0)
			s->cursor = now - now % SCHED_SLOT_MS;
	}
	s->running = false;
}

/* Runs what is due by `now` and re-arms the timer; the timer's callback. */
void
sched_run(struct sched *s, nx_time now)
{
	s->armed_for = 0;
	sched_run_due(s, now);
	sched_arm(s);
}

static void
sched_on_timer(uv_timer_t *t)
{
	struct sched *s = t->data;

	sched_run(s, engine_now(s->e));
}

static void
sched_arm_at(struct sched *s, nx_time when)
{
	nx_time now = engine_now(s->e);

	uv_timer_start(&s->timer, sched_on_timer,
	    (uint64_t)(when > now ? when - now : 0), 0);
	s->armed_for = when;
}

/* (Re)arms the timer for the end of the next slot with anything in it. */
static void
sched_arm(struct sched *s)
{
	nx_time when = 0;
	uint32_t k;

	if (!s->started || s->running)
		return;
	if (s->nwheel > 0) {
		for (k = 0; k < SCHED_SLOTS; k++) {
			nx_time t = s->cursor + (nx_time)k * SCHED_SLOT_MS;

			if (sched_slot_at(s, t)->n > 0) {
				when = t + SCHED_SLOT_MS;
				break;
			}
		}
	} else if (s->nfar > 0)
		when = s->far[0].due - SCHED_SPAN + SCHED_SLOT_MS;
	else {
		uv_timer_stop(&s->timer);
		s->armed_for = 0;
		return;
	}
	sched_arm_at(s, when);
}

struct sched *
sched_new(struct engine *e)
{
	struct sched *s = xcalloc(1, sizeof *s);

	s->e = e;
	return s;
}

static void
sched_release(struct sched *s)
{
	uint32_t i;

	if (s->slots != NULL) {
		for (i = 0; i < SCHED_SLOTS; i++)
			free(s->slots[i].items);
		free(s->slots);
	}
	free(s->far);
	free(s);
}

static void
sched_on_close(uv_handle_t *h)
{
	sched_release(h->data);
}

/* Frees now, or in the timer's close callback when the timer is open. */
void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	if (s->timer_open) {
		uv_timer_stop(&s->timer);
		uv_close((uv_handle_t *)&s->timer, sched_on_close);
	} else
		sched_release(s);
}

/* Plans c to run at `due` (wall-clock ms); supersedes its earlier entry. */
void
sched_add(struct sched *s, struct check *c, nx_time due)
{
	if (s->slots == NULL) {
		nx_time now = engine_now(s->e);

		s->slots = xcalloc(SCHED_SLOTS, sizeof *s->slots);
		s->cursor = now - now % SCHED_SLOT_MS;
	}
	c->next_due = due;
	sched_file(s, due, c->id);
	if (!s->started || s->running)
		return;         /* sched_start() or the run loop arms it */
	if (due < s->cursor + SCHED_SPAN) {
		nx_time t = due < s->cursor ? s->cursor : due;
		nx_time end = t - t % SCHED_SLOT_MS + SCHED_SLOT_MS;

		/* Only an earlier slot than the armed one needs the timer. */
		if (s->armed_for == 0 || end < s->armed_for)
			sched_arm_at(s, end);
	} else if (s->armed_for == 0)
		sched_arm(s);
}

int
sched_start(struct sched *s)
{
	if (!s->timer_open) {
		uv_timer_init(s->e->loop, &s->timer);
		s->timer.data = s;
		uv_unref((uv_handle_t *)&s->timer);
		s->timer_open = true;
	}
	s->started = true;
	sched_arm(s);
	return 0;
}

void
sched_stop(struct sched *s)
{
	s->started = false;
	s->armed_for = 0;
	if (s->timer_open)
		uv_timer_stop(&s->timer);
}

/* Entries held, superseded ones included until they come due. */
size_t
sched_size(const struct sched *s)
{
	return s->nwheel + s->nfar;
}
