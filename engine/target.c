/*
 * target.c - the one selection grammar of `-t TARGET` and the console
 * filter, hostlist expansion (pdsh and Ansible ranges), and its reverse.
 *
 * A target is a list of patterns:
 *
 *   target   := item ( ( ',' | <before '&' or '!'> ) item )*
 *   item     := [ '&' | '!' ] pattern
 *   pattern  := 'all' | '*'                  every node
 *             | '@' names                    members of a group (direct or
 *                                            through a child group)
 *             | '/' regex '/'                node names, PCRE2, caseless
 *             | key '=' value                a node variable equals value
 *             | names                        node names, exact
 *   names    := ( literal | '[' range ']' )+ literal: [A-Za-z0-9._:-], and
 *                                            '*' '?' as globs in targets
 *   range    := pdsh:    item (',' item)*, item := N | N-M   ([01-50], [1,3,5-7])
 *             | Ansible: beg:end[:step]                      ([01:50], [a:f], [1:10:2])
 *
 * Set operations follow Ansible's order whatever the order in the text:
 * first the union of the plain patterns (all nodes when there is none),
 * then every '&' pattern intersects, then every '!' pattern excludes.  So
 * `@web,!web03` is the web group without web03 and `@web&@fra1` the web
 * nodes in fra1.  Spaces around separators are ignored.
 *
 * A name with one ':' outside brackets is refused: it is Ansible's old
 * separator (`web:&prod`) and would otherwise match nothing silently; IPv6
 * names (two or more colons) are fine.
 *
 * Zero padding: a range whose first bound has a leading zero pads every
 * number to that width ([01-10] gives 01..10); Ansible's form also wants
 * the end as wide as the beginning, as Ansible does.  A range whose end is
 * before its beginning is an error here (Ansible silently yields nothing).
 *
 * key=value compares with the variable's JSON value: strings exactly,
 * numbers by value, booleans as true/false, null as null/none (both any
 * case), and a list matches when one of its elements does.  A value runs
 * to the next ',', '&', '!' or space.
 */
#include "config.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "engine.h"

enum term_kind {
	TERM_ALL,
	TERM_NAMES,             /* exact names, sorted, unique */
	TERM_GLOBS,             /* fnmatch patterns */
	TERM_GROUPS,            /* group names or globs */
	TERM_VAR,
	TERM_REGEX,
};

enum term_op {
	OP_UNION,
	OP_AND,
	OP_NOT,
};

struct term {
	enum term_kind kind;
	enum term_op op;
	char **names;
	size_t nnames;
	char *key, *value;
	pcre2_code *re;
	pcre2_match_data *md;   /* for target_match(), made with re */
};

struct nx_target {
	struct term *terms;
	size_t nterms;
};

/* A growable vector of owned strings. */
struct strv {
	char **v;
	size_t n, cap;
};

static void
strv_push(struct strv *sv, char *s)
{
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = xreallocarray(sv->v, sv->cap, sizeof *sv->v);
	}
	sv->v[sv->n++] = s;
}

static void
strv_clear(struct strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof *sv);
}

static bool
range_literal_char(int c, bool allow_glob)
{
	return isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':' ||
	    (allow_glob && (c == '*' || c == '?'));
}

