/*
 * config.c - the JSON configuration file.
 *
 * One file, loaded with jansson: -c FILE, else
 * $XDG_CONFIG_HOME/nexusctl/config.json (else ~/.config/nexusctl/...), else
 * the built-in defaults.  The schema is the const table cfg_keys[] below: a
 * row per key with its type, range, default, place in struct nx_config and a
 * line of help.  Defaults, validation, freeing and `config show` all walk
 * the table, so a new key is a new row (and a field in engine.h, and a
 * paragraph in doc/nexusctl.conf.5).
 *
 * Every error names file:line:column and the key path.  jansson gives a
 * position only for syntax errors; for everything found after parsing
 * (unknown keys, wrong types, ranges) jsonpos.c finds the key or value in
 * the raw text.  Loading is all-or-nothing: on error the caller's
 * configuration is left exactly as it was.
 *
 * A config file is untrusted input: nothing in it may crash or hang the
 * program (tests/fuzz/fuzz_config.c).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "act.h"

/* Larger than any sane configuration; stops `-c /dev/zero` early. */
#define CFG_MAX_FILE (16 * 1024 * 1024)

/* How much of an offending value or key an error message quotes. */
#define CFG_QUOTE_MAX 40

#define CFG_SECOND 1000LL
#define CFG_MINUTE (60 * CFG_SECOND)
#define CFG_HOUR (60 * CFG_MINUTE)
#define CFG_DAY (24 * CFG_HOUR)

enum cfg_type {
	CFG_BOOL,               /* bool */
	CFG_INT,                /* unsigned integer field of `size` bytes */
	CFG_DURATION,           /* milliseconds in an unsigned integer field */
	CFG_NAME,               /* char *, [A-Za-z0-9_-]{1,max} */
	CFG_CUSTOM,             /* parsed by its module: cfg_key.custom */
};

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	int64_t min, max;       /* INT, DURATION (ms); NAME: max length */
	int64_t def;            /* default of BOOL, INT, DURATION */
	const char *def_name;   /* default of NAME */
	size_t offset, size;    /* the field in struct nx_config */
	const char *help;
	const struct cfg_custom *custom;        /* CFG_CUSTOM */
};

#define CFG_FIELD(f) \
	offsetof(struct nx_config, f), sizeof(((struct nx_config *)NULL)->f)

/* ---------------------------------------------------------------------- */
/* console.columns: the fleet view's columns (CFG_CUSTOM)                  */

static size_t cfg_distance(const char *, const char *);

/* The names of enum nx_column, as console.columns and :columns spell them. */
const char *const config_column_names[NX_COL__COUNT] = {
	[NX_COL_STATE] = "state",
	[NX_COL_NAME] = "name",
	[NX_COL_ADDRESS] = "address",
	[NX_COL_GROUP] = "group",
	[NX_COL_LOAD] = "load",
	[NX_COL_CPU] = "cpu",
	[NX_COL_MEM] = "mem",
	[NX_COL_DISK] = "disk",
	[NX_COL_CHANGE] = "change",
};

/*
 * Appends the column called name to cols (n entries, room for
 * NX_COL__COUNT; with n at that, every name is there and it fails).  Returns 0, or -1 with err set (no position: the caller
 * adds its own) when the name is unknown (with the nearest name, else the
 * list) or already there.
 */
int
config_column_add(uint8_t *cols, size_t *n, const char *name,
    struct nx_err *err)
{
	const char *best = NULL;
	size_t c, i, d, bestd = SIZE_MAX;

	for (c = 0; c < NX_COL__COUNT; c++) {
		if (strcmp(name, config_column_names[c]) == 0)
			break;
	}
	if (c == NX_COL__COUNT) {
		for (i = 0; i < NX_COL__COUNT; i++) {
			d = cfg_distance(name, config_column_names[i]);
			if (d < bestd && d <= (strlen(config_column_names[i])
			    <= 4 ? 1u : 2u)) {
				best = config_column_names[i];
				bestd = d;
			}
		}
		if (best != NULL)
			nx_err_set(err, "unknown column \"%.40s\" (did you "
			    "mean \"%s\"?)", name, best);
		else
			nx_err_set(err, "unknown column \"%.40s\" (known: "
			    "state, name, address, group, load, cpu, mem, "
			    "disk, change)", name);
		return -1;
	}
	for (i = 0; i < *n; i++) {
		if (cols[i] == c) {
			nx_err_set(err, "column \"%s\" is named twice", name);
			return -1;
		}
	}
	cols[(*n)++] = (uint8_t)c;
	return 0;
}

/*
 * Checks a whole list of columns: at least one, and "name" among them
 * (the rows are nodes; acting on one needs to see which).  Returns 0, or
 * -1 with err set (no position).
 */
int
config_columns_check(const uint8_t *cols, size_t n, struct nx_err *err)
{
	size_t i;

	if (n == 0) {
		nx_err_set(err, "expected at least one column");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (cols[i] == NX_COL_NAME)
			return 0;
	}
	nx_err_set(err, "the columns must include \"name\"");
	return -1;
}

