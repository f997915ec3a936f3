/*
 * perfdata.c - Nagios plugin output: status line, long output, perfdata,
 * and exit statuses.
 *
 * The layout is the Nagios plugin API's:
 *
 *	TEXT OUTPUT | OPTIONAL PERFDATA
 *	LONG TEXT LINE 1
 *	LONG TEXT LINE 2
 *	LONG TEXT LINE N | PERFDATA LINE 2
 *	PERFDATA LINE 3
 *
 * The first `|` of the first line splits it; in the lines after it,
 * everything after the first `|` is perfdata, newlines included.  A perfdata
 * item is `'label'=value[UOM];[warn];[crit];[min];[max]`, items are separated
 * by white space, a quoted label may hold spaces and `''` for a quote.
 *
 * A malformed item is dropped with a message in out->errors; the items
 * around it are kept (Nagios itself passes perfdata through unparsed; this is
 * what graphing add-ons such as PNP4Nagios and Icinga 2 do).  Deviations and
 * choices, listed in doc/monitor.md: a number may carry an exponent; a value
 * of `U` may carry a UOM; `=` is allowed inside a quoted label; more than
 * five `;`-separated fields is an error; a NUL byte ends the output.
 */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define PERF_ITEM_SHOW 80       /* bytes of a bad item quoted in its error */

static const char *const perf_uoms[] = {
	"s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c",
};

static bool
perf_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

/* Adds a copy of s[0..len) with trailing white space removed; NULL if empty. */
static char *
perf_trimmed(const char *s, size_t len, bool null_if_empty)
{
	while (len > 0 && perf_isspace(s[len - 1]))
		len--;
	if (len == 0 && null_if_empty)
		return NULL;
	return xstrndup(s, len);
}

static void
perf_error(struct nx_plugin_output *out, const char *item, size_t len,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Records why the item item[0..len) was dropped. */
static void
perf_error(struct nx_plugin_output *out, const char *item, size_t len,
    const char *fmt, ...)
{
	va_list ap;
	char *why, *msg;

	va_start(ap, fmt);
	xvasprintf(&why, fmt, ap);
	va_end(ap);
	xasprintf(&msg, "perfdata '%.*s%s': %s",
	    (int)(len > PERF_ITEM_SHOW ? PERF_ITEM_SHOW : len), item,
	    len > PERF_ITEM_SHOW ? "..." : "", why);
	free(why);
	out->errors = xreallocarray(out->errors, out->nerrors + 1,
	    sizeof *out->errors);
	out->errors[out->nerrors++] = msg;
}

static void
perf_item_free(struct nx_perf *p)
{
	free(p->label);
	free(p->warn_text);
	free(p->crit_text);
}

/* The number a threshold stands for: its end, else its start, else NaN. */
static double
perf_range_value(const struct nx_range *r)
{
	if (!r->end_inf)
		return r->end;
	if (!r->start_inf)
		return r->start;
	return NAN;
}

/*
 * Parses field f[0..len) of an item: the value and UOM.  Returns 0, or -1
 * with *why set (static text or a message written into buf).
 */
static int
perf_value(const char *f, size_t len, struct nx_perf *p, char *buf,
    size_t bufsz)
{
	size_t i, span, ulen;
	const char *u;

	if (len == 0) {
		snprintf(buf, bufsz, "missing value");
		return -1;
	}
	if (f[0] == 'U') {
		p->undetermined = true;
		p->value = NAN;
		span = 1;
	} else {
		for (span = len; span > 0; span--) {
			if (range_number(f, span, &p->value) == 0)
				break;
		}
		if (span == 0) {
			snprintf(buf, bufsz, "value '%.*s' is not a number",
			    (int)(len > 32 ? 32 : len), f);
			return -1;
		}
	}
	u = f + span;
	ulen = len - span;
	if (ulen == 0)
		return 0;
	for (i = 0; i < NX_ARRAY_LEN(perf_uoms); i++) {
		if (strlen(perf_uoms[i]) == ulen &&
		    memcmp(perf_uoms[i], u, ulen) == 0) {
			memcpy(p->uom, u, ulen);
			p->uom[ulen] = '\0';
			return 0;
		}
	}
	if (p->undetermined)
		snprintf(buf, bufsz, "value '%.*s' is neither a number nor 'U'",
		    (int)(len > 32 ? 32 : len), f);
	else
		snprintf(buf, bufsz, "unknown unit '%.*s' (want one of s ms "
		    "us %% B KB MB GB TB c)", (int)(ulen > 16 ? 16 : ulen), u);
	return -1;
}

/* Parses a warn or crit field; empty is "absent".  0, or -1 with buf. */
static int
perf_threshold(const char *f, size_t len, const char *what,
    struct nx_range *r, char **text, double *v, bool *has, char *buf,
    size_t bufsz)
{
	struct nx_err err;
	char *t;

	if (len == 0)
		return 0;
	t = xstrndup(f, len);
	if (range_parse(t, r, &err) != 0) {
		snprintf(buf, bufsz, "%s: %.200s", what, err.msg);
		free(t);
		return -1;
	}
	*text = t;
	*v = perf_range_value(r);
	*has = true;
	return 0;
}

/* Parses a min or max field: empty or a plain number.  0, or -1 with buf. */
static int
perf_limit(const char *f, size_t len, const char *what, double *v, bool *has,
    char *buf, size_t bufsz)
{
	if (len == 0)
		return 0;
	if (range_number(f, len, v) != 0) {
		snprintf(buf, bufsz, "%s '%.*s' is not a number", what,
		    (int)(len > 32 ? 32 : len), f);
		return -1;
	}
	*has = true;
	return 0;
}

/*
 * Parses the fields after `=` of one item, d[0..len), into *p.  Returns 0,
 * or -1 with the reason in buf.
 */
static int
perf_fields(const char *d, size_t len, struct nx_perf *p, char *buf,
    size_t bufsz)
{
	const char *f[5];
	size_t flen[5], n = 0, i, start = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && d[i] != ';')
			continue;
		if (n == 5) {
			snprintf(buf, bufsz, "more than 5 ';'-separated fields");
			return -1;
		}
		f[n] = d + start;
		flen[n++] = i - start;
		start = i + 1;
	}
	for (i = n; i < 5; i++) {
		f[i] = d + len;
		flen[i] = 0;
	}
	if (perf_value(f[0], flen[0], p, buf, bufsz) != 0)
		return -1;
	if (perf_threshold(f[1], flen[1], "warn", &p->warn_range, &p->warn_text,
	    &p->warn, &p->has_warn, buf, bufsz) != 0)
		return -1;
	if (perf_threshold(f[2], flen[2], "crit", &p->crit_range, &p->crit_text,
	    &p->crit, &p->has_crit, buf, bufsz) != 0)
		return -1;
	if (perf_limit(f[3], flen[3], "min", &p->min, &p->has_min, buf,
	    bufsz) != 0)
		return -1;
	if (perf_limit(f[4], flen[4], "max", &p->max, &p->has_max, buf,
	    bufsz) != 0)
		return -1;
	return 0;
}

