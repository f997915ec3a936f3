/*
 * api.c - the engine API: the console and batch mode act on the fleet
 * only through these calls (doc/actions.md).
 *
 * Every call checks the caller's roles first (role_can).  A refusal
 * returns -1 with "refused: user alice has role viewer; ack needs
 * operator or admin" and is an audit row; so is every call that goes
 * through, with its result.  Hiding a key in the console is a courtesy;
 * this is the enforcement.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"

/* remed.c may not be linked in every program (tests): weak references. */
#pragma weak remed_reset
#pragma weak remed_enable

/* "node" or "node/check" of a call, for messages and audit rows. */
static void
api_target(const struct engine *e, uint32_t node, uint32_t check, char *buf,
    size_t len)
{
	if (check != NX_NONE && check < e->fleet.nchecks) {
		const struct check *c = &e->fleet.checks[check];

		snprintf(buf, len, "%s/%s", e->fleet.nodes[c->node].name,
		    c->name);
	} else if (node != NX_NONE && node < e->fleet.nnodes)
		snprintf(buf, len, "%s", e->fleet.nodes[node].name);
	else
		snprintf(buf, len, "-");
}

/*
 * Whether actor may use cap (and, when need_admin, is admin).  A refusal
 * is audited (action, target, args) and returned as -1 with err set;
 * *role is the role the audit row of a success names.
 */
static int
api_allow(struct engine *e, const struct nx_actor *actor, enum nx_cap cap,
    bool need_admin, const char *action, const char *target,
    const json_t *args, enum nx_role *role, struct nx_err *err)
{
	char has[64], needs[64], msg[sizeof err->msg];
	bool ok = role_can(actor->roles, cap);

	if (ok && need_admin && !(actor->roles & NX_ROLE_BIT(NX_ROLE_ADMIN)))
		ok = false;
	*role = need_admin && ok ? NX_ROLE_ADMIN :
	    role_granting(actor->roles, cap);
	if (ok)
		return 0;
	role_names(actor->roles, has, sizeof has);
	if (need_admin)
		snprintf(needs, sizeof needs, "admin");
	else
		role_cap_needs(cap, needs, sizeof needs);
	snprintf(msg, sizeof msg, "refused: user %s has role %s; %s needs %s",
	    actor->user != NULL ? actor->user : "?", has, action, needs);
	act_audit_role(e, actor->user, has, action, target, args, msg);
	nx_err_set(err, "%s", msg);
	return -1;
}

static void
api_done(struct engine *e, const struct nx_actor *actor, enum nx_role role,
    const char *action, const char *target, const json_t *args,
    const char *result)
{
	act_audit_role(e, actor->user, role_name(role), action, target, args,
	    result);
}

static int
api_fail(struct engine *e, const struct nx_actor *actor, enum nx_role role,
    const char *action, const char *target, const json_t *args,
    struct nx_err *err)
{
	char result[sizeof err->msg + 8];

	snprintf(result, sizeof result, "error: %s", err->msg);
	api_done(e, actor, role, action, target, args, result);
	return -1;
}

static json_t *
api_args_origin(const struct nx_actor *actor)
{
	json_t *o = json_object();

	if (actor->origin != NULL)
		json_object_set_new(o, "origin", nx_json_text(actor->origin));
	return o;
}

static int
api_object(struct engine *e, uint32_t node, uint32_t check, struct nx_err *err)
{
	if (check != NX_NONE && check >= e->fleet.nchecks) {
		nx_err_set(err, "no check #%u", check);
		return -1;
	}
	if (check == NX_NONE && (node == NX_NONE || node >= e->fleet.nnodes)) {
		nx_err_set(err, "no node #%u", node);
		return -1;
	}
	return 0;
}

/* Acknowledges a problem of a check (or of a node, check NX_NONE). */
int
api_ack(struct engine *e, const struct nx_actor *actor, uint32_t node,
    uint32_t check, const char *comment, nx_time expires, struct nx_err *err)
{
	json_t *args = api_args_origin(actor);
	enum nx_role role;
	char target[256];
	int rc;

	api_target(e, node, check, target, sizeof target);
	json_object_set_new(args, "comment", nx_json_text(comment));
	if (expires != 0)
		json_object_set_new(args, "expires", json_integer(expires));
	if (api_allow(e, actor, NX_CAP_ACK, false, "ack", target, args, &role,
	    err) != 0) {
		json_decref(args);
		return -1;
	}
	if ((rc = api_object(e, node, check, err)) == 0) {
		if (check != NX_NONE)
			rc = mon_ack_check(e, &e->fleet.checks[check],
			    NX_ACK_STICKY, actor->user, comment, expires, err);
		else
			rc = mon_ack_node(e, &e->fleet.nodes[node],
			    NX_ACK_STICKY, actor->user, comment, expires, err);
	}
	if (rc != 0)
		api_fail(e, actor, role, "ack", target, args, err);
	else
		api_done(e, actor, role, "ack", target, args, "ok");
	json_decref(args);
	return rc;
}

