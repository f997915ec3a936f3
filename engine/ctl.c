/*
 * ctl.c - the local control channel of a running engine (doc/actions.md,
 * "Control socket").
 *
 * `nexusctl engine --state STATE` listens on the Unix stream socket
 * STATE.sock (a uv_pipe on the engine's loop).  Each connection carries
 * one request, a JSON object on one line (at most CTL_REQ_MAX bytes):
 *
 *   {"op":"run","action":A,"target":T,"inputs":{...},"dry_run":false,
 *    "confirmed":false,"readonly":false}
 *   {"op":"adhoc","command":C,"hosts":HOSTLIST | "target":T,
 *    "fanout":N,"timeout_ms":N}
 *   {"op":"describe", the fields of a run or adhoc request}
 *   {"op":"rule_reset","rule":R,"node":NODE}
 *   {"op":"rule_enable","rule":R,"enabled":BOOL}
 *
 * and gets one JSON object back, then the engine closes the connection:
 * {"job":job_to_json(),"result":ctl_run_result()} when a job reached its
 * final state, {"describe":{...}} (ctl_op_describe), {"ok":true} for the
 * rule operations, or {"error":TEXT,
 * "exit":STATUS} (STATUS: the exit status `nexusctl run` would give).
 *
 * While a connection waits for its job, it may send one more line,
 * {"op":"cancel"}: the job is cancelled (api_job_cancel, as its caller),
 * and the answer comes when the job is final, as always (`run --engine`
 * sends it on Ctrl-C).
 *
 * Who asks is the peer's uid (SO_PEERCRED of the accepted socket), never
 * a name the client sends: role_resolve() of that uid makes the actor,
 * origin "ctl", and every request goes through the audited api_*
 * functions.  A client that goes away cancels nothing: its job runs on.
 *
 * The client side (ctl_call, ctl_request) is a blocking connect/write/read
 * bounded in time, used by the one-shot commands.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "act.h"

#define CTL_REQ_MAX (1024 * 1024)
#define CTL_RESP_MAX (512 * 1024 * 1024)
#define CTL_CLIENTS_MAX 64
#define CTL_EXIT_NOPERM 77
#define CTL_EXIT_UNAVAILABLE 69
#define CTL_EXIT_TEMPFAIL 75
#define CTL_REQUEST_TIMEOUT_MS 60000   /* ctl_request: the rule ops */
#define CTL_ADHOC_CONCURRENCY 32        /* job_submit's ad-hoc defaults */
#define CTL_ADHOC_TIMEOUT_MS 60000
#define CTL_INTR_POLL_MS 100            /* ctl_call: interrupts seen within */

struct ctl_conn {
	struct ctl_server *srv;
	uv_pipe_t pipe;
	uv_write_t wreq;
	char *buf;              /* the request so far, then the response */
	size_t len;
	bool open;              /* pipe not closed yet */
	bool handled;           /* the request was taken: read no more */
	bool waiting;           /* its job runs: reading for a cancel line */
	bool over;              /* beyond CTL_CLIENTS_MAX: refused */
	uint32_t job;           /* waiting for this job, or 0 */
	char *command;          /* of the job, for the result */
	uint64_t t0;            /* uv_now at the request */
	struct nx_actor actor;
	char user[256];
	uid_t uid;              /* the peer's (SO_PEERCRED) */
	bool have_actor;
	struct ctl_conn *next;
};

struct ctl_server {
	struct engine *e;
	uv_pipe_t pipe;
	char *path;
	bool listening;         /* pipe not closed yet */
	struct ctl_conn *conns;
	size_t nconns;
};

static void ctl_conn_respond(struct ctl_conn *, json_t *);

/*
 * The result of a job as `nexusctl run --format json` prints it (a new
 * reference): counts and the per-host results coalesced by identical
 * output.  command is the action's template or the ad-hoc command.
 */
