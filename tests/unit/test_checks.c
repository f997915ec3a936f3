/*
 * test_checks.c - checks defined in the configuration (checks.define):
 * parsing and every class of error with its file:line:column, macro
 * substitution, applying definitions to a fleet, and thresholds on
 * perfdata deciding the state and saying so in the output.
 *
 * Configurations are loaded through config_load_buffer() as the command
 * line loads a file; the engine is a real one on a real loop.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "engine.h"

#define PLUGIN "/usr/lib/nagios/plugins/check_dummy"

static int
load(struct nx_config *cfg, const char *text, struct nx_err *err)
{
	config_defaults(cfg);
	memset(err, 0, sizeof *err);
	return config_load_buffer(cfg, "t.json", text, strlen(text), err);
}

/* Loads text that must fail and checks the message starts with want. */
static void
expect_error(const char *text, const char *want)
{
	struct nx_config cfg;
	struct nx_err err;

	if (load(&cfg, text, &err) == 0)
		fail_msg("loaded, expected: %s", want);
	if (strncmp(err.msg, want, strlen(want)) != 0)
		fail_msg("got \"%s\", expected \"%s...\"", err.msg, want);
	config_free(&cfg);
}

static void
test_parse_full(void **state)
{
	const char *text =
	    "{ \"checks\": { \"interval\": \"1m\", \"define\": [\n"
	    "  { \"name\": \"ssh-port\", \"kind\": \"tcp\", \"target\": \"@web\",\n"
	    "    \"port\": 22, \"timeout\": \"5s\", \"send\": \"x\",\n"
	    "    \"expect\": \"SSH-\" },\n"
	    "  { \"name\": \"load\", \"kind\": \"plugin\", \"target\": \"*\",\n"
	    "    \"local\": true, \"command\": [\"/p/check_load\", \"-w\",\n"
	    "    \"$ARG1$\", \"-c\", \"$ARG2$\"], \"args\": [\"5,4,3\", "
	    "\"10,8,6\"],\n"
	    "    \"interval\": 90, \"max_attempts\": 4,\n"
	    "    \"thresholds\": { \"load1\": { \"warning\": \"4\", "
	    "\"critical\": \"@8:10\" } } } ] } }\n";
	struct nx_config cfg, copy;
	struct nx_err err;
	const struct nx_checkdef *d;
	json_t *j, *back;

	(void)state;
	if (load(&cfg, text, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(cfg.checks.ndefs, 2);
	assert_int_equal(cfg.checks.interval_ms, 60000);
	d = &cfg.checks.defs[0];
	assert_string_equal(d->name, "ssh-port");
	assert_ptr_equal(d->kind, &check_kind_tcp);
	assert_string_equal(d->target, "@web");
	assert_int_equal(d->port, 22);
	assert_int_equal(d->timeout_ms, 5000);
	assert_string_equal(d->send, "x");
	assert_string_equal(d->expect, "SSH-");
	assert_null(d->command);
	assert_string_equal(d->where, "t.json:2:5");
	assert_string_equal(d->target_where, "t.json:2:50");
	d = &cfg.checks.defs[1];
	assert_ptr_equal(d->kind, &check_kind_plugin);
	assert_true(d->local);
	assert_int_equal(d->ncommand, 5);
	assert_string_equal(d->command[2], "$ARG1$");
	assert_null(d->command[5]);
	assert_int_equal(d->nargs, 2);
	assert_string_equal(d->args[1], "10,8,6");
	assert_int_equal(d->interval_ms, 90000);
	assert_int_equal(d->max_attempts, 4);
	assert_int_equal(d->nthresholds, 1);
	assert_string_equal(d->thresholds[0].label, "load1");
	assert_string_equal(d->thresholds[0].warn_text, "4");
	assert_true(d->thresholds[0].crit.inside);
	assert_true(range_alert(&d->thresholds[0].crit, 9));
	assert_false(range_alert(&d->thresholds[0].warn, 3.9));
	assert_true(range_alert(&d->thresholds[0].warn, 4.1));

	/* Round trip through `config show`'s JSON, and a deep clone. */
	j = config_to_json(&cfg);
	back = json_object_get(json_object_get(j, "checks"), "define");
	assert_int_equal(json_array_size(back), 2);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(back, 1), "interval")), "1m30s");
	json_decref(j);
	config_defaults(&copy);
	assert_int_equal(config_load_buffer(&copy, "u.json", "{\"demo\": "
	    "{\"nodes\": 3}}", 22, &err), 0);
	config_free(&copy);
	copy.checks.defs = checkdefs_clone(cfg.checks.defs, cfg.checks.ndefs);
	copy.checks.ndefs = cfg.checks.ndefs;
	config_free(&cfg);      /* the clone must not share anything */
	assert_string_equal(copy.checks.defs[1].command[4], "$ARG2$");
	assert_string_equal(copy.checks.defs[1].thresholds[0].label, "load1");
	checkdefs_free(copy.checks.defs, copy.checks.ndefs);
}

