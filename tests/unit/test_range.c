/*
 * test_range.c - Nagios threshold ranges: every case of the plugin
 * guidelines, the valid and invalid examples of the issue, and the alert
 * rule at and around the bounds.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

struct valid_case {
	const char *text;
	double start, end;
	bool start_inf, end_inf, inside, percent;
};

static const struct valid_case valid_cases[] = {
	{ "6", 0, 6, false, false, false, false },
	{ "10", 0, 10, false, false, false, false },
	{ "10:", 10, 0, false, true, false, false },
	{ "~:10", 0, 10, true, false, false, false },
	{ "10:20", 10, 20, false, false, false, false },
	{ "@10:20", 10, 20, false, false, true, false },
	{ "1:12%", 1, 12, false, false, false, true },
	{ "-7:23", -7, 23, false, false, false, false },
	{ ":5.75", 0, 5.75, false, false, false, false },
	{ "~:-95.99", 0, -95.99, true, false, false, false },
	{ "~:0", 0, 0, true, false, false, false },
	{ "@0:657.8210567", 0, 657.8210567, false, false, true, false },
	{ "@1:1", 1, 1, false, false, true, false },
	{ "1:1", 1, 1, false, false, false, false },
	{ "~:", 0, 0, true, true, false, false },
	{ "1e3", 0, 1000, false, false, false, false },
};

static void
test_valid(void **state)
{
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(valid_cases); i++) {
		const struct valid_case *vc = &valid_cases[i];
		struct nx_range r;
		struct nx_err err = { "" };

		print_message("valid: %s\n", vc->text);
		assert_int_equal(range_parse(vc->text, &r, &err), 0);
		assert_int_equal(r.start_inf, vc->start_inf);
		assert_int_equal(r.end_inf, vc->end_inf);
		assert_int_equal(r.inside, vc->inside);
		assert_int_equal(r.percent, vc->percent);
		if (!vc->start_inf)
			assert_true(r.start == vc->start);
		if (!vc->end_inf)
			assert_true(r.end == vc->end);
	}
}

struct invalid_case {
	const char *text;
	const char *why;        /* a substring of the message */
};

static const struct invalid_case invalid_cases[] = {
	{ "2:1", "start 2 is greater than end 1" },
	{ ":", "neither start nor end" },
	{ "1:~", "'~' (negative infinity) is only allowed as the start" },
	{ "foo", "'foo' is not a number" },
	{ "1-10", "'1-10' is not a number" },
	{ "1,10", "'1,10' is not a number" },
	{ "", "empty" },
	{ "@", "empty" },
	{ "~", "'~' (negative infinity) is only allowed as the start" },
	{ "10:%", "missing end" },
	{ "1:2:3", "'2:3' is not a number" },
	{ "x:3", "start 'x' is not a number" },
	{ "-5", "start 0 is greater than end -5" },
	{ "10 ", "is not a number" },
	{ "inf", "is not a number" },
	{ "nan", "is not a number" },
	{ "0x10", "is not a number" },
};

static void
test_invalid(void **state)
{
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(invalid_cases); i++) {
		const struct invalid_case *ic = &invalid_cases[i];
		struct nx_range r;
		struct nx_err err = { "" };

		print_message("invalid: '%s'\n", ic->text);
		assert_int_equal(range_parse(ic->text, &r, &err), -1);
		/* The message names the range and why. */
		assert_non_null(strstr(err.msg, "range '"));
		assert_non_null(strstr(err.msg, ic->text));
		if (strstr(err.msg, ic->why) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", ic->text,
			    err.msg, ic->why);
	}
}

struct alert_case {
	const char *text;
	double v;
	bool alert;
};

