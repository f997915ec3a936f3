/*
 * test_template.c - command templates: macros, shell quoting (checked by
 * running the expansion through a real /bin/sh), and the values and
 * macros that are refused.
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

struct fx {
	struct fleet f;
	struct node *n;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);

	fleet_init(&fx->f);
	fx->n = fleet_add_node(&fx->f, "web01", "10.0.0.1", &provider_inventory);
	fx->n->port = 2222;
	fx->n->vars = json_pack("{s:s, s:i, s:f, s:b, s:[i], s:s}", "unit",
	    "nginx", "count", 42, "ratio", 0.5, "flag", 1, "list", 1,
	    "Color", "blue");
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	json_decref(fx->n->vars);
	fx->n->vars = NULL;
	fleet_free(&fx->f);
	free(fx);
	return 0;
}

/* What /bin/sh makes of `printf '%s|' EXPANDED`: the words it sees. */
static char *
sh_words(const char *expanded)
{
	char *cmd, *out = calloc(1, 8192);
	size_t n;
	FILE *p;

	xasprintf(&cmd, "printf '%%s|' %s", expanded);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, 8191, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	free(cmd);
	return out;
}

static void
test_macros(void **state)
{
	struct fx *fx = *state;
	struct nx_err err = { { 0 } };
	json_t *in = json_pack("{s:s}", "svc", "api");
	char *out;

	assert_int_equal(tmpl_expand("echo $HOSTNAME$ $HOSTADDRESS$ $HOSTPORT$ "
	    "$VAR:unit$ $_HOSTcolor$ $_HOSTCOUNT$ $VAR:ratio$ $INPUT:svc$ "
	    "$USER$ $$HOME", fx->n, in, "alice", &out, &err), 0);
	assert_string_equal(out, "echo 'web01' '10.0.0.1' '2222' 'nginx' "
	    "'blue' '42' '0.5' 'api' 'alice' $HOME");
	free(out);
	json_decref(in);
}

static void
test_quoting(void **state)
{
	static const char *const hostile[] = {
		"$(touch /tmp/x)",
		"'; touch /tmp/y; '",
		"`touch /tmp/z`",
		"a; rm -rf /",
		"it's \"quoted\" & | > < \\ * ? ~ #",
		"''''",
		"",
		"\t tab and spaces  ",
	};
	struct fx *fx = *state;
	struct nx_err err = { { 0 } };
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(hostile); i++) {
		json_t *in = json_pack("{s:s}", "v", hostile[i]);
		char *out, *words, *want;

		assert_int_equal(tmpl_expand("$INPUT:v$", fx->n, in, "u", &out,
		    &err), 0);
		/* One word, byte for byte, whatever the shell could do. */
		words = sh_words(out);
		xasprintf(&want, "%s|", hostile[i]);
		assert_string_equal(words, want);
		free(want);
		free(words);
		free(out);
		json_decref(in);
	}
	/* The quoting is ssh_shell_quote's: ' as '\''. */
	{
		json_t *in = json_pack("{s:s}", "v", "a'b");
		char *out;

		assert_int_equal(tmpl_expand("x $INPUT:v$", fx->n, in, "u",
		    &out, &err), 0);
		assert_string_equal(out, "x 'a'\\''b'");
		free(out);
		json_decref(in);
	}
}

static void
test_refused(void **state)
{
	struct fx *fx = *state;
	struct nx_err err = { { 0 } };
	json_t *in;
	char *out = (char *)"unset";

	/* A newline in a value. */
	in = json_pack("{s:s}", "v", "line1\nrm -rf /");
	assert_int_equal(tmpl_expand("echo $INPUT:v$", fx->n, in, "u", &out,
	    &err), -1);
	assert_null(out);
	assert_string_equal(err.msg, "$INPUT:v$: input v of node web01 holds "
	    "a newline");
	json_decref(in);
	/* A NUL byte. */
	in = json_object();
	json_object_set_new(in, "v", json_stringn("ab\0cd", 5));
	assert_int_equal(tmpl_expand("echo $INPUT:v$", fx->n, in, "u", &out,
	    &err), -1);
	assert_non_null(strstr(err.msg, "holds a NUL byte"));
	json_decref(in);
	/* An unknown macro, a missing var, a var that is not a scalar. */
	assert_int_equal(tmpl_expand("echo $HOSTNAM$", fx->n, NULL, "u", &out,
	    &err), -1);
	assert_non_null(strstr(err.msg, "unknown macro $HOSTNAM$"));
	assert_int_equal(tmpl_expand("echo $VAR:nope$", fx->n, NULL, "u", &out,
	    &err), -1);
	assert_string_equal(err.msg, "$VAR:nope$: var nope is not defined for "
	    "node web01");
	assert_int_equal(tmpl_expand("echo $VAR:list$", fx->n, NULL, "u", &out,
	    &err), -1);
	assert_non_null(strstr(err.msg, "not a string or number"));
	assert_int_equal(tmpl_expand("echo $VAR:flag$", fx->n, NULL, "u", &out,
	    &err), -1);
	assert_int_equal(tmpl_expand("echo $INPUT:v$", fx->n, NULL, "u", &out,
	    &err), -1);
	assert_non_null(strstr(err.msg, "input v is not defined"));
	/* A lone $: the shell's $HOME must be written $$HOME. */
	assert_int_equal(tmpl_expand("echo $HOME", fx->n, NULL, "u", &out,
	    &err), -1);
	assert_non_null(strstr(err.msg, "write $$ for a dollar sign"));
	assert_int_equal(tmpl_expand("x", NULL, NULL, "u", &out, &err), -1);
}

static void
test_validate(void **state)
{
	const char *inputs[] = { "unit", "mode" };
	struct nx_err err = { { 0 } };

	(void)state;
	assert_int_equal(tmpl_validate("systemctl $INPUT:mode$ $INPUT:unit$ "
	    "on $HOSTNAME$ ($VAR:x$, $_HOSTy$, $$)", inputs, 2, &err), 0);
	assert_int_equal(tmpl_validate("x $INPUT:other$", inputs, 2, &err), -1);
	assert_string_equal(err.msg, "$INPUT:other$: the action has no input "
	    "\"other\"");
	assert_int_equal(tmpl_validate("x $BOGUS$", inputs, 2, &err), -1);
	assert_non_null(strstr(err.msg, "unknown macro $BOGUS$"));
	assert_int_equal(tmpl_validate("x $VAR:$", NULL, 0, &err), -1);
	assert_int_equal(tmpl_validate("echo $", NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "column 6"));
}

static void
test_scalar(void **state)
{
	char num[TMPL_SCALAR_NUM];
	json_t *v;

	(void)state;
	v = json_integer(-7);
	assert_string_equal(tmpl_scalar(v, false, num), "-7");
	json_decref(v);
	v = json_true();
	assert_null(tmpl_scalar(v, false, num));
	assert_string_equal(tmpl_scalar(v, true, num), "true");
	json_decref(v);
	v = json_null();
	assert_null(tmpl_scalar(v, true, num));
	json_decref(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_macros, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_scalar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
