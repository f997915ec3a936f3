/*
 * test_child.c - engine/child.c with real /bin/sh children on a real
 * loop: capture of stdout and stderr (apart and merged), the caps and
 * truncation flags, exit status and signal, the environment and working
 * directory, the timeout killing the whole process group (a grandchild
 * too), the linger after the exit, child_kill and child_abandon, a
 * program that does not exist, many children at once; the flags
 * CHILD_KILL_OVER_CAP and CHILD_KILL_AT_END, and child_run() (on a loop
 * of its own).
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"

#define MANY 64

/* What a done callback saw, copied out of the borrowed result. */
struct seen {
	int calls;
	int64_t exit_status;
	int term_signal;
	char signal[16];
	bool timed_out;
	char *out[2];
	size_t len[2];
	uint64_t dropped[2];
	bool truncated[2];
	double ms;
};

struct fx {
	uv_loop_t loop;
	char dir[64];
};

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof *fx);

	assert_int_equal(uv_loop_init(&fx->loop), 0);
	snprintf(fx->dir, sizeof fx->dir, "/tmp/nx-test-child.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char *cmd;

	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	xasprintf(&cmd, "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(fx);
	return 0;
}

static void
seen_free(struct seen *s)
{
	free(s->out[0]);
	free(s->out[1]);
}

static void
on_done(void *arg, const struct child_result *res)
{
	struct seen *s = arg;
	int i;

	s->calls++;
	s->exit_status = res->exit_status;
	s->term_signal = res->term_signal;
	snprintf(s->signal, sizeof s->signal, "%s", res->signal);
	s->timed_out = res->timed_out;
	for (i = 0; i < 2; i++) {
		assert_non_null(res->out[i]);
		assert_int_equal(strlen(res->out[i]), res->len[i]);
		s->out[i] = xstrndup(res->out[i], res->len[i]);
		s->len[i] = res->len[i];
		s->dropped[i] = res->dropped[i];
		s->truncated[i] = res->truncated[i];
	}
	s->ms = res->ms;
}

/* Options with a timeout and both caps, the rest 0. */
static void
opts(struct child_opts *o, uint32_t timeout_ms, size_t cap)
{
	memset(o, 0, sizeof *o);
	o->timeout_ms = timeout_ms;
	o->out_cap = o->err_cap = cap;
}

/* Runs `sh -c script` to the end; s holds what the callback saw. */
static void
run_sh(struct fx *fx, const char *script, struct child_opts *o,
    struct seen *s)
{
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };
	struct nx_err err;
	struct child *c;

	memset(s, 0, sizeof *s);
	o->file = "/bin/sh";
	o->argv = argv;
	c = child_spawn(&fx->loop, o, on_done, s, &err);
	assert_non_null(c);
	assert_true(child_pid(c) > 0);
	assert_int_equal(s->calls, 0);         /* never from inside spawn */
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(s->calls, 1);
}

/* Whether pid runs (a zombie waiting for its reaper does not). */
static bool
alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	if (kill(pid, 0) != 0 && errno != EPERM)
		return false;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] == '\0')
		return true;
	return p[2] != 'Z' && p[2] != 'X';
}

static pid_t
read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = 0;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	return (pid_t)pid;
}

/* Waits (bounded) for a process, not our child, to be gone. */
static bool
gone_within(pid_t pid, int ms)
{
	for (; ms > 0; ms -= 10) {
		if (!alive(pid))
			return true;
		usleep(10000);
	}
	return !alive(pid);
}

