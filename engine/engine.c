/*
 * engine.c - the engine's life cycle: load the fleet from the providers,
 * run it live on the libuv loop, or run one batch round.
 *
 * The engine owns the fleet, the bus and the scheduler.  It does not own the
 * loop (the caller runs it) nor the configuration's strings (the caller keeps
 * the nx_config alive until engine_free()).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "act.h"

void
engine_init(struct engine *e, uv_loop_t *loop, const struct nx_config *cfg)
{
	memset(e, 0, sizeof *e);
	e->loop = loop;
	e->cfg = *cfg;
	fleet_init(&e->fleet);
	bus_init(&e->bus);
	e->sched = sched_new(e);
	act_init(e);
	e->mon.max_running = cfg->checks.max_concurrent;
	e->mon.flap_low = (float)cfg->checks.flap_low;
	e->mon.flap_high = (float)cfg->checks.flap_high;
	if (cfg->checks.timeout_state != NULL) {
		enum nx_state st;

		if (nx_state_from_name(cfg->checks.timeout_state, &st) == 0)
			mon_set_timeout_state(e, st);
	}
	uv_update_time(loop);
	e->start_mono = uv_now(loop);
	e->start_time = nx_wallclock();
}

void
engine_free(struct engine *e)
{
	engine_stop(e);
	act_free(e);
	mon_free(e);
	sched_free(e->sched);
	e->sched = NULL;
	bus_free(&e->bus);
	fleet_free(&e->fleet);
	/* After the fleet: its checks have abandoned their SSH execs. */
	ssh_engine_pool_close(e);
}

/*
 * Wall-clock milliseconds as the engine sees them: derived from the loop's
 * monotonic clock so that a clock step does not reorder the schedule, or the
 * frozen instant of a batch round.
 */
nx_time
engine_now(const struct engine *e)
{
	if (e->frozen_now != 0)
		return e->frozen_now;
	return e->start_time + (nx_time)(uv_now(e->loop) - e->start_mono);
}

/*
 * Follows parent links from node `id` looking for `target`; the depth bound
 * keeps a corrupt graph from recursing forever.
 */
static bool
engine_reaches(const struct fleet *f, uint32_t id, uint32_t target, int depth)
{
	const struct node *n = &f->nodes[id];
	uint16_t i;

	if (id == target)
		return true;
	if (depth > 64)
		return true;            /* deeper than any sane topology */
	for (i = 0; i < n->nparents; i++) {
		if (engine_reaches(f, n->parents[i], target, depth + 1))
			return true;
	}
	return false;
}

/*
 * The names of nexus_parents value v (a name, a comma-separated list, or
 * a JSON list of names) as one comma-separated string in *names (owned by
 * the caller).  Returns 0, or -1 when v has another type.
 */
static int
engine_parent_names(const json_t *v, char **names)
{
	const json_t *it;
	size_t k, len;

	if (json_is_string(v)) {
		*names = xstrdup(json_string_value(v));
		return 0;
	}
	if (!json_is_array(v))
		return -1;
	*names = xstrdup("");
	json_array_foreach(v, k, it) {
		if (!json_is_string(it)) {
			free(*names);
			*names = NULL;
			return -1;
		}
		len = strlen(*names);
		*names = xrealloc(*names, len + strlen(json_string_value(it)) + 2);
		snprintf(*names + len, strlen(json_string_value(it)) + 2, "%s%s",
		    len ? "," : "", json_string_value(it));
	}
	return 0;
}

/*
 * Parents from node variables: `nexus_parents` (a name, a comma-separated
 * list, or a JSON list of names) makes those nodes the node's parents, so
 * that it is UNREACHABLE rather than DOWN while they are down (Nagios's
 * `parents`).  A name that is not a node, a node its own parent, or a loop
 * is an error naming the node.
 */
static int
engine_apply_parents(struct engine *e, struct nx_err *err)
{
	struct fleet *f = &e->fleet;
	uint32_t i;

	for (i = 0; i < f->nnodes; i++) {
		json_t *v = f->nodes[i].vars != NULL ?
		    json_object_get(f->nodes[i].vars, "nexus_parents") : NULL;
		char *names, *tok, *save = NULL;

		if (v == NULL || json_is_null(v))
			continue;
		if (engine_parent_names(v, &names) != 0) {
			nx_err_set(err, "node %s: nexus_parents: expected a node "
			    "name, a comma-separated list or a list of names",
			    f->nodes[i].name);
			return -1;
		}
		for (tok = strtok_r(names, ", ", &save); tok != NULL;
		    tok = strtok_r(NULL, ", ", &save)) {
			struct node *p = fleet_find_node(f, tok);

			if (p == NULL || p->id == i) {
				nx_err_set(err, "node %s: nexus_parents: %s%s%s",
				    f->nodes[i].name, p == NULL ? "no node named '" :
				    "a node cannot be its own parent", p == NULL ?
				    tok : "", p == NULL ? "'" : "");
				free(names);
				return -1;
			}
			if (engine_reaches(f, p->id, i, 0)) {
				nx_err_set(err, "node %s: nexus_parents: '%s' is "
				    "already below it (a loop of parents)",
				    f->nodes[i].name, tok);
				free(names);
				return -1;
			}
			mon_node_add_parent(e, &f->nodes[i], p->id);
		}
		free(names);
	}
	return 0;
}

