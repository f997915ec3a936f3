/*
 * test_role.c - roles: the capability table, resolution of the running
 * user from the roles section (users, groups, default, --readonly, no
 * section), and configuration errors with file:line:column.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cmocka.h>

#include "act.h"

static void
test_caps(void **state)
{
	uint32_t viewer = NX_ROLE_BIT(NX_ROLE_VIEWER);
	uint32_t op = NX_ROLE_BIT(NX_ROLE_OPERATOR);
	uint32_t admin = NX_ROLE_BIT(NX_ROLE_ADMIN);
	uint32_t aud = NX_ROLE_BIT(NX_ROLE_AUDITOR);
	char buf[64];

	(void)state;
	assert_true(role_can(viewer, NX_CAP_VIEW));
	assert_false(role_can(viewer, NX_CAP_ACK));
	assert_false(role_can(viewer, NX_CAP_ACTION));
	assert_true(role_can(op, NX_CAP_ACK));
	assert_true(role_can(op, NX_CAP_DOWNTIME));
	assert_true(role_can(op, NX_CAP_ACTION));
	assert_true(role_can(op, NX_CAP_APPROVE));
	assert_false(role_can(op, NX_CAP_ADHOC));
	assert_false(role_can(op, NX_CAP_RULES));
	assert_false(role_can(op, NX_CAP_AUDIT));
	assert_true(role_can(admin, NX_CAP_ADHOC));
	assert_true(role_can(admin, NX_CAP_RULES));
	assert_true(role_can(admin, NX_CAP_AUDIT));
	assert_true(role_can(aud, NX_CAP_AUDIT));
	assert_false(role_can(aud, NX_CAP_ACK));
	assert_false(role_can(0, NX_CAP_VIEW));
	/* The least privileged role granting it is the one audited. */
	assert_int_equal(role_granting(op | admin, NX_CAP_ACK),
	    NX_ROLE_OPERATOR);
	assert_int_equal(role_granting(op | admin, NX_CAP_ADHOC),
	    NX_ROLE_ADMIN);
	assert_int_equal(role_granting(viewer, NX_CAP_ACK), NX_ROLE_VIEWER);
	assert_string_equal(role_names(op | aud, buf, sizeof buf),
	    "auditor,operator");
	assert_string_equal(role_names(0, buf, sizeof buf), "none");
	assert_string_equal(role_cap_needs(NX_CAP_ACK, buf, sizeof buf),
	    "operator or admin");
	assert_string_equal(role_cap_needs(NX_CAP_AUDIT, buf, sizeof buf),
	    "auditor or admin");
	assert_string_equal(role_cap_needs(NX_CAP_ADHOC, buf, sizeof buf),
	    "admin");
	assert_string_equal(role_name(NX_ROLE_ENGINE), "engine");
	assert_int_equal(role_from_name("auditor"), NX_ROLE_AUDITOR);
	assert_int_equal(role_from_name("root"), -1);
	assert_string_equal(cap_name(NX_CAP_DOWNTIME), "downtime");
}

/* Loads text as a configuration; returns 0 or -1 with err. */
static int
load(struct nx_config *cfg, const char *text, struct nx_err *err)
{
	config_defaults(cfg);
	return config_load_buffer(cfg, "roles.json", text, strlen(text), err);
}

static void
test_resolve(void **state)
{
	struct passwd *pw = getpwuid(getuid());
	struct group *gr;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	struct nx_actor a;
	char user[64], text[1024];

	(void)state;
	assert_non_null(pw);
	gr = getgrgid(pw->pw_gid);
	assert_non_null(gr);

	/* No roles section: the running user is admin; --readonly: viewer. */
	config_defaults(&cfg);
	assert_int_equal(role_resolve(&cfg, getuid(), false, &a, user,
	    sizeof user, &err), 0);
	assert_string_equal(a.user, pw->pw_name);
	assert_int_equal(a.roles, NX_ROLE_BIT(NX_ROLE_ADMIN));
	role_resolve(&cfg, getuid(), true, &a, user, sizeof user, &err);
	assert_int_equal(a.roles, NX_ROLE_BIT(NX_ROLE_VIEWER));
	config_free(&cfg);

	/* Named as a user and through the primary group. */
	snprintf(text, sizeof text, "{\"roles\": {\"operator\": {\"users\": "
	    "[\"nobody-else\", \"%s\"]}, \"auditor\": {\"groups\": [\"%s\"]}}}",
	    pw->pw_name, gr->gr_name);
	assert_int_equal(load(&cfg, text, &err), 0);
	role_resolve(&cfg, getuid(), false, &a, user, sizeof user, &err);
	assert_int_equal(a.roles, NX_ROLE_BIT(NX_ROLE_OPERATOR) |
	    NX_ROLE_BIT(NX_ROLE_AUDITOR));
	role_resolve(&cfg, getuid(), true, &a, user, sizeof user, &err);
	assert_int_equal(a.roles, NX_ROLE_BIT(NX_ROLE_VIEWER));
	config_free(&cfg);

	/* Named nowhere: the default, viewer when none is given. */
	assert_int_equal(load(&cfg, "{\"roles\": {\"default\": \"auditor\", "
	    "\"admin\": {\"users\": [\"x-not-me\"]}}}", &err), 0);
	role_resolve(&cfg, getuid(), false, &a, user, sizeof user, &err);
	assert_int_equal(a.roles, NX_ROLE_BIT(NX_ROLE_AUDITOR));
	config_free(&cfg);
	assert_int_equal(load(&cfg, "{\"roles\": {\"admin\": {\"users\": "
	    "[\"x-not-me\"]}}}", &err), 0);
	role_resolve(&cfg, getuid(), false, &a, user, sizeof user, &err);
	assert_int_equal(a.roles, NX_ROLE_BIT(NX_ROLE_VIEWER));
	config_free(&cfg);
}

static void
test_config_errors(void **state)
{
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	json_t *j;

	(void)state;
	assert_int_equal(load(&cfg, "{\"roles\": {\n  \"default\": \"boss\"}}",
	    &err), -1);
	assert_string_equal(err.msg, "roles.json:2:14: roles.default: expected "
	    "viewer, operator, admin or auditor, got \"boss\"");
	config_free(&cfg);
	assert_int_equal(load(&cfg, "{\"roles\": {\"admin\": {\"users\": "
	    "[\"a\", 7]}}}", &err), -1);
	assert_non_null(strstr(err.msg, "roles.json:1:31: roles.admin: "
	    "users[1]: expected a user or group name, got 7"));
	config_free(&cfg);
	assert_int_equal(load(&cfg, "{\"roles\": {\"admin\": {\"user\": []}}}",
	    &err), -1);
	assert_non_null(strstr(err.msg, "roles.json:1:22: roles.admin: unknown "
	    "key \"user\""));
	config_free(&cfg);
	assert_int_equal(load(&cfg, "{\"roles\": {\"boss\": {}}}", &err), -1);
	assert_non_null(strstr(err.msg, "roles.json:1:12:"));
	config_free(&cfg);

	/* config show: what it holds, and a load over it replaces keys. */
	assert_int_equal(load(&cfg, "{\"roles\": {\"operator\": {\"groups\": "
	    "[\"oncall\"]}}}", &err), 0);
	assert_int_equal(config_load_buffer(&cfg, "b.json", "{\"roles\": "
	    "{\"default\": \"operator\"}}", 34, &err), 0);
	j = config_to_json(&cfg);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "roles"), "default")), "operator");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(json_object_get(j, "roles"), "operator"),
	    "groups"), 0)), "oncall");
	json_decref(j);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
