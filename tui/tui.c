/*
 * tui.c - the screen manager: terminal, loop handles, frames, views.
 *
 * Everything runs on the engine's libuv loop, on one thread:
 *
 *  - fd 0 is watched with a uv_poll; when it is readable the callback reads
 *    keys with wget_wch() in nodelay mode until ERR and hands each to the
 *    '/' or ':' line when one is open, to the help screen when it is up,
 *    else to the current view, then to the global key table, then to the
 *    view-switching digits.
 *  - Nothing draws directly.  Input, resizes, the clock and bus events only
 *    set the dirty flag (tui_mark_dirty), which arms a one-shot frame timer
 *    no earlier than 1/fps after the last frame (keys: 10 ms, so a keystroke
 *    is on screen at once).  A frame erases and redraws
 *    the three windows (header, view body, footer) into ncurses's virtual
 *    screen and sends the difference with wnoutrefresh + doupdate, so the
 *    terminal gets only changed cells.  When nothing changes no timer is
 *    armed but the 1 s clock: an idle console sleeps in epoll.
 *  - Signals: SIGWINCH re-lays out at the size TIOCGWINSZ reports.  SIGINT,
 *    SIGTERM and SIGHUP restore the terminal and make tui_run() return
 *    128 + the signal number (130, 143, 129), as a shell reports a process
 *    killed by it, so scripts can tell an interrupted console from `q` (0).
 *    A terminal that hangs up (readable with nothing to read) counts as
 *    SIGHUP.
 *    SIGSEGV, SIGBUS, SIGABRT and SIGFPE are caught with sigaction only to
 *    call endwin(); then the previous action is put back and the signal
 *    raised again, so the process dies (and dumps core) as it would have,
 *    on a terminal that works.
 *
 * The uv signal watchers are started before newterm(): ncurses installs its
 * own SIGINT/SIGTERM/SIGWINCH handlers only where the disposition is still
 * the default, and ours must win.  SIGTSTP is left to ncurses (it restores
 * the terminal on ^Z and repaints on fg).
 */
#include "config.h"

#include <sys/ioctl.h>

#include <ctype.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tui.h"

/*
 * The views, the first is where the console opens.  One line per view;
 * Tab cycles through them in this order.
 */
const struct view *const tui_views[] = {
	&view_fleet,
	&view_problems,
	&view_events,
	&view_node,
	&view_jobs,
	&view_audit,
};
const size_t tui_nviews = NX_ARRAY_LEN(tui_views);

#define TUI_HEADER_LINES 2
#define TUI_FOOTER_LINES 1
#define TUI_FPS_DEFAULT 10
#define TUI_ESCDELAY_MS 25
#define TUI_KEY_FRAME_MS 10     /* a key may draw this soon after a frame */

/* Keys that work in every view (after the view had its chance). */
static const struct tui_key tui_global_keys[] = {
	{ .key = '?', .action = TUI_ACT_HELP, .hint = "?", .help = "help" },
	/* No hints for these: the footer keeps room for the view's keys. */
	{ .key = '\t', .action = TUI_ACT_NEXT, .help = "next view" },
	{ .key = KEY_BTAB, .keycode = true, .action = TUI_ACT_PREV,
	  .help = "previous view" },
	{ .key = ':', .action = TUI_ACT_COMMAND, .help = "command line" },
	{ .key = 'q', .action = TUI_ACT_QUIT, .hint = "q", .help = "quit" },
	{ .key = TUI_KEY_ESC, .action = TUI_ACT_BACK,
	  .help = "back (quit from the fleet)" },
	{ .key = TUI_CTRL('l'), .action = TUI_ACT_REDRAW, .help = "redraw" },
};

/* The ':' commands, for completion and the help screen. */
static const struct {
	const char *name;
	const char *args;
	const char *help;
	int need;               /* TUI_NEED(cap), or 0 */
} tui_commands[] = {
	{ "ack", " [COMMENT]", "acknowledge the marked or current problems",
	  TUI_NEED(NX_CAP_ACK) },
	{ "approve", " [JOB]", "approve a proposed job (the current one)",
	  TUI_NEED(NX_CAP_APPROVE) },
	{ "audit", "", "the audit view", 0 },
	{ "columns", " [A,B,...]", "list the fleet columns, or show these "
	  "(state,name,load...)", 0 },
	{ "downtime", " DURATION [COMMENT]", "downtime for the marked or "
	  "current rows (2h, 30m)", TUI_NEED(NX_CAP_DOWNTIME) },
	{ "events", "", "the events view", 0 },
	{ "fleet", "", "the fleet view", 0 },
	{ "help", "", "this screen", 0 },
	{ "jobs", "", "the jobs view", 0 },
	{ "node", " NAME", "the node view of NAME", 0 },
	{ "problems", "", "the problems view", 0 },
	{ "q", "", "quit", 0 },
	{ "quit", "", "quit", 0 },
	{ "reject", " [JOB] [REASON]", "reject a proposed job",
	  TUI_NEED(NX_CAP_APPROVE) },
	{ "run", " ACTION", "run an action on the marked or current rows",
	  TUI_NEED(NX_CAP_ACTION) },
	{ "sort", " COLUMN", "sort the rows (name state load cpu mem disk change none)", 0 },
	{ "theme", " NAME", "load a theme (default mono light solarized ...)", 0 },
};

/* Whether curses owns the terminal: read by the crash handler. */
static volatile sig_atomic_t tui_curses_active;

static const int tui_crash_signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE };
static struct sigaction tui_crash_saved[NX_ARRAY_LEN(tui_crash_signals)];

static const int tui_uv_signals[] = { SIGWINCH, SIGINT, SIGTERM, SIGHUP };
_Static_assert(NX_ARRAY_LEN(tui_uv_signals) ==
    NX_ARRAY_LEN(((struct tui *)0)->sig), "one watcher per signal");

/*
 * The crash handler: give the terminal back, put the previous action back
 * (the default, or a sanitizer's) and raise the signal again.  endwin() is
 * not async-signal-safe; after a crash it is still the best bet, and what
 * most curses programs do.
 */
static void
tui_crash(int sig)
{
	size_t i;

	if (tui_curses_active) {
		tui_curses_active = 0;
		endwin();
	}
	for (i = 0; i < NX_ARRAY_LEN(tui_crash_signals); i++) {
		if (tui_crash_signals[i] == sig)
			sigaction(sig, &tui_crash_saved[i], NULL);
	}
	raise(sig);
}

/* For exit() from anywhere while the console is up (xmalloc, asserts). */
static void
tui_atexit(void)
{
	if (tui_curses_active) {
		tui_curses_active = 0;
		endwin();
	}
}

static void
tui_crash_handlers(bool install)
{
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tui_crash;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NX_ARRAY_LEN(tui_crash_signals); i++) {
		if (install)
			sigaction(tui_crash_signals[i], &sa, &tui_crash_saved[i]);
		else
			sigaction(tui_crash_signals[i], &tui_crash_saved[i], NULL);
	}
}

/*
 * Finds the binding for key `in` in a key table; NULL when there is none.
 */
const struct tui_key *
tui_key_find(const struct tui_key *keys, size_t n, const struct tui_input *in)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (keys[i].keycode == in->keycode &&
		    (wint_t)keys[i].key == in->ch)
			return &keys[i];
	}
	return NULL;
}

/* Whether the actor has capability c (a read-only console has viewer's). */
bool
tui_can(const struct tui *t, enum nx_cap c)
{
	return role_can(t->opts->actor.roles, c);
}

/* Whether a key is offered to this actor: footer hints and help. */
bool
tui_key_shown(const struct tui *t, const struct tui_key *k)
{
	return k->need == 0 || tui_can(t, (enum nx_cap)(k->need - 1));
}

static void tui_frame(uv_timer_t *);

/*
 * Asks for a frame.  The frame timer is armed once per frame, at the
 * earliest 1/fps after the previous frame, so any number of calls between
 * two frames cost one redraw.
 */