json_t *
ctl_run_result(const struct engine *e, const struct job *j,
    const char *command, double elapsed_ms)
{
	json_t *root = json_object(), *groups = json_array();
	struct job_group *g = NULL;
	size_t i, k, ng;

	ng = job_coalesce(e, j, &g);
	if (j->action != NULL) {
		json_object_set_new(root, "job", json_integer(j->id));
		json_object_set_new(root, "action", json_string(j->action->name));
		json_object_set_new(root, "state",
		    json_string(job_state_name(j->state)));
		json_object_set_new(root, "dry_run", json_boolean(j->dry_run));
		json_object_set_new(root, "inputs", j->inputs != NULL ?
		    json_deep_copy(j->inputs) : json_object());
	}
	json_object_set_new(root, "command", nx_json_text(command));
	json_object_set_new(root, "hosts", json_integer(j->nhosts));
	json_object_set_new(root, "ok", json_integer(j->nok));
	json_object_set_new(root, "nonzero", json_integer(j->nfailed));
	json_object_set_new(root, "failed", json_integer(j->nerror));
	json_object_set_new(root, "cancelled", json_integer(j->ncancelled));
	json_object_set_new(root, "elapsed_ms", json_real(elapsed_ms));
	for (i = 0; i < ng; i++) {
		const struct job_host *h = &j->hosts[g[i].hosts[0]];
		json_t *o = json_object(), *jn = json_array();
		const char *result;

		for (k = 0; k < g[i].nhosts; k++)
			json_array_append_new(jn, nx_json_text(e->fleet.nodes[
			    j->hosts[g[i].hosts[k]].node].name));
		switch (h->state) {
		case JH_OK:
			result = "ok";
			break;
		case JH_FAILED:
			result = "nonzero";
			break;
		case JH_DRY_RUN:
			result = "dry-run";
			break;
		case JH_CANCELLED:
			result = "cancelled";
			break;
		default:
			result = "failed";
			break;
		}
		json_object_set_new(o, "hosts", nx_json_text(g[i].hostlist));
		json_object_set_new(o, "count", json_integer(g[i].nhosts));
		json_object_set_new(o, "names", jn);
		json_object_set_new(o, "result", json_string(result));
		json_object_set_new(o, "fail", h->state == JH_ERROR ?
		    json_string(h->fail != NULL ? h->fail : "error") :
		    json_null());
		json_object_set_new(o, "error", nx_json_text(g[i].error));
		json_object_set_new(o, "exit", (h->state == JH_OK ||
		    h->state == JH_FAILED) && h->signal == NULL ?
		    json_integer(h->exit_status) : json_null());
		json_object_set_new(o, "signal", nx_json_text(h->signal));
		if (j->action != NULL || h->state == JH_DRY_RUN)
			json_object_set_new(o, "command",
			    nx_json_text(h->command));
		json_object_set_new(o, "stdout", nx_json_text(h->out ? h->out :
		    ""));
		json_object_set_new(o, "stderr", nx_json_text(h->err ? h->err :
		    ""));
		json_object_set_new(o, "truncated", json_boolean(h->truncated));
		json_array_append_new(groups, o);
	}
	json_object_set_new(root, "results", groups);
	job_groups_free(g, ng);
	return root;
}

/* STATE.sock for the state store STATE (a new string). */
char *
ctl_socket_path(const char *state)
{
	char *p;

	xasprintf(&p, "%s.sock", state);
	return p;
}

/* Fills a sockaddr_un with path; -1 (err) when it does not fit. */
static int
ctl_addr(const char *path, struct sockaddr_un *sa, struct nx_err *err)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path) {
		nx_err_set(err, "%s: socket path longer than %zu bytes", path,
		    sizeof sa->sun_path - 1);
		return -1;
	}
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

static json_t *
ctl_error(int status, const char *fmt, ...) __attribute__((format(printf, 2,
    3)));

/* {"error": TEXT, "exit": status} (a new reference). */
static json_t *
ctl_error(int status, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	json_t *o;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	o = json_object();
	json_object_set_new(o, "error", nx_json_text(msg));
	json_object_set_new(o, "exit", json_integer(status));
	free(msg);
	return o;
}

/* An api_* failure: refusals (audited by the api) are 77, others 65. */
static json_t *
ctl_api_error(const struct nx_err *err)
{
	return ctl_error(strncmp(err->msg, "refused:", 8) == 0 ?
	    CTL_EXIT_NOPERM : NX_EXIT_DATAERR, "%s", err->msg);
}

static void
ctl_conn_free(struct ctl_conn *c)
{
	struct ctl_server *srv = c->srv;
	struct ctl_conn **pp;

	for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	srv->nconns--;
	free(c->buf);
	free(c->command);
	free(c);
	if (!srv->listening && srv->nconns == 0) {
		free(srv->path);
		free(srv);
	}
}

static void
ctl_conn_on_close(uv_handle_t *h)
{
	struct ctl_conn *c = h->data;

	c->open = false;
	if (c->job == 0)
		ctl_conn_free(c);
}

static void
ctl_conn_close(struct ctl_conn *c)
{
	if (c->open && !uv_is_closing((uv_handle_t *)&c->pipe))
		uv_close((uv_handle_t *)&c->pipe, ctl_conn_on_close);
}

/* The job of a connection is final: its result goes back. */
static void
ctl_job_done(struct engine *e, struct job *j, void *arg)
{
	struct ctl_conn *c = arg;
	json_t *resp;

	c->job = 0;
	if (!c->open) {         /* the client went away: nothing to say */
		ctl_conn_free(c);
		return;
	}
	if (c->waiting) {
		c->waiting = false;
		uv_read_stop((uv_stream_t *)&c->pipe);
	}
	uv_update_time(e->loop);
	resp = json_object();
	json_object_set_new(resp, "job", job_to_json(e, j));
	json_object_set_new(resp, "result", ctl_run_result(e, j, c->command,
	    (double)(uv_now(e->loop) - c->t0)));
	ctl_conn_respond(c, resp);
}

