/*
 * cmd-run.c - `nexusctl run`: one command on many hosts over SSH, output
 * coalesced by identical result (dshbak -c, clush -b).
 *
 * Hosts come from -w HOSTLIST (pdsh ranges, `127.0.[1-2].[1-250]`) or
 * -t TARGET (the inventory).  At most -f hosts are in flight at once; each
 * has -u seconds from the moment it starts, connecting included.  The
 * command may name inventory variables as `{{ var }}`: each value is
 * substituted shell-quoted (ssh_expand_command), so it reaches the remote
 * shell as data.
 *
 * Exit status: 0 when the command ran and exited 0 everywhere; 1 when it
 * ran everywhere but exited non-zero (or was killed by a signal) on some
 * host; 2 when some host could not run it at all (unreachable, host key,
 * authentication, timeout); 64 usage; 78 configuration.
 */
#include "config.h"

#include <sys/resource.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define RUN_DEFAULT_FANOUT 64
#define RUN_DEFAULT_TIMEOUT_S 30
#define RUN_IDENTITY_MAX 16

enum run_format { RUN_TEXT, RUN_JSON };
static const char *const run_formats[] = { "text", "json", NULL };

enum {
	OPT_IDENTITY = CLI_OPT__CMD,
	OPT_KNOWN_HOSTS,
	OPT_ACCEPT_NEW,
	OPT_NO_AGENT,
};

struct run_host {
	char *name;
	char *address;
	uint16_t port;
	char *user;             /* NULL: the default */
	char *command;          /* expanded; NULL when expansion failed */
	/* The result. */
	bool done;
	enum ssh_fail fail;
	char *error;            /* owned; NULL when it ran */
	char *norm_error;       /* error with the address as {host} */
	int status;
	char *signal;
	char *out, *err;
	bool truncated;
	double ms;
};

struct run {
	uv_loop_t *loop;
	struct ssh_pool *pool;
	struct run_host *hosts;
	size_t nhosts, next, inflight, done;
	size_t fanout;
	uint32_t timeout_ms;
	bool filling;
};

static void run_fill(struct run *);

/* Replaces every occurrence of what in s by with; new string. */
static char *
run_replace(const char *s, const char *what, const char *with)
{
	size_t wl = strlen(what), n = 0;
	const char *p;
	char *out, *o;

	if (wl == 0)
		return xstrdup(s);
	for (p = s; (p = strstr(p, what)) != NULL; p += wl)
		n++;
	out = o = xmalloc(strlen(s) + n * strlen(with) + 1);
	while ((p = strstr(s, what)) != NULL) {
		memcpy(o, s, (size_t)(p - s));
		o += p - s;
		memcpy(o, with, strlen(with));
		o += strlen(with);
		s = p + wl;
	}
	strcpy(o, s);
	return out;
}

static void
run_set_error(struct run_host *h, enum ssh_fail fail, const char *error)
{
	h->done = true;
	h->fail = fail;
	h->status = -1;
	h->error = xstrdup(error);
	h->norm_error = run_replace(error, h->address, "{host}");
}

static void
run_exec_cb(void *arg, const struct ssh_result *res)
{
	struct run_host *h = arg;

	h->done = true;
	h->fail = res->fail;
	h->ms = res->duration_ms;
	if (res->fail != SSH_OK) {
		h->status = -1;
		h->error = xstrdup(res->error != NULL ? res->error : "failed");
		h->norm_error = run_replace(h->error, h->address, "{host}");
	} else {
		h->status = res->exit_status;
		h->signal = res->exit_signal ? xstrdup(res->exit_signal) : NULL;
	}
	h->out = xstrndup(res->out, res->out_len);
	h->err = xstrndup(res->err, res->err_len);
	h->truncated = res->out_truncated || res->err_truncated;
}

/* The callback gets the run through this wrapper (a host and its run). */
struct run_ref {
	struct run *run;
	struct run_host *h;
};

static void
run_cb(void *arg, const struct ssh_result *res)
{
	struct run_ref *ref = arg;
	struct run *r = ref->run;

	run_exec_cb(ref->h, res);
	free(ref);
	r->inflight--;
	r->done++;
	run_fill(r);
}

