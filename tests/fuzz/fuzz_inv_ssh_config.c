/*
 * fuzz_inv_ssh_config.c - libFuzzer harness for the ssh_config inventory
 * source (providers/inv-ssh-config.c): line splitting with quotes and
 * '=', Host blocks and pattern matching, first-value-wins, %h expansion
 * and validation, then reconciliation and conversion to nodes.  HOME
 * points at a directory that does not exist, so an Include matches
 * nothing.
 *
 * Build and run from the source tree, with a configured build in $B:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iengine -I$B \
 *       tests/fuzz/fuzz_inv_ssh_config.c engine/?*.c providers/?*.c \
 *       $(pkg-config --cflags --libs jansson libuv libpcre2-8 yaml-0.1) -lm \
 *       -o fuzz_inv_ssh_config
 *   ./fuzz_inv_ssh_config -max_len=1024 -timeout=20 -rss_limit_mb=3000 \
 *       -max_total_time=30 tests/fixtures/inventory/ssh
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
	setenv("HOME", "/nonexistent-fuzz-home", 1);
	fuzz_inventory("ssh_config:fuzz", data, size);
	return 0;
}
