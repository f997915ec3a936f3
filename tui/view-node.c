/*
 * view-node.c - the node view: everything about one node, scrollable.
 *
 * Opened with Enter on a fleet or problems row, or ":node NAME"; Esc goes
 * back to where it was opened from.  It shows the node (name, address,
 * groups, variables, host state), its metrics over the last minute as
 * sparklines, every check (state, attempt, last check and change, flags,
 * output with long output wrapped, perfdata), the node's recent jobs and its
 * recent events.
 *
 * A cursor ('>' in the first column, the selection bar) moves with j/k
 * over the node's items: the "host" line (the node itself), each check,
 * and each recent job; j past the last item and k above the first scroll
 * the page, so that the events below stay reachable.  Space, V and U mark
 * the host line and checks as in the other views ('*' in the second
 * column).  The acting keys of the fleet and problems views act on the
 * marked items, else on the cursor's, through the same code (acting.c,
 * via the view's selection hook): a check item is that check, the host
 * line (or a job line) the node, so that a and d there act on the node's
 * host problem as a fleet row does, and x, o and r on this node.  Enter
 * on a recent job opens it in the jobs view.
 *
 * The recent jobs are the newest NODE_JOBS of the engine's job table
 * (job_at, newest first) whose hosts include the node, looked for among
 * the newest NODE_JOBS_SCAN jobs and NODE_JOBS_HOSTS of their hosts only,
 * so that a frame never walks a long history.
 *
 * The view keeps, for the node shown, a ring of its last NODE_EVENTS
 * events (seeded from the console's event ring when the node is opened,
 * then filled from the bus) and a ring of NODE_SAMPLES metric samples
 * taken every second while the node is the one shown.  Everything drawn
 * from the node (names, vars, outputs) goes through the sanitiser.
 *
 * When the console records to a state store, the sparklines come from the
 * store's metric history instead (engine/history.c), so they survive a
 * restart: the last 10 minutes, hour, day or 30 days ('w' cycles), read
 * from the raw, raw, 1-minute and 1-hour tier, NODE_SAMPLES columns each.
 * The read runs on the libuv thread pool with a reader connection of the
 * view's own (store_open_reader), when the node is opened and then at
 * most every NODE_REFRESH_MS while it is shown; the loop only copies the
 * finished columns (a fetch in flight is never waited for).  Without a
 * store, the ring is drawn.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui.h"

#define NODE_EVENTS 64
#define NODE_SAMPLES 60
#define NODE_METRICS 4          /* load cpu mem disk */
#define NODE_REFRESH_MS 5000    /* store history re-read at most this often */
#define NODE_JOBS 5             /* recent jobs shown */
#define NODE_JOBS_SCAN 1000     /* newest jobs looked at for them ... */
#define NODE_JOBS_HOSTS 100000  /* ... and at most this many of their hosts */

/* A sparkline window and the history tier it is read from. */
struct node_window {
	const char *name;
	nx_time span;
	enum hist_tier tier;
};

static const struct node_window node_windows[] = {
	{ "10 minutes", 10 * 60000LL, HIST_RAW },
	{ "hour", 3600000LL, HIST_RAW },
	{ "day", 86400000LL, HIST_1M },
	{ "30 days", 30 * 86400000LL, HIST_1H },
};

/*
 * One read of a node's history on the thread pool.  The worker owns
 * everything in it until after_work; if the view is freed meanwhile, nv
 * is NULL and after_work frees the fetch and the reader.
 */
struct node_fetch {
	uv_work_t req;
	struct node_view *nv;   /* NULL: the view is gone */
	char *path;             /* the store's file */
	char *node;             /* the node's name */
	struct store *reader;   /* the view's reader connection; may be NULL */
	nx_time from, to;
	enum hist_tier tier;
	size_t window;          /* index into node_windows */
	/* Results: the average of each column, NAN where it has no point. */
	float col[NODE_METRICS][NODE_SAMPLES];
	uint32_t points;        /* points read of the metric with most */
	double ms;              /* the worker's wall time */
	bool failed;
	char err[sizeof(struct nx_err)];
};

/* Column sums of one metric while the worker reads it. */
struct node_fetch_acc {
	const struct node_fetch *f;
	double sum[NODE_SAMPLES];
	uint32_t n[NODE_SAMPLES];
	uint32_t points;
};

enum {
	NODE_DOWN,
	NODE_UP,
	NODE_PAGE_DOWN,
	NODE_PAGE_UP,
	NODE_FIRST,
	NODE_LAST,
	NODE_BOTTOM,
	NODE_WINDOW,
	NODE_OPEN,
	NODE_MARK_ROW,
	NODE_RANGE,
	NODE_UNMARK,
};

