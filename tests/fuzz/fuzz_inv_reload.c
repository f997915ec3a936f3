/*
 * fuzz_inv_reload.c - libFuzzer harness for the live reload's diff and
 * merge (providers/inv-reload.c): the input is split into INI inventories
 * at lines `#---`; the first is loaded into an engine, each next one is
 * applied as a reload.  After every reload the fleet must be consistent:
 * the health counters count exactly the live nodes, fleet.nremoved the
 * others, no two live nodes share a name, every live inventory node is a
 * host of the inventory just applied and every host a live node, and
 * target `all` selects exactly the live nodes.  A reload that fails must
 * change nothing.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iengine -I$B \
 *       tests/fuzz/fuzz_inv_reload.c engine/?*.c providers/?*.c \
 *       $(pkg-config --cflags --libs jansson libuv libpcre2-8 yaml-0.1 \
 *       libssh2 sqlite3) -lm -o fuzz_inv_reload
 *   ./fuzz_inv_reload -max_len=1024 -timeout=20 -max_total_time=60 \
 *       tests/fixtures/inventory
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Parses one part into a finished inventory; -1 when it is an error. */
static int
fuzz_parse(struct inventory *inv, const char *text, size_t len)
{
	struct nx_err err;

	inv_init(inv);
	inv->warn = fuzz_quiet;
	if (inv_parse(inv, "fuzz.ini", text, len, &err) != 0 ||
	    inv_finish(inv, &err) != 0) {
		inv_free(inv);
		return -1;
	}
	return 0;
}

static void
fuzz_check(struct engine *e, const struct inventory *inv)
{
	const struct fleet *f = &e->fleet;
	uint32_t i, k, live = 0, removed = 0, total = 0, *ids;
	struct nx_target *t;
	struct nx_err err;
	size_t n;

	for (i = 0; i < NX_H__COUNT; i++)
		total += f->health_count[i];
	for (i = 0; i < f->nnodes; i++) {
		const struct node *nd = &f->nodes[i];

		if (nd->removed) {
			removed++;
			continue;
		}
		live++;
		if (fleet_find_node(f, nd->name) != nd)
			abort();        /* two live nodes of one name */
		if (inv != NULL && inv_host_find(inv, nd->name) < 0)
			abort();        /* a node the inventory does not have */
		for (k = 0; k < nd->nchecks; k++) {
			if (f->checks[nd->checks[k]].node != i)
				abort();
		}
	}
	if (total != live || removed != f->nremoved)
		abort();
	if (inv != NULL) {
		for (n = 0; n < inv->nhosts; n++) {
			if (fleet_find_node(f, inv->hosts[n].name) == NULL)
				abort();        /* a host that is not a node */
		}
	}
	if ((t = target_parse("all", &err)) == NULL)
		abort();
	target_select(t, f, &ids, &n);
	if (n != live)
		abort();
	free(ids);
	target_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n#---";
	char *text = xstrndup((const char *)data, size), *p, *next;
	struct inventory inv;
	struct nx_config cfg;
	struct engine e;
	uv_loop_t loop;
	struct nx_err err;
	bool first = true;
	uint32_t nnodes;

	config_defaults(&cfg);
	cfg.demo.enabled = false;
	cfg.demo.local = false;
	cfg.warn = fuzz_quiet;
	uv_loop_init(&loop);
	engine_init(&e, &loop, &cfg);
	for (p = text; p != NULL; p = next) {
		size_t len;

		if ((next = strstr(p, sep)) != NULL) {
			len = (size_t)(next - p);
			next += sizeof sep - 1;
		} else
			len = strlen(p);
		if (fuzz_parse(&inv, p, len) != 0) {
			if (first)
				break;
			continue;
		}
		if (first) {
			if (inv_to_fleet(&inv, &e.fleet, &provider_inventory,
			    &err) == 0) {
				uint32_t i;

				for (i = 0; i < e.fleet.nnodes; i++)
					inventory_node_checks(&e,
					    &e.fleet.nodes[i]);
				fuzz_check(&e, &inv);
			}
			first = false;
			inv_free(&inv);
			continue;
		}
		nnodes = e.fleet.nnodes;
		if (inv_reload_apply(&e, &inv, NULL, &err) == 0)
			fuzz_check(&e, &inv);
		else if (e.fleet.nnodes != nnodes)
			abort();        /* a failed reload changed the fleet */
		inv_free(&inv);
	}
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
	free(text);
	return 0;
}
