/*
 * test_target.c - the target grammar (every form, set operations, errors
 * with their column), hostlist expansion and compression.
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

#include "engine.h"

/* ---------------------------------------------------------------------- */
/* hostlist_expand                                                            */

/* Expands p and returns the names joined with spaces (a new string). */
static char *
expand(const char *p)
{
	struct nx_err err = { { 0 } };
	char **names, *out;
	size_t n, i, len = 1;

	if (hostlist_expand(p, &names, &n, &err) != 0) {
		xasprintf(&out, "ERROR %s", err.msg);
		return out;
	}
	for (i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	out = xcalloc(1, len);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, names[i]);
	}
	range_free(names, n);
	return out;
}

#define assert_expands(p, want) do {					\
	char *got_ = expand(p);						\
	assert_string_equal(got_, want);				\
	free(got_);							\
} while (0)

static void
test_range_pdsh(void **state)
{
	assert_expands("web01", "web01");
	assert_expands("web[1-3]", "web1 web2 web3");
	assert_expands("web[01-03]", "web01 web02 web03");
	assert_expands("web[08-10]", "web08 web09 web10");
	assert_expands("web[1,3,5-7]", "web1 web3 web5 web6 web7");
	assert_expands("127.0.[1-2].[1-2]",
	    "127.0.1.1 127.0.1.2 127.0.2.1 127.0.2.2");
	assert_expands("a[1-2],b,c[7]", "a1 a2 b c7");
	assert_expands("rack[1-2]-n[a-b]", "rack1-na rack1-nb rack2-na rack2-nb");
}

static void
test_range_ansible(void **state)
{
	assert_expands("www[01:03].example.com",
	    "www01.example.com www02.example.com www03.example.com");
	assert_expands("db-[a:c]", "db-a db-b db-c");
	assert_expands("h[1:10:3]", "h1 h4 h7 h10");
	assert_expands("h[:2]", "h0 h1 h2");
	assert_expands("h[x:B]", "hx hy hz hA hB");
	assert_expands("n[1:2]-[a:b]", "n1-a n1-b n2-a n2-b");
	assert_expands("h[001:003:2]", "h001 h003");
}

static void
test_range_errors(void **state)
{
	assert_expands("web[1-3", "ERROR column 4: unterminated '['");
	assert_expands("web]1", "ERROR column 4: ']' without '['");
	assert_expands("web[5-1]", "ERROR column 5: range 5 to 1 runs backwards");
	assert_expands("web[01:5]", "ERROR column 5: zero-padded range "
	    "'01:5' wants begin and end of the same width");
	assert_expands("web[1:x]", "ERROR column 5: range bound 'x' is not a "
	    "number or a single letter");
	assert_expands("web[1:3:0]", "ERROR column 9: range step '0' is not a "
	    "positive number");
	assert_expands("web[1:2:3:4]", "ERROR column 5: range wants begin:end "
	    "or begin:end:step");
	assert_expands("web[]", "ERROR column 4: empty range '[]'");
	assert_expands("a,,b", "ERROR column 3: empty name");
	assert_expands("we b", "ERROR column 3: ' ' is not allowed in a name");
	assert_expands("web[1-[2]]", "ERROR column 7: '[' inside a range");
	assert_expands("x[c:a]", "ERROR column 3: range 'c' to 'a' runs "
	    "backwards");
}

static void
test_range_bounded(void **state)
{
	struct nx_err err = { { 0 } };
	char **names;
	size_t n;

	/* Exactly the limit is fine; one more, in one range or a product, not. */
	assert_int_equal(hostlist_expand("h[1-1000000]", &names, &n, &err), 0);
	assert_int_equal(n, 1000000);
	assert_string_equal(names[999999], "h1000000");
	range_free(names, n);
	assert_int_equal(hostlist_expand("h[1-1000001]", &names, &n, &err), -1);
	assert_non_null(strstr(err.msg, "more than 1000000 names"));
	assert_int_equal(hostlist_expand("h[1-1001][1-1000]", &names, &n, &err),
	    -1);
	assert_non_null(strstr(err.msg, "more than 1000000 names"));
	assert_int_equal(hostlist_expand("a[1-600000],b[1-600000]", &names, &n,
	    &err), -1);
	assert_int_equal(hostlist_expand("h[0-999999999999999999]", &names, &n,
	    &err), -1);
}

/* ---------------------------------------------------------------------- */
/* hostlist_compress                                                       */

static void
compress_is(const char *in, const char *want)
{
	struct nx_err err = { { 0 } };
	char **names, *got, *back, *got_in;
	size_t n;

	assert_int_equal(hostlist_expand(in, &names, &n, &err), 0);
	got = hostlist_compress((const char **)names, n);
	assert_string_equal(got, want);
	range_free(names, n);
	/* And the compressed form expands back to the same names. */
	back = expand(got);
	got_in = expand(in);
	assert_string_equal(back, got_in);
	free(got);
	free(back);
	free(got_in);
}

