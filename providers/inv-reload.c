/*
 * inv-reload.c - an edited inventory applied to the running engine.
 *
 * The inventory files are loaded again into a fresh `struct inventory`
 * and every host is resolved (validated) before anything in the fleet
 * changes, so a bad file changes nothing: the old inventory stays, and
 * the error (file:line: reason) is an event and a warning.
 *
 * Then the new hosts are compared by name with the nodes of the
 * inventory provider:
 *
 *  - a host with no node becomes a node with its checks (the inventory's
 *    `ping`, the checks.define definitions whose target selects it),
 *    scheduled at once when the engine runs;
 *  - a host whose node was removed by an earlier reload revives that node
 *    (same id, same checks, which run again at once);
 *  - a node whose address, port, user, groups or vars differ takes the
 *    new ones and keeps its state and its checks' state;
 *  - a node with no host is removed: fleet_set_removed() takes it out of
 *    the views, the targets and the health counters, and the monitor
 *    never runs its checks again.  Its id stays, so that every index held
 *    elsewhere (the console's rows, jobs, downtimes) stays valid.
 *
 * Then, in this order: every provider's node_changed hook sees each
 * removed, added and changed node (the ssh provider adopts a node with
 * `nexus_transport: ssh` as at start, and closes the session of one that
 * left); checks.define is applied to the new nodes and evaluated again
 * for the revived and changed ones (checks added, revived or removed:
 * checks_config_reapply); nexus_parents is read again for every node
 * (engine_reload_parents).  The checks of added nodes, and all checks of
 * a changed node whose set of checks changed, run at once and are
 * scheduled as at start.
 *
 * Each added, changed or removed node is an NX_EV_NODE event (state 1
 * present, 0 removed; text "added", "changed", "removed") and the reload
 * as a whole an NX_EV_CONFIG event "inventory reloaded: +A -R ~C nodes".
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* fleet node ids sorted by name, for lookups by host name */
static const struct fleet *reload_fleet;

static int
reload_id_cmp(const void *a, const void *b)
{
	const struct node *x = &reload_fleet->nodes[*(const uint32_t *)a];
	const struct node *y = &reload_fleet->nodes[*(const uint32_t *)b];

	return strcmp(x->name, y->name);
}

static int
reload_key_cmp(const void *key, const void *b)
{
	return strcmp(key, reload_fleet->nodes[*(const uint32_t *)b].name);
}

/* The ids of f's nodes for which want(node, p) holds, sorted by name. */
static uint32_t *
reload_index(const struct fleet *f, const struct provider *p, bool mine,
    size_t *n)
{
	uint32_t *ids = xreallocarray(NULL, f->nnodes ? f->nnodes : 1,
	    sizeof *ids), i;
	size_t k = 0;

	for (i = 0; i < f->nnodes; i++) {
		const struct node *nd = &f->nodes[i];

		if (mine ? nd->provider == p : (nd->provider != p &&
		    !nd->removed))
			ids[k++] = i;
	}
	reload_fleet = f;
	qsort(ids, k, sizeof *ids, reload_id_cmp);
	*n = k;
	return ids;
}

static int32_t
reload_find(const struct fleet *f, const uint32_t *ids, size_t n,
    const char *name)
{
	const uint32_t *hit;

	reload_fleet = f;
	hit = bsearch(name, ids, n, sizeof *ids, reload_key_cmp);
	return hit != NULL ? (int32_t)*hit : -1;
}

static bool
reload_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Whether node n already has exactly the fields of in. */
static bool
reload_same(const struct fleet *f, const struct node *n,
    const struct inv_node *in)
{
	size_t k;

	if (!reload_str_eq(n->address, in->address) || n->port != in->port ||
	    n->port_set != in->port_set ||
	    !reload_str_eq(n->user, in->user) || n->source != in->source)
		return false;
	if (n->ngroups != in->ngroups + 1)
		return false;
	for (k = 0; k < in->ngroups; k++) {
		if (strcmp(f->groups[n->groups[k]], in->groups[k]) != 0)
			return false;
	}
	if (n->vars == NULL || in->vars == NULL)
		return n->vars == in->vars;
	return json_equal(n->vars, in->vars) != 0;
}

static void
reload_node_event(struct engine *e, uint32_t node, bool present,
    const char *what)
{
	struct event ev;

	memset(&ev, 0, sizeof ev);
	ev.time = engine_now(e);
	ev.kind = NX_EV_NODE;
	ev.node = node;
	ev.check = NX_NONE;
	ev.state = present ? 1 : 0;
	ev.text = what;
	bus_publish(&e->bus, &ev);
}

static void
reload_config_event(struct engine *e, const char *text)
{
	struct event ev;

	memset(&ev, 0, sizeof ev);
	ev.time = engine_now(e);
	ev.kind = NX_EV_CONFIG;
	ev.node = NX_NONE;
	ev.check = NX_NONE;
	ev.text = text;
	bus_publish(&e->bus, &ev);
}

