/*
 * test_perfdata.c - Nagios plugin output: first line, long output,
 * perfdata on the first and later lines, labels, UOMs, `U`, empty and
 * omitted fields, malformed items dropped with a reason, exit statuses.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

static int
parse(const char *s, struct nx_plugin_output *o)
{
	return plugin_output_parse(s, strlen(s), o);
}

static const struct nx_perf *
find(const struct nx_plugin_output *o, const char *label)
{
	size_t i;

	for (i = 0; i < o->nperf; i++) {
		if (strcmp(o->perf[i].label, label) == 0)
			return &o->perf[i];
	}
	fail_msg("no perfdata item '%s'", label);
	return NULL;
}

static void
test_first_line_only(void **state)
{
	struct nx_plugin_output o;

	assert_int_equal(parse("DISK OK - free space: / 3326 MB (56%);  \n", &o),
	    0);
	assert_string_equal(o.first_line, "DISK OK - free space: / 3326 MB (56%);");
	assert_null(o.long_output);
	assert_int_equal(o.nperf, 0);
	plugin_output_free(&o);

	assert_int_equal(parse("", &o), 0);
	assert_string_equal(o.first_line, "");
	assert_null(o.long_output);
	plugin_output_free(&o);
}

/* The example of the Nagios plugin API documentation. */
static void
test_long_output_and_perfdata(void **state)
{
	struct nx_plugin_output o;
	const char *s =
	    "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n"
	    "/ 15272 MB (77%);\n"
	    "/boot 68 MB (69%);\n"
	    "/home 69357 MB (27%);\n"
	    "/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n"
	    "/home=69357MB;253404;253409;0;253414 \n"
	    "/var/log=818MB;970;975;0;980\n";
	const struct nx_perf *p;

	assert_int_equal(parse(s, &o), 0);
	assert_string_equal(o.first_line, "DISK OK - free space: / 3326 MB (56%);");
	assert_string_equal(o.long_output, "/ 15272 MB (77%);\n"
	    "/boot 68 MB (69%);\n/home 69357 MB (27%);\n"
	    "/var/log 819 MB (84%);");
	assert_int_equal(o.nperf, 4);
	assert_string_equal(o.perf[0].label, "/");
	assert_string_equal(o.perf[1].label, "/boot");
	assert_string_equal(o.perf[2].label, "/home");
	assert_string_equal(o.perf[3].label, "/var/log");
	p = find(&o, "/");
	assert_true(p->value == 2643);
	assert_string_equal(p->uom, "MB");
	assert_true(p->has_warn && p->warn == 5948);
	assert_string_equal(p->warn_text, "5948");
	assert_true(p->has_crit && p->crit == 5958);
	assert_true(p->has_min && p->min == 0);
	assert_true(p->has_max && p->max == 5968);
	p = find(&o, "/var/log");
	assert_true(p->value == 818 && p->max == 980);
	plugin_output_free(&o);
}

static void
test_long_output_without_perfdata(void **state)
{
	struct nx_plugin_output o;

	assert_int_equal(parse("OK\nline 2\nline 3\n\n", &o), 0);
	assert_string_equal(o.first_line, "OK");
	assert_string_equal(o.long_output, "line 2\nline 3");
	assert_int_equal(o.nperf, 0);
	plugin_output_free(&o);
	/* Perfdata starting right after the first line's `|` on line 2. */
	assert_int_equal(parse("OK\n| a=1 b=2", &o), 0);
	assert_null(o.long_output);
	assert_int_equal(o.nperf, 2);
	plugin_output_free(&o);
}

static void
test_empty_fields(void **state)
{
	struct nx_plugin_output o;
	const struct nx_perf *p;

	assert_int_equal(parse("OK | 'data'=5;;;; x=3 y=4;;7", &o), 0);
	assert_int_equal(o.nperf, 3);
	p = find(&o, "data");
	assert_true(p->value == 5);
	assert_string_equal(p->uom, "");
	assert_false(p->has_warn || p->has_crit || p->has_min || p->has_max);
	assert_null(p->warn_text);
	assert_true(isnan(p->warn) && isnan(p->max));
	p = find(&o, "x");
	assert_true(p->value == 3);
	assert_false(p->has_warn);
	p = find(&o, "y");
	assert_false(p->has_warn);
	assert_true(p->has_crit && p->crit == 7);
	plugin_output_free(&o);
}

