/*
 * tui.h - the console layer's private header.
 */
#ifndef NX_TUI_H
#define NX_TUI_H

#include "engine.h"

struct tui_opts {
	bool readonly;
	uint32_t fps;           /* frame cap; 0 = default (10) */
	const char *theme;
};

/* tui.c */
int tui_run(struct engine *, const struct tui_opts *);

#endif /* NX_TUI_H */
