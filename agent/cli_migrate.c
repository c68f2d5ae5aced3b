// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * "vdpa-migrate migrate": QMP mode (--qmp) is being built (issue 5); any
 * other form is the libvirt mode.
 */
#include <stdio.h>
#include <string.h>

#include "agent/cli_migrate.h"

int cli_migrate(char **args, bool json)
{
	for (char **a = args; *a; a++) {
		if (strcmp(*a, "--qmp") == 0 || strncmp(*a, "--qmp=", 6) == 0) {
			fputs("vdpa-migrate: migrate --qmp: not built yet\n", stderr);
			return MIGRATE_EXIT_USAGE;
		}
	}
	return migrate_libvirt_main(args, json);
}