static const struct alert_case alert_cases[] = {
	/* 10: outside 0..10 */
	{ "10", -1, true }, { "10", 0, false }, { "10", 5, false },
	{ "10", 10, false }, { "10", 10.0001, true },
	/* 10: below 10 */
	{ "10:", 9.99, true }, { "10:", 10, false }, { "10:", 1e9, false },
	/* ~:10 above 10 */
	{ "~:10", -1e9, false }, { "~:10", 10, false }, { "~:10", 11, true },
	/* 10:20 outside */
	{ "10:20", 9, true }, { "10:20", 10, false }, { "10:20", 20, false },
	{ "10:20", 21, true },
	/* @10:20 inside, inclusive */
	{ "@10:20", 9, false }, { "@10:20", 10, true }, { "@10:20", 15, true },
	{ "@10:20", 20, true }, { "@10:20", 20.5, false },
	{ "@1:1", 1, true }, { "@1:1", 1.5, false },
	{ "1:1", 1, false }, { "1:1", 0.5, true },
	{ "~:-95.99", -96, false }, { "~:-95.99", -95, true },
	{ "-7:23", -7.5, true }, { "-7:23", -7, false },
	{ ":5.75", 5.76, true }, { ":5.75", -0.1, true },
	{ "1:12%", 12, false }, { "1:12%", 13, true },
	{ "~:", -1e300, false },
};

static void
test_alert(void **state)
{
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(alert_cases); i++) {
		const struct alert_case *ac = &alert_cases[i];
		struct nx_range r;
		struct nx_err err;

		assert_int_equal(range_parse(ac->text, &r, &err), 0);
		if (range_alert(&r, ac->v) != ac->alert)
			fail_msg("%s with %g: want alert=%d", ac->text, ac->v,
			    ac->alert);
	}
}

/* check_range() alerts on NaN except for a range infinite at both ends. */
static void
test_alert_nan(void **state)
{
	struct nx_range r;
	struct nx_err err;

	assert_int_equal(range_parse("10", &r, &err), 0);
	assert_true(range_alert(&r, NAN));
	assert_int_equal(range_parse("10:", &r, &err), 0);
	assert_true(range_alert(&r, NAN));
	assert_int_equal(range_parse("@10:20", &r, &err), 0);
	assert_false(range_alert(&r, NAN));
	assert_int_equal(range_parse("~:", &r, &err), 0);
	assert_false(range_alert(&r, NAN));
}

static void
test_number(void **state)
{
	double v;

	assert_int_equal(range_number("12.5", 4, &v), 0);
	assert_true(v == 12.5);
	assert_int_equal(range_number("12.5xyz", 4, &v), 0);
	assert_true(v == 12.5);
	assert_int_equal(range_number(".5", 2, &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(range_number("-3.", 3, &v), 0);
	assert_true(v == -3.0);
	assert_int_equal(range_number("1e", 2, &v), -1);
	assert_int_equal(range_number(".", 1, &v), -1);
	assert_int_equal(range_number("-", 1, &v), -1);
	assert_int_equal(range_number("", 0, &v), -1);
	assert_int_equal(range_number("1 ", 2, &v), -1);
}

/*
 * Random short strings: parse either fails with a message naming the range
 * or gives a range whose finite bounds are ordered.
 */
static void
test_random_ranges(void **state)
{
	static const char alphabet[] = "@~:-.0123456789%e+x ";
	char buf[16];
	uint32_t seed = 3;
	int round, ok = 0;
	size_t i, len;

	for (round = 0; round < 50000; round++) {
		struct nx_range r;
		struct nx_err err = { "" };

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % (sizeof buf - 1);
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
		}
		buf[len] = '\0';
		if (range_parse(buf, &r, &err) == 0) {
			ok++;
			assert_false(isnan(r.start) || isnan(r.end));
			if (!r.start_inf && !r.end_inf)
				assert_true(r.start <= r.end);
		} else
			assert_non_null(strstr(err.msg, "range '"));
	}
	assert_true(ok > 100);          /* the alphabet does hit valid ones */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_alert),
		cmocka_unit_test(test_alert_nan),
		cmocka_unit_test(test_number),
		cmocka_unit_test(test_random_ranges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
