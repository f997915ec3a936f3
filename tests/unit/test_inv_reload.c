/*
 * test_inv_reload.c - an edited inventory applied to a live engine
 * (providers/inv-reload.c, inv-watch.c): nodes added with their checks,
 * removed (out of targets, views' counters and the monitor), changed in
 * vars and groups with their state kept, revived with the same id; a bad
 * file that changes nothing; and the file watch with its debounce,
 * through an editor-style rename.  Then what a reload does beyond the
 * nodes: the providers' node_changed hook (the ssh provider adopts a node
 * with nexus_transport=ssh as at start and gives it back when the var
 * goes), checks.define evaluated again for changed nodes (checks added,
 * removed, revived), and nexus_parents read again (parents, the children
 * index, DOWN/UNREACHABLE).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"

struct fixture {
	char dir[64];
	char *path;
	char *inventories[1];
	struct nx_config cfg;
	uv_loop_t loop;
	struct engine e;
	char *events[64];       /* "kind node text" of every node/config event */
	int nevents;
	char *warnings[8];
	int nwarnings;
};

static void
on_event(void *arg, const struct event *ev)
{
	struct fixture *fx = arg;

	if (ev->kind != NX_EV_NODE && ev->kind != NX_EV_CONFIG)
		return;
	if (fx->nevents < 64)
		xasprintf(&fx->events[fx->nevents++], "%s %s %s",
		    event_kind_name(ev->kind), ev->node != NX_NONE ?
		    fx->e.fleet.nodes[ev->node].name : "-",
		    ev->text ? ev->text : "");
}

static void
on_warn(void *arg, const char *msg)
{
	struct fixture *fx = arg;

	if (fx->nwarnings < 8)
		fx->warnings[fx->nwarnings++] = xstrdup(msg);
}

static void
clear_events(struct fixture *fx)
{
	while (fx->nevents > 0)
		free(fx->events[--fx->nevents]);
	while (fx->nwarnings > 0)
		free(fx->warnings[--fx->nwarnings]);
}

static bool
has_event(const struct fixture *fx, const char *text)
{
	int i;

	for (i = 0; i < fx->nevents; i++) {
		if (strcmp(fx->events[i], text) == 0)
			return true;
	}
	return false;
}

