/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdpa-migrate's migration commands, called from agent/cli/commands.c with
 * the arguments after the command word (a NULL-terminated argv).  Each
 * returns the exit status of vdpa-migrate(8):
 */
#ifndef VDPA_AGENT_CLI_MIGRATE_H
#define VDPA_AGENT_CLI_MIGRATE_H

#include <stdbool.h>

#define MIGRATE_EXIT_OK 0
#define MIGRATE_EXIT_USAGE 2
#define MIGRATE_EXIT_REFUSED 3		/* the precheck refused; nothing was copied */
#define MIGRATE_EXIT_FAILED 4		/* failed; the VM still runs on the source */
#define MIGRATE_EXIT_UNKNOWN 5		/* failed after switchover, or state unknown */
#define MIGRATE_EXIT_INTERRUPTED 130	/* Ctrl-C: cancelled, the VM runs on the source */

/*
 * "migrate --qmp SRC --dest-qmp DST --to-uri URI ..." (QMP mode, in
 * agent/cli/cli_migrate.c) or "migrate DOMAIN --to URI ..." (libvirt mode: it
 * hands over to migrate_libvirt_main()).  json: -j was given.  args are
 * OPTION VALUE or OPTION=VALUE, in any order; a usage error is one line on
 * stderr and MIGRATE_EXIT_USAGE (the command line adds "Try ...").
 */
int cli_migrate(char **args, bool json);

/* libvirt mode, agent/cli/migrate_libvirt.c: args as for cli_migrate(). */
int migrate_libvirt_main(char **args, bool json);

/*
 * "libvirt-hook DOMAIN OPERATION SUBOPERATION EXTRA", what the script
 * contrib/libvirt/qemu.d/50-vdpa-migrate runs: the domain XML on stdin, the
 * rewritten XML (migrate begin) on stdout.  agent/cli/cli_hook.c.
 */
int cli_libvirt_hook(char **args);

#endif
