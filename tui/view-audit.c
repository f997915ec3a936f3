/*
 * view-audit.c - the audit view: the latest audit rows, newest first, and
 * the state of the store's hash chain.
 *
 * Reading the audit log needs NX_CAP_AUDIT (auditor, admin).  Each time
 * the view is opened it asks the engine (api_audit_read, which writes an
 * audit row either way); a refused actor sees the refusal instead of the
 * rows.  The rows are the engine's in-memory ring (act_audit_at: the last
 * ACT_AUDIT_RECENT rows, whether or not they are also written to a store).
 *
 * When the console records to a store, the chain is verified from the
 * file (audit_verify) on the libuv thread pool, never in a frame: when
 * the view is opened and on `v`.  The first line says what was found:
 * intact with its row count and head, or BROKEN at the first bad row.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui.h"

enum {
	AUDIT_DOWN,
	AUDIT_UP,
	AUDIT_PAGE_DOWN,
	AUDIT_PAGE_UP,
	AUDIT_FIRST,
	AUDIT_LAST,
	AUDIT_VERIFY,
};

static const struct tui_key audit_keys[] = {
	{ .key = 'j', .action = AUDIT_DOWN, .hint = "j/k", .help = "move" },
	{ .key = 'k', .action = AUDIT_UP },
	{ .key = KEY_DOWN, .keycode = true, .action = AUDIT_DOWN },
	{ .key = KEY_UP, .keycode = true, .action = AUDIT_UP },
	{ .key = KEY_NPAGE, .keycode = true, .action = AUDIT_PAGE_DOWN,
	  .hint = "PgDn/PgUp", .help = "page" },
	{ .key = KEY_PPAGE, .keycode = true, .action = AUDIT_PAGE_UP },
	{ .key = TUI_CTRL('f'), .action = AUDIT_PAGE_DOWN },
	{ .key = TUI_CTRL('b'), .action = AUDIT_PAGE_UP },
	{ .key = 'g', .action = AUDIT_FIRST, .hint = "g/G",
	  .help = "newest/oldest" },
	{ .key = 'G', .action = AUDIT_LAST },
	{ .key = KEY_HOME, .keycode = true, .action = AUDIT_FIRST },
	{ .key = KEY_END, .keycode = true, .action = AUDIT_LAST },
	{ .key = 'v', .action = AUDIT_VERIFY, .hint = "v",
	  .help = "verify the chain" },
};

struct audit_view;

/* A verification on the thread pool; freed by its after-work callback. */
struct audit_work {
	uv_work_t req;
	char *path;
	struct audit_verify_result r;
	struct nx_err err;
	int rc;
	struct audit_view *av;  /* NULL once the view is gone */
};

struct audit_view {
	struct tui *t;
	bool allowed;
	char refusal[sizeof(struct nx_err)];
	uint32_t top;           /* rows from the newest */
	struct audit_work *work;        /* running, or NULL */
	bool verified;
	int rc;                 /* of the last verification */
	struct audit_verify_result r;
	char err[sizeof(struct nx_err)];
	time_t at;              /* when it finished */
};

static void *
audit_view_init(struct tui *t)
{
	struct audit_view *av = xcalloc(1, sizeof *av);

	av->t = t;
	return av;
}

static void
audit_view_free(void *state)
{
	struct audit_view *av = state;

	if (av->work != NULL)
		av->work->av = NULL;
	free(av);
}

static void
audit_work_run(uv_work_t *req)
{
	struct audit_work *w = req->data;

	memset(&w->r, 0, sizeof w->r);
	w->rc = audit_verify(w->path, NULL, &w->r, &w->err);
}

static void
audit_work_done(uv_work_t *req, int status)
{
	struct audit_work *w = req->data;
	struct audit_view *av = w->av;

	if (av != NULL) {
		av->work = NULL;
		av->verified = true;
		av->rc = status == 0 ? w->rc : -1;
		av->r = w->r;
		snprintf(av->err, sizeof av->err, "%s", status == 0 ?
		    w->err.msg : "cancelled");
		av->at = time(NULL);
		tui_mark_dirty(av->t);
	}
	free(w->path);
	free(w);
}

