/*
 * provider.c - the registry of providers and check kinds.
 *
 * Adding a provider is one file in providers/ and one line here (tmux's
 * cmd_table).  Order matters: inventories load in table order, and a node
 * defined twice keeps the first provider's definition.
 */
#include "config.h"

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
