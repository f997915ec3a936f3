/*
 * test_config.c - the configuration file: defaults, a full file, every
 * class of error with its exact file:line:column, durations, the nearest-key
 * suggestion, XDG path resolution, and the JSON position scanner.
 *
 * Every test writes real files under a mkdtemp directory (the fixture) and
 * loads them through config_load, as the command line does.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"

struct fixture {
	char dir[64];
	char path[256];         /* the last file written */
	char *saved_xdg, *saved_home;
};

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof *fx);
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	snprintf(fx->dir, sizeof fx->dir, "/tmp/nx-test-config.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->saved_xdg = xdg != NULL ? xstrdup(xdg) : NULL;
	fx->saved_home = home != NULL ? xstrdup(home) : NULL;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	if (fx->saved_xdg != NULL)
		setenv("XDG_CONFIG_HOME", fx->saved_xdg, 1);
	else
		unsetenv("XDG_CONFIG_HOME");
	if (fx->saved_home != NULL)
		setenv("HOME", fx->saved_home, 1);
	else
		unsetenv("HOME");
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx->saved_xdg);
	free(fx->saved_home);
	free(fx);
	return 0;
}

/* Writes len bytes of text to DIR/name; fx->path is its path. */
static const char *
write_file_len(struct fixture *fx, const char *name, const char *text,
    size_t len)
{
	FILE *fp;

	snprintf(fx->path, sizeof fx->path, "%s/%s", fx->dir, name);
	assert_non_null(fp = fopen(fx->path, "wb"));
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	return fx->path;
}

static const char *
write_file(struct fixture *fx, const char *name, const char *text)
{
	return write_file_len(fx, name, text, strlen(text));
}

/*
 * Loads text from a file over the defaults and asserts that it fails with
 * exactly "PATH" followed by `expect` (which starts with ':' and the
 * position).  Also asserts that the configuration was left untouched.
 */
static void
expect_error_len(struct fixture *fx, const char *text, size_t len,
    const char *expect)
{
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	char want[1024];
	const char *path = write_file_len(fx, "bad.json", text, len);

	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, path, &err), -1);
	snprintf(want, sizeof want, "%s%s", path, expect);
	assert_string_equal(err.msg, want);
	assert_null(cfg.path);
	assert_int_equal(cfg.demo.nodes, 5000);
	assert_int_equal(cfg.checks.interval_ms, 30000);
	assert_string_equal(cfg.console.theme, "default");
	config_free(&cfg);
}

static void
expect_error(struct fixture *fx, const char *text, const char *expect)
{
	expect_error_len(fx, text, strlen(text), expect);
}

static void
test_defaults(void **state)
{
	struct nx_config cfg;
	json_t *j;

	config_defaults(&cfg);
	assert_null(cfg.path);
	assert_true(cfg.demo.enabled);
	assert_int_equal(cfg.demo.nodes, 5000);
	assert_int_equal(cfg.demo.seed, 1);
	assert_true(cfg.demo.local);
	assert_int_equal(cfg.checks.interval_ms, 30000);
	assert_int_equal(cfg.checks.retry_ms, 10000);
	assert_int_equal(cfg.checks.max_attempts, 3);
	assert_int_equal(cfg.checks.timeout_ms, 10000);
	assert_int_equal(cfg.console.fps, 10);
	assert_string_equal(cfg.console.theme, "default");

	j = config_to_json(&cfg);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "checks"), "retry_interval")), "10s");
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(j, "demo"), "nodes")), 5000);
	json_decref(j);
	assert_string_equal(config_key_help("checks", "interval"),
	    "default time between two checks in a steady state");
	assert_null(config_key_help("checks", "nope"));
	config_free(&cfg);
}

static void
test_full_file(void **state)
{
	struct fixture *fx = *state;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	const char *path = write_file(fx, "full.json",
	    "{\n"
	    "\t\"demo\": { \"enabled\": false, \"nodes\": 10000000,\n"
	    "\t          \"seed\": 9223372036854775807, \"local\": false },\n"
	    "\t\"checks\": { \"interval\": \"1h30m\", \"retry_interval\": 2.5,\n"
	    "\t            \"max_attempts\": 100, \"timeout\": \"500ms\" },\n"
	    "\t\"console\": { \"fps\": 60, \"theme\": \"Solarized_dark-2\" }\n"
	    "}\n");

	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, path, &err), 0);
	assert_string_equal(cfg.path, path);
	assert_false(cfg.demo.enabled);
	assert_int_equal(cfg.demo.nodes, 10000000);
	assert_true(cfg.demo.seed == 9223372036854775807ULL);
	assert_false(cfg.demo.local);
	assert_int_equal(cfg.checks.interval_ms, 5400000);
	assert_int_equal(cfg.checks.retry_ms, 2500);
	assert_int_equal(cfg.checks.max_attempts, 100);
	assert_int_equal(cfg.checks.timeout_ms, 500);
	assert_int_equal(cfg.console.fps, 60);
	assert_string_equal(cfg.console.theme, "Solarized_dark-2");
	config_free(&cfg);
}

