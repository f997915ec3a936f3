/*
 * tui.c - the console.  (First cut: placeholder until the screen manager lands.)
 */
#include "config.h"

#include <stdio.h>

#include "tui.h"

int
tui_run(struct engine *e, const struct tui_opts *o)
{
	fprintf(stderr, "nexusctl: console not built yet\n");
	return 1;
}
