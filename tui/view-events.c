/*
 * view-events.c - the events view: a live tail of the event stream.
 *
 * The rows are the console's copy of the stream (struct tui_evring, the
 * last TUI_EVRING events, filled by the manager from the bus whether this
 * view is shown or not).  Following, the newest event is at the bottom and
 * the view moves with the stream; paused (f or Space, or any movement
 * key), it stays on the events it showed while new ones are still
 * collected, until f, Space or G follows again.  A paused view that the
 * ring has overtaken (more than TUI_EVRING newer events) shows the oldest
 * events still kept.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui.h"

enum {
	EV_FOLLOW,
	EV_DOWN,
	EV_UP,
	EV_PAGE_DOWN,
	EV_PAGE_UP,
	EV_FIRST,
	EV_LAST,
};

static const struct tui_key events_keys[] = {
	{ .key = 'f', .action = EV_FOLLOW, .hint = "f/Space",
	  .help = "follow/pause" },
	{ .key = ' ', .action = EV_FOLLOW },
	{ .key = 'j', .action = EV_DOWN, .hint = "j/k", .help = "scroll" },
	{ .key = 'k', .action = EV_UP },
	{ .key = KEY_DOWN, .keycode = true, .action = EV_DOWN },
	{ .key = KEY_UP, .keycode = true, .action = EV_UP },
	{ .key = KEY_NPAGE, .keycode = true, .action = EV_PAGE_DOWN,
	  .hint = "PgDn/PgUp", .help = "page" },
	{ .key = KEY_PPAGE, .keycode = true, .action = EV_PAGE_UP },
	{ .key = TUI_CTRL('f'), .action = EV_PAGE_DOWN },
	{ .key = TUI_CTRL('b'), .action = EV_PAGE_UP },
	{ .key = 'g', .action = EV_FIRST, .hint = "g/G",
	  .help = "oldest/newest (follow)" },
	{ .key = 'G', .action = EV_LAST },
	{ .key = KEY_HOME, .keycode = true, .action = EV_FIRST },
	{ .key = KEY_END, .keycode = true, .action = EV_LAST },
};

struct events_view {
	bool paused;
	uint64_t end;           /* paused: one past the last event shown */
};

static void *
events_view_init(struct tui *t)
{
	return xcalloc(1, sizeof(struct events_view));
}

static void
events_view_free(void *state)
{
	free(state);
}

static uint64_t
events_page(const struct tui *t)
{
	int rows = t->body != NULL ? getmaxy(t->body) - 1 : 1;

	return rows > 0 ? (uint64_t)rows : 1;
}

/* The oldest event still in the ring. */
static uint64_t
events_oldest(const struct tui *t)
{
	return t->events.total > t->events.cap ?
	    t->events.total - t->events.cap : 0;
}

/*
 * The state column of an event: the check's or host's new state with its
 * type and attempt for results and changes, what happened for the rest.
 */
void
tui_event_describe(const struct tui *t, const struct tui_event *e, char *buf,
    size_t len)
{
	switch (e->kind) {
	case NX_EV_RESULT:
	case NX_EV_STATE:
		if (e->state_type == NX_HARD)
			snprintf(buf, len, "%s HARD",
			    nx_state_name((enum nx_state)e->state));
		else
			snprintf(buf, len, "%s SOFT %u",
			    nx_state_name((enum nx_state)e->state), e->attempt);
		break;
	case NX_EV_HOST:
		snprintf(buf, len, "%s",
		    nx_host_state_name((enum nx_host_state)e->state));
		break;
	case NX_EV_FLAPPING:
		snprintf(buf, len, e->state ? "started" : "stopped");
		break;
	case NX_EV_ACK:
		snprintf(buf, len, e->state ? "set" : "removed");
		break;
	case NX_EV_DOWNTIME:
		snprintf(buf, len, e->state ? "started" : "ended");
		break;
	default:
		buf[0] = '\0';
	}
}

/* The attribute of an event's state column. */
static attr_t
events_attr(const struct tui *t, const struct tui_event *e)
{
	if (e->kind == NX_EV_RESULT || e->kind == NX_EV_STATE)
		return t->theme.health[e->state <= NX_UNKNOWN ? e->state :
		    NX_H_UNKNOWN];
	if (e->kind == NX_EV_HOST)
		return t->theme.health[e->state == NX_HOST_UP ? NX_H_OK :
		    e->state == NX_HOST_DOWN ? NX_H_DOWN : NX_H_UNREACHABLE];
	return A_NORMAL;
}

/*
 * Draws one event row at line y of w from column x: time, kind, node,
 * check, state, text.  Shared with the node view (which leaves the node
 * out: with_node false).
 */
