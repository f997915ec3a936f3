/*
 * acting.c - what the console's acting keys and commands do: ack (a,
 * :ack), downtime (d, :downtime), the action menu (x, :run), the job
 * keys of the jobs view (approve, reject, cancel, retry; :approve,
 * :reject) and the shell-out to ssh (o).
 *
 * Every change goes through the engine API (engine/act.h api_*) as the
 * console's actor, which checks the role and writes the audit row; this
 * file never changes engine state itself.  A key whose capability the
 * actor lacks is hidden from the footer and the help (tui_key_shown), and
 * when pressed anyway it calls the API at once with what it has, so the
 * refusal is the engine's and is audited like any other.
 *
 * A flow (struct acting) is a chain of dialogs (dialog.c): prompts for a
 * comment, a duration or an action's inputs, the action menu, and the
 * confirmation whose default button is Cancel (a dangerous action asks
 * for its name typed instead).  The flow belongs to the open dialog and
 * is freed by the last done() or by cancel.  Results go to the footer:
 * "acknowledged 3 problems", "job #4 started: ...", "refused: ...".
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tui.h"

enum acting_kind {
	ACTING_ACK,
	ACTING_DOWNTIME,
	ACTING_RUN,
	ACTING_JOB,
};

struct acting {
	enum acting_kind kind;
	struct problem *sel;    /* the selection, (node, check) pairs; owned */
	size_t nsel;
	uint32_t *nodes;        /* its distinct nodes, in order; owned */
	size_t nnodes;
	uint64_t duration_ms;   /* downtime */
	const struct nx_action *action;
	const struct nx_action **menu;  /* the menu's actions; owned */
	size_t nmenu;
	json_t *inputs;         /* answers so far; owned */
	size_t input;           /* the next input to ask */
	uint32_t job;           /* ACTING_JOB */
	char what[16];          /* ACTING_JOB: approve reject cancel retry */
};

static void
acting_free(struct acting *a)
{
	if (a == NULL)
		return;
	free(a->sel);
	free(a->nodes);
	free(a->menu);
	json_decref(a->inputs);
	free(a);
}

static void
acting_cancel(struct tui *t, void *arg)
{
	acting_free(arg);
	tui_message(t, false, "cancelled: nothing was changed");
}

/*
 * Shows why the engine said no in the footer: its refusal as it is
 * ("refused: user bob has role viewer; ack needs operator or admin"),
 * any other error as "WHAT: error".
 */
void
acting_refused(struct tui *t, const char *what, const struct nx_err *err)
{
	if (strncmp(err->msg, "refused: ", 9) == 0)
		tui_message(t, true, "%s", err->msg);
	else
		tui_message(t, true, "%s: %s", what, err->msg);
}

/*
 * Takes the current view's selection into a new flow.  Returns NULL (and
 * says why in the footer) when the view has none.
 */
static struct acting *
acting_new(struct tui *t, enum acting_kind kind, const char *what,
    bool current)
{
	const struct view *v = tui_current_view(t);
	struct acting *a;
	size_t i, j;

	if (v->selection == NULL) {
		tui_message(t, true, "%s: the %s view has no rows to act on "
		    "(use the fleet or problems view)", what, v->name);
		return NULL;
	}
	a = xcalloc(1, sizeof *a);
	a->kind = kind;
	a->nsel = v->selection(t, tui_current_view_state(t), current,
	    &a->sel);
	if (a->nsel == 0) {
		tui_message(t, true, "%s: no row selected", what);
		acting_free(a);
		return NULL;
	}
	a->nodes = xcalloc(a->nsel, sizeof *a->nodes);
	for (i = 0; i < a->nsel; i++) {
		for (j = 0; j < a->nnodes; j++) {
			if (a->nodes[j] == a->sel[i].node)
				break;
		}
		if (j == a->nnodes)
			a->nodes[a->nnodes++] = a->sel[i].node;
	}
	return a;
}

/* "web01" for one node, "3 nodes" for more. */
static void
acting_nodes_text(struct tui *t, const struct acting *a, char *buf, size_t len)
{
	if (a->nnodes == 1)
		snprintf(buf, len, "%s", t->e->fleet.nodes[a->nodes[0]].name);
	else
		snprintf(buf, len, "%zu nodes", a->nnodes);
}