/* Parses console.columns: an array of column names, in display order. */
static int
columns_cfg_parse(struct nx_config *cfg, const char *file, const char *text,
    size_t len, const json_t *v, struct nx_err *err)
{
	uint8_t cols[NX_COL__COUNT];
	struct jpos_place pl;
	struct nx_err e;
	size_t i, n = 0;
	const char *s;

	jpos_place_init(&pl, file, text, len, "console", "columns");
	if (!json_is_array(v))
		return jpos_fail(err, &pl, "expected an array of column "
		    "names, e.g. [\"state\", \"name\", \"load\"]");
	for (i = 0; i < json_array_size(v); i++) {
		pl.npath = 2;
		jpos_place_elem(&pl, i);
		if ((s = json_string_value(json_array_get(v, i))) == NULL)
			return jpos_fail(err, &pl, "expected a column name "
			    "(string)");
		if (config_column_add(cols, &n, s, &e) != 0)
			return jpos_fail(err, &pl, "%s", e.msg);
	}
	pl.npath = 2;
	if (config_columns_check(cols, n, &e) != 0)
		return jpos_fail(err, &pl, "%s", e.msg);
	memcpy(cfg->console.columns, cols, n);
	cfg->console.ncolumns = n;
	return 0;
}

static void
columns_cfg_free(struct nx_config *cfg)
{
	cfg->console.ncolumns = 0;
}

static void
columns_cfg_clone(struct nx_config *dst, const struct nx_config *src)
{
	(void)dst;
	(void)src;      /* plain data: copied with the struct */
}

static json_t *
columns_cfg_to_json(const struct nx_config *cfg)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < (cfg->console.ncolumns > 0 ? cfg->console.ncolumns :
	    NX_COL__COUNT); i++)
		json_array_append_new(a, json_string(config_column_names[
		    cfg->console.ncolumns > 0 ? cfg->console.columns[i] : i]));
	return a;
}

static const struct cfg_custom columns_config = {
	.parse = columns_cfg_parse,
	.free = columns_cfg_free,
	.clone = columns_cfg_clone,
	.to_json = columns_cfg_to_json,
};

/* The schema.  Rows of one section stay together, in the order `config
 * show` prints them. */
