/*
 * engine.h - the private header of the embedded engine.
 *
 * One header for the whole engine layer, prototypes grouped by the file that
 * defines them (tmux's tmux.h).  Conventions, kept everywhere in engine/ and
 * providers/:
 *
 *  - Functions that can fail return 0 on success and -1 on failure, and fill
 *    a caller-supplied `struct nx_err` with a message that names the place
 *    (file:line:column) and what is wrong.  They never print.
 *  - Allocation failure aborts through the xmalloc family; there is no
 *    `if (p == NULL)` after an allocation.
 *  - Strings that live as long as the fleet (names, addresses, groups, check
 *    names) are interned in fleet->strings and never freed one by one.
 *  - Times are milliseconds: `nx_time` is wall-clock milliseconds since the
 *    epoch (what events carry); intervals are plain uint32_t milliseconds.
 */
#ifndef NX_ENGINE_H
#define NX_ENGINE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

typedef int64_t nx_time;

struct engine;
struct check;
struct node;
struct nx_checkdef;

/* An error message with room for file:line:column and the reason. */
struct nx_err {
	char msg[512];
};

/* How every JSON document nexusctl prints is dumped. */
#define NX_JSON_FLAGS (JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

#define NX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Exit statuses shared by every subcommand (sysexits.h where it applies). */
#define NX_EXIT_USAGE 64
#define NX_EXIT_DATAERR 65
#define NX_EXIT_SOFTWARE 70
#define NX_EXIT_CANTCREAT 73             /* an output file cannot be written */
#define NX_EXIT_CONFIG 78

/*
 * States.  The numeric values of check states are the Nagios plugin exit
 * codes; host states are Nagios's too.
 */
enum nx_state {
	NX_OK = 0,
	NX_WARNING = 1,
	NX_CRITICAL = 2,
	NX_UNKNOWN = 3,
};
enum nx_host_state {
	NX_HOST_UP = 0,
	NX_HOST_DOWN = 1,
	NX_HOST_UNREACHABLE = 2,
};
enum nx_state_type {
	NX_SOFT = 0,
	NX_HARD = 1,
};

/*
 * What the console shows for a node: its host state when it is not UP, else
 * the worst state of its checks.  PENDING until the first result arrives.
 * The order is the order of the header counters.
 */
enum nx_health {
	NX_H_OK,
	NX_H_WARNING,
	NX_H_CRITICAL,
	NX_H_UNKNOWN,
	NX_H_DOWN,
	NX_H_UNREACHABLE,
	NX_H_PENDING,
	NX_H__COUNT
};

/*
 * Live metrics of a node, written by its provider's sampler.  NaN means "not
 * known yet".  `up` is whether the provider can reach the node at all.
 */
enum nx_metric {
	NX_M_LOAD,       /* 1-minute load average */
	NX_M_CPU,        /* % busy */
	NX_M_MEM,        /* % used */
	NX_M_DISK,       /* % used, worst filesystem */
	NX_M_LATENCY,    /* ms, round trip to the node */
	NX_M__COUNT
};

struct nx_metrics {
	double v[NX_M__COUNT];
	bool up;
	nx_time sampled;        /* when; 0 = never */
};

/*
 * A Nagios threshold range `[@][start:][end]` (range.c).  A value alerts
 * when it lies outside start..end, or inside it (inclusive) with `@`.
 * `start_inf` is the `~` of the syntax (negative infinity); `end_inf` an
 * empty end (positive infinity).  `percent` records a stripped trailing `%`
 * on the end value (an extension, see doc/monitor.md).
 */
struct nx_range {
	double start, end;
	bool start_inf, end_inf;
	bool inside;            /* `@`: alert inside the range */
	bool percent;
};

/*
 * An acknowledgement of a problem (monitor.c).  NORMAL is cleared by any
 * state change, STICKY only by a recovery to OK (UP for a node), as Nagios.
 * Author and comment are interned in fleet->strings.
 */
enum nx_ack_type {
	NX_ACK_NONE = 0,
	NX_ACK_NORMAL = 1,
	NX_ACK_STICKY = 2,
};
struct nx_ack {
	uint8_t type;           /* enum nx_ack_type */
	const char *author;     /* interned, or NULL */
	const char *comment;    /* interned, or NULL */
	nx_time time;           /* when it was set */
	nx_time expires;        /* 0 = never */
};

/* ---------------------------------------------------------------------- */
/* Checks and check kinds                                                  */

/*
 * The result of one check execution, handed to mon_apply_result().  The
 * output is borrowed: the monitor copies what it keeps.
 */
struct nx_result {
	enum nx_state state;
	const char *output;     /* first line and long output, raw bytes */
	size_t output_len;
	double duration_ms;
	nx_time time;           /* when the check finished */
};

/*
 * A check kind: how a check is executed.  A const table entry per kind
 * (designated initialisers, version first), listed in check_kinds[].
 * `run` starts one execution and, now or later on the loop, calls
 * mon_apply_result() exactly once for it.
 */
#define NX_CHECK_KIND_VERSION 1
struct check_kind {
	int version;
	const char *name;
	void (*run)(struct engine *, struct check *);
	void (*free_data)(void *data);
	/*
	 * Optional: the kind's data for a check defined in the configuration
	 * (checks.define, engine/checks-config.c) on node n, or NULL when the
	 * kind cannot be defined there.  The definition outlives the check.
	 */
	void *(*configure)(struct engine *, struct node *,
	    const struct nx_checkdef *);
};

struct check {
	uint32_t id;            /* index in fleet->checks */
	uint32_t node;          /* index in fleet->nodes */
	const char *name;       /* interned; unique within its node */
	const struct check_kind *kind;
	void *data;             /* the kind's own, freed by kind->free_data */

	uint32_t interval_ms;
	uint32_t retry_ms;
	uint32_t timeout_ms;
	uint8_t max_attempts;
	bool is_host_check;     /* its result decides UP/DOWN of the node */

	/* State, written only by the monitor. */
	uint8_t state;          /* enum nx_state */
	uint8_t state_type;     /* enum nx_state_type */
	uint8_t attempt;        /* 1..max_attempts */
	uint8_t last_hard_state;
	bool has_result;
	bool running;
	bool flapping;
	/* flap_count and flap_last fill padding here (192 -> 176 bytes). */
	uint8_t flap_count;     /* states recorded, up to 21 */
	uint8_t flap_last;      /* newest state recorded in the flap ring */
	/* In the last padding byte: its definition no longer selects its node
	 * (an inventory reload, mon_check_set_removed); never run, hidden. */
	bool removed;
	uint32_t flap_ring;     /* 20 change bits between the last 21 states, newest in bit 0 */
	float flap_pct;
	nx_time last_check;
	nx_time last_change;    /* last state change (soft or hard) */
	nx_time last_hard_change;
	nx_time next_due;       /* scheduler */
	char *output;           /* owned, NUL-terminated, capped */
	double duration_ms;

	/* Added by the monitor (monitor.c, doc/monitor.md). */
	uint32_t output_cap;    /* bytes allocated at output */
	uint32_t freshness_ms;  /* stale after this long; 0 = automatic */
	float flap_low, flap_high;      /* % thresholds; 0 = engine's */
	bool host_problem;      /* last result came while the node was not UP */
	bool queued;            /* waiting for a slot under mon.max_running */
	uint16_t downtime_depth;        /* downtimes in effect on this check */
	uint32_t queue_next;    /* next check id in the start queue */
	struct nx_ack ack;
};

/* ---------------------------------------------------------------------- */
/* Nodes and the fleet                                                     */

struct node {
	uint32_t id;            /* index in fleet->nodes */
	const char *name;       /* interned */
	const char *address;    /* interned */
	uint16_t port;
	bool port_set;          /* port given (inventory, -p), not a default:
				 * else ssh_config's Port applies (ssh_node_port) */
	const char *user;       /* interned, or NULL */
	const struct provider *provider;
	void *pdata;            /* the provider's own */
	uint32_t *groups;       /* indexes into fleet->groups; owned */
	uint16_t ngroups;
	uint32_t *checks;       /* indexes into fleet->checks; owned */
	uint16_t nchecks;

	uint8_t host_state;     /* enum nx_host_state */
	uint8_t health;         /* enum nx_health */
	/*
	 * Removed by an inventory reload (providers/inv-reload.c): the node
	 * keeps its id (arrays stay dense) but is in no view, no target and
	 * no health counter, and its checks never run again.  A reload that
	 * brings the name back revives the same node.
	 */
	bool removed;
	/*
	 * Checks taken off the node by a reload (check.removed): their ids
	 * follow the live ones in `checks`, at checks[nchecks] on, so that
	 * a definition that selects the node again revives the same check.
	 */
	uint16_t nchecks_removed;
	nx_time last_change;    /* of health */
	struct nx_metrics m;