/* The nodes' names compressed ("web[01-03]"); owned by the caller. */
static char *
acting_hostlist(struct tui *t, const struct acting *a)
{
	const char **names = xcalloc(a->nnodes ? a->nnodes : 1, sizeof *names);
	char *list;
	size_t i;

	for (i = 0; i < a->nnodes; i++)
		names[i] = t->e->fleet.nodes[a->nodes[i]].name;
	list = hostlist_compress(names, a->nnodes);
	free(names);
	return list;
}

/* ---------------------------------------------------------------------- */
/* Ack                                                                     */

/*
 * Acknowledges every problem of the selection, (node, check) pairs from
 * the view's selection hook: a pair with a check (a problems-view row, a
 * node-view check line) is that problem; a node alone (a fleet row, the
 * node view's host line) is its host problem when the node is not UP,
 * else each of its checks that is not OK.
 */
static void
acting_ack_apply(struct tui *t, struct acting *a, const char *comment)
{
	const struct fleet *f = &t->e->fleet;
	const struct nx_actor *actor = &t->opts->actor;
	struct nx_err err, first = { { 0 } };
	size_t i, ok = 0, failed = 0;
	uint16_t k;

#define ACK_ONE(node, check) do {					\
	if (api_ack(t->e, actor, (node), (check), comment, 0, &err) == 0)	\
		ok++;							\
	else if (failed++ == 0)						\
		first = err;						\
} while (0)
	for (i = 0; i < a->nsel; i++) {
		const struct node *n = &f->nodes[a->sel[i].node];

		if (a->sel[i].check != NX_NONE)
			ACK_ONE(n->id, a->sel[i].check);
		else if (n->host_state != NX_HOST_UP)
			ACK_ONE(n->id, NX_NONE);
		else {
			for (k = 0; k < n->nchecks; k++) {
				if (f->checks[n->checks[k]].state != NX_OK)
					ACK_ONE(n->id, n->checks[k]);
			}
		}
	}
#undef ACK_ONE
	if (ok + failed == 0)
		tui_message(t, true, "ack: nothing to acknowledge (every "
		    "selected check is OK)");
	else if (failed == 0)
		tui_message(t, false, "acknowledged %zu problem%s", ok,
		    ok == 1 ? "" : "s");
	else if (ok == 0)
		acting_refused(t, "ack", &first);
	else
		tui_message(t, true, "acknowledged %zu, %zu not: %s", ok,
		    failed, first.msg);
}

static int
acting_ack_done(struct tui *t, void *arg, const char *text, size_t item,
    struct nx_err *err)
{
	struct acting *a = arg;

	acting_ack_apply(t, a, text);
	acting_free(a);
	return 0;
}

/*
 * a / :ack [COMMENT]: acknowledge the marked or current problems, after
 * a comment prompt when no comment was given.
 */
void
acting_ack(struct tui *t, const char *comment)
{
	struct acting *a = acting_new(t, ACTING_ACK, "ack", false);
	char title[TUI_LINE_MAX], what[128];

	if (a == NULL)
		return;
	if (comment != NULL || !tui_can(t, NX_CAP_ACK)) {
		/* Without the role: the engine refuses, and audits it. */
		acting_ack_apply(t, a, comment != NULL ? comment : "");
		acting_free(a);
		return;
	}
	acting_nodes_text(t, a, what, sizeof what);
	snprintf(title, sizeof title, "ack %zu row%s on %s, comment: ", a->nsel,
	    a->nsel == 1 ? "" : "s", what);
	tui_prompt(t, title, "", acting_ack_done, acting_cancel, a);
}

/* ---------------------------------------------------------------------- */
/* Downtime                                                                */

static void
acting_downtime_apply(struct tui *t, struct acting *a, const char *comment)
{
	const struct nx_actor *actor = &t->opts->actor;
	struct nx_err err, first = { { 0 } };
	size_t i, ok = 0, failed = 0;
	char dur[32];
	uint32_t id;

	for (i = 0; i < a->nsel; i++) {
		if (api_downtime(t->e, actor, a->sel[i].node, a->sel[i].check,
		    a->duration_ms, comment, &id, &err) == 0)
			ok++;
		else if (failed++ == 0)
			first = err;
	}
	config_format_duration(a->duration_ms, dur, sizeof dur);
	if (failed == 0)
		tui_message(t, false, "downtime of %s for %zu row%s", dur, ok,
		    ok == 1 ? "" : "s");
	else if (ok == 0)
		acting_refused(t, "downtime", &first);
	else
		tui_message(t, true, "downtime for %zu, %zu not: %s", ok,
		    failed, first.msg);
}