static const struct cfg_key cfg_keys[] = {
	{ "demo", "enabled", CFG_BOOL, 0, 1, 1, NULL, CFG_FIELD(demo.enabled),
	  "add the simulated demo fleet", NULL },
	{ "demo", "nodes", CFG_INT, 0, 10000000, 5000, NULL,
	  CFG_FIELD(demo.nodes), "number of simulated nodes", NULL },
	{ "demo", "seed", CFG_INT, 0, INT64_MAX, 1, NULL, CFG_FIELD(demo.seed),
	  "seed of the simulation (same seed, same fleet)", NULL },
	{ "demo", "local", CFG_BOOL, 0, 1, 1, NULL, CFG_FIELD(demo.local),
	  "add this machine as one real node", NULL },

	{ "checks", "interval", CFG_DURATION, 100, 7 * CFG_DAY, 30 * CFG_SECOND,
	  NULL, CFG_FIELD(checks.interval_ms),
	  "default time between two checks in a steady state", NULL },
	{ "checks", "retry_interval", CFG_DURATION, 100, 7 * CFG_DAY,
	  10 * CFG_SECOND, NULL, CFG_FIELD(checks.retry_ms),
	  "default time between checks while a problem is SOFT", NULL },
	{ "checks", "max_attempts", CFG_INT, 1, 100, 3, NULL,
	  CFG_FIELD(checks.max_attempts),
	  "default non-OK results in a row before a state is HARD", NULL },
	{ "checks", "timeout", CFG_DURATION, 100, CFG_HOUR, 10 * CFG_SECOND,
	  NULL, CFG_FIELD(checks.timeout_ms),
	  "default time a check may run before it is stopped (CRITICAL)", NULL },
	{ "checks", "max_concurrent", CFG_INT, 1, 100000, 512, NULL,
	  CFG_FIELD(checks.max_concurrent),
	  "most checks running at once; the rest wait their turn", NULL },
	{ "checks", "flap_low_threshold", CFG_INT, 1, 100, 20, NULL,
	  CFG_FIELD(checks.flap_low),
	  "% of state changes below which a flapping check stops flapping", NULL },
	{ "checks", "flap_high_threshold", CFG_INT, 0, 100, 30, NULL,
	  CFG_FIELD(checks.flap_high),
	  "% of state changes above which a check is flapping", NULL },
	{ "checks", "timeout_state", CFG_NAME, 1, 16, 0, "critical",
	  CFG_FIELD(checks.timeout_state),
	  "state of a check that timed out: critical, warning, unknown or ok", NULL },
	{ "checks", "define", CFG_CUSTOM, 0, 0, 0, NULL,
	  CFG_FIELD(checks.defs),
	  "checks to add: plugin and tcp definitions (nexusctl.conf(5))",
	  &checkdefs_config },

	{ "actions", "define", CFG_CUSTOM, 0, 0, 0, NULL, CFG_FIELD(actions),
	  "actions operators and rules may run: ssh, local and provider "
	  "definitions (nexusctl.conf(5))", &actions_config },

	{ "providers", "actions", CFG_CUSTOM, 0, 0, 0, NULL,
	  CFG_FIELD(pactions), "provider actions of inventory nodes: command "
	  "templates by source and action (nexusctl.conf(5))",
	  &provider_actions_config },

	{ "roles", "default", CFG_CUSTOM, 0, 0, 0, NULL, CFG_FIELD(roles),
	  "role of a user no role names: viewer (the default), operator, "
	  "admin or auditor; no roles section: the running user is admin",
	  &roles_config },
	{ "roles", "viewer", CFG_CUSTOM, 0, 0, 0, NULL, CFG_FIELD(roles),
	  "users and groups that may only look", &roles_viewer_config },
	{ "roles", "operator", CFG_CUSTOM, 0, 0, 0, NULL, CFG_FIELD(roles),
	  "users and groups that may run actions, ack, downtime, approve",
	  &roles_operator_config },
	{ "roles", "admin", CFG_CUSTOM, 0, 0, 0, NULL, CFG_FIELD(roles),
	  "users and groups that may also run ad-hoc commands and change "
	  "rules", &roles_admin_config },
	{ "roles", "auditor", CFG_CUSTOM, 0, 0, 0, NULL, CFG_FIELD(roles),
	  "users and groups that may read the audit log",
	  &roles_auditor_config },

	{ "console", "fps", CFG_INT, 1, 60, 10, NULL, CFG_FIELD(console.fps),
	  "most frames the console draws per second", NULL },
	{ "console", "theme", CFG_NAME, 1, 64, 0, "default",
	  CFG_FIELD(console.theme), "colour theme by name", NULL },
	{ "console", "columns", CFG_CUSTOM, 0, 0, 0, NULL,
	  CFG_FIELD(console.columns), "the fleet view's columns in display "
	  "order (nexusctl.conf(5))",
	  &columns_config },

	{ "remediation", "enabled", CFG_CUSTOM, 0, 0, 0, NULL,
	  CFG_FIELD(remed),
	  "run remediation rules at all (doc/remediation.md)",
	  &remed_enabled_config },
	{ "remediation", "dry_run", CFG_CUSTOM, 0, 0, 0, NULL,
	  CFG_FIELD(remed),
	  "every rule's jobs show their commands without running them",
	  &remed_dry_run_config },
	{ "remediation", "max_concurrent", CFG_CUSTOM, 0, 0, 0, NULL,
	  CFG_FIELD(remed),
	  "most remediation jobs running at once, all rules; 0 = no limit",
	  &remed_max_concurrent_config },
	{ "remediation", "rate", CFG_CUSTOM, 0, 0, 0, NULL,
	  CFG_FIELD(remed),
	  "remediation jobs per minute, all rules (token bucket); 0 = no limit",
	  &remed_rate_config },
	{ "remediation", "burst", CFG_CUSTOM, 0, 0, 0, NULL,
	  CFG_FIELD(remed),
	  "jobs the global token bucket can start at once",
	  &remed_burst_config },
	{ "remediation", "rules", CFG_CUSTOM, 0, 0, 0, NULL,
	  CFG_FIELD(remed),
	  "remediation rules: trigger, action, mode, guards (nexusctl.conf(5))",
	  &remediation_config },

	{ "store", "event_retention", CFG_DURATION, 0, 3650 * CFG_DAY,
	  7 * CFG_DAY, NULL, CFG_FIELD(store.event_retention_ms),
	  "events older than this are deleted (never those after the last "
	  "snapshot); 0 keeps all", NULL },
	{ "store", "metric_raw_retention", CFG_DURATION, 0, 365 * CFG_DAY,
	  CFG_HOUR, NULL, CFG_FIELD(store.metric_raw_ms),
	  "raw metric samples kept this long; 0 keeps all", NULL },
	{ "store", "metric_1m_retention", CFG_DURATION, 0, 3650 * CFG_DAY,
	  CFG_DAY, NULL, CFG_FIELD(store.metric_1m_ms),
	  "1-minute metric averages (with min and max) kept this long", NULL },
	{ "store", "metric_1h_retention", CFG_DURATION, 0, 3650 * CFG_DAY,
	  30 * CFG_DAY, NULL, CFG_FIELD(store.metric_1h_ms),
	  "1-hour metric averages (with min and max) kept this long", NULL },
	{ "store", "audit_head_file", CFG_CUSTOM, 0, 0, 0, NULL,
	  CFG_FIELD(store.audit_head_file),
	  "`nexusctl engine` appends the audit chain's head (a JSON line) to "
	  "this file when it changed; null: never", &audit_head_file_config },
	{ "store", "audit_head_interval", CFG_DURATION, CFG_SECOND,
	  30 * CFG_DAY, 5 * CFG_MINUTE, NULL,
	  CFG_FIELD(store.audit_head_interval_ms),
	  "how often `nexusctl engine` writes the audit head out", NULL },
	{ "store", "audit_head_syslog", CFG_BOOL, 0, 1, 0, NULL,
	  CFG_FIELD(store.audit_head_syslog),
	  "`nexusctl engine` also writes the audit head to syslog (LOG_AUTH)",
	  NULL },
};

/* What one load is working on: the text and where errors go. */
struct cfg_ctx {
	const char *name;       /* file name for messages */
	const char *text;
	size_t len;
	struct nx_err *err;
};

static void *
cfg_field(struct nx_config *cfg, const struct cfg_key *k)
{
	return (char *)cfg + k->offset;
}

static const void *
cfg_cfield(const struct nx_config *cfg, const struct cfg_key *k)
{
	return (const char *)cfg + k->offset;
}

static void
cfg_store_uint(struct nx_config *cfg, const struct cfg_key *k, uint64_t v)
{
	void *f = cfg_field(cfg, k);
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (k->size) {
	case 1:
		memcpy(f, &u8, 1);
		break;
	case 2:
		memcpy(f, &u16, 2);
		break;
	case 4:
		memcpy(f, &u32, 4);
		break;
	default:
		assert(k->size == 8);
		memcpy(f, &v, 8);
		break;
	}
}

