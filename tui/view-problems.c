/*
 * view-problems.c - the problems view: what is wrong, worst first.
 *
 * One row per check that is not OK and per node that is not UP, in the
 * order of problems_cmp() (problems.c): DOWN and UNREACHABLE hosts, then
 * CRITICAL, UNKNOWN and WARNING checks, the longest-standing first.
 * Columns: STATE, NODE, CHECK, ATTEMPT ("SOFT 1/3" or "HARD"), DURATION,
 * FLAGS (A acknowledged, D in downtime, F flapping) and the first line of
 * OUTPUT, sanitised like every drawn string.
 *
 * The list is kept from bus events (the view's event hook), so a frame
 * costs the rows on screen plus, when the list changed, one sort of the
 * problems and one pass of the filter over them, never a scan of the
 * fleet's checks.  The rows on screen are a copy made at that sort; a
 * big list (over PROBLEMS_BIG rows, where a sort costs a millisecond or
 * more and a large fleet changes some state in every frame) is re-sorted
 * at most every PROBLEMS_BIG_MS, and its rows show their current state in
 * between.
 *
 * Keys: j/k, PgDn/PgUp, g/G move; Enter opens the node view; / filters
 * (the fleet view's grammar; state: is the row's state).  Space marks a
 * row (a '*' before it) and moves down, V marks from the last marked row
 * to this one, U unmarks all; marks follow their problem across re-sorts
 * and are dropped when it recovers.  a (ack), d (downtime) and x (action
 * menu) act on the marked rows, else the selected one; o opens ssh to the
 * row's node (acting.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

enum {
	PROB_DOWN,
	PROB_UP,
	PROB_PAGE_DOWN,
	PROB_PAGE_UP,
	PROB_FIRST,
	PROB_LAST,
	PROB_OPEN,
	PROB_ESC,
	PROB_MARK_ROW,
	PROB_RANGE,
	PROB_UNMARK,
};

static const struct tui_key problems_keys[] = {
	{ .key = 'j', .action = PROB_DOWN, .hint = "j/k", .help = "move" },
	{ .key = 'k', .action = PROB_UP },
	{ .key = KEY_DOWN, .keycode = true, .action = PROB_DOWN },
	{ .key = KEY_UP, .keycode = true, .action = PROB_UP },
	{ .key = KEY_NPAGE, .keycode = true, .action = PROB_PAGE_DOWN,
	  .hint = "PgDn/PgUp", .help = "page" },
	{ .key = KEY_PPAGE, .keycode = true, .action = PROB_PAGE_UP },
	{ .key = TUI_CTRL('f'), .action = PROB_PAGE_DOWN },
	{ .key = TUI_CTRL('b'), .action = PROB_PAGE_UP },
	{ .key = 'g', .action = PROB_FIRST, .hint = "g/G", .help = "first/last" },
	{ .key = 'G', .action = PROB_LAST },
	{ .key = KEY_HOME, .keycode = true, .action = PROB_FIRST },
	{ .key = KEY_END, .keycode = true, .action = PROB_LAST },
	{ .key = '\r', .action = PROB_OPEN, .hint = "Enter", .help = "node" },
	{ .key = '\n', .action = PROB_OPEN },
	{ .key = KEY_ENTER, .keycode = true, .action = PROB_OPEN },
	{ .key = '/', .action = TUI_ACT_FILTER, .hint = "/", .help = "filter" },
	{ .key = ' ', .action = PROB_MARK_ROW, .hint = "Space",
	  .help = "mark" },
	{ .key = 'V', .action = PROB_RANGE,
	  .help = "mark from the last marked row to here" },
	{ .key = 'U', .action = PROB_UNMARK, .help = "unmark all" },
	TUI_ACTING_KEYS,
	{ .key = TUI_KEY_ESC, .action = PROB_ESC,
	  .help = "clear the filter, else back" },
};

enum prob_col {
	PC_STATE,
	PC_NODE,
	PC_CHECK,
	PC_ATTEMPT,
	PC_DURATION,
	PC_FLAGS,
	PC_OUTPUT,
	PC__COUNT
};

static const struct {
	const char *title;
	int width;              /* 0: the rest of the line */
	bool right;
} problems_columns[PC__COUNT] = {
	[PC_STATE] = { "STATE", 11, false },
	[PC_NODE] = { "NODE", 24, false },
	[PC_CHECK] = { "CHECK", 12, false },
	[PC_ATTEMPT] = { "ATTEMPT", 8, false },
	[PC_DURATION] = { "DURATION", 8, true },
	[PC_FLAGS] = { "FLAGS", 5, false },
	[PC_OUTPUT] = { "OUTPUT", 0, false },
};

