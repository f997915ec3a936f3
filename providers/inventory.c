/*
 * inventory.c - the inventory model, and the `inventory` provider that
 * turns the configured inventory files into fleet nodes.
 *
 * Every inventory source (inv-ansible-ini.c, inv-json.c; later YAML,
 * dynamic scripts, ssh_config, Terraform) parses into one `struct
 * inventory`, which is Ansible's model: groups with direct hosts, children
 * and vars, and hosts with their own vars.  Files load into the same
 * inventory in order, as `ansible -i a -i b` does: groups and children
 * are united, and a later file's vars replace an earlier file's, key by
 * key.  A host defined by two files is merged that way and reported as a
 * warning, never silently.
 *
 * inv_finish() then reconciles like Ansible's InventoryData: a host with
 * no group but `all` goes to `ungrouped` (and leaves it once it has
 * another), a group without a parent becomes a child of `all`, a cycle of
 * :children is an error, and each group gets its depth (the longest path
 * from `all`).  A host's variables resolve as Ansible's: the vars of every
 * group it is in (directly or through children) in order of depth, then
 * ansible_group_priority, then name, each over the one before (so `all`
 * is lowest and a child group is over its parents), then its own vars.
 *
 * ansible_host, ansible_port and ansible_user of the resolved vars become
 * the node's address, port and user, validated strictly.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "act.h"

#define INV_FILE_MAX (256u << 20)       /* refuse larger inventory files */
#define INV_NO_TRANSPORT_INTERVAL_MS 300000

/* ---------------------------------------------------------------------- */
/* name -> index maps                                                      */

static uint64_t
inv_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

/*
 * Finds name in map; names(arg, i) gives the name of index i.  Returns the
 * slot holding it, or the empty slot where it would go.
 */
static size_t
inv_map_slot(const struct inv_map *m, const char *name,
    const char *(*names)(const void *, uint32_t), const void *arg)
{
	size_t mask = m->nslots - 1, i = (size_t)inv_hash(name) & mask;

	while (m->slots[i] != 0 && strcmp(names(arg, m->slots[i] - 1),
	    name) != 0)
		i = (i + 1) & mask;
	return i;
}

static void
inv_map_put(struct inv_map *m, size_t count, const char *name, uint32_t idx,
    const char *(*names)(const void *, uint32_t), const void *arg)
{
	if ((count + 1) * 2 > m->nslots) {
		struct inv_map old = *m;
		size_t i;

		m->nslots = m->nslots ? m->nslots * 2 : 64;
		m->slots = xcalloc(m->nslots, sizeof *m->slots);
		for (i = 0; i < old.nslots; i++) {
			if (old.slots[i] != 0)
				m->slots[inv_map_slot(m, names(arg,
				    old.slots[i] - 1), names, arg)] =
				    old.slots[i];
		}
		free(old.slots);
	}
	m->slots[inv_map_slot(m, name, names, arg)] = idx + 1;
}

static const char *
inv_group_name_at(const void *arg, uint32_t i)
{
	return ((const struct inventory *)arg)->groups[i].name;
}

static const char *
inv_host_name_at(const void *arg, uint32_t i)
{
	return ((const struct inventory *)arg)->hosts[i].name;
}

/* ---------------------------------------------------------------------- */
/* The model                                                               */

void
inv_init(struct inventory *inv)
{
	memset(inv, 0, sizeof *inv);
	inv_group(inv, "all");
	inv_group(inv, "ungrouped");
	inv->groups[INV_ALL].declared = true;
	inv->groups[INV_UNGROUPED].declared = true;
}

void
inv_free(struct inventory *inv)
{
	size_t i;

	for (i = 0; i < inv->ngroups; i++) {
		struct inv_group *g = &inv->groups[i];

		free(g->name);
		json_decref(g->vars);
		free(g->children);
		free(g->hosts);
		free(g->parents);
	}
	for (i = 0; i < inv->nhosts; i++) {
		free(inv->hosts[i].name);
		json_decref(inv->hosts[i].vars);
		free(inv->hosts[i].groups);
	}
	for (i = 0; i < inv->nfiles; i++)
		free(inv->files[i]);
	free(inv->files);
	free(inv->groups);
	free(inv->hosts);
	free(inv->group_map.slots);
	free(inv->host_map.slots);
	memset(inv, 0, sizeof *inv);
}

int
inv_group_find(const struct inventory *inv, const char *name)
{
	size_t s;

	if (inv->group_map.nslots == 0)
		return -1;
	s = inv_map_slot(&inv->group_map, name, inv_group_name_at, inv);
	return (int)inv->group_map.slots[s] - 1;
}

