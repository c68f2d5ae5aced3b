// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa-migrate: the program.  The command table, the parser and the
 * commands are in agent/cli/commands.c (libcli), where the unit tests can
 * run them as the program does.
 */
#include "agent/cli/commands.h"

int main(int argc, char **argv)
{
	return vdpa_migrate_main(argc, argv);
}
