/*
 * cmd-run.c - `nexusctl run`: a defined action, or one ad-hoc command, on
 * many nodes, output coalesced by identical result (dshbak -c, clush -b).
 *
 *   nexusctl run ACTION -t TARGET [-i NAME=VALUE]... [--yes] [--dry-run]
 *   nexusctl run --list
 *   nexusctl run (-w HOSTLIST | -t TARGET) -- COMMAND
 *
 * Both go through the engine API (api_run, api_run_adhoc: roles checked,
 * audit rows written) and the one job engine (engine/job.c), in a batch
 * engine with the configuration and inventories loaded.  Audit rows go to
 * the state store (--state or the default), also while a running engine
 * holds it (into the same chain); when it cannot be opened the run goes on
 * and says "audit: not recorded".
 *
 * Hosts of -w are pdsh ranges (`127.0.[1-2].[1-250]`); a name the
 * inventory knows gets its address, port and user.  At most -f hosts (an
 * action: its concurrency) are in flight at once; each has -u seconds (an
 * action: its timeout) from the moment it starts, connecting included.  An
 * ad-hoc command may name inventory variables as `{{ var }}`, an action's
 * template $HOSTNAME$, $VAR:name$, $INPUT:name$...: each value goes in
 * shell-quoted, so it reaches the shell as data.
 *
 * --engine sends the run to the engine running on the state store
 * (STATE.sock, engine/ctl.c): its pool, inventory and configuration, the
 * caller's uid; the result prints as a local run's (run_output); 69 when
 * no engine runs there.  The engine describes the request first: a
 * confirmation is asked here by run_confirm(), as in a batch run, and
 * the wait is bounded (the job's bound plus a margin, or --wait): 2 when
 * no answer comes in time or the engine goes away before answering.
 *
 * In `run ACTION`, -i NAME=VALUE (NAME of a-z, 0-9, _) is an input; any
 * other -i is an inventory file (--input and --inventory are never
 * ambiguous).
 *
 * Exit status: 0 when it ran and exited 0 everywhere; 1 when it ran
 * everywhere but exited non-zero (or was killed by a signal) on some host,
 * or the operator answered no; 2 when some host could not run it at all
 * (unreachable, host key, authentication, timeout; --engine: no answer
 * in time, or the engine went away); 64 usage (an action
 * that asks for confirmation without --yes and no terminal); 65 an input
 * or a template value failed validation (nothing ran); 77 refused by the
 * caller's role (audited); 78 configuration.
 */
#include "config.h"

#include <sys/resource.h>

#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "act.h"

#define RUN_DEFAULT_FANOUT 64
#define RUN_DEFAULT_TIMEOUT_S 30
#define RUN_IDENTITY_MAX 16
#define RUN_INPUT_MAX 64
#define RUN_EXIT_NOPERM 77
#define RUN_EXIT_UNAVAILABLE 69         /* --engine: no engine running */
#define RUN_EXIT_NOT_RUN 2              /* some host could not run it */
#define RUN_WAIT_MAX_S 604800           /* --wait: a week */
#define RUN_DESCRIBE_WAIT_MS 30000      /* --engine: the describe request */
#define RUN_WAIT_MARGIN_MS 5000         /* --engine: past the job's bound */
#define RUN_EXIT_INTERRUPTED 130        /* --engine: Ctrl-C twice */

enum run_format { RUN_TEXT, RUN_JSON };
static const char *const run_formats[] = { "text", "json", NULL };

enum {
	OPT_IDENTITY = CLI_OPT__CMD,
	OPT_KNOWN_HOSTS,
	OPT_ACCEPT_NEW,
	OPT_NO_AGENT,
	OPT_INPUT,
	OPT_YES,
	OPT_DRY_RUN,
	OPT_LIST,
	OPT_ENGINE,
	OPT_WAIT,
};

/* What the batch waits for: the job reaching its final state. */
struct run_wait {
	uv_loop_t *loop;
	bool done;
};