	/* Added by the monitor (monitor.c, doc/monitor.md). */
	uint32_t *parents;      /* node ids; owned; see mon_node_add_parent */
	uint16_t nparents;
	uint16_t downtime_depth;        /* downtimes in effect on this node */
	struct nx_ack ack;      /* acknowledgement of its host problem */
	json_t *vars;           /* resolved variables (object), owned; or NULL */
	/* The inventory source that defined it ("terraform", "ini"...; a
	 * static string), or NULL: picks its provider action templates. */
	const char *source;
};

/* String interning (intern.c): one copy of every name. */
struct strpool {
	const char **slots;
	size_t nslots, count;
	char *arena;
	size_t arena_used, arena_size;
	char **arenas;          /* retired arenas, freed with the pool */
	size_t narenas;
};

struct fleet {
	struct node *nodes;
	uint32_t nnodes, nodes_cap;
	struct check *checks;
	uint32_t nchecks, checks_cap;
	const char **groups;    /* interned group names */
	uint32_t ngroups, groups_cap;
	uint32_t health_count[NX_H__COUNT];
	struct strpool strings;
	uint32_t nremoved;      /* nodes with .removed set (fleet_set_removed) */
};

/* ---------------------------------------------------------------------- */
/* Events and the bus                                                      */

enum nx_event_kind {
	NX_EV_RESULT,           /* a check produced a result */
	NX_EV_STATE,            /* a check changed state (soft or hard) */
	NX_EV_HOST,             /* a node's host state changed */
	NX_EV_FLAPPING,         /* flapping started or stopped */
	NX_EV_NODE,             /* a node was added or removed */
	NX_EV_CONFIG,           /* configuration loaded or changed */
	NX_EV_ACK,              /* an acknowledgement was set (state 1) or removed (0) */
	NX_EV_DOWNTIME,         /* a downtime started (state 1) or ended (0) */
	NX_EV_JOB,              /* a job changed state (act.h; text: summary) */
	NX_EV_RULE,             /* a remediation rule's state changed on a node
				 * (breaker opened or reset, proposal made) */
	NX_EV__COUNT
};

/*
 * One event.  Fields not relevant to the kind are zero.  `text` is borrowed
 * for the duration of the publish call only; subscribers copy what they keep.
 */
struct event {
	uint64_t seq;           /* assigned by bus_publish, monotonic from 1 */
	nx_time time;
	uint16_t kind;          /* enum nx_event_kind */
	uint32_t node;          /* UINT32_MAX when none */
	uint32_t check;         /* UINT32_MAX when none */
	uint8_t state, prev_state, state_type, attempt;
	const char *text;       /* output or message; may be NULL */
	uint8_t flags;          /* NX_EVF_* (monitor.c) */
};

/*
 * Event flags set by the monitor on check and host events.  SUPPRESS is
 * what notification and remediation consumers look at: it is set when any
 * of the others is, as Nagios suppresses notifications for acknowledged,
 * flapping and downtimed problems and for service problems on hosts that
 * are not UP.
 */
#define NX_EVF_ACKED            0x01    /* the problem is acknowledged */
#define NX_EVF_DOWNTIME         0x02    /* check or node in scheduled downtime */
#define NX_EVF_FLAPPING         0x04
#define NX_EVF_HOST_PROBLEM     0x08    /* node not UP: not a separate incident */
#define NX_EVF_SUPPRESS         0x10    /* notifications/remediation suppressed */

#define NX_NONE UINT32_MAX

typedef void (*bus_fn)(void *arg, const struct event *);

struct bus_sub {
	bus_fn fn;
	void *arg;
};

struct bus {
	uint64_t seq;           /* last assigned */
	struct bus_sub *subs;
	size_t nsubs;
	uint64_t count[NX_EV__COUNT];
};

/* ---------------------------------------------------------------------- */
/* Providers                                                               */

/*
 * A provider: where nodes come from and how they are reached.  A const table
 * entry per provider (designated initialisers, version first), listed in
 * provider_table[] in provider.c.  Every hook is optional.
 *
 *  inventory  add this provider's nodes and checks to the fleet.
 *  start      begin sampling on the engine loop (timers, streams).
 *  stop       stop sampling; close handles.
 *  sample     refresh metrics of every node it owns, now (batch rounds).
 *  node_changed  (version 3) an inventory reload changed node n: it was
 *             added (new, or revived by name), changed (address, port,
 *             user, groups or vars), or removed.  Called for every
 *             provider, after the node's fields are set and the inventory's
 *             own `ping` is on it, before checks.define is evaluated and
 *             before its checks are scheduled: a provider adopts the node
 *             (adds or converts checks, opens a session) or releases what
 *             it holds for it.  Checks it adds are started by the caller.
 */
#define NX_PROVIDER_VERSION 3
struct provider_action;         /* act.h */
enum nx_node_change {
	NX_NODE_ADDED,
	NX_NODE_CHANGED,
	NX_NODE_REMOVED,
};
struct provider {
	int version;
	const char *name;
	const char *description;
	int (*inventory)(struct engine *, struct nx_err *);
	int (*start)(struct engine *);
	void (*stop)(struct engine *);
	void (*sample)(struct engine *, nx_time now);
	/* What it can do to its nodes: reboot, stop, start... (act.h) */
	const struct provider_action *actions;
	size_t nactions;
	/* Version 3. */
	void (*node_changed)(struct engine *, struct node *,
	    enum nx_node_change);
};

/* ---------------------------------------------------------------------- */
/* Configuration (config.c): the whole schema in one struct.              */

/*
 * The fleet view's columns, in their default order; console.columns
 * names them as config_column_names[] spells them (config.c).
 */
enum nx_column {
	NX_COL_STATE,
	NX_COL_NAME,
	NX_COL_ADDRESS,
	NX_COL_GROUP,
	NX_COL_LOAD,
	NX_COL_CPU,
	NX_COL_MEM,
	NX_COL_DISK,
	NX_COL_CHANGE,
	NX_COL__COUNT
};

struct nx_config {
	char *path;             /* file it came from, or NULL for defaults */
	struct {
		bool enabled;
		uint32_t nodes;         /* simulated nodes */
		uint64_t seed;
		bool local;             /* add this machine as a real node */
	} demo;
	struct {
		uint32_t interval_ms;   /* default check interval */
		uint32_t retry_ms;
		uint8_t max_attempts;
		uint32_t timeout_ms;
		uint32_t max_concurrent; /* running at once; the rest queue */
		uint32_t flap_low, flap_high;   /* % (Nagios 20 / 30) */
		char *timeout_state;    /* state of a timed-out check */
		/* checks.define (engine/checks-config.c); owned */
		struct nx_checkdef *defs;
		size_t ndefs;
	} checks;
	struct {
		uint32_t fps;           /* frame cap */
		char *theme;
		/* console.columns: the fleet view's columns in display
		 * order (enum nx_column); ncolumns 0: every column in enum
		 * order (the default) */
		uint8_t columns[NX_COL__COUNT];
		size_t ncolumns;
	} console;
	struct {
		uint64_t event_retention_ms;    /* store.event_retention */
		uint64_t metric_raw_ms;         /* store.metric_raw_retention */
		uint64_t metric_1m_ms;          /* store.metric_1m_retention */
		uint64_t metric_1h_ms;          /* store.metric_1h_retention */
		/* store.audit_head_file (audit.c's cfg_custom); owned, or NULL */
		char *audit_head_file;
		uint64_t audit_head_interval_ms; /* store.audit_head_interval */
		bool audit_head_syslog;         /* store.audit_head_syslog */
	} store;
	/* Acting on the fleet (act.h); each owned by its module's cfg_custom. */
	struct nx_roles *roles;         /* roles (role.c); NULL = not configured */
	struct nx_action *actions;      /* actions.define (action.c) */
	size_t nactions;
	struct nx_remed *remed;         /* remediation (remed.c); NULL = none */
	/* providers.actions: provider action templates of inventory nodes
	 * (providers/inv-actions.c); NULL = none */
	struct nx_pactions *pactions;
	char **inventories;     /* inventory files, loaded in order; owned */
	size_t ninventories;
	/*
	 * Where the engine reports a warning (one line, no newline) that is
	 * not an error: e.g. a node defined in two inventory files.  NULL
	 * means standard error.  Not owned; not read from the file.
	 */
	void (*warn)(void *arg, const char *msg);
	void *warn_arg;
};

/* ---------------------------------------------------------------------- */
/* Monitor state kept in the engine (monitor.c)                            */

/*
 * A latency metric: count, sum, max and a log-linear histogram of whole
 * milliseconds (exact below 16 ms, then 8 buckets per power of two, so a
 * quantile is within 12.5 %).
 */
