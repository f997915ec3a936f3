/*
 * cmd-check.c - `nexusctl check`: one round of every check, printed as
 * text, JSON or one Nagios plugin line; the exit status is the worst state
 * (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), so the command is itself a
 * Nagios plugin for the whole fleet.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "cli.h"

enum check_format { FMT_TEXT, FMT_JSON, FMT_NAGIOS };
static const char *const check_formats[] = { "text", "json", "nagios", NULL };

#define CHECK_ROUND_TIMEOUT_MS 60000

/* The health's name in lower case ("critical"), in buf. */
static const char *
check_health_key(int h, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s", nx_health_name(h));
	for (i = 0; buf[i] != '\0'; i++)
		buf[i] = (char)(buf[i] | 0x20);
	return buf;
}

static json_t *
check_summary_json(const struct engine *e)
{
	json_t *o = json_object();
	int h;

	json_object_set_new(o, "nodes", json_integer(e->fleet.nnodes));
	json_object_set_new(o, "checks", json_integer(e->fleet.nchecks));
	for (h = 0; h < NX_H__COUNT; h++) {
		char key[32];

		json_object_set_new(o, check_health_key(h, key, sizeof key),
		    json_integer(e->fleet.health_count[h]));
	}
	return o;
}

static int
check_print_json(const struct engine *e, enum nx_state worst)
{
	json_t *root = json_object(), *nodes = json_array();
	uint32_t i;
	int rc;

	json_object_set_new(root, "time",
	    json_real((double)e->start_time / 1000.0));
	json_object_set_new(root, "worst", json_string(nx_state_name(worst)));
	json_object_set_new(root, "summary", check_summary_json(e));
	for (i = 0; i < e->fleet.nnodes; i++)
		json_array_append_new(nodes, node_to_json(e, &e->fleet.nodes[i]));
	json_object_set_new(root, "nodes", nodes);
	rc = json_dumpf(root, stdout, JSON_INDENT(1) | NX_JSON_FLAGS);
	fputc('\n', stdout);
	json_decref(root);
	return rc;
}

static void
check_fmt_metric(char *buf, size_t len, double v, const char *unit)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f%s", v, unit);
}

/* One line per node, and under a node that is not OK its non-OK checks. */
static void
check_print_text(const struct engine *e, enum nx_state worst)
{
	const struct fleet *f = &e->fleet;
	uint32_t i;
	int h;

	printf("%-11s %-28s %-16s %-12s %6s %6s %6s\n", "STATE", "NODE",
	    "ADDRESS", "GROUP", "LOAD", "MEM", "DISK");
	for (i = 0; i < f->nnodes; i++) {
		const struct node *n = &f->nodes[i];
		char load[16], mem[16], disk[16];
		uint16_t k;

		check_fmt_metric(load, sizeof load, n->m.v[NX_M_LOAD], "");
		check_fmt_metric(mem, sizeof mem, n->m.v[NX_M_MEM], "%");
		check_fmt_metric(disk, sizeof disk, n->m.v[NX_M_DISK], "%");
		printf("%-11s %-28s %-16s %-12s %6s %6s %6s\n",
		    nx_health_name(n->health), n->name, n->address,
		    node_group_name(f, n), load, mem, disk);
		if (n->health == NX_H_OK)
			continue;
		for (k = 0; k < n->nchecks; k++) {
			const struct check *c = &f->checks[n->checks[k]];
			const char *out = c->output ? c->output : "";
			int olen = (int)strcspn(out, "\n");

			if (c->state == NX_OK)
				continue;
			printf("    %-9s %-4s %u/%u %-10s %.*s\n",
			    nx_state_name(c->state),
			    c->state_type == NX_HARD ? "HARD" : "SOFT",
			    c->attempt, c->max_attempts, c->name, olen, out);
		}
	}
	printf("\n%u nodes:", f->nnodes);
	for (h = 0; h < NX_H__COUNT; h++) {
		if (f->health_count[h] > 0)
			printf(" %u %s", f->health_count[h], nx_health_name(h));
	}
	printf("; worst state %s\n", nx_state_name(worst));
}

/* A single Nagios plugin line: status, summary, perfdata per health. */
static void
check_print_nagios(const struct engine *e, enum nx_state worst)
{
	const struct fleet *f = &e->fleet;
	int h;

	printf("NEXUS %s - %u nodes", nx_state_name(worst), f->nnodes);
	for (h = 0; h < NX_H__COUNT; h++) {
		if (f->health_count[h] > 0)
			printf(", %u %s", f->health_count[h], nx_health_name(h));
	}
	printf(" |");
	for (h = 0; h < NX_H__COUNT; h++) {
		char key[32];

		printf(" %s=%u;;;0;%u", check_health_key(h, key, sizeof key),
		    f->health_count[h], f->nnodes);
	}
	printf("\n");
}

int
cmd_check_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("check");
	enum check_format fmt = FMT_TEXT;
	struct cli_common co;
	struct nx_config cfg;
	struct engine e;
	struct store *store = NULL;
	struct nx_err err = { { 0 } };
	uv_loop_t loop;
	enum nx_state worst;
	int choice, opt, rc, status = 0;

	cli_common_init(&co, argv);
	while ((opt = cli_next_opt(cmd, &co, argc, argv, CLI_COMMON_SHORTOPTS,
	    longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == CLI_OPT_FORMAT) {
			if ((rc = cli_choice(cmd, "format", optarg,
			    check_formats, &choice)) >= 0)
				return rc;
			fmt = (enum check_format)choice;
		}
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);

	memset(&e, 0, sizeof e);
	config_defaults(&cfg);
	uv_loop_init(&loop);
	if ((rc = cli_engine_open(&e, &loop, &co, &cfg)) != 0) {
		status = rc;
		goto out;
	}
	/* Only an explicit --state makes a batch round write a store. */
	if (co.state_path != NULL) {
		if ((store = cli_store_open(&co, "check", &status)) == NULL)
			goto out;
		store_subscribe(store, &e);
		/* Rows the engine writes itself (a refused host key). */
		act_set_audit(&e, act_audit_store, store);
	}
	if (engine_round(&e, CHECK_ROUND_TIMEOUT_MS) != 0)
		fprintf(stderr, "nexusctl: check: %u checks still running after "
		    "%d s; counted as UNKNOWN\n", e.pending,
		    CHECK_ROUND_TIMEOUT_MS / 1000);
	worst = engine_worst_state(&e);
	switch (fmt) {
	case FMT_JSON:
		check_print_json(&e, worst);
		break;
	case FMT_NAGIOS:
		check_print_nagios(&e, worst);
		break;
	default:
		check_print_text(&e, worst);
		break;
	}
	status = (int)worst;
	if (fflush(stdout) != 0) {
		perror("nexusctl: check: stdout");
		status = NX_EXIT_SOFTWARE;
	}
out:
	if (e.act != NULL)
		act_set_audit(&e, NULL, NULL);
	if (store_close(store, &err) != 0) {
		fprintf(stderr, "nexusctl: check: %s\n", err.msg);
		status = NX_EXIT_SOFTWARE;
	}
	engine_free(&e);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	config_free(&cfg);
	return status;
}
