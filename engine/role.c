/*
 * role.c - who may do what (doc/actions.md).
 *
 * The configuration maps Unix users and groups to roles (the `roles`
 * section: one key per role plus `default`); a const table maps roles to
 * capabilities.  The engine API (api.c) asks role_can() before every call
 * and role_granting() for the role it writes in the audit row.
 *
 * The section is five CFG_CUSTOM rows in config.c (roles.default and one
 * per role); each row has its own ops below, all working on the one
 * struct nx_roles in struct nx_config.
 */
#include "config.h"

#include <sys/types.h>

#include <grp.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act.h"

#define ROLE_GROUPS_MAX 256

/* Users and groups named under one role. */
struct role_map {
	char **users;
	size_t nusers;
	char **groups;
	size_t ngroups;
	bool set;               /* the key was in the file */
};

struct nx_roles {
	bool has_default;
	enum nx_role def;       /* of a user named nowhere; viewer if unset */
	struct role_map map[NX_ROLE__COUNT];    /* engine's stays empty */
};

static const char *const role_names_table[NX_ROLE__COUNT] = {
	[NX_ROLE_VIEWER] = "viewer",
	[NX_ROLE_OPERATOR] = "operator",
	[NX_ROLE_ADMIN] = "admin",
	[NX_ROLE_AUDITOR] = "auditor",
	[NX_ROLE_ENGINE] = "engine",
};

static const char *const cap_names_table[NX_CAP__COUNT] = {
	[NX_CAP_VIEW] = "view",
	[NX_CAP_ACK] = "ack",
	[NX_CAP_DOWNTIME] = "downtime",
	[NX_CAP_ACTION] = "action",
	[NX_CAP_APPROVE] = "approve",
	[NX_CAP_ADHOC] = "adhoc",
	[NX_CAP_RULES] = "rules",
	[NX_CAP_AUDIT] = "audit",
};

#define CAP(c) (1u << (c))

/* The capability table: what each role may do. */
static const uint32_t role_caps[NX_ROLE__COUNT] = {
	[NX_ROLE_VIEWER] = CAP(NX_CAP_VIEW),
	[NX_ROLE_OPERATOR] = CAP(NX_CAP_VIEW) | CAP(NX_CAP_ACK) |
	    CAP(NX_CAP_DOWNTIME) | CAP(NX_CAP_ACTION) | CAP(NX_CAP_APPROVE),
	[NX_ROLE_ADMIN] = CAP(NX_CAP_VIEW) | CAP(NX_CAP_ACK) |
	    CAP(NX_CAP_DOWNTIME) | CAP(NX_CAP_ACTION) | CAP(NX_CAP_APPROVE) |
	    CAP(NX_CAP_ADHOC) | CAP(NX_CAP_RULES) | CAP(NX_CAP_AUDIT),
	[NX_ROLE_AUDITOR] = CAP(NX_CAP_VIEW) | CAP(NX_CAP_AUDIT),
	[NX_ROLE_ENGINE] = CAP(NX_CAP_VIEW) | CAP(NX_CAP_ACTION),
};

/* Least privileged first: the role an audit row names for a call. */
static const enum nx_role role_order[NX_ROLE__COUNT] = {
	NX_ROLE_VIEWER, NX_ROLE_AUDITOR, NX_ROLE_OPERATOR, NX_ROLE_ENGINE,
	NX_ROLE_ADMIN,
};

const char *
role_name(enum nx_role r)
{
	if ((unsigned)r >= NX_ROLE__COUNT)
		return "?";
	return role_names_table[r];
}

const char *
cap_name(enum nx_cap c)
{
	if ((unsigned)c >= NX_CAP__COUNT)
		return "?";
	return cap_names_table[c];
}

/* The role called name, or -1. */
int
role_from_name(const char *name)
{
	int r;

	for (r = 0; r < NX_ROLE__COUNT; r++) {
		if (strcmp(role_names_table[r], name) == 0)
			return r;
	}
	return -1;
}

/* Whether any role of the set grants cap. */
bool
role_can(uint32_t roles, enum nx_cap cap)
{
	int r;

	for (r = 0; r < NX_ROLE__COUNT; r++) {
		if ((roles & NX_ROLE_BIT(r)) && (role_caps[r] & CAP(cap)))
			return true;
	}
	return false;
}