void
tui_mark_dirty(struct tui *t)
{
	uint64_t now, due;

	if (t->dirty || t->quit)
		return;
	t->dirty = true;
	now = uv_now(t->loop);
	due = t->last_frame + t->frame_ms;
	uv_timer_start(&t->frame, tui_frame, due > now ? due - now : 0, 0);
}

/* Ends the console at the next turn of the loop with the given status. */
static void
tui_quit(struct tui *t, int status)
{
	if (t->quit)
		return;
	t->quit = true;
	t->exit_status = status;
	uv_stop(t->loop);
}

/*
 * Draws len bytes of untrusted text s at (y, x) of w, sanitised, in at most
 * `width` columns, padded with spaces in attr up to width.  With width < 0
 * it may use the rest of the line and does not pad.  A character that does
 * not fit whole is left out.  Returns the columns the text took, not
 * counting the padding.
 */
int
tui_print(struct tui *t, WINDOW *w, int y, int x, int width, attr_t attr,
    const char *s, size_t len)
{
	char safe[2048];
	wchar_t wbuf[512];
	size_t n, i = 0, nw = 0;
	int maxx, maxy, cols = 0, cw;
	bool pad;
	uint32_t cp;

	getmaxyx(w, maxy, maxx);
	if (y < 0 || y >= maxy || x < 0 || x >= maxx)
		return 0;
	pad = width >= 0;
	if (width < 0 || width > maxx - x)
		width = maxx - x;
	n = text_sanitize(safe, sizeof safe, s, len);
	while (i < n && nw < NX_ARRAY_LEN(wbuf)) {
		i += text_next(safe + i, n - i, &cp);
		cw = text_cp_width(cp);
		if (cols + cw > width)
			break;
		if (cp >= 0x80 && (!t->utf8 || wcwidth((wchar_t)cp) < 0))
			cp = '?';
		wbuf[nw++] = (wchar_t)cp;
		cols += cw;
	}
	wattrset(w, (int)attr);
	if (nw > 0)
		mvwaddnwstr(w, y, x, wbuf, (int)nw);
	else
		wmove(w, y, x);
	for (cw = cols; pad && cw < width; cw++)
		waddch(w, ' ');
	wattrset(w, A_NORMAL);
	return cols;
}

/*
 * Draws NUL-terminated text right-aligned so that it ends at column
 * x + width - 1; returns the column where it starts.
 */
int
tui_print_right(struct tui *t, WINDOW *w, int y, int x, int width, attr_t attr,
    const char *s)
{
	char safe[512];
	size_t n = text_sanitize(safe, sizeof safe, s, strlen(s));
	int cols, start;

	text_fit(safe, n, width, &cols);
	start = x + width - cols;
	tui_print(t, w, y, start, cols, attr, safe, n);
	return start;
}

/* Formats an age the way the tables show it: 12s, 5m, 2h, 3d. */
void
tui_format_age(char *buf, size_t len, nx_time age_ms)
{
	long long s = age_ms < 0 ? 0 : (long long)(age_ms / 1000);

	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh", s / 3600);
	else
		snprintf(buf, len, "%lldd", s / 86400);
}

static const struct view *
tui_current(const struct tui *t)
{
	return tui_views[t->stack[t->depth - 1]];
}

static void *
tui_current_state(const struct tui *t)
{
	return t->vstate[t->stack[t->depth - 1]];
}

const struct view *
tui_current_view(const struct tui *t)
{
	return tui_current(t);
}

void *
tui_current_view_state(const struct tui *t)
{
	return tui_current_state(t);
}

static size_t
tui_view_index(const struct view *v)
{
	size_t i;

	for (i = 0; i < tui_nviews; i++) {
		if (tui_views[i] == v)
			return i;
	}
	abort();
}

/* Makes view `idx` current; its state is made the first time. */
static void
tui_show(struct tui *t, size_t idx, bool push)
{
	const struct view *v = tui_views[idx];

	if (t->vstate[idx] == NULL && v->init != NULL)
		t->vstate[idx] = v->init(t);
	if (!push || t->depth == 0)
		t->depth = 1;
	else if (t->stack[t->depth - 1] == idx)
		;       /* already on top */
	else if (t->depth < TUI_STACK_MAX)
		t->depth++;
	else
		memmove(t->stack, t->stack + 1,
		    (TUI_STACK_MAX - 1) * sizeof *t->stack);
	t->stack[t->depth - 1] = idx;
	t->help = false;
	if (v->show != NULL && t->vstate[idx] != NULL)
		v->show(t, t->vstate[idx]);
	tui_mark_dirty(t);
}

/* The state of view v (made by its init hook), or NULL. */
void *
tui_view_state(struct tui *t, const struct view *v)
{
	return t->vstate[tui_view_index(v)];
}

/* Drills down into v: Esc comes back to the current view. */
void
tui_push(struct tui *t, const struct view *v)
{
	tui_show(t, tui_view_index(v), true);
}

/*
 * Switches to a top-level view: the fleet alone, or another view over the
 * fleet (so that Esc from any of them goes back to the fleet).
 */
void
tui_switch(struct tui *t, const struct view *v)
{
	size_t idx = tui_view_index(v);

	tui_show(t, 0, false);
	if (idx != 0)
		tui_show(t, idx, true);
}

/* Sets the footer message shown until the next key (printf format). */
void
tui_message(struct tui *t, bool error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof t->msg, fmt, ap);
	va_end(ap);
	t->msg_error = error;
	tui_mark_dirty(t);
}

/*
 * Event i of the console's copy of the stream (0 = the first seen), or
 * NULL when it has been overwritten or not yet seen.
 */
const struct tui_event *
tui_event_at(const struct tui *t, uint64_t i)
{
	if (i >= t->events.total || t->events.total - i > t->events.cap)
		return NULL;
	return &t->events.v[i % t->events.cap];
}

/* Whether name is one of the ", "-separated names in list. */
static bool
tui_name_listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || (p >= list + 2 && p[-2] == ',' &&
		    p[-1] == ' ')) && (p[n] == '\0' || p[n] == ','))
			return true;
		p += n;
	}
	return false;
}

/*
 * Writes the name of a key as the help screen shows it ("j", "Down",
 * "^F", "Enter") into buf; returns its length.
 */
size_t
tui_key_name(const struct tui_key *k, char *buf, size_t len)
{
	static const struct {
		int code;
		const char *name;
	} codes[] = {
		{ KEY_DOWN, "Down" }, { KEY_UP, "Up" }, { KEY_LEFT, "Left" },
		{ KEY_RIGHT, "Right" }, { KEY_NPAGE, "PgDn" },
		{ KEY_PPAGE, "PgUp" }, { KEY_HOME, "Home" }, { KEY_END, "End" },
		{ KEY_FIND, "Find" }, { KEY_SELECT, "Select" },
		{ KEY_ENTER, "Enter" }, { KEY_BTAB, "Shift-Tab" },
		{ KEY_BACKSPACE, "Backspace" },
	};
	size_t i;
	int n;

	if (k->keycode) {
		for (i = 0; i < NX_ARRAY_LEN(codes); i++) {
			if (codes[i].code == k->key)
				return (size_t)snprintf(buf, len, "%s",
				    codes[i].name);
		}
		return (size_t)snprintf(buf, len, "key %d", k->key);
	}
	switch (k->key) {
	case '\t':
		n = snprintf(buf, len, "Tab");
		break;
	case '\r':
	case '\n':
		n = snprintf(buf, len, "Enter");
		break;
	case ' ':
		n = snprintf(buf, len, "Space");
		break;
	case TUI_KEY_ESC:
		n = snprintf(buf, len, "Esc");
		break;
	default:
		if (k->key < 0x20)
			n = snprintf(buf, len, "^%c", k->key + 0x40);
		else
			n = snprintf(buf, len, "%c", k->key);
	}
	return n < 0 ? 0 : (size_t)n;
}

