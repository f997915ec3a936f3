/*
 * child.c - one child process on the loop: spawned, its output captured
 * with a cap, bounded in time, its exit collected.
 *
 * The plugin check kind (providers/check-plugin.c), the local executor
 * of jobs (engine/job.c, and through it providers/inv-actions.c) and,
 * through child_run() (synchronous: a loop of its own, run to the end),
 * inventory scripts (providers/inv-script.c) run their commands through
 * here: the one spawn path of the project.  A child runs with uv_spawn
 * in a session and process group of its own (UV_PROCESS_DETACHED is
 * setsid()), stdin on
 * /dev/null, stdout and stderr on pipes (one pipe for both with
 * CHILD_MERGE, as Nagios merges them).  At most out_cap (err_cap) bytes
 * are kept; the rest is read, so that the child never blocks on a full
 * pipe, counted and flagged.  When the timeout expires the whole group is
 * killed (kill(-pgid, SIGKILL): the child and whatever it started) and
 * the result says timed_out.
 *
 * A child is done when it has exited and its output is at EOF.  A
 * background process that left the group (or outlived it) may hold the
 * output open after the exit: the child then waits at most linger_ms
 * after the exit (0: until the timeout) and is done with what it read;
 * CHILD_KILL_LINGERING kills the group at that point too.
 *
 * CHILD_KILL_OVER_CAP: stdout past out_cap is not read on but kills the
 * group (result over_cap).  CHILD_KILL_AT_END: once the child is done,
 * what is left of its group (background processes that closed their
 * output) is killed.
 *
 * Memory: struct child owns its handles and buffers and frees itself in
 * the close callback of the last handle, never earlier.  The caller holds
 * the pointer from child_spawn() until its done callback runs (after which
 * it must not use it) or until it calls child_kill().
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

#define CHILD_CHUNK 4096

struct child_buf {
	char *buf;              /* NUL-terminated, NULL until the first byte */
	size_t len, size;       /* size: allocated, the NUL included */
	size_t cap;
	uint64_t dropped;
};

struct child {
	uv_process_t proc;
	uv_pipe_t pipe[2];      /* stdout, stderr (unused with CHILD_MERGE) */
	uv_timer_t timer;
	child_done_cb done;     /* NULL once killed */
	void *arg;
	struct child_buf b[2];
	int npipes;             /* 1 with CHILD_MERGE, else 2 */
	int open;               /* handles initialised and not closed yet */
	int eofs;               /* pipes at EOF */
	int flags;
	uint32_t timeout_ms, linger_ms;
	uint64_t start_ns;
	pid_t pid;
	int64_t status;
	int term_signal;
	bool exited, timed_out, killed, finished, over_cap;
};

/* ---------------------------------------------------------------------- */
/* Names                                                                   */

/*
 * Writes the short name of signal sig ("KILL", "TERM"...) into buf, or its
 * number for a signal without a name here; returns buf.
 */
const char *
child_signal_name(int sig, char *buf, size_t len)
{
	const char *name;

	switch (sig) {
	case SIGKILL:
		name = "KILL";
		break;
	case SIGTERM:
		name = "TERM";
		break;
	case SIGINT:
		name = "INT";
		break;
	case SIGHUP:
		name = "HUP";
		break;
	case SIGSEGV:
		name = "SEGV";
		break;
	case SIGABRT:
		name = "ABRT";
		break;
	case SIGPIPE:
		name = "PIPE";
		break;
	case SIGQUIT:
		name = "QUIT";
		break;
	default:
		snprintf(buf, len, "%d", sig);
		return buf;
	}
	snprintf(buf, len, "%s", name);
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Ending                                                                  */

static void
child_on_close(uv_handle_t *h)
{
	struct child *c = h->data;

	if (--c->open > 0)
		return;
	free(c->b[0].buf);
	free(c->b[1].buf);
	free(c);
}

static void
child_close(struct child *c)
{
	int i;

	if (!uv_is_closing((uv_handle_t *)&c->timer)) {
		uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, child_on_close);
	}
	for (i = 0; i < c->npipes; i++) {
		if (!uv_is_closing((uv_handle_t *)&c->pipe[i]))
			uv_close((uv_handle_t *)&c->pipe[i], child_on_close);
	}
	if (!uv_is_closing((uv_handle_t *)&c->proc))
		uv_close((uv_handle_t *)&c->proc, child_on_close);
}

static void
child_kill_group(struct child *c)
{
	/* The whole group: the child and whatever it started. */
	if (c->pid > 0)
		(void)kill(-c->pid, SIGKILL);
}

/*
 * Ends the child once: closes its handles and, unless it was killed by
 * child_kill(), calls the done callback with the result.  The buffers the
 * result points at are freed by the last close callback, which runs on a
 * later loop iteration, so they outlive the call.
 */