static const struct tui_key node_keys[] = {
	{ .key = 'j', .action = NODE_DOWN, .hint = "j/k", .help = "move" },
	{ .key = 'k', .action = NODE_UP },
	{ .key = KEY_DOWN, .keycode = true, .action = NODE_DOWN },
	{ .key = KEY_UP, .keycode = true, .action = NODE_UP },
	{ .key = KEY_NPAGE, .keycode = true, .action = NODE_PAGE_DOWN,
	  .hint = "PgDn/PgUp", .help = "page" },
	{ .key = KEY_PPAGE, .keycode = true, .action = NODE_PAGE_UP },
	{ .key = TUI_CTRL('f'), .action = NODE_PAGE_DOWN },
	{ .key = TUI_CTRL('b'), .action = NODE_PAGE_UP },
	{ .key = 'g', .action = NODE_FIRST, .hint = "g/G",
	  .help = "first/last item" },
	{ .key = 'G', .action = NODE_LAST },
	{ .key = KEY_HOME, .keycode = true, .action = NODE_FIRST },
	{ .key = KEY_END, .keycode = true, .action = NODE_BOTTOM,
	  .help = "the bottom (the newest events)" },
	{ .key = 'w', .action = NODE_WINDOW, .hint = "w",
	  .help = "window" },
	{ .key = '\r', .action = NODE_OPEN, .hint = "Enter",
	  .help = "job" },
	{ .key = '\n', .action = NODE_OPEN },
	{ .key = KEY_ENTER, .keycode = true, .action = NODE_OPEN },
	{ .key = ' ', .action = NODE_MARK_ROW, .hint = "Space",
	  .help = "mark" },
	{ .key = 'V', .action = NODE_RANGE,
	  .help = "mark from the last marked row to here" },
	{ .key = 'U', .action = NODE_UNMARK, .help = "unmark all" },
	TUI_ACTING_KEYS,
	{ .key = TUI_KEY_ESC, .action = TUI_ACT_BACK, .hint = "Esc",
	  .help = "back" },
};

struct node_view {
	bool have;              /* a node was opened */
	uint32_t node;
	struct tui_event ev[NODE_EVENTS];
	uint64_t nev;           /* events recorded; ev[i % NODE_EVENTS] */
	float hist[NODE_METRICS][NODE_SAMPLES];
	uint32_t nhist;         /* samples recorded; [i % NODE_SAMPLES] */

	/* The store's history (when the console records to a store). */
	struct tui *t;
	struct store *reader;   /* own reader connection; NULL until a fetch */
	struct node_fetch *fetch;       /* in flight, or NULL */
	size_t window;          /* node_windows[] */
	bool stored;            /* scol holds the shown node's history */
	size_t stored_window;   /* ... of this window */
	float scol[NODE_METRICS][NODE_SAMPLES];
	uint32_t spoints;       /* samples of the metric with most */
	uint64_t fetched_at;    /* uv_now() of the last fetch started */
	double fetch_ms;        /* the last fetch's read time (worker) */
	char fetch_err[sizeof(struct nx_err)];
	int top;                /* first line shown */
	int lines;              /* lines of the last frame */

	/*
	 * The cursor and its items: 0 the host line, 1 + k check k of the
	 * node, 1 + nchecks + i its recent job i.  Where each item was
	 * drawn at the last frame (first line, line count), to scroll to it.
	 */
	uint32_t cur;
	bool follow;            /* bring the cursor's item on screen */
	int *item_y, *item_h;   /* owned */
	size_t nitems, items_cap;
	struct marks marks;     /* check ids; NX_NONE: the host line */
};

/* Drawing state of one frame: a virtual line cursor scrolled by top. */
struct node_draw {
	struct tui *t;
	WINDOW *w;
	int y;                  /* virtual line */
	int top, maxy, cols;
};

static void *
node_view_init(struct tui *t)
{
	struct node_view *nv = xcalloc(1, sizeof(struct node_view));

	nv->t = t;
	marks_init(&nv->marks);
	return nv;
}

static void
node_view_free(void *state)
{
	struct node_view *nv = state;
	struct nx_err err = { { 0 } };

	/* A fetch in flight holds the reader; its after_work frees both. */
	if (nv->fetch != NULL)
		nv->fetch->nv = NULL;
	store_close(nv->reader, &err);          /* NULL during a fetch */
	marks_free(&nv->marks);
	free(nv->item_y);
	free(nv->item_h);
	free(nv);
}

/* ---------------------------------------------------------------------- */
/* History from the store, on the thread pool                              */

static void node_fetch_start(struct tui *, struct node_view *);

static int
node_fetch_point(void *arg, const struct hist_point *p)
{
	struct node_fetch_acc *a = arg;
	const struct node_fetch *f = a->f;
	int64_t c;

	if (p->time < f->from || p->time >= f->to || isnan(p->avg))
		return 0;
	c = (p->time - f->from) * NODE_SAMPLES / (f->to - f->from);
	if (c < 0 || c >= NODE_SAMPLES)
		return 0;
	a->sum[c] += p->avg;
	a->n[c]++;
	a->points++;
	return 0;
}

/* Worker thread: opens the reader if needed and reads every metric. */
static void
node_fetch_work(uv_work_t *req)
{
	struct node_fetch *f = req->data;
	struct nx_err err = { { 0 } };
	struct node_fetch_acc a;
	enum store_fail fail;
	uint64_t t0 = uv_hrtime();
	int m, i;

	if (f->reader == NULL &&
	    (f->reader = store_open_reader(f->path, &fail, &err)) == NULL)
		goto fail;
	for (m = 0; m < NODE_METRICS; m++) {
		memset(&a, 0, sizeof a);
		a.f = f;
		if (store_metric_series(f->reader, f->node,
		    hist_metric_name((enum nx_metric)m), f->tier, f->from,
		    f->to, node_fetch_point, &a, &err) != 0)
			goto fail;
		for (i = 0; i < NODE_SAMPLES; i++)
			f->col[m][i] = a.n[i] > 0 ? (float)(a.sum[i] / a.n[i]) :
			    NAN;
		if (a.points > f->points)
			f->points = a.points;
	}
	f->ms = (double)(uv_hrtime() - t0) / 1e6;
	return;
fail:
	f->failed = true;
	snprintf(f->err, sizeof f->err, "%s", err.msg);
	f->ms = (double)(uv_hrtime() - t0) / 1e6;
}

