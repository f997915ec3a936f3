/*
 * sched.c - when each check runs next.
 *
 * A binary min-heap of (due time, check id) and one uv_timer armed for the
 * earliest entry.  The timer never fires more often than every
 * SCHED_GRANULARITY_MS, so 20,000 results a second cost a few dozen wakeups,
 * not 20,000.  The monitor re-adds a check when its result arrives, at
 * now + interval (or the retry interval while SOFT).  Entries are never
 * removed early: the check's next_due names its one live entry, and an
 * entry that a later sched_add() superseded is skipped when it comes due.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define SCHED_GRANULARITY_MS 20

struct sched_item {
	nx_time due;
	uint32_t check;
};

struct sched {
	struct engine *e;
	struct sched_item *heap;
	size_t n, cap;
	uv_timer_t timer;
	bool started;
	bool timer_open;
};

static void
sched_swap(struct sched_item *a, struct sched_item *b)
{
	struct sched_item t = *a;

	*a = *b;
	*b = t;
}

static void
sched_up(struct sched *s, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (s->heap[p].due <= s->heap[i].due)
			break;
		sched_swap(&s->heap[p], &s->heap[i]);
		i = p;
	}
}

static void
sched_down(struct sched *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->n && s->heap[l].due < s->heap[m].due)
			m = l;
		if (r < s->n && s->heap[r].due < s->heap[m].due)
			m = r;
		if (m == i)
			break;
		sched_swap(&s->heap[m], &s->heap[i]);
		i = m;
	}
}

static void sched_arm(struct sched *);

static void
sched_on_timer(uv_timer_t *t)
{
	struct sched *s = t->data;
	struct engine *e = s->e;
	nx_time now = engine_now(e);

	while (s->n > 0 && s->heap[0].due <= now) {
		struct sched_item it = s->heap[0];
		struct check *c;

		s->heap[0] = s->heap[--s->n];
		sched_down(s, 0);
		if (it.check >= e->fleet.nchecks)
			continue;
		c = &e->fleet.checks[it.check];
		/* A later sched_add() superseded this entry: skip it. */
		if (c->next_due != it.due || c->running)
			continue;
		mon_run_check(e, c);
	}
	sched_arm(s);
}

/* (Re)arms the timer for the earliest entry. */
static void
sched_arm(struct sched *s)
{
	nx_time now, wait;

	if (!s->started || s->n == 0)
		return;
	now = engine_now(s->e);
	wait = s->heap[0].due - now;
	if (wait < SCHED_GRANULARITY_MS)
		wait = SCHED_GRANULARITY_MS;
	uv_timer_start(&s->timer, sched_on_timer, (uint64_t)wait, 0);
}

struct sched *
sched_new(struct engine *e)
{
	struct sched *s = xcalloc(1, sizeof *s);

	s->e = e;
	return s;
}

static void
sched_on_close(uv_handle_t *h)
{
	free(h->data);
}

/* Frees now, or in the timer's close callback when the timer is open. */
void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	free(s->heap);
	s->heap = NULL;
	if (s->timer_open) {
		uv_timer_stop(&s->timer);
		uv_close((uv_handle_t *)&s->timer, sched_on_close);
	} else
		free(s);
}

void
sched_add(struct sched *s, struct check *c, nx_time due)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->heap = xreallocarray(s->heap, s->cap, sizeof *s->heap);
	}
	s->heap[s->n].due = due;
	s->heap[s->n].check = c->id;
	c->next_due = due;
	sched_up(s, s->n++);
	if (s->started && s->n > 0 && s->heap[0].check == c->id)
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
	if (s->timer_open)
		uv_timer_stop(&s->timer);
}

size_t
sched_size(const struct sched *s)
{
	return s->n;
}