static uint64_t
cfg_fetch_uint(const struct nx_config *cfg, const struct cfg_key *k)
{
	const void *f = cfg_cfield(cfg, k);
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (k->size) {
	case 1:
		memcpy(&u8, f, 1);
		return u8;
	case 2:
		memcpy(&u16, f, 2);
		return u16;
	case 4:
		memcpy(&u32, f, 4);
		return u32;
	default:
		memcpy(&u64, f, 8);
		return u64;
	}
}

static void
cfg_store_bool(struct nx_config *cfg, const struct cfg_key *k, bool v)
{
	memcpy(cfg_field(cfg, k), &v, sizeof v);
}

static bool
cfg_fetch_bool(const struct nx_config *cfg, const struct cfg_key *k)
{
	bool v;

	memcpy(&v, cfg_cfield(cfg, k), sizeof v);
	return v;
}

static char **
cfg_name_field(struct nx_config *cfg, const struct cfg_key *k)
{
	return (char **)cfg_field(cfg, k);
}

static const char *
cfg_fetch_name(const struct nx_config *cfg, const struct cfg_key *k)
{
	const char *v;

	memcpy(&v, cfg_cfield(cfg, k), sizeof v);
	return v;
}

/* Fills cfg with the built-in defaults; cfg owns its strings afterwards. */
void
config_defaults(struct nx_config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof *cfg);
	for (i = 0; i < NX_ARRAY_LEN(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];

		switch (k->type) {
		case CFG_BOOL:
			cfg_store_bool(cfg, k, k->def != 0);
			break;
		case CFG_INT:
		case CFG_DURATION:
			cfg_store_uint(cfg, k, (uint64_t)k->def);
			break;
		case CFG_NAME:
			*cfg_name_field(cfg, k) = xstrdup(k->def_name);
			break;
		case CFG_CUSTOM:
			break;          /* none: the module's fields stay zero */
		}
	}
}

/* Frees what cfg owns and zeroes it. */
void
config_free(struct nx_config *cfg)
{
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(cfg_keys); i++) {
		if (cfg_keys[i].type == CFG_NAME)
			free(*cfg_name_field(cfg, &cfg_keys[i]));
		else if (cfg_keys[i].type == CFG_CUSTOM)
			cfg_keys[i].custom->free(cfg);
	}
	free(cfg->path);
	for (i = 0; i < cfg->ninventories; i++)
		free(cfg->inventories[i]);
	free(cfg->inventories);
	memset(cfg, 0, sizeof *cfg);
}

/* A deep copy of src into dst (which owns its strings afterwards). */
static void
cfg_clone(struct nx_config *dst, const struct nx_config *src)
{
	size_t i;

	*dst = *src;
	dst->path = src->path != NULL ? xstrdup(src->path) : NULL;
	dst->inventories = src->ninventories > 0 ?
	    xreallocarray(NULL, src->ninventories, sizeof *dst->inventories) :
	    NULL;
	for (i = 0; i < src->ninventories; i++)
		dst->inventories[i] = xstrdup(src->inventories[i]);
	for (i = 0; i < NX_ARRAY_LEN(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const char *v;

		if (k->type == CFG_CUSTOM)
			k->custom->clone(dst, src);
		if (k->type != CFG_NAME)
			continue;
		v = cfg_fetch_name(src, k);
		*cfg_name_field(dst, k) = v != NULL ? xstrdup(v) : NULL;
	}
}

/* ---------------------------------------------------------------------- */
/* Durations                                                               */

/*
 * Parses a duration string: one or more NUMBER UNIT pairs with no space,
 * NUMBER digits with an optional fraction, UNIT one of ms, s, m, h, d
 * ("500ms", "10s", "1h30m", "1.5h").  Stores milliseconds, rounded, and
 * UINT64_MAX for anything past 10^15 ms.  Returns 0, or -1 if s is not of
 * that form.
 */
int
config_parse_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 },
	};
	double total = 0;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		double v = 0, scale = 1;
		size_t i, digits = 0;

		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9') {
			if (digits++ < 18)
				v = v * 10 + (*s - '0');
			else
				v *= 10;
			s++;
		}
		if (*s == '.') {
			s++;
			if (*s < '0' || *s > '9')
				return -1;
			while (*s >= '0' && *s <= '9') {
				scale /= 10;
				v += (*s - '0') * scale;
				s++;
			}
		}
		for (i = 0; i < NX_ARRAY_LEN(units); i++) {
			size_t n = strlen(units[i].unit);

			if (strncmp(s, units[i].unit, n) == 0) {
				total += v * units[i].ms;
				s += n;
				break;
			}
		}
		if (i == NX_ARRAY_LEN(units))
			return -1;
	}
	if (!(total <= 1e15))
		*ms = UINT64_MAX;
	else
		*ms = (uint64_t)(total + 0.5);
	return 0;
}

/*
 * Writes ms as a duration string that parses back to it, largest unit
 * first, e.g. "1h30m", "1s500ms", "0s".
 */
