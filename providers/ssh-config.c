/*
 * ssh-config.c - the part of OpenSSH's ssh_config(5) that says where, as
 * whom and how carefully to connect: Host blocks with HostName, Port,
 * User, IdentityFile, IdentitiesOnly, UserKnownHostsFile,
 * StrictHostKeyChecking and ConnectTimeout, and Include.
 *
 * Semantics follow ssh_config(5) as `ssh -G` shows them (the tests compare
 * with it): keywords are case-insensitive, `Keyword value` or
 * `Keyword=value`; a Host line lists patterns (`*`, `?`, `!neg`, matched
 * against the name in lower case, as ssh lowercases it) and starts a block; for each keyword the first
 * value obtained from a matching block wins, except IdentityFile, which
 * accumulates.  Include takes paths (globs, `~/`; relative ones are in
 * ~/.ssh), read in place: what they hold applies only where the Include
 * line does (inside a Host block, only to that block's hosts), and lines
 * after it continue the block it was in.  Match blocks are not evaluated
 * (they never apply).  Other keywords are ignored.  `%h` and `%%` are
 * expanded in HostName; `~/` and `%h`, `%r`, `%u`, `%p`, `%d`, `%%` in
 * IdentityFile; `~/` in UserKnownHostsFile.
 *
 * Memory: the config owns its blocks; ssh_config_resolve() fills a struct
 * ssh_host_config the caller frees with ssh_host_config_free().
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "engine.h"

#define CFG_MAX_DEPTH 16        /* Include nesting, as OpenSSH */
#define CFG_MAX_BLOCKS 100000

struct ssh_cfg_block {
	char **patterns;
	size_t npatterns;
	bool never;             /* a Match block, or inside one */
	long parent;            /* block the Include was in, or -1 */
	char *hostname, *user;
	uint16_t port;
	char **idents;
	size_t nidents;
	int identities_only;    /* -1 unset, 0, 1 */
	char **known_hosts;     /* UserKnownHostsFile words */
	size_t nknown_hosts;
	int strict;             /* -1 unset, enum ssh_strict */
	int connect_timeout;    /* seconds, 0 none; -1 unset */
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

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A new empty block under parent, with the patterns of like (or "*"). */
static long
cfg_block_new(struct ssh_config *c, long parent,
    const struct ssh_cfg_block *like)
{
	struct ssh_cfg_block *b;
	size_t i;

	c->blocks = xreallocarray(c->blocks, c->nblocks + 1, sizeof *c->blocks);
	b = &c->blocks[c->nblocks];
	memset(b, 0, sizeof *b);
	b->parent = parent;
	b->identities_only = -1;
	b->strict = -1;
	b->connect_timeout = -1;
	if (like != NULL) {
		for (i = 0; i < like->npatterns; i++)
			strv_add(&b->patterns, &b->npatterns, like->patterns[i]);
		b->never = like->never;
	} else
		strv_add(&b->patterns, &b->npatterns, "*");
	return (long)c->nblocks++;
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

static const char *
cfg_home(void)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw != NULL && pw->pw_dir != NULL)
		return pw->pw_dir;
	return getenv("HOME") != NULL ? getenv("HOME") : "";
}

/* "~/x" -> "$HOME/x"; anything else copied.  New string. */
static char *
cfg_tilde(const char *s)
{
	char *out;

	if (s[0] == '~' && (s[1] == '/' || s[1] == '\0')) {
		xasprintf(&out, "%s%s", cfg_home(), s + 1);
		return out;
	}
	return xstrdup(s);
}

/* yes/true/no/false/... -> 1/0, -1 when neither. */
static int
cfg_bool(const char *v)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
		return 1;
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0)
		return 0;
	return -1;
}

static void cfg_parse_text(struct ssh_config *, const char *, long, int);

/*
 * Include: every word a glob, relative ones under ~/.ssh; the files are
 * parsed in place under block `at`.  Unreadable or missing files are
 * skipped, as OpenSSH does.
 */
static void
cfg_include(struct ssh_config *c, char *val, long at, int depth)
{
	char *w, *path, *text;
	glob_t g;
	size_t i, len;

	if (depth >= CFG_MAX_DEPTH)
		return;
	while ((w = cfg_word(&val)) != NULL) {
		if (w[0] == '/' || w[0] == '~')
			path = cfg_tilde(w);
		else
			xasprintf(&path, "%s/.ssh/%s", cfg_home(), w);
		memset(&g, 0, sizeof g);
		if (glob(path, 0, NULL, &g) == 0) {
			for (i = 0; i < g.gl_pathc; i++) {
				text = local_read_all(g.gl_pathv[i], 4 << 20,
				    &len);
				if (text == NULL)
					continue;
				cfg_parse_text(c, text, at, depth + 1);
				free(text);
			}
		}
		globfree(&g);
		free(path);
	}
}

/*
 * Parses ssh_config text into c: its first lines (before any Host) and
 * its Host blocks all under block `parent` (-1: none, the top file).
 */
