/*
 * inv-ssh-config.c - an OpenSSH client configuration (ssh_config(5)) as an
 * inventory source: every concrete name of a `Host` line (no `*`, `?` or
 * `!`) becomes a host, with the values ssh itself would use for it:
 *
 *   Host *.internal
 *       User ops
 *   Host bastion
 *       HostName 192.0.2.10
 *       Port 2222
 *   Host db1 db2
 *       HostName %h.internal
 *
 * For each such name the file is evaluated as `ssh -G NAME` evaluates it:
 * every `Host` block whose patterns match the name (globs, caseless, a
 * matching `!pattern` excludes) contributes, and the first value of a
 * keyword wins.  HostName (with %h and %% expanded) becomes ansible_host,
 * Port ansible_port, User ansible_user and the first IdentityFile
 * ansible_ssh_private_key_file.  Patterns themselves are not hosts.
 * `Include` is followed (globbed; a relative path is relative to ~/.ssh,
 * as for a user's configuration) at most INV_SSH_DEPTH deep, its lines
 * taking the place of the directive.  `Match` blocks are not evaluated:
 * their settings are skipped with a warning naming the line.
 *
 * Chosen for -i files named `config` or `ssh_config`, or with the
 * `ssh_config:` prefix (`-i ssh_config:~/.ssh/config`).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "engine.h"

#define INV_SSH_DEPTH 16        /* OpenSSH's READCONF_MAX_DEPTH */
#define INV_SSH_FILE_MAX (16u << 20)

enum ssh_key { SK_HOSTNAME, SK_PORT, SK_USER, SK_IDENTITY, SK_COUNT };

struct ssh_setting {
	enum ssh_key key;
	char *value;
	const char *file;       /* owned by ssh_cfg.files */
	unsigned line;
};

struct ssh_block {
	char **patterns;        /* NULL for the lines before any Host */
	size_t npatterns;
	struct ssh_setting *settings;
	size_t nsettings;
	const char *file;
	unsigned line;
};

struct ssh_cfg {
	struct inventory *inv;
	struct nx_err *err;
	struct ssh_block *blocks;
	size_t nblocks;
	char **files;           /* names of included files, owned */
	size_t nfiles;
	bool in_match;          /* inside a Match block: settings skipped */
};

