/*
 * view-fleet.c - the fleet view: every node, one row each, in fleet order
 * or sorted, optionally filtered.
 *
 * Keys (the footer hints and the help are generated from fleet_keys[]):
 *
 *   j, Down            select the next node
 *   k, Up              select the previous node
 *   PgDn, ^F           one page down
 *   PgUp, ^B           one page up
 *   g, Home            the first node
 *   G, End             the last node
 *   Enter              the node view of the selected node
 *   /                  filter (tui/filter.c); Esc clears the filter
 *   s, S               next sort column, reverse the order
 *   Space              mark or unmark the node, and move down
 *   V                  mark every node from the last marked to this one
 *   U                  unmark every node
 *   a, d, x            acknowledge, downtime, action menu (acting.c) on
 *                      the marked nodes, else the selected one
 *   o                  ssh to the selected node (acting.c)
 *
 * and the console's global keys: q quits, Esc quits from here (this is the
 * top-level view) once no filter is left, ^L repaints the terminal.
 *
 * The rows are a list of node ids, rebuilt when the filter or the order
 * changes, and while the filter or the order depends on live values
 * (state, metrics) with every frame (once a second above
 * FLEET_LIVE_ROWS rows); with no filter and fleet order there is no list
 * at all.  The selection follows its node across rebuilds.
 *
 * The columns shown, and their order, are console.columns, or those set by
 * :columns for the session (tui_columns_current()); each name is that of
 * engine.h's enum nx_column.
 *
 * Columns are laid out for the width at hand: each has a minimum width and
 * a priority, the least important are dropped until the rest fit (DISK
 * and GROUP go first, STATE and NAME never), and what is left over widens
 * NAME, GROUP and ADDRESS.  The position ("rows 1-45 of 5001") is shown in the footer.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "tui.h"

enum {
	FLEET_DOWN,
	FLEET_UP,
	FLEET_PAGE_DOWN,
	FLEET_PAGE_UP,
	FLEET_FIRST,
	FLEET_LAST,
	FLEET_OPEN,
	FLEET_SORT,
	FLEET_REVERSE,
	FLEET_ESC,
	FLEET_MARK_ROW,
	FLEET_RANGE,
	FLEET_UNMARK,
};

static const struct tui_key fleet_keys[] = {
	{ .key = 'j', .action = FLEET_DOWN, .hint = "j/k", .help = "move" },
	{ .key = 'k', .action = FLEET_UP },
	{ .key = KEY_DOWN, .keycode = true, .action = FLEET_DOWN },
	{ .key = KEY_UP, .keycode = true, .action = FLEET_UP },
	{ .key = KEY_NPAGE, .keycode = true, .action = FLEET_PAGE_DOWN,
	  .hint = "PgDn/PgUp", .help = "page" },
	{ .key = KEY_PPAGE, .keycode = true, .action = FLEET_PAGE_UP },
	{ .key = TUI_CTRL('f'), .action = FLEET_PAGE_DOWN },
	{ .key = TUI_CTRL('b'), .action = FLEET_PAGE_UP },
	{ .key = 'g', .action = FLEET_FIRST, .hint = "g/G", .help = "first/last" },
	{ .key = 'G', .action = FLEET_LAST },
	{ .key = KEY_HOME, .keycode = true, .action = FLEET_FIRST },
	{ .key = KEY_END, .keycode = true, .action = FLEET_LAST },
	/* What Home and End send on vt220-style terminals. */
	{ .key = KEY_FIND, .keycode = true, .action = FLEET_FIRST },
	{ .key = KEY_SELECT, .keycode = true, .action = FLEET_LAST },
	{ .key = '\r', .action = FLEET_OPEN, .hint = "Enter", .help = "node" },
	{ .key = '\n', .action = FLEET_OPEN },
	{ .key = KEY_ENTER, .keycode = true, .action = FLEET_OPEN },
	{ .key = '/', .action = TUI_ACT_FILTER, .hint = "/", .help = "filter" },
	{ .key = 's', .action = FLEET_SORT, .hint = "s/S", .help = "sort" },
	{ .key = 'S', .action = FLEET_REVERSE, .help = "reverse the order" },
	{ .key = ' ', .action = FLEET_MARK_ROW, .hint = "Space",
	  .help = "mark" },
	{ .key = 'V', .action = FLEET_RANGE,
	  .help = "mark from the last marked row to here" },
	{ .key = 'U', .action = FLEET_UNMARK, .help = "unmark all" },
	TUI_ACTING_KEYS,
	{ .key = TUI_KEY_ESC, .action = FLEET_ESC,
	  .help = "clear the filter, else quit" },
};

