/*
 * test_text.c - the console's sanitiser for untrusted text, and its column
 * math: nothing that could drive the terminal survives, everything else is
 * left alone, and truncation never cuts a character or an escape in two.
 */
#include "config.h"

#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tui/tui.h"

/* Sanitises a string literal (given with its length, NULs allowed). */
#define SAN(buf, lit) text_sanitize((buf), sizeof (buf), (lit), sizeof (lit) - 1)

/* No byte below 0x20, no DEL, no ESC, no C1 in UTF-8 form, valid UTF-8. */
static void
assert_inert(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, len = strlen(s);

	assert_int_equal(nx_utf8_valid_prefix(u, len), len);
	for (i = 0; i < len; i++) {
		assert_true(u[i] >= 0x20);
		assert_true(u[i] != 0x7f);
		/* C2 80..C2 9F is U+0080..U+009F. */
		if (u[i] == 0xc2 && i + 1 < len)
			assert_false(u[i + 1] >= 0x80 && u[i + 1] <= 0x9f);
	}
}

static void
test_plain_unchanged(void **state)
{
	char buf[128];
	static const char utf8[] = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac "
	    "\xf0\x9f\x98\x80 \xe2\x82\xac";	/* café 日本 😀 € */

	assert_int_equal(SAN(buf, "web00001.example.com"), 20);
	assert_string_equal(buf, "web00001.example.com");
	assert_int_equal(SAN(buf, utf8), sizeof utf8 - 1);
	assert_string_equal(buf, utf8);
	assert_int_equal(SAN(buf, ""), 0);
	assert_string_equal(buf, "");
}

static void
test_c0_and_del(void **state)
{
	char buf[128];

	SAN(buf, "a\tb\nc\rd\x7f" "e\x01");
	assert_string_equal(buf, "a^Ib^Jc^Md^?e^A");
	/* A NUL inside the input is shown, not a terminator. */
	assert_int_equal(SAN(buf, "x\0y"), 4);
	assert_string_equal(buf, "x^@y");
	assert_inert(buf);
}

static void
test_escape_sequences(void **state)
{
	char buf[256];

	/* CSI: colour, clear screen, cursor home. */
	SAN(buf, "\x1b[31mred\x1b[2J\x1b[H");
	assert_string_equal(buf, "^[[31mred^[[2J^[[H");
	assert_inert(buf);
	/* OSC 0: set the window title, BEL-terminated. */
	SAN(buf, "\x1b]0;x\x07");
	assert_string_equal(buf, "^[]0;x^G");
	assert_inert(buf);
	/* OSC 52: write the clipboard, ST-terminated. */
	SAN(buf, "\x1b]52;c;cm0gLXJmIH4=\x1b\\");
	assert_string_equal(buf, "^[]52;c;cm0gLXJmIH4=^[\\");
	assert_inert(buf);
	/* DCS passthrough as tmux understands it. */
	SAN(buf, "\x1bPtmux;\x1b\x1b]52;c;eA==\x07\x1b\\");
	assert_string_equal(buf, "^[Ptmux;^[^[]52;c;eA==^G^[\\");
	assert_inert(buf);
}

static void
test_c1(void **state)
{
	char buf[128];

	/* A raw 8-bit CSI byte is not UTF-8: shown as its byte. */
	SAN(buf, "a\x9b" "31mb");
	assert_string_equal(buf, "a\\x9b31mb");
	/* U+009B CSI and U+009D OSC encoded as UTF-8 are C1 controls too. */
	SAN(buf, "a\xc2\x9b" "31m\xc2\x9d" "0;t\xc2\x9c");
	assert_string_equal(buf, "a\\x9b31m\\x9d0;t\\x9c");
	assert_inert(buf);
	/* U+0080 and U+009F are the ends of the range; U+00A0 is not in it. */
	SAN(buf, "\xc2\x80\xc2\x9f\xc2\xa0");
	assert_string_equal(buf, "\\x80\\x9f\xc2\xa0");
}

static void
test_invalid_utf8(void **state)
{
	char buf[128];

	SAN(buf, "a\xff" "b\xfe");
	assert_string_equal(buf, "a\\xffb\\xfe");
	/* A lone continuation byte, a truncated sequence at the end. */
	SAN(buf, "\x80x\xe2\x82");
	assert_string_equal(buf, "\\x80x\\xe2\\x82");
	/* A truncated sequence followed by valid text resynchronises. */
	SAN(buf, "\xe2\x82z\xe2\x82\xac");
	assert_string_equal(buf, "\\xe2\\x82z\xe2\x82\xac");
	/* UTF-16 surrogate U+D800 and a code point past U+10FFFF. */
	SAN(buf, "\xed\xa0\x80|\xf4\x90\x80\x80");
	assert_string_equal(buf, "\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80");
	assert_inert(buf);
}