/*
 * The store's state at the right of the counters line, when it fits:
 * whether this console records, and loudly when the store is degraded
 * (disk full, locked) or has dead letters.
 */
static void
tui_draw_store(struct tui *t, WINDOW *w, int x)
{
	struct store_stats st;
	char buf[sizeof st.reason + 64];
	attr_t attr = t->theme.dim;
	int len;

	if (t->opts->store == NULL)
		len = snprintf(buf, sizeof buf, "not recording ");
	else {
		store_get_stats(t->opts->store, &st);
		if (st.degraded) {
			attr = t->theme.health[NX_H_CRITICAL];
			len = snprintf(buf, sizeof buf, "STORE DEGRADED: %s ",
			    st.reason);
		} else if (st.dead_letters > 0) {
			attr = t->theme.health[NX_H_WARNING];
			len = snprintf(buf, sizeof buf, "recording, %llu dead "
			    "letters ", (unsigned long long)st.dead_letters);
		} else
			len = snprintf(buf, sizeof buf, "recording ");
	}
	if (len > 0 && x + 2 < t->cols)
		tui_print_right(t, w, 1, x + 1, t->cols - x - 1, attr, buf);
}

/* The header: title line, then the health counters. */
static void
tui_draw_header(struct tui *t)
{
	static const char *const shortname[NX_H__COUNT] = {
		"OK", "WARN", "CRIT", "UNKN", "DOWN", "UNRCH", "PEND",
	};
	const struct fleet *f = &t->e->fleet;
	WINDOW *w = t->header;
	static const int prio[] = { 1, 2, 4, 0, 3 };
	char buf[256], clock[16], pieces[5][80], roles[64];
	bool shown[5];
	struct tm tm;
	time_t now = (time_t)(nx_wallclock() / 1000);
	int x, i, right, need, pass;

	localtime_r(&now, &tm);
	strftime(clock, sizeof clock, "%H:%M:%S", &tm);
	tui_print(t, w, 0, 0, t->cols, t->theme.title, "", 0);
	right = tui_print_right(t, w, 0, 0, t->cols - 1, t->theme.title, clock);
	/*
	 * The title in pieces, each shown whole or not at all; when they do
	 * not all fit, the node count and read-only go in first.
	 */
	snprintf(pieces[0], sizeof pieces[0], " NexusController ");
	snprintf(pieces[1], sizeof pieces[1], " %u nodes ",
	    f->nnodes - f->nremoved);
	snprintf(pieces[2], sizeof pieces[2], "%s",
	    t->opts->readonly ? " [read-only] " : "");
	snprintf(pieces[3], sizeof pieces[3], " %u events/s ", t->eps);
	/* Who acts from here, and as what. */
	snprintf(pieces[4], sizeof pieces[4], " %s (%s) ",
	    t->opts->actor.user != NULL ? t->opts->actor.user : "?",
	    role_names(t->opts->actor.roles, roles, sizeof roles));
	need = 0;
	for (i = 0; i < (int)NX_ARRAY_LEN(prio); i++) {
		int k = prio[i], pw = text_width(pieces[k], strlen(pieces[k]));

		shown[k] = need + pw <= right - 1;
		if (shown[k])
			need += pw;
	}
	x = 0;
	for (i = 0; i < (int)NX_ARRAY_LEN(pieces); i++) {
		if (shown[i])
			x += tui_print(t, w, 0, x, -1, t->theme.title,
			    pieces[i], strlen(pieces[i]));
	}

	/* Full state names when they fit, short ones when they do not. */
	for (pass = 0; pass < 2; pass++) {
		need = 1;
		for (i = 0; i < NX_H__COUNT; i++) {
			if (f->health_count[i] == 0)
				continue;
			need += snprintf(buf, sizeof buf, "%s %u  ",
			    pass == 0 ? nx_health_name(i) : shortname[i],
			    f->health_count[i]);
		}
		if (need <= t->cols || pass == 1)
			break;
	}
	/* Each counter whole or not at all: a cut number would mislead. */
	x = 1;
	for (i = 0; i < NX_H__COUNT; i++) {
		const char *name = pass == 0 ? nx_health_name(i) : shortname[i];

		if (f->health_count[i] == 0)
			continue;
		snprintf(buf, sizeof buf, " %u", f->health_count[i]);
		if (x + (int)strlen(name) + (int)strlen(buf) > t->cols)
			break;
		x += tui_print(t, w, 1, x, -1, t->theme.health[i], name,
		    strlen(name));
		x += tui_print(t, w, 1, x, -1, A_NORMAL, buf, strlen(buf));
		x += 2;
	}
	tui_draw_store(t, w, x);
}

/*
 * The '/' or ':' line in the footer: the prompt, the text with a cursor,
 * and for a filter that does not parse, why, in the critical colour.
 * Returns the column after it.
 */
static int
tui_draw_line(struct tui *t, int limit)
{
	WINDOW *w = t->footer;
	const char *prompt = t->mode == TUI_MODE_FILTER ? "/" :
	    t->mode == TUI_MODE_PROMPT ? t->dialog.title : ":";
	int x, tw, avail;
	size_t skip = 0;

	/* Keep the end of a long line (where the cursor is) in sight. */
	tw = text_width(t->line, t->linelen);
	avail = limit - 3 - text_width(prompt, strlen(prompt));
	while (tw > avail && skip < t->linelen) {
		uint32_t cp;

		skip += text_next(t->line + skip, t->linelen - skip, &cp);
		tw = text_width(t->line + skip, t->linelen - skip);
	}
	x = tui_print(t, w, 0, 0, limit, t->theme.key, prompt, strlen(prompt));
	x += tui_print(t, w, 0, x, limit - x, A_NORMAL, t->line + skip,
	    t->linelen - skip);
	x += tui_print(t, w, 0, x, 1, A_REVERSE, " ", 1);
	if (t->mode != TUI_MODE_COMMAND && t->line_err[0] != '\0') {
		x += 2;
		x += tui_print(t, w, 0, x, limit - x,
		    t->theme.health[NX_H_CRITICAL], t->line_err,
		    strlen(t->line_err));
	}
	return x;
}

/* Columns one footer hint takes: "KEYS help" and two spaces after. */
static int
tui_hint_width(const struct tui_key *b)
{
	return text_width(b->hint, strlen(b->hint)) + 1 +
	    text_width(b->help, strlen(b->help)) + 2;
}

/*
 * The footer: the '/' or ':' line while one is edited, else a message
 * when there is one, else hints generated from the current view's key
 * table, then the global keys; the view's position at the right end.
 * When the hints do not all fit, the view's are dropped from the end
 * first, so that "q quit" is the last to go.
 */
static void
tui_draw_footer(struct tui *t)
{
	const struct view *v = tui_current(t);
	const size_t nglobal = NX_ARRAY_LEN(tui_global_keys);
	const struct tui_key *b;
	WINDOW *w = t->footer;
	char pos[128] = "";
	int x = 0, limit, view_w = 0, global_w = 0;
	size_t i, nview = v->nkeys;

	if (t->help)
		snprintf(pos, sizeof pos, "help: %s view", v->name);
	else if (v->position != NULL)
		v->position(t, tui_current_state(t), pos, sizeof pos);
	limit = tui_print_right(t, w, 0, 0, t->cols - 1, t->theme.dim, pos) - 1;
	if (t->mode != TUI_MODE_VIEW) {
		tui_draw_line(t, limit);
		return;
	}
	if (t->msg[0] != '\0') {
		tui_print(t, w, 0, 0, limit, t->msg_error ?
		    t->theme.health[NX_H_CRITICAL] : A_BOLD, t->msg,
		    strlen(t->msg));
		return;
	}
	if (t->help)
		nview = 0;
	for (i = 0; i < nview; i++) {
		if (v->keys[i].hint != NULL && tui_key_shown(t, &v->keys[i]))
			view_w += tui_hint_width(&v->keys[i]);
	}
	for (i = 0; i < nglobal; i++) {
		if (tui_global_keys[i].hint != NULL)
			global_w += tui_hint_width(&tui_global_keys[i]);
	}
	while (nview > 0 && view_w + global_w > limit) {
		nview--;
		if (v->keys[nview].hint != NULL &&
		    tui_key_shown(t, &v->keys[nview]))
			view_w -= tui_hint_width(&v->keys[nview]);
	}
	for (i = 0; i < nview + nglobal; i++) {
		b = i < nview ? &v->keys[i] : &tui_global_keys[i - nview];
		if (b->hint == NULL || !tui_key_shown(t, b))
			continue;
		if (x + tui_hint_width(b) > limit)
			return;
		x += tui_print(t, w, 0, x, -1, t->theme.key, b->hint,
		    strlen(b->hint));
		x += 1;
		x += tui_print(t, w, 0, x, -1, A_NORMAL, b->help,
		    strlen(b->help));
		x += 2;
	}
}

