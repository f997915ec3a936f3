/*
 * filter.c - the console's '/' filter and the fleet's sort orders.
 *
 * A filter is a list of terms separated by spaces; a row is shown when
 * every term matches (AND).  A term is, after an optional '!' that negates
 * it:
 *
 *   state:LIST      the row's state is one of LIST, comma-separated names
 *                   or unique prefixes: ok, warning, critical, unknown,
 *                   down, unreachable, pending (crit, warn, unkn, unrch...).
 *                   A node row's state is its health, a check row's state
 *                   the check's.
 *   group:GLOB      the node is in a group matching GLOB (fnmatch)
 *   check:GLOB      a check row's check, or any check of a node row,
 *                   is named GLOB
 *   name:PATTERN    the node name matches PATTERN of the target grammar
 *                   (exact names, hostlist ranges web[01-50], globs)
 *   METRIC OP NUM   load, cpu, mem or disk compared with >, <, >=, <=, =;
 *                   an unknown metric never matches (load>4, cpu>=90)
 *   TARGET          a term starting with '@' or '/', or holding '=', ','
 *                   or '&', is a target of the command line's grammar
 *                   (engine/target.c): @web, /^db-/, env=prod, @web&@fra1
 *   WORD            anything else: a case-insensitive regular expression
 *                   (PCRE2) searched in the node name
 *
 * Parsing is separate from matching so that the console parses once per
 * keystroke and matches every row with no allocation.  Nothing here draws.
 */
#include "config.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tui.h"

enum fterm_kind {
	FT_STATE,
	FT_GROUP,
	FT_CHECK,
	FT_METRIC,
	FT_TARGET,
	FT_REGEX,
};

enum fterm_op {
	FOP_GT,
	FOP_LT,
	FOP_GE,
	FOP_LE,
	FOP_EQ,
};

struct fterm {
	enum fterm_kind kind;
	bool negate;
	uint32_t states;        /* FT_STATE: bit per enum nx_health */
	char *glob;             /* FT_GROUP, FT_CHECK */
	uint8_t metric;         /* FT_METRIC: enum nx_metric */
	enum fterm_op op;
	double value;
	struct nx_target *target;       /* FT_TARGET */
	pcre2_code *re;         /* FT_REGEX */
	pcre2_match_data *md;
};

struct filter {
	struct fterm *terms;
	size_t nterms;
	bool dynamic;           /* matches can change without a new filter */
};

static const struct {
	const char *name;
	enum nx_health h;
} filter_state_alias[] = {
	{ "unrch", NX_H_UNREACHABLE },
	{ "unkn", NX_H_UNKNOWN },
	{ "crit", NX_H_CRITICAL },
	{ "warn", NX_H_WARNING },
	{ "pend", NX_H_PENDING },
};

static const char *const filter_metric_names[] = {
	[NX_M_LOAD] = "load",
	[NX_M_CPU] = "cpu",
	[NX_M_MEM] = "mem",
	[NX_M_DISK] = "disk",
};

/*
 * The order of severity: 0 is the worst.  Hosts that are down come before
 * any check state, as in Nagios's problem views; OK last.
 */
int
health_rank(enum nx_health h)
{
	static const int rank[NX_H__COUNT] = {
		[NX_H_DOWN] = 0,
		[NX_H_UNREACHABLE] = 1,
		[NX_H_CRITICAL] = 2,
		[NX_H_UNKNOWN] = 3,
		[NX_H_WARNING] = 4,
		[NX_H_PENDING] = 5,
		[NX_H_OK] = 6,
	};

	return (unsigned)h < NX_H__COUNT ? rank[h] : NX_H__COUNT;
}

static void
fterm_clear(struct fterm *t)
{
	free(t->glob);
	target_free(t->target);
	if (t->md != NULL)
		pcre2_match_data_free(t->md);
	if (t->re != NULL)
		pcre2_code_free(t->re);
}

void
filter_free(struct filter *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->nterms; i++)
		fterm_clear(&f->terms[i]);
	free(f->terms);
	free(f);
}

/* One state name or prefix s[0..len) into *h; -1 when none or ambiguous. */
static int
filter_state_name(const char *s, size_t len, enum nx_health *h)
{
	int i, found = -1;
	size_t k;

	if (len == 0)
		return -1;
	for (k = 0; k < NX_ARRAY_LEN(filter_state_alias); k++) {
		if (strlen(filter_state_alias[k].name) == len &&
		    strncasecmp(filter_state_alias[k].name, s, len) == 0) {
			*h = filter_state_alias[k].h;
			return 0;
		}
	}
	for (i = 0; i < NX_H__COUNT; i++) {
		const char *name = nx_health_name((enum nx_health)i);

		if (strncasecmp(name, s, len) != 0)
			continue;
		if (strlen(name) == len) {
			found = i;
			break;
		}
		if (found >= 0)
			return -1;
		found = i;
	}
	if (found < 0)
		return -1;
	*h = (enum nx_health)found;
	return 0;
}