/* One definition on line 2 with `extra` on line 3 inside it. */
static char *
one(const char *kind_and_more, const char *extra)
{
	char *s;

	xasprintf(&s, "{\"checks\": {\"define\": [\n"
	    " {\"name\": \"a\", %s,\n"
	    "  %s}\n"
	    "]}}\n", kind_and_more, extra);
	return s;
}

/*
 * The 1-based column of the first `needle` on line `line` of text, so that
 * the expected positions below say what they point at.
 */
static int
col_of(const char *text, int line, const char *needle)
{
	const char *p = text, *hit, *eol;

	while (--line > 0)
		p = strchr(p, '\n') + 1;
	eol = strchr(p, '\n');
	hit = strstr(p, needle);
	assert_non_null(hit);
	assert_true(eol == NULL || hit < eol);
	return (int)(hit - p) + 1;
}

static void
test_errors(void **state)
{
	static const struct {
		const char *kind, *extra;
		int line;
		const char *at, *want;
	} cases[] = {
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\"], \"comand\": 1", 3, "\"comand\"",
		  "checks.define[0].comand: unknown key \"comand\"" },
		{ "\"kind\": \"snmp\", \"local\": true", "\"port\": 1", 2,
		  "\"snmp\"", "checks.define[0].kind: unknown check kind "
		  "\"snmp\" (known: plugin, tcp, ssh)" },
		{ "\"kind\": \"metric\", \"local\": true", "\"port\": 1", 2,
		  "\"metric\"", "checks.define[0].kind: unknown check kind "
		  "\"metric\"" },
		{ "\"kind\": \"plugin\", \"local\": true", "\"args\": []", 2,
		  "\"name\"", "checks.define[0]: plugin check \"a\" has no "
		  "\"command\"" },
		{ "\"kind\": \"plugin\", \"local\": true", "\"command\": []", 3,
		  "[]", "checks.define[0].command: expected the plugin's path "
		  "first" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\", 5]", 3, "[",
		  "checks.define[0].command: element 1: expected a string" },
		{ "\"kind\": \"plugin\"", "\"command\": [\"/x\"]", 2, "\"name\"",
		  "checks.define[0]: check \"a\" has no \"target\"" },
		{ "\"kind\": \"plugin\", \"target\": \"web[3-1]\"",
		  "\"command\": [\"/x\"]", 2, "\"web[", "checks.define[0].target: " },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\"], \"timeout\": \"5 s\"", 3, "\"5 s\"",
		  "checks.define[0].timeout: expected a duration like \"10s\"" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\"], \"interval\": \"10ms\"", 3, "\"10ms\"",
		  "checks.define[0].interval: expected a duration from 100ms "
		  "to 7d, got \"10ms\"" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\"], \"timeout\": true", 3, "true",
		  "checks.define[0].timeout: expected a duration" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\"], \"port\": 22", 3, "\"port\"",
		  "checks.define[0].port: key \"port\" is for kind tcp, not "
		  "plugin" },
		{ "\"kind\": \"tcp\", \"local\": true", "\"timeout\": \"1s\"", 2,
		  "\"name\"", "checks.define[0]: tcp check \"a\" has no "
		  "\"port\"" },
		{ "\"kind\": \"tcp\", \"local\": true", "\"port\": 70000", 3,
		  "70000", "checks.define[0].port: expected an integer from 1 "
		  "to 65535, got 70000" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\", \"$ARG2$\"], \"args\": [\"1\"]", 3, "[",
		  "checks.define[0].command: element 1: macro $ARG2$ but only "
		  "1 argument in \"args\"" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\", \"$USER1$/y\"]", 3, "[",
		  "checks.define[0].command: element 1: unknown macro $USER1$" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\", \"5$\"]", 3, "[",
		  "checks.define[0].command: element 1: unterminated macro" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\"], \"args\": [\"$ARG1$\"]", 3, "[\"$",
		  "checks.define[0].args: element 0: macro $ARG1$ is not "
		  "allowed here" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\"], \"thresholds\": {\"l\": {\"warn\": "
		  "\"1\"}}", 3, "\"warn\"", "checks.define[0].thresholds.l.warn: "
		  "unknown key \"warn\"" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\"], \"thresholds\": {\"l\": {}}", 3, "{}",
		  "checks.define[0].thresholds.l: expected \"warning\" and/or "
		  "\"critical\"" },
		{ "\"kind\": \"plugin\", \"local\": true",
		  "\"command\": [\"/x\"], \"name\": 1", 2, "\"a\"",
		  "duplicate key" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NX_ARRAY_LEN(cases); i++) {
		char *text = one(cases[i].kind, cases[i].extra), *want;

		xasprintf(&want, "t.json:%d:%d: %s", cases[i].line,
		    col_of(text, cases[i].line, cases[i].at), cases[i].want);
		if (strcmp(cases[i].want, "duplicate key") == 0) {
			/* jansson's own check, positioned by config.c */
			free(want);
			xasprintf(&want, "t.json:3:%d: duplicate key \"name\"",
			    col_of(text, 3, "\"name\""));
		}
		expect_error(text, want);
		free(want);
		free(text);
	}
	expect_error("{\"checks\": {\"define\": {}}}", "t.json:1:23: "
	    "checks.define: expected an array of check definitions, got an "
	    "object");
	expect_error("{\"checks\": {\"define\": [1]}}", "t.json:1:23: "
	    "checks.define[0]: expected an object defining a check, got 1");
	/* The second element: positions go by element, not by key. */
	expect_error("{\"checks\": {\"define\": [\n"
	    " {\"name\": \"a\", \"kind\": \"tcp\", \"local\": true, \"port\": 1},\n"
	    " {\"name\": \"b\", \"kind\": \"tcp\", \"local\": true, \"port\": 0}\n"
	    "]}}", "t.json:3:54: checks.define[1].port: expected an integer");
}

