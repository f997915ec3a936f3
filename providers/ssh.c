/*
 * ssh.c - the ssh provider: inventory nodes reached over SSH.
 *
 * An inventory node whose vars say `nexus_transport: ssh` gets, instead of
 * the inventory's "no transport" check, a `ping` host check that reports
 * the state of its SSH session (with the real reason when it is down:
 * connect, host key, authentication) and the standard `load`, `cpu`, `mem`
 * and `disk` metric checks.  Their metrics come from a sampler: a POSIX sh
 * loop on the node, started once over the node's persistent session
 * (ssh-session.c) and streaming one line per interval read from /proc with
 * the `read` builtin (no fork but `sleep`, and `df -P` every sixth turn).
 *
 *  live (engine_start)  one long-lived sampler channel per node; a node
 *                       whose session fails is retried after a backoff
 *                       (1 s doubling to 60 s, ±20 % jitter); a node
 *                       whose samples stop (a hung server) has its
 *                       session dropped after 3 intervals + 2 s.
 *  batch (engine_round) one sample per node: the sampler body once, all
 *                       nodes at once, bounded by the check timeout.
 *
 * An inventory reload reaches the provider through its node_changed hook
 * (sshp_node_changed): nodes added with the var are adopted as at start,
 * removed ones released (session closed), moved ones adopted again.
 *
 * SSH settings come from the inventory (address, port, ansible_user) and
 * the environment: NEXUSCTL_SSH_IDENTITY (a key file),
 * NEXUSCTL_SSH_KNOWN_HOSTS, NEXUSCTL_SSH_ACCEPT_NEW=1, NEXUSCTL_SSH_CONFIG
 * (an ssh_config, or "none"), NEXUSCTL_SSH_KEEPALIVE (seconds, default
 * 15, 0 = none); else ~/.ssh and ssh-agent as OpenSSH.  The pool is the
 * engine's (ssh_engine_pool): the `ssh` check kind and jobs use it too.
 * Refused host keys are audited (ssh_audit_refusal).  The reason a node is down is interned in the fleet
 * and kept in node.pdata (inventory nodes leave it unused).
 */
#include "config.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "act.h"
#include "engine.h"

#define SSHP_BACKOFF_MIN_MS 1000
#define SSHP_BACKOFF_MAX_MS 60000
#define SSHP_JITTER 0.2
#define SSHP_KEEPALIVE_MS 15000
#define SSHP_SCAN_MS 1000       /* staleness scan, at most this far apart */
#define SSHP_START_MS 30000     /* more for the first sample: connect + auth */
#define SSHP_LINE_MAX 512
#define SSHP_DF_EVERY 6

/* One sample: loadavg, the cpu line of /proc/stat, MemTotal, MemAvailable. */
#define SSHP_BODY \
	"read l1 x < /proc/loadavg; " \
	"read c u n s i w q sq st x < /proc/stat; mt=0; ma=0; " \
	"while read k v x; do case $k in MemTotal:) mt=$v;; " \
	"MemAvailable:) ma=$v;; esac; done < /proc/meminfo; " \
	"echo \"nx $l1 $u $n $s $i $w $q $sq $st $mt $ma\""
#define SSHP_DF "echo dfs; df -P -l 2>/dev/null; echo dfe"

struct sshp_node {
	struct sshp *st;
	uint32_t node;
	char line[SSHP_LINE_MAX];
	size_t linelen;
	bool have_prev, in_df, streaming, got_first;
	uint64_t prev_busy, prev_total;
	double disk_worst;
	uint64_t started;       /* uv_now when the sampler was submitted */
	uint64_t last_line;     /* uv_now of the last sample */
	uint32_t backoff_ms;    /* reconnect delay before jitter; 0 = none yet */
	uint64_t next_try;      /* uv_now when to start again (live, failed) */
	/* The session it uses, as given to the pool (interned; port as
	 * ssh_node_port): a reload that changes one re-adopts the node. */
	const char *address, *user;
	uint16_t port;
	/* Released by a reload while its sampler was out: no longer in
	 * sshp.nodes, freed by sshp_done() when the pool calls it back. */
	bool released;
};

struct sshp {
	struct engine *e;
	struct ssh_pool *pool;
	struct sshp_node **nodes;       /* each owned; stable addresses (the
					 * pool's callbacks hold them) */
	size_t nnodes;
	size_t pending;         /* batch: samples still out */
	uv_timer_t *retry;      /* live: reconnects and staleness */
	uint64_t retry_due;     /* when it fires; 0 = not armed */
	uint64_t stale_ms;      /* a streaming node silent this long is stalled */
	uint64_t rng;           /* jitter */
	bool stopping;
	bool releasing;         /* sshp_release() is dropping a session */
	struct sshp_node *released;     /* ... of this entry, which it frees */
};

