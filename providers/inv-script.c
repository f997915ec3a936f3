/*
 * inv-script.c - Ansible dynamic inventory scripts: an executable -i file
 * is run with `--list`, and its JSON read as Ansible's `script` inventory
 * plugin reads it:
 *
 *   { "web":   { "hosts": ["w1", "w2"], "vars": { "http_port": 80 },
 *                "children": ["canary"] },
 *     "db":    ["d1", "d2"],
 *     "_meta": { "hostvars": { "w1": { "ansible_host": "10.0.0.1" } } } }
 *
 * A group is an object with `hosts` (a list), `vars` (an object) and
 * `children` (a list), or a plain list of hosts; an object with none of
 * those three keys is Ansible's "simplified syntax": a host named like the
 * group, with the object as its vars.  With `_meta.hostvars` the host
 * vars come from there; without `_meta`, the script is run again as
 * `--host NAME` for every host, as Ansible does.
 *
 * The script runs through child_run() (engine/child.c, the project's one
 * spawn path) in a process group (and session) of its own, stdin from
 * /dev/null and stdout and stderr on pipes, for at most
 * inventory.script_timeout_ms (30 s by default) per run; past that the
 * whole process group is killed and it is an error, as is an exit with
 * the output still held open (by a process it left behind) until then.
 * A non-zero exit, a signal, output that is not a JSON object, or more
 * than 64 MiB of output (the group is killed at the 64 MiB + 1st byte)
 * is an error that quotes the script's stderr (its first 1000 bytes).
 * Whatever is left of its process group when it is done is killed.
 *
 * The file is chosen by its executable bit with a `#!` line or an ELF
 * header (Ansible's script plugin also wants the executable bit), or by a
 * `script:` prefix.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define SCRIPT_TIMEOUT_MS 30000
#define SCRIPT_OUT_MAX (64u << 20)
#define SCRIPT_ERR_MAX 1000


struct script_run {
	char *out;              /* stdout, NUL-terminated, owned */
	size_t outlen;
	char err[SCRIPT_ERR_MAX + 1];   /* the start of stderr */
	size_t errlen;
	int exit_status;
	int term_signal;        /* 0, or the signal that ended it */
};

/* Whether the file (its first bytes in text) is a script Ansible would run. */
bool
inv_script_claims(const char *path, bool executable, const char *text,
    size_t len)
{
	(void)path;
	if (!executable)
		return false;
	return (len >= 2 && text[0] == '#' && text[1] == '!') ||
	    (len >= 4 && memcmp(text, "\177ELF", 4) == 0);
}

/* Copies stderr's first bytes, printable, for a message. */
static const char *
script_stderr(struct script_run *r)
{
	size_t i;

	r->err[r->errlen] = '\0';
	for (i = 0; i < r->errlen; i++) {
		if (r->err[i] == '\n' && i + 1 < r->errlen)
			r->err[i] = ' ';
		else if ((unsigned char)r->err[i] < 0x20 && r->err[i] != '\n')
			r->err[i] = '?';
	}
	while (r->errlen > 0 && r->err[r->errlen - 1] == '\n')
		r->err[--r->errlen] = '\0';
	return r->errlen > 0 ? r->err : "(nothing on stderr)";
}

/*
 * Runs `path arg [arg2]` as described above, through child_run()
 * (engine/child.c, the one spawn path).  On 0, r holds its output and
 * exit (r->out owned by the caller); -1 with err set when it could not
 * be run, timed out or wrote too much.
 */
static int
script_run(const char *path, const char *arg, const char *arg2,
    int timeout_ms, struct script_run *r, struct nx_err *err)
{
	struct child_opts o;
	struct child_sync cs;
	struct nx_err cerr = { { 0 } };
	char *argv[4], *file = NULL;

	memset(r, 0, sizeof *r);
	argv[0] = (char *)path;
	argv[1] = (char *)arg;
	argv[2] = (char *)arg2;
	argv[3] = NULL;
	/* A name without a slash is a file here, never one from PATH. */
	if (strchr(path, '/') == NULL)
		xasprintf(&file, "./%s", path);
	memset(&o, 0, sizeof o);
	o.file = file != NULL ? file : path;
	o.argv = argv;
	o.timeout_ms = (uint32_t)timeout_ms;
	o.linger_ms = 0;        /* output held open: up to the timeout */
	o.out_cap = SCRIPT_OUT_MAX;
	o.err_cap = SCRIPT_ERR_MAX;
	o.flags = CHILD_KILL_OVER_CAP | CHILD_KILL_LINGERING |
	    CHILD_KILL_AT_END;
	if (child_run(&o, &cs, &cerr) != 0) {
		nx_err_set(err, "%s: cannot run it: %s", path,
		    cs.spawn_error < 0 ? strerror(-cs.spawn_error) : cerr.msg);
		free(file);
		return -1;
	}
	free(file);
	r->errlen = cs.res.len[CHILD_ERR];
	memcpy(r->err, cs.res.out[CHILD_ERR], r->errlen);
	if (cs.res.over_cap) {
		nx_err_set(err, "%s %s: more than %u MiB of output; killed",
		    path, arg, SCRIPT_OUT_MAX >> 20);
		child_sync_free(&cs);
		return -1;
	}
	/* Past the timeout, or an exit with the output still held open
	 * (by a process of its own) until the timeout: no answer. */
	if (cs.res.timed_out || cs.res.output_open) {
		nx_err_set(err, "%s %s%s%s: no answer in %d ms; its process "
		    "group was killed (stderr: %s)", path, arg,
		    arg2 != NULL ? " " : "", arg2 != NULL ? arg2 : "",
		    timeout_ms, script_stderr(r));
		child_sync_free(&cs);
		return -1;
	}
	r->exit_status = (int)cs.res.exit_status;
	r->term_signal = cs.res.term_signal;
	r->outlen = cs.res.len[CHILD_OUT];
	r->out = cs.buf[CHILD_OUT] != NULL ? cs.buf[CHILD_OUT] : xstrdup("");
	cs.buf[CHILD_OUT] = NULL;
	child_sync_free(&cs);
	return 0;
}

