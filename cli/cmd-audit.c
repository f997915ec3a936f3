/*
 * cmd-audit.c - `nexusctl audit verify|head [--state FILE]`: check the
 * audit chain of a state store, or print its head for safekeeping.  Both
 * open the file read-only and never create it.
 *
 *	audit head [--format text|json] [--syslog] [--output FILE]
 *	audit verify [--head SEQ:HASH | HASH | JSON-LINE]
 *
 * `head` prints the head; --syslog also sends it to syslog (LOG_AUTH,
 * tag nexusctl-audit), --output appends the line to FILE (atomically,
 * fsynced), so it can be anchored outside the machine.
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
	AUDIT_OPT_SYSLOG,
	AUDIT_OPT_OUTPUT,
};

static const char *const audit_formats[] = { "text", "json", NULL };

/* What `audit head` was asked to do with the head. */
struct audit_head_opts {
	enum audit_head_format fmt;
	bool syslog;
	const char *output;             /* append to this file, or NULL */
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

/*
 * `audit head`: reads the head of the chain in path, prints it in o->fmt,
 * and anchors it (syslog, --output) as asked.  Returns the exit status.
 */
static int
audit_cmd_head(const char *path, const struct audit_head_opts *o)
{
	struct nx_err err = { { 0 } };
	char hex[2 * AUDIT_HASH_LEN + 1], *line;
	enum store_fail fail;
	uint64_t seq;
	int status = 0;

	if (audit_head(path, &seq, hex, &fail, &err) != 0) {
		fprintf(stderr, "nexusctl: audit: %s\n", err.msg);
		return audit_fail_status(fail);
	}
	line = audit_head_line(o->fmt, path, seq, hex, nx_wallclock());
	fputs(line, stdout);
	if (o->output != NULL && audit_head_append(o->output, line,
	    &err) != 0) {
		fprintf(stderr, "nexusctl: audit: --output %s\n", err.msg);
		status = NX_EXIT_CANTCREAT;
	}
	if (o->syslog)
		audit_head_syslog(path, seq, hex);
	free(line);
	return status;
}

int
cmd_audit_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "head", required_argument, NULL, AUDIT_OPT_HEAD },
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "syslog", no_argument, NULL, AUDIT_OPT_SYSLOG },
		{ "output", required_argument, NULL, AUDIT_OPT_OUTPUT },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_head_opts ho = { AUDIT_HEAD_TEXT, false, NULL };
	bool head_opts = false;
	int choice, rc;
	const struct cmd_entry *cmd = cli_cmd_find("audit");
	struct audit_verify_result r;
	struct nx_err err = { { 0 } };
	struct cli_common co;
	const char *state = NULL, *head = NULL, *sub;
	char *path;
	int opt, status = 0;

	cli_common_init(&co, argv);
	while ((opt = cli_next_opt(cmd, &co, argc, argv, CLI_COMMON_SHORTOPTS,
	    longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == AUDIT_OPT_HEAD)
			head = optarg;
		else if (opt == CLI_OPT_FORMAT) {
			if ((rc = cli_choice(cmd, "format", optarg,
			    audit_formats, &choice)) >= 0)
				return rc;
			ho.fmt = (enum audit_head_format)choice;
			head_opts = true;
		} else if (opt == AUDIT_OPT_SYSLOG)
			ho.syslog = head_opts = true;
		else if (opt == AUDIT_OPT_OUTPUT) {
			ho.output = optarg;
			head_opts = true;
		}
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
	if (head_opts && strcmp(sub, "head") != 0)
		return cli_usage_error(cmd, "--format, --syslog and --output go "
		    "with head");

	path = state != NULL ? xstrdup(state) : store_default_path();
	if (strcmp(sub, "head") == 0) {
		status = audit_cmd_head(path, &ho);
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