static int
filter_states(struct fterm *t, const char *s, size_t col, struct nx_err *err)
{
	const char *p = s, *comma;
	enum nx_health h;
	size_t len;

	t->kind = FT_STATE;
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (filter_state_name(p, len, &h) != 0) {
			nx_err_set(err, "column %zu: '%.*s' is not a state (ok, "
			    "warn, crit, unknown, down, unreachable, pending)",
			    col + (size_t)(p - s), (int)len, p);
			return -1;
		}
		t->states |= 1u << h;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* "load>4" and friends: returns 1 when s is one, 0 when not, -1 on error. */
static int
filter_metric(struct fterm *t, const char *s, size_t col, struct nx_err *err)
{
	static const struct {
		const char *text;
		enum fterm_op op;
	} ops[] = {
		{ ">=", FOP_GE }, { "<=", FOP_LE }, { ">", FOP_GT },
		{ "<", FOP_LT }, { "=", FOP_EQ },
	};
	size_t m, k, nlen;
	char *end;

	for (m = 0; m < NX_ARRAY_LEN(filter_metric_names); m++) {
		nlen = strlen(filter_metric_names[m]);
		if (strncasecmp(s, filter_metric_names[m], nlen) == 0)
			break;
	}
	if (m == NX_ARRAY_LEN(filter_metric_names))
		return 0;
	for (k = 0; k < NX_ARRAY_LEN(ops); k++) {
		if (strncmp(s + nlen, ops[k].text, strlen(ops[k].text)) == 0)
			break;
	}
	if (k == NX_ARRAY_LEN(ops))
		return 0;
	s += nlen + strlen(ops[k].text);
	col += nlen + strlen(ops[k].text);
	t->value = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || isnan(t->value)) {
		nx_err_set(err, "column %zu: '%s' is not a number", col, s);
		return -1;
	}
	t->kind = FT_METRIC;
	t->metric = (uint8_t)m;
	t->op = ops[k].op;
	return 1;
}

static int
filter_target(struct fterm *t, const char *s, size_t col, struct nx_err *err)
{
	struct nx_err terr;

	t->kind = FT_TARGET;
	if ((t->target = target_parse(s, &terr)) == NULL) {
		nx_err_set(err, "column %zu: target '%s': %s", col, s, terr.msg);
		return -1;
	}
	return 0;
}

static int
filter_regex(struct fterm *t, const char *s, size_t col, struct nx_err *err)
{
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE errofs;
	int errcode;

	t->kind = FT_REGEX;
	t->re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED,
	    PCRE2_CASELESS, &errcode, &errofs, NULL);
	if (t->re == NULL) {
		pcre2_get_error_message(errcode, msg, sizeof msg);
		nx_err_set(err, "column %zu: bad regex '%s': %s", col + errofs,
		    s, (const char *)msg);
		return -1;
	}
	/* JIT where the library has it: a keystroke matches every name. */
	(void)pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE);
	t->md = pcre2_match_data_create_from_pattern(t->re, NULL);
	return 0;
}

/* One term, NUL-terminated, at column col of the filter. */
static int
filter_term(struct fterm *t, char *s, size_t col, struct nx_err *err)
{
	int r;

	if (*s == '!') {
		t->negate = true;
		s++;
		col++;
		if (*s == '\0') {
			nx_err_set(err, "column %zu: '!' wants a term after it",
			    col - 1);
			return -1;
		}
	}
	if (strncasecmp(s, "state:", 6) == 0)
		return filter_states(t, s + 6, col + 6, err);
	if (strncasecmp(s, "group:", 6) == 0 || strncasecmp(s, "check:", 6) == 0) {
		t->kind = tolower((unsigned char)s[0]) == 'g' ? FT_GROUP :
		    FT_CHECK;
		if (s[6] == '\0') {
			nx_err_set(err, "column %zu: '%.6s' wants a name", col, s);
			return -1;
		}
		t->glob = xstrdup(s + 6);
		return 0;
	}
	if (strncasecmp(s, "name:", 5) == 0) {
		if (s[5] == '\0') {
			nx_err_set(err, "column %zu: 'name:' wants a pattern",
			    col);
			return -1;
		}
		return filter_target(t, s + 5, col + 5, err);
	}
	if ((r = filter_metric(t, s, col, err)) != 0)
		return r > 0 ? 0 : -1;
	if (*s == '@' || *s == '/' || strpbrk(s, "=,&") != NULL)
		return filter_target(t, s, col, err);
	return filter_regex(t, s, col, err);
}

