/*
 * inv-watch.c - the inventory files watched while the engine runs.
 *
 * The start and stop hooks of provider_inventory.  Each file of
 * cfg.inventories is watched with uv_fs_event twice: its directory (so
 * that an editor that writes a new file and renames it over the old one,
 * as vim and most tools do, is seen: the file's own watch would stay on
 * the old inode) and the file itself (so that a symlink to a file kept
 * elsewhere is seen too; re-armed after each reload, as the name may now
 * be another inode).  Events for other names in a directory are ignored.
 *
 * A change starts a debounce timer of INV_WATCH_DEBOUNCE_MS, restarted by
 * each further change, so a save that is several writes and a rename is
 * one reload (inv_reload(), which records the outcome as an event).  The
 * handles are unreferenced: they do not keep a loop alive on their own.
 */
#include "config.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

struct inv_watch;

struct inv_watch_handle {
	uv_fs_event_t ev;       /* first: freed from the handle */
	struct inv_watch *w;
	char *path;             /* watched: a directory or a file */
	char *name;             /* base name to react to; NULL = any */
	bool active;
};

struct inv_watch {
	struct engine *e;
	uv_timer_t timer;       /* debounce */
	struct inv_watch_handle **h;
	size_t nh;
	size_t open;            /* handles not yet closed, timer included */
	uint64_t reloads;
};

static void inv_watch_rearm(struct inv_watch *);

static void
inv_watch_on_timer(uv_timer_t *t)
{
	struct inv_watch *w = t->data;
	struct nx_err err = { { 0 } };

	w->reloads++;
	(void)inv_reload(w->e, NULL, &err);     /* the outcome is an event */
	inv_watch_rearm(w);
}

static void
inv_watch_on_event(uv_fs_event_t *ev, const char *filename, int events,
    int status)
{
	struct inv_watch_handle *h = ev->data;

	(void)events;
	if (status < 0)
		return;
	if (h->name != NULL && filename != NULL &&
	    strcmp(filename, h->name) != 0)
		return;
	uv_timer_start(&h->w->timer, inv_watch_on_timer,
	    INV_WATCH_DEBOUNCE_MS, 0);
}

/* (Re)starts the watch of one handle; a path that is gone is skipped. */
static void
inv_watch_arm(struct inv_watch_handle *h)
{
	if (h->active)
		uv_fs_event_stop(&h->ev);
	h->active = uv_fs_event_start(&h->ev, inv_watch_on_event, h->path,
	    0) == 0;
}

/* The files' own watches follow the name to its current inode. */
static void
inv_watch_rearm(struct inv_watch *w)
{
	size_t i;

	for (i = 0; i < w->nh; i++) {
		if (w->h[i]->name == NULL)
			inv_watch_arm(w->h[i]);
	}
}

static void
inv_watch_add(struct inv_watch *w, const char *path, const char *name)
{
	struct inv_watch_handle *h;
	size_t i;

	for (i = 0; i < w->nh; i++) {
		if (strcmp(w->h[i]->path, path) == 0 && (name == NULL ?
		    w->h[i]->name == NULL : w->h[i]->name != NULL &&
		    strcmp(w->h[i]->name, name) == 0))
			return;
	}
	h = xcalloc(1, sizeof *h);
	h->w = w;
	h->path = xstrdup(path);
	h->name = name != NULL ? xstrdup(name) : NULL;
	uv_fs_event_init(w->e->loop, &h->ev);
	h->ev.data = h;
	uv_unref((uv_handle_t *)&h->ev);
	w->open++;
	w->h = xreallocarray(w->h, w->nh + 1, sizeof *w->h);
	w->h[w->nh++] = h;
	inv_watch_arm(h);
}

/*
 * Starts watching cfg.inventories (nothing when there are none).  The
 * watch is the inventory provider's state in the engine.  Returns 0: a
 * file that cannot be watched is not an error (it is then reloaded only
 * with the others).
 */
int
inv_watch_start(struct engine *e)
{
	int idx = provider_index(&provider_inventory);
	struct inv_watch *w;
	size_t k;

	if (e->cfg.ninventories == 0 || idx < 0 ||
	    e->provider_state[idx] != NULL)
		return 0;
	w = xcalloc(1, sizeof *w);
	w->e = e;
	uv_timer_init(e->loop, &w->timer);
	w->timer.data = w;
	uv_unref((uv_handle_t *)&w->timer);
	w->open = 1;
	for (k = 0; k < e->cfg.ninventories; k++) {
		char *file = inv_file_path(e->cfg.inventories[k]);
		char *d = xstrdup(file), *b = xstrdup(file);

		inv_watch_add(w, dirname(d), basename(b));
		inv_watch_add(w, file, NULL);
		free(d);
		free(b);
		free(file);
	}
	e->provider_state[idx] = w;
	return 0;
}

static void
inv_watch_free(struct inv_watch *w)
{
	size_t i;

	for (i = 0; i < w->nh; i++) {
		free(w->h[i]->path);
		free(w->h[i]->name);
		free(w->h[i]);
	}
	free(w->h);
	free(w);
}

static void
inv_watch_on_close(uv_handle_t *handle)
{
	struct inv_watch *w;

	if (handle->type == UV_TIMER)
		w = handle->data;
	else
		w = ((struct inv_watch_handle *)handle->data)->w;
	if (--w->open == 0)
		inv_watch_free(w);
}

/* Stops watching; the state is freed when the last handle has closed. */
void
inv_watch_stop(struct engine *e)
{
	int idx = provider_index(&provider_inventory);
	struct inv_watch *w;
	size_t i;

	if (idx < 0 || (w = e->provider_state[idx]) == NULL)
		return;
	e->provider_state[idx] = NULL;
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, inv_watch_on_close);
	for (i = 0; i < w->nh; i++)
		uv_close((uv_handle_t *)&w->h[i]->ev, inv_watch_on_close);
}