/* Loop thread: hands the columns to the view (or frees an orphan). */
static void
node_fetch_done(uv_work_t *req, int status)
{
	struct node_fetch *f = req->data;
	struct node_view *nv = f->nv;
	struct nx_err err = { { 0 } };

	if (nv == NULL) {
		store_close(f->reader, &err);
		goto out;
	}
	nv->fetch = NULL;
	nv->reader = f->reader;
	nv->fetch_ms = f->ms;
	if (status != 0 || f->failed) {
		snprintf(nv->fetch_err, sizeof nv->fetch_err, "%s",
		    status != 0 ? uv_strerror(status) : f->err);
		/* A reader that failed may be stale (file replaced): reopen. */
		store_close(nv->reader, &err);
		nv->reader = NULL;
	} else if (nv->have && strcmp(f->node,
	    nv->t->e->fleet.nodes[nv->node].name) == 0 &&
	    f->window == nv->window) {
		memcpy(nv->scol, f->col, sizeof nv->scol);
		nv->spoints = f->points;
		nv->stored = true;
		nv->stored_window = f->window;
		nv->fetch_err[0] = '\0';
	} else
		node_fetch_start(nv->t, nv);    /* another node or window now */
	tui_mark_dirty(nv->t);
out:
	free(f->path);
	free(f->node);
	free(f);
}

/*
 * Starts a read of the shown node's history in the current window when
 * the console has a store and no read is in flight.  Never blocks.
 */
static void
node_fetch_start(struct tui *t, struct node_view *nv)
{
	const struct node_window *w = &node_windows[nv->window];
	struct node_fetch *f;

	if (t->opts->store == NULL || !nv->have || nv->fetch != NULL ||
	    nv->node >= t->e->fleet.nnodes)
		return;
	f = xcalloc(1, sizeof *f);
	f->req.data = f;
	f->nv = nv;
	f->path = xstrdup(store_path(t->opts->store));
	f->node = xstrdup(t->e->fleet.nodes[nv->node].name);
	f->reader = nv->reader;
	f->to = engine_now(t->e) + 1;
	f->from = f->to - w->span;
	f->tier = w->tier;
	f->window = nv->window;
	nv->reader = NULL;              /* the worker's until done */
	nv->fetched_at = uv_now(t->loop);
	if (uv_queue_work(t->loop, &f->req, node_fetch_work,
	    node_fetch_done) != 0) {
		nv->reader = f->reader;
		free(f->path);
		free(f->node);
		free(f);
		return;
	}
	nv->fetch = f;
}

/* The screen line of the cursor, or -1 when it is scrolled away. */
static int
node_row(const struct node_draw *d)
{
	int r = d->y - d->top;

	return r >= 0 && r < d->maxy ? r : -1;
}

/* Draws text at column x of the cursor's line (nothing when off screen). */
static int
node_put(struct node_draw *d, int x, int width, attr_t attr, const char *s,
    size_t len)
{
	int r = node_row(d);

	if (r < 0 || x >= d->cols)
		return 0;
	return tui_print(d->t, d->w, r, x, width, attr, s, len);
}

static void
node_title(struct node_draw *d, const char *title)
{
	d->y++;
	node_put(d, 0, -1, d->t->theme.colhdr, title, strlen(title));
	d->y++;
}

/* "label  value" on one line. */
static void
node_field(struct node_draw *d, const char *label, const char *value,
    attr_t attr)
{
	node_put(d, 2, 12, d->t->theme.dim, label, strlen(label));
	node_put(d, 15, -1, attr, value, strlen(value));
	d->y++;
}

/*
 * Untrusted text, sanitised, then wrapped to the width from column x:
 * every line of s (split at '\n' before sanitising) on as many screen
 * lines as it needs.
 */
static void
node_wrap(struct node_draw *d, int x, attr_t attr, const char *s, size_t len)
{
	char safe[4096];
	size_t n, off, fit, line;
	int width = d->cols - x, cols;

	if (width < 8)
		width = 8;
	while (len > 0) {
		const char *nl = memchr(s, '\n', len);

		line = nl != NULL ? (size_t)(nl - s) : len;
		n = text_sanitize(safe, sizeof safe, s, line);
		off = 0;
		do {
			fit = text_fit(safe + off, n - off, width, &cols);
			if (fit == 0 && off < n)
				fit = n - off;  /* a character wider than the line */
			node_put(d, x, -1, attr, safe + off, fit);
			d->y++;
			off += fit;
		} while (off < n);
		if (nl == NULL)
			break;
		s = nl + 1;
		len -= line + 1;
	}
}