static bool
sshp_wanted(const struct node *n)
{
	const json_t *t;

	if (n->provider != &provider_inventory || n->vars == NULL)
		return false;
	t = json_object_get(n->vars, "nexus_transport");
	return t != NULL && json_is_string(t) &&
	    strcmp(json_string_value(t), "ssh") == 0;
}

static void
sshp_set_down(struct sshp_node *sn, const char *why)
{
	struct engine *e = sn->st->e;
	struct node *n = &e->fleet.nodes[sn->node];

	n->m.up = false;
	n->pdata = (void *)strpool_intern(&e->fleet.strings, why);
}

/*
 * Applies one line of sampler output to the node's metrics: an `nx ...`
 * sample, or a `df -P` block between `dfs` and `dfe`.
 */
static void
sshp_line(struct sshp_node *sn, char *line)
{
	struct engine *e = sn->st->e;
	struct node *n = &e->fleet.nodes[sn->node];

	if (strncmp(line, "nx ", 3) == 0) {
		unsigned long long v[10] = { 0 };
		double l1;
		uint64_t busy, total;
		int got;

		got = sscanf(line + 3, "%lf %llu %llu %llu %llu %llu %llu %llu "
		    "%llu %llu %llu", &l1, &v[0], &v[1], &v[2], &v[3], &v[4],
		    &v[5], &v[6], &v[7], &v[8], &v[9]);
		if (got < 5)
			return;
		/* user nice system idle iowait irq softirq steal memtotal memavail */
		busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		total = busy + v[3] + v[4];
		n->m.v[NX_M_LOAD] = l1;
		if (sn->have_prev && total > sn->prev_total)
			n->m.v[NX_M_CPU] = 100.0 * (double)(busy - sn->prev_busy) /
			    (double)(total - sn->prev_total);
		else if (total > 0)
			n->m.v[NX_M_CPU] = 100.0 * (double)busy / (double)total;
		sn->prev_busy = busy;
		sn->prev_total = total;
		sn->have_prev = true;
		if (got == 11 && v[8] > 0 && v[9] <= v[8])
			n->m.v[NX_M_MEM] = 100.0 * (double)(v[8] - v[9]) /
			    (double)v[8];
		if (!sn->got_first) {
			/* Time to the first sample: connect, auth and exec. */
			n->m.v[NX_M_LATENCY] = (double)(uv_now(e->loop) -
			    sn->started);
			sn->got_first = true;
		}
		n->m.up = true;
		n->m.sampled = engine_now(e);
		n->pdata = NULL;
		sn->last_line = uv_now(e->loop);
		sn->backoff_ms = 0;
	} else if (strcmp(line, "dfs") == 0) {
		sn->in_df = true;
		sn->disk_worst = NAN;
	} else if (strcmp(line, "dfe") == 0) {
		sn->in_df = false;
		if (!isnan(sn->disk_worst))
			n->m.v[NX_M_DISK] = sn->disk_worst;
	} else if (sn->in_df && line[0] == '/') {
		unsigned long long blocks, used, avail;
		char fs[256];

		/* Filesystem 1024-blocks Used Available Capacity Mounted-on */
		if (sscanf(line, "%255s %llu %llu %llu", fs, &blocks, &used,
		    &avail) == 4 && used + avail > 0) {
			double pct = 100.0 * (double)used /
			    (double)(used + avail);

			if (isnan(sn->disk_worst) || pct > sn->disk_worst)
				sn->disk_worst = pct;
		}
	}
}

static void
sshp_data(void *arg, const char *buf, size_t len)
{
	struct sshp_node *sn = arg;
	size_t i;

	if (sn->st->stopping)
		return;
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			sn->line[sn->linelen] = '\0';
			sshp_line(sn, sn->line);
			sn->linelen = 0;
		} else if (sn->linelen + 1 < sizeof sn->line)
			sn->line[sn->linelen++] = buf[i];
	}
}

/*
 * The next reconnect delay: *base_ms (0 before the first failure) becomes
 * 1 s, then doubles up to 60 s; the delay returned is that with ±20 %
 * jitter, r uniform in [0, 1), so that a fleet that failed at once does
 * not reconnect at once.
 */
uint32_t
ssh_backoff_next(uint32_t *base_ms, double r)
{
	uint32_t b = *base_ms;

	b = b == 0 ? SSHP_BACKOFF_MIN_MS : b >= SSHP_BACKOFF_MAX_MS / 2 ?
	    SSHP_BACKOFF_MAX_MS : b * 2;
	*base_ms = b;
	return (uint32_t)((double)b * (1.0 - SSHP_JITTER + 2 * SSHP_JITTER * r));
}