/*
 * One help line per action of a key table: every key bound to it, and
 * the help of the first of them that has one, drawn from line y of the
 * help screen (scrolled by top).  Returns the number of lines.
 */
static int
tui_help_keys(struct tui *t, const struct tui_key *keys, size_t n, int y,
    int top, WINDOW *w)
{
	char names[128], one[32];
	const char *help, *prev = "";
	size_t i, j, len;
	int lines = 0;

	for (i = 0; i < n; i++) {
		if (!tui_key_shown(t, &keys[i]))
			continue;
		for (j = 0; j < i; j++) {
			if (keys[j].action == keys[i].action)
				break;
		}
		if (j < i)
			continue;
		names[0] = '\0';
		len = 0;
		help = NULL;
		for (j = i; j < n; j++) {
			if (keys[j].action != keys[i].action)
				continue;
			tui_key_name(&keys[j], one, sizeof one);
			if (tui_name_listed(names, one))
				continue;       /* '\r', '\n', KEY_ENTER: one "Enter" */
			len += (size_t)snprintf(names + len, sizeof names - len,
			    "%s%s", len ? ", " : "", one);
			if (len >= sizeof names)
				len = sizeof names - 1;
			if (help == NULL)
				help = keys[j].help;
		}
		/* An action without words of its own pairs with the one before. */
		if (help == NULL)
			help = prev;
		prev = help;
		if (y + lines - top >= 0) {
			tui_print(t, w, y + lines - top, 4, 26, t->theme.key,
			    names, strlen(names));
			tui_print(t, w, y + lines - top, 31, -1, A_NORMAL,
			    help, strlen(help));
		}
		lines++;
	}
	return lines;
}

/*
 * The help screen over the body: the current view's keys and the global
 * keys, generated from their key tables (a binding and its help cannot
 * drift apart), then the views and the ':' commands.
 */
static void
tui_draw_help(struct tui *t, WINDOW *w)
{
	const struct view *v = tui_current(t);
	char buf[160];
	int y = 0, top = t->help_top, maxy = getmaxy(w);
	size_t i;

#define HELP_TITLE(text) do {						\
	if (y - top >= 0)						\
		tui_print(t, w, y - top, 0, -1, t->theme.colhdr, (text),	\
		    strlen(text));						\
	y++;								\
} while (0)
	snprintf(buf, sizeof buf, "Keys of the %s view", v->name);
	HELP_TITLE(buf);
	y += tui_help_keys(t, v->keys, v->nkeys, y, top, w);
	y++;
	HELP_TITLE("Keys of every view");
	y += tui_help_keys(t, tui_global_keys, NX_ARRAY_LEN(tui_global_keys),
	    y, top, w);
	for (i = 0; i < tui_nviews; i++) {
		if (tui_views[i]->key == 0)
			continue;
		if (y - top >= 0) {
			snprintf(buf, sizeof buf, "%c", tui_views[i]->key);
			tui_print(t, w, y - top, 4, 26, t->theme.key, buf,
			    strlen(buf));
			snprintf(buf, sizeof buf, "the %s view",
			    tui_views[i]->name);
			tui_print(t, w, y - top, 31, -1, A_NORMAL, buf,
			    strlen(buf));
		}
		y++;
	}
	y++;
	HELP_TITLE("Commands (after ':'; Tab completes, Up/Down recall)");
	for (i = 0; i < NX_ARRAY_LEN(tui_commands); i++) {
		if (tui_commands[i].need != 0 &&
		    !tui_can(t, (enum nx_cap)(tui_commands[i].need - 1)))
			continue;
		if (y - top >= 0) {
			snprintf(buf, sizeof buf, ":%s%s", tui_commands[i].name,
			    tui_commands[i].args);
			tui_print(t, w, y - top, 4, 26, t->theme.key, buf,
			    strlen(buf));
			tui_print(t, w, y - top, 31, -1, A_NORMAL,
			    tui_commands[i].help, strlen(tui_commands[i].help));
		}
		y++;
	}
#undef HELP_TITLE
	/* Let j/k scroll no further than the last line. */
	if (top > 0 && y - top < maxy)
		t->help_top = y > maxy ? y - maxy : 0;
}

/*
 * One frame: the manager's parts and the view's body are drawn into the
 * virtual screen, then doupdate() sends the cells that differ from what
 * the terminal shows.
 */
static void
tui_frame(uv_timer_t *timer)
{
	struct tui *t = timer->data;
	const struct view *v;
	static const char small[] = "terminal too small";

	t->dirty = false;
	if (t->quit)
		return;
	t->last_frame = uv_now(t->loop);
	t->frames++;
	t->now = engine_now(t->e);
	if (t->body == NULL) {
		werase(stdscr);
		tui_print(t, stdscr, 0, 0, COLS, A_BOLD, small, strlen(small));
		wnoutrefresh(stdscr);
		doupdate();
		return;
	}
	v = tui_current(t);
	werase(t->header);
	tui_draw_header(t);
	werase(t->body);
	if (t->help)
		tui_draw_help(t, t->body);
	else
		v->draw(t, tui_current_state(t), t->body);
	if (tui_dialog_open(t))
		tui_dialog_draw(t, t->body);
	werase(t->footer);
	tui_draw_footer(t);
	wnoutrefresh(t->header);
	wnoutrefresh(t->body);
	wnoutrefresh(t->footer);
	doupdate();
}

/* (Re)makes the header, body and footer windows for the current size. */
static void
tui_layout(struct tui *t)
{
	WINDOW **wins[] = { &t->header, &t->body, &t->footer };
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(wins); i++) {
		if (*wins[i] != NULL)
			delwin(*wins[i]);
		*wins[i] = NULL;
	}
	t->lines = LINES;
	t->cols = COLS;
	if (t->lines < TUI_HEADER_LINES + TUI_FOOTER_LINES + 2 || t->cols < 20)
		return;
	t->header = newwin(TUI_HEADER_LINES, t->cols, 0, 0);
	t->body = newwin(t->lines - TUI_HEADER_LINES - TUI_FOOTER_LINES,
	    t->cols, TUI_HEADER_LINES, 0);
	t->footer = newwin(TUI_FOOTER_LINES, t->cols,
	    t->lines - TUI_FOOTER_LINES, 0);
	for (i = 0; i < NX_ARRAY_LEN(wins); i++)
		leaveok(*wins[i], TRUE);
}

/* Takes the terminal's new size from the kernel and lays out again. */
static void
tui_resize(struct tui *t)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
	    ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	tui_layout(t);
	clearok(curscr, TRUE);
	tui_mark_dirty(t);
}

/* The index of the view on top of the stack. */
static size_t
tui_current_index(const struct tui *t)
{
	return t->stack[t->depth - 1];
}

