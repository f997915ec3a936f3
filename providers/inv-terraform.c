/*
 * inv-terraform.c - Terraform state (format version 4, terraform.tfstate)
 * as an inventory source.  The compute instances among the managed
 * resources become hosts:
 *
 *   type                            address (public, else private)      name
 *   aws_instance                    public_ip, private_ip               tags.Name
 *   google_compute_instance         network_interface[0].access_config[0]
 *                                   .nat_ip, network_interface[0]
 *                                   .network_ip                         name
 *   azurerm_linux_virtual_machine   public_ip_address, private_ip_address name
 *   openstack_compute_instance_v2   access_ip_v4                        name
 *   digitalocean_droplet            ipv4_address, ipv4_address_private  name
 *
 * An instance without a usable name (none, not a host name, or already
 * taken in this file) is named by its address as `type.name` plus the
 * count/for_each index as a last label (`aws_instance.web.0`), with a
 * warning when a name was given but could not be used.  Values come from
 * `attributes`, or from the older flat `attributes_flat` map
 * ("tags.Name", "network_interface.0.network_ip").
 *
 * Groups: the resource type, the module (`module.net.module.web` ->
 * `module_net_module_web`), and one per tag or label (`tag_KEY_VALUE`;
 * DigitalOcean's list of tags gives `tag_VALUE`), characters outside
 * [A-Za-z0-9_-] made `_` as Ansible's cloud plugins do.  Vars:
 * ansible_host, tf_address, tf_type, tf_id (the instance id), tf_tags (the
 * provider's tags, labels or metadata), tf_public_ip, tf_private_ip.
 *
 * Chosen by a `.tfstate` name or by content, whatever the name: a JSON
 * object with "terraform_version" in its first 4 KiB (then a "version"
 * other than 4 is an error that says so, not a JSON inventory error).
 * The tag Name makes no group (it names the host).
 * Errors are file:line:column through nx_json_locate().
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

struct tf_kind {
	const char *type;
	const char *public_ip, *private_ip;     /* attribute paths */
	const char *name;                       /* attribute path */
	const char *tags;                       /* attribute path */
};

static const struct tf_kind tf_kinds[] = {
	{ "aws_instance", "public_ip", "private_ip", "tags.Name", "tags" },
	{ "google_compute_instance",
	  "network_interface.0.access_config.0.nat_ip",
	  "network_interface.0.network_ip", "name", "labels" },
	{ "azurerm_linux_virtual_machine", "public_ip_address",
	  "private_ip_address", "name", "tags" },
	{ "openstack_compute_instance_v2", "access_ip_v4", NULL, "name",
	  "metadata" },
	{ "digitalocean_droplet", "ipv4_address", "ipv4_address_private",
	  "name", "tags" },
};

struct tf {
	struct inventory *inv;
	const char *path, *text;
	size_t len;
	struct nx_err *err;
};

