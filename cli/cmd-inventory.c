/*
 * cmd-inventory.c - `nexusctl inventory list|show`: the inventory files
 * (-i FILE..., after the configuration's) resolved as the engine sees
 * them, printed in the structure of `ansible-inventory --list` (JSON) or
 * `--graph` (text), or one host with the address, port and user that will
 * be used.  The demo fleet is not an inventory and is not listed.
 */
#include "config.h"

#include <string.h>

#include "cli.h"

enum inv_format { FMT_TEXT, FMT_JSON };
static const char *const inv_formats[] = { "text", "json", NULL };

struct inv_out {
	const struct inventory *inv;
	const uint8_t *selected;        /* per host */
	uint8_t *seen;                  /* per group */
	json_t *root;
};

/*
 * One group and, once each, its children: like ansible-inventory's
 * json_inventory(), `all` lists no hosts, empty lists are left out, and a
 * group left with nothing is left out (it still appears among its
 * parent's children).
 */
static void
inv_list_group(struct inv_out *o, uint32_t g)
{
	const struct inv_group *gr = &o->inv->groups[g];
	json_t *obj = json_object(), *hosts = json_array(),
	    *children = json_array();
	size_t i;

	o->seen[g] = 1;
	if (g != INV_ALL) {
		for (i = 0; i < gr->nhosts; i++) {
			if (o->selected[gr->hosts[i]])
				json_array_append_new(hosts, nx_json_text(
				    o->inv->hosts[gr->hosts[i]].name));
		}
	}
	for (i = 0; i < gr->nchildren; i++) {
		json_array_append_new(children,
		    nx_json_text(o->inv->groups[gr->children[i]].name));
		if (!o->seen[gr->children[i]])
			inv_list_group(o, gr->children[i]);
	}
	if (json_array_size(hosts) > 0)
		json_object_set(obj, "hosts", hosts);
	if (json_array_size(children) > 0)
		json_object_set(obj, "children", children);
	if (json_object_size(obj) > 0)
		json_object_set(o->root, gr->name, obj);
	json_decref(hosts);
	json_decref(children);
	json_decref(obj);
}

static json_t *
inv_list_json(const struct inventory *inv, const uint8_t *selected)
{
	struct inv_out o = { .inv = inv, .selected = selected };
	json_t *meta = json_object(), *hostvars = json_object();
	size_t i;

	o.root = json_object();
	o.seen = xcalloc(inv->ngroups, 1);
	inv_list_group(&o, INV_ALL);
	for (i = 0; i < inv->nhosts; i++) {
		json_t *vars;

		if (!selected[i])
			continue;
		vars = inv_host_vars(inv, (uint32_t)i);
		if (json_object_size(vars) > 0)
			json_object_set(hostvars, inv->hosts[i].name, vars);
		json_decref(vars);
	}
	json_object_set_new(meta, "hostvars", hostvars);
	json_object_set_new(o.root, "_meta", meta);
	free(o.seen);
	return o.root;
}

