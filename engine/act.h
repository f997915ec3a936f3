/*
 * act.h - acting on the fleet (doc/actions.md): roles, actions, jobs,
 * remediation rules, and the engine API that the console and batch mode
 * both call.
 *
 *   role.c     who may do what: Unix users and groups -> roles -> capabilities
 *   template.c command templates; every substituted value shell-quoted
 *   action.c   actions.define: parsed, validated, looked up
 *   job.c      jobs: queue, per-host runs through the executor table
 *              (ssh, local, provider), cancel, retry, coalesced output
 *   remed.c    remediation rules: triggers, modes, guards, breaker, outcome
 *   api.c      the engine API: every call checks the caller's role and
 *              writes an audit row, allowed or refused
 *
 * Nothing here blocks the loop: commands run as child processes (uv_spawn)
 * or as channels of the SSH pool; providers' actions run on the loop.
 */
#ifndef NX_ACT_H
#define NX_ACT_H

#include <signal.h>

#include "engine.h"

/* ---------------------------------------------------------------------- */
/* Roles (role.c)                                                          */

enum nx_role {
	NX_ROLE_VIEWER,
	NX_ROLE_OPERATOR,
	NX_ROLE_ADMIN,
	NX_ROLE_AUDITOR,
	NX_ROLE_ENGINE,         /* automation: remediation rules */
	NX_ROLE__COUNT
};
#define NX_ROLE_BIT(r) (1u << (r))

/* What a call needs; role.c's const table says which roles grant it. */
enum nx_cap {
	NX_CAP_VIEW,            /* everyone */
	NX_CAP_ACK,             /* ack and unack: operator, admin */
	NX_CAP_DOWNTIME,        /* operator, admin */
	NX_CAP_ACTION,          /* run a defined action: operator, admin */
	NX_CAP_APPROVE,         /* approve or reject a proposal, reset a
				 * breaker, cancel or retry a job: operator, admin */
	NX_CAP_ADHOC,           /* ad-hoc commands: admin */
	NX_CAP_RULES,           /* enable or disable rules: admin */
	NX_CAP_AUDIT,           /* read the audit log: auditor, admin */
	NX_CAP__COUNT
};

/* Who is calling.  Strings are borrowed for the call. */
struct nx_actor {
	const char *user;       /* Unix user name ("nexusctl" for rules) */
	uint32_t roles;         /* NX_ROLE_BIT set */
	const char *origin;     /* "console", "batch", "rule:NAME" */
};

/*
 * roles in the configuration:
 *   "roles": { "default": "viewer",
 *              "admin":    { "users": ["alice"], "groups": ["sre"] },
 *              "operator": { "groups": ["oncall"] },
 *              "auditor":  { "users": ["bob"] },
 *              "viewer":   { ... } }
 * A user gets every role that names them or one of their groups; a user
 * named nowhere gets `default`.  With no roles section at all the user
 * running nexusctl is admin (their own tool, their own config); `config
 * show` says so.  --readonly makes anyone a viewer.
 */
struct nx_roles;                /* owned by struct nx_config */
extern const struct cfg_custom roles_config;
/* Fills actor->user (in user_buf) and actor->roles; origin is the
 * caller's to set.  Returns 0. */
int role_resolve(const struct nx_config *, uid_t, bool readonly,
    struct nx_actor *, char *user_buf, size_t user_len, struct nx_err *);
bool role_can(uint32_t roles, enum nx_cap);
enum nx_role role_granting(uint32_t roles, enum nx_cap);        /* for audit */
const char *role_name(enum nx_role);
const char *role_names(uint32_t roles, char *buf, size_t len);  /* "operator,auditor" */
const char *cap_name(enum nx_cap);
int role_from_name(const char *);                      /* -1: none */
const char *role_cap_needs(enum nx_cap, char *buf, size_t len); /* "operator or admin" */
/* The rows roles.viewer, .operator, .admin, .auditor (roles_config is
 * roles.default); all work on the one struct nx_roles. */
extern const struct cfg_custom roles_viewer_config;
extern const struct cfg_custom roles_operator_config;
extern const struct cfg_custom roles_admin_config;
extern const struct cfg_custom roles_auditor_config;

