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
	char *text = xmalloc(size + 1);

	/* Files are NUL-terminated by inv_load_file(); so is this. */
	memcpy(text, data, size);
	text[size] = '\0';
	setenv("HOME", "/nonexistent-fuzz-home", 1);
	inv_init(&inv);
	inv.warn = fuzz_quiet;
	if (inv_parse(&inv, "ssh_config:fuzz", text, size, &err) == 0 &&
	    inv_finish(&inv, &err) == 0) {
		fleet_init(&f);
		if (inv_to_fleet(&inv, &f, NULL, &err) == 0 &&
		    f.nnodes != inv.nhosts)
			abort();
		fleet_free(&f);
	}
	inv_free(&inv);
	free(text);
	return 0;
}
