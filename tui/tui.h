/*
 * tui.h - the console layer's private header.
 *
 * The console is a screen manager (tui.c) that owns the terminal, the loop
 * handles and the frame timing, and a const table of views (tui_views[],
 * one file per view: view-fleet.c, view-problems.c, view-events.c,
 * view-node.c).  The manager draws the header and the footer, the help
 * screen, and the '/' (filter) and ':' (command) lines; the current view
 * draws the body and handles its keys.  Key hints in the footer and the
 * help screen are generated from the view's key table, so a binding and
 * its description cannot drift apart.  Every view gets every bus event and
 * a tick each second, shown or not, so that views keep incremental state
 * (the problem list) instead of scanning the fleet in a frame.
 *
 * Every piece of text drawn goes through text_sanitize() (text.c): nothing
 * from a node reaches the terminal raw.
 */
#ifndef NX_TUI_H
#define NX_TUI_H

#include <curses.h>

#include "engine.h"
#include "act.h"

struct store;
struct tui_opts {
	bool readonly;
	struct store *store;    /* the store this console records to, or NULL */
	/*
	 * Who runs this console (role_resolve(), cmd-console.c): every
	 * acting key calls the engine API as this actor.  Strings borrowed
	 * for the life of the console.
	 */
	struct nx_actor actor;
	uint32_t fps;           /* frame cap; 0 = default (10) */
	const char *theme;
};

struct tui;

#define TUI_CTRL(c) ((c) & 0x1f)
#define TUI_KEY_ESC 27

/*
 * Actions the screen manager carries out itself.  A view's own actions are
 * numbered from 0 up; these are negative so both fit in tui_key.action.
 */
enum {
	TUI_ACT_NONE = -1,
	TUI_ACT_QUIT = -2,      /* leave the console (exit status 0) */
	TUI_ACT_BACK = -3,      /* leave the view; quits from the top level */
	TUI_ACT_REDRAW = -4,    /* repaint the whole terminal */
	TUI_ACT_HELP = -5,      /* show the keys of the current view */
	TUI_ACT_FILTER = -6,    /* edit the view's filter (the view's filter hook) */
	TUI_ACT_COMMAND = -7,   /* the ':' command line */
	TUI_ACT_NEXT = -8,      /* the next top-level view (Tab) */
	TUI_ACT_PREV = -9,      /* the previous one (Shift-Tab) */
	/* Acting on the view's selection (acting.c): marked rows, else the current one. */
	TUI_ACT_ACK = -10,      /* acknowledge, after a comment prompt */
	TUI_ACT_DOWNTIME = -11, /* downtime, after duration and comment prompts */
	TUI_ACT_RUN = -12,      /* the action menu, inputs, confirmation */
	TUI_ACT_SHELL = -13,    /* ssh to the current node in the foreground */
	TUI_ACT_RESET = -14,    /* reset open remediation breakers */
};

/* A key that needs capability c of the actor: hidden and refused without it. */
#define TUI_NEED(c) ((c) + 1)

/*
 * The acting keys of every view with a selection (tui/acting.c), the same
 * letters and words everywhere: rows of a struct tui_key table.
 */
#define TUI_ACTING_KEYS \
	{ .key = 'a', .action = TUI_ACT_ACK, .hint = "a", .help = "ack", \
	  .need = TUI_NEED(NX_CAP_ACK) }, \
	{ .key = 'd', .action = TUI_ACT_DOWNTIME, .hint = "d", \
	  .help = "downtime", .need = TUI_NEED(NX_CAP_DOWNTIME) }, \
	{ .key = 'x', .action = TUI_ACT_RUN, .hint = "x", .help = "action", \
	  .need = TUI_NEED(NX_CAP_ACTION) }, \
	{ .key = 'r', .action = TUI_ACT_RESET, .help = "reset remediation " \
	  "breakers", .need = TUI_NEED(NX_CAP_APPROVE) }, \
	{ .key = 'o', .action = TUI_ACT_SHELL, .hint = "o", .help = "ssh" }

/*
 * One key binding.  `key` is a character (as wget_wch returns it) when
 * `keycode` is false, or a KEY_* code when it is true.  Rows with a `hint`
 * make one footer entry ("j/k move"); rows without one are aliases (Down
 * for j) and stay out of the footer.
 */