static void
test_compress(void **state)
{
	const char *mixed[] = { "web03", "db1", "web01", "web02", "web07",
	    "db2", "lb", "web02", "lb" };
	const char *v6[] = { "x9", "x10", "x11" };
	char *s;

	compress_is("web[01-03],web07", "web[01-03,07]");
	compress_is("a1,a2,a3,b", "a[1-3],b");
	compress_is("w1.example.com,w2.example.com,w3.example.com", "w[1-3].example.com");
	compress_is("n1.r1,n2.r1", "n1.r1,n2.r1");
	compress_is("web01,web2", "web01,web2");
	compress_is("web08,web09,web10", "web[08-10]");
	compress_is("h5", "h5");
	s = hostlist_compress(mixed, NX_ARRAY_LEN(mixed));
	assert_string_equal(s, "web[01-03,07],db[1-2],lb");
	free(s);
	s = hostlist_compress(v6, NX_ARRAY_LEN(v6));
	assert_string_equal(s, "x[9-11]");
	free(s);
	s = hostlist_compress(NULL, 0);
	assert_string_equal(s, "");
	free(s);
}

/* ---------------------------------------------------------------------- */
/* Targets on a fleet                                                      */

/*
 * web01..web06 in `web`; web01-03 in fra1, web04-06 in ams3; db1, db2 in
 * `db` and fra1; lb in no group.  Vars: env, weight, tags, canary.
 */
static int
fleet_setup(void **state)
{
	struct fleet *f = xcalloc(1, sizeof *f);
	char name[16];
	int i;

	fleet_init(f);
	for (i = 1; i <= 6; i++) {
		struct node *n;

		snprintf(name, sizeof name, "web%02d", i);
		n = fleet_add_node(f, name, NULL, NULL);
		node_add_group(f, n, "web");
		node_add_group(f, n, i <= 3 ? "fra1" : "ams3");
		n->vars = json_pack("{s:s, s:i, s:[s,s], s:b}", "env",
		    i % 2 ? "prod" : "stage", "weight", i, "tags", "http",
		    i == 2 ? "canary" : "main", "canary", i == 2);
	}
	for (i = 1; i <= 2; i++) {
		struct node *n;

		snprintf(name, sizeof name, "db%d", i);
		n = fleet_add_node(f, name, NULL, NULL);
		node_add_group(f, n, "db");
		node_add_group(f, n, "fra1");
		n->vars = json_pack("{s:s, s:f, s:n}", "env", "prod", "ratio",
		    0.5, "nothing");
	}
	fleet_add_node(f, "lb", NULL, NULL);
	*state = f;
	return 0;
}

static int
fleet_teardown(void **state)
{
	fleet_free(*state);
	free(*state);
	return 0;
}

/* Selects with target t and returns the node names joined by spaces. */
static char *
sel(const struct fleet *f, const char *t)
{
	struct nx_err err = { { 0 } };
	struct nx_target *tg = target_parse(t, &err);
	uint32_t *ids;
	size_t n, i;
	char *out;

	if (tg == NULL) {
		xasprintf(&out, "ERROR %s", err.msg);
		return out;
	}
	assert_int_equal(target_select(tg, f, &ids, &n), 0);
	out = xcalloc(1, 16 * f->nnodes + 1);
	for (i = 0; i < n; i++) {
		if (i > 0) {
			assert_true(ids[i] > ids[i - 1]);
			strcat(out, " ");
		}
		strcat(out, f->nodes[ids[i]].name);
	}
	free(ids);
	target_free(tg);
	return out;
}

#define assert_selects(f, t, want) do {					\
	char *got_ = sel(f, t);						\
	assert_string_equal(got_, want);				\
	free(got_);							\
} while (0)

static void
test_target_names(void **state)
{
	struct fleet *f = *state;

	assert_selects(f, "web03", "web03");
	assert_selects(f, "lb,web01", "web01 lb");
	assert_selects(f, "web3", "");
	assert_selects(f, "web[01-02]", "web01 web02");
	assert_selects(f, "web[01:06:2]", "web01 web03 web05");
	assert_selects(f, "web0[4,6],db[1-9]", "web04 web06 db1 db2");
	assert_selects(f, "web0*", "web01 web02 web03 web04 web05 web06");
	assert_selects(f, "?b*", "db1 db2 lb");
	assert_selects(f, "all", "web01 web02 web03 web04 web05 web06 db1 db2 lb");
	assert_selects(f, "*", "web01 web02 web03 web04 web05 web06 db1 db2 lb");
	assert_selects(f, " web01 , web02 ", "web01 web02");
}

static void
test_target_groups(void **state)
{
	struct fleet *f = *state;

	assert_selects(f, "@web", "web01 web02 web03 web04 web05 web06");
	assert_selects(f, "@db", "db1 db2");
	assert_selects(f, "@fra1", "web01 web02 web03 db1 db2");
	assert_selects(f, "@nosuch", "");
	assert_selects(f, "@all", "web01 web02 web03 web04 web05 web06 db1 db2 lb");
	assert_selects(f, "@d*", "db1 db2");
}

