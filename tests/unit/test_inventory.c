/*
 * test_inventory.c - the inventory model and its sources: Ansible INI and
 * nexusctl JSON fixtures (tests/fixtures/inventory, modelled on Ansible's
 * own examples), variable precedence, ranges, host:port, typed values,
 * errors with file:line, merging across files, name validation, and the
 * inventory provider inside a real engine.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures/inventory"
#endif

struct warnings {
	char *text[8];
	int n;
};

static void
collect_warning(void *arg, const char *msg)
{
	struct warnings *w = arg;

	if (w->n < 8)
		w->text[w->n++] = xstrdup(msg);
}

static void
warnings_free(struct warnings *w)
{
	while (w->n > 0)
		free(w->text[--w->n]);
}

/* Loads the named fixtures (NULL-terminated) into inv and finishes it. */
static void
load(struct inventory *inv, struct warnings *w, ...)
{
	struct nx_err err = { { 0 } };
	const char *name;
	char *path;
	va_list ap;

	inv_init(inv);
	inv->warn = collect_warning;
	inv->warn_arg = w;
	va_start(ap, w);
	while ((name = va_arg(ap, const char *)) != NULL) {
		xasprintf(&path, "%s/%s", FIXTURES, name);
		if (inv_load_file(inv, path, &err) != 0)
			fail_msg("%s", err.msg);
		free(path);
	}
	va_end(ap);
	if (inv_finish(inv, &err) != 0)
		fail_msg("%s", err.msg);
}

static const json_t *
hostvar(const struct inventory *inv, const char *host, const char *key,
    json_t **hold)
{
	int h = inv_host_find(inv, host);

	assert_true(h >= 0);
	json_decref(*hold);
	*hold = inv_host_vars(inv, (uint32_t)h);
	return json_object_get(*hold, key);
}

/* The direct hosts of a group, joined by spaces (a new string). */
static char *
group_hosts(const struct inventory *inv, const char *group)
{
	int g = inv_group_find(inv, group);
	char *out = xcalloc(1, 4096);
	size_t i;

	assert_true(g >= 0);
	for (i = 0; i < inv->groups[g].nhosts; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, inv->hosts[inv->groups[g].hosts[i]].name);
	}
	return out;
}

#define assert_group_hosts(inv, g, want) do {				\
	char *got_ = group_hosts(inv, g);				\
	assert_string_equal(got_, want);				\
	free(got_);							\
} while (0)

static void
test_ini_hosts(void **state)
{
	struct inventory inv;
	struct warnings w = { 0 };
	json_t *hold = NULL;

	load(&inv, &w, "hosts.ini", NULL);
	assert_int_equal(inv.nhosts, 10);
	assert_group_hosts(&inv, "ungrouped", "mail.example.com jumper");
	assert_group_hosts(&inv, "webservers", "foo.example.com bar.example.com "
	    "www01.example.com www03.example.com www05.example.com");
	assert_group_hosts(&inv, "dbservers", "one.example.com two.example.com "
	    "three.example.com");
	assert_int_equal(json_integer_value(hostvar(&inv, "jumper",
	    "ansible_port", &hold)), 5555);
	assert_string_equal(json_string_value(hostvar(&inv, "jumper",
	    "ansible_host", &hold)), "192.0.2.50");
	assert_int_equal(json_integer_value(hostvar(&inv, "bar.example.com",
	    "ansible_port", &hold)), 2222);
	assert_int_equal(json_integer_value(hostvar(&inv, "foo.example.com",
	    "maxRequestsPerChild", &hold)), 808);
	assert_string_equal(json_string_value(hostvar(&inv, "three.example.com",
	    "proxy", &hold)), "proxy.atlanta.example.com");
	assert_null(hostvar(&inv, "foo.example.com", "proxy", &hold));
	assert_int_equal(w.n, 0);
	json_decref(hold);
	inv_free(&inv);
}

static void
test_ini_children_precedence(void **state)
{
	struct inventory inv;
	struct warnings w = { 0 };
	json_t *hold = NULL;
	int usa, se, atl;

	load(&inv, &w, "children.ini", NULL);
	usa = inv_group_find(&inv, "usa");
	se = inv_group_find(&inv, "southeast");
	atl = inv_group_find(&inv, "atlanta");
	assert_int_equal(inv.groups[usa].depth, 1);
	assert_int_equal(inv.groups[se].depth, 2);
	assert_int_equal(inv.groups[atl].depth, 3);
	assert_int_equal(inv.groups[INV_ALL].nchildren, 2);     /* ungrouped, usa */
	/* atlanta (child) over southeast (parent) over all; host over group */
	assert_int_equal(json_integer_value(hostvar(&inv, "host1",
	    "escape_pods", &hold)), 1);
	assert_int_equal(json_integer_value(hostvar(&inv, "host2",
	    "escape_pods", &hold)), 7);
	assert_int_equal(json_integer_value(hostvar(&inv, "host3",
	    "escape_pods", &hold)), 2);
	assert_string_equal(json_string_value(hostvar(&inv, "host3",
	    "ansible_user", &hold)), "deploy");
	assert_int_equal(json_integer_value(hostvar(&inv, "host3",
	    "halon_system_timeout", &hold)), 30);
	json_decref(hold);
	inv_free(&inv);
}

static void
test_ini_priority_and_names(void **state)
{
	static const char text[] =
	    "[b]\nh1\n[b:vars]\nx=b\nansible_group_priority=10\n"
	    "[c]\nh1\n[c:vars]\nx=c\n[d]\nh1\n[d:vars]\ny=d\n";
	struct nx_err err = { { 0 } };
	struct inventory inv;
	json_t *hold = NULL;

	/* Same depth: priority first, then name (c over b without it). */
	inv_init(&inv);
	assert_int_equal(inv_parse(&inv, "p.ini", text, strlen(text), &err), 0);
	assert_int_equal(inv_finish(&inv, &err), 0);
	assert_string_equal(json_string_value(hostvar(&inv, "h1", "x", &hold)),
	    "b");
	assert_null(hostvar(&inv, "h1", "ansible_group_priority", &hold));
	json_decref(hold);
	inv_free(&inv);
}

static void
test_ini_ranges_and_values(void **state)
{
	struct inventory inv;
	struct warnings w = { 0 };
	json_t *hold = NULL;
	const json_t *tags;

	load(&inv, &w, "ranges.ini", NULL);
	assert_group_hosts(&inv, "db", "db-a.example.com db-b.example.com "
	    "db-c.example.com db-d.example.com db-e.example.com "
	    "db-f.example.com");
	assert_group_hosts(&inv, "edge", "edge1-a edge1-b edge5-a edge5-b "
	    "edge9-a edge9-b 10.0.0.1 10.0.0.2 10.0.0.3 2001:db8::1 2001:db8::2");
	assert_int_equal(inv_host_find(&inv, "www10.example.com") >= 0, 1);
	assert_int_equal(json_integer_value(hostvar(&inv, "2001:db8::1",
	    "ansible_port", &hold)), 2200);
	assert_null(hostvar(&inv, "2001:db8::2", "ansible_port", &hold));
	assert_int_equal(json_integer_value(hostvar(&inv, "10.0.0.2",
	    "ansible_port", &hold)), 2222);
	assert_string_equal(json_string_value(hostvar(&inv, "edge5-b", "region",
	    &hold)), "eu west");
	assert_true(json_real_value(hostvar(&inv, "edge5-b", "weight",
	    &hold)) == 1.5);
	assert_true(json_is_true(hostvar(&inv, "edge5-b", "enabled", &hold)));
	assert_string_equal(json_string_value(hostvar(&inv, "edge5-b", "note",
	    &hold)), "its");
	assert_string_equal(json_string_value(hostvar(&inv, "edge5-b", "plain",
	    &hold)), "01");
	tags = hostvar(&inv, "edge1-a", "tags", &hold);
	assert_int_equal(json_array_size(tags), 2);
	assert_string_equal(json_string_value(json_array_get(tags, 1)), "b");
	/* [g:vars] values: typed like Ansible's code does, FALSE stays text */
	assert_string_equal(json_string_value(hostvar(&inv, "edge1-a", "literal",
	    &hold)), "FALSE");
	assert_int_equal(json_integer_value(hostvar(&inv, "edge1-a", "count",
	    &hold)), 3);
	assert_string_equal(json_string_value(hostvar(&inv, "edge1-a", "quoted",
	    &hold)), "three words here");
	json_decref(hold);
	inv_free(&inv);
}