/* A job was submitted: answer now if it is final, else when it is. */
static json_t *
ctl_wait_job(struct ctl_conn *c, uint32_t jid, const char *command)
{
	struct engine *e = c->srv->e;
	struct job *j = job_find(e, jid);
	json_t *resp;

	if (j == NULL)
		return ctl_error(NX_EXIT_SOFTWARE, "job %u vanished", jid);
	c->command = command != NULL ? xstrdup(command) : NULL;
	if (!job_final(j)) {
		c->job = jid;
		j->done = ctl_job_done;
		j->done_arg = c;
		return NULL;
	}
	resp = json_object();
	json_object_set_new(resp, "job", job_to_json(e, j));
	json_object_set_new(resp, "result", ctl_run_result(e, j, command,
	    (double)(uv_now(e->loop) - c->t0)));
	return resp;
}

/* A string member, or NULL when absent; *bad when present but not one. */
static const char *
ctl_str(const json_t *req, const char *key, bool *bad)
{
	json_t *v = json_object_get(req, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

/*
 * The nodes of hostlist H (ids: a new array, *n of them); a response on
 * failure.  Every name must be a node of the engine's inventory: the
 * refusal names those that are not (a compressed hostlist) and says why.
 */
static json_t *
ctl_hosts(struct engine *e, const char *h, uint32_t **ids, size_t *n)
{
	struct nx_err err = { { 0 } };
	const char **unknown;
	char **names = NULL, *list;
	size_t i, nu = 0;
	json_t *resp;

	if (hostlist_expand(h, &names, n, &err) != 0)
		return ctl_error(NX_EXIT_USAGE, "hosts: %s", err.msg);
	*ids = xcalloc(*n + 1, sizeof **ids);
	unknown = xcalloc(*n + 1, sizeof *unknown);
	for (i = 0; i < *n; i++) {
		struct node *nd = fleet_find_node(&e->fleet, names[i]);

		if (nd == NULL)
			unknown[nu++] = names[i];
		else
			(*ids)[i] = nd->id;
	}
	if (nu > 0) {
		list = hostlist_compress(unknown, nu);
		resp = ctl_error(NX_EXIT_USAGE, "hosts: %zu of %zu host%s "
		    "%s not node%s of the engine's inventory: %s (through the "
		    "engine a host is one of its nodes, with the address, "
		    "port, user and host key its inventory gives; add %s to "
		    "it, or run without --engine)", nu, *n, *n == 1 ? "" : "s",
		    nu == 1 ? "is a" : "are", nu == 1 ? "" : "s", list,
		    nu == 1 ? "it" : "them");
		free(list);
	} else if (*n == 0)
		resp = ctl_error(2, "no host matches");
	else
		resp = NULL;
	free(unknown);
	range_free(names, *n);
	return resp;
}

/* The nodes of target T (ids: a new array); a response on failure. */
static json_t *
ctl_target(struct engine *e, const char *t, uint32_t **ids, size_t *n)
{
	struct nx_err err = { { 0 } };
	struct nx_target *tg = target_parse(t, &err);

	if (tg == NULL)
		return ctl_error(NX_EXIT_USAGE, "target: %s", err.msg);
	target_select(tg, &e->fleet, ids, n);
	target_free(tg);
	if (*n == 0)
		return ctl_error(2, "no host matches");
	return NULL;
}

/* A job request (run, adhoc, or describe of either), parsed. */
struct ctl_jobreq {
	const struct nx_action *a;      /* run: the action; adhoc: NULL */
	const char *command;            /* adhoc */
	json_t *inputs;                 /* run: borrowed, or NULL */
	bool dry_run, confirmed;
	json_int_t fan, tmo;            /* adhoc: 0 for the job defaults */
	uint32_t *ids;                  /* the nodes: owned */
	size_t n;
};

/*
 * Parses a run request (action, target, inputs, dry_run, confirmed) into
 * r and resolves its nodes (r->ids, freed by the caller).  The
 * confirmation is the caller's to check.  Returns NULL, or the error
 * response.
 */
static json_t *
ctl_parse_run(struct engine *e, const json_t *req, struct ctl_jobreq *r)
{
	json_t *dry = json_object_get(req, "dry_run");
	json_t *conf = json_object_get(req, "confirmed");
	const char *name, *target;
	bool bad = false;

	r->inputs = json_object_get(req, "inputs");
	name = ctl_str(req, "action", &bad);
	target = ctl_str(req, "target", &bad);
	if (bad || name == NULL || target == NULL)
		return ctl_error(NX_EXIT_USAGE, "run wants \"action\" and "
		    "\"target\" strings");
	if ((r->inputs != NULL && !json_is_object(r->inputs)) ||
	    (dry != NULL && !json_is_boolean(dry)) ||
	    (conf != NULL && !json_is_boolean(conf)))
		return ctl_error(NX_EXIT_USAGE, "run: \"inputs\" is an object, "
		    "\"dry_run\" and \"confirmed\" are booleans");
	r->dry_run = json_is_true(dry);
	r->confirmed = json_is_true(conf);
	if ((r->a = action_find(e, name)) == NULL)
		return ctl_error(NX_EXIT_USAGE, "no action \"%s\"", name);
	return ctl_target(e, target, &r->ids, &r->n);
}

/*
 * Parses an adhoc request (command, hosts or target, fanout, timeout_ms)
 * into r and resolves its nodes.  Returns NULL, or the error response.
 */
static json_t *
ctl_parse_adhoc(struct engine *e, const json_t *req, struct ctl_jobreq *r)
{
	const char *hosts, *target;
	json_t *fj = json_object_get(req, "fanout");
	json_t *tj = json_object_get(req, "timeout_ms");
	bool bad = false;

	r->command = ctl_str(req, "command", &bad);
	hosts = ctl_str(req, "hosts", &bad);
	target = ctl_str(req, "target", &bad);
	if (bad || r->command == NULL || (hosts == NULL) == (target == NULL))
		return ctl_error(NX_EXIT_USAGE, "adhoc wants a \"command\" "
		    "string and one of \"hosts\" or \"target\"");
	if (fj != NULL && (!json_is_integer(fj) ||
	    (r->fan = json_integer_value(fj)) < 1 || r->fan > 100000))
		return ctl_error(NX_EXIT_USAGE, "adhoc: \"fanout\" is an "
		    "integer from 1 to 100000");
	if (tj != NULL && (!json_is_integer(tj) ||
	    (r->tmo = json_integer_value(tj)) < 1 || r->tmo > 86400000))
		return ctl_error(NX_EXIT_USAGE, "adhoc: \"timeout_ms\" is an "
		    "integer from 1 to 86400000");
	if (target != NULL)
		return ctl_target(e, target, &r->ids, &r->n);
	return ctl_hosts(e, hosts, &r->ids, &r->n);
}

static json_t *
ctl_op_run(struct ctl_conn *c, const json_t *req)
{
	struct engine *e = c->srv->e;
	struct nx_err err = { { 0 } };
	struct ctl_jobreq r;
	json_t *inputs, *resp;
	uint32_t jid = 0;

	memset(&r, 0, sizeof r);
	if ((resp = ctl_parse_run(e, req, &r)) != NULL) {
		free(r.ids);
		return resp;
	}
	if ((r.a->confirm || r.a->dangerous) && !r.dry_run && !r.confirmed) {
		free(r.ids);
		return ctl_error(NX_EXIT_USAGE, "action %s asks for "
		    "confirmation: give --yes to run it through the engine",
		    r.a->name);
	}
	inputs = r.inputs != NULL ? json_incref(r.inputs) : json_object();
	if (api_run(e, &c->actor, r.a->name, r.ids, r.n, inputs, r.dry_run,
	    &jid, &err) != 0)
		resp = ctl_api_error(&err);
	else
		resp = ctl_wait_job(c, jid, r.a->command);
	json_decref(inputs);
	free(r.ids);
	return resp;
}

static json_t *
ctl_op_adhoc(struct ctl_conn *c, const json_t *req)
{
	struct engine *e = c->srv->e;
	struct nx_err err = { { 0 } };
	struct ctl_jobreq r;
	uint32_t jid = 0;
	json_t *resp;
	int rc;

	memset(&r, 0, sizeof r);
	if ((resp = ctl_parse_adhoc(e, req, &r)) != NULL) {
		free(r.ids);
		return resp;
	}
	/* The limits are copied into the job at submission; put the
	 * defaults back for the next ad-hoc job (console, rules). */
	act_set_adhoc_limits(e, (uint32_t)r.fan, (uint32_t)r.tmo);
	rc = api_run_adhoc(e, &c->actor, r.command, r.ids, r.n, &jid, &err);
	act_set_adhoc_limits(e, 0, 0);
	resp = rc != 0 ? ctl_api_error(&err) : ctl_wait_job(c, jid,
	    r.command);
	free(r.ids);
	return resp;
}

/*
 * describe: what a run or adhoc request with the same fields would do,
 * without doing it (no role needed, no audit row): the action's
 * definition, the resolved nodes, and the job's own bound in time, for
 * the client to confirm on its terminal and to bound its wait.  A run
 * request is described with or without "confirmed".
 */
static json_t *
ctl_op_describe(struct ctl_conn *c, const json_t *req)
{
	struct engine *e = c->srv->e;
	struct ctl_jobreq r;
	const char **names;
	json_t *resp, *d;
	uint64_t waves, conc, tmo;
	char *list;
	size_t i;

	memset(&r, 0, sizeof r);
	if (json_object_get(req, "action") != NULL)
		resp = ctl_parse_run(e, req, &r);
	else
		resp = ctl_parse_adhoc(e, req, &r);
	if (resp != NULL) {
		free(r.ids);
		return resp;
	}
	/* An ad-hoc job's defaults are those of job.c's job_submit. */
	conc = r.a != NULL ? r.a->concurrency : r.fan != 0 ?
	    (uint64_t)r.fan : CTL_ADHOC_CONCURRENCY;
	tmo = r.a != NULL ? r.a->timeout_ms : r.tmo != 0 ? (uint64_t)r.tmo :
	    CTL_ADHOC_TIMEOUT_MS;
	if (conc == 0)
		conc = 1;
	waves = (r.n + conc - 1) / conc;
	names = xcalloc(r.n + 1, sizeof *names);
	for (i = 0; i < r.n; i++)
		names[i] = e->fleet.nodes[r.ids[i]].name;
	list = hostlist_compress(names, r.n);
	free(names);
	d = json_object();
	if (r.a != NULL) {
		json_object_set_new(d, "action", action_to_json(r.a));
		json_object_set_new(d, "confirm", json_boolean(r.a->confirm ||
		    r.a->dangerous));
		json_object_set_new(d, "dangerous",
		    json_boolean(r.a->dangerous));
	} else
		json_object_set_new(d, "command", nx_json_text(r.command));
	json_object_set_new(d, "hosts", json_integer((json_int_t)r.n));
	json_object_set_new(d, "hostlist", nx_json_text(list));
	json_object_set_new(d, "concurrency", json_integer((json_int_t)conc));
	json_object_set_new(d, "timeout_ms", json_integer((json_int_t)tmo));
	json_object_set_new(d, "waves", json_integer((json_int_t)waves));
	json_object_set_new(d, "bound_ms",
	    json_integer((json_int_t)(waves * tmo)));
	resp = json_object();
	json_object_set_new(resp, "describe", d);
	free(list);
	free(r.ids);
	return resp;
}

static json_t *
ctl_op_rule(struct ctl_conn *c, const json_t *req, bool reset)
{
	struct engine *e = c->srv->e;
	struct nx_err err = { { 0 } };
	const char *rule, *node = NULL;
	json_t *en = json_object_get(req, "enabled"), *resp;
	struct node *nd;
	bool bad = false;
	int rc;

	rule = ctl_str(req, "rule", &bad);
	if (reset)
		node = ctl_str(req, "node", &bad);
	if (bad || rule == NULL || (reset && node == NULL) ||
	    (!reset && !json_is_boolean(en)))
		return ctl_error(NX_EXIT_USAGE, reset ? "rule_reset wants "
		    "\"rule\" and \"node\" strings" : "rule_enable wants a "
		    "\"rule\" string and an \"enabled\" boolean");
	if (reset) {
		if ((nd = fleet_find_node(&e->fleet, node)) == NULL)
			return ctl_error(NX_EXIT_DATAERR, "no node \"%s\"",
			    node);
		rc = api_rule_reset(e, &c->actor, rule, nd->id, &err);
	} else
		rc = api_rule_enable(e, &c->actor, rule, json_is_true(en),
		    &err);
	if (rc != 0)
		return ctl_api_error(&err);
	resp = json_object();
	json_object_set_new(resp, "ok", json_true());
	return resp;
}

/* One complete request line: its response, or NULL (a job runs). */
static json_t *
ctl_handle(struct ctl_conn *c, const char *buf, size_t len)
{
	struct nx_err err = { { 0 } };
	json_error_t jerr;
	json_t *req, *resp, *ro;
	const char *op;
	bool bad = false;

	if ((req = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL)
		return ctl_error(NX_EXIT_USAGE, "request:%d:%d: %s", jerr.line,
		    jerr.column, jerr.text);
	ro = json_object_get(req, "readonly");
	if (!json_is_object(req) || (op = ctl_str(req, "op", &bad)) == NULL ||
	    bad || (ro != NULL && !json_is_boolean(ro))) {
		json_decref(req);
		return ctl_error(NX_EXIT_USAGE, "request: an object with an "
		    "\"op\" string");
	}
	/* --readonly: the caller asks to be a viewer. */
	if (json_is_true(ro) && c->have_actor) {
		role_resolve(&c->srv->e->cfg, c->uid, true, &c->actor, c->user,
		    sizeof c->user, &err);
		c->actor.origin = "ctl";
	}
	if (!c->have_actor)
		resp = ctl_error(NX_EXIT_SOFTWARE, "the peer's uid is unknown");
	else if (strcmp(op, "run") == 0)
		resp = ctl_op_run(c, req);
	else if (strcmp(op, "adhoc") == 0)
		resp = ctl_op_adhoc(c, req);
	else if (strcmp(op, "describe") == 0)
		resp = ctl_op_describe(c, req);
	else if (strcmp(op, "rule_reset") == 0)
		resp = ctl_op_rule(c, req, true);
	else if (strcmp(op, "rule_enable") == 0)
		resp = ctl_op_rule(c, req, false);
	else
		resp = ctl_error(NX_EXIT_USAGE, "unknown op \"%s\" (run, adhoc, "
		    "describe, rule_reset, rule_enable)", op);
	json_decref(req);
	return resp;
}

static void
ctl_conn_on_write(uv_write_t *w, int status)
{
	struct ctl_conn *c = w->data;

	(void)status;
	ctl_conn_close(c);
}

/* Sends resp (consumed) and one newline, then closes. */
static void
ctl_conn_respond(struct ctl_conn *c, json_t *resp)
{
	uv_buf_t b;

	free(c->buf);
	c->buf = json_dumps(resp, JSON_COMPACT | NX_JSON_FLAGS);
	json_decref(resp);
	if (c->buf == NULL)
		c->buf = xstrdup("{\"error\":\"out of memory\",\"exit\":70}");
	c->len = strlen(c->buf);
	c->buf = xrealloc(c->buf, c->len + 2);
	c->buf[c->len++] = '\n';
	c->buf[c->len] = '\0';
	b = uv_buf_init(c->buf, (unsigned int)c->len);
	c->wreq.data = c;
	if (!c->open || uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &b, 1,
	    ctl_conn_on_write) != 0)
		ctl_conn_close(c);
}

static void
ctl_conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct ctl_conn *c = h->data;
	size_t want = hint < 65536 ? 65536 : hint;

	c->buf = xrealloc(c->buf, c->len + want + 1);
	*b = uv_buf_init(c->buf + c->len, (unsigned int)want);
}

static void ctl_conn_on_read(uv_stream_t *, ssize_t, const uv_buf_t *);

/*
 * Takes the request in buf[0..n) and answers it, now or later; while its
 * job runs, reads on for a cancel line (ctl_conn_on_wait_line).
 */
static void
ctl_conn_take(struct ctl_conn *c, size_t n)
{
	json_t *resp;

	c->handled = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	uv_update_time(c->srv->e->loop);
	c->t0 = uv_now(c->srv->e->loop);
	if ((resp = ctl_handle(c, c->buf, n)) != NULL) {
		ctl_conn_respond(c, resp);
		return;
	}
	if (c->job != 0 && c->open) {
		c->len = 0;
		c->waiting = uv_read_start((uv_stream_t *)&c->pipe,
		    ctl_conn_alloc, ctl_conn_on_read) == 0;
	}
}

/*
 * A line from a client whose job runs: {"op":"cancel"} cancels it as the
 * client's actor (audited; a refusal is audited too and changes nothing).
 * Anything else is ignored: the one answer is the job's.
 */
static void
ctl_conn_on_wait_line(struct ctl_conn *c, const char *buf, size_t len)
{
	struct nx_err err = { { 0 } };
	json_t *req = json_loadb(buf, len, 0, NULL);
	const char *op = json_string_value(json_object_get(req, "op"));

	if (op != NULL && strcmp(op, "cancel") == 0 && c->job != 0)
		(void)api_job_cancel(c->srv->e, &c->actor, c->job, &err);
	json_decref(req);
}

static void
ctl_conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct ctl_conn *c = s->data;
	char *nl;

	(void)b;
	if (c->waiting) {
		if (nread < 0) {        /* gone: its job runs on */
			c->waiting = false;
			uv_read_stop(s);
			return;
		}
		c->len += (size_t)nread;
		while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			size_t used = (size_t)(nl - c->buf) + 1;

			ctl_conn_on_wait_line(c, c->buf, used - 1);
			if (!c->waiting)        /* the job ended meanwhile */
				return;
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
		}
		if (c->len > 4096)
			c->len = 0;     /* not a cancel line: dropped */
		return;
	}
	if (c->handled)
		return;
	if (nread < 0) {
		if (nread == UV_EOF && c->len > 0)
			ctl_conn_take(c, c->len);
		else
			ctl_conn_close(c);
		return;
	}
	nl = memchr(c->buf + c->len, '\n', (size_t)nread);
	c->len += (size_t)nread;
	if (nl != NULL) {
		ctl_conn_take(c, (size_t)(nl - c->buf));
		return;
	}
	if (c->len > CTL_REQ_MAX) {
		c->handled = true;
		uv_read_stop(s);
		ctl_conn_respond(c, ctl_error(NX_EXIT_USAGE, "request longer "
		    "than %d bytes", CTL_REQ_MAX));
	}
}