/* Applies the '/' line to the current view on every keystroke. */
static void
tui_filter_apply(struct tui *t)
{
	const struct view *v = tui_current(t);
	struct nx_err err;

	t->line[t->linelen] = '\0';
	if (v->filter(t, tui_current_state(t), t->line, &err) != 0)
		snprintf(t->line_err, sizeof t->line_err, "%s", err.msg);
	else {
		t->line_err[0] = '\0';
		memcpy(t->filters[tui_current_index(t)], t->line,
		    t->linelen + 1);
	}
	tui_mark_dirty(t);
}

/*
 * A view cleared its filter itself (Esc in the view): the next '/' starts
 * from an empty line.
 */
void
tui_filter_cleared(struct tui *t)
{
	t->filters[tui_current_index(t)][0] = '\0';
}

/* Opens the '/' or ':' line. */
static void
tui_line_open(struct tui *t, enum tui_mode mode)
{
	t->mode = mode;
	t->linelen = 0;
	t->line[0] = '\0';
	t->line_err[0] = '\0';
	t->hpos = t->nhistory;
	tui_mark_dirty(t);
}

/* Carries out a manager action (TUI_ACT_*). */
static void
tui_act(struct tui *t, int action)
{
	size_t idx;

	switch (action) {
	case TUI_ACT_QUIT:
		tui_quit(t, 0);
		break;
	case TUI_ACT_BACK:
		if (t->depth > 1) {
			t->depth--;
			tui_mark_dirty(t);
		} else
			tui_quit(t, 0);
		break;
	case TUI_ACT_REDRAW:
		clearok(curscr, TRUE);
		tui_mark_dirty(t);
		break;
	case TUI_ACT_HELP:
		t->help = true;
		t->help_top = 0;
		tui_mark_dirty(t);
		break;
	case TUI_ACT_FILTER:
		if (tui_current(t)->filter == NULL) {
			tui_message(t, true, "the %s view has no filter",
			    tui_current(t)->name);
			break;
		}
		/* Start from the filter in effect, to edit it. */
		tui_line_open(t, TUI_MODE_FILTER);
		snprintf(t->line, sizeof t->line, "%s",
		    t->filters[tui_current_index(t)]);
		t->linelen = strlen(t->line);
		break;
	case TUI_ACT_COMMAND:
		tui_line_open(t, TUI_MODE_COMMAND);
		break;
	case TUI_ACT_NEXT:
	case TUI_ACT_PREV:
		idx = tui_current_index(t);
		idx = action == TUI_ACT_NEXT ? (idx + 1) % tui_nviews :
		    (idx + tui_nviews - 1) % tui_nviews;
		tui_switch(t, tui_views[idx]);
		break;
	case TUI_ACT_ACK:
		acting_ack(t, NULL);
		break;
	case TUI_ACT_DOWNTIME:
		acting_downtime(t, NULL, NULL);
		break;
	case TUI_ACT_RUN:
		acting_run(t, NULL);
		break;
	case TUI_ACT_SHELL:
		acting_shell(t);
		break;
	case TUI_ACT_RESET:
		acting_reset(t);
		break;
	default:
		break;
	}
}

/* Completes the column of ":sort COL"; as tui_complete(). */
static size_t
tui_complete_sort(const char *col, char *out, size_t len)
{
	size_t i, n = 0, plen = strlen(col);
	const char *only = NULL;

	for (i = 0; i < SORT__COUNT; i++) {
		if (strncmp(sort_name((enum fleet_sort)i), col, plen) == 0) {
			only = sort_name((enum fleet_sort)i);
			n++;
		}
	}
	if (n == 1)
		snprintf(out, len, "sort %s", only);
	return n;
}

/*
 * Completes the command name at the start of a ':' line: the one command
 * that starts with it (and a space when it takes an argument), or the
 * longest prefix the candidates share; after "sort ", the column.  Writes
 * the new line to out and returns the number of candidates (0: out is the
 * line unchanged).
 */
size_t
tui_complete(const char *line, char *out, size_t len)
{
	size_t i, n = 0, plen = strlen(line), common = 0;
	const char *first = NULL;

	snprintf(out, len, "%s", line);
	if (strncmp(line, "sort ", 5) == 0 && strchr(line + 5, ' ') == NULL)
		return tui_complete_sort(line + 5, out, len);
	if (strchr(line, ' ') != NULL)
		return 0;
	for (i = 0; i < NX_ARRAY_LEN(tui_commands); i++) {
		const char *name = tui_commands[i].name;

		if (strncmp(name, line, plen) != 0)
			continue;
		if (first == NULL) {
			first = name;
			common = strlen(name);
		} else {
			size_t k = 0;

			while (k < common && first[k] == name[k])
				k++;
			common = k;
		}
		n++;
	}
	if (n == 1) {
		for (i = 0; i < NX_ARRAY_LEN(tui_commands); i++) {
			if (tui_commands[i].name == first)
				break;
		}
		snprintf(out, len, "%s%s", first,
		    tui_commands[i].args[0] != '\0' ? " " : "");
	} else if (n > 1)
		snprintf(out, len, "%.*s", (int)common, first);
	return n;
}

/*
 * Completes prefix against n words: the one word it starts (with a
 * space after), or the longest prefix the candidates share.  Writes the
 * result to out and returns the number of candidates (0: out = prefix).
 */
size_t
tui_complete_words(const char *prefix, const char *const *words, size_t n,
    char *out, size_t len)
{
	size_t i, count = 0, plen = strlen(prefix), common = 0;
	const char *first = NULL;

	snprintf(out, len, "%s", prefix);
	for (i = 0; i < n; i++) {
		if (strncmp(words[i], prefix, plen) != 0)
			continue;
		if (first == NULL) {
			first = words[i];
			common = strlen(first);
		} else {
			size_t k = 0;

			while (k < common && first[k] == words[i][k])
				k++;
			common = k;
		}
		count++;
	}
	if (count == 1)
		snprintf(out, len, "%s ", first);
	else if (count > 1)
		snprintf(out, len, "%.*s", (int)common, first);
	return count;
}

/*
 * Tab on the ':' line: after "run ", the names of the actions in the
 * configuration; else tui_complete().
 */
static size_t
tui_complete_line(struct tui *t, const char *line, char *out, size_t len)
{
	const struct nx_config *cfg = &t->e->cfg;
	const char **names;
	char word[TUI_LINE_MAX - 8];
	size_t i, n;

	if (strncmp(line, "run ", 4) != 0 || strchr(line + 4, ' ') != NULL)
		return tui_complete(line, out, len);
	names = xcalloc(cfg->nactions + 1, sizeof *names);
	for (i = 0; i < cfg->nactions; i++)
		names[i] = cfg->actions[i].name;
	n = tui_complete_words(line + 4, names, cfg->nactions, word,
	    sizeof word);
	free(names);
	snprintf(out, len, "run %s", word);
	return n;
}

/* Reads a job number ("12" or "#12") from the front of s; 0 if none. */
static uint32_t
tui_job_arg(const char **s)
{
	const char *p = *s;
	unsigned long v;
	char *end;

	if (*p == '#')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	v = strtoul(p, &end, 10);
	if (*end != '\0' && *end != ' ')
		return 0;
	while (*end == ' ')
		end++;
	*s = end;
	return v > UINT32_MAX ? 0 : (uint32_t)v;
}

/*
 * Stores the fleet view's columns in out (room for NX_COL__COUNT): those
 * :columns set, else console.columns, else every one in the default order.
 * Returns how many.
 */
size_t
tui_columns_current(const struct tui *t, uint8_t *out)
{
	const struct nx_config *cfg = &t->e->cfg;
	size_t i;

	if (t->ncolumns > 0) {
		memcpy(out, t->columns, t->ncolumns);
		return t->ncolumns;
	}
	if (cfg->console.ncolumns > 0) {
		memcpy(out, cfg->console.columns, cfg->console.ncolumns);
		return cfg->console.ncolumns;
	}
	for (i = 0; i < NX_COL__COUNT; i++)
		out[i] = (uint8_t)i;
	return NX_COL__COUNT;
}

