/*
 * fleet.c - the node and check model.
 *
 * Nodes and checks live in two dense arrays indexed by id, so a node refers
 * to its checks (and a check to its node) by index, and a pointer taken from
 * either array is valid only until the next node or check is added.
 * The fleet keeps the per-health counters that the console header shows, so
 * nothing has to scan 100,000 nodes to draw it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"

void
fleet_init(struct fleet *f)
{
	memset(f, 0, sizeof *f);
	strpool_init(&f->strings);
}

void
fleet_free(struct fleet *f)
{
	uint32_t i;

	for (i = 0; i < f->nchecks; i++) {
		struct check *c = &f->checks[i];

		if (c->kind != NULL && c->kind->free_data != NULL)
			c->kind->free_data(c->data);
		free(c->output);
	}
	for (i = 0; i < f->nnodes; i++) {
		free(f->nodes[i].groups);
		free(f->nodes[i].checks);
		free(f->nodes[i].parents);
		json_decref(f->nodes[i].vars);
	}
	free(f->nodes);
	free(f->checks);
	free(f->groups);
	strpool_free(&f->strings);
	memset(f, 0, sizeof *f);
}

/* Returns the index of the named group, adding it if it is new. */
uint32_t
fleet_group(struct fleet *f, const char *name)
{
	const char *s = strpool_intern(&f->strings, name);
	uint32_t i;

	for (i = 0; i < f->ngroups; i++) {
		if (f->groups[i] == s)
			return i;
	}
	if (f->ngroups == f->groups_cap) {
		f->groups_cap = f->groups_cap ? f->groups_cap * 2 : 16;
		f->groups = xreallocarray(f->groups, f->groups_cap,
		    sizeof *f->groups);
	}
	f->groups[f->ngroups] = s;
	return f->ngroups++;
}

/*
 * Adds a node; name and address are interned.  The node starts PENDING and
 * counts in health_count[NX_H_PENDING].  The returned pointer is valid until
 * the next fleet_add_node().
 */
struct node *
fleet_add_node(struct fleet *f, const char *name, const char *address,
    const struct provider *provider)
{
	struct node *n;

	if (f->nnodes == f->nodes_cap) {
		f->nodes_cap = f->nodes_cap ? f->nodes_cap * 2 : 64;
		f->nodes = xreallocarray(f->nodes, f->nodes_cap,
		    sizeof *f->nodes);
	}
	n = &f->nodes[f->nnodes];
	memset(n, 0, sizeof *n);
	n->id = f->nnodes++;
	n->name = strpool_intern(&f->strings, name);
	n->address = strpool_intern(&f->strings, address ? address : name);
	n->port = 22;
	n->provider = provider;
	n->host_state = NX_HOST_UP;
	n->health = NX_H_PENDING;
	for (int m = 0; m < NX_M__COUNT; m++)
		n->m.v[m] = __builtin_nan("");
	f->health_count[NX_H_PENDING]++;
	return n;
}

void
node_add_group(struct fleet *f, struct node *n, const char *group)
{
	uint32_t g = fleet_group(f, group);
	uint16_t i;

	for (i = 0; i < n->ngroups; i++) {
		if (n->groups[i] == g)
			return;
	}
	n->groups = xreallocarray(n->groups, n->ngroups + 1, sizeof *n->groups);
	n->groups[n->ngroups++] = g;
}

/* The node's first group, or "" when it has none. */
const char *
node_group_name(const struct fleet *f, const struct node *n)
{
	return n->ngroups > 0 ? f->groups[n->groups[0]] : "";
}

/*
 * Adds a check to a node.  `data` becomes the check's and is freed with
 * kind->free_data.  Intervals start as zero: the caller (or engine_load)
 * fills them from the configuration.
 */
struct check *
fleet_add_check(struct fleet *f, struct node *n, const char *name,
    const struct check_kind *kind, void *data)
{
	struct check *c;

	if (f->nchecks == f->checks_cap) {
		f->checks_cap = f->checks_cap ? f->checks_cap * 2 : 256;
		f->checks = xreallocarray(f->checks, f->checks_cap,
		    sizeof *f->checks);
	}
	c = &f->checks[f->nchecks];
	memset(c, 0, sizeof *c);
	c->id = f->nchecks++;
	c->node = n->id;
	c->name = strpool_intern(&f->strings, name);
	c->kind = kind;
	c->data = data;
	c->state = NX_OK;
	c->last_hard_state = NX_OK;
	c->state_type = NX_HARD;
	n->checks = xreallocarray(n->checks, (size_t)n->nchecks +
	    n->nchecks_removed + 1, sizeof *n->checks);
	/* The removed ones follow the live ones: the first moves to the end. */
	if (n->nchecks_removed > 0)
		n->checks[n->nchecks + n->nchecks_removed] =
		    n->checks[n->nchecks];
	n->checks[n->nchecks++] = c->id;
	return c;
}