/* Keys a file leaves out keep what the configuration had before. */
static void
test_partial_file(void **state)
{
	struct fixture *fx = *state;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };

	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, write_file(fx, "p.json",
	    "{\"checks\": {\"timeout\": 3}, \"demo\": {}}"), &err), 0);
	assert_int_equal(cfg.checks.timeout_ms, 3000);
	assert_int_equal(cfg.checks.interval_ms, 30000);
	assert_int_equal(cfg.demo.nodes, 5000);
	assert_string_equal(cfg.console.theme, "default");
	config_free(&cfg);
}

/* console.columns: the fleet view's columns by name, in order. */
static void
test_console_columns(void **state)
{
	struct fixture *fx = *state;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	json_t *j;
	char *dump;

	/* The default: none chosen, every column in the default order. */
	config_defaults(&cfg);
	assert_int_equal(cfg.console.ncolumns, 0);
	j = config_to_json(&cfg);
	dump = json_dumps(json_object_get(json_object_get(j, "console"),
	    "columns"), JSON_COMPACT);
	assert_string_equal(dump, "[\"state\",\"name\",\"address\",\"group\","
	    "\"load\",\"cpu\",\"mem\",\"disk\",\"change\"]");
	free(dump);
	json_decref(j);

	assert_int_equal(config_load(&cfg, write_file(fx, "c.json",
	    "{\"console\": {\"columns\": [\"name\", \"state\", \"load\"]}}"),
	    &err), 0);
	assert_int_equal(cfg.console.ncolumns, 3);
	assert_int_equal(cfg.console.columns[0], NX_COL_NAME);
	assert_int_equal(cfg.console.columns[1], NX_COL_STATE);
	assert_int_equal(cfg.console.columns[2], NX_COL_LOAD);
	j = config_to_json(&cfg);
	dump = json_dumps(json_object_get(json_object_get(j, "console"),
	    "columns"), JSON_COMPACT);
	assert_string_equal(dump, "[\"name\",\"state\",\"load\"]");
	free(dump);
	json_decref(j);
	config_free(&cfg);

	/* Every column, in another order. */
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, write_file(fx, "c.json",
	    "{\"console\": {\"columns\": [\"change\", \"disk\", \"mem\", \"cpu\","
	    " \"load\", \"group\", \"address\", \"name\", \"state\"]}}"),
	    &err), 0);
	assert_int_equal(cfg.console.ncolumns, NX_COL__COUNT);
	assert_int_equal(cfg.console.columns[0], NX_COL_CHANGE);
	assert_int_equal(cfg.console.columns[8], NX_COL_STATE);
	config_free(&cfg);

	expect_error(fx, "{\"console\": {\"columns\": [\"name\", \"lod\"]}}",
	    ":1:25: console.columns[1]: unknown column \"lod\" (did you mean "
	    "\"load\"?)");
	expect_error(fx, "{\"console\": {\"columns\": [\"name\", \"uptime\"]}}",
	    ":1:25: console.columns[1]: unknown column \"uptime\" (known: "
	    "state, name, address, group, load, cpu, mem, disk, change)");
	expect_error(fx, "{\"console\": {\n  \"columns\": [\"name\", \"load\","
	    " \"name\"]}}",
	    ":2:14: console.columns[2]: column \"name\" is named twice");
	expect_error(fx, "{\"console\": {\"columns\": []}}",
	    ":1:25: console.columns: expected at least one column");
	expect_error(fx, "{\"console\": {\"columns\": \"name,load\"}}",
	    ":1:25: console.columns: expected an array of column names, e.g. "
	    "[\"state\", \"name\", \"load\"]");
	expect_error(fx, "{\"console\": {\"columns\": [\"name\", 3]}}",
	    ":1:25: console.columns[1]: expected a column name (string)");
	expect_error(fx, "{\"console\": {\"columns\": [\"state\", \"load\"]}}",
	    ":1:25: console.columns: the columns must include \"name\"");
	expect_error(fx, "{\"console\": {\"colums\": [\"name\"]}}",
	    ":1:14: unknown key \"colums\" in console (did you mean "
	    "\"columns\"?)");
}