static void
run_job_done(struct engine *e, struct job *j, void *arg)
{
	struct run_wait *w = arg;

	(void)e;
	(void)j;
	w->done = true;
	uv_stop(w->loop);
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
run_put_block(const char *s, bool tty)
{
	if (s == NULL || *s == '\0')
		return;
	run_put(s, tty);
	if (s[strlen(s) - 1] != '\n')
		putchar('\n');
}

static int
run_int(const json_t *o, const char *key)
{
	return (int)json_integer_value(json_object_get(o, key));
}

static const char *
run_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The coalesced results of res (ctl_run_result()) as dshbak -c prints. */
static void
run_print_text(const json_t *res)
{
	bool tty = isatty(STDOUT_FILENO);
	const char *result, *s;
	json_t *g;
	size_t i;

	json_array_foreach(json_object_get(res, "results"), i, g) {
		result = run_str(g, "result");
		if (result == NULL)
			result = "failed";
		printf("----------------\n");
		run_put(run_str(g, "hosts") != NULL ? run_str(g, "hosts") : "",
		    tty);
		printf(" (%d)", run_int(g, "count"));
		if (strcmp(result, "failed") == 0) {
			s = run_str(g, "fail");
			printf(": FAILED (%s): ", s != NULL ? s : "error");
			s = run_str(g, "error");
			run_put(s != NULL ? s : "", tty);
		} else if (strcmp(result, "cancelled") == 0)
			printf(": cancelled");
		else if (strcmp(result, "dry-run") == 0)
			printf(": dry run, not run");
		else if (run_str(g, "signal") != NULL)
			printf(": killed by signal %s", run_str(g, "signal"));
		else if (run_int(g, "exit") != 0)
			printf(": exit %d", run_int(g, "exit"));
		printf("\n----------------\n");
		if (strcmp(result, "dry-run") == 0) {
			s = run_str(g, "command");
			run_put_block(s != NULL ? s : "(provider action)", tty);
			continue;
		}
		run_put_block(run_str(g, "stdout"), tty);
		s = run_str(g, "stderr");
		if (s != NULL && *s != '\0') {
			printf("-- stderr --\n");
			run_put_block(s, tty);
		}
		if (json_is_true(json_object_get(g, "truncated")))
			printf("-- output truncated --\n");
	}
}

/*
 * Prints a job's result res (ctl_run_result(): from this process's job or
 * from a running engine's) as text or JSON, and the summary line on
 * stderr.  Returns the exit status: 2 when some host could not run it or
 * was cancelled, 1 when some exited non-zero, else 0.
 */
static int
run_output(const json_t *res, enum run_format fmt)
{
	int hosts = run_int(res, "hosts"), status;

	if (fmt == RUN_JSON) {
		json_dumpf(res, stdout, JSON_INDENT(1) | NX_JSON_FLAGS);
		fputc('\n', stdout);
	} else
		run_print_text(res);
	fprintf(stderr, "nexusctl: run: %d host%s in %.1f s: %d ok, %d "
	    "non-zero exit, %d failed", hosts, hosts == 1 ? "" : "s",
	    json_real_value(json_object_get(res, "elapsed_ms")) / 1000.0,
	    run_int(res, "ok"), run_int(res, "nonzero"), run_int(res, "failed"));
	if (run_int(res, "cancelled") > 0)
		fprintf(stderr, ", %d cancelled", run_int(res, "cancelled"));
	fprintf(stderr, "%s\n", json_is_true(json_object_get(res, "dry_run")) ?
	    " (dry run: nothing ran)" : "");
	status = run_int(res, "failed") > 0 || run_int(res, "cancelled") > 0 ?
	    2 : run_int(res, "nonzero") > 0 ? 1 : 0;
	if (fflush(stdout) != 0) {
		perror("nexusctl: run: stdout");
		status = NX_EXIT_SOFTWARE;
	}
	return status;
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

/* Whether s is NAME=VALUE with NAME of a-z, 0-9 and '_' (an input). */
static bool
run_is_input(const char *s)
{
	const char *eq = strchr(s, '=');
	const char *p;

	if (eq == NULL || eq == s)
		return false;
	for (p = s; p < eq; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '_')
			return false;
	}
	return true;
}

/* Adds NAME=VALUE to the inputs object; -1 when malformed or not UTF-8. */
static int
run_add_input(json_t *inputs, const char *s)
{
	const char *eq = strchr(s, '=');
	json_t *v;
	char *name;

	if (!run_is_input(s) || (v = json_string(eq + 1)) == NULL)
		return -1;      /* not NAME=VALUE, or not UTF-8 */
	name = xstrndup(s, (size_t)(eq - s));
	json_object_set_new(inputs, name, v);
	free(name);
	return 0;
}

/* `run --list`: the defined actions. */
static int
run_list(const struct nx_config *cfg, enum run_format fmt)
{
	size_t i, k;

	if (fmt == RUN_JSON) {
		json_t *a = json_array();

		for (i = 0; i < cfg->nactions; i++)
			json_array_append_new(a,
			    action_to_json(&cfg->actions[i]));
		json_dumpf(a, stdout, JSON_INDENT(1) | NX_JSON_FLAGS);
		fputc('\n', stdout);
		json_decref(a);
		return 0;
	}
	if (cfg->nactions == 0) {
		printf("no actions defined (actions.define in "
		    "nexusctl.conf(5))\n");
		return 0;
	}
	printf("%-20s %-8s %-16s %-8s %s\n", "ACTION", "KIND", "TARGET", "ROLE",
	    "INPUTS");
	for (i = 0; i < cfg->nactions; i++) {
		const struct nx_action *a = &cfg->actions[i];

		printf("%-20s %-8s %-16s %-8s", a->name,
		    action_kind_name(a->kind), a->target != NULL ? a->target :
		    "*", role_name(a->role));
		for (k = 0; k < a->ninputs; k++)
			printf("%s%s%s%s", k > 0 ? "," : " ", a->inputs[k].name,
			    a->inputs[k].def != NULL ? "=" : "",
			    a->inputs[k].def != NULL ? a->inputs[k].def : "");
		if (a->ninputs == 0)
			printf(" -");
		printf("%s%s\n", a->confirm || a->dangerous ? "  [confirm]" :
		    "", a->dangerous ? " [dangerous]" : "");
		if (a->description != NULL)
			printf("    %s\n", a->description);
	}
	return 0;
}

/*
 * Asks on the terminal before an action with confirm or dangerous (a
 * dangerous one wants its name typed).  Returns 0 to go on, or the exit
 * status.
 */
static int
run_confirm(const struct cmd_entry *cmd, const struct nx_action *a,
    const char *hosts, size_t n, bool yes)
{
	char line[256];

	if (yes || (!a->confirm && !a->dangerous))
		return 0;
	if (!isatty(STDIN_FILENO))
		return cli_usage_error(cmd, "action %s asks for confirmation: "
		    "give --yes to run it without a terminal", a->name);
	if (a->dangerous)
		fprintf(stderr, "Action %s is DANGEROUS. Run it on %zu node%s "
		    "(%s)?\nType the action's name to run it: ", a->name, n,
		    n == 1 ? "" : "s", hosts);
	else
		fprintf(stderr, "Run %s on %zu node%s (%s)? [y/N] ", a->name, n,
		    n == 1 ? "" : "s", hosts);
	fflush(stderr);
	if (fgets(line, sizeof line, stdin) == NULL)
		line[0] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (a->dangerous ? strcmp(line, a->name) == 0 :
	    (strcmp(line, "y") == 0 || strcmp(line, "yes") == 0))
		return 0;
	fprintf(stderr, "nexusctl: run: not confirmed: nothing ran\n");
	return 1;
}

/*
 * Where audit rows go: the store opened as its writer, or, while another
 * process (a running engine, a console) holds it, the same file through a
 * connection per row (audit_append_path: one chain, the writers take
 * turns).  Neither: rows are not recorded (said once on stderr).
 */
struct run_audit {
	struct store *store;
	char *path;
};

static int
run_audit_sink(void *arg, const struct nx_audit_entry *ent,
    struct nx_err *err)
{
	struct run_audit *au = arg;

	if (au->store != NULL)
		return audit_append(au->store, ent, err);
	return audit_append_path(au->path, ent, err);
}

/* Opens the audit destination; 0, or -1 (said on stderr) when none. */
static int
run_audit_open(const struct cli_common *co, struct run_audit *au)
{
	struct nx_err err = { { 0 } };
	struct store_opts o;
	enum store_fail fail;

	memset(au, 0, sizeof *au);
	if ((au->path = cli_state_path(co)) == NULL) {
		fprintf(stderr, "nexusctl: run: audit: not recorded: no state "
		    "file path\n");
		return -1;
	}
	store_opts_default(&o);
	if ((au->store = store_open_opts(au->path, &o, &fail, &err)) != NULL)
		return 0;
	if (fail == STORE_FAIL_BUSY)
		return 0;       /* held by its writer: rows by connection */
	fprintf(stderr, "nexusctl: run: audit: not recorded: %s\n", err.msg);
	free(au->path);
	au->path = NULL;
	return -1;
}

static void
run_audit_close(struct run_audit *au)
{
	struct nx_err err = { { 0 } };

	if (au->store != NULL && store_close(au->store, &err) != 0)
		fprintf(stderr, "nexusctl: run: audit: %s\n", err.msg);
	free(au->path);
	memset(au, 0, sizeof *au);
}

/* -l and -p over the node's own user and port. */
static void
run_node_override(struct engine *e, uint32_t id, long port, const char *user)
{
	struct node *nd = &e->fleet.nodes[id];

	if (port != 0) {
		nd->port = (uint16_t)port;
		nd->port_set = true;
	}
	if (user != NULL)
		nd->user = strpool_intern(&e->fleet.strings, user);
}

static const struct fleet *run_sort_fleet;

static int
run_name_cmp(const void *a, const void *b)
{
	return strcmp(run_sort_fleet->nodes[*(const uint32_t *)a].name,
	    run_sort_fleet->nodes[*(const uint32_t *)b].name);
}

static int
run_name_find(const void *key, const void *b)
{
	return strcmp(key, run_sort_fleet->nodes[*(const uint32_t *)b].name);
}

/*
 * The nodes of -w names[0..n) into ids: an inventory node by its name
 * (through a sorted index, not a scan per name), else a new node whose
 * address is the name.  Returns how many.
 */
static size_t
run_nodes_for(struct engine *e, char **names, size_t n, long port,
    const char *user, uint32_t *ids)
{
	uint32_t loaded = e->fleet.nnodes, *index, i;
	size_t k;

	index = xcalloc(loaded + 1, sizeof *index);
	for (i = 0; i < loaded; i++)
		index[i] = i;
	run_sort_fleet = &e->fleet;
	qsort(index, loaded, sizeof *index, run_name_cmp);
	for (k = 0; k < n; k++) {
		const uint32_t *hit = bsearch(names[k], index, loaded,
		    sizeof *index, run_name_find);
		struct node *nd;

		if (hit != NULL) {
			ids[k] = *hit;
			run_node_override(e, ids[k], port, user);
			continue;
		}
		nd = fleet_add_node(&e->fleet, names[k], names[k],
		    &provider_inventory);
		nd->port = (uint16_t)port;
		nd->port_set = port != 0;
		nd->user = user != NULL ? strpool_intern(&e->fleet.strings,
		    user) : NULL;
		ids[k] = nd->id;
	}
	free(index);
	return n;
}

/* What the command line asked for. */
struct run_args {
	const char *target, *hostlist, *user;
	const char *identities[RUN_IDENTITY_MAX];
	struct ssh_opts so;
	enum run_format fmt;
	json_t *inputs;
	long port, fanout, timeout_s, wait_s;
	bool yes, dry_run, list, readonly, fanout_set, timeout_set, engine;
};

/*
 * Handles one option of `run` (after the common ones).  Returns -1 to go
 * on, or the exit status of a usage error.
 */
static int
run_opt(const struct cmd_entry *cmd, struct run_args *a, int opt,
    const char *arg)
{
	int choice, rc;

	switch (opt) {
	case CLI_OPT_FORMAT:
		if ((rc = cli_choice(cmd, "format", arg, run_formats,
		    &choice)) >= 0)
			return rc;
		a->fmt = (enum run_format)choice;
		break;
	case 't':
		a->target = arg;
		break;
	case 'w':
		a->hostlist = arg;
		break;
	case 'f':
		if (cli_parse_long("-f", arg, 1, 100000, &a->fanout) != 0)
			return cli_usage_error(cmd, "-f wants a fan-out from 1 "
			    "to 100000, not '%s'", arg);
		a->fanout_set = true;
		break;
	case 'u':
		if (cli_parse_long("-u", arg, 1, 86400, &a->timeout_s) != 0)
			return cli_usage_error(cmd, "-u wants a timeout in "
			    "seconds from 1 to 86400, not '%s'", arg);
		a->timeout_set = true;
		break;
	case 'l':
		a->user = arg;
		break;
	case 'F':
		a->so.config_file = arg;
		break;
	case 'p':
		if (cli_parse_long("-p", arg, 1, 65535, &a->port) != 0)
			return cli_usage_error(cmd, "-p wants a port from 1 to "
			    "65535, not '%s'", arg);
		break;
	case OPT_IDENTITY:
		if (a->so.nidentities == RUN_IDENTITY_MAX)
			return cli_usage_error(cmd, "more than %d --identity "
			    "options", RUN_IDENTITY_MAX);
		a->identities[a->so.nidentities++] = arg;
		break;
	case OPT_KNOWN_HOSTS:
		a->so.known_hosts = arg;
		break;
	case OPT_ACCEPT_NEW:
		a->so.accept_new = true;
		break;
	case OPT_NO_AGENT:
		a->so.no_agent = true;
		break;
	case OPT_INPUT:
		if (run_add_input(a->inputs, arg) != 0)
			return cli_usage_error(cmd, "--input wants NAME=VALUE "
			    "(UTF-8), not '%s'", arg);
		break;
	case OPT_YES:
		a->yes = true;
		break;
	case OPT_DRY_RUN:
		a->dry_run = true;
		break;
	case OPT_LIST:
		a->list = true;
		break;
	case OPT_ENGINE:
		a->engine = true;
		break;
	case OPT_WAIT:
		if (cli_parse_long("--wait", arg, 1, RUN_WAIT_MAX_S,
		    &a->wait_s) != 0)
			return cli_usage_error(cmd, "--wait wants seconds from "
			    "1 to %d, not '%s'", RUN_WAIT_MAX_S, arg);
		break;
	case CLI_OPT_READONLY:
		a->readonly = true;
		break;
	default:
		break;
	}
	return -1;
}

/*
 * Parses the command line into a: options, then for `run ACTION` the
 * action's name (*action) and the options after it, with -i NAME=VALUE
 * taken as inputs; else the command (*command, a new string).  Returns
 * -1 to go on, or the exit status.
 */
static int
run_parse(const struct cmd_entry *cmd, struct cli_common *co,
    struct run_args *a, int argc, char **argv, const char **action,
    char **command)
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
		{ "input", required_argument, NULL, OPT_INPUT },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "engine", no_argument, NULL, OPT_ENGINE },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "readonly", no_argument, NULL, CLI_OPT_READONLY },
		{ NULL, 0, NULL, 0 },
	};
	const char *shortopts = "+" CLI_COMMON_SHORTOPTS "t:w:f:u:l:p:F:";
	int opt, rc, status = 0;
	size_t i;

	while ((opt = cli_next_opt(cmd, co, argc, argv, shortopts, longopts,
	    &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if ((rc = run_opt(cmd, a, opt, optarg)) >= 0)
			return rc;
	}
	if (a->list)
		return -1;
	/* `run ACTION -t ...`: the action is the first operand, no `--`. */
	if (optind < argc && strcmp(argv[optind - 1], "--") != 0 &&
	    a->hostlist == NULL) {
		*action = argv[optind++];
		while ((opt = cli_next_opt(cmd, co, argc, argv, shortopts,
		    longopts, &status)) != -1) {
			if (opt == CLI_OPT_EXIT)
				return status;
			if (opt == 'w' || opt == OPT_LIST)
				return cli_usage_error(cmd, "-w and --list do "
				    "not go with an action");
			if ((rc = run_opt(cmd, a, opt, optarg)) >= 0)
				return rc;
		}
		if (optind < argc)
			return cli_usage_error(cmd, "unexpected '%s' after the "
			    "action (inputs are -i NAME=VALUE)", argv[optind]);
		/* -i NAME=VALUE is an input, not an inventory file. */
		for (i = 0; i < co->ninventories; ) {
			if (!run_is_input(co->inventories[i])) {
				i++;
				continue;
			}
			if (run_add_input(a->inputs, co->inventories[i]) != 0)
				return cli_usage_error(cmd, "-i %s: the value is "
				    "not UTF-8", co->inventories[i]);
			memmove(&co->inventories[i], &co->inventories[i + 1],
			    (co->ninventories - i - 1) *
			    sizeof co->inventories[0]);
			co->ninventories--;
		}
		if (a->target == NULL)
			return cli_usage_error(cmd, "run %s: give the nodes "
			    "with -t TARGET", *action);
		if (a->fanout_set || a->timeout_set)
			return cli_usage_error(cmd, "run %s: -f and -u are for "
			    "commands; an action has its own concurrency and "
			    "timeout", *action);
		return -1;
	}
	if ((a->target == NULL) == (a->hostlist == NULL))
		return cli_usage_error(cmd, "give one of -w HOSTLIST or -t "
		    "TARGET");
	if (optind >= argc)
		return cli_usage_error(cmd, "no command (nexusctl run -w HOSTS "
		    "-- COMMAND)");
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		char *next;

		xasprintf(&next, "%s%s%s", *command ? *command : "",
		    *command ? " " : "", argv[i]);
		free(*command);
		*command = next;
	}
	return -1;
}