/*
 * Parses filter text (grammar at the top of the file).  On success *out is
 * a new filter to free with filter_free(), or NULL when the text has no
 * terms (no filter: every row).  Returns 0, or -1 with err naming the
 * column (1-based) and what is wrong, and *out NULL.
 */
int
filter_parse(const char *text, struct filter **out, struct nx_err *err)
{
	struct filter *f;
	size_t i = 0, len = strlen(text), j, cap = 0;
	char *word;
	int rc;

	*out = NULL;
	f = xcalloc(1, sizeof *f);
	for (;;) {
		struct fterm *t;

		while (i < len && isspace((unsigned char)text[i]))
			i++;
		if (i >= len)
			break;
		for (j = i; j < len && !isspace((unsigned char)text[j]); j++)
			;
		if (f->nterms == cap) {
			cap = cap ? cap * 2 : 4;
			f->terms = xreallocarray(f->terms, cap, sizeof *f->terms);
		}
		t = &f->terms[f->nterms++];
		memset(t, 0, sizeof *t);
		word = xstrndup(text + i, j - i);
		rc = filter_term(t, word, i + 1, err);
		free(word);
		if (rc != 0) {
			filter_free(f);
			return -1;
		}
		if (t->kind == FT_STATE || t->kind == FT_METRIC)
			f->dynamic = true;
		i = j;
	}
	if (f->nterms == 0) {
		filter_free(f);
		return 0;
	}
	*out = f;
	return 0;
}

/* Whether the filter's matches can change while the fleet runs. */
bool
filter_dynamic(const struct filter *f)
{
	return f != NULL && f->dynamic;
}

static bool
fterm_match(const struct fterm *t, const struct fleet *fl,
    const struct node *n, const struct check *c)
{
	enum nx_health h;
	double v;
	uint16_t k;

	switch (t->kind) {
	case FT_STATE:
		if (c == NULL)
			h = (enum nx_health)n->health;
		else if (!c->has_result)
			h = NX_H_PENDING;
		else
			h = (enum nx_health)c->state;   /* OK..UNKNOWN agree */
		return (t->states & (1u << h)) != 0;
	case FT_GROUP:
		for (k = 0; k < n->ngroups; k++) {
			if (n->groups[k] < fl->ngroups &&
			    fnmatch(t->glob, fl->groups[n->groups[k]], 0) == 0)
				return true;
		}
		return false;
	case FT_CHECK:
		if (c != NULL)
			return fnmatch(t->glob, c->name, 0) == 0;
		for (k = 0; k < n->nchecks; k++) {
			if (fnmatch(t->glob, fl->checks[n->checks[k]].name, 0) == 0)
				return true;
		}
		return false;
	case FT_METRIC:
		v = n->m.v[t->metric];
		if (isnan(v))
			return false;
		switch (t->op) {
		case FOP_GT:
			return v > t->value;
		case FOP_LT:
			return v < t->value;
		case FOP_GE:
			return v >= t->value;
		case FOP_LE:
			return v <= t->value;
		case FOP_EQ:
			return v == t->value;
		}
		return false;
	case FT_TARGET:
		return target_match(t->target, fl, n);
	case FT_REGEX:
		return pcre2_match(t->re, (PCRE2_SPTR)n->name,
		    PCRE2_ZERO_TERMINATED, 0, 0, t->md, NULL) >= 0;
	}
	return false;
}

/*
 * Whether a row passes filter f (NULL passes everything): node n, or its
 * check c when the row is a check's (c may be NULL).
 */
bool
filter_match(const struct filter *f, const struct fleet *fl,
    const struct node *n, const struct check *c)
{
	size_t i;

	if (f == NULL)
		return true;
	for (i = 0; i < f->nterms; i++) {
		if (fterm_match(&f->terms[i], fl, n, c) == f->terms[i].negate)
			return false;
	}
	return true;
}

/*
 * Writes the ids of the nodes that pass f, in fleet order, to ids (room
 * for fl->nnodes); returns how many.
 */
size_t
filter_select(const struct filter *f, const struct fleet *fl, uint32_t *ids)
{
	size_t n = 0;
	uint32_t i;

	for (i = 0; i < fl->nnodes; i++) {
		if (!fl->nodes[i].removed &&    /* by an inventory reload */
		    filter_match(f, fl, &fl->nodes[i], NULL))
			ids[n++] = i;
	}
	return n;
}

/* ---------------------------------------------------------------------- */
/* Sort orders of the fleet view                                           */

static const char *const sort_names[SORT__COUNT] = {
	[SORT_NONE] = "none",
	[SORT_NAME] = "name",
	[SORT_STATE] = "state",
	[SORT_LOAD] = "load",
	[SORT_CPU] = "cpu",
	[SORT_MEM] = "mem",
	[SORT_DISK] = "disk",
	[SORT_CHANGE] = "change",
};

