/*
 * ssh-config.c - the part of OpenSSH's ssh_config(5) that says where and
 * as whom to connect: Host blocks with HostName, Port, User and
 * IdentityFile.
 *
 * Semantics follow ssh_config(5): keywords are case-insensitive, `Keyword
 * value` or `Keyword=value`; a Host line lists patterns (`*`, `?`, `!neg`)
 * and starts a block; for each keyword the first value obtained from a
 * matching block wins, except IdentityFile, which accumulates.  Match
 * blocks are not evaluated (they never apply); Include is not followed.
 * Other keywords are ignored.  `~/` and `%h`, `%u`, `%r`, `%p`, `%%` are
 * expanded in IdentityFile.
 */
#include "config.h"

#include <ctype.h>
#include <fnmatch.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "engine.h"

struct ssh_cfg_block {
	char **patterns;
	size_t npatterns;
	bool never;             /* a Match block */
	char *hostname, *user;
	uint16_t port;
	char **idents;
	size_t nidents;
};

struct ssh_config {
	struct ssh_cfg_block *blocks;
	size_t nblocks;
};

static void
strv_add(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
}

static struct ssh_cfg_block *
cfg_block_new(struct ssh_config *c)
{
	struct ssh_cfg_block *b;

	c->blocks = xreallocarray(c->blocks, c->nblocks + 1, sizeof *c->blocks);
	b = &c->blocks[c->nblocks++];
	memset(b, 0, sizeof *b);
	return b;
}

/* Splits the next word (double quotes group) off *s; NULL at the end. */
static char *
cfg_word(char **s)
{
	char *p = *s, *w;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return NULL;
	if (*p == '"') {
		w = ++p;
		while (*p != '\0' && *p != '"')
			p++;
	} else {
		w = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
	if (*p != '\0')
		*p++ = '\0';
	*s = p;
	return w;
}

/*
 * Parses ssh_config text.  Returns the config (never NULL; empty when the
 * text has nothing we use).  Free with ssh_config_free().
 */
struct ssh_config *
ssh_config_parse(const char *text)
{
	struct ssh_config *c = xcalloc(1, sizeof *c);
	struct ssh_cfg_block *b = cfg_block_new(c);
	char *copy = xstrdup(text), *line, *next;

	strv_add(&b->patterns, &b->npatterns, "*");
	for (line = copy; line != NULL; line = next) {
		char *p, *key, *val;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		key = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '=')
			p++;
		if (*p != '\0')
			*p++ = '\0';
		while (*p == ' ' || *p == '\t' || *p == '=')
			p++;
		val = p;
		p = val + strlen(val);
		while (p > val && isspace((unsigned char)p[-1]))
			*--p = '\0';
		if (strcasecmp(key, "Host") == 0) {
			char *w;

			b = cfg_block_new(c);
			while ((w = cfg_word(&val)) != NULL)
				strv_add(&b->patterns, &b->npatterns, w);
		} else if (strcasecmp(key, "Match") == 0) {
			b = cfg_block_new(c);
			b->never = true;
		} else if (strcasecmp(key, "HostName") == 0) {
			if (b->hostname == NULL && *val != '\0')
				b->hostname = xstrdup(cfg_word(&val));
		} else if (strcasecmp(key, "User") == 0) {
			if (b->user == NULL && *val != '\0')
				b->user = xstrdup(cfg_word(&val));
		} else if (strcasecmp(key, "Port") == 0) {
			long port = strtol(val, &p, 10);

			if (b->port == 0 && p != val && *p == '\0' && port > 0 &&
			    port < 65536)
				b->port = (uint16_t)port;
		} else if (strcasecmp(key, "IdentityFile") == 0) {
			char *w = cfg_word(&val);

			if (w != NULL)
				strv_add(&b->idents, &b->nidents, w);
		}
	}
	free(copy);
	return c;
}

/* Reads and parses a file; NULL when it cannot be read. */
struct ssh_config *
ssh_config_load(const char *path)
{
	struct ssh_config *c;
	size_t len;
	char *text = local_read_all(path, 4 << 20, &len);

	if (text == NULL)
		return NULL;
	c = ssh_config_parse(text);
	free(text);
	return c;
}