/* inv_ini_value(in) dumped as compact JSON must be want. */
static void
value_is(const char *in, const char *want)
{
	json_t *v = inv_ini_value(in);
	char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT |
	    JSON_SORT_KEYS);

	if (strcmp(got, want) != 0)
		fail_msg("inv_ini_value(%s) = %s, want %s", in, got, want);
	free(got);
	json_decref(v);
}

static void
test_ini_python_literals(void **state)
{
	value_is("5", "5");
	value_is("-5", "-5");
	value_is("+7", "7");
	value_is("1_000", "1000");
	value_is("0x1F", "31");
	value_is("0o17", "15");
	value_is("0b101", "5");
	value_is("01", "\"01\"");
	value_is("000", "0");
	value_is("1.5", "1.5");
	value_is("1e3", "1000.0");
	value_is(".5", "0.5");
	value_is("True", "true");
	value_is("False", "false");
	value_is("None", "null");
	value_is("true", "\"true\"");
	value_is("yes", "\"yes\"");
	value_is("FALSE", "\"FALSE\"");
	value_is("'x'", "\"x\"");
	value_is("\"a b\"", "\"a b\"");
	value_is("'a' 'b'", "\"ab\"");
	value_is("'tab\\there'", "\"tab\\there\"");
	value_is("r'a\\nb'", "\"a\\\\nb\"");
	value_is("u'\\u00e9'", "\"\xc3\xa9\"");
	value_is("[1, 'two', [3]]", "[1,\"two\",[3]]");
	value_is("(1, 2)", "[1,2]");
	value_is("(1,)", "[1]");
	value_is("(1)", "1");
	value_is("{'a': 1, 2: None}", "{\"2\":null,\"a\":1}");
	value_is("[1, 2,]", "[1,2]");
	value_is("5 # a comment", "5");
	value_is("  5", "5");
	value_is("a b", "\"a b\"");
	value_is("1 + 2", "\"1 + 2\"");
	value_is("--5", "\"--5\"");
	value_is("1j", "\"1j\"");
	value_is("{1, 2}", "\"{1, 2}\"");
	value_is("[1, 2", "\"[1, 2\"");
	value_is("'unclosed", "\"'unclosed\"");
	value_is("", "\"\"");
	value_is("99999999999999999999", "\"99999999999999999999\"");
}

/* Parsing text as path must fail with exactly want. */
static void
ini_error_is(const char *text, const char *want)
{
	struct nx_err err = { { 0 } };
	struct inventory inv;
	int rc;

	inv_init(&inv);
	rc = inv_parse(&inv, "t.ini", text, strlen(text), &err);
	if (rc == 0)
		rc = inv_finish(&inv, &err);
	if (rc == 0)
		fail_msg("no error for: %s", text);
	assert_string_equal(err.msg, want);
	inv_free(&inv);
}

static void
test_ini_errors(void **state)
{
	ini_error_is("[web]\nok\nbad_-\n",
	    "t.ini:3: invalid host name 'bad_-': a label ends with '-' or '_'");
	ini_error_is("[web]\n-bad\n",
	    "t.ini:2: invalid host name '-bad': a label starts with '-' or '_'");
	ini_error_is("[web]\nh1 foo\n", "t.ini:2: expected key=value host "
	    "variable, got 'foo' (column 4)");
	ini_error_is("[web]\nh1 =x\n", "t.ini:2: a host variable with no name "
	    "before '=' (column 4)");
	ini_error_is("[web]\nh1 a=\"x\n", "t.ini:2: cannot split the host line: "
	    "no closing quotation");
	ini_error_is("h1:\n", "t.ini:1: host 'h1:': a host pattern may only end "
	    "in ':' with a port after it");
	ini_error_is("h1:ssh\n", "t.ini:1: host 'h1:ssh': the text after ':' is "
	    "not a port number");
	ini_error_is("h1:70000\n", "t.ini:1: host 'h1:70000': port 70000 is not "
	    "in 1-65535");
	ini_error_is("\n\n[g]\nh[3:1]\n", "t.ini:4: host 'h[3:1]': column 3: "
	    "range 3 to 1 runs backwards");
	ini_error_is("[g]\nh[1-3]\n", "t.ini:2: host 'h[1-3]': an INI range is "
	    "[begin:end] or [begin:end:step]");
	ini_error_is("[g]\na,b\n", "t.ini:2: host 'a,b': ',' is not allowed in a "
	    "host name");
	ini_error_is("[g:hostz]\n", "t.ini:1: section [g:hostz] has unknown type "
	    "'hostz' (hosts, children or vars)");
	ini_error_is("[my group]\n", "t.ini:1: invalid section header "
	    "'[my group]' (a section is [group], [group:children] or "
	    "[group:vars], with no spaces)");
	ini_error_is("[g.x]\n", "t.ini:1: invalid group name 'g.x' (letters, "
	    "digits, '_' and '-')");
	ini_error_is("[a:children]\nb\n[c]\nh\n", "t.ini:2: section "
	    "[a:children] includes undefined group 'b'");
	ini_error_is("[a]\nh\n[z:vars]\nx=1\n", "t.ini:3: section [z:vars] is "
	    "for a group that is not defined");
	ini_error_is("[a:vars]\nnovalue\n[a]\n", "t.ini:2: expected key=value, "
	    "got 'novalue'");
	ini_error_is("[a:children]\nb c\n", "t.ini:2: expected a group name, got "
	    "'b c'");
	ini_error_is("[a:children]\nb\n[b:children]\na\n", "t.ini:1: group 'a' "
	    "is a child of 'b' and also its ancestor: a cycle in :children");
	{
		static const char nul[] = "[g]\nh1\0\n";
		struct nx_err err = { { 0 } };
		struct inventory inv;

		inv_init(&inv);
		assert_int_equal(inv_parse(&inv, "t.ini", nul, sizeof nul - 1,
		    &err), -1);
		assert_string_equal(err.msg, "t.ini: a NUL byte: not a text "
		    "inventory");
		inv_free(&inv);
	}
	{
		/* YAML is chosen by extension or by content, not read as INI. */
		static const char *paths[] = { "t.yml", "t.yaml", "inventory",
		    "yaml:t.ini" };
		static const char yaml[] = "# c\nweb:\n  hosts:\n    w1:\n";
		size_t i;

		for (i = 0; i < NX_ARRAY_LEN(paths); i++) {
			struct nx_err err = { { 0 } };
			struct inventory inv;

			inv_init(&inv);
			if (inv_parse(&inv, paths[i], yaml, strlen(yaml),
			    &err) != 0)
				fail_msg("%s: %s", paths[i], err.msg);
			assert_true(inv_group_find(&inv, "web") >= 0);
			assert_true(inv_host_find(&inv, "w1") >= 0);
			inv_free(&inv);
		}
	}
}