static void
cfg_parse_text(struct ssh_config *c, const char *text, long parent, int depth)
{
	char *copy = xstrdup(text), *line, *next, *p, *key, *val, *w;
	long cur = cfg_block_new(c, parent, NULL);
	struct ssh_cfg_block *b;

	for (line = copy; line != NULL && c->nblocks < CFG_MAX_BLOCKS;
	    line = next) {
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
			cur = cfg_block_new(c, parent, NULL);
			b = &c->blocks[cur];
			strv_free(b->patterns, b->npatterns);
			b->patterns = NULL;
			b->npatterns = 0;
			while ((w = cfg_word(&val)) != NULL)
				strv_add(&b->patterns, &b->npatterns, w);
			continue;
		}
		if (strcasecmp(key, "Match") == 0) {
			cur = cfg_block_new(c, parent, NULL);
			c->blocks[cur].never = true;
			continue;
		}
		if (strcasecmp(key, "Include") == 0) {
			struct ssh_cfg_block like;

			cfg_include(c, val, cur, depth);
			/* Lines after it continue the block it was in. */
			like = c->blocks[cur];
			cur = cfg_block_new(c, like.parent, &like);
			continue;
		}
		b = &c->blocks[cur];
		if (strcasecmp(key, "HostName") == 0) {
			if (b->hostname == NULL && (w = cfg_word(&val)) != NULL)
				b->hostname = xstrdup(w);
		} else if (strcasecmp(key, "User") == 0) {
			if (b->user == NULL && (w = cfg_word(&val)) != NULL)
				b->user = xstrdup(w);
		} else if (strcasecmp(key, "Port") == 0) {
			long port = strtol(val, &p, 10);

			if (b->port == 0 && p != val && *p == '\0' && port > 0 &&
			    port < 65536)
				b->port = (uint16_t)port;
		} else if (strcasecmp(key, "IdentityFile") == 0) {
			if ((w = cfg_word(&val)) != NULL)
				strv_add(&b->idents, &b->nidents, w);
		} else if (strcasecmp(key, "IdentitiesOnly") == 0) {
			if (b->identities_only < 0)
				b->identities_only = cfg_bool(val);
		} else if (strcasecmp(key, "UserKnownHostsFile") == 0) {
			if (b->known_hosts == NULL) {
				while ((w = cfg_word(&val)) != NULL)
					strv_add(&b->known_hosts,
					    &b->nknown_hosts, w);
			}
		} else if (strcasecmp(key, "StrictHostKeyChecking") == 0) {
			int v = cfg_bool(val);

			if (b->strict >= 0)
				continue;
			if (v == 1)
				b->strict = SSH_STRICT_YES;
			else if (v == 0 || strcasecmp(val, "off") == 0)
				b->strict = SSH_STRICT_NO;
			else if (strcasecmp(val, "accept-new") == 0)
				b->strict = SSH_STRICT_ACCEPT_NEW;
			else if (strcasecmp(val, "ask") == 0)
				b->strict = SSH_STRICT_ASK;
		} else if (strcasecmp(key, "ConnectTimeout") == 0) {
			long secs = strtol(val, &p, 10);

			if (b->connect_timeout >= 0)
				continue;
			if (strcasecmp(val, "none") == 0)
				b->connect_timeout = 0;
			else if (p != val && *p == '\0' && secs >= 0 &&
			    secs <= 86400)
				b->connect_timeout = (int)secs;
		}
	}
	free(copy);
}

/*
 * Parses ssh_config text.  Returns the config (never NULL; empty when the
 * text has nothing we use).  Free with ssh_config_free().
 */
struct ssh_config *
ssh_config_parse(const char *text)
{
	struct ssh_config *c = xcalloc(1, sizeof *c);

	cfg_parse_text(c, text, -1, 0);
	return c;
}

/* Reads and parses a file; NULL (errno set) when it cannot be read. */
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
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nblocks; i++) {
		struct ssh_cfg_block *b = &c->blocks[i];

		strv_free(b->patterns, b->npatterns);
		strv_free(b->idents, b->nidents);
		strv_free(b->known_hosts, b->nknown_hosts);
		free(b->hostname);
		free(b->user);
	}
	free(c->blocks);
	free(c);
}

/* OpenSSH's match_pattern: `*` and `?` (the name is lower case). */
static bool
cfg_match(const char *p, const char *s)
{
	for (;;) {
		if (*p == '\0')
			return *s == '\0';
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (*p == '\0')
				return true;
			for (; *s != '\0'; s++) {
				if (cfg_match(p, s))
					return true;
			}
			return false;
		}
		if (*s == '\0')
			return false;
		if (*p != '?' && *p != *s)
			return false;
		p++;
		s++;
	}
}

/*
 * Whether block i applies to name: one positive pattern matches, no
 * negated one does, and the block its Include was in applies too.
 */