struct tui_key {
	int key;
	bool keycode;
	int action;             /* the view's action, or a TUI_ACT_* */
	const char *hint;       /* the keys as the footer names them */
	const char *help;       /* what they do, one or two words */
	int need;               /* TUI_NEED(NX_CAP_...) or 0: shown to everyone */
};

/* A key as it was read. */
struct tui_input {
	wint_t ch;
	bool keycode;           /* ch is a KEY_* code */
};

/*
 * A view: a const table entry (designated initialisers, version first),
 * listed in tui_views[].  Every hook but draw is optional.
 *
 *  init        make the view's state (owned by the manager, freed with
 *              free); called once, the first time the view is shown.
 *  draw        draw the body into `body` (erased already); t->now is the
 *              engine time of this frame.
 *  handle_key  act on a key; `bound` is the row of `keys` it matched, or
 *              NULL.  Returns true when the key was used (and the view
 *              called tui_mark_dirty() if it changed something), false to
 *              let the manager try its global keys.
 *  position    write where the view is ("rows 1-45 of 5001") into buf for
 *              the right end of the footer.
 *  event       every bus event, whether the view is shown or not (views
 *              keep their own incremental state with it).  Must be cheap.
 *  tick        every wall-clock second, shown or not.
 *  filter      set the view's filter to `text` ("" clears it); called on
 *              every keystroke of the '/' line.  Returns 0, or -1 with err
 *              set (the old filter stays).  Views without it ignore '/'.
 *  sort        sort the rows by `column` (":sort COLUMN"); 0 or -1 + err.
 *  show        the view became the current one (it may call the API,
 *              e.g. the audit view's audited read).
 *  selection   what acting keys apply to: the marked rows, else (or
 *              with `current`, always) the current row, as (node, check) pairs (check NX_NONE: the
 *              node itself) in *out (owned by the caller, freed with
 *              free).  Returns how many; 0 when there is no row.
 */
#define TUI_VIEW_VERSION 1
struct problem;
struct view {
	int version;
	const char *name;
	int key;                /* switches to this view; 0 for none */
	const struct tui_key *keys;
	size_t nkeys;
	void *(*init)(struct tui *);
	void (*free)(void *state);
	void (*draw)(struct tui *, void *state, WINDOW *body);
	bool (*handle_key)(struct tui *, void *state, const struct tui_input *,
	    const struct tui_key *bound);
	void (*position)(struct tui *, void *state, char *buf, size_t len);
	void (*event)(struct tui *, void *state, const struct event *);
	void (*tick)(struct tui *, void *state);
	int (*filter)(struct tui *, void *state, const char *text,
	    struct nx_err *);
	int (*sort)(struct tui *, void *state, const char *column,
	    struct nx_err *);
	void (*show)(struct tui *, void *state);
	size_t (*selection)(struct tui *, void *state, bool current,
	    struct problem **out);
};

/*
 * The console's copy of the event stream: the last `cap` events, text cut
 * to TUI_EVTEXT bytes.  Event number i (0-based, counted since the console
 * started) is v[i % cap] while total - i <= cap.  Filled by the manager
 * from the bus; read by the events view and the node view.
 */
#define TUI_EVRING 10000
#define TUI_EVTEXT 160
struct tui_event {
	uint64_t seq;
	nx_time time;
	uint16_t kind;
	uint8_t state, prev_state, state_type, attempt, flags;
	uint32_t node, check;
	char text[TUI_EVTEXT];
};
struct tui_evring {
	struct tui_event *v;
	size_t cap;
	uint64_t total;
};

/* What the theme gives each part of the screen (theme.c). */
/* Themes (theme.c): what a theme file says, before curses applies it. */
#define TUI_THEME_MAX_BYTES (256 * 1024)
enum theme_part {               /* the order of health after TP_OK */
	TP_TITLE,
	TP_COLHDR,
	TP_SELECT,
	TP_KEY,
	TP_DIM,
	TP_OK,
	TP_WARNING,
	TP_CRITICAL,
	TP_UNKNOWN,
	TP_DOWN,
	TP_UNREACHABLE,
	TP_PENDING,
	TP__COUNT
};
struct theme_color {
	short fg, bg;           /* curses colour 0-255; -1 the terminal's default */
	attr_t attr;
};
struct theme_spec {
	char name[64];
	bool mono;              /* attributes only, even on a colour terminal */
	struct theme_color part[TP__COUNT];
};

