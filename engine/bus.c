/*
 * bus.c - the in-process event bus.
 *
 * Every result, state change and engine happening is published here once;
 * the bus gives it the next sequence number and hands it to every subscriber
 * in subscription order, synchronously, on the loop thread.  Subscribers
 * must be quick and copy what they keep: the event (and its text) is valid
 * only during the call.  Bounded per-subscriber queues and the store's
 * writer thread sit behind subscribers, not inside the bus.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"

void
bus_init(struct bus *b)
{
	memset(b, 0, sizeof *b);
}

void
bus_free(struct bus *b)
{
	free(b->subs);
	memset(b, 0, sizeof *b);
}

void
bus_subscribe(struct bus *b, bus_fn fn, void *arg)
{
	b->subs = xreallocarray(b->subs, b->nsubs + 1, sizeof *b->subs);
	b->subs[b->nsubs].fn = fn;
	b->subs[b->nsubs].arg = arg;
	b->nsubs++;
}

void
bus_unsubscribe(struct bus *b, bus_fn fn, void *arg)
{
	size_t i;

	for (i = 0; i < b->nsubs; i++) {
		if (b->subs[i].fn == fn && b->subs[i].arg == arg) {
			memmove(&b->subs[i], &b->subs[i + 1],
			    (b->nsubs - i - 1) * sizeof *b->subs);
			b->nsubs--;
			return;
		}
	}
}

/* Stamps ev->seq and delivers it; returns the sequence number. */
uint64_t
bus_publish(struct bus *b, struct event *ev)
{
	size_t i;

	ev->seq = ++b->seq;
	if (ev->kind < NX_EV__COUNT)
		b->count[ev->kind]++;
	for (i = 0; i < b->nsubs; i++)
		b->subs[i].fn(b->subs[i].arg, ev);
	return ev->seq;
}