#define PROB_MARK 3             /* '>', the mark glyph '*', a space */
#define PROBLEMS_BIG 2000
#define PROBLEMS_BIG_MS 500

struct problems_view {
	struct problems pl;
	struct problem *rows;   /* the problems that pass the filter, in order */
	size_t nrows, rows_cap;
	uint64_t built;         /* pl.version the rows were built for */
	uint64_t built_ms;      /* uv_now() then */
	bool stale;
	struct filter *filter;
	uint32_t top, sel;
	struct problem sel_p;   /* the selected row, kept across re-sorts */
	bool have_sel;
	struct marks marks;     /* MARKS_PROBLEM() keys */
};

static void *
problems_view_init(struct tui *t)
{
	struct problems_view *pv = xcalloc(1, sizeof *pv);

	problems_init(&pv->pl, &t->e->fleet);
	pv->stale = true;
	return pv;
}

static void
problems_view_free(void *state)
{
	struct problems_view *pv = state;

	problems_free(&pv->pl);
	filter_free(pv->filter);
	marks_free(&pv->marks);
	free(pv->rows);
	free(pv);
}

static uint32_t
problems_page(const struct tui *t)
{
	int rows = t->body != NULL ? getmaxy(t->body) - 1 : 1;

	return rows > 0 ? (uint32_t)rows : 1;
}

/*
 * Brings the rows up to date: sorts the list if it changed (at most once
 * per frame: this runs from draw), filters it, and finds the selected
 * problem again.
 */
static void
problems_refresh(struct tui *t, struct problems_view *pv)
{
	const struct fleet *f = &t->e->fleet;
	const struct problem *p;
	size_t i;

	if (!pv->stale && pv->built == pv->pl.version)
		return;
	if (!pv->stale && pv->pl.n > PROBLEMS_BIG &&
	    uv_now(t->loop) - pv->built_ms < PROBLEMS_BIG_MS) {
		/* Not yet: come back for it. */
		tui_mark_dirty(t);
		return;
	}
	problems_sort(&pv->pl, f);
	if (pv->rows_cap < pv->pl.n) {
		pv->rows_cap = pv->pl.n * 2;
		pv->rows = xreallocarray(pv->rows, pv->rows_cap,
		    sizeof *pv->rows);
	}
	pv->nrows = 0;
	for (i = 0; i < pv->pl.n; i++) {
		p = &pv->pl.v[i];
		if (filter_match(pv->filter, f, &f->nodes[p->node],
		    p->check == NX_NONE ? NULL : &f->checks[p->check]))
			pv->rows[pv->nrows++] = *p;
	}
	pv->built = pv->pl.version;
	pv->built_ms = uv_now(t->loop);
	pv->stale = false;
	if (!pv->have_sel)
		return;
	for (i = 0; i < pv->nrows; i++) {
		p = &pv->rows[i];
		if (p->node == pv->sel_p.node && p->check == pv->sel_p.check) {
			pv->sel = (uint32_t)i;
			return;
		}
	}
}