/* ---------------------------------------------------------------------- */
/* Command templates (template.c)                                          */

/*
 * Macros, each value shell-quoted ('...', with ' as '\'') after validation:
 *   $HOSTNAME$  $HOSTADDRESS$  $HOSTPORT$
 *   $VAR:name$ or $_HOSTNAME$-style ($_HOST + var name, any case): a var
 *   $INPUT:name$  an input of the action
 *   $USER$  the operator    $$  a literal $
 * An unknown macro, a missing var, a var that is not a string or number,
 * or a value with a NUL or newline is an error naming the macro and node.
 */
int tmpl_expand(const char *tmpl, const struct node *, const json_t *inputs,
    const char *user, char **out, struct nx_err *);
int tmpl_validate(const char *tmpl, const char *const *inputs, size_t n,
    struct nx_err *);           /* at config load: unknown macros, inputs */
/* A scalar's text (string, number; boolean when allowed), or NULL;
 * shared with ssh_expand_command. */
#define TMPL_SCALAR_NUM 64
const char *tmpl_scalar(const json_t *, bool allow_bool,
    char num[TMPL_SCALAR_NUM]);

/* ---------------------------------------------------------------------- */
/* Actions (action.c)                                                      */

enum nx_action_kind {
	NX_ACTION_SSH,          /* the command on each target node over SSH */
	NX_ACTION_LOCAL,        /* /bin/sh -c command here, once per node */
	NX_ACTION_PROVIDER,     /* the node's provider's action (struct provider_action) */
};

struct nx_input {
	char *name;             /* [a-z0-9_]+ */
	char *description;
	char *pattern;          /* pcre2, anchored at both ends; NULL = printable text */
	char *def;              /* default value, or NULL (required) */
	uint32_t max_len;       /* default 256 */
};

/*
 * actions.define in the configuration: an array of
 *   { "name": "restart-nginx", "description": "...", "kind": "ssh",
 *     "command": "sudo systemctl restart $INPUT:unit$",
 *     "provider_action": "reboot",          (kind provider)
 *     "target": "@web",                     (nodes it may run on; default all)
 *     "timeout": "30s", "concurrency": 16,
 *     "confirm": true, "dangerous": false, "role": "operator",
 *     "inputs": [ { "name": "unit", "pattern": "[a-z0-9@._-]+",
 *                   "default": "nginx", "description": "..." } ] }
 */
struct nx_action {
	char *name;
	char *description;
	enum nx_action_kind kind;
	char *command;          /* ssh, local: template */
	char *provider_action;  /* provider */
	char *target;           /* NULL = any node */
	uint32_t timeout_ms;    /* default 60 s */
	uint32_t concurrency;   /* hosts at once; default 32 */
	bool confirm;           /* the console asks first (Cancel default) */
	bool dangerous;         /* the console asks by name */
	enum nx_role role;      /* needed: operator (default) or admin */
	struct nx_input *inputs;
	size_t ninputs;
	char *where;            /* "file:line:column" of the definition */
};
extern const struct cfg_custom actions_config;
const struct nx_action *action_find(const struct engine *, const char *name);
/* Checks inputs (an object; NULL = none) against the action: unknown
 * names, patterns, lengths; returns a new object with defaults filled. */
json_t *action_inputs(const struct nx_action *, const json_t *inputs,
    struct nx_err *);
const char *action_kind_name(enum nx_action_kind);
json_t *action_to_json(const struct nx_action *);
int actions_parse(const char *file, const char *text, size_t len,
    const json_t *define, struct nx_action **, size_t *, struct nx_err *);
void actions_free(struct nx_action *, size_t);
struct nx_action *actions_clone(const struct nx_action *, size_t);

/* ---------------------------------------------------------------------- */
/* Provider actions: what a provider can do to its own nodes.              */

struct job;
struct provider_action {
	const char *name;       /* "reboot" */
	const char *description;
	bool dangerous;
	/*
	 * Starts the action on node n for host slot `host` of job j; calls
	 * job_host_finish() exactly once, now or later on the loop.  Returns
	 * -1 with err set when it cannot start (then does not call it).
	 */
	int (*run)(struct engine *, struct node *n, struct job *j,
	    uint32_t host, struct nx_err *err);
	void (*cancel)(struct engine *, struct job *, uint32_t host); /* optional */
};

