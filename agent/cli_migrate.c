// SPDX-License-Identifier: GPL-2.0-or-later
/* Placeholder until the QMP mode lands (issue 5, in progress). */
#include <stdio.h>

#include "agent/cli_migrate.h"

int cli_migrate(char **args, bool json)
{
	(void)args;
	(void)json;
	fputs("vdpa-migrate: migrate: not built yet\n", stderr);
	return MIGRATE_EXIT_USAGE;
}
