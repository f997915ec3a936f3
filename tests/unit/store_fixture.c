/*
 * store_fixture.c - the state-store tests' shared fixture (see
 * store_fixture.h).
 */
#include "config.h"

#include <sys/stat.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "engine.h"
#include "store_fixture.h"

static int
fix_rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

/*
 * A fresh scratch directory /tmp/PREFIX-XXXXXX with f->path set to
 * RELPATH inside it (not created), and a loop.  For cmocka's setup.
 */
int
fix_setup_at(void **state, const char *prefix, const char *relpath)
{
	struct fix *f = xcalloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/%s-XXXXXX", prefix);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/%s", f->dir, relpath);
	uv_loop_init(&f->loop);
	*state = f;
	return 0;
}

/* Frees the engine (if any), the loop and the scratch directory. */
int
fix_teardown(void **state)
{
	struct fix *f = *state;

	if (f->engine_up) {
		engine_free(&f->e);
		config_free(&f->cfg);
	}
	uv_run(&f->loop, UV_RUN_NOWAIT);
	uv_loop_close(&f->loop);
	nftw(f->dir, fix_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/*
 * A small simulated fleet (no local node) on the fixture's loop, replacing
 * the one it had; tests publish its events or run it.
 */
struct engine *
fix_engine(struct fix *f, uint32_t nodes)
{
	struct nx_err err;

	if (f->engine_up) {
		engine_free(&f->e);
		config_free(&f->cfg);
	}
	config_defaults(&f->cfg);
	f->cfg.demo.enabled = true;
	f->cfg.demo.nodes = nodes;
	f->cfg.demo.local = false;
	engine_init(&f->e, &f->loop, &f->cfg);
	assert_int_equal(engine_load(&f->e, &err), 0);
	f->engine_up = true;
	return &f->e;
}