static void
test_syntax_errors(void **state)
{
	struct fixture *fx = *state;

	/* jansson's own position (the end of the bad token) and text. */
	expect_error(fx, "{\"demo\": {\"enabled\": tru}}",
	    ":1:24: invalid token near 'tru'");
	expect_error(fx, "{\n  \"demo\": {\n    \"nodes\": 5,\n  }\n}\n",
	    ":4:3: string or '}' expected near '}'");
	expect_error(fx, "{\"demo\": {\"nodes\": 5}",
	    ":1:21: '}' expected near end of file");
	expect_error(fx, "{\"demo\": {\"nodes\": 99999999999999999999}}",
	    ":1:39: too big integer near '99999999999999999999'");
	/* Control characters from the file never reach the message raw. */
	expect_error(fx, "{\"demo\": {\"n\x01\": 1}}",
	    ":1:12: control character 0x1 near '\"n'");
	/* Invalid UTF-8. */
	expect_error(fx, "{\"demo\": {\"\xff\": 1}}",
	    ":1:11: unable to decode byte 0xff near '\"'");
}

static void
test_unknown_keys(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "{\n  \"checks\": {\n    \"intervall\": \"10s\"\n  }\n}\n",
	    ":3:5: unknown key \"intervall\" in checks "
	    "(did you mean \"interval\"?)");
	expect_error(fx, "{\"checks\": {\"retry-interval\": 1}}",
	    ":1:13: unknown key \"retry-interval\" in checks "
	    "(did you mean \"retry_interval\"?)");
	expect_error(fx, "{\"console\": {\"fsp\": 1}}",
	    ":1:14: unknown key \"fsp\" in console (did you mean \"fps\"?)");
	expect_error(fx, "{\"console\": {\"theem\": \"x\"}}",
	    ":1:14: unknown key \"theem\" in console "
	    "(did you mean \"theme\"?)");
	expect_error(fx, "{\"demo\": {\"zzz\": 1}}",
	    ":1:11: unknown key \"zzz\" in demo "
	    "(known keys: enabled, nodes, seed, local)");
	expect_error(fx, "{\"demo\": {\"nodes\": 1},\n \"dmeo\": {}}",
	    ":2:2: unknown section \"dmeo\" (did you mean \"demo\"?)");
	expect_error(fx, "{\"inventory\": []}",
	    ":1:2: unknown section \"inventory\" "
	    "(known sections: demo, checks, actions, providers, roles, console, "
	    "remediation, "
	    "store)");
	/* A key in the wrong section, or with no section. */
	expect_error(fx, "{\"checks\": {\"fps\": 1}}",
	    ":1:13: unknown key \"fps\" in checks "
	    "(\"fps\" is a key of section \"console\")");
	expect_error(fx, "{\"interval\": \"10s\"}",
	    ":1:2: unknown section \"interval\" "
	    "(\"interval\" is a key of section \"checks\")");
	/* A key with a control character is quoted with it escaped. */
	expect_error(fx, "{\"demo\": {\"a\\u001bb\": 1}}",
	    ":1:11: unknown key \"a\\x1bb\" in demo "
	    "(known keys: enabled, nodes, seed, local)");
	/* A long key is cut in the message. */
	expect_error(fx, "{\"demo\": {\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": 1}}",
	    ":1:11: unknown key \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" "
	    "in demo (known keys: enabled, nodes, seed, local)");
}

static void
test_wrong_types(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "{\"demo\": {\"enabled\": \"yes\"}}",
	    ":1:22: demo.enabled: expected true or false, got \"yes\"");
	expect_error(fx, "{\"demo\": {\"nodes\": \"3\"}}",
	    ":1:20: demo.nodes: expected an integer from 0 to 10000000, "
	    "got \"3\"");
	expect_error(fx, "{\"demo\": {\"nodes\": 2.5}}",
	    ":1:20: demo.nodes: expected an integer from 0 to 10000000, "
	    "got 2.5");
	expect_error(fx, "{\"demo\": {\"local\": null}}",
	    ":1:20: demo.local: expected true or false, got null");
	expect_error(fx, "{\n\t\"checks\": {\n\t\t\"interval\": \"ten\"\n\t}\n}\n",
	    ":3:15: checks.interval: expected a duration like \"10s\" or a "
	    "number of seconds, got \"ten\"");
	expect_error(fx, "{\"checks\": {\"timeout\": true}}",
	    ":1:24: checks.timeout: expected a duration like \"10s\" or a "
	    "number of seconds, got true");
	expect_error(fx, "{\"checks\": {\"timeout\": [10]}}",
	    ":1:24: checks.timeout: expected a duration like \"10s\" or a "
	    "number of seconds, got an array");
	expect_error(fx, "{\"console\": {\"theme\": 5}}",
	    ":1:23: console.theme: expected a name of letters, digits, '_' "
	    "and '-' (at most 64), got 5");
	expect_error(fx, "{\"console\": {\"theme\": \"../etc\"}}",
	    ":1:23: console.theme: expected a name of letters, digits, '_' "
	    "and '-' (at most 64), got \"../etc\"");
	expect_error(fx, "{\"console\": {\"theme\": \"\"}}",
	    ":1:23: console.theme: expected a name of letters, digits, '_' "
	    "and '-' (at most 64), got \"\"");
	expect_error(fx, "{\"checks\": 10}",
	    ":1:12: checks: expected an object of settings, got 10");
	expect_error(fx, "{\"demo\": [ {\"nodes\": 1} ]}",
	    ":1:10: demo: expected an object of settings, got an array");
	/* An escaped key is the same key; the position is still found. */
	expect_error(fx, "{\"\\u0063hecks\": {\"max_\\u0061ttempts\": 0}}",
	    ":1:39: checks.max_attempts: expected an integer from 1 to 100, "
	    "got 0");
}