static void
test_overlong(void **state)
{
	char buf[128];

	/* Overlong '/' (C0 AF, E0 80 AF) and overlong ESC (C1 9B). */
	SAN(buf, "\xc0\xaf\xe0\x80\xaf\xc1\x9b");
	assert_string_equal(buf, "\\xc0\\xaf\\xe0\\x80\\xaf\\xc1\\x9b");
	/* Overlong NUL, the "modified UTF-8" C0 80. */
	SAN(buf, "\xc0\x80");
	assert_string_equal(buf, "\\xc0\\x80");
	/* Overlong four-byte form of U+FFFF. */
	SAN(buf, "\xf0\x8f\xbf\xbf");
	assert_string_equal(buf, "\\xf0\\x8f\\xbf\\xbf");
	assert_inert(buf);
}

static void
test_bidi(void **state)
{
	char buf[128];

	/* "txt.exe" disguised as "exe.txt" with RIGHT-TO-LEFT OVERRIDE. */
	SAN(buf, "invoice\xe2\x80\xaetxt.exe");
	assert_string_equal(buf, "invoice<U+202E>txt.exe");
	/* Every embedding/override and every isolate. */
	SAN(buf, "\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad");
	assert_string_equal(buf, "<U+202A><U+202B><U+202C><U+202D>");
	SAN(buf, "\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9");
	assert_string_equal(buf, "<U+2066><U+2067><U+2068><U+2069>");
	/* Neighbours of the ranges are ordinary characters. */
	SAN(buf, "\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa");
	assert_string_equal(buf, "\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa");
}

static void
test_truncation(void **state)
{
	char buf[8];
	char big[64];

	memset(big, 'x', sizeof big);
	/* 7 bytes and the NUL. */
	assert_int_equal(text_sanitize(buf, sizeof buf, big, sizeof big), 7);
	assert_string_equal(buf, "xxxxxxx");
	/* An escape that does not fit whole is left out, not cut. */
	assert_int_equal(text_sanitize(buf, sizeof buf, "abcdef\x1b", 7), 6);
	assert_string_equal(buf, "abcdef");
	assert_int_equal(text_sanitize(buf, sizeof buf, "abcde\x1b", 6), 7);
	assert_string_equal(buf, "abcde^[");
	assert_int_equal(text_sanitize(buf, sizeof buf, "abcd\xff", 5), 4);
	assert_string_equal(buf, "abcd");
	assert_int_equal(text_sanitize(buf, sizeof buf,
	    "a\xe2\x80\xae", 4), 1);
	assert_string_equal(buf, "a");
	/* A UTF-8 character that does not fit whole is left out too. */
	assert_int_equal(text_sanitize(buf, sizeof buf,
	    "abcde\xe6\x97\xa5", 8), 5);
	assert_string_equal(buf, "abcde");
	/* Exactly fitting. */
	assert_int_equal(text_sanitize(buf, sizeof buf, "abcd^[", 6), 6);
	assert_int_equal(text_sanitize(buf, 1, "abc", 3), 0);
	assert_string_equal(buf, "");
	/* dstlen 0 writes nothing at all. */
	buf[0] = 'Z';
	assert_int_equal(text_sanitize(buf, 0, "abc", 3), 0);
	assert_int_equal(buf[0], 'Z');
	/* srclen bounds the input: no terminator needed. */
	assert_int_equal(text_sanitize(buf, sizeof buf, "abcdef", 3), 3);
	assert_string_equal(buf, "abc");
}

/* Random bytes in, inert text out, and never past dstlen. */
static void
test_random_inert(void **state)
{
	unsigned char src[64];
	char dst[96];
	uint64_t x = 42;
	size_t i, n, k;

	for (k = 0; k < 20000; k++) {
		for (i = 0; i < sizeof src; i++) {
			x = nx_hash64(x);
			src[i] = (unsigned char)x;
		}
		memset(dst, 'Q', sizeof dst);
		n = text_sanitize(dst, 1 + k % sizeof dst, (const char *)src,
		    sizeof src);
		assert_true(n < 1 + k % sizeof dst);
		assert_int_equal(strlen(dst), n);
		assert_inert(dst);
	}
}

static void
test_width(void **state)
{
	static const char cjk[] = "\xe6\x97\xa5\xe6\x9c\xac";	/* 日本 */
	static const char comb[] = "e\xcc\x81x";		/* e + U+0301 + x */
	int cols;

	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		skip();
	assert_int_equal(text_width("abc", 3), 3);
	assert_int_equal(text_width(cjk, sizeof cjk - 1), 4);
	/* A double-width character that would straddle the edge stays out. */
	assert_int_equal(text_fit(cjk, sizeof cjk - 1, 3, &cols), 3);
	assert_int_equal(cols, 2);
	assert_int_equal(text_fit(cjk, sizeof cjk - 1, 1, &cols), 0);
	assert_int_equal(cols, 0);
	/* A combining mark takes no column and stays with its base. */
	assert_int_equal(text_width(comb, sizeof comb - 1), 2);
	assert_int_equal(text_fit(comb, sizeof comb - 1, 1, &cols), 3);
	assert_int_equal(cols, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_unchanged),
		cmocka_unit_test(test_c0_and_del),
		cmocka_unit_test(test_escape_sequences),
		cmocka_unit_test(test_c1),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_bidi),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_random_inert),
		cmocka_unit_test(test_width),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
