/*
 * test_action.c - actions.define: parsing, defaults, validation at load
 * with file:line:column errors, and input checks (patterns anchored at
 * both ends).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "act.h"

static int
load(struct nx_config *cfg, const char *text, struct nx_err *err)
{
	config_defaults(cfg);
	return config_load_buffer(cfg, "a.json", text, strlen(text), err);
}

static const char good[] =
    "{\"actions\": {\"define\": [\n"
    "  {\"name\": \"restart\", \"kind\": \"ssh\",\n"
    "   \"command\": \"sudo systemctl restart $INPUT:unit$\",\n"
    "   \"target\": \"@web\", \"confirm\": true,\n"
    "   \"inputs\": [{\"name\": \"unit\", \"pattern\": \"[a-z0-9@._-]+\",\n"
    "                \"default\": \"nginx\"}]},\n"
    "  {\"name\": \"reboot\", \"kind\": \"provider\", \"provider_action\": "
    "\"reboot\",\n   \"role\": \"admin\", \"dangerous\": true, "
    "\"timeout\": \"2m\", \"concurrency\": 4},\n"
    "  {\"name\": \"note\", \"kind\": \"local\", \"command\": \"echo "
    "$HOSTNAME$ >> $INPUT:file$\",\n"
    "   \"inputs\": [{\"name\": \"file\"}]}\n"
    "]}}";

static void
test_parse(void **state)
{
	struct nx_config cfg, copy;
	struct nx_err err = { { 0 } };
	const struct nx_action *a;
	json_t *j;

	(void)state;
	assert_int_equal(load(&cfg, good, &err), 0);
	assert_int_equal(cfg.nactions, 3);
	a = &cfg.actions[0];
	assert_string_equal(a->name, "restart");
	assert_int_equal(a->kind, NX_ACTION_SSH);
	assert_int_equal(a->timeout_ms, 60000);
	assert_int_equal(a->concurrency, 32);
	assert_int_equal(a->role, NX_ROLE_OPERATOR);
	assert_true(a->confirm);
	assert_false(a->dangerous);
	assert_string_equal(a->target, "@web");
	assert_int_equal(a->ninputs, 1);
	assert_string_equal(a->inputs[0].def, "nginx");
	assert_int_equal(a->inputs[0].max_len, 256);
	assert_string_equal(a->where, "a.json:2:4");
	a = &cfg.actions[1];
	assert_int_equal(a->kind, NX_ACTION_PROVIDER);
	assert_int_equal(a->role, NX_ROLE_ADMIN);
	assert_int_equal(a->timeout_ms, 120000);
	assert_int_equal(a->concurrency, 4);
	assert_true(a->dangerous);
	/* config show prints them; a load over the config keeps a copy. */
	j = config_to_json(&cfg);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(j, "actions"), "define"), 2),
	    "kind")), "local");
	json_decref(j);
	config_defaults(&copy);
	config_free(&copy);
	assert_int_equal(config_load_buffer(&cfg, "b.json", "{\"demo\": "
	    "{\"nodes\": 3}}", 22, &err), 0);
	assert_int_equal(cfg.nactions, 3);
	assert_string_equal(cfg.actions[2].inputs[0].name, "file");
	config_free(&cfg);
}

struct bad {
	const char *text;
	const char *want;
};