static int
ssh_error(struct ssh_cfg *c, const char *file, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
ssh_error(struct ssh_cfg *c, const char *file, unsigned line,
    const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	nx_err_set(c->err, "%s:%u: %s", file, line, msg);
	return -1;
}

static void
ssh_cfg_free(struct ssh_cfg *c)
{
	size_t i, k;

	for (i = 0; i < c->nblocks; i++) {
		struct ssh_block *b = &c->blocks[i];

		for (k = 0; k < b->npatterns; k++)
			free(b->patterns[k]);
		free(b->patterns);
		for (k = 0; k < b->nsettings; k++)
			free(b->settings[k].value);
		free(b->settings);
	}
	free(c->blocks);
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
}

static struct ssh_block *
ssh_block_new(struct ssh_cfg *c, const char *file, unsigned line)
{
	struct ssh_block *b;

	c->blocks = xreallocarray(c->blocks, c->nblocks + 1, sizeof *c->blocks);
	b = &c->blocks[c->nblocks++];
	memset(b, 0, sizeof *b);
	b->file = file;
	b->line = line;
	return b;
}

static void
ssh_words_free(char **w, int n)
{
	while (n > 0)
		free(w[--n]);
	free(w);
}

/*
 * Splits a line into words as OpenSSH's argv_split does (whitespace, an
 * optional '=' after the keyword, double quotes, '#' comments).  Returns
 * the number of words (owned, in *out) or -1 with *why.
 */
static int
ssh_split(const char *s, char ***out, const char **why)
{
	char **w = NULL, *cur;
	int n = 0;
	size_t len = strlen(s), i = 0, o;

	*out = NULL;
	cur = xmalloc(len + 1);
	for (;;) {
		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (n == 1 && i < len && s[i] == '=') {
			i++;
			while (i < len && isspace((unsigned char)s[i]))
				i++;
		}
		if (i >= len || s[i] == '#')
			break;
		o = 0;
		while (i < len && !isspace((unsigned char)s[i]) &&
		    !(n == 0 && s[i] == '=')) {
			if (s[i] != '"') {
				cur[o++] = s[i++];
				continue;
			}
			for (i++; i < len && s[i] != '"'; i++)
				cur[o++] = s[i];
			if (i >= len) {
				*why = "no closing quote";
				free(cur);
				ssh_words_free(w, n);
				return -1;
			}
			i++;
		}
		cur[o] = '\0';
		w = xreallocarray(w, (size_t)n + 1, sizeof *w);
		w[n++] = xstrdup(cur);
	}
	free(cur);
	*out = w;
	return n;
}

static int ssh_read(struct ssh_cfg *, const char *file, int depth);

/* An Include directive: each glob of each argument, in order. */
static int
ssh_include(struct ssh_cfg *c, char **w, int n, const char *file,
    unsigned line, int depth)
{
	const char *home = getenv("HOME");
	glob_t g;
	char *pat;
	int i, r;
	size_t k;

	if (n < 2)
		return ssh_error(c, file, line, "Include needs a file name");
	if (depth + 1 >= INV_SSH_DEPTH)
		return ssh_error(c, file, line, "Include nested more than %d "
		    "deep", INV_SSH_DEPTH);
	for (i = 1; i < n; i++) {
		if (w[i][0] == '/')
			pat = xstrdup(w[i]);
		else if (w[i][0] == '~' && w[i][1] == '/')
			xasprintf(&pat, "%s%s", home != NULL ? home : "", w[i] + 1);
		else
			xasprintf(&pat, "%s/.ssh/%s", home != NULL ? home : "",
			    w[i]);
		r = glob(pat, 0, NULL, &g);
		free(pat);
		if (r == GLOB_NOMATCH)
			continue;       /* as ssh: a missing file is no error */
		if (r != 0)
			return ssh_error(c, file, line, "Include %s: cannot "
			    "expand it", w[i]);
		for (k = 0; k < g.gl_pathc; k++) {
			if (ssh_read(c, g.gl_pathv[k], depth + 1) != 0) {
				globfree(&g);
				return -1;
			}
		}
		globfree(&g);
	}
	return 0;
}

/* One line of file (already split into n words). */
static int
ssh_line(struct ssh_cfg *c, char **w, int n, const char *file, unsigned line,
    int depth)
{
	static const struct { const char *name; enum ssh_key key; } keys[] = {
		{ "hostname", SK_HOSTNAME }, { "port", SK_PORT },
		{ "user", SK_USER }, { "identityfile", SK_IDENTITY },
	};
	struct ssh_block *b;
	size_t i;
	int k;

	if (strcasecmp(w[0], "include") == 0)
		return ssh_include(c, w, n, file, line, depth);
	if (strcasecmp(w[0], "host") == 0) {
		if (n < 2)
			return ssh_error(c, file, line, "Host needs a pattern");
		b = ssh_block_new(c, file, line);
		for (k = 1; k < n; k++) {
			b->patterns = xreallocarray(b->patterns,
			    b->npatterns + 1, sizeof *b->patterns);
			b->patterns[b->npatterns++] = xstrdup(w[k]);
		}
		c->in_match = false;
		return 0;
	}
	if (strcasecmp(w[0], "match") == 0) {
		inv_warn(c->inv, "%s:%u: Match blocks are not evaluated; the "
		    "settings under this one are skipped", file, line);
		c->in_match = true;
		return 0;
	}
	if (c->in_match)
		return 0;
	for (i = 0; i < NX_ARRAY_LEN(keys); i++) {
		if (strcasecmp(w[0], keys[i].name) != 0)
			continue;
		if (n != 2)
			return ssh_error(c, file, line, "%s takes one value",
			    w[0]);
		if (c->nblocks == 0)
			ssh_block_new(c, file, line);   /* applies to all */
		b = &c->blocks[c->nblocks - 1];
		b->settings = xreallocarray(b->settings, b->nsettings + 1,
		    sizeof *b->settings);
		b->settings[b->nsettings].key = keys[i].key;
		b->settings[b->nsettings].value = xstrdup(w[1]);
		b->settings[b->nsettings].file = file;
		b->settings[b->nsettings++].line = line;
		return 0;
	}
	return 0;       /* other keywords do not concern the inventory */
}

/* Reads one file (the top one or an included one) into c->blocks. */
static int
ssh_read_text(struct ssh_cfg *c, const char *file, const char *text,
    size_t len, int depth)
{
	const char *why = "";
	unsigned line = 0;
	size_t i = 0;
	char *buf, **w;
	int n;

	if (memchr(text, '\0', len) != NULL)
		return ssh_error(c, file, 1, "a NUL byte: not an ssh_config");
	while (i < len) {
		size_t e = i;

		while (e < len && text[e] != '\n')
			e++;
		line++;
		buf = xstrndup(text + i, e - i);
		i = e + 1;
		if ((n = ssh_split(buf, &w, &why)) < 0) {
			free(buf);
			return ssh_error(c, file, line, "%s", why);
		}
		free(buf);
		if (n == 0)
			continue;
		if (ssh_line(c, w, n, file, line, depth) != 0) {
			ssh_words_free(w, n);
			return -1;
		}
		ssh_words_free(w, n);
	}
	return 0;
}

static int
ssh_read(struct ssh_cfg *c, const char *path, int depth)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	char *text, *name;
	size_t n;
	int rc;

	if (fp == NULL)
		return nx_err_set(c->err, "%s: %s", path, strerror(errno)), -1;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uintmax_t)st.st_size > INV_SSH_FILE_MAX) {
		fclose(fp);
		return nx_err_set(c->err, "%s: not a regular file of at most "
		    "%u MiB", path, INV_SSH_FILE_MAX >> 20), -1;
	}
	text = xmalloc((size_t)st.st_size + 1);
	n = fread(text, 1, (size_t)st.st_size, fp);
	fclose(fp);
	text[n] = '\0';
	name = xstrdup(path);
	c->files = xreallocarray(c->files, c->nfiles + 1, sizeof *c->files);
	c->files[c->nfiles++] = name;
	rc = ssh_read_text(c, name, text, n, depth);
	free(text);
	return rc;
}