static void
test_ini_ok_edge_cases(void **state)
{
	static const char text[] =
	    "  # indented comment\n"
	    "[a:children]   # a comment after a section\n"
	    "b\n"
	    "[b]\n"
	    "h1 k='a b' j=\"c \\\"d\\\"\" e=x\\ y # c=3\n"
	    "[all]\n"
	    "h2\n"
	    "[ungrouped]\n"
	    "h1\n"
	    "[fe80::1] role=r\n";
	struct nx_err err = { { 0 } };
	struct inventory inv;
	json_t *hold = NULL;

	inv_init(&inv);
	if (inv_parse(&inv, "ok.ini", text, strlen(text), &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(inv_finish(&inv, &err), 0);
	assert_string_equal(json_string_value(hostvar(&inv, "h1", "k", &hold)),
	    "a b");
	assert_string_equal(json_string_value(hostvar(&inv, "h1", "j", &hold)),
	    "c \"d\"");
	assert_string_equal(json_string_value(hostvar(&inv, "h1", "e", &hold)),
	    "x y");
	assert_null(hostvar(&inv, "h1", "c", &hold));
	/* h1 left ungrouped for b; h2 (only in all) became ungrouped */
	assert_group_hosts(&inv, "ungrouped", "fe80::1 h2");
	assert_group_hosts(&inv, "b", "h1");
	json_decref(hold);
	inv_free(&inv);
}

static void
test_json_fixture(void **state)
{
	struct inventory inv;
	struct warnings w = { 0 };
	json_t *hold = NULL;

	load(&inv, &w, "nodes.json", NULL);
	assert_int_equal(inv.nhosts, 4);
	assert_string_equal(json_string_value(hostvar(&inv, "api01",
	    "ansible_host", &hold)), "10.1.0.1");
	assert_int_equal(json_integer_value(hostvar(&inv, "api01",
	    "ansible_port", &hold)), 2201);
	assert_string_equal(json_string_value(hostvar(&inv, "api01",
	    "ansible_user", &hold)), "ops");
	/* host over group; the group's var where the host has none */
	assert_string_equal(json_string_value(hostvar(&inv, "api02", "rack",
	    &hold)), "r2");
	assert_int_equal(json_integer_value(hostvar(&inv, "api02", "http_port",
	    &hold)), 8080);
	/* through children: fra1 and ams3 are in europe */
	assert_string_equal(json_string_value(hostvar(&inv, "cache01",
	    "continent", &hold)), "eu");
	assert_group_hosts(&inv, "cache", "cache01 cache02");
	assert_int_equal(inv.groups[inv_group_find(&inv, "fra1")].depth, 2);
	json_decref(hold);
	inv_free(&inv);
}

static void
json_error_is(const char *text, const char *want)
{
	struct nx_err err = { { 0 } };
	struct inventory inv;

	inv_init(&inv);
	if (inv_parse(&inv, "t.json", text, strlen(text), &err) == 0)
		fail_msg("no error for: %s", text);
	assert_string_equal(err.msg, want);
	inv_free(&inv);
}

static void
test_json_errors(void **state)
{
	json_error_is("{\"nodes\": [\n  {\"name\": \"a\"},\n  {\"name\": \"b\", "
	    "\"prot\": 22}\n]}", "t.json:3:17: $.nodes[1].prot: unknown key "
	    "'prot' (name, address, port, user, groups, vars)");
	json_error_is("{\"nodes\": [{\"name\": \"a\",\n \"port\": \"22\"}]}",
	    "t.json:2:2: $.nodes[0].port: \"port\" must be an integer from 1 to "
	    "65535");
	json_error_is("{\"nodes\": [{\"name\": \"-a\"}]}",
	    "t.json:1:13: $.nodes[0].name: invalid host name '-a': a label "
	    "starts with '-' or '_'");
	json_error_is("{\"nodes\": [{\"address\": \"x\"}]}",
	    "t.json:1:12: $.nodes[0]: a node needs a \"name\"");
	json_error_is("{\"nodes\": [{\"name\": \"a\", \"address\": \"a b\"}]}",
	    "t.json:1:26: $.nodes[0].address: 'a b' is not an address: only "
	    "letters, digits, '-' and '.' are allowed");
	json_error_is("{\"groups\": {\"web\": {\"children\": [\"x y\"]}}}",
	    "t.json:1:34: $.groups.web.children[0]: invalid group name 'x y' "
	    "(letters, digits, '_' and '-')");
	json_error_is("{\"groups\": {\"web\": {\"vars\": []}}}",
	    "t.json:1:21: $.groups.web.vars: \"vars\" must be an object");
	json_error_is("{\"hosts\": []}", "t.json:1:2: $.hosts: unknown key "
	    "'hosts' (nodes, groups)");
	json_error_is("{\"nodes\": [}", "t.json:1:12: unexpected token near '}'");
	json_error_is("{\"nodes\": [], \"nodes\": []}",
	    "t.json:1:21: duplicate object key near '\"nodes\"'");
	json_error_is("[]", "t.json:1:1: an inventory is an object with "
	    "\"nodes\" and \"groups\"");
}

static void
test_json_locate(void **state)
{
	static const char text[] = "{ \"a\": {\"x\": [1, {\"s\": \"]}\"}, 3],\n"
	    "  \"y\": 2}, \"b\": [\n  10,\n  {\"k\": 1}\n]}";
	unsigned line = 0, col = 0;

	assert_int_equal(nx_json_locate(text, strlen(text), "a.y", &line,
	    &col), 0);
	assert_int_equal(line, 2);
	assert_int_equal(col, 3);
	assert_int_equal(nx_json_locate(text, strlen(text), "b[1].k", &line,
	    &col), 0);
	assert_int_equal(line, 4);
	assert_int_equal(col, 4);
	assert_int_equal(nx_json_locate(text, strlen(text), "a.x[2]", &line,
	    &col), 0);
	assert_int_equal(line, 1);
	assert_int_equal(col, 31);
	assert_int_equal(nx_json_locate(text, strlen(text), "a.z", &line,
	    &col), -1);
	assert_int_equal(nx_json_locate(text, strlen(text), "b[5]", &line,
	    &col), -1);
}

static void
test_merge_two_files(void **state)
{
	struct inventory inv;
	struct warnings w = { 0 };
	json_t *hold = NULL;

	load(&inv, &w, "hosts.ini", "more.ini", NULL);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.text[0], "more.ini:3: host 'jumper' is also "
	    "defined in "));
	assert_non_null(strstr(w.text[0], "hosts.ini:4; merged"));
	assert_int_equal(json_integer_value(hostvar(&inv, "jumper",
	    "ansible_port", &hold)), 6666);
	assert_string_equal(json_string_value(hostvar(&inv, "jumper",
	    "ansible_host", &hold)), "192.0.2.50");
	assert_string_equal(json_string_value(hostvar(&inv, "jumper", "role",
	    &hold)), "bastion");
	/* it has a group now, so it left ungrouped */
	assert_group_hosts(&inv, "ungrouped", "mail.example.com");
	warnings_free(&w);
	json_decref(hold);
	inv_free(&inv);
}