/* The uid of the peer of the accepted pipe; -1 when unknown. */
static int
ctl_peer_uid(uv_pipe_t *p, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)p, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    len != sizeof cr)
		return -1;
	*uid = cr.uid;
	return 0;
}

static void
ctl_on_connection(uv_stream_t *s, int status)
{
	struct ctl_server *srv = s->data;
	struct nx_err err = { { 0 } };
	struct ctl_conn *c;
	uid_t uid;

	if (status != 0)
		return;
	c = xcalloc(1, sizeof *c);
	c->srv = srv;
	uv_pipe_init(srv->e->loop, &c->pipe, 0);
	c->pipe.data = c;
	c->open = true;
	c->next = srv->conns;
	srv->conns = c;
	srv->nconns++;
	if (uv_accept(s, (uv_stream_t *)&c->pipe) != 0) {
		ctl_conn_close(c);
		return;
	}
	if (srv->nconns > CTL_CLIENTS_MAX) {
		c->handled = true;
		ctl_conn_respond(c, ctl_error(CTL_EXIT_TEMPFAIL, "busy: %d "
		    "clients at once", CTL_CLIENTS_MAX));
		return;
	}
	if (ctl_peer_uid(&c->pipe, &uid) == 0) {
		c->uid = uid;
		role_resolve(&srv->e->cfg, uid, false, &c->actor, c->user,
		    sizeof c->user, &err);
		c->actor.origin = "ctl";
		c->have_actor = true;
	}
	uv_read_start((uv_stream_t *)&c->pipe, ctl_conn_alloc,
	    ctl_conn_on_read);
}