static const char ascii_letters[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Parses a decimal bound of at most 18 digits; -1 if it is anything else. */
static int
hostlist_number(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	if (len == 0 || len > 18)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static bool
range_is_letter(const char *s, size_t len)
{
	return len == 1 && isalpha((unsigned char)s[0]);
}

/*
 * Appends the numbers beg..end (by step) to alts, each zero-padded to
 * width.  The caller has checked the count against the budget.
 */
static void
range_push_numbers(struct strv *alts, unsigned long long beg,
    unsigned long long end, unsigned long long step, int width)
{
	unsigned long long v;
	char *s;

	for (v = beg; v <= end; v += step) {
		xasprintf(&s, "%0*llu", width, v);
		strv_push(alts, s);
		if (end - v < step)
			break;
	}
}

static void
range_push_letters(struct strv *alts, size_t beg, size_t end, size_t step)
{
	size_t i;

	for (i = beg; i <= end; i += step)
		strv_push(alts, xstrndup(&ascii_letters[i], 1));
}

/*
 * One bound pair lo..hi of a range (each a number or a single letter),
 * appended to alts.  `ansible` selects Ansible's rules (begin may be empty
 * for 0, equal-width bounds when zero-padded).  col is the column of lo.
 * Returns 0, or -1 with err set.
 */
static int
range_pair(const char *lo, size_t lolen, const char *hi, size_t hilen,
    unsigned long long step, bool ansible, unsigned col, size_t budget,
    struct strv *alts, struct nx_err *err)
{
	unsigned long long b, e, count;
	int width = 0;

	if (ansible && lolen == 0) {
		lo = "0";
		lolen = 1;
	}
	if (hilen == 0) {
		nx_err_set(err, "column %u: range has no end", col);
		return -1;
	}
	if (range_is_letter(lo, lolen) && range_is_letter(hi, hilen)) {
		size_t bi = (size_t)(strchr(ascii_letters, lo[0]) - ascii_letters);
		size_t ei = (size_t)(strchr(ascii_letters, hi[0]) - ascii_letters);

		if (bi > ei) {
			nx_err_set(err, "column %u: range '%c' to '%c' runs "
			    "backwards", col, lo[0], hi[0]);
			return -1;
		}
		range_push_letters(alts, bi, ei, (size_t)step);
		return 0;
	}
	if (hostlist_number(lo, lolen, &b) != 0) {
		nx_err_set(err, "column %u: range bound '%.*s' is not a number "
		    "or a single letter", col, (int)lolen, lo);
		return -1;
	}
	if (hostlist_number(hi, hilen, &e) != 0) {
		nx_err_set(err, "column %u: range bound '%.*s' is not a number "
		    "or a single letter", col, (int)hilen, hi);
		return -1;
	}
	if (lo[0] == '0' && lolen > 1) {
		width = (int)lolen;
		if (ansible && hilen != lolen) {
			nx_err_set(err, "column %u: zero-padded range '%.*s:%.*s' "
			    "wants begin and end of the same width", col,
			    (int)lolen, lo, (int)hilen, hi);
			return -1;
		}
	}
	if (b > e) {
		nx_err_set(err, "column %u: range %llu to %llu runs backwards",
		    col, b, e);
		return -1;
	}
	count = (e - b) / step + 1;
	if (count > budget) {
		nx_err_set(err, "column %u: range expands to more than %d names",
		    col, NX_RANGE_MAX);
		return -1;
	}
	range_push_numbers(alts, b, e, step, width);
	return 0;
}

/*
 * The inside of one bracket, s[0..len), whose first character is at
 * column col: Ansible's beg:end[:step] when it holds a ':', else pdsh's
 * comma list of N and N-M.  Appends the alternatives to alts.
 */
static int
range_bracket(const char *s, size_t len, unsigned col, size_t budget,
    struct strv *alts, struct nx_err *err)
{
	const char *c1, *c2, *end = s + len;
	unsigned long long step = 1;

	if (len == 0) {
		nx_err_set(err, "column %u: empty range '[]'", col - 1);
		return -1;
	}
	if ((c1 = memchr(s, ':', len)) != NULL) {
		c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
		if (c2 != NULL && memchr(c2 + 1, ':', (size_t)(end - c2 - 1))) {
			nx_err_set(err, "column %u: range wants begin:end or "
			    "begin:end:step", col);
			return -1;
		}
		if (c2 != NULL && (hostlist_number(c2 + 1, (size_t)(end - c2 - 1),
		    &step) != 0 || step == 0)) {
			nx_err_set(err, "column %u: range step '%.*s' is not a "
			    "positive number", col + (unsigned)(c2 + 1 - s),
			    (int)(end - c2 - 1), c2 + 1);
			return -1;
		}
		return range_pair(s, (size_t)(c1 - s), c1 + 1,
		    (size_t)((c2 ? c2 : end) - c1 - 1), step, true, col, budget,
		    alts, err);
	}
	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *item_end = comma ? comma : end;
		const char *dash = memchr(s, '-', (size_t)(item_end - s));
		size_t before = alts->n;

		if (item_end == s) {
			nx_err_set(err, "column %u: empty item in range list", col);
			return -1;
		}
		if (dash == NULL) {
			if (range_pair(s, (size_t)(item_end - s), s,
			    (size_t)(item_end - s), 1, false, col, budget, alts,
			    err) != 0)
				return -1;
		} else if (range_pair(s, (size_t)(dash - s), dash + 1,
		    (size_t)(item_end - dash - 1), 1, false, col, budget, alts,
		    err) != 0)
			return -1;
		if (alts->n - before > budget) {
			nx_err_set(err, "column %u: range expands to more than "
			    "%d names", col, NX_RANGE_MAX);
			return -1;
		}
		budget -= alts->n - before;
		col += (unsigned)(item_end - s) + 1;
		s = item_end + (comma ? 1 : 0);
		if (comma != NULL && s == end) {
			nx_err_set(err, "column %u: empty item in range list",
			    col);
			return -1;
		}
	}
	return 0;
}

/*
 * Expands one pattern s[0..len) (no top-level commas), whose first
 * character is at column col, appending every name to out in order (the
 * leftmost range varies slowest, as pdsh and Ansible do).  *used counts
 * names against NX_RANGE_MAX across a whole hostlist.
 */
static int
range_expand_one(const char *s, size_t len, unsigned col, bool allow_glob,
    size_t *used, struct strv *out, struct nx_err *err)
{
	struct strv cur = { 0 }, alts = { 0 }, next;
	size_t i = 0, k, a, count = 1, budget = NX_RANGE_MAX - *used;
	int rc = -1;

	if (len == 0) {
		nx_err_set(err, "column %u: empty name", col);
		return -1;
	}
	strv_push(&cur, xstrdup(""));
	while (i < len) {
		size_t start = i;

		if (s[i] == '[') {
			const char *close = memchr(s + i, ']', len - i);
			const char *open2;

			if (close == NULL) {
				nx_err_set(err, "column %u: unterminated '['",
				    col + (unsigned)i);
				goto out;
			}
			open2 = memchr(s + i + 1, '[', (size_t)(close - s - i - 1));
			if (open2 != NULL) {
				nx_err_set(err, "column %u: '[' inside a range",
				    col + (unsigned)(open2 - s));
				goto out;
			}
			if (range_bracket(s + i + 1, (size_t)(close - s - i - 1),
			    col + (unsigned)i + 1, budget, &alts, err) != 0)
				goto out;
			i = (size_t)(close - s) + 1;
		} else if (s[i] == ']') {
			nx_err_set(err, "column %u: ']' without '['",
			    col + (unsigned)i);
			goto out;
		} else {
			while (i < len && s[i] != '[' && s[i] != ']') {
				if (!range_literal_char((unsigned char)s[i],
				    allow_glob)) {
					nx_err_set(err, "column %u: '%c' is not "
					    "allowed in a name", col + (unsigned)i,
					    isprint((unsigned char)s[i]) ? s[i] :
					    '?');
					goto out;
				}
				i++;
			}
			strv_push(&alts, xstrndup(s + start, i - start));
		}
		if (alts.n > budget / count) {
			nx_err_set(err, "column %u: pattern expands to more than "
			    "%d names", col, NX_RANGE_MAX);
			goto out;
		}
		count *= alts.n;
		memset(&next, 0, sizeof next);
		for (k = 0; k < cur.n; k++) {
			for (a = 0; a < alts.n; a++) {
				char *name;

				xasprintf(&name, "%s%s", cur.v[k], alts.v[a]);
				strv_push(&next, name);
			}
		}
		strv_clear(&cur);
		strv_clear(&alts);
		cur = next;
	}
	for (k = 0; k < cur.n; k++) {
		strv_push(out, cur.v[k]);
		cur.v[k] = NULL;
	}
	*used += cur.n;
	rc = 0;
out:
	strv_clear(&cur);
	strv_clear(&alts);
	return rc;
}

/*
 * Expands a pdsh-style hostlist: comma-separated patterns, each with any
 * number of pdsh or Ansible ranges.  On success *names is a new array of n
 * new strings in expansion order (duplicates kept), to be freed with
 * range_free().  Refuses more than NX_RANGE_MAX names.  Returns 0, or -1
 * with err naming the column.
 */
int
hostlist_expand(const char *pattern, char ***names, size_t *n, struct nx_err *err)
{
	struct strv out = { 0 };
	size_t len = strlen(pattern), i = 0, used = 0;

	*names = NULL;
	*n = 0;
	while (i <= len) {
		size_t j = i;
		int depth = 0;

		while (j < len && (depth > 0 || pattern[j] != ',')) {
			if (pattern[j] == '[')
				depth++;
			else if (pattern[j] == ']' && depth > 0)
				depth--;
			j++;
		}
		if (range_expand_one(pattern + i, j - i, (unsigned)i + 1, false,
		    &used, &out, err) != 0) {
			strv_clear(&out);
			return -1;
		}
		i = j + 1;
	}
	*names = out.v;
	*n = out.n;
	return 0;
}

void
range_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---------------------------------------------------------------------- */
/* hostlist_compress                                                       */

struct hl_item {
	const char *name;
	size_t pre, dlen;       /* prefix length, digit run length */
	unsigned long long num;
	int width;              /* 0 natural, else zero-padded width */
	size_t group;           /* index of its group; SIZE_MAX = literal */
	size_t order;
};

static int
hl_cmp(const void *a, const void *b)
{
	const struct hl_item *x = a, *y = b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	return 0;
}

static bool
hl_same_key(const struct hl_item *a, const struct hl_item *b)
{
	return a->pre == b->pre && strncmp(a->name, b->name, a->pre) == 0 &&
	    strcmp(a->name + a->pre + a->dlen, b->name + b->pre + b->dlen) == 0;
}

/* FNV-1a of what hl_same_key compares, and the width. */
static size_t
hl_key_hash(const struct hl_item *a)
{
	const unsigned char *p = (const unsigned char *)a->name;
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < a->pre; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (p += a->pre + a->dlen; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ (uint64_t)(unsigned)a->width) * 1099511628211ULL;
	return (size_t)h;
}

static void
hl_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/*
 * The reverse of hostlist_expand() for display, like pdsh's dshbak -c:
 * names that differ only in their last number are folded into one
 * pdsh range (web01, web02, web03, web07 -> web[01-03,07]); zero-padded
 * numbers fold only with numbers of the same width.  Groups come out in
 * the order of their first name; duplicates are folded.  Returns a new
 * string (empty for n = 0).
 */
char *
hostlist_compress(const char **names, size_t n)
{
	struct hl_item *it = xcalloc(n ? n : 1, sizeof *it);
	size_t i, j, ngroups = 0, len = 0, cap = 64;
	char *buf = xmalloc(cap), tmp[64];

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *s = names[i];
		size_t l = strlen(s), e = l, b;

		it[i].name = s;
		it[i].order = i;
		it[i].group = SIZE_MAX;
		while (e > 0 && !isdigit((unsigned char)s[e - 1]))
			e--;
		b = e;
		while (b > 0 && isdigit((unsigned char)s[b - 1]))
			b--;
		if (e == 0 || e - b > 18)
			continue;
		it[i].pre = b;
		it[i].dlen = e - b;
		hostlist_number(s + b, e - b, &it[i].num);
		it[i].width = s[b] == '0' && e - b > 1 ? (int)(e - b) : 0;
	}
	/* A natural number joins a padded group of its own width (only the
	 * padded names are scanned: none in a list of addresses). */
	{
		size_t *padded = xcalloc(n ? n : 1, sizeof *padded), np = 0, k;

		for (i = 0; i < n; i++) {
			if (it[i].width != 0)
				padded[np++] = i;
		}
		for (i = 0; i < n && np > 0; i++) {
			if (it[i].dlen == 0 || it[i].width != 0)
				continue;
			for (k = 0; k < np; k++) {
				j = padded[k];
				if (it[j].width == (int)it[i].dlen &&
				    hl_same_key(&it[i], &it[j])) {
					it[i].width = it[j].width;
					break;
				}
			}
		}
		free(padded);
	}
	/*
	 * Group: first item with the same key and width names the group,
	 * found through a hash of (prefix, suffix, width) so that thousands
	 * of names in many groups stay linear.
	 */
	{
		size_t nslots = 16, *slots, h;

		while (nslots < 2 * n)
			nslots *= 2;
		slots = xcalloc(nslots, sizeof *slots);   /* item + 1; 0 empty */
		for (i = 0; i < n; i++) {
			if (it[i].dlen == 0)
				continue;
			h = hl_key_hash(&it[i]) & (nslots - 1);
			for (;; h = (h + 1) & (nslots - 1)) {
				if (slots[h] == 0) {
					slots[h] = i + 1;
					it[i].group = ngroups++;
					break;
				}
				j = slots[h] - 1;
				if (it[j].width == it[i].width &&
				    hl_same_key(&it[i], &it[j])) {
					it[i].group = it[j].group;
					break;
				}
			}
		}
		free(slots);
	}
	/* Literals: one group per distinct name. */
	for (i = 0; i < n; i++) {
		if (it[i].dlen != 0)
			continue;
		for (j = 0; j < i; j++) {
			if (it[j].dlen == 0 && strcmp(it[j].name, it[i].name) == 0)
				break;
		}
		it[i].group = j < i ? it[j].group : ngroups++;
	}
	/* Renumber groups by first appearance so output keeps input order. */
	{
		size_t *first = xcalloc(ngroups ? ngroups : 1, sizeof *first);
		size_t *rank = xcalloc(ngroups ? ngroups : 1, sizeof *rank);
		size_t g, r = 0;

		for (g = 0; g < ngroups; g++)
			first[g] = SIZE_MAX;
		for (i = 0; i < n; i++) {
			if (first[it[i].group] == SIZE_MAX) {
				first[it[i].group] = i;
				rank[it[i].group] = r++;
			}
		}
		for (i = 0; i < n; i++)
			it[i].group = rank[it[i].group];
		free(first);
		free(rank);
	}
	qsort(it, n, sizeof *it, hl_cmp);
	for (i = 0; i < n; i = j) {
		const struct hl_item *h = &it[i];
		size_t k, nums = 0;

		for (j = i; j < n && it[j].group == h->group; j++) {
			if (j == i || it[j].num != it[j - 1].num)
				nums++;
		}
		if (len > 0)
			hl_append(&buf, &len, &cap, ",", 1);
		if (h->dlen == 0 || nums == 1) {
			hl_append(&buf, &len, &cap, h->name, strlen(h->name));
			continue;
		}
		hl_append(&buf, &len, &cap, h->name, h->pre);
		hl_append(&buf, &len, &cap, "[", 1);
		for (k = i; k < j;) {
			size_t m = k;

			while (m + 1 < j && (it[m + 1].num == it[m].num ||
			    it[m + 1].num == it[m].num + 1))
				m++;
			snprintf(tmp, sizeof tmp, "%s%0*llu", k > i ? "," : "",
			    h->width, it[k].num);
			hl_append(&buf, &len, &cap, tmp, strlen(tmp));
			if (it[m].num != it[k].num) {
				snprintf(tmp, sizeof tmp, "-%0*llu", h->width,
				    it[m].num);
				hl_append(&buf, &len, &cap, tmp, strlen(tmp));
			}
			k = m + 1;
		}
		hl_append(&buf, &len, &cap, "]", 1);
		hl_append(&buf, &len, &cap, h->name + h->pre + h->dlen,
		    strlen(h->name + h->pre + h->dlen));
	}
	free(it);
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Target expressions                                                      */

static void
term_clear(struct term *t)
{
	size_t i;

	for (i = 0; i < t->nnames; i++)
		free(t->names[i]);
	free(t->names);
	free(t->key);
	free(t->value);
	if (t->md != NULL)
		pcre2_match_data_free(t->md);
	if (t->re != NULL)
		pcre2_code_free(t->re);
}

void
target_free(struct nx_target *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nterms; i++)
		term_clear(&t->terms[i]);
	free(t->terms);
	free(t);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
target_sep(int c)
{
	return c == ',' || c == '&' || c == '!' || c == ' ' || c == '\t';
}

/* A /regex/ starting at s[i] == '/'; *end is past the closing '/'. */
static int
target_regex(struct term *t, const char *s, size_t len, size_t i,
    size_t *end, struct nx_err *err)
{
	size_t j = i + 1, errofs;
	int errcode;
	char *re;

	while (j < len && s[j] != '/') {
		if (s[j] == '\\' && j + 1 < len)
			j++;
		j++;
	}
	if (j >= len) {
		nx_err_set(err, "column %zu: unterminated /regex/ (no closing "
		    "'/')", i + 1);
		return -1;
	}
	if (j == i + 1) {
		nx_err_set(err, "column %zu: empty /regex/", i + 1);
		return -1;
	}
	re = xstrndup(s + i + 1, j - i - 1);
	t->kind = TERM_REGEX;
	t->re = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
	    PCRE2_CASELESS, &errcode, &errofs, NULL);
	free(re);
	if (t->re == NULL) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(errcode, msg, sizeof msg);
		nx_err_set(err, "column %zu: bad regex: %s", i + 2 + errofs,
		    (const char *)msg);
		return -1;
	}
	t->md = pcre2_match_data_create_from_pattern(t->re, NULL);
	*end = j + 1;
	return 0;
}