static int
acting_downtime_comment(struct tui *t, void *arg, const char *text,
    size_t item, struct nx_err *err)
{
	struct acting *a = arg;

	acting_downtime_apply(t, a, text);
	acting_free(a);
	return 0;
}

static int
acting_parse_duration(const char *text, uint64_t *ms, struct nx_err *err)
{
	if (config_parse_duration(text, ms) != 0 || *ms == 0) {
		nx_err_set(err, "'%s' is not a duration (e.g. 30m, 2h, 1d)",
		    text);
		return -1;
	}
	return 0;
}

static int
acting_downtime_duration(struct tui *t, void *arg, const char *text,
    size_t item, struct nx_err *err)
{
	struct acting *a = arg;
	char title[TUI_LINE_MAX];

	if (acting_parse_duration(text, &a->duration_ms, err) != 0)
		return -1;
	snprintf(title, sizeof title, "downtime %s, comment: ", text);
	tui_prompt(t, title, "", acting_downtime_comment, acting_cancel, a);
	return 0;
}

/*
 * d / :downtime [DURATION [COMMENT]]: a downtime starting now on the
 * marked or current rows (a fleet row: the node; a problem: its check).
 * What is not given is prompted for.
 */
void
acting_downtime(struct tui *t, const char *duration, const char *comment)
{
	struct acting *a = acting_new(t, ACTING_DOWNTIME, "downtime", false);
	char title[TUI_LINE_MAX], what[128];
	struct nx_err err;

	if (a == NULL)
		return;
	if (!tui_can(t, NX_CAP_DOWNTIME)) {
		a->duration_ms = 3600000;
		acting_downtime_apply(t, a, comment != NULL ? comment : "");
		acting_free(a);
		return;
	}
	if (duration != NULL) {
		if (acting_parse_duration(duration, &a->duration_ms, &err) != 0) {
			acting_refused(t, "downtime", &err);
			acting_free(a);
			return;
		}
		if (comment != NULL) {
			acting_downtime_apply(t, a, comment);
			acting_free(a);
			return;
		}
		snprintf(title, sizeof title, "downtime %s, comment: ", duration);
		tui_prompt(t, title, "", acting_downtime_comment, acting_cancel,
		    a);
		return;
	}
	acting_nodes_text(t, a, what, sizeof what);
	snprintf(title, sizeof title, "downtime for %zu row%s on %s, duration: ",
	    a->nsel, a->nsel == 1 ? "" : "s", what);
	tui_prompt(t, title, "2h", acting_downtime_duration, acting_cancel, a);
}

/* ---------------------------------------------------------------------- */
/* Actions                                                                 */

/* Remembers a job started here, to report how it ended. */
void
acting_job_started(struct tui *t, uint32_t job)
{
	if (t->nmy_jobs == t->my_jobs_cap) {
		t->my_jobs_cap = t->my_jobs_cap ? t->my_jobs_cap * 2 : 8;
		t->my_jobs = xreallocarray(t->my_jobs, t->my_jobs_cap,
		    sizeof *t->my_jobs);
	}
	t->my_jobs[t->nmy_jobs++] = job;
}

/*
 * A job changed state: a job started from this console that has ended is
 * reported in the footer ("job #4 restart-nginx: succeeded, 3 ok").
 */
void
acting_job_event(struct tui *t, const struct event *ev)
{
	struct job *j;
	char counts[96];
	size_t i = 0;

	while (i < t->nmy_jobs) {
		j = job_find(t->e, t->my_jobs[i]);
		if (j != NULL && !job_final(j)) {
			i++;
			continue;
		}
		if (j != NULL) {
			joblist_counts(j, counts, sizeof counts);
			tui_message(t, j->state != JOB_SUCCEEDED,
			    "job #%u %s: %s, %s", j->id, joblist_action(j),
			    job_state_name(j->state), counts);
		}
		t->my_jobs[i] = t->my_jobs[--t->nmy_jobs];
	}
}

