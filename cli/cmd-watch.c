/*
 * cmd-watch.c - `nexusctl watch`: run the engine live and print every event
 * as one JSON object per line, until --count events, SIGINT/SIGTERM, or a
 * closed stdout.  With --state FILE it runs no engine: it follows the
 * store another process (`nexusctl engine`, the console) is writing,
 * polling it every 200 ms, and prints the events committed from then on
 * (the same JSON; acknowledgement events carry the store's extra fields).  Output is flushed once per loop iteration, not per line,
 * so a busy fleet costs few write calls while a reader still sees events as
 * they happen.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct watch {
	struct engine *e;
	uv_loop_t *loop;
	long count;             /* events still to print; -1 = no limit */
	bool failed;
	uv_signal_t sigint, sigterm;
	uv_check_t flush;
};

static void
watch_on_event(void *arg, const struct event *ev)
{
	struct watch *w = arg;
	json_t *j;

	if (w->count == 0 || w->failed)
		return;
	j = event_to_json(w->e, ev);
	if (json_dumpf(j, stdout, JSON_COMPACT | NX_JSON_FLAGS) != 0 ||
	    fputc('\n', stdout) == EOF)
		w->failed = true;
	json_decref(j);
	if (w->count > 0)
		w->count--;
	if (w->count == 0 || w->failed)
		uv_stop(w->loop);
}

static void
watch_on_check(uv_check_t *h)
{
	struct watch *w = h->data;

	if (fflush(stdout) != 0) {
		w->failed = true;
		uv_stop(w->loop);
	}
}

static void
watch_on_signal(uv_signal_t *h, int signum)
{
	uv_stop(h->loop);
}

/* Following a store: the poll timer and where it is. */
struct watch_store {
	struct watch *w;
	struct store *s;
	uint64_t after;
	uv_timer_t poll;
};

/* One stored event as the JSON watch prints: columns, then the payload. */
static int
watch_print_row(void *arg, const struct store_event_row *r)
{
	struct watch_store *ws = arg;
	struct watch *w = ws->w;
	json_t *j = json_object(), *pl;

	ws->after = r->seq;
	json_object_set_new(j, "seq", json_integer((json_int_t)r->seq));
	json_object_set_new(j, "time", json_real((double)r->time / 1000.0));
	json_object_set_new(j, "kind", json_string(r->kind ? r->kind : "?"));
	if (r->node != NULL)
		json_object_set_new(j, "node", nx_json_text(r->node));
	if (r->check != NULL)
		json_object_set_new(j, "check", nx_json_text(r->check));
	if (r->payload != NULL &&
	    (pl = json_loads(r->payload, 0, NULL)) != NULL) {
		json_object_update(j, pl);
		json_decref(pl);
	}
	if (json_dumpf(j, stdout, JSON_COMPACT | NX_JSON_FLAGS) != 0 ||
	    fputc('\n', stdout) == EOF)
		w->failed = true;
	json_decref(j);
	if (w->count > 0)
		w->count--;
	return w->count == 0 || w->failed;
}

static void
watch_on_poll(uv_timer_t *t)
{
	struct watch_store *ws = t->data;
	struct nx_err err = { { 0 } };

	if (store_events_since(ws->s, ws->after, watch_print_row, ws,
	    &err) < 0) {
		fprintf(stderr, "nexusctl: watch: %s\n", err.msg);
		ws->w->failed = true;
	}
	if (ws->w->count == 0 || ws->w->failed)
		uv_stop(t->loop);
}

/*
 * Follows the store at path: prints what is committed after the moment
 * it starts.  Returns the exit status.
 */
static int
watch_store(struct watch *w, const char *path)
{
	struct nx_err err = { { 0 } };
	struct watch_store ws;
	enum store_fail fail;

	memset(&ws, 0, sizeof ws);
	ws.w = w;
	if ((ws.s = store_open_reader(path, &fail, &err)) == NULL) {
		fprintf(stderr, "nexusctl: watch: %s\n", err.msg);
		return fail == STORE_FAIL_MISSING ? NX_EXIT_CONFIG :
		    fail == STORE_FAIL_FOREIGN || fail == STORE_FAIL_CORRUPT ||
		    fail == STORE_FAIL_NEWER ? NX_EXIT_DATAERR :
		    NX_EXIT_SOFTWARE;
	}
	ws.after = store_last_seq(ws.s);
	uv_timer_init(w->loop, &ws.poll);
	ws.poll.data = &ws;
	uv_timer_start(&ws.poll, watch_on_poll, 200, 200);
	uv_run(w->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&ws.poll, NULL);
	uv_run(w->loop, UV_RUN_NOWAIT);
	store_close(ws.s, &err);
	return 0;
}

int
cmd_watch_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "count", required_argument, NULL, CLI_OPT_COUNT },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("watch");
	struct cli_common co;
	struct nx_config cfg;
	struct engine e;
	struct watch w;
	uv_loop_t loop;
	long count = -1;
	int opt, rc, status = 0;

	cli_common_init(&co, argv);
	while ((opt = cli_next_opt(cmd, &co, argc, argv, CLI_COMMON_SHORTOPTS,
	    longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == CLI_OPT_FORMAT && strcmp(optarg, "json") != 0)
			return cli_usage_error(cmd,
			    "unknown format '%s' (json)", optarg);
		if (opt == CLI_OPT_COUNT && cli_parse_long("--count", optarg, 1,
		    LONG_MAX, &count) != 0)
			return cli_usage_error(cmd,
			    "--count wants a positive integer, not '%s'", optarg);
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);

	signal(SIGPIPE, SIG_IGN);
	memset(&e, 0, sizeof e);
	memset(&w, 0, sizeof w);
	config_defaults(&cfg);
	uv_loop_init(&loop);
	/* Following a store needs no fleet: it prints what is in the file. */
	if (co.state_path == NULL &&
	    (rc = cli_engine_open(&e, &loop, &co, &cfg)) != 0) {
		status = rc;
		goto out;
	}
	w.e = &e;
	w.loop = &loop;
	w.count = count;
	bus_subscribe(&e.bus, watch_on_event, &w);
	uv_signal_init(&loop, &w.sigint);
	uv_signal_start(&w.sigint, watch_on_signal, SIGINT);
	uv_signal_init(&loop, &w.sigterm);
	uv_signal_start(&w.sigterm, watch_on_signal, SIGTERM);
	uv_check_init(&loop, &w.flush);
	w.flush.data = &w;
	uv_check_start(&w.flush, watch_on_check);
	if (co.state_path != NULL)
		status = watch_store(&w, co.state_path);
	else if (engine_start(&e) != 0) {
		fprintf(stderr, "nexusctl: watch: the engine did not start\n");
		status = NX_EXIT_SOFTWARE;
	} else
		uv_run(&loop, UV_RUN_DEFAULT);
	if (fflush(stdout) != 0)
		w.failed = true;
	if (w.failed && errno != EPIPE) {
		perror("nexusctl: watch: stdout");
		status = NX_EXIT_SOFTWARE;
	}
	uv_close((uv_handle_t *)&w.sigint, NULL);
	uv_close((uv_handle_t *)&w.sigterm, NULL);
	uv_close((uv_handle_t *)&w.flush, NULL);
out:
	engine_free(&e);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	config_free(&cfg);
	return status;
}