/* The index of the named group, added (undeclared, no vars) if new. */
uint32_t
inv_group(struct inventory *inv, const char *name)
{
	struct inv_group *g;
	int found = inv_group_find(inv, name);

	if (found >= 0)
		return (uint32_t)found;
	if (inv->ngroups == inv->groups_cap) {
		inv->groups_cap = inv->groups_cap ? inv->groups_cap * 2 : 16;
		inv->groups = xreallocarray(inv->groups, inv->groups_cap,
		    sizeof *inv->groups);
	}
	g = &inv->groups[inv->ngroups];
	memset(g, 0, sizeof *g);
	g->name = xstrdup(name);
	g->vars = json_object();
	g->file = inv->cur_file;
	inv_map_put(&inv->group_map, inv->ngroups, name,
	    (uint32_t)inv->ngroups, inv_group_name_at, inv);
	return (uint32_t)inv->ngroups++;
}

int
inv_host_find(const struct inventory *inv, const char *name)
{
	size_t s;

	if (inv->host_map.nslots == 0)
		return -1;
	s = inv_map_slot(&inv->host_map, name, inv_host_name_at, inv);
	return (int)inv->host_map.slots[s] - 1;
}

/*
 * The index of the named host, added if new.  A host first defined by
 * another file is reported through inv_warn(): it is merged, and the vars
 * the current file gives it replace the earlier ones key by key.
 */
uint32_t
inv_host(struct inventory *inv, const char *name, unsigned line)
{
	struct inv_host *h;
	int found = inv_host_find(inv, name);

	if (found >= 0) {
		h = &inv->hosts[found];
		if (h->file != inv->cur_file) {
			char here[32] = "", there[32] = "";

			/* Line 0: a source without lines (a script's output). */
			if (line != 0)
				snprintf(here, sizeof here, ":%u", line);
			if (h->line != 0)
				snprintf(there, sizeof there, ":%u", h->line);
			inv_warn(inv, "%s%s: host '%s' is also defined in "
			    "%s%s; merged, the vars of %s win", inv->cur_file,
			    here, name, h->file, there, inv->cur_file);
			h->file = inv->cur_file;
			h->line = line;
			h->source = inv->cur_source;
		}
		return (uint32_t)found;
	}
	if (inv->nhosts == inv->hosts_cap) {
		inv->hosts_cap = inv->hosts_cap ? inv->hosts_cap * 2 : 64;
		inv->hosts = xreallocarray(inv->hosts, inv->hosts_cap,
		    sizeof *inv->hosts);
	}
	h = &inv->hosts[inv->nhosts];
	memset(h, 0, sizeof *h);
	h->name = xstrdup(name);
	h->vars = json_object();
	h->file = inv->cur_file;
	h->line = line;
	h->source = inv->cur_source;
	inv_map_put(&inv->host_map, inv->nhosts, name, (uint32_t)inv->nhosts,
	    inv_host_name_at, inv);
	return (uint32_t)inv->nhosts++;
}

static bool
inv_u32_has(const uint32_t *v, size_t n, uint32_t x)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i] == x)
			return true;
	}
	return false;
}

static void
inv_u32_push(uint32_t **v, size_t *n, uint32_t x)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = x;
}

/* Makes host a direct member of group (once). */
void
inv_host_add_group(struct inventory *inv, uint32_t host, uint32_t group)
{
	struct inv_host *h = &inv->hosts[host];
	struct inv_group *g = &inv->groups[group];

	if (inv_u32_has(h->groups, h->ngroups, group))
		return;
	inv_u32_push(&h->groups, &h->ngroups, group);
	inv_u32_push(&g->hosts, &g->nhosts, host);
}

void
inv_group_add_child(struct inventory *inv, uint32_t parent, uint32_t child)
{
	struct inv_group *g = &inv->groups[parent];

	if (!inv_u32_has(g->children, g->nchildren, child))
		inv_u32_push(&g->children, &g->nchildren, child);
}

/* Reports a warning line through the inventory's callback (or stderr). */
void
inv_warn(struct inventory *inv, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (inv->warn != NULL)
		inv->warn(inv->warn_arg, buf);
	else
		fprintf(stderr, "nexusctl: warning: %s\n", buf);
}

/* ---------------------------------------------------------------------- */
/* Loading                                                                 */

static bool
inv_has_suffix(const char *s, const char *suffix)
{
	size_t l = strlen(s), k = strlen(suffix);

	return l >= k && strcasecmp(s + l - k, suffix) == 0;
}