static void
child_finish(struct child *c)
{
	struct child_result res;
	child_done_cb done = c->done;
	int i;

	if (c->finished)
		return;
	c->finished = true;
	c->done = NULL;
	if ((c->flags & CHILD_KILL_AT_END) && !c->killed)
		child_kill_group(c);
	memset(&res, 0, sizeof res);
	res.output_open = c->eofs < c->npipes;
	child_close(c);
	if (done == NULL)
		return;
	res.exit_status = c->status;
	res.term_signal = c->term_signal;
	if (c->term_signal != 0 && !c->timed_out)
		child_signal_name(c->term_signal, res.signal,
		    sizeof res.signal);
	res.timed_out = c->timed_out;
	res.over_cap = c->over_cap;
	for (i = 0; i < 2; i++) {
		res.out[i] = c->b[i].buf != NULL ? c->b[i].buf : "";
		res.len[i] = c->b[i].len;
		res.dropped[i] = c->b[i].dropped;
		res.truncated[i] = c->b[i].dropped > 0;
	}
	res.ms = (double)(uv_hrtime() - c->start_ns) / 1e6;
	done(c->arg, &res);
}

/* ---------------------------------------------------------------------- */
/* Events                                                                  */

static void child_on_timer(uv_timer_t *);

static void
child_on_exit(uv_process_t *p, int64_t status, int term_signal)
{
	struct child *c = p->data;

	c->exited = true;
	c->status = status;
	c->term_signal = term_signal;
	/* Killed: nobody wants the output.  Timed out without a linger: the
	 * result is known, and a process that left the group may still
	 * hold the pipe. */
	if (c->eofs == c->npipes || c->killed ||
	    (c->timed_out && c->linger_ms == 0)) {
		child_finish(c);
		return;
	}
	/* Output still open: wait for it, at most linger_ms from now, or
	 * (linger 0) until the timeout already running. */
	if (c->linger_ms != 0) {
		uv_timer_stop(&c->timer);
		uv_timer_start(&c->timer, child_on_timer, c->linger_ms, 0);
	}
}

static void
child_on_timer(uv_timer_t *t)
{
	struct child *c = t->data;

	if (c->exited) {
		/* The linger is over; a process holds the output. */
		if (c->flags & CHILD_KILL_LINGERING)
			child_kill_group(c);
		child_finish(c);
		return;
	}
	c->timed_out = true;
	child_kill_group(c);
}

static void
child_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct child *c = h->data;
	struct child_buf *b = &c->b[h == (uv_handle_t *)&c->pipe[0] ? 0 : 1];
	/* Over the cap: read and count, into a sink of the loop's thread. */
	static char sink[CHILD_CHUNK];
	size_t want;

	(void)suggested;
	if (b->len >= b->cap) {
		buf->base = sink;
		buf->len = sizeof sink;
		return;
	}
	if (b->size < b->cap + 1 && b->size - b->len < CHILD_CHUNK + 1) {
		want = b->size == 0 ? CHILD_CHUNK : b->size * 2;
		if (want > b->cap + 1)
			want = b->cap + 1;
		b->buf = xrealloc(b->buf, want);
		b->size = want;
		b->buf[b->len] = '\0';  /* the read may bring nothing */
	}
	buf->base = b->buf + b->len;
	buf->len = b->size - 1 - b->len;
}

static void
child_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct child *c = s->data;
	struct child_buf *b = &c->b[s == (uv_stream_t *)&c->pipe[0] ? 0 : 1];

	if (nread > 0) {
		if (b->buf != NULL && buf->base == b->buf + b->len) {
			b->len += (size_t)nread;
			b->buf[b->len] = '\0';
		} else
			b->dropped += (uint64_t)nread;
		if (b->dropped > 0 && b == &c->b[CHILD_OUT] &&
		    (c->flags & CHILD_KILL_OVER_CAP) && !c->over_cap) {
			c->over_cap = true;
			child_kill_group(c);
		}
		return;
	}
	if (nread == 0)
		return;
	/* EOF, or an error reading: either way no more output. */
	uv_read_stop(s);
	uv_close((uv_handle_t *)s, child_on_close);
	if (++c->eofs == c->npipes && c->exited)
		child_finish(c);
}

/* ---------------------------------------------------------------------- */
/* Starting and killing                                                    */

static struct child *child_start(uv_loop_t *, const struct child_opts *,
    child_done_cb, void *, struct nx_err *, int *);

/*
 * Spawns o->argv (o->file, or argv[0], looked up in PATH when it has no
 * slash) on loop as described at the top, with o->env (NULL: ours) in
 * o->cwd (NULL: ours).  Nothing of o is kept: its strings may go when this
 * returns.  done(arg, result) is called once on the loop when the child is
 * done, unless child_kill() comes first; it is never called from inside
 * child_spawn().  Returns the child, or NULL with err holding the reason
 * alone (e.g. "no such file or directory"), for the caller to put in its
 * own words; then nothing was started and done is never called.
 */
struct child *
child_spawn(uv_loop_t *loop, const struct child_opts *o, child_done_cb done,
    void *arg, struct nx_err *err)
{
	int code;

	return child_start(loop, o, done, arg, err, &code);
}

