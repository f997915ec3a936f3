/*
 * main.c - nexusctl's entry point: finds the subcommand in cmd_table[] and
 * hands it argv.  With no subcommand (or only options) it opens the console.
 *
 * Exit statuses: 0 success; for `check` the worst state (0-3); 64 a usage
 * error (unknown option or command); 78 a configuration error; 70 an
 * internal failure.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const struct cmd_entry cmd_table[] = {
	{
		.name = "console",
		.usage = "[--demo[=N]] [--seed N] [-c CONFIG] [--state FILE] [--readonly]",
		.summary = "open the full-screen console (the default)",
		.exec = cmd_console_exec,
	},
	{
		.name = "check",
		.usage = "[--demo[=N]] [--seed N] [-c CONFIG] [--format text|json|nagios] [--state FILE]",
		.summary = "run one round of every check; exit status is the worst state",
		.exec = cmd_check_exec,
	},
	{
		.name = "watch",
		.usage = "[--demo[=N]] [--seed N] [-c CONFIG] [--format json] [--count N] [--state FILE]",
		.summary = "stream events as JSON lines",
		.exec = cmd_watch_exec,
	},
	{
		.name = "engine",
		.usage = "[--demo[=N]] [--seed N] [-c CONFIG] [-i FILE]... [--state FILE] [--snapshot-events N] [--snapshot-interval DURATION]",
		.summary = "run the engine headless with the state store, until SIGTERM",
		.exec = cmd_engine_exec,
	},
	{
		.name = "export",
		.usage = "[--format json|csv|prometheus] [--state FILE] [--demo[=N]] [-c CONFIG]",
		.summary = "print current state from a state store, or from one round",
		.exec = cmd_export_exec,
	},
	{
		.name = "config",
		.usage = "check|show [-c CONFIG] [--demo[=N]] [--seed N] [--format text|json]",
		.summary = "validate the configuration file",
		.exec = cmd_config_exec,
	},
	{
		.name = "audit",
		.usage = "verify|head|list [--state FILE] [--head SEQ:HASH|HASH|JSON] [--format text|json] [--syslog] [--output FILE]",
		.summary = "verify the audit hash chain of the state store, print its head, or list its rows",
		.exec = cmd_audit_exec,
	},
	{
		.name = "inventory",
		.usage = "list [--format json|text] [-t TARGET] [-i FILE]... | show HOST [--format json|text]",
		.summary = "print the resolved inventory (groups, hosts, vars)",
		.exec = cmd_inventory_exec,
	},
	{
		.name = "run",
		.usage = "ACTION -t TARGET [-i NAME=VALUE]... [--yes] [--dry-run] [--readonly] [--engine [--wait SECONDS]] [--format text|json] | --list | (-w HOSTLIST | -t TARGET) [-f N] [-u SECONDS] [-l USER] [-p PORT] [-F SSH_CONFIG] [--identity FILE]... [--known-hosts FILE] [--accept-new] [--engine [--wait SECONDS]] [--format text|json] -- COMMAND",
		.summary = "run a defined action, or a command, on many hosts; output coalesced; audited",
		.exec = cmd_run_exec,
	},
	{
		.name = "rules",
		.usage = "[show] [--state FILE] [-c CONFIG] [--format text|json] | reset RULE NODE | enable RULE | disable RULE",
		.summary = "remediation rules and their state in the running engine (jobs, tokens, breakers, refusals)",
		.exec = cmd_rules_exec,
	},
	{
		.name = "jobs",
		.usage = "[--state FILE] [--format text|json] [--limit N] [JOB]",
		.summary = "job history from the state store; JOB: all events of one job",
		.exec = cmd_jobs_exec,
	},
	{ .name = NULL },
};

const struct cmd_entry *
cli_cmd_find(const char *name)
{
	const struct cmd_entry *cmd;

	for (cmd = cmd_table; cmd->name != NULL; cmd++) {
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	}
	return NULL;
}

void
cli_print_version(void)
{
	printf("nexusctl %s\n", PACKAGE_VERSION);
}

void
cli_print_help(const struct cmd_entry *cmd, FILE *fp)
{
	fprintf(fp, "usage: nexusctl %s %s\n\n%s.\n\n", cmd->name, cmd->usage,
	    cmd->summary);
	fputs("Common options:\n"
	    "  -c, --config FILE   configuration (default $XDG_CONFIG_HOME/nexusctl/config.json)\n"
	    "  -i, --inventory FILE\n"
	    "                      an inventory file (Ansible INI or JSON), repeatable;\n"
	    "                      turns the demo fleet off unless --demo is given\n"
	    "      --demo[=N]      simulated demo fleet of N nodes (default 5000)\n"
	    "      --seed N        seed of the simulated fleet\n"
	    "      --state FILE    the state store (default\n"
	    "                      $XDG_STATE_HOME/nexusctl/state.db)\n"
	    "  -h, --help          this help\n"
	    "      --version       print the version\n", fp);
}

static void
main_help(FILE *fp)
{
	const struct cmd_entry *cmd;

	fputs("usage: nexusctl [COMMAND] [OPTIONS]\n\n"
	    "A terminal operations console with an embedded monitoring engine.\n"
	    "With no command, opens the console on the configured fleet (or the\n"
	    "built-in demo fleet).\n\nCommands:\n", fp);
	for (cmd = cmd_table; cmd->name != NULL; cmd++)
		fprintf(fp, "  %-10s %s\n", cmd->name, cmd->summary);
	fputs("\nRun 'nexusctl COMMAND --help' for a command's options.\n"
	    "See nexusctl(1) and nexusctl.conf(5).\n", fp);
}

/* Prints "nexusctl: CMD: message" and returns the usage exit status. */
int
cli_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nexusctl: %s%s", cmd ? cmd->name : "",
	    cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'nexusctl %s%s--help')\n", cmd ? cmd->name : "",
	    cmd ? " " : "");
	return NX_EXIT_USAGE;
}

