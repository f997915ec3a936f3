/*
 * fuzz_ini.c - libFuzzer harness for the Ansible INI inventory parser,
 * its Python-literal values, reconciliation and conversion to nodes
 * (providers/inv-ansible-ini.c, providers/inventory.c).
 *
 * Build and run from the source tree, with a configured build in $B for
 * config.h:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iengine -I$B \
 *       tests/fuzz/fuzz_ini.c engine/?*.c providers/?*.c \
 *       $(pkg-config --cflags --libs jansson libuv libpcre2-8) -lm \
 *       -o fuzz_ini
 *   ./fuzz_ini -max_len=512 -timeout=20 -rss_limit_mb=3000 -max_total_time=60 \
 *       tests/fixtures/inventory
 *
 * The fixtures make a good seed corpus.  Any input must end in an error
 * or a consistent inventory, never a crash or a leak.
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nx_err err;
	struct inventory inv;
	struct fleet f;
	char *s;
	json_t *v;
	size_t i;

	inv_init(&inv);
	inv.warn = fuzz_quiet;
	if (inv_parse(&inv, "fuzz.ini", (const char *)data, size,
	    &err) == 0 && inv_finish(&inv, &err) == 0) {
		fleet_init(&f);
		if (inv_to_fleet(&inv, &f, NULL, &err) == 0 &&
		    f.nnodes != inv.nhosts)
			abort();
		for (i = 0; i < inv.nhosts && i < 16; i++) {
			v = inv_host_vars(&inv, (uint32_t)i);
			json_decref(v);
		}
		fleet_free(&f);
	}
	inv_free(&inv);
	/* The whole input as one value, as a [g:vars] line would give it. */
	s = xstrndup((const char *)data, size);
	v = inv_ini_value(s);
	if (v == NULL)
		abort();
	json_decref(v);
	free(s);
	return 0;
}
