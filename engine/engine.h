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
	uint32_t flap_ring;     /* 21 state-change bits, newest in bit 0 */
	uint8_t flap_count;     /* how many of the 21 are filled */
	float flap_pct;
	nx_time last_check;
	nx_time last_change;    /* last state change (soft or hard) */
	nx_time last_hard_change;
	nx_time next_due;       /* scheduler */
	char *output;           /* owned, NUL-terminated, capped */
	double duration_ms;
};

/* ---------------------------------------------------------------------- */
/* Nodes and the fleet                                                     */

struct node {
	uint32_t id;            /* index in fleet->nodes */
	const char *name;       /* interned */
	const char *address;    /* interned */
	uint16_t port;
	const char *user;       /* interned, or NULL */
	const struct provider *provider;
	void *pdata;            /* the provider's own */
	uint32_t *groups;       /* indexes into fleet->groups; owned */
	uint16_t ngroups;
	uint32_t *checks;       /* indexes into fleet->checks; owned */
	uint16_t nchecks;

	uint8_t host_state;     /* enum nx_host_state */
	uint8_t health;         /* enum nx_health */
	nx_time last_change;    /* of health */
	struct nx_metrics m;
	json_t *vars;           /* resolved variables (object), owned; or NULL */
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
};

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
 */
#define NX_PROVIDER_VERSION 1
struct provider {
	int version;
	const char *name;
	const char *description;
	int (*inventory)(struct engine *, struct nx_err *);
	int (*start)(struct engine *);
	void (*stop)(struct engine *);
	void (*sample)(struct engine *, nx_time now);
};

/* ---------------------------------------------------------------------- */
/* Configuration (config.c): the whole schema in one struct.              */

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
	} checks;
	struct {
		uint32_t fps;           /* frame cap */
		char *theme;
	} console;
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
size_t sched_size(const struct sched *);

/* monitor.c */
void mon_apply_result(struct engine *, struct check *, const struct nx_result *);
void mon_run_check(struct engine *, struct check *);

/* config.c */
void config_defaults(struct nx_config *);
int config_load(struct nx_config *, const char *path, struct nx_err *);
int config_load_default(struct nx_config *, struct nx_err *);
void config_free(struct nx_config *);
char *config_default_path(void);

/* provider.c */
extern const struct provider *const provider_table[];
extern const size_t provider_count;
extern const struct check_kind *const check_kinds[];
const struct provider *provider_find(const char *name);
const struct check_kind *check_kind_find(const char *name);

/* engine.c */
void engine_init(struct engine *, uv_loop_t *, const struct nx_config *);
void engine_free(struct engine *);
int engine_load(struct engine *, struct nx_err *);
int engine_start(struct engine *);
void engine_stop(struct engine *);
int engine_round(struct engine *, uint32_t timeout_ms);
nx_time engine_now(const struct engine *);
enum nx_state engine_worst_state(const struct engine *);

/* providers/sim.c */
extern const struct provider provider_sim;

/* providers/local.c */
extern const struct provider provider_local;

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
int range_expand(const char *pattern, char ***names, size_t *n,
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
	void (*warn)(void *arg, const char *msg);
	void *warn_arg;
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
bool inv_valid_name(const char *, const char **why);
bool inv_valid_address(const char *, const char **why);
extern const struct provider provider_inventory;

/* providers/inv-ansible-ini.c */
int inv_parse_ini(struct inventory *, const char *path, const char *text,
    size_t len, struct nx_err *);
json_t *inv_ini_value(const char *);

/* providers/inv-json.c */
int inv_parse_json(struct inventory *, const char *path, const char *text,
    size_t len, struct nx_err *);
int nx_json_locate(const char *text, size_t len, const char *path,
    unsigned *line, unsigned *column);

#endif /* NX_ENGINE_H */