static bool
cfg_block_matches(const struct ssh_config *c, size_t i, const char *name)
{
	int depth = 0;

	for (;;) {
		const struct ssh_cfg_block *b = &c->blocks[i];
		bool match = false;
		size_t k;

		if (b->never)
			return false;
		for (k = 0; k < b->npatterns; k++) {
			const char *pat = b->patterns[k];

			if (pat[0] == '!') {
				if (cfg_match(pat + 1, name))
					return false;
			} else if (cfg_match(pat, name))
				match = true;
		}
		if (!match)
			return false;
		if (b->parent < 0 || ++depth > CFG_MAX_DEPTH + 1)
			return true;
		i = (size_t)b->parent;
	}
}

/* Expands %h and %% (HostName).  New string. */
static char *
cfg_expand_hostname(const char *v, const char *host)
{
	char *out = xmalloc(strlen(v) * (strlen(host) + 1) + 1), *o = out;

	for (; *v != '\0'; v++) {
		if (v[0] == '%' && v[1] == 'h') {
			o += sprintf(o, "%s", host);
			v++;
		} else if (v[0] == '%' && v[1] == '%') {
			*o++ = '%';
			v++;
		} else
			*o++ = *v;
	}
	*o = '\0';
	return out;
}

/* Expands ~/ and %h %u %r %p %d %% in an IdentityFile value; new string. */
static char *
cfg_expand(const char *v, const char *host, const char *user, uint16_t port)
{
	struct passwd *pw = getpwuid(getuid());
	const char *home = cfg_home();
	/* A token is 2 bytes and expands to at most 200 (the %.200s below). */
	char *out = xmalloc(strlen(v) * 100 + strlen(home) + 16), *o = out;

	if (v[0] == '~' && v[1] == '/') {
		o += sprintf(o, "%.200s", home);
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
		case 'd':
			o += sprintf(o, "%.200s", home);
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
 * Resolves name through the config into *hc: every setting the matching
 * blocks give, first value first, IdentityFiles accumulated.  user and
 * port are the caller's given values (NULL, 0: none), which win over the
 * config's when IdentityFiles are expanded (%r, %p), as does
 * default_user when neither gives one.  Unset fields: NULL, 0, -1.  Free
 * with ssh_host_config_free().  c may be NULL.
 */
void
ssh_config_resolve(const struct ssh_config *c, const char *name,
    const char *user, uint16_t port, const char *default_user,
    struct ssh_host_config *hc)
{
	const struct ssh_cfg_block *b;
	char **raw = NULL, *lname = xstrdup(name);
	size_t nraw = 0, i, k;

	for (i = 0; lname[i] != '\0'; i++)
		lname[i] = (char)tolower((unsigned char)lname[i]);
	name = lname;
	memset(hc, 0, sizeof *hc);
	hc->identities_only = -1;
	hc->strict = -1;
	hc->connect_timeout = -1;
	for (i = 0; c != NULL && i < c->nblocks; i++) {
		if (!cfg_block_matches(c, i, name))
			continue;
		b = &c->blocks[i];
		if (hc->hostname == NULL && b->hostname != NULL)
			hc->hostname = cfg_expand_hostname(b->hostname, name);
		if (hc->user == NULL && b->user != NULL)
			hc->user = xstrdup(b->user);
		if (hc->port == 0)
			hc->port = b->port;
		if (hc->identities_only < 0)
			hc->identities_only = b->identities_only;
		if (hc->strict < 0)
			hc->strict = b->strict;
		if (hc->connect_timeout < 0)
			hc->connect_timeout = b->connect_timeout;
		if (hc->known_hosts == NULL && b->known_hosts != NULL) {
			for (k = 0; k < b->nknown_hosts; k++) {
				char *f = cfg_tilde(b->known_hosts[k]);

				strv_add(&hc->known_hosts, &hc->nknown_hosts, f);
				free(f);
			}
		}
		for (k = 0; k < b->nidents; k++)
			strv_add(&raw, &nraw, b->idents[k]);
	}
	for (i = 0; i < nraw; i++) {
		char *path = cfg_expand(raw[i], hc->hostname != NULL ?
		    hc->hostname : name, user != NULL ? user : hc->user != NULL ?
		    hc->user : default_user != NULL ? default_user : "",
		    port != 0 ? port : hc->port != 0 ? hc->port : 22);

		strv_add(&hc->identities, &hc->nidentities, path);
		free(path);
	}
	strv_free(raw, nraw);
	free(lname);
}

void
ssh_host_config_free(struct ssh_host_config *hc)
{
	free(hc->hostname);
	free(hc->user);
	strv_free(hc->identities, hc->nidentities);
	strv_free(hc->known_hosts, hc->nknown_hosts);
	memset(hc, 0, sizeof *hc);
}

const char *
ssh_strict_name(int strict)
{
	switch (strict) {
	case SSH_STRICT_YES:
		return "yes";
	case SSH_STRICT_NO:
		return "no";
	case SSH_STRICT_ACCEPT_NEW:
		return "accept-new";
	case SSH_STRICT_ASK:
		return "ask";
	default:
		return "unset";
	}
}