/* A uniform double in [0, 1) from the state's xorshift generator. */
static double
sshp_random(struct sshp *st)
{
	uint64_t x = st->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	st->rng = x;
	return (double)(x >> 11) / 9007199254740992.0;
}

static void sshp_retry_cb(uv_timer_t *);

/* Arms the live timer at due unless it fires before. */
static void
sshp_arm(struct sshp *st, uint64_t due)
{
	uint64_t now = uv_now(st->e->loop);

	if (st->retry == NULL || (st->retry_due != 0 && st->retry_due <= due))
		return;
	st->retry_due = due;
	uv_timer_start(st->retry, sshp_retry_cb, due > now ? due - now : 0, 0);
}

/* Live: the node's sampler ended; it starts again after the backoff. */
static void
sshp_schedule(struct sshp_node *sn)
{
	struct sshp *st = sn->st;
	uint32_t delay = ssh_backoff_next(&sn->backoff_ms, sshp_random(st));

	sn->next_try = uv_now(st->e->loop) + delay;
	sshp_arm(st, sn->next_try);
}

static void
sshp_done(void *arg, const struct ssh_result *res)
{
	struct sshp_node *sn = arg;
	char why[600];

	sn->streaming = false;
	if (sn->st->pending > 0)
		sn->st->pending--;
	if (sn->released) {
		if (sn != sn->st->released)
			free(sn);       /* else sshp_release() does */
		return;
	}
	if (sn->st->stopping)
		return;
	if (sn->st->releasing && sn->st->retry != NULL) {
		/* Another node's session, shared with this one (the same
		 * address, port and user), was closed: start again now. */
		sn->next_try = uv_now(sn->st->e->loop);
		sshp_arm(sn->st, sn->next_try);
		return;
	}
	if (res->fail == SSH_OK && res->out_len > 0)
		sshp_data(sn, res->out, res->out_len);
	if (res->fail != SSH_OK) {
		snprintf(why, sizeof why, "%s", res->error);
		sshp_set_down(sn, why);
	} else if (res->exit_status != 0 && !sn->got_first) {
		snprintf(why, sizeof why, "the sampler exited with status %d%s%.200s",
		    res->exit_status, res->err_len ? ": " : "", res->err);
		sshp_set_down(sn, why);
	} else if (sn->st->retry != NULL)
		sshp_set_down(sn, "the sampler stopped");
	if (sn->st->retry != NULL)
		sshp_schedule(sn);
}

static char *
sshp_command(const struct engine *e, bool once)
{
	uint32_t secs = e->cfg.checks.interval_ms / 1000;
	char *cmd;

	if (once) {
		xasprintf(&cmd, "%s; %s", SSHP_BODY, SSHP_DF);
		return cmd;
	}
	if (secs == 0)
		secs = 10;
	xasprintf(&cmd, "i=0; while :; do %s; if [ $((i %% %d)) -eq 0 ]; "
	    "then %s; fi; i=$((i + 1)); sleep %u || exit; done", SSHP_BODY,
	    SSHP_DF_EVERY, SSHP_DF, secs);
	return cmd;
}

static void
sshp_start_node(struct sshp_node *sn, const char *cmd, uint32_t timeout_ms)
{
	struct sshp *st = sn->st;

	sn->streaming = true;
	sn->got_first = false;
	sn->have_prev = false;
	sn->linelen = 0;
	sn->started = uv_now(st->e->loop);
	if (ssh_exec_stream(st->pool, sn->address, sn->port, sn->user, cmd,
	    timeout_ms, timeout_ms ? NULL : sshp_data, sshp_done, sn) != 0) {
		sn->streaming = false;
		if (st->pending > 0)
			st->pending--;
	}
}

static void
sshp_warn(void *arg, const char *msg)
{
	struct engine *e = arg;

	if (e->cfg.warn != NULL)
		e->cfg.warn(e->cfg.warn_arg, msg);
	else
		fprintf(stderr, "nexusctl: warning: %s\n", msg);
}

/*
 * Records a refused host key (unknown or changed) as an audit row written
 * by the engine itself (act_audit: user "nexusctl", role engine).  The
 * pool reports each host and key once, so a host retried every minute is
 * one row.  The row:
 *   action "ssh.hostkey.refused", target the node's name (or
 *   "[address]:port" when no node has that address), args {"address",
 *   "port", "user", "key_type", "fingerprint", "known_hosts", "reason":
 *   "changed" | "unknown"}, result the refusal as the node's check says it.
 * Usable as ssh_opts.refused with warn_arg the engine (`run`, which
 * reports the refusal in its own output).
 */
