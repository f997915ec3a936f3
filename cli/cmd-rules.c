/*
 * cmd-rules.c - `nexusctl rules [--state FILE] [--format text|json]`: the
 * remediation rules and their state (doc/remediation.md).
 *
 * A running `nexusctl engine` keeps STATE.remed.json (remed_status() plus
 * its pid and the time it was written) next to its state store; `rules`
 * reads it and prints one line per rule: mode, enabled, jobs running
 * against the rule's concurrency, tokens, jobs started, recovered, not
 * recovered, open breakers with their nodes and the most frequent
 * refusals.  The engine is running when the file's pid is alive and the
 * store's writer lock is held.  Otherwise the rules come from the
 * configuration (-c, else the default file), marked "not running".
 *
 *	rules reset RULE NODE, rules enable|disable RULE
 *
 * change a live engine's rules, which only its own process can do: they
 * go to the engine through its control socket STATE.sock (engine/ctl.c:
 * api_rule_reset / api_rule_enable as the caller's uid, audited, origin
 * "ctl").  With no engine running, `rules` says so and exits 69.
 *
 * Exit statuses: 0; 69 reset/enable/disable with no engine running; 77
 * refused by the caller's role; 65 no such rule or node; 78
 * configuration; 64 usage.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "cli.h"

#define RULES_EXIT_UNAVAILABLE 69       /* EX_UNAVAILABLE */
#define RULES_TOP_REFUSALS 3

enum rules_format { RULES_TEXT, RULES_JSON };
static const char *const rules_formats[] = { "text", "json", NULL };

/* What is known about the engine that wrote STATE.remed.json. */
struct rules_src {
	char *path;             /* STATE.remed.json */
	json_t *doc;            /* its document, or NULL */
	long pid;               /* 0 when none */
	double age_s;           /* since it was written; NAN when unknown */
	bool alive;             /* pid is a live process */
	bool locked;            /* the store's writer lock is held */
	bool running;           /* both: the document is live */
};