static void
problems_clamp(struct problems_view *pv, uint32_t page)
{
	uint32_t n = (uint32_t)pv->nrows;

	if (n == 0) {
		pv->top = pv->sel = 0;
		return;
	}
	if (pv->sel >= n)
		pv->sel = n - 1;
	if (pv->top > (n > page ? n - page : 0))
		pv->top = n > page ? n - page : 0;
	if (pv->sel < pv->top)
		pv->top = pv->sel;
	if (pv->sel >= pv->top + page)
		pv->top = pv->sel - page + 1;
}

/* The node's host check, or NULL: its output explains a DOWN host. */
static const struct check *
problems_host_check(const struct fleet *f, const struct node *n)
{
	uint16_t k;

	for (k = 0; k < n->nchecks; k++) {
		if (f->checks[n->checks[k]].is_host_check)
			return &f->checks[n->checks[k]];
	}
	return NULL;
}

static void
problems_draw_row(struct tui *t, WINDOW *w, int y, const struct problem *p,
    bool selected, bool marked)
{
	const struct fleet *f = &t->e->fleet;
	const struct node *n = &f->nodes[p->node];
	const struct check *c = p->check == NX_NONE ? NULL :
	    &f->checks[p->check];
	const struct check *out = c != NULL ? c : problems_host_check(f, n);
	attr_t base = selected ? t->theme.select : A_NORMAL, attr;
	enum nx_health h;
	char buf[64];
	const char *s;
	size_t len;
	int col, x = PROB_MARK, width, cols = getmaxx(w);

	if (selected)
		tui_print(t, w, y, 0, cols, base, "", 0);
	if (selected || marked)
		tui_print(t, w, y, 0, PROB_MARK, marked ? base | A_BOLD : base,
		    selected ? (marked ? ">*" : ">") : " *", marked ? 2 : 1);
	if (c == NULL)
		h = n->host_state == NX_HOST_DOWN ? NX_H_DOWN : NX_H_UNREACHABLE;
	else
		h = (enum nx_health)c->state;
	for (col = 0; col < PC__COUNT && x < cols; col++) {
		width = problems_columns[col].width;
		if (width == 0 || x + width > cols)
			width = cols - x;
		attr = base;
		s = buf;
		buf[0] = '\0';
		switch (col) {
		case PC_STATE:
			s = nx_health_name(h);
			if (!selected)
				attr = t->theme.health[h];
			break;
		case PC_NODE:
			s = n->name;
			break;
		case PC_CHECK:
			s = c != NULL ? c->name : "(host)";
			break;
		case PC_ATTEMPT:
			if (c == NULL || c->state_type == NX_HARD)
				snprintf(buf, sizeof buf, "HARD");
			else
				snprintf(buf, sizeof buf, "SOFT %u/%u", c->attempt,
				    c->max_attempts ? c->max_attempts : 1);
			break;
		case PC_DURATION:
			if (problem_since(f, p) != 0)
				tui_format_age(buf, sizeof buf,
				    t->now - problem_since(f, p));
			break;
		case PC_FLAGS: {
			const struct nx_ack *ack = c != NULL ? &c->ack : &n->ack;
			bool dt = n->downtime_depth > 0 ||
			    (c != NULL && c->downtime_depth > 0);

			snprintf(buf, sizeof buf, "%c%c%c",
			    ack->type != NX_ACK_NONE ? 'A' : '-',
			    dt ? 'D' : '-',
			    c != NULL && c->flapping ? 'F' : '-');
			break;
		}
		case PC_OUTPUT:
			s = out != NULL && out->output != NULL ? out->output : "";
			break;
		}
		/* The output's first line, without its perfdata. */
		len = col == PC_OUTPUT ? strcspn(s, "|\n") : strlen(s);
		if (problems_columns[col].right)
			tui_print_right(t, w, y, x, width, attr, s);
		else
			tui_print(t, w, y, x, width, attr, s, len);
		x += width + 1;
	}
}

