/*
 * intern.c - one copy of every string that lives as long as the fleet.
 *
 * Node names, addresses, group and check names repeat a great deal across a
 * fleet of 100,000 nodes; interning keeps one copy each and lets the engine
 * compare them by pointer.  Strings are packed into large arenas and freed
 * only with the whole pool.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define ARENA_SIZE (256 * 1024)

static uint64_t
strpool_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void
strpool_init(struct strpool *p)
{
	memset(p, 0, sizeof *p);
	p->nslots = 1024;
	p->slots = xcalloc(p->nslots, sizeof *p->slots);
}

void
strpool_free(struct strpool *p)
{
	size_t i;

	for (i = 0; i < p->narenas; i++)
		free(p->arenas[i]);
	free(p->arenas);
	free(p->slots);
	memset(p, 0, sizeof *p);
}

/* Copies len bytes plus a NUL into the current arena. */
static const char *
strpool_store(struct strpool *p, const char *s, size_t len)
{
	char *dst;

	if (p->arena == NULL || p->arena_used + len + 1 > p->arena_size) {
		size_t size = len + 1 > ARENA_SIZE ? len + 1 : ARENA_SIZE;

		p->arena = xmalloc(size);
		p->arena_size = size;
		p->arena_used = 0;
		p->arenas = xreallocarray(p->arenas, p->narenas + 1,
		    sizeof *p->arenas);
		p->arenas[p->narenas++] = p->arena;
	}
	dst = p->arena + p->arena_used;
	memcpy(dst, s, len);
	dst[len] = '\0';
	p->arena_used += len + 1;
	return dst;
}

static void
strpool_grow(struct strpool *p)
{
	size_t n = p->nslots * 2, i, j;
	const char **slots = xcalloc(n, sizeof *slots);

	for (i = 0; i < p->nslots; i++) {
		const char *s = p->slots[i];

		if (s == NULL)
			continue;
		j = strpool_hash(s, strlen(s)) & (n - 1);
		while (slots[j] != NULL)
			j = (j + 1) & (n - 1);
		slots[j] = s;
	}
	free(p->slots);
	p->slots = slots;
	p->nslots = n;
}

/*
 * Returns the pool's copy of the first len bytes of s, adding it if needed.
 * The pointer stays valid until strpool_free().
 */
const char *
strpool_intern_len(struct strpool *p, const char *s, size_t len)
{
	size_t i;

	if (p->count * 2 >= p->nslots)
		strpool_grow(p);
	i = strpool_hash(s, len) & (p->nslots - 1);
	while (p->slots[i] != NULL) {
		const char *t = p->slots[i];

		if (strncmp(t, s, len) == 0 && t[len] == '\0')
			return t;
		i = (i + 1) & (p->nslots - 1);
	}
	p->slots[i] = strpool_store(p, s, len);
	p->count++;
	return p->slots[i];
}

const char *
strpool_intern(struct strpool *p, const char *s)
{
	return strpool_intern_len(p, s, strlen(s));
}