static void
test_capture(void **state)
{
	struct fx *fx = *state;
	struct child_opts o;
	struct seen s;

	opts(&o, 5000, 1024);
	run_sh(fx, "printf 'out one\\nout two\\n'; echo err >&2; exit 3", &o,
	    &s);
	assert_string_equal(s.out[CHILD_OUT], "out one\nout two\n");
	assert_string_equal(s.out[CHILD_ERR], "err\n");
	assert_int_equal(s.exit_status, 3);
	assert_int_equal(s.term_signal, 0);
	assert_string_equal(s.signal, "");
	assert_false(s.timed_out);
	assert_false(s.truncated[CHILD_OUT]);
	assert_false(s.truncated[CHILD_ERR]);
	assert_true(s.ms > 0);
	seen_free(&s);

	/* Nothing at all: empty strings, not NULL; status 0. */
	run_sh(fx, "exit 0", &o, &s);
	assert_string_equal(s.out[CHILD_OUT], "");
	assert_string_equal(s.out[CHILD_ERR], "");
	assert_int_equal(s.exit_status, 0);
	seen_free(&s);

	/* Merged: both streams in one, in the order written. */
	o.flags = CHILD_MERGE;
	run_sh(fx, "echo a; echo b >&2; echo c", &o, &s);
	assert_string_equal(s.out[CHILD_OUT], "a\nb\nc\n");
	assert_string_equal(s.out[CHILD_ERR], "");
	seen_free(&s);

	/* stdin is /dev/null: a reader sees EOF at once. */
	o.flags = 0;
	run_sh(fx, "cat; echo done", &o, &s);
	assert_string_equal(s.out[CHILD_OUT], "done\n");
	seen_free(&s);
}

static void
test_caps(void **state)
{
	struct fx *fx = *state;
	struct child_opts o;
	struct seen s;

	opts(&o, 10000, 10000);
	o.err_cap = 100;
	/* 200000 bytes out, 150 err: both over, all of it read. */
	run_sh(fx, "head -c 200000 /dev/zero | tr '\\0' x; "
	    "head -c 150 /dev/zero | tr '\\0' y >&2; exit 7", &o, &s);
	assert_int_equal(s.len[CHILD_OUT], 10000);
	assert_true(s.truncated[CHILD_OUT]);
	assert_int_equal(s.dropped[CHILD_OUT], 190000);
	assert_int_equal(s.len[CHILD_ERR], 100);
	assert_true(s.truncated[CHILD_ERR]);
	assert_int_equal(s.dropped[CHILD_ERR], 50);
	assert_int_equal(strspn(s.out[CHILD_OUT], "x"), 10000);
	assert_int_equal(s.exit_status, 7);     /* it did not block */
	seen_free(&s);

	/* Exactly the cap: kept whole, not truncated. */
	run_sh(fx, "head -c 10000 /dev/zero | tr '\\0' x", &o, &s);
	assert_int_equal(s.len[CHILD_OUT], 10000);
	assert_false(s.truncated[CHILD_OUT]);
	assert_int_equal(s.dropped[CHILD_OUT], 0);
	seen_free(&s);

	/* A cap of 0 keeps nothing and counts all. */
	o.out_cap = 0;
	run_sh(fx, "echo 12345", &o, &s);
	assert_int_equal(s.len[CHILD_OUT], 0);
	assert_true(s.truncated[CHILD_OUT]);
	assert_int_equal(s.dropped[CHILD_OUT], 6);
	seen_free(&s);
}

static void
test_status_signal(void **state)
{
	struct fx *fx = *state;
	struct child_opts o;
	struct seen s;

	opts(&o, 5000, 100);
	run_sh(fx, "exit 255", &o, &s);
	assert_int_equal(s.exit_status, 255);
	seen_free(&s);

	run_sh(fx, "kill -TERM $$", &o, &s);
	assert_int_equal(s.term_signal, SIGTERM);
	assert_string_equal(s.signal, "TERM");
	assert_false(s.timed_out);
	seen_free(&s);

	run_sh(fx, "kill -USR1 $$", &o, &s);
	assert_int_equal(s.term_signal, SIGUSR1);
	{
		char want[16];

		snprintf(want, sizeof want, "%d", SIGUSR1);
		assert_string_equal(s.signal, want);
	}
	seen_free(&s);
}

static void
test_env_cwd(void **state)
{
	struct fx *fx = *state;
	char *env[] = { (char *)"NX_CHILD_A=one two",
	    (char *)"PATH=/usr/bin:/bin", NULL };
	struct child_opts o;
	struct seen s;
	char want[128];

	opts(&o, 5000, 1024);
	o.env = env;
	o.cwd = fx->dir;
	run_sh(fx, "echo \"$NX_CHILD_A|${HOME-unset}\"; pwd", &o, &s);
	snprintf(want, sizeof want, "one two|unset\n%s\n", fx->dir);
	assert_string_equal(s.out[CHILD_OUT], want);
	seen_free(&s);

	/* NULL env: ours. */
	setenv("NX_CHILD_B", "inherited", 1);
	o.env = NULL;
	o.cwd = NULL;
	run_sh(fx, "echo $NX_CHILD_B", &o, &s);
	assert_string_equal(s.out[CHILD_OUT], "inherited\n");
	seen_free(&s);
	unsetenv("NX_CHILD_B");
}