/* Every bad range of the brief, with range_parse()'s own message. */
static void
test_bad_ranges(void **state)
{
	static const char *const bad[] = {
		"2:1", ":", "1:~", "foo", "1-10", "1,10", "", "@",
	};
	size_t i;

	(void)state;
	for (i = 0; i < NX_ARRAY_LEN(bad); i++) {
		struct nx_range r;
		struct nx_err rerr;
		char *text, *want;

		assert_int_equal(range_parse(bad[i], &r, &rerr), -1);
		xasprintf(&text, "{\"checks\": {\"define\": [\n"
		    " {\"name\": \"a\", \"kind\": \"plugin\", \"local\": true,\n"
		    "  \"command\": [\"/x\"], \"thresholds\": {\"load1\": "
		    "{\"critical\": \"%s\"}}}\n]}}", bad[i]);
		xasprintf(&want, "t.json:3:%d: checks.define[0].thresholds."
		    "load1.critical: %s", col_of(text, 3, "\"critical\": ") + 12,
		    rerr.msg);
		expect_error(text, want);
		free(text);
		free(want);
	}
}

static void
test_expand(void **state)
{
	char a1[] = "5,4,3", a2[] = "x y", c0[] = "/bin/echo", c1[] = "$ARG1$",
	    c2[] = "'$HOSTNAME$;'", x1[] = "a b; rm -rf /", x2[] = "$HOSTNAME$:80";
	char *args[] = { a1, a2, NULL }, *cmd[] = { c0, c1, c2, NULL };
	char *xa[] = { x1, NULL }, *xb[] = { x2, NULL };
	struct node n = { .name = "web01", .address = "10.0.0.1" };
	struct nx_checkdef d;
	struct nx_err err;
	char *s, **argv;

	(void)state;
	s = checkdef_expand("-H $HOSTADDRESS$ -n $HOSTNAME$ -w $ARG1$ $$5 "
	    "$ARG2$", &n, args, 2, &err);
	assert_non_null(s);
	assert_string_equal(s, "-H 10.0.0.1 -n web01 -w 5,4,3 $5 x y");
	free(s);
	s = checkdef_expand("plain", &n, NULL, 0, &err);
	assert_string_equal(s, "plain");
	free(s);
	assert_null(checkdef_expand("$ARG3$", &n, args, 2, &err));
	assert_null(checkdef_expand("$ARG1$", &n, NULL, 0, &err));
	assert_null(checkdef_expand("$ARG0$", &n, args, 2, &err));
	assert_null(checkdef_expand("$ARG1x$", &n, args, 2, &err));
	assert_null(checkdef_expand("a$b", &n, args, 2, &err));
	assert_non_null(strstr(err.msg, "unterminated"));

	/* No shell: an argument with spaces and quotes stays one element. */
	memset(&d, 0, sizeof d);
	d.command = cmd;
	d.ncommand = 3;
	d.args = xa;
	d.nargs = 1;
	argv = checkdef_argv(&d, &n, &err);
	assert_non_null(argv);
	assert_string_equal(argv[0], "/bin/echo");
	assert_string_equal(argv[1], "a b; rm -rf /");
	assert_string_equal(argv[2], "'web01;'");
	assert_null(argv[3]);
	checkdef_argv_free(argv);
	/* Host macros inside the arguments expand too. */
	d.args = xb;
	argv = checkdef_argv(&d, &n, &err);
	assert_string_equal(argv[1], "web01:80");
	checkdef_argv_free(argv);
}