/* One sparkline of n values (oldest first, NAN blank), scaled to 0..hi. */
static void
node_spark(struct node_draw *d, const float *vals, uint32_t n, double hi,
    int x)
{
	static const char *const blocks[] = {
		"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
		"\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88",
	};
	static const char ascii[] = "_.-:=+*#";
	char buf[NODE_SAMPLES * 3 + 1];
	size_t len = 0;
	uint32_t i;
	int level;
	float v;

	for (i = 0; i < n && i < NODE_SAMPLES; i++) {
		v = vals[i];
		if (isnan(v)) {
			buf[len++] = ' ';
			continue;
		}
		level = hi > 0 ? (int)(v / hi * 7.999) : 0;
		level = level < 0 ? 0 : level > 7 ? 7 : level;
		if (d->t->utf8) {
			memcpy(buf + len, blocks[level], 3);
			len += 3;
		} else
			buf[len++] = ascii[level];
	}
	buf[len] = '\0';
	node_put(d, x, -1, d->t->theme.health[NX_H_OK], buf, len);
}

/* Whether the sparklines come from the store (it has points to show). */
static bool
node_from_store(const struct node_view *nv)
{
	return nv->stored && nv->spoints > 0;
}

/*
 * The values of metric m to draw, oldest first, into vals: the store's
 * columns when there are some for this window, else the ring.  Returns
 * how many.
 */
static uint32_t
node_values(const struct node_view *nv, int m, float vals[NODE_SAMPLES])
{
	uint32_t n, i;

	if (node_from_store(nv)) {
		memcpy(vals, nv->scol[m], sizeof nv->scol[m]);
		return NODE_SAMPLES;
	}
	n = nv->nhist < NODE_SAMPLES ? nv->nhist : NODE_SAMPLES;
	for (i = 0; i < n; i++)
		vals[i] = nv->hist[m][(nv->nhist - n + i) % NODE_SAMPLES];
	return n;
}

static void
node_metrics(struct node_draw *d, const struct node_view *nv,
    const struct node *n)
{
	static const char *const names[NODE_METRICS] = {
		"load", "cpu %", "mem %", "disk %",
	};
	float vals[NODE_SAMPLES];
	char buf[160];
	uint32_t i, cnt;
	double hi;
	int m;

	if (node_from_store(nv))
		snprintf(buf, sizeof buf, "METRICS (the last %s from the state "
		    "store, %u samples; w: window)",
		    node_windows[nv->stored_window].name, nv->spoints);
	else if (nv->stored)
		snprintf(buf, sizeof buf, "METRICS (the last minute; nothing in "
		    "the state store for the last %s yet; w: window)",
		    node_windows[nv->stored_window].name);
	else if (d->t->opts->store != NULL && nv->fetch_err[0] != '\0')
		snprintf(buf, sizeof buf, "METRICS (the last minute; the state "
		    "store's history cannot be read)");
	else
		snprintf(buf, sizeof buf, "METRICS (the last minute, one "
		    "sample a second)");
	node_title(d, buf);
	for (m = 0; m < NODE_METRICS; m++) {
		double v = n->m.v[m];

		if (isnan(v))
			snprintf(buf, sizeof buf, "-");
		else
			snprintf(buf, sizeof buf, m == 0 ? "%.2f" : "%.0f", v);
		node_put(d, 2, 12, d->t->theme.dim, names[m], strlen(names[m]));
		node_put(d, 15, 8, A_NORMAL, buf, strlen(buf));
		cnt = node_values(nv, m, vals);
		hi = 100;
		if (m == 0) {
			hi = 1;
			for (i = 0; i < cnt; i++)
				if (!isnan(vals[i]) && vals[i] > hi)
					hi = vals[i];
		}
		node_spark(d, vals, cnt, hi, 24);
		d->y++;
	}
}

/* A time as "12s ago", or "never". */
static void
node_ago(struct tui *t, char *buf, size_t len, nx_time when)
{
	char age[16];

	if (when == 0) {
		snprintf(buf, len, "never");
		return;
	}
	tui_format_age(age, sizeof age, t->now - when);
	snprintf(buf, len, "%s ago", age);
}

/* ---------------------------------------------------------------------- */
/* The cursor's items                                                      */

/*
 * Writes the ids of the newest jobs whose hosts include node to ids,
 * newest first, at most max, looking at the newest NODE_JOBS_SCAN jobs of
 * the engine's table and NODE_JOBS_HOSTS of their hosts only.  Returns how
 * many.
 */
static size_t
node_recent_jobs(const struct engine *e, uint32_t node, uint32_t *ids,
    size_t max)
{
	size_t n = job_count(e), i, k = 0, seen = 0, hosts = 0;
	const struct job *j;
	uint32_t h;

	for (i = n; i > 0 && k < max && seen < NODE_JOBS_SCAN &&
	    hosts < NODE_JOBS_HOSTS; i--, seen++) {
		j = job_at(e, i - 1);
		hosts += j->nhosts;
		for (h = 0; h < j->nhosts; h++) {
			if (j->hosts[h].node == node) {
				ids[k++] = j->id;
				break;
			}
		}
	}
	return k;
}

/* How many items the cursor has on node n now (host, checks, jobs). */
static uint32_t
node_nitems(const struct tui *t, const struct node *n)
{
	uint32_t ids[NODE_JOBS];

	return 1 + n->nchecks + (uint32_t)node_recent_jobs(t->e, n->id, ids,
	    NODE_JOBS);
}

/* The mark key of item i (the host line or a check), for marks_range(). */
static uint64_t
node_key_at(void *arg, size_t i)
{
	const struct node_view *nv = arg;
	const struct node *n = &nv->t->e->fleet.nodes[nv->node];

	return i == 0 ? NX_NONE : n->checks[i - 1];
}