/*
 * Looks arg up in names (NULL-terminated) and stores its index in *out:
 * commands keep their enums in the order of their names.  Returns -1 when
 * found, else prints "unknown WHAT 'arg' (a, b or c)" and returns the usage
 * exit status.
 */
int
cli_choice(const struct cmd_entry *cmd, const char *what, const char *arg,
    const char *const *names, int *out)
{
	char list[256] = "";
	size_t len = 0;
	int i;

	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(arg, names[i]) == 0) {
			*out = i;
			return -1;
		}
	}
	for (i = 0; names[i] != NULL && len < sizeof list; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
		    i == 0 ? "" : names[i + 1] == NULL ? " or " : ", ",
		    names[i]);
	return cli_usage_error(cmd, "unknown %s '%s' (%s)", what, arg, list);
}

/* Parses a whole decimal number in [min, max]; -1 if s is anything else. */
int
cli_parse_long(const char *what, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	(void)what;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The argv being parsed, for error messages about long options. */
static char **cli_argv;

void
cli_common_init(struct cli_common *co, char **argv)
{
	cli_argv = argv;
	opterr = 0;
	optind = 1;
	memset(co, 0, sizeof *co);
	co->demo_nodes = -1;
	co->seed = -1;
}

/*
 * Handles one option shared by every command.  Returns 1 if it was one (and
 * the caller continues), 0 if it is not a common option, and -1 when the
 * command must exit now with *exit_status (help, version, bad value).
 */
static int
cli_common_opt(const struct cmd_entry *cmd, struct cli_common *co, int opt,
    const char *arg, int *exit_status)
{
	const char *argv_last_option = cli_argv != NULL && optind > 0 ?
	    cli_argv[optind - 1] : "?";
	long v;

	switch (opt) {
	case 'c':
		co->config_path = arg;
		return 1;
	case 'i':
		if (co->ninventories == CLI_INVENTORY_MAX) {
			*exit_status = cli_usage_error(cmd,
			    "more than %d -i options", CLI_INVENTORY_MAX);
			return -1;
		}
		co->inventories[co->ninventories++] = arg;
		return 1;
	case CLI_OPT_STATE:
		co->state_path = arg;
		return 1;
	case CLI_OPT_DEMO:
		if (arg == NULL) {
			co->demo_nodes = 5000;
			return 1;
		}
		if (cli_parse_long("--demo", arg, 0, 10000000, &v) != 0) {
			*exit_status = cli_usage_error(cmd,
			    "--demo wants a node count from 0 to 10000000, not '%s'",
			    arg);
			return -1;
		}
		co->demo_nodes = v;
		return 1;
	case CLI_OPT_SEED:
		if (cli_parse_long("--seed", arg, 0, LONG_MAX, &v) != 0) {
			*exit_status = cli_usage_error(cmd,
			    "--seed wants a non-negative integer, not '%s'", arg);
			return -1;
		}
		co->seed = v;
		return 1;
	case 'h':
	case CLI_OPT_HELP:
		cli_print_help(cmd, stdout);
		*exit_status = 0;
		return -1;
	case CLI_OPT_VERSION:
		cli_print_version();
		*exit_status = 0;
		return -1;
	case '?':
	case ':':
		/* getopt_long runs with opterr = 0: say it in one line here. */
		if (optopt != 0 && optopt < 0x100)
			*exit_status = cli_usage_error(cmd, "%s option '-%c'",
			    opt == ':' ? "missing value for" : "unknown",
			    optopt);
		else
			*exit_status = cli_usage_error(cmd,
			    "unknown option or missing value: '%s'",
			    argv_last_option);
		return -1;
	default:
		return 0;
	}
}

/* The engine's warnings go to standard error, one line each. */
static void
cli_warn(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "nexusctl: warning: %s\n", msg);
}