#define NX_LAT_BUCKETS 240
struct nx_latency {
	uint64_t count;
	double sum_ms;
	double max_ms;
	uint64_t hist[NX_LAT_BUCKETS];
};

/*
 * A scheduled downtime on a check (node == NX_NONE) or on a node (check ==
 * NX_NONE).  Fixed: in effect from start to end.  Flexible: may start at
 * any time between start and end, when the object enters a HARD problem
 * state, and then lasts duration_ms.
 */
struct nx_downtime {
	uint32_t id;
	uint32_t node, check;
	nx_time start, end;
	uint32_t duration_ms;
	bool fixed;
	bool in_effect;
	nx_time began;          /* when it took effect */
	const char *author, *comment;   /* interned */
};

struct nx_monitor {
	uint32_t max_running;   /* concurrency limit; 0 = 512 */
	uint32_t nqueued;       /* checks waiting for a slot */
	uint32_t qhead, qtail;  /* FIFO through check.queue_next */
	bool draining;
	bool timeout_state_set; /* else timeouts are CRITICAL */
	uint8_t timeout_state;
	float flap_low, flap_high;      /* % thresholds; 0 = 20 / 30 */
	struct nx_latency latency;      /* actual - planned start of checks */
	struct nx_downtime *downtimes;  /* owned */
	size_t ndowntimes, downtimes_cap;
	uint32_t next_downtime_id;
	uint64_t stale;         /* stale results produced by freshness */
	uint32_t fresh_cursor;  /* mon_tick's freshness scan resumes here */
	nx_time next_ack_expiry;        /* earliest ack expiry set; 0 = none */
	/* Children of each node, built from node.parents when needed. */
	uint32_t nedges;        /* parent links added through mon_node_add_parent */
	uint32_t *child_off;    /* owned; nnodes + 1 offsets into child_ids */
	uint32_t *child_ids;    /* owned */
	uint32_t child_nodes, child_edges;      /* what the index was built for */
};

/* ---------------------------------------------------------------------- */
/* The engine                                                              */

struct engine {
	uv_loop_t *loop;
	struct nx_config cfg;
	struct fleet fleet;
	struct bus bus;
	struct sched *sched;
	nx_time start_time;     /* wall clock at engine_init */
	uint64_t start_mono;    /* uv_now at engine_init */
	nx_time frozen_now;     /* when non-zero, engine_now() returns it */
	void *provider_state[16];       /* per provider, by table index */
	bool running;
	uint32_t pending;       /* checks started and not yet finished */
	uint64_t results;       /* total results applied */
	struct nx_monitor mon;  /* monitor.c */
	uv_timer_t *tick;       /* 1 s housekeeping while live; owned */
	struct act *act;        /* jobs, audit ring, rule state (act.h); owned */
	struct remed *remed;    /* remediation rule state (remed.c); owned */
};

/* xmalloc.c */
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
int xasprintf(char **, const char *, ...) __attribute__((format(printf, 2, 3)));
int xvasprintf(char **, const char *, va_list) __attribute__((format(printf, 2, 0)));

/* util.c */
void nx_err_set(struct nx_err *, const char *, ...) __attribute__((format(printf, 2, 3)));
nx_time nx_wallclock(void);
const char *nx_state_name(enum nx_state);
const char *nx_host_state_name(enum nx_host_state);
const char *nx_health_name(enum nx_health);
const char *nx_metric_name(enum nx_metric);
int nx_state_from_name(const char *, enum nx_state *);
uint64_t nx_hash64(uint64_t);
size_t nx_utf8_valid_prefix(const unsigned char *, size_t);

/* intern.c */
void strpool_init(struct strpool *);
void strpool_free(struct strpool *);
const char *strpool_intern(struct strpool *, const char *);
const char *strpool_intern_len(struct strpool *, const char *, size_t);

/* fleet.c */
void fleet_init(struct fleet *);
void fleet_free(struct fleet *);
uint32_t fleet_group(struct fleet *, const char *);
struct node *fleet_add_node(struct fleet *, const char *name, const char *address,
    const struct provider *);
void node_add_group(struct fleet *, struct node *, const char *group);
struct check *fleet_add_check(struct fleet *, struct node *, const char *name,
    const struct check_kind *, void *data);
struct node *fleet_find_node(const struct fleet *, const char *name);
void fleet_set_removed(struct fleet *, struct node *, bool removed);
void fleet_set_check_removed(struct fleet *, struct check *, bool removed);
struct check *fleet_node_check(const struct fleet *, const struct node *,
    const char *name, bool removed_too);
void fleet_set_health(struct fleet *, struct node *, enum nx_health, nx_time);
enum nx_health node_compute_health(const struct fleet *, const struct node *);
const char *node_group_name(const struct fleet *, const struct node *);

/* event.c */
json_t *nx_json_text(const char *);
const char *event_kind_name(enum nx_event_kind);
json_t *event_to_json(const struct engine *, const struct event *);
json_t *node_to_json(const struct engine *, const struct node *);

/* bus.c */
void bus_init(struct bus *);
void bus_free(struct bus *);
void bus_subscribe(struct bus *, bus_fn, void *);
void bus_unsubscribe(struct bus *, bus_fn, void *);
uint64_t bus_publish(struct bus *, struct event *);

/* sched.c */
struct sched *sched_new(struct engine *);
void sched_free(struct sched *);
void sched_add(struct sched *, struct check *, nx_time due);
int sched_start(struct sched *);
void sched_stop(struct sched *);
void sched_run(struct sched *, nx_time now);
size_t sched_size(const struct sched *);

/* range.c */
int range_parse(const char *, struct nx_range *, struct nx_err *);
bool range_alert(const struct nx_range *, double);
int range_number(const char *, size_t, double *);

/* perfdata.c */
struct nx_perf {
	char *label;            /* owned, unquoted */
	double value;           /* NaN when undetermined */
	bool undetermined;      /* the value was `U` */
	char uom[4];            /* "" or one of s ms us % B KB MB GB TB c */
	double warn, crit, min, max;    /* NaN when absent */
	bool has_warn, has_crit, has_min, has_max;
	struct nx_range warn_range, crit_range;
	char *warn_text, *crit_text;    /* owned raw range text, or NULL */
};
struct nx_plugin_output {
	char *first_line;       /* owned; never NULL */
	char *long_output;      /* owned; NULL when there is none */
	struct nx_perf *perf;   /* owned */
	size_t nperf;
	char **errors;          /* owned: one message per dropped item */
	size_t nerrors;
};
int plugin_output_parse(const char *, size_t, struct nx_plugin_output *);
void plugin_output_free(struct nx_plugin_output *);
int perfdata_parse(const char *, size_t, struct nx_plugin_output *);
enum nx_state plugin_state_from_exit(int, int, char *, size_t);

/* monitor.c */
void mon_apply_result(struct engine *, struct check *, const struct nx_result *);
void mon_run_check(struct engine *, struct check *);
void mon_free(struct engine *);
void mon_node_add_parent(struct engine *, struct node *, uint32_t);
void mon_node_set_parents(struct engine *, struct node *, const uint32_t *,
    size_t, nx_time);
void mon_check_set_removed(struct engine *, struct check *, bool, nx_time);
enum nx_host_state mon_node_reachability(const struct fleet *, const struct node *);
int mon_ack_check(struct engine *, struct check *, enum nx_ack_type,
    const char *author, const char *comment, nx_time expires, struct nx_err *);
int mon_ack_node(struct engine *, struct node *, enum nx_ack_type,
    const char *author, const char *comment, nx_time expires, struct nx_err *);
void mon_ack_remove_check(struct engine *, struct check *, nx_time);
void mon_ack_remove_node(struct engine *, struct node *, nx_time);
int mon_downtime_add(struct engine *, uint32_t node, uint32_t check,
    nx_time start, nx_time end, bool fixed, uint32_t duration_ms,
    const char *author, const char *comment, uint32_t *id, struct nx_err *);
int mon_downtime_remove(struct engine *, uint32_t id, nx_time);
const struct nx_downtime *mon_downtime_find(const struct engine *, uint32_t);
void mon_downtimes_update(struct engine *, nx_time);
bool mon_check_in_downtime(const struct engine *, const struct check *);
uint8_t mon_check_flags(const struct engine *, const struct check *);
uint32_t mon_check_freshness(struct engine *, nx_time);
void mon_tick(struct engine *, nx_time);
enum nx_state mon_timeout_state(const struct engine *);
void mon_set_timeout_state(struct engine *, enum nx_state);
void mon_apply_timeout(struct engine *, struct check *, double duration_ms);
double mon_flap_percent(uint32_t ring);
void mon_latency_add(struct nx_latency *, double ms);
double mon_latency_quantile(const struct nx_latency *, double);