/* Expands names or globs s[i..j) into the term. */
static int
target_names(struct term *t, const char *s, size_t i, size_t j,
    struct nx_err *err)
{
	struct strv out = { 0 };
	size_t used = 0, k, w;
	bool glob = false;

	if (range_expand_one(s + i, j - i, (unsigned)i + 1, true, &used, &out,
	    err) != 0)
		return -1;
	for (k = 0; k < out.n; k++) {
		if (strpbrk(out.v[k], "*?") != NULL)
			glob = true;
	}
	if (t->kind == TERM_NAMES && !glob) {
		qsort(out.v, out.n, sizeof *out.v, cmp_str);
		for (k = 0, w = 0; k < out.n; k++) {
			if (w > 0 && strcmp(out.v[w - 1], out.v[k]) == 0)
				free(out.v[k]);
			else
				out.v[w++] = out.v[k];
		}
		out.n = w;
	} else if (t->kind == TERM_NAMES)
		t->kind = TERM_GLOBS;
	t->names = out.v;
	t->nnames = out.n;
	return 0;
}

/* One pattern starting at s[i]; *end is the first character after it. */
static int
target_term(struct term *t, const char *s, size_t len, size_t i,
    size_t *end, struct nx_err *err)
{
	size_t j, eq = SIZE_MAX, k;
	bool group = s[i] == '@';
	int depth = 0;

	if (s[i] == '/')
		return target_regex(t, s, len, i, end, err);
	if (group)
		i++;
	for (j = i; j < len && (depth > 0 || !target_sep((unsigned char)s[j]));
	    j++) {
		if (s[j] == '[')
			depth++;
		else if (s[j] == ']' && depth > 0)
			depth--;
		else if (s[j] == '=' && depth == 0 && !group) {
			eq = j;
			break;
		}
	}
	if (group) {
		if (j == i) {
			nx_err_set(err, "column %zu: '@' wants a group name", i);
			return -1;
		}
		t->kind = TERM_GROUPS;
		*end = j;
		return target_names(t, s, i, j, err);
	}
	if (eq != SIZE_MAX) {
		if (eq == i) {
			nx_err_set(err, "column %zu: '=' wants a variable name "
			    "before it", i + 1);
			return -1;
		}
		for (k = i; k < eq; k++) {
			if (!isalnum((unsigned char)s[k]) && s[k] != '_' &&
			    s[k] != '.' && s[k] != '-') {
				nx_err_set(err, "column %zu: '%c' is not allowed "
				    "in a variable name", k + 1, s[k]);
				return -1;
			}
		}
		for (j = eq + 1; j < len && !target_sep((unsigned char)s[j]); j++)
			;
		t->kind = TERM_VAR;
		t->key = xstrndup(s + i, eq - i);
		t->value = xstrndup(s + eq + 1, j - eq - 1);
		*end = j;
		return 0;
	}
	*end = j;
	{
		/* One ':' outside brackets is Ansible's old separator. */
		size_t colons = 0, at = 0;

		depth = 0;
		for (k = i; k < j; k++) {
			if (s[k] == '[')
				depth++;
			else if (s[k] == ']' && depth > 0)
				depth--;
			else if (s[k] == ':' && depth == 0) {
				colons++;
				at = k;
			}
		}
		if (colons == 1) {
			nx_err_set(err, "column %zu: ':' between patterns is "
			    "Ansible's old separator; use ',' (and ',&' or ',!')",
			    at + 1);
			return -1;
		}
	}
	if ((j - i == 3 && strncmp(s + i, "all", 3) == 0) ||
	    (j - i == 1 && s[i] == '*')) {
		t->kind = TERM_ALL;
		return 0;
	}
	t->kind = TERM_NAMES;
	return target_names(t, s, i, j, err);
}