/*
 * The least privileged role of the set that grants cap; when none does,
 * the most privileged role held (what a refusal names), viewer for none.
 */
enum nx_role
role_granting(uint32_t roles, enum nx_cap cap)
{
	enum nx_role best = NX_ROLE_VIEWER;
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(role_order); i++) {
		enum nx_role r = role_order[i];

		if (!(roles & NX_ROLE_BIT(r)))
			continue;
		if (role_caps[r] & CAP(cap))
			return r;
		best = r;
	}
	return best;
}

/* The roles granting cap, "operator or admin", for refusals. */
const char *
role_cap_needs(enum nx_cap cap, char *buf, size_t len)
{
	size_t i, n = 0, found = 0, total = 0;

	for (i = 0; i < NX_ARRAY_LEN(role_order); i++) {
		if (role_order[i] != NX_ROLE_ENGINE &&
		    (role_caps[role_order[i]] & CAP(cap)))
			total++;
	}
	buf[0] = '\0';
	for (i = 0; i < NX_ARRAY_LEN(role_order) && n < len; i++) {
		enum nx_role r = role_order[i];
		int w;

		if (r == NX_ROLE_ENGINE || !(role_caps[r] & CAP(cap)))
			continue;
		found++;
		w = snprintf(buf + n, len - n, "%s%s",
		    found == 1 ? "" : found == total ? " or " : ", ",
		    role_names_table[r]);
		n += w > 0 ? (size_t)w : 0;
	}
	return buf;
}

/* "operator,auditor": the names of the set, least privileged first. */
const char *
role_names(uint32_t roles, char *buf, size_t len)
{
	size_t i, n = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < NX_ARRAY_LEN(role_order) && n < len; i++) {
		int w;

		if (!(roles & NX_ROLE_BIT(role_order[i])))
			continue;
		w = snprintf(buf + n, len - n, "%s%s", n > 0 ? "," : "",
		    role_names_table[role_order[i]]);
		n += w > 0 ? (size_t)w : 0;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
	return buf;
}

static bool
role_list_has(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(v[i], s) == 0)
			return true;
	}
	return false;
}

/*
 * Resolves the Unix user uid to an actor: its name (copied to user_buf)
 * and roles.  --readonly makes anyone a viewer; with no roles section the
 * user is admin; else every role naming the user or one of its groups,
 * or the default.  Returns 0 (a user with no passwd entry is "uid:N").
 */
int
role_resolve(const struct nx_config *cfg, uid_t uid, bool readonly,
    struct nx_actor *actor, char *user_buf, size_t user_len,
    struct nx_err *err)
{
	const struct nx_roles *ro = cfg->roles;
	struct passwd *pw = getpwuid(uid);
	gid_t groups[ROLE_GROUPS_MAX];
	char *gnames[ROLE_GROUPS_MAX];
	int ngroups = ROLE_GROUPS_MAX, i, r;
	size_t ng = 0, k;
	uint32_t roles = 0;

	(void)err;
	if (pw != NULL)
		snprintf(user_buf, user_len, "%s", pw->pw_name);
	else
		snprintf(user_buf, user_len, "uid:%u", (unsigned)uid);
	actor->user = user_buf;
	if (readonly) {
		actor->roles = NX_ROLE_BIT(NX_ROLE_VIEWER);
		return 0;
	}
	if (ro == NULL) {
		actor->roles = NX_ROLE_BIT(NX_ROLE_ADMIN);
		return 0;
	}
	if (pw != NULL) {
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups,
		    &ngroups) == -1)
			ngroups = ROLE_GROUPS_MAX;
		for (i = 0; i < ngroups; i++) {
			struct group *gr = getgrgid(groups[i]);

			if (gr != NULL)
				gnames[ng++] = xstrdup(gr->gr_name);
		}
	}
	for (r = 0; r < NX_ROLE__COUNT; r++) {
		const struct role_map *m = &ro->map[r];

		if (role_list_has(m->users, m->nusers, user_buf))
			roles |= NX_ROLE_BIT(r);
		for (k = 0; k < ng; k++) {
			if (role_list_has(m->groups, m->ngroups, gnames[k]))
				roles |= NX_ROLE_BIT(r);
		}
	}
	for (k = 0; k < ng; k++)
		free(gnames[k]);
	if (roles == 0)
		roles = NX_ROLE_BIT(ro->has_default ? ro->def : NX_ROLE_VIEWER);
	actor->roles = roles;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The roles section                                                       */