static void
reload_warn(struct engine *e, const char *msg)
{
	if (e->cfg.warn != NULL)
		e->cfg.warn(e->cfg.warn_arg, msg);
	else
		inventory_warn_default(NULL, msg);
}

/*
 * Gives the checks of node n the configured defaults where unset and,
 * when the engine runs, runs them now and schedules them (as
 * engine_start() does, at a phase within the interval).
 */
static void
reload_start_checks(struct engine *e, uint32_t id)
{
	struct node *n = &e->fleet.nodes[id];
	nx_time now = engine_now(e);
	uint16_t k;

	for (k = 0; k < n->nchecks; k++) {
		struct check *c = &e->fleet.checks[n->checks[k]];

		if (c->interval_ms == 0)
			c->interval_ms = e->cfg.checks.interval_ms;
		if (c->retry_ms == 0)
			c->retry_ms = e->cfg.checks.retry_ms;
		if (c->timeout_ms == 0)
			c->timeout_ms = e->cfg.checks.timeout_ms;
		if (c->max_attempts == 0)
			c->max_attempts = e->cfg.checks.max_attempts;
	}
	if (!e->running)
		return;
	for (k = 0; k < n->nchecks; k++) {
		struct check *c = &e->fleet.checks[n->checks[k]];
		uint64_t phase = nx_hash64(((uint64_t)c->node << 20) ^ c->id) %
		    (c->interval_ms ? c->interval_ms : 1);

		mon_run_check(e, c);
		sched_add(e->sched, c, now + 1 + (nx_time)phase);
	}
}

/*
 * A fingerprint of node n's live checks (ids, kinds, host check flags):
 * it differs after a hook or checks.define added, removed, revived or
 * converted one, and then the node's checks are started again.
 */
static uint64_t
reload_checks_sig(const struct fleet *f, const struct node *n)
{
	uint64_t h = nx_hash64(n->nchecks);
	uint16_t k;

	for (k = 0; k < n->nchecks; k++) {
		const struct check *c = &f->checks[n->checks[k]];

		h = nx_hash64(h ^ ((uint64_t)c->id << 1 | c->is_host_check) ^
		    (uint64_t)(uintptr_t)c->kind);
	}
	return h;
}

/* Every provider's node_changed hook on node id. */
static void
reload_hooks(struct engine *e, uint32_t id, enum nx_node_change how)
{
	size_t i;

	for (i = 0; i < provider_count; i++) {
		const struct provider *p = provider_table[i];

		if (p->version >= 3 && p->node_changed != NULL)
			p->node_changed(e, &e->fleet.nodes[id], how);
	}
}

/*
 * Applies the finished inventory inv to the running engine's nodes of
 * the inventory provider (see the top of this file).  Every host is
 * resolved first: on an error nothing has changed and -1 is returned with
 * err set.  Publishes one NX_EV_NODE event per added, changed or removed
 * node (not the summary: inv_reload() does).  stats may be NULL.
 */
int
inv_reload_apply(struct engine *e, struct inventory *inv,
    struct inv_reload_stats *stats, struct nx_err *err)
{
	struct fleet *f = &e->fleet;
	const struct provider *p = &provider_inventory;
	struct inv_reload_stats st = { 0, 0, 0, 0 };
	struct inv_node *res;
	uint32_t *mine, *others, *added = NULL, *changed = NULL, *gone = NULL,
	    *again = NULL, first_new = f->nnodes, i;
	uint64_t *sig = NULL;
	size_t nagain = 0;
	size_t nmine, nothers, nadded = 0, nchanged = 0, ngone = 0, h;
	uint8_t *seen, *skip;
	int rc = -1;

	res = xcalloc(inv->nhosts ? inv->nhosts : 1, sizeof *res);
	skip = xcalloc(inv->nhosts ? inv->nhosts : 1, 1);
	mine = reload_index(f, p, true, &nmine);
	others = reload_index(f, p, false, &nothers);
	seen = xcalloc(f->nnodes ? f->nnodes : 1, 1);

	/* Everything that can fail, before anything changes. */
	for (h = 0; h < inv->nhosts; h++) {
		const struct inv_host *ih = &inv->hosts[h];

		if (reload_find(f, others, nothers, ih->name) >= 0) {
			skip[h] = 1;
			continue;
		}
		if (inv_node_resolve(inv, (uint32_t)h, &res[h], err) != 0)
			goto out;
	}