static void
problems_draw(struct tui *t, void *state, WINDOW *w)
{
	struct problems_view *pv = state;
	uint32_t page = problems_page(t), i;
	int col, x = PROB_MARK, width, cols = getmaxx(w);
	static const char none[] = "no problems: every check is OK and every "
	    "node UP";
	static const char nomatch[] = "no problem matches the filter (/ to "
	    "change, Esc to clear)";

	problems_refresh(t, pv);
	problems_clamp(pv, page);
	tui_print(t, w, 0, 0, cols, t->theme.colhdr, "", 0);
	for (col = 0; col < PC__COUNT && x < cols; col++) {
		const char *title = problems_columns[col].title;

		width = problems_columns[col].width;
		if (width == 0 || x + width > cols)
			width = cols - x;
		if (problems_columns[col].right)
			tui_print_right(t, w, 0, x, width, t->theme.colhdr, title);
		else
			tui_print(t, w, 0, x, width, t->theme.colhdr, title,
			    strlen(title));
		x += width + 1;
	}
	if (pv->nrows == 0) {
		const char *msg = pv->pl.n == 0 ? none : nomatch;

		tui_print(t, w, 2, 2, -1, t->theme.dim, msg, strlen(msg));
		pv->have_sel = false;
		return;
	}
	pv->sel_p = pv->rows[pv->sel];
	pv->have_sel = true;
	for (i = 0; i < page && pv->top + i < pv->nrows; i++)
		problems_draw_row(t, w, (int)i + 1, &pv->rows[pv->top + i],
		    pv->top + i == pv->sel, marks_has(&pv->marks,
		    MARKS_PROBLEM(&pv->rows[pv->top + i])));
}

/* The mark key of row i, for marks_range(). */
static uint64_t
problems_key_at(void *arg, size_t i)
{
	struct problems_view *pv = arg;

	return MARKS_PROBLEM(&pv->rows[i]);
}

static bool
problems_handle_key(struct tui *t, void *state, const struct tui_input *in,
    const struct tui_key *bound)
{
	struct problems_view *pv = state;
	uint32_t n = (uint32_t)pv->nrows, page = problems_page(t);
	size_t added;

	if (bound == NULL)
		return false;
	switch (bound->action) {
	case PROB_DOWN:
		if (pv->sel + 1 < n)
			pv->sel++;
		break;
	case PROB_UP:
		if (pv->sel > 0)
			pv->sel--;
		break;
	case PROB_PAGE_DOWN:
		pv->top += page;
		pv->sel += page;
		break;
	case PROB_PAGE_UP:
		pv->top = pv->top > page ? pv->top - page : 0;
		pv->sel = pv->sel > page ? pv->sel - page : 0;
		break;
	case PROB_FIRST:
		pv->top = pv->sel = 0;
		break;
	case PROB_LAST:
		pv->sel = n > 0 ? n - 1 : 0;
		pv->top = n > page ? n - page : 0;
		break;
	case PROB_OPEN:
		if (n > 0 && pv->sel < n)
			view_node_open(t, pv->rows[pv->sel].node);
		return true;
	case PROB_MARK_ROW:
		if (n == 0 || pv->sel >= n)
			break;
		marks_toggle(&pv->marks, MARKS_PROBLEM(&pv->rows[pv->sel]));
		if (pv->sel + 1 < n)
			pv->sel++;
		break;
	case PROB_RANGE:
		if (n == 0 || pv->sel >= n)
			break;
		added = marks_range(&pv->marks, problems_key_at, pv, n, pv->sel);
		tui_message(t, false, "%zu marked (%zu added)",
		    marks_count(&pv->marks), added);
		break;
	case PROB_UNMARK:
		marks_clear(&pv->marks);
		tui_message(t, false, "marks cleared");
		break;
	case PROB_ESC:
		if (pv->filter == NULL)
			return false;
		filter_free(pv->filter);
		pv->filter = NULL;
		pv->stale = true;
		tui_filter_cleared(t);
		break;
	default:
		return false;
	}
	problems_clamp(pv, page);
	if (n > 0 && pv->sel < n) {
		pv->sel_p = pv->rows[pv->sel];
		pv->have_sel = true;
	}
	tui_mark_dirty(t);
	return true;
}