/* The columns: console.columns (engine.h's enum nx_column) names them. */
enum fleet_col {
	FC_STATE = NX_COL_STATE,
	FC_NAME = NX_COL_NAME,
	FC_ADDRESS = NX_COL_ADDRESS,
	FC_GROUP = NX_COL_GROUP,
	FC_LOAD = NX_COL_LOAD,
	FC_CPU = NX_COL_CPU,
	FC_MEM = NX_COL_MEM,
	FC_DISK = NX_COL_DISK,
	FC_CHANGE = NX_COL_CHANGE,
	FC__COUNT = NX_COL__COUNT
};

/*
 * A column: its title, its width range, its priority
 * (0 is kept longest) and whether its cells are right-aligned numbers.
 */
struct fleet_column {
	const char *title;
	int min, max;
	int prio;
	bool right;
};

static const struct fleet_column fleet_columns[FC__COUNT] = {
	[FC_STATE] = { "STATE", 11, 11, 0, false },
	[FC_NAME] = { "NAME", 12, 32, 1, false },
	[FC_ADDRESS] = { "ADDRESS", 15, 24, 6, false },
	[FC_GROUP] = { "GROUP", 7, 14, 7, false },
	[FC_LOAD] = { "LOAD", 5, 5, 2, true },
	[FC_CPU] = { "CPU", 4, 4, 4, true },
	[FC_MEM] = { "MEM", 4, 4, 5, true },
	[FC_DISK] = { "DISK", 4, 4, 8, true },
	[FC_CHANGE] = { "LAST CHANGE", 11, 11, 3, true },
};

/*
 * Columns before the first column: the selection marker ('>'), the mark
 * glyph ('*', so that a mark does not depend on colour) and a space.
 */
#define FLEET_MARK 3

struct fleet_view {
	uint32_t top;           /* first row shown */
	uint32_t sel;           /* selected row */
	uint32_t sel_node;      /* its node, kept across rebuilds */
	int width[FC__COUNT];   /* 0: column dropped */
	int laid_out_for;       /* the width the layout was made for */
	uint8_t order[FC__COUNT];       /* the columns shown, in order */
	size_t norder;          /* (tui_columns_current()) */

	uint32_t *rows;         /* node ids shown; NULL: every node in order */
	uint32_t nrows;
	struct filter *filter;  /* NULL: none */
	enum fleet_sort sort;
	bool reverse;
	bool stale;             /* rebuild rows before the next frame */
	uint64_t built_ms;      /* uv_now() of the last rebuild */
	struct sort_cache sort_cache;
	struct marks marks;     /* by node id */
};

/*
 * Rows sorted or filtered by live values are rebuilt with every frame, so
 * that the order on screen matches the values on screen, up to this many
 * rows (a sort of 20,000 costs about 2 ms); above it, once a second.
 */
#define FLEET_LIVE_ROWS 20000
#define FLEET_LIVE_MS 1000

static void *
fleet_view_init(struct tui *t)
{
	return xcalloc(1, sizeof(struct fleet_view));
}

static void
fleet_view_free(void *state)
{
	struct fleet_view *fv = state;

	filter_free(fv->filter);
	sort_cache_free(&fv->sort_cache);
	marks_free(&fv->marks);
	free(fv->rows);
	free(fv);
}

static uint32_t
fleet_count(const struct tui *t, const struct fleet_view *fv)
{
	return fv->rows != NULL ? fv->nrows : t->e->fleet.nnodes;
}

static uint32_t
fleet_row_node(const struct fleet_view *fv, uint32_t row)
{
	return fv->rows != NULL ? fv->rows[row] : row;
}