/*
 * Listens on path for e (on e->loop).  The caller holds the state store's
 * writer lock, so no other engine serves this store: a socket left at
 * path by a killed engine is replaced; anything else there is an error.
 * The socket is 0600, or 0666 when shared (a roles section: every
 * request still goes through the role of the peer's uid).  Returns the
 * server (ctl_close frees it), or NULL (err).
 */
struct ctl_server *
ctl_listen(struct engine *e, const char *path, bool shared,
    struct nx_err *err)
{
	struct ctl_server *srv;
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int rc;

	if (ctl_addr(path, &sa, err) != 0)
		return NULL;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			nx_err_set(err, "%s: exists and is not a socket", path);
			return NULL;
		}
		if (unlink(path) != 0) {
			nx_err_set(err, "%s: %s", path, strerror(errno));
			return NULL;
		}
	}
	srv = xcalloc(1, sizeof *srv);
	srv->e = e;
	srv->path = xstrdup(path);
	uv_pipe_init(e->loop, &srv->pipe, 0);
	srv->pipe.data = srv;
	srv->listening = true;
	old = umask(0177);
	rc = uv_pipe_bind(&srv->pipe, path);
	umask(old);
	if (rc == 0 && shared && chmod(path, 0666) != 0)
		rc = uv_translate_sys_error(errno);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&srv->pipe, 16,
		    ctl_on_connection);
	if (rc != 0) {
		nx_err_set(err, "%s: %s", path, uv_strerror(rc));
		(void)unlink(path);
		free(srv->path);
		srv->path = NULL;
		ctl_close(srv);
		return NULL;
	}
	return srv;
}