static void
test_validation(void **state)
{
	static const char *good_addr[] = { "a", "web01.example.com",
	    "xn--bcher-kva.example", "192.0.2.1", "::1", "2001:db8::1",
	    "[2001:db8::1]", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8", "fe80::" };
	static const char *bad_addr[] = { "", "-a", "a-", "a..b", ".a",
	    "a_b", "a b", "a;b", "2001:db8:::1", "1:2:3:4:5:6:7:8:9", "[::1",
	    "::1::", "1::2::3", "g::1", "12345::1",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b" };
	const char *why;
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(good_addr); i++) {
		if (!inv_valid_address(good_addr[i], &why))
			fail_msg("'%s' refused: %s", good_addr[i], why);
	}
	for (i = 0; i < NX_ARRAY_LEN(bad_addr); i++) {
		if (inv_valid_address(bad_addr[i], &why))
			fail_msg("'%s' accepted", bad_addr[i]);
	}
	assert_true(inv_valid_name("my_host", &why));
	assert_false(inv_valid_name("_x", &why));
	assert_false(inv_valid_name("a\x1b[31m", &why));
}

static void
test_to_fleet_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[g]\nh1 ansible_host=\"bad host\"\n", "t.ini:2: host 'h1': "
		    "ansible_host 'bad host' is not an address: only letters, "
		    "digits, '-' and '.' are allowed" },
		{ "[g]\nh1\n[g:vars]\nansible_port=ssh\n", "t.ini:2: host 'h1': "
		    "ansible_port \"ssh\" is not a port number (1-65535)" },
		{ "h1 ansible_user='-oProxyCommand=x'\n", "t.ini:1: host 'h1': "
		    "ansible_user \"-oProxyCommand=x\" is not a user name "
		    "(letters, digits, '.', '_', '-', '@')" },
		{ "h1 ansible_host=5\n", "t.ini:1: host 'h1': ansible_host is "
		    "not a string" },
	};
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(cases); i++) {
		struct nx_err err = { { 0 } };
		struct inventory inv;
		struct fleet f;

		inv_init(&inv);
		fleet_init(&f);
		assert_int_equal(inv_parse(&inv, "t.ini", cases[i].text,
		    strlen(cases[i].text), &err), 0);
		assert_int_equal(inv_finish(&inv, &err), 0);
		assert_int_equal(inv_to_fleet(&inv, &f, NULL, &err), -1);
		assert_string_equal(err.msg, cases[i].want);
		fleet_free(&f);
		inv_free(&inv);
	}
}

/* The provider inside a real engine: nodes, groups, vars, a round. */
static void
test_provider_in_engine(void **state)
{
	struct warnings w = { 0 };
	struct nx_err err = { { 0 } };
	struct nx_config cfg;
	struct engine e;
	uv_loop_t loop;
	struct node *n;
	uint32_t i;

	uv_loop_init(&loop);
	config_defaults(&cfg);
	cfg.demo.nodes = 3;             /* web00001..web00003 */
	cfg.demo.local = false;
	cfg.ninventories = 2;
	cfg.inventories = xcalloc(2, sizeof *cfg.inventories);
	cfg.inventories[0] = xstrdup(FIXTURES "/children.ini");
	cfg.inventories[1] = xstrdup(FIXTURES "/nodes.json");
	cfg.warn = collect_warning;
	cfg.warn_arg = &w;
	engine_init(&e, &loop, &cfg);
	if (engine_load(&e, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(e.fleet.nnodes, 3 + 3 + 4);
	n = fleet_find_node(&e.fleet, "host1");
	assert_non_null(n);
	assert_ptr_equal(n->provider, &provider_inventory);
	assert_string_equal(n->user, "deploy");
	assert_string_equal(node_group_name(&e.fleet, n), "atlanta");
	assert_int_equal(json_integer_value(json_object_get(n->vars,
	    "escape_pods")), 1);
	n = fleet_find_node(&e.fleet, "api02");
	assert_string_equal(n->address, "2001:db8::10");
	n = fleet_find_node(&e.fleet, "api01");
	assert_int_equal(n->port, 2201);
	assert_int_equal(engine_round(&e, 5000), 0);
	for (i = 3; i < e.fleet.nnodes; i++) {
		const struct check *c = &e.fleet.checks[e.fleet.nodes[i].checks[0]];

		assert_int_equal(e.fleet.nodes[i].nchecks, 1);
		assert_string_equal(c->name, "ping");
		assert_int_equal(c->state, NX_UNKNOWN);
		assert_non_null(strstr(c->output, "no transport yet"));
		assert_int_equal(e.fleet.nodes[i].host_state, NX_HOST_UP);
		assert_int_equal(e.fleet.nodes[i].health, NX_H_UNKNOWN);
	}
	assert_int_equal(w.n, 0);
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
}

/* A node another provider already has is kept, and the clash reported. */
static void
test_provider_clash_with_demo(void **state)
{
	static const char text[] = "[web]\nworker-0001.fra1 ansible_host=192.0.2.9\n"
	    "web99\n";
	char path[] = "/tmp/nx-test-inventory-XXXXXX";
	struct warnings w = { 0 };
	struct nx_err err = { { 0 } };
	struct nx_config cfg;
	struct engine e;
	uv_loop_t loop;
	FILE *fp;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	uv_loop_init(&loop);
	config_defaults(&cfg);
	cfg.demo.nodes = 3;
	cfg.demo.local = false;
	cfg.ninventories = 1;
	cfg.inventories = xcalloc(1, sizeof *cfg.inventories);
	cfg.inventories[0] = xstrdup(path);
	cfg.warn = collect_warning;
	cfg.warn_arg = &w;
	engine_init(&e, &loop, &cfg);
	assert_int_equal(engine_load(&e, &err), 0);
	assert_int_equal(e.fleet.nnodes, 4);
	assert_ptr_equal(fleet_find_node(&e.fleet, "worker-0001.fra1")->provider,
	    &provider_sim);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.text[0], ":2: host 'worker-0001.fra1' is already a "
	    "node of another provider"));
	warnings_free(&w);
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
	unlink(path);
}

/* Parses text as path; the error message must be want. */
static void
parse_error_is(const char *path, const char *text, const char *want)
{
	struct nx_err err = { { 0 } };
	struct inventory inv;
	int rc;

	inv_init(&inv);
	rc = inv_parse(&inv, path, text, strlen(text), &err);
	if (rc == 0)
		rc = inv_finish(&inv, &err);
	if (rc == 0)
		fail_msg("no error for: %s", text);
	assert_string_equal(err.msg, want);
	inv_free(&inv);
}