/* Starts hosts until -f are in flight; stops the loop when all are done. */
static void
run_fill(struct run *r)
{
	if (r->filling)
		return;
	r->filling = true;
	while (r->inflight < r->fanout && r->next < r->nhosts) {
		struct run_host *h = &r->hosts[r->next++];
		struct run_ref *ref;

		if (h->done) {          /* failed before it could start */
			r->done++;
			continue;
		}
		ref = xmalloc(sizeof *ref);
		ref->run = r;
		ref->h = h;
		r->inflight++;
		if (ssh_exec(r->pool, h->address, h->port, h->user, h->command,
		    r->timeout_ms, run_cb, ref) != 0) {
			free(ref);
			r->inflight--;
			run_set_error(h, SSH_FAIL_CLOSED, "not started");
			r->done++;
		}
	}
	r->filling = false;
	if (r->done == r->nhosts)
		uv_stop(r->loop);
}

/* Orders hosts by result (failure, error, status, signal, output). */
static int
run_result_cmp(const struct run_host *a, const struct run_host *b)
{
	int c;

	if (a->fail != b->fail)
		return (int)a->fail - (int)b->fail;
	if ((c = strcmp(a->norm_error ? a->norm_error : "",
	    b->norm_error ? b->norm_error : "")) != 0)
		return c;
	if (a->status != b->status)
		return a->status < b->status ? -1 : 1;
	if ((c = strcmp(a->signal ? a->signal : "", b->signal ? b->signal :
	    "")) != 0)
		return c;
	if ((c = strcmp(a->out ? a->out : "", b->out ? b->out : "")) != 0)
		return c;
	return strcmp(a->err ? a->err : "", b->err ? b->err : "");
}

static struct run_host *run_sort_base;

static int
run_index_cmp(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = run_result_cmp(&run_sort_base[a], &run_sort_base[b]);

	if (c != 0)
		return c;
	return a < b ? -1 : a > b;
}

struct run_group {
	size_t first;           /* index into order[] */
	size_t count;
	size_t min_index;       /* smallest host index: groups print in input order */
};

static int
run_group_cmp(const void *pa, const void *pb)
{
	const struct run_group *a = pa, *b = pb;

	return a->min_index < b->min_index ? -1 : a->min_index > b->min_index;
}

/* Writes bytes from a remote host: as they are to a pipe or file, made
 * visible (C0 and DEL as \xNN) to a terminal. */