static void
test_out_of_range(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "{\"demo\": {\"nodes\": 10000001}}",
	    ":1:20: demo.nodes: expected an integer from 0 to 10000000, "
	    "got 10000001");
	expect_error(fx, "{\"demo\": {\"seed\": -1}}",
	    ":1:19: demo.seed: expected an integer >= 0, got -1");
	expect_error(fx, "{\"checks\": {\"max_attempts\": 101}}",
	    ":1:29: checks.max_attempts: expected an integer from 1 to 100, "
	    "got 101");
	expect_error(fx, "{\"console\": {\"fps\": 61}}",
	    ":1:21: console.fps: expected an integer from 1 to 60, got 61");
	expect_error(fx, "{\"console\": {\"fps\": 0}}",
	    ":1:21: console.fps: expected an integer from 1 to 60, got 0");
	expect_error(fx, "{\"checks\": {\"interval\": 0}}",
	    ":1:25: checks.interval: expected a duration from 100ms to 7d, "
	    "got 0");
	expect_error(fx, "{\"checks\": {\"interval\": -5}}",
	    ":1:25: checks.interval: expected a duration from 100ms to 7d, "
	    "got -5");
	expect_error(fx, "{\"checks\": {\"interval\": \"0s\"}}",
	    ":1:25: checks.interval: expected a duration from 100ms to 7d, "
	    "got \"0s\"");
	expect_error(fx, "{\"checks\": {\"retry_interval\": \"50ms\"}}",
	    ":1:31: checks.retry_interval: expected a duration from 100ms "
	    "to 7d, got \"50ms\"");
	expect_error(fx, "{\"checks\": {\"interval\": \"8d\"}}",
	    ":1:25: checks.interval: expected a duration from 100ms to 7d, "
	    "got \"8d\"");
	expect_error(fx, "{\"checks\": {\"timeout\": 3601}}",
	    ":1:24: checks.timeout: expected a duration from 100ms to 1h, "
	    "got 3601");
	expect_error(fx, "{\"checks\": {\"timeout\": 1e300}}",
	    ":1:24: checks.timeout: expected a duration from 100ms to 1h, "
	    "got 1e+300");
	expect_error(fx, "{\"checks\": {\"timeout\": \"99999999999999999999999h\"}}",
	    ":1:24: checks.timeout: expected a duration from 100ms to 1h, "
	    "got \"99999999999999999999999h\"");
	expect_error(fx, "{\"checks\": {\"timeout_state\": \"red\"}}",
	    ":1:30: checks.timeout_state: expected critical, warning, "
	    "unknown or ok, got \"red\"");
	expect_error(fx, "{\"checks\": {\"flap_low_threshold\": 40}}",
	    ":1:35: checks: flap_low_threshold (40) must be below "
	    "flap_high_threshold (30)");
	expect_error(fx, "{\"checks\": {\"flap_high_threshold\": 10}}",
	    ":1:36: checks: flap_low_threshold (20) must be below "
	    "flap_high_threshold (10)");
	expect_error(fx, "{\"checks\": {\"max_concurrent\": 0}}",
	    ":1:31: checks.max_concurrent: expected an integer from 1 to "
	    "100000, got 0");
}

/* The monitor settings reach the engine. */
static void
test_monitor_settings(void **state)
{
	struct fixture *fx = *state;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	struct engine e;
	uv_loop_t loop;

	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, write_file(fx, "m.json",
	    "{\"checks\": {\"max_concurrent\": 8, \"flap_low_threshold\": 5,"
	    " \"flap_high_threshold\": 50, \"timeout_state\": \"unknown\"}}"),
	    &err), 0);
	uv_loop_init(&loop);
	engine_init(&e, &loop, &cfg);
	assert_int_equal(e.mon.max_running, 8);
	assert_true(e.mon.flap_low == 5.0f && e.mon.flap_high == 50.0f);
	assert_true(e.mon.timeout_state_set);
	assert_int_equal(e.mon.timeout_state, NX_UNKNOWN);
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
}