static void
test_yaml_fixture(void **state)
{
	struct warnings w = { { 0 }, 0 };
	struct inventory inv;
	json_t *hold = NULL;
	const json_t *v;

	(void)state;
	load(&inv, &w, "hosts.yml", NULL);
	assert_int_equal(w.n, 0);
	/* ranges as keys, host:port, null hosts */
	assert_true(inv_host_find(&inv, "www02.example.com") >= 0);
	assert_int_equal(json_integer_value(hostvar(&inv, "bar.example.com",
	    "ansible_port", &hold)), 8080);
	assert_int_equal(json_integer_value(hostvar(&inv, "bar.example.com",
	    "http_port", &hold)), 8080);
	assert_int_equal(json_integer_value(hostvar(&inv, "foo.example.com",
	    "http_port", &hold)), 80);
	/* Ansible's typing of plain scalars */
	assert_true(json_is_true(hostvar(&inv, "foo.example.com", "enabled",
	    &hold)));
	assert_true(json_is_false(hostvar(&inv, "foo.example.com", "debug",
	    &hold)));
	assert_true(json_real_value(hostvar(&inv, "foo.example.com", "ratio",
	    &hold)) == 1.5);
	assert_int_equal(json_integer_value(hostvar(&inv, "foo.example.com",
	    "mode", &hold)), 0644);
	assert_int_equal(json_integer_value(hostvar(&inv, "foo.example.com",
	    "mask", &hold)), 31);
	assert_int_equal(json_integer_value(hostvar(&inv, "foo.example.com",
	    "big", &hold)), 1000);
	assert_int_equal(json_integer_value(hostvar(&inv, "foo.example.com",
	    "minutes", &hold)), 90);
	assert_string_equal(json_string_value(hostvar(&inv, "foo.example.com",
	    "version", &hold)), "2.0");
	assert_true(json_is_null(hostvar(&inv, "foo.example.com", "nothing",
	    &hold)));
	assert_string_equal(json_string_value(hostvar(&inv, "foo.example.com",
	    "words", &hold)), "not a number");
	v = hostvar(&inv, "foo.example.com", "dns", &hold);
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(json_string_value(json_array_get(v, 1)),
	    "10.0.0.2");
	v = hostvar(&inv, "foo.example.com", "limits", &hold);
	assert_int_equal(json_integer_value(json_object_get(v, "cpu")), 2);
	assert_string_equal(json_string_value(json_object_get(v, "mem")), "4G");
	assert_string_equal(json_string_value(hostvar(&inv,
	    "lonely.example.com", "note", &hold)), "two\nlines\n");
	/* children and priority: test (priority 10) over prod's west */
	assert_string_equal(json_string_value(hostvar(&inv, "three.example.com",
	    "env", &hold)), "test");
	assert_string_equal(json_string_value(hostvar(&inv, "jumper",
	    "ntp_server", &hold)), "ntp.atlanta.example.com");
	json_decref(hold);
	inv_free(&inv);
	warnings_free(&w);
}

static void
test_yaml_anchors(void **state)
{
	struct warnings w = { { 0 }, 0 };
	struct inventory inv;
	json_t *hold = NULL;
	const json_t *v;

	(void)state;
	load(&inv, &w, "anchors.yaml", NULL);
	assert_int_equal(json_integer_value(hostvar(&inv, "app1",
	    "ansible_port", &hold)), 2200);
	assert_string_equal(json_string_value(hostvar(&inv, "app1",
	    "ansible_user", &hold)), "deploy");
	assert_int_equal(json_integer_value(hostvar(&inv, "app2",
	    "ansible_port", &hold)), 2222);
	v = hostvar(&inv, "app3", "tags", &hold);
	assert_string_equal(json_string_value(json_array_get(v, 0)), "blue");
	assert_string_equal(json_string_value(hostvar(&inv, "redisb", "role",
	    &hold)), "cache");
	assert_int_equal(json_integer_value(hostvar(&inv, "redisc",
	    "ansible_port", &hold)), 2222);
	json_decref(hold);
	inv_free(&inv);
	warnings_free(&w);
}

static void
test_yaml_errors(void **state)
{
	(void)state;
	parse_error_is("t.yml", "all:\n  hosts:\n    a: [1\n",
	    "t.yml:4:1: while parsing a flow sequence: did not find expected "
	    "',' or ']'");
	parse_error_is("t.yml", "all:\n  hosts:\n    bad_-:\n",
	    "t.yml:3:5: invalid host name 'bad_-': a label ends with '-' or '_'");
	parse_error_is("t.yml", "all:\n  chidren:\n    web:\n",
	    "t.yml:2:3: unknown key 'chidren' in group 'all' (hosts, vars, "
	    "children)");
	parse_error_is("t.yml", "web:\n  hosts:\n    - a\n    - b\n",
	    "t.yml:3:5: \"hosts\" of group 'web' must be a mapping, not a list");
	parse_error_is("t.yml", "web:\n  hosts:\n    h1: 5\n",
	    "t.yml:3:9: host 'h1': its value must be a mapping of variables, "
	    "or empty");
	parse_error_is("t.yml", "web:\n  hosts:\n    h1:70000:\n",
	    "t.yml:3:5: host 'h1:70000': port 70000 is not in 1-65535");
	parse_error_is("t.yml", "all:\n  vars:\n    x: *nope\n",
	    "t.yml:3:8: alias *nope refers to no anchor defined before it");
	parse_error_is("t.yml", "all:\n  vars: &a\n    x: *a\n",
	    "t.yml:3:8: alias *a refers to a node that contains it (recursive "
	    "structures are not supported)");
	parse_error_is("t.yml", "all:\n  vars:\n    p: !vault |\n      $ANSIBLE\n",
	    "t.yml:3:8: vault-encrypted values are not supported");
	parse_error_is("t.yml", "plugin: aws_ec2\nregions: [x]\n",
	    "t.yml:1:1: an inventory plugin configuration (plugin:), not a "
	    "YAML inventory; inventory plugins are not supported");
	parse_error_is("t.yml", "- a\n- b\n", "t.yml:1:1: a YAML inventory is "
	    "a mapping of group names (all:, web:, ...), not a list");
	parse_error_is("t.yml", "# nothing\n", "t.yml: an empty YAML inventory");
	parse_error_is("t.yml", "web:\n  children:\n    all:\n",
	    "t.yml:3:5: group 'all' cannot be a child of 'web'");
	parse_error_is("t.yml", "a:\n---\nb:\n",
	    "t.yml:2:1: a second YAML document: an inventory is one document");
	parse_error_is("t.yml", "we b:\n", "t.yml:1:1: invalid group name "
	    "'we b' (letters, digits, '_' and '-')");
	parse_error_is("t.yml", "a:\n  children:\n    b:\n      children:\n"
	    "        a:\n", "t.yml:1: group 'a' is a child of 'b' and also its "
	    "ancestor: a cycle in :children");
	/* billion laughs: aliases of aliases stop at the budget */
	parse_error_is("t.yml",
	    "all:\n  vars:\n"
	    "    a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
	    "t.yml:3:12: aliases expand to more than 2000000 nodes");
}

static void
test_yaml_duplicates_and_strings(void **state)
{
	static const char text[] =
	    "web:\n  hosts: w1\n  vars:\n    a: 1\n    a: 2\n"
	    "db:\n  hosts:\n    d1: {x: !!str 5, y: '07', z: !unsafe '{{ x }}',"
	    " n: -0b101, o: 0X1, t: .5, e: 1.0e+3, f: 1e3}\n";
	struct warnings w = { { 0 }, 0 };
	struct nx_err err = { { 0 } };
	struct inventory inv;
	json_t *hold = NULL;

	(void)state;
	inv_init(&inv);
	inv.warn = collect_warning;
	inv.warn_arg = &w;
	if (inv_parse(&inv, "t.yaml", text, strlen(text), &err) != 0 ||
	    inv_finish(&inv, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.text[0], "t.yaml:5:5: duplicate key 'a' (also at "
	    "line 4); the last value wins");
	assert_int_equal(json_integer_value(hostvar(&inv, "w1", "a", &hold)), 2);
	assert_string_equal(json_string_value(hostvar(&inv, "d1", "x", &hold)),
	    "5");
	assert_string_equal(json_string_value(hostvar(&inv, "d1", "y", &hold)),
	    "07");
	assert_string_equal(json_string_value(hostvar(&inv, "d1", "z", &hold)),
	    "{{ x }}");
	assert_int_equal(json_integer_value(hostvar(&inv, "d1", "n", &hold)),
	    -5);
	assert_string_equal(json_string_value(hostvar(&inv, "d1", "o", &hold)),
	    "0X1");
	assert_true(json_real_value(hostvar(&inv, "d1", "t", &hold)) == 0.5);
	assert_true(json_real_value(hostvar(&inv, "d1", "e", &hold)) == 1000.0);
	assert_string_equal(json_string_value(hostvar(&inv, "d1", "f", &hold)),
	    "1e3");
	json_decref(hold);
	inv_free(&inv);
	warnings_free(&w);
}

/* Writes an executable sh script into a new temporary directory. */
static char *
write_script(const char *body)
{
	char dir[] = "/tmp/nx-invscript.XXXXXX", *path;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	xasprintf(&path, "%s/inventory.sh", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "#!/bin/sh\n%s", body);
	fclose(fp);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static void
remove_script(char *path)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strrchr(path, '/') -
	    path), path);
	assert_int_equal(system(cmd), 0);
	free(path);
}