static void
acting_run_submit(struct tui *t, struct acting *a)
{
	struct nx_err err;
	uint32_t job = 0;
	char *list;

	if (api_run(t->e, &t->opts->actor, a->action->name, a->nodes,
	    a->nnodes, a->inputs, false, &job, &err) != 0) {
		acting_refused(t, a->action->name, &err);
		return;
	}
	list = acting_hostlist(t, a);
	tui_message(t, false, "job #%u started: %s on %s", job,
	    a->action->name, list);
	free(list);
	acting_job_started(t, job);
}

static int
acting_run_confirmed(struct tui *t, void *arg, const char *text, size_t item,
    struct nx_err *err)
{
	struct acting *a = arg;

	acting_run_submit(t, a);
	acting_free(a);
	return 0;
}

static int
acting_run_typed(struct tui *t, void *arg, const char *text, size_t item,
    struct nx_err *err)
{
	struct acting *a = arg;

	if (strcmp(text, a->action->name) != 0) {
		nx_err_set(err, "that is not '%s' (Esc cancels)",
		    a->action->name);
		return -1;
	}
	acting_run_submit(t, a);
	acting_free(a);
	return 0;
}

/* A line of the confirmation, appended to lines (grown by one). */
static void
acting_line(char ***lines, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
acting_line(char ***lines, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (xvasprintf(&s, fmt, ap) < 0)
		s = xstrdup("");
	va_end(ap);
	*lines = xreallocarray(*lines, *n + 1, sizeof **lines);
	(*lines)[(*n)++] = s;
}

static const char *
acting_kind_name(enum nx_action_kind k)
{
	switch (k) {
	case NX_ACTION_SSH:
		return "ssh";
	case NX_ACTION_LOCAL:
		return "local";
	case NX_ACTION_PROVIDER:
		return "provider";
	}
	return "?";
}

/*
 * Every input answered: check them all together (action_inputs), then
 * confirm: by name for a dangerous action, else with Cancel as default.
 */
static int
acting_run_ready(struct tui *t, struct acting *a, struct nx_err *err)
{
	const struct nx_action *act = a->action;
	char **lines = NULL, title[TUI_LINE_MAX], *list;
	const char *key;
	json_t *v, *checked;
	size_t n = 0;

	checked = action_inputs(act, a->inputs, err);
	if (checked == NULL)
		return -1;
	json_decref(a->inputs);
	a->inputs = checked;
	if (act->dangerous) {
		snprintf(title, sizeof title, "DANGEROUS: type '%s' to run it "
		    "on %zu node%s: ", act->name, a->nnodes,
		    a->nnodes == 1 ? "" : "s");
		tui_prompt(t, title, "", acting_run_typed, acting_cancel, a);
		return 0;
	}
	if (!act->confirm) {
		acting_run_submit(t, a);
		acting_free(a);
		return 0;
	}
	list = acting_hostlist(t, a);
	acting_line(&lines, &n, "%s", act->description != NULL ?
	    act->description : "");
	acting_line(&lines, &n, "on %zu node%s: %s", a->nnodes,
	    a->nnodes == 1 ? "" : "s", list);
	free(list);
	if (act->kind == NX_ACTION_PROVIDER)
		acting_line(&lines, &n, "provider action: %s",
		    act->provider_action != NULL ? act->provider_action : "?");
	else
		acting_line(&lines, &n, "%s command: %s",
		    acting_kind_name(act->kind),
		    act->command != NULL ? act->command : "");
	json_object_foreach(a->inputs, key, v) {
		acting_line(&lines, &n, "input %s = %s", key,
		    json_is_string(v) ? json_string_value(v) : "?");
	}
	acting_line(&lines, &n, "%s", "");
	acting_line(&lines, &n, "Enter on Cancel (the default) changes "
	    "nothing; Tab, then Enter, runs it.");
	snprintf(title, sizeof title, "Run %s?", act->name);
	tui_confirm(t, title, lines, n, "Run", acting_run_confirmed,
	    acting_cancel, a);
	return 0;
}

/*
 * Checks one input against its pattern (anchored at both ends) and its
 * length, so that the prompt shows the error in place.
 */
static int
acting_input_check(const struct nx_input *in, const char *text,
    struct nx_err *err)
{
	pcre2_code *re;
	pcre2_match_data *md;
	PCRE2_SIZE off;
	int code, rc;
	size_t i, max = in->max_len ? in->max_len : 256;

	if (strlen(text) > max) {
		nx_err_set(err, "%s: longer than %zu bytes", in->name, max);
		return -1;
	}
	for (i = 0; text[i] != '\0'; i++) {
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
			nx_err_set(err, "%s: no control characters", in->name);
			return -1;
		}
	}
	if (in->def == NULL && text[0] == '\0') {
		nx_err_set(err, "%s: required", in->name);
		return -1;
	}
	if (in->pattern == NULL)
		return 0;
	re = pcre2_compile((PCRE2_SPTR)in->pattern, PCRE2_ZERO_TERMINATED,
	    PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF, &code, &off, NULL);
	if (re == NULL) {
		nx_err_set(err, "%s: the pattern does not compile", in->name);
		return -1;
	}
	md = pcre2_match_data_create_from_pattern(re, NULL);
	rc = pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	if (rc < 0) {
		nx_err_set(err, "%s: '%s' does not match %s", in->name, text,
		    in->pattern);
		return -1;
	}
	return 0;
}

