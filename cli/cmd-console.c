/*
 * cmd-console.c - `nexusctl` / `nexusctl console`: load the fleet, open the
 * state store (--state, else the default path) and restore from it, start
 * the engine live and hand the terminal to the console until the user
 * quits.  A store named with --state that cannot be used (locked by another
 * engine, foreign, corrupt) is an error (78).  The default store is not
 * used for the built-in demo alone, nor when another nexusctl writes it
 * (see console_wants_store()).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "act.h"
#include "tui/tui.h"

/* Whether every node is synthetic or this machine: the built-in demo. */
static bool
console_demo_only(const struct engine *e)
{
	uint32_t i;

	for (i = 0; i < e->fleet.nnodes; i++) {
		const struct provider *p = e->fleet.nodes[i].provider;

		if (p != &provider_sim && p != &provider_local)
			return false;
	}
	return true;
}

/*
 * Whether the console records to a store.  Always with --state.  With the
 * default path, not for the built-in demo (its synthetic events would only
 * fill the file), and not when another nexusctl already writes it: a
 * second console on the same fleet runs without recording, and says so
 * when it exits, instead of refusing to start.
 */
static bool
console_wants_store(const struct cli_common *co, const struct engine *e,
    bool *busy)
{
	char *path;

	*busy = false;
	if (co->state_path != NULL)
		return true;
	if (console_demo_only(e))
		return false;
	path = cli_state_path(co);
	*busy = store_in_use(path);
	free(path);
	return !*busy;
}

int
cmd_console_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "readonly", no_argument, NULL, CLI_OPT_READONLY },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("console");
	struct tui_opts topts;
	struct cli_common co;
	struct nx_config cfg;
	struct engine e;
	struct store *store = NULL;
	struct nx_err err = { { 0 } };
	bool busy = false;
	uv_loop_t loop;
	int opt, rc, status = 0;

	cli_common_init(&co, argv);
	memset(&topts, 0, sizeof topts);
	while ((opt = cli_next_opt(cmd, &co, argc, argv, CLI_COMMON_SHORTOPTS,
	    longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == CLI_OPT_READONLY)
			topts.readonly = true;
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "nexusctl: the console needs a terminal; for "
		    "scripts use 'nexusctl check' or 'nexusctl watch'\n");
		return NX_EXIT_USAGE;
	}

	memset(&e, 0, sizeof e);
	config_defaults(&cfg);
	uv_loop_init(&loop);
	if ((rc = cli_engine_open(&e, &loop, &co, &cfg)) != 0) {
		status = rc;
		goto out;
	}
	/* The console keeps its state: restore it, then record every event. */
	if (console_wants_store(&co, &e, &busy)) {
		if ((store = cli_store_open(&co, "console", &status)) == NULL)
			goto out;
		store_set_retention(store, &cfg);
		if ((rc = cli_store_restore(store, &e, "console")) != 0) {
			status = rc;
			goto out;
		}
		store_subscribe(store, &e);
		act_set_audit(&e, act_audit_store, store);
	}
	topts.store = store;
	topts.fps = cfg.console.fps;
	topts.theme = cfg.console.theme;
	if (engine_start(&e) != 0) {
		fprintf(stderr, "nexusctl: the engine did not start\n");
		status = NX_EXIT_SOFTWARE;
		goto out;
	}
	status = tui_run(&e, &topts);
	engine_stop(&e);
	if (store != NULL)
		store_snapshot(store);
	if (busy)
		fprintf(stderr, "nexusctl: console: another nexusctl records "
		    "to the default state store, so this console did not (give "
		    "--state FILE to record elsewhere)\n");
out:
	act_set_audit(&e, NULL, NULL);
	if (store_close(store, &err) != 0) {
		fprintf(stderr, "nexusctl: console: %s\n", err.msg);
		if (status == 0)
			status = NX_EXIT_SOFTWARE;
	}
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
	return status;
}
