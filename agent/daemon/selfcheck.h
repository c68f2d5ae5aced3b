/*
 * vdpa-agentd --self-check: verifies that this host can run the agent
 * (the kernel facilities it relies on, the runtime directory) and that the
 * protocol and dirty-log libraries behave on this CPU, before any QEMU is
 * pointed at it.  Prints one line per check; returns the number of failures.
 */
#ifndef VDPA_AGENT_SELFCHECK_H
#define VDPA_AGENT_SELFCHECK_H

#include <stdio.h>

int selfcheck_run(FILE *out, const char *runtime_dir);

#endif
