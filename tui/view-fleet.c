/*
 * view-fleet.c - the fleet view.  (First cut.)
 */
#include "config.h"

#include "tui.h"

int view_fleet_placeholder(void);
int
view_fleet_placeholder(void)
{
	return 0;
}