/*
 * The option loop every command shares: the next option from getopt_long,
 * with the common ones handled here.  Returns an option for the command to
 * handle, -1 when the options are over (optind is at the first operand), or
 * CLI_OPT_EXIT when the command must return *status now (help, version, a
 * usage error).
 */
int
cli_next_opt(const struct cmd_entry *cmd, struct cli_common *co, int argc,
    char **argv, const char *shortopts, const struct option *longopts,
    int *status)
{
	int opt, rc;

	while ((opt = getopt_long(argc, argv, shortopts, longopts,
	    NULL)) != -1) {
		if ((rc = cli_common_opt(cmd, co, opt, optarg, status)) < 0)
			return CLI_OPT_EXIT;
		if (rc == 0)
			return opt;
	}
	return -1;
}

/*
 * Loads the configuration named by -c, else the default file if it exists,
 * else the built-in defaults; then applies -i, --demo and --seed over it.
 * Inventory files given with -i come after the configuration's, and turn
 * the demo fleet (simulated nodes and this machine) off unless --demo is
 * also given.  Prints the error and returns NX_EXIT_CONFIG on failure.
 */
int
cli_load_config(const struct cli_common *co, struct nx_config *cfg)
{
	struct nx_err err = { { 0 } };
	int rc;

	if (co->config_path != NULL)
		rc = config_load(cfg, co->config_path, &err);
	else
		rc = config_load_default(cfg, &err);
	if (rc != 0) {
		fprintf(stderr, "nexusctl: %s\n", err.msg);
		return NX_EXIT_CONFIG;
	}
	cfg->warn = cli_warn;
	if (co->ninventories > 0) {
		size_t i;

		cfg->inventories = xreallocarray(cfg->inventories,
		    cfg->ninventories + co->ninventories,
		    sizeof *cfg->inventories);
		for (i = 0; i < co->ninventories; i++)
			cfg->inventories[cfg->ninventories++] =
			    xstrdup(co->inventories[i]);
		if (co->demo_nodes < 0) {
			cfg->demo.enabled = false;
			cfg->demo.local = false;
		}
	}
	if (co->demo_nodes >= 0) {
		cfg->demo.enabled = true;
		cfg->demo.nodes = (uint32_t)co->demo_nodes;
	}
	if (co->seed >= 0)
		cfg->demo.seed = (uint64_t)co->seed;
	return 0;
}

/*
 * Loads configuration and fleet into e on loop.  On failure prints why and
 * returns the exit status; cfg must be freed by the caller either way.
 */