/*
 * Parses a target expression (grammar at the top of this file).  Returns
 * a new target to free with target_free(), or NULL with err naming the
 * column (1-based) and what is wrong.
 */
struct nx_target *
target_parse(const char *s, struct nx_err *err)
{
	struct nx_target *t = xcalloc(1, sizeof *t);
	size_t len = strlen(s), i = 0, cap = 0, last_sep = 0;
	enum term_op op = OP_UNION;
	bool expect = true, prefixed = false;

	for (;;) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i >= len)
			break;
		if (expect) {
			struct term *tm;
			size_t end;

			if (s[i] == '&' || s[i] == '!') {
				if (prefixed) {
					nx_err_set(err, "column %zu: '%c' after "
					    "'%c' wants a pattern between them",
					    i + 1, s[i], s[last_sep]);
					goto fail;
				}
				op = s[i] == '&' ? OP_AND : OP_NOT;
				prefixed = true;
				last_sep = i++;
				continue;
			}
			if (s[i] == ',') {
				nx_err_set(err, "column %zu: empty pattern before "
				    "','", i + 1);
				goto fail;
			}
			if (t->nterms == cap) {
				cap = cap ? cap * 2 : 4;
				t->terms = xreallocarray(t->terms, cap,
				    sizeof *t->terms);
			}
			tm = &t->terms[t->nterms++];
			memset(tm, 0, sizeof *tm);
			tm->op = op;
			if (target_term(tm, s, len, i, &end, err) != 0)
				goto fail;
			i = end;
			expect = false;
			prefixed = false;
			op = OP_UNION;
			continue;
		}
		if (s[i] == ',') {
			last_sep = i++;
			expect = true;
		} else if (s[i] == '&' || s[i] == '!')
			expect = true;
		else {
			nx_err_set(err, "column %zu: '%c' here wants ',', '&' or "
			    "'!' between patterns", i + 1,
			    isprint((unsigned char)s[i]) ? s[i] : '?');
			goto fail;
		}
	}
	if (t->nterms == 0 && !prefixed) {
		nx_err_set(err, "column 1: empty target");
		goto fail;
	}
	if (expect) {
		nx_err_set(err, "column %zu: missing pattern after '%c'",
		    len + 1, s[last_sep]);
		goto fail;
	}
	return t;