/* The timeout kills the group: sh and a grandchild sleeping both go. */
static void
test_timeout_group(void **state)
{
	struct fx *fx = *state;
	struct child_opts o;
	struct seen s;
	char script[512], path[128];
	pid_t gc, sh;
	uint64_t t0;

	snprintf(path, sizeof path, "%s/gc.pid", fx->dir);
	snprintf(script, sizeof script, "echo started; sleep 30 & "
	    "echo $! > %s; echo $$ > %s.sh; wait", path, path);
	opts(&o, 300, 1024);
	t0 = uv_hrtime();
	run_sh(fx, script, &o, &s);
	assert_true(s.timed_out);
	assert_int_equal(s.term_signal, SIGKILL);
	assert_string_equal(s.signal, "");      /* a timeout, not a signal */
	assert_true((uv_hrtime() - t0) / 1000000 < 5000);
	assert_true(s.ms >= 250);
	gc = read_pid(path);
	snprintf(path + strlen(path), sizeof path - strlen(path), ".sh");
	sh = read_pid(path);
	assert_true(gc > 0 && sh > 0);
	assert_true(gone_within(gc, 2000));     /* the grandchild too */
	assert_false(alive(sh));
	seen_free(&s);

	/* With a linger, a timed-out child's output is read to EOF. */
	o.linger_ms = 1000;
	run_sh(fx, "echo before; sleep 30", &o, &s);
	assert_true(s.timed_out);
	assert_string_equal(s.out[CHILD_OUT], "before\n");
	seen_free(&s);
}

/*
 * A background process that keeps the output open after the exit: with a
 * linger the child is done that long after the exit, with the exit status
 * and without killing it; with CHILD_KILL_LINGERING and no linger it is
 * done at the timeout and the process is killed.
 */
static void
test_linger(void **state)
{
	struct fx *fx = *state;
	struct child_opts o;
	struct seen s;
	char script[512], path[128];
	pid_t bg;
	uint64_t t0;
	double ms;

	snprintf(path, sizeof path, "%s/bg.pid", fx->dir);
	snprintf(script, sizeof script, "echo hi; (trap '' HUP; exec sleep 3) & "
	    "echo $! > %s; exit 4", path);
	opts(&o, 10000, 1024);
	o.linger_ms = 200;
	t0 = uv_hrtime();
	run_sh(fx, script, &o, &s);
	ms = (double)(uv_hrtime() - t0) / 1e6;
	assert_false(s.timed_out);
	assert_int_equal(s.exit_status, 4);
	assert_string_equal(s.out[CHILD_OUT], "hi\n");
	assert_true(ms >= 150 && ms < 2500);
	bg = read_pid(path);
	assert_true(alive(bg));         /* left running */
	kill(bg, SIGKILL);
	seen_free(&s);

	o.timeout_ms = 400;
	o.linger_ms = 0;
	o.flags = CHILD_KILL_LINGERING;
	t0 = uv_hrtime();
	run_sh(fx, script, &o, &s);
	ms = (double)(uv_hrtime() - t0) / 1e6;
	assert_false(s.timed_out);      /* it exited in time */
	assert_int_equal(s.exit_status, 4);
	assert_true(ms >= 350 && ms < 2500);
	bg = read_pid(path);
	assert_true(gone_within(bg, 2000));
	seen_free(&s);
}

/* child_kill: the group goes, the callback never comes. */
static void
test_kill(void **state)
{
	struct fx *fx = *state;
	char script[512], path[128];
	char *argv[] = { (char *)"sh", (char *)"-c", script, NULL };
	struct child_opts o;
	struct nx_err err;
	struct child *c;
	struct seen s;
	pid_t gc;
	int i;

	snprintf(path, sizeof path, "%s/k.pid", fx->dir);
	snprintf(script, sizeof script, "sleep 30 & echo $! > %s; wait", path);
	opts(&o, 20000, 64);
	memset(&s, 0, sizeof s);
	o.file = "/bin/sh";
	o.argv = argv;
	c = child_spawn(&fx->loop, &o, on_done, &s, &err);
	assert_non_null(c);
	for (i = 0; i < 200 && access(path, R_OK) != 0; i++)
		uv_run(&fx->loop, UV_RUN_NOWAIT), usleep(10000);
	usleep(50000);                  /* the pid is written */
	gc = read_pid(path);
	child_kill(c);
	uv_run(&fx->loop, UV_RUN_DEFAULT);      /* returns: nothing left */
	assert_int_equal(s.calls, 0);
	assert_true(gone_within(gc, 2000));
}