/*
 * Rebuilds the row list from the filter and the order, and puts the
 * selection back on the node it was on (or the nearest row).
 */
static void
fleet_rebuild(struct tui *t, struct fleet_view *fv)
{
	const struct fleet *f = &t->e->fleet;
	uint32_t i;

	fv->stale = false;
	fv->built_ms = uv_now(t->loop);
	/* Every node, in fleet order, needs no row list; unless a reload
	 * removed some. */
	if (fv->filter == NULL && fv->sort == SORT_NONE && f->nremoved == 0) {
		free(fv->rows);
		fv->rows = NULL;
		fv->nrows = 0;
		fv->sel = fv->sel_node < f->nnodes ? fv->sel_node : fv->sel;
		return;
	}
	fv->rows = xreallocarray(fv->rows, f->nnodes ? f->nnodes : 1,
	    sizeof *fv->rows);
	fv->nrows = (uint32_t)filter_select(fv->filter, f, fv->rows);
	if (fv->sort != SORT_NONE)
		sort_rows(f, &fv->sort_cache, fv->rows, fv->nrows, fv->sort,
		    fv->reverse);
	for (i = 0; i < fv->nrows; i++) {
		if (fv->rows[i] == fv->sel_node) {
			fv->sel = i;
			return;
		}
	}
}

/* A new filter or order: rebuild, and start from the first row. */
static void
fleet_restart(struct fleet_view *fv)
{
	fv->stale = true;
	fv->top = fv->sel = 0;
	fv->sel_node = UINT32_MAX;
}

/* Whether the rows depend on values that change while the fleet runs. */
static bool
fleet_live(const struct fleet_view *fv)
{
	return filter_dynamic(fv->filter) ||
	    (fv->sort != SORT_NONE && fv->sort != SORT_NAME);
}

/* How many node rows the body holds (the column titles take one line). */
static uint32_t
fleet_page(const struct tui *t)
{
	int rows = t->body != NULL ? getmaxy(t->body) - 1 : 1;

	return rows > 0 ? (uint32_t)rows : 1;
}

/* Total width of the kept columns, with one space between each two. */
static int
fleet_total(const int *width)
{
	int c, total = FLEET_MARK, n = 0;

	for (c = 0; c < FC__COUNT; c++) {
		if (width[c] > 0) {
			total += width[c];
			n++;
		}
	}
	return n > 0 ? total + n - 1 : total;
}

/*
 * Chooses column widths for `cols` terminal columns, for the columns
 * chosen (tui_columns_current(): :columns, console.columns), the others
 * dropped: drop the least important until the minimums fit, then widen NAME, GROUP and ADDRESS in
 * turn up to their maximums.  Space left after that stays at the right
 * end, so the numbers stay near the names on a very wide terminal.
 */
static void
fleet_layout(struct tui *t, struct fleet_view *fv, int cols)
{
	static const int grow[] = { FC_NAME, FC_GROUP, FC_ADDRESS };
	int c, prio, spare, add;
	size_t g;

	fv->norder = tui_columns_current(t, fv->order);
	memset(fv->width, 0, sizeof fv->width);
	for (g = 0; g < fv->norder; g++)
		fv->width[fv->order[g]] = fleet_columns[fv->order[g]].min;
	for (prio = 8; prio > 1 && fleet_total(fv->width) > cols; prio--) {
		for (c = 0; c < FC__COUNT; c++) {
			if (fleet_columns[c].prio == prio)
				fv->width[c] = 0;
		}
	}
	spare = cols - fleet_total(fv->width);
	for (g = 0; g < NX_ARRAY_LEN(grow) && spare > 0; g++) {
		c = grow[g];
		if (fv->width[c] == 0)
			continue;
		add = fleet_columns[c].max - fv->width[c];
		if (add > spare)
			add = spare;
		fv->width[c] += add;
		spare -= add;
	}
	fv->laid_out_for = cols;
}