/*
 * A configuration key whose value its own module parses (checks.define,
 * actions.define, ...): a const ops entry named by the key's row in
 * config.c's cfg_keys[].  parse replaces the key's current value in cfg;
 * free, clone and to_json work on the fields of struct nx_config that the
 * module owns (free leaves them zero; clone deep-copies into dst, whose
 * fields hold src's pointers until then).
 */
struct cfg_custom {
	int (*parse)(struct nx_config *, const char *file, const char *text,
	    size_t len, const json_t *value, struct nx_err *);
	void (*free)(struct nx_config *);
	void (*clone)(struct nx_config *dst, const struct nx_config *src);
	json_t *(*to_json)(const struct nx_config *);
};

/* config.c */
void config_defaults(struct nx_config *);
extern const char *const config_column_names[NX_COL__COUNT];
int config_column_add(uint8_t *cols, size_t *n, const char *name,
    struct nx_err *);
int config_columns_check(const uint8_t *cols, size_t n, struct nx_err *);
int config_load(struct nx_config *, const char *path, struct nx_err *);
int config_load_buffer(struct nx_config *, const char *name, const char *text,
    size_t len, struct nx_err *);
int config_load_default(struct nx_config *, struct nx_err *);
void config_free(struct nx_config *);
char *config_default_path(void);
json_t *config_to_json(const struct nx_config *);
const char *config_key_help(const char *section, const char *key);
int config_parse_duration(const char *, uint64_t *ms);
void config_describe(const json_t *, char *, size_t);
void config_format_duration(uint64_t ms, char *buf, size_t len);

/* jsonpos.c: line:column of keys and values in JSON text. */
#define JPOS_MAX_DEPTH 8
struct jpos {
	int line;               /* 1-based */
	int column;             /* 1-based, in characters */
	size_t offset;          /* in bytes */
};
typedef int (*jpos_visit_fn)(void *arg, const char *const *path, size_t depth,
    const struct jpos *key, size_t key_end, const struct jpos *value);
int jpos_walk(const char *, size_t, jpos_visit_fn, void *);
int jpos_find(const char *, size_t, const char *const *path, size_t npath,
    struct jpos *key, struct jpos *value);
int jpos_find_indexed(const char *, size_t, const char *const *path,
    const size_t *index, size_t npath, struct jpos *key, struct jpos *value);
void jpos_at(const char *, size_t, size_t offset, struct jpos *);
int jpos_after_value(const char *, size_t, struct jpos *);

/*
 * The place in a JSON configuration text that an error names, and the
 * error: the one locator and formatter of every configuration section
 * (config.c's keys, checks.define, actions.define, remediation, roles,
 * providers.actions...); a module keeps at most a thin wrapper that builds
 * the place of its own context.
 *
 * The path is keys from the root: the section and key jpos_place_init()
 * is given, then jpos_place_key() (or _keys()) one after another; an array
 * element is jpos_place_elem(i) (0-based), so checks.define[2].kind is
 * init "checks", "define", then elem 2, key "kind".  Entries past
 * JPOS_MAX_DEPTH are dropped (from the message's label too).
 *
 * jpos_locate() stores where the place is: an object member at its key
 * when at_key, else at its value; an array element (a path ending in an
 * element) at the key of its "name" member, else of its "kind" member
 * (definitions are named), since it has no key of its own.  What it cannot
 * find (a missing key, a scalar element, a member of a scalar) falls back
 * on the nearest parent it finds, at its value (an element: as above), the
 * path no shorter than floor entries (init: those it was given, the value
 * the module parses); at_key counts for the whole path only.  Returns 0,
 * or -1 when nothing is found or text is NULL.
 *
 * jpos_fail() sets err to "file:line:column: LABEL: message", LABEL the
 * first nlabel entries of the path spelt as in the documentation
 * ("checks.define[2].kind", at most 159 bytes); to "file:line:column:
 * message" when nlabel is 0; without ":line:column" when jpos_locate()
 * finds nothing.  Control characters in the result become '?'.  Returns
 * -1, for the caller to return.  jpos_where() returns "file:line:column"
 * of the place (malloc'ed), or a copy of file when it is not found.
 */
struct jpos_place {
	const char *file;       /* named first in messages */
	const char *text;       /* the JSON text; NULL: no positions */
	size_t len;
	const char *path[JPOS_MAX_DEPTH];       /* keys; NULL: an element */
	size_t index[JPOS_MAX_DEPTH];           /* the element's, where NULL */
	size_t npath;
	size_t nlabel;          /* entries the message names (init: all) */
	size_t floor;           /* fall back to no fewer entries */
	bool at_key;            /* init: false */
};
void jpos_place_init(struct jpos_place *, const char *file, const char *text,
    size_t len, const char *section, const char *key);