static void
problems_position(struct tui *t, void *state, char *buf, size_t len)
{
	struct problems_view *pv = state;
	uint32_t page = problems_page(t), n = (uint32_t)pv->nrows;
	uint32_t last = pv->top + page < n ? pv->top + page : n;
	int k;

	if (n == 0)
		k = snprintf(buf, len, "no rows");
	else
		k = snprintf(buf, len, "rows %u-%u of %u", pv->top + 1, last, n);
	if (k >= 0 && (size_t)k < len && pv->filter != NULL)
		k += snprintf(buf + k, len - (size_t)k, " | %u of %zu match", n,
		    pv->pl.n);
	if (k >= 0 && (size_t)k < len && marks_count(&pv->marks) > 0)
		snprintf(buf + k, len - (size_t)k, " | %zu marked",
		    marks_count(&pv->marks));
}

/*
 * The marked problems that are still problems (a mark on one that
 * recovered is dropped here), else the selected row.
 */
static size_t
problems_selection(struct tui *t, void *state, bool current,
    struct problem **out)
{
	struct problems_view *pv = state;
	size_t i, n = 0, count = marks_count(&pv->marks);
	uint64_t *keys;

	*out = NULL;
	if (count == 0 || current) {
		if (!pv->have_sel || pv->nrows == 0)
			return 0;
		*out = xmalloc(sizeof **out);
		(*out)[0] = pv->sel_p;
		return 1;
	}
	keys = xcalloc(count, sizeof *keys);
	count = marks_keys(&pv->marks, keys);
	*out = xcalloc(count, sizeof **out);
	for (i = 0; i < count; i++) {
		struct problem p = { (uint32_t)(keys[i] >> 32),
		    (uint32_t)keys[i] };
		bool still = p.check == NX_NONE ?
		    (p.node < pv->pl.nnodes && pv->pl.node_slot[p.node] != 0) :
		    (p.check < pv->pl.nchecks &&
		    pv->pl.check_slot[p.check] != 0);

		if (still)
			(*out)[n++] = p;
		else
			marks_set(&pv->marks, keys[i], false);
	}
	free(keys);
	if (n == 0) {
		free(*out);
		*out = NULL;
	}
	return n;
}

static void
problems_view_event(struct tui *t, void *state, const struct event *ev)
{
	struct problems_view *pv = state;

	problems_event(&pv->pl, &t->e->fleet, ev);
}

static void
problems_view_tick(struct tui *t, void *state)
{
	struct problems_view *pv = state;

	/* Metrics move without events: a load>4 filter is re-run. */
	if (filter_dynamic(pv->filter))
		pv->stale = true;
}

static int
problems_view_filter(struct tui *t, void *state, const char *text,
    struct nx_err *err)
{
	struct problems_view *pv = state;
	struct filter *f;

	if (filter_parse(text, &f, err) != 0)
		return -1;
	filter_free(pv->filter);
	pv->filter = f;
	pv->stale = true;
	tui_mark_dirty(t);
	return 0;
}

const struct view view_problems = {
	.version = TUI_VIEW_VERSION,
	.name = "problems",
	.key = '2',
	.keys = problems_keys,
	.nkeys = NX_ARRAY_LEN(problems_keys),
	.init = problems_view_init,
	.free = problems_view_free,
	.draw = problems_draw,
	.handle_key = problems_handle_key,
	.position = problems_position,
	.event = problems_view_event,
	.tick = problems_view_tick,
	.filter = problems_view_filter,
	.selection = problems_selection,
};