/* Keeps top and sel inside the fleet and the selection on the page. */
static void
fleet_clamp(struct fleet_view *fv, uint32_t n, uint32_t page)
{
	if (n == 0) {
		fv->top = fv->sel = 0;
		return;
	}
	if (fv->sel >= n)
		fv->sel = n - 1;
	if (fv->top > (n > page ? n - page : 0))
		fv->top = n > page ? n - page : 0;
	if (fv->sel < fv->top)
		fv->top = fv->sel;
	if (fv->sel >= fv->top + page)
		fv->top = fv->sel - page + 1;
}

/* Writes a metric cell: "-" when not known. */
static void
fleet_metric(char *buf, size_t len, double v, bool percent)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (percent)
		snprintf(buf, len, "%.0f%%", v);
	else
		snprintf(buf, len, v < 99.995 ? "%.2f" : "%.0f", v);
}

/* The text of one cell; returns it (buf, or a string that outlives it). */
static const char *
fleet_cell(struct tui *t, const struct node *n, int c, char *buf, size_t len)
{
	switch (c) {
	case FC_STATE:
		return nx_health_name(n->health);
	case FC_NAME:
		return n->name;
	case FC_ADDRESS:
		return n->address;
	case FC_GROUP:
		return node_group_name(&t->e->fleet, n);
	case FC_LOAD:
		fleet_metric(buf, len, n->m.v[NX_M_LOAD], false);
		return buf;
	case FC_CPU:
		fleet_metric(buf, len, n->m.v[NX_M_CPU], true);
		return buf;
	case FC_MEM:
		fleet_metric(buf, len, n->m.v[NX_M_MEM], true);
		return buf;
	case FC_DISK:
		fleet_metric(buf, len, n->m.v[NX_M_DISK], true);
		return buf;
	case FC_CHANGE:
		if (n->last_change == 0)
			return "-";
		tui_format_age(buf, len, t->now - n->last_change);
		return buf;
	default:
		return "";
	}
}

static void
fleet_draw_row(struct tui *t, struct fleet_view *fv, WINDOW *w, int y,
    const struct node *n, bool selected)
{
	bool marked = marks_has(&fv->marks, n->id);
	attr_t base = selected ? t->theme.select : A_NORMAL, attr;
	const char *s;
	char buf[32];
	int c, x = FLEET_MARK;
	size_t o;

	if (selected)
		tui_print(t, w, y, 0, getmaxx(w), base, "", 0);
	if (selected || marked)
		tui_print(t, w, y, 0, FLEET_MARK, marked ? base | A_BOLD : base,
		    selected ? (marked ? ">*" : ">") : " *", marked ? 2 : 1);
	for (o = 0; o < fv->norder; o++) {
		c = fv->order[o];
		if (fv->width[c] == 0)
			continue;
		s = fleet_cell(t, n, c, buf, sizeof buf);
		attr = base;
		if (c == FC_STATE && !selected)
			attr = t->theme.health[n->health];
		if (fleet_columns[c].right)
			tui_print_right(t, w, y, x, fv->width[c], attr, s);
		else
			tui_print(t, w, y, x, fv->width[c],
			    c == FC_STATE ? attr : base, s, strlen(s));
		x += fv->width[c] + 1;
	}
}