void jpos_place_key(struct jpos_place *, const char *);
void jpos_place_keys(struct jpos_place *, const char *const *, size_t);
void jpos_place_elem(struct jpos_place *, size_t);
int jpos_locate(const struct jpos_place *, struct jpos *);
int jpos_fail(struct nx_err *, const struct jpos_place *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
int jpos_vfail(struct nx_err *, const struct jpos_place *, const char *,
    va_list) __attribute__((format(printf, 3, 0)));
char *jpos_where(const struct jpos_place *);

/*
 * checks-config.c: checks defined in the configuration (checks.define),
 * parsed and validated when the file loads, applied to the fleet by
 * engine_load() after the inventories.  A definition is kind-neutral: the
 * keys of every configurable kind, those a kind does not use left empty.
 */
struct nx_threshold {
	char *label;            /* perfdata label it judges */
	char *warn_text, *crit_text;    /* raw range text, or NULL */
	struct nx_range warn, crit;
};
struct nx_checkdef {
	char *name;
	const struct check_kind *kind;
	char *target;           /* target expression, or NULL */
	bool local;             /* also the local node (provider_local) */
	bool host_check;
	uint32_t interval_ms, retry_ms, timeout_ms;     /* 0 = the defaults */
	uint8_t max_attempts;   /* 0 = the default */
	char **command;         /* plugin: argv template, NULL-terminated */
	size_t ncommand;
	char **args;            /* plugin: $ARG1$.. values */
	size_t nargs;
	char *address;          /* tcp: host to connect to; NULL = node's */
	uint16_t port;          /* tcp */
	char *send, *expect;    /* tcp: optional */
	struct nx_threshold *thresholds;
	size_t nthresholds;
	char *where;            /* "file:line:column" of the definition */
	char *target_where;     /* ... of its target (or of the definition) */
};
int checkdefs_parse(const char *file, const char *text, size_t len,
    const json_t *define, struct nx_checkdef **defs, size_t *n,
    struct nx_err *);
void checkdefs_free(struct nx_checkdef *, size_t);
extern const struct cfg_custom checkdefs_config;
struct nx_checkdef *checkdefs_clone(const struct nx_checkdef *, size_t);
json_t *checkdefs_to_json(const struct nx_checkdef *, size_t);
int checks_config_apply(struct engine *, struct nx_err *);
int checks_config_apply_from(struct engine *, uint32_t first, struct nx_err *);
void checks_config_reapply(struct engine *, const uint32_t *nodes, size_t n);
char *checkdef_expand(const char *tmpl, const struct node *,
    char *const *args, size_t nargs, struct nx_err *);
char **checkdef_argv(const struct nx_checkdef *, const struct node *,
    struct nx_err *);
void checkdef_argv_free(char **);
void checkdef_unknown(struct engine *, struct check *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void checkdef_apply_result(struct engine *, struct check *,
    const struct nx_checkdef *, enum nx_state, const char *output,
    size_t len, const char *note, double duration_ms);
enum nx_state nx_state_worse(enum nx_state, enum nx_state);

/* providers/check-plugin.c, providers/check-tcp.c */
extern const struct check_kind check_kind_plugin;
extern const struct check_kind check_kind_tcp;
/* providers/check-ssh.c: a command on the node over its SSH session. */
extern const struct check_kind check_kind_ssh;
char *check_ssh_command(const struct nx_checkdef *, const struct node *,
    struct nx_err *);
#define PLUGIN_OUTPUT_MAX 7936  /* bytes kept; the rest is counted and noted */

/*
 * child.c: one child process on the loop, in a process group of its own,
 * its output captured with a cap, killed as a group at the timeout.
 * Used by the plugin check kind, the local executor of jobs and, through
 * child_run() (synchronous, on a loop of its own), inventory scripts.
 */
#define CHILD_OUT 0             /* index of stdout in struct child_result */
#define CHILD_ERR 1             /* index of stderr */
#define CHILD_MERGE 0x1         /* stderr into stdout's pipe (Nagios) */
#define CHILD_KILL_LINGERING 0x2 /* kill the group when the linger ends */
#define CHILD_KILL_OVER_CAP 0x4 /* stdout past out_cap: kill the group */
#define CHILD_KILL_AT_END 0x8   /* done: kill what is left of the group */

struct child;

struct child_opts {
	const char *file;       /* the program; NULL: argv[0] (PATH if no /) */
	char *const *argv;      /* NULL-terminated */
	char *const *env;       /* NULL-terminated; NULL: ours */
	const char *cwd;        /* NULL: ours */
	uint32_t timeout_ms;    /* then the group is killed; 0: none */
	uint32_t linger_ms;     /* output open after the exit; 0: to timeout */
	size_t out_cap, err_cap; /* bytes kept; err_cap unused with MERGE */
	int flags;              /* CHILD_MERGE, CHILD_KILL_LINGERING */
};

/* Borrowed by the done callback for the duration of the call. */
struct child_result {
	int64_t exit_status;    /* as uv_spawn's exit_cb reports it */
	int term_signal;        /* 0, or the signal that ended it */
	char signal[16];        /* its name ("KILL"), "" if none or timed out */
	bool timed_out;         /* killed at the timeout */
	const char *out[2];     /* [CHILD_OUT], [CHILD_ERR]: NUL-terminated */
	size_t len[2];
	uint64_t dropped[2];    /* bytes read past the cap */
	bool truncated[2];      /* dropped > 0 */
	bool over_cap;          /* killed for CHILD_KILL_OVER_CAP */
	bool output_open;       /* done with a pipe not at EOF (the linger
	                           ended: a process still holds it) */
	double ms;              /* from child_spawn to done */
};

typedef void (*child_done_cb)(void *, const struct child_result *);

/* child_run(): the result, its output owned (child_run_free). */
struct child_sync {
	struct child_result res; /* out[] point into buf[] (or at "") */
	char *buf[2];           /* owned, NULL when nothing was written */
	int spawn_error;        /* -1 from child_run: the libuv error code */
};

struct child *child_spawn(uv_loop_t *, const struct child_opts *,
    child_done_cb, void *, struct nx_err *);
void child_kill(struct child *);
void child_abandon(struct child *);
pid_t child_pid(const struct child *);
int child_run(const struct child_opts *, struct child_sync *,
    struct nx_err *);
void child_sync_free(struct child_sync *);
const char *child_signal_name(int, char *, size_t);

/* provider.c */
extern const struct provider *const provider_table[];
extern const size_t provider_count;
extern const struct check_kind *const check_kinds[];
const struct provider *provider_find(const char *name);
const struct check_kind *check_kind_find(const char *name);
int provider_index(const struct provider *);
struct provider_sampler {
	uv_timer_t timer;       /* first: the state is freed from the handle */
	struct engine *e;
	const struct provider *p;
};
void *provider_state(const struct engine *, const struct provider *);
void *provider_sampler_start(struct engine *, const struct provider *,
    size_t size, uint64_t period_ms);
void provider_sampler_stop(struct engine *, const struct provider *);

/* engine.c */
void engine_init(struct engine *, uv_loop_t *, const struct nx_config *);
void engine_free(struct engine *);
int engine_load(struct engine *, struct nx_err *);
int engine_start(struct engine *);
void engine_stop(struct engine *);
int engine_round(struct engine *, uint32_t timeout_ms);
nx_time engine_now(const struct engine *);
uint32_t engine_reload_parents(struct engine *);
enum nx_state engine_worst_state(const struct engine *);

/* ---------------------------------------------------------------------- */
/* The state store (store.c) and the audit chain (audit.c)                */

struct store;
struct sqlite3;
struct snap_proj;
struct snap_restore_stats;

/*
 * Tunables of a store; store_opts_default() fills the production values.
 * Tests shrink them to reach the edges (busy, full, queue bound) quickly.
 */
struct store_opts {
	uint32_t group_ms;              /* commit at most this long after the first queued event */
	uint32_t group_events;          /* ... or as soon as this many are queued */
	size_t queue_max_bytes;         /* bound of the in-memory queue (see store.c) */
	uint32_t busy_timeout_ms;       /* SQLite busy_timeout of every connection */
	uint32_t retry_ms;              /* pause between commit attempts when degraded */
	uint32_t max_pages;             /* PRAGMA max_page_count; 0 = SQLite's default */
	bool sync_full;                 /* fsync every group (synchronous=FULL), not only at checkpoints */
	uint32_t snapshot_ms;           /* snapshot of engine state at most this often; 0 = never */
	uint32_t snapshot_events;       /* ... or after this many events */
	/* Retention (history.c); 0 keeps everything.  Data time, see doc/store.md. */
	uint64_t event_retention_ms;    /* events older than this (and before the snapshot) go */
	uint64_t metric_raw_ms;         /* raw samples kept this long */
	uint64_t metric_1m_ms;          /* 1-minute averages */
	uint64_t metric_1h_ms;          /* 1-hour averages */
	uint32_t retention_batch;       /* rows deleted per table and pass */
	size_t metric_queue_max_bytes;  /* bound of the sample queue; past it samples are dropped */
};

/* Why a store file could not be used (exit statuses follow from it). */
enum store_fail {
	STORE_FAIL_NONE,
	STORE_FAIL_MISSING,             /* no such file (read-only opens) */
	STORE_FAIL_FOREIGN,             /* not SQLite, or not a nexusctl store */
	STORE_FAIL_NEWER,               /* a schema newer than this build knows */
	STORE_FAIL_CORRUPT,             /* SQLite says the file is malformed */
	STORE_FAIL_BUSY,                /* locked by another process past busy_timeout */
	STORE_FAIL_IO,                  /* anything else (permissions, disk) */
};

struct store_stats {
	uint64_t events_committed;      /* since store_open */
	uint64_t commits;               /* event transactions committed */
	uint64_t last_seq;              /* highest seq committed (in the file) */
	double last_commit_ms;          /* BEGIN..COMMIT of the last group */
	double p99_commit_ms;           /* over the last 1024 groups */
	size_t queue_depth;             /* events queued or being committed */
	size_t queue_bytes;
	uint64_t dropped;               /* events refused while degraded and full */
	uint64_t producer_waits;        /* times the loop thread waited for the writer */
	bool degraded;
	char reason[sizeof(struct nx_err)];     /* why degraded (last error) */
	uint64_t snapshots;             /* snapshots committed */
	uint64_t snapshots_partial;     /* ... of which incremental */
	uint64_t snapshot_seq;          /* the last committed one covers up to */
	uint64_t samples_committed;     /* metric samples written (history.c) */
	uint64_t samples_dropped;       /* refused: sample queue full */
	uint64_t rollup_rows;           /* rows written to metric_1m and metric_1h */
	uint64_t pruned_rows;           /* expired rows deleted (events and metrics) */
	uint64_t dead_letters;          /* events written to dead_letters since open */
	double p50_commit_ms;           /* over the last 1024 groups, as p99 */
	double max_commit_ms;           /* ... and the longest of them */
	size_t sample_queue_depth;      /* metric samples queued (not in flight) */
};

/* One row of the events table, borrowed for the duration of a callback. */
struct store_event_row {
	uint64_t seq;
	nx_time time;
	const char *kind;
	const char *node;               /* NULL when none */
	const char *check;              /* NULL when none */
	const char *payload;            /* JSON: the event's other fields */
};
typedef int (*store_event_fn)(void *arg, const struct store_event_row *);

/* Metric history tiers and one point of a series (history.c). */
enum hist_tier {
	HIST_RAW,                       /* every sample, kept metric_raw_ms */
	HIST_1M,                        /* 1-minute avg/min/max, kept metric_1m_ms */
	HIST_1H,                        /* 1-hour avg/min/max, kept metric_1h_ms */
};
struct hist_point {
	nx_time time;                   /* sample time, or start of the minute/hour */
	double avg, min, max;
	uint64_t count;                 /* samples summarised */
};
typedef int (*hist_point_fn)(void *arg, const struct hist_point *);

/* Runs inside a writer transaction; see store_run_sync(). */
typedef int (*store_job_fn)(struct sqlite3 *, void *arg, struct nx_err *);

/* store.c */
void store_opts_default(struct store_opts *);
char *store_default_path(void);
struct store *store_open(const char *path, struct nx_err *);
struct store *store_open_opts(const char *path, const struct store_opts *,
    enum store_fail *, struct nx_err *);
int store_open_db(const char *path, bool readonly, uint32_t busy_timeout_ms,
    struct sqlite3 **, enum store_fail *, struct nx_err *);
void store_subscribe(struct store *, struct engine *);
int store_flush(struct store *, struct nx_err *);
int store_close(struct store *, struct nx_err *);
void store_get_stats(struct store *, struct store_stats *);
const char *store_path(const struct store *);
uint64_t store_last_seq(struct store *);
int store_events_since(struct store *, uint64_t seq, store_event_fn, void *,
    struct nx_err *);
int store_run_sync(struct store *, store_job_fn, void *, bool durable,
    struct nx_err *);
int store_set_max_pages(struct store *, uint32_t, struct nx_err *);
struct store *store_open_reader(const char *path, enum store_fail *,
    struct nx_err *);
int store_restore(struct store *, struct engine *, struct snap_restore_stats *,
    struct nx_err *);
int store_load_projection(struct store *, struct snap_proj *, struct nx_err *);
void store_snapshot(struct store *);
bool store_in_use(const char *path);
enum store_fail store_fail_of_sqlite(int);
int store_metric_series(struct store *, const char *node, const char *series,
    enum hist_tier, nx_time from, nx_time to, hist_point_fn, void *,
    struct nx_err *);
void store_sample_metrics(struct store *);
void store_metric_sample(struct store *, const char *node, const char *series,
    nx_time, double);
void store_dead_letter(struct store *, const struct event *, const char *reason);
int64_t store_dead_letter_count(struct store *);
int store_prune(struct store *, size_t *deleted, struct nx_err *);
void store_set_retention(struct store *, const struct nx_config *);
int store_node_state(struct store *, const char *node, struct snap_proj *,
    struct nx_err *);

/* history.c: metric history (raw, 1 min, 1 h) and retention */
#define HIST_SAMPLE_MS 10000            /* node metrics sampled at most this often */
struct store_retention {
	uint64_t events_ms, metric_raw_ms, metric_1m_ms, metric_1h_ms;
};
struct hist_writer;
struct hist_writer *hist_writer_new(struct sqlite3 *);
void hist_writer_free(struct hist_writer *);
void hist_writer_reset(struct hist_writer *);
int hist_insert(struct hist_writer *, const char *node, size_t,
    const char *name, size_t, nx_time, double, struct nx_err *);
int hist_rollup(struct hist_writer *, uint64_t *rows, struct nx_err *);
int hist_retain(struct hist_writer *, const struct store_retention *,
    nx_time event_now, size_t batch, size_t *deleted, bool *more,
    struct nx_err *);
int hist_read(struct sqlite3 *, const char *node, const char *series,
    enum hist_tier, nx_time from, nx_time to, hist_point_fn, void *,
    struct nx_err *);
const char *hist_metric_name(enum nx_metric);

/*
 * Current state as a projection of the event log (snapshot.c): every node
 * (check == NULL) and check by name, and the downtimes.  Strings owned.
 * For a node, state is its enum nx_host_state.
 */
struct snap_obj {
	char *node;
	char *check;                    /* NULL for the node itself */
	uint8_t state, state_type, attempt, last_hard_state;
	bool has_result, flapping;
	uint8_t flap_count, flap_last;
	uint32_t flap_ring;
	nx_time last_check, last_change, last_hard_change;
	char *output;
	uint8_t ack_type;               /* enum nx_ack_type */
	char *ack_author, *ack_comment;
	nx_time ack_time, ack_expires;
	/* A node removed by an inventory reload whose snapshot still has it
	 * (a `node` event "removed" in the tail); see snap_obj_removed. */
	bool removed;
};

struct snap_downtime {
	uint32_t id;
	char *node, *check;             /* check NULL: on the node */
	nx_time start, end;
	uint32_t duration_ms;
	bool fixed, in_effect;
	nx_time began;
	char *author, *comment;
};

struct snap_proj {
	struct snap_obj *objs;
	size_t nobjs, cap;
	uint32_t *map;                  /* open addressing, index + 1 */
	size_t nmap;
	struct snap_downtime *dts;
	size_t ndts;
	uint64_t snap_seq;              /* the last event the snapshot includes */
	nx_time snap_time;
	uint64_t last_seq;              /* the last event applied */
	uint64_t tail;                  /* events replayed after the snapshot */
	bool partial;                   /* only objects changed since the last one */
};

struct snap_restore_stats {
	uint64_t snap_seq, last_seq, tail;
	uint32_t nodes, checks, downtimes;
	uint32_t unknown;               /* in the file, not in the fleet: ignored */
};

/* snapshot.c */
void snap_proj_init(struct snap_proj *);
void snap_proj_free(struct snap_proj *);
struct snap_obj *snap_proj_find(const struct snap_proj *, const char *node,
    const char *check);
struct snap_obj *snap_proj_get(struct snap_proj *, const char *node,
    const char *check);
void snap_proj_from_engine(struct snap_proj *, const struct engine *,
    uint64_t seq);
void snap_proj_from_engine_dirty(struct snap_proj *, const struct engine *,
    uint64_t seq, const uint8_t *dirty_nodes, uint32_t nnodes,
    const uint8_t *dirty_checks, uint32_t nchecks);
int snap_proj_write(const struct snap_proj *, struct sqlite3 *,
    struct nx_err *);
int snap_proj_apply(struct snap_proj *, const struct store_event_row *);
int snap_proj_load_node(struct snap_proj *, struct sqlite3 *, const char *node,
    struct nx_err *);
int snap_proj_load(struct snap_proj *, struct sqlite3 *, struct nx_err *);
struct snap_reader;
int snap_reader_load_node(struct snap_reader **, struct sqlite3 *,
    const char *node, struct snap_proj *, struct nx_err *);
void snap_reader_free(struct snap_reader *);
void snap_proj_restore(const struct snap_proj *, struct engine *,
    struct snap_restore_stats *);
uint64_t snap_proj_digest(const struct snap_proj *);
bool snap_obj_removed(const struct snap_proj *, const struct snap_obj *);

/* One audited action; NULL strings are stored as "" (args as "{}"). */
struct nx_audit_entry {
	nx_time time;                   /* 0 = now */
	const char *who;                /* Unix user; NULL = the effective user */
	const char *role;               /* viewer, operator, admin, auditor, engine */
	const char *action;
	const char *target;
	const char *args;               /* a JSON document (stored canonical) */
	const char *result;
};

#define AUDIT_HASH_LEN 32

enum audit_break {
	AUDIT_INTACT,
	AUDIT_CHANGED,                  /* a row's hash does not match its fields */
	AUDIT_GAP,                      /* a seq gap: rows deleted or a row inserted */
	AUDIT_REORDERED,                /* a row's prev link is not its predecessor's hash */
	AUDIT_TRUNCATED,                /* rows missing after the last row */
	AUDIT_INSERTED,                 /* rows past the recorded head */
	AUDIT_HEAD,                     /* differs from the head given by the caller */
};

struct audit_verify_result {
	uint64_t rows;                  /* rows read */
	uint64_t head_seq;              /* last row */
	char head_hex[2 * AUDIT_HASH_LEN + 1];
	enum audit_break why;
	uint64_t broken_seq;            /* the first broken row (its seq) */
	char detail[256];
	enum store_fail fail;           /* when audit_verify returns -1 */
};

/* audit.c */
int audit_append(struct store *, const struct nx_audit_entry *,
    struct nx_err *);
int audit_append_path(const char *path, const struct nx_audit_entry *,
    struct nx_err *);
int audit_verify(const char *path, const char *expect_head,
    struct audit_verify_result *, struct nx_err *);
int audit_head(const char *path, uint64_t *seq, char hex[2 * AUDIT_HASH_LEN + 1],
    enum store_fail *, struct nx_err *);
int audit_read_head(struct sqlite3 *, uint64_t *seq,
    char hex[2 * AUDIT_HASH_LEN + 1]);
enum audit_head_format {
	AUDIT_HEAD_TEXT,                /* SEQ:HEX */
	AUDIT_HEAD_JSON,                /* {"time","state","seq","hash","head"} */
};
char *audit_head_line(enum audit_head_format, const char *state,
    uint64_t seq, const char *hex, nx_time now);
int audit_head_append(const char *file, const char *line, struct nx_err *);
void audit_head_syslog(const char *state, uint64_t seq, const char *hex);
int audit_anchor_store(struct store *, const char *file, bool use_syslog,
    uint64_t *last, struct nx_err *);
/* store.c, on the reader connection */
int store_audit_head(struct store *, uint64_t *seq,
    char hex[2 * AUDIT_HASH_LEN + 1], struct nx_err *);
extern const struct cfg_custom audit_head_file_config;
const char *audit_break_name(enum audit_break);
size_t audit_canonical(uint64_t seq, nx_time, const char *const fields[6],
    unsigned char **out);

/* providers/sim.c (provider actions reboot, stop, start: act.h) */
extern const struct provider provider_sim;
void sim_set_reboot_ms(struct engine *, uint32_t);

/*
 * providers/local.c: this machine as one real node, sampled from /proc.
 * The parsers take a NUL-terminated buffer so that tests can feed fixtures.
 */
extern const struct provider provider_local;
struct local_cpu_times {
	uint64_t busy;          /* jiffies not idle nor waiting for I/O */
	uint64_t total;         /* all jiffies */
};
char *local_read_all(const char *path, size_t max, size_t *len);
int local_parse_loadavg(const char *buf, double *load1);
int local_parse_meminfo(const char *buf, double *used_pct);
int local_parse_stat(const char *buf, struct local_cpu_times *);
double local_cpu_busy_pct(const struct local_cpu_times *prev,
    const struct local_cpu_times *cur);
char **local_parse_mounts(const char *buf, size_t *count);
void local_mounts_free(char **, size_t);
double local_disk_used_pct(const char *mountpoint);
double local_disk_worst_pct(const char *mounts_path);

/*
 * providers/check-metric.c: the `metric` check kind judges one of the node's
 * live metrics (written by its provider's sampler) against thresholds.  A
 * host check (`ping`) is CRITICAL when the provider cannot reach the node.
 */
struct metric_check {
	uint8_t metric;         /* enum nx_metric */
	double warn, crit;      /* value >= warn is WARNING, >= crit CRITICAL */
};
extern const struct check_kind check_kind_metric;
struct check *metric_check_add(struct engine *, struct node *, const char *name,
    enum nx_metric, double warn, double crit, bool is_host_check);
void metric_thresholds(enum nx_metric, unsigned cores, double *warn,
    double *crit);
void metric_checks_add_standard(struct engine *, struct node *, unsigned cores);

/* ---------------------------------------------------------------------- */
/* Targets (target.c): the one selection grammar of -t and the console.   */

/*
 * A parsed target expression (see target.c for the grammar).  Opaque; made
 * by target_parse(), freed by target_free().
 */
struct nx_target;

/* Hostlist expansion refuses patterns that would produce more names. */
#define NX_RANGE_MAX 1000000

struct nx_target *target_parse(const char *, struct nx_err *);
void target_free(struct nx_target *);
int target_select(const struct nx_target *, const struct fleet *,
    uint32_t **ids, size_t *n);
bool target_match(const struct nx_target *, const struct fleet *,
    const struct node *);
int hostlist_expand(const char *pattern, char ***names, size_t *n,
    struct nx_err *);
void range_free(char **names, size_t n);
char *hostlist_compress(const char **names, size_t n);

/* ---------------------------------------------------------------------- */
/* Inventories (providers/inventory.c, inv-ansible-ini.c, inv-json.c)     */

/*
 * The inventory model every inventory source parses into before it
 * becomes fleet nodes: Ansible's model (groups with hosts, children and
 * vars; `all` and `ungrouped` always exist as groups 0 and 1).  Names and
 * file names are owned by the inventory; vars are owned JSON objects.
 */
#define INV_ALL 0
#define INV_UNGROUPED 1

struct inv_group {
	char *name;
	json_t *vars;           /* the group's own vars */
	uint32_t *children;     /* group indexes, in declaration order */
	size_t nchildren;
	uint32_t *hosts;        /* direct hosts, host indexes, in order */
	size_t nhosts;
	uint32_t *parents;      /* filled by inv_finish() */
	size_t nparents;
	int depth;              /* longest path from `all`, by inv_finish() */
	const char *file;       /* where first declared, or NULL (implicit) */
	unsigned line;
	bool declared;          /* [g] or [g:children] seen (INI) */
};

struct inv_host {
	char *name;
	json_t *vars;           /* the host's own vars */
	uint32_t *groups;       /* direct groups, in order */
	size_t ngroups;
	const char *file;       /* where it was (last) defined */
	unsigned line;
	const char *source;     /* the source that (last) defined it; static */
};

struct inv_map {                /* name -> index, open addressing */
	uint32_t *slots;        /* index + 1; 0 = empty */
	size_t nslots;
};

struct inventory {
	struct inv_group *groups;
	size_t ngroups, groups_cap;
	struct inv_host *hosts;
	size_t nhosts, hosts_cap;
	struct inv_map group_map, host_map;
	char **files;           /* file names, owned */
	size_t nfiles;
	const char *cur_file;   /* the file being parsed */
	const char *cur_source; /* name of the source parsing it; static */
	void (*warn)(void *arg, const char *msg);
	void *warn_arg;
	int script_timeout_ms;  /* per run of a script source; 0: 30 s */
};

void inv_init(struct inventory *);
void inv_free(struct inventory *);
uint32_t inv_group(struct inventory *, const char *name);
int inv_group_find(const struct inventory *, const char *name);
uint32_t inv_host(struct inventory *, const char *name, unsigned line);
int inv_host_find(const struct inventory *, const char *name);
void inv_host_add_group(struct inventory *, uint32_t host, uint32_t group);
void inv_group_add_child(struct inventory *, uint32_t parent, uint32_t child);
void inv_warn(struct inventory *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
int inv_load_file(struct inventory *, const char *path, struct nx_err *);
int inv_parse(struct inventory *, const char *path, const char *text,
    size_t len, struct nx_err *);
int inv_finish(struct inventory *, struct nx_err *);
json_t *inv_host_vars(const struct inventory *, uint32_t host);
int inv_to_fleet(struct inventory *, struct fleet *,
    const struct provider *, struct nx_err *);
/*
 * One host resolved into what its node gets (inv_node_resolve): strings
 * borrowed from the inventory, vars and the groups array owned.
 */
struct inv_node {
	const char *name;
	const char *address;
	uint16_t port;
	bool port_set;          /* ansible_port given (else port is 22) */
	const char *user;       /* or NULL */
	const char *source;     /* static, or NULL */
	json_t *vars;           /* resolved vars; owned */
	const char **groups;    /* names, without `all`; array owned */
	size_t ngroups;
};
int inv_node_resolve(struct inventory *, uint32_t host, struct inv_node *,
    struct nx_err *);
void inv_node_clear(struct inv_node *);
void inv_node_apply(struct fleet *, struct node *, struct inv_node *);
char *inv_file_path(const char *spec);
void inventory_node_checks(struct engine *, struct node *);
void inventory_ping_restore(struct check *);
void inventory_warn_default(void *, const char *);
bool inv_source_known(const char *name);
bool inv_valid_name(const char *, const char **why);
bool inv_valid_address(const char *, const char **why);
extern const struct provider provider_inventory;

/*
 * providers/inv-reload.c: an inventory applied to a running fleet.  The
 * counts are nodes of the inventory provider: added (new or revived),
 * removed, changed (address, port, user, groups or vars) and kept as
 * they were.
 */
struct inv_reload_stats {
	uint32_t added, removed, changed, kept;
};
int inv_reload_apply(struct engine *, struct inventory *,
    struct inv_reload_stats *, struct nx_err *);
int inv_reload(struct engine *, struct inv_reload_stats *, struct nx_err *);

/* providers/inv-watch.c: cfg.inventories watched while the engine runs. */
#define INV_WATCH_DEBOUNCE_MS 200
int inv_watch_start(struct engine *);
void inv_watch_stop(struct engine *);

/* providers/inv-ansible-ini.c */
int inv_parse_ini(struct inventory *, const char *path, const char *text,
    size_t len, struct nx_err *);
json_t *inv_ini_value(const char *);
int inv_host_word(const char *word, char ***names, size_t *nnames,
    long *port, struct nx_err *);

/* providers/inv-script.c */
bool inv_script_claims(const char *path, bool executable, const char *text,
    size_t len);
int inv_parse_script(struct inventory *, const char *path, const char *text,
    size_t len, struct nx_err *);
int inv_script_apply(struct inventory *, const char *path, json_t *root,
    uint32_t **ask, size_t *nask, struct nx_err *);

/* providers/inv-ssh-config.c */
bool inv_ssh_config_claims(const char *path, bool executable,
    const char *text, size_t len);
int inv_parse_ssh_config(struct inventory *, const char *path,
    const char *text, size_t len, struct nx_err *);

/* providers/inv-terraform.c */
bool inv_terraform_claims(const char *path, bool executable,
    const char *text, size_t len);
int inv_parse_terraform(struct inventory *, const char *path,
    const char *text, size_t len, struct nx_err *);

/* providers/inv-ansible-yaml.c */
int inv_parse_yaml(struct inventory *, const char *path, const char *text,
    size_t len, struct nx_err *);

/* providers/inv-json.c */
int inv_parse_json(struct inventory *, const char *path, const char *text,
    size_t len, struct nx_err *);
int nx_json_locate(const char *text, size_t len, const char *path,
    unsigned *line, unsigned *column);

/* ---------------------------------------------------------------------- */
/* SSH (providers/ssh-session.c): libssh2 sessions on the loop (doc/ssh.md) */

/* Why a command could not run (SSH_OK: it ran; see the exit status). */
enum ssh_fail {
	SSH_OK = 0,
	SSH_FAIL_RESOLVE,
	SSH_FAIL_CONNECT,
	SSH_FAIL_HANDSHAKE,
	SSH_FAIL_HOSTKEY,       /* unknown or changed host key */
	SSH_FAIL_AUTH,
	SSH_FAIL_CHANNEL,       /* session up, but the channel failed */
	SSH_FAIL_TIMEOUT,
	SSH_FAIL_CLOSED,        /* the pool was closed first */
};

/* A refused host key, borrowed for the duration of the callback. */
struct ssh_refusal {
	const char *address;            /* as connected to (after ssh_config) */
	uint16_t port;
	const char *user;
	const char *key_type;           /* "ssh-ed25519" */
	const char *fingerprint;        /* "SHA256:..." */
	bool changed;                   /* else: not known */
	const char *known_hosts;        /* the user file */
	const char *message;            /* the refusal, as the execs get it */
};

/*
 * Options of an SSH pool; zero fields get the defaults.  Strings are
 * copied by ssh_pool_new().
 */
struct ssh_opts {
	const char *user;               /* default remote user; NULL = local user */
	const char *const *identities;  /* identity files; none = ~/.ssh/id_{ed25519,ecdsa,rsa} */
	size_t nidentities;
	const char *known_hosts;        /* user known_hosts; NULL = ~/.ssh/known_hosts */
	const char *config_file;        /* ssh_config; NULL = ~/.ssh/config, "none" */
	bool accept_new;                /* add keys of unknown hosts (never changed ones) */
	bool no_agent;                  /* do not use ssh-agent */
	uint32_t connect_ms;            /* default 10 s */
	uint32_t handshake_ms;          /* handshake + authentication; default 15 s */
	uint32_t idle_ms;               /* close an unused session after; 0 = never */
	uint32_t max_startups;          /* sessions connecting at once; default 64 */
	uint32_t max_channels;          /* channels per session; default 8 */
	size_t output_cap;              /* bytes kept per stream; default 64 KiB */
	uint32_t keepalive_ms;          /* SSH keepalive every; 0 = none */
	uint32_t keepalive_count;       /* unacknowledged for this many: dead; default 3 */
	void (*warn)(void *arg, const char *msg);       /* accept-new notices */
	void *warn_arg;
	/* A host key refused (unknown or changed), once per host and key;
	 * called with warn_arg, before the execs fail.  Optional. */
	void (*refused)(void *arg, const struct ssh_refusal *);
	/* Run ssh_exec commands on a long-lived shell per session (the
	 * runner, doc/ssh.md) instead of a channel each; streams and
	 * commands submitted while it is busy still get channels. */
	bool runner;
};

/* The result of one ssh_exec, borrowed for the duration of the callback. */
struct ssh_result {
	enum ssh_fail fail;
	const char *error;              /* why, when fail != SSH_OK */
	int exit_status;                /* -1 when none (signal, failure) */
	const char *exit_signal;        /* e.g. "KILL", or NULL */
	const char *out, *err;          /* NUL-terminated, capped */
	size_t out_len, err_len;
	bool out_truncated, err_truncated;
	double duration_ms;             /* from submission */
	bool started;                   /* the command had been started on the
					 * host (a timeout: it ran too long) */
};
typedef void (*ssh_exec_cb)(void *arg, const struct ssh_result *);
typedef void (*ssh_data_cb)(void *arg, const char *buf, size_t len);

struct ssh_pool_stats {
	uint32_t hosts, ready, starting, waiting;
};

struct ssh_pool;
struct ssh_pool *ssh_pool_new(uv_loop_t *, const struct ssh_opts *,
    struct nx_err *);
int ssh_exec(struct ssh_pool *, const char *address, uint16_t port,
    const char *user, const char *command, uint32_t timeout_ms, ssh_exec_cb,
    void *arg);
int ssh_exec_stream(struct ssh_pool *, const char *address, uint16_t port,
    const char *user, const char *command, uint32_t timeout_ms, ssh_data_cb,
    ssh_exec_cb, void *arg);
int ssh_exec_cancel(struct ssh_pool *, const char *address, uint16_t port,
    const char *user, void *arg);
void ssh_pool_close(struct ssh_pool *);
int ssh_pool_drop(struct ssh_pool *, const char *address, uint16_t port,
    const char *user, enum ssh_fail, const char *reason);
void ssh_pool_stats(const struct ssh_pool *, struct ssh_pool_stats *);
const char *ssh_fail_name(enum ssh_fail);
char *ssh_shell_quote(const char *);
extern const struct provider provider_ssh;     /* providers/ssh.c */

/*
 * providers/ssh-frame.c: the runner's framing (doc/ssh.md, "The runner"):
 * a command sent to a long-lived shell, its output ended by a per-command
 * random token on each stream.
 */
#define SSH_FRAME_TOKEN_LEN 32
struct ssh_frame_scan {
	char pat[SSH_FRAME_TOKEN_LEN + 3];      /* "\n" TOKEN " " or "\n" */
	size_t patlen, matched;
};
struct ssh_frame {
	char token[SSH_FRAME_TOKEN_LEN + 1];
	struct ssh_frame_scan out, err;
	bool out_done, err_done, in_status;
	int status;
	unsigned ndigits;
};
typedef void (*ssh_frame_emit)(void *arg, const char *buf, size_t len);
char *ssh_frame_start(struct ssh_frame *, const char *command,
    struct nx_err *);
size_t ssh_frame_feed(struct ssh_frame *, bool err, const char *buf,
    size_t len, ssh_frame_emit, void *arg);
bool ssh_frame_done(const struct ssh_frame *);
int ssh_frame_status(const struct ssh_frame *);
/* providers/ssh.c: the engine's one pool (sampler, `ssh` checks, jobs). */
struct ssh_pool *ssh_engine_pool(struct engine *, struct nx_err *);
void ssh_engine_pool_close(struct engine *);
uint32_t ssh_backoff_next(uint32_t *base_ms, double r);
void ssh_audit_refusal(void *engine, const struct ssh_refusal *);

/*
 * providers/ssh-config.c: Host (patterns `*`, `?`, `!`), Include,
 * HostName, Port, User, IdentityFile, IdentitiesOnly, UserKnownHostsFile,
 * StrictHostKeyChecking, ConnectTimeout; first value wins.
 */
enum ssh_strict {
	SSH_STRICT_YES,         /* refuse unknown and changed keys */
	SSH_STRICT_ACCEPT_NEW,  /* add unknown keys, refuse changed ones */
	SSH_STRICT_NO,          /* as accept-new: changed keys are refused anyway */
	SSH_STRICT_ASK,         /* as yes: there is no one to ask */
};
/* What ssh_config says for one host; unset: NULL, 0, -1.  Owned. */
struct ssh_host_config {
	char *hostname;
	uint16_t port;
	char *user;
	char **identities;              /* expanded */
	size_t nidentities;
	int identities_only;            /* -1, 0, 1 */
	char **known_hosts;             /* UserKnownHostsFile, ~ expanded */
	size_t nknown_hosts;
	int strict;                     /* -1 or enum ssh_strict */
	int connect_timeout;            /* seconds; 0 none; -1 unset */
};
struct ssh_config;
struct ssh_config *ssh_config_parse(const char *);
struct ssh_config *ssh_config_load(const char *path);
void ssh_config_free(struct ssh_config *);
void ssh_config_resolve(const struct ssh_config *, const char *name,
    const char *user, uint16_t port, const char *default_user,
    struct ssh_host_config *);
void ssh_host_config_free(struct ssh_host_config *);
const char *ssh_strict_name(int);

/*
 * What the pool will use for one (address, port, user) as given by its
 * caller (port 0, user NULL: not given): ssh_pool_resolve().  Owned.
 */
struct ssh_target {
	char *address;                  /* after HostName */
	uint16_t port;
	char *user;
	char **identities;              /* tried in order after the agent */
	size_t nidentities;
	const char *identities_from;    /* "option", "ssh_config", "default" */
	bool identities_only;
	bool agent;                     /* ssh-agent tried first */
	char **known_hosts;             /* user files; accept-new appends to the first */
	size_t nknown_hosts;
	const char *global_known_hosts;
	enum ssh_strict strict;
	uint32_t connect_ms, handshake_ms, keepalive_ms;
};
int ssh_pool_resolve(struct ssh_pool *, const char *address, uint16_t port,
    const char *user, struct ssh_target *);
void ssh_target_free(struct ssh_target *);
const char *ssh_pool_config_path(const struct ssh_pool *);
uint16_t ssh_node_port(const struct node *);
json_t *ssh_node_settings(const struct node *, struct nx_err *);
int ssh_expand_command(const char *tmpl, const char *name, const json_t *vars,
    char **out, struct nx_err *);

#endif /* NX_ENGINE_H */