int
api_unack(struct engine *e, const struct nx_actor *actor, uint32_t node,
    uint32_t check, struct nx_err *err)
{
	json_t *args = api_args_origin(actor);
	enum nx_role role;
	char target[256];
	int rc;

	api_target(e, node, check, target, sizeof target);
	if (api_allow(e, actor, NX_CAP_ACK, false, "unack", target, args,
	    &role, err) != 0) {
		json_decref(args);
		return -1;
	}
	if ((rc = api_object(e, node, check, err)) == 0) {
		if (check != NX_NONE)
			mon_ack_remove_check(e, &e->fleet.checks[check],
			    engine_now(e));
		else
			mon_ack_remove_node(e, &e->fleet.nodes[node],
			    engine_now(e));
		api_done(e, actor, role, "unack", target, args, "ok");
	} else
		api_fail(e, actor, role, "unack", target, args, err);
	json_decref(args);
	return rc;
}

/* A fixed downtime from now for duration_ms on a check or a node. */
int
api_downtime(struct engine *e, const struct nx_actor *actor, uint32_t node,
    uint32_t check, uint64_t duration_ms, const char *comment, uint32_t *id,
    struct nx_err *err)
{
	json_t *args = api_args_origin(actor);
	enum nx_role role;
	char target[256], result[64];
	nx_time now = engine_now(e);
	uint32_t dt = 0;
	int rc;

	api_target(e, node, check, target, sizeof target);
	json_object_set_new(args, "duration_ms", json_integer(
	    (json_int_t)duration_ms));
	json_object_set_new(args, "comment", nx_json_text(comment));
	if (api_allow(e, actor, NX_CAP_DOWNTIME, false, "downtime", target,
	    args, &role, err) != 0) {
		json_decref(args);
		return -1;
	}
	if ((rc = api_object(e, node, check, err)) == 0) {
		if (check != NX_NONE)
			node = NX_NONE;
		rc = mon_downtime_add(e, node, check, now,
		    now + (nx_time)duration_ms, true, 0, actor->user, comment,
		    &dt, err);
	}
	if (rc != 0)
		api_fail(e, actor, role, "downtime", target, args, err);
	else {
		snprintf(result, sizeof result, "ok: downtime %u", dt);
		api_done(e, actor, role, "downtime", target, args, result);
		if (id != NULL)
			*id = dt;
	}
	json_decref(args);
	return rc;
}

/* The compressed names of nodes[0..n), for audit targets. */
static char *
api_nodes_target(const struct engine *e, const uint32_t *nodes, size_t n)
{
	const char **names = xcalloc(n + 1, sizeof *names);
	size_t i, k = 0;
	char *s;

	for (i = 0; i < n; i++) {
		if (nodes[i] < e->fleet.nnodes)
			names[k++] = e->fleet.nodes[nodes[i]].name;
	}
	s = hostlist_compress(names, k);
	free(names);
	return s;
}

