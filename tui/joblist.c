/*
 * joblist.c - the jobs view's model: which jobs, in which order, and the
 * text of their cells, from struct job (engine/act.h) alone.  No curses,
 * so it is unit-tested (tests/unit/test_joblist.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

/*
 * Writes the ids of the newest jobs, newest first, to ids (at most max);
 * returns how many.
 */
size_t
joblist_newest(const struct engine *e, uint32_t *ids, size_t max)
{
	size_t n = job_count(e), i, k = 0;

	for (i = n; i > 0 && k < max; i--)
		ids[k++] = job_at(e, i - 1)->id;
	return k;
}

/* The action's name, or "(ad-hoc)" for a command. */
const char *
joblist_action(const struct job *j)
{
	if (j->action != NULL)
		return j->action->name;
	return "(ad-hoc)";
}

/* A remediation job's outcome, or "" (not remediation, or not run yet). */
const char *
joblist_outcome(const struct job *j)
{
	switch (j->outcome) {
	case JOB_OUTCOME_PENDING:
		return "re-checking";
	case JOB_OUTCOME_RECOVERED:
		return "recovered";
	case JOB_OUTCOME_NOT_RECOVERED:
		return "not recovered";
	case JOB_OUTCOME_NONE:
		break;
	}
	return "";
}

/*
 * The host counts of a job: "3 ok", "2 ok 1 failed", "1 error", with
 * running/queued while it runs and "of N" when not every host is done.
 */
void
joblist_counts(const struct job *j, char *buf, size_t len)
{
	size_t k = 0;
	int r;

#define PART(n, word) do {						\
	if ((n) > 0 && k < len) {					\
		r = snprintf(buf + k, len - k, "%s%u %s", k ? " " : "",	\
		    (n), (word));					\
		if (r > 0)						\
			k += (size_t)r;					\
	}								\
} while (0)
	if (len == 0)
		return;
	buf[0] = '\0';
	PART(j->nok, "ok");
	PART(j->nfailed, "failed");
	PART(j->nerror, "error");
	PART(j->ncancelled, "cancelled");
	PART(j->nrunning, "running");
	PART(j->nqueued, "queued");
#undef PART
	if (k == 0)
		snprintf(buf, len, "%u host%s", j->nhosts,
		    j->nhosts == 1 ? "" : "s");
	else if (j->nok + j->nfailed + j->nerror + j->ncancelled < j->nhosts &&
	    k < len)
		snprintf(buf + k, len - k, " of %u", j->nhosts);
}

/* The job's nodes as a compressed hostlist ("web[01-20]"); caller frees. */
char *
joblist_targets(const struct fleet *f, const struct job *j)
{
	const char **names = xcalloc(j->nhosts ? j->nhosts : 1, sizeof *names);
	char *list;
	uint32_t i, n = 0;

	for (i = 0; i < j->nhosts; i++) {
		if (j->hosts[i].node < f->nnodes)
			names[n++] = f->nodes[j->hosts[i].node].name;
	}
	list = hostlist_compress(names, n);
	free(names);
	return list;
}

/*
 * What the job runs, for a proposal shown before approval: the command
 * template (or provider action) and the inputs, in one line.
 */
void
joblist_proposal(const struct engine *e, const struct job *j, char *buf,
    size_t len)
{
	const struct nx_action *a = j->action;
	char *inputs = NULL;
	int k;

	(void)e;
	if (a == NULL)
		k = snprintf(buf, len, "command: %s",
		    j->command != NULL ? j->command : "");
	else if (a->kind == NX_ACTION_PROVIDER)
		k = snprintf(buf, len, "provider action %s",
		    a->provider_action != NULL ? a->provider_action : "?");
	else
		k = snprintf(buf, len, "%s command: %s",
		    a->kind == NX_ACTION_SSH ? "ssh" : "local",
		    a->command != NULL ? a->command : "");
	if (j->inputs != NULL && json_object_size(j->inputs) > 0)
		inputs = json_dumps(j->inputs, JSON_COMPACT | JSON_SORT_KEYS);
	if (inputs != NULL && k >= 0 && (size_t)k < len)
		snprintf(buf + k, len - (size_t)k, "  inputs %s", inputs);
	free(inputs);
	if (j->dry_run && strlen(buf) + 10 < len)
		strcat(buf, "  (dry run)");
}
