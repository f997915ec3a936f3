/*
 * text.c - untrusted text made safe and measurable for the terminal.
 *
 * Node names, addresses, group names, check outputs and variables come from
 * inventories and remote hosts: they can carry any bytes, including escape
 * sequences that would retitle the terminal, write the clipboard (OSC 52),
 * move the cursor, or reorder what the operator reads (bidi overrides).
 * Everything the console draws goes through text_sanitize() first, which
 * turns such bytes into visible, inert ASCII:
 *
 *   C0 controls and DEL          ^@ .. ^_ and ^?  (ESC is ^[, TAB is ^I)
 *   C1 controls U+0080..U+009F   \x80 .. \x9f
 *   bytes that are not UTF-8     \xff (one escape per byte)
 *   bidi embeddings, overrides,  <U+202E>
 *   isolates and marks
 *
 * The result is valid UTF-8 with no control characters, so the column math
 * in text_fit() (wcwidth, under the current LC_CTYPE) can trust it.
 * Nothing here touches curses: the unit tests link it alone.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "tui.h"

/*
 * Decodes the UTF-8 sequence at s (at most len bytes, known to be valid) and
 * returns its length; the code point goes to *cp.
 */
static size_t
text_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	if (s[0] < 0x80 || len < 2) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xe0) {
		*cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
		return 2;
	}
	if (s[0] < 0xf0 || len < 4) {
		*cp = ((uint32_t)(s[0] & 0x0f) << 12) |
		    ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
		return 3;
	}
	*cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
	    ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
	return 4;
}

/* Whether cp is a bidi formatting character that can reorder a line. */
static int
text_is_bidi(uint32_t cp)
{
	return (cp >= 0x202a && cp <= 0x202e) ||	/* LRE RLE PDF LRO RLO */
	    (cp >= 0x2066 && cp <= 0x2069) ||		/* LRI RLI FSI PDI */
	    cp == 0x200e || cp == 0x200f ||		/* LRM RLM */
	    cp == 0x061c;				/* ALM */
}

/*
 * Makes srclen bytes of src safe to draw (see the top of the file) and
 * writes them NUL-terminated into dst, which has room for dstlen bytes.
 * src may hold NULs and need not be terminated.  When dst is too small the
 * output stops before the first piece that does not fit whole: an escape
 * like ^[ or <U+202E> or a UTF-8 sequence is never cut in two.  Returns the
 * number of bytes written, not counting the NUL (0 when dstlen is 0).
 */
size_t
text_sanitize(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, valid = 0, n;
	char esc[16];
	uint32_t cp;

	if (dstlen == 0)
		return 0;
	while (i < srclen) {
		const char *piece;

		if (valid == 0)
			valid = nx_utf8_valid_prefix(s + i, srclen - i);
		if (valid == 0) {
			/* An invalid byte: show it, then resynchronise. */
			snprintf(esc, sizeof esc, "\\x%02x", s[i]);
			piece = esc;
			n = 4;
			cp = 0;
			i++;
		} else {
			n = text_decode(s + i, valid, &cp);
			valid -= n;
			piece = (const char *)s + i;
			i += n;
			if (cp < 0x20 || cp == 0x7f) {
				esc[0] = '^';
				esc[1] = cp == 0x7f ? '?' : (char)(cp + 0x40);
				piece = esc;
				n = 2;
			} else if (cp >= 0x80 && cp <= 0x9f) {
				snprintf(esc, sizeof esc, "\\x%02x", cp);
				piece = esc;
				n = 4;
			} else if (text_is_bidi(cp)) {
				n = (size_t)snprintf(esc, sizeof esc, "<U+%04X>",
				    cp);
				piece = esc;
			}
		}
		if (o + n + 1 > dstlen)
			break;
		memcpy(dst + o, piece, n);
		o += n;
	}
	dst[o] = '\0';
	return o;
}

/*
 * The display width of one code point: wcwidth() under the current locale,
 * with what it cannot place (-1: unprintable, or not representable in a
 * non-UTF-8 locale) counted as the one column of the '?' that is drawn for
 * it instead.
 */
int
text_cp_width(uint32_t cp)
{
	int w;

	if (cp < 0x80)
		return 1;	/* controls never get here: they are escaped */
	if (MB_CUR_MAX == 1)
		return 1;
	w = wcwidth((wchar_t)cp);
	return w < 0 ? 1 : w;
}

/*
 * Walks already sanitised UTF-8 text s (len bytes) and returns how many of
 * its bytes fit in maxcols terminal columns, never splitting a character
 * (a double-width character that would straddle the edge is left out).  The
 * columns those bytes take go to *cols when cols is not NULL.  Zero-width
 * characters (combining marks) stay with the character before them.
 */
size_t
text_fit(const char *s, size_t len, int maxcols, int *cols)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	int used = 0, w;
	uint32_t cp;

	while (i < len) {
		n = text_decode(u + i, len - i, &cp);
		w = text_cp_width(cp);
		if (used + w > maxcols)
			break;
		used += w;
		i += n;
	}
	if (cols != NULL)
		*cols = used;
	return i;
}

/* The display width of sanitised UTF-8 text, as text_fit() counts it. */
int
text_width(const char *s, size_t len)
{
	int cols;

	text_fit(s, len, 1 << 30, &cols);
	return cols;
}

/*
 * Decodes one code point of sanitised UTF-8 text for the drawing code;
 * returns its length in bytes (1 or more; s must not be empty).
 */
size_t
text_next(const char *s, size_t len, uint32_t *cp)
{
	return text_decode((const unsigned char *)s, len, cp);
}