/*
 * :columns: with no argument, says which columns there are and which are
 * shown; with names (split at commas and spaces), shows those for the rest
 * of the session.  Returns 0, or -1 with err set.
 */
static int
tui_columns(struct tui *t, char *arg, struct nx_err *err)
{
	uint8_t cols[NX_COL__COUNT];
	char now[128], *name, *save = NULL;
	size_t i, n, k = 0;
	int w;

	if (arg[0] == '\0') {
		n = tui_columns_current(t, cols);
		now[0] = '\0';
		for (i = 0; i < n && k < sizeof now; i++) {
			w = snprintf(now + k, sizeof now - k, "%s%s",
			    i > 0 ? "," : "", config_column_names[cols[i]]);
			k += w > 0 ? (size_t)w : 0;
		}
		tui_message(t, false, "columns: state name address group load "
		    "cpu mem disk change (shown: %s)", now);
		return 0;
	}
	n = 0;
	for (name = strtok_r(arg, ", ", &save); name != NULL;
	    name = strtok_r(NULL, ", ", &save)) {
		if (config_column_add(cols, &n, name, err) != 0)
			return -1;
	}
	if (config_columns_check(cols, n, err) != 0)
		return -1;
	memcpy(t->columns, cols, n);
	t->ncolumns = n;
	tui_mark_dirty(t);
	tui_message(t, false, "%zu columns", n);
	return 0;
}

/*
 * Runs one ':' command line.  Returns 0, or -1 with err saying what is
 * wrong (an unknown command, a missing argument, a node not found).
 */
int
tui_command(struct tui *t, const char *line, struct nx_err *err)
{
	char cmd[32], arg[TUI_LINE_MAX];
	const struct view *v;
	struct theme_spec spec;
	struct node *n;
	size_t i, k;

	while (*line == ' ')
		line++;
	for (k = 0; line[k] != '\0' && line[k] != ' ' && k < sizeof cmd - 1; k++)
		cmd[k] = line[k];
	cmd[k] = '\0';
	line += k;
	while (*line == ' ')
		line++;
	snprintf(arg, sizeof arg, "%s", line);
	for (k = strlen(arg); k > 0 && arg[k - 1] == ' '; k--)
		arg[k - 1] = '\0';
	if (cmd[0] == '\0')
		return 0;
	if (strcmp(cmd, "q") == 0 || strcmp(cmd, "quit") == 0) {
		tui_quit(t, 0);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		tui_act(t, TUI_ACT_HELP);
		return 0;
	}
	for (i = 0; i < tui_nviews; i++) {
		if (strcmp(cmd, tui_views[i]->name) == 0 && tui_views[i] !=
		    &view_node) {
			tui_switch(t, tui_views[i]);
			return 0;
		}
	}
	if (strcmp(cmd, "node") == 0) {
		if (arg[0] == '\0') {
			nx_err_set(err, ":node wants a node name");
			return -1;
		}
		if ((n = fleet_find_node(&t->e->fleet, arg)) == NULL) {
			nx_err_set(err, "no node named '%s'", arg);
			return -1;
		}
		view_node_open(t, n->id);
		return 0;
	}
	if (strcmp(cmd, "ack") == 0) {
		acting_ack(t, arg[0] != '\0' ? arg : NULL);
		return 0;
	}
	if (strcmp(cmd, "downtime") == 0) {
		char *sp = strchr(arg, ' ');

		if (arg[0] == '\0') {
			acting_downtime(t, NULL, NULL);
			return 0;
		}
		if (sp != NULL) {
			*sp++ = '\0';
			while (*sp == ' ')
				sp++;
		}
		acting_downtime(t, arg, sp);
		return 0;
	}
	if (strcmp(cmd, "run") == 0) {
		acting_run(t, arg[0] != '\0' ? arg : NULL);
		return 0;
	}
	if (strcmp(cmd, "approve") == 0 || strcmp(cmd, "reject") == 0) {
		const char *rest = arg;
		uint32_t job = tui_job_arg(&rest);

		if (job == 0)
			job = view_jobs_current(t);
		if (job == 0) {
			nx_err_set(err, ":%s wants a job number (or a job "
			    "chosen in the jobs view)", cmd);
			return -1;
		}
		return acting_job(t, cmd, job, rest[0] != '\0' ? rest : NULL,
		    err);
	}
	if (strcmp(cmd, "sort") == 0) {
		v = tui_current(t);
		if (v->sort == NULL) {
			nx_err_set(err, "the %s view has a fixed order", v->name);
			return -1;
		}
		return v->sort(t, tui_current_state(t), arg, err);
	}
	if (strcmp(cmd, "columns") == 0)
		return tui_columns(t, arg, err);
	if (strcmp(cmd, "theme") == 0) {
		if (arg[0] == '\0') {
			nx_err_set(err, ":theme wants a name (now: %s)",
			    t->theme_spec.name);
			return -1;
		}
		if (theme_load(arg, &spec, err) != 0)
			return -1;
		t->theme_spec = spec;
		theme_init(&t->theme, &t->theme_spec, t->color);
		clearok(curscr, TRUE);
		tui_message(t, false, "theme %s", t->theme_spec.name);
		return 0;
	}
	nx_err_set(err, "unknown command '%s' (try :help)", cmd);
	return -1;
}

/* Keeps a ':' line in the history (not twice in a row). */
static void
tui_history_add(struct tui *t, const char *line)
{
	if (line[0] == '\0' || (t->nhistory > 0 &&
	    strcmp(t->history[t->nhistory - 1], line) == 0))
		return;
	if (t->nhistory == TUI_HISTORY) {
		free(t->history[0]);
		memmove(t->history, t->history + 1,
		    (TUI_HISTORY - 1) * sizeof *t->history);
		t->nhistory--;
	}
	t->history[t->nhistory++] = xstrdup(line);
}

/* Appends code point cp to the line as UTF-8, when it fits. */
static void
tui_line_append(struct tui *t, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (t->linelen + n >= sizeof t->line)
		return;
	memcpy(t->line + t->linelen, u, n);
	t->linelen += n;
	t->line[t->linelen] = '\0';
}

/*
 * A key while the '/' or ':' line is open.  Enter applies (the filter
 * stays; the command runs), Esc cancels (the filter is cleared), Backspace
 * and ^U edit; on the ':' line Up/Down recall and Tab completes.
 */