static bool
ssh_is_pattern(const char *s)
{
	return strpbrk(s, "*?!") != NULL;
}

/* Whether the block's patterns match name as ssh matches them. */
static bool
ssh_block_matches(const struct ssh_block *b, const char *name)
{
	bool yes = false;
	size_t i;

	if (b->patterns == NULL)
		return true;
	for (i = 0; i < b->npatterns; i++) {
		const char *p = b->patterns[i];
		bool neg = p[0] == '!';

		if (fnmatch(neg ? p + 1 : p, name, FNM_CASEFOLD) == 0) {
			if (neg)
				return false;
			yes = true;
		}
	}
	return yes;
}

/* Sets the host's vars from the first value of each keyword for it. */
static int
ssh_host(struct ssh_cfg *c, const char *name, const char *file,
    unsigned line)
{
	const struct ssh_setting *first[SK_COUNT] = { NULL };
	const char *why = "";
	json_t *vars;
	size_t i, k;
	uint32_t h;

	if (!inv_valid_name(name, &why))
		return ssh_error(c, file, line, "invalid host name '%s': %s",
		    name, why);
	for (i = 0; i < c->nblocks; i++) {
		const struct ssh_block *b = &c->blocks[i];

		if (!ssh_block_matches(b, name))
			continue;
		for (k = 0; k < b->nsettings; k++) {
			if (first[b->settings[k].key] == NULL)
				first[b->settings[k].key] = &b->settings[k];
		}
	}
	h = inv_host(c->inv, name, line);
	vars = c->inv->hosts[h].vars;
	if (first[SK_HOSTNAME] != NULL) {
		const struct ssh_setting *s = first[SK_HOSTNAME];
		const char *v;
		size_t nlen = strlen(name), o = 0;
		char *addr = xmalloc(strlen(s->value) * (nlen + 1) + 1);

		for (v = s->value; *v != '\0'; v++) {
			if (*v == '%' && v[1] == 'h') {
				memcpy(addr + o, name, nlen);
				o += nlen;
				v++;
			} else if (*v == '%' && v[1] == '%') {
				addr[o++] = '%';
				v++;
			} else if (*v == '%') {
				free(addr);
				return ssh_error(c, s->file, s->line, "HostName "
				    "'%s': only %%h and %%%% are expanded",
				    s->value);
			} else
				addr[o++] = *v;
		}
		addr[o] = '\0';
		if (!inv_valid_address(addr, &why)) {
			ssh_error(c, s->file, s->line, "HostName '%s' (for "
			    "'%s') is not an address: %s", addr, name, why);
			free(addr);
			return -1;
		}
		json_object_set_new(vars, "ansible_host", json_string(addr));
		free(addr);
	}
	if (first[SK_PORT] != NULL) {
		const struct ssh_setting *s = first[SK_PORT];
		char *end;
		long port;

		errno = 0;
		port = strtol(s->value, &end, 10);
		if (!isdigit((unsigned char)s->value[0]) || *end != '\0' ||
		    errno != 0 || port < 1 || port > 65535)
			return ssh_error(c, s->file, s->line, "Port '%s' is not "
			    "a number from 1 to 65535", s->value);
		json_object_set_new(vars, "ansible_port", json_integer(port));
	}
	if (first[SK_USER] != NULL)
		json_object_set_new(vars, "ansible_user",
		    json_string(first[SK_USER]->value));
	if (first[SK_IDENTITY] != NULL)
		json_object_set_new(vars, "ansible_ssh_private_key_file",
		    json_string(first[SK_IDENTITY]->value));
	return 0;
}

/*
 * Parses an ssh_config (the contents of path; Include read from disk)
 * into inv: one host per concrete Host name.  Returns 0, or -1 with err
 * naming file:line and the reason.
 */
int
inv_parse_ssh_config(struct inventory *inv, const char *path,
    const char *text, size_t len, struct nx_err *err)
{
	struct ssh_cfg c = { .inv = inv, .err = err };
	size_t i, k, nblocks;
	int rc = -1;

	if (ssh_read_text(&c, path, text, len, 0) != 0)
		goto out;
	nblocks = c.nblocks;
	for (i = 0; i < nblocks; i++) {
		const struct ssh_block *b = &c.blocks[i];

		for (k = 0; k < b->npatterns; k++) {
			if (ssh_is_pattern(b->patterns[k]))
				continue;
			if (ssh_host(&c, b->patterns[k], b->file, b->line) != 0)
				goto out;
		}
	}
	rc = 0;
out:
	ssh_cfg_free(&c);
	return rc;
}

/* Whether path is named like an ssh client configuration. */
bool
inv_ssh_config_claims(const char *path, bool executable, const char *text,
    size_t len)
{
	const char *base = strrchr(path, '/');

	(void)executable;
	(void)text;
	(void)len;
	base = base != NULL ? base + 1 : path;
	return strcmp(base, "config") == 0 || strcmp(base, "ssh_config") == 0;
}