static int
tf_error(struct tf *t, const char *jpath, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
tf_error(struct tf *t, const char *jpath, const char *fmt, ...)
{
	char msg[400];
	unsigned line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (nx_json_locate(t->text, t->len, jpath, &line, &col) == 0)
		nx_err_set(t->err, "%s:%u:%u: $.%s: %s", t->path, line, col,
		    jpath, msg);
	else
		nx_err_set(t->err, "%s: $.%s: %s", t->path, jpath, msg);
	return -1;
}

static unsigned
tf_line(struct tf *t, const char *jpath)
{
	unsigned line = 0, col;

	nx_json_locate(t->text, t->len, jpath, &line, &col);
	return line;
}

/*
 * The value at a dotted path ("network_interface.0.nat_ip") of an
 * instance: walked in `attributes`, else looked up whole in
 * `attributes_flat`.  Borrowed reference or NULL.
 */
static json_t *
tf_attr(const json_t *inst, const char *path)
{
	json_t *v = json_object_get(inst, "attributes");
	char part[128];
	const char *p = path;

	if (json_is_object(v)) {
		while (v != NULL && *p != '\0') {
			size_t n = strcspn(p, ".");

			if (n >= sizeof part)
				return NULL;
			memcpy(part, p, n);
			part[n] = '\0';
			p += n + (p[n] == '.');
			if (json_is_array(v) && isdigit((unsigned char)part[0]))
				v = json_array_get(v, strtoul(part, NULL, 10));
			else if (json_is_object(v))
				v = json_object_get(v, part);
			else
				v = NULL;
		}
		return v;
	}
	v = json_object_get(inst, "attributes_flat");
	return json_is_object(v) ? json_object_get(v, path) : NULL;
}

/* The tags of an instance (new reference): an object, array or NULL. */
static json_t *
tf_tags(const json_t *inst, const char *path)
{
	json_t *v = json_object_get(inst, "attributes"), *flat, *val, *out;
	const char *key;
	size_t n = strlen(path);

	if (json_is_object(v)) {
		v = json_object_get(v, path);
		return json_is_object(v) || json_is_array(v) ?
		    json_incref(v) : NULL;
	}
	flat = json_object_get(inst, "attributes_flat");
	if (!json_is_object(flat))
		return NULL;
	out = json_object();
	json_object_foreach(flat, key, val) {
		if (strncmp(key, path, n) == 0 && key[n] == '.' &&
		    strcmp(key + n + 1, "%") != 0 && strcmp(key + n + 1,
		    "#") != 0 && json_is_string(val))
			json_object_set(out, key + n + 1, val);
	}
	if (json_object_size(out) == 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* s with characters outside [A-Za-z0-9_-] made '_' (owned). */
static char *
tf_group_name(const char *prefix, const char *a, const char *b)
{
	char *s, *p;

	xasprintf(&s, "%s%s%s%s", prefix, a, b != NULL ? "_" : "",
	    b != NULL ? b : "");
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			*p = '_';
	}
	return s;
}

static void
tf_join(struct inventory *inv, uint32_t h, const char *name)
{
	if (strlen(name) <= 255)
		inv_host_add_group(inv, h, inv_group(inv, name));
}

static const char *
tf_ip(const json_t *inst, const char *path)
{
	const json_t *v = path != NULL ? tf_attr(inst, path) : NULL;

	return json_is_string(v) && json_string_length(v) > 0 ?
	    json_string_value(v) : NULL;
}

/* One instance of a compute resource. */
static int
tf_instance(struct tf *t, const struct tf_kind *k, const json_t *res,
    const json_t *inst, size_t ri, size_t ii)
{
	char jp[128], *fallback, *gname, *address, *idx = NULL;
	const char *rname = json_string_value(json_object_get(res, "name"));
	const char *module = json_string_value(json_object_get(res, "module"));
	const json_t *ikey = json_object_get(inst, "index_key");
	const json_t *jname = tf_attr(inst, k->name), *id;
	const char *name = NULL, *pub, *priv, *why = "", *key;
	json_t *tags, *vars, *v;
	uint32_t h;
	size_t i;

	snprintf(jp, sizeof jp, "resources[%zu].instances[%zu]", ri, ii);
	if (!json_is_object(inst))
		return tf_error(t, jp, "an instance must be an object");
	if (json_is_integer(ikey))
		xasprintf(&idx, "%" JSON_INTEGER_FORMAT, json_integer_value(ikey));
	else if (json_is_string(ikey))
		idx = xstrdup(json_string_value(ikey));
	else if (ikey != NULL && !json_is_null(ikey))
		return tf_error(t, jp, "\"index_key\" must be a number or a "
		    "string");
	xasprintf(&address, "%s%s%s.%s%s%s%s%s", module != NULL ? module : "",
	    module != NULL ? "." : "", k->type, rname,
	    idx != NULL ? "[" : "", idx != NULL && json_is_string(ikey) ?
	    "\"" : "", idx != NULL ? idx : "", idx != NULL ?
	    (json_is_string(ikey) ? "\"]" : "]") : "");
	xasprintf(&fallback, "%s.%s%s%s", k->type, rname, idx != NULL ? "." : "",
	    idx != NULL ? idx : "");
	for (gname = fallback; *gname != '\0'; gname++) {
		if (!isalnum((unsigned char)*gname) && *gname != '.' &&
		    *gname != '-' && *gname != '_')
			*gname = '-';
	}
	free(idx);
	if (json_is_string(jname)) {
		name = json_string_value(jname);
		if (!inv_valid_name(name, &why)) {
			inv_warn(t->inv, "%s:%u: %s: its name '%s' is not a host "
			    "name (%s); named %s", t->path, tf_line(t, jp),
			    address, name, why, fallback);
			name = NULL;
		} else if (inv_host_find(t->inv, name) >= 0 &&
		    t->inv->hosts[inv_host_find(t->inv, name)].file ==
		    t->inv->cur_file) {
			inv_warn(t->inv, "%s:%u: %s: the name '%s' is taken by "
			    "another instance; named %s", t->path,
			    tf_line(t, jp), address, name, fallback);
			name = NULL;
		}
	}
	if (name == NULL && !inv_valid_name(fallback, &why)) {
		tf_error(t, jp, "cannot make a host name of '%s': %s", fallback,
		    why);
		free(fallback);
		free(address);
		return -1;
	}
	h = inv_host(t->inv, name != NULL ? name : fallback, tf_line(t, jp));
	free(fallback);
	vars = t->inv->hosts[h].vars;
	pub = tf_ip(inst, k->public_ip);
	priv = tf_ip(inst, k->private_ip);
	if (pub != NULL || priv != NULL) {
		const char *a = pub != NULL ? pub : priv;

		if (!inv_valid_address(a, &why)) {
			tf_error(t, jp, "%s: '%s' is not an address: %s", address,
			    a, why);
			free(address);
			return -1;
		}
		json_object_set_new(vars, "ansible_host", json_string(a));
	}
	if (pub != NULL)
		json_object_set_new(vars, "tf_public_ip", json_string(pub));
	if (priv != NULL)
		json_object_set_new(vars, "tf_private_ip", json_string(priv));
	json_object_set_new(vars, "tf_address", json_string(address));
	json_object_set_new(vars, "tf_type", json_string(k->type));
	if ((id = tf_attr(inst, "id")) != NULL)
		json_object_set(vars, "tf_id", (json_t *)id);
	free(address);
	tf_join(t->inv, h, k->type);
	if (module != NULL) {
		gname = tf_group_name("", module, NULL);
		tf_join(t->inv, h, gname);
		free(gname);
	}
	if ((tags = tf_tags(inst, k->tags)) != NULL) {
		if (json_is_object(tags)) {
			json_object_foreach(tags, key, v) {
				/* Name names the host: a group each is noise. */
				if (!json_is_string(v) || strcmp(key, "Name") == 0)
					continue;
				gname = tf_group_name("tag_", key,
				    json_string_value(v));
				tf_join(t->inv, h, gname);
				free(gname);
			}
		} else {
			json_array_foreach(tags, i, v) {
				if (!json_is_string(v))
					continue;
				gname = tf_group_name("tag_",
				    json_string_value(v), NULL);
				tf_join(t->inv, h, gname);
				free(gname);
			}
		}
		json_object_set_new(vars, "tf_tags", tags);
	}
	return 0;
}

/*
 * Parses a Terraform state (the contents of path) into inv.  Returns 0,
 * or -1 with err naming path:line:column where it can.
 */
int
inv_parse_terraform(struct inventory *inv, const char *path,
    const char *text, size_t len, struct nx_err *err)
{
	struct tf t = { .inv = inv, .path = path, .text = text, .len = len,
	    .err = err };
	json_error_t je;
	json_t *root, *resources, *res, *insts, *inst, *v;
	size_t ri, ii, k;
	int rc = -1;

	if ((root = json_loadb(text, len, 0, &je)) == NULL) {
		nx_err_set(err, "%s:%d:%d: %s", path, je.line, je.column,
		    je.text);
		return -1;
	}
	if (!json_is_object(root)) {
		nx_err_set(err, "%s:1:1: a Terraform state is a JSON object",
		    path);
		goto out;
	}
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) != 4) {
		tf_error(&t, "version", "Terraform state format version %s is "
		    "not supported (only 4, Terraform 0.12 and later)",
		    json_is_integer(v) ? "other than 4" : "missing");
		goto out;
	}
	resources = json_object_get(root, "resources");
	if (resources != NULL && !json_is_array(resources)) {
		tf_error(&t, "resources", "\"resources\" must be an array");
		goto out;
	}
	json_array_foreach(resources, ri, res) {
		char jp[96];
		const char *type, *mode;
		const struct tf_kind *kind = NULL;

		snprintf(jp, sizeof jp, "resources[%zu]", ri);
		if (!json_is_object(res)) {
			tf_error(&t, jp, "a resource must be an object");
			goto out;
		}
		mode = json_string_value(json_object_get(res, "mode"));
		type = json_string_value(json_object_get(res, "type"));
		if (mode == NULL || type == NULL ||
		    !json_is_string(json_object_get(res, "name"))) {
			tf_error(&t, jp, "a resource needs string \"mode\", "
			    "\"type\" and \"name\"");
			goto out;
		}
		if (strcmp(mode, "managed") != 0)
			continue;               /* data sources are not hosts */
		for (k = 0; k < NX_ARRAY_LEN(tf_kinds); k++) {
			if (strcmp(type, tf_kinds[k].type) == 0)
				kind = &tf_kinds[k];
		}
		if (kind == NULL)
			continue;               /* not a compute instance */
		insts = json_object_get(res, "instances");
		if (!json_is_array(insts)) {
			snprintf(jp, sizeof jp, "resources[%zu].instances", ri);
			tf_error(&t, jp, "\"instances\" must be an array");
			goto out;
		}
		json_array_foreach(insts, ii, inst) {
			if (tf_instance(&t, kind, res, inst, ri, ii) != 0)
				goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/*
 * Whether the text is a Terraform state: a JSON object with a
 * "terraform_version" key near the top (whatever the file's name, since
 * states are often kept as .json).
 */
bool
inv_terraform_claims(const char *path, bool executable, const char *text,
    size_t len)
{
	size_t i = 0;

	(void)path;
	(void)executable;
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	if (i >= len || text[i] != '{')
		return false;
	/* The key is near the top of every state Terraform writes. */
	return memmem(text, len < 4096 ? len : 4096, "\"terraform_version\"",
	    19) != NULL;
}