static void
ctl_on_close(uv_handle_t *h)
{
	struct ctl_server *srv = h->data;

	srv->listening = false;
	if (srv->nconns == 0) {
		free(srv->path);
		free(srv);
	}
}

/*
 * Stops listening, removes the socket, drops the clients (their jobs run
 * on, without them).  The memory goes once the loop ran the closes.
 */
void
ctl_close(struct ctl_server *srv)
{
	struct ctl_conn *c, *next;
	struct job *j;

	if (srv == NULL)
		return;
	if (srv->path != NULL)
		(void)unlink(srv->path);
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->job != 0) {
			if ((j = job_find(srv->e, c->job)) != NULL &&
			    j->done_arg == c) {
				j->done = NULL;
				j->done_arg = NULL;
			}
			c->job = 0;
			if (!c->open) {
				ctl_conn_free(c);
				continue;
			}
		}
		ctl_conn_close(c);
	}
	uv_close((uv_handle_t *)&srv->pipe, ctl_on_close);
}

/* The milliseconds of CLOCK_MONOTONIC. */
static uint64_t
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Waits for fd to be ready for events until the deadline (ms of
 * ctl_now_ms(); 0: none), or until *intr (when not NULL) differs from
 * seen: it is looked at every CTL_INTR_POLL_MS.  Returns 1 ready, 0 the
 * deadline passed, 2 interrupted, -1 (errno) an error.
 */