static void
test_target_vars_regex(void **state)
{
	struct fleet *f = *state;

	assert_selects(f, "env=stage", "web02 web04 web06");
	assert_selects(f, "weight=4", "web04");
	assert_selects(f, "tags=canary", "web02");
	assert_selects(f, "canary=true", "web02");
	assert_selects(f, "canary=False", "web01 web03 web04 web05 web06");
	assert_selects(f, "ratio=0.5", "db1 db2");
	assert_selects(f, "ratio=.5", "db1 db2");
	assert_selects(f, "nothing=null", "db1 db2");
	assert_selects(f, "missing=x", "");
	assert_selects(f, "/^WEB0[12]$/", "web01 web02");
	assert_selects(f, "/^.b\\d/", "db1 db2");
	assert_selects(f, "/a\\/b/", "");
	assert_selects(f, "/[,&!]/", "");
}

static void
test_target_sets(void **state)
{
	struct fleet *f = *state;

	/* Ansible: unions, then intersections, then exclusions. */
	assert_selects(f, "@web,!web03", "web01 web02 web04 web05 web06");
	assert_selects(f, "@web!web03", "web01 web02 web04 web05 web06");
	assert_selects(f, "!web03,@web", "web01 web02 web04 web05 web06");
	assert_selects(f, "@web&@fra1", "web01 web02 web03");
	assert_selects(f, "@web,&@fra1", "web01 web02 web03");
	assert_selects(f, "&@fra1,@web", "web01 web02 web03");
	assert_selects(f, "@web,@db&@fra1", "web01 web02 web03 db1 db2");
	assert_selects(f, "@web&@fra1&env=prod", "web01 web03");
	assert_selects(f, "@fra1,!@db,!web01", "web02 web03");
	assert_selects(f, "!@web", "db1 db2 lb");
	assert_selects(f, "&@db", "db1 db2");
	assert_selects(f, "@web,!/0[1-5]$/", "web06");
	assert_selects(f, "web01,web01,web[01-01]", "web01");
}

static void
test_target_errors(void **state)
{
	struct fleet *f = *state;

	assert_selects(f, "", "ERROR column 1: empty target");
	assert_selects(f, "   ", "ERROR column 1: empty target");
	assert_selects(f, "@web,", "ERROR column 6: missing pattern after ','");
	assert_selects(f, "@web&", "ERROR column 6: missing pattern after '&'");
	assert_selects(f, ",web", "ERROR column 1: empty pattern before ','");
	assert_selects(f, "web,,db", "ERROR column 5: empty pattern before ','");
	assert_selects(f, "@web&!db", "ERROR column 6: '!' after '&' wants a "
	    "pattern between them");
	assert_selects(f, "@", "ERROR column 1: '@' wants a group name");
	assert_selects(f, "web,@", "ERROR column 5: '@' wants a group name");
	assert_selects(f, "@web,[1-", "ERROR column 6: unterminated '['");
	assert_selects(f, "web[3-1]", "ERROR column 5: range 3 to 1 runs "
	    "backwards");
	assert_selects(f, "/abc", "ERROR column 1: unterminated /regex/ (no "
	    "closing '/')");
	assert_selects(f, "web,//", "ERROR column 5: empty /regex/");
	assert_selects(f, "/a(/", "ERROR column 4: bad regex: missing closing "
	    "parenthesis");
	assert_selects(f, "/a/b", "ERROR column 4: 'b' here wants ',', '&' or "
	    "'!' between patterns");
	assert_selects(f, "=x", "ERROR column 1: '=' wants a variable name "
	    "before it");
	assert_selects(f, "a$b=1", "ERROR column 2: '$' is not allowed in a "
	    "variable name");
	assert_selects(f, "we;b", "ERROR column 3: ';' is not allowed in a "
	    "name");
	assert_selects(f, "@web,db:&prod", "ERROR column 8: ':' between "
	    "patterns is Ansible's old separator; use ',' (and ',&' or ',!')");
	assert_selects(f, "fe80::1,web[1:2]", "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_pdsh),
		cmocka_unit_test(test_range_ansible),
		cmocka_unit_test(test_range_errors),
		cmocka_unit_test(test_range_bounded),
		cmocka_unit_test(test_compress),
		cmocka_unit_test_setup_teardown(test_target_names, fleet_setup,
		    fleet_teardown),
		cmocka_unit_test_setup_teardown(test_target_groups, fleet_setup,
		    fleet_teardown),
		cmocka_unit_test_setup_teardown(test_target_vars_regex,
		    fleet_setup, fleet_teardown),
		cmocka_unit_test_setup_teardown(test_target_sets, fleet_setup,
		    fleet_teardown),
		cmocka_unit_test_setup_teardown(test_target_errors, fleet_setup,
		    fleet_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