static void
fleet_draw(struct tui *t, void *state, WINDOW *w)
{
	struct fleet_view *fv = state;
	const struct fleet *f = &t->e->fleet;
	uint32_t page = fleet_page(t), i;
	int c, x = FLEET_MARK, cols = getmaxx(w);
	static const char empty[] = "no nodes: check the inventory";
	static const char none[] = "no node matches the filter (/ to change, "
	    "Esc to clear)";
	uint8_t order[FC__COUNT];
	size_t norder = tui_columns_current(t, order), o;
	uint32_t n;

	if (fv->laid_out_for != cols || norder != fv->norder ||
	    memcmp(order, fv->order, norder) != 0)
		fleet_layout(t, fv, cols);
	if (fleet_live(fv) && (fleet_count(t, fv) <= FLEET_LIVE_ROWS ||
	    uv_now(t->loop) - fv->built_ms >= FLEET_LIVE_MS))
		fv->stale = true;
	if (fv->stale)
		fleet_rebuild(t, fv);
	n = fleet_count(t, fv);
	fleet_clamp(fv, n, page);
	if (n > 0)
		fv->sel_node = fleet_row_node(fv, fv->sel);

	tui_print(t, w, 0, 0, cols, t->theme.colhdr, "", 0);
	for (o = 0; o < fv->norder; o++) {
		const char *title = fleet_columns[fv->order[o]].title;

		c = fv->order[o];
		if (fv->width[c] == 0)
			continue;
		if (fleet_columns[c].right)
			tui_print_right(t, w, 0, x, fv->width[c],
			    t->theme.colhdr, title);
		else
			tui_print(t, w, 0, x, fv->width[c], t->theme.colhdr,
			    title, strlen(title));
		x += fv->width[c] + 1;
	}
	if (f->nnodes == 0 || n == 0) {
		tui_print(t, w, 2, 2, -1, t->theme.dim, f->nnodes ? none : empty,
		    strlen(f->nnodes ? none : empty));
		return;
	}
	for (i = 0; i < page && fv->top + i < n; i++)
		fleet_draw_row(t, fv, w, (int)i + 1,
		    &f->nodes[fleet_row_node(fv, fv->top + i)],
		    fv->top + i == fv->sel);
}

/* The mark key of row i, for marks_range(). */
static uint64_t
fleet_key_at(void *arg, size_t i)
{
	return fleet_row_node(arg, (uint32_t)i);
}

static bool
fleet_handle_key(struct tui *t, void *state, const struct tui_input *in,
    const struct tui_key *bound)
{
	struct fleet_view *fv = state;
	uint32_t n = fleet_count(t, fv), page = fleet_page(t);
	size_t added;

	if (bound == NULL)
		return false;
	switch (bound->action) {
	case FLEET_OPEN:
		if (n > 0)
			view_node_open(t, fleet_row_node(fv, fv->sel));
		return true;
	case FLEET_MARK_ROW:
		if (n == 0)
			break;
		marks_toggle(&fv->marks, fleet_row_node(fv, fv->sel));
		if (fv->sel + 1 < n)
			fv->sel++;
		break;
	case FLEET_RANGE:
		if (n == 0)
			break;
		added = marks_range(&fv->marks, fleet_key_at, fv, n, fv->sel);
		tui_message(t, false, "%zu marked (%zu added)",
		    marks_count(&fv->marks), added);
		break;
	case FLEET_UNMARK:
		marks_clear(&fv->marks);
		tui_message(t, false, "marks cleared");
		break;
	case FLEET_SORT:
		fv->sort = (fv->sort + 1) % SORT__COUNT;
		fleet_restart(fv);
		tui_message(t, false, "sorted by %s", sort_name(fv->sort));
		break;
	case FLEET_REVERSE:
		fv->reverse = !fv->reverse;
		fleet_restart(fv);
		tui_message(t, false, "sorted by %s, %s", sort_name(fv->sort),
		    fv->reverse ? "reversed" : "usual order");
		break;
	case FLEET_ESC:
		if (fv->filter == NULL)
			return false;
		filter_free(fv->filter);
		fv->filter = NULL;
		fv->stale = true;
		tui_filter_cleared(t);
		break;
	case FLEET_DOWN:
		if (fv->sel + 1 < n)
			fv->sel++;
		break;
	case FLEET_UP:
		if (fv->sel > 0)
			fv->sel--;
		break;
	case FLEET_PAGE_DOWN:
		fv->top += page;
		fv->sel += page;
		break;
	case FLEET_PAGE_UP:
		fv->top = fv->top > page ? fv->top - page : 0;
		fv->sel = fv->sel > page ? fv->sel - page : 0;
		break;
	case FLEET_FIRST:
		fv->top = fv->sel = 0;
		break;
	case FLEET_LAST:
		fv->sel = n > 0 ? n - 1 : 0;
		fv->top = n > page ? n - page : 0;
		break;
	default:
		return false;
	}
	fleet_clamp(fv, n, page);
	tui_mark_dirty(t);
	return true;
}