static int acting_run_next(struct tui *, struct acting *, struct nx_err *);

static int
acting_input_done(struct tui *t, void *arg, const char *text, size_t item,
    struct nx_err *err)
{
	struct acting *a = arg;
	const struct nx_input *in = &a->action->inputs[a->input];

	if (acting_input_check(in, text, err) != 0)
		return -1;
	json_object_set_new(a->inputs, in->name, json_string(text));
	a->input++;
	if (acting_run_next(t, a, err) != 0) {
		/* The whole set was refused: ask for this input again. */
		a->input--;
		return -1;
	}
	return 0;
}

/* The next input's prompt, or the confirmation after the last. */
static int
acting_run_next(struct tui *t, struct acting *a, struct nx_err *err)
{
	const struct nx_input *in;
	char title[TUI_LINE_MAX];

	if (a->input >= a->action->ninputs)
		return acting_run_ready(t, a, err);
	in = &a->action->inputs[a->input];
	snprintf(title, sizeof title, "%s: %s%s%s%s%s: ", a->action->name,
	    in->name, in->description ? " (" : "",
	    in->description ? in->description : "",
	    in->description ? ")" : "", in->pattern ? "" : "");
	tui_prompt(t, title, in->def, acting_input_done, acting_cancel, a);
	return 0;
}

/* Starts the inputs of action act for flow a (owned from here on). */
static void
acting_run_begin(struct tui *t, struct acting *a, const struct nx_action *act)
{
	struct nx_err err;

	a->action = act;
	a->input = 0;
	json_decref(a->inputs);
	a->inputs = json_object();
	if (acting_run_next(t, a, &err) != 0) {
		acting_refused(t, act->name, &err);
		acting_free(a);
	}
}

static int
acting_menu_done(struct tui *t, void *arg, const char *text, size_t item,
    struct nx_err *err)
{
	struct acting *a = arg;

	if (item >= a->nmenu) {
		nx_err_set(err, "no such action");
		return -1;
	}
	acting_run_begin(t, a, a->menu[item]);
	return 0;
}

/* Whether action act may run on every node of the flow (its target). */
static bool
acting_action_fits(struct tui *t, const struct acting *a,
    const struct nx_action *act)
{
	struct nx_target *tg;
	struct nx_err err;
	size_t i;
	bool fits = true;

	if (act->target == NULL || act->target[0] == '\0')
		return true;
	if ((tg = target_parse(act->target, &err)) == NULL)
		return false;
	for (i = 0; i < a->nnodes && fits; i++)
		fits = target_match(tg, &t->e->fleet,
		    &t->e->fleet.nodes[a->nodes[i]]);
	target_free(tg);
	return fits;
}

/*
 * x / :run [ACTION]: the menu of the configured actions whose target
 * takes every selected node (or ACTION itself), then its inputs, then
 * the confirmation, then api_run().
 */
