/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Migration precheck: compares what the guest negotiated on the source port
 * (port-show of the source agent) with what the destination backend offers
 * (port-show of an existing destination port, or port-offer for one that
 * the destination would create), and lists every mismatch with what it
 * would break.  QEMU itself only finds such a mismatch when it loads the
 * device state, after all guest memory has been copied; this finds it
 * before the first page moves.
 *
 * precheck_compare() is pure (JSON in, result out) for the unit tests;
 * precheck_run() talks to the two agents.
 */
#ifndef VDPA_AGENT_PRECHECK_H
#define VDPA_AGENT_PRECHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

#include "protocol/control.h"

#define PRECHECK_MAX_ISSUES 48

enum precheck_severity {
	PRECHECK_REFUSE,	/* the migration would fail or harm the guest */
	PRECHECK_WARN,		/* it would work, with a difference worth knowing */
};

struct precheck_issue {
	enum precheck_severity severity;
	char what[40];		/* "feature EVENT_IDX", "queues", "mtu", "mac", "ring 0 size", ... */
	char source[64];	/* the source's value, as text */
	char dest[64];		/* the destination's value, as text */
	char consequence[240];	/* what it would break, one sentence */
};

struct precheck_result {
	bool refused;		/* at least one PRECHECK_REFUSE issue */
	size_t n;
	struct precheck_issue issue[PRECHECK_MAX_ISSUES];
	char port[64];
	char dest_backend[8];	/* "sw" or "accel": the backend compared against */
	bool dest_exists;	/* the destination port exists (else: port-offer) */
};

/*
 * Compares src (a port-show reply of the source port) with dst (a port-show
 * or port-offer reply on the destination).  to_backend is "sw", "accel" or
 * NULL (whatever dst says).  -EBADMSG with err set when a reply lacks a
 * member it must have; 0 otherwise, with res filled.
 */
int precheck_compare(struct json_object *src, struct json_object *dst, const char *to_backend,
		     struct precheck_result *res, struct ctl_error *err);

/*
 * Asks from_agent for port-show NAME and to_agent for port-show NAME (or,
 * when the destination has no such port, port-offer for the source's spec
 * with backend=to_backend), then precheck_compare().  Agents are addresses
 * as in ctl_client_open().  0 with res filled (see res->refused), or a
 * negative errno of the calls; ctl_client_status() maps it to an exit
 * status and err says which agent and why.
 */
int precheck_run(const char *from_agent, const char *port, const char *to_agent,
		 const char *to_backend, struct precheck_result *res, struct ctl_error *err);

/* Human text: one line per issue, and a verdict line.  -errno on write errors. */
int precheck_print(const struct precheck_result *res, FILE *f);

/* {"port":..,"refused":bool,"dest_backend":..,"issues":[{severity,what,source,dest,consequence}]} */
struct json_object *precheck_to_json(const struct precheck_result *res);

#endif
