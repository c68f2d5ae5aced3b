/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdpa-migrate's command line: the command table, its parser and the
 * commands (agent/cli/commands.c).  main() is in agent/cli/vdpa_migrate.c.
 */
#ifndef VDPA_AGENT_CLI_COMMANDS_H
#define VDPA_AGENT_CLI_COMMANDS_H

/*
 * Runs the command line argv[0..argc) as vdpa-migrate(8) describes and
 * returns the exit status.  Writes to stdout and stderr; may install
 * signal handlers (dirtylog record, proxy, migrate).
 */
int vdpa_migrate_main(int argc, char **argv);

#endif
