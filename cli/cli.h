/*
 * cli.h - the nexusctl command line: one file per subcommand (cmd-*.c),
 * all listed in cmd_table[] in main.c.
 */
#ifndef NX_CLI_H
#define NX_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "engine.h"

/* How many -i options one command line may give. */
#define CLI_INVENTORY_MAX 64

/* Options every subcommand accepts. */
struct cli_common {
	const char *config_path;        /* -c FILE */
	long demo_nodes;                /* --demo[=N]: -1 when not given */
	long long seed;                 /* --seed N: -1 when not given */
	const char *inventories[CLI_INVENTORY_MAX];     /* -i FILE, in order */
	size_t ninventories;
	const char *state_path;         /* --state FILE, or NULL */
};

struct cmd_entry {
	const char *name;
	const char *usage;              /* after "nexusctl NAME " */
	const char *summary;            /* one line for --help */
	int (*exec)(int argc, char **argv);
};

/*
 * Long options shared by every subcommand; cmds append their own.  The
 * values returned by getopt_long for them are CLI_OPT_*.
 */
enum {
	CLI_OPT_DEMO = 0x100,
	CLI_OPT_SEED,
	CLI_OPT_HELP,
	CLI_OPT_VERSION,
	CLI_OPT_FORMAT,
	CLI_OPT_COUNT,
	CLI_OPT_READONLY,
	CLI_OPT_EXIT,                   /* cli_next_opt(): return *status now */
	CLI_OPT_STATE,
	CLI_OPT__CMD,                   /* first free value for commands */
};

#define CLI_COMMON_LONGOPTS \
	{ "config", required_argument, NULL, 'c' }, \
	{ "demo", optional_argument, NULL, CLI_OPT_DEMO }, \
	{ "seed", required_argument, NULL, CLI_OPT_SEED }, \
	{ "help", no_argument, NULL, CLI_OPT_HELP }, \
	{ "version", no_argument, NULL, CLI_OPT_VERSION }, \
	{ "inventory", required_argument, NULL, 'i' }, \
	{ "state", required_argument, NULL, CLI_OPT_STATE }

#define CLI_COMMON_SHORTOPTS ":c:hi:"

/* main.c */
extern const struct cmd_entry cmd_table[];
const struct cmd_entry *cli_cmd_find(const char *);
void cli_common_init(struct cli_common *, char **argv);
int cli_next_opt(const struct cmd_entry *, struct cli_common *, int argc,
    char **argv, const char *shortopts, const struct option *longopts,
    int *status);
int cli_usage_error(const struct cmd_entry *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_print_help(const struct cmd_entry *, FILE *);
void cli_print_version(void);
int cli_choice(const struct cmd_entry *, const char *what, const char *arg,
    const char *const *names, int *out);
int cli_parse_long(const char *what, const char *s, long min, long max,
    long *out);
int cli_load_config(const struct cli_common *, struct nx_config *);
int cli_engine_open(struct engine *, uv_loop_t *, const struct cli_common *,
    struct nx_config *);
char *cli_state_path(const struct cli_common *);
int cli_store_status(enum store_fail);
struct store *cli_store_open(const struct cli_common *, const char *who,
    int *status);
struct store *cli_store_open_opts(const struct cli_common *,
    const struct store_opts *, const char *who, int *status);
int cli_store_restore(struct store *, struct engine *, const char *who);

/* cmd-*.c */
int cmd_console_exec(int, char **);
int cmd_check_exec(int, char **);
int cmd_watch_exec(int, char **);
int cmd_config_exec(int, char **);
int cmd_audit_exec(int, char **);
int cmd_inventory_exec(int, char **);
int cmd_run_exec(int, char **);
int cmd_engine_exec(int, char **);
int cmd_export_exec(int, char **);
int cmd_rules_exec(int, char **);
int cmd_jobs_exec(int, char **);

#endif /* NX_CLI_H */