static int
api_submit(struct engine *e, const struct nx_actor *actor,
    const struct nx_action *a, const char *action_name, const char *command,
    const uint32_t *nodes, size_t n, const json_t *inputs, bool dry_run,
    uint32_t *job, struct nx_err *err)
{
	const char *what = a != NULL || action_name != NULL ? "run" : "adhoc";
	json_t *args = api_args_origin(actor);
	struct job_spec spec;
	enum nx_role role;
	char *target = api_nodes_target(e, nodes, n), result[64];
	struct job *j;
	uint32_t id = 0;
	int rc = -1;

	if (action_name != NULL)
		json_object_set_new(args, "action", nx_json_text(action_name));
	if (command != NULL)
		json_object_set_new(args, "command", nx_json_text(command));
	if (inputs != NULL)
		json_object_set_new(args, "inputs", json_deep_copy(inputs));
	if (dry_run)
		json_object_set_new(args, "dry_run", json_true());
	if (api_allow(e, actor, a != NULL || action_name != NULL ?
	    NX_CAP_ACTION : NX_CAP_ADHOC, a != NULL && a->role == NX_ROLE_ADMIN,
	    what, target, args, &role, err) != 0)
		goto out;
	if (action_name != NULL && a == NULL) {
		nx_err_set(err, "no action \"%.64s\" (nexusctl run --list)",
		    action_name);
		api_fail(e, actor, role, what, target, args, err);
		goto out;
	}
	memset(&spec, 0, sizeof spec);
	spec.action = a;
	spec.command = command;
	spec.nodes = nodes;
	spec.nnodes = n;
	spec.inputs = inputs;
	spec.actor = actor;
	spec.role = role;
	spec.initial = JOB_QUEUED;
	spec.dry_run = dry_run;
	spec.rule = NX_NONE;
	spec.check = NX_NONE;
	spec.hold = true;       /* audited before anything runs */
	if (job_submit(e, &spec, &id, err) != 0) {
		api_fail(e, actor, role, what, target, args, err);
		goto out;
	}
	json_object_set_new(args, "job", json_integer(id));
	snprintf(result, sizeof result, "started job %u", id);
	api_done(e, actor, role, what, target, args, result);
	if (job != NULL)
		*job = id;
	if ((j = job_find(e, id)) != NULL)
		job_start(e, j);
	rc = 0;
out:
	free(target);
	json_decref(args);
	return rc;
}

/*
 * Runs the defined action `action` on nodes[0..n) with inputs (checked
 * by job_submit): a new job, started at once.  The job's final state is
 * an audit row of its own ("succeeded 20/20").
 */
int
api_run(struct engine *e, const struct nx_actor *actor, const char *action,
    const uint32_t *nodes, size_t n, const json_t *inputs, bool dry_run,
    uint32_t *job, struct nx_err *err)
{
	return api_submit(e, actor, action_find(e, action), action, NULL,
	    nodes, n, inputs, dry_run, job, err);
}

/* Runs an ad-hoc shell command over SSH on nodes[0..n) (admin). */
int
api_run_adhoc(struct engine *e, const struct nx_actor *actor,
    const char *command, const uint32_t *nodes, size_t n, uint32_t *job,
    struct nx_err *err)
{
	return api_submit(e, actor, NULL, NULL, command, nodes, n, NULL, false,
	    job, err);
}

/* Looks up job id; -1 with err set when it is not (or no longer) kept. */
static struct job *
api_job(struct engine *e, uint32_t id, struct nx_err *err)
{
	struct job *j = job_find(e, id);

	if (j == NULL)
		nx_err_set(err, "no job %u", id);
	return j;
}

static int
api_job_call(struct engine *e, const struct nx_actor *actor, uint32_t id,
    const char *what, const char *reason, uint32_t *new_job,
    struct nx_err *err)
{
	json_t *args = api_args_origin(actor);
	struct job *j = job_find(e, id);
	char *target = j != NULL ? job_hostlist(e, j, -1) : xstrdup("-");
	char result[128];
	enum nx_role role;
	bool admin = false;
	int rc = -1;