/*
 * Takes check c off its node's live checks (removed) or puts it back,
 * keeping the removed ids after the live ones in node.checks and
 * check.removed true.  Only the list and the flag: what the monitor does
 * about it is mon_check_set_removed()'s.
 */
void
fleet_set_check_removed(struct fleet *f, struct check *c, bool removed)
{
	struct node *n = &f->nodes[c->node];
	uint32_t total = (uint32_t)n->nchecks + n->nchecks_removed, k;

	if (c->removed == removed)
		return;
	for (k = 0; k < total && n->checks[k] != c->id; k++)
		;
	if (k == total)
		return;
	if (removed) {
		/* Shift the live ones after it down; it heads the removed. */
		memmove(&n->checks[k], &n->checks[k + 1],
		    (n->nchecks - 1 - k) * sizeof *n->checks);
		n->nchecks--;
		n->checks[n->nchecks] = c->id;
		n->nchecks_removed++;
	} else {
		n->checks[k] = n->checks[n->nchecks];
		n->checks[n->nchecks] = c->id;
		n->nchecks++;
		n->nchecks_removed--;
	}
	c->removed = removed;
}

/*
 * The check of node n named name (interned or not), among its live
 * checks and, with removed_too, its removed ones; NULL when none.
 */
struct check *
fleet_node_check(const struct fleet *f, const struct node *n,
    const char *name, bool removed_too)
{
	uint32_t total = n->nchecks + (removed_too ? n->nchecks_removed : 0u);
	uint32_t k;

	for (k = 0; k < total; k++) {
		struct check *c = &f->checks[n->checks[k]];

		if (c->name == name || strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

/*
 * Linear, for the command line and tests; the console keeps its own index.
 * A removed node is not found.
 */
struct node *
fleet_find_node(const struct fleet *f, const char *name)
{
	uint32_t i;

	for (i = 0; i < f->nnodes; i++) {
		if (!f->nodes[i].removed && strcmp(f->nodes[i].name, name) == 0)
			return &f->nodes[i];
	}
	return NULL;
}

/*
 * Marks a node removed (or revives it), keeping the health counters true:
 * a removed node counts in none.  Its id, name and checks stay, so that
 * every index held elsewhere stays valid; what stops its checks is the
 * monitor, which ignores checks of removed nodes (monitor.c).
 */
void
fleet_set_removed(struct fleet *f, struct node *n, bool removed)
{
	if (n->removed == removed)
		return;
	n->removed = removed;
	if (removed) {
		f->health_count[n->health]--;
		f->nremoved++;
	} else {
		f->health_count[n->health]++;
		f->nremoved--;
	}
}

/*
 * A node's health: its host state when not UP, PENDING before any check
 * has a result, else the worst state of its checks (UNKNOWN counts below
 * CRITICAL, as Nagios sorts problems).
 */
enum nx_health
node_compute_health(const struct fleet *f, const struct node *n)
{
	static const int rank[] = {
		[NX_OK] = 0, [NX_WARNING] = 1, [NX_UNKNOWN] = 2,
		[NX_CRITICAL] = 3,
	};
	int worst = -1;
	enum nx_state ws = NX_OK;
	bool any = false;
	uint16_t i;

	if (n->host_state == NX_HOST_DOWN)
		return NX_H_DOWN;
	if (n->host_state == NX_HOST_UNREACHABLE)
		return NX_H_UNREACHABLE;
	for (i = 0; i < n->nchecks; i++) {
		const struct check *c = &f->checks[n->checks[i]];

		if (!c->has_result)
			continue;
		any = true;
		if (rank[c->state] > worst) {
			worst = rank[c->state];
			ws = c->state;
		}
	}
	if (!any)
		return NX_H_PENDING;
	switch (ws) {
	case NX_OK:
		return NX_H_OK;
	case NX_WARNING:
		return NX_H_WARNING;
	case NX_CRITICAL:
		return NX_H_CRITICAL;
	default:
		return NX_H_UNKNOWN;
	}
}

/* Moves a node to a new health, keeping the counters true. */
void
fleet_set_health(struct fleet *f, struct node *n, enum nx_health h, nx_time now)
{
	if (n->health == h)
		return;
	if (!n->removed) {
		f->health_count[n->health]--;
		f->health_count[h]++;
	}
	n->health = h;
	n->last_change = now;
}
