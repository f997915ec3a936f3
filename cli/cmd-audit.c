/*
 * cmd-audit.c - `nexusctl audit verify|head [--state FILE]`: check the
 * audit chain of a state store, or print its head for safekeeping.  Both
 * open the file read-only and never create it.
 *
 *	audit head [--format text|json] [--syslog] [--output FILE]
 *	audit verify [--head SEQ:HASH | HASH | JSON-LINE]
 *	audit list [--format text|json]
 *
 * `head` prints the head; --syslog also sends it to syslog (LOG_AUTH,
 * tag nexusctl-audit), --output appends the line to FILE (atomically,
 * fsynced), so it can be anchored outside the machine.
 *
 * `list` prints every row (seq, time, who, role, action, target, args,
 * result), oldest first; it does not verify the chain (verify does).
 *
 * Exit statuses: 0 intact (or head printed, or rows listed); 1 the chain
 * is broken (the first broken row is named); 78 no such state file; 65 a
 * file that is not a nexusctl store, is corrupt or newer; 73 the --output
 * file cannot be written; 70 anything else; 64 usage.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

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

/* `audit list`: every row of the chain in path, oldest first. */
static int
audit_cmd_list(const char *path, enum audit_head_format fmt)
{
	struct nx_err err = { { 0 } };
	enum store_fail fail;
	struct sqlite3 *db;
	sqlite3_stmt *st;
	json_t *rows = json_array();
	int rc;

	if (store_open_db(path, true, 5000, &db, &fail, &err) != 0) {
		fprintf(stderr, "nexusctl: audit: %s\n", err.msg);
		json_decref(rows);
		return audit_fail_status(fail);
	}
	if (sqlite3_prepare_v2(db, "SELECT seq, time, who, role, action, "
	    "target, args, result FROM audit ORDER BY seq", -1, &st,
	    NULL) != SQLITE_OK) {
		fprintf(stderr, "nexusctl: audit: %s: %s\n", path,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		json_decref(rows);
		return NX_EXIT_DATAERR;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *f[6];
		int i;

		for (i = 0; i < 6; i++)
			f[i] = (const char *)sqlite3_column_text(st, 2 + i);
		if (fmt == AUDIT_HEAD_JSON) {
			json_t *o = json_object(), *args;

			json_object_set_new(o, "seq", json_integer(
			    sqlite3_column_int64(st, 0)));
			json_object_set_new(o, "time", json_integer(
			    sqlite3_column_int64(st, 1)));
			json_object_set_new(o, "who", nx_json_text(f[0]));
			json_object_set_new(o, "role", nx_json_text(f[1]));
			json_object_set_new(o, "action", nx_json_text(f[2]));
			json_object_set_new(o, "target", nx_json_text(f[3]));
			args = f[4] != NULL ? json_loads(f[4], 0, NULL) : NULL;
			json_object_set_new(o, "args", args != NULL ? args :
			    nx_json_text(f[4]));
			json_object_set_new(o, "result", nx_json_text(f[5]));
			json_array_append_new(rows, o);
		} else
			printf("%lld %lld %s %s %s %s %s %s\n",
			    (long long)sqlite3_column_int64(st, 0),
			    (long long)sqlite3_column_int64(st, 1),
			    f[0] ? f[0] : "", f[1] ? f[1] : "",
			    f[2] ? f[2] : "", f[3] ? f[3] : "",
			    f[4] ? f[4] : "", f[5] ? f[5] : "");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "nexusctl: audit: %s: reading rows failed\n",
		    path);
		json_decref(rows);
		return NX_EXIT_DATAERR;
	}
	if (fmt == AUDIT_HEAD_JSON) {
		json_dumpf(rows, stdout, JSON_INDENT(1) | NX_JSON_FLAGS);
		fputc('\n', stdout);
	}
	json_decref(rows);
	return 0;
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
		return cli_usage_error(cmd, "verify, head or list?");
	sub = argv[optind++];
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);
	if (strcmp(sub, "list") == 0) {
		if (head != NULL || ho.syslog || ho.output != NULL)
			return cli_usage_error(cmd, "list takes --format only");
		path = co.state_path != NULL ? xstrdup(co.state_path) :
		    store_default_path();
		status = audit_cmd_list(path, ho.fmt);
		free(path);
		return status;
	}
	if (strcmp(sub, "verify") != 0 && strcmp(sub, "head") != 0)
		return cli_usage_error(cmd, "unknown subcommand '%s' (verify, "
		    "head or list)", sub);
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