struct warn_log {
	char last[512];
	int count;
};

static void
on_warn(void *arg, const char *msg)
{
	struct warn_log *w = arg;

	snprintf(w->last, sizeof w->last, "%s", msg);
	w->count++;
}

/* Loads text as the configuration of a fleet of web01..web03, db01. */
static int
engine_with(struct engine *e, uv_loop_t *loop, struct nx_config *cfg,
    const char *text, struct warn_log *w, struct nx_err *err)
{
	static const char *const names[] = { "web01", "web02", "web03",
	    "db01" };
	size_t i;

	if (load(cfg, text, err) != 0)
		fail_msg("%s", err->msg);
	cfg->demo.enabled = false;
	cfg->demo.local = false;
	cfg->warn = on_warn;
	cfg->warn_arg = w;
	uv_loop_init(loop);
	engine_init(e, loop, cfg);
	for (i = 0; i < NX_ARRAY_LEN(names); i++) {
		struct node *n = fleet_add_node(&e->fleet, names[i], "127.0.0.1",
		    &provider_inventory);

		node_add_group(&e->fleet, n, i < 3 ? "web" : "db");
	}
	return engine_load(e, err);
}

static void
engine_done(struct engine *e, uv_loop_t *loop, struct nx_config *cfg)
{
	engine_free(e);
	uv_run(loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(loop), 0);
	config_free(cfg);
}

static void
test_apply(void **state)
{
	const char *text = "{\"checks\": {\"max_attempts\": 5, \"define\": [\n"
	    " {\"name\": \"ssh\", \"kind\": \"tcp\", \"target\": \"@web,!web02\","
	    " \"port\": 22, \"timeout\": \"3s\"},\n"
	    " {\"name\": \"d\", \"kind\": \"plugin\", \"target\": \"db*\","
	    " \"command\": [\"/x\"], \"max_attempts\": 2},\n"
	    " {\"name\": \"none\", \"kind\": \"plugin\", \"target\": \"@mail\","
	    " \"command\": [\"/x\"]}\n"
	    "]}}";
	struct warn_log w = { { 0 }, 0 };
	struct nx_config cfg;
	struct nx_err err;
	struct engine e;
	uv_loop_t loop;
	uint32_t i, ssh = 0, d = 0;
	char want[256];

	(void)state;
	if (engine_with(&e, &loop, &cfg, text, &w, &err) != 0)
		fail_msg("%s", err.msg);
	for (i = 0; i < e.fleet.nchecks; i++) {
		const struct check *c = &e.fleet.checks[i];
		const char *node = e.fleet.nodes[c->node].name;

		if (strcmp(c->name, "ssh") == 0) {
			ssh++;
			assert_true(strcmp(node, "web01") == 0 ||
			    strcmp(node, "web03") == 0);
			assert_ptr_equal(c->kind, &check_kind_tcp);
			assert_int_equal(c->timeout_ms, 3000);
			assert_int_equal(c->max_attempts, 5);
		} else if (strcmp(c->name, "d") == 0) {
			d++;
			assert_string_equal(node, "db01");
			assert_int_equal(c->max_attempts, 2);
			assert_int_equal(c->interval_ms, 30000);
		}
	}
	assert_int_equal(ssh, 2);
	assert_int_equal(d, 1);
	assert_int_equal(w.count, 1);
	snprintf(want, sizeof want, "t.json:4:%d: check \"none\": target "
	    "\"@mail\" matches no node", col_of(text, 4, "\"@mail\""));
	assert_string_equal(w.last, want);
	engine_done(&e, &loop, &cfg);

	/* The same name twice on one node is an error at the definition. */
	text = "{\"checks\": {\"define\": [\n"
	    " {\"name\": \"x\", \"kind\": \"tcp\", \"target\": \"web01\", "
	    "\"port\": 1},\n"
	    " {\"name\": \"x\", \"kind\": \"tcp\", \"target\": \"@web\", "
	    "\"port\": 2}]}}";
	assert_int_equal(engine_with(&e, &loop, &cfg, text, &w, &err), -1);
	assert_string_equal(err.msg, "t.json:3:3: check \"x\" already exists "
	    "on node \"web01\" (choose another name)");
	engine_done(&e, &loop, &cfg);
}

