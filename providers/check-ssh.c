/*
 * check-ssh.c - the `ssh` check kind: a command (typically a Nagios plugin
 * installed on the node) run on the node over its persistent SSH session.
 *
 *	{ "name": "flag", "kind": "ssh", "target": "@lab",
 *	  "command": "test ! -e /tmp/flag || { echo CRITICAL - flag; exit 2; }" }
 *
 * Like check_by_ssh, without a new connection per run: the command goes
 * over an exec channel of the engine's pool (ssh_engine_pool(), shared with
 * the ssh provider's sampler and with jobs), so that after the first run a
 * check costs one channel open, exec and close on an established session.
 *
 * The command is a shell command line for the remote shell.  Its macros are
 * those of the plugin kind ($HOSTNAME$, $HOSTADDRESS$, $ARG1$..$ARGn$, $$),
 * but every value goes in shell-quoted ('...' with ' as '\''), so that a
 * node name or an argument reaches the remote side as one word of data,
 * whatever it holds; the text around the macros is the operator's own.
 *
 * The exit status is the state as for a plugin (plugin_state_from_exit);
 * stdout, then stderr, is the plugin output (status line, long output,
 * perfdata), the first PLUGIN_OUTPUT_MAX bytes kept; the definition's
 * thresholds judge the perfdata (checkdef_apply_result).  When the command
 * cannot run at all, the check is UNKNOWN with the pool's reason: "SSH
 * UNKNOWN - connect: connect to 127.0.0.1 port 22: Connection refused", a
 * host key refusal, an authentication failure, a connect or handshake
 * timeout.  A command that outlives the check's timeout gets the monitor's
 * timeout result, as a plugin does.
 *
 * Memory: an execution is a struct sshc_run, freed by the pool's callback
 * (which always comes, at the latest when the pool closes).  The check's
 * data points at the execution in flight; freeing the fleet mid-run
 * abandons it (its result is dropped).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

struct sshc_run;

struct sshc_check {
	const struct nx_checkdef *def;  /* borrowed from the configuration */
	struct sshc_run *run;           /* the execution in flight, or NULL */
};

struct sshc_run {
	struct engine *e;       /* NULL once abandoned */
	struct sshc_check *sc;
	uint32_t check;         /* id: fleet->checks may move */
};

/*
 * The command line of definition d for node n: the macros expanded with
 * every value shell-quoted (args are first expanded with the host macros,
 * then quoted as a whole).  Returns a malloc'ed string, or NULL with err
 * set.
 */
char *
check_ssh_command(const struct nx_checkdef *d, const struct node *n,
    struct nx_err *err)
{
	struct node qn;
	char **qargs = NULL, *out = NULL, *a;
	size_t i;

	if (d->command == NULL || d->ncommand != 1) {
		nx_err_set(err, "no command");
		return NULL;
	}
	if (d->nargs > 0)
		qargs = xcalloc(d->nargs + 1, sizeof *qargs);
	for (i = 0; i < d->nargs; i++) {
		if ((a = checkdef_expand(d->args[i], n, NULL, 0, err)) == NULL)
			goto out;
		qargs[i] = ssh_shell_quote(a);
		free(a);
	}
	qn = *n;
	qn.name = ssh_shell_quote(n->name != NULL ? n->name : "");
	qn.address = ssh_shell_quote(n->address != NULL ? n->address : "");
	out = checkdef_expand(d->command[0], &qn, qargs, d->nargs, err);
	free((char *)qn.name);
	free((char *)qn.address);
out:
	checkdef_argv_free(qargs);
	return out;
}

/*
 * The pool's callback: turns the exec's result into the check's.  Runs
 * exactly once per execution, possibly from inside ssh_exec().
 */