void
config_format_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	size_t i, used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (i = 0; i < NX_ARRAY_LEN(units) && used < len; i++) {
		uint64_t n = ms / units[i].ms;
		int w;

		if (n == 0)
			continue;
		ms -= n * units[i].ms;
		w = snprintf(buf + used, len - used, "%llu%s",
		    (unsigned long long)n, units[i].unit);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* ---------------------------------------------------------------------- */
/* Error messages                                                          */

/*
 * Writes s (len bytes) quoted, for a message: control characters, C1 codes,
 * quote and backslash escaped, cut after CFG_QUOTE_MAX bytes with "...".
 */
static void
cfg_quote(char *buf, size_t size, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, n = 0, max = len < CFG_QUOTE_MAX ? len : CFG_QUOTE_MAX;

	assert(size >= 16);
	buf[n++] = '"';
	for (i = 0; i < max && n + 8 < size; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f ||
		    (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 &&
		    u[i + 1] <= 0x9f)) {
			unsigned c = u[i];

			if (c == 0xc2)
				c = u[++i];
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
		} else if (u[i] == '"' || u[i] == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)u[i];
		} else
			buf[n++] = (char)u[i];
	}
	if (i < len) {
		/* Do not leave half a UTF-8 sequence before the ellipsis. */
		while (n > 1 && ((unsigned char)buf[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 1 && ((unsigned char)buf[n - 1] & 0xc0) == 0xc0)
			n--;
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '"';
	buf[n] = '\0';
}

/*
 * Describes a JSON value for "got ..." in an error: the value itself
 * (strings quoted, control characters escaped, long ones cut), or its kind
 * ("an object").  Writes at most size bytes (size >= 16) into buf.
 */
void
config_describe(const json_t *v, char *buf, size_t size)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		cfg_quote(buf, size, json_string_value(v),
		    json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, size, "%.15g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(buf, size, "true");
		break;
	case JSON_FALSE:
		snprintf(buf, size, "false");
		break;
	case JSON_NULL:
		snprintf(buf, size, "null");
		break;
	case JSON_OBJECT:
		snprintf(buf, size, "an object");
		break;
	case JSON_ARRAY:
		snprintf(buf, size, "an array");
		break;
	}
}

/*
 * Makes a finished message safe for a terminal: control characters and C1
 * codes (from a file name, a key, jansson's text) become '?', and a UTF-8
 * sequence cut by the end of the buffer is dropped.
 */
static void
cfg_mask_message(struct nx_err *err)
{
	unsigned char *s;
	size_t i, n;

	if (err == NULL)
		return;
	s = (unsigned char *)err->msg;
	n = strnlen(err->msg, sizeof err->msg - 1);
	s[n] = '\0';
	for (i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
		else if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 &&
		    s[i + 1] <= 0x9f) {
			s[i] = '?';
			s[i + 1] = '?';
		}
	}
	i = n;
	while (i > 0 && (s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && s[i - 1] >= 0xc0) {
		size_t need = s[i - 1] >= 0xf0 ? 4 : s[i - 1] >= 0xe0 ? 3 : 2;

		if (n - (i - 1) < need)
			s[i - 1] = '\0';
	}
}

/*
 * Sets err to "file:line:column: message", the position being that of the
 * key at path (at_key) or of its value (jpos_fail, no label: the message
 * names the key itself).  When the scanner cannot find it (it always
 * should) the message has no position rather than a wrong one.  Returns -1
 * for the caller to return.
 */
static int __attribute__((format(printf, 5, 6)))
cfg_fail(struct cfg_ctx *ctx, const char *const *path, size_t npath,
    bool at_key, const char *fmt, ...)
{
	struct jpos_place pl;
	va_list ap;

	jpos_place_init(&pl, ctx->name, ctx->text, ctx->len, path[0],
	    npath > 1 ? path[1] : NULL);
	pl.nlabel = 0;
	pl.at_key = at_key;
	va_start(ap, fmt);
	jpos_vfail(ctx->err, &pl, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * The edit distance between a and b, counting a swap of two neighbours as
 * one edit (optimal string alignment); both at most 64 bytes, else a large
 * number.
 */
static size_t
cfg_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t d[65][65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1, best;

			best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/*
 * Writes the hint for an unknown key: the nearest known one when it is
 * close (one edit for short names, two for longer ones), else the list of
 * known ones.  section NULL means the top level (the section names).
 */
static void
cfg_suggest(const char *section, const char *key, char *buf, size_t size)
{
	const char *best = NULL, *prev = NULL;
	size_t i, bestd = SIZE_MAX, n = 0;
	int w;

	for (i = 0; i < NX_ARRAY_LEN(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const char *cand = section == NULL ? k->section : k->key;
		size_t d;

		if (section != NULL && strcmp(k->section, section) != 0)
			continue;
		d = cfg_distance(key, cand);
		if (d < bestd && d <= (strlen(cand) <= 4 ? 1u : 2u)) {
			best = cand;
			bestd = d;
		}
	}
	if (best != NULL) {
		snprintf(buf, size, " (did you mean \"%s\"?)", best);
		return;
	}
	/* A key written in the wrong section, or without its section. */
	for (i = 0; i < NX_ARRAY_LEN(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (strcmp(k->key, key) == 0 && (section == NULL ||
		    strcmp(k->section, section) != 0)) {
			snprintf(buf, size, " (\"%s\" is a key of section "
			    "\"%s\")", k->key, k->section);
			return;
		}
	}
	w = snprintf(buf, size, " (known %s:", section == NULL ? "sections" :
	    "keys");
	n = w > 0 ? (size_t)w : 0;
	for (i = 0; i < NX_ARRAY_LEN(cfg_keys) && n < size; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const char *cand = section == NULL ? k->section : k->key;

		if (section != NULL && strcmp(k->section, section) != 0)
			continue;
		if (prev != NULL && strcmp(prev, cand) == 0)
			continue;
		w = snprintf(buf + n, size - n, "%s %s", prev != NULL ? "," : "",
		    cand);
		n += w > 0 ? (size_t)w : 0;
		prev = cand;
	}
	if (n < size)
		snprintf(buf + n, size - n, ")");
}

/* ---------------------------------------------------------------------- */
/* Validation                                                              */

static const struct cfg_key *
cfg_find_key(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(cfg_keys); i++) {
		if (strcmp(cfg_keys[i].section, section) == 0 &&
		    strcmp(cfg_keys[i].key, key) == 0)
			return &cfg_keys[i];
	}
	return NULL;
}

static bool
cfg_is_section(const char *section)
{
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(cfg_keys); i++) {
		if (strcmp(cfg_keys[i].section, section) == 0)
			return true;
	}
	return false;
}

static bool
cfg_valid_name(const char *s, size_t len, int64_t max)
{
	size_t i;

	if (len == 0 || len > (size_t)max)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/*
 * Checks one value against its row and stores it in cfg.  Returns 0, or -1
 * with the error set (positioned at the value).
 */
static int
cfg_set(struct cfg_ctx *ctx, const struct cfg_key *k, const json_t *v,
    struct nx_config *cfg)
{
	const char *path[2] = { k->section, k->key };
	char got[64], lo[32], hi[32];
	uint64_t ms;
	double secs;

	config_describe(v, got, sizeof got);
	switch (k->type) {
	case CFG_BOOL:
		if (!json_is_boolean(v))
			return cfg_fail(ctx, path, 2, false,
			    "%s.%s: expected true or false, got %s",
			    k->section, k->key, got);
		cfg_store_bool(cfg, k, json_is_true(v));
		return 0;
	case CFG_INT:
		if (!json_is_integer(v) || json_integer_value(v) < k->min ||
		    json_integer_value(v) > k->max) {
			if (k->max == INT64_MAX)
				return cfg_fail(ctx, path, 2, false,
				    "%s.%s: expected an integer >= %lld, got %s",
				    k->section, k->key, (long long)k->min, got);
			return cfg_fail(ctx, path, 2, false,
			    "%s.%s: expected an integer from %lld to %lld, "
			    "got %s", k->section, k->key, (long long)k->min,
			    (long long)k->max, got);
		}
		cfg_store_uint(cfg, k, (uint64_t)json_integer_value(v));
		return 0;
	case CFG_DURATION:
		if (json_is_string(v)) {
			if (strlen(json_string_value(v)) !=
			    json_string_length(v) ||
			    config_parse_duration(json_string_value(v),
			    &ms) != 0)
				goto bad_duration;
		} else if (json_is_number(v)) {
			secs = json_number_value(v);
			if (!(secs > 0))
				ms = 0;
			else if (secs * 1000 > 1e15)
				ms = UINT64_MAX;
			else
				ms = (uint64_t)(secs * 1000 + 0.5);
		} else
			goto bad_duration;
		if (ms < (uint64_t)k->min || ms > (uint64_t)k->max) {
			config_format_duration((uint64_t)k->min, lo, sizeof lo);
			config_format_duration((uint64_t)k->max, hi, sizeof hi);
			return cfg_fail(ctx, path, 2, false,
			    "%s.%s: expected a duration from %s to %s, got %s",
			    k->section, k->key, lo, hi, got);
		}
		cfg_store_uint(cfg, k, ms);
		return 0;
	bad_duration:
		return cfg_fail(ctx, path, 2, false,
		    "%s.%s: expected a duration like \"10s\" or a number of "
		    "seconds, got %s", k->section, k->key, got);
	case CFG_NAME:
		if (!json_is_string(v) || !cfg_valid_name(json_string_value(v),
		    json_string_length(v), k->max))
			return cfg_fail(ctx, path, 2, false,
			    "%s.%s: expected a name of letters, digits, '_' "
			    "and '-' (at most %lld), got %s", k->section,
			    k->key, (long long)k->max, got);
		if (k->offset == offsetof(struct nx_config, checks.timeout_state)) {
			enum nx_state st;

			if (nx_state_from_name(json_string_value(v), &st) != 0)
				return cfg_fail(ctx, path, 2, false,
				    "%s.%s: expected critical, warning, unknown "
				    "or ok, got %s", k->section, k->key, got);
		}
		free(*cfg_name_field(cfg, k));
		*cfg_name_field(cfg, k) = xstrdup(json_string_value(v));
		return 0;
	case CFG_CUSTOM:
		return k->custom->parse(cfg, ctx->name, ctx->text, ctx->len, v,
		    ctx->err);
	}
	return 0;
}

/* Checks every member of one section object and stores it in cfg. */
static int
cfg_apply_section(struct cfg_ctx *ctx, const char *section, json_t *obj,
    struct nx_config *cfg)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const struct cfg_key *k = cfg_find_key(section, key);
		const char *path[2] = { section, key };
		char q[64], hint[256];

		if (k == NULL) {
			cfg_quote(q, sizeof q, key, strlen(key));
			cfg_suggest(section, key, hint, sizeof hint);
			return cfg_fail(ctx, path, 2, true,
			    "unknown key %s in %s%s", q, section, hint);
		}
		if (cfg_set(ctx, k, v, cfg) != 0)
			return -1;
	}
	return 0;
}

/* Checks the top-level object section by section and stores it in cfg. */
static int
cfg_apply(struct cfg_ctx *ctx, json_t *root, struct nx_config *cfg)
{
	const char *section;
	json_t *obj;

	json_object_foreach(root, section, obj) {
		const char *path[1] = { section };
		char q[64], hint[256], got[64];

		if (!cfg_is_section(section)) {
			cfg_quote(q, sizeof q, section, strlen(section));
			cfg_suggest(NULL, section, hint, sizeof hint);
			return cfg_fail(ctx, path, 1, true,
			    "unknown section %s%s", q, hint);
		}
		if (!json_is_object(obj)) {
			config_describe(obj, got, sizeof got);
			return cfg_fail(ctx, path, 1, false,
			    "%s: expected an object of settings, got %s",
			    section, got);
		}
		if (cfg_apply_section(ctx, section, obj, cfg) != 0)
			return -1;
	}
	if (cfg->checks.flap_low >= cfg->checks.flap_high) {
		const char *path[2] = { "checks", "flap_low_threshold" };

		if (json_object_get(json_object_get(root, "checks"),
		    "flap_low_threshold") == NULL)
			path[1] = "flap_high_threshold";
		return cfg_fail(ctx, path, 2, false, "checks: "
		    "flap_low_threshold (%u) must be below flap_high_threshold "
		    "(%u)", cfg->checks.flap_low, cfg->checks.flap_high);
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Syntax errors                                                           */

struct cfg_dup {
	size_t key_end;         /* jansson's position: just past the key */
	struct jpos pos;
	char where[128];        /* the enclosing key path, or empty */
	char key[64];           /* quoted */
	bool found;
};

static int
cfg_dup_visit(void *arg, const char *const *path, size_t depth,
    const struct jpos *key, size_t key_end, const struct jpos *value)
{
	struct cfg_dup *d = arg;
	size_t i, n = 0;

	if (key_end != d->key_end)
		return 0;
	d->found = true;
	d->pos = *key;
	cfg_quote(d->key, sizeof d->key, path[depth - 1],
	    strlen(path[depth - 1]));
	d->where[0] = '\0';
	for (i = 0; i + 1 < depth && n < sizeof d->where; i++) {
		int w = snprintf(d->where + n, sizeof d->where - n, "%s%s",
		    i > 0 ? "." : "", path[i] != NULL ? path[i] : "[]");

		n += w > 0 ? (size_t)w : 0;
	}
	return 1;
}

/*
 * Turns a jansson error into ours.  A duplicate key and trailing garbage
 * get the position of the offending text's first character (jansson gives
 * its last) and a plainer message; other syntax errors keep jansson's
 * position and text, with control characters masked.
 */
static void
cfg_syntax_error(struct cfg_ctx *ctx, const json_error_t *je)
{
	struct cfg_dup dup;
	struct jpos pos;
	char text[JSON_ERROR_TEXT_LENGTH];
	size_t i;

	if (json_error_code(je) == json_error_duplicate_key &&
	    je->position > 0) {
		memset(&dup, 0, sizeof dup);
		dup.key_end = (size_t)je->position;
		if (jpos_walk(ctx->text, ctx->len, cfg_dup_visit, &dup) == 1 &&
		    dup.found) {
			nx_err_set(ctx->err, "%s:%d:%d: duplicate key %s%s%s",
			    ctx->name, dup.pos.line, dup.pos.column, dup.key,
			    dup.where[0] != '\0' ? " in " : " at the top level",
			    dup.where);
			return;
		}
	}
	if (json_error_code(je) == json_error_end_of_input_expected &&
	    jpos_after_value(ctx->text, ctx->len, &pos) == 0) {
		nx_err_set(ctx->err, "%s:%d:%d: unexpected text after the end "
		    "of the top-level object", ctx->name, pos.line, pos.column);
		return;
	}
	snprintf(text, sizeof text, "%s", je->text);
	for (i = 0; text[i] != '\0'; i++) {
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			text[i] = '?';
	}
	if (je->line >= 1)
		nx_err_set(ctx->err, "%s:%d:%d: %s", ctx->name, je->line,
		    je->column, text);
	else
		nx_err_set(ctx->err, "%s: %s", ctx->name, text);
}

/* ---------------------------------------------------------------------- */
/* Loading                                                                 */

static int
cfg_load_buffer(struct nx_config *cfg, const char *name, const char *text,
    size_t len, struct nx_err *err)
{
	struct cfg_ctx ctx;
	struct nx_config tmp;
	json_error_t je;
	struct jpos pos;
	json_t *root;
	const char *nul;
	char got[64];
	size_t i;
	int rc;

	/* Some editors start UTF-8 files with a byte order mark; editors do
	 * not count it as a column, so neither jansson nor jsonpos sees it. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	ctx.name = name;
	ctx.text = text;
	ctx.len = len;
	ctx.err = err;
	for (i = 0; i < len; i++) {
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' &&
		    text[i] != '\r')
			break;
	}
	if (i == len) {
		nx_err_set(err, "%s:1:1: empty file: expected a JSON object "
		    "such as {\"demo\": {\"nodes\": 100}}", name);
		return -1;
	}
	/* jansson would stop reading at a NUL and ignore what follows. */
	if ((nul = memchr(text, '\0', len)) != NULL) {
		jpos_at(text, len, (size_t)(nul - text), &pos);
		nx_err_set(err, "%s:%d:%d: NUL byte in the file: not JSON text",
		    name, pos.line, pos.column);
		return -1;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &je);
	if (root == NULL) {
		cfg_syntax_error(&ctx, &je);
		return -1;
	}
	if (!json_is_object(root)) {
		jpos_at(text, len, i, &pos);
		config_describe(root, got, sizeof got);
		nx_err_set(err, "%s:%d:%d: expected a JSON object at the top "
		    "level, got %s", name, pos.line, pos.column, got);
		json_decref(root);
		return -1;
	}
	cfg_clone(&tmp, cfg);
	rc = cfg_apply(&ctx, root, &tmp);
	json_decref(root);
	if (rc != 0) {
		config_free(&tmp);
		return -1;
	}
	free(tmp.path);
	tmp.path = xstrdup(name);
	config_free(cfg);
	*cfg = tmp;
	return 0;
}

/*
 * Loads a configuration from text (len bytes, not necessarily
 * NUL-terminated) over cfg: keys the text sets replace cfg's, the others
 * stay.  name is the file name used in messages and stored as cfg->path.
 * All or nothing: returns 0, or -1 with err set and cfg untouched.
 */
int
config_load_buffer(struct nx_config *cfg, const char *name, const char *text,
    size_t len, struct nx_err *err)
{
	if (cfg_load_buffer(cfg, name, text, len, err) == 0)
		return 0;
	cfg_mask_message(err);
	return -1;
}

/*
 * Reads the whole file at path into a malloc'ed buffer the caller frees.
 * Returns 0, or -1 with err set ("path: reason").
 */
static int
cfg_read_file(const char *path, char **text, size_t *len, struct nx_err *err)
{
	size_t cap = 4096, n = 0;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		nx_err_set(err, "%s: cannot open the configuration: %s", path,
		    strerror(errno));
		return -1;
	}
	buf = xmalloc(cap);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap > CFG_MAX_FILE) {
				nx_err_set(err, "%s: larger than %d MiB: not a "
				    "configuration file", path,
				    CFG_MAX_FILE / (1024 * 1024));
				goto fail;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		r = read(fd, buf + n, cap - n);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			nx_err_set(err, "%s: cannot read the configuration: %s",
			    path, strerror(errno));
			goto fail;
		}
		n += (size_t)r;
	}
	close(fd);
	*text = buf;
	*len = n;
	return 0;
fail:
	close(fd);
	free(buf);
	return -1;
}

/*
 * Loads the file at path over cfg (see config_load_buffer).  Returns 0, or
 * -1 with err set and cfg untouched.
 */
int
config_load(struct nx_config *cfg, const char *path, struct nx_err *err)
{
	char *text;
	size_t len;
	int rc;

	if (cfg_read_file(path, &text, &len, err) != 0) {
		cfg_mask_message(err);
		return -1;
	}
	rc = config_load_buffer(cfg, path, text, len, err);
	free(text);
	return rc;
}

/*
 * The default configuration file: $XDG_CONFIG_HOME/nexusctl/config.json,
 * or ~/.config/nexusctl/config.json when XDG_CONFIG_HOME is unset, empty or
 * relative (the XDG base directory spec says to ignore a relative one).
 * Home is $HOME, else the password database.  Returns a malloc'ed path the
 * caller frees, or NULL when there is no home directory to be found.
 */
char *
config_default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct passwd *pw;
	char *p;

	if (xdg != NULL && xdg[0] == '/') {
		xasprintf(&p, "%s/nexusctl/config.json", xdg);
		return p;
	}
	if (home == NULL || home[0] == '\0') {
		if ((pw = getpwuid(getuid())) == NULL || pw->pw_dir == NULL)
			return NULL;
		home = pw->pw_dir;
	}
	xasprintf(&p, "%s/.config/nexusctl/config.json", home);
	return p;
}

/*
 * Loads the default file over cfg if there is one; no file (not even a
 * dangling link) is not an error and leaves cfg as it is, with path NULL.
 * Returns 0, or -1 with err set when the file exists and is bad.
 */
int
config_load_default(struct nx_config *cfg, struct nx_err *err)
{
	char *p = config_default_path();
	struct stat sb;
	int rc = 0;

	if (p == NULL)
		return 0;
	if (lstat(p, &sb) == 0 || errno != ENOENT)
		rc = config_load(cfg, p, err);
	free(p);
	return rc;
}

/*
 * The configuration as a JSON object in the file's own schema (durations as
 * strings), so that it loads back to the same values.  New reference.
 */
json_t *
config_to_json(const struct nx_config *cfg)
{
	json_t *root = json_object(), *sec = NULL;
	const char *prev = NULL;
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		char buf[64];
		json_t *v = NULL;

		if (prev == NULL || strcmp(prev, k->section) != 0) {
			sec = json_object();
			json_object_set_new(root, k->section, sec);
			prev = k->section;
		}
		switch (k->type) {
		case CFG_BOOL:
			v = json_boolean(cfg_fetch_bool(cfg, k));
			break;
		case CFG_INT:
			v = json_integer((json_int_t)cfg_fetch_uint(cfg, k));
			break;
		case CFG_DURATION:
			config_format_duration(cfg_fetch_uint(cfg, k), buf,
			    sizeof buf);
			v = json_string(buf);
			break;
		case CFG_NAME:
			v = cfg_fetch_name(cfg, k) != NULL ?
			    json_string(cfg_fetch_name(cfg, k)) : json_null();
			break;
		case CFG_CUSTOM:
			v = k->custom->to_json(cfg);
			break;
		}
		json_object_set_new(sec, k->key, v);
	}
	return root;
}

/* The help line of section.key, or NULL for a key not in the schema. */
const char *
config_key_help(const char *section, const char *key)
{
	const struct cfg_key *k = cfg_find_key(section, key);

	return k != NULL ? k->help : NULL;
}