static void
role_map_free(struct role_map *m)
{
	size_t i;

	for (i = 0; i < m->nusers; i++)
		free(m->users[i]);
	free(m->users);
	for (i = 0; i < m->ngroups; i++)
		free(m->groups[i]);
	free(m->groups);
	memset(m, 0, sizeof *m);
}

static void
roles_free(struct nx_config *cfg)
{
	int r;

	if (cfg->roles == NULL)
		return;
	for (r = 0; r < NX_ROLE__COUNT; r++)
		role_map_free(&cfg->roles->map[r]);
	free(cfg->roles);
	cfg->roles = NULL;
}

static char **
role_strv_clone(char *const *v, size_t n)
{
	char **c;
	size_t i;

	if (n == 0)
		return NULL;
	c = xcalloc(n, sizeof *c);
	for (i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

/* Called once per row: the first call copies, the others see it done. */
static void
roles_clone(struct nx_config *dst, const struct nx_config *src)
{
	struct nx_roles *c;
	int r;

	if (src->roles == NULL || dst->roles != src->roles)
		return;
	c = xcalloc(1, sizeof *c);
	*c = *src->roles;
	for (r = 0; r < NX_ROLE__COUNT; r++) {
		const struct role_map *m = &src->roles->map[r];

		c->map[r].users = role_strv_clone(m->users, m->nusers);
		c->map[r].groups = role_strv_clone(m->groups, m->ngroups);
	}
	dst->roles = c;
}

/*
 * Sets err to "file:line:column: roles.KEY: message" at the value (or the
 * key) of roles.KEY[.sub[idx]] (jpos_fail: a scalar element falls back on
 * its array).  The message names sub itself.  Returns -1.
 */
static int __attribute__((format(printf, 9, 10)))
role_fail(const char *file, const char *text, size_t len, const char *key,
    const char *sub, long idx, bool at_key, struct nx_err *err,
    const char *fmt, ...)
{
	struct jpos_place pl;
	va_list ap;

	jpos_place_init(&pl, file, text, len, "roles", key);
	if (sub != NULL)
		jpos_place_key(&pl, sub);
	if (sub != NULL && idx >= 0)
		jpos_place_elem(&pl, (size_t)idx);
	pl.nlabel = 2;
	pl.at_key = at_key;
	va_start(ap, fmt);
	jpos_vfail(err, &pl, fmt, ap);
	va_end(ap);
	return -1;
}

static struct nx_roles *
roles_get(struct nx_config *cfg)
{
	if (cfg->roles == NULL)
		cfg->roles = xcalloc(1, sizeof *cfg->roles);
	return cfg->roles;
}

static int
roles_default_parse(struct nx_config *cfg, const char *file, const char *text,
    size_t len, const json_t *v, struct nx_err *err)
{
	char got[64];
	int r;

	if (json_is_null(v))            /* what config show prints for none */
		return 0;
	if (!json_is_string(v) || (r = role_from_name(json_string_value(v))) < 0 ||
	    r == NX_ROLE_ENGINE) {
		config_describe(v, got, sizeof got);
		return role_fail(file, text, len, "default", NULL, -1, false,
		    err, "expected viewer, operator, admin or auditor, got %s",
		    got);
	}
	roles_get(cfg)->has_default = true;
	cfg->roles->def = (enum nx_role)r;
	return 0;
}

/* A list of names: users or groups of one role. */
static int
role_names_parse(const char *file, const char *text, size_t len,
    const char *key, const char *sub, const json_t *v, char ***out,
    size_t *n, struct nx_err *err)
{
	char got[64];
	size_t i;

	if (!json_is_array(v)) {
		config_describe(v, got, sizeof got);
		return role_fail(file, text, len, key, sub, -1, false, err,
		    "%s: expected an array of names, got %s", sub, got);
	}
	for (i = 0; i < json_array_size(v); i++) {
		const json_t *s = json_array_get(v, i);

		if (!json_is_string(s) || json_string_length(s) == 0 ||
		    strlen(json_string_value(s)) != json_string_length(s) ||
		    json_string_length(s) > 255) {
			config_describe(s, got, sizeof got);
			return role_fail(file, text, len, key, sub, (long)i,
			    false, err, "%s[%zu]: expected a user or group "
			    "name, got %s", sub, i, got);
		}
	}
	*n = json_array_size(v);
	*out = *n > 0 ? xcalloc(*n, sizeof **out) : NULL;
	for (i = 0; i < *n; i++)
		(*out)[i] = xstrdup(json_string_value(json_array_get(v, i)));
	return 0;
}

static int
role_map_parse(struct nx_config *cfg, enum nx_role r, const char *file,
    const char *text, size_t len, const json_t *v, struct nx_err *err)
{
	const char *key = role_names_table[r], *k;
	struct role_map m;
	json_t *el;
	char got[64];

	if (json_is_null(v))            /* what config show prints for none */
		return 0;
	if (!json_is_object(v)) {
		config_describe(v, got, sizeof got);
		return role_fail(file, text, len, key, NULL, -1, false, err,
		    "expected an object such as {\"users\": [\"alice\"], "
		    "\"groups\": [\"sre\"]}, got %s", got);
	}
	memset(&m, 0, sizeof m);
	m.set = true;
	json_object_foreach((json_t *)v, k, el) {
		int rc;

		if (strcmp(k, "users") == 0)
			rc = role_names_parse(file, text, len, key, "users", el,
			    &m.users, &m.nusers, err);
		else if (strcmp(k, "groups") == 0)
			rc = role_names_parse(file, text, len, key, "groups",
			    el, &m.groups, &m.ngroups, err);
		else
			rc = role_fail(file, text, len, key, k, -1, true, err,
			    "unknown key \"%.40s\" (known: users, groups)", k);
		if (rc != 0) {
			role_map_free(&m);
			return -1;
		}
	}
	role_map_free(&roles_get(cfg)->map[r]);
	cfg->roles->map[r] = m;
	return 0;
}

#define ROLE_PARSE(name, role)						\
static int								\
roles_##name##_parse(struct nx_config *cfg, const char *file,		\
    const char *text, size_t len, const json_t *v, struct nx_err *err)	\
{									\
	return role_map_parse(cfg, role, file, text, len, v, err);	\
}
ROLE_PARSE(viewer, NX_ROLE_VIEWER)
ROLE_PARSE(operator, NX_ROLE_OPERATOR)
ROLE_PARSE(admin, NX_ROLE_ADMIN)
ROLE_PARSE(auditor, NX_ROLE_AUDITOR)

static json_t *
roles_default_json(const struct nx_config *cfg)
{
	if (cfg->roles == NULL)         /* the running user is admin */
		return json_null();
	return json_string(role_name(cfg->roles->has_default ?
	    cfg->roles->def : NX_ROLE_VIEWER));
}

static json_t *
role_strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *
role_map_json(const struct nx_config *cfg, enum nx_role r)
{
	const struct role_map *m;
	json_t *o;

	if (cfg->roles == NULL || !cfg->roles->map[r].set)
		return json_null();
	m = &cfg->roles->map[r];
	o = json_object();
	json_object_set_new(o, "users", role_strv_json(m->users, m->nusers));
	json_object_set_new(o, "groups", role_strv_json(m->groups,
	    m->ngroups));
	return o;
}

#define ROLE_JSON(name, role)						\
static json_t *								\
roles_##name##_json(const struct nx_config *cfg)			\
{									\
	return role_map_json(cfg, role);				\
}
ROLE_JSON(viewer, NX_ROLE_VIEWER)
ROLE_JSON(operator, NX_ROLE_OPERATOR)
ROLE_JSON(admin, NX_ROLE_ADMIN)
ROLE_JSON(auditor, NX_ROLE_AUDITOR)

const struct cfg_custom roles_config = {
	.parse = roles_default_parse,
	.free = roles_free,
	.clone = roles_clone,
	.to_json = roles_default_json,
};
const struct cfg_custom roles_viewer_config = {
	.parse = roles_viewer_parse, .free = roles_free,
	.clone = roles_clone, .to_json = roles_viewer_json,
};
const struct cfg_custom roles_operator_config = {
	.parse = roles_operator_parse, .free = roles_free,
	.clone = roles_clone, .to_json = roles_operator_json,
};
const struct cfg_custom roles_admin_config = {
	.parse = roles_admin_parse, .free = roles_free,
	.clone = roles_clone, .to_json = roles_admin_json,
};
const struct cfg_custom roles_auditor_config = {
	.parse = roles_auditor_parse, .free = roles_free,
	.clone = roles_clone, .to_json = roles_auditor_json,
};
