/*
 * view-jobs.c - the jobs view: actions and remediation runs, newest
 * first, and one job in detail.
 *
 * The list: ID, STATE, ACTION, TARGETS (the hostlist), HOSTS (counts ok
 * / failed / error), WHO, ORIGIN (console, batch, rule:NAME), OUTCOME (a
 * remediation job's: recovered or not) and AGE, from the engine's job
 * table (job_count/job_at, engine/act.h) at each frame: the rows on
 * screen only, the text from joblist.c.  Enter shows the job: what it
 * runs (the proposal, for a job waiting for approval), why, and its
 * per-host results coalesced by identical output (job_coalesce), every
 * byte of output sanitised like all drawn text.  Esc goes back to the
 * list.
 *
 * Keys that change things are capitals, each behind a confirmation or a
 * prompt (acting.c): A approve a proposal, D reject (deny) it with a
 * reason, C cancel a queued or running job, R retry one that ended.
 * They are hidden from a viewer and refused (and audited) by the engine.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

enum {
	JOBS_DOWN,
	JOBS_UP,
	JOBS_PAGE_DOWN,
	JOBS_PAGE_UP,
	JOBS_FIRST,
	JOBS_LAST,
	JOBS_OPEN,
	JOBS_ESC,
	JOBS_APPROVE,
	JOBS_REJECT,
	JOBS_CANCEL,
	JOBS_RETRY,
};

static const struct tui_key jobs_keys[] = {
	{ .key = 'j', .action = JOBS_DOWN, .hint = "j/k", .help = "move" },
	{ .key = 'k', .action = JOBS_UP },
	{ .key = KEY_DOWN, .keycode = true, .action = JOBS_DOWN },
	{ .key = KEY_UP, .keycode = true, .action = JOBS_UP },
	{ .key = KEY_NPAGE, .keycode = true, .action = JOBS_PAGE_DOWN,
	  .hint = "PgDn/PgUp", .help = "page" },
	{ .key = KEY_PPAGE, .keycode = true, .action = JOBS_PAGE_UP },
	{ .key = TUI_CTRL('f'), .action = JOBS_PAGE_DOWN },
	{ .key = TUI_CTRL('b'), .action = JOBS_PAGE_UP },
	{ .key = 'g', .action = JOBS_FIRST, .hint = "g/G",
	  .help = "newest/oldest" },
	{ .key = 'G', .action = JOBS_LAST },
	{ .key = KEY_HOME, .keycode = true, .action = JOBS_FIRST },
	{ .key = KEY_END, .keycode = true, .action = JOBS_LAST },
	{ .key = '\r', .action = JOBS_OPEN, .hint = "Enter", .help = "results" },
	{ .key = '\n', .action = JOBS_OPEN },
	{ .key = KEY_ENTER, .keycode = true, .action = JOBS_OPEN },
	{ .key = 'A', .action = JOBS_APPROVE, .hint = "A", .help = "approve",
	  .need = TUI_NEED(NX_CAP_APPROVE) },
	{ .key = 'D', .action = JOBS_REJECT, .hint = "D", .help = "reject",
	  .need = TUI_NEED(NX_CAP_APPROVE) },
	{ .key = 'C', .action = JOBS_CANCEL, .hint = "C", .help = "cancel job",
	  .need = TUI_NEED(NX_CAP_APPROVE) },
	{ .key = 'R', .action = JOBS_RETRY, .hint = "R", .help = "retry",
	  .need = TUI_NEED(NX_CAP_APPROVE) },
	{ .key = TUI_KEY_ESC, .action = JOBS_ESC,
	  .help = "back to the list, else back" },
};

enum jobs_col {
	JC_ID,
	JC_STATE,
	JC_ACTION,
	JC_TARGETS,
	JC_HOSTS,
	JC_WHO,
	JC_ORIGIN,
	JC_OUTCOME,
	JC_AGE,
	JC__COUNT
};

static const struct {
	const char *title;
	int width;
	bool right;
} jobs_columns[JC__COUNT] = {
	[JC_ID] = { "ID", 5, true },
	[JC_STATE] = { "STATE", 10, false },
	[JC_ACTION] = { "ACTION", 18, false },
	[JC_TARGETS] = { "TARGETS", 24, false },
	[JC_HOSTS] = { "HOSTS", 22, false },
	[JC_WHO] = { "WHO", 10, false },
	[JC_ORIGIN] = { "ORIGIN", 16, false },
	[JC_OUTCOME] = { "OUTCOME", 13, false },
	[JC_AGE] = { "AGE", 5, true },
};

#define JOBS_MARK 2

struct jobs_view {
	uint32_t top, sel;      /* rows of the list, 0 = newest */
	uint32_t sel_id;        /* the selected job, kept as jobs arrive */
	uint32_t detail;        /* the job shown in detail, or 0 */
	int dtop;               /* its first line shown */
	int dlines;             /* its lines at the last frame */
};

