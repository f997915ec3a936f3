/*
 * fuzz_inv_json.c - libFuzzer harness for the JSON inventory parser and
 * the JSON path locator, reconciliation and conversion to nodes
 * (providers/inv-json.c, providers/inventory.c).
 *
 * Build and run from the source tree, with a configured build in $B for
 * config.h:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iengine -I$B \
 *       tests/fuzz/fuzz_inv_json.c engine/?*.c providers/?*.c \
 *       $(pkg-config --cflags --libs jansson libuv libpcre2-8) -lm \
 *       -o fuzz_inv_json
 *   ./fuzz_inv_json -max_len=512 -timeout=20 -rss_limit_mb=3000 -max_total_time=60 \
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
	fuzz_inventory("fuzz.json", data, size);
	return 0;
}