/* child_abandon: the group goes, the handles close in one iteration. */
static void
test_abandon(void **state)
{
	struct fx *fx = *state;
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)"sleep 30", NULL };
	struct child_opts o;
	struct nx_err err;
	struct child *c;
	struct seen s;
	pid_t pid;
	int st;

	opts(&o, 20000, 64);
	memset(&s, 0, sizeof s);
	o.file = "/bin/sh";
	o.argv = argv;
	c = child_spawn(&fx->loop, &o, on_done, &s, &err);
	assert_non_null(c);
	pid = child_pid(c);
	child_abandon(c);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	assert_int_equal(s.calls, 0);
	/* Not collected by the loop: ours to reap, killed. */
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(uv_loop_init(&fx->loop), 0);   /* for teardown */
}

static void
test_spawn_failure(void **state)
{
	struct fx *fx = *state;
	char *argv[] = { (char *)"/nonexistent/nx-no-such-program", NULL };
	char *argv2[] = { (char *)"nx-no-such-program-in-path", NULL };
	struct child_opts o;
	struct nx_err err;
	struct seen s;

	opts(&o, 1000, 64);
	memset(&s, 0, sizeof s);
	o.argv = argv;
	err.msg[0] = '\0';
	assert_null(child_spawn(&fx->loop, &o, on_done, &s, &err));
	assert_non_null(strstr(err.msg, "no such file"));
	o.argv = argv2;
	err.msg[0] = '\0';
	assert_null(child_spawn(&fx->loop, &o, on_done, &s, &err));
	assert_true(err.msg[0] != '\0');
	/* A bad working directory fails the same way. */
	{
		char *sh[] = { (char *)"/bin/sh", (char *)"-c", (char *)"true",
		    NULL };

		o.argv = sh;
		o.cwd = "/nonexistent/dir";
		assert_null(child_spawn(&fx->loop, &o, on_done, &s, &err));
	}
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(s.calls, 0);
}

static void
test_many(void **state)
{
	struct fx *fx = *state;
	static struct seen s[MANY];
	char scripts[MANY][64];
	struct child_opts o;
	struct nx_err err;
	int i;

	memset(s, 0, sizeof s);
	opts(&o, 20000, 256);
	o.file = "/bin/sh";
	for (i = 0; i < MANY; i++) {
		char *argv[] = { (char *)"sh", (char *)"-c", scripts[i], NULL };

		snprintf(scripts[i], sizeof scripts[i], "sleep 0.2; echo %d; "
		    "echo e%d >&2; exit %d", i, i, i % 50);
		o.argv = argv;
		assert_non_null(child_spawn(&fx->loop, &o, on_done, &s[i],
		    &err));
	}
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	for (i = 0; i < MANY; i++) {
		char want[16];

		assert_int_equal(s[i].calls, 1);
		snprintf(want, sizeof want, "%d\n", i);
		assert_string_equal(s[i].out[CHILD_OUT], want);
		snprintf(want, sizeof want, "e%d\n", i);
		assert_string_equal(s[i].out[CHILD_ERR], want);
		assert_int_equal(s[i].exit_status, i % 50);
		seen_free(&s[i]);
	}
}