/* The example: pl kept, rta dropped with a reason. */
static void
test_malformed_item_dropped(void **state)
{
	struct nx_plugin_output o;
	const struct nx_perf *p;

	assert_int_equal(parse("PING OK | pl=0%;20;60 "
	    "rta=&391ms;100,200;500,034;0; after=1", &o), -1);
	assert_int_equal(o.nperf, 2);
	p = find(&o, "pl");
	assert_true(p->value == 0);
	assert_string_equal(p->uom, "%");
	assert_true(p->warn == 20 && p->crit == 60);
	find(&o, "after");
	assert_int_equal(o.nerrors, 1);
	assert_non_null(strstr(o.errors[0], "rta=&391ms"));
	assert_non_null(strstr(o.errors[0], "is not a number"));
	plugin_output_free(&o);
}

static void
test_labels(void **state)
{
	struct nx_plugin_output o;
	const struct nx_perf *p;

	assert_int_equal(parse("OK | 'a b'=1s 'it''s'=2c x=U "
	    "'eq=sign'=3 ''''=4", &o), 0);
	assert_int_equal(o.nperf, 5);
	p = find(&o, "a b");
	assert_true(p->value == 1);
	assert_string_equal(p->uom, "s");
	p = find(&o, "it's");
	assert_true(p->value == 2);
	assert_string_equal(p->uom, "c");
	p = find(&o, "x");
	assert_true(p->undetermined);
	assert_true(isnan(p->value));
	find(&o, "eq=sign");
	find(&o, "'");
	plugin_output_free(&o);
}

static void
test_uoms(void **state)
{
	static const char *const good[] = {
		"", "s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c",
	};
	static const char *const bad[] = {
		"kb", "Mb", "sec", "x", "%%", "b", "PB", "m",
	};
	struct nx_plugin_output o;
	char buf[64];
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(good); i++) {
		snprintf(buf, sizeof buf, "OK | v=1.5%s", good[i]);
		assert_int_equal(parse(buf, &o), 0);
		assert_int_equal(o.nperf, 1);
		assert_string_equal(o.perf[0].uom, good[i]);
		assert_true(o.perf[0].value == 1.5);
		plugin_output_free(&o);
	}
	for (i = 0; i < NX_ARRAY_LEN(bad); i++) {
		snprintf(buf, sizeof buf, "OK | v=1%s", bad[i]);
		assert_int_equal(parse(buf, &o), -1);
		assert_int_equal(o.nperf, 0);
		assert_int_equal(o.nerrors, 1);
		assert_non_null(strstr(o.errors[0], "unknown unit"));
		plugin_output_free(&o);
	}
}

static void
test_threshold_ranges(void **state)
{
	struct nx_plugin_output o;
	const struct nx_perf *p;

	assert_int_equal(parse("OK | t=15;10:20;@5:25;-40;100 "
	    "u=3;~:10;5:", &o), 0);
	p = find(&o, "t");
	assert_string_equal(p->warn_text, "10:20");
	assert_string_equal(p->crit_text, "@5:25");
	assert_false(range_alert(&p->warn_range, p->value));
	assert_true(range_alert(&p->crit_range, p->value));
	assert_true(p->warn == 20 && p->crit == 25);
	assert_true(p->min == -40 && p->max == 100);
	p = find(&o, "u");
	assert_true(p->warn == 10);
	assert_true(p->crit == 5);
	assert_true(range_alert(&p->crit_range, p->value));
	plugin_output_free(&o);
}

struct bad_case {
	const char *item;
	const char *why;
};

static const struct bad_case bad_cases[] = {
	{ "a=", "missing value" },
	{ "=1", "empty label" },
	{ "''=1", "empty label" },
	{ "a", "no '=' after the label" },
	{ "a'b=1", "a quote inside an unquoted label" },
	{ "'ab'x=1", "no '=' after the quoted label" },
	{ "a=1;2;3;4;5;6", "more than 5" },
	{ "a=1;2:1", "start 2 is greater than end 1" },
	{ "a=1;;foo", "crit: range 'foo'" },
	{ "a=1;;;x", "min 'x' is not a number" },
	{ "a=1;;;;1MB", "max '1MB' is not a number" },
	{ "a=1,5", "unknown unit ',5'" },
	{ "a=Ux", "neither a number nor 'U'" },
};