struct tui_theme {
	bool color;
	attr_t normal;
	attr_t title;           /* the header's first line */
	attr_t colhdr;          /* table column titles */
	attr_t select;          /* the selection bar */
	attr_t key;             /* a key name in the footer */
	attr_t dim;             /* secondary text */
	attr_t health[NX_H__COUNT];
};

#define TUI_STACK_MAX 8
#define TUI_LINE_MAX 256
#define TUI_HISTORY 32

/* What keys go to: the view, or the '/', ':' or a prompt line in the footer. */
enum tui_mode {
	TUI_MODE_VIEW,
	TUI_MODE_FILTER,
	TUI_MODE_COMMAND,
	TUI_MODE_PROMPT,        /* a question of a dialog (tui_prompt) */
};

/*
 * A dialog (dialog.c): a question on the footer line (a prompt), a menu
 * or a confirmation drawn over the body.  Its `done` gets the answer:
 * the text of a prompt, the item of a menu, nothing for a confirmation
 * (called only when the operator chose the OK button); returning -1 with
 * err keeps a prompt open with the error shown in place (a menu or a
 * confirmation closes and shows it in the footer).  `cancel` runs when
 * the operator backs out (Esc, or Enter on Cancel).  Exactly one of done
 * (returning 0) and cancel is called for each dialog, and `arg` belongs
 * to the dialog until then; done may open the next dialog and hand arg on.
 */
enum tui_dialog_kind {
	TUI_DLG_NONE,
	TUI_DLG_PROMPT,
	TUI_DLG_MENU,
	TUI_DLG_CONFIRM,
};
typedef int (*tui_dialog_done)(struct tui *, void *arg, const char *text,
    size_t item, struct nx_err *);
typedef void (*tui_dialog_cancel)(struct tui *, void *arg);
struct tui_dialog {
	enum tui_dialog_kind kind;
	char title[TUI_LINE_MAX];
	char **lines;           /* menu items or confirmation text; owned */
	size_t nlines;
	size_t sel;             /* menu item; confirmation: 0 Cancel, 1 OK */
	size_t top;             /* first menu item shown */
	char ok[32];            /* the confirmation's OK button */
	tui_dialog_done done;
	tui_dialog_cancel cancel;
	void *arg;
};

/* The console: one per tui_run(), on the heap, freed after its handles close. */
struct tui {
	struct engine *e;
	uv_loop_t *loop;
	const struct tui_opts *opts;
	struct tui_theme theme;
	struct theme_spec theme_spec;
	bool utf8;              /* the locale's charset is UTF-8 */
	/* The fleet view's columns set by :columns for the session (enum
	 * nx_column); ncolumns 0: those of console.columns. */
	uint8_t columns[NX_COL__COUNT];
	size_t ncolumns;

	WINDOW *header, *body, *footer;
	WINDOW *input_pad;      /* keys are read here: a pad never refreshes */
	int lines, cols;

	uv_poll_t input;
	uv_timer_t frame;       /* one-shot, armed when something changed */
	uv_timer_t clock;       /* every wall-clock second */
	uv_signal_t sig[4];     /* SIGWINCH SIGINT SIGTERM SIGHUP */
	int nopen;              /* handles not yet closed */

	bool dirty;             /* a frame is due */
	bool quit;
	int exit_status;
	uint32_t frame_ms;
	uint64_t last_frame;    /* uv_now() of the last frame */
	uint64_t frames;

	uint64_t results;       /* result events seen */
	uint64_t results_mark;  /* at the last clock tick */
	uint64_t mark_ms;
	uint32_t eps;           /* result events in the last second */

	nx_time now;            /* engine time of the frame being drawn */
	size_t stack[TUI_STACK_MAX];    /* indexes into tui_views[] */
	size_t depth;
	void **vstate;          /* per view, by table index */

