/*
 * fuzz_config.c - libFuzzer harness for the configuration loader and the
 * JSON position scanner: whatever the bytes of a config file, loading it
 * must not crash, hang, leak or read out of bounds, must produce a
 * terminal-safe message on error, and a configuration that loads must
 * survive `config show --format json` and load back to the same values.
 *
 * Not part of `make check`; built by hand with clang, from the top of the
 * source tree after ./configure (config.h is in the build directory, here
 * ./build; use -I. for an in-tree build):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Ibuild -Iengine tests/fuzz/fuzz_config.c \
 *       $(ls engine/?*.c | grep -v -e store.c -e audit.c) providers/?*.c \
 *       $(pkg-config --cflags --libs jansson libuv libpcre2-8 yaml-0.1) \
 *       -lm -o build/fuzz_config
 *
 * (checks.define pulls in the check kinds, the target grammar and the
 * engine through engine/checks-config.c.)
 *   mkdir -p build/fuzz-corpus
 *   build/fuzz_config -max_total_time=120 -max_len=4096 build/fuzz-corpus
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
fuzz_visit(void *arg, const char *const *path, size_t depth,
    const struct jpos *key, size_t key_end, const struct jpos *value)
{
	size_t *n = arg;

	if (depth == 0 || depth > JPOS_MAX_DEPTH || path[depth - 1] == NULL ||
	    key->line < 1 || key->column < 1 || value->offset < key_end ||
	    key_end <= key->offset)
		abort();
	(*n)++;
	return 0;
}

/* Error messages go to terminals: no control characters, ever. */
static void
fuzz_check_message(const struct nx_err *err)
{
	const unsigned char *s = (const unsigned char *)err->msg;
	size_t i;

	if (memchr(err->msg, '\0', sizeof err->msg) == NULL || s[0] == '\0')
		abort();
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			abort();
	}
}

/* A loaded configuration dumps to JSON that loads back to itself. */
static void
fuzz_round_trip(const struct nx_config *cfg)
{
	struct nx_config again;
	struct nx_err err = { { 0 } };
	json_t *a = config_to_json(cfg), *b;
	char *text = json_dumps(a, NX_JSON_FLAGS);

	config_defaults(&again);
	if (text == NULL ||
	    config_load_buffer(&again, "again", text, strlen(text), &err) != 0)
		abort();
	b = config_to_json(&again);
	if (!json_equal(a, b))
		abort();
	json_decref(a);
	json_decref(b);
	free(text);
	config_free(&again);
}

/* A parsed duration formats to a string that parses to the same value. */
static void
fuzz_duration(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size < 64 ? size : 64), buf[64];
	uint64_t ms, back;

	if (config_parse_duration(s, &ms) == 0 && ms <= 1000000000000000ULL) {
		config_format_duration(ms, buf, sizeof buf);
		if (config_parse_duration(buf, &back) != 0 || back != ms)
			abort();
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const path[] = { "checks", "interval" };
	const char *text = (const char *)data;
	struct nx_config cfg;
	struct nx_err err = { { 0 } };
	struct jpos k, v;
	size_t n = 0;

	config_defaults(&cfg);
	if (config_load_buffer(&cfg, "fuzz.json", text, size, &err) == 0)
		fuzz_round_trip(&cfg);
	else
		fuzz_check_message(&err);
	config_free(&cfg);

	/* The scanner on text jansson may have refused. */
	jpos_walk(text, size, fuzz_visit, &n);
	if (jpos_find(text, size, path, 2, &k, &v) == 0 &&
	    (k.offset >= size || v.offset > size))
		abort();
	if (jpos_after_value(text, size, &k) == 0 && k.offset >= size)
		abort();
	fuzz_duration(data, size);
	return 0;
}
