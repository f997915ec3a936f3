/*
 * provider.c - the registry of providers and check kinds.
 *
 * Adding a provider is one file in providers/ and one line here (tmux's
 * cmd_table).  Order matters: inventories load in table order, and a node
 * defined twice keeps the first provider's definition.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

const struct provider *const provider_table[] = {
	&provider_sim,
	&provider_local,
	&provider_inventory,
	&provider_ssh,          /* after inventory: it takes over its SSH nodes */
};
const size_t provider_count = NX_ARRAY_LEN(provider_table);

const struct check_kind *const check_kinds[] = {
	&check_kind_metric,
	&check_kind_plugin,
	&check_kind_tcp,
	&check_kind_ssh,        /* providers/check-ssh.c */
	NULL,
};

const struct provider *
provider_find(const char *name)
{
	size_t i;

	for (i = 0; i < provider_count; i++) {
		if (strcmp(provider_table[i]->name, name) == 0)
			return provider_table[i];
	}
	return NULL;
}

const struct check_kind *
check_kind_find(const char *name)
{
	size_t i;

	for (i = 0; check_kinds[i] != NULL; i++) {
		if (strcmp(check_kinds[i]->name, name) == 0)
			return check_kinds[i];
	}
	return NULL;
}

/* The index of p in provider_table (and in engine->provider_state), or -1. */
int
provider_index(const struct provider *p)
{
	size_t i;

	for (i = 0; i < provider_count; i++) {
		if (provider_table[i] == p)
			return (int)i;
	}
	return -1;
}

/* The state slot of provider p in e, or NULL when it has none. */
void *
provider_state(const struct engine *e, const struct provider *p)
{
	int idx = provider_index(p);

	assert(idx >= 0 && (size_t)idx < NX_ARRAY_LEN(e->provider_state));
	return e->provider_state[idx];
}

static void
provider_sampler_on_timer(uv_timer_t *t)
{
	struct provider_sampler *ps = t->data;

	ps->p->sample(ps->e, engine_now(ps->e));
}

static void
provider_sampler_on_close(uv_handle_t *h)
{
	free(h->data);
}

/*
 * Gives provider p a state of `size` bytes (a struct that starts with a
 * struct provider_sampler, zeroed) in its engine slot, and a timer that
 * calls p->sample every period_ms.  The timer is unreferenced: it alone does
 * not keep the loop alive.  Returns the state, or NULL when p already has
 * one.  The state is freed by provider_sampler_stop(), in the timer's close
 * callback.
 */
void *
provider_sampler_start(struct engine *e, const struct provider *p,
    size_t size, uint64_t period_ms)
{
	int idx = provider_index(p);
	struct provider_sampler *ps;

	assert(idx >= 0 && (size_t)idx < NX_ARRAY_LEN(e->provider_state));
	assert(size >= sizeof *ps && p->sample != NULL);
	if (e->provider_state[idx] != NULL)
		return NULL;
	ps = xcalloc(1, size);
	ps->e = e;
	ps->p = p;
	uv_timer_init(e->loop, &ps->timer);
	ps->timer.data = ps;
	uv_timer_start(&ps->timer, provider_sampler_on_timer, period_ms,
	    period_ms);
	uv_unref((uv_handle_t *)&ps->timer);
	e->provider_state[idx] = ps;
	return ps;
}

/* Stops p's sampler, if it has one, and frees its state when closed. */
void
provider_sampler_stop(struct engine *e, const struct provider *p)
{
	int idx = provider_index(p);
	struct provider_sampler *ps;

	assert(idx >= 0 && (size_t)idx < NX_ARRAY_LEN(e->provider_state));
	if ((ps = e->provider_state[idx]) == NULL)
		return;
	e->provider_state[idx] = NULL;
	uv_timer_stop(&ps->timer);
	uv_close((uv_handle_t *)&ps->timer, provider_sampler_on_close);
}
