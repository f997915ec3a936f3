/*
 * marks.c - the marked rows of a view: a set of 64-bit row keys (a node
 * id in the fleet view, node << 32 | check in the problems view), so that
 * marks stay on their rows however the view is sorted or filtered.
 *
 * An open-addressing hash set with linear probing and backward-shift
 * deletion (no tombstones), kept at most half full: marking every row of
 * a 100,000-node fleet with the range key costs one pass.  The anchor is
 * the row last marked with Space; the range key marks every row between
 * it and the current row, in the view's order.  No curses here.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tui.h"

#define MARKS_MIN_SLOTS 64

void
marks_init(struct marks *m)
{
	memset(m, 0, sizeof *m);
}

void
marks_free(struct marks *m)
{
	free(m->slots);
	marks_init(m);
}

static size_t
marks_slot(const struct marks *m, uint64_t key)
{
	return (size_t)(nx_hash64(key) & (m->nslots - 1));
}

/* The slot holding key, or the empty slot where it would go. */
static size_t
marks_find(const struct marks *m, uint64_t key)
{
	size_t i = marks_slot(m, key);

	while (m->slots[i] != 0 && m->slots[i] != key + 1)
		i = (i + 1) & (m->nslots - 1);
	return i;
}

static void
marks_grow(struct marks *m)
{
	uint64_t *old = m->slots;
	size_t i, n = m->nslots;

	m->nslots = n ? n * 2 : MARKS_MIN_SLOTS;
	m->slots = xcalloc(m->nslots, sizeof *m->slots);
	for (i = 0; i < n; i++) {
		if (old[i] != 0)
			m->slots[marks_find(m, old[i] - 1)] = old[i];
	}
	free(old);
}

/* Whether the row with this key is marked. */
bool
marks_has(const struct marks *m, uint64_t key)
{
	if (m->count == 0)
		return false;
	return m->slots[marks_find(m, key)] != 0;
}

/* Removes the key in slot i and shifts its cluster back over the hole. */
static void
marks_remove_at(struct marks *m, size_t i)
{
	size_t j = i, home;

	m->slots[i] = 0;
	m->count--;
	for (;;) {
		j = (j + 1) & (m->nslots - 1);
		if (m->slots[j] == 0)
			return;
		home = marks_slot(m, m->slots[j] - 1);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			m->slots[i] = m->slots[j];
			m->slots[j] = 0;
			i = j;
		}
	}
}

/* Marks (on) or unmarks the row with this key.  key < UINT64_MAX. */
void
marks_set(struct marks *m, uint64_t key, bool on)
{
	size_t i;

	if (on && (m->count + 1) * 2 > m->nslots)
		marks_grow(m);
	if (m->nslots == 0)
		return;
	i = marks_find(m, key);
	if (on && m->slots[i] == 0) {
		m->slots[i] = key + 1;
		m->count++;
	} else if (!on && m->slots[i] != 0)
		marks_remove_at(m, i);
}

/*
 * Space: flips the row's mark; a row marked this way becomes the anchor
 * of the next range.  Returns whether it is marked now.
 */
bool
marks_toggle(struct marks *m, uint64_t key)
{
	bool on = !marks_has(m, key);

	marks_set(m, key, on);
	if (on) {
		m->anchor = key;
		m->have_anchor = true;
	}
	return on;
}

/* Unmarks every row and forgets the anchor; keeps the table. */
void
marks_clear(struct marks *m)
{
	if (m->slots != NULL)
		memset(m->slots, 0, m->nslots * sizeof *m->slots);
	m->count = 0;
	m->have_anchor = false;
}

size_t
marks_count(const struct marks *m)
{
	return m->count;
}

static int
marks_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Writes every marked key to out (room for marks_count() keys) in
 * ascending order; returns how many.
 */
size_t
marks_keys(const struct marks *m, uint64_t *out)
{
	size_t i, n = 0;

	for (i = 0; i < m->nslots; i++) {
		if (m->slots[i] != 0)
			out[n++] = m->slots[i] - 1;
	}
	qsort(out, n, sizeof *out, marks_cmp);
	return n;
}

/*
 * The range key: marks every row from the anchor's row to row `cur`
 * (both included) of a view with nrows rows whose keys key_at() gives.
 * Without an anchor, or when the anchor's row is not shown (filtered
 * out), only row cur is marked.  The current row becomes the anchor.
 * Returns how many rows were newly marked.
 */
size_t
marks_range(struct marks *m, marks_key_fn key_at, void *arg, size_t nrows,
    size_t cur)
{
	size_t i, from = cur, to = cur, added = 0;
	uint64_t key;

	if (cur >= nrows)
		return 0;
	if (m->have_anchor) {
		for (i = 0; i < nrows; i++) {
			if (key_at(arg, i) == m->anchor) {
				from = i < cur ? i : cur;
				to = i < cur ? cur : i;
				break;
			}
		}
	}
	for (i = from; i <= to; i++) {
		key = key_at(arg, i);
		if (!marks_has(m, key)) {
			marks_set(m, key, true);
			added++;
		}
	}
	m->anchor = key_at(arg, cur);
	m->have_anchor = true;
	return added;
}