fail:
	target_free(t);
	return NULL;
}

static bool
target_value_match(const json_t *v, const char *want)
{
	char buf[64];
	size_t i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strcmp(json_string_value(v), want) == 0;
	case JSON_INTEGER:
		snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return strcmp(buf, want) == 0;
	case JSON_REAL: {
		char *end;
		double d = strtod(want, &end);

		return *want != '\0' && *end == '\0' && d == json_real_value(v);
	}
	case JSON_TRUE:
		return strcasecmp(want, "true") == 0;
	case JSON_FALSE:
		return strcasecmp(want, "false") == 0;
	case JSON_NULL:
		return strcasecmp(want, "null") == 0 ||
		    strcasecmp(want, "none") == 0;
	case JSON_ARRAY:
		for (i = 0; i < json_array_size(v); i++) {
			if (target_value_match(json_array_get(v, i), want))
				return true;
		}
		return false;
	default:
		return false;
	}
}

static bool
target_any_name(const struct term *t, const char *s)
{
	size_t i;

	for (i = 0; i < t->nnames; i++) {
		if (fnmatch(t->names[i], s, 0) == 0)
			return true;
	}
	return false;
}

/* Sets m[i] to whether node i matches term t. */
static void
target_eval(const struct term *t, const struct fleet *f, uint8_t *m)
{
	pcre2_match_data *md = NULL;
	uint8_t *gsel = NULL;
	bool all_group = false;
	uint32_t i;
	uint16_t k;

	if (t->kind == TERM_GROUPS) {
		gsel = xcalloc(f->ngroups ? f->ngroups : 1, 1);
		for (i = 0; i < f->ngroups; i++)
			gsel[i] = target_any_name(t, f->groups[i]);
		all_group = target_any_name(t, "all");
	}
	if (t->kind == TERM_REGEX)
		md = pcre2_match_data_create_from_pattern(t->re, NULL);
	for (i = 0; i < f->nnodes; i++) {
		const struct node *n = &f->nodes[i];
		const json_t *v;
		bool hit = false;

		switch (t->kind) {
		case TERM_ALL:
			hit = true;
			break;
		case TERM_NAMES:
			hit = bsearch(&n->name, t->names, t->nnames,
			    sizeof *t->names, cmp_str) != NULL;
			break;
		case TERM_GLOBS:
			hit = target_any_name(t, n->name);
			break;
		case TERM_GROUPS:
			hit = all_group;
			for (k = 0; k < n->ngroups && !hit; k++)
				hit = gsel[n->groups[k]] != 0;
			break;
		case TERM_VAR:
			v = n->vars != NULL ? json_object_get(n->vars, t->key) :
			    NULL;
			hit = v != NULL && target_value_match(v, t->value);
			break;
		case TERM_REGEX:
			hit = pcre2_match(t->re, (PCRE2_SPTR)n->name,
			    PCRE2_ZERO_TERMINATED, 0, 0, md, NULL) >= 0;
			break;
		}
		m[i] = hit;
	}
	if (md != NULL)
		pcre2_match_data_free(md);
	free(gsel);
}