/*
 * Runs the script with the arguments and parses its output as a JSON
 * object (new reference), or NULL with err quoting the script's stderr.
 */
static json_t *
script_json(struct inventory *inv, const char *path, const char *arg,
    const char *arg2, struct nx_err *err)
{
	struct script_run r;
	json_error_t je;
	json_t *root;
	int ms = inv->script_timeout_ms > 0 ? inv->script_timeout_ms :
	    SCRIPT_TIMEOUT_MS;
	const char *sp = arg2 != NULL ? " " : "", *a2 = arg2 != NULL ? arg2 : "";

	if (script_run(path, arg, arg2, ms, &r, err) != 0)
		return NULL;
	if (r.term_signal != 0) {
		nx_err_set(err, "%s %s%s%s: killed by signal %d (stderr: %s)",
		    path, arg, sp, a2, r.term_signal, script_stderr(&r));
		free(r.out);
		return NULL;
	}
	if (r.exit_status != 0) {
		nx_err_set(err, "%s %s%s%s: exit status %d (stderr: %s)", path,
		    arg, sp, a2, r.exit_status, script_stderr(&r));
		free(r.out);
		return NULL;
	}
	root = json_loadb(r.out, r.outlen, 0, &je);
	free(r.out);
	if (root == NULL) {
		nx_err_set(err, "%s %s%s%s: output line %d column %d: %s "
		    "(stderr: %s)", path, arg, sp, a2, je.line, je.column,
		    je.text, script_stderr(&r));
		return NULL;
	}
	if (!json_is_object(root)) {
		nx_err_set(err, "%s %s%s%s: the output must be a JSON object",
		    path, arg, sp, a2);
		json_decref(root);
		return NULL;
	}
	return root;
}

static bool
script_valid_group(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > 255)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

static int
script_group_ref(struct inventory *inv, const char *path, const json_t *v,
    const char *where, uint32_t *out, struct nx_err *err)
{
	if (!json_is_string(v) || !script_valid_group(json_string_value(v)))
		return nx_err_set(err, "%s --list: %s: invalid group name (a "
		    "string of letters, digits, '_' and '-')", path, where), -1;
	*out = inv_group(inv, json_string_value(v));
	inv->groups[*out].declared = true;
	return 0;
}

static int
script_host_ref(struct inventory *inv, const char *path, const json_t *v,
    const char *where, uint32_t *out, struct nx_err *err)
{
	const char *why = "a host name must be a string";

	if (!json_is_string(v) || !inv_valid_name(json_string_value(v), &why))
		return nx_err_set(err, "%s --list: %s: invalid host name%s%s%s: "
		    "%s", path, where, json_is_string(v) ? " '" : "",
		    json_is_string(v) ? json_string_value(v) : "",
		    json_is_string(v) ? "'" : "", why), -1;
	*out = inv_host(inv, json_string_value(v), 0);
	return 0;
}

