/*
 * inv-actions.c - provider actions of inventory nodes: reboot, stop and
 * start as local commands (a cloud CLI) configured per inventory source.
 *
 * The configuration key providers.actions maps an inventory source (the
 * `source:` prefix names of doc/inventory.md: terraform, script,
 * ssh_config, json, yaml, ini) or `inventory` (any inventory node without
 * a more specific entry) to command templates by action:
 *
 *   "providers": { "actions": {
 *     "terraform": {
 *       "reboot": "aws ec2 reboot-instances --instance-ids $VAR:tf_id$",
 *       "stop":   "aws ec2 stop-instances --instance-ids $VAR:tf_id$",
 *       "start":  "aws ec2 start-instances --instance-ids $VAR:tf_id$" } } }
 *
 * A template is expanded for each node with tmpl_expand() (template.c:
 * every value validated and shell-quoted, so a hostile tag or id stays one
 * word of data) and run on this machine by the local executor of job.c
 * (sh -c, its own process group, the job's timeout), once per node.  The
 * exit status decides the host's result.  Templates are validated when
 * the configuration loads; errors name file:line:column.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"

static const char *const pa_names[] = { "reboot", "stop", "start" };

struct pa_entry {
	char *source;           /* a source name, or "inventory" */
	char *action;           /* reboot, stop or start */
	char *command;          /* the template */
	char *where;            /* file:line:column */
};

struct nx_pactions {
	struct pa_entry *v;
	size_t n;
};

static void
pa_free_all(struct nx_pactions *pa)
{
	size_t i;

	if (pa == NULL)
		return;
	for (i = 0; i < pa->n; i++) {
		free(pa->v[i].source);
		free(pa->v[i].action);
		free(pa->v[i].command);
		free(pa->v[i].where);
	}
	free(pa->v);
	free(pa);
}

/*
 * The place of providers.actions[.source[.action]]: path holds
 * "providers", "actions" and up to two more keys, NULL where they end.
 */
static void
pa_place(const char *file, const char *text, size_t len,
    const char *const *path, struct jpos_place *pl)
{
	jpos_place_init(pl, file, text, len, path[0], path[1]);
	if (path[2] != NULL)
		jpos_place_key(pl, path[2]);
	if (path[2] != NULL && path[3] != NULL)
		jpos_place_key(pl, path[3]);
}

/*
 * Sets err to "file:line:column: providers.actions[.source[.action]]:
 * msg", at the value of the deepest part of path that is found
 * (jpos_fail).  Returns -1.
 */
static int __attribute__((format(printf, 6, 7)))
pa_fail(struct nx_err *err, const char *file, const char *text, size_t len,
    const char *const *path, const char *fmt, ...)
{
	struct jpos_place pl;
	va_list ap;

	pa_place(file, text, len, path, &pl);
	va_start(ap, fmt);
	jpos_vfail(err, &pl, fmt, ap);
	va_end(ap);
	return -1;
}

/* "file:line:column" of providers.actions.SOURCE.ACTION's value, or file. */
static char *
pa_where(const char *file, const char *text, size_t len,
    const char *const *path)
{
	struct jpos_place pl;

	pa_place(file, text, len, path, &pl);
	pl.floor = 4;
	return jpos_where(&pl);
}

/* A key as config_describe() shows a string: quoted, controls escaped. */
static void
pa_describe_key(const char *key, char *buf, size_t len)
{
	json_t *j = json_string(key);

	if (j == NULL) {
		snprintf(buf, len, "(not UTF-8)");
		return;
	}
	config_describe(j, buf, len);
	json_decref(j);
}

static bool
pa_known_action(const char *name)
{
	size_t i;

	for (i = 0; i < NX_ARRAY_LEN(pa_names); i++) {
		if (strcmp(pa_names[i], name) == 0)
			return true;
	}
	return false;
}

/*
 * providers.actions: an object of sources, each an object of action names
 * and template strings, or null (none).  Replaces cfg->pactions.  Returns 0, or -1 with
 * err set (cfg unchanged).
 */
static int
pa_parse(struct nx_config *cfg, const char *file, const char *text,
    size_t len, const json_t *value, struct nx_err *err)
{
	const char *path[4] = { "providers", "actions", NULL, NULL };
	struct nx_pactions *pa;
	const char *src, *act;
	json_t *acts, *t;
	char got[64];

	if (json_is_null(value)) {              /* none (what config show prints) */
		pa_free_all(cfg->pactions);
		cfg->pactions = NULL;
		return 0;
	}
	if (!json_is_object(value)) {
		config_describe(value, got, sizeof got);
		return pa_fail(err, file, text, len, path, "expected an object "
		    "of inventory sources (terraform, script, ssh_config, "
		    "json, yaml, ini or inventory), got %s", got);
	}
	pa = xcalloc(1, sizeof *pa);
	json_object_foreach((json_t *)value, src, acts) {
		path[2] = src;
		path[3] = NULL;
		if (strcmp(src, "inventory") != 0 && !inv_source_known(src)) {
			pa_describe_key(src, got, sizeof got);
			pa_fail(err, file, text, len, path, "unknown inventory "
			    "source %s (terraform, script, ssh_config, json, "
			    "yaml, ini or inventory)", got);
			goto fail;
		}
		if (!json_is_object(acts)) {
			config_describe(acts, got, sizeof got);
			pa_fail(err, file, text, len, path, "expected an object "
			    "of actions (reboot, stop, start), got %s", got);
			goto fail;
		}
		json_object_foreach(acts, act, t) {
			struct pa_entry *en;
			struct nx_err terr = { { 0 } };

			path[3] = act;
			if (!pa_known_action(act)) {
				pa_describe_key(act, got, sizeof got);
				pa_fail(err, file, text, len, path, "unknown "
				    "provider action %s (reboot, stop or start)",
				    got);
				goto fail;
			}
			if (!json_is_string(t) || json_string_length(t) == 0 ||
			    strlen(json_string_value(t)) !=
			    json_string_length(t)) {
				config_describe(t, got, sizeof got);
				pa_fail(err, file, text, len, path, "expected a "
				    "command template, got %s", got);
				goto fail;
			}
			if (tmpl_validate(json_string_value(t), NULL, 0,
			    &terr) != 0) {
				pa_fail(err, file, text, len, path, "%s",
				    terr.msg);
				goto fail;
			}
			pa->v = xreallocarray(pa->v, pa->n + 1, sizeof *pa->v);
			en = &pa->v[pa->n++];
			en->source = xstrdup(src);
			en->action = xstrdup(act);
			en->command = xstrdup(json_string_value(t));
			en->where = pa_where(file, text, len, path);
		}
	}
	pa_free_all(cfg->pactions);
	cfg->pactions = pa;
	return 0;
fail:
	pa_free_all(pa);
	return -1;
}