static void
test_structure_errors(void **state)
{
	struct fixture *fx = *state;

	/* Duplicates: the second key's first character; its section. */
	expect_error(fx, "{\"checks\": {\"interval\": 1,\n \"interval\": 2}}",
	    ":2:2: duplicate key \"interval\" in checks");
	expect_error(fx, "{\"demo\": {},\n\n   \"demo\": {}}",
	    ":3:4: duplicate key \"demo\" at the top level");
	/* Columns count characters, not bytes. */
	expect_error(fx, "{\"é\": 1, \"é\": 2}",
	    ":1:10: duplicate key \"é\" at the top level");
	/* A byte order mark is skipped and not counted as a column. */
	expect_error(fx, "\xef\xbb\xbf{\"demo\": {\"nodes\": -1}}",
	    ":1:20: demo.nodes: expected an integer from 0 to 10000000, "
	    "got -1");
	expect_error(fx, "\xef\xbb\xbf", ":1:1: empty file: expected a JSON "
	    "object such as {\"demo\": {\"nodes\": 100}}");
	/* Trailing garbage: where it starts. */
	expect_error(fx, "{\"demo\": {}}\n\n  x",
	    ":3:3: unexpected text after the end of the top-level object");
	expect_error(fx, "{}{}",
	    ":1:3: unexpected text after the end of the top-level object");
	/* Empty, blank, and not an object. */
	expect_error(fx, "", ":1:1: empty file: expected a JSON object such as "
	    "{\"demo\": {\"nodes\": 100}}");
	expect_error(fx, " \n\t\r\n", ":1:1: empty file: expected a JSON object "
	    "such as {\"demo\": {\"nodes\": 100}}");
	expect_error(fx, "\n  [1, 2]\n",
	    ":2:3: expected a JSON object at the top level, got an array");
	expect_error(fx, "42", ":1:1: expected a JSON object at the top level, "
	    "got 42");
	expect_error(fx, "\"demo\"", ":1:1: expected a JSON object at the top "
	    "level, got \"demo\"");
	/* jansson would stop at a NUL and never see what follows. */
	expect_error_len(fx, "{}\n \0{", 6, ":2:2: NUL byte in the file: not "
	    "JSON text");
	/* Deep nesting is jansson's syntax error, not a crash. */
	{
		char deep[5001];

		memset(deep, '[', 5000);
		deep[5000] = '\0';
		expect_error(fx, deep, ":1:2049: maximum parsing depth "
		    "reached near '['");
	}
}

static void
test_file_errors(void **state)
{
	struct fixture *fx = *state;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	char path[512], want[600];

	config_defaults(&cfg);
	snprintf(path, sizeof path, "%s/missing.json", fx->dir);
	assert_int_equal(config_load(&cfg, path, &err), -1);
	snprintf(want, sizeof want, "%s: cannot open the configuration: %s",
	    path, strerror(ENOENT));
	assert_string_equal(err.msg, want);

	assert_int_equal(config_load(&cfg, fx->dir, &err), -1);
	snprintf(want, sizeof want, "%s: cannot read the configuration: %s",
	    fx->dir, strerror(EISDIR));
	assert_string_equal(err.msg, want);

	/* root reads anything; the permission case needs an ordinary user. */
	if (geteuid() != 0) {
		write_file(fx, "secret.json", "{}");
		assert_int_equal(chmod(fx->path, 0), 0);
		assert_int_equal(config_load(&cfg, fx->path, &err), -1);
		snprintf(want, sizeof want,
		    "%s: cannot open the configuration: %s", fx->path,
		    strerror(EACCES));
		assert_string_equal(err.msg, want);
	}
	assert_null(cfg.path);
	config_free(&cfg);
}

/* A failed load leaves a previously loaded configuration as it was. */
static void
test_all_or_nothing(void **state)
{
	struct fixture *fx = *state;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	char good[256];

	config_defaults(&cfg);
	snprintf(good, sizeof good, "%s", write_file(fx, "good.json",
	    "{\"console\": {\"theme\": \"mono\"}, \"demo\": {\"nodes\": 7}}"));
	assert_int_equal(config_load(&cfg, good, &err), 0);
	assert_int_equal(config_load(&cfg, write_file(fx, "half.json",
	    "{\"console\": {\"theme\": \"dark\"}, \"demo\": {\"nodes\": -7}}"),
	    &err), -1);
	assert_string_equal(cfg.console.theme, "mono");
	assert_int_equal(cfg.demo.nodes, 7);
	assert_string_equal(cfg.path, good);
	config_free(&cfg);
}