/* Whether text looks like YAML: a first line `---` or `name:`. */
static bool
inv_looks_like_yaml(const char *text, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t e = i, k;

		while (e < len && text[e] != '\n')
			e++;
		k = i;
		while (k < e && isspace((unsigned char)text[k]))
			k++;
		if (k < e && text[k] != '#' && text[k] != ';') {
			if (e - k >= 3 && strncmp(text + k, "---", 3) == 0)
				return true;
			/* a first line `name:` with nothing after the colon */
			while (k < e && (isalnum((unsigned char)text[k]) ||
			    text[k] == '_' || text[k] == '-'))
				k++;
			if (k < e && text[k] == ':') {
				for (k++; k < e && isspace((unsigned char)text[k]);
				    k++)
					;
				return k == e;
			}
			return false;
		}
		i = e + 1;
	}
	return false;
}

static bool
inv_sniff_json(const char *text, size_t len)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)text[i]))
		i++;
	return i < len && text[i] == '{';
}

static bool
inv_sniff_any(const char *text, size_t len)
{
	(void)text;
	(void)len;
	return true;
}

/*
 * The inventory sources, in the order they are tried.  A file is given to
 * the first source whose `prefix:` it was named with (`-i yaml:hosts`),
 * else the first that claims it by its path (suffixes, or `by_path`: the
 * executable bit, the base name), else the first whose `sniff` claims its
 * contents.  INI takes whatever is left.
 */
struct inv_source {
	const char *name;               /* also the `name:` prefix */
	const char *suffixes;           /* space-separated, caseless */
	bool (*by_path)(const char *path, bool executable, const char *text,
	    size_t len);
	bool (*sniff)(const char *text, size_t len);
	int (*parse)(struct inventory *, const char *path, const char *text,
	    size_t len, struct nx_err *);
};

static const struct inv_source inv_sources[] = {
	{ .name = "script", .by_path = inv_script_claims,
	  .parse = inv_parse_script },
	{ .name = "ssh_config", .by_path = inv_ssh_config_claims,
	  .parse = inv_parse_ssh_config },
	{ .name = "terraform", .suffixes = ".tfstate",
	  .by_path = inv_terraform_claims, .parse = inv_parse_terraform },
	{ .name = "json", .suffixes = ".json", .sniff = inv_sniff_json,
	  .parse = inv_parse_json },
	{ .name = "yaml", .suffixes = ".yml .yaml",
	  .sniff = inv_looks_like_yaml, .parse = inv_parse_yaml },
	{ .name = "ini", .suffixes = ".ini .cfg", .sniff = inv_sniff_any,
	  .parse = inv_parse_ini },
};

static bool
inv_suffix_in(const char *path, const char *list)
{
	char suf[32];
	size_t n;

	while (list != NULL && *list != '\0') {
		n = strcspn(list, " ");
		if (n < sizeof suf) {
			memcpy(suf, list, n);
			suf[n] = '\0';
			if (inv_has_suffix(path, suf))
				return true;
		}
		list += n;
		list += strspn(list, " ");
	}
	return false;
}

/* Whether name is one of the sources (a `name:` prefix). */
bool
inv_source_known(const char *name)
{
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(inv_sources); i++) {
		if (strcmp(inv_sources[i].name, name) == 0)
			return true;
	}
	return false;
}

/* The source forced by a `name:` prefix of path (and the rest), or NULL. */
static const struct inv_source *
inv_source_prefix(const char *path, const char **rest)
{
	size_t i, n;

	for (i = 0; i < NX_ARRAY_LEN(inv_sources); i++) {
		n = strlen(inv_sources[i].name);
		if (strncmp(path, inv_sources[i].name, n) == 0 &&
		    path[n] == ':') {
			*rest = path + n + 1;
			return &inv_sources[i];
		}
	}
	*rest = path;
	return NULL;
}

static const struct inv_source *
inv_source_choose(const char *path, bool executable, const char *text,
    size_t len)
{
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(inv_sources); i++) {
		const struct inv_source *s = &inv_sources[i];

		if (inv_suffix_in(path, s->suffixes) || (s->by_path != NULL &&
		    s->by_path(path, executable, text, len)))
			return s;
	}
	for (i = 0; i < NX_ARRAY_LEN(inv_sources); i++) {
		if (inv_sources[i].sniff != NULL && inv_sources[i].sniff(text,
		    len))
			return &inv_sources[i];
	}
	return &inv_sources[NX_ARRAY_LEN(inv_sources) - 1];
}

/* Keeps one copy of each file name: hosts and groups point at it. */
static const char *
inv_file_name(struct inventory *inv, const char *path)
{
	if (inv->cur_file == NULL || strcmp(inv->cur_file, path) != 0) {
		inv->files = xreallocarray(inv->files, inv->nfiles + 1,
		    sizeof *inv->files);
		inv->files[inv->nfiles] = xstrdup(path);
		inv->cur_file = inv->files[inv->nfiles++];
	}
	return inv->cur_file;
}