/*
 * Item i was drawn from line y0 to the cursor's line: records where, and
 * when it is on screen draws the selection bar over its first line with
 * '>' in column 0 if it is the cursor's, and '*' in column 1 if it is
 * marked (key UINT64_MAX: an item that cannot be marked).
 */
static void
node_item(struct node_draw *d, struct node_view *nv, size_t i, int y0,
    uint64_t key)
{
	attr_t sel = d->t->theme.select;
	int r = y0 - d->top;

	if (i >= nv->items_cap) {
		nv->items_cap = i + 16;
		nv->item_y = xreallocarray(nv->item_y, nv->items_cap,
		    sizeof *nv->item_y);
		nv->item_h = xreallocarray(nv->item_h, nv->items_cap,
		    sizeof *nv->item_h);
	}
	nv->item_y[i] = y0;
	nv->item_h[i] = d->y > y0 ? d->y - y0 : 1;
	if (i + 1 > nv->nitems)
		nv->nitems = i + 1;
	if (r < 0 || r >= d->maxy)
		return;
	if (i == nv->cur) {
		mvwchgat(d->w, r, 0, -1, sel & ~A_COLOR, (short)PAIR_NUMBER(sel),
		    NULL);
		tui_print(d->t, d->w, r, 0, 1, sel, ">", 1);
	}
	if (key != UINT64_MAX && marks_has(&nv->marks, key))
		tui_print(d->t, d->w, r, 1, 1, i == nv->cur ? sel : A_BOLD,
		    "*", 1);
}

/*
 * One recent job of node `node`: id, state, action, the job's host
 * counts, this node's result and outcome, and its age.
 */
static void
node_job(struct node_draw *d, const struct job *j, uint32_t node)
{
	struct tui *t = d->t;
	const struct job_host *h = NULL;
	char buf[256], counts[96], id[16], age[24], res[48];
	const char *state = job_state_name(j->state), *outcome;
	attr_t attr = A_NORMAL;
	uint32_t k;

	for (k = 0; k < j->nhosts && h == NULL; k++) {
		if (j->hosts[k].node == node)
			h = &j->hosts[k];
	}
	if (j->state == JOB_SUCCEEDED)
		attr = t->theme.health[NX_H_OK];
	else if (j->state == JOB_FAILED)
		attr = t->theme.health[NX_H_CRITICAL];
	else if (j->state == JOB_PROPOSED || j->state == JOB_SUGGESTED)
		attr = t->theme.health[NX_H_WARNING];
	else if (job_final(j))
		attr = t->theme.dim;
	snprintf(id, sizeof id, "#%u", j->id);
	node_put(d, 2, 7, A_NORMAL, id, strlen(id));
	node_put(d, 10, 11, attr, state, strlen(state));
	node_put(d, 22, 18, A_BOLD, joblist_action(j),
	    strlen(joblist_action(j)));
	joblist_counts(j, counts, sizeof counts);
	res[0] = '\0';
	if (h != NULL && h->exit_status >= 0)
		snprintf(res, sizeof res, "%s, exit %d",
		    job_host_state_name(h->state), h->exit_status);
	else if (h != NULL)
		snprintf(res, sizeof res, "%s", job_host_state_name(h->state));
	outcome = joblist_outcome(j);
	node_ago(t, age, sizeof age, j->created);
	snprintf(buf, sizeof buf, "%s  this node: %s%s%s  %s", counts, res,
	    outcome[0] != '\0' ? "  " : "", outcome, age);
	node_put(d, 41, -1, A_NORMAL, buf, strlen(buf));
	d->y++;
}

static void
node_check(struct node_draw *d, const struct check *c)
{
	struct tui *t = d->t;
	struct nx_plugin_output po;
	char buf[256], last[24], change[24];
	const char *state = c->has_result ? nx_state_name(c->state) : "PENDING";
	enum nx_health h = c->has_result ? (enum nx_health)c->state :
	    NX_H_PENDING;
	size_t i;

	node_put(d, 2, 12, t->theme.health[h], state, strlen(state));
	node_put(d, 15, 16, A_BOLD, c->name, strlen(c->name));
	node_ago(t, last, sizeof last, c->last_check);
	node_ago(t, change, sizeof change, c->last_change);
	snprintf(buf, sizeof buf, "%s %u/%u  checked %s  changed %s%s%s%s%s",
	    c->state_type == NX_HARD ? "HARD" : "SOFT", c->attempt,
	    c->max_attempts ? c->max_attempts : 1, last, change,
	    c->is_host_check ? "  host check" : "",
	    c->ack.type != NX_ACK_NONE ? "  acknowledged" : "",
	    c->downtime_depth > 0 ? "  in downtime" : "",
	    c->flapping ? "  flapping" : "");
	node_put(d, 32, -1, A_NORMAL, buf, strlen(buf));
	d->y++;
	if (c->output == NULL || c->output[0] == '\0')
		return;
	plugin_output_parse(c->output, strlen(c->output), &po);
	node_wrap(d, 6, A_NORMAL, po.first_line, strlen(po.first_line));
	if (po.long_output != NULL)
		node_wrap(d, 6, t->theme.dim, po.long_output,
		    strlen(po.long_output));
	for (i = 0; i < po.nperf; i++) {
		const struct nx_perf *p = &po.perf[i];
		int k;

		if (p->undetermined)
			k = snprintf(buf, sizeof buf, "%s = U", p->label);
		else
			k = snprintf(buf, sizeof buf, "%s = %g%s", p->label,
			    p->value, p->uom);
		if (k > 0 && (size_t)k < sizeof buf && p->warn_text != NULL)
			k += snprintf(buf + k, sizeof buf - (size_t)k,
			    "  warn %s", p->warn_text);
		if (k > 0 && (size_t)k < sizeof buf && p->crit_text != NULL)
			snprintf(buf + k, sizeof buf - (size_t)k, "  crit %s",
			    p->crit_text);
		node_put(d, 6, 6, t->theme.dim, "perf", 4);
		node_put(d, 11, -1, A_NORMAL, buf, strlen(buf));
		d->y++;
	}
	plugin_output_free(&po);
}