	json_object_set_new(args, "job", json_integer(id));
	if (reason != NULL)
		json_object_set_new(args, "reason", nx_json_text(reason));
	if (j != NULL && strcmp(what, "retry") == 0)
		admin = j->action == NULL || j->action->role == NX_ROLE_ADMIN;
	if (api_allow(e, actor, admin ? NX_CAP_ADHOC : NX_CAP_APPROVE, admin,
	    what, target, args, &role, err) != 0)
		goto out;
	if ((j = api_job(e, id, err)) == NULL) {
		api_fail(e, actor, role, what, target, args, err);
		goto out;
	}
	if (strcmp(what, "cancel") == 0 && job_final(j) &&
	    j->state != JOB_SUGGESTED)
		nx_err_set(err, "job %u is already %s", id,
		    job_state_name(j->state));
	else if ((strcmp(what, "approve") == 0 || strcmp(what, "reject") ==
	    0) && j->state != JOB_PROPOSED)
		nx_err_set(err, "job %u is %s, not proposed", id,
		    job_state_name(j->state));
	else if (strcmp(what, "retry") == 0) {
		uint32_t nid;

		if (job_retry(e, j, actor, role, &nid, err) == 0) {
			snprintf(result, sizeof result, "started job %u", nid);
			api_done(e, actor, role, what, target, args, result);
			if (new_job != NULL)
				*new_job = nid;
			rc = 0;
		}
		if (rc != 0)
			api_fail(e, actor, role, what, target, args, err);
		goto out;
	} else {
		/* Audited first: the row says who, before it happens. */
		snprintf(result, sizeof result, "%s job %u",
		    what[0] == 'c' ? "cancelled" : what[0] == 'a' ? "approved" :
		    "rejected", id);
		api_done(e, actor, role, what, target, args, result);
		if (what[0] == 'c')
			job_cancel(e, j, reason != NULL ? reason :
			    "cancelled by an operator");
		else if (what[0] == 'a') {
			free(j->user);
			j->user = xstrdup(actor->user != NULL ? actor->user :
			    "?");
			j->role = role;
			job_start(e, j);
		} else
			job_reject(e, j, reason);
		rc = 0;
		goto out;
	}
	api_fail(e, actor, role, what, target, args, err);
out:
	free(target);
	json_decref(args);
	return rc;
}

int
api_job_cancel(struct engine *e, const struct nx_actor *actor, uint32_t job,
    struct nx_err *err)
{
	return api_job_call(e, actor, job, "cancel", NULL, NULL, err);
}

int
api_job_retry(struct engine *e, const struct nx_actor *actor, uint32_t job,
    uint32_t *new_job, struct nx_err *err)
{
	return api_job_call(e, actor, job, "retry", NULL, new_job, err);
}

int
api_approve(struct engine *e, const struct nx_actor *actor, uint32_t job,
    struct nx_err *err)
{
	return api_job_call(e, actor, job, "approve", NULL, NULL, err);
}

int
api_reject(struct engine *e, const struct nx_actor *actor, uint32_t job,
    const char *reason, struct nx_err *err)
{
	return api_job_call(e, actor, job, "reject", reason, NULL, err);
}

static int
api_rule_call(struct engine *e, const struct nx_actor *actor,
    const char *rule, uint32_t node, int enable, struct nx_err *err)
{
	const char *what = enable < 0 ? "rule-reset" : enable ? "rule-enable" :
	    "rule-disable";
	json_t *args = api_args_origin(actor);
	enum nx_role role;
	char target[256];
	int rc = -1;

	if (node != NX_NONE && node < e->fleet.nnodes)
		snprintf(target, sizeof target, "%s@%s", rule != NULL ? rule :
		    "?", e->fleet.nodes[node].name);
	else
		snprintf(target, sizeof target, "%s", rule != NULL ? rule :
		    "?");
	if (api_allow(e, actor, enable < 0 ? NX_CAP_APPROVE : NX_CAP_RULES,
	    false, what, target, args, &role, err) != 0)
		goto out;
	if ((enable < 0 && remed_reset == NULL) || (enable >= 0 &&
	    remed_enable == NULL)) {
		nx_err_set(err, "remediation is not available in this program");
		rc = -1;
	} else if (enable < 0)
		rc = remed_reset(e, rule, node, err);
	else
		rc = remed_enable(e, rule, enable != 0, err);
	if (rc != 0)
		api_fail(e, actor, role, what, target, args, err);
	else
		api_done(e, actor, role, what, target, args, "ok");
out:
	json_decref(args);
	return rc;
}

int
api_rule_reset(struct engine *e, const struct nx_actor *actor,
    const char *rule, uint32_t node, struct nx_err *err)
{
	return api_rule_call(e, actor, rule, node, -1, err);
}

int
api_rule_enable(struct engine *e, const struct nx_actor *actor,
    const char *rule, bool enabled, struct nx_err *err)
{
	return api_rule_call(e, actor, rule, NX_NONE, enabled ? 1 : 0, err);
}

/* Whether actor may read the audit log (auditor, admin); audited. */
int
api_audit_read(struct engine *e, const struct nx_actor *actor,
    struct nx_err *err)
{
	json_t *args = api_args_origin(actor);
	enum nx_role role;
	int rc;

	rc = api_allow(e, actor, NX_CAP_AUDIT, false, "audit-read", "audit",
	    args, &role, err);
	if (rc == 0)
		api_done(e, actor, role, "audit-read", "audit", args, "ok");
	json_decref(args);
	return rc;
}