static void
tui_line_key(struct tui *t, const struct tui_input *in)
{
	struct nx_err err;
	char buf[TUI_LINE_MAX];
	bool filter = t->mode == TUI_MODE_FILTER;
	bool prompt = t->mode == TUI_MODE_PROMPT;
	size_t n;

	tui_mark_dirty(t);
	if (prompt && !in->keycode && (in->ch == TUI_KEY_ESC ||
	    in->ch == TUI_CTRL('c'))) {
		tui_dialog_dismiss(t);
		tui_message(t, false, "cancelled");
		return;
	}
	if (prompt && ((in->keycode && in->ch == KEY_ENTER) ||
	    (!in->keycode && (in->ch == '\r' || in->ch == '\n')))) {
		t->line[t->linelen] = '\0';
		tui_dialog_answer(t, t->line, &err);
		return;
	}
	if (prompt)
		t->line_err[0] = '\0';
	if (!in->keycode && in->ch == TUI_KEY_ESC) {
		t->mode = TUI_MODE_VIEW;
		if (filter) {
			t->linelen = 0;
			tui_filter_apply(t);
		}
		return;
	}
	if ((in->keycode && in->ch == KEY_ENTER) ||
	    (!in->keycode && (in->ch == '\r' || in->ch == '\n'))) {
		t->mode = TUI_MODE_VIEW;
		t->line[t->linelen] = '\0';
		if (filter) {
			if (t->line_err[0] != '\0')
				tui_message(t, true, "filter not changed: %s",
				    t->line_err);
			return;
		}
		tui_history_add(t, t->line);
		snprintf(buf, sizeof buf, "%s", t->line);
		if (tui_command(t, buf, &err) != 0)
			tui_message(t, true, "%s", err.msg);
		return;
	}
	if ((in->keycode && in->ch == KEY_BACKSPACE) ||
	    (!in->keycode && (in->ch == 0x7f || in->ch == 0x08))) {
		if (t->linelen == 0) {
			if (!filter && !prompt)
				t->mode = TUI_MODE_VIEW;
			return;
		}
		do
			t->linelen--;
		while (t->linelen > 0 &&
		    ((unsigned char)t->line[t->linelen] & 0xc0) == 0x80);
	} else if (!in->keycode && in->ch == TUI_CTRL('u'))
		t->linelen = 0;
	else if (!filter && !prompt && !in->keycode && in->ch == '\t') {
		t->line[t->linelen] = '\0';
		n = tui_complete_line(t, t->line, buf, sizeof buf);
		if (n == 0)
			tui_message(t, true, "nothing completes '%s'", t->line);
		snprintf(t->line, sizeof t->line, "%s", buf);
		t->linelen = strlen(t->line);
		return;
	} else if (!filter && !prompt && in->keycode && (in->ch == KEY_UP ||
	    in->ch == KEY_DOWN)) {
		if (in->ch == KEY_UP && t->hpos > 0)
			t->hpos--;
		else if (in->ch == KEY_DOWN && t->hpos < t->nhistory)
			t->hpos++;
		snprintf(t->line, sizeof t->line, "%s", t->hpos < t->nhistory ?
		    t->history[t->hpos] : "");
		t->linelen = strlen(t->line);
		return;
	} else if (!in->keycode && in->ch >= 0x20 && in->ch != 0x7f &&
	    !(in->ch >= 0x80 && in->ch < 0xa0))
		tui_line_append(t, (uint32_t)in->ch);
	else
		return;
	t->line[t->linelen] = '\0';
	if (filter)
		tui_filter_apply(t);
}

/* A key while the help screen is up: scroll it, or close it. */
static void
tui_help_key(struct tui *t, const struct tui_input *in)
{
	int page = t->body != NULL ? getmaxy(t->body) : 1;

	if (in->keycode && in->ch == KEY_DOWN)
		t->help_top++;
	else if (!in->keycode && in->ch == 'j')
		t->help_top++;
	else if ((in->keycode && in->ch == KEY_UP) ||
	    (!in->keycode && in->ch == 'k'))
		t->help_top = t->help_top > 0 ? t->help_top - 1 : 0;
	else if ((in->keycode && in->ch == KEY_NPAGE) ||
	    (!in->keycode && in->ch == ' '))
		t->help_top += page;
	else if (in->keycode && in->ch == KEY_PPAGE)
		t->help_top = t->help_top > page ? t->help_top - page : 0;
	else if (!in->keycode && in->ch == TUI_CTRL('c'))
		tui_quit(t, 128 + SIGINT);
	else
		t->help = false;
	tui_mark_dirty(t);
}

/* One key: the view first, then the global keys, then the view keys. */
static void
tui_key(struct tui *t, const struct tui_input *in)
{
	const struct view *v = tui_current(t);
	const struct tui_key *b;
	size_t i;

	/*
	 * resizeterm() queues a KEY_RESIZE; the SIGWINCH watcher has already
	 * done the work (resizing again here would queue another, forever).
	 */
	if (in->keycode && in->ch == KEY_RESIZE)
		return;
	if (t->msg[0] != '\0') {
		t->msg[0] = '\0';
		tui_mark_dirty(t);
	}
	if (t->mode != TUI_MODE_VIEW) {
		tui_line_key(t, in);
		return;
	}
	if (tui_dialog_open(t)) {
		if (!in->keycode && in->ch == TUI_CTRL('c'))
			tui_quit(t, 128 + SIGINT);
		else
			tui_dialog_key(t, in);
		return;
	}
	if (t->help) {
		tui_help_key(t, in);
		return;
	}
	b = tui_key_find(v->keys, v->nkeys, in);
	if (b != NULL && b->action < 0) {
		tui_act(t, b->action);
		return;
	}
	if (v->handle_key != NULL &&
	    v->handle_key(t, tui_current_state(t), in, b))
		return;
	b = tui_key_find(tui_global_keys, NX_ARRAY_LEN(tui_global_keys), in);
	if (b != NULL) {
		tui_act(t, b->action);
		return;
	}
	for (i = 0; i < tui_nviews; i++) {
		if (!in->keycode && tui_views[i]->key != 0 &&
		    in->ch == (wint_t)tui_views[i]->key) {
			tui_switch(t, tui_views[i]);
			return;
		}
	}
}

/*
 * fd 0 is readable: read every key ncurses can give without waiting.  A
 * readable terminal with nothing to read has hung up; that ends the
 * console like SIGHUP would.
 */
static void
tui_on_input(uv_poll_t *p, int status, int events)
{
	struct tui *t = p->data;
	struct tui_input in;
	int r, avail = 0;

	if (status < 0 || (events & UV_DISCONNECT) ||
	    (ioctl(STDIN_FILENO, FIONREAD, &avail) == 0 && avail == 0)) {
		tui_quit(t, 128 + SIGHUP);
		return;
	}
	while (!t->quit && (r = wget_wch(t->input_pad, &in.ch)) != ERR) {
		in.keycode = r == KEY_CODE_YES;
		tui_key(t, &in);
	}
	/*
	 * The operator is waiting: draw keys sooner than the event-driven
	 * frame cap would (a 10 fps cap could hold a keystroke for 100 ms).
	 */
	if (t->dirty && !t->quit) {
		uint64_t now = uv_now(t->loop);
		uint64_t due = t->last_frame + TUI_KEY_FRAME_MS;

		uv_timer_start(&t->frame, tui_frame, due > now ? due - now : 0, 0);
	}
}

/* Every wall-clock second: the clock and the events/s figure move. */
static void
tui_on_clock(uv_timer_t *timer)
{
	struct tui *t = timer->data;
	uint64_t now = uv_now(t->loop), dt = now - t->mark_ms;
	size_t i;

	if (dt > 0)
		t->eps = (uint32_t)(((t->results - t->results_mark) * 1000 +
		    dt / 2) / dt);
	t->results_mark = t->results;
	t->mark_ms = now;
	for (i = 0; i < tui_nviews; i++) {
		if (t->vstate[i] != NULL && tui_views[i]->tick != NULL)
			tui_views[i]->tick(t, t->vstate[i]);
	}
	uv_timer_start(&t->clock, tui_on_clock,
	    1000 - (uint64_t)(nx_wallclock() % 1000) + 1, 0);
	tui_mark_dirty(t);
}

/*
 * Copies what the console keeps of an event into te: every field, and the
 * first line of the text cut to fit (on a UTF-8 boundary).
 */
