/*
 * store_fixture.h - the fixture the state-store tests share: a scratch
 * directory with a store path in it, a loop, and optionally an engine on a
 * small simulated fleet.  Include after <cmocka.h> and "engine.h".
 */
#ifndef NX_STORE_FIXTURE_H
#define NX_STORE_FIXTURE_H

struct fix {
	char dir[64];
	char path[128];
	uv_loop_t loop;
	struct nx_config cfg;
	struct engine e;
	bool engine_up;
};

/* store_fixture.c */
int fix_setup_at(void **state, const char *prefix, const char *relpath);
int fix_teardown(void **state);
struct engine *fix_engine(struct fix *, uint32_t nodes);

#endif /* NX_STORE_FIXTURE_H */
