/*
 * range.c - Nagios threshold ranges, `[@][start:][end]`.
 *
 * The syntax and the alert rule are those of the Nagios plugin development
 * guidelines and of monitoring-plugins' parse_range_string()/check_range():
 *
 *	10	alert when < 0 or > 10
 *	10:	alert when < 10
 *	~:10	alert when > 10 (`~` is negative infinity)
 *	10:20	alert when < 10 or > 20
 *	@10:20	alert when >= 10 and <= 20
 *
 * The parser is stricter than monitoring-plugins, which reads numbers with
 * atof() and so takes `foo` for 0 and `1:~` for 1:0.  Deviations, all listed
 * in doc/monitor.md:
 *  - every number must be a whole decimal number (`[+-]digits[.digits]`,
 *    optional exponent); `foo`, `1-10`, `1,10` and the empty string are
 *    errors, not 0;
 *  - an empty start before `:` is 0 (`:5.75` is 0:5.75) as in Nagios, but `:`
 *    alone (no start and no end) is an error, where Nagios reads 0:+inf;
 *  - `~` is accepted only as the start;
 *  - one trailing `%` on the end value is accepted and stripped (`1:12%`, a
 *    range on a percentage), which Nagios does not know.
 * Numbers are read in the C locale whatever LC_NUMERIC the console set.
 */
#include "config.h"

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define RANGE_NUMBER_MAX 64

static locale_t range_c_locale;
static pthread_once_t range_once = PTHREAD_ONCE_INIT;

static void
range_locale_init(void)
{
	range_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static bool
range_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Returns how many bytes at the start of s[0..len) form a number
 * `[+-](digits[.digits*] | .digits)[(e|E)[+-]digits]`, or 0 when none do.
 */
static size_t
range_number_span(const char *s, size_t len)
{
	size_t i = 0, digits = 0, save;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < len && range_isdigit(s[i])) {
		i++;
		digits++;
	}
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && range_isdigit(s[i])) {
			i++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		save = i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i < len && range_isdigit(s[i])) {
			while (i < len && range_isdigit(s[i]))
				i++;
		} else
			i = save;
	}
	return i;
}

/*
 * Reads the number that is exactly s[0..len) into *out.  Returns 0, or -1
 * when the bytes are not one whole number (or are absurdly long).
 * Exposed for perfdata.c; not NUL-terminated input is fine.
 */
int
range_number(const char *s, size_t len, double *out)
{
	char buf[RANGE_NUMBER_MAX];

	if (len == 0 || len >= sizeof buf || range_number_span(s, len) != len)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	pthread_once(&range_once, range_locale_init);
	if (range_c_locale != (locale_t)0)
		*out = strtod_l(buf, NULL, range_c_locale);
	else
		*out = strtod(buf, NULL);
	return 0;
}

/*
 * Parses `text` into *r.  Returns 0, or -1 with err naming the range and
 * what is wrong with it; *r is then unspecified.
 */
int
range_parse(const char *text, struct nx_range *r, struct nx_err *err)
{
	const char *s = text, *colon, *end;
	size_t elen;

	memset(r, 0, sizeof *r);
	r->end_inf = true;
	if (*s == '@') {
		r->inside = true;
		s++;
	}
	if (*s == '\0') {
		nx_err_set(err, "range '%.64s': empty", text);
		return -1;
	}
	if ((colon = strchr(s, ':')) != NULL) {
		if (colon == s)
			r->start = 0;
		else if (colon - s == 1 && *s == '~')
			r->start_inf = true;
		else if (range_number(s, (size_t)(colon - s), &r->start) != 0) {
			nx_err_set(err, "range '%.64s': column %d: start '%.*s' "
			    "is not a number or '~'", text, (int)(s - text) + 1,
			    (int)(colon - s > 32 ? 32 : colon - s), s);
			return -1;
		}
		end = colon + 1;
	} else
		end = s;

	elen = strlen(end);
	if (elen > 0 && end[elen - 1] == '%') {
		r->percent = true;
		elen--;
	}
	if (elen == 0) {
		if (colon == NULL || r->percent) {
			nx_err_set(err, "range '%.64s': column %d: missing end "
			    "value", text, (int)(end - text) + 1);
			return -1;
		}
		if (colon == s) {
			nx_err_set(err, "range '%.64s': neither start nor end "
			    "given", text);
			return -1;
		}
		return 0;
	}
	if (elen == 1 && *end == '~') {
		nx_err_set(err, "range '%.64s': column %d: '~' (negative "
		    "infinity) is only allowed as the start", text,
		    (int)(end - text) + 1);
		return -1;
	}
	if (range_number(end, elen, &r->end) != 0) {
		nx_err_set(err, "range '%.64s': column %d: %s '%.*s' is not a "
		    "number", text, (int)(end - text) + 1,
		    colon != NULL ? "end" : "value", (int)(elen > 32 ? 32 : elen),
		    end);
		return -1;
	}
	r->end_inf = false;
	if (!r->start_inf && r->start > r->end) {
		nx_err_set(err, "range '%.64s': start %g is greater than end %g",
		    text, r->start, r->end);
		return -1;
	}
	return 0;
}

/*
 * Whether value v alerts against r, exactly as monitoring-plugins'
 * check_range(): inclusive bounds, and a NaN value is outside every range
 * but the one that is infinite at both ends.
 */
bool
range_alert(const struct nx_range *r, double v)
{
	bool in;

	if (!r->start_inf && !r->end_inf)
		in = v >= r->start && v <= r->end;
	else if (!r->start_inf)
		in = v >= r->start;
	else if (!r->end_inf)
		in = v <= r->end;
	else
		in = true;
	return r->inside ? in : !in;
}