static int
inv_parse_as(struct inventory *inv, const char *path, const char *text,
    size_t len, bool executable, struct nx_err *err)
{
	const struct inv_source *src;
	const char *rest;

	if ((src = inv_source_prefix(path, &rest)) == NULL)
		src = inv_source_choose(path, executable, text, len);
	inv->cur_source = src->name;
	return src->parse(inv, inv_file_name(inv, rest), text, len, err);
}

/*
 * The file an inventory argument names: without a `source:` prefix, and
 * with the `~/` after a prefix expanded as inv_load_file() does.  Returns
 * a new string.
 */
char *
inv_file_path(const char *spec)
{
	const char *file;
	char *out;

	inv_source_prefix(spec, &file);
	if (file != spec && file[0] == '~' && file[1] == '/' &&
	    getenv("HOME") != NULL) {
		xasprintf(&out, "%s%s", getenv("HOME"), file + 1);
		return out;
	}
	return xstrdup(file);
}

/*
 * Parses text (the contents of path) into inv with the source the table
 * above chooses (a `name:` prefix, the path, else the contents; never a
 * script: text is not a file).  Returns 0, or -1 with err set.
 */
int
inv_parse(struct inventory *inv, const char *path, const char *text,
    size_t len, struct nx_err *err)
{
	return inv_parse_as(inv, path, text, len, false, err);
}

/*
 * Reads and parses one inventory file into inv.  The file name is kept
 * (inv->files) for the file:line of later messages.  Returns 0, or -1 with
 * err set.
 */