void
events_draw_row(struct tui *t, WINDOW *w, int y, int x,
    const struct tui_event *e, bool with_node)
{
	const struct fleet *f = &t->e->fleet;
	char clock[16], state[48];
	const char *s;
	struct tm tm;
	time_t sec = (time_t)(e->time / 1000);
	int cols = getmaxx(w);

	localtime_r(&sec, &tm);
	strftime(clock, sizeof clock, "%H:%M:%S", &tm);
	tui_print(t, w, y, x, 9, A_NORMAL, clock, strlen(clock));
	x += 9;
	s = event_kind_name((enum nx_event_kind)e->kind);
	tui_print(t, w, y, x, 9, t->theme.dim, s, strlen(s));
	x += 9;
	if (with_node) {
		s = e->node < f->nnodes ? f->nodes[e->node].name : "-";
		tui_print(t, w, y, x, 24, A_NORMAL, s, strlen(s));
		x += 25;
	}
	s = e->check < f->nchecks ? f->checks[e->check].name : "-";
	tui_print(t, w, y, x, 12, A_NORMAL, s, strlen(s));
	x += 13;
	tui_event_describe(t, e, state, sizeof state);
	tui_print(t, w, y, x, 16, events_attr(t, e), state, strlen(state));
	x += 17;
	if (x < cols)
		tui_print(t, w, y, x, -1, A_NORMAL, e->text, strlen(e->text));
}

static void
events_draw(struct tui *t, void *state, WINDOW *w)
{
	struct events_view *ev = state;
	uint64_t page = events_page(t), end, first, i, oldest = events_oldest(t);
	static const char none[] = "no events yet";
	static const char header[] =
	    "TIME     KIND     NODE                     CHECK        STATE";
	int cols = getmaxx(w);

	tui_print(t, w, 0, 0, cols, t->theme.colhdr, header, strlen(header));
	tui_print(t, w, 0, 9 + 9 + 25 + 13 + 17, -1, t->theme.colhdr, "TEXT",
	    4);
	end = ev->paused ? ev->end : t->events.total;
	if (end < oldest + 1 && t->events.total > 0)
		end = oldest + (page < t->events.total - oldest ? page :
		    t->events.total - oldest);
	if (ev->paused)
		ev->end = end;
	if (end == 0 || end <= oldest) {
		tui_print(t, w, 2, 2, -1, t->theme.dim, none, strlen(none));
		return;
	}
	first = end - oldest > page ? end - page : oldest;
	for (i = first; i < end; i++) {
		const struct tui_event *e = tui_event_at(t, i);

		if (e != NULL)
			events_draw_row(t, w, (int)(i - first) + 1, 0, e, true);
	}
}

static bool
events_handle_key(struct tui *t, void *state, const struct tui_input *in,
    const struct tui_key *bound)
{
	struct events_view *ev = state;
	uint64_t page = events_page(t), oldest = events_oldest(t);
	uint64_t total = t->events.total, end;

	if (bound == NULL)
		return false;
	end = ev->paused ? ev->end : total;
	switch (bound->action) {
	case EV_FOLLOW:
		ev->paused = !ev->paused;
		ev->end = total;
		tui_message(t, false, ev->paused ? "paused" : "following");
		break;
	case EV_LAST:
		ev->paused = false;
		break;
	case EV_DOWN:
	case EV_PAGE_DOWN:
		end += bound->action == EV_DOWN ? 1 : page;
		ev->paused = end < total;
		ev->end = end < total ? end : total;
		break;
	case EV_UP:
	case EV_PAGE_UP: {
		/* No further back than a full page of the oldest events. */
		uint64_t floor = oldest + (total - oldest < page ?
		    total - oldest : page);
		uint64_t step = bound->action == EV_UP ? 1 : page;

		end = end > floor + step ? end - step : floor;
		ev->paused = true;
		ev->end = end;
		break;
	}
	case EV_FIRST:
		ev->paused = true;
		ev->end = oldest + (total - oldest < page ? total - oldest : page);
		break;
	default:
		return false;
	}
	tui_mark_dirty(t);
	return true;
}

static void
events_position(struct tui *t, void *state, char *buf, size_t len)
{
	const struct events_view *ev = state;

	if (ev->paused)
		snprintf(buf, len, "paused, %llu newer | %llu events",
		    (unsigned long long)(t->events.total - ev->end),
		    (unsigned long long)t->events.total);
	else
		snprintf(buf, len, "following | %llu events",
		    (unsigned long long)t->events.total);
}

const struct view view_events = {
	.version = TUI_VIEW_VERSION,
	.name = "events",
	.key = '3',
	.keys = events_keys,
	.nkeys = NX_ARRAY_LEN(events_keys),
	.init = events_view_init,
	.free = events_view_free,
	.draw = events_draw,
	.handle_key = events_handle_key,
	.position = events_position,
};