void
ssh_config_free(struct ssh_config *c)
{
	size_t i, k;

	if (c == NULL)
		return;
	for (i = 0; i < c->nblocks; i++) {
		struct ssh_cfg_block *b = &c->blocks[i];

		for (k = 0; k < b->npatterns; k++)
			free(b->patterns[k]);
		for (k = 0; k < b->nidents; k++)
			free(b->idents[k]);
		free(b->patterns);
		free(b->idents);
		free(b->hostname);
		free(b->user);
	}
	free(c->blocks);
	free(c);
}

/* Whether a Host line's patterns select name: one positive match, no negated one. */
static bool
cfg_block_matches(const struct ssh_cfg_block *b, const char *name)
{
	bool match = false;
	size_t i;

	if (b->never)
		return false;
	for (i = 0; i < b->npatterns; i++) {
		const char *pat = b->patterns[i];

		if (pat[0] == '!') {
			if (fnmatch(pat + 1, name, 0) == 0)
				return false;
		} else if (fnmatch(pat, name, 0) == 0)
			match = true;
	}
	return match;
}

/* Expands ~/ and %h %u %r %p %% in an IdentityFile value; new string. */
static char *
cfg_expand(const char *v, const char *host, const char *user, uint16_t port)
{
	struct passwd *pw = getpwuid(getuid());
	const char *home = pw != NULL ? pw->pw_dir : "";
	/* A token is 2 bytes and expands to at most 200 (the %.200s below). */
	char *out = xmalloc(strlen(v) * 100 + strlen(home) + 16), *o = out;

	if (v[0] == '~' && v[1] == '/') {
		o += sprintf(o, "%s", home);
		v++;
	}
	for (; *v != '\0'; v++) {
		if (*v != '%' || v[1] == '\0') {
			*o++ = *v;
			continue;
		}
		switch (*++v) {
		case 'h':
			o += sprintf(o, "%.200s", host);
			break;
		case 'r':
			o += sprintf(o, "%.100s", user);
			break;
		case 'u':
			o += sprintf(o, "%.100s", pw != NULL ? pw->pw_name : "");
			break;
		case 'p':
			o += sprintf(o, "%u", port);
			break;
		default:
			*o++ = *v;
			break;
		}
	}
	*o = '\0';
	return out;
}

/*
 * Resolves name through the config: fills what the matching blocks say
 * and the caller left unset (*hostname NULL, *port 0, *user NULL; the
 * returned strings point into the config), and appends the IdentityFiles
 * (expanded, owned by the caller) to *idents.
 */
void
ssh_config_lookup(const struct ssh_config *c, const char *name,
    const char **hostname, uint16_t *port, const char **user, char ***idents,
    size_t *nidents)
{
	const char *h = NULL, *u = NULL;
	uint16_t pt = 0;
	size_t i, k;

	if (c == NULL)
		return;
	for (i = 0; i < c->nblocks; i++) {
		const struct ssh_cfg_block *b = &c->blocks[i];

		if (!cfg_block_matches(b, name))
			continue;
		if (h == NULL)
			h = b->hostname;
		if (u == NULL)
			u = b->user;
		if (pt == 0)
			pt = b->port;
	}
	if (*hostname == NULL)
		*hostname = h;
	if (*user == NULL)
		*user = u;
	if (*port == 0)
		*port = pt;
	for (i = 0; i < c->nblocks; i++) {
		const struct ssh_cfg_block *b = &c->blocks[i];

		if (!cfg_block_matches(b, name))
			continue;
		for (k = 0; k < b->nidents; k++) {
			char *path = cfg_expand(b->idents[k], *hostname ?
			    *hostname : name, *user ? *user : "", *port ?
			    *port : 22);

			*idents = xreallocarray(*idents, *nidents + 1,
			    sizeof **idents);
			(*idents)[(*nidents)++] = path;
		}
	}
}