/* Prints a name with control characters made visible. */
static void
inv_put_safe(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/* ansible-inventory --graph: @group: then |--host, children first. */
static void
inv_graph(const struct inventory *inv, const uint8_t *selected, uint32_t g,
    int depth)
{
	const struct inv_group *gr = &inv->groups[g];
	size_t i;
	int k;

	for (k = 0; k < depth - 1; k++)
		fputs("  |", stdout);
	if (depth > 0)
		fputs("  |--", stdout);
	putchar('@');
	inv_put_safe(gr->name);
	fputs(":\n", stdout);
	for (i = 0; i < gr->nchildren; i++)
		inv_graph(inv, selected, gr->children[i], depth + 1);
	for (i = 0; i < gr->nhosts; i++) {
		if (!selected[gr->hosts[i]])
			continue;
		for (k = 0; k < depth; k++)
			fputs("  |", stdout);
		fputs("  |--", stdout);
		inv_put_safe(inv->hosts[gr->hosts[i]].name);
		putchar('\n');
	}
}

/*
 * The SSH settings that will be used for n (providers/ssh.c resolves them
 * as an exec does: inventory, then ssh_config, then the defaults), or
 * {"error": "..."} when they cannot be worked out.
 */
static json_t *
inv_show_ssh(const struct node *n)
{
	struct nx_err err = { { 0 } };
	json_t *j = ssh_node_settings(n, &err);

	if (j == NULL)
		j = json_pack("{s:o}", "error", nx_json_text(err.msg));
	return j;
}

static json_t *
inv_show_json(const struct node *n, const struct fleet *f)
{
	json_t *o = json_object(), *groups = json_array();
	uint16_t i;

	json_object_set_new(o, "name", nx_json_text(n->name));
	json_object_set_new(o, "address", nx_json_text(n->address));
	json_object_set_new(o, "port", json_integer(n->port));
	json_object_set_new(o, "user", n->user ? nx_json_text(n->user) :
	    json_null());
	for (i = 0; i < n->ngroups; i++)
		json_array_append_new(groups, nx_json_text(f->groups[n->groups[i]]));
	json_object_set_new(o, "groups", groups);
	json_object_set_new(o, "vars", n->vars ? json_incref(n->vars) :
	    json_object());
	json_object_set_new(o, "ssh", inv_show_ssh(n));
	return o;
}

/* The "ssh" settings as "  key = value" lines, values made safe. */
static void
inv_show_ssh_text(const struct node *n)
{
	json_t *j = inv_show_ssh(n), *v;
	const char *key;

	fputs("ssh\n", stdout);
	json_object_foreach(j, key, v) {
		char *txt = json_is_string(v) ? NULL : json_dumps(v,
		    JSON_ENCODE_ANY | JSON_COMPACT | NX_JSON_FLAGS);

		fputs("  ", stdout);
		inv_put_safe(key);
		fputs(" = ", stdout);
		inv_put_safe(json_is_string(v) ? json_string_value(v) :
		    txt != NULL ? txt : "?");
		putchar('\n');
		free(txt);
	}
	json_decref(j);
}

static void
inv_show_text(const struct node *n, const struct fleet *f)
{
	const char *key;
	json_t *v;
	uint16_t i;

	fputs("name     ", stdout);
	inv_put_safe(n->name);
	fputs("\naddress  ", stdout);
	inv_put_safe(n->address);
	printf("\nport     %u\nuser     ", n->port);
	inv_put_safe(n->user ? n->user : "(ssh default)");
	fputs("\ngroups   ", stdout);
	for (i = 0; i < n->ngroups; i++) {
		if (i > 0)
			fputs(", ", stdout);
		inv_put_safe(f->groups[n->groups[i]]);
	}
	fputs("\nvars\n", stdout);
	if (n->vars != NULL) {
		json_object_foreach(n->vars, key, v) {
			char *txt = json_dumps(v, JSON_ENCODE_ANY |
			    JSON_COMPACT | NX_JSON_FLAGS);

			fputs("  ", stdout);
			inv_put_safe(key);
			fputs(" = ", stdout);
			inv_put_safe(txt ? txt : "?");
			putchar('\n');
			free(txt);
		}
	}
	inv_show_ssh_text(n);
}

int
cmd_inventory_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "target", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = cli_cmd_find("inventory");
	enum inv_format fmt = FMT_TEXT;
	const char *target = NULL, *sub, *host = NULL;
	struct nx_target *tg = NULL;
	struct nx_err err = { { 0 } };
	struct inventory inv;
	struct cli_common co;
	struct nx_config cfg;
	struct fleet fleet;
	uint8_t *selected = NULL;
	uint32_t *ids = NULL;
	size_t nids = 0, i;
	int choice, opt, rc, status = 0;

	cli_common_init(&co, argv);
	while ((opt = cli_next_opt(cmd, &co, argc, argv,
	    CLI_COMMON_SHORTOPTS "t:", longopts, &status)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return status;
		if (opt == CLI_OPT_FORMAT) {
			if ((rc = cli_choice(cmd, "format", optarg,
			    inv_formats, &choice)) >= 0)
				return rc;
			fmt = (enum inv_format)choice;
		} else if (opt == 't')
			target = optarg;
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "missing subcommand (list or show)");
	sub = argv[optind++];
	if (strcmp(sub, "list") == 0) {
		if (optind < argc)
			return cli_usage_error(cmd, "unexpected argument '%s'",
			    argv[optind]);
	} else if (strcmp(sub, "show") == 0) {
		if (optind >= argc)
			return cli_usage_error(cmd, "show wants a HOST");
		host = argv[optind++];
		if (optind < argc)
			return cli_usage_error(cmd, "unexpected argument '%s'",
			    argv[optind]);
		if (target != NULL)
			return cli_usage_error(cmd, "-t is for list");
	} else
		return cli_usage_error(cmd, "unknown subcommand '%s' (list or "
		    "show)", sub);
	if (target != NULL && (tg = target_parse(target, &err)) == NULL) {
		fprintf(stderr, "nexusctl: inventory: -t '%s': %s\n", target,
		    err.msg);
		return NX_EXIT_USAGE;
	}

	config_defaults(&cfg);
	fleet_init(&fleet);
	inv_init(&inv);
	if ((rc = cli_load_config(&co, &cfg)) != 0) {
		status = rc;
		goto out;
	}
	if (cfg.ninventories == 0) {
		status = cli_usage_error(cmd, "no inventory: give -i FILE");
		goto out;
	}
	inv.warn = cfg.warn;
	inv.warn_arg = cfg.warn_arg;
	for (i = 0; i < cfg.ninventories; i++) {
		if (inv_load_file(&inv, cfg.inventories[i], &err) != 0)
			goto config_error;
	}
	if (inv_finish(&inv, &err) != 0 ||
	    inv_to_fleet(&inv, &fleet, &provider_inventory, &err) != 0)
		goto config_error;
	/* The fleet was empty: node i is host i. */
	if (host != NULL) {
		const struct node *n = fleet_find_node(&fleet, host);
		json_t *o;

		if (n == NULL) {
			fprintf(stderr, "nexusctl: inventory: no host '%s' in "
			    "the inventory\n", host);
			status = 1;
			goto out;
		}
		if (fmt == FMT_JSON) {
			o = inv_show_json(n, &fleet);
			json_dumpf(o, stdout, JSON_INDENT(2) | NX_JSON_FLAGS);
			fputc('\n', stdout);
			json_decref(o);
		} else
			inv_show_text(n, &fleet);
	} else {
		selected = xcalloc(inv.nhosts ? inv.nhosts : 1, 1);
		if (tg != NULL) {
			target_select(tg, &fleet, &ids, &nids);
			for (i = 0; i < nids; i++)
				selected[ids[i]] = 1;
		} else
			memset(selected, 1, inv.nhosts);
		if (fmt == FMT_JSON) {
			json_t *o = inv_list_json(&inv, selected);

			json_dumpf(o, stdout, JSON_INDENT(4) | JSON_SORT_KEYS |
			    JSON_REAL_PRECISION(15));
			fputc('\n', stdout);
			json_decref(o);
		} else
			inv_graph(&inv, selected, INV_ALL, 0);
	}
	if (fflush(stdout) != 0) {
		perror("nexusctl: inventory: stdout");
		status = NX_EXIT_SOFTWARE;
	}
	goto out;
config_error:
	fprintf(stderr, "nexusctl: %s\n", err.msg);
	status = NX_EXIT_CONFIG;
out:
	free(ids);
	free(selected);
	target_free(tg);
	inv_free(&inv);
	fleet_free(&fleet);
	config_free(&cfg);
	return status;
}