static void
test_bad_items(void **state)
{
	struct nx_plugin_output o;
	char buf[128];
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(bad_cases); i++) {
		snprintf(buf, sizeof buf, "OK | ok1=1 %s ok2=2",
		    bad_cases[i].item);
		print_message("bad: %s\n", bad_cases[i].item);
		assert_int_equal(parse(buf, &o), -1);
		assert_int_equal(o.nperf, 2);
		assert_string_equal(o.perf[0].label, "ok1");
		assert_string_equal(o.perf[1].label, "ok2");
		assert_int_equal(o.nerrors, 1);
		if (strstr(o.errors[0], bad_cases[i].why) == NULL)
			fail_msg("'%s': '%s' lacks '%s'", bad_cases[i].item,
			    o.errors[0], bad_cases[i].why);
		plugin_output_free(&o);
	}
	/* An unterminated quote swallows the rest: nothing after is parsed. */
	assert_int_equal(parse("OK | ok1=1 'never=2 ok2=3", &o), -1);
	assert_int_equal(o.nperf, 1);
	assert_non_null(strstr(o.errors[0], "unterminated"));
	plugin_output_free(&o);
}

static void
test_nul_and_null(void **state)
{
	struct nx_plugin_output o;
	static const char buf[] = "OK | a=1\0 b=2";

	assert_int_equal(plugin_output_parse(buf, sizeof buf - 1, &o), 0);
	assert_int_equal(o.nperf, 1);
	plugin_output_free(&o);
	assert_int_equal(plugin_output_parse(NULL, 10, &o), 0);
	assert_string_equal(o.first_line, "");
	plugin_output_free(&o);
}

static void
test_exit_status(void **state)
{
	char why[128];

	assert_int_equal(plugin_state_from_exit(0, 0, why, sizeof why), NX_OK);
	assert_string_equal(why, "");
	assert_int_equal(plugin_state_from_exit(1, 0, why, sizeof why),
	    NX_WARNING);
	assert_int_equal(plugin_state_from_exit(2, 0, why, sizeof why),
	    NX_CRITICAL);
	assert_int_equal(plugin_state_from_exit(3, 0, why, sizeof why),
	    NX_UNKNOWN);
	assert_string_equal(why, "");
	assert_int_equal(plugin_state_from_exit(4, 0, why, sizeof why),
	    NX_UNKNOWN);
	assert_non_null(strstr(why, "return code of 4 is out of bounds"));
	assert_int_equal(plugin_state_from_exit(127, 0, why, sizeof why),
	    NX_UNKNOWN);
	assert_non_null(strstr(why, "missing"));
	assert_int_equal(plugin_state_from_exit(-1, 0, why, sizeof why),
	    NX_UNKNOWN);
	assert_int_equal(plugin_state_from_exit(0, SIGKILL, why, sizeof why),
	    NX_UNKNOWN);
	assert_non_null(strstr(why, "signal 9"));
	assert_int_equal(plugin_state_from_exit(255, 0, NULL, 0), NX_UNKNOWN);
}

/*
 * Random text from the characters that matter (quotes, `=`, `;`, `|`,
 * digits, units, white space, newlines, bytes >= 0x80): the parser never
 * fails to account for an item, every kept item has a label and a known
 * UOM, and (under --enable-sanitizers) nothing is read out of bounds.
 */
static void
test_random_input(void **state)
{
	static const char alphabet[] = "'=;|:~@ \t\n.-+e0123456789UsmuKMGTBc%x\x80\xff";
	char buf[96];
	uint32_t seed = 7;
	int round;
	size_t i, j;

	for (round = 0; round < 20000; round++) {
		struct nx_plugin_output o;
		size_t len;
		int rc;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof buf;
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
		}
		/* Not NUL-terminated on purpose: len bounds the input. */
		rc = plugin_output_parse(buf, len, &o);
		assert_non_null(o.first_line);
		assert_int_equal(rc == 0, o.nerrors == 0);
		for (i = 0; i < o.nperf; i++) {
			const struct nx_perf *p = &o.perf[i];
			bool known = p->uom[0] == '\0';

			assert_true(p->label[0] != '\0');
			for (j = 0; !known && j < 10; j++) {
				static const char *const u[] = { "s", "ms",
				    "us", "%", "B", "KB", "MB", "GB", "TB", "c" };

				known = strcmp(p->uom, u[j]) == 0;
			}
			assert_true(known);
			assert_true(p->undetermined == (bool)isnan(p->value));
			assert_int_equal(p->has_warn, p->warn_text != NULL);
		}
		for (i = 0; i < o.nerrors; i++)
			assert_non_null(strstr(o.errors[i], "perfdata '"));
		plugin_output_free(&o);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_line_only),
		cmocka_unit_test(test_long_output_and_perfdata),
		cmocka_unit_test(test_long_output_without_perfdata),
		cmocka_unit_test(test_empty_fields),
		cmocka_unit_test(test_malformed_item_dropped),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_uoms),
		cmocka_unit_test(test_threshold_ranges),
		cmocka_unit_test(test_bad_items),
		cmocka_unit_test(test_nul_and_null),
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_random_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
