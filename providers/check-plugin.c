/*
 * check-plugin.c - the `plugin` check kind: a Nagios-compatible plugin run
 * on this machine.
 *
 * Each execution spawns the definition's argv (macros expanded per element,
 * no shell) through engine/child.c: a process group of its own, stdin on
 * /dev/null, stdout and stderr into one pipe, as Nagios merges them.  At
 * most PLUGIN_OUTPUT_MAX bytes are kept; the rest is read, counted and
 * noted in the output.  When the timeout expires the whole group is killed
 * (so a plugin's own children go too) and the monitor gets a timeout
 * result; a child that still holds the output after the plugin's exit is
 * waited for until the timeout, then killed.
 * The exit status becomes the state through plugin_state_from_exit(); a
 * plugin that cannot be started at all (ENOENT, EACCES) is UNKNOWN with
 * the reason.  Thresholds of the definition are applied to the perfdata
 * by checkdef_apply_result().
 *
 * Memory: an execution is a struct plugin_run, freed when its child is
 * done or withdrawn.  The check's data (struct plugin_check) points at the
 * execution in flight, so that freeing the fleet mid-run kills the group
 * and abandons the execution (child_abandon): it then applies no result.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

struct plugin_run;

struct plugin_check {
	const struct nx_checkdef *def;  /* borrowed from the configuration */
	struct plugin_run *run;         /* the execution in flight, or NULL */
};

/* An execution: what the result needs once the child is done. */
struct plugin_run {
	struct engine *e;
	struct plugin_check *pc;
	uint32_t check;         /* id: fleet->checks may move */
	uint32_t timeout_ms;
	struct child *child;
};

/*
 * The child is done: applies its result.  The check may start again from
 * inside the result (a queued run of another check), so the run is
 * detached and freed first.
 */
static void
plugin_done(void *arg, const struct child_result *res)
{
	struct plugin_run *r = arg;
	struct engine *e = r->e;
	struct plugin_check *pc = r->pc;
	struct check *c = &e->fleet.checks[r->check];
	uint32_t timeout_ms = r->timeout_ms;
	char reason[160], note[256];
	enum nx_state st;
	size_t n = 0;

	pc->run = NULL;
	free(r);
	if (res->timed_out) {
		/* The timer runs on loop time, cached before the start. */
		double ms = res->ms;

		if (ms < timeout_ms)
			ms = timeout_ms;
		mon_apply_timeout(e, c, ms);
		return;
	}
	st = plugin_state_from_exit((int)res->exit_status, res->term_signal,
	    reason, sizeof reason);
	note[0] = '\0';
	if (reason[0] != '\0') {
		/* The note goes in parentheses already: drop the reason's. */
		size_t rl = strlen(reason);
		bool paren = rl >= 2 && reason[0] == '(' && reason[rl - 1] == ')';

		n = (size_t)snprintf(note, sizeof note, "%.*s",
		    (int)(paren ? rl - 2 : rl), reason + (paren ? 1 : 0));
		if (n >= sizeof note)
			n = sizeof note - 1;
	}
	if (res->truncated[CHILD_OUT])
		snprintf(note + n, sizeof note - n, "%soutput truncated at %d "
		    "bytes, %llu more discarded", n > 0 ? "; " : "",
		    PLUGIN_OUTPUT_MAX,
		    (unsigned long long)res->dropped[CHILD_OUT]);
	checkdef_apply_result(e, c, pc->def, st, res->out[CHILD_OUT],
	    res->len[CHILD_OUT], note, res->ms);
}

static void
plugin_run(struct engine *e, struct check *c)
{
	struct plugin_check *pc = c->data;
	const struct nx_checkdef *d = pc->def;
	struct node *n = &e->fleet.nodes[c->node];
	struct child_opts o;
	struct plugin_run *r;
	struct nx_err err;
	char **argv;

	if ((argv = checkdef_argv(d, n, &err)) == NULL) {
		checkdef_unknown(e, c, "UNKNOWN - %s", err.msg);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->e = e;
	r->pc = pc;
	r->check = c->id;
	r->timeout_ms = c->timeout_ms != 0 ? c->timeout_ms :
	    e->cfg.checks.timeout_ms;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.timeout_ms = r->timeout_ms;
	o.linger_ms = 0;        /* a plugin's output may stay open to the end */
	o.out_cap = PLUGIN_OUTPUT_MAX;
	o.flags = CHILD_MERGE | CHILD_KILL_LINGERING;
	if ((r->child = child_spawn(e->loop, &o, plugin_done, r,
	    &err)) == NULL) {
		free(r);
		checkdef_unknown(e, c, "UNKNOWN - cannot run plugin %s: %s",
		    argv[0], err.msg);
		checkdef_argv_free(argv);
		return;
	}
	checkdef_argv_free(argv);
	pc->run = r;
}

/*
 * Frees a check's data.  An execution still in flight (the fleet is going
 * away mid-round) is abandoned: its group is killed, its handles close and
 * free it later, and it applies no result.
 */
static void
plugin_free_data(void *data)
{
	struct plugin_check *pc = data;
	struct plugin_run *r;

	if (pc == NULL)
		return;
	if ((r = pc->run) != NULL) {
		child_abandon(r->child);
		free(r);
	}
	free(pc);
}

static void *
plugin_configure(struct engine *e, struct node *n,
    const struct nx_checkdef *d)
{
	struct plugin_check *pc;

	(void)e;
	(void)n;
	if (d->command == NULL || d->ncommand == 0)
		return NULL;
	pc = xcalloc(1, sizeof *pc);
	pc->def = d;
	return pc;
}

const struct check_kind check_kind_plugin = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "plugin",
	.run = plugin_run,
	.free_data = plugin_free_data,
	.configure = plugin_configure,
};
