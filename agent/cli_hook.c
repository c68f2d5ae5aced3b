// SPDX-License-Identifier: GPL-2.0-or-later
/* Placeholder until the libvirt hook lands (issue 5, in progress). */
#include <stdio.h>

#include "agent/cli_migrate.h"

int cli_libvirt_hook(char **args)
{
	(void)args;
	fputs("vdpa-migrate: libvirt-hook: not built yet\n", stderr);
	return 1;
}