/*
 * providers/inv-actions.c: reboot, stop and start of inventory nodes as
 * local commands from providers.actions (see there).
 */
#define INV_NACTIONS 3
struct nx_pactions;             /* owned by struct nx_config */
extern const struct cfg_custom provider_actions_config;
extern const struct provider_action inventory_actions[INV_NACTIONS];
const char *pactions_find(const struct nx_config *, const struct node *,
    const char *action);

/* ---------------------------------------------------------------------- */
/* Jobs (job.c)                                                            */

enum job_state {
	JOB_SUGGESTED,          /* a rule in suggest mode: shown only */
	JOB_PROPOSED,           /* a rule in approve mode: waits for an operator */
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_SUCCEEDED,          /* every host ok */
	JOB_FAILED,             /* some host failed or could not run it */
	JOB_CANCELLED,
	JOB_REJECTED,           /* a proposal an operator rejected */
	JOB__COUNT
};

enum job_host_state {
	JH_QUEUED,
	JH_RUNNING,
	JH_OK,                  /* exit status 0 */
	JH_FAILED,              /* ran, exit status non-zero or a signal */
	JH_ERROR,               /* could not run: unreachable, auth, timeout... */
	JH_CANCELLED,
	JH_DRY_RUN,             /* dry run: the command shown, not run */
};

/* Remediation outcome, recorded after the triggering check re-ran. */
enum job_outcome {
	JOB_OUTCOME_NONE,       /* not a remediation job, or not run */
	JOB_OUTCOME_PENDING,    /* the check is re-running */
	JOB_OUTCOME_RECOVERED,
	JOB_OUTCOME_NOT_RECOVERED,
};

struct job_host {
	uint32_t node;
	enum job_host_state state;
	int exit_status;        /* -1 when none */
	char *signal;           /* owned, or NULL */
	char *command;          /* expanded (ssh, local); owned */
	char *out, *err;        /* owned, capped at 64 KiB each */
	char *error;            /* why it could not run; owned */
	double ms;
	void *exec;             /* the executor's, while running */
	const char *fail;       /* static: why JH_ERROR ("connect", "timeout",
				 * "spawn"...), or NULL */
	bool truncated;         /* output was cut at the cap */
	uint64_t t0;            /* uv_hrtime when it started */
};

/* One host's result, handed to job_host_finish (borrowed). */
struct job_host_result {
	enum job_host_state state;      /* JH_OK, JH_FAILED, JH_ERROR */
	int exit_status;
	const char *signal;
	const char *out, *err;
	const char *error;
	const char *fail;       /* static string or NULL (see job_host) */
	bool truncated;
};

struct job {
	uint32_t id;            /* from 1, never reused in a process */
	enum job_state state;
	const struct nx_action *action; /* NULL: ad-hoc */
	char *command;          /* ad-hoc command (admin) */
	char *user;             /* who asked */
	enum nx_role role;      /* the role that allowed it */
	char *origin;           /* "console", "batch", "rule:NAME" */
	json_t *inputs;         /* validated, defaults filled */
	nx_time created, started, finished;
	struct job_host *hosts;
	uint32_t nhosts;
	uint32_t nqueued, nrunning, nok, nfailed, nerror, ncancelled;
	uint32_t concurrency, timeout_ms;
	bool dry_run;
	/* Remediation (remed.c). */
	uint32_t rule;          /* index in the rules, or NX_NONE */
	uint32_t check;         /* triggering check, or NX_NONE */
	enum job_outcome outcome;
	char *reason;           /* why proposed/rejected/cancelled; owned */
	uint32_t retry_of;      /* job it retries, or 0 */
	/* Called once when the job reaches a final state. */
	void (*done)(struct engine *, struct job *, void *arg);
	void *done_arg;
	/* job.c's own. */
	uint32_t next_host;     /* next slot the pump looks at */
	bool pumping, in_done;
};