static void
engine_warn(struct engine *e, const char *msg)
{
	if (e->cfg.warn != NULL)
		e->cfg.warn(e->cfg.warn_arg, msg);
	else
		fprintf(stderr, "nexusctl: warning: %s\n", msg);
}

/*
 * After an inventory reload: reads nexus_parents of every node again and
 * gives the nodes whose list differs their new parents
 * (mon_node_set_parents: the children index is rebuilt, DOWN/UNREACHABLE
 * re-decided).  Unlike at start, a bad entry cannot stop a running
 * engine: a name that is no (live) node, the node itself, or a parent
 * that would close a loop is left out with a warning; a value of the
 * wrong type keeps the node's parents as they were, with a warning.
 * Returns the number of nodes whose parents changed.
 */
uint32_t
engine_reload_parents(struct engine *e)
{
	struct fleet *f = &e->fleet;
	nx_time now = engine_now(e);
	uint32_t i, changed = 0, *ids = NULL;
	size_t nids, cap = 0;
	char msg[512];

	for (i = 0; i < f->nnodes; i++) {
		struct node *n = &f->nodes[i];
		json_t *v = n->vars != NULL ?
		    json_object_get(n->vars, "nexus_parents") : NULL;
		char *names = NULL, *tok, *save = NULL;
		size_t k;

		if (n->removed || ((v == NULL || json_is_null(v)) &&
		    n->nparents == 0))
			continue;
		nids = 0;
		if (v != NULL && !json_is_null(v) &&
		    engine_parent_names(v, &names) != 0) {
			snprintf(msg, sizeof msg, "node %s: nexus_parents: "
			    "expected a node name, a comma-separated list or a "
			    "list of names; its parents stay as they were",
			    n->name);
			engine_warn(e, msg);
			continue;
		}
		for (tok = names != NULL ? strtok_r(names, ", ", &save) : NULL;
		    tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
			struct node *p = fleet_find_node(f, tok);
			const char *why = NULL;

			if (p == NULL)
				why = "is no node: left out";
			else if (p->id == i)
				why = "is the node itself: left out";
			else if (engine_reaches(f, p->id, i, 0))
				why = "is below it (a loop of parents): left out";
			if (why != NULL) {
				snprintf(msg, sizeof msg, "node %s: nexus_parents: "
				    "'%.200s' %s", n->name, tok, why);
				engine_warn(e, msg);
				continue;
			}
			for (k = 0; k < nids && ids[k] != p->id; k++)
				;
			if (k < nids)
				continue;
			if (nids == cap) {
				cap = cap ? cap * 2 : 8;
				ids = xreallocarray(ids, cap, sizeof *ids);
			}
			ids[nids++] = p->id;
		}
		free(names);
		if (nids == n->nparents && (nids == 0 ||
		    memcmp(ids, n->parents, nids * sizeof *ids) == 0))
			continue;
		mon_node_set_parents(e, n, ids, nids, now);
		changed++;
	}
	free(ids);
	return changed;
}

/*
 * Asks every provider for its nodes, adds the checks defined in the
 * configuration (checks-config.c), then gives each check the configured
 * defaults where its provider or definition left them unset.
 */
int
engine_load(struct engine *e, struct nx_err *err)
{
	size_t i;
	uint32_t c;

	for (i = 0; i < provider_count; i++) {
		const struct provider *p = provider_table[i];

		if (p->inventory != NULL && p->inventory(e, err) != 0)
			return -1;
	}
	if (checks_config_apply(e, err) != 0)
		return -1;
	if (engine_apply_parents(e, err) != 0)
		return -1;
	for (c = 0; c < e->fleet.nchecks; c++) {
		struct check *ck = &e->fleet.checks[c];

		if (ck->interval_ms == 0)
			ck->interval_ms = e->cfg.checks.interval_ms;
		if (ck->retry_ms == 0)
			ck->retry_ms = e->cfg.checks.retry_ms;
		if (ck->timeout_ms == 0)
			ck->timeout_ms = e->cfg.checks.timeout_ms;
		if (ck->max_attempts == 0)
			ck->max_attempts = e->cfg.checks.max_attempts;
	}
	return 0;
}

/* Once a second while live: downtimes, ack expiry, freshness. */
static void
engine_on_tick(uv_timer_t *t)
{
	struct engine *e = t->data;

	mon_tick(e, engine_now(e));
}