/* child_spawn(), with *code the libuv error code when it fails. */
static struct child *
child_start(uv_loop_t *loop, const struct child_opts *o, child_done_cb done,
    void *arg, struct nx_err *err, int *code)
{
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	struct child *c;
	uv_file fds[2][2];
	int i, rc;

	c = xcalloc(1, sizeof *c);
	c->done = done;
	c->arg = arg;
	c->flags = o->flags;
	c->npipes = (o->flags & CHILD_MERGE) ? 1 : 2;
	c->timeout_ms = o->timeout_ms;
	c->linger_ms = o->linger_ms;
	c->b[0].cap = o->out_cap;
	c->b[1].cap = o->err_cap;
	c->start_ns = uv_hrtime();
	for (i = 0; i < c->npipes; i++) {
		if ((rc = uv_pipe(fds[i], UV_NONBLOCK_PIPE, 0)) != 0) {
			nx_err_set(err, "cannot make a pipe: %s",
			    uv_strerror(rc));
			*code = rc;
			while (i-- > 0) {
				uv_close((uv_handle_t *)&c->pipe[i],
				    child_on_close);
				close(fds[i][1]);
			}
			if (c->open == 0)
				free(c);
			return NULL;
		}
		uv_pipe_init(loop, &c->pipe[i], 0);
		c->pipe[i].data = c;
		c->open++;
		uv_pipe_open(&c->pipe[i], fds[i][0]);
	}

	memset(&opt, 0, sizeof opt);
	memset(stdio, 0, sizeof stdio);
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = fds[0][1];
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = fds[c->npipes - 1][1];
	opt.file = o->file != NULL ? o->file : o->argv[0];
	opt.args = (char **)o->argv;
	opt.env = (char **)o->env;
	opt.cwd = o->cwd;
	opt.stdio = stdio;
	opt.stdio_count = 3;
	opt.flags = UV_PROCESS_DETACHED;        /* its own group, killed as one */
	opt.exit_cb = child_on_exit;
	c->proc.data = c;
	rc = uv_spawn(loop, &c->proc, &opt);
	for (i = 0; i < c->npipes; i++)
		close(fds[i][1]);
	/* uv_spawn initialises the handle even when it fails. */
	c->open++;
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->open++;
	if (rc != 0) {
		nx_err_set(err, "%s", uv_strerror(rc));
		*code = rc;
		c->finished = true;
		c->done = NULL;
		child_close(c);
		return NULL;
	}
	c->pid = c->proc.pid;
	for (i = 0; i < c->npipes; i++)
		uv_read_start((uv_stream_t *)&c->pipe[i], child_on_alloc,
		    child_on_read);
	if (c->timeout_ms != 0)
		uv_timer_start(&c->timer, child_on_timer, c->timeout_ms, 0);
	return c;
}

/*
 * Withdraws c: its done callback will not be called, and the caller must
 * not use c again.  A child still running has its group killed; c frees
 * itself once the exit is collected, so no zombie is left behind.
 */
void
child_kill(struct child *c)
{
	if (c == NULL || c->finished)
		return;
	c->done = NULL;
	c->killed = true;
	if (c->exited) {
		child_finish(c);
		return;
	}
	child_kill_group(c);
}

/*
 * child_kill() for a loop that is going away (the fleet freed with checks
 * in flight): the handles close now, so that one more loop iteration
 * leaves none open.  The exit of a child still running is then never
 * collected by this process (libuv reaps only open process handles).
 */
void
child_abandon(struct child *c)
{
	if (c == NULL || c->finished)
		return;
	child_kill(c);
	child_finish(c);
}

/* The process id of a running child (its process group too). */
pid_t
child_pid(const struct child *c)
{
	return c->pid;
}

/* ---------------------------------------------------------------------- */
/* Synchronous                                                             */

struct child_wait {
	struct child *c;
	struct child_sync *out;
};

/* The done callback of child_run(): takes the buffers over. */
static void
child_sync_done(void *arg, const struct child_result *res)
{
	struct child_wait *w = arg;
	struct child_sync *out = w->out;
	int i;

	out->res = *res;
	for (i = 0; i < 2; i++) {
		out->buf[i] = w->c->b[i].buf;
		w->c->b[i].buf = NULL;
		out->res.out[i] = out->buf[i] != NULL ? out->buf[i] : "";
	}
}

/*
 * Runs o's program as child_spawn() does, but to its end before it
 * returns: on a loop of its own (created and closed here), so that it
 * can be called from code that is not on a loop, or inside a callback of
 * another loop.  Returns 0 with *out filled (its buffers owned by out:
 * child_sync_free), or -1 with err holding the reason alone and
 * out->spawn_error the libuv error code when it could not be started.
 */
int
child_run(const struct child_opts *o, struct child_sync *out,
    struct nx_err *err)
{
	struct child_wait w;
	uv_loop_t loop;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = uv_loop_init(&loop)) != 0) {
		out->spawn_error = rc;
		nx_err_set(err, "%s", uv_strerror(rc));
		return -1;
	}
	w.out = out;
	w.c = child_start(&loop, o, child_sync_done, &w, err,
	    &out->spawn_error);
	uv_run(&loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&loop);
	return w.c == NULL ? -1 : 0;
}

/* Frees what child_run() left in s. */
void
child_sync_free(struct child_sync *s)
{
	free(s->buf[0]);
	free(s->buf[1]);
	memset(s, 0, sizeof *s);
}