void
acting_run(struct tui *t, const char *name)
{
	const struct nx_config *cfg = &t->e->cfg;
	struct acting *a = acting_new(t, ACTING_RUN, "run", false);
	const struct nx_action *act;
	char **items, title[TUI_LINE_MAX], what[128];
	struct nx_err err;
	uint32_t job;
	size_t i;

	if (a == NULL)
		return;
	if (!tui_can(t, NX_CAP_ACTION)) {
		if (api_run(t->e, &t->opts->actor, name != NULL ? name :
		    (cfg->nactions > 0 ? cfg->actions[0].name : ""), a->nodes,
		    a->nnodes, NULL, false, &job, &err) != 0)
			acting_refused(t, "run", &err);
		acting_free(a);
		return;
	}
	if (name != NULL) {
		if ((act = action_find(t->e, name)) == NULL) {
			tui_message(t, true, "run: no action named '%s' (Tab "
			    "completes the names)", name);
			acting_free(a);
			return;
		}
		acting_run_begin(t, a, act);
		return;
	}
	a->menu = xcalloc(cfg->nactions ? cfg->nactions : 1, sizeof *a->menu);
	for (i = 0; i < cfg->nactions; i++) {
		if (acting_action_fits(t, a, &cfg->actions[i]))
			a->menu[a->nmenu++] = &cfg->actions[i];
	}
	acting_nodes_text(t, a, what, sizeof what);
	if (a->nmenu == 0) {
		tui_message(t, true, "run: no action in the configuration may "
		    "run on %s", what);
		acting_free(a);
		return;
	}
	items = xcalloc(a->nmenu, sizeof *items);
	for (i = 0; i < a->nmenu; i++) {
		act = a->menu[i];
		if (xasprintf(&items[i], "%-20s %-8s %s%s", act->name,
		    acting_kind_name(act->kind), act->dangerous ?
		    "[dangerous] " : "", act->description ?
		    act->description : "") < 0)
			items[i] = xstrdup(act->name);
	}
	snprintf(title, sizeof title, "Actions for %s", what);
	tui_menu(t, title, items, a->nmenu, acting_menu_done, acting_cancel, a);
}

/* ---------------------------------------------------------------------- */
/* Jobs: approve, reject, cancel, retry                                    */

static int
acting_job_call(struct tui *t, struct acting *a, const char *reason,
    struct nx_err *err)
{
	const struct nx_actor *actor = &t->opts->actor;
	uint32_t job = 0;
	int rc;

	if (strcmp(a->what, "approve") == 0)
		rc = api_approve(t->e, actor, a->job, err);
	else if (strcmp(a->what, "reject") == 0)
		rc = api_reject(t->e, actor, a->job, reason, err);
	else if (strcmp(a->what, "cancel") == 0)
		rc = api_job_cancel(t->e, actor, a->job, err);
	else
		rc = api_job_retry(t->e, actor, a->job, &job, err);
	if (rc != 0)
		return -1;
	if (strcmp(a->what, "approve") == 0) {
		tui_message(t, false, "job #%u approved: it runs now", a->job);
		acting_job_started(t, a->job);
	} else if (strcmp(a->what, "reject") == 0)
		tui_message(t, false, "job #%u rejected", a->job);
	else if (strcmp(a->what, "cancel") == 0)
		tui_message(t, false, "job #%u cancelled", a->job);
	else {
		tui_message(t, false, "job #%u started: a retry of #%u", job,
		    a->job);
		acting_job_started(t, job);
	}
	return 0;
}

static int
acting_job_done(struct tui *t, void *arg, const char *text, size_t item,
    struct nx_err *err)
{
	struct acting *a = arg;
	struct nx_err e2;

	if (acting_job_call(t, a, text, &e2) != 0)
		acting_refused(t, a->what, &e2);
	acting_free(a);
	return 0;
}

/*
 * approve / reject / cancel / retry job `job`: a confirmation (Cancel by
 * default) that shows what will run, or for reject a prompt for the
 * reason when none is given.  Returns -1 with err when there is no such
 * job; the API's own refusals go to the footer.
 */
int
acting_job(struct tui *t, const char *what, uint32_t job, const char *reason,
    struct nx_err *err)
{
	struct job *j = job_find(t->e, job);
	struct acting *a;
	char **lines = NULL, title[TUI_LINE_MAX], buf[1024], *list;
	size_t n = 0;

