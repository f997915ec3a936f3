/*
 * test_ssh.c - the pure parts of ssh-session.c: shell quoting (checked by a
 * real /bin/sh, which must give back every byte) and `{{ var }}` command
 * expansion.  The sessions themselves are tested against a real sshd by
 * tests/integration/ssh.sh.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include "engine.h"

/* Runs `printf %s QUOTED` in /bin/sh and returns what it printed. */
static char *
sh_roundtrip(const char *s)
{
	char *q = ssh_shell_quote(s), *cmd, *out = xcalloc(1, 4096);
	size_t n;
	FILE *p;

	xasprintf(&cmd, "printf %%s %s", q);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, 4095, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	free(cmd);
	free(q);
	return out;
}

static void
test_quote_simple(void **state)
{
	char *q;

	(void)state;
	q = ssh_shell_quote("it's");
	assert_string_equal(q, "'it'\\''s'");
	free(q);
	q = ssh_shell_quote("");
	assert_string_equal(q, "''");
	free(q);
}

static void
test_quote_roundtrip(void **state)
{
	static const char *const cases[] = {
		"plain",
		"$(touch /tmp/nx-test-should-not-exist)",
		"`id` ; rm -rf / & | > < * ? [a] ~ # !",
		"it's \"double\" and 'single' \\ backslash",
		"new\nline\ttab",
		"''''",
		"$HOME ${PATH} $((1+1))",
		"-n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out = sh_roundtrip(cases[i]);

		assert_string_equal(out, cases[i]);
		free(out);
	}
}

static void
test_expand(void **state)
{
	json_t *vars = json_pack("{s:s, s:i, s:b, s:[i], s:f}", "msg",
	    "a'b; $(x)", "port", 8080, "on", 1, "list", 1, "ratio", 0.5);
	struct nx_err err = { { 0 } };
	char *out = NULL;

	(void)state;
	assert_int_equal(ssh_expand_command("echo {{ msg }} {{port}} "
	    "{{  on }} {{ratio}} {{ inventory_hostname }}", "web1", vars, &out,
	    &err), 0);
	assert_string_equal(out, "echo 'a'\\''b; $(x)' '8080' 'true' '0.5' "
	    "'web1'");
	free(out);

	assert_int_equal(ssh_expand_command("no vars at all", "h", NULL,
	    &out, &err), 0);
	assert_string_equal(out, "no vars at all");
	free(out);

	assert_int_equal(ssh_expand_command("echo {{ nope }}", "h", vars,
	    &out, &err), -1);
	assert_non_null(strstr(err.msg, "'nope' is not defined"));
	assert_int_equal(ssh_expand_command("echo {{ list }}", "h", vars,
	    &out, &err), -1);
	assert_non_null(strstr(err.msg, "not a string or number"));
	assert_int_equal(ssh_expand_command("echo {{ msg", "h", vars, &out,
	    &err), -1);
	assert_non_null(strstr(err.msg, "column 6"));
	assert_int_equal(ssh_expand_command("echo {{}}", "h", vars, &out,
	    &err), -1);
	json_decref(vars);
}

static void
test_fail_names(void **state)
{
	(void)state;
	assert_string_equal(ssh_fail_name(SSH_OK), "ok");
	assert_string_equal(ssh_fail_name(SSH_FAIL_HOSTKEY), "hostkey");
	assert_string_equal(ssh_fail_name(SSH_FAIL_TIMEOUT), "timeout");
}