int
inv_load_file(struct inventory *inv, const char *path, struct nx_err *err)
{
	const char *file;
	FILE *fp;
	struct stat st;
	char *text, *home = NULL;
	size_t n;
	bool executable;
	int rc;

	/* `-i ssh_config:~/.ssh/config`: the shell leaves that ~ alone. */
	inv_source_prefix(path, &file);
	if (file != path && file[0] == '~' && file[1] == '/' &&
	    getenv("HOME") != NULL) {
		xasprintf(&home, "%.*s%s%s", (int)(file - path), path,
		    getenv("HOME"), file + 1);
		rc = inv_load_file(inv, home, err);
		free(home);
		return rc;
	}
	if ((fp = fopen(file, "rb")) == NULL) {
		nx_err_set(err, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		nx_err_set(err, "%s: not a regular file", file);
		fclose(fp);
		return -1;
	}
	if ((uintmax_t)st.st_size > INV_FILE_MAX) {
		nx_err_set(err, "%s: larger than %u MiB", file,
		    INV_FILE_MAX >> 20);
		fclose(fp);
		return -1;
	}
	text = xmalloc((size_t)st.st_size + 1);
	n = fread(text, 1, (size_t)st.st_size, fp);
	if (ferror(fp)) {
		nx_err_set(err, "%s: %s", file, strerror(errno));
		fclose(fp);
		free(text);
		return -1;
	}
	fclose(fp);
	text[n] = '\0';
	executable = (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
	inv->cur_file = NULL;           /* a new file, even if named alike */
	rc = inv_parse_as(inv, path, text, n, executable, err);
	free(text);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Reconciling                                                             */

enum { WHITE, GREY, BLACK };

/* Depth-first over children; finds cycles and computes depths. */
static int
inv_visit(struct inventory *inv, uint32_t g, uint8_t *color,
    struct nx_err *err)
{
	struct inv_group *gr = &inv->groups[g];
	size_t i;

	color[g] = GREY;
	for (i = 0; i < gr->nchildren; i++) {
		uint32_t c = gr->children[i];

		if (color[c] == GREY) {
			struct inv_group *cg = &inv->groups[c];

			nx_err_set(err, "%s:%u: group '%s' is a child of '%s' "
			    "and also its ancestor: a cycle in :children",
			    cg->file ? cg->file : "?", cg->line, cg->name,
			    gr->name);
			return -1;
		}
		if (color[c] == WHITE && inv_visit(inv, c, color, err) != 0)
			return -1;
	}
	color[g] = BLACK;
	return 0;
}

static int
inv_depth(struct inventory *inv, uint32_t g, int *memo)
{
	struct inv_group *gr = &inv->groups[g];
	size_t i;
	int d = 0;

	if (memo[g] >= 0)
		return memo[g];
	for (i = 0; i < gr->nparents; i++) {
		int pd = inv_depth(inv, gr->parents[i], memo) + 1;

		if (pd > d)
			d = pd;
	}
	memo[g] = d;
	return d;
}

static void
inv_remove_u32(uint32_t *v, size_t *n, uint32_t x)
{
	size_t i, w = 0;

	for (i = 0; i < *n; i++) {
		if (v[i] != x)
			v[w++] = v[i];
	}
	*n = w;
}

/*
 * Reconciles the inventory after the last file: ungrouped hosts, groups
 * without a parent under `all`, parents, cycle check, depths.  Returns 0,
 * or -1 with err set (a cycle).
 */
int
inv_finish(struct inventory *inv, struct nx_err *err)
{
	uint8_t *color;
	int *memo;
	size_t i, k;

	for (i = 0; i < inv->nhosts; i++) {
		struct inv_host *h = &inv->hosts[i];
		bool other = false;

		for (k = 0; k < h->ngroups; k++) {
			if (h->groups[k] != INV_ALL &&
			    h->groups[k] != INV_UNGROUPED)
				other = true;
		}
		if (other && inv_u32_has(h->groups, h->ngroups, INV_UNGROUPED)) {
			struct inv_group *u = &inv->groups[INV_UNGROUPED];

			inv_remove_u32(h->groups, &h->ngroups, INV_UNGROUPED);
			inv_remove_u32(u->hosts, &u->nhosts, (uint32_t)i);
		} else if (!other)
			inv_host_add_group(inv, (uint32_t)i, INV_UNGROUPED);
	}
	for (i = 0; i < inv->ngroups; i++) {
		free(inv->groups[i].parents);
		inv->groups[i].parents = NULL;
		inv->groups[i].nparents = 0;
	}
	for (i = 0; i < inv->ngroups; i++) {
		for (k = 0; k < inv->groups[i].nchildren; k++) {
			struct inv_group *c =
			    &inv->groups[inv->groups[i].children[k]];

			inv_u32_push(&c->parents, &c->nparents, (uint32_t)i);
		}
	}
	inv_group_add_child(inv, INV_ALL, INV_UNGROUPED);
	for (i = 1; i < inv->ngroups; i++) {
		struct inv_group *g = &inv->groups[i];

		if (g->nparents == 0) {
			inv_group_add_child(inv, INV_ALL, (uint32_t)i);
			inv_u32_push(&g->parents, &g->nparents, INV_ALL);
		}
	}
	color = xcalloc(inv->ngroups, 1);
	for (i = 0; i < inv->ngroups; i++) {
		if (color[i] == WHITE && inv_visit(inv, (uint32_t)i, color,
		    err) != 0) {
			free(color);
			return -1;
		}
	}
	free(color);
	if (inv->groups[INV_ALL].nparents > 0) {
		nx_err_set(err, "group 'all' cannot be a child of another group");
		return -1;
	}
	memo = xmalloc(inv->ngroups * sizeof *memo);
	for (i = 0; i < inv->ngroups; i++)
		memo[i] = -1;
	for (i = 0; i < inv->ngroups; i++)
		inv->groups[i].depth = inv_depth(inv, (uint32_t)i, memo);
	free(memo);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Resolving                                                               */

struct inv_rank {
	uint32_t group;
	int depth;
	json_int_t priority;
	const char *name;
};

static int
inv_rank_cmp(const void *a, const void *b)
{
	const struct inv_rank *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->name, y->name);
}

static json_int_t
inv_group_priority(const struct inv_group *g)
{
	const json_t *p = json_object_get(g->vars, "ansible_group_priority");
	char *end;
	long long v;

	if (json_is_integer(p))
		return json_integer_value(p);
	if (json_is_string(p)) {
		v = strtoll(json_string_value(p), &end, 10);
		if (*end == '\0' && end != json_string_value(p))
			return v;
	}
	return 1;
}

/*
 * The groups host h is in, directly or through children, plus `all`, in
 * the order their vars apply (lowest first).  Returns a new array of *n.
 */
static uint32_t *
inv_host_groups(const struct inventory *inv, uint32_t h, size_t *n)
{
	const struct inv_host *host = &inv->hosts[h];
	uint32_t *out = NULL;
	size_t nout = 0, i, k;

	for (i = 0; i < host->ngroups; i++) {
		if (!inv_u32_has(out, nout, host->groups[i]))
			inv_u32_push(&out, &nout, host->groups[i]);
	}
	for (i = 0; i < nout; i++) {       /* breadth-first up the parents */
		const struct inv_group *g = &inv->groups[out[i]];

		for (k = 0; k < g->nparents; k++) {
			if (!inv_u32_has(out, nout, g->parents[k]))
				inv_u32_push(&out, &nout, g->parents[k]);
		}
	}
	if (!inv_u32_has(out, nout, INV_ALL))
		inv_u32_push(&out, &nout, INV_ALL);
	*n = nout;
	return out;
}

/*
 * The resolved vars of host h (see the top of this file).  Returns a new
 * object; its values are shared with the inventory and must be treated as
 * immutable.
 */
json_t *
inv_host_vars(const struct inventory *inv, uint32_t h)
{
	size_t n, i;
	uint32_t *groups = inv_host_groups(inv, h, &n);
	struct inv_rank *r = xcalloc(n ? n : 1, sizeof *r);
	json_t *vars = json_object();

	for (i = 0; i < n; i++) {
		const struct inv_group *g = &inv->groups[groups[i]];

		r[i].group = groups[i];
		r[i].depth = g->depth;
		r[i].priority = inv_group_priority(g);
		r[i].name = g->name;
	}
	qsort(r, n, sizeof *r, inv_rank_cmp);
	for (i = 0; i < n; i++)
		json_object_update(vars, inv->groups[r[i].group].vars);
	json_object_update(vars, inv->hosts[h].vars);
	json_object_del(vars, "ansible_group_priority");
	free(r);
	free(groups);
	return vars;
}

/* ---------------------------------------------------------------------- */
/* Validation                                                              */

static bool
inv_valid_ipv4(const char *s)
{
	int parts = 0;

	for (;;) {
		size_t k = 0;
		unsigned v = 0;

		while (isdigit((unsigned char)s[k]) && k < 4)
			v = v * 10 + (unsigned)(s[k++] - '0');
		if (k == 0 || k > 3 || v > 255 || (k > 1 && s[0] == '0'))
			return false;
		s += k;
		parts++;
		if (*s == '\0')
			return parts == 4;
		if (*s != '.' || parts == 4)
			return false;
		s++;
	}
}

/* An IPv6 address in text form (RFC 4291 2.2), without brackets or zone. */
static bool
inv_valid_ipv6(const char *s)
{
	int groups = 0;
	bool gap = false;
	const char *p = s;

	if (p[0] == ':') {
		if (p[1] != ':')
			return false;
		gap = true;
		p += 2;
		if (*p == '\0')
			return true;
	}
	for (;;) {
		size_t k = 0;

		while (isxdigit((unsigned char)p[k]) && k < 5)
			k++;
		if (p[k] == '.') {              /* trailing IPv4 */
			if (!inv_valid_ipv4(p))
				return false;
			groups += 2;
			break;
		}
		if (k == 0 || k > 4)
			return false;
		groups++;
		p += k;
		if (*p == '\0')
			break;
		if (*p != ':')
			return false;
		p++;
		if (*p == ':') {
			if (gap)
				return false;
			gap = true;
			p++;
			if (*p == '\0')
				break;
		}
	}
	return gap ? groups < 8 : groups == 8;
}

/*
 * A DNS name by RFC 1123: dot-separated labels of letters, digits and
 * hyphens, 1-63 characters, not starting or ending with a hyphen, 253 in
 * all; `underscore` also admits '_' inside labels.
 */
static bool
inv_valid_dns(const char *s, bool underscore, const char **why)
{
	size_t total = strlen(s), label = 0, i;

	if (total == 0) {
		*why = "empty name";
		return false;
	}
	if (total > 253) {
		*why = "longer than 253 characters";
		return false;
	}
	for (i = 0; i <= total; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' || c == '\0') {
			if (label == 0) {
				*why = "empty label (two dots, or a dot at "
				    "either end)";
				return false;
			}
			if (s[i - 1] == '-' || s[i - 1] == '_') {
				*why = "a label ends with '-' or '_'";
				return false;
			}
			label = 0;
			continue;
		}
		if (label == 0 && (c == '-' || c == '_')) {
			*why = "a label starts with '-' or '_'";
			return false;
		}
		if (!isalnum(c) && c != '-' && !(underscore && c == '_')) {
			*why = underscore ? "only letters, digits, '-', '_' "
			    "and '.' are allowed" : "only letters, digits, '-' "
			    "and '.' are allowed";
			return false;
		}
		if (++label > 63) {
			*why = "a label is longer than 63 characters";
			return false;
		}
	}
	return true;
}

/*
 * An inventory host name: an RFC 1123 name (with '_' admitted inside
 * labels, since Ansible host names are aliases as often as DNS names), an
 * IPv4 address or an IPv6 address.  *why says what is wrong.
 */
bool
inv_valid_name(const char *s, const char **why)
{
	if (strchr(s, ':') != NULL) {
		*why = "not a valid IPv6 address";
		return inv_valid_ipv6(s);
	}
	return inv_valid_dns(s, true, why);
}

/*
 * A node address: an RFC 1123 DNS name, an IPv4 address, or an IPv6
 * address bare or in brackets.
 */
bool
inv_valid_address(const char *s, const char **why)
{
	size_t l = strlen(s);

	if (l > 2 && s[0] == '[' && s[l - 1] == ']') {
		char buf[64];

		*why = "not a valid IPv6 address in brackets";
		if (l - 2 >= sizeof buf)
			return false;
		memcpy(buf, s + 1, l - 2);
		buf[l - 2] = '\0';
		return inv_valid_ipv6(buf);
	}
	if (strchr(s, ':') != NULL) {
		*why = "not a valid IPv6 address";
		return inv_valid_ipv6(s);
	}
	return inv_valid_dns(s, false, why);
}

static bool
inv_valid_user(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '-' || strlen(s) > 255)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '.' && c != '_' && c != '-' && c != '@')
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------------- */
/* Into the fleet                                                          */

static int
inv_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Resolves host h of the finished inventory into the fields its node
 * gets (see struct inv_node): address, port and user from the resolved
 * ansible_host, ansible_port and ansible_user, validated; its groups
 * (direct ones first, then the ones it is in through children; `all` is
 * left out, every node has it).  On success out owns vars and groups
 * (inv_node_clear() frees them).  Returns 0, or -1 with err naming the
 * host's file:line.
 */
int
inv_node_resolve(struct inventory *inv, uint32_t host, struct inv_node *out,
    struct nx_err *err)
{
	const struct inv_host *h = &inv->hosts[host];
	json_t *vars = inv_host_vars(inv, host);
	const json_t *jh = json_object_get(vars, "ansible_host");
	const json_t *jp = json_object_get(vars, "ansible_port");
	const json_t *ju = json_object_get(vars, "ansible_user");
	const char *address = h->name, *why = "";
	json_int_t port = 22;
	uint32_t *groups;
	size_t ng, k;

	memset(out, 0, sizeof *out);
	if (jh != NULL) {
		if (!json_is_string(jh)) {
			nx_err_set(err, "%s:%u: host '%s': ansible_host "
			    "is not a string", h->file, h->line, h->name);
			goto fail;
		}
		address = json_string_value(jh);
		if (!inv_valid_address(address, &why)) {
			nx_err_set(err, "%s:%u: host '%s': ansible_host "
			    "'%s' is %s%s", h->file, h->line, h->name,
			    address, "not an address: ", why);
			goto fail;
		}
	}
	if (jp != NULL) {
		char *end = NULL;

		if (json_is_integer(jp))
			port = json_integer_value(jp);
		else if (json_is_string(jp)) {
			port = strtoll(json_string_value(jp), &end, 10);
			if (*end != '\0' || end == json_string_value(jp))
				port = -1;
		} else
			port = -1;
		if (port < 1 || port > 65535) {
			char *txt = json_dumps(jp, JSON_ENCODE_ANY);

			nx_err_set(err, "%s:%u: host '%s': ansible_port "
			    "%s is not a port number (1-65535)", h->file,
			    h->line, h->name, txt ? txt : "?");
			free(txt);
			goto fail;
		}
	}
	if (ju != NULL && (!json_is_string(ju) ||
	    !inv_valid_user(json_string_value(ju)))) {
		char *txt = json_dumps(ju, JSON_ENCODE_ANY);

		nx_err_set(err, "%s:%u: host '%s': ansible_user %s is not "
		    "a user name (letters, digits, '.', '_', '-', '@')",
		    h->file, h->line, h->name, txt ? txt : "?");
		free(txt);
		goto fail;
	}
	out->name = h->name;
	out->address = address;
	out->port = (uint16_t)port;
	out->port_set = jp != NULL;
	out->user = ju != NULL ? json_string_value(ju) : NULL;
	out->source = h->source;
	out->vars = vars;
	groups = inv_host_groups(inv, host, &ng);
	out->groups = xreallocarray(NULL, ng ? ng : 1, sizeof *out->groups);
	for (k = 0; k < ng && out->ngroups < UINT16_MAX - 1; k++) {
		if (groups[k] != INV_ALL)
			out->groups[out->ngroups++] =
			    inv->groups[groups[k]].name;
	}
	free(groups);
	return 0;
fail:
	json_decref(vars);
	return -1;
}

void
inv_node_clear(struct inv_node *in)
{
	json_decref(in->vars);
	free(in->groups);
	memset(in, 0, sizeof *in);
}

/*
 * Gives node n the resolved fields of in: address, port, user, source,
 * groups (in's, then `all`) and vars, which n takes over (in->vars becomes
 * NULL).  The node's previous groups and vars are dropped.
 */
void
inv_node_apply(struct fleet *f, struct node *n, struct inv_node *in)
{
	size_t k;

	n->address = strpool_intern(&f->strings, in->address);
	n->port = in->port;
	n->port_set = in->port_set;
	n->user = in->user != NULL ? strpool_intern(&f->strings, in->user) :
	    NULL;
	n->source = in->source;
	json_decref(n->vars);
	n->vars = in->vars;
	in->vars = NULL;
	free(n->groups);
	n->groups = NULL;
	n->ngroups = 0;
	for (k = 0; k < in->ngroups; k++)
		node_add_group(f, n, in->groups[k]);
	node_add_group(f, n, "all");
}

/*
 * Adds every host of the finished inventory to the fleet as a node of
 * provider p, with the fields inv_node_resolve() gives it and its
 * resolved vars (node->vars, owned by the node).  A host whose name a
 * node of another provider already has is skipped with a warning.
 * Returns 0, or -1 with err naming the host's file:line.
 */
int
inv_to_fleet(struct inventory *inv, struct fleet *f, const struct provider *p,
    struct nx_err *err)
{
	const char **existing = NULL;
	size_t nexisting = f->nnodes, i;

	if (nexisting > 0) {
		existing = xreallocarray(NULL, nexisting, sizeof *existing);
		for (i = 0; i < nexisting; i++)
			existing[i] = f->nodes[i].name;
		qsort(existing, nexisting, sizeof *existing, inv_ptr_cmp);
	}
	for (i = 0; i < inv->nhosts; i++) {
		const struct inv_host *h = &inv->hosts[i];
		struct inv_node in;
		struct node *n;

		if (existing != NULL && bsearch(&h->name, existing, nexisting,
		    sizeof *existing, inv_ptr_cmp) != NULL) {
			inv_warn(inv, "%s:%u: host '%s' is already a node of "
			    "another provider; the inventory's definition is "
			    "ignored", h->file, h->line, h->name);
			continue;
		}
		if (inv_node_resolve(inv, (uint32_t)i, &in, err) != 0) {
			free(existing);
			return -1;
		}
		n = fleet_add_node(f, h->name, in.address, p);
		inv_node_apply(f, n, &in);
		inv_node_clear(&in);
	}
	free(existing);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The provider                                                            */

/*
 * Inventory nodes have no transport until the ssh provider lands: their
 * one check says so, UNKNOWN, instead of pretending to have pinged them.
 * It is not a host check, so it cannot mark a node DOWN it never tried.
 */
static void
inventory_check_run(struct engine *e, struct check *c)
{
	static const char msg[] = "UNKNOWN - no transport yet: inventory "
	    "nodes are not contacted until the ssh provider lands";
	struct nx_result r = {
		.state = NX_UNKNOWN,
		.output = msg,
		.output_len = sizeof msg - 1,
		.time = engine_now(e),
	};

	mon_apply_result(e, c, &r);
}

static const struct check_kind check_kind_no_transport = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "no-transport",
	.run = inventory_check_run,
};

/*
 * Gives an inventory node its own check: `ping`, which says the node has
 * no transport (the ssh provider turns it into its session check).
 */
void
inventory_node_checks(struct engine *e, struct node *n)
{
	struct check *c = fleet_add_check(&e->fleet, n, "ping",
	    &check_kind_no_transport, NULL);

	/* Its answer cannot change: no need to repeat it often. */
	c->interval_ms = c->retry_ms = INV_NO_TRANSPORT_INTERVAL_MS;
}

/*
 * Turns check c back into the inventory's `ping` (a node whose transport a
 * reload took away: the provider that had converted it calls this).
 */
void
inventory_ping_restore(struct check *c)
{
	c->kind = &check_kind_no_transport;
	c->is_host_check = false;
	c->interval_ms = c->retry_ms = INV_NO_TRANSPORT_INTERVAL_MS;
}

void
inventory_warn_default(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "nexusctl: warning: %s\n", msg);
}

