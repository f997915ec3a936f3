/*
 * fuzz_inv_yaml.c - libFuzzer harness for the Ansible YAML inventory
 * parser (providers/inv-ansible-yaml.c): libyaml events to a tree,
 * anchors and aliases, merge keys, scalar typing, groups and host ranges,
 * then reconciliation and conversion to nodes (providers/inventory.c).
 *
 * Build and run from the source tree, with a configured build in $B for
 * config.h:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iengine -I$B \
 *       tests/fuzz/fuzz_inv_yaml.c engine/?*.c providers/?*.c \
 *       $(pkg-config --cflags --libs jansson libuv libpcre2-8 yaml-0.1) -lm \
 *       -o fuzz_inv_yaml
 *   ./fuzz_inv_yaml -max_len=1024 -timeout=20 -rss_limit_mb=3000 \
 *       -max_total_time=30 tests/fixtures/inventory
 *
 * Any input must end in an error or a consistent inventory, never a
 * crash, a leak or a blow-up through aliases.
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
	fuzz_inventory("fuzz.yml", data, size);
	return 0;
}