static void
fleet_position(struct tui *t, void *state, char *buf, size_t len)
{
	const struct fleet_view *fv = state;
	uint32_t n = fleet_count(t, fv), page = fleet_page(t);
	uint32_t last = fv->top + page < n ? fv->top + page : n;
	int k = 0;

	if (n == 0)
		k = snprintf(buf, len, "no rows");
	else
		k = snprintf(buf, len, "rows %u-%u of %u", fv->top + 1, last, n);
	if (k >= 0 && (size_t)k < len && fv->filter != NULL)
		k += snprintf(buf + k, len - (size_t)k, " | %u of %u match",
		    n, t->e->fleet.nnodes - t->e->fleet.nremoved);
	if (k >= 0 && (size_t)k < len && fv->sort != SORT_NONE)
		k += snprintf(buf + k, len - (size_t)k, " | by %s%s",
		    sort_name(fv->sort), fv->reverse ? " reversed" : "");
	if (k >= 0 && (size_t)k < len && marks_count(&fv->marks) > 0)
		snprintf(buf + k, len - (size_t)k, " | %zu marked",
		    marks_count(&fv->marks));
}

/*
 * What the acting keys apply to: the marked nodes (in id order), else
 * the selected one, each as (node, NX_NONE).
 */
static size_t
fleet_selection(struct tui *t, void *state, bool current,
    struct problem **out)
{
	struct fleet_view *fv = state;
	uint32_t n = fleet_count(t, fv);
	size_t i, count = marks_count(&fv->marks);
	uint64_t *keys;

	*out = NULL;
	if (count == 0 || current) {
		if (n == 0)
			return 0;
		*out = xmalloc(sizeof **out);
		(*out)[0].node = fleet_row_node(fv, fv->sel < n ? fv->sel : 0);
		(*out)[0].check = NX_NONE;
		return 1;
	}
	keys = xcalloc(count, sizeof *keys);
	count = marks_keys(&fv->marks, keys);
	*out = xcalloc(count, sizeof **out);
	for (i = 0; i < count; i++) {
		(*out)[i].node = (uint32_t)keys[i];
		(*out)[i].check = NX_NONE;
	}
	free(keys);
	return count;
}

/* Every keystroke of the '/' line: a new filter, or an error. */
static int
fleet_filter(struct tui *t, void *state, const char *text, struct nx_err *err)
{
	struct fleet_view *fv = state;
	struct filter *f;

	if (filter_parse(text, &f, err) != 0)
		return -1;
	filter_free(fv->filter);
	fv->filter = f;
	fleet_restart(fv);
	tui_mark_dirty(t);
	return 0;
}

static int
fleet_sort(struct tui *t, void *state, const char *column, struct nx_err *err)
{
	struct fleet_view *fv = state;
	enum fleet_sort s;
	bool reverse = false;

	if (*column == '-') {
		reverse = true;
		column++;
	}
	if (sort_from_name(column, &s) != 0) {
		nx_err_set(err, "cannot sort by '%s' (name, state, load, cpu, "
		    "mem, disk, change, none; -COLUMN reverses)", column);
		return -1;
	}
	fv->sort = s;
	fv->reverse = reverse;
	fleet_restart(fv);
	tui_message(t, false, "sorted by %s%s", sort_name(s),
	    reverse ? ", reversed" : "");
	return 0;
}

static void
fleet_event(struct tui *t, void *state, const struct event *ev)
{
	struct fleet_view *fv = state;

	if (ev->kind == NX_EV_NODE || ev->kind == NX_EV_CONFIG)
		fv->stale = true;
}


const struct view view_fleet = {
	.version = TUI_VIEW_VERSION,
	.name = "fleet",
	.key = '1',
	.keys = fleet_keys,
	.nkeys = NX_ARRAY_LEN(fleet_keys),
	.init = fleet_view_init,
	.free = fleet_view_free,
	.draw = fleet_draw,
	.handle_key = fleet_handle_key,
	.position = fleet_position,
	.event = fleet_event,
	.filter = fleet_filter,
	.sort = fleet_sort,
	.selection = fleet_selection,
};