/* Starts a verification of the store's chain, unless one is running. */
static void
audit_verify_start(struct tui *t, struct audit_view *av)
{
	struct audit_work *w;

	if (av->work != NULL || t->opts->store == NULL)
		return;
	w = xcalloc(1, sizeof *w);
	w->req.data = w;
	w->path = xstrdup(store_path(t->opts->store));
	w->av = av;
	if (uv_queue_work(t->loop, &w->req, audit_work_run,
	    audit_work_done) != 0) {
		free(w->path);
		free(w);
		return;
	}
	av->work = w;
}

/* The view was opened: may this actor read the log?  (Audited.) */
static void
audit_show(struct tui *t, void *state)
{
	struct audit_view *av = state;
	struct nx_err err;

	av->allowed = api_audit_read(t->e, &t->opts->actor, &err) == 0;
	if (!av->allowed)
		snprintf(av->refusal, sizeof av->refusal, "%s", err.msg);
	else
		audit_verify_start(t, av);
}

static uint32_t
audit_page(const struct tui *t)
{
	int rows = t->body != NULL ? getmaxy(t->body) - 3 : 1;

	return rows > 0 ? (uint32_t)rows : 1;
}

/* The chain's line: what the last verification found. */
static void
audit_draw_chain(struct tui *t, struct audit_view *av, WINDOW *w)
{
	char buf[1024], when[16];
	attr_t attr = A_NORMAL;
	struct tm tm;

	if (t->opts->store == NULL)
		snprintf(buf, sizeof buf, "chain: not recording (no store): the "
		    "rows below are kept in memory only");
	else if (av->work != NULL && !av->verified)
		snprintf(buf, sizeof buf, "chain: verifying %s ...",
		    store_path(t->opts->store));
	else if (!av->verified)
		snprintf(buf, sizeof buf, "chain: not verified (v verifies)");
	else {
		localtime_r(&av->at, &tm);
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		if (av->rc == 0) {
			attr = t->theme.health[NX_H_OK];
			snprintf(buf, sizeof buf, "chain: intact, %llu rows, head "
			    "%.16s... (verified %s%s)",
			    (unsigned long long)av->r.rows, av->r.head_hex, when,
			    av->work != NULL ? ", verifying again" : "");
		} else if (av->rc == 1) {
			attr = t->theme.health[NX_H_CRITICAL];
			snprintf(buf, sizeof buf, "chain: BROKEN at row %llu (%s): "
			    "%s (verified %s)",
			    (unsigned long long)av->r.broken_seq,
			    audit_break_name(av->r.why), av->r.detail, when);
		} else {
			attr = t->theme.health[NX_H_UNKNOWN];
			snprintf(buf, sizeof buf, "chain: cannot verify: %s",
			    av->err);
		}
	}
	tui_print(t, w, 0, 1, -1, attr, buf, strlen(buf));
}