void
tui_event_copy(struct tui_event *te, const struct event *ev)
{
	const char *nl;
	size_t n;

	te->seq = ev->seq;
	te->time = ev->time;
	te->kind = ev->kind;
	te->node = ev->node;
	te->check = ev->check;
	te->state = ev->state;
	te->prev_state = ev->prev_state;
	te->state_type = ev->state_type;
	te->attempt = ev->attempt;
	te->flags = ev->flags;
	te->text[0] = '\0';
	if (ev->text == NULL)
		return;
	n = strnlen(ev->text, sizeof te->text);
	nl = memchr(ev->text, '\n', n);
	if (nl != NULL)
		n = (size_t)(nl - ev->text);
	if (n >= sizeof te->text) {
		n = sizeof te->text - 1;
		while (n > 0 && ((unsigned char)ev->text[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(te->text, ev->text, n);
	te->text[n] = '\0';
}

/*
 * The bus: every event goes into the console's ring and to every view
 * that keeps state from events; results feed events/s; anything may
 * change what is shown.
 */
static void
tui_on_event(void *arg, const struct event *ev)
{
	struct tui *t = arg;
	struct tui_event *te = &t->events.v[t->events.total % t->events.cap];
	size_t i;

	if (ev->kind == NX_EV_RESULT)
		t->results++;
	tui_event_copy(te, ev);
	t->events.total++;
	if (ev->kind == NX_EV_JOB)
		acting_job_event(t, ev);
	for (i = 0; i < tui_nviews; i++) {
		if (t->vstate[i] != NULL && tui_views[i]->event != NULL)
			tui_views[i]->event(t, t->vstate[i], ev);
	}
	tui_mark_dirty(t);
}

static void
tui_on_signal(uv_signal_t *h, int sig)
{
	struct tui *t = h->data;

	if (sig == SIGWINCH)
		tui_resize(t);
	else
		tui_quit(t, 128 + sig);
}

static void
tui_on_close(uv_handle_t *h)
{
	struct tui *t = h->data;

	t->nopen--;
}

static void
tui_close(struct tui *t, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, tui_on_close);
}

/*
 * Runs the console on e->loop until the user quits; see the top of the
 * file for the signals.  The engine must be started.  Returns the exit
 * status: 0 after q (or Esc at the top level), 128 + signal number after
 * SIGINT, SIGTERM or SIGHUP (or when the terminal hangs up), NX_EXIT_USAGE
 * when the terminal cannot be used.  The terminal is restored either way.
 */
int
tui_run(struct engine *e, const struct tui_opts *o)
{
	static bool atexit_done;
	const char *nocolor = getenv("NO_COLOR");
	bool color = nocolor == NULL || *nocolor == '\0';
	uint32_t fps = o->fps ? o->fps : TUI_FPS_DEFAULT;
	struct nx_err err = { { 0 } };
	struct tui *t;
	SCREEN *scr;
	int fdflags, status, spins;
	size_t i;

	setlocale(LC_ALL, "");
	t = xcalloc(1, sizeof *t);
	if (theme_load(o->theme, &t->theme_spec, &err) != 0) {
		fprintf(stderr, "nexusctl: %s\n", err.msg);
		free(t);
		return NX_EXIT_CONFIG;
	}
	t->e = e;
	t->loop = e->loop;
	t->opts = o;
	t->frame_ms = 1000 / (fps > 100 ? 100 : fps);
	t->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	t->vstate = xcalloc(tui_nviews, sizeof *t->vstate);
	t->filters = xcalloc(tui_nviews, sizeof *t->filters);
	t->color = color;
	t->events.cap = TUI_EVRING;
	t->events.v = xcalloc(t->events.cap, sizeof *t->events.v);
	fdflags = fcntl(STDIN_FILENO, F_GETFL);

	/* Before newterm(), so that ncurses keeps its hands off these. */
	for (i = 0; i < NX_ARRAY_LEN(tui_uv_signals); i++) {
		uv_signal_init(t->loop, &t->sig[i]);
		t->sig[i].data = t;
		t->nopen++;
		uv_signal_start(&t->sig[i], tui_on_signal, tui_uv_signals[i]);
	}
	uv_timer_init(t->loop, &t->frame);
	t->frame.data = t;
	t->nopen++;
	uv_timer_init(t->loop, &t->clock);
	t->clock.data = t;
	t->nopen++;

	if ((scr = newterm(NULL, stdout, stdin)) == NULL) {
		fprintf(stderr, "nexusctl: cannot drive terminal type '%s'\n",
		    getenv("TERM") ? getenv("TERM") : "(unset)");
		status = NX_EXIT_USAGE;
		goto close;
	}
	tui_curses_active = 1;
	if (tigetstr("cup") == NULL || tigetstr("cup") == (char *)-1) {
		endwin();
		tui_curses_active = 0;
		delscreen(scr);
		fprintf(stderr, "nexusctl: terminal type '%s' cannot move the "
		    "cursor; the console needs one that can (for scripts use "
		    "'nexusctl check' or 'nexusctl watch')\n", getenv("TERM"));
		status = NX_EXIT_USAGE;
		goto close;
	}
	if (!atexit_done) {
		atexit(tui_atexit);
		atexit_done = true;
	}
	tui_crash_handlers(true);
	cbreak();
	noecho();
	nonl();
	intrflush(stdscr, FALSE);
	curs_set(0);
	set_escdelay(TUI_ESCDELAY_MS);
	/*
	 * No typeahead check: frames are capped and small, and the check
	 * costs a poll() and splits every frame into two writes.
	 */
	typeahead(-1);
	t->input_pad = newpad(1, 1);
	keypad(t->input_pad, TRUE);
	nodelay(t->input_pad, TRUE);
	if (color && has_colors())
		start_color();
	theme_init(&t->theme, &t->theme_spec, color);

	/*
	 * uv_poll_init() makes the fd non-blocking, and fd 0 shares its file
	 * description with fd 1: ncurses's writes would then fail with EAGAIN
	 * on a slow link.  Polling does not need it, so undo it.
	 */
	uv_poll_init(t->loop, &t->input, STDIN_FILENO);
	t->input.data = t;
	t->nopen++;
	if (fdflags != -1)
		fcntl(STDIN_FILENO, F_SETFL, fdflags);
	uv_poll_start(&t->input, UV_READABLE | UV_DISCONNECT, tui_on_input);
	bus_subscribe(&e->bus, tui_on_event, t);

	tui_layout(t);
	/* Every view from the start: they keep state from bus events. */
	for (i = 0; i < tui_nviews; i++) {
		if (tui_views[i]->init != NULL)
			t->vstate[i] = tui_views[i]->init(t);
	}
	tui_show(t, 0, false);
	t->mark_ms = uv_now(t->loop);
	t->results_mark = t->results;
	uv_timer_start(&t->clock, tui_on_clock,
	    1000 - (uint64_t)(nx_wallclock() % 1000) + 1, 0);

	uv_run(t->loop, UV_RUN_DEFAULT);

	status = t->quit ? t->exit_status : NX_EXIT_SOFTWARE;
	tui_dialog_free(t);
	bus_unsubscribe(&e->bus, tui_on_event, t);
	if (t->header != NULL)
		delwin(t->header);
	if (t->body != NULL)
		delwin(t->body);
	if (t->footer != NULL)
		delwin(t->footer);
	delwin(t->input_pad);
	endwin();
	tui_curses_active = 0;
	tui_crash_handlers(false);
	delscreen(scr);
	tui_close(t, (uv_handle_t *)&t->input);
close:
	if (fdflags != -1)
		fcntl(STDIN_FILENO, F_SETFL, fdflags);
	for (i = 0; i < NX_ARRAY_LEN(t->sig); i++)
		tui_close(t, (uv_handle_t *)&t->sig[i]);
	tui_close(t, (uv_handle_t *)&t->frame);
	tui_close(t, (uv_handle_t *)&t->clock);
	/* Close callbacks run at the end of one loop iteration. */
	for (spins = 0; t->nopen > 0 && spins < 100; spins++)
		uv_run(t->loop, UV_RUN_NOWAIT);
	for (i = 0; i < tui_nviews; i++) {
		if (t->vstate[i] != NULL && tui_views[i]->free != NULL)
			tui_views[i]->free(t->vstate[i]);
	}
	free(t->vstate);
	free(t->filters);
	free(t->events.v);
	free(t->my_jobs);
	for (i = 0; i < t->nhistory; i++)
		free(t->history[i]);
	if (t->nopen == 0)
		free(t);
	return status;
}

/*
 * Takes the terminal again after something else used it (the ssh
 * shell-out): the size may have changed, and every cell is repainted.
 */
void
tui_redraw_all(struct tui *t)
{
	tui_resize(t);
}