/* A check to feed results to by hand (its kind never runs). */
static struct check *
bare_check(struct engine *e)
{
	struct node *n = fleet_add_node(&e->fleet, "h", "127.0.0.1",
	    &provider_inventory);
	struct check *c = fleet_add_check(&e->fleet, n, "c",
	    &check_kind_metric, NULL);

	c->max_attempts = 1;
	return c;
}

static void
test_thresholds(void **state)
{
	const char *text = "{\"demo\": {\"enabled\": false, \"local\": false},"
	    " \"checks\": {\"define\": [{\"name\": \"p\", \"kind\": \"plugin\","
	    " \"local\": true, \"command\": [\"/x\"], \"thresholds\": {"
	    "\"load1\": {\"warning\": \"4\", \"critical\": \"8\"},"
	    "\"odd label\": {\"critical\": \"~:0\"}}}]}}";
	struct nx_config cfg;
	struct nx_err err;
	struct engine e;
	uv_loop_t loop;
	struct check *c;
	const struct nx_checkdef *d;
	const char *out;

	(void)state;
	if (load(&cfg, text, &err) != 0)
		fail_msg("%s", err.msg);
	d = &cfg.checks.defs[0];
	uv_loop_init(&loop);
	engine_init(&e, &loop, &cfg);
	c = bare_check(&e);

	/* Within both: the plugin's state stands. */
	out = "LOAD OK - load 1.00|load1=1.00;;;0 'odd label'=-1\n";
	checkdef_apply_result(&e, c, d, NX_OK, out, strlen(out), NULL, 1);
	assert_int_equal(c->state, NX_OK);
	assert_string_equal(c->output, "LOAD OK - load 1.00|load1=1.00;;;0 "
	    "'odd label'=-1");

	/* Warning range: the state goes up, the status line says why,
	 * the perfdata stays after the '|'. */
	out = "LOAD OK - load 5.00 |load1=5.00;;;0 'odd label'=-1\nlong";
	checkdef_apply_result(&e, c, d, NX_OK, out, strlen(out), NULL, 1);
	assert_int_equal(c->state, NX_WARNING);
	assert_string_equal(c->output, "LOAD OK - load 5.00 (load1=5 is "
	    "WARNING (warning range 4); state WARNING by thresholds, plugin "
	    "said OK) |load1=5.00;;;0 'odd label'=-1\nlong");

	/* Critical wins over warning, and over the plugin's WARNING. */
	out = "LOAD WARNING|load1=9;;;0 'odd label'=-1";
	checkdef_apply_result(&e, c, d, NX_WARNING, out, strlen(out), NULL,
	    1);
	assert_int_equal(c->state, NX_CRITICAL);

	/* The plugin's CRITICAL is not lowered by thresholds that pass. */
	out = "DOWN|load1=1 'odd label'=-1";
	checkdef_apply_result(&e, c, d, NX_CRITICAL, out, strlen(out), NULL,
	    1);
	assert_int_equal(c->state, NX_CRITICAL);
	assert_string_equal(c->output, "DOWN|load1=1 'odd label'=-1");

	/* A quoted label; a missing label is UNKNOWN and noted. */
	out = "X|load1=1 'odd label'=3";
	checkdef_apply_result(&e, c, d, NX_OK, out, strlen(out), NULL, 1);
	assert_int_equal(c->state, NX_CRITICAL);
	assert_non_null(strstr(c->output, "odd label=3 is CRITICAL"));
	out = "no perfdata at all";
	checkdef_apply_result(&e, c, d, NX_OK, out, strlen(out), "note", 1);
	assert_int_equal(c->state, NX_UNKNOWN);
	assert_string_equal(c->output, "no perfdata at all (note; threshold "
	    "on 'load1': no such perfdata, UNKNOWN; threshold on 'odd "
	    "label': no such perfdata, UNKNOWN; state UNKNOWN by "
	    "thresholds, plugin said OK)");

	/* No output at all, as Nagios says it. */
	checkdef_apply_result(&e, c, NULL, NX_OK, "\n", 1, NULL, 1);
	assert_string_equal(c->output, "(No output returned from plugin)");
	assert_int_equal(nx_state_worse(NX_UNKNOWN, NX_WARNING), NX_UNKNOWN);
	assert_int_equal(nx_state_worse(NX_UNKNOWN, NX_CRITICAL), NX_CRITICAL);

	engine_free(&e);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	config_free(&cfg);
}