/*
 * Parses perfdata text s[0..len), appending the good items to out->perf and
 * one message per dropped item to out->errors.  Returns 0 when every item
 * was good, -1 when one or more were dropped.
 */
int
perfdata_parse(const char *s, size_t len, struct nx_plugin_output *out)
{
	size_t i = 0, before = out->nerrors;
	char why[256];

	while (i < len) {
		size_t item, j, lstart, llen;
		struct nx_perf p;
		char *label;
		bool quoted = false;

		while (i < len && perf_isspace(s[i]))
			i++;
		if (i == len)
			break;
		item = i;

		/* The label, quoted or bare, up to its `=`. */
		if (s[i] == '\'') {
			quoted = true;
			lstart = ++i;
			for (;;) {
				if (i >= len)
					break;
				if (s[i] == '\'') {
					if (i + 1 < len && s[i + 1] == '\'') {
						i += 2;
						continue;
					}
					break;
				}
				i++;
			}
			if (i >= len) {
				perf_error(out, s + item, len - item,
				    "unterminated quoted label");
				break;
			}
			llen = i - lstart;
			i++;    /* the closing quote */
			if (i >= len || s[i] != '=') {
				for (j = i; j < len && !perf_isspace(s[j]); j++)
					;
				perf_error(out, s + item, j - item,
				    "no '=' after the quoted label");
				i = j;
				continue;
			}
		} else {
			lstart = i;
			while (i < len && s[i] != '=' && !perf_isspace(s[i]) &&
			    s[i] != '\'')
				i++;
			llen = i - lstart;
			if (i >= len || s[i] != '=') {
				for (j = i; j < len && !perf_isspace(s[j]); j++)
					;
				perf_error(out, s + item, j - item, "%s",
				    i < len && s[i] == '\'' ?
				    "a quote inside an unquoted label" :
				    "no '=' after the label");
				i = j;
				continue;
			}
		}
		i++;    /* the `=` */
		for (j = i; j < len && !perf_isspace(s[j]); j++)
			;
		if (llen == 0) {
			perf_error(out, s + item, j - item, "empty label");
			i = j;
			continue;
		}

		memset(&p, 0, sizeof p);
		p.warn = p.crit = p.min = p.max = NAN;
		if (perf_fields(s + i, j - i, &p, why, sizeof why) != 0) {
			perf_error(out, s + item, j - item, "%s", why);
			perf_item_free(&p);
			i = j;
			continue;
		}

		/* Unquote the label: `''` stands for one quote. */
		label = xmalloc(llen + 1);
		if (quoted) {
			size_t k, o = 0;

			for (k = 0; k < llen; k++) {
				label[o++] = s[lstart + k];
				if (s[lstart + k] == '\'')
					k++;
			}
			label[o] = '\0';
		} else {
			memcpy(label, s + lstart, llen);
			label[llen] = '\0';
		}
		p.label = label;
		out->perf = xreallocarray(out->perf, out->nperf + 1,
		    sizeof *out->perf);
		out->perf[out->nperf++] = p;
		i = j;
	}
	return out->nerrors > before ? -1 : 0;
}