/* One group of the --list output, as Ansible's script plugin reads it. */
static int
script_group(struct inventory *inv, const char *path, const char *name,
    json_t *def, struct nx_err *err)
{
	char where[300];
	json_t *gname = json_string(name), *hosts, *vars, *children, *v;
	uint32_t g, h, c;
	size_t i;
	int rc;

	snprintf(where, sizeof where, "group '%s'", name);
	rc = script_group_ref(inv, path, gname, where, &g, err);
	json_decref(gname);
	if (rc != 0)
		return -1;
	if (json_is_array(def)) {
		hosts = def;
		vars = children = NULL;
	} else if (json_is_object(def)) {
		hosts = json_object_get(def, "hosts");
		vars = json_object_get(def, "vars");
		children = json_object_get(def, "children");
		if (hosts == NULL && vars == NULL && children == NULL) {
			/* Ansible's simplified syntax: a host with vars. */
			gname = json_string(name);
			rc = script_host_ref(inv, path, gname, where, &h, err);
			json_decref(gname);
			if (rc != 0)
				return -1;
			inv_host_add_group(inv, h, g);
			json_object_update(inv->hosts[h].vars, def);
			return 0;
		}
	} else if (json_is_null(def))
		return 0;
	else
		return nx_err_set(err, "%s --list: %s: a group is an object "
		    "(hosts, vars, children) or a list of hosts", path, where), -1;
	if (hosts != NULL && !json_is_array(hosts))
		return nx_err_set(err, "%s --list: %s: \"hosts\" must be a list",
		    path, where), -1;
	if (vars != NULL && !json_is_object(vars))
		return nx_err_set(err, "%s --list: %s: \"vars\" must be an "
		    "object", path, where), -1;
	if (children != NULL && !json_is_array(children))
		return nx_err_set(err, "%s --list: %s: \"children\" must be a "
		    "list", path, where), -1;
	json_array_foreach(hosts, i, v) {
		snprintf(where, sizeof where, "group '%s' hosts[%zu]", name, i);
		if (script_host_ref(inv, path, v, where, &h, err) != 0)
			return -1;
		if (g != INV_ALL)
			inv_host_add_group(inv, h, g);
	}
	if (vars != NULL)
		json_object_update(inv->groups[g].vars, vars);
	json_array_foreach(children, i, v) {
		snprintf(where, sizeof where, "group '%s' children[%zu]", name, i);
		if (script_group_ref(inv, path, v, where, &c, err) != 0)
			return -1;
		if (c == g || c == INV_ALL)
			return nx_err_set(err, "%s --list: %s: group '%s' cannot "
			    "be a child of '%s'", path, where,
			    inv->groups[c].name, name), -1;
		inv_group_add_child(inv, g, c);
	}
	return 0;
}

/*
 * Applies the output of `--list` (root) to inv: its groups, and the host
 * vars of _meta.  Without _meta, *ask (owned by the caller) lists the
 * hosts to ask with `--host`; otherwise it is empty.  Returns 0, or -1
 * with err set.
 */
int
inv_script_apply(struct inventory *inv, const char *path, json_t *root,
    uint32_t **ask, size_t *nask, struct nx_err *err)
{
	json_t *meta, *hostvars = NULL, *def, *hv;
	const char *name;
	size_t i;

	*ask = NULL;
	*nask = 0;
	meta = json_object_get(root, "_meta");
	if (meta != NULL && (!json_is_object(meta) || ((hostvars =
	    json_object_get(meta, "hostvars")) != NULL &&
	    !json_is_object(hostvars)))) {
		nx_err_set(err, "%s --list: \"_meta\" must be an object with "
		    "\"hostvars\", an object of host to vars", path);
		return -1;
	}
	json_object_foreach(root, name, def) {
		if (strcmp(name, "_meta") == 0)
			continue;
		if (script_group(inv, path, name, def, err) != 0)
			return -1;
	}
	/* The hosts this script named: those of this file. */
	for (i = 0; i < inv->nhosts; i++) {
		struct inv_host *h = &inv->hosts[i];

		if (h->file != inv->cur_file)
			continue;
		if (meta == NULL) {
			*ask = xreallocarray(*ask, *nask + 1, sizeof **ask);
			(*ask)[(*nask)++] = (uint32_t)i;
			continue;
		}
		hv = hostvars != NULL ? json_object_get(hostvars, h->name) : NULL;
		if (hv != NULL && !json_is_object(hv)) {
			nx_err_set(err, "%s --list: _meta.hostvars.%s must be an "
			    "object", path, h->name);
			return -1;
		}
		if (hv != NULL)
			json_object_update(h->vars, hv);
	}
	return 0;
}

/*
 * Runs the dynamic inventory script path (--list, then --host NAME per
 * host without _meta) and adds its groups and hosts to inv.  text is the
 * file's contents, unused.  Returns 0, or -1 with err set.
 */
int
inv_parse_script(struct inventory *inv, const char *path, const char *text,
    size_t len, struct nx_err *err)
{
	json_t *root, *hv;
	uint32_t *ask = NULL;
	size_t nask = 0, i;
	int rc = -1;

	(void)text;
	(void)len;
	if ((root = script_json(inv, path, "--list", NULL, err)) == NULL)
		return -1;
	if (inv_script_apply(inv, path, root, &ask, &nask, err) != 0)
		goto out;
	for (i = 0; i < nask; i++) {
		if ((hv = script_json(inv, path, "--host",
		    inv->hosts[ask[i]].name, err)) == NULL)
			goto out;
		json_object_update(inv->hosts[ask[i]].vars, hv);
		json_decref(hv);
	}
	rc = 0;
out:
	free(ask);
	json_decref(root);
	return rc;
}