static void
run_put(const char *s, bool tty)
{
	if (!tty) {
		fputs(s, stdout);
		return;
	}
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static void
run_print_text(struct run *r, size_t *order, struct run_group *g, size_t ng)
{
	bool tty = isatty(STDOUT_FILENO);
	size_t i, k;

	for (i = 0; i < ng; i++) {
		const struct run_host *h = &r->hosts[order[g[i].first]];
		const char **names = xcalloc(g[i].count, sizeof *names);
		char *list;

		for (k = 0; k < g[i].count; k++)
			names[k] = r->hosts[order[g[i].first + k]].name;
		list = hostlist_compress(names, g[i].count);
		free(names);
		printf("----------------\n");
		run_put(list, tty);
		printf(" (%zu)", g[i].count);
		if (h->fail != SSH_OK) {
			printf(": FAILED (%s): ", ssh_fail_name(h->fail));
			run_put(g[i].count > 1 ? h->norm_error : h->error, tty);
		} else if (h->signal != NULL)
			printf(": killed by signal %s", h->signal);
		else if (h->status != 0)
			printf(": exit %d", h->status);
		printf("\n----------------\n");
		free(list);
		if (h->out != NULL && *h->out != '\0') {
			run_put(h->out, tty);
			if (h->out[strlen(h->out) - 1] != '\n')
				putchar('\n');
		}
		if (h->err != NULL && *h->err != '\0') {
			printf("-- stderr --\n");
			run_put(h->err, tty);
			if (h->err[strlen(h->err) - 1] != '\n')
				putchar('\n');
		}
		if (h->truncated)
			printf("-- output truncated --\n");
	}
}

static void
run_print_json(struct run *r, size_t *order, struct run_group *g, size_t ng,
    const char *command, double elapsed_ms, size_t nok, size_t nexit,
    size_t nfail)
{
	json_t *root = json_object(), *groups = json_array();
	size_t i, k;

	json_object_set_new(root, "command", nx_json_text(command));
	json_object_set_new(root, "hosts", json_integer((json_int_t)r->nhosts));
	json_object_set_new(root, "ok", json_integer((json_int_t)nok));
	json_object_set_new(root, "nonzero", json_integer((json_int_t)nexit));
	json_object_set_new(root, "failed", json_integer((json_int_t)nfail));
	json_object_set_new(root, "elapsed_ms", json_real(elapsed_ms));
	for (i = 0; i < ng; i++) {
		const struct run_host *h = &r->hosts[order[g[i].first]];
		const char **names = xcalloc(g[i].count, sizeof *names);
		json_t *o = json_object(), *jn = json_array();
		char *list;

		for (k = 0; k < g[i].count; k++) {
			names[k] = r->hosts[order[g[i].first + k]].name;
			json_array_append_new(jn, nx_json_text(names[k]));
		}
		list = hostlist_compress(names, g[i].count);
		free(names);
		json_object_set_new(o, "hosts", nx_json_text(list));
		free(list);
		json_object_set_new(o, "count", json_integer((json_int_t)g[i].count));
		json_object_set_new(o, "names", jn);
		json_object_set_new(o, "result", json_string(h->fail != SSH_OK ?
		    "failed" : (h->status == 0 && h->signal == NULL) ? "ok" :
		    "nonzero"));
		json_object_set_new(o, "fail", h->fail != SSH_OK ?
		    json_string(ssh_fail_name(h->fail)) : json_null());
		json_object_set_new(o, "error", nx_json_text(g[i].count > 1 ?
		    h->norm_error : h->error));
		json_object_set_new(o, "exit", h->fail == SSH_OK &&
		    h->signal == NULL ? json_integer(h->status) : json_null());
		json_object_set_new(o, "signal", nx_json_text(h->signal));
		json_object_set_new(o, "stdout", nx_json_text(h->out ? h->out : ""));
		json_object_set_new(o, "stderr", nx_json_text(h->err ? h->err : ""));
		json_object_set_new(o, "truncated", json_boolean(h->truncated));
		json_array_append_new(groups, o);
	}
	json_object_set_new(root, "results", groups);
	json_dumpf(root, stdout, JSON_INDENT(1) | NX_JSON_FLAGS);
	fputc('\n', stdout);
	json_decref(root);
}

/* Raises the soft limit of open files to the hard limit (ClusterShell's fd_max). */
static void
run_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
run_warn(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "nexusctl: run: %s\n", msg);
}

static void
run_host_add(struct run *r, size_t *cap, const char *name, const char *address,
    uint16_t port, const char *user)
{
	struct run_host *h;

	if (r->nhosts == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		r->hosts = xreallocarray(r->hosts, *cap, sizeof *r->hosts);
	}
	h = &r->hosts[r->nhosts++];
	memset(h, 0, sizeof *h);
	h->name = xstrdup(name);
	h->address = xstrdup(address);
	h->port = port;
	h->user = user != NULL ? xstrdup(user) : NULL;
}

static void
run_hosts_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nhosts; i++) {
		struct run_host *h = &r->hosts[i];

		free(h->name);
		free(h->address);
		free(h->user);
		free(h->command);
		free(h->error);
		free(h->norm_error);
		free(h->signal);
		free(h->out);
		free(h->err);
	}
	free(r->hosts);
}