void
ssh_audit_refusal(void *arg, const struct ssh_refusal *ev)
{
	struct engine *e = arg;
	struct nx_actor actor = { "nexusctl", NX_ROLE_BIT(NX_ROLE_ENGINE),
	    "ssh" };
	const char *target = NULL;
	char hp[300];
	json_t *args;
	uint32_t i;

	for (i = 0; i < e->fleet.nnodes && target == NULL; i++) {
		const struct node *n = &e->fleet.nodes[i];

		if (n->address != NULL && strcmp(n->address, ev->address) == 0 &&
		    (n->port == ev->port || ssh_node_port(n) == 0))
			target = n->name;
	}
	if (ev->port == 22)
		snprintf(hp, sizeof hp, "%s", ev->address);
	else
		snprintf(hp, sizeof hp, "[%s]:%u", ev->address, ev->port);
	if (target == NULL)
		target = hp;
	args = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "address",
	    ev->address, "port", (int)ev->port, "user", ev->user, "key_type",
	    ev->key_type, "fingerprint", ev->fingerprint, "known_hosts",
	    ev->known_hosts != NULL ? ev->known_hosts : "", "reason",
	    ev->changed ? "changed" : "unknown");
	if (e->act != NULL)
		act_audit(e, &actor, "ssh.hostkey.refused", target, args,
		    ev->message);
	json_decref(args);
}

/* The provider's pool: audited, and said through the engine's warnings. */
static void
sshp_refused(void *arg, const struct ssh_refusal *ev)
{
	ssh_audit_refusal(arg, ev);
	sshp_warn(arg, ev->message);
}

/*
 * The port to give the pool for node n: its own when one was given (the
 * inventory's ansible_port or a JSON "port", `run -p`), else 0, so that
 * ssh_config's Port (else 22) applies, as Ansible leaves it to ssh.  The
 * sampler, `ssh` checks, jobs and the console's ssh shell-out all use it,
 * so a node has one session whatever runs on it.
 */
uint16_t
ssh_node_port(const struct node *n)
{
	return n->port_set ? n->port : 0;
}

/* The pool's options, from the environment (doc/ssh.md). */
static void
sshp_opts(struct engine *e, struct ssh_opts *o, const char **ids)
{
	const char *id = getenv("NEXUSCTL_SSH_IDENTITY");
	const char *kh = getenv("NEXUSCTL_SSH_KNOWN_HOSTS");
	const char *an = getenv("NEXUSCTL_SSH_ACCEPT_NEW");
	const char *ka = getenv("NEXUSCTL_SSH_KEEPALIVE");
	const char *rn;

	memset(o, 0, sizeof *o);
	if (id != NULL && *id != '\0') {
		ids[0] = id;
		o->identities = ids;
		o->nidentities = 1;
	}
	o->known_hosts = kh != NULL && *kh != '\0' ? kh : NULL;
	o->config_file = getenv("NEXUSCTL_SSH_CONFIG");
	o->accept_new = an != NULL && strcmp(an, "1") == 0;
	o->keepalive_ms = SSHP_KEEPALIVE_MS;
	if (ka != NULL && *ka != '\0') {
		char *end;
		unsigned long secs = strtoul(ka, &end, 10);

		if (*end == '\0' && secs <= 3600)
			o->keepalive_ms = (uint32_t)secs * 1000;
	}
	/* Commands on each host's runner shell, unless turned off. */
	o->runner = (rn = getenv("NEXUSCTL_SSH_RUNNER")) == NULL ||
	    strcmp(rn, "0") != 0;
	o->warn = e != NULL ? sshp_warn : NULL;
	o->warn_arg = e;
	o->refused = e != NULL ? sshp_refused : NULL;
}

/* Adds node n to the state's SSH nodes; returns its entry. */
static struct sshp_node *
sshp_node_new(struct sshp *st, const struct node *n)
{
	struct sshp_node *sn = xcalloc(1, sizeof *sn);

	sn->st = st;
	sn->node = n->id;
	sn->address = n->address;
	sn->port = ssh_node_port(n);
	sn->user = n->user;
	st->nodes = xreallocarray(st->nodes, st->nnodes + 1, sizeof *st->nodes);
	st->nodes[st->nnodes++] = sn;
	return sn;
}

/*
 * The provider's state in e, made on first use with the list of nodes
 * that want SSH (possibly none: the pool also serves jobs and the `ssh`
 * check kind on any node).  The pool is opened by sshp_pool().
 */