/* CHILD_KILL_OVER_CAP: stdout past the cap kills the group at once. */
static void
test_over_cap(void **state)
{
	struct fx *fx = *state;
	struct child_opts o;
	struct child_sync cs;
	struct nx_err err = { { 0 } };
	char *script, *pidf;
	char *argv[] = { (char *)"sh", (char *)"-c", NULL, NULL };
	pid_t bg;

	xasprintf(&pidf, "%s/bg.pid", fx->dir);
	/* a background sleep in the group, then endless output */
	xasprintf(&script, "sleep 30 & echo $! > '%s'; exec yes", pidf);
	argv[2] = script;
	opts(&o, 20000, 100000);
	o.file = "/bin/sh";
	o.argv = argv;
	o.flags = CHILD_KILL_OVER_CAP;
	assert_int_equal(child_run(&o, &cs, &err), 0);
	assert_true(cs.res.over_cap);
	assert_false(cs.res.timed_out);
	assert_int_equal(cs.res.len[CHILD_OUT], 100000);
	assert_true(cs.res.truncated[CHILD_OUT]);
	assert_int_equal(cs.res.term_signal, SIGKILL);
	assert_true(cs.res.ms < 15000);
	bg = read_pid(pidf);
	assert_true(gone_within(bg, 2000));
	child_sync_free(&cs);
	free(script);
	free(pidf);
}

/* CHILD_KILL_AT_END: a process left behind (output closed) is killed. */
static void
test_kill_at_end(void **state)
{
	struct fx *fx = *state;
	struct child_opts o;
	struct child_sync cs;
	struct nx_err err = { { 0 } };
	char *script, *pidf;
	char *argv[] = { (char *)"sh", (char *)"-c", NULL, NULL };
	pid_t bg;
	int flags;

	xasprintf(&pidf, "%s/left.pid", fx->dir);
	xasprintf(&script, "sleep 30 >/dev/null 2>&1 & echo $! > '%s'; "
	    "echo done", pidf);
	argv[2] = script;
	for (flags = 0; flags <= CHILD_KILL_AT_END; flags += CHILD_KILL_AT_END) {
		opts(&o, 10000, 1024);
		o.file = "/bin/sh";
		o.argv = argv;
		o.flags = flags;
		assert_int_equal(child_run(&o, &cs, &err), 0);
		assert_string_equal(cs.res.out[CHILD_OUT], "done\n");
		assert_int_equal(cs.res.exit_status, 0);
		assert_false(cs.res.output_open);
		bg = read_pid(pidf);
		if (flags == 0) {
			/* without the flag it is left alone */
			assert_true(alive(bg));
			(void)kill(bg, SIGKILL);
		} else
			assert_true(gone_within(bg, 2000));
		child_sync_free(&cs);
	}
	free(script);
	free(pidf);
}

/* child_run(): synchronous, a program that does not exist, output held
 * open past the exit (output_open at the timeout). */
static void
test_run_sync(void **state)
{
	struct child_opts o;
	struct child_sync cs;
	struct nx_err err = { { 0 } };
	char *argv[] = { (char *)"sh", (char *)"-c", NULL, NULL };
	char *nope[] = { (char *)"/nonexistent/prog", NULL };

	(void)state;
	argv[2] = (char *)"echo out; echo err >&2; exit 5";
	opts(&o, 10000, 1024);
	o.file = "/bin/sh";
	o.argv = argv;
	assert_int_equal(child_run(&o, &cs, &err), 0);
	assert_string_equal(cs.res.out[CHILD_OUT], "out\n");
	assert_string_equal(cs.res.out[CHILD_ERR], "err\n");
	assert_int_equal(cs.res.exit_status, 5);
	child_sync_free(&cs);

	opts(&o, 10000, 1024);
	o.argv = nope;
	assert_int_equal(child_run(&o, &cs, &err), -1);
	assert_int_equal(cs.spawn_error, UV_ENOENT);
	assert_non_null(strstr(err.msg, "no such file"));
	child_sync_free(&cs);

	/* exits at once, a background process holds stdout: done at the
	 * timeout with output_open, the holder killed (KILL_LINGERING) */
	argv[2] = (char *)"(sleep 30; echo late) & echo early";
	opts(&o, 700, 1024);
	o.file = "/bin/sh";
	o.argv = argv;
	o.flags = CHILD_KILL_LINGERING;
	assert_int_equal(child_run(&o, &cs, &err), 0);
	assert_true(cs.res.output_open);
	assert_false(cs.res.timed_out);
	assert_int_equal(cs.res.exit_status, 0);
	assert_string_equal(cs.res.out[CHILD_OUT], "early\n");
	assert_true(cs.res.ms >= 600 && cs.res.ms < 8000);
	child_sync_free(&cs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_signal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_env_cwd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_group, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_linger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spawn_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_over_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_at_end, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_run_sync, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