static void
pa_free(struct nx_config *cfg)
{
	pa_free_all(cfg->pactions);
	cfg->pactions = NULL;
}

static void
pa_clone(struct nx_config *dst, const struct nx_config *src)
{
	const struct nx_pactions *s = src->pactions;
	struct nx_pactions *d;
	size_t i;

	dst->pactions = NULL;
	if (s == NULL)
		return;
	d = xcalloc(1, sizeof *d);
	d->v = xcalloc(s->n ? s->n : 1, sizeof *d->v);
	d->n = s->n;
	for (i = 0; i < s->n; i++) {
		d->v[i].source = xstrdup(s->v[i].source);
		d->v[i].action = xstrdup(s->v[i].action);
		d->v[i].command = xstrdup(s->v[i].command);
		d->v[i].where = xstrdup(s->v[i].where);
	}
	dst->pactions = d;
}

static json_t *
pa_to_json(const struct nx_config *cfg)
{
	const struct nx_pactions *pa = cfg->pactions;
	json_t *o;
	size_t i;

	if (pa == NULL)
		return json_null();
	o = json_object();
	for (i = 0; i < pa->n; i++) {
		json_t *s = json_object_get(o, pa->v[i].source);

		if (s == NULL) {
			s = json_object();
			json_object_set_new(o, pa->v[i].source, s);
		}
		json_object_set_new(s, pa->v[i].action,
		    json_string(pa->v[i].command));
	}
	return o;
}

const struct cfg_custom provider_actions_config = {
	.parse = pa_parse,
	.free = pa_free,
	.clone = pa_clone,
	.to_json = pa_to_json,
};

/*
 * The template of action `name` for node n: its source's, else the one
 * for every inventory node; NULL when none is configured.
 */
const char *
pactions_find(const struct nx_config *cfg, const struct node *n,
    const char *name)
{
	const struct nx_pactions *pa = cfg->pactions;
	const char *any = NULL;
	size_t i;

	if (pa == NULL)
		return NULL;
	for (i = 0; i < pa->n; i++) {
		if (strcmp(pa->v[i].action, name) != 0)
			continue;
		if (n->source != NULL && strcmp(pa->v[i].source, n->source) == 0)
			return pa->v[i].command;
		if (strcmp(pa->v[i].source, "inventory") == 0)
			any = pa->v[i].command;
	}
	return any;
}

/* ---------------------------------------------------------------------- */
/* The inventory provider's actions                                        */

static int
pa_run(struct engine *e, struct node *n, struct job *j, uint32_t host,
    const char *name, struct nx_err *err)
{
	const char *tmpl = pactions_find(&e->cfg, n, name);
	struct nx_err terr = { { 0 } };
	char *cmd;
	int rc;

	if (tmpl == NULL) {
		nx_err_set(err, "no command to %s %s: set providers.actions."
		    "%s.%s in the configuration", name, n->name,
		    n->source != NULL ? n->source : "inventory", name);
		return -1;
	}
	if (tmpl_expand(tmpl, n, NULL, j->user, &cmd, &terr) != 0) {
		nx_err_set(err, "providers.actions.%s.%s: %s", n->source !=
		    NULL ? n->source : "inventory", name, terr.msg);
		return -1;
	}
	rc = job_run_local(e, j, host, cmd, err);
	free(cmd);
	return rc;
}

static int
pa_reboot(struct engine *e, struct node *n, struct job *j, uint32_t host,
    struct nx_err *err)
{
	return pa_run(e, n, j, host, "reboot", err);
}

static int
pa_stop(struct engine *e, struct node *n, struct job *j, uint32_t host,
    struct nx_err *err)
{
	return pa_run(e, n, j, host, "stop", err);
}

static int
pa_start(struct engine *e, struct node *n, struct job *j, uint32_t host,
    struct nx_err *err)
{
	return pa_run(e, n, j, host, "start", err);
}

const struct provider_action inventory_actions[INV_NACTIONS] = {
	{ .name = "reboot", .description = "reboot the machine behind the "
	  "node with the configured command (providers.actions)",
	  .dangerous = true, .run = pa_reboot,
	  .cancel = job_run_local_cancel },
	{ .name = "stop", .description = "stop the machine with the "
	  "configured command", .dangerous = true, .run = pa_stop,
	  .cancel = job_run_local_cancel },
	{ .name = "start", .description = "start the machine with the "
	  "configured command", .run = pa_start,
	  .cancel = job_run_local_cancel },
};