/*
 * Loads every file of the configured inventory list (cfg.inventories) in
 * order into one inventory, and adds its hosts to the fleet, each with a
 * `ping` check that reports it has no transport yet.
 */
static int
inventory_inventory(struct engine *e, struct nx_err *err)
{
	struct inventory inv;
	uint32_t first = e->fleet.nnodes, i;
	size_t k;
	int rc = -1;

	if (e->cfg.ninventories == 0)
		return 0;
	inv_init(&inv);
	inv.warn = e->cfg.warn != NULL ? e->cfg.warn : inventory_warn_default;
	inv.warn_arg = e->cfg.warn_arg;
	for (k = 0; k < e->cfg.ninventories; k++) {
		if (inv_load_file(&inv, e->cfg.inventories[k], err) != 0)
			goto out;
	}
	if (inv_finish(&inv, err) != 0 ||
	    inv_to_fleet(&inv, &e->fleet, &provider_inventory, err) != 0)
		goto out;
	for (i = first; i < e->fleet.nnodes; i++)
		inventory_node_checks(e, &e->fleet.nodes[i]);
	rc = 0;
out:
	inv_free(&inv);
	return rc;
}

const struct provider provider_inventory = {
	.version = NX_PROVIDER_VERSION,
	.name = "inventory",
	.description = "nodes from inventory files (Ansible INI, JSON)",
	.inventory = inventory_inventory,
	.start = inv_watch_start,
	.stop = inv_watch_stop,
	.actions = inventory_actions,
	.nactions = INV_NACTIONS,
};
