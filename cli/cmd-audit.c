/*
 * cmd-audit.c - `nexusctl audit verify|head [--state FILE]`: check the
 * audit chain of a state store, or print its head for safekeeping.  Both
 * open the file read-only and never create it.
 *
 * Exit statuses: 0 intact (or head printed); 1 the chain is broken (the
 * first broken row is named); 78 no such state file; 65 a file that is not
 * a nexusctl store, is corrupt or newer; 70 anything else; 64 usage.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	AUDIT_OPT_HEAD = CLI_OPT__CMD,
};

static int
audit_fail_status(enum store_fail fail)
{
	switch (fail) {
	case STORE_FAIL_MISSING:
		return NX_EXIT_CONFIG;
	case STORE_FAIL_FOREIGN:
	case STORE_FAIL_CORRUPT:
	case STORE_FAIL_NEWER:
		return NX_EXIT_DATAERR;
	case STORE_FAIL_NONE:
		return NX_EXIT_USAGE;
	default:
		return NX_EXIT_SOFTWARE;
	}
}

int
cmd_audit_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "head", required_argument, NULL, AUDIT_OPT_HEAD },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("audit");
	struct audit_verify_result r;
	struct nx_err err = { { 0 } };
	struct cli_common co;
	const char *state = NULL, *head = NULL, *sub;
	char *path, hex[2 * AUDIT_HASH_LEN + 1];
	enum store_fail fail;
	uint64_t seq;
	int opt, status = 0;

	cli_common_init(&co, argv);
	while ((opt = cli_next_opt(cmd, &co, argc, argv, CLI_COMMON_SHORTOPTS,
	    longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == AUDIT_OPT_HEAD)
			head = optarg;
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "verify or head?");
	sub = argv[optind++];
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);
	if (strcmp(sub, "verify") != 0 && strcmp(sub, "head") != 0)
		return cli_usage_error(cmd, "unknown subcommand '%s' (verify "
		    "or head)", sub);
	state = co.state_path;
	if (head != NULL && strcmp(sub, "verify") != 0)
		return cli_usage_error(cmd, "--head goes with verify");

	path = state != NULL ? xstrdup(state) : store_default_path();
	if (strcmp(sub, "head") == 0) {
		if (audit_head(path, &seq, hex, &fail, &err) != 0) {
			fprintf(stderr, "nexusctl: audit: %s\n", err.msg);
			status = audit_fail_status(fail);
		} else
			printf("%llu:%s\n", (unsigned long long)seq, hex);
		goto out;
	}
	switch (audit_verify(path, head, &r, &err)) {
	case 0:
		printf("audit chain intact: %llu rows, head %s\n",
		    (unsigned long long)r.rows, r.head_hex);
		break;
	case 1:
		printf("audit chain BROKEN at row %llu (%s): %s\n"
		    "%llu rows intact before it\n",
		    (unsigned long long)r.broken_seq, audit_break_name(r.why),
		    r.detail, (unsigned long long)r.rows);
		status = 1;
		break;
	default:
		fprintf(stderr, "nexusctl: audit: %s\n", err.msg);
		status = audit_fail_status(r.fail);
		break;
	}
out:
	free(path);
	if (fflush(stdout) != 0) {
		perror("nexusctl: audit: stdout");
		status = NX_EXIT_SOFTWARE;
	}
	return status;
}