static void
node_vars(struct node_draw *d, const struct node *n)
{
	const char *key;
	json_t *v;
	char *dump;

	if (n->vars == NULL || json_object_size(n->vars) == 0)
		return;
	node_title(d, "VARIABLES");
	json_object_foreach(n->vars, key, v) {
		node_put(d, 2, 24, d->t->theme.dim, key, strlen(key));
		if (json_is_string(v))
			node_wrap(d, 27, A_NORMAL, json_string_value(v),
			    json_string_length(v));
		else {
			dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
			    JSON_PRESERVE_ORDER);
			node_wrap(d, 27, A_NORMAL, dump ? dump : "?",
			    dump ? strlen(dump) : 1);
			free(dump);
		}
	}
}

/*
 * Draws the node's lines from line nv->top into w, maxy lines of it (0:
 * nothing, only where the items are: the pass that scrolls to the cursor).
 */
static void
node_draw_body(struct tui *t, struct node_view *nv, WINDOW *w, int maxy)
{
	const struct fleet *f = &t->e->fleet;
	struct node_draw d = { .t = t, .w = w, .top = nv->top,
	    .maxy = maxy, .cols = getmaxx(w) };
	const struct node *n = &f->nodes[nv->node];
	char buf[512], since[24];
	uint32_t jobs[NODE_JOBS];
	size_t len = 0, njobs;
	uint64_t i, first;
	uint16_t k;
	int y0;

	njobs = node_recent_jobs(t->e, n->id, jobs, NODE_JOBS);
	if (nv->cur >= 1 + n->nchecks + njobs)
		nv->cur = (uint32_t)(n->nchecks + njobs);
	nv->nitems = 0;
	node_put(&d, 0, -1, t->theme.title, "", 0);
	node_put(&d, 1, -1, t->theme.title, n->name, strlen(n->name));
	if (n->removed)         /* by an inventory reload: kept, not live */
		node_put(&d, d.cols - 14, 13, t->theme.dim, "REMOVED", 7);
	else
		node_put(&d, d.cols - 14, 13, t->theme.health[n->health],
		    nx_health_name(n->health),
		    strlen(nx_health_name(n->health)));
	d.y += 2;
	snprintf(buf, sizeof buf, "%s", n->address ? n->address : "-");
	node_field(&d, "address", buf, A_NORMAL);
	if (n->port != 0 || n->user != NULL) {
		snprintf(buf, sizeof buf, "port %u  user %s", n->port,
		    n->user ? n->user : "(default)");
		node_field(&d, "ssh", buf, A_NORMAL);
	}
	buf[0] = '\0';
	for (k = 0; k < n->ngroups && len < sizeof buf - 1; k++) {
		int r = snprintf(buf + len, sizeof buf - len, "%s%s",
		    k ? ", " : "", f->groups[n->groups[k]]);

		len += r > 0 ? (size_t)r : 0;
	}
	node_field(&d, "groups", n->ngroups ? buf : "-", A_NORMAL);
	node_field(&d, "provider", n->provider ? n->provider->name : "-",
	    A_NORMAL);
	node_ago(t, since, sizeof since, n->last_change);
	y0 = d.y;
	snprintf(buf, sizeof buf, "%s%s%s, health %s since %s",
	    nx_host_state_name(n->host_state),
	    n->ack.type != NX_ACK_NONE ? " (acknowledged)" : "",
	    n->downtime_depth > 0 ? " (in downtime)" : "",
	    nx_health_name(n->health), since);
	node_field(&d, "host", buf, n->host_state == NX_HOST_UP ? A_NORMAL :
	    t->theme.health[n->host_state == NX_HOST_DOWN ? NX_H_DOWN :
	    NX_H_UNREACHABLE]);
	node_item(&d, nv, 0, y0, NX_NONE);
	node_vars(&d, n);
	node_metrics(&d, nv, n);
	snprintf(buf, sizeof buf, "CHECKS (%u)", n->nchecks);
	node_title(&d, buf);
	for (k = 0; k < n->nchecks; k++) {
		y0 = d.y;
		node_check(&d, &f->checks[n->checks[k]]);
		node_item(&d, nv, 1 + (size_t)k, y0, n->checks[k]);
	}
	node_title(&d, "RECENT JOBS (newest first)");
	if (njobs == 0) {
		node_put(&d, 2, -1, t->theme.dim, "none", 4);
		d.y++;
	}
	for (i = 0; i < njobs; i++) {
		const struct job *j = job_find(t->e, jobs[i]);

		if (j == NULL)
			continue;
		y0 = d.y;
		node_job(&d, j, n->id);
		node_item(&d, nv, 1 + n->nchecks + i, y0, UINT64_MAX);
	}
	node_title(&d, "RECENT EVENTS (newest last)");
	first = nv->nev > NODE_EVENTS ? nv->nev - NODE_EVENTS : 0;
	if (nv->nev == 0) {
		node_put(&d, 2, -1, t->theme.dim, "none yet", 8);
		d.y++;
	}
	for (i = first; i < nv->nev; i++) {
		if (node_row(&d) >= 0)
			events_draw_row(t, w, node_row(&d), 2,
			    &nv->ev[i % NODE_EVENTS], false);
		d.y++;
	}
	nv->lines = d.y;
}