const char *
sort_name(enum fleet_sort s)
{
	return (unsigned)s < SORT__COUNT ? sort_names[s] : "?";
}

/* A sort column by name or unique prefix; -1 when none. */
int
sort_from_name(const char *s, enum fleet_sort *out)
{
	size_t len = strlen(s);
	int i, found = -1;

	if (len == 0)
		return -1;
	for (i = 0; i < SORT__COUNT; i++) {
		if (strncasecmp(sort_names[i], s, len) != 0)
			continue;
		if (strlen(sort_names[i]) == len) {
			*out = (enum fleet_sort)i;
			return 0;
		}
		if (found >= 0)
			return -1;
		found = i;
	}
	if (found < 0)
		return -1;
	*out = (enum fleet_sort)found;
	return 0;
}

/* A node's sort key, precomputed so the comparison does no indirection. */
struct sort_item {
	double key;             /* smaller first; NaN: unknown, always last */
	uint32_t id;
};

static const struct fleet *sort_fleet;  /* for sort_cmp_name (qsort has no arg) */

static int sort_cmp_name(const void *, const void *);

/*
 * The rank of every node in name order, kept by the caller in a struct
 * sort_cache and remade when the fleet grows (names never change, nodes
 * are only appended): a name sort is then a sort of numbers, which at
 * 100,000 nodes is three times as fast as comparing the strings.
 */
static void
sort_name_ranks(const struct fleet *fl, struct sort_cache *sc)
{
	struct sort_item *all;
	uint32_t i;

	if (sc->rank != NULL && sc->nnodes == fl->nnodes)
		return;
	all = xmalloc((fl->nnodes ? fl->nnodes : 1) * sizeof *all);
	for (i = 0; i < fl->nnodes; i++)
		all[i].id = i;
	sort_fleet = fl;
	qsort(all, fl->nnodes, sizeof *all, sort_cmp_name);
	sort_fleet = NULL;
	sc->rank = xreallocarray(sc->rank, fl->nnodes ? fl->nnodes : 1,
	    sizeof *sc->rank);
	for (i = 0; i < fl->nnodes; i++)
		sc->rank[all[i].id] = i;
	sc->nnodes = fl->nnodes;
	free(all);
}

void
sort_cache_free(struct sort_cache *sc)
{
	free(sc->rank);
	sc->rank = NULL;
	sc->nnodes = 0;
}

static int
sort_cmp_key(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;
	bool xn = isnan(x->key), yn = isnan(y->key);

	if (xn != yn)
		return xn ? 1 : -1;
	if (!xn && x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
sort_cmp_name(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;
	int c = strcmp(sort_fleet->nodes[x->id].name,
	    sort_fleet->nodes[y->id].name);

	return c != 0 ? c : (x->id < y->id ? -1 : x->id > y->id);
}

/*
 * Sorts n node ids in place by column s: name ascending, state most
 * severe first, metrics highest first, change most recent first; reverse
 * turns that round (unknown metrics stay last either way).  Ties keep
 * fleet order.  SORT_NONE is fleet order.  sc is the caller's cache of
 * the name order (zeroed at first; sort_cache_free() at the end).
 */
void
sort_rows(const struct fleet *fl, struct sort_cache *sc, uint32_t *ids,
    size_t n, enum fleet_sort s, bool reverse)
{
	struct sort_item *it = xmalloc((n ? n : 1) * sizeof *it);
	const struct node *nd;
	double sign = reverse ? -1 : 1;
	size_t i;

	if (s == SORT_NAME)
		sort_name_ranks(fl, sc);
	for (i = 0; i < n; i++) {
		nd = &fl->nodes[ids[i]];
		it[i].id = ids[i];
		switch (s) {
		case SORT_NONE:
		case SORT__COUNT:
			it[i].key = sign * ids[i];
			break;
		case SORT_NAME:
			it[i].key = sign * sc->rank[ids[i]];
			break;
		case SORT_STATE:
			it[i].key = sign * health_rank((enum nx_health)nd->health);
			break;
		case SORT_LOAD:
		case SORT_CPU:
		case SORT_MEM:
		case SORT_DISK:
			it[i].key = -sign * nd->m.v[NX_M_LOAD + (s - SORT_LOAD)];
			break;
		case SORT_CHANGE:
			it[i].key = nd->last_change == 0 ? NAN :
			    -sign * (double)nd->last_change;
			break;
		}
	}
	qsort(it, n, sizeof *it, sort_cmp_key);
	for (i = 0; i < n; i++)
		ids[i] = it[i].id;
	free(it);
}