static void *
jobs_view_init(struct tui *t)
{
	return xcalloc(1, sizeof(struct jobs_view));
}

static void
jobs_view_free(void *state)
{
	free(state);
}

static uint32_t
jobs_page(const struct tui *t)
{
	int rows = t->body != NULL ? getmaxy(t->body) - 1 : 1;

	return rows > 0 ? (uint32_t)rows : 1;
}

static uint32_t
jobs_n(const struct tui *t)
{
	return (uint32_t)job_count(t->e);
}

/* Row i of the list (0 = newest). */
static struct job *
jobs_row(const struct tui *t, uint32_t i)
{
	return job_at(t->e, jobs_n(t) - 1 - i);
}

/* Keeps the selection on its job as new ones arrive at the top. */
static void
jobs_follow(struct tui *t, struct jobs_view *jv)
{
	uint32_t n = jobs_n(t), i;

	if (jv->sel_id != 0) {
		for (i = 0; i < n; i++) {
			if (jobs_row(t, i)->id == jv->sel_id) {
				if (i != jv->sel && jv->top == 0 && jv->sel == 0)
					;       /* at the top: stay with the newest */
				else
					jv->sel = i;
				break;
			}
		}
	}
	if (n == 0) {
		jv->top = jv->sel = 0;
		return;
	}
	if (jv->sel >= n)
		jv->sel = n - 1;
	if (jv->sel < jv->top)
		jv->top = jv->sel;
	if (jv->sel >= jv->top + jobs_page(t))
		jv->top = jv->sel - jobs_page(t) + 1;
	jv->sel_id = jobs_row(t, jv->sel)->id;
}

static attr_t
jobs_state_attr(struct tui *t, const struct job *j)
{
	switch (j->state) {
	case JOB_SUCCEEDED:
		return t->theme.health[NX_H_OK];
	case JOB_FAILED:
		return t->theme.health[NX_H_CRITICAL];
	case JOB_PROPOSED:
	case JOB_SUGGESTED:
		return t->theme.health[NX_H_WARNING];
	case JOB_RUNNING:
	case JOB_QUEUED:
		return t->theme.health[NX_H_PENDING];
	default:
		return t->theme.dim;
	}
}

static void
jobs_draw_row(struct tui *t, WINDOW *w, int y, const struct job *j,
    bool selected)
{
	attr_t base = selected ? t->theme.select : A_NORMAL, attr;
	char buf[160], *list = NULL;
	const char *s;
	int c, x = JOBS_MARK, width, cols = getmaxx(w);

	if (selected) {
		tui_print(t, w, y, 0, cols, base, "", 0);
		tui_print(t, w, y, 0, JOBS_MARK, base, ">", 1);
	}
	for (c = 0; c < JC__COUNT && x < cols; c++) {
		width = jobs_columns[c].width;
		if (c == JC_AGE || x + width > cols)
			width = x + width > cols ? cols - x : width;
		attr = base;
		s = buf;
		buf[0] = '\0';
		switch (c) {
		case JC_ID:
			snprintf(buf, sizeof buf, "%u", j->id);
			break;
		case JC_STATE:
			s = job_state_name(j->state);
			if (!selected)
				attr = jobs_state_attr(t, j);
			break;
		case JC_ACTION:
			s = joblist_action(j);
			break;
		case JC_TARGETS:
			s = list = joblist_targets(&t->e->fleet, j);
			break;
		case JC_HOSTS:
			joblist_counts(j, buf, sizeof buf);
			break;
		case JC_WHO:
			s = j->user != NULL ? j->user : "";
			break;
		case JC_ORIGIN:
			s = j->origin != NULL ? j->origin : "";
			break;
		case JC_OUTCOME:
			s = joblist_outcome(j);
			break;
		case JC_AGE:
			tui_format_age(buf, sizeof buf, t->now - j->created);
			break;
		}
		if (jobs_columns[c].right)
			tui_print_right(t, w, y, x, width, attr, s);
		else
			tui_print(t, w, y, x, width, attr, s, strlen(s));
		free(list);
		list = NULL;
		x += width + 1;
	}
}