static void
node_draw(struct tui *t, void *state, WINDOW *w)
{
	struct node_view *nv = state;
	static const char none[] = "no node: press Enter on a row of the fleet "
	    "or problems view, or type :node NAME";
	int page = getmaxy(w), y, h;

	if (!nv->have || nv->node >= t->e->fleet.nnodes) {
		tui_print(t, w, 1, 2, -1, t->theme.dim, none, strlen(none));
		return;
	}
	if (nv->follow) {
		/* Where the items are now, then scroll the cursor's in. */
		node_draw_body(t, nv, w, 0);
		nv->follow = false;
		if (nv->cur < nv->nitems) {
			y = nv->cur == 0 ? 0 : nv->item_y[nv->cur];
			h = nv->item_h[nv->cur] < page ? nv->item_h[nv->cur] :
			    page;
			if (y < nv->top)
				nv->top = y;
			if (y + h > nv->top + page)
				nv->top = y + h - page;
		}
	}
	node_draw_body(t, nv, w, page);
}

static bool
node_handle_key(struct tui *t, void *state, const struct tui_input *in,
    const struct tui_key *bound)
{
	struct node_view *nv = state;
	int page = t->body != NULL ? getmaxy(t->body) : 1;
	int max = nv->lines > page ? nv->lines - page : 0;
	const struct node *n;
	uint32_t nitems, jobs[NODE_JOBS], nmark;
	size_t added, njobs;

	if (bound == NULL || !nv->have || nv->node >= t->e->fleet.nnodes)
		return false;
	n = &t->e->fleet.nodes[nv->node];
	nitems = node_nitems(t, n);
	nmark = 1 + n->nchecks;         /* the host line and the checks */
	if (nv->cur >= nitems)
		nv->cur = nitems - 1;
	switch (bound->action) {
	case NODE_DOWN:
		/* Past the last item: scroll on, to the events. */
		if (nv->cur + 1 < nitems) {
			nv->cur++;
			nv->follow = true;
		} else
			nv->top++;
		break;
	case NODE_UP:
		/* Scrolled past the cursor (to the events): scroll back. */
		if (nv->cur > 0 && (nv->cur >= nv->nitems ||
		    nv->item_y[nv->cur] >= nv->top)) {
			nv->cur--;
			nv->follow = true;
		} else
			nv->top--;
		break;
	case NODE_PAGE_DOWN:
		nv->top += page;
		break;
	case NODE_PAGE_UP:
		nv->top -= page;
		break;
	case NODE_FIRST:
		nv->top = 0;
		nv->cur = 0;
		break;
	case NODE_LAST:
		nv->cur = nitems - 1;
		nv->follow = true;
		break;
	case NODE_BOTTOM:
		nv->top = max;
		break;
	case NODE_OPEN:
		njobs = node_recent_jobs(t->e, n->id, jobs, NODE_JOBS);
		if (nv->cur < nmark || nv->cur - nmark >= njobs) {
			tui_message(t, false, "Enter opens a recent job (move "
			    "to one with j/k)");
			return true;
		}
		view_jobs_open(t, jobs[nv->cur - nmark]);
		return true;
	case NODE_MARK_ROW:
		if (nv->cur >= nmark) {
			tui_message(t, true, "only the host line and the checks "
			    "can be marked");
			return true;
		}
		marks_toggle(&nv->marks, node_key_at(nv, nv->cur));
		if (nv->cur + 1 < nmark) {
			nv->cur++;
			nv->follow = true;
		}
		tui_mark_dirty(t);
		return true;
	case NODE_RANGE:
		added = marks_range(&nv->marks, node_key_at, nv, nmark,
		    nv->cur < nmark ? nv->cur : nmark - 1);
		tui_message(t, false, "%zu marked (%zu added)",
		    marks_count(&nv->marks), added);
		return true;
	case NODE_UNMARK:
		marks_clear(&nv->marks);
		tui_message(t, false, "marks cleared");
		return true;
	case NODE_WINDOW:
		if (t->opts->store == NULL) {
			tui_message(t, false, "no state store: the sparklines "
			    "show the last minute only");
			return true;
		}
		nv->window = (nv->window + 1) % NX_ARRAY_LEN(node_windows);
		nv->stored = false;
		node_fetch_start(t, nv);
		break;
	default:
		return false;
	}
	if (nv->top > max)
		nv->top = max;
	if (nv->top < 0)
		nv->top = 0;
	tui_mark_dirty(t);
	return true;
}