	bool color;             /* colours allowed (NO_COLOR unset) */
	enum tui_mode mode;
	char line[TUI_LINE_MAX];        /* the '/' or ':' line being edited */
	size_t linelen;
	char line_err[sizeof(struct nx_err)];	/* why the '/' line does not parse, or "" */
	char msg[sizeof(struct nx_err) + 64];	/* a one-shot footer message, until the next key */
	bool msg_error;
	bool help;              /* the help screen covers the body */
	int help_top;           /* its first line shown */
	char *history[TUI_HISTORY];     /* ':' lines, oldest first; owned */
	size_t nhistory;
	size_t hpos;            /* Up/Down position; nhistory = the new line */
	struct tui_evring events;
	char (*filters)[TUI_LINE_MAX];  /* per view: the filter in effect */
	struct tui_dialog dialog;       /* the open dialog, if any */
	uint32_t *my_jobs;      /* jobs started from this console, to report */
	size_t nmy_jobs, my_jobs_cap;
};

/* tui.c */
extern const struct view *const tui_views[];
extern const size_t tui_nviews;
int tui_run(struct engine *, const struct tui_opts *);
void tui_mark_dirty(struct tui *);
const struct tui_key *tui_key_find(const struct tui_key *, size_t,
    const struct tui_input *);
int tui_print(struct tui *, WINDOW *, int y, int x, int width, attr_t,
    const char *, size_t);
int tui_print_right(struct tui *, WINDOW *, int y, int x, int width, attr_t,
    const char *);