static struct sshp *
sshp_get(struct engine *e)
{
	int idx = provider_index(&provider_ssh);
	struct sshp *st;
	uint32_t i;

	assert(idx >= 0 && (size_t)idx < NX_ARRAY_LEN(e->provider_state));
	if ((st = e->provider_state[idx]) != NULL)
		return st;
	st = xcalloc(1, sizeof *st);
	st->e = e;
	for (i = 0; i < e->fleet.nnodes; i++) {
		if (sshp_wanted(&e->fleet.nodes[i]) &&
		    !e->fleet.nodes[i].removed)
			(void)sshp_node_new(st, &e->fleet.nodes[i]);
	}
	e->provider_state[idx] = st;
	return st;
}

/*
 * Opens the state's pool unless it is open.  Returns it, or NULL with err
 * filled (then every SSH node is DOWN with that reason).
 */
static struct ssh_pool *
sshp_pool(struct sshp *st, struct nx_err *err)
{
	const char *ids[1];
	struct ssh_opts o;
	size_t i;

	if (st->pool != NULL)
		return st->pool;
	sshp_opts(st->e, &o, ids);
	if ((st->pool = ssh_pool_new(st->e->loop, &o, err)) == NULL) {
		for (i = 0; i < st->nnodes; i++)
			sshp_set_down(st->nodes[i], err->msg);
	}
	return st->pool;
}

/*
 * The engine's one SSH pool: the ssh provider's, opened on first use with
 * the provider's settings, so that the sampler, the `ssh` check kind and
 * jobs share each host's persistent session.  Owned by the engine (closed
 * by engine_stop() or engine_free()); callers must not close it.  Returns
 * NULL with err filled when libssh2 or the settings fail.
 */
struct ssh_pool *
ssh_engine_pool(struct engine *e, struct nx_err *err)
{
	struct sshp *st = sshp_get(e);

	if (st->stopping) {
		nx_err_set(err, "the SSH pool is closing");
		return NULL;
	}
	return sshp_pool(st, err);
}

static void
sshp_retry_closed(uv_handle_t *h)
{
	free(h);
}

/*
 * Closes the engine's SSH pool and the provider's state, if any: pending
 * execs are called back with SSH_FAIL_CLOSED while the state is already
 * detached from the engine (ssh_engine_pool() then makes a new one).
 * Run the loop afterwards so that the handles close.
 */
void
ssh_engine_pool_close(struct engine *e)
{
	int idx = provider_index(&provider_ssh);
	struct sshp *st;
	size_t i;

	assert(idx >= 0 && (size_t)idx < NX_ARRAY_LEN(e->provider_state));
	if ((st = e->provider_state[idx]) == NULL)
		return;
	e->provider_state[idx] = NULL;
	st->stopping = true;
	if (st->retry != NULL) {
		uv_close((uv_handle_t *)st->retry, sshp_retry_closed);
		st->retry = NULL;
	}
	/* Called back at once: released samplers are freed there. */
	if (st->pool != NULL)
		ssh_pool_close(st->pool);
	for (i = 0; i < st->nnodes; i++)
		free(st->nodes[i]);
	free(st->nodes);
	free(st);
}

/* ---------------------------------------------------------------------- */
/* The ping check: the session's state, with the reason when it is down.   */

static void
sshp_ping_run(struct engine *e, struct check *c)
{
	const struct node *n = &e->fleet.nodes[c->node];
	struct nx_result r = { .time = engine_now(e) };
	char buf[1024];
	int len;

	if (n->m.up) {
		r.state = NX_OK;
		len = snprintf(buf, sizeof buf, "SSH OK - sampler running, "
		    "first sample after %.0f ms|latency=%.0fms", n->m.v[NX_M_LATENCY],
		    n->m.v[NX_M_LATENCY]);
	} else if (n->pdata != NULL) {
		r.state = NX_CRITICAL;
		len = snprintf(buf, sizeof buf, "SSH CRITICAL - %s",
		    (const char *)n->pdata);
	} else {
		r.state = NX_UNKNOWN;
		len = snprintf(buf, sizeof buf, "SSH UNKNOWN - session starting");
	}
	r.output = buf;
	r.output_len = len < 0 ? 0 : (size_t)len >= sizeof buf ?
	    sizeof buf - 1 : (size_t)len;
	mon_apply_result(e, c, &r);
}

static const struct check_kind check_kind_ssh_ping = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "ssh-ping",
	.run = sshp_ping_run,
};

/* ---------------------------------------------------------------------- */
/* Provider hooks                                                          */

static const struct {
	const char *name;
	enum nx_metric metric;
} sshp_std[] = {
	{ "load", NX_M_LOAD },
	{ "cpu", NX_M_CPU },
	{ "mem", NX_M_MEM },
	{ "disk", NX_M_DISK },
};

