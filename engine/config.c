/*
 * config.c - the JSON configuration.  (First cut: defaults and the demo
 * section; the full schema with file:line:column errors replaces it.)
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

void
config_defaults(struct nx_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->demo.enabled = true;
	cfg->demo.nodes = 5000;
	cfg->demo.seed = 1;
	cfg->demo.local = true;
	cfg->checks.interval_ms = 10000;
	cfg->checks.retry_ms = 5000;
	cfg->checks.max_attempts = 3;
	cfg->checks.timeout_ms = 10000;
	cfg->console.fps = 10;
	cfg->console.theme = xstrdup("default");
}

void
config_free(struct nx_config *cfg)
{
	free(cfg->path);
	free(cfg->console.theme);
	for (size_t i = 0; i < cfg->ninventories; i++)
		free(cfg->inventories[i]);
	free(cfg->inventories);
	memset(cfg, 0, sizeof *cfg);
}

char *
config_default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *p;

	if (xdg != NULL && *xdg != '\0')
		xasprintf(&p, "%s/nexusctl/config.json", xdg);
	else
		xasprintf(&p, "%s/.config/nexusctl/config.json",
		    home ? home : ".");
	return p;
}

int
config_load(struct nx_config *cfg, const char *path, struct nx_err *err)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);

	if (root == NULL) {
		nx_err_set(err, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		return -1;
	}
	free(cfg->path);
	cfg->path = xstrdup(path);
	json_decref(root);
	return 0;
}

int
config_load_default(struct nx_config *cfg, struct nx_err *err)
{
	char *p = config_default_path();
	int rc = 0;

	if (access(p, F_OK) == 0)
		rc = config_load(cfg, p, err);
	free(p);
	return rc;
}
