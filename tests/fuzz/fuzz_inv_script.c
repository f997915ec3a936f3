/*
 * fuzz_inv_script.c - libFuzzer harness for the dynamic inventory script
 * source (providers/inv-script.c): the input is what a script printed for
 * `--list`, applied to an inventory as inv_parse_script() applies it
 * (groups as objects or lists, the simplified syntax, _meta.hostvars),
 * then reconciled and turned into nodes.  Running a process per input
 * would fuzz the shell, not the parser: the process handling is covered by
 * tests/unit/test_inventory.c (exit status, stderr, timeout, killing).
 *
 * Build and run from the source tree, with a configured build in $B:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iengine -I$B \
 *       tests/fuzz/fuzz_inv_script.c engine/?*.c providers/?*.c \
 *       $(pkg-config --cflags --libs jansson libuv libpcre2-8 yaml-0.1) -lm \
 *       -o fuzz_inv_script
 *   ./fuzz_inv_script -max_len=1024 -timeout=20 -rss_limit_mb=3000 \
 *       -max_total_time=30
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
	struct nx_err err;
	struct inventory inv;
	json_t *root;
	uint32_t *ask;
	size_t nask;

	root = json_loadb((const char *)data, size, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return 0;
	}
	inv_init(&inv);
	inv.warn = fuzz_quiet;
	inv.files = xmalloc(sizeof *inv.files);
	inv.files[0] = xstrdup("fuzz.sh");
	inv.nfiles = 1;
	inv.cur_file = inv.files[0];
	if (inv_script_apply(&inv, "fuzz.sh", root, &ask, &nask, &err) == 0) {
		if (json_object_get(root, "_meta") != NULL && nask != 0)
			abort();
		free(ask);
		fuzz_inventory_check(&inv);
	}
	inv_free(&inv);
	json_decref(root);
	return 0;
}
