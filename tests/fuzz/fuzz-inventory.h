/*
 * fuzz-inventory.h - the check every inventory-parser harness makes: an
 * input ends in an error or in a consistent inventory (every host becomes
 * one node, every host's variables resolve), never in a crash or a leak.
 * Included by the fuzz_inv_*.c and fuzz_ini.c harnesses only.
 */
#ifndef NX_FUZZ_INVENTORY_H
#define NX_FUZZ_INVENTORY_H

#include <stdlib.h>
#include <string.h>

static inline void
fuzz_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* After a parse: finish, convert to a fleet, and check it is consistent. */
static inline void
fuzz_inventory_check(struct inventory *inv)
{
	struct nx_err err;
	struct fleet f;
	size_t i;

	if (inv_finish(inv, &err) != 0)
		return;
	fleet_init(&f);
	if (inv_to_fleet(inv, &f, NULL, &err) == 0 && f.nnodes != inv->nhosts)
		abort();
	for (i = 0; i < inv->nhosts && i < 16; i++)
		json_decref(inv_host_vars(inv, (uint32_t)i));
	fleet_free(&f);
}

/*
 * Parses data as the inventory file `name` (the name picks the parser) and
 * checks the result.  The text is NUL-terminated, as inv_load_file() makes
 * files.
 */
static inline void
fuzz_inventory(const char *name, const uint8_t *data, size_t size)
{
	struct inventory inv;
	struct nx_err err;
	char *text = xmalloc(size + 1);

	memcpy(text, data, size);
	text[size] = '\0';
	inv_init(&inv);
	inv.warn = fuzz_quiet;
	if (inv_parse(&inv, name, text, size, &err) == 0)
		fuzz_inventory_check(&inv);
	inv_free(&inv);
	free(text);
}

#endif /* NX_FUZZ_INVENTORY_H */
