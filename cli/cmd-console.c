/*
 * cmd-console.c - `nexusctl` / `nexusctl console`: load the fleet, open the
 * state store (--state, else the default path) and restore from it, start
 * the engine live and hand the terminal to the console until the user
 * quits.  A store that cannot be used (locked by another engine, foreign,
 * corrupt) is an error (78): the console does not run without its memory.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tui/tui.h"

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
	uv_loop_t loop;
	int opt, rc, status = 0;

	cli_common_init(&co, argv);
	memset(&topts, 0, sizeof topts);
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if ((rc = cli_common_opt(cmd, &co, opt, optarg, &status)) < 0)
			return status;
		if (rc > 0)
			continue;
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
	if ((store = cli_store_open(&co, "console", &status)) == NULL)
		goto out;
	if ((rc = cli_store_restore(store, &e, "console")) != 0) {
		status = rc;
		goto out;
	}
	store_subscribe(store, &e);
	topts.fps = cfg.console.fps;
	topts.theme = cfg.console.theme;
	if (engine_start(&e) != 0) {
		fprintf(stderr, "nexusctl: the engine did not start\n");
		status = NX_EXIT_SOFTWARE;
		goto out;
	}
	status = tui_run(&e, &topts);
	engine_stop(&e);
	store_snapshot(store);
out:
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
