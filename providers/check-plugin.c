/*
 * check-plugin.c - the `plugin` check kind: a Nagios-compatible plugin run
 * on this machine.
 *
 * Each execution spawns the definition's argv (macros expanded per element,
 * no shell) with uv_spawn in a session and process group of its own
 * (UV_PROCESS_DETACHED is setsid()), stdin on /dev/null, stdout and stderr
 * into one pipe, as Nagios merges them.  At most PLUGIN_OUTPUT_MAX bytes are
 * kept; the rest is read, counted and noted in the output.  When the
 * timeout expires the whole group is killed (kill(-pgid, SIGKILL), so a
 * plugin's own children go too) and the monitor gets a timeout result.
 * The exit status becomes the state through plugin_state_from_exit(); a
 * plugin that cannot be started at all (ENOENT, EACCES) is UNKNOWN with
 * the reason.  Thresholds of the definition are applied to the perfdata
 * by checkdef_apply_result().
 *
 * Memory: an execution is a struct plugin_run holding the three handles;
 * it is freed in the close callback of the last of them, never earlier.
 * The check's data (struct plugin_check) points at the execution in
 * flight, so that freeing the fleet mid-run kills the group and abandons
 * the execution: the run then applies no result.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

#define PLUGIN_READ_CHUNK 4096

struct plugin_run;

struct plugin_check {
	const struct nx_checkdef *def;  /* borrowed from the configuration */
	struct plugin_run *run;         /* the execution in flight, or NULL */
};

struct plugin_run {
	struct engine *e;       /* NULL once abandoned */
	struct plugin_check *pc;
	uint32_t check;         /* id: fleet->checks may move */
	uv_process_t proc;
	uv_pipe_t pipe;
	uv_timer_t timer;
	int open;               /* handles initialised and not closed yet */
	pid_t pgid;
	char *buf;              /* PLUGIN_OUTPUT_MAX + 1 */
	size_t len;
	uint64_t discarded;
	uint64_t start_ns;
	int64_t exit_status;
	int term_signal;
	bool exited, eof, timed_out, finished;
	bool proc_open, pipe_open, timer_open;
};

static void
plugin_on_close(uv_handle_t *h)
{
	struct plugin_run *r = h->data;

	if (--r->open > 0)
		return;
	free(r->buf);
	free(r);
}

static void
plugin_close(struct plugin_run *r)
{
	if (r->timer_open) {
		r->timer_open = false;
		uv_timer_stop(&r->timer);
		uv_close((uv_handle_t *)&r->timer, plugin_on_close);
	}
	if (r->pipe_open) {
		r->pipe_open = false;
		uv_close((uv_handle_t *)&r->pipe, plugin_on_close);
	}
	if (r->proc_open) {
		r->proc_open = false;
		uv_close((uv_handle_t *)&r->proc, plugin_on_close);
	}
}

static double
plugin_elapsed_ms(const struct plugin_run *r)
{
	return (double)(uv_hrtime() - r->start_ns) / 1e6;
}

/*
 * Ends an execution once: applies its result (unless abandoned) and closes
 * the handles.  The check may start again from inside the result (a
 * queued run of another check), so the run is detached first.
 */
static void
plugin_finish(struct plugin_run *r)
{
	struct engine *e = r->e;
	struct check *c;
	char reason[160], note[256];
	enum nx_state st;
	size_t n = 0;

	if (r->finished)
		return;
	r->finished = true;
	if (r->pc != NULL)
		r->pc->run = NULL;
	plugin_close(r);
	if (e == NULL)
		return;
	c = &e->fleet.checks[r->check];
	if (r->timed_out) {
		/* The timer runs on loop time, cached before start_ns. */
		double ms = plugin_elapsed_ms(r);

		if (ms < c->timeout_ms)
			ms = c->timeout_ms;
		mon_apply_timeout(e, c, ms);
		return;
	}
	st = plugin_state_from_exit((int)r->exit_status, r->term_signal,
	    reason, sizeof reason);
	note[0] = '\0';
	if (reason[0] != '\0') {
		/* The note goes in parentheses already: drop the reason's. */
		size_t rl = strlen(reason);
		bool paren = rl >= 2 && reason[0] == '(' && reason[rl - 1] == ')';

		n = (size_t)snprintf(note, sizeof note, "%.*s",
		    (int)(paren ? rl - 2 : rl), reason + (paren ? 1 : 0));
		if (n >= sizeof note)
			n = sizeof note - 1;
	}
	if (r->discarded > 0)
		snprintf(note + n, sizeof note - n, "%soutput truncated at %d "
		    "bytes, %llu more discarded", n > 0 ? "; " : "",
		    PLUGIN_OUTPUT_MAX, (unsigned long long)r->discarded);
	checkdef_apply_result(e, c, r->pc != NULL ? r->pc->def : NULL, st,
	    r->buf, r->len, note, plugin_elapsed_ms(r));
}

static void
plugin_on_exit(uv_process_t *p, int64_t status, int term_signal)
{
	struct plugin_run *r = p->data;

	r->exited = true;
	r->exit_status = status;
	r->term_signal = term_signal;
	/* After a timeout the result is known; do not wait for the pipe,
	 * which a child that left the group may still hold open. */
	if (r->eof || r->timed_out)
		plugin_finish(r);
}