/*
 * Selects the nodes of f that target t matches.  *ids becomes a new array
 * (free() it) of *n node ids in fleet order, each once.  Returns 0.
 */
int
target_select(const struct nx_target *t, const struct fleet *f,
    uint32_t **ids, size_t *n)
{
	size_t sz = f->nnodes ? f->nnodes : 1, k, count = 0;
	uint8_t *in = xcalloc(sz, 1), *m = xcalloc(sz, 1);
	bool any_union = false;
	enum term_op pass;
	uint32_t i;

	for (pass = OP_UNION; pass <= OP_NOT; pass++) {
		if (pass == OP_AND && !any_union)
			memset(in, 1, f->nnodes);
		for (k = 0; k < t->nterms; k++) {
			const struct term *tm = &t->terms[k];

			if (tm->op != pass)
				continue;
			target_eval(tm, f, m);
			for (i = 0; i < f->nnodes; i++) {
				if (pass == OP_UNION)
					in[i] |= m[i];
				else if (pass == OP_AND)
					in[i] &= m[i];
				else
					in[i] &= (uint8_t)!m[i];
			}
			if (pass == OP_UNION)
				any_union = true;
		}
	}
	*ids = xmalloc(sz * sizeof **ids);
	for (i = 0; i < f->nnodes; i++) {
		if (in[i])
			(*ids)[count++] = i;
	}
	*n = count;
	free(in);
	free(m);
	return 0;
}