static void
node_position(struct tui *t, void *state, char *buf, size_t len)
{
	const struct node_view *nv = state;

	int k;

	if (!nv->have) {
		snprintf(buf, len, "no node");
		return;
	}
	k = snprintf(buf, len, "line %d of %d", nv->top + 1, nv->lines);
	if (k >= 0 && (size_t)k < len && marks_count(&nv->marks) > 0)
		snprintf(buf + k, len - (size_t)k, " | %zu marked",
		    marks_count(&nv->marks));
}

/*
 * What the acting keys apply to (acting.c): the marked items (the host
 * line as (node, NX_NONE), a check as (node, check)), else the cursor's;
 * a recent job's line is the node.  *out is the caller's to free.
 */
static size_t
node_selection(struct tui *t, void *state, bool current, struct problem **out)
{
	struct node_view *nv = state;
	const struct node *n;
	size_t i, count, k = 0;
	uint64_t *keys;
	uint16_t c;

	*out = NULL;
	if (!nv->have || nv->node >= t->e->fleet.nnodes)
		return 0;
	n = &t->e->fleet.nodes[nv->node];
	count = marks_count(&nv->marks);
	if (count == 0 || current) {
		*out = xmalloc(sizeof **out);
		(*out)[0].node = n->id;
		(*out)[0].check = nv->cur >= 1 && nv->cur <= n->nchecks ?
		    n->checks[nv->cur - 1] : NX_NONE;
		return 1;
	}
	keys = xcalloc(count, sizeof *keys);
	count = marks_keys(&nv->marks, keys);
	*out = xcalloc(count, sizeof **out);
	for (i = 0; i < count; i++) {
		/* Only the host and this node's checks (the marks' owner). */
		for (c = 0; keys[i] != NX_NONE && c < n->nchecks; c++) {
			if (n->checks[c] == keys[i])
				break;
		}
		if (keys[i] != NX_NONE && c == n->nchecks)
			continue;
		(*out)[k].node = n->id;
		(*out)[k++].check = (uint32_t)keys[i];
	}
	free(keys);
	if (k == 0) {
		free(*out);
		*out = NULL;
	}
	return k;
}

static void
node_record(struct node_view *nv, const struct event *ev)
{
	tui_event_copy(&nv->ev[nv->nev % NODE_EVENTS], ev);
	nv->nev++;
}

static void
node_event(struct tui *t, void *state, const struct event *ev)
{
	struct node_view *nv = state;

	if (nv->have && ev->node == nv->node)
		node_record(nv, ev);
}

static void
node_tick(struct tui *t, void *state)
{
	struct node_view *nv = state;
	const struct node *n;
	int m;

	if (!nv->have || nv->node >= t->e->fleet.nnodes)
		return;
	n = &t->e->fleet.nodes[nv->node];
	for (m = 0; m < NODE_METRICS; m++)
		nv->hist[m][nv->nhist % NODE_SAMPLES] = (float)n->m.v[m];
	nv->nhist++;
	if (t->opts->store != NULL && t->depth > 0 &&
	    tui_views[t->stack[t->depth - 1]] == &view_node &&
	    uv_now(t->loop) - nv->fetched_at >= NODE_REFRESH_MS)
		node_fetch_start(t, nv);
}

/*
 * Shows node `id` in the node view, over the current view: a new node
 * starts with empty history, and its recent events are taken from the
 * console's event ring.
 */
void
view_node_open(struct tui *t, uint32_t id)
{
	struct node_view *nv = tui_view_state(t, &view_node);
	const struct tui_event *e;
	uint64_t i, found = 0, start;

	if (nv == NULL || id >= t->e->fleet.nnodes)
		return;
	if (!nv->have || nv->node != id) {
		struct node_view keep = *nv;

		memset(nv, 0, sizeof *nv);
		nv->t = keep.t;
		nv->reader = keep.reader;
		nv->fetch = keep.fetch;
		nv->window = keep.window;
		nv->item_y = keep.item_y;
		nv->item_h = keep.item_h;
		nv->items_cap = keep.items_cap;
		nv->marks = keep.marks;
		marks_clear(&nv->marks);        /* marks are per node */
		nv->have = true;
		nv->node = id;
		/* The newest NODE_EVENTS events of the node, oldest first. */
		start = t->events.total;
		for (i = t->events.total; i > 0 && found < NODE_EVENTS; i--) {
			e = tui_event_at(t, i - 1);
			if (e == NULL)
				break;
			if (e->node == id) {
				found++;
				start = i - 1;
			}
		}
		for (i = start; i < t->events.total && found > 0; i++) {
			e = tui_event_at(t, i);
			if (e != NULL && e->node == id) {
				nv->ev[nv->nev % NODE_EVENTS] = *e;
				nv->nev++;
			}
		}
		node_tick(t, nv);
	}
	nv->top = 0;
	nv->cur = 0;
	tui_push(t, &view_node);
	node_fetch_start(t, nv);
}

const struct view view_node = {
	.version = TUI_VIEW_VERSION,
	.name = "node",
	.key = '4',
	.keys = node_keys,
	.nkeys = NX_ARRAY_LEN(node_keys),
	.init = node_view_init,
	.free = node_view_free,
	.draw = node_draw,
	.handle_key = node_handle_key,
	.position = node_position,
	.event = node_event,
	.tick = node_tick,
	.selection = node_selection,
};