	if (j == NULL) {
		nx_err_set(err, "no job #%u", job);
		return -1;
	}
	a = xcalloc(1, sizeof *a);
	a->kind = ACTING_JOB;
	a->job = job;
	snprintf(a->what, sizeof a->what, "%s", what);
	if (!tui_can(t, NX_CAP_APPROVE) || (reason != NULL &&
	    strcmp(what, "reject") == 0)) {
		/* Without the role the engine refuses (and audits it). */
		acting_job_done(t, a, reason != NULL ? reason : "", 0, err);
		return 0;
	}
	if (strcmp(what, "reject") == 0) {
		snprintf(title, sizeof title, "reject job #%u (%s), reason: ",
		    job, joblist_action(j));
		tui_prompt(t, title, "", acting_job_done, acting_cancel, a);
		return 0;
	}
	list = joblist_targets(&t->e->fleet, j);
	acting_line(&lines, &n, "job #%u %s: %s on %s", j->id,
	    job_state_name(j->state), joblist_action(j), list);
	free(list);
	joblist_proposal(t->e, j, buf, sizeof buf);
	acting_line(&lines, &n, "%s", buf);
	if (j->reason != NULL)
		acting_line(&lines, &n, "why: %s", j->reason);
	acting_line(&lines, &n, "asked by %s (%s)", j->user ? j->user : "?",
	    j->origin ? j->origin : "?");
	acting_line(&lines, &n, "%s", "");
	acting_line(&lines, &n, "Enter on Cancel (the default) changes "
	    "nothing; Tab, then Enter, goes ahead.");
	snprintf(title, sizeof title, "%c%s job #%u?", what[0] - 'a' + 'A',
	    what + 1, job);
	snprintf(buf, sizeof buf, "%c%s", what[0] - 'a' + 'A', what + 1);
	tui_confirm(t, title, lines, n, buf, acting_job_done, acting_cancel, a);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Remediation breakers                                                    */

/* One open breaker of the selection: a rule and a node. */
struct acting_breaker {
	char *rule;
	uint32_t node;
};

struct acting_reset {
	struct acting_breaker *v;
	size_t n;
};

static void
acting_reset_free(struct acting_reset *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i].rule);
	free(r->v);
	free(r);
}

static void
acting_reset_cancel(struct tui *t, void *arg)
{
	acting_reset_free(arg);
	tui_message(t, false, "cancelled: nothing was changed");
}

static int
acting_reset_done(struct tui *t, void *arg, const char *text, size_t item,
    struct nx_err *err)
{
	struct acting_reset *r = arg;
	struct nx_err e2, first = { { 0 } };
	size_t i, ok = 0, failed = 0;

	for (i = 0; i < r->n; i++) {
		if (api_rule_reset(t->e, &t->opts->actor, r->v[i].rule,
		    r->v[i].node, &e2) == 0)
			ok++;
		else if (failed++ == 0)
			first = e2;
	}
	if (failed == 0)
		tui_message(t, false, "%zu remediation breaker%s reset", ok,
		    ok == 1 ? "" : "s");
	else
		acting_refused(t, "reset", &first);
	acting_reset_free(r);
	return 0;
}

/*
 * r: the remediation breakers open on the selected nodes (remed_status),
 * shown in a confirmation (Cancel by default), then reset through the
 * API (api_rule_reset).  Without the role the engine refuses at once.
 */