/*
 * Gives node n (which wants SSH) its checks: the inventory's `ping`
 * becomes the session check (a host check, at the default intervals), and
 * the standard metric checks are added (load thresholds per `nexus_cores`,
 * default 1).  Idempotent, for reloads: metric checks it already has
 * (removed ones are revived) take the thresholds again.
 */
static void
sshp_node_checks(struct engine *e, struct node *n)
{
	const json_t *jc;
	unsigned cores = 1;
	double warn, crit;
	uint16_t k;
	size_t m;

	jc = json_object_get(n->vars, "nexus_cores");
	if (jc != NULL && json_is_integer(jc) && json_integer_value(jc) > 0 &&
	    json_integer_value(jc) < 65536)
		cores = (unsigned)json_integer_value(jc);
	for (k = 0; k < n->nchecks; k++) {
		struct check *c = &e->fleet.checks[n->checks[k]];

		if (strcmp(c->name, "ping") == 0 && c->data == NULL &&
		    c->kind != &check_kind_ssh_ping) {
			c->kind = &check_kind_ssh_ping;
			c->is_host_check = true;
			c->interval_ms = c->retry_ms = 0;
		}
	}
	for (m = 0; m < NX_ARRAY_LEN(sshp_std); m++) {
		struct check *c = fleet_node_check(&e->fleet, n,
		    sshp_std[m].name, true);

		metric_thresholds(sshp_std[m].metric, cores, &warn, &crit);
		if (c == NULL) {
			metric_check_add(e, n, sshp_std[m].name,
			    sshp_std[m].metric, warn, crit, false);
			continue;
		}
		if (c->kind != &check_kind_metric)
			continue;       /* someone else's check of that name */
		((struct metric_check *)c->data)->warn = warn;
		((struct metric_check *)c->data)->crit = crit;
		if (c->removed)
			mon_check_set_removed(e, c, false, engine_now(e));
	}
}

/*
 * Undoes sshp_node_checks() on node n, which no longer wants SSH (a
 * reload): `ping` is the inventory's again (PENDING, run anew: a host
 * check that left a DOWN node makes it UP), and the metric checks are
 * removed as checks whose definition left the node are.
 */
static void
sshp_node_unchecks(struct engine *e, struct node *n)
{
	nx_time now = engine_now(e);
	struct check *c;
	size_t m;

	c = fleet_node_check(&e->fleet, n, "ping", false);
	if (c != NULL && c->kind == &check_kind_ssh_ping) {
		mon_check_set_removed(e, c, true, now);
		inventory_ping_restore(c);
		mon_check_set_removed(e, c, false, now);
	}
	for (m = 0; m < NX_ARRAY_LEN(sshp_std); m++) {
		c = fleet_node_check(&e->fleet, n, sshp_std[m].name, false);
		if (c != NULL && c->kind == &check_kind_metric)
			mon_check_set_removed(e, c, true, now);
	}
	n->pdata = NULL;
	n->m.up = false;
}

/* Gives every node that wants SSH its checks (sshp_node_checks). */
static int
sshp_inventory(struct engine *e, struct nx_err *err)
{
	uint32_t i, nn = e->fleet.nnodes;

	(void)err;
	for (i = 0; i < nn; i++) {
		if (!sshp_wanted(&e->fleet.nodes[i]))
			continue;
		e->fleet.nodes[i].pdata = NULL;
		sshp_node_checks(e, &e->fleet.nodes[i]);
	}
	return 0;
}

/*
 * Batch rounds only (engine_round freezes the clock while providers
 * sample): one sample from every SSH node, all at once, before the checks
 * run.  Runs the loop until every node answered or failed; each exec is
 * bounded by the check timeout.  The sessions stay open in the engine's
 * pool for the round's `ssh` checks.  Live engines sample from start().
 */
static void
sshp_sample(struct engine *e, nx_time now)
{
	struct sshp *st;
	struct nx_err err;
	uint32_t timeout = e->cfg.checks.timeout_ms ? e->cfg.checks.timeout_ms :
	    30000;
	char *cmd;
	size_t i;

	(void)now;
	if (e->frozen_now == 0 || e->running)
		return;
	st = sshp_get(e);
	if (st->nnodes == 0 || st->stopping || sshp_pool(st, &err) == NULL)
		return;
	cmd = sshp_command(e, true);
	st->pending = st->nnodes;
	for (i = 0; i < st->nnodes; i++)
		sshp_start_node(st->nodes[i], cmd, timeout);
	free(cmd);
	while (st->pending > 0)
		uv_run(e->loop, UV_RUN_ONCE);
}

/*
 * Live: starts the samplers whose backoff is over, and ends the sessions
 * of streaming nodes that have been silent for stale_ms (a hung server
 * keeps its TCP connection up: only the missing samples tell); their
 * samplers then fail and back off like any other.  Re-arms at the next
 * reconnect, or within SSHP_SCAN_MS for the next scan.
 */