/*
 * Splits plugin output buf[0..len) into *out (which it initialises):
 * first line, long output, perfdata of both.  Everything in *out is owned
 * by it; release with plugin_output_free().  Returns 0, or -1 when one or
 * more perfdata items were dropped (out is complete either way).
 */
int
plugin_output_parse(const char *buf, size_t len, struct nx_plugin_output *out)
{
	const char *nl, *bar, *rest;
	size_t flen, rlen;
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (buf == NULL)
		buf = "";
	len = strnlen(buf, len);

	nl = len > 0 ? memchr(buf, '\n', len) : NULL;
	flen = nl != NULL ? (size_t)(nl - buf) : len;
	bar = flen > 0 ? memchr(buf, '|', flen) : NULL;
	if (bar != NULL) {
		out->first_line = perf_trimmed(buf, (size_t)(bar - buf), false);
		if (perfdata_parse(bar + 1, flen - (size_t)(bar - buf) - 1,
		    out) != 0)
			rc = -1;
	} else
		out->first_line = perf_trimmed(buf, flen, false);

	if (nl == NULL)
		return rc;
	rest = nl + 1;
	rlen = len - flen - 1;
	bar = rlen > 0 ? memchr(rest, '|', rlen) : NULL;
	if (bar != NULL) {
		out->long_output = perf_trimmed(rest, (size_t)(bar - rest), true);
		if (perfdata_parse(bar + 1, rlen - (size_t)(bar - rest) - 1,
		    out) != 0)
			rc = -1;
	} else
		out->long_output = perf_trimmed(rest, rlen, true);
	return rc;
}

void
plugin_output_free(struct nx_plugin_output *out)
{
	size_t i;

	free(out->first_line);
	free(out->long_output);
	for (i = 0; i < out->nperf; i++)
		perf_item_free(&out->perf[i]);
	free(out->perf);
	for (i = 0; i < out->nerrors; i++)
		free(out->errors[i]);
	free(out->errors);
	memset(out, 0, sizeof *out);
}

/*
 * The state a plugin's exit means.  0..3 are OK, WARNING, CRITICAL and
 * UNKNOWN; any other status, or death by a signal, is UNKNOWN with a reason
 * written into reason[0..size) (else reason is made empty).  reason may be
 * NULL when size is 0.
 */
enum nx_state
plugin_state_from_exit(int exit_status, int term_signal, char *reason,
    size_t size)
{
	if (size > 0)
		reason[0] = '\0';
	if (term_signal != 0) {
		if (size > 0)
			snprintf(reason, size, "(plugin killed by signal %d, "
			    "%s)", term_signal, strsignal(term_signal));
		return NX_UNKNOWN;
	}
	if (exit_status >= 0 && exit_status <= 3)
		return (enum nx_state)exit_status;
	if (size == 0)
		return NX_UNKNOWN;
	if (exit_status == 126)
		snprintf(reason, size, "(return code of 126 is out of bounds: "
		    "plugin is not executable)");
	else if (exit_status == 127)
		snprintf(reason, size, "(return code of 127 is out of bounds: "
		    "plugin may be missing)");
	else
		snprintf(reason, size, "(return code of %d is out of bounds)",
		    exit_status);
	return NX_UNKNOWN;
}
