/*
 * util.c - small shared helpers: errors, clocks, state names, hashing.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine.h"

void
nx_err_set(struct nx_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
}

nx_time
nx_wallclock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (nx_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const state_names[] = {
	[NX_OK] = "OK",
	[NX_WARNING] = "WARNING",
	[NX_CRITICAL] = "CRITICAL",
	[NX_UNKNOWN] = "UNKNOWN",
};

static const char *const host_state_names[] = {
	[NX_HOST_UP] = "UP",
	[NX_HOST_DOWN] = "DOWN",
	[NX_HOST_UNREACHABLE] = "UNREACHABLE",
};

static const char *const health_names[] = {
	[NX_H_OK] = "OK",
	[NX_H_WARNING] = "WARNING",
	[NX_H_CRITICAL] = "CRITICAL",
	[NX_H_UNKNOWN] = "UNKNOWN",
	[NX_H_DOWN] = "DOWN",
	[NX_H_UNREACHABLE] = "UNREACHABLE",
	[NX_H_PENDING] = "PENDING",
};

static const char *const metric_names[] = {
	[NX_M_LOAD] = "load",
	[NX_M_CPU] = "cpu",
	[NX_M_MEM] = "mem",
	[NX_M_DISK] = "disk",
	[NX_M_LATENCY] = "latency",
};

const char *
nx_state_name(enum nx_state s)
{
	return (unsigned)s < NX_ARRAY_LEN(state_names) ? state_names[s] : "?";
}

const char *
nx_host_state_name(enum nx_host_state s)
{
	return (unsigned)s < NX_ARRAY_LEN(host_state_names) ?
	    host_state_names[s] : "?";
}

const char *
nx_health_name(enum nx_health h)
{
	return (unsigned)h < NX_ARRAY_LEN(health_names) ? health_names[h] : "?";
}

const char *
nx_metric_name(enum nx_metric m)
{
	return (unsigned)m < NX_ARRAY_LEN(metric_names) ? metric_names[m] : "?";
}

/* Accepts the full name or its usual short forms (crit, warn, unkn). */
int
nx_state_from_name(const char *s, enum nx_state *out)
{
	static const struct {
		const char *name;
		enum nx_state state;
	} names[] = {
		{ "ok", NX_OK }, { "warning", NX_WARNING }, { "warn", NX_WARNING },
		{ "critical", NX_CRITICAL }, { "crit", NX_CRITICAL },
		{ "unknown", NX_UNKNOWN }, { "unkn", NX_UNKNOWN },
	};
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(names); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].state;
			return 0;
		}
	}
	return -1;
}

/* splitmix64's finaliser: a cheap, well-mixed 64-bit hash. */
uint64_t
nx_hash64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * The length of the longest prefix of s (at most len bytes) that is one
 * well-formed UTF-8 sequence or a run of them; 0 when s starts with an
 * invalid byte.  Overlong forms, surrogates and code points past U+10FFFF
 * are invalid.
 */
size_t
nx_utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			cp = c & 0x07;
		} else
			break;
		if (i + n > len)
			break;
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				break;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (k < n)
			break;
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			break;
		i += n;
	}
	return i;
}