static int
load_script(struct inventory *inv, const char *path, int timeout_ms,
    struct nx_err *err)
{
	inv_init(inv);
	inv->script_timeout_ms = timeout_ms;
	if (inv_load_file(inv, path, err) != 0)
		return -1;
	return inv_finish(inv, err);
}

static void
test_script_meta(void **state)
{
	/* The shape of the EC2/OpenStack scripts: groups and _meta. */
	char *path = write_script(
	    "[ \"$1\" = --list ] || { echo 'called without --list' >&2; exit 3; }\n"
	    "cat <<'EOF'\n"
	    "{ \"web\": { \"hosts\": [\"w1\", \"w2\"], \"vars\": {\"http_port\": 80},\n"
	    "           \"children\": [\"canary\"] },\n"
	    "  \"canary\": [\"w3\"],\n"
	    "  \"lonely\": { \"ansible_host\": \"10.9.9.9\" },\n"
	    "  \"_meta\": { \"hostvars\": { \"w1\": { \"ansible_host\": \"10.0.0.1\" },\n"
	    "                             \"w3\": { \"rack\": \"r3\" } } } }\n"
	    "EOF\n");
	struct nx_err err = { { 0 } };
	struct inventory inv;
	json_t *hold = NULL;
	int g;

	(void)state;
	if (load_script(&inv, path, 0, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(inv.nhosts, 4);
	assert_string_equal(json_string_value(hostvar(&inv, "w1",
	    "ansible_host", &hold)), "10.0.0.1");
	assert_int_equal(json_integer_value(hostvar(&inv, "w3", "http_port",
	    &hold)), 80);
	assert_string_equal(json_string_value(hostvar(&inv, "w3", "rack",
	    &hold)), "r3");
	/* Ansible's simplified syntax: a host named like the group. */
	assert_string_equal(json_string_value(hostvar(&inv, "lonely",
	    "ansible_host", &hold)), "10.9.9.9");
	g = inv_group_find(&inv, "web");
	assert_true(g >= 0);
	assert_int_equal(inv.groups[g].nchildren, 1);
	json_decref(hold);
	inv_free(&inv);
	remove_script(path);
}

static void
test_script_host_calls(void **state)
{
	/* Without _meta, one --host NAME run per host. */
	char *path = write_script(
	    "case \"$1\" in\n"
	    "--list) echo '{\"db\": [\"d1\", \"d2\"], \"all\": {\"vars\": {\"x\": 1}}}';;\n"
	    "--host) printf '{\"who\": \"%s\", \"n\": %d}' \"$2\" ${#2};;\n"
	    "*) exit 2;;\n"
	    "esac\n");
	struct nx_err err = { { 0 } };
	struct inventory inv;
	json_t *hold = NULL;

	(void)state;
	if (load_script(&inv, path, 0, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(json_string_value(hostvar(&inv, "d2", "who",
	    &hold)), "d2");
	assert_int_equal(json_integer_value(hostvar(&inv, "d1", "x", &hold)), 1);
	json_decref(hold);
	inv_free(&inv);
	remove_script(path);
}

static void
script_error_contains(const char *body, int timeout_ms, const char *want)
{
	char *path = write_script(body);
	struct nx_err err = { { 0 } };
	struct inventory inv;

	if (load_script(&inv, path, timeout_ms, &err) == 0)
		fail_msg("no error for: %s", body);
	if (strstr(err.msg, want) == NULL)
		fail_msg("'%s' not in '%s'", want, err.msg);
	inv_free(&inv);
	remove_script(path);
}

static void
test_script_errors(void **state)
{
	(void)state;
	script_error_contains("echo 'no credentials for the cloud' >&2\nexit 4\n",
	    0, "inventory.sh --list: exit status 4 (stderr: no credentials for "
	    "the cloud)");
	script_error_contains("echo '{\"web\": [\"w1\",'\necho oops >&2\n", 0,
	    "inventory.sh --list: output line 2 column 0: ");
	script_error_contains("echo '{\"web\": [\"w1\",'\necho oops >&2\n", 0,
	    "(stderr: oops)");
	script_error_contains("echo '[1]'\n", 0,
	    "inventory.sh --list: the output must be a JSON object");
	script_error_contains("echo '{\"web\": {\"hosts\": \"w1\"}}'\n", 0,
	    "inventory.sh --list: group 'web': \"hosts\" must be a list");
	script_error_contains("echo '{\"web\": [\"-bad\"]}'\n", 0,
	    "group 'web' hosts[0]: invalid host name '-bad'");
	script_error_contains("case $1 in --list) echo '{\"w\": [\"a\"]}';;"
	    " *) echo 'host lookup failed' >&2; exit 1;; esac\n", 0,
	    "inventory.sh --host a: exit status 1 (stderr: host lookup failed)");
	script_error_contains("kill -9 $$\n", 0, "killed by signal 9");
	{
		/* A stdout of 2000 lines of stderr: only the first 1000 bytes. */
		char *path = write_script("i=0; while [ $i -lt 2000 ]; do "
		    "echo 'error line' >&2; i=$((i+1)); done; exit 1\n");
		struct nx_err err = { { 0 } };
		struct inventory inv;

		assert_int_equal(load_script(&inv, path, 0, &err), -1);
		assert_true(strlen(err.msg) < sizeof err.msg - 1 ||
		    strstr(err.msg, "exit status 1") != NULL);
		inv_free(&inv);
		remove_script(path);
	}
}

/*
 * Whether the process whose pid script path wrote to "PATH.pid" is gone
 * (or a zombie no one has reaped yet) within 2 s.
 */
static bool
script_bg_gone(const char *path)
{
	char *pidfile, stat[64], buf[256];
	const char *st;
	FILE *fp;
	int pid = 0, i;

	xasprintf(&pidfile, "%s.pid", path);
	fp = fopen(pidfile, "r");
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%d", &pid), 1);
	fclose(fp);
	free(pidfile);
	for (i = 0; i < 100 && kill(pid, 0) == 0; i++) {
		snprintf(stat, sizeof stat, "/proc/%d/stat", pid);
		if ((fp = fopen(stat, "r")) == NULL)
			return true;
		buf[0] = '\0';
		if (fgets(buf, sizeof buf, fp) == NULL)
			buf[0] = '\0';
		fclose(fp);
		if ((st = strrchr(buf, ')')) != NULL && st[2] == 'Z')
			return true;
		usleep(20000);
	}
	return i < 100;
}

static void
test_script_timeout(void **state)
{
	/* A hung script and its children are killed at the timeout. */
	char *path = write_script("sleep 30 &\necho $! > \"$0.pid\"\n"
	    "echo started >&2\nwait\n");
	struct nx_err err = { { 0 } };
	struct inventory inv;
	struct timespec t0, t1;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* 1.5 s: room for a loaded machine to start the script */
	assert_int_equal(load_script(&inv, path, 1500, &err), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (strstr(err.msg, "--list: no answer in 1500 ms; its process group "
	    "was killed (stderr: started)") == NULL)
		fail_msg("%s", err.msg);
	assert_true(t1.tv_sec - t0.tv_sec < 10);
	assert_true(script_bg_gone(path));      /* the sleep too */
	inv_free(&inv);
	remove_script(path);
}

static void
test_script_too_much(void **state)
{
	/* More than 64 MiB on stdout: killed there, with what it started. */
	char *path = write_script("sleep 30 &\necho $! > \"$0.pid\"\n"
	    "exec yes '{\"web\": [\"w1\"]}'\n");
	struct nx_err err = { { 0 } };
	struct inventory inv;
	struct timespec t0, t1;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(load_script(&inv, path, 20000, &err), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (strstr(err.msg, "inventory.sh --list: more than 64 MiB of output; "
	    "killed") == NULL)
		fail_msg("%s", err.msg);
	assert_true(t1.tv_sec - t0.tv_sec < 15);        /* not the timeout */
	assert_true(script_bg_gone(path));      /* its group's sleep too */
	inv_free(&inv);
	remove_script(path);
}

static void
test_script_held_output(void **state)
{
	/* It answers and exits, but a process it started keeps stdout open:
	 * no answer within the timeout, as before child.c. */
	char *path = write_script("(sleep 30; echo late) &\n"
	    "echo '{\"web\": [\"w1\"]}'\necho listed >&2\n");
	struct nx_err err = { { 0 } };
	struct inventory inv;

	(void)state;
	assert_int_equal(load_script(&inv, path, 1000, &err), -1);
	if (strstr(err.msg, "inventory.sh --list: no answer in 1000 ms; its "
	    "process group was killed (stderr: listed)") == NULL)
		fail_msg("%s", err.msg);
	inv_free(&inv);
	remove_script(path);
}

static void
test_script_no_slash(void **state)
{
	/* A script named without a directory is the file here, not a
	 * program of PATH. */
	char *path = write_script("echo '{\"here\": [\"h1\"]}'\n");
	char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	char old[4096];
	struct nx_err err = { { 0 } };
	struct inventory inv;

	(void)state;
	assert_non_null(getcwd(old, sizeof old));
	assert_int_equal(chdir(dir), 0);
	if (load_script(&inv, "inventory.sh", 0, &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(inv_host_find(&inv, "h1") >= 0);
	inv_free(&inv);
	assert_int_equal(chdir(old), 0);
	free(dir);
	remove_script(path);
}

static void
test_script_not_executable(void **state)
{
	/* Without the executable bit the file is read, not run. */
	char *path = write_script("[web]\nbad_-\n");
	struct nx_err err = { { 0 } };
	struct inventory inv;

	(void)state;
	assert_int_equal(chmod(path, 0644), 0);
	inv_init(&inv);
	assert_int_equal(inv_load_file(&inv, path, &err), -1);
	assert_non_null(strstr(err.msg, "inventory.sh:3: invalid host name"));
	inv_free(&inv);
	remove_script(path);
}

/* Loads FIXTURES/ssh/config with HOME at FIXTURES (Include is ~/.ssh). */
static void
test_ssh_config(void **state)
{
	struct warnings w = { { 0 }, 0 };
	struct nx_err err = { { 0 } };
	struct inventory inv;
	json_t *hold = NULL;
	char *home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL, *dir;

	(void)state;
	/* the fixture's Include is relative to ~/.ssh: make a HOME for it */
	dir = xstrdup("/tmp/nx-sshhome.XXXXXX");
	assert_non_null(mkdtemp(dir));
	{
		char cmd[512];

		/* u+w: distcheck's source tree is read-only */
		snprintf(cmd, sizeof cmd, "cp -r '%s/ssh' '%s/.ssh' && "
		    "chmod -R u+w '%s/.ssh'", FIXTURES, dir, dir);
		assert_int_equal(system(cmd), 0);
	}
	setenv("HOME", dir, 1);
	inv_init(&inv);
	inv.warn = collect_warning;
	inv.warn_arg = &w;
	if (inv_load_file(&inv, "ssh_config:~/.ssh/config", &err) != 0 ||
	    inv_finish(&inv, &err) != 0)
		fail_msg("%s", err.msg);
	/* concrete names only: bastion db1 db2 legacy gitlab */
	assert_int_equal(inv.nhosts, 5);
	assert_true(inv_host_find(&inv, "db3") < 0);
	assert_string_equal(json_string_value(hostvar(&inv, "bastion",
	    "ansible_host", &hold)), "192.0.2.10");
	assert_int_equal(json_integer_value(hostvar(&inv, "bastion",
	    "ansible_port", &hold)), 2222);
	assert_string_equal(json_string_value(hostvar(&inv, "bastion",
	    "ansible_user", &hold)), "jump");
	/* %h, and the first value wins: `Host *` comes last */
	assert_string_equal(json_string_value(hostvar(&inv, "db2",
	    "ansible_host", &hold)), "db2.internal");
	assert_string_equal(json_string_value(hostvar(&inv, "db2",
	    "ansible_user", &hold)), "fallback");
	/* `Host = legacy`, `HostName="..."`, `Port=2200` */
	assert_int_equal(json_integer_value(hostvar(&inv, "legacy",
	    "ansible_port", &hold)), 2200);
	assert_string_equal(json_string_value(hostvar(&inv, "legacy",
	    "ansible_host", &hold)), "198.51.100.7");
	/* from the Included file */
	assert_string_equal(json_string_value(hostvar(&inv, "gitlab",
	    "ansible_user", &hold)), "git");
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.text[0], "config:23: Match blocks are not "
	    "evaluated"));
	json_decref(hold);
	inv_free(&inv);
	warnings_free(&w);
	{
		char cmd[512];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
	free(dir);
	if (home != NULL)
		setenv("HOME", home, 1);
	free(home);
}

static void
test_ssh_config_errors(void **state)
{
	char *home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	char dir[] = "/tmp/nx-sshloop.XXXXXX", *loop;
	FILE *fp;

	(void)state;
	parse_error_is("ssh_config:c", "Host a\n  Port 70000\n",
	    "c:2: Port '70000' is not a number from 1 to 65535");
	parse_error_is("ssh_config:c", "Host a\n  Port\n",
	    "c:2: Port takes one value");
	parse_error_is("ssh_config:c", "Host a\n  HostName \"x\n",
	    "c:2: no closing quote");
	parse_error_is("ssh_config:c", "Host bad_-\n",
	    "c:1: invalid host name 'bad_-': a label ends with '-' or '_'");
	parse_error_is("ssh_config:c", "Host a\n  HostName %h.%d\n",
	    "c:2: HostName '%h.%d': only %h and %% are expanded");
	parse_error_is("ssh_config:c", "Host a\n  HostName -oProxy\n",
	    "c:2: HostName '-oProxy' (for 'a') is not an address: a label "
	    "starts with '-' or '_'");
	parse_error_is("ssh_config:c", "Host\n", "c:1: Host needs a pattern");
	/* An Include of itself stops at the depth limit. */
	assert_non_null(mkdtemp(dir));
	setenv("HOME", dir, 1);
	xasprintf(&loop, "%s/.ssh", dir);
	assert_int_equal(mkdir(loop, 0700), 0);
	free(loop);
	xasprintf(&loop, "%s/.ssh/loop", dir);
	fp = fopen(loop, "w");
	assert_non_null(fp);
	fputs("Host x\nInclude loop\n", fp);
	fclose(fp);
	{
		struct nx_err err = { { 0 } };
		struct inventory inv;
		char *spec;

		xasprintf(&spec, "ssh_config:%s", loop);
		inv_init(&inv);
		assert_int_equal(inv_load_file(&inv, spec, &err), -1);
		assert_non_null(strstr(err.msg, "/.ssh/loop:2: Include nested "
		    "more than 16 deep"));
		inv_free(&inv);
		free(spec);
	}
	unlink(loop);
	free(loop);
	{
		char cmd[300];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
	if (home != NULL)
		setenv("HOME", home, 1);
	free(home);
}

static void
test_terraform(void **state)
{
	struct warnings w = { { 0 }, 0 };
	struct inventory inv;
	json_t *hold = NULL;
	const json_t *v;
	int g;

	(void)state;
	load(&inv, &w, "terraform.tfstate", NULL);
	/* 7 compute instances; the data source and security group are not */
	assert_int_equal(inv.nhosts, 8);
	assert_true(inv_host_find(&inv, "ubuntu") < 0);
	/* aws: tags.Name, public over private, id, module and tag groups */
	assert_string_equal(json_string_value(hostvar(&inv, "web-0",
	    "ansible_host", &hold)), "203.0.113.10");
	assert_string_equal(json_string_value(hostvar(&inv, "web-0", "tf_id",
	    &hold)), "i-0a1b2c3d4e5f60001");
	assert_string_equal(json_string_value(hostvar(&inv, "web-0",
	    "tf_address", &hold)), "module.web.aws_instance.app[0]");
	v = hostvar(&inv, "web-0", "tf_tags", &hold);
	assert_string_equal(json_string_value(json_object_get(v, "Role")), "web");
	g = inv_group_find(&inv, "module_web");
	assert_true(g >= 0);
	assert_int_equal(inv.groups[g].nhosts, 2);
	assert_true(inv_group_find(&inv, "tag_Env_prod") >= 0);
	assert_true(inv_group_find(&inv, "tag_Name_web-0") < 0);
	/* a Name that is no host name: the address, a warning */
	assert_string_equal(json_string_value(hostvar(&inv,
	    "aws_instance.app.1", "ansible_host", &hold)), "10.0.1.11");
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.text[0], "terraform.tfstate:39: "
	    "module.web.aws_instance.app[1]: its name 'Web Server (old)' is not "
	    "a host name"));
	/* google: nat_ip, else network_ip; for_each keys */
	assert_string_equal(json_string_value(hostvar(&inv, "db-primary",
	    "ansible_host", &hold)), "198.51.100.20");
	assert_string_equal(json_string_value(hostvar(&inv, "db-replica",
	    "ansible_host", &hold)), "10.132.0.6");
	assert_string_equal(json_string_value(hostvar(&inv, "db-replica",
	    "tf_address", &hold)), "google_compute_instance.db[\"replica\"]");
	assert_true(inv_group_find(&inv, "tag_tier_db") >= 0);
	/* azure, openstack, digitalocean (a list of tags) */
	assert_string_equal(json_string_value(hostvar(&inv, "jumpbox",
	    "ansible_host", &hold)), "192.0.2.44");
	assert_string_equal(json_string_value(hostvar(&inv, "worker-1",
	    "ansible_host", &hold)), "10.20.0.7");
	assert_true(inv_group_find(&inv, "tag_role_batch") >= 0);
	assert_string_equal(json_string_value(hostvar(&inv, "cache-1",
	    "tf_private_ip", &hold)), "10.110.0.2");
	assert_true(inv_group_find(&inv, "tag_redis") >= 0);
	/* attributes_flat of older providers */
	assert_string_equal(json_string_value(hostvar(&inv, "legacy-box",
	    "ansible_host", &hold)), "10.0.9.9");
	json_decref(hold);
	inv_free(&inv);
	warnings_free(&w);
}

static void
test_terraform_errors(void **state)
{
	struct nx_err err = { { 0 } };
	struct inventory inv;
	char *path;

	(void)state;
	/* by content, even named .json */
	inv_init(&inv);
	xasprintf(&path, "%s/state-v3.json", FIXTURES);
	assert_int_equal(inv_load_file(&inv, path, &err), -1);
	assert_non_null(strstr(err.msg, "state-v3.json:2:5: $.version: "
	    "Terraform state format version other than 4 is not supported"));
	free(path);
	inv_free(&inv);
	parse_error_is("t.tfstate", "{\"version\": 4, \"terraform_version\": "
	    "\"1.6.0\",\n \"resources\": [\n  {\"mode\": \"managed\", \"type\": "
	    "\"aws_instance\", \"name\": \"x\", \"instances\": [\n   "
	    "{\"attributes\": {\"public_ip\": \"-oProxyCommand=x\"}}]}]}\n",
	    "t.tfstate:4:4: $.resources[0].instances[0]: aws_instance.x: "
	    "'-oProxyCommand=x' is not an address: a label starts with '-' or "
	    "'_'");
	parse_error_is("t.tfstate", "{\"version\": 4, \"terraform_version\": "
	    "\"1.6.0\", \"resources\": {}}",
	    "t.tfstate:1:46: $.resources: \"resources\" must be an array");
	parse_error_is("t.tfstate", "{\"version\": 4, \"terraform_version\": "
	    "\"1.6.0\", \"resources\": [{\"mode\": \"managed\"}]}",
	    "t.tfstate:1:60: $.resources[0]: a resource needs string \"mode\", "
	    "\"type\" and \"name\"");
	parse_error_is("t.tfstate", "{\"version\": 4,\n\"terraform_version\": 1,",
	    "t.tfstate:2:23: string or '}' expected near end of file");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ini_hosts),
		cmocka_unit_test(test_ini_children_precedence),
		cmocka_unit_test(test_ini_priority_and_names),
		cmocka_unit_test(test_ini_ranges_and_values),
		cmocka_unit_test(test_ini_python_literals),
		cmocka_unit_test(test_ini_errors),
		cmocka_unit_test(test_ini_ok_edge_cases),
		cmocka_unit_test(test_json_fixture),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_json_locate),
		cmocka_unit_test(test_merge_two_files),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_to_fleet_errors),
		cmocka_unit_test(test_provider_in_engine),
		cmocka_unit_test(test_provider_clash_with_demo),
		cmocka_unit_test(test_yaml_fixture),
		cmocka_unit_test(test_yaml_anchors),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_yaml_duplicates_and_strings),
		cmocka_unit_test(test_script_meta),
		cmocka_unit_test(test_script_host_calls),
		cmocka_unit_test(test_script_errors),
		cmocka_unit_test(test_script_timeout),
		cmocka_unit_test(test_script_too_much),
		cmocka_unit_test(test_script_held_output),
		cmocka_unit_test(test_script_no_slash),
		cmocka_unit_test(test_script_not_executable),
		cmocka_unit_test(test_ssh_config),
		cmocka_unit_test(test_ssh_config_errors),
		cmocka_unit_test(test_terraform),
		cmocka_unit_test(test_terraform_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