/* Ctrl-C while the engine runs the job (run_engine_call with a job). */
static volatile sig_atomic_t run_interrupts;

static void
run_on_sigint(int sig)
{
	static const char msg[] = "\nnexusctl: run: cancelling the job in "
	    "the engine (Ctrl-C again: stop waiting for it)\n";

	(void)sig;
	if (run_interrupts++ == 0)
		(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}

/*
 * One exchange with the engine at path (ctl_call, at most wait_ms);
 * what is one of "describe the request" or "run the job", for the
 * messages.  With job, Ctrl-C (unless SIGINT is ignored, as in a
 * background job of a shell) asks the engine to cancel the job and
 * waits for its answer; a second Ctrl-C leaves.  Returns -1 with *resp
 * its answer when there is one, else the exit status, said on stderr: 69
 * no engine, 2 no answer in time or the engine went away (the job's
 * outcome is in `nexusctl jobs`), 130 interrupted twice, 70 anything
 * else.
 */
static int
run_engine_call(const char *path, const char *state, const json_t *req,
    uint32_t wait_ms, const char *bound, bool job, json_t **resp)
{
	struct nx_err err = { { 0 } };
	struct sigaction sa, old;
	enum ctl_fail fail;
	bool handled = false;
	int rc;

	if (job && sigaction(SIGINT, NULL, &old) == 0 &&
	    old.sa_handler != SIG_IGN) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = run_on_sigint;  /* no SA_RESTART */
		sigemptyset(&sa.sa_mask);
		run_interrupts = 0;
		handled = sigaction(SIGINT, &sa, NULL) == 0;
	}
	rc = ctl_call(path, req, wait_ms, handled ? &run_interrupts : NULL,
	    resp, &fail, &err);
	if (handled)
		(void)sigaction(SIGINT, &old, NULL);
	if (rc == 0)
		return -1;
	switch (fail) {
	case CTL_FAIL_NONE_RUNNING:
		fprintf(stderr, "nexusctl: run: --engine: no engine is running "
		    "on %s (start `nexusctl engine --state %s`, or run without "
		    "--engine)\n", state, state);
		return RUN_EXIT_UNAVAILABLE;
	case CTL_FAIL_TIMEOUT:
		fprintf(stderr, "nexusctl: run: --engine: no answer from the "
		    "engine on %s in %.1f s (%s): it is stalled or the job "
		    "outlived its bound; gave up: a job it took runs on "
		    "(nexusctl jobs)\n", path, wait_ms / 1000.0, bound);
		return RUN_EXIT_NOT_RUN;
	case CTL_FAIL_EOF:
		fprintf(stderr, "nexusctl: run: --engine: the engine on %s "
		    "closed the connection before answering (it stopped or "
		    "died): the job's outcome is unknown here (nexusctl jobs, "
		    "nexusctl audit list)\n", path);
		return RUN_EXIT_NOT_RUN;
	case CTL_FAIL_INTERRUPTED:
		fprintf(stderr, "nexusctl: run: --engine: interrupted again: "
		    "not waiting for the cancelled job to end (nexusctl "
		    "jobs)\n");
		return RUN_EXIT_INTERRUPTED;
	default:
		fprintf(stderr, "nexusctl: run: --engine: %s\n", err.msg);
		return NX_EXIT_SOFTWARE;
	}
}