/* Whether node n matches term t, without the fleet-wide precomputation. */
static bool
target_term_match(const struct term *t, const struct fleet *f,
    const struct node *n)
{
	const json_t *v;
	uint16_t k;

	switch (t->kind) {
	case TERM_ALL:
		return true;
	case TERM_NAMES:
		return bsearch(&n->name, t->names, t->nnames, sizeof *t->names,
		    cmp_str) != NULL;
	case TERM_GLOBS:
		return target_any_name(t, n->name);
	case TERM_GROUPS:
		if (target_any_name(t, "all"))
			return true;
		for (k = 0; k < n->ngroups; k++) {
			if (n->groups[k] < f->ngroups &&
			    target_any_name(t, f->groups[n->groups[k]]))
				return true;
		}
		return false;
	case TERM_VAR:
		v = n->vars != NULL ? json_object_get(n->vars, t->key) : NULL;
		return v != NULL && target_value_match(v, t->value);
	case TERM_REGEX:
		return pcre2_match(t->re, (PCRE2_SPTR)n->name,
		    PCRE2_ZERO_TERMINATED, 0, 0, t->md, NULL) >= 0;
	}
	return false;
}

/*
 * Whether target t selects node n of fleet f: the same sets as
 * target_select() (union, then '&', then '!'), for one node, so that a
 * caller filtering rows one by one (the console) need not select the whole
 * fleet.  Not thread-safe: a /regex/ term reuses its match data.
 */
bool
target_match(const struct nx_target *t, const struct fleet *f,
    const struct node *n)
{
	bool any_union = false, in = false;
	size_t k;

	for (k = 0; k < t->nterms; k++) {
		if (t->terms[k].op != OP_UNION)
			continue;
		any_union = true;
		if (target_term_match(&t->terms[k], f, n)) {
			in = true;
			break;
		}
	}
	if (!any_union)
		in = true;
	for (k = 0; k < t->nterms && in; k++) {
		if (t->terms[k].op == OP_AND)
			in = target_term_match(&t->terms[k], f, n);
	}
	for (k = 0; k < t->nterms && in; k++) {
		if (t->terms[k].op == OP_NOT)
			in = !target_term_match(&t->terms[k], f, n);
	}
	return in;
}