/* Replaces the inventory file as editors do: a new file renamed over it. */
static void
write_inventory(struct fixture *fx, const char *text)
{
	char *tmp;
	FILE *fp;

	xasprintf(&tmp, "%s/.hosts.ini.swp", fx->dir);
	fp = fopen(tmp, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(rename(tmp, fx->path), 0);
	free(tmp);
}

static const char inv1[] =
    "[web]\n"
    "web1 ansible_host=10.0.0.1\n"
    "web2\n"
    "[db]\n"
    "db1 role=primary\n";

/* The fixture on inventory text inv and, unless NULL, configuration conf. */
static int
setup_with(void **state, const char *inv, const char *conf)
{
	struct fixture *fx = xcalloc(1, sizeof *fx);
	struct nx_err err = { { 0 } };

	snprintf(fx->dir, sizeof fx->dir, "/tmp/nx-reload-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	xasprintf(&fx->path, "%s/hosts.ini", fx->dir);
	write_inventory(fx, inv);
	config_defaults(&fx->cfg);
	if (conf != NULL && config_load_buffer(&fx->cfg, "test.json", conf,
	    strlen(conf), &err) != 0)
		fail_msg("%s", err.msg);
	fx->cfg.demo.enabled = false;
	fx->cfg.demo.local = false;
	fx->inventories[0] = fx->path;
	fx->cfg.inventories = fx->inventories;
	fx->cfg.ninventories = 1;
	fx->cfg.warn = on_warn;
	fx->cfg.warn_arg = fx;
	uv_loop_init(&fx->loop);
	engine_init(&fx->e, &fx->loop, &fx->cfg);
	if (engine_load(&fx->e, &err) != 0)
		fail_msg("%s", err.msg);
	bus_subscribe(&fx->e.bus, on_event, fx);
	*state = fx;
	return 0;
}

static int
setup(void **state)
{
	return setup_with(state, inv1, NULL);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char *cmd;

	engine_free(&fx->e);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	fx->cfg.inventories = NULL;
	fx->cfg.ninventories = 0;
	config_free(&fx->cfg);
	clear_events(fx);
	xasprintf(&cmd, "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(fx->path);
	free(fx);
	return 0;
}

static struct node *
node(struct fixture *fx, const char *name)
{
	return fleet_find_node(&fx->e.fleet, name);
}

static const char *
var(struct node *n, const char *key)
{
	const json_t *v = n->vars != NULL ? json_object_get(n->vars, key) :
	    NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool
in_group(const struct fleet *f, const struct node *n, const char *g)
{
	uint16_t i;

	for (i = 0; i < n->ngroups; i++) {
		if (strcmp(f->groups[n->groups[i]], g) == 0)
			return true;
	}
	return false;
}

/* The names a target selects, comma-separated in fleet order. */
static char *
select_names(struct fixture *fx, const char *expr)
{
	struct nx_err err = { { 0 } };
	struct nx_target *t = target_parse(expr, &err);
	uint32_t *ids;
	size_t n, i;
	char *out = xstrdup(""), *next;

	assert_non_null(t);
	target_select(t, &fx->e.fleet, &ids, &n);
	for (i = 0; i < n; i++) {
		assert_true(target_match(t, &fx->e.fleet,
		    &fx->e.fleet.nodes[ids[i]]));
		xasprintf(&next, "%s%s%s", out, i ? "," : "",
		    fx->e.fleet.nodes[ids[i]].name);
		free(out);
		out = next;
	}
	free(ids);
	target_free(t);
	return out;
}

static void
set_state(struct fixture *fx, struct node *n, enum nx_state st)
{
	struct check *c = &fx->e.fleet.checks[n->checks[0]];
	struct nx_result r = { .state = st, .output = "set by the test",
	    .output_len = 15, .time = engine_now(&fx->e) };

	mon_apply_result(&fx->e, c, &r);
}

static uint32_t
live_count(const struct fleet *f)
{
	uint32_t i, n = 0;

	for (i = 0; i < f->nnodes; i++)
		n += !f->nodes[i].removed;
	return n;
}

static uint32_t
health_total(const struct fleet *f)
{
	uint32_t h, n = 0;

	for (h = 0; h < NX_H__COUNT; h++)
		n += f->health_count[h];
	return n;
}

static void
test_add_remove_change(void **state)
{
	struct fixture *fx = *state;
	struct inv_reload_stats st;
	struct nx_err err = { { 0 } };
	struct node *n;
	uint32_t web1, web2, db1;
	char *sel;

	assert_int_equal(fx->e.fleet.nnodes, 3);
	web1 = node(fx, "web1")->id;
	web2 = node(fx, "web2")->id;
	db1 = node(fx, "db1")->id;
	set_state(fx, node(fx, "web1"), NX_CRITICAL);
	set_state(fx, node(fx, "db1"), NX_WARNING);
	assert_int_equal(fx->e.fleet.health_count[NX_H_CRITICAL], 1);

	write_inventory(fx,
	    "[web]\n"
	    "web1 ansible_host=10.0.0.1\n"
	    "web3 ansible_port=2222\n"
	    "[db]\n"
	    "db1 role=replica\n"
	    "[backup]\n"
	    "db1\n");
	if (inv_reload(&fx->e, &st, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.changed, 1);
	assert_int_equal(st.kept, 1);

	/* web2 is gone: not found, not selected, not counted. */
	assert_null(node(fx, "web2"));
	assert_true(fx->e.fleet.nodes[web2].removed);
	sel = select_names(fx, "all");
	assert_string_equal(sel, "web1,db1,web3");
	free(sel);
	sel = select_names(fx, "@web");
	assert_string_equal(sel, "web1,web3");
	free(sel);
	sel = select_names(fx, "!db1");
	assert_string_equal(sel, "web1,web3");
	free(sel);
	assert_int_equal(live_count(&fx->e.fleet), 3);
	assert_int_equal(health_total(&fx->e.fleet), 3);
	assert_int_equal(fx->e.fleet.nremoved, 1);

	/* web1 unchanged: same id, state kept. */
	n = node(fx, "web1");
	assert_int_equal(n->id, web1);
	assert_int_equal(fx->e.fleet.checks[n->checks[0]].state, NX_CRITICAL);
	assert_int_equal(fx->e.fleet.health_count[NX_H_CRITICAL], 1);

	/* db1 changed: new var and group, same id, state kept. */
	n = node(fx, "db1");
	assert_int_equal(n->id, db1);
	assert_string_equal(var(n, "role"), "replica");
	assert_true(in_group(&fx->e.fleet, n, "backup"));
	assert_true(in_group(&fx->e.fleet, n, "all"));
	assert_int_equal(fx->e.fleet.checks[n->checks[0]].state, NX_WARNING);

	/* web3 is new, with the inventory's check and its port. */
	n = node(fx, "web3");
	assert_non_null(n);
	assert_int_equal(n->port, 2222);
	assert_int_equal(n->nchecks, 1);
	assert_string_equal(fx->e.fleet.checks[n->checks[0]].name, "ping");
	assert_int_equal(fx->e.fleet.checks[n->checks[0]].interval_ms, 300000);
	assert_string_equal(n->source, "ini");

	assert_true(has_event(fx, "node web2 removed"));
	assert_true(has_event(fx, "node db1 changed"));
	assert_true(has_event(fx, "node web3 added"));
	assert_true(has_event(fx, "config - inventory reloaded: +1 -1 ~1 nodes"));
	assert_int_equal(fx->nevents, 4);

	/* A result arriving for the removed node is dropped, silently. */
	clear_events(fx);
	set_state(fx, &fx->e.fleet.nodes[web2], NX_CRITICAL);
	assert_int_equal(fx->e.fleet.health_count[NX_H_CRITICAL], 1);
	assert_int_equal(health_total(&fx->e.fleet), 3);

	/* The same file again: nothing changes. */
	if (inv_reload(&fx->e, &st, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(st.added + st.removed + st.changed, 0);
	assert_int_equal(st.kept, 3);

	/* web2 comes back: the same node, revived. */
	write_inventory(fx, inv1);
	if (inv_reload(&fx->e, &st, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.removed, 1);    /* web3 */
	assert_int_equal(st.changed, 1);    /* db1 */
	n = node(fx, "web2");
	assert_non_null(n);
	assert_int_equal(n->id, web2);
	assert_false(n->removed);
	assert_null(node(fx, "web3"));
	assert_int_equal(fx->e.fleet.nnodes, 4);
	assert_int_equal(fx->e.fleet.nremoved, 1);
	assert_int_equal(health_total(&fx->e.fleet), 3);
	assert_string_equal(var(node(fx, "db1"), "role"), "primary");
	assert_false(in_group(&fx->e.fleet, node(fx, "db1"), "backup"));
}

static void
test_bad_file_changes_nothing(void **state)
{
	struct fixture *fx = *state;
	struct inv_reload_stats st;
	struct nx_err err = { { 0 } };
	char *want;

	/* A syntax error, then a validation error found after parsing. */
	write_inventory(fx, "[web]\nweb1\nnew1\n[web:bogus]\n");
	assert_int_equal(inv_reload(&fx->e, &st, &err), -1);
	xasprintf(&want, "%s:4:", fx->path);
	assert_non_null(strstr(err.msg, want));
	free(want);
	assert_int_equal(fx->e.fleet.nnodes, 3);
	assert_int_equal(live_count(&fx->e.fleet), 3);
	assert_int_equal(fx->nevents, 1);
	assert_non_null(strstr(fx->events[0], "config - inventory reload "
	    "failed: "));
	assert_non_null(strstr(fx->events[0], "the previous inventory stays"));
	assert_int_equal(fx->nwarnings, 1);
	assert_non_null(strstr(fx->warnings[0], "inventory reload failed"));

	clear_events(fx);
	write_inventory(fx, "[web]\nweb1 ansible_port=99999\nnew1\n");
	assert_int_equal(inv_reload(&fx->e, &st, &err), -1);
	assert_non_null(strstr(err.msg, "ansible_port 99999 is not a port"));
	assert_int_equal(fx->e.fleet.nnodes, 3);
	assert_non_null(node(fx, "web2"));
	assert_non_null(node(fx, "db1"));
	assert_null(node(fx, "new1"));
	assert_int_equal(node(fx, "web1")->port, 22);

	/* Fixed: applied. */
	clear_events(fx);
	write_inventory(fx, "[web]\nweb1\nnew1\n");
	assert_int_equal(inv_reload(&fx->e, &st, &err), 0);
	assert_non_null(node(fx, "new1"));
	assert_null(node(fx, "db1"));
	assert_true(has_event(fx, "config - inventory reloaded: +1 -2 ~1 nodes"));
}

static bool timed_out;

static void
on_deadline(uv_timer_t *t)
{
	(void)t;
	timed_out = true;
}

/* Runs the loop until an event starting with prefix or 5 s pass. */
static bool
wait_event(struct fixture *fx, const char *prefix)
{
	uv_timer_t t;
	int i;
	bool found = false;

	timed_out = false;
	uv_timer_init(&fx->loop, &t);
	uv_timer_start(&t, on_deadline, 5000, 0);
	while (!found && !timed_out) {
		uv_run(&fx->loop, UV_RUN_ONCE);
		for (i = 0; i < fx->nevents && !found; i++)
			found = strncmp(fx->events[i], prefix,
			    strlen(prefix)) == 0;
	}
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	return found;
}

static void
test_watch_live(void **state)
{
	struct fixture *fx = *state;
	struct node *n;
	struct check *c;
	uint64_t t0;
	int i;

	assert_int_equal(engine_start(&fx->e), 0);
	uv_run(&fx->loop, UV_RUN_NOWAIT);

	/* Three quick saves, one reload (the debounce). */
	t0 = uv_now(&fx->loop);
	write_inventory(fx, "[web]\nweb1 ansible_host=10.0.0.1\nweb2\nweb4\n");
	write_inventory(fx, "[web]\nweb1 ansible_host=10.0.0.1\nweb2\nweb4\n"
	    "web5\n");
	write_inventory(fx, "[web]\nweb1 ansible_host=10.0.0.1\nweb2\nweb4\n"
	    "web5\nweb6\n[db]\ndb1 role=primary\n");
	assert_true(wait_event(fx, "config - inventory reloaded"));
	assert_true(uv_now(&fx->loop) - t0 >= INV_WATCH_DEBOUNCE_MS - 20);
	assert_true(has_event(fx, "config - inventory reloaded: +3 -0 ~0 nodes"));
	for (i = 0; i < fx->nevents; i++)
		assert_null(strstr(fx->events[i], "~1"));
	n = node(fx, "web6");
	assert_non_null(n);
	/* Its check ran at once and is scheduled. */
	c = &fx->e.fleet.checks[n->checks[0]];
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_true(c->has_result);
	assert_int_equal(c->state, NX_UNKNOWN);
	assert_true(c->next_due > 0);

	/* Broken, then fixed: the old inventory stays in between. */
	clear_events(fx);
	write_inventory(fx, "[web]\nweb1\n[web:nonsense]\n");
	assert_true(wait_event(fx, "config - inventory reload failed"));
	assert_non_null(node(fx, "web6"));
	assert_int_equal(fx->nwarnings, 1);
	clear_events(fx);
	write_inventory(fx, "[web]\nweb1 ansible_host=10.0.0.1\n");
	assert_true(wait_event(fx, "config - inventory reloaded"));
	assert_true(has_event(fx, "config - inventory reloaded: +0 -5 ~0 nodes"));
	assert_null(node(fx, "web6"));
	assert_true(has_event(fx, "node web6 removed"));

	/* An edit in place (no rename) is seen as well. */
	clear_events(fx);
	{
		FILE *fp = fopen(fx->path, "a");

		assert_non_null(fp);
		fputs("web7\n", fp);
		fclose(fp);
	}
	assert_true(wait_event(fx, "config - inventory reloaded"));
	assert_non_null(node(fx, "web7"));
	engine_stop(&fx->e);
}


/* The check of node n named name, live or removed; NULL when none. */
static struct check *
check_of(struct fixture *fx, struct node *n, const char *name)
{
	return fleet_node_check(&fx->e.fleet, n, name, true);
}

static void
reload_ok(struct fixture *fx, const char *text, struct inv_reload_stats *st)
{
	struct nx_err err = { { 0 } };

	write_inventory(fx, text);
	if (inv_reload(&fx->e, st, &err) != 0)
		fail_msg("%s", err.msg);
}

/*
 * The ssh provider through its node_changed hook (engine not started, so
 * no session is opened): a node added with nexus_transport=ssh gets what
 * a node present at start gets; the var gone, it is the inventory's
 * again (metric checks removed); back, the same checks are revived;
 * removed, its checks stay as they were with the node.
 */
static void
test_ssh_adopt(void **state)
{
	struct fixture *fx = *state;
	struct inv_reload_stats st;
	struct check *ping, *load, *c;
	struct node *n;
	uint32_t load_id, k;

	reload_ok(fx, "[web]\nweb1 ansible_host=10.0.0.1\nweb2\n[db]\n"
	    "db1 role=primary\n[lab]\nlab1 nexus_transport=ssh nexus_cores=4\n",
	    &st);
	assert_int_equal(st.added, 1);
	n = node(fx, "lab1");
	assert_non_null(n);
	ping = check_of(fx, n, "ping");
	assert_string_equal(ping->kind->name, "ssh-ping");
	assert_true(ping->is_host_check);
	assert_int_equal(ping->interval_ms, fx->cfg.checks.interval_ms);
	assert_int_equal(n->nchecks, 5);
	load = check_of(fx, n, "load");
	assert_non_null(load);
	assert_string_equal(load->kind->name, "metric");
	assert_true(((struct metric_check *)load->data)->warn == 6.0);
	load_id = load->id;
	for (k = 0; k < n->nchecks; k++)
		assert_false(fx->e.fleet.checks[n->checks[k]].removed);
	/* Unchanged nodes were not touched. */
	assert_string_equal(check_of(fx, node(fx, "web1"), "ping")->kind->name,
	    "no-transport");

	/* The transport goes: the inventory's ping, metric checks removed. */
	reload_ok(fx, "[web]\nweb1 ansible_host=10.0.0.1\nweb2\n[db]\n"
	    "db1 role=primary\n[lab]\nlab1 nexus_cores=4\n", &st);
	assert_int_equal(st.changed, 1);
	n = node(fx, "lab1");
	assert_int_equal(n->nchecks, 1);
	assert_int_equal(n->nchecks_removed, 4);
	ping = check_of(fx, n, "ping");
	assert_string_equal(ping->kind->name, "no-transport");
	assert_false(ping->is_host_check);
	c = check_of(fx, n, "load");
	assert_true(c->removed);
	assert_int_equal(c->id, load_id);
	assert_int_equal(n->checks[n->nchecks], n->checks[1]);  /* tail */
	/* A removed check is never started. */
	mon_run_check(&fx->e, c);
	assert_false(c->running);
	assert_int_equal(fx->e.pending, 0);

	/* Back, with 8 cores: the same checks, new thresholds. */
	reload_ok(fx, "[web]\nweb1 ansible_host=10.0.0.1\nweb2\n[db]\n"
	    "db1 role=primary\n[lab]\nlab1 nexus_transport=ssh nexus_cores=8\n",
	    &st);
	n = node(fx, "lab1");
	assert_int_equal(n->nchecks, 5);
	assert_int_equal(n->nchecks_removed, 0);
	load = check_of(fx, n, "load");
	assert_int_equal(load->id, load_id);
	assert_false(load->removed);
	assert_true(((struct metric_check *)load->data)->warn == 12.0);
	assert_string_equal(check_of(fx, n, "ping")->kind->name, "ssh-ping");

	/* Removed: gone from the fleet, its checks with it. */
	reload_ok(fx, inv1, &st);
	assert_int_equal(st.removed, 1);
	assert_null(node(fx, "lab1"));
}

static const char conf_defs[] =
    "{ \"checks\": { \"define\": ["
    " { \"name\": \"http\", \"kind\": \"tcp\", \"target\": \"@web\","
    "   \"port\": 80 },"
    " { \"name\": \"pg\", \"kind\": \"tcp\", \"target\": \"role=primary\","
    "   \"port\": 5432 } ] } }";

/*
 * checks.define evaluated again on reload: a kept node that joins @web
 * gets `http`, one that leaves it loses it (removed: not live, not run,
 * no problem counted, id kept), and gets it back (the same check).
 */
static void
test_checkdefs_reapplied(void **state)
{
	struct fixture *fx = *state;
	struct inv_reload_stats st;
	struct check *c;
	struct node *web2, *db1;
	uint32_t http2;

	web2 = node(fx, "web2");
	db1 = node(fx, "db1");
	assert_non_null(check_of(fx, web2, "http"));
	assert_null(check_of(fx, db1, "http"));
	assert_non_null(check_of(fx, db1, "pg"));
	http2 = check_of(fx, web2, "http")->id;
	/* web2's http is CRITICAL: one problem. */
	{
		struct nx_result r = { .state = NX_CRITICAL, .output = "down",
		    .output_len = 4, .time = engine_now(&fx->e) };

		mon_apply_result(&fx->e, &fx->e.fleet.checks[http2], &r);
	}
	assert_int_equal(fx->e.fleet.health_count[NX_H_CRITICAL], 1);

	/* web2 leaves web, db1 joins it and stops being primary. */
	reload_ok(fx, "[web]\nweb1 ansible_host=10.0.0.1\ndb1 role=replica\n"
	    "[db]\nweb2\ndb1\n", &st);
	assert_int_equal(st.changed, 2);
	web2 = node(fx, "web2");
	db1 = node(fx, "db1");
	c = check_of(fx, web2, "http");
	assert_int_equal(c->id, http2);
	assert_true(c->removed);
	assert_false(c->has_result);
	assert_int_equal(web2->nchecks, 1);             /* ping */
	assert_int_equal(fx->e.fleet.health_count[NX_H_CRITICAL], 0);
	assert_non_null(check_of(fx, db1, "http"));
	assert_false(check_of(fx, db1, "http")->removed);
	assert_true(check_of(fx, db1, "pg")->removed);
	assert_int_equal(db1->nchecks, 2);              /* ping, http */
	assert_int_equal(check_of(fx, db1, "http")->interval_ms,
	    fx->cfg.checks.interval_ms);
	mon_run_check(&fx->e, c);
	assert_false(c->running);

	/* Back as it was: the same checks, live again, PENDING. */
	reload_ok(fx, inv1, &st);
	web2 = node(fx, "web2");
	c = check_of(fx, web2, "http");
	assert_int_equal(c->id, http2);
	assert_false(c->removed);
	assert_int_equal(web2->nchecks, 2);
	assert_false(check_of(fx, node(fx, "db1"), "pg")->removed);
	assert_true(check_of(fx, node(fx, "db1"), "http")->removed);
}

static int
setup_defs(void **state)
{
	return setup_with(state, inv1, conf_defs);
}

static const char inv_parents[] =
    "[net]\nsw1\nsw2\n[web]\nweb1\nweb2 nexus_parents=sw1\n";

static int
setup_parents(void **state)
{
	return setup_with(state, inv_parents, NULL);
}

/* Makes node name's ping a host check with one attempt, then gives it st. */
static void
host_result(struct fixture *fx, const char *name, enum nx_state st)
{
	struct check *c = check_of(fx, node(fx, name), "ping");
	struct nx_result r = { .state = st, .output = "set by the test",
	    .output_len = 15, .time = engine_now(&fx->e) };

	c->is_host_check = true;
	c->max_attempts = 1;
	mon_apply_result(&fx->e, c, &r);
}

/*
 * nexus_parents read again: web1 gets sw1 as its parent while both are
 * DOWN (web1 becomes UNREACHABLE), then sw1 recovers and web1 is DOWN
 * again through the rebuilt children index; web2 moves from sw1 to sw2;
 * a parent that is no node is left out with a warning.
 */
static void
test_parents_reread(void **state)
{
	struct fixture *fx = *state;
	struct inv_reload_stats st;
	struct node *web1, *web2;

	web2 = node(fx, "web2");
	assert_int_equal(web2->nparents, 1);
	assert_int_equal(web2->parents[0], node(fx, "sw1")->id);
	host_result(fx, "sw1", NX_CRITICAL);
	host_result(fx, "web1", NX_CRITICAL);
	/* Builds the children index as it is now (sw1 -> web2). */
	host_result(fx, "sw2", NX_CRITICAL);
	host_result(fx, "sw2", NX_OK);
	web1 = node(fx, "web1");
	assert_int_equal(web1->host_state, NX_HOST_DOWN);

	reload_ok(fx, "[net]\nsw1\nsw2\n[web]\nweb1 nexus_parents=sw1\n"
	    "web2 nexus_parents=sw2,nosuch\n", &st);
	assert_int_equal(st.changed, 2);
	web1 = node(fx, "web1");
	web2 = node(fx, "web2");
	assert_int_equal(web1->nparents, 1);
	assert_int_equal(web1->parents[0], node(fx, "sw1")->id);
	assert_int_equal(web2->nparents, 1);
	assert_int_equal(web2->parents[0], node(fx, "sw2")->id);
	assert_int_equal(web1->host_state, NX_HOST_UNREACHABLE);
	assert_int_equal(fx->nwarnings, 1);
	assert_non_null(strstr(fx->warnings[0], "node web2: nexus_parents: "
	    "'nosuch' is no node"));

	/* sw1 back: its children (now web1) are re-decided. */
	host_result(fx, "sw1", NX_OK);
	assert_int_equal(node(fx, "web1")->host_state, NX_HOST_DOWN);

	/* Parents gone. */
	reload_ok(fx, "[net]\nsw1\nsw2\n[web]\nweb1\nweb2\n", &st);
	assert_int_equal(node(fx, "web1")->nparents, 0);
	assert_int_equal(node(fx, "web2")->nparents, 0);
	assert_int_equal(fx->e.mon.nedges, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_remove_change, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_file_changes_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_live, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ssh_adopt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_checkdefs_reapplied,
		    setup_defs, teardown),
		cmocka_unit_test_setup_teardown(test_parents_reread,
		    setup_parents, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