static void
audit_draw(struct tui *t, void *state, WINDOW *w)
{
	static const struct {
		const char *title;
		int width;
	} cols[] = {
		{ "TIME", 8 }, { "WHO", 10 }, { "ROLE", 8 }, { "ACTION", 14 },
		{ "TARGET", 24 }, { "RESULT", 56 }, { "ARGS", 0 },
	};
	struct audit_view *av = state;
	const struct nx_audit_entry *a;
	size_t n = act_audit_count(t->e), i;
	uint32_t page = audit_page(t), row;
	int x, c, width, maxx = getmaxx(w);
	char when[16];
	const char *cell;
	time_t secs;
	struct tm tm;

	if (!av->allowed) {
		static const char why[] = "reading the audit log needs the "
		    "auditor or admin role";

		tui_print(t, w, 1, 2, -1, t->theme.health[NX_H_CRITICAL],
		    av->refusal, strlen(av->refusal));
		tui_print(t, w, 3, 2, -1, t->theme.dim, why, strlen(why));
		return;
	}
	audit_draw_chain(t, av, w);
	x = 2;
	tui_print(t, w, 2, 0, maxx, t->theme.colhdr, "", 0);
	for (c = 0; c < (int)NX_ARRAY_LEN(cols) && x < maxx; c++) {
		tui_print(t, w, 2, x, cols[c].width ? cols[c].width : maxx - x,
		    t->theme.colhdr, cols[c].title, strlen(cols[c].title));
		x += cols[c].width + 1;
	}
	if (n == 0) {
		tui_print(t, w, 4, 2, -1, t->theme.dim, "no audit rows yet", 17);
		return;
	}
	if (av->top >= n)
		av->top = (uint32_t)n - 1;
	for (row = 0; row < page && av->top + row < n; row++) {
		i = n - 1 - (av->top + row);
		if ((a = act_audit_at(t->e, i)) == NULL)
			continue;
		secs = (time_t)(a->time / 1000);
		localtime_r(&secs, &tm);
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		x = 2;
		for (c = 0; c < (int)NX_ARRAY_LEN(cols) && x < maxx; c++) {
			const char *v[] = { when, a->who, a->role, a->action,
			    a->target, a->result, a->args };

			cell = v[c] != NULL ? v[c] : "";
			width = cols[c].width ? cols[c].width : maxx - x;
			if (x + width > maxx)
				width = maxx - x;
			tui_print(t, w, 3 + (int)row, x, width,
			    c == 5 && strncmp(cell, "refused", 7) == 0 ?
			    t->theme.health[NX_H_CRITICAL] : A_NORMAL, cell,
			    strlen(cell));
			x += width + 1;
		}
	}
}

static bool
audit_handle_key(struct tui *t, void *state, const struct tui_input *in,
    const struct tui_key *bound)
{
	struct audit_view *av = state;
	uint32_t n = (uint32_t)act_audit_count(t->e), page = audit_page(t);

	if (bound == NULL)
		return false;
	switch (bound->action) {
	case AUDIT_DOWN:
		if (av->top + 1 < n)
			av->top++;
		break;
	case AUDIT_UP:
		if (av->top > 0)
			av->top--;
		break;
	case AUDIT_PAGE_DOWN:
		av->top = av->top + page < n ? av->top + page :
		    (n > 0 ? n - 1 : 0);
		break;
	case AUDIT_PAGE_UP:
		av->top = av->top > page ? av->top - page : 0;
		break;
	case AUDIT_FIRST:
		av->top = 0;
		break;
	case AUDIT_LAST:
		av->top = n > page ? n - page : 0;
		break;
	case AUDIT_VERIFY:
		if (!av->allowed)
			audit_show(t, av);
		else if (t->opts->store == NULL)
			tui_message(t, true, "not recording: there is no "
			    "store chain to verify");
		else
			audit_verify_start(t, av);
		break;
	default:
		return false;
	}
	tui_mark_dirty(t);
	return true;
}

static void
audit_position(struct tui *t, void *state, char *buf, size_t len)
{
	struct audit_view *av = state;
	size_t n = act_audit_count(t->e);

	if (!av->allowed)
		snprintf(buf, len, "refused");
	else
		snprintf(buf, len, "%zu audit rows in memory, newest first", n);
}

const struct view view_audit = {
	.version = TUI_VIEW_VERSION,
	.name = "audit",
	.key = '6',
	.keys = audit_keys,
	.nkeys = NX_ARRAY_LEN(audit_keys),
	.init = audit_view_init,
	.free = audit_view_free,
	.draw = audit_draw,
	.handle_key = audit_handle_key,
	.position = audit_position,
	.show = audit_show,
};