void tui_format_age(char *, size_t, nx_time age_ms);
size_t tui_columns_current(const struct tui *, uint8_t *);
void tui_message(struct tui *, bool error, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void tui_push(struct tui *, const struct view *);
void tui_filter_cleared(struct tui *);
void tui_switch(struct tui *, const struct view *);
void *tui_view_state(struct tui *, const struct view *);
const struct tui_event *tui_event_at(const struct tui *, uint64_t i);
void tui_event_copy(struct tui_event *, const struct event *);
void tui_event_describe(const struct tui *, const struct tui_event *,
    char *state, size_t);
size_t tui_key_name(const struct tui_key *, char *, size_t);
int tui_command(struct tui *, const char *, struct nx_err *);
size_t tui_complete(const char *line, char *out, size_t len);
size_t tui_complete_words(const char *prefix, const char *const *words,
    size_t n, char *out, size_t len);
bool tui_can(const struct tui *, enum nx_cap);
bool tui_key_shown(const struct tui *, const struct tui_key *);
const struct view *tui_current_view(const struct tui *);
void *tui_current_view_state(const struct tui *);
void tui_redraw_all(struct tui *);

/* dialog.c */
void tui_prompt(struct tui *, const char *title, const char *def,
    tui_dialog_done, tui_dialog_cancel, void *arg);
void tui_menu(struct tui *, const char *title, char **items, size_t n,
    tui_dialog_done, tui_dialog_cancel, void *arg);
void tui_confirm(struct tui *, const char *title, char **lines, size_t n,
    const char *ok, tui_dialog_done, tui_dialog_cancel, void *arg);
bool tui_dialog_open(const struct tui *);
void tui_dialog_key(struct tui *, const struct tui_input *);
int tui_dialog_answer(struct tui *, const char *text, struct nx_err *);
void tui_dialog_dismiss(struct tui *);
void tui_dialog_draw(struct tui *, WINDOW *);
void tui_dialog_free(struct tui *);

/* marks.c: the set of marked rows of a view (pure; unit-tested). */
struct marks {
	uint64_t *slots;        /* key + 1, 0 = empty; open addressing */
	size_t nslots, count;
	uint64_t anchor;        /* the row last marked with Space */
	bool have_anchor;
};
void marks_init(struct marks *);
void marks_free(struct marks *);
bool marks_has(const struct marks *, uint64_t key);
void marks_set(struct marks *, uint64_t key, bool on);
bool marks_toggle(struct marks *, uint64_t key);
void marks_clear(struct marks *);
size_t marks_count(const struct marks *);
size_t marks_keys(const struct marks *, uint64_t *out);
typedef uint64_t (*marks_key_fn)(void *arg, size_t row);
size_t marks_range(struct marks *, marks_key_fn, void *arg, size_t nrows,
    size_t cur);
#define MARKS_PROBLEM(p) (((uint64_t)(p)->node << 32) | (p)->check)

/* acting.c: the acting keys and commands, through the engine API. */
void acting_ack(struct tui *, const char *comment);
void acting_downtime(struct tui *, const char *duration, const char *comment);
void acting_run(struct tui *, const char *action);
void acting_shell(struct tui *);
void acting_reset(struct tui *);
int acting_job(struct tui *, const char *what, uint32_t job,
    const char *reason, struct nx_err *);
void acting_job_started(struct tui *, uint32_t job);
void acting_job_event(struct tui *, const struct event *);
void acting_refused(struct tui *, const char *what, const struct nx_err *);

/* joblist.c: the jobs view's model (pure over struct job; unit-tested). */
size_t joblist_newest(const struct engine *, uint32_t *ids, size_t max);
const char *joblist_action(const struct job *);
const char *joblist_outcome(const struct job *);
void joblist_counts(const struct job *, char *, size_t);
char *joblist_targets(const struct fleet *, const struct job *);
void joblist_proposal(const struct engine *, const struct job *, char *,
    size_t);

/* text.c */
size_t text_sanitize(char *dst, size_t dstlen, const char *src, size_t srclen);
size_t text_fit(const char *, size_t, int maxcols, int *cols);
int text_width(const char *, size_t);
int text_cp_width(uint32_t);
size_t text_next(const char *, size_t, uint32_t *);

/* theme.c */
int theme_load(const char *name, struct theme_spec *, struct nx_err *);
void theme_init(struct tui_theme *, const struct theme_spec *, bool color);

/*
 * filter.c: the '/' filter of the fleet and problems views and the fleet's
 * sort orders; pure logic on the fleet, no curses (unit-tested alone).
 */
struct filter;
int filter_parse(const char *, struct filter **, struct nx_err *);
void filter_free(struct filter *);
bool filter_match(const struct filter *, const struct fleet *,
    const struct node *, const struct check *);
bool filter_dynamic(const struct filter *);
size_t filter_select(const struct filter *, const struct fleet *,
    uint32_t *ids);
int health_rank(enum nx_health);
enum fleet_sort {
	SORT_NONE,              /* fleet (inventory) order */
	SORT_NAME,
	SORT_STATE,
	SORT_LOAD,
	SORT_CPU,
	SORT_MEM,
	SORT_DISK,
	SORT_CHANGE,
	SORT__COUNT
};
const char *sort_name(enum fleet_sort);
int sort_from_name(const char *, enum fleet_sort *);
struct sort_cache {
	uint32_t *rank;         /* per node: its place in name order; owned */
	uint32_t nnodes;        /* the fleet size it was made for */
};
void sort_rows(const struct fleet *, struct sort_cache *, uint32_t *ids,
    size_t n, enum fleet_sort, bool reverse);
void sort_cache_free(struct sort_cache *);

/*
 * problems.c: the problem list, kept from bus events (no scan per frame):
 * one row per check that is not OK and per node that is not UP.
 */
struct problem {
	uint32_t node;
	uint32_t check;         /* NX_NONE: the node's host state */
};
struct problems {
	struct problem *v;      /* owned */
	size_t n, cap;
	uint32_t *check_slot;   /* per check: its row + 1, 0 = none; owned */
	uint32_t *node_slot;    /* per node: its host row + 1; owned */
	uint32_t nchecks, nnodes;       /* what the slot arrays cover */
	bool unsorted;          /* rows changed since problems_sort() */
	uint64_t version;       /* bumped on every change */
};
void problems_init(struct problems *, const struct fleet *);
void problems_free(struct problems *);
void problems_event(struct problems *, const struct fleet *,
    const struct event *);
bool problems_sort(struct problems *, const struct fleet *);
int problems_cmp(const struct fleet *, const struct problem *,
    const struct problem *);
int problem_rank(const struct fleet *, const struct problem *);
nx_time problem_since(const struct fleet *, const struct problem *);

/* view-*.c */
extern const struct view view_fleet;
extern const struct view view_problems;
extern const struct view view_events;
extern const struct view view_node;
extern const struct view view_jobs;
extern const struct view view_audit;
uint32_t view_jobs_current(struct tui *);
void view_jobs_open(struct tui *, uint32_t job);
void view_node_open(struct tui *, uint32_t node);
void events_draw_row(struct tui *, WINDOW *, int y, int x,
    const struct tui_event *, bool with_node);

#endif /* NX_TUI_H */