/* An {"error","exit"} answer: said on stderr; its exit status. */
static int
run_engine_error(const json_t *resp)
{
	const char *msg = json_string_value(json_object_get(resp, "error"));

	fprintf(stderr, "nexusctl: run: %s\n", msg != NULL ? msg :
	    "the engine's answer has neither result nor error");
	return json_is_integer(json_object_get(resp, "exit")) ?
	    (int)json_integer_value(json_object_get(resp, "exit")) :
	    NX_EXIT_SOFTWARE;
}

/*
 * `run --engine`: the request goes to the engine running on the state
 * store (STATE.sock, engine/ctl.c), which runs it with its own pool,
 * inventory and configuration, as the caller's uid; its result is
 * printed as a local run's.  First the engine describes the request
 * (op describe: the action, its nodes, the job's bound in time): an
 * action asking for confirmation is confirmed here, on this terminal, by
 * run_confirm() as a batch run does (no terminal and no --yes: 64), and
 * the wait for the job is bounded by the job's own bound (per-host
 * timeout times the waves of its concurrency) plus a margin, or --wait.
 * Returns the exit status (69: no engine; 2: no answer in time, or the
 * engine went away).
 */
static int
run_engine(const struct cmd_entry *cmd, const struct cli_common *co,
    const struct run_args *a, const char *action, const char *command)
{
	json_t *req, *dreq, *resp = NULL, *res, *d;
	char *state, *path, bound[160];
	uint64_t bound_ms, wait_ms;
	int status;

	if (a->user != NULL || a->port != 0 || a->so.nidentities > 0 ||
	    a->so.config_file != NULL || a->so.known_hosts != NULL ||
	    a->so.accept_new || a->so.no_agent || co->ninventories > 0 ||
	    a->list)
		return cli_usage_error(cmd, "--engine: the engine's inventory, "
		    "actions and SSH settings apply (no -l, -p, -F, -i FILE, "
		    "--identity, --known-hosts, --accept-new, --no-agent, "
		    "--list)");
	if ((state = cli_state_path(co)) == NULL) {
		fprintf(stderr, "nexusctl: run: --engine: no state file path "
		    "(--state FILE)\n");
		return NX_EXIT_USAGE;
	}
	req = json_object();
	if (action != NULL) {
		json_object_set_new(req, "op", json_string("run"));
		json_object_set_new(req, "action", json_string(action));
		json_object_set_new(req, "target", json_string(a->target));
		json_object_set(req, "inputs", a->inputs);
		json_object_set_new(req, "dry_run", json_boolean(a->dry_run));
		json_object_set_new(req, "confirmed", json_boolean(a->yes));
	} else {
		json_object_set_new(req, "op", json_string("adhoc"));
		json_object_set_new(req, "command", json_string(command));
		json_object_set_new(req, a->target != NULL ? "target" : "hosts",
		    json_string(a->target != NULL ? a->target : a->hostlist));
		if (a->fanout_set)
			json_object_set_new(req, "fanout",
			    json_integer(a->fanout));
		if (a->timeout_set)
			json_object_set_new(req, "timeout_ms",
			    json_integer(a->timeout_s * 1000));
	}
	if (a->readonly)
		json_object_set_new(req, "readonly", json_true());
	path = ctl_socket_path(state);

	/* What it would do: the nodes, the confirmation, the bound. */
	dreq = json_deep_copy(req);
	json_object_set_new(dreq, "op", json_string("describe"));
	wait_ms = a->wait_s != 0 ? (uint64_t)a->wait_s * 1000 :
	    RUN_DESCRIBE_WAIT_MS;
	snprintf(bound, sizeof bound, "%s, to describe the request",
	    a->wait_s != 0 ? "--wait" : "the bound");
	status = run_engine_call(path, state, dreq, (uint32_t)wait_ms, bound,
	    false, &resp);
	json_decref(dreq);
	if (status >= 0)
		goto out;
	if ((d = json_object_get(resp, "describe")) == NULL) {
		status = run_engine_error(resp);
		goto out;
	}
	if (action != NULL && !a->dry_run && !a->yes &&
	    json_is_true(json_object_get(d, "confirm"))) {
		struct nx_action act;
		const char *hl = json_string_value(json_object_get(d,
		    "hostlist"));

		memset(&act, 0, sizeof act);
		act.name = (char *)action;
		act.confirm = true;
		act.dangerous = json_is_true(json_object_get(d, "dangerous"));
		if ((status = run_confirm(cmd, &act, hl != NULL ? hl : "",
		    (size_t)json_integer_value(json_object_get(d, "hosts")),
		    false)) != 0)
			goto out;
		json_object_set_new(req, "confirmed", json_true());
	}
	bound_ms = (uint64_t)json_integer_value(json_object_get(d,
	    "bound_ms"));
	if (a->wait_s != 0) {
		wait_ms = (uint64_t)a->wait_s * 1000;
		snprintf(bound, sizeof bound, "--wait %ld", a->wait_s);
	} else {
		wait_ms = bound_ms + bound_ms / 10 + RUN_WAIT_MARGIN_MS;
		snprintf(bound, sizeof bound, "the job's bound: %.1f s per "
		    "host x %lld wave%s, plus a margin; --wait SECONDS for "
		    "more", json_integer_value(json_object_get(d,
		    "timeout_ms")) / 1000.0, (long long)json_integer_value(
		    json_object_get(d, "waves")), json_integer_value(
		    json_object_get(d, "waves")) == 1 ? "" : "s");
	}
	if (wait_ms > UINT32_MAX)
		wait_ms = UINT32_MAX;
	json_decref(resp);
	resp = NULL;

	status = run_engine_call(path, state, req, (uint32_t)wait_ms, bound,
	    true, &resp);
	if (status >= 0)
		goto out;
	if ((res = json_object_get(resp, "result")) != NULL)
		status = run_output(res, a->fmt);
	else
		status = run_engine_error(resp);
out:
	json_decref(resp);
	json_decref(req);
	free(path);
	free(state);
	return status;
}