	for (h = 0; h < inv->nhosts; h++) {
		const struct inv_host *ih = &inv->hosts[h];
		int32_t id;
		struct node *n;

		if (skip[h]) {
			inv_warn(inv, "%s:%u: host '%s' is already a node of "
			    "another provider; the inventory's definition is "
			    "ignored", ih->file, ih->line, ih->name);
			continue;
		}
		id = reload_find(f, mine, nmine, ih->name);
		if (id < 0) {
			n = fleet_add_node(f, ih->name, res[h].address, p);
			inv_node_apply(f, n, &res[h]);
			inventory_node_checks(e, n);
			added = xreallocarray(added, nadded + 1, sizeof *added);
			added[nadded++] = n->id;
			continue;
		}
		n = &f->nodes[id];
		seen[id] = 1;
		if (n->removed) {
			inv_node_apply(f, n, &res[h]);
			fleet_set_removed(f, n, false);
			added = xreallocarray(added, nadded + 1, sizeof *added);
			added[nadded++] = n->id;
		} else if (!reload_same(f, n, &res[h])) {
			inv_node_apply(f, n, &res[h]);
			changed = xreallocarray(changed, nchanged + 1,
			    sizeof *changed);
			changed[nchanged++] = n->id;
		} else
			st.kept++;
		inv_node_clear(&res[h]);        /* early: less memory at peak */
	}
	for (h = 0; h < nmine; h++) {
		struct node *n = &f->nodes[mine[h]];

		if (seen[mine[h]] || n->removed)
			continue;
		fleet_set_removed(f, n, true);
		gone = xreallocarray(gone, ngone + 1, sizeof *gone);
		gone[ngone++] = n->id;
	}
	/* Providers adopt and release (the inventory's ping is on new ones). */
	sig = xcalloc(nchanged ? nchanged : 1, sizeof *sig);
	for (i = 0; i < nchanged; i++)
		sig[i] = reload_checks_sig(f, &f->nodes[changed[i]]);
	for (i = 0; i < ngone; i++)
		reload_hooks(e, gone[i], NX_NODE_REMOVED);
	for (i = 0; i < nadded; i++)
		reload_hooks(e, added[i], NX_NODE_ADDED);
	for (i = 0; i < nchanged; i++)
		reload_hooks(e, changed[i], NX_NODE_CHANGED);
	/* Configured checks of the new nodes; a bad one is only a warning. */
	if (f->nnodes > first_new &&
	    checks_config_apply_from(e, first_new, err) != 0) {
		reload_warn(e, err->msg);
		err->msg[0] = '\0';
	}
	/* ... and again for the revived and changed ones. */
	again = xreallocarray(NULL, nadded + nchanged + 1, sizeof *again);
	for (i = 0; i < nadded; i++) {
		if (added[i] < first_new)
			again[nagain++] = added[i];
	}
	for (i = 0; i < nchanged; i++)
		again[nagain++] = changed[i];
	checks_config_reapply(e, again, nagain);
	(void)engine_reload_parents(e);
	st.added = (uint32_t)nadded;
	st.changed = (uint32_t)nchanged;
	st.removed = (uint32_t)ngone;
	for (i = 0; i < ngone; i++)
		reload_node_event(e, gone[i], false, "removed");
	for (i = 0; i < nchanged; i++)
		reload_node_event(e, changed[i], true, "changed");
	for (i = 0; i < nadded; i++)
		reload_node_event(e, added[i], true, "added");
	for (i = 0; i < nadded; i++)
		reload_start_checks(e, added[i]);
	for (i = 0; i < nchanged; i++) {
		if (reload_checks_sig(f, &f->nodes[changed[i]]) != sig[i])
			reload_start_checks(e, changed[i]);
	}
	rc = 0;
out:
	for (h = 0; h < inv->nhosts; h++)
		inv_node_clear(&res[h]);
	free(res);
	free(skip);
	free(mine);
	free(others);
	free(seen);
	free(added);
	free(changed);
	free(gone);
	free(again);
	free(sig);
	if (rc == 0 && stats != NULL)
		*stats = st;
	return rc;
}

/*
 * Loads cfg.inventories again and applies them (inv_reload_apply).  The
 * outcome is one NX_EV_CONFIG event: "inventory reloaded: +A -R ~C
 * nodes", or "inventory reload failed: REASON; the previous inventory
 * stays", which is also reported through cfg.warn.  Returns 0, or -1 with
 * err set (nothing changed).
 */
int
inv_reload(struct engine *e, struct inv_reload_stats *stats,
    struct nx_err *err)
{
	struct inventory inv;
	struct inv_reload_stats st;
	char *msg;
	size_t k;
	int rc = -1;

	inv_init(&inv);
	inv.warn = e->cfg.warn != NULL ? e->cfg.warn : inventory_warn_default;
	inv.warn_arg = e->cfg.warn_arg;
	for (k = 0; k < e->cfg.ninventories; k++) {
		if (inv_load_file(&inv, e->cfg.inventories[k], err) != 0)
			goto out;
	}
	if (inv_finish(&inv, err) != 0 ||
	    inv_reload_apply(e, &inv, &st, err) != 0)
		goto out;
	xasprintf(&msg, "inventory reloaded: +%u -%u ~%u nodes", st.added,
	    st.removed, st.changed);
	reload_config_event(e, msg);
	free(msg);
	if (stats != NULL)
		*stats = st;
	rc = 0;
out:
	if (rc != 0) {
		xasprintf(&msg, "inventory reload failed: %s; the previous "
		    "inventory stays", err->msg);
		reload_config_event(e, msg);
		reload_warn(e, msg);
		free(msg);
	}
	inv_free(&inv);
	return rc;
}
