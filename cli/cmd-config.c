/*
 * cmd-config.c - `nexusctl config check|show`.
 *
 *   config check [-c FILE]   load the configuration exactly as the console
 *                            would; print "FILE: ok" or the first error
 *                            (file:line:column) and exit 78.
 *   config show [-c FILE] [--format text|json]
 *                            print the effective configuration (file over
 *                            built-in defaults, --demo/--seed over both);
 *                            the JSON form is itself a valid config file.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum config_format { CONFIG_FMT_TEXT, CONFIG_FMT_JSON };
static const char *const config_formats[] = { "text", "json", NULL };

/* Says where the configuration came from, for `check` and `show`. */
static void
config_print_source(const struct nx_config *cfg, FILE *fp, const char *prefix)
{
	char *def;

	if (cfg->path != NULL) {
		fprintf(fp, "%s%s", prefix, cfg->path);
		return;
	}
	def = config_default_path();
	if (def != NULL)
		fprintf(fp, "%sno configuration file at %s; built-in defaults",
		    prefix, def);
	else
		fprintf(fp, "%sno home directory; built-in defaults", prefix);
	free(def);
}

/* One "section.key = value  # help" line per key, in schema order. */
static void
config_show_text(const struct nx_config *cfg)
{
	json_t *root = config_to_json(cfg), *sec, *v;
	const char *section, *key;

	config_print_source(cfg, stdout, "# ");
	fputc('\n', stdout);
	json_object_foreach(root, section, sec) {
		json_object_foreach(sec, key, v) {
			const char *help = config_key_help(section, key);
			char *val = json_dumps(v, JSON_ENCODE_ANY);
			char name[64];

			snprintf(name, sizeof name, "%s.%s", section, key);
			if (json_is_string(v) && val != NULL)
				printf("%-22s = %-10s", name, json_string_value(v));
			else
				printf("%-22s = %-10s", name, val ? val : "?");
			printf("  # %s\n", help != NULL ? help : "");
			free(val);
		}
	}
	json_decref(root);
}

static void
config_show_json(const struct nx_config *cfg)
{
	json_t *root = config_to_json(cfg);

	json_dumpf(root, stdout, JSON_INDENT(2) | NX_JSON_FLAGS);
	fputc('\n', stdout);
	json_decref(root);
}

int
cmd_config_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("config");
	enum config_format fmt = CONFIG_FMT_TEXT;
	bool format_given = false, show;
	struct cli_common co;
	struct nx_config cfg;
	int choice, opt, rc, status = 0;

	cli_common_init(&co, argv);
	while ((opt = cli_next_opt(cmd, &co, argc, argv, CLI_COMMON_SHORTOPTS,
	    longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == CLI_OPT_FORMAT) {
			format_given = true;
			if ((rc = cli_choice(cmd, "format", optarg,
			    config_formats, &choice)) >= 0)
				return rc;
			fmt = (enum config_format)choice;
		}
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "missing subcommand (check or show)");
	if (strcmp(argv[optind], "check") == 0)
		show = false;
	else if (strcmp(argv[optind], "show") == 0)
		show = true;
	else
		return cli_usage_error(cmd,
		    "unknown subcommand '%s' (check or show)", argv[optind]);
	if (optind + 1 < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind + 1]);
	if (!show && format_given)
		return cli_usage_error(cmd, "--format goes with 'show'");

	config_defaults(&cfg);
	if ((rc = cli_load_config(&co, &cfg)) != 0) {
		config_free(&cfg);
		return rc;
	}
	if (!show) {
		config_print_source(&cfg, stdout, "");
		fputs(": ok\n", stdout);
	} else if (fmt == CONFIG_FMT_JSON)
		config_show_json(&cfg);
	else
		config_show_text(&cfg);
	config_free(&cfg);
	if (fflush(stdout) != 0) {
		perror("nexusctl: config: stdout");
		return NX_EXIT_SOFTWARE;
	}
	return 0;
}