static void
engine_on_tick_close(uv_handle_t *h)
{
	free(h);
}

/*
 * Runs the fleet live.  Every check runs once at once, so the console opens
 * on a complete picture instead of a screen of PENDING, and is then
 * scheduled at a fixed pseudo-random phase within its interval, so that
 * 50,000 checks at 60 s spread evenly instead of firing together.  (A check
 * whose first run is still going when its phase comes is not started twice;
 * its result re-schedules it.)
 */
int
engine_start(struct engine *e)
{
	nx_time now = engine_now(e);
	struct nx_err err;
	size_t i;
	uint32_t c;

	for (i = 0; i < provider_count; i++) {
		const struct provider *p = provider_table[i];

		if (p->sample != NULL)
			p->sample(e, now);
		if (p->start != NULL && p->start(e) != 0)
			return -1;
	}
	if (remed_start(e, &err) != 0) {
		if (e->cfg.warn != NULL)
			e->cfg.warn(e->cfg.warn_arg, err.msg);
		else
			fprintf(stderr, "nexusctl: %s\n", err.msg);
		return -1;
	}
	for (c = 0; c < e->fleet.nchecks; c++)
		mon_run_check(e, &e->fleet.checks[c]);
	e->running = true;
	for (c = 0; c < e->fleet.nchecks; c++) {
		struct check *ck = &e->fleet.checks[c];
		uint64_t phase = nx_hash64(((uint64_t)ck->node << 20) ^ c) %
		    (ck->interval_ms ? ck->interval_ms : 1);

		sched_add(e->sched, ck, now + 1 + (nx_time)phase);
	}
	e->tick = xmalloc(sizeof *e->tick);
	uv_timer_init(e->loop, e->tick);
	e->tick->data = e;
	uv_unref((uv_handle_t *)e->tick);
	uv_timer_start(e->tick, engine_on_tick, 1000, 1000);
	return sched_start(e->sched);
}

void
engine_stop(struct engine *e)
{
	size_t i;

	remed_stop(e);
	if (!e->running)
		return;
	e->running = false;
	if (e->tick != NULL) {
		uv_close((uv_handle_t *)e->tick, engine_on_tick_close);
		e->tick = NULL;
	}
	if (e->sched != NULL)
		sched_stop(e->sched);
	for (i = 0; i < provider_count; i++) {
		if (provider_table[i]->stop != NULL)
			provider_table[i]->stop(e);
	}
}

static void
engine_round_timeout(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/*
 * One batch round: every provider samples once, every check runs once at
 * the same instant, and the loop runs until all results are in or
 * timeout_ms passes.  A round is one attempt with no retries to come, so
 * its results are final: every check runs with max_attempts 1, problems are
 * HARD and an unreachable node is DOWN (as in check_multi and pdsh-style
 * one-shot runs).  Meant for one-shot use (`nexusctl check`), not for an
 * engine that then runs live.  Returns 0, or -1 when checks were still
 * running at the timeout.
 */
int
engine_round(struct engine *e, uint32_t timeout_ms)
{
	nx_time now = engine_now(e);
	uv_timer_t timer;
	bool expired = false;
	size_t i;
	uint32_t c;

	e->frozen_now = now;
	for (i = 0; i < provider_count; i++) {
		if (provider_table[i]->sample != NULL)
			provider_table[i]->sample(e, now);
	}
	for (c = 0; c < e->fleet.nchecks; c++) {
		e->fleet.checks[c].max_attempts = 1;
		mon_run_check(e, &e->fleet.checks[c]);
	}
	e->frozen_now = 0;
	if (e->pending > 0) {
		uv_timer_init(e->loop, &timer);
		timer.data = &expired;
		uv_timer_start(&timer, engine_round_timeout, timeout_ms, 0);
		while (e->pending > 0 && !expired)
			uv_run(e->loop, UV_RUN_ONCE);
		uv_close((uv_handle_t *)&timer, NULL);
		uv_run(e->loop, UV_RUN_NOWAIT);
	}
	return e->pending > 0 ? -1 : 0;
}

/*
 * The worst check state in the fleet, in Nagios's order of severity:
 * OK < WARNING < UNKNOWN < CRITICAL.  Checks without a result count as
 * UNKNOWN.  This is the exit status of `nexusctl check`.
 */
enum nx_state
engine_worst_state(const struct engine *e)
{
	static const int rank[] = {
		[NX_OK] = 0, [NX_WARNING] = 1, [NX_UNKNOWN] = 2,
		[NX_CRITICAL] = 3,
	};
	enum nx_state worst = NX_OK;
	uint32_t c;

	for (c = 0; c < e->fleet.nchecks; c++) {
		const struct check *ck = &e->fleet.checks[c];
		enum nx_state s = ck->has_result ? ck->state : NX_UNKNOWN;

		if (rank[s] > rank[worst])
			worst = s;
	}
	return worst;
}