int
cli_engine_open(struct engine *e, uv_loop_t *loop, const struct cli_common *co,
    struct nx_config *cfg)
{
	struct nx_err err = { { 0 } };
	int rc;

	if ((rc = cli_load_config(co, cfg)) != 0)
		return rc;
	engine_init(e, loop, cfg);
	if (engine_load(e, &err) != 0) {
		fprintf(stderr, "nexusctl: %s\n", err.msg);
		return NX_EXIT_CONFIG;
	}
	return 0;
}

/* --state, else the default store path.  The caller frees it. */
char *
cli_state_path(const struct cli_common *co)
{
	return co->state_path != NULL ? xstrdup(co->state_path) :
	    store_default_path();
}

/*
 * The exit status for a store that could not be used: 78 (a
 * configuration error, as the file named is not usable) for every reason
 * but an internal one.
 */
int
cli_store_status(enum store_fail fail)
{
	return fail == STORE_FAIL_NONE ? NX_EXIT_SOFTWARE : NX_EXIT_CONFIG;
}

/*
 * Opens the state store for writing (--state, else the default path).  On
 * failure prints "nexusctl: WHO: why" and returns NULL with *status 78; a
 * refused file (foreign, corrupt, locked) is left untouched.
 */
struct store *
cli_store_open(const struct cli_common *co, const char *who, int *status)
{
	struct store_opts o;

	store_opts_default(&o);
	return cli_store_open_opts(co, &o, who, status);
}

/* cli_store_open with tunables (`engine --snapshot-*`). */
struct store *
cli_store_open_opts(const struct cli_common *co, const struct store_opts *op,
    const char *who, int *status)
{
	struct nx_err err = { { 0 } };
	struct store_opts o = *op;
	enum store_fail fail;
	struct store *s;
	char *path = cli_state_path(co);

	if ((s = store_open_opts(path, &o, &fail, &err)) == NULL) {
		fprintf(stderr, "nexusctl: %s: %s\n", who, err.msg);
		*status = cli_store_status(fail);
	}
	free(path);
	return s;
}

/*
 * Restores e from s (snapshot + tail) and says what it restored on
 * standard error.  Returns 0, or the exit status after printing why.
 */
int
cli_store_restore(struct store *s, struct engine *e, const char *who)
{
	struct nx_err err = { { 0 } };
	struct snap_restore_stats st;
	struct snap_proj p;
	uint64_t t0 = uv_hrtime(), digest;

	if (store_restore(s, e, &st, &err) != 0) {
		fprintf(stderr, "nexusctl: %s: %s\n", who, err.msg);
		return NX_EXIT_CONFIG;
	}
	if (st.last_seq == 0)
		return 0;
	/* What the engine now holds, for comparison with `export`. */
	snap_proj_init(&p);
	snap_proj_from_engine(&p, e, st.last_seq);
	digest = snap_proj_digest(&p);
	snap_proj_free(&p);
	fprintf(stderr, "nexusctl %s: restored %u checks, %u nodes, %u "
	    "downtimes from %s up to seq %llu (snapshot at seq %llu + %llu "
	    "events) in %.0f ms; %u unknown ignored; digest %016llx\n", who,
	    st.checks, st.nodes, st.downtimes, store_path(s),
	    (unsigned long long)st.last_seq, (unsigned long long)st.snap_seq,
	    (unsigned long long)st.tail, (double)(uv_hrtime() - t0) / 1e6,
	    st.unknown, (unsigned long long)digest);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct cmd_entry *cmd;
	const char *name = argc > 1 ? argv[1] : NULL;

	if (name != NULL && strcmp(name, "--help") == 0) {
		main_help(stdout);
		return 0;
	}
	if (name != NULL && strcmp(name, "--version") == 0) {
		cli_print_version();
		return 0;
	}
	if (name == NULL || name[0] == '-')
		return cmd_console_exec(argc, argv);
	if ((cmd = cli_cmd_find(name)) != NULL)
		return cmd->exec(argc - 1, argv + 1);
	fprintf(stderr, "nexusctl: unknown command '%s' (see 'nexusctl --help')\n",
	    name);
	return NX_EXIT_USAGE;
}