int
cmd_run_exec(int argc, char **argv)
{
	const struct cmd_entry *cmd = cli_cmd_find("run");
	const char *action_name = NULL;
	const struct nx_action *action = NULL;
	struct run_args ra;
	struct cli_common co;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	struct nx_actor actor;
	struct engine e;
	struct run_audit audit = { NULL, NULL };
	struct ssh_pool *pool = NULL;
	struct run_wait wait;
	json_t *res;
	struct job *j;
	bool engine_open = false;
	uv_loop_t loop;
	uint32_t *ids = NULL, jid = 0;
	size_t nids = 0, i;
	char *command = NULL, userbuf[256], *hosts_s = NULL;
	uint64_t t0;
	int rc, status = 0;

	memset(&ra, 0, sizeof ra);
	ra.fanout = RUN_DEFAULT_FANOUT;
	ra.timeout_s = RUN_DEFAULT_TIMEOUT_S;
	ra.inputs = json_object();
	memset(&e, 0, sizeof e);
	cli_common_init(&co, argv);
	if ((rc = run_parse(cmd, &co, &ra, argc, argv, &action_name,
	    &command)) >= 0) {
		free(command);
		json_decref(ra.inputs);
		return rc;
	}
	if (ra.wait_s != 0 && !ra.engine) {
		free(command);
		json_decref(ra.inputs);
		return cli_usage_error(cmd, "--wait goes with --engine");
	}
	if (ra.engine) {
		status = run_engine(cmd, &co, &ra, action_name, command);
		free(command);
		json_decref(ra.inputs);
		return status;
	}
	ra.so.identities = ra.identities;
	ra.so.user = ra.user;
	ra.so.warn = run_warn;
	run_raise_nofile();

	config_defaults(&cfg);
	uv_loop_init(&loop);
	if (ra.list) {
		if ((status = cli_load_config(&co, &cfg)) == 0)
			status = run_list(&cfg, ra.fmt);
		goto out_loop;
	}
	/* The fleet is needed for -t and actions, and for -w when an
	 * inventory is given; the configuration always (roles). */
	if (ra.target != NULL || action_name != NULL || co.ninventories > 0) {
		engine_open = true;
		if ((rc = cli_engine_open(&e, &loop, &co, &cfg)) != 0) {
			status = rc;
			goto out;
		}
	} else {
		if ((status = cli_load_config(&co, &cfg)) != 0)
			goto out_loop;
		engine_open = true;
		engine_init(&e, &loop, &cfg);
	}
	role_resolve(&e.cfg, getuid(), ra.readonly, &actor, userbuf,
	    sizeof userbuf, &err);
	actor.origin = "batch";
	if (action_name != NULL) {
		if ((action = action_find(&e, action_name)) == NULL) {
			fprintf(stderr, "nexusctl: run: no action \"%s\" "
			    "(nexusctl run --list; a command goes after --)\n",
			    action_name);
			status = NX_EXIT_USAGE;
			goto out;
		}
	}
	if (ra.target != NULL) {
		struct nx_target *t = target_parse(ra.target, &err);

		if (t == NULL) {
			status = cli_usage_error(cmd, "-t: %s", err.msg);
			goto out;
		}
		target_select(t, &e.fleet, &ids, &nids);
		target_free(t);
		for (i = 0; i < nids; i++)
			run_node_override(&e, ids[i], ra.port, ra.user);
	} else {
		char **names = NULL;
		size_t n = 0;

		if (hostlist_expand(ra.hostlist, &names, &n, &err) != 0) {
			status = cli_usage_error(cmd, "-w: %s", err.msg);
			goto out;
		}
		ids = xcalloc(n + 1, sizeof *ids);
		nids = run_nodes_for(&e, names, n, ra.port, ra.user, ids);
		range_free(names, n);
	}
	if (nids == 0) {
		fprintf(stderr, "nexusctl: run: no host matches\n");
		status = 2;
		goto out;
	}
	if (action != NULL) {
		const char **names = xcalloc(nids, sizeof *names);

		for (i = 0; i < nids; i++)
			names[i] = e.fleet.nodes[ids[i]].name;
		hosts_s = hostlist_compress(names, nids);
		free(names);
		if (!ra.dry_run && (status = run_confirm(cmd, action, hosts_s,
		    nids, ra.yes)) != 0)
			goto out;
	}

	/* One command per host: close each session once its host is done, so
	 * that open connections stay near -f, not the number of hosts. */
	if (action == NULL || action->kind == NX_ACTION_SSH) {
		uint32_t tmo = action != NULL ? action->timeout_ms :
		    (uint32_t)ra.timeout_s * 1000;
		long fan = action != NULL ? (long)action->concurrency :
		    ra.fanout;

		ra.so.idle_ms = 1;
		ra.so.connect_ms = tmo;
		ra.so.handshake_ms = tmo;
		if (fan < 64)
			ra.so.max_startups = (uint32_t)fan;
		/* Refused host keys are audit rows, as in the engine. */
		ra.so.refused = ssh_audit_refusal;
		ra.so.warn_arg = &e;
		if ((pool = ssh_pool_new(&loop, &ra.so, &err)) == NULL) {
			fprintf(stderr, "nexusctl: run: %s\n", err.msg);
			status = NX_EXIT_SOFTWARE;
			goto out;
		}
		act_set_ssh_pool(&e, pool);
	}
	if (run_audit_open(&co, &audit) == 0)
		act_set_audit(&e, run_audit_sink, &audit);

	wait.loop = &loop;
	wait.done = false;
	uv_update_time(&loop);
	t0 = uv_now(&loop);
	if (action != NULL)
		rc = api_run(&e, &actor, action_name, ids, nids, ra.inputs,
		    ra.dry_run, &jid, &err);
	else {
		act_set_adhoc_limits(&e, (uint32_t)ra.fanout,
		    (uint32_t)ra.timeout_s * 1000);
		rc = api_run_adhoc(&e, &actor, command, ids, nids, &jid, &err);
	}
	if (rc != 0) {
		fprintf(stderr, "nexusctl: run: %s\n", err.msg);
		status = strncmp(err.msg, "refused:", 8) == 0 ?
		    RUN_EXIT_NOPERM : NX_EXIT_DATAERR;
		goto out;
	}
	j = job_find(&e, jid);
	if (j != NULL && !job_final(j)) {
		j->done = run_job_done;
		j->done_arg = &wait;
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	uv_update_time(&loop);
	if (pool != NULL) {
		ssh_pool_close(pool);
		act_set_ssh_pool(&e, NULL);
		pool = NULL;
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	if ((j = job_find(&e, jid)) == NULL) {
		fprintf(stderr, "nexusctl: run: job %u vanished\n", jid);
		status = NX_EXIT_SOFTWARE;
		goto out;
	}
	res = ctl_run_result(&e, j, action != NULL ? action->command :
	    command, (double)(uv_now(&loop) - t0));
	status = run_output(res, ra.fmt);
	json_decref(res);
out:
	if (pool != NULL) {
		ssh_pool_close(pool);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	free(ids);
	free(hosts_s);
	if (engine_open)
		engine_free(&e);
	run_audit_close(&audit);
	uv_run(&loop, UV_RUN_DEFAULT);
out_loop:
	free(command);
	json_decref(ra.inputs);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	config_free(&cfg);
	return status;
}