static void
sshc_done(void *arg, const struct ssh_result *res)
{
	struct sshc_run *r = arg;
	struct engine *e = r->e;
	uint32_t id = r->check;
	struct check *c;
	char reason[160], note[320], *buf;
	size_t len, keep, n = 0;
	enum nx_state st;

	if (r->sc != NULL)
		r->sc->run = NULL;
	free(r);
	if (e == NULL)
		return;
	/* The engine closed its pool (stopping): no result to give. */
	if (res->fail == SSH_FAIL_CLOSED &&
	    provider_state(e, &provider_ssh) == NULL)
		return;
	c = &e->fleet.checks[id];
	if (res->fail == SSH_FAIL_TIMEOUT && res->started) {
		/* As Nagios: the limit, not the loop's lateness. */
		mon_apply_timeout(e, c, c->timeout_ms != 0 ?
		    (double)c->timeout_ms : res->duration_ms);
		return;
	}
	if (res->fail != SSH_OK) {
		checkdef_unknown(e, c, "SSH UNKNOWN - %s: %s",
		    ssh_fail_name(res->fail), res->error != NULL ? res->error :
		    "unknown error");
		return;
	}
	reason[0] = '\0';
	if (res->exit_signal != NULL) {
		st = NX_UNKNOWN;
		snprintf(reason, sizeof reason, "killed by signal SIG%.32s",
		    res->exit_signal);
	} else {
		st = plugin_state_from_exit(res->exit_status, 0, reason,
		    sizeof reason);
		len = strlen(reason);
		/* The note goes in parentheses already: drop the reason's. */
		if (len >= 2 && reason[0] == '(' && reason[len - 1] == ')') {
			memmove(reason, reason + 1, len - 2);
			reason[len - 2] = '\0';
		}
	}
	note[0] = '\0';
	if (reason[0] != '\0')
		n = (size_t)snprintf(note, sizeof note, "%s", reason);
	if (n >= sizeof note)
		n = sizeof note - 1;
	/* stdout, then stderr, as a plugin's merged output. */
	len = res->out_len + res->err_len;
	keep = len > PLUGIN_OUTPUT_MAX ? PLUGIN_OUTPUT_MAX : len;
	buf = xmalloc(keep + 1);
	if (res->out_len >= keep)
		memcpy(buf, res->out, keep);
	else {
		memcpy(buf, res->out, res->out_len);
		memcpy(buf + res->out_len, res->err, keep - res->out_len);
	}
	buf[keep] = '\0';
	if (len > keep || res->out_truncated || res->err_truncated)
		snprintf(note + n, sizeof note - n, "%soutput truncated at %d "
		    "bytes", n > 0 ? "; " : "", PLUGIN_OUTPUT_MAX);
	checkdef_apply_result(e, c, c->data != NULL ?
	    ((struct sshc_check *)c->data)->def : NULL, st, buf, keep, note,
	    res->duration_ms);
	free(buf);
}

static void
sshc_run(struct engine *e, struct check *c)
{
	struct sshc_check *sc = c->data;
	const struct node *n = &e->fleet.nodes[c->node];
	struct ssh_pool *pool;
	struct sshc_run *r;
	struct nx_err err;
	uint32_t timeout;
	char *cmd;

	if ((pool = ssh_engine_pool(e, &err)) == NULL) {
		checkdef_unknown(e, c, "SSH UNKNOWN - %s", err.msg);
		return;
	}
	if ((cmd = check_ssh_command(sc->def, n, &err)) == NULL) {
		checkdef_unknown(e, c, "SSH UNKNOWN - %s", err.msg);
		return;
	}
	timeout = c->timeout_ms != 0 ? c->timeout_ms : e->cfg.checks.timeout_ms;
	r = xcalloc(1, sizeof *r);
	r->e = e;
	r->sc = sc;
	r->check = c->id;
	sc->run = r;
	/* The callback may run before this returns (a refused connect). */
	if (ssh_exec(pool, n->address, ssh_node_port(n), n->user, cmd, timeout,
	    sshc_done, r) != 0) {
		sc->run = NULL;
		free(r);
		checkdef_unknown(e, c, "SSH UNKNOWN - the SSH pool is closing");
	}
	free(cmd);
}

/* Frees a check's data; an execution in flight is abandoned. */
static void
sshc_free_data(void *data)
{
	struct sshc_check *sc = data;

	if (sc == NULL)
		return;
	if (sc->run != NULL) {
		sc->run->e = NULL;
		sc->run->sc = NULL;
	}
	free(sc);
}

static void *
sshc_configure(struct engine *e, struct node *n, const struct nx_checkdef *d)
{
	struct sshc_check *sc;

	(void)e;
	if (d->command == NULL || d->ncommand != 1 || n->address == NULL)
		return NULL;
	sc = xcalloc(1, sizeof *sc);
	sc->def = d;
	return sc;
}

const struct check_kind check_kind_ssh = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "ssh",
	.run = sshc_run,
	.free_data = sshc_free_data,
	.configure = sshc_configure,
};