static int
ctl_wait_fd(int fd, short events, uint64_t deadline,
    const volatile sig_atomic_t *intr, sig_atomic_t seen)
{
	struct pollfd pf;
	uint64_t now;
	int ms, rc;

	for (;;) {
		if (intr != NULL && *intr != seen)
			return 2;
		ms = -1;
		if (deadline != 0) {
			if ((now = ctl_now_ms()) >= deadline)
				return 0;
			ms = deadline - now > INT_MAX ? INT_MAX :
			    (int)(deadline - now);
		}
		if (intr != NULL && (ms < 0 || ms > CTL_INTR_POLL_MS))
			ms = CTL_INTR_POLL_MS;
		pf.fd = fd;
		pf.events = events;
		pf.revents = 0;
		if ((rc = poll(&pf, 1, ms)) > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/*
 * The client: sends req to the engine at path and reads its one response
 * (*resp, a new reference), waiting at most timeout_ms in all (0: no
 * limit).  Returns 0; -1 with *fail saying why and err a message naming
 * the socket: CTL_FAIL_NONE_RUNNING (nobody listens there),
 * CTL_FAIL_TIMEOUT (no answer in time: the engine is stalled or the job
 * outlives the bound; a job it took runs on), CTL_FAIL_EOF (the engine
 * closed the connection without an answer: it stopped or died),
 * CTL_FAIL_INTERRUPTED (below), CTL_FAIL_IO (anything else).
 *
 * interrupts (or NULL) counts the caller's interrupts (its SIGINT
 * handler): at the first, {"op":"cancel"} goes to the engine, which
 * cancels the job, and the wait goes on for its answer; at the second
 * the wait ends (CTL_FAIL_INTERRUPTED) and the job is left to the engine.
 */
int
ctl_call(const char *path, const json_t *req, uint32_t timeout_ms,
    const volatile sig_atomic_t *interrupts, json_t **resp,
    enum ctl_fail *fail, struct nx_err *err)
{
	static const char cancel[] = "{\"op\":\"cancel\"}\n";
	sig_atomic_t seen = interrupts != NULL ? *interrupts : 0;
	struct sockaddr_un sa;
	json_error_t jerr;
	char *text, *buf = NULL;
	size_t len = 0, cap = 0, off;
	uint64_t deadline = timeout_ms != 0 ? ctl_now_ms() + timeout_ms : 0;
	ssize_t n = 0;
	int fd, w;

	*resp = NULL;
	*fail = CTL_FAIL_IO;
	if (ctl_addr(path, &sa, err) != 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		nx_err_set(err, "socket: %s", strerror(errno));
		return -1;
	}
	/* A Unix socket connects at once or fails (EAGAIN: the backlog of
	 * a stalled engine is full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			*fail = CTL_FAIL_NONE_RUNNING;
		else if (errno == EAGAIN)
			*fail = CTL_FAIL_TIMEOUT;
		nx_err_set(err, "%s: %s", path, errno == EAGAIN ? "the engine "
		    "takes no connection (its backlog is full: stalled?)" :
		    strerror(errno));
		close(fd);
		return -1;
	}
	text = json_dumps(req, JSON_COMPACT | NX_JSON_FLAGS);
	xasprintf(&buf, "%s\n", text != NULL ? text : "{}");
	free(text);
	len = strlen(buf);
	for (off = 0; off < len; off += (size_t)n) {
		if ((n = send(fd, buf + off, len - off, MSG_NOSIGNAL)) > 0)
			continue;
		n = 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && (w = ctl_wait_fd(fd, POLLOUT,
		    deadline, NULL, 0)) != -1) {
			if (w == 1)
				continue;
			*fail = CTL_FAIL_TIMEOUT;
			nx_err_set(err, "%s: the engine took no request in "
			    "%.1f s", path, timeout_ms / 1000.0);
		} else if (errno == EPIPE || errno == ECONNRESET) {
			*fail = CTL_FAIL_EOF;
			nx_err_set(err, "%s: the engine closed the connection "
			    "before taking the request", path);
		} else
			nx_err_set(err, "%s: write: %s", path, strerror(errno));
		free(buf);
		close(fd);
		return -1;
	}
	free(buf);
	buf = NULL;
	len = 0;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if ((w = ctl_wait_fd(fd, POLLIN, deadline, interrupts,
			    seen)) == 1)
				continue;
			if (w == 2) {
				seen = *interrupts;
				if (seen >= 2) {
					*fail = CTL_FAIL_INTERRUPTED;
					nx_err_set(err, "%s: interrupted; "
					    "the job runs on in the engine",
					    path);
					n = -1;
					break;
				}
				/* A short line: the socket takes it. */
				(void)send(fd, cancel, sizeof cancel - 1,
				    MSG_NOSIGNAL);
				continue;
			}
			if (w == 0) {
				*fail = CTL_FAIL_TIMEOUT;
				nx_err_set(err, "%s: no answer from the "
				    "engine in %.1f s", path,
				    timeout_ms / 1000.0);
				n = -1;
				break;
			}
		}
		if (n < 0) {
			if (errno == ECONNRESET)
				*fail = CTL_FAIL_EOF;
			nx_err_set(err, "%s: read: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CTL_RESP_MAX) {
			nx_err_set(err, "%s: response longer than %d bytes",
			    path, CTL_RESP_MAX);
			n = -1;
			break;
		}
	}
	close(fd);
	if (n < 0) {
		free(buf);
		return -1;
	}
	if (len == 0 || buf[len - 1] != '\n') {
		/* Every answer ends with a newline: without it the engine
		 * went away before it finished answering. */
		*fail = CTL_FAIL_EOF;
		nx_err_set(err, "%s: the engine closed the connection without "
		    "an answer%s", path, len == 0 ? "" : " (a partial one)");
		free(buf);
		return -1;
	}
	if ((*resp = json_loadb(buf, len, 0, &jerr)) == NULL ||
	    !json_is_object(*resp)) {
		nx_err_set(err, "%s: answer:%d:%d: %s", path, jerr.line,
		    jerr.column, *resp == NULL ? jerr.text : "not an object");
		json_decref(*resp);
		*resp = NULL;
		free(buf);
		return -1;
	}
	free(buf);
	*fail = CTL_FAIL_OK;
	return 0;
}

/*
 * ctl_call() for the immediate requests (the rule operations): at most
 * CTL_REQUEST_TIMEOUT_MS; *none set when no engine listens at path.
 */
int
ctl_request(const char *path, const json_t *req, json_t **resp, bool *none,
    struct nx_err *err)
{
	enum ctl_fail fail;
	int rc;

	rc = ctl_call(path, req, CTL_REQUEST_TIMEOUT_MS, NULL, resp, &fail,
	    err);
	*none = rc != 0 && fail == CTL_FAIL_NONE_RUNNING;
	return rc;
}
