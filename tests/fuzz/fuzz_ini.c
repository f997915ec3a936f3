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
#include "fuzz-inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	json_t *v;

	fuzz_inventory("fuzz.ini", data, size);
	/* The whole input as one value, as a [g:vars] line would give it. */
	s = xstrndup((const char *)data, size);
	v = inv_ini_value(s);
	if (v == NULL)
		abort();
	json_decref(v);
	free(s);
	return 0;
}
