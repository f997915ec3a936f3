/*
 * fuzz_target.c - libFuzzer harness for the target grammar, hostlist
 * expansion and compression (engine/target.c).
 *
 * Build and run from the source tree, with a configured build in $B for
 * config.h:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iengine -I$B \
 *       tests/fuzz/fuzz_target.c engine/?*.c providers/?*.c \
 *       $(pkg-config --cflags --libs jansson libuv libpcre2-8) -lm \
 *       -o fuzz_target
 *   ./fuzz_target -max_len=256 -timeout=20 -rss_limit_mb=3000 -max_total_time=60
 *
 * Every input is a target expression and a hostlist; whatever it is, the
 * parsers must return an error or a result, never crash or leak, and a
 * compressed hostlist must expand back to the same number of names.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct fleet *
fuzz_fleet(void)
{
	static struct fleet f;
	static int ready;
	static const char *names[] = { "web01", "web02", "db1", "lb",
	    "10.0.0.1", "fe80::1", "x" };
	size_t i;

	if (ready)
		return &f;
	fleet_init(&f);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct node *n = fleet_add_node(&f, names[i], NULL, NULL);

		node_add_group(&f, n, i < 2 ? "web" : "other");
		n->vars = json_pack("{s:s, s:i, s:[s]}", "env", "prod", "n",
		    (int)i, "tags", "a");
	}
	ready = 1;
	return &f;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nx_err err;
	struct nx_target *t;
	char *s = xstrndup((const char *)data, size), **names, *c, **back;
	size_t n, nback;
	uint32_t *ids;

	if ((t = target_parse(s, &err)) != NULL) {
		target_select(t, fuzz_fleet(), &ids, &n);
		free(ids);
		target_free(t);
	}
	if (hostlist_expand(s, &names, &n, &err) == 0) {
		if (n <= 10000) {
			c = hostlist_compress((const char **)names, n);
			if (hostlist_expand(c, &back, &nback, &err) == 0)
				range_free(back, nback);
			else if (n > 0)
				abort();        /* compress made a bad hostlist */
			free(c);
		}
		range_free(names, n);
	}
	free(s);
	return 0;
}