static void
sshp_retry_cb(uv_timer_t *t)
{
	struct sshp *st = t->data;
	uint64_t now = uv_now(st->e->loop), next = now + SSHP_SCAN_MS;
	uint64_t since, limit;
	char *cmd = NULL, why[160];
	size_t i;

	st->retry_due = 0;
	for (i = 0; i < st->nnodes && !st->stopping; i++) {
		struct sshp_node *sn = st->nodes[i];

		/* Before the first sample, connecting has its own deadlines:
		 * allow them (SSHP_START_MS) on top. */
		since = sn->got_first ? sn->last_line : sn->started;
		limit = st->stale_ms + (sn->got_first ? 0 : SSHP_START_MS);
		if (sn->streaming && now - since >= limit) {
			snprintf(why, sizeof why, "no sample for %.0f s: the "
			    "session is stalled (the server does not answer)",
			    (double)(now - since) / 1000.0);
			(void)ssh_pool_drop(st->pool, sn->address, sn->port,
			    sn->user, SSH_FAIL_TIMEOUT, why);
		}
		if (sn->streaming)
			continue;
		if (sn->next_try <= now) {
			if (cmd == NULL)
				cmd = sshp_command(st->e, false);
			sshp_start_node(sn, cmd, 0);
		} else if (sn->next_try < next)
			next = sn->next_try;
	}
	free(cmd);
	if (!st->stopping)
		sshp_arm(st, next);
}

static int
sshp_start(struct engine *e)
{
	struct sshp *st = sshp_get(e);
	struct nx_err err;
	char *cmd;
	size_t i;

	if (st->nnodes == 0 || st->retry != NULL || sshp_pool(st, &err) == NULL)
		return 0;
	/* First: a sampler that fails at once is scheduled on it. */
	st->retry = xmalloc(sizeof *st->retry);
	uv_timer_init(e->loop, st->retry);
	st->retry->data = st;
	uv_unref((uv_handle_t *)st->retry);
	st->stale_ms = 3 * (uint64_t)(e->cfg.checks.interval_ms >= 1000 ?
	    e->cfg.checks.interval_ms : 10000) + 2000;
	st->rng = nx_hash64((uint64_t)uv_hrtime() ^ (uint64_t)(uintptr_t)st) | 1;
	sshp_arm(st, uv_now(e->loop) + SSHP_SCAN_MS);
	cmd = sshp_command(e, false);
	for (i = 0; i < st->nnodes; i++)
		sshp_start_node(st->nodes[i], cmd, 0);
	free(cmd);
	return 0;
}

static void
sshp_stop(struct engine *e)
{
	ssh_engine_pool_close(e);
}

/* The index of node id's entry in st->nodes, or -1. */
static ssize_t
sshp_find(const struct sshp *st, uint32_t id)
{
	size_t i;

	for (i = 0; i < st->nnodes; i++) {
		if (st->nodes[i]->node == id)
			return (ssize_t)i;
	}
	return -1;
}

/*
 * Takes entry i out of st->nodes and closes its session (with the
 * sampler channel on it) saying why; the SSH nodes that shared that
 * session start theirs again at once.  A sampler still out is freed when
 * the pool calls it back (at once, from ssh_pool_drop), else here.
 */
static void
sshp_release(struct sshp *st, size_t i, const char *why)
{
	struct sshp_node *sn = st->nodes[i];

	memmove(&st->nodes[i], &st->nodes[i + 1],
	    (st->nnodes - i - 1) * sizeof *st->nodes);
	st->nnodes--;
	sn->released = true;
	if (st->pool != NULL) {
		st->releasing = true;
		st->released = sn;
		(void)ssh_pool_drop(st->pool, sn->address, sn->port, sn->user,
		    SSH_FAIL_CLOSED, why);
		st->releasing = false;
		st->released = NULL;
	}
	if (!sn->streaming)
		free(sn);
}

/*
 * An inventory reload changed node n (struct provider, node_changed):
 *  - a node that wants SSH and has no entry is adopted as at start: its
 *    checks (sshp_node_checks), an entry and, when live, its sampler at
 *    once (the whole provider when it had no SSH node before);
 *  - a node whose address, port or user changed is adopted again: the
 *    old session is closed, a new one opened;
 *  - a removed node, or one that no longer wants SSH, is released: its
 *    sampler channel and session are closed (and in the second case its
 *    checks are the inventory's again: sshp_node_unchecks);
 *  - any other node keeps its session, sampler and state.
 */