/* 'Z' for a zombie, 0 when the process is gone, else its state letter. */
static char
proc_state(long pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* Whether a process of group pgid is alive (not a zombie). */
static bool
group_alive(pid_t pgid)
{
	char path[300], buf[512], *p;
	struct dirent *de;
	bool alive = false;
	DIR *d = opendir("/proc");
	FILE *f;
	size_t n;

	assert_non_null(d);
	while (!alive && (de = readdir(d)) != NULL) {
		char state;
		long pgrp;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %c %*d %ld", &state, &pgrp) != 2)
			continue;
		alive = pgrp == pgid && state != 'Z';
	}
	closedir(d);
	return alive;
}

/*
 * A round that ends with executions still in flight (the fleet is freed
 * under them): the plugin's group is killed, every handle is closed (the
 * loop closes cleanly), and nothing is applied to the freed fleet.  The
 * tcp check waits for an answer from a listener that never speaks.
 */
static void
test_abandon(void **state)
{
	struct warn_log w = { { 0 }, 0 };
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	struct nx_config cfg;
	struct nx_err err;
	struct engine e;
	uv_loop_t loop;
	char pidfile[] = "/tmp/nx-test-checks.XXXXXX", *text;
	long pid = 0;
	FILE *f;
	char st;
	int fd, ls, i;

	(void)state;
	fd = mkstemp(pidfile);
	assert_true(fd >= 0);
	close(fd);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sin, &slen), 0);
	xasprintf(&text, "{\"checks\": {\"timeout\": \"1m\", \"define\": [\n"
	    " {\"name\": \"s\", \"kind\": \"plugin\", \"target\": \"web01\","
	    " \"command\": [\"/bin/sh\", \"-c\", \"echo $$$$ >%s; sleep 30 & "
	    "exec sleep 31\"]},\n"
	    " {\"name\": \"t\", \"kind\": \"tcp\", \"target\": \"web01\","
	    " \"port\": %u, \"expect\": \"never\"}]}}", pidfile,
	    (unsigned)ntohs(sin.sin_port));
	if (engine_with(&e, &loop, &cfg, text, &w, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(engine_round(&e, 300), -1);
	assert_int_equal(e.pending, 2);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	assert_true(pid > 1);
	assert_int_equal(getpgid((pid_t)pid), (pid_t)pid);     /* setsid */
	engine_done(&e, &loop, &cfg);   /* asserts uv_loop_close() == 0 */
	for (i = 0; i < 100; i++) {
		st = proc_state(pid);
		if (st == 0 || st == 'Z')
			break;
		usleep(10000);
	}
	assert_true(st == 0 || st == 'Z');
	/* The background sleep of the same group is gone too (a zombie
	 * waits for this process to exit: the handle was closed). */
	for (i = 0; i < 100 && group_alive((pid_t)pid); i++)
		usleep(10000);
	assert_false(group_alive((pid_t)pid));
	close(ls);
	unlink(pidfile);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_abandon),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