struct job_spec {
	const struct nx_action *action; /* or command, not both */
	const char *command;
	const uint32_t *nodes;
	size_t nnodes;
	const json_t *inputs;           /* validated by job_submit */
	const struct nx_actor *actor;
	enum nx_role role;              /* that allowed it */
	enum job_state initial;         /* JOB_QUEUED, _PROPOSED or _SUGGESTED */
	bool dry_run;
	uint32_t rule, check;           /* NX_NONE unless remediation */
	const char *reason;
	void (*done)(struct engine *, struct job *, void *arg);
	void *done_arg;
	uint32_t concurrency;           /* 0: the action's (ad-hoc: 32) */
	uint32_t timeout_ms;            /* 0: the action's (ad-hoc: 60 s) */
	uint32_t retry_of;              /* 0, or the job it retries */
	bool hold;                      /* JOB_QUEUED but not started: the
					 * caller calls job_start (after its
					 * audit row) */
};

/* One block of coalesced output: hosts with identical results. */
struct job_group {
	uint32_t *hosts;        /* indexes into job.hosts; owned */
	uint32_t nhosts;
	char *hostlist;         /* compressed ("web[01-20]"); owned */
	char *error;            /* the error, address as {host} when the
				 * group has several hosts; owned or NULL */
};

int job_submit(struct engine *, const struct job_spec *, uint32_t *id,
    struct nx_err *);
struct job *job_find(const struct engine *, uint32_t id);
size_t job_count(const struct engine *);
struct job *job_at(const struct engine *, size_t i);   /* oldest first */
int job_start(struct engine *, struct job *);          /* PROPOSED -> QUEUED */
void job_cancel(struct engine *, struct job *, const char *reason);
void job_host_finish(struct engine *, struct job *, uint32_t host,
    const struct job_host_result *);
/* A provider action that is a local command (job.c's local executor). */
int job_run_local(struct engine *, struct job *, uint32_t host,
    const char *command, struct nx_err *);
void job_run_local_cancel(struct engine *, struct job *, uint32_t host);
size_t job_coalesce(const struct engine *, const struct job *,
    struct job_group **);
void job_groups_free(struct job_group *, size_t);
json_t *job_to_json(const struct engine *, const struct job *);
const char *job_state_name(enum job_state);
const char *job_host_state_name(enum job_host_state);
bool job_final(const struct job *);
int job_reject(struct engine *, struct job *, const char *reason);
int job_retry(struct engine *, struct job *, const struct nx_actor *,
    enum nx_role, uint32_t *id, struct nx_err *);
char *job_hostlist(const struct engine *, const struct job *, int state);
void act_init(struct engine *);         /* engine_init */
void act_free(struct engine *);         /* engine_free */
struct ssh_pool;
void act_set_ssh_pool(struct engine *, struct ssh_pool *);     /* batch */
void act_set_adhoc_limits(struct engine *, uint32_t concurrency,
    uint32_t timeout_ms);

/* ---------------------------------------------------------------------- */
/* Remediation (remed.c)                                                   */

enum remed_mode { REMED_AUTO, REMED_APPROVE, REMED_SUGGEST };

/*
 * remediation in the configuration:
 *   "remediation": { "enabled": true, "dry_run": false,
 *     "max_concurrent": 8, "rate": 30, "burst": 10,   (jobs per minute)
 *     "rules": [ { "name": "fix-flag", "check": "^flag$",
 *        "states": ["critical"], "state_type": "hard", (or "soft" + "attempt": 2)
 *        "target": "@web", "output": "regex", "action": "fix",
 *        "inputs": {...}, "mode": "auto",
 *        "concurrency": 4, "rate": 10, "burst": 5, "cooldown": "5m",
 *        "breaker": { "runs": 3, "window": "30m" }, "dry_run": false } ] }
 */
struct nx_remed;                /* owned by struct nx_config */
extern const struct cfg_custom remediation_config;     /* remediation.rules */
/* The section's other keys, one config.c row each (they share nx_remed). */
extern const struct cfg_custom remed_enabled_config;
extern const struct cfg_custom remed_dry_run_config;
extern const struct cfg_custom remed_max_concurrent_config;
extern const struct cfg_custom remed_rate_config;
extern const struct cfg_custom remed_burst_config;
int remed_start(struct engine *, struct nx_err *);     /* subscribes to the bus */
void remed_stop(struct engine *);
int remed_reset(struct engine *, const char *rule, uint32_t node,
    struct nx_err *);
