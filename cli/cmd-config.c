/*
 * cmd-config.c - `nexusctl config check`: load the configuration exactly as
 * the console would and report the first error with file:line:column.
 */
#include "config.h"

#include <string.h>

#include "cli.h"

int
cmd_config_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("config");
	struct cli_common co;
	struct nx_config cfg;
	int opt, rc, status = 0;

	cli_common_init(&co, argv);
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if ((rc = cli_common_opt(cmd, &co, opt, optarg, &status)) < 0)
			return status;
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "missing subcommand (check)");
	if (strcmp(argv[optind], "check") != 0)
		return cli_usage_error(cmd, "unknown subcommand '%s' (check)",
		    argv[optind]);
	if (optind + 1 < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind + 1]);

	config_defaults(&cfg);
	if ((rc = cli_load_config(&co, &cfg)) != 0) {
		config_free(&cfg);
		return rc;
	}
	printf("%s: ok\n", cfg.path ? cfg.path : "(built-in defaults)");
	config_free(&cfg);
	return 0;
}