void
acting_reset(struct tui *t)
{
	struct acting *a = acting_new(t, ACTING_RUN, "reset", false);
	struct acting_reset *r;
	json_t *st, *rules, *rule, *open, *o;
	char **lines = NULL, what[128];
	size_t i, j, k, n = 0;
	struct nx_err err;

	if (a == NULL)
		return;
	if (!tui_can(t, NX_CAP_APPROVE)) {
		if (api_rule_reset(t->e, &t->opts->actor, "*", a->nodes[0],
		    &err) != 0)
			acting_refused(t, "reset", &err);
		acting_free(a);
		return;
	}
	r = xcalloc(1, sizeof *r);
	st = remed_status(t->e);
	rules = json_object_get(st, "rules");
	json_array_foreach(rules, i, rule) {
		open = json_object_get(rule, "open");
		json_array_foreach(open, j, o) {
			const char *node = json_string_value(json_object_get(o,
			    "node"));

			for (k = 0; node != NULL && k < a->nnodes; k++) {
				if (strcmp(t->e->fleet.nodes[a->nodes[k]].name,
				    node) != 0)
					continue;
				r->v = xreallocarray(r->v, r->n + 1,
				    sizeof *r->v);
				r->v[r->n].rule = xstrdup(json_string_value(
				    json_object_get(rule, "name")));
				r->v[r->n++].node = a->nodes[k];
				acting_line(&lines, &n, "rule %s on %s (%lld "
				    "runs without recovery)",
				    r->v[r->n - 1].rule, node,
				    (long long)json_integer_value(
				    json_object_get(o, "runs")));
			}
		}
	}
	json_decref(st);
	acting_nodes_text(t, a, what, sizeof what);
	acting_free(a);
	if (r->n == 0) {
		tui_message(t, true, "reset: no remediation breaker is open on "
		    "%s", what);
		acting_reset_free(r);
		free(lines);
		return;
	}
	acting_line(&lines, &n, "%s", "");
	acting_line(&lines, &n, "The rules act on these nodes again. Enter on "
	    "Cancel (the default) changes nothing; Tab, then Enter, resets.");
	tui_confirm(t, "Reset remediation breakers?", lines, n, "Reset",
	    acting_reset_done, acting_reset_cancel, r);
}

/* ---------------------------------------------------------------------- */
/* Shell-out                                                               */

/*
 * o: ssh to the current row's node in the foreground.  The terminal is
 * given back (endwin), ssh runs as a child with the node's port, user and
 * address ("--" before the address, so that an address from an inventory
 * can never be read as an option), and the console waits for it with
 * SIGINT and SIGQUIT ignored, as system(3) does (^C belongs to ssh), then
 * takes the terminal again and repaints all of it.  The loop does not run
 * meanwhile: the console is not on screen.
 */
void
acting_shell(struct tui *t)
{
	struct acting *a = acting_new(t, ACTING_RUN, "ssh", true);
	const struct node *n;
	struct sigaction ign, oint, oquit;
	char port[16], *argv[10];
	int argc = 0, status = 0;
	pid_t pid;

	if (a == NULL)
		return;
	/* Marks or not, the shell goes to the current row's node. */
	n = &t->e->fleet.nodes[a->nodes[0]];
	if (n->provider == &provider_sim) {
		tui_message(t, true, "ssh: %s is a simulated node: there is "
		    "nothing to log in to", n->name);
		acting_free(a);
		return;
	}
	argv[argc++] = (char *)"ssh";
	if (ssh_node_port(n) != 0) {   /* else ssh_config's Port */
		snprintf(port, sizeof port, "%u", n->port);
		argv[argc++] = (char *)"-p";
		argv[argc++] = port;
	}
	if (n->user != NULL && n->user[0] != '\0') {
		argv[argc++] = (char *)"-l";
		argv[argc++] = (char *)n->user;
	}
	argv[argc++] = (char *)"--";
	argv[argc++] = (char *)(n->address != NULL && n->address[0] != '\0' ?
	    n->address : n->name);
	argv[argc] = NULL;

	def_prog_mode();
	endwin();
	fflush(stdout);
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &oint);
	sigaction(SIGQUIT, &ign, &oquit);
	pid = fork();
	if (pid == 0) {
		sigset_t none;

		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "nexusctl: cannot run ssh: %s\n",
		    strerror(errno));
		_exit(127);
	}
	if (pid > 0) {
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	sigaction(SIGINT, &oint, NULL);
	sigaction(SIGQUIT, &oquit, NULL);
	reset_prog_mode();
	curs_set(0);
	tui_redraw_all(t);
	if (pid < 0)
		tui_message(t, true, "ssh: cannot fork: %s", strerror(errno));
	else if (WIFEXITED(status))
		tui_message(t, WEXITSTATUS(status) != 0, "ssh %s: exit %d",
		    n->name, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		tui_message(t, true, "ssh %s: killed by signal %d", n->name,
		    WTERMSIG(status));
	acting_free(a);
}
