/*
 * fuzz_inv_terraform.c - libFuzzer harness for the Terraform state source
 * (providers/inv-terraform.c): resources and instances, attribute paths
 * in `attributes` and `attributes_flat`, names, tags to groups, and the
 * JSON locator for its messages; then reconciliation and nodes.
 *
 * Build and run from the source tree, with a configured build in $B:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iengine -I$B \
 *       tests/fuzz/fuzz_inv_terraform.c engine/?*.c providers/?*.c \
 *       $(pkg-config --cflags --libs jansson libuv libpcre2-8 yaml-0.1) -lm \
 *       -o fuzz_inv_terraform
 *   ./fuzz_inv_terraform -max_len=4096 -timeout=20 -rss_limit_mb=3000 \
 *       -max_total_time=30 tests/fixtures/inventory
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
	fuzz_inventory("terraform:fuzz.tfstate", data, size);
	return 0;
}