/* Draw state of the detail: a line cursor scrolled by dtop. */
struct jobs_cursor {
	struct tui *t;
	WINDOW *w;
	int y, top, maxy;
};

/* One line of the detail (untrusted text: tui_print sanitises it). */
static void
jobs_line(struct jobs_cursor *c, int x, attr_t attr, const char *s, size_t len)
{
	int row = c->y - c->top;

	if (row >= 0 && row < c->maxy)
		tui_print(c->t, c->w, row, x, -1, attr, s, len);
	c->y++;
}

/* Each line of a block of output, indented; a trailing newline adds none. */
static void
jobs_output(struct jobs_cursor *c, const char *label, const char *s)
{
	const char *nl;
	size_t len;
	int shown = 0;

	if (s == NULL || *s == '\0')
		return;
	if (label != NULL)
		jobs_line(c, 4, c->t->theme.dim, label, strlen(label));
	while (*s != '\0') {
		nl = strchr(s, '\n');
		len = nl != NULL ? (size_t)(nl - s) : strlen(s);
		if (shown++ < 200)
			jobs_line(c, 6, A_NORMAL, s, len);
		s += len + (nl != NULL);
	}
	if (shown > 200) {
		char more[64];

		snprintf(more, sizeof more, "... %d more lines", shown - 200);
		jobs_line(c, 6, c->t->theme.dim, more, strlen(more));
	}
}

static void
jobs_draw_detail(struct tui *t, struct jobs_view *jv, WINDOW *w)
{
	struct job *j = job_find(t->e, jv->detail);
	struct jobs_cursor c = { t, w, 0, jv->dtop, getmaxy(w) };
	struct job_group *groups = NULL;
	char buf[1024], counts[128], *list;
	size_t ng, g;

	if (j == NULL) {
		jobs_line(&c, 1, t->theme.dim, "the job is gone", 15);
		return;
	}
	list = joblist_targets(&t->e->fleet, j);
	snprintf(buf, sizeof buf, " job #%u  %s  %s on %s", j->id,
	    job_state_name(j->state), joblist_action(j), list);
	free(list);
	jobs_line(&c, 0, t->theme.colhdr, buf, strlen(buf));
	joblist_counts(j, counts, sizeof counts);
	snprintf(buf, sizeof buf, "hosts: %s", counts);
	jobs_line(&c, 2, A_NORMAL, buf, strlen(buf));
	snprintf(buf, sizeof buf, "asked by %s (%s), origin %s",
	    j->user ? j->user : "?", role_name(j->role),
	    j->origin ? j->origin : "?");
	jobs_line(&c, 2, A_NORMAL, buf, strlen(buf));
	joblist_proposal(t->e, j, buf, sizeof buf);
	jobs_line(&c, 2, A_NORMAL, buf, strlen(buf));
	if (j->reason != NULL) {
		snprintf(buf, sizeof buf, "why: %s", j->reason);
		jobs_line(&c, 2, A_NORMAL, buf, strlen(buf));
	}
	if (*joblist_outcome(j) != '\0') {
		snprintf(buf, sizeof buf, "outcome: %s", joblist_outcome(j));
		jobs_line(&c, 2, j->outcome == JOB_OUTCOME_RECOVERED ?
		    t->theme.health[NX_H_OK] : t->theme.health[NX_H_WARNING],
		    buf, strlen(buf));
	}
	if (j->state == JOB_PROPOSED) {
		snprintf(buf, sizeof buf, "waiting for approval: A approves, "
		    "D rejects");
		jobs_line(&c, 2, t->theme.health[NX_H_WARNING], buf,
		    strlen(buf));
	}
	c.y++;
	ng = job_coalesce(t->e, j, &groups);
	for (g = 0; g < ng; g++) {
		const struct job_host *h = &j->hosts[groups[g].hosts[0]];

		if (h->state == JH_OK || h->state == JH_FAILED)
			snprintf(buf, sizeof buf, "%s (%u host%s): %s, exit %d%s%s",
			    groups[g].hostlist, groups[g].nhosts,
			    groups[g].nhosts == 1 ? "" : "s",
			    job_host_state_name(h->state), h->exit_status,
			    h->signal ? ", signal " : "",
			    h->signal ? h->signal : "");
		else
			snprintf(buf, sizeof buf, "%s (%u host%s): %s",
			    groups[g].hostlist, groups[g].nhosts,
			    groups[g].nhosts == 1 ? "" : "s",
			    job_host_state_name(h->state));
		jobs_line(&c, 1, h->state == JH_OK ? t->theme.health[NX_H_OK] :
		    h->state == JH_FAILED || h->state == JH_ERROR ?
		    t->theme.health[NX_H_CRITICAL] : t->theme.colhdr, buf,
		    strlen(buf));
		/* One host's command; a group's differ by host (the template is above). */
		if (h->command != NULL && groups[g].nhosts == 1) {
			snprintf(buf, sizeof buf, "$ %s", h->command);
			jobs_line(&c, 4, t->theme.dim, buf, strlen(buf));
		}
		if (h->error != NULL)
			jobs_output(&c, NULL, h->error);
		jobs_output(&c, NULL, h->out);
		jobs_output(&c, "stderr:", h->err);
	}
	job_groups_free(groups, ng);
	jv->dlines = c.y;
}

