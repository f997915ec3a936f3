/*
 * tui.c - the screen manager: terminal, loop handles, frames, views.
 *
 * Everything runs on the engine's libuv loop, on one thread:
 *
 *  - fd 0 is watched with a uv_poll; when it is readable the callback reads
 *    keys with wget_wch() in nodelay mode until ERR and hands each to the
 *    current view, then to the global key table.
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

#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tui.h"

/* The views, the first is where the console opens.  One line per view. */
const struct view *const tui_views[] = {
	&view_fleet,
};
const size_t tui_nviews = NX_ARRAY_LEN(tui_views);

#define TUI_HEADER_LINES 2
#define TUI_FOOTER_LINES 1
#define TUI_FPS_DEFAULT 10
#define TUI_ESCDELAY_MS 25
#define TUI_KEY_FRAME_MS 10     /* a key may draw this soon after a frame */

/* Keys that work in every view (after the view had its chance). */
static const struct tui_key tui_global_keys[] = {
	{ .key = 'q', .action = TUI_ACT_QUIT, .hint = "q", .help = "quit" },
	{ .key = TUI_KEY_ESC, .action = TUI_ACT_BACK },
	{ .key = TUI_CTRL('l'), .action = TUI_ACT_REDRAW, .hint = "^L",
	  .help = "redraw" },
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

/* Makes view `idx` current; its state is made the first time. */
static void
tui_show(struct tui *t, size_t idx, bool push)
{
	const struct view *v = tui_views[idx];

	if (t->vstate[idx] == NULL && v->init != NULL)
		t->vstate[idx] = v->init(t);
	if (!push || t->depth == 0)
		t->depth = 1;
	else if (t->depth < TUI_STACK_MAX)
		t->depth++;
	t->stack[t->depth - 1] = idx;
	tui_mark_dirty(t);
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
	static const int prio[] = { 1, 2, 0, 3 };
	char buf[256], clock[16], pieces[4][48];
	bool shown[4];
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
	snprintf(pieces[1], sizeof pieces[1], " %u nodes ", f->nnodes);
	snprintf(pieces[2], sizeof pieces[2], "%s",
	    t->opts->readonly ? " [read-only] " : "");
	snprintf(pieces[3], sizeof pieces[3], " %u events/s ", t->eps);
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
}

/* Columns one footer hint takes: "KEYS help" and two spaces after. */
static int
tui_hint_width(const struct tui_key *b)
{
	return text_width(b->hint, strlen(b->hint)) + 1 +
	    text_width(b->help, strlen(b->help)) + 2;
}

/*
 * The footer: hints generated from the current view's key table, then the
 * global keys, and the view's position at the right end.  When they do not
 * all fit, the view's hints are dropped from the end first, so that "q
 * quit" is the last to go.
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

	if (v->position != NULL)
		v->position(t, tui_current_state(t), pos, sizeof pos);
	limit = tui_print_right(t, w, 0, 0, t->cols - 1, t->theme.dim, pos) - 1;
	for (i = 0; i < v->nkeys; i++) {
		if (v->keys[i].hint != NULL)
			view_w += tui_hint_width(&v->keys[i]);
	}
	for (i = 0; i < nglobal; i++) {
		if (tui_global_keys[i].hint != NULL)
			global_w += tui_hint_width(&tui_global_keys[i]);
	}
	while (nview > 0 && view_w + global_w > limit) {
		nview--;
		if (v->keys[nview].hint != NULL)
			view_w -= tui_hint_width(&v->keys[nview]);
	}
	for (i = 0; i < nview + nglobal; i++) {
		b = i < nview ? &v->keys[i] : &tui_global_keys[i - nview];
		if (b->hint == NULL)
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
	v->draw(t, tui_current_state(t), t->body);
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

/* Carries out a manager action (TUI_ACT_*). */
static void
tui_act(struct tui *t, int action)
{
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
	default:
		break;
	}
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
			tui_show(t, i, i != 0);
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

	if (dt > 0)
		t->eps = (uint32_t)(((t->results - t->results_mark) * 1000 +
		    dt / 2) / dt);
	t->results_mark = t->results;
	t->mark_ms = now;
	uv_timer_start(&t->clock, tui_on_clock,
	    1000 - (uint64_t)(nx_wallclock() % 1000) + 1, 0);
	tui_mark_dirty(t);
}

/* The bus: results feed events/s; anything may change what is shown. */
static void
tui_on_event(void *arg, const struct event *ev)
{
	struct tui *t = arg;

	if (ev->kind == NX_EV_RESULT)
		t->results++;
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
	struct tui *t;
	SCREEN *scr;
	int fdflags, status, spins;
	size_t i;

	setlocale(LC_ALL, "");
	t = xcalloc(1, sizeof *t);
	t->e = e;
	t->loop = e->loop;
	t->opts = o;
	t->frame_ms = 1000 / (fps > 100 ? 100 : fps);
	t->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	t->vstate = xcalloc(tui_nviews, sizeof *t->vstate);
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
	theme_init(&t->theme, o->theme, color);

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
	tui_show(t, 0, false);
	t->mark_ms = uv_now(t->loop);
	t->results_mark = t->results;
	uv_timer_start(&t->clock, tui_on_clock,
	    1000 - (uint64_t)(nx_wallclock() % 1000) + 1, 0);

	uv_run(t->loop, UV_RUN_DEFAULT);

	status = t->quit ? t->exit_status : NX_EXIT_SOFTWARE;
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
	if (t->nopen == 0)
		free(t);
	return status;
}