static void
test_durations(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t ms;
	} cases[] = {
		{ "500ms", 0, 500 }, { "10s", 0, 10000 }, { "5m", 0, 300000 },
		{ "1h", 0, 3600000 }, { "1h30m", 0, 5400000 },
		{ "1d", 0, 86400000 }, { "1.5s", 0, 1500 },
		{ "0.25h", 0, 900000 }, { "1m0.5s", 0, 60500 },
		{ "2s2ms", 0, 2002 }, { "0s", 0, 0 }, { "0.0004s", 0, 0 },
		{ "0.0006s", 0, 1 },
		{ "99999999999999999999h", 0, UINT64_MAX },
		{ "", -1, 0 }, { "10", -1, 0 }, { "ten", -1, 0 },
		{ "10 s", -1, 0 }, { " 10s", -1, 0 }, { "10S", -1, 0 },
		{ "-1s", -1, 0 }, { ".5s", -1, 0 }, { "1.s", -1, 0 },
		{ "1h30", -1, 0 }, { "1x", -1, 0 }, { "s", -1, 0 },
		{ "1e3s", -1, 0 }, { "10sec", -1, 0 },
	};
	static const struct {
		uint64_t ms;
		const char *s;
	} formats[] = {
		{ 0, "0s" }, { 1, "1ms" }, { 1500, "1s500ms" }, { 10000, "10s" },
		{ 5400000, "1h30m" }, { 90061001, "1d1h1m1s1ms" },
		{ 604800000, "7d" },
	};
	char buf[64];
	uint64_t ms;
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(cases); i++) {
		ms = 12345;
		assert_int_equal(config_parse_duration(cases[i].s, &ms),
		    cases[i].rc);
		if (cases[i].rc == 0)
			assert_true(ms == cases[i].ms);
	}
	for (i = 0; i < NX_ARRAY_LEN(formats); i++) {
		config_format_duration(formats[i].ms, buf, sizeof buf);
		assert_string_equal(buf, formats[i].s);
		assert_int_equal(config_parse_duration(buf, &ms), 0);
		assert_true(ms == formats[i].ms);
	}
}

/* Numbers of seconds in the file, integer or real. */
static void
test_duration_numbers(void **state)
{
	struct fixture *fx = *state;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };

	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, write_file(fx, "n.json",
	    "{\"checks\": {\"interval\": 30, \"retry_interval\": 0.1, "
	    "\"timeout\": 0.0005e3}}"), &err), 0);
	assert_int_equal(cfg.checks.interval_ms, 30000);
	assert_int_equal(cfg.checks.retry_ms, 100);
	assert_int_equal(cfg.checks.timeout_ms, 500);
	config_free(&cfg);
}

/* What `config show --format json` prints loads back to the same values. */
static void
test_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct nx_config a, b;
	struct nx_err err = { { 0 } };
	json_t *ja, *jb;
	char *text;

	config_defaults(&a);
	assert_int_equal(config_load(&a, write_file(fx, "a.json",
	    "{\"checks\": {\"interval\": 90.5, \"timeout\": \"1m1ms\"}, "
	    "\"demo\": {\"seed\": 77, \"local\": false}, "
	    "\"console\": {\"theme\": \"x-y\"}}"), &err), 0);
	ja = config_to_json(&a);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(ja, "checks"), "interval")), "1m30s500ms");
	text = json_dumps(ja, NX_JSON_FLAGS);
	config_defaults(&b);
	assert_int_equal(config_load(&b, write_file(fx, "b.json", text), &err),
	    0);
	jb = config_to_json(&b);
	assert_true(json_equal(ja, jb));
	assert_int_equal(b.checks.interval_ms, 90500);
	assert_int_equal(b.checks.timeout_ms, 60001);
	free(text);
	json_decref(ja);
	json_decref(jb);
	config_free(&a);
	config_free(&b);
}