int
cmd_run_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "target", required_argument, NULL, 't' },
		{ "hosts", required_argument, NULL, 'w' },
		{ "fanout", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 'u' },
		{ "user", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "identity", required_argument, NULL, OPT_IDENTITY },
		{ "known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS },
		{ "ssh-config", required_argument, NULL, 'F' },
		{ "accept-new", no_argument, NULL, OPT_ACCEPT_NEW },
		{ "no-agent", no_argument, NULL, OPT_NO_AGENT },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("run");
	const char *identities[RUN_IDENTITY_MAX];
	const char *target = NULL, *hostlist = NULL, *user = NULL;
	enum run_format fmt = RUN_TEXT;
	struct ssh_opts so;
	struct cli_common co;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	struct engine e;
	bool engine_open = false;
	struct run r;
	uv_loop_t loop;
	size_t cap = 0, i, *order = NULL, ng = 0, nok = 0, nexit = 0, nfail = 0;
	struct run_group *groups = NULL;
	char *command = NULL;
	long port = 0, fanout = RUN_DEFAULT_FANOUT;
	long timeout_s = RUN_DEFAULT_TIMEOUT_S;
	uint64_t t0;
	int choice, opt, rc, status = 0;

	memset(&so, 0, sizeof so);
	memset(&r, 0, sizeof r);
	memset(&e, 0, sizeof e);
	cli_common_init(&co, argv);
	while ((opt = cli_next_opt(cmd, &co, argc, argv,
	    "+" CLI_COMMON_SHORTOPTS "t:w:f:u:l:p:F:", longopts,
	    &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		switch (opt) {
		case CLI_OPT_FORMAT:
			if ((rc = cli_choice(cmd, "format", optarg,
			    run_formats, &choice)) >= 0)
				return rc;
			fmt = (enum run_format)choice;
			break;
		case 't':
			target = optarg;
			break;
		case 'w':
			hostlist = optarg;
			break;
		case 'f':
			if (cli_parse_long("-f", optarg, 1, 100000, &fanout) != 0)
				return cli_usage_error(cmd, "-f wants a fan-out "
				    "from 1 to 100000, not '%s'", optarg);
			break;
		case 'u':
			if (cli_parse_long("-u", optarg, 1, 86400, &timeout_s) != 0)
				return cli_usage_error(cmd, "-u wants a timeout "
				    "in seconds from 1 to 86400, not '%s'", optarg);
			break;
		case 'l':
			user = optarg;
			break;
		case 'F':
			so.config_file = optarg;
			break;
		case 'p':
			if (cli_parse_long("-p", optarg, 1, 65535, &port) != 0)
				return cli_usage_error(cmd, "-p wants a port "
				    "from 1 to 65535, not '%s'", optarg);
			break;
		case OPT_IDENTITY:
			if (so.nidentities == RUN_IDENTITY_MAX)
				return cli_usage_error(cmd, "more than %d "
				    "--identity options", RUN_IDENTITY_MAX);
			identities[so.nidentities++] = optarg;
			break;
		case OPT_KNOWN_HOSTS:
			so.known_hosts = optarg;
			break;
		case OPT_ACCEPT_NEW:
			so.accept_new = true;
			break;
		case OPT_NO_AGENT:
			so.no_agent = true;
			break;
		default:
			break;
		}
	}
	if ((target == NULL) == (hostlist == NULL))
		return cli_usage_error(cmd, "give one of -w HOSTLIST or "
		    "-t TARGET");
	if (optind >= argc)
		return cli_usage_error(cmd, "no command (nexusctl run -w HOSTS "
		    "-- COMMAND)");
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		char *next;

		xasprintf(&next, "%s%s%s", command ? command : "",
		    command ? " " : "", argv[i]);
		free(command);
		command = next;
	}
	so.identities = identities;
	so.user = user;
	so.warn = run_warn;
	r.fanout = (size_t)fanout;
	r.timeout_ms = (uint32_t)timeout_s * 1000;
	/* One command per host: close each session once its host is done, so
	 * that open connections stay near -f, not the number of hosts. */
	so.idle_ms = 1;
	so.connect_ms = r.timeout_ms;
	so.handshake_ms = r.timeout_ms;
	if (fanout < 64)
		so.max_startups = (uint32_t)fanout;
	run_raise_nofile();

	config_defaults(&cfg);
	uv_loop_init(&loop);
	r.loop = &loop;

	/* The fleet is needed for -t, and for -w when an inventory is given. */
	if (target != NULL || co.ninventories > 0) {
		engine_open = true;
		if ((rc = cli_engine_open(&e, &loop, &co, &cfg)) != 0) {
			status = rc;
			goto out;
		}
	}
	if (target != NULL) {
		struct nx_target *t = target_parse(target, &err);
		uint32_t *ids = NULL;
		size_t n = 0;

		if (t == NULL) {
			status = cli_usage_error(cmd, "-t: %s", err.msg);
			goto out;
		}
		target_select(t, &e.fleet, &ids, &n);
		target_free(t);
		for (i = 0; i < n; i++) {
			const struct node *nd = &e.fleet.nodes[ids[i]];

			run_host_add(&r, &cap, nd->name, nd->address,
			    port ? (uint16_t)port : nd->port,
			    user ? user : nd->user);
			if (nd->provider != &provider_inventory)
				run_set_error(&r.hosts[r.nhosts - 1],
				    SSH_FAIL_CONNECT, "not an SSH node (its "
				    "provider has no SSH transport)");
		}
		free(ids);
	} else {
		char **names = NULL;
		size_t n = 0;

		if (hostlist_expand(hostlist, &names, &n, &err) != 0) {
			status = cli_usage_error(cmd, "-w: %s", err.msg);
			goto out;
		}
		for (i = 0; i < n; i++) {
			const struct node *nd = engine_open ?
			    fleet_find_node(&e.fleet, names[i]) : NULL;

			if (nd != NULL)
				run_host_add(&r, &cap, nd->name, nd->address,
				    port ? (uint16_t)port : nd->port,
				    user ? user : nd->user);
			else
				run_host_add(&r, &cap, names[i], names[i],
				    (uint16_t)port, user);
		}
		range_free(names, n);
	}
	if (r.nhosts == 0) {
		fprintf(stderr, "nexusctl: run: no host matches\n");
		status = 2;
		goto out;
	}
	for (i = 0; i < r.nhosts; i++) {
		struct run_host *h = &r.hosts[i];
		const struct node *nd = engine_open ?
		    fleet_find_node(&e.fleet, h->name) : NULL;

		if (h->done)
			continue;
		if (ssh_expand_command(command, h->name, nd ? nd->vars : NULL,
		    &h->command, &err) != 0) {
			char msg[600];

			snprintf(msg, sizeof msg, "command: %s", err.msg);
			run_set_error(h, SSH_FAIL_CHANNEL, msg);
		}
	}

	if ((r.pool = ssh_pool_new(&loop, &so, &err)) == NULL) {
		fprintf(stderr, "nexusctl: run: %s\n", err.msg);
		status = NX_EXIT_SOFTWARE;
		goto out;
	}
	uv_update_time(&loop);
	t0 = uv_now(&loop);
	run_fill(&r);
	if (r.done < r.nhosts)
		uv_run(&loop, UV_RUN_DEFAULT);
	uv_update_time(&loop);
	ssh_pool_close(r.pool);
	r.pool = NULL;
	uv_run(&loop, UV_RUN_DEFAULT);

	/* Coalesce: sort host indexes by result, then group equal ones. */
	order = xcalloc(r.nhosts, sizeof *order);
	for (i = 0; i < r.nhosts; i++)
		order[i] = i;
	run_sort_base = r.hosts;
	qsort(order, r.nhosts, sizeof *order, run_index_cmp);
	groups = xcalloc(r.nhosts, sizeof *groups);
	for (i = 0; i < r.nhosts; i++) {
		const struct run_host *h = &r.hosts[order[i]];

		if (h->fail != SSH_OK)
			nfail++;
		else if (h->status != 0 || h->signal != NULL)
			nexit++;
		else
			nok++;
		if (ng > 0 && run_result_cmp(h,
		    &r.hosts[order[groups[ng - 1].first]]) == 0) {
			groups[ng - 1].count++;
			if (order[i] < groups[ng - 1].min_index)
				groups[ng - 1].min_index = order[i];
			continue;
		}
		groups[ng].first = i;
		groups[ng].count = 1;
		groups[ng].min_index = order[i];
		ng++;
	}
	qsort(groups, ng, sizeof *groups, run_group_cmp);
	if (fmt == RUN_JSON)
		run_print_json(&r, order, groups, ng, command,
		    (double)(uv_now(&loop) - t0), nok, nexit, nfail);
	else
		run_print_text(&r, order, groups, ng);
	fprintf(stderr, "nexusctl: run: %zu host%s in %.1f s: %zu ok, %zu "
	    "non-zero exit, %zu failed\n", r.nhosts, r.nhosts == 1 ? "" : "s",
	    (double)(uv_now(&loop) - t0) / 1000.0, nok, nexit, nfail);
	status = nfail > 0 ? 2 : nexit > 0 ? 1 : 0;
	if (fflush(stdout) != 0) {
		perror("nexusctl: run: stdout");
		status = NX_EXIT_SOFTWARE;
	}
out:
	if (r.pool != NULL) {
		ssh_pool_close(r.pool);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	free(order);
	free(groups);
	run_hosts_free(&r);
	free(command);
	if (engine_open)
		engine_free(&e);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	config_free(&cfg);
	return status;
}