/* Prints s with C0 controls and DEL made visible (names are data). */
static void
rules_put(const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static long long
rules_int(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/*
 * Reads path.remed.json and decides whether its engine is running.  The
 * caller frees src->path and src->doc.
 */
static void
rules_load(struct rules_src *src, const char *state)
{
	json_t *v;

	memset(src, 0, sizeof *src);
	src->age_s = NAN;
	xasprintf(&src->path, "%s.remed.json", state);
	src->locked = store_in_use(state);
	src->doc = json_load_file(src->path, 0, NULL);
	if (!json_is_object(src->doc)) {
		json_decref(src->doc);
		src->doc = NULL;
		return;
	}
	src->pid = (long)json_integer_value(json_object_get(src->doc, "pid"));
	if ((v = json_object_get(src->doc, "updated")) != NULL &&
	    json_is_number(v)) {
		src->age_s = (double)nx_wallclock() / 1000.0 -
		    json_number_value(v);
		if (src->age_s < 0)
			src->age_s = 0;
	}
	src->alive = src->pid > 0 && (kill((pid_t)src->pid, 0) == 0 ||
	    errno == EPERM);
	src->running = src->alive && src->locked;
}

/* "in_progress 40, breaker_open 12, cooldown 9": the largest counts. */
static void
rules_print_refusals(const json_t *refused)
{
	const char *top[RULES_TOP_REFUSALS], *key;
	long long cnt[RULES_TOP_REFUSALS], n;
	size_t ntop = 0, i, k;
	json_t *v;

	json_object_foreach((json_t *)refused, key, v) {
		if ((n = json_integer_value(v)) <= 0)
			continue;
		for (i = 0; i < ntop && cnt[i] >= n; i++)
			;
		if (i == RULES_TOP_REFUSALS)
			continue;
		if (ntop < RULES_TOP_REFUSALS)
			ntop++;
		for (k = ntop - 1; k > i; k--) {
			top[k] = top[k - 1];
			cnt[k] = cnt[k - 1];
		}
		top[i] = key;
		cnt[i] = n;
	}
	if (ntop == 0) {
		fputs(", refused none", stdout);
		return;
	}
	fputs(", refused", stdout);
	for (i = 0; i < ntop; i++)
		printf("%s %s %lld", i == 0 ? "" : ",", top[i], cnt[i]);
}

/* "2.5/5" or "-" (no rate limit), from a bucket object. */
static void
rules_print_bucket(const json_t *b)
{
	if (rules_int(b, "rate") == 0) {
		fputs("-", stdout);
		return;
	}
	printf("%.1f/%lld", json_number_value(json_object_get(b, "tokens")),
	    rules_int(b, "burst"));
}

/* One rule of a live engine, one line. */
static void
rules_print_live_rule(const json_t *r)
{
	const json_t *counts = json_object_get(r, "counts");
	const json_t *open = json_object_get(r, "open"), *o;
	const char **names;
	size_t i, n = json_array_size(open);
	char *hl;

	rules_put(json_string_value(json_object_get(r, "name")));
	printf(": %s, %s, running %lld/", json_string_value(json_object_get(r,
	    "mode")), json_is_true(json_object_get(r, "enabled")) ?
	    "enabled" : "disabled", rules_int(r, "running"));
	if (rules_int(r, "concurrency") == 0)
		fputs("-", stdout);
	else
		printf("%lld", rules_int(r, "concurrency"));
	fputs(", tokens ", stdout);
	rules_print_bucket(json_object_get(r, "bucket"));
	printf(", jobs %lld, recovered %lld, not recovered %lld, open %zu",
	    rules_int(counts, "jobs"), rules_int(counts, "recovered"),
	    rules_int(counts, "not_recovered"), n);
	if (n > 0) {
		names = xcalloc(n, sizeof *names);
		json_array_foreach(open, i, o) {
			names[i] = json_string_value(json_object_get(o, "node"));
			if (names[i] == NULL)
				names[i] = "?";
		}
		hl = hostlist_compress(names, n);
		fputs(" (", stdout);
		rules_put(hl);
		fputs(")", stdout);
		free(hl);
		free(names);
	}
	if (json_is_true(json_object_get(r, "dry_run")))
		fputs(", dry run", stdout);
	rules_print_refusals(json_object_get(r, "refused"));
	putchar('\n');
}

static void
rules_print_age(double age)
{
	if (isnan(age))
		fputs("at an unknown time", stdout);
	else if (age < 120)
		printf("%.0f s ago", age);
	else if (age < 7200)
		printf("%.0f min ago", age / 60);
	else
		printf("%.1f h ago", age / 3600);
}

static void
rules_print_live(const struct rules_src *src)
{
	const json_t *d = src->doc, *r;
	size_t i;

	printf("engine pid %ld running; rule state from ", src->pid);
	rules_put(src->path);
	fputs(", changed ", stdout);
	rules_print_age(src->age_s);
	printf("\nremediation %s%s, jobs running %lld/",
	    json_is_true(json_object_get(d, "enabled")) ? "enabled" :
	    "disabled", json_is_true(json_object_get(d, "dry_run")) ?
	    " (dry run)" : "", rules_int(d, "jobs_running"));
	if (rules_int(d, "max_concurrent") == 0)
		fputs("-", stdout);
	else
		printf("%lld", rules_int(d, "max_concurrent"));
	fputs(", tokens ", stdout);
	rules_print_bucket(json_object_get(d, "bucket"));
	printf(", jobs %lld", rules_int(d, "jobs"));
	rules_print_refusals(json_object_get(d, "refused"));
	putchar('\n');
	if (json_is_string(json_object_get(d, "last_error"))) {
		fputs("last error: ", stdout);
		rules_put(json_string_value(json_object_get(d, "last_error")));
		putchar('\n');
	}
	json_array_foreach(json_object_get(d, "rules"), i, r)
		rules_print_live_rule(r);
	if (i == 0)
		puts("no rules");
}

/* Why there is no live state, after "engine not running". */
static void
rules_print_why(const struct rules_src *src, const char *state)
{
	if (src->doc == NULL) {
		fputs("engine not running: no ", stdout);
		rules_put(src->path);
		if (src->locked) {
			fputs(" (the store ", stdout);
			rules_put(state);
			fputs(" is in use by a process that does not publish "
			    "rule state, e.g. a console)", stdout);
		}
	} else {
		printf("engine not running: pid %ld of ", src->pid);
		rules_put(src->path);
		fputs(src->alive ? " does not hold the store" :
		    " is gone", stdout);
		fputs(" (file written ", stdout);
		rules_print_age(src->age_s);
		fputs(")", stdout);
	}
	puts("; the rules of the configuration:");
}

/* The configured rules, one line each, "not running". */
static void
rules_print_config(const json_t *rem)
{
	const json_t *r;
	size_t i;

	printf("remediation %s%s\n", json_is_true(json_object_get(rem,
	    "enabled")) ? "enabled" : "disabled",
	    json_is_true(json_object_get(rem, "dry_run")) ? " (dry run)" : "");
	json_array_foreach(json_object_get(rem, "rules"), i, r) {
		rules_put(json_string_value(json_object_get(r, "name")));
		printf(": %s, %s, action ", json_string_value(json_object_get(r,
		    "mode")), json_is_true(json_object_get(r, "enabled")) ?
		    "enabled" : "disabled");
		rules_put(json_string_value(json_object_get(r, "action")));
		fputs(", not running\n", stdout);
	}
	if (i == 0)
		puts("no rules");
}

/* The JSON document: the live status, or the configuration's rules. */
static json_t *
rules_json(const struct rules_src *src, const json_t *rem)
{
	json_t *o;

	if (src->running)
		o = json_deep_copy(src->doc);
	else {
		o = json_object();
		json_object_set_new(o, "source", json_string("config"));
		json_object_set(o, "enabled", json_object_get(rem, "enabled"));
		json_object_set(o, "dry_run", json_object_get(rem, "dry_run"));
		json_object_set(o, "rules", json_object_get(rem, "rules"));
	}
	json_object_del(o, "updated");
	json_object_set_new(o, "pid", src->pid > 0 ?
	    json_integer(src->pid) : json_null());
	json_object_set_new(o, "age_s", isnan(src->age_s) ? json_null() :
	    json_real(round(src->age_s * 10) / 10));
	json_object_set_new(o, "running", json_boolean(src->running));
	return o;
}

/*
 * Sends a reset/enable/disable to the engine running on the store;
 * returns the exit status, or -1 when no engine listens there.
 */
static int
rules_send(const struct cli_common *co, int argc, char **argv)
{
	struct nx_err err = { { 0 } };
	const char *verb = argv[0], *msg;
	json_t *req = json_object(), *resp = NULL;
	char *state = cli_state_path(co), *path;
	bool none = true;
	int status;

	if (state == NULL) {
		json_decref(req);
		return -1;
	}
	if (strcmp(verb, "reset") == 0) {
		json_object_set_new(req, "op", json_string("rule_reset"));
		json_object_set_new(req, "node", json_string(argv[2]));
	} else {
		json_object_set_new(req, "op", json_string("rule_enable"));
		json_object_set_new(req, "enabled",
		    json_boolean(strcmp(verb, "enable") == 0));
	}
	json_object_set_new(req, "rule", json_string(argv[1]));
	path = ctl_socket_path(state);
	if (ctl_request(path, req, &resp, &none, &err) != 0) {
		if (!none)
			fprintf(stderr, "nexusctl: rules: %s: %s\n", verb,
			    err.msg);
		status = none ? -1 : NX_EXIT_SOFTWARE;
	} else if (json_is_true(json_object_get(resp, "ok"))) {
		if (argc == 3)
			printf("rule %s: breaker of %s reset\n", argv[1],
			    argv[2]);
		else
			printf("rule %s: %sd\n", argv[1], verb);
		status = 0;
	} else {
		msg = json_string_value(json_object_get(resp, "error"));
		fprintf(stderr, "nexusctl: rules: %s: %s\n", verb, msg != NULL ?
		    msg : "no answer");
		status = json_is_integer(json_object_get(resp, "exit")) ?
		    (int)json_integer_value(json_object_get(resp, "exit")) :
		    NX_EXIT_SOFTWARE;
	}
	json_decref(resp);
	json_decref(req);
	free(path);
	free(state);
	return status;
}

/* reset, enable, disable: through the running engine's socket. */
static int
rules_control(const struct cmd_entry *cmd, const struct cli_common *co,
    int argc, char **argv)
{
	const char *verb = argv[0];
	int want = strcmp(verb, "reset") == 0 ? 3 : 2, rc;

	if (argc != want)
		return cli_usage_error(cmd, "%s wants %s", verb, want == 3 ?
		    "RULE NODE" : "RULE");
	if ((rc = rules_send(co, argc, argv)) >= 0)
		return rc;
	fprintf(stderr, "nexusctl: rules: %s: no engine is running on this "
	    "state store (its control socket STATE.sock)\n", verb);
	if (strcmp(verb, "reset") == 0)
		fprintf(stderr, "nexusctl: rules: reset: a breaker lives in "
		    "the engine's process; in a console, select the node and "
		    "press r (an operator's call, checked and audited there)\n");
	else
		fprintf(stderr, "nexusctl: rules: %s: a rule's state lives in "
		    "the engine's process; set remediation.rules[].enabled in "
		    "the configuration for the next start\n", verb);
	return RULES_EXIT_UNAVAILABLE;
}

int
cmd_rules_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("rules");
	enum rules_format fmt = RULES_TEXT;
	struct rules_src src;
	struct cli_common co;
	struct nx_config cfg;
	json_t *root = NULL, *rem = NULL, *out;
	char *state;
	int choice, opt, rc, status = 0;

	cli_common_init(&co, argv);
	while ((opt = cli_next_opt(cmd, &co, argc, argv, CLI_COMMON_SHORTOPTS,
	    longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == CLI_OPT_FORMAT) {
			if ((rc = cli_choice(cmd, "format", optarg,
			    rules_formats, &choice)) >= 0)
				return rc;
			fmt = (enum rules_format)choice;
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind], "reset") == 0 ||
		    strcmp(argv[optind], "enable") == 0 ||
		    strcmp(argv[optind], "disable") == 0)
			return rules_control(cmd, &co, argc - optind,
			    argv + optind);
		if (strcmp(argv[optind], "show") != 0 || optind + 1 < argc)
			return cli_usage_error(cmd, "unexpected argument '%s'",
			    argv[optind + (strcmp(argv[optind], "show") == 0)]);
	}

	state = cli_state_path(&co);
	rules_load(&src, state);
	config_defaults(&cfg);
	if (!src.running) {
		if ((rc = cli_load_config(&co, &cfg)) != 0) {
			status = rc;
			goto out;
		}
		root = config_to_json(&cfg);
		rem = json_object_get(root, "remediation");
	}
	if (fmt == RULES_JSON) {
		out = rules_json(&src, rem);
		if (json_dumpf(out, stdout, JSON_INDENT(2) | NX_JSON_FLAGS) == 0)
			putchar('\n');
		json_decref(out);
	} else if (src.running)
		rules_print_live(&src);
	else {
		rules_print_why(&src, state);
		rules_print_config(rem);
	}
	if (fflush(stdout) != 0) {
		perror("nexusctl: rules: stdout");
		status = NX_EXIT_SOFTWARE;
	}
out:
	json_decref(root);
	json_decref(src.doc);
	free(src.path);
	free(state);
	config_free(&cfg);
	return status;
}