static void
plugin_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct plugin_run *r = h->data;
	static char sink[PLUGIN_READ_CHUNK];

	(void)suggested;
	if (r->len < PLUGIN_OUTPUT_MAX) {
		buf->base = r->buf + r->len;
		buf->len = PLUGIN_OUTPUT_MAX - r->len;
	} else {
		/* Read and count what is over the cap, so the plugin does
		 * not block on a full pipe. */
		buf->base = sink;
		buf->len = sizeof sink;
	}
}

static void
plugin_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct plugin_run *r = s->data;

	if (nread > 0) {
		if (buf->base == r->buf + r->len)
			r->len += (size_t)nread;
		else
			r->discarded += (uint64_t)nread;
		return;
	}
	if (nread == 0)
		return;
	/* EOF, or an error reading: either way no more output. */
	r->eof = true;
	uv_read_stop(s);
	if (r->exited)
		plugin_finish(r);
}

static void
plugin_on_timeout(uv_timer_t *t)
{
	struct plugin_run *r = t->data;

	/* The whole group: the plugin and whatever it started. */
	if (r->pgid > 0)
		kill(-r->pgid, SIGKILL);
	if (!r->exited)
		r->timed_out = true;
	else
		plugin_finish(r);       /* exited; a child held the pipe */
}

/* A result for an execution that never started. */
static void
plugin_fail(struct engine *e, struct check *c, const struct nx_checkdef *d,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
plugin_fail(struct engine *e, struct check *c, const struct nx_checkdef *d,
    const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	(void)d;
	checkdef_apply_result(e, c, NULL, NX_UNKNOWN, buf,
	    n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n,
	    NULL, 0);
}

static void
plugin_run(struct engine *e, struct check *c)
{
	struct plugin_check *pc = c->data;
	const struct nx_checkdef *d = pc->def;
	struct node *n = &e->fleet.nodes[c->node];
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	struct plugin_run *r;
	struct nx_err err;
	uv_file fds[2];
	char **argv;
	int rc;

	if ((argv = checkdef_argv(d, n, &err)) == NULL) {
		plugin_fail(e, c, d, "UNKNOWN - %s", err.msg);
		return;
	}
	if ((rc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0)) != 0) {
		plugin_fail(e, c, d, "UNKNOWN - cannot make a pipe for %s: %s",
		    argv[0], uv_strerror(rc));
		checkdef_argv_free(argv);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->e = e;
	r->pc = pc;
	r->check = c->id;
	r->buf = xmalloc(PLUGIN_OUTPUT_MAX + 1);
	r->start_ns = uv_hrtime();
	uv_pipe_init(e->loop, &r->pipe, 0);
	r->pipe.data = r;
	r->pipe_open = true;
	r->open++;
	uv_pipe_open(&r->pipe, fds[0]);

	memset(&opt, 0, sizeof opt);
	memset(stdio, 0, sizeof stdio);
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = fds[1];
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = fds[1];
	opt.file = argv[0];
	opt.args = argv;
	opt.stdio = stdio;
	opt.stdio_count = 3;
	opt.flags = UV_PROCESS_DETACHED;
	opt.exit_cb = plugin_on_exit;
	r->proc.data = r;
	rc = uv_spawn(e->loop, &r->proc, &opt);
	close(fds[1]);
	/* uv_spawn initialises the handle even when it fails. */
	r->proc_open = true;
	r->open++;
	if (rc != 0) {
		r->finished = true;
		plugin_close(r);
		plugin_fail(e, c, d, "UNKNOWN - cannot run plugin %s: %s",
		    argv[0], uv_strerror(rc));
		checkdef_argv_free(argv);
		return;
	}
	checkdef_argv_free(argv);
	r->pgid = r->proc.pid;
	pc->run = r;
	uv_read_start((uv_stream_t *)&r->pipe, plugin_on_alloc,
	    plugin_on_read);
	uv_timer_init(e->loop, &r->timer);
	r->timer.data = r;
	r->timer_open = true;
	r->open++;
	uv_timer_start(&r->timer, plugin_on_timeout,
	    c->timeout_ms != 0 ? c->timeout_ms : e->cfg.checks.timeout_ms, 0);
}

/*
 * Frees a check's data.  An execution still in flight (the fleet is going
 * away mid-round) is abandoned: its group is killed, its handles close and
 * free it later, and it applies no result.
 */
static void
plugin_free_data(void *data)
{
	struct plugin_check *pc = data;
	struct plugin_run *r;

	if (pc == NULL)
		return;
	if ((r = pc->run) != NULL) {
		r->e = NULL;
		r->pc = NULL;
		if (!r->exited && r->pgid > 0)
			kill(-r->pgid, SIGKILL);
		r->finished = true;
		plugin_close(r);
	}
	free(pc);
}

static void *
plugin_configure(struct engine *e, struct node *n,
    const struct nx_checkdef *d)
{
	struct plugin_check *pc;

	(void)e;
	(void)n;
	if (d->command == NULL || d->ncommand == 0)
		return NULL;
	pc = xcalloc(1, sizeof *pc);
	pc->def = d;
	return pc;
}

const struct check_kind check_kind_plugin = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "plugin",
	.run = plugin_run,
	.free_data = plugin_free_data,
	.configure = plugin_configure,
};