int remed_enable(struct engine *, const char *rule, bool, struct nx_err *);
json_t *remed_status(const struct engine *);    /* rules, guards, open breakers */

/* ---------------------------------------------------------------------- */
/* The engine API (api.c): the console and batch mode call only these.     */

/*
 * Where audit rows go: set by whoever opened the store (the CLI), else
 * rows are kept in memory only.  The last ACT_AUDIT_RECENT rows are kept
 * in memory either way for the console.
 */
#define ACT_AUDIT_RECENT 1024
typedef int (*act_audit_fn)(void *arg, const struct nx_audit_entry *,
    struct nx_err *);
void act_set_audit(struct engine *, act_audit_fn, void *arg);
size_t act_audit_count(const struct engine *);
/* Writes one audit row (to the sink and the ring) for anything the engine
 * itself decides: a rule's breaker, a refused host key.  args may be NULL. */
void act_audit(struct engine *, const struct nx_actor *, const char *action,
    const char *target, const json_t *args, const char *result);
const struct nx_audit_entry *act_audit_at(const struct engine *, size_t i);
void act_audit_role(struct engine *, const char *who, const char *role,
    const char *action, const char *target, const json_t *args,
    const char *result);
/* An act_audit_fn writing to a struct store (audit_append). */
int act_audit_store(void *store, const struct nx_audit_entry *,
    struct nx_err *);

int api_ack(struct engine *, const struct nx_actor *, uint32_t node,
    uint32_t check, const char *comment, nx_time expires, struct nx_err *);
int api_unack(struct engine *, const struct nx_actor *, uint32_t node,
    uint32_t check, struct nx_err *);
int api_downtime(struct engine *, const struct nx_actor *, uint32_t node,
    uint32_t check, uint64_t duration_ms, const char *comment, uint32_t *id,
    struct nx_err *);
int api_run(struct engine *, const struct nx_actor *, const char *action,
    const uint32_t *nodes, size_t n, const json_t *inputs, bool dry_run,
    uint32_t *job, struct nx_err *);
int api_run_adhoc(struct engine *, const struct nx_actor *,
    const char *command, const uint32_t *nodes, size_t n, uint32_t *job,
    struct nx_err *);
int api_job_cancel(struct engine *, const struct nx_actor *, uint32_t job,
    struct nx_err *);
int api_job_retry(struct engine *, const struct nx_actor *, uint32_t job,
    uint32_t *new_job, struct nx_err *);
int api_approve(struct engine *, const struct nx_actor *, uint32_t job,
    struct nx_err *);
int api_reject(struct engine *, const struct nx_actor *, uint32_t job,
    const char *reason, struct nx_err *);
int api_rule_reset(struct engine *, const struct nx_actor *,
    const char *rule, uint32_t node, struct nx_err *);
int api_rule_enable(struct engine *, const struct nx_actor *,
    const char *rule, bool enabled, struct nx_err *);
int api_audit_read(struct engine *, const struct nx_actor *, struct nx_err *);

/* ---------------------------------------------------------------------- */
/* The control socket of a running engine (ctl.c, doc/actions.md)          */

struct ctl_server;
struct ctl_server *ctl_listen(struct engine *, const char *path, bool shared,
    struct nx_err *);
void ctl_close(struct ctl_server *);
char *ctl_socket_path(const char *state);               /* STATE.sock */
json_t *ctl_run_result(const struct engine *, const struct job *,
    const char *command, double elapsed_ms);
int ctl_request(const char *path, const json_t *req, json_t **resp,
    bool *none, struct nx_err *);      /* at most 60 s */
enum ctl_fail {
	CTL_FAIL_OK,
	CTL_FAIL_NONE_RUNNING,  /* no socket, or nobody listens */
	CTL_FAIL_TIMEOUT,       /* no answer within the bound */
	CTL_FAIL_EOF,           /* closed without an answer (engine gone) */
	CTL_FAIL_IO,            /* anything else */
	CTL_FAIL_INTERRUPTED,   /* asked twice (*interrupts >= 2): left */
};
int ctl_call(const char *path, const json_t *req, uint32_t timeout_ms,
    const volatile sig_atomic_t *interrupts, json_t **resp,
    enum ctl_fail *, struct nx_err *);

#endif /* NX_ACT_H */