/* A pool with nothing to do opens and closes without leaking. */
static void
test_pool_empty(void **state)
{
	struct ssh_opts o;
	struct nx_err err;
	struct ssh_pool *p;
	uv_loop_t loop;

	(void)state;
	memset(&o, 0, sizeof o);
	o.known_hosts = "/nonexistent/known_hosts";
	o.config_file = "none";
	uv_loop_init(&loop);
	p = ssh_pool_new(&loop, &o, &err);
	assert_non_null(p);
	ssh_pool_close(p);
	o.config_file = "/nonexistent/ssh_config";
	assert_null(ssh_pool_new(&loop, &o, &err));
	assert_non_null(strstr(err.msg, "/nonexistent/ssh_config"));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

struct got {
	int calls;
	enum ssh_fail fail;
	char error[512];
	double ms;
};

static void
got_cb(void *arg, const struct ssh_result *r)
{
	struct got *g = arg;

	g->calls++;
	g->fail = r->fail;
	snprintf(g->error, sizeof g->error, "%s", r->error ? r->error : "");
	g->ms = r->duration_ms;
}

/* A listening TCP socket on 127.0.0.1 (never accepted); its port in *port. */
static int
listener(uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/*
 * Real sockets, no server: a closed port fails with the kernel's reason,
 * and a port that accepts but never speaks times out in the handshake
 * within the exec's own deadline.
 */
static void
test_pool_failures(void **state)
{
	struct ssh_opts o;
	struct nx_err err;
	struct ssh_pool *p;
	struct got refused = { 0 }, silent = { 0 };
	uv_loop_t loop;
	uint16_t closed_port, silent_port;
	int fd_closed, fd_silent;

	(void)state;
	fd_closed = listener(&closed_port);
	close(fd_closed);               /* nothing listens there now */
	fd_silent = listener(&silent_port);
	memset(&o, 0, sizeof o);
	o.known_hosts = "/nonexistent/known_hosts";
	o.config_file = "none";
	o.no_agent = true;
	uv_loop_init(&loop);
	p = ssh_pool_new(&loop, &o, &err);
	assert_non_null(p);
	assert_int_equal(ssh_exec(p, "127.0.0.1", closed_port, "nobody",
	    "true", 5000, got_cb, &refused), 0);
	assert_int_equal(ssh_exec(p, "127.0.0.1", silent_port, "nobody",
	    "true", 300, got_cb, &silent), 0);
	while (refused.calls == 0 || silent.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(refused.calls, 1);
	assert_int_equal(refused.fail, SSH_FAIL_CONNECT);
	assert_non_null(strstr(refused.error, "Connection refused"));
	assert_int_equal(silent.calls, 1);
	assert_int_equal(silent.fail, SSH_FAIL_TIMEOUT);
	assert_non_null(strstr(silent.error, "handshake"));
	assert_true(silent.ms >= 250 && silent.ms < 3000);
	ssh_pool_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	close(fd_silent);
}

/* ssh_config(5): first value wins, IdentityFile accumulates, negation. */
static void
test_ssh_config(void **state)
{
	static const char text[] =
	    "# global\n"
	    "User everyone\n"
	    "Host web* !web9\n"
	    "  HostName 10.0.0.%h\n"
	    "  Port=2200\n"
	    "  IdentityFile /keys/%h_%r\n"
	    "  StrictHostKeyChecking accept-new\n"
	    "Host web1\n"
	    "  Port 2201\n"
	    "  HostName ignored\n"
	    "  IdentityFile \"/keys/second key\"\n"
	    "  IdentitiesOnly yes\n"
	    "  ConnectTimeout 7\n"
	    "  UserKnownHostsFile /kh/one /kh/two\n"
	    "Match host db*\n"
	    "  User matched\n"
	    "Host w?b2\n"
	    "  ConnectTimeout none\n"
	    "Host *\n"
	    "  User late\n"
	    "  Port 22\n"
	    "  StrictHostKeyChecking no\n"
	    "  IdentitiesOnly no\n";
	struct ssh_config *c = ssh_config_parse(text);
	struct ssh_host_config hc;

	(void)state;
	ssh_config_resolve(c, "web1", NULL, 0, "me", &hc);
	assert_string_equal(hc.hostname, "10.0.0.web1");
	assert_int_equal(hc.port, 2200);
	assert_string_equal(hc.user, "everyone");
	assert_int_equal(hc.nidentities, 2);
	assert_string_equal(hc.identities[0], "/keys/10.0.0.web1_everyone");
	assert_string_equal(hc.identities[1], "/keys/second key");
	assert_int_equal(hc.strict, SSH_STRICT_ACCEPT_NEW);
	assert_int_equal(hc.identities_only, 1);
	assert_int_equal(hc.connect_timeout, 7);
	assert_int_equal(hc.nknown_hosts, 2);
	assert_string_equal(hc.known_hosts[1], "/kh/two");
	ssh_host_config_free(&hc);

	/* Negated: web9 gets only the catch-alls. */
	ssh_config_resolve(c, "web9", "given", 0, "me", &hc);
	assert_null(hc.hostname);
	assert_int_equal(hc.port, 22);
	assert_string_equal(hc.user, "everyone");
	assert_int_equal(hc.nidentities, 0);
	assert_int_equal(hc.strict, SSH_STRICT_NO);
	assert_int_equal(hc.identities_only, 0);
	assert_int_equal(hc.connect_timeout, -1);
	ssh_host_config_free(&hc);

	/* `?`, and the name in lower case: w?b2 is for WEB2 (none). */
	ssh_config_resolve(c, "WEB2", NULL, 0, "me", &hc);
	assert_int_equal(hc.connect_timeout, 0);
	assert_int_equal(hc.port, 2200);
	ssh_host_config_free(&hc);

	/* Match blocks never apply. */
	ssh_config_resolve(c, "db1", NULL, 0, "me", &hc);
	assert_string_equal(hc.user, "everyone");
	ssh_host_config_free(&hc);
	ssh_config_free(c);
}

/* Include: globs under ~/.ssh, in place, conditional on the block. */
static void
test_ssh_config_include(void **state)
{
	char dir[] = "/tmp/nx-test-sshcfg.XXXXXX", *path, *text;
	struct ssh_config *c;
	struct ssh_host_config hc;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	xasprintf(&path, "%s/a.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("Port 2001\nHost inc*\n  User incuser\n", f);
	fclose(f);
	free(path);
	xasprintf(&path, "%s/b.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("Port 2002\nUser buser\n", f);
	fclose(f);
	free(path);
	xasprintf(&text, "Host only*\n  Include %s/*.conf\n  HostName "
	    "after-include\nHost *\n  User last\n", dir);
	c = ssh_config_parse(text);
	ssh_config_resolve(c, "only1", NULL, 0, "me", &hc);
	assert_int_equal(hc.port, 2001);        /* a.conf first (sorted) */
	assert_string_equal(hc.user, "buser");  /* a's Host inc* not for only1 */
	assert_string_equal(hc.hostname, "after-include");
	ssh_host_config_free(&hc);
	ssh_config_resolve(c, "inc1", NULL, 0, "me", &hc);
	/* The Include is inside Host only*: nothing of it for inc1. */
	assert_int_equal(hc.port, 0);
	assert_string_equal(hc.user, "last");
	assert_null(hc.hostname);
	ssh_host_config_free(&hc);
	ssh_config_free(c);
	free(text);
	xasprintf(&text, "rm -rf %s", dir);
	assert_int_equal(system(text), 0);
	free(text);
}

/* Parses `{"checks": {"define": [DEF]}}`; returns 0/-1 like checkdefs_parse. */
static int
parse_def(const char *def, struct nx_checkdef **d, size_t *n,
    struct nx_err *err)
{
	char *text;
	json_t *root, *define;
	json_error_t jerr;
	int rc;

	xasprintf(&text, "{\"checks\": {\"define\": [\n%s\n]}}", def);
	root = json_loads(text, 0, &jerr);
	assert_non_null(root);
	define = json_object_get(json_object_get(root, "checks"), "define");
	rc = checkdefs_parse("t.json", text, strlen(text), define, d, n, err);
	json_decref(root);
	free(text);
	return rc;
}

/* checks.define with kind ssh: a string command, args, round trip. */
static void
test_checkdef_ssh(void **state)
{
	struct nx_checkdef *d = NULL, *c;
	struct nx_err err = { { 0 } };
	json_t *j;
	char *dump;
	size_t n = 0;

	(void)state;
	assert_int_equal(parse_def("{\"name\": \"flag\", \"kind\": \"ssh\", "
	    "\"target\": \"@lab\", \"command\": \"test ! -e /tmp/f || "
	    "{ echo CRITICAL - $ARG1$ $$x; exit 2; }\", \"args\": "
	    "[\"$HOSTNAME$\"], \"timeout\": \"5s\", \"thresholds\": "
	    "{\"load1\": {\"warning\": \"4\"}}}", &d, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_ptr_equal(d[0].kind, &check_kind_ssh);
	assert_int_equal(d[0].ncommand, 1);
	assert_string_equal(d[0].command[0], "test ! -e /tmp/f || "
	    "{ echo CRITICAL - $ARG1$ $$x; exit 2; }");
	assert_int_equal(d[0].nargs, 1);
	assert_int_equal(d[0].timeout_ms, 5000);
	/* Printed back in the file's schema: a string, not an array. */
	j = checkdefs_to_json(d, n);
	dump = json_dumps(json_array_get(j, 0), JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(strstr(dump, "\"command\":\"test ! -e /tmp/f"));
	free(dump);
	json_decref(j);
	c = checkdefs_clone(d, n);
	assert_string_equal(c[0].command[0], d[0].command[0]);
	assert_ptr_not_equal(c[0].command[0], d[0].command[0]);
	checkdefs_free(c, n);
	checkdefs_free(d, n);
}

static void
test_checkdef_ssh_errors(void **state)
{
	static const struct {
		const char *def, *want;
	} cases[] = {
		{ "{\"name\": \"a\", \"kind\": \"ssh\", \"target\": \"*\"}",
		  "t.json:2:2: checks.define[0]: ssh check \"a\" has no "
		  "\"command\"" },
		{ "{\"name\": \"a\", \"kind\": \"ssh\", \"target\": \"*\", "
		  "\"command\": [\"/x\"]}",
		  "t.json:2:56: checks.define[0].command: expected a command "
		  "line for the node's shell (a non-empty string), got an array" },
		{ "{\"name\": \"a\", \"kind\": \"ssh\", \"target\": \"*\", "
		  "\"command\": \"\"}",
		  "checks.define[0].command: expected a command line" },
		{ "{\"name\": \"a\", \"kind\": \"ssh\", \"target\": \"*\", "
		  "\"command\": \"echo $USER1$\"}",
		  "checks.define[0].command: unknown macro $USER1$" },
		{ "{\"name\": \"a\", \"kind\": \"ssh\", \"target\": \"*\", "
		  "\"command\": \"echo $ARG2$\", \"args\": [\"x\"]}",
		  "checks.define[0].command: macro $ARG2$ but only 1 argument" },
		{ "{\"name\": \"a\", \"kind\": \"ssh\", \"target\": \"*\", "
		  "\"command\": \"echo $ARG1$\", \"args\": [\"$ARG1$\"]}",
		  "checks.define[0].args: element 0: macro $ARG1$ is not "
		  "allowed here" },
		{ "{\"name\": \"a\", \"kind\": \"ssh\", \"target\": \"*\", "
		  "\"command\": \"true\", \"port\": 22}",
		  "checks.define[0].port: key \"port\" is for kind tcp, not ssh" },
		{ "{\"name\": \"a\", \"kind\": \"tcp\", \"target\": \"*\", "
		  "\"port\": 22, \"args\": []}",
		  "checks.define[0].args: key \"args\" is for kind plugin, ssh, "
		  "not tcp" },
		{ "{\"name\": \"a\", \"kind\": \"sshd\", \"target\": \"*\"}",
		  "unknown check kind \"sshd\" (known: plugin, tcp, ssh)" },
	};
	struct nx_checkdef *d;
	struct nx_err err;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&err, 0, sizeof err);
		d = NULL;
		assert_int_equal(parse_def(cases[i].def, &d, &n, &err), -1);
		if (strstr(err.msg, cases[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i,
			    err.msg, cases[i].want);
		assert_null(d);
	}
}

/* The command line: every macro value shell-quoted, checked by /bin/sh. */
static void
test_check_ssh_command(void **state)
{
	struct nx_checkdef *d = NULL;
	struct nx_err err = { { 0 } };
	struct node nd;
	char *cmd, out[512];
	size_t n, len;
	FILE *p;

	(void)state;
	assert_int_equal(parse_def("{\"name\": \"a\", \"kind\": \"ssh\", "
	    "\"target\": \"*\", \"command\": \"printf '%s|' $HOSTNAME$ "
	    "$HOSTADDRESS$ $ARG1$ $ARG2$ $$\", \"args\": [\"$$(touch "
	    "/tmp/nx-test-should-not-exist); it's\", \"on $HOSTNAME$\"]}",
	    &d, &n, &err), 0);
	memset(&nd, 0, sizeof nd);
	nd.name = "we'b`id`";
	nd.address = "10.0.0.1;true";
	cmd = check_ssh_command(&d[0], &nd, &err);
	assert_non_null(cmd);
	assert_string_equal(cmd, "printf '%s|' 'we'\\''b`id`' "
	    "'10.0.0.1;true' '$(touch /tmp/nx-test-should-not-exist); "
	    "it'\\''s' 'on we'\\''b`id`' $");
	p = popen(cmd, "r");
	assert_non_null(p);
	len = fread(out, 1, sizeof out - 1, p);
	out[len] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_string_equal(out, "we'b`id`|10.0.0.1;true|$(touch "
	    "/tmp/nx-test-should-not-exist); it's|on we'b`id`|$|");
	free(cmd);
	checkdefs_free(d, n);
}

/* Reconnect backoff: 1 s doubling to 60 s, each delay within ±20 %. */
static void
test_backoff(void **state)
{
	static const uint32_t want[] = { 1000, 2000, 4000, 8000, 16000, 32000,
	    60000, 60000, 60000 };
	uint32_t base = 0, d, lo = 0, hi = 0;
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		d = ssh_backoff_next(&base, 0.5);
		assert_int_equal(base, want[i]);
		assert_int_equal(d, want[i]);
	}
	base = 0;
	assert_int_equal(ssh_backoff_next(&base, 0.0), 800);
	base = 16000;
	assert_int_equal(ssh_backoff_next(&base, 0.0), 25600);
	base = 16000;
	assert_true(ssh_backoff_next(&base, 0.999999) >= 38399);
	/* Spread: over r in [0, 1) the delays cover most of 0.8..1.2 s. */
	for (k = 0; k < 100; k++) {
		base = 0;
		d = ssh_backoff_next(&base, k / 100.0);
		assert_true(d >= 800 && d < 1200);
		if (k == 0)
			lo = hi = d;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo == 800 && hi >= 1190);
}

/* ---- the runner's framing (ssh-frame.c), against a real /bin/sh ---- */

struct fr_buf {
	char *p;
	size_t len;
};

static void
fr_emit(void *arg, const char *buf, size_t len)
{
	struct fr_buf *b = arg;

	b->p = xrealloc(b->p, b->len + len + 1);
	memcpy(b->p + b->len, buf, len);
	b->len += len;
	b->p[b->len] = '\0';
}

/* Starts argv with pipes on its stdin, stdout and stderr; SHELL=shell. */
static pid_t
fr_spawn(const char *const *argv, const char *shell, int *in, int *out,
    int *err)
{
	int pi[2], po[2], pe[2];
	pid_t pid;

	assert_int_equal(pipe(pi), 0);
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pi[0], 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(pi[0]); close(pi[1]); close(po[0]); close(po[1]);
		close(pe[0]); close(pe[1]);
		setenv("SHELL", shell, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pi[0]);
	close(po[1]);
	close(pe[1]);
	*in = pi[1];
	*out = po[0];
	*err = pe[0];
	return pid;
}

/* What `SHELL -c cmd </dev/null` writes and exits with: the oracle. */
static void
fr_direct(const char *shell, const char *cmd, struct fr_buf *o,
    struct fr_buf *e, int *status)
{
	const char *argv[] = { shell, "-c", cmd, NULL };
	struct pollfd pf[2];
	char buf[4096];
	int in, out, err, st, open = 2;
	pid_t pid;
	ssize_t n;

	pid = fr_spawn(argv, shell, &in, &out, &err);
	close(in);
	pf[0].fd = out;
	pf[1].fd = err;
	while (open > 0) {
		pf[0].events = pf[1].events = POLLIN;
		assert_true(poll(pf, 2, 10000) > 0);
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			n = read(pf[i].fd, buf, sizeof buf);
			if (n <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open--;
			} else
				fr_emit(i == 0 ? o : e, buf, (size_t)n);
		}
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Sends cmd to the runner shell (pipes in/out/err) in a frame and reads
 * until the frame ends, feeding the parser chunk bytes at a time.
 */
static void
fr_run(int in, int out, int err, const char *cmd, size_t chunk,
    struct fr_buf *o, struct fr_buf *e, int *status)
{
	struct ssh_frame f;
	struct nx_err nerr;
	struct pollfd pf[2];
	char buf[8192];
	char *line = ssh_frame_start(&f, cmd, &nerr);
	size_t off, k;
	ssize_t n;
	int rounds = 0;

	assert_non_null(line);
	assert_int_equal(strlen(f.token), SSH_FRAME_TOKEN_LEN);
	assert_int_equal(write(in, line, strlen(line)), (ssize_t)strlen(line));
	free(line);
	pf[0].fd = out;
	pf[1].fd = err;
	while (!ssh_frame_done(&f)) {
		assert_true(++rounds < 100000);
		pf[0].events = f.out_done ? 0 : POLLIN;
		pf[1].events = f.err_done ? 0 : POLLIN;
		assert_true(poll(pf, 2, 10000) > 0);
		for (int i = 0; i < 2; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(pf[i].fd, buf, sizeof buf);
			assert_true(n > 0);
			for (off = 0; off < (size_t)n; off += k) {
				k = (size_t)n - off < chunk ? (size_t)n - off :
				    chunk;
				/* Nothing follows a frame in these tests. */
				assert_int_equal(ssh_frame_feed(&f, i == 1,
				    buf + off, k, fr_emit, i == 0 ? o : e), k);
			}
		}
	}
	*status = ssh_frame_status(&f);
}

static void
fr_check_shell(const char *shell)
{
	static const char *const cmds[] = {
		"echo hello",
		"printf 'no newline'",
		"printf '\\n'",
		"printf ''",
		"echo out; echo err >&2; exit 3",
		"printf '\\nfake 0\\n'; printf '\\nfake\\n' >&2; echo after",
		"head -c 100000 /dev/zero | tr '\\0' x; echo; echo e >&2",
		"printf 'a\\000b\\n\\n\\n'",
		"cd /; pwd",
		"pwd",
		"cat; echo read-nothing",
		"set -e; false; echo not-reached",
		"trap 'echo trapped' EXIT; echo body",
		"echo a\necho b\n\n",
		"exec echo replaced",
		"exit 0",
		"echo alive",
	};
	const char *argv[] = { "/bin/sh", NULL };
	size_t chunks[] = { 1, 7, 8192 };
	int in, out, err, st, st2;
	size_t i, c;
	pid_t pid;

	for (c = 0; c < NX_ARRAY_LEN(chunks); c++) {
		pid = fr_spawn(argv, shell, &in, &out, &err);
		for (i = 0; i < NX_ARRAY_LEN(cmds); i++) {
			struct fr_buf o = { 0 }, e = { 0 }, o2 = { 0 },
			    e2 = { 0 };

			fr_run(in, out, err, cmds[i], chunks[c], &o, &e, &st);
			fr_direct(shell, cmds[i], &o2, &e2, &st2);
			if (st != st2 || o.len != o2.len || (o.len > 0 &&
			    memcmp(o.p, o2.p, o.len) != 0) ||
			    e.len != e2.len || (e.len > 0 &&
			    memcmp(e.p, e2.p, e.len) != 0))
				fail_msg("%s, chunk %zu: `%s`: %d [%.40s|%.40s] "
				    "!= %d [%.40s|%.40s]", shell, chunks[c],
				    cmds[i], st, o.p ? o.p : "", e.p ? e.p : "",
				    st2, o2.p ? o2.p : "", e2.p ? e2.p : "");
			free(o.p); free(e.p); free(o2.p); free(e2.p);
		}
		close(in);
		close(out);
		close(err);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
	}
}

/* The runner gives back what `sh -c` would: bytes, streams and status. */
static void
test_frame_shell(void **state)
{
	(void)state;
	fr_check_shell("/bin/sh");
	if (access("/bin/bash", X_OK) == 0)
		fr_check_shell("/bin/bash");    /* "$SHELL" -c */
}

/* A syntax error stays in the command's frame; the runner lives on. */
static void
test_frame_syntax(void **state)
{
	const char *argv[] = { "/bin/sh", NULL };
	struct fr_buf o = { 0 }, e = { 0 };
	int in, out, err, st;
	pid_t pid;

	(void)state;
	pid = fr_spawn(argv, "/bin/sh", &in, &out, &err);
	fr_run(in, out, err, "echo 'unbalanced", 4096, &o, &e, &st);
	assert_int_equal(st, 2);
	assert_int_equal(o.len, 0);
	assert_non_null(e.p);
	assert_non_null(strstr(e.p, "Syntax error"));
	free(o.p);
	free(e.p);
	memset(&o, 0, sizeof o);
	memset(&e, 0, sizeof e);
	fr_run(in, out, err, "echo \"$((1+1))\" 'it'\\''s'", 4096, &o, &e, &st);
	assert_int_equal(st, 0);
	assert_string_equal(o.p, "2 it's\n");
	assert_null(e.p);
	free(o.p);
	close(in);
	close(out);
	close(err);
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

/* Feeding by hand: a partial token that is not one is output. */
static void
test_frame_parse(void **state)
{
	struct ssh_frame f;
	struct nx_err err;
	struct fr_buf o = { 0 }, e = { 0 };
	char *line = ssh_frame_start(&f, "x", &err), *in;
	char tok2[SSH_FRAME_TOKEN_LEN + 1];
	size_t n;

	(void)state;
	free(line);
	memcpy(tok2, f.token, sizeof tok2);
	tok2[SSH_FRAME_TOKEN_LEN - 1] ^= 1;     /* one bit off */
	xasprintf(&in, "a\n%s 5\nb\n%.10s\n%s 42\nstray", tok2, f.token,
	    f.token);
	n = ssh_frame_feed(&f, false, in, strlen(in), fr_emit, &o);
	assert_int_equal(n, strlen(in) - strlen("stray"));
	assert_true(f.out_done);
	assert_false(ssh_frame_done(&f));
	xasprintf(&line, "a\n%s 5\nb\n%.10s", tok2, f.token);
	assert_string_equal(o.p, line);
	free(line);
	free(in);
	xasprintf(&in, "\n%s\n", f.token);
	assert_int_equal(ssh_frame_feed(&f, true, in, strlen(in), fr_emit, &e),
	    strlen(in));
	assert_true(ssh_frame_done(&f));
	assert_int_equal(ssh_frame_status(&f), 42);
	assert_null(e.p);
	free(in);
	free(o.p);
	/* Two tokens never repeat. */
	line = ssh_frame_start(&f, "x", &err);
	free(line);
	assert_string_not_equal(f.token, tok2);
}

/*
 * A cancelled exec is called back at once with "cancelled", whether it
 * waits for a session (a silent server) or is one of several on a host;
 * the others are untouched, and cancelling twice finds nothing.
 */
static void
test_pool_cancel(void **state)
{
	struct ssh_opts o;
	struct nx_err err;
	struct ssh_pool *p;
	struct got a = { 0 }, b = { 0 };
	uv_loop_t loop;
	uint16_t port;
	uint64_t t0;
	int fd;

	(void)state;
	fd = listener(&port);
	memset(&o, 0, sizeof o);
	o.known_hosts = "/nonexistent/known_hosts";
	o.config_file = "none";
	o.no_agent = true;
	o.runner = true;
	uv_loop_init(&loop);
	p = ssh_pool_new(&loop, &o, &err);
	assert_non_null(p);
	assert_int_equal(ssh_exec(p, "127.0.0.1", port, "nobody", "true",
	    1500, got_cb, &a), 0);
	assert_int_equal(ssh_exec(p, "127.0.0.1", port, "nobody", "true",
	    1500, got_cb, &b), 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	t0 = uv_now(&loop);
	assert_int_equal(ssh_exec_cancel(p, "127.0.0.1", port, "nobody", &a),
	    0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.fail, SSH_FAIL_CLOSED);
	assert_string_equal(a.error, "cancelled");
	assert_int_equal(b.calls, 0);
	assert_int_equal(ssh_exec_cancel(p, "127.0.0.1", port, "nobody", &a),
	    -1);
	assert_int_equal(ssh_exec_cancel(p, "127.0.0.1", port + 1, "nobody",
	    &b), -1);
	while (b.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.fail, SSH_FAIL_TIMEOUT);
	assert_true(uv_now(&loop) - t0 < 5000);
	ssh_pool_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_simple),
		cmocka_unit_test(test_quote_roundtrip),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_fail_names),
		cmocka_unit_test(test_pool_empty),
		cmocka_unit_test(test_pool_failures),
		cmocka_unit_test(test_ssh_config),
		cmocka_unit_test(test_ssh_config_include),
		cmocka_unit_test(test_checkdef_ssh),
		cmocka_unit_test(test_checkdef_ssh_errors),
		cmocka_unit_test(test_check_ssh_command),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_pool_cancel),
		cmocka_unit_test(test_frame_parse),
		cmocka_unit_test(test_frame_syntax),
		cmocka_unit_test(test_frame_shell),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