static void
sshp_node_changed(struct engine *e, struct node *n, enum nx_node_change how)
{
	struct sshp *st;
	struct sshp_node *sn;
	struct check *ping;
	bool want = how != NX_NODE_REMOVED && sshp_wanted(n);
	ssize_t i;
	char *cmd;

	if (n->provider != &provider_inventory)
		return;
	st = sshp_get(e);
	if (st->stopping)
		return;
	i = sshp_find(st, n->id);
	if (!want) {
		if (i >= 0)
			sshp_release(st, (size_t)i, how == NX_NODE_REMOVED ?
			    "the node left the inventory" :
			    "the node no longer uses SSH");
		ping = fleet_node_check(&e->fleet, n, "ping", false);
		if (how != NX_NODE_REMOVED && ping != NULL &&
		    ping->kind == &check_kind_ssh_ping)
			sshp_node_unchecks(e, n);
		return;
	}
	sshp_node_checks(e, n);
	if (i >= 0) {
		sn = st->nodes[i];
		if (sn->address == n->address && sn->user == n->user &&
		    sn->port == ssh_node_port(n))
			return;
		sshp_release(st, (size_t)i, "the node's address, port or "
		    "user changed");
	}
	n->pdata = NULL;        /* "session starting" until it answers */
	sn = sshp_node_new(st, n);
	if (!e->running)
		return;         /* sshp_start() starts it */
	if (st->retry == NULL) {
		(void)sshp_start(e);
		return;
	}
	if (st->pool == NULL)
		return;
	cmd = sshp_command(e, false);
	sshp_start_node(sn, cmd, 0);
	free(cmd);
}

static json_t *
sshp_strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, nx_json_text(v[i]));
	return a;
}

/*
 * What the engine's pool would use to reach node n, without connecting:
 * the provider's settings (environment), ssh_config and the node's
 * address, port and user, resolved by ssh_pool_resolve() as an exec
 * does.  Returns a new JSON object (`nexusctl inventory show`, the
 * "ssh" member; fields in doc/ssh.md), or NULL with err set.
 */
json_t *
ssh_node_settings(const struct node *n, struct nx_err *err)
{
	const json_t *tr = n->vars != NULL ?
	    json_object_get(n->vars, "nexus_transport") : NULL;
	const char *ids[1], *cfg;
	struct ssh_opts o;
	struct ssh_target t;
	struct ssh_pool *pool;
	uv_loop_t loop;
	json_t *j;

	if (uv_loop_init(&loop) != 0) {
		nx_err_set(err, "cannot make a loop");
		return NULL;
	}
	sshp_opts(NULL, &o, ids);
	if ((pool = ssh_pool_new(&loop, &o, err)) == NULL) {
		uv_loop_close(&loop);
		return NULL;
	}
	ssh_pool_resolve(pool, n->address, ssh_node_port(n), n->user, &t);
	cfg = ssh_pool_config_path(pool);
	j = json_object();
	json_object_set_new(j, "transport", json_string(tr != NULL &&
	    json_is_string(tr) ? json_string_value(tr) : "none"));
	json_object_set_new(j, "address", nx_json_text(t.address));
	json_object_set_new(j, "port", json_integer(t.port));
	json_object_set_new(j, "user", nx_json_text(t.user));
	json_object_set_new(j, "config_file", cfg != NULL ? nx_json_text(cfg) :
	    json_null());
	json_object_set_new(j, "identities", sshp_strv_json(t.identities,
	    t.nidentities));
	json_object_set_new(j, "identities_from",
	    json_string(t.identities_from));
	json_object_set_new(j, "identities_only",
	    json_boolean(t.identities_only));
	json_object_set_new(j, "agent", json_boolean(t.agent));
	json_object_set_new(j, "known_hosts", sshp_strv_json(t.known_hosts,
	    t.nknown_hosts));
	json_object_set_new(j, "global_known_hosts",
	    nx_json_text(t.global_known_hosts));
	json_object_set_new(j, "strict_host_key_checking",
	    json_string(ssh_strict_name((int)t.strict)));
	json_object_set_new(j, "connect_timeout_ms",
	    json_integer(t.connect_ms));
	json_object_set_new(j, "handshake_timeout_ms",
	    json_integer(t.handshake_ms));
	json_object_set_new(j, "keepalive_ms", json_integer(t.keepalive_ms));
	ssh_target_free(&t);
	ssh_pool_close(pool);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	return j;
}

const struct provider provider_ssh = {
	.version = NX_PROVIDER_VERSION,
	.name = "ssh",
	.description = "inventory nodes with nexus_transport=ssh: a persistent "
	    "SSH session and a sampler per node",
	.inventory = sshp_inventory,
	.start = sshp_start,
	.stop = sshp_stop,
	.sample = sshp_sample,
	.node_changed = sshp_node_changed,
};