static void
jobs_draw(struct tui *t, void *state, WINDOW *w)
{
	struct jobs_view *jv = state;
	uint32_t n = jobs_n(t), page = jobs_page(t), i;
	int c, x = JOBS_MARK, width, cols = getmaxx(w);
	static const char none[] = "no jobs yet: x on the fleet or problems "
	    "view runs an action";

	if (jv->detail != 0) {
		jobs_draw_detail(t, jv, w);
		return;
	}
	jobs_follow(t, jv);
	tui_print(t, w, 0, 0, cols, t->theme.colhdr, "", 0);
	for (c = 0; c < JC__COUNT && x < cols; c++) {
		width = jobs_columns[c].width;
		if (x + width > cols)
			width = cols - x;
		if (jobs_columns[c].right)
			tui_print_right(t, w, 0, x, width, t->theme.colhdr,
			    jobs_columns[c].title);
		else
			tui_print(t, w, 0, x, width, t->theme.colhdr,
			    jobs_columns[c].title, strlen(jobs_columns[c].title));
		x += width + 1;
	}
	if (n == 0) {
		tui_print(t, w, 2, 2, -1, t->theme.dim, none, strlen(none));
		return;
	}
	for (i = 0; i < page && jv->top + i < n; i++)
		jobs_draw_row(t, w, (int)i + 1, jobs_row(t, jv->top + i),
		    jv->top + i == jv->sel);
}

/* The job the view points at: the one in detail, else the selected row. */
uint32_t
view_jobs_current(struct tui *t)
{
	struct jobs_view *jv = tui_view_state(t, &view_jobs);

	if (jv == NULL || tui_current_view(t) != &view_jobs)
		return 0;
	if (jv->detail != 0)
		return jv->detail;
	if (jobs_n(t) == 0)
		return 0;
	jobs_follow(t, jv);
	return jobs_row(t, jv->sel)->id;
}

/*
 * Shows job `job` in detail in the jobs view, over the current view (Esc
 * goes back to the list, then to where it was opened from).  Nothing
 * happens when there is no such job.
 */
void
view_jobs_open(struct tui *t, uint32_t job)
{
	struct jobs_view *jv;

	if (job_find(t->e, job) == NULL)
		return;
	tui_push(t, &view_jobs);
	if ((jv = tui_view_state(t, &view_jobs)) == NULL)
		return;
	jv->detail = job;
	jv->dtop = 0;
	jv->sel_id = job;
	tui_mark_dirty(t);
}