static void
test_xdg_path(void **state)
{
	struct fixture *fx = *state;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	char want[512], sub[1024];
	char *p;

	setenv("XDG_CONFIG_HOME", fx->dir, 1);
	setenv("HOME", "/home/nobody-here", 1);
	p = config_default_path();
	snprintf(want, sizeof want, "%s/nexusctl/config.json", fx->dir);
	assert_string_equal(p, want);
	free(p);

	/* Empty or relative XDG_CONFIG_HOME: ignored, ~/.config is used. */
	setenv("XDG_CONFIG_HOME", "", 1);
	p = config_default_path();
	assert_string_equal(p, "/home/nobody-here/.config/nexusctl/config.json");
	free(p);
	setenv("XDG_CONFIG_HOME", "relative/dir", 1);
	p = config_default_path();
	assert_string_equal(p, "/home/nobody-here/.config/nexusctl/config.json");
	free(p);
	unsetenv("XDG_CONFIG_HOME");
	p = config_default_path();
	assert_string_equal(p, "/home/nobody-here/.config/nexusctl/config.json");
	free(p);

	/* No file: the defaults, no error, no path. */
	setenv("XDG_CONFIG_HOME", fx->dir, 1);
	config_defaults(&cfg);
	assert_int_equal(config_load_default(&cfg, &err), 0);
	assert_null(cfg.path);
	assert_int_equal(cfg.demo.nodes, 5000);

	/* A file there is picked up ... */
	snprintf(sub, sizeof sub, "%s/nexusctl", fx->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file(fx, "nexusctl/config.json", "{\"demo\": {\"nodes\": 42}}");
	assert_int_equal(config_load_default(&cfg, &err), 0);
	assert_string_equal(cfg.path, want);
	assert_int_equal(cfg.demo.nodes, 42);

	/* ... and its errors name it. */
	write_file(fx, "nexusctl/config.json", "{\"demo\": {\"nodes\": true}}");
	assert_int_equal(config_load_default(&cfg, &err), -1);
	snprintf(sub, sizeof sub, "%s:1:20: demo.nodes: expected an integer "
	    "from 0 to 10000000, got true", want);
	assert_string_equal(err.msg, sub);

	/* A dangling link is a file that cannot be opened, not "no file". */
	assert_int_equal(unlink(want), 0);
	assert_int_equal(symlink("/nonexistent/x.json", want), 0);
	assert_int_equal(config_load_default(&cfg, &err), -1);
	snprintf(sub, sizeof sub, "%s: cannot open the configuration: %s",
	    want, strerror(ENOENT));
	assert_string_equal(err.msg, sub);
	config_free(&cfg);
}

static int
count_visit(void *arg, const char *const *path, size_t depth,
    const struct jpos *key, size_t key_end, const struct jpos *value)
{
	(*(size_t *)arg)++;
	return 0;
}

/*
 * The place of a configuration error (jpos_place, jpos_fail): the label,
 * key or value, elements by their name or kind, the fallback on the
 * nearest parent and its floor, no label, no text, masking, jpos_where.
 */
static void
test_jpos_place(void **state)
{
	static const char text[] =
	    "{\"s\": {\"k\": [\n"
	    "  {\"name\": \"a\", \"sub\": {\"x\": 1}},\n"
	    "  {\"kind\": \"t\", \"v\": 5},\n"
	    "  7\n"
	    " ]},\n"
	    " \"t\": 1}";
	const char *sub[] = { "sub", "x" };
	struct jpos_place pl;
	struct nx_err err;
	char key[300], *w;
	size_t i;

	(void)state;
	/* A member: its value, or its key. */
	jpos_place_init(&pl, "f.json", text, sizeof text - 1, "s", "k");
	jpos_place_elem(&pl, 0);
	jpos_place_keys(&pl, sub, 2);
	assert_int_equal(jpos_fail(&err, &pl, "bad %d", 1), -1);
	assert_string_equal(err.msg, "f.json:2:30: s.k[0].sub.x: bad 1");
	pl.at_key = true;
	jpos_fail(&err, &pl, "bad");
	assert_string_equal(err.msg, "f.json:2:25: s.k[0].sub.x: bad");
	/* Not there: the nearest parent's value, whatever at_key says. */
	pl.npath = 4;
	jpos_place_key(&pl, "nope");
	jpos_fail(&err, &pl, "bad");
	assert_string_equal(err.msg, "f.json:2:24: s.k[0].sub.nope: bad");
	/* An element: its "name" key, else its "kind" key. */
	pl.npath = 3;
	pl.at_key = false;
	jpos_fail(&err, &pl, "bad");
	assert_string_equal(err.msg, "f.json:2:4: s.k[0]: bad");
	pl.index[2] = 1;
	jpos_fail(&err, &pl, "bad");
	assert_string_equal(err.msg, "f.json:3:4: s.k[1]: bad");
	jpos_place_key(&pl, "missing");
	jpos_fail(&err, &pl, "bad");
	assert_string_equal(err.msg, "f.json:3:4: s.k[1].missing: bad");
	/* A scalar element: its array. */
	pl.npath = 3;
	pl.index[2] = 2;
	jpos_fail(&err, &pl, "bad");
	assert_string_equal(err.msg, "f.json:1:13: s.k[2]: bad");
	w = jpos_where(&pl);
	assert_string_equal(w, "f.json:1:13");
	free(w);
	/* The floor: no fallback above it, and then no position. */
	pl.floor = 3;
	jpos_fail(&err, &pl, "bad");
	assert_string_equal(err.msg, "f.json: s.k[2]: bad");
	w = jpos_where(&pl);
	assert_string_equal(w, "f.json");
	free(w);
	jpos_place_init(&pl, "f.json", text, sizeof text - 1, "s", "nope");
	jpos_fail(&err, &pl, "bad");
	assert_string_equal(err.msg, "f.json: s.nope: bad");
	/* A label shorter than the path; no label; no text. */
	jpos_place_init(&pl, "f.json", text, sizeof text - 1, "s", "k");
	jpos_place_elem(&pl, 0);
	jpos_place_keys(&pl, sub, 2);
	pl.nlabel = 2;
	jpos_fail(&err, &pl, "sub.x: bad");
	assert_string_equal(err.msg, "f.json:2:30: s.k: sub.x: bad");
	jpos_place_init(&pl, "f.json", text, sizeof text - 1, "t", NULL);
	pl.nlabel = 0;
	pl.at_key = true;
	jpos_fail(&err, &pl, "bad");
	assert_string_equal(err.msg, "f.json:6:2: bad");
	jpos_place_init(&pl, "f.json", NULL, 0, "t", NULL);
	jpos_fail(&err, &pl, "bad");
	assert_string_equal(err.msg, "f.json: t: bad");
	/* Control characters (a key from the file) are masked. */
	jpos_place_key(&pl, "a\nb");
	jpos_fail(&err, &pl, "x\033y");
	assert_string_equal(err.msg, "f.json: t.a?b: x?y");
	/* The label stops at 159 bytes; the path at JPOS_MAX_DEPTH. */
	memset(key, 'k', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	jpos_place_init(&pl, "f.json", NULL, 0, "s", key);
	jpos_fail(&err, &pl, "bad");
	assert_int_equal(strlen(err.msg), strlen("f.json: ") + 159 +
	    strlen(": bad"));
	for (i = 0; i < 2 * JPOS_MAX_DEPTH; i++)
		jpos_place_key(&pl, "z");
	assert_int_equal(pl.npath, JPOS_MAX_DEPTH);
}

static void
test_jsonpos(void **state)
{
	static const char text[] =
	    "{\n"
	    "  \"a\": [ {\"b\": 1}, \"x\\\"y\" ],\n"
	    "  \"b\": {\"b\": {\"c\":\n"
	    "     true}},\n"
	    "  \"\\u00e9t\\u00e9\": 2\n"
	    "}";
	const char *p1[] = { "b", "b", "c" }, *p2[] = { "a", "b" },
	    *p3[] = { "été" }, *p4[] = { "b" };
	struct jpos k, v;
	size_t n = 0;
	char deep[20001];

	assert_int_equal(jpos_find(text, sizeof text - 1, p1, 3, &k, &v), 0);
	assert_int_equal(k.line, 3);
	assert_int_equal(k.column, 15);
	assert_int_equal(v.line, 4);
	assert_int_equal(v.column, 6);
	assert_int_equal(jpos_find(text, sizeof text - 1, p4, 1, &k, &v), 0);
	assert_int_equal(k.line, 3);
	assert_int_equal(k.column, 3);
	/* "b" inside the array under "a" is not a member of "a". */
	assert_int_equal(jpos_find(text, sizeof text - 1, p2, 2, &k, &v), -1);
	assert_int_equal(jpos_find(text, sizeof text - 1, p3, 1, &k, &v), 0);
	assert_int_equal(k.line, 5);
	assert_int_equal(v.column, 20);
	assert_int_equal(jpos_walk(text, sizeof text - 1, count_visit, &n), 0);
	assert_int_equal(n, 6);

	jpos_at(text, sizeof text - 1, 4, &k);
	assert_int_equal(k.line, 2);
	assert_int_equal(k.column, 3);
	assert_int_equal(jpos_after_value("[1] ,", 5, &k), 0);
	assert_int_equal(k.column, 5);
	assert_int_equal(jpos_after_value("{\"}\": 1}  ", 10, &k), -1);

	/* Junk and depth: no crash, a clean "could not". */
	assert_int_equal(jpos_walk("{\"a", 3, count_visit, &n), -1);
	memset(deep, '{', sizeof deep - 1);
	deep[sizeof deep - 1] = '\0';
	assert_int_equal(jpos_walk(deep, sizeof deep - 1, count_visit, &n), -1);
	memset(deep, '[', sizeof deep - 1);
	assert_int_equal(jpos_after_value(deep, sizeof deep - 1, &k), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_console_columns, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_syntax_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_types, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_monitor_settings,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_structure_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_all_or_nothing, setup,
		    teardown),
		cmocka_unit_test(test_durations),
		cmocka_unit_test_setup_teardown(test_duration_numbers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_xdg_path, setup, teardown),
		cmocka_unit_test(test_jsonpos),
		cmocka_unit_test(test_jpos_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