static void
test_errors(void **state)
{
	static const struct bad bad[] = {
		{ "{\"actions\": {\"define\": {}}}",
		  "a.json:1:24: actions.define: expected an array of action "
		  "definitions, got an object" },
		{ "{\"actions\": {\"define\": [{\"name\": \"x\"}]}}",
		  "a.json:1:26: actions.define[0].name: action \"x\" has no "
		  "\"kind\" (ssh, local or provider)" },
		/* No name: at its kind, else at actions.define (jpos_fail). */
		{ "{\"actions\": {\"define\": [{\"kind\": \"ssh\"}]}}",
		  "a.json:1:26: actions.define[0]: missing \"name\"" },
		{ "{\"actions\": {\"define\": [5]}}",
		  "a.json:1:24: actions.define[0]: expected an object defining "
		  "an action, got 5" },
		{ "{\"actions\": {\"define\": [{\"name\": \"x\", \"kind\": "
		  "\"ssh\", \"command\": \"x\",\n  \"inputs\": [{\"pattern\": "
		  "\"a\"}]}]}}",
		  "a.json:2:13: actions.define[0].inputs[0]: input has no "
		  "\"name\"" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"telnet\"}]}}",
		  "a.json:2:24: actions.define[0].kind: expected ssh, local or "
		  "provider, got \"telnet\"" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"ssh\",\n  \"command\": \"echo $INPUT:nope$\"}]}}",
		  "a.json:3:14: actions.define[0].command: $INPUT:nope$: the "
		  "action has no input \"nope\"" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"ssh\",\n  \"command\": \"echo $HOSTNAM$\"}]}}",
		  "a.json:3:14: actions.define[0].command: unknown macro "
		  "$HOSTNAM$" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"ssh\", \"command\": \"x\",\n  \"inputs\": [{\"name\": \"u\", "
		  "\"pattern\": \"[a-\"}]}]}}",
		  "a.json:3:39: actions.define[0].inputs[0].pattern: bad "
		  "pattern" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"ssh\", \"command\": \"x\",\n  \"inputs\": [{\"name\": \"u\", "
		  "\"pattern\": \"[a-z]+\", \"default\": \"a;b\"}]}]}}",
		  "a.json:3:60: actions.define[0].inputs[0].default: the "
		  "default fails its own check: input u: value \"a;b\" does not "
		  "match the pattern [a-z]+" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"ssh\", \"command\": \"x\", \"role\": \"root\"}]}}",
		  "a.json:2:55: actions.define[0].role: expected operator or "
		  "admin, got \"root\"" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"ssh\", \"command\": \"x\", \"colour\": 1}]}}",
		  "a.json:2:47: actions.define[0].colour: unknown key "
		  "\"colour\"" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"ssh\", \"command\": \"x\", \"target\": \"web[\"}]}}",
		  "a.json:2:57: actions.define[0].target: column 4: unterminated" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"ssh\", \"command\": \"x\"},\n {\"name\": \"x\", \"kind\": "
		  "\"local\", \"command\": \"y\"}]}}",
		  "a.json:3:11: actions.define[1].name: action \"x\" is already "
		  "defined at a.json:2:3" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"provider\"}]}}",
		  "a.json:2:24: actions.define[0].kind: provider action \"x\" "
		  "has no \"provider_action\"" },
		{ "{\"actions\": {\"define\": [\n {\"name\": \"x\", \"kind\": "
		  "\"ssh\", \"command\": \"x\", \"timeout\": \"soon\"}]}}",
		  "a.json:2:58: actions.define[0].timeout: expected a duration" },
	};
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	size_t i, wrong = 0;

	(void)state;
	for (i = 0; i < NX_ARRAY_LEN(bad); i++) {
		assert_int_equal(load(&cfg, bad[i].text, &err), -1);
		if (strncmp(err.msg, bad[i].want, strlen(bad[i].want)) != 0) {
			print_error("case %zu:\n got: %s\nwant: %s\n", i,
			    err.msg, bad[i].want);
			wrong++;
		}
		config_free(&cfg);
	}
	assert_int_equal(wrong, 0);
}

static void
test_inputs(void **state)
{
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	struct engine e;
	uv_loop_t loop;
	const struct nx_action *a;
	json_t *in, *out;

	(void)state;
	assert_int_equal(load(&cfg, good, &err), 0);
	uv_loop_init(&loop);
	engine_init(&e, &loop, &cfg);
	assert_null(action_find(&e, "nope"));
	a = action_find(&e, "restart");
	assert_non_null(a);
	/* Defaults filled. */
	out = action_inputs(a, NULL, &err);
	assert_non_null(out);
	assert_string_equal(json_string_value(json_object_get(out, "unit")),
	    "nginx");
	json_decref(out);
	/* Anchored at both ends: a valid prefix is not enough. */
	in = json_pack("{s:s}", "unit", "nginx; rm -rf /");
	assert_null(action_inputs(a, in, &err));
	assert_string_equal(err.msg, "action restart: input unit: value "
	    "\"nginx; rm -rf /\" does not match the pattern [a-z0-9@._-]+");
	json_decref(in);
	in = json_pack("{s:s}", "unit", "x$(id)");
	assert_null(action_inputs(a, in, &err));
	json_decref(in);
	in = json_pack("{s:s}", "unit", "php8.2-fpm");
	out = action_inputs(a, in, &err);
	assert_non_null(out);
	json_decref(out);
	json_decref(in);
	/* Unknown name; required input missing; control characters. */
	in = json_pack("{s:s}", "unti", "x");
	assert_null(action_inputs(a, in, &err));
	assert_string_equal(err.msg, "action restart has no input \"unti\"");
	json_decref(in);
	a = action_find(&e, "note");
	assert_null(action_inputs(a, NULL, &err));
	assert_string_equal(err.msg, "action note: input file is required");
	in = json_pack("{s:s}", "file", "a\tb");
	assert_null(action_inputs(a, in, &err));
	assert_non_null(strstr(err.msg, "control character"));
	json_decref(in);
	in = json_pack("{s:i}", "file", 3);
	assert_null(action_inputs(a, in, &err));
	assert_non_null(strstr(err.msg, "must be a string"));
	json_decref(in);
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