static bool
jobs_handle_key(struct tui *t, void *state, const struct tui_input *in,
    const struct tui_key *bound)
{
	static const char *const what[] = {
		[JOBS_APPROVE] = "approve", [JOBS_REJECT] = "reject",
		[JOBS_CANCEL] = "cancel", [JOBS_RETRY] = "retry",
	};
	struct jobs_view *jv = state;
	uint32_t n = jobs_n(t), page = jobs_page(t), id;
	struct nx_err err;

	if (bound == NULL)
		return false;
	if (jv->detail != 0) {
		switch (bound->action) {
		case JOBS_DOWN:
			if (jv->dtop + 1 < jv->dlines)
				jv->dtop++;
			break;
		case JOBS_UP:
			if (jv->dtop > 0)
				jv->dtop--;
			break;
		case JOBS_PAGE_DOWN:
			jv->dtop += (int)page;
			if (jv->dtop >= jv->dlines)
				jv->dtop = jv->dlines > 0 ? jv->dlines - 1 : 0;
			break;
		case JOBS_PAGE_UP:
			jv->dtop = jv->dtop > (int)page ? jv->dtop - (int)page : 0;
			break;
		case JOBS_FIRST:
			jv->dtop = 0;
			break;
		case JOBS_LAST:
			jv->dtop = jv->dlines > (int)page ?
			    jv->dlines - (int)page : 0;
			break;
		case JOBS_ESC:
			jv->detail = 0;
			break;
		case JOBS_OPEN:
			break;
		default:
			goto act;
		}
		tui_mark_dirty(t);
		return true;
	}
	switch (bound->action) {
	case JOBS_DOWN:
		if (jv->sel + 1 < n)
			jv->sel++;
		break;
	case JOBS_UP:
		if (jv->sel > 0)
			jv->sel--;
		break;
	case JOBS_PAGE_DOWN:
		jv->sel = jv->sel + page < n ? jv->sel + page :
		    (n > 0 ? n - 1 : 0);
		break;
	case JOBS_PAGE_UP:
		jv->sel = jv->sel > page ? jv->sel - page : 0;
		break;
	case JOBS_FIRST:
		jv->sel = 0;
		break;
	case JOBS_LAST:
		jv->sel = n > 0 ? n - 1 : 0;
		break;
	case JOBS_OPEN:
		if (n > 0) {
			jv->detail = jobs_row(t, jv->sel < n ? jv->sel : 0)->id;
			jv->dtop = 0;
		}
		break;
	case JOBS_ESC:
		return false;
	default:
		goto act;
	}
	jv->sel_id = n > 0 && jv->sel < n ? jobs_row(t, jv->sel)->id : 0;
	tui_mark_dirty(t);
	return true;
act:
	id = view_jobs_current(t);
	if (id == 0) {
		tui_message(t, true, "no job selected");
		return true;
	}
	if (acting_job(t, what[bound->action], id, NULL, &err) != 0)
		tui_message(t, true, "%s", err.msg);
	tui_mark_dirty(t);
	return true;
}

static void
jobs_position(struct tui *t, void *state, char *buf, size_t len)
{
	struct jobs_view *jv = state;
	uint32_t n = jobs_n(t), page = jobs_page(t);
	uint32_t last = jv->top + page < n ? jv->top + page : n;

	if (jv->detail != 0)
		snprintf(buf, len, "job #%u | Esc: the list", jv->detail);
	else if (n == 0)
		snprintf(buf, len, "no jobs");
	else
		snprintf(buf, len, "jobs %u-%u of %u, newest first", jv->top + 1,
		    last, n);
}

static void
jobs_event(struct tui *t, void *state, const struct event *ev)
{
	(void)state;
	if (ev->kind == NX_EV_JOB && tui_current_view(t) == &view_jobs)
		tui_mark_dirty(t);
}

const struct view view_jobs = {
	.version = TUI_VIEW_VERSION,
	.name = "jobs",
	.key = '5',
	.keys = jobs_keys,
	.nkeys = NX_ARRAY_LEN(jobs_keys),
	.init = jobs_view_init,
	.free = jobs_view_free,
	.draw = jobs_draw,
	.handle_key = jobs_handle_key,
	.position = jobs_position,
	.event = jobs_event,
};
