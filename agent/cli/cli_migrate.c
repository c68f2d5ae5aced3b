// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa-migrate migrate, QMP mode: drives a live migration between two QEMUs
 * through their QMP sockets and, with --port, checks the agents' side of it:
 *
 *   1. precheck (agent/cli/precheck.h): the destination can take the device
 *      the guest negotiated; a refusal ends here, before QEMU sends a page;
 *   2. the destination waits in "inmigrate" (migrate-incoming when QEMU was
 *      started with -incoming defer); the source migrates with events and
 *      pause-before-switchover on, progress on stderr once a second;
 *   3. at pre-switchover (the vCPUs stopped, the rings stopped by
 *      GET_VRING_BASE) the source agent must report its port quiesced and
 *      its final harvest done before QEMU is let go (migrate-continue): the
 *      device's last dirty pages are then in QEMU's log;
 *   4. after completion the destination agent's rings must have resumed at
 *      the ring indices the source handed over.
 *
 * Every wait is bounded; SIGINT and SIGTERM cancel the migration before the
 * switchover (migrate_cancel, then the source must run again).  The exit
 * statuses are cli_migrate.h's.  Another module does libvirt mode
 * (agent/cli/migrate_libvirt.c); cli_migrate() hands over when --qmp is absent.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/cli/cli_migrate.h"
#include "agent/cli/ctl_client.h"
#include "agent/cli/precheck.h"
#include "agent/cli/qmp.h"
#include "agent/cli/render.h"
#include "agent/common/util.h"
#include "protocol/control.h"
#include "protocol/port_view.h"
#include "protocol/text.h"

#define QMP_OPEN_MS 10000		/* connect, greeting, capabilities */
#define QMP_CALL_MS 10000		/* one command's reply */
#define TICK_MS 1000			/* progress and polling period */
#define SWITCHOVER_WAIT_MS 5000		/* agent: quiesced and final harvest */
#define STUCK_MS 30000			/* still pre-switchover after migrate-continue */
#define SWITCHOVER_POLL_MS 50
#define CANCEL_WAIT_MS 30000		/* migrate_cancel to "cancelled" */
#define DEST_WAIT_MS 10000		/* destination leaves "inmigrate" */
#define RINGS_WAIT_MS 5000		/* destination rings started */
#define GAP_WAIT_MS 1000		/* then: a first frame on the destination */
#define GAP_MAX_NS (60 * 1000000000LL)	/* a longer "gap" is not this migration's */
#define AGENT_TIMEOUT_MS 3000
#define DOWNTIME_MAX_MS 2000000		/* QEMU's limit: 2000 s */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);	/* a signal ends it early: the caller looks */
}

/* ---- options ------------------------------------------------------------ */

struct opts {
	const char *src_qmp, *dst_qmp, *uri;
	const char *port, *from, *to, *to_backend;
	const char *downtime;
	int64_t downtime_ms;	/* -1: not given */
	bool json;
};

static bool has_qmp_option(char **args)
{
	for (int i = 0; args[i]; i++)
		if (strcmp(args[i], "--qmp") == 0 || strncmp(args[i], "--qmp=", 6) == 0)
			return true;
	return false;
}

/* One line; the caller points to "vdpa-migrate migrate --help" for more. */
static int usage(const char *why, const char *arg)
{
	cli_error("migrate: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
	return MIGRATE_EXIT_USAGE;
}

static int parse_opts(char **args, struct opts *o)
{
	const struct {
		const char *name;
		const char **dst;
	} table[] = {
		{ "--qmp", &o->src_qmp }, { "--dest-qmp", &o->dst_qmp }, { "--to-uri", &o->uri },
		{ "--port", &o->port }, { "--from", &o->from }, { "--to", &o->to },
		{ "--to-backend", &o->to_backend }, { "--downtime-limit", &o->downtime },
	};
	char *end;

	for (int i = 0; args[i]; i++) {
		const char *a = args[i], *v = NULL;
		size_t k;

		if (strcmp(a, "-j") == 0) {
			o->json = true;
			continue;
		}
		for (k = 0; k < ARRAY_SIZE(table); k++) {
			size_t n = strlen(table[k].name);

			if (strncmp(a, table[k].name, n) != 0)
				continue;
			if (a[n] == '=') {
				v = a + n + 1;
				break;
			}
			if (a[n] == '\0') {
				if (!args[i + 1])
					return usage("missing value", a);
				v = args[++i];
				break;
			}
		}
		if (k == ARRAY_SIZE(table))
			return usage("unknown argument", a);
		if (*table[k].dst)
			return usage("given twice", table[k].name);
		if (!v[0])
			return usage("empty value", table[k].name);
		*table[k].dst = v;
	}
	if (!o->src_qmp || !o->dst_qmp || !o->uri)
		return usage("--qmp, --dest-qmp and --to-uri are required", NULL);
	if ((o->port || o->from || o->to) && !(o->port && o->from && o->to))
		return usage("--port, --from and --to go together", NULL);
	if (o->to_backend && !o->port)
		return usage("--to-backend needs --port", NULL);
	if (o->to_backend && strcmp(o->to_backend, "sw") != 0 && strcmp(o->to_backend, "accel") != 0)
		return usage("--to-backend must be sw or accel", o->to_backend);
	if (o->port && strlen(o->port) > CTL_NAME_MAX)
		return usage("--port NAME is longer than 31 bytes", o->port);
	o->downtime_ms = -1;
	if (o->downtime) {
		errno = 0;
		long long ms = strtoll(o->downtime, &end, 10);

		if (errno || *end || ms < 1 || ms > DOWNTIME_MAX_MS)
			return usage("--downtime-limit: expected milliseconds, 1 to 2000000",
				     o->downtime);
		o->downtime_ms = ms;
	}
	return 0;
}

/* ---- JSON readers --------------------------------------------------------- */

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static bool get_int(struct json_object *o, const char *key, int64_t *ret)
{
	struct json_object *v = member(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	*ret = json_object_get_int64(v);
	return true;
}

static bool get_num(struct json_object *o, const char *key, double *ret)
{
	struct json_object *v = member(o, key);

	if (!v || (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)))
		return false;
	*ret = json_object_get_double(v);
	return true;
}

static bool get_bool(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* ---- QEMU's migration state ------------------------------------------------ */

struct mig_info {
	char status[32];	/* "none" when query-migrate has no status */
	int64_t total_ms, downtime_ms, setup_ms, expected_downtime_ms;	/* -1: absent */
	int64_t ram_total, ram_remaining, ram_transferred;		/* -1: absent */
	double dirty_pps;						/* -1: absent */
	bool socket_address;	/* destination: listening (-incoming URI) */
	char error[256];	/* error-desc of a failed migration */
};

static void mig_info_parse(struct json_object *ret, struct mig_info *m)
{
	struct json_object *ram = member(ret, "ram");
	const char *s = get_str(ret, "status"), *e = get_str(ret, "error-desc");

	memset(m, 0, sizeof(*m));
	text_show(s ? s : "none", SIZE_MAX, m->status, sizeof(m->status));
	if (!get_int(ret, "total-time", &m->total_ms))
		m->total_ms = -1;
	if (!get_int(ret, "downtime", &m->downtime_ms))
		m->downtime_ms = -1;
	if (!get_int(ret, "setup-time", &m->setup_ms))
		m->setup_ms = -1;
	if (!get_int(ret, "expected-downtime", &m->expected_downtime_ms))
		m->expected_downtime_ms = -1;
	if (!get_int(ram, "total", &m->ram_total))
		m->ram_total = -1;
	if (!get_int(ram, "remaining", &m->ram_remaining))
		m->ram_remaining = -1;
	if (!get_int(ram, "transferred", &m->ram_transferred))
		m->ram_transferred = -1;
	if (!get_num(ram, "dirty-pages-rate", &m->dirty_pps))
		m->dirty_pps = -1;
	m->socket_address = member(ret, "socket-address") != NULL;
	text_show(e ? e : "", SIZE_MAX, m->error, sizeof(m->error));
}

static int query_migrate(struct qmp *q, struct mig_info *m, struct qmp_error *err)
{
	struct json_object *ret = NULL;
	int r = qmp_execute(q, "query-migrate", NULL, QMP_CALL_MS, &ret, err);

	if (r < 0)
		return r;
	mig_info_parse(ret, m);
	json_object_put(ret);
	return 0;
}

/* query-status: the runstate into status (cap bytes). */
static int query_status(struct qmp *q, char *status, size_t cap, struct qmp_error *err)
{
	struct json_object *ret = NULL;
	const char *s;
	int r = qmp_execute(q, "query-status", NULL, QMP_CALL_MS, &ret, err);

	if (r < 0)
		return r;
	s = get_str(ret, "status");
	text_show(s ? s : "unknown", SIZE_MAX, status, cap);
	json_object_put(ret);
	return 0;
}

static bool terminal(const char *status)
{
	return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
	       strcmp(status, "cancelled") == 0;
}

/* ---- the agents' view of the port ------------------------------------------ */

/*
 * What migrate reads of a port-show (protocol/port_view.h checks the rest
 * of what is there).  Without a "migration" object the port is never taken
 * as quiesced: stopped rings alone do not prove that an accelerator's log
 * was merged into QEMU's.
 */
static const struct port_view_need show_need = {
	.port = PV_BIT(PV_RINGS),
	.ring = PV_BIT(PV_RING_INDEX) | PV_BIT(PV_RING_SIZE) | PV_BIT(PV_RING_NEXT_AVAIL),
};

static bool has(const struct port_view *v, enum port_view_member m)
{
	return v->has & PV_BIT(m);
}

static bool confirmed(const struct port_view *v)
{
	return has(v, PV_MIGRATION) && v->migration.quiesced && v->migration.final_harvest;
}

/* The device's harvested pages; 0 in software. */
static int64_t harvest_pages(const struct port_view *v)
{
	if (!has(v, PV_ACCEL) || !(v->accel.has & PV_BIT(PV_ACCEL_HARVEST_PAGES)))
		return 0;
	return v->accel.harvest_pages > INT64_MAX ? INT64_MAX : (int64_t)v->accel.harvest_pages;
}

/* The ring's "started_at", -1 when absent. */
static int ring_started_at(const struct port_view_ring *r)
{
	return r->has & PV_BIT(PV_RING_STARTED_AT) ? r->started_at : -1;
}

struct agent {
	const char *addr;
	struct ctl_client *c;	/* reopened after a failure */
};

static int agent_show(struct agent *a, const char *port, struct port_view *v, struct ctl_error *err)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_SHOW };
	struct json_object *reply = NULL;
	int r;

	if (!a->c) {
		/* An ssh:// agent logs in on the first call: give it the
		 * client's usual time.  The connection is kept afterwards. */
		r = ctl_client_open(a->addr, strncmp(a->addr, "ssh://", 6) == 0 ?
				    CTL_CLIENT_TIMEOUT_MS : AGENT_TIMEOUT_MS, &a->c, err);
		if (r < 0) {
			a->c = NULL;
			return r;
		}
	}
	snprintf(req.name, sizeof(req.name), "%s", port);
	r = ctl_client_call(a->c, &req, &reply, err);
	if (r < 0 && r != -EREMOTEIO) {
		ctl_client_free(a->c);
		a->c = NULL;
	}
	if (r < 0)
		return r;
	r = port_view_decode_show(reply, &show_need, v, err);
	json_object_put(reply);
	if (r == 0) {
		/* Shown in messages and -j: cleaned for the terminal. */
		char engine[sizeof(v->engine)];

		text_show(has(v, PV_ENGINE) ? v->engine : "none", SIZE_MAX, engine, sizeof(engine));
		memcpy(v->engine, engine, sizeof(engine));
	}
	return r;
}

/*
 * The source's last frame: the latest over its rings; 0 when none reports
 * one.  An accelerator moves its rings' frames unseen by the agent: any
 * time shown then is from before it took over.
 */
static int64_t last_frame_max(const struct port_view *v)
{
	int64_t m = 0;

	if (has(v, PV_ACCEL))
		return 0;
	/* The decoder bounds the times to INT64_MAX; absent is 0. */
	for (unsigned i = 0; i < v->nrings; i++)
		if ((int64_t)v->ring[i].last_frame_rt_ns > m)
			m = (int64_t)v->ring[i].last_frame_rt_ns;
	return m;
}

/* The destination's first frame after the source's last (after): 0 when none yet. */
static int64_t first_frame_after(const struct port_view *v, int64_t after)
{
	int64_t m = 0;

	if (has(v, PV_ACCEL))
		return 0;
	for (unsigned i = 0; i < v->nrings; i++) {
		int64_t t = (int64_t)v->ring[i].first_frame_rt_ns;

		if (t > after && (!m || t < m))
			m = t;
	}
	return m;
}

static uint64_t log_pages_sum(const struct port_view *v)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < v->nrings; i++)
		s += v->ring[i].log_pages;
	return s;
}

/* ---- one run -------------------------------------------------------------- */

enum ring_check {
	RING_RESUMED,		/* started at the handed-over index (the agent says so) */
	RING_AT_OR_AFTER,	/* software ring now at or a little after it */
	RING_NOT_REPORTED,	/* the agent reports no position for this ring */
	RING_MISMATCH,
};

static const char *const ring_check_name[] = {
	[RING_RESUMED] = "resumed", [RING_AT_OR_AFTER] = "at_or_after",
	[RING_NOT_REPORTED] = "not_reported", [RING_MISMATCH] = "mismatch",
};

struct dest_ring {
	unsigned ring, handed, now;
	bool started;
	enum ring_check check;
};

struct run {
	struct opts o;
	struct qmp *src, *dst;
	struct agent from, to;
	struct mig_info mig;		/* the last query-migrate of the source */
	char src_state[32];		/* the source's runstate before the migration */
	char dst_state[32];		/* the destination's runstate at the end */
	int saved_events, saved_pause;	/* capabilities before: 0/1, -1 unknown */
	bool started, continued, completed;
	int64_t continued_ms;	/* when migrate-continue was sent */
	const char *outcome;		/* "completed", "failed", "cancelled", "refused", ... */
	char error[320];
	struct precheck_result *pre;
	/* the port */
	bool have_base;
	int64_t harvest_base;
	uint64_t log_base;
	bool have_handed;
	struct port_view at_switch;
	/* The destination port's switchover phases, once its rings started. */
	struct port_view_switchover dst_phases;
	int64_t harvested;
	/* destination check */
	bool dest_checked, dest_ok;
	char dest_note[512];
	unsigned ndest;
	struct dest_ring dest[PORT_VIEW_MAX_RINGS];
	int64_t traffic_gap_ms;	/* source's last frame to the destination's first; -1 unknown */
	/* progress */
	bool tty, line_open;
	int64_t next_line_ms, prev_ms;
	uint64_t prev_log_pages;
	bool have_prev_log;
};

static void end_line(struct run *r)
{
	if (r->line_open) {
		fputc('\n', stderr);
		r->line_open = false;
	}
}

static void say(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct run *r, const char *fmt, ...)
{
	va_list ap;

	end_line(r);
	fputs("vdpa-migrate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void set_error(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	say(r, "%s", r->error);
}

static void progress(struct run *r)
{
	const struct mig_info *m = &r->mig;
	char dev[64] = "", share[24] = "?", qemu[48] = "", down[48] = "";
	struct port_view v;
	struct ctl_error err;
	int64_t t = mono_ms();

	if (!r->tty && t < r->next_line_ms)
		return;
	r->next_line_ms = t + TICK_MS;

	if (r->o.port && agent_show(&r->from, r->o.port, &v, &err) == 0) {
		if (has(&v, PV_ACCEL) && (v.accel.has & PV_BIT(PV_ACCEL_DIRTY_RATE_PPS))) {
			snprintf(dev, sizeof(dev), ", device log %.0f pages/s", v.accel.dirty_rate_pps);
		} else {
			uint64_t pages = log_pages_sum(&v);

			if (r->have_prev_log && t > r->prev_ms && pages >= r->prev_log_pages)
				snprintf(dev, sizeof(dev), ", rings log %.0f pages/s",
					 (double)(pages - r->prev_log_pages) * 1000.0 /
						 (double)(t - r->prev_ms));
			r->prev_log_pages = pages;
			r->prev_ms = t;
			r->have_prev_log = true;
		}
	}
	if (m->ram_total > 0 && m->ram_remaining >= 0 && m->ram_remaining <= m->ram_total)
		snprintf(share, sizeof(share), "%.0f%%",
			 100.0 * (double)(m->ram_total - m->ram_remaining) / (double)m->ram_total);
	if (m->dirty_pps >= 0)
		snprintf(qemu, sizeof(qemu), ", QEMU dirty %.0f pages/s", m->dirty_pps);
	if (m->expected_downtime_ms >= 0)
		snprintf(down, sizeof(down), ", expected downtime %" PRId64 " ms",
			 m->expected_downtime_ms);
	fprintf(stderr, "%s%s: %s of RAM (%.1f MiB sent)%s%s%s%s", r->tty ? "\r" : "", m->status,
		share, m->ram_transferred > 0 ? (double)m->ram_transferred / 1048576.0 : 0.0, qemu,
		dev, down, r->tty ? "    " : "\n");
	r->line_open = r->tty;
}

/*
 * migrate_cancel and wait for a final state (bounded).  0 with the last
 * status in r->mig, or the QMP error.
 */
static int cancel_and_wait(struct run *r)
{
	int64_t deadline = mono_ms() + CANCEL_WAIT_MS;
	struct qmp_error err;
	int rc;

	qmp_set_interrupt(r->src, NULL);
	rc = qmp_execute(r->src, "migrate_cancel", NULL, QMP_CALL_MS, NULL, &err);
	if (rc < 0 && rc != -EREMOTEIO) {
		set_error(r, "migrate_cancel on the source: %s", err.desc);
		return rc;
	}
	for (;;) {
		rc = query_migrate(r->src, &r->mig, &err);
		if (rc < 0) {
			set_error(r, "query-migrate on the source: %s", err.desc);
			return rc;
		}
		if (terminal(r->mig.status) || strcmp(r->mig.status, "none") == 0)
			return 0;
		if (mono_ms() >= deadline) {
			set_error(r, "the migration is still %s %d s after migrate_cancel",
				  r->mig.status, CANCEL_WAIT_MS / 1000);
			return -ETIMEDOUT;
		}
		rc = qmp_wait_event(r->src, "MIGRATION", NULL, 200, NULL, &err);
		if (rc < 0 && rc != -ETIMEDOUT) {
			set_error(r, "the source's QMP: %s", err.desc);
			return rc;
		}
	}
}

/* The VM runs on the source as before the migration: exit 4 (or 130); else 5. */
static int source_verdict(struct run *r, int status_if_running)
{
	int64_t deadline = mono_ms() + 3000;
	struct qmp_error err;
	char st[32];

	qmp_set_interrupt(r->src, NULL);
	for (;;) {
		if (query_status(r->src, st, sizeof(st), &err) < 0) {
			say(r, "cannot ask the source QEMU whether the VM runs: %s", err.desc);
			return MIGRATE_EXIT_UNKNOWN;
		}
		/* Right after a failure QEMU may not have restarted the VM yet. */
		if (strcmp(st, "finish-migrate") != 0 && strcmp(st, "postmigrate") != 0)
			break;
		if (mono_ms() >= deadline)
			break;
		sleep_ms(100);
	}
	if (strcmp(st, r->src_state) != 0 && strcmp(st, "running") != 0) {
		say(r, "the VM is %s on the source (it was %s before the migration)", st,
		    r->src_state);
		return MIGRATE_EXIT_UNKNOWN;
	}
	say(r, "the VM is %s on the source", st);
	return status_if_running;
}

/* Puts the capabilities this run changed back (the VM stays on the source). */
static void restore_caps(struct run *r)
{
	struct json_object *args, *caps;
	struct qmp_error err;

	if (r->saved_events < 0 || !r->src)
		return;
	args = json_object_new_object();
	caps = json_object_new_array();
	for (int i = 0; i < 2; i++) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "capability", json_object_new_string(i ? "pause-before-switchover"
									       : "events"));
		json_object_object_add(c, "state", json_object_new_boolean(i ? r->saved_pause
									   : r->saved_events));
		json_object_array_add(caps, c);
	}
	json_object_object_add(args, "capabilities", caps);
	if (qmp_execute(r->src, "migrate-set-capabilities", args, QMP_CALL_MS, NULL, &err) < 0)
		say(r, "could not restore the source's migration capabilities: %s", err.desc);
}

/*
 * SIGINT/SIGTERM.  Before migrate-continue: cancel, the source must run.
 * After it the switchover is under way and cannot be taken back safely:
 * the run waits for its end (returns -1 to go on).
 */
static int on_interrupt(struct run *r)
{
	int sig = (int)got_signal, rc;

	got_signal = 0;
	if (r->continued) {
		say(r, "%s: the switchover has begun and cannot be cancelled safely; waiting for "
		    "it to end", strsignal(sig));
		qmp_set_interrupt(r->src, NULL);
		return -1;
	}
	if (!r->started) {
		say(r, "%s: stopped before the migration started", strsignal(sig));
		r->outcome = "interrupted";
		return MIGRATE_EXIT_INTERRUPTED;
	}
	say(r, "%s: cancelling the migration", strsignal(sig));
	rc = cancel_and_wait(r);
	if (rc < 0) {
		r->outcome = "unknown";
		return MIGRATE_EXIT_UNKNOWN;
	}
	if (strcmp(r->mig.status, "completed") == 0) {
		say(r, "the migration completed before the cancel took effect");
		r->completed = true;
		return -1;
	}
	r->outcome = "interrupted";
	snprintf(r->error, sizeof(r->error), "interrupted by %s; the migration was cancelled",
		 strsignal(sig));
	restore_caps(r);
	return source_verdict(r, MIGRATE_EXIT_INTERRUPTED);
}

/* A failure before migrate-continue: cancel if needed, then look at the source. */
static int fail_before_switchover(struct run *r)
{
	struct qmp_error err;

	if (r->started) {
		qmp_set_interrupt(r->src, NULL);
		if (query_migrate(r->src, &r->mig, &err) < 0) {
			set_error(r, "query-migrate on the source: %s", err.desc);
			return MIGRATE_EXIT_UNKNOWN;
		}
		if (!terminal(r->mig.status) && strcmp(r->mig.status, "none") != 0 &&
		    cancel_and_wait(r) < 0)
			return MIGRATE_EXIT_UNKNOWN;
	}
	if (strcmp(r->mig.status, "completed") == 0) {
		say(r, "the migration completed nevertheless");
		return MIGRATE_EXIT_UNKNOWN;
	}
	restore_caps(r);
	return source_verdict(r, MIGRATE_EXIT_FAILED);
}

static int precheck(struct run *r)
{
	struct ctl_error err = { "", "" };
	int rc;

	r->pre = calloc(1, sizeof(*r->pre));
	if (!r->pre) {
		set_error(r, "out of memory");
		return MIGRATE_EXIT_FAILED;
	}
	rc = precheck_run(r->o.from, r->o.port, r->o.to, r->o.to_backend, r->pre, &err);
	if (rc < 0) {
		free(r->pre);
		r->pre = NULL;
		if (got_signal) {
			r->outcome = "interrupted";
			set_error(r, "interrupted during the precheck; nothing was started");
			return MIGRATE_EXIT_INTERRUPTED;
		}
		r->outcome = "failed";
		set_error(r, "precheck of port %s: %s; nothing was started", r->o.port, err.message);
		return MIGRATE_EXIT_FAILED;
	}
	if (r->pre->refused) {
		r->outcome = "refused";
		precheck_print(r->pre, stderr);
		set_error(r, "the precheck refused the migration of port %s; nothing was started",
			  r->o.port);
		return MIGRATE_EXIT_REFUSED;
	}
	if (r->pre->n)
		precheck_print(r->pre, stderr);
	return 0;
}

static int connect_qemus(struct run *r)
{
	struct json_object *ret = NULL;
	struct qmp_error err;
	struct mig_info dm;
	char st[32];
	int rc;

	rc = qmp_connect(r->o.src_qmp, QMP_OPEN_MS, &r->src, &err);
	if (rc < 0 && got_signal) {
		r->outcome = "interrupted";
		set_error(r, "interrupted while connecting to the source QEMU; nothing was started");
		return MIGRATE_EXIT_INTERRUPTED;
	}
	if (rc < 0) {
		set_error(r, "cannot reach the source QEMU at %s: %s; nothing was started",
			  r->o.src_qmp, err.desc);
		return MIGRATE_EXIT_FAILED;
	}
	rc = qmp_connect(r->o.dst_qmp, QMP_OPEN_MS, &r->dst, &err);
	if (rc < 0) {
		set_error(r, "cannot reach the destination QEMU at %s: %s", r->o.dst_qmp, err.desc);
		return MIGRATE_EXIT_FAILED;
	}

	if (query_status(r->dst, st, sizeof(st), &err) < 0) {
		set_error(r, "query-status on the destination: %s", err.desc);
		return MIGRATE_EXIT_FAILED;
	}
	if (strcmp(st, "inmigrate") != 0) {
		set_error(r, "the destination QEMU is %s, not waiting for a migration (start it with "
			  "-incoming)", st);
		return MIGRATE_EXIT_FAILED;
	}
	if (query_migrate(r->dst, &dm, &err) < 0) {
		set_error(r, "query-migrate on the destination: %s", err.desc);
		return MIGRATE_EXIT_FAILED;
	}
	if (strcmp(dm.status, "none") == 0 && !dm.socket_address) {
		/* -incoming defer: nothing listens until migrate-incoming. */
		ret = json_object_new_object();
		json_object_object_add(ret, "uri", json_object_new_string(r->o.uri));
		if (qmp_execute(r->dst, "migrate-incoming", ret, QMP_CALL_MS, NULL, &err) < 0) {
			set_error(r, "migrate-incoming %s on the destination: %s", r->o.uri, err.desc);
			return MIGRATE_EXIT_FAILED;
		}
		say(r, "destination: listening on %s (it was started with -incoming defer)", r->o.uri);
	}

	if (query_status(r->src, r->src_state, sizeof(r->src_state), &err) < 0) {
		set_error(r, "query-status on the source: %s", err.desc);
		return MIGRATE_EXIT_FAILED;
	}
	if (strcmp(r->src_state, "running") != 0 && strcmp(r->src_state, "paused") != 0) {
		set_error(r, "the source VM is %s: nothing to migrate", r->src_state);
		return MIGRATE_EXIT_FAILED;
	}
	if (query_migrate(r->src, &r->mig, &err) < 0) {
		set_error(r, "query-migrate on the source: %s", err.desc);
		return MIGRATE_EXIT_FAILED;
	}
	if (!terminal(r->mig.status) && strcmp(r->mig.status, "none") != 0) {
		set_error(r, "the source is already migrating (%s)", r->mig.status);
		return MIGRATE_EXIT_FAILED;
	}
	/* An earlier migration's "completed" is not this one's. */
	snprintf(r->mig.status, sizeof(r->mig.status), "none");
	return 0;
}

static int save_caps(struct run *r)
{
	struct json_object *ret = NULL;
	struct qmp_error err;
	int rc;

	r->saved_events = r->saved_pause = -1;
	rc = qmp_execute(r->src, "query-migrate-capabilities", NULL, QMP_CALL_MS, &ret, &err);
	if (rc < 0) {
		set_error(r, "query-migrate-capabilities on the source: %s", err.desc);
		return rc;
	}
	for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
			   i < json_object_array_length(ret); i++) {
		struct json_object *c = json_object_array_get_idx(ret, i);
		const char *name = get_str(c, "capability");

		if (name && strcmp(name, "events") == 0)
			r->saved_events = get_bool(c, "state");
		else if (name && strcmp(name, "pause-before-switchover") == 0)
			r->saved_pause = get_bool(c, "state");
	}
	json_object_put(ret);
	if (r->saved_events < 0 || r->saved_pause < 0) {
		r->saved_events = -1;
		set_error(r, "the source QEMU lacks the events or pause-before-switchover capability");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int start_migration(struct run *r)
{
	struct json_object *args, *caps, *c;
	struct qmp_error err;
	struct port_view v;
	struct ctl_error cerr = { "", "" };
	int rc;

	if (r->o.port) {
		if (agent_show(&r->from, r->o.port, &v, &cerr) < 0) {
			set_error(r, "port-show %s on the source agent %s: %s; nothing was started",
				  r->o.port, r->o.from, cerr.message);
			return -EIO;
		}
		r->have_base = true;
		r->harvest_base = harvest_pages(&v);
		r->log_base = log_pages_sum(&v);
	}
	if (save_caps(r) < 0)
		return -EIO;

	args = json_object_new_object();
	caps = json_object_new_array();
	c = json_object_new_object();
	json_object_object_add(c, "capability", json_object_new_string("events"));
	json_object_object_add(c, "state", json_object_new_boolean(true));
	json_object_array_add(caps, c);
	c = json_object_new_object();
	json_object_object_add(c, "capability", json_object_new_string("pause-before-switchover"));
	json_object_object_add(c, "state", json_object_new_boolean(true));
	json_object_array_add(caps, c);
	json_object_object_add(args, "capabilities", caps);
	if (qmp_execute(r->src, "migrate-set-capabilities", args, QMP_CALL_MS, NULL, &err) < 0) {
		set_error(r, "migrate-set-capabilities on the source: %s", err.desc);
		return -EIO;
	}
	if (r->o.downtime_ms > 0) {
		args = json_object_new_object();
		json_object_object_add(args, "downtime-limit", json_object_new_int64(r->o.downtime_ms));
		if (qmp_execute(r->src, "migrate-set-parameters", args, QMP_CALL_MS, NULL, &err) < 0) {
			set_error(r, "migrate-set-parameters downtime-limit on the source: %s",
				  err.desc);
			return -EIO;
		}
	}
	if (got_signal)
		return -EINTR;
	args = json_object_new_object();
	json_object_object_add(args, "uri", json_object_new_string(r->o.uri));
	rc = qmp_execute(r->src, "migrate", args, QMP_CALL_MS, NULL, &err);
	if (rc < 0) {
		/* Refused: nothing started.  Anything else: it may have. */
		if (rc != -EREMOTEIO)
			r->started = true;
		set_error(r, "migrate %s on the source: %s", r->o.uri, err.desc);
		return -EIO;
	}
	r->started = true;
	snprintf(r->mig.status, sizeof(r->mig.status), "setup");
	return 0;
}

/*
 * pre-switchover: QEMU stopped the vCPUs and the rings.  With --port the
 * source agent must say its port is quiesced and the final harvest done;
 * then QEMU may send the last dirty pages and the device state.
 * 0 when migrate-continue was sent, else an exit status.
 */
static int switchover(struct run *r)
{
	struct json_object *args;
	struct qmp_error err;
	int rc;

	if (r->o.port) {
		int64_t deadline = mono_ms() + SWITCHOVER_WAIT_MS;
		struct ctl_error cerr = { "", "" };
		bool ready = false;
		struct port_view v;

		memset(&v, 0, sizeof(v));
		rc = 0;
		end_line(r);
		fprintf(stderr, "pre-switchover: waiting for port %s on %s to quiesce and do its "
			"final harvest\n", r->o.port, r->o.from);
		while (!ready) {
			if (got_signal) {
				rc = on_interrupt(r);
				return rc < 0 ? 0 : rc;	/* < 0: completed after all */
			}
			rc = agent_show(&r->from, r->o.port, &v, &cerr);
			if (rc == 0 && confirmed(&v))
				ready = true;
			else if (mono_ms() >= deadline)
				break;
			else
				sleep_ms(SWITCHOVER_POLL_MS);
		}
		if (!ready) {
			r->outcome = "failed";
			if (rc < 0)
				set_error(r, "the source agent %s does not answer at the switchover (%s); "
					  "cancelling", r->o.from, cerr.message);
			else if (!has(&v, PV_MIGRATION))
				set_error(r, "the source agent %s reports no migration state for port "
					  "%s, so the final harvest cannot be confirmed; cancelling",
					  r->o.from, r->o.port);
			else
				set_error(r, "port %s on %s is not %s %d s into the switchover; "
					  "cancelling", r->o.port, r->o.from,
					  !v.migration.quiesced ? "quiesced" :
					  "done with its final harvest",
					  SWITCHOVER_WAIT_MS / 1000);
			return fail_before_switchover(r);
		}
		r->at_switch = v;
		r->have_handed = true;
		r->harvested = has(&v, PV_ACCEL) ? harvest_pages(&v) - r->harvest_base : 0;
	}
	/* The last moment a Ctrl-C still cancels. */
	if (got_signal) {
		rc = on_interrupt(r);
		return rc < 0 ? 0 : rc;
	}
	/* Not interruptible: the reply says whether QEMU took it. */
	qmp_set_interrupt(r->src, NULL);
	args = json_object_new_object();
	json_object_object_add(args, "state", json_object_new_string("pre-switchover"));
	rc = qmp_execute(r->src, "migrate-continue", args, QMP_CALL_MS, NULL, &err);
	qmp_set_interrupt(r->src, &got_signal);
	if (rc == -EREMOTEIO) {
		r->outcome = "failed";
		set_error(r, "migrate-continue on the source: %s", err.desc);
		return fail_before_switchover(r);
	}
	if (rc == -ETIMEDOUT) {
		/* Maybe taken: follow the migration; it either ends or stays paused. */
		say(r, "migrate-continue: no reply within %d s; following the migration",
		    QMP_CALL_MS / 1000);
	} else if (rc < 0) {
		r->outcome = "unknown";
		set_error(r, "migrate-continue on the source: %s", err.desc);
		return MIGRATE_EXIT_UNKNOWN;
	}
	r->continued = true;
	r->continued_ms = mono_ms();
	return 0;
}

/*
 * QEMU announces "completed" a moment before it computes total-time and
 * downtime (0 until then): ask again for a while.
 */
static void final_times(struct run *r)
{
	int64_t deadline = mono_ms() + 2000;
	struct qmp_error err;
	struct mig_info m;

	qmp_set_interrupt(r->src, NULL);
	while ((r->mig.total_ms <= 0 || r->mig.downtime_ms <= 0) && mono_ms() < deadline) {
		sleep_ms(20);
		if (query_migrate(r->src, &m, &err) < 0 || strcmp(m.status, "completed") != 0)
			return;
		r->mig = m;
	}
}

/* Waits until the migration ends.  0 when completed, else an exit status. */
static int follow(struct run *r)
{
	struct qmp_error err;
	int rc;

	for (;;) {
		if (got_signal && !r->completed) {
			rc = on_interrupt(r);
			if (rc >= 0)
				return rc;
		}
		if (r->completed) {
			final_times(r);
			return 0;
		}
		rc = query_migrate(r->src, &r->mig, &err);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			r->outcome = "unknown";
			set_error(r, "lost the source QEMU during the migration: %s", err.desc);
			return MIGRATE_EXIT_UNKNOWN;
		}
		if (strcmp(r->mig.status, "completed") == 0) {
			r->completed = true;
			final_times(r);
			return 0;
		}
		if (strcmp(r->mig.status, "failed") == 0 || strcmp(r->mig.status, "cancelled") == 0 ||
		    strcmp(r->mig.status, "none") == 0) {
			r->outcome = strcmp(r->mig.status, "cancelled") == 0 ? "cancelled" : "failed";
			set_error(r, "the migration %s%s%s", strcmp(r->mig.status, "none") == 0 ?
				  "vanished" : r->mig.status, r->mig.error[0] ? ": " : "",
				  r->mig.error);
			if (r->continued)
				return source_verdict(r, MIGRATE_EXIT_UNKNOWN);
			restore_caps(r);
			return source_verdict(r, MIGRATE_EXIT_FAILED);
		}
		if (strcmp(r->mig.status, "pre-switchover") == 0 && !r->continued) {
			rc = switchover(r);
			if (rc != 0)
				return rc;
			continue;
		}
		if (strcmp(r->mig.status, "pre-switchover") == 0 &&
		    mono_ms() - r->continued_ms > STUCK_MS) {
			r->outcome = "unknown";
			set_error(r, "the migration is still paused before the switchover %d s after "
				  "migrate-continue; the VM is stopped on the source", STUCK_MS / 1000);
			return MIGRATE_EXIT_UNKNOWN;
		}
		progress(r);
		rc = qmp_wait_event(r->src, "MIGRATION", NULL, TICK_MS, NULL, &err);
		if (rc < 0 && rc != -ETIMEDOUT && rc != -EINTR) {
			r->outcome = "unknown";
			set_error(r, "lost the source QEMU during the migration: %s", err.desc);
			return MIGRATE_EXIT_UNKNOWN;
		}
	}
}

/*
 * After completion: the destination left "inmigrate", and (with --port) its
 * rings resumed where the source's stopped.  A ring resumed behind the
 * handed-over index would redo chains the source already did (duplicates);
 * one far ahead would skip chains.  A running guest moves the rings on, so
 * "resumed" means at the index or a little after it (less than 2^15 on).
 */
static int check_destination(struct run *r)
{
	int64_t deadline = mono_ms() + DEST_WAIT_MS;
	struct ctl_error cerr = { "", "" };
	struct qmp_error err;
	struct port_view v, nv, gv;
	bool all_started;
	int64_t src_last, dst_first = 0, gap_deadline = 0;
	int rc;

	qmp_set_interrupt(r->dst, NULL);
	for (;;) {
		if (query_status(r->dst, r->dst_state, sizeof(r->dst_state), &err) < 0) {
			set_error(r, "the destination QEMU does not answer after the migration: %s",
				  err.desc);
			return MIGRATE_EXIT_UNKNOWN;
		}
		if (strcmp(r->dst_state, "inmigrate") != 0)
			break;
		if (mono_ms() >= deadline) {
			set_error(r, "the destination QEMU is still inmigrate %d s after the source "
				  "completed", DEST_WAIT_MS / 1000);
			return MIGRATE_EXIT_UNKNOWN;
		}
		sleep_ms(100);
	}
	if (strcmp(r->dst_state, "running") != 0 && strcmp(r->dst_state, "paused") != 0 &&
	    strcmp(r->dst_state, "prelaunch") != 0) {
		set_error(r, "the destination VM is %s after the migration", r->dst_state);
		return MIGRATE_EXIT_UNKNOWN;
	}
	if (!r->have_handed)
		return 0;
	if (strcmp(r->dst_state, "running") != 0) {
		snprintf(r->dest_note, sizeof(r->dest_note),
			 "destination VM %s: its rings start with it; not checked", r->dst_state);
		return 0;
	}

	/*
	 * Once the rings started, the traffic gap wants the destination's
	 * first frame: it may not have moved one yet, so look again for a
	 * moment (GAP_WAIT_MS), only when the source reported its last.
	 */
	src_last = last_frame_max(&r->at_switch);
	deadline = mono_ms() + RINGS_WAIT_MS;
	for (;;) {
		/* Once the rings started, v stays: the rings are checked on it. */
		rc = agent_show(&r->to, r->o.port, gap_deadline ? &gv : &nv, &cerr);
		if (gap_deadline) {
			if (rc == 0)
				dst_first = first_frame_after(&gv, src_last);
			if (rc < 0 || dst_first || mono_ms() >= gap_deadline)
				break;
			sleep_ms(100);
			continue;
		}
		if (rc == 0)
			v = nv;
		if (rc < 0) {
			snprintf(r->dest_note, sizeof(r->dest_note),
				 "destination agent %.200s %s (%.160s): rings not checked", r->o.to,
				 rc == -EBADMSG ? "gave a bad reply" :
				 rc == -EREMOTEIO ? "refused port-show" : "not reachable",
				 cerr.message);
			return 0;
		}
		all_started = true;
		for (unsigned i = 0; i < r->at_switch.migration.nhanded; i++) {
			bool found = false;

			for (unsigned k = 0; k < v.nrings; k++)
				if (v.ring[k].index == r->at_switch.migration.handed[i].ring && v.ring[k].started)
					found = true;
			if (!found)
				all_started = false;
		}
		if (all_started && src_last)
			dst_first = first_frame_after(&v, src_last);
		if (all_started && (!src_last || dst_first))
			break;
		if (all_started)
			gap_deadline = mono_ms() + GAP_WAIT_MS;
		else if (mono_ms() >= deadline)
			break;
		sleep_ms(100);
	}
	if (dst_first && dst_first - src_last < GAP_MAX_NS)
		r->traffic_gap_ms = (dst_first - src_last) / 1000000;
	if (has(&v, PV_SWITCHOVER))
		r->dst_phases = v.switchover;

	/*
	 * A ring the agent says it started at some index is compared exactly.
	 * Otherwise the software path's next_avail must be at or a little
	 * after the handed-over index; an accelerator's position is inside the
	 * device, and an agent that does not report where it started the ring
	 * leaves it unchecked.
	 */
	r->dest_ok = true;
	r->ndest = 0;
	for (unsigned i = 0; i < r->at_switch.migration.nhanded; i++) {
		struct dest_ring *d = &r->dest[r->ndest++];
		int started_at = -1;

		memset(d, 0, sizeof(*d));
		d->ring = r->at_switch.migration.handed[i].ring;
		d->handed = r->at_switch.migration.handed[i].next_avail;
		for (unsigned k = 0; k < v.nrings; k++) {
			if (v.ring[k].index != d->ring)
				continue;
			d->started = v.ring[k].started;
			d->now = v.ring[k].next_avail;
			started_at = ring_started_at(&v.ring[k]);
		}
		if (!d->started)
			d->check = RING_MISMATCH;
		else if (started_at >= 0)
			d->check = (unsigned)started_at == d->handed ? RING_RESUMED : RING_MISMATCH;
		else if (strcmp(v.engine, "sw") != 0)
			d->check = RING_NOT_REPORTED;
		else
			d->check = (uint16_t)(d->now - d->handed) < 0x8000 ? RING_AT_OR_AFTER
									 : RING_MISMATCH;
		if (started_at >= 0)
			d->now = (unsigned)started_at;
		if (d->check == RING_MISMATCH)
			r->dest_ok = false;
		if (d->check != RING_NOT_REPORTED)
			r->dest_checked = true;
	}
	if (!r->dest_checked)
		snprintf(r->dest_note, sizeof(r->dest_note),
			 "destination port on %s: the agent does not report where the device resumed "
			 "its rings; not checked", v.engine);
	if (!r->dest_ok) {
		end_line(r);
		fputs("\n!!! vdpa-migrate: THE DESTINATION'S RINGS DID NOT RESUME WHERE THE SOURCE "
		      "STOPPED !!!\n", stderr);
		for (unsigned i = 0; i < r->ndest; i++)
			if (r->dest[i].check == RING_MISMATCH)
				fprintf(stderr, "!!!   ring %u: handed over at %u, destination %s %u\n",
					r->dest[i].ring, r->dest[i].handed,
					r->dest[i].started ? "is at" : "not started, at",
					r->dest[i].now);
		fputs("!!!   the guest may see lost or repeated frames on these queues\n\n", stderr);
		snprintf(r->error, sizeof(r->error),
			 "the destination's rings did not resume at the handed-over indices");
		return MIGRATE_EXIT_UNKNOWN;
	}
	return 0;
}

/* ---- the summary ---------------------------------------------------------- */

static void add_ms(struct json_object *o, const char *key, int64_t v)
{
	if (v >= 0)
		json_object_object_add(o, key, json_object_new_int64(v));
}

/*
 * "backend_phases_us": the agents' own part of the switchover, beside
 * QEMU's downtime, never instead of it: the source's from its first
 * GET_VRING_BASE to its last reply, the destination's from the memory
 * table to its last ring's start (port show's "switchover").
 */
static void add_phases(struct json_object *o, const struct run *r)
{
	const struct port_view_switchover *s = &r->at_switch.switchover;
	const struct port_view_switchover *d = &r->dst_phases;
	struct json_object *ph;

	if (!(r->have_handed && has(&r->at_switch, PV_SWITCHOVER) &&
	      (s->has & PV_BIT(PV_SW_SOURCE_US))) && !(d->has & PV_BIT(PV_SW_DEST_US)))
		return;
	ph = json_object_new_object();
	if (!ph)
		return;
	if (r->have_handed && (s->has & PV_BIT(PV_SW_SOURCE_US))) {
		json_object_object_add(ph, "source", json_object_new_int64((int64_t)s->source_us));
		json_object_object_add(ph, "source_handling",
				       json_object_new_int64((int64_t)s->source_handling_us));
	}
	if (d->has & PV_BIT(PV_SW_DEST_US)) {
		json_object_object_add(ph, "destination", json_object_new_int64((int64_t)d->dest_us));
		json_object_object_add(ph, "destination_mem_table",
				       json_object_new_int64((int64_t)d->dest_mem_table_us));
		json_object_object_add(ph, "destination_ring_start",
				       json_object_new_int64((int64_t)d->dest_ring_start_us));
		if (d->has & PV_BIT(PV_SW_DEST_HANDLING_US))
			json_object_object_add(ph, "destination_handling",
					       json_object_new_int64((int64_t)d->dest_handling_us));
	}
	json_object_object_add(o, "backend_phases_us", ph);
}

static void print_json(struct run *r, int status)
{
	struct json_object *o = json_object_new_object(), *a;

	if (!o)
		return;
	json_object_object_add(o, "status", json_object_new_string(r->outcome ? r->outcome : "failed"));
	json_object_object_add(o, "exit_status", json_object_new_int(status));
	if (r->error[0])
		json_object_object_add(o, "error", json_object_new_string(r->error));
	if (r->started) {
		json_object_object_add(o, "qemu_status", json_object_new_string(r->mig.status));
		add_ms(o, "total_time_ms", r->mig.total_ms);
		add_ms(o, "downtime_ms", r->mig.downtime_ms);
		add_ms(o, "setup_time_ms", r->mig.setup_ms);
		add_ms(o, "ram_transferred_bytes", r->mig.ram_transferred);
		add_ms(o, "ram_total_bytes", r->mig.ram_total);
	}
	if (r->o.port) {
		json_object_object_add(o, "port", json_object_new_string(r->o.port));
		json_object_object_add(o, "from", json_object_new_string(r->o.from));
		json_object_object_add(o, "to", json_object_new_string(r->o.to));
	}
	if (r->have_handed) {
		json_object_object_add(o, "source_engine", json_object_new_string(r->at_switch.engine));
		json_object_object_add(o, "harvested_pages", json_object_new_int64(r->harvested));
		json_object_object_add(o, "ring_log_pages",
				       json_object_new_int64((int64_t)(log_pages_sum(&r->at_switch) -
								       r->log_base)));
		json_object_object_add(o, "agent_migration_state",
				       json_object_new_boolean(has(&r->at_switch, PV_MIGRATION)));
		a = json_object_new_array();
		for (unsigned i = 0; i < r->at_switch.migration.nhanded; i++) {
			struct json_object *h = json_object_new_object();

			json_object_object_add(h, "ring", json_object_new_int((int)r->at_switch.migration.handed[i].ring));
			json_object_object_add(h, "next_avail",
					       json_object_new_int((int)r->at_switch.migration.handed[i].next_avail));
			json_object_array_add(a, h);
		}
		json_object_object_add(o, "handed_over", a);
	}
	add_phases(o, r);
	if (r->completed) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "state", json_object_new_string(r->dst_state));
		json_object_object_add(d, "rings_checked", json_object_new_boolean(r->dest_checked));
		if (r->ndest) {
			json_object_object_add(d, "rings_ok", json_object_new_boolean(r->dest_ok));
			a = json_object_new_array();
			for (unsigned i = 0; i < r->ndest; i++) {
				struct json_object *h = json_object_new_object();

				json_object_object_add(h, "ring", json_object_new_int((int)r->dest[i].ring));
				json_object_object_add(h, "handed_over", json_object_new_int((int)r->dest[i].handed));
				json_object_object_add(h, "next_avail", json_object_new_int((int)r->dest[i].now));
				json_object_object_add(h, "started", json_object_new_boolean(r->dest[i].started));
				json_object_object_add(h, "check",
						       json_object_new_string(ring_check_name[r->dest[i].check]));
				json_object_array_add(a, h);
			}
			json_object_object_add(d, "rings", a);
		}
		if (r->dest_note[0])
			json_object_object_add(d, "note", json_object_new_string(r->dest_note));
		json_object_object_add(o, "destination", d);
		add_ms(o, "traffic_gap_ms", r->traffic_gap_ms);
	}
	if (r->pre)
		json_object_object_add(o, "precheck", precheck_to_json(r->pre));
	render_json(o, stdout);
	json_object_put(o);
}

static void print_human(struct run *r)
{
	const struct mig_info *m = &r->mig;

	if (!r->completed)
		return;	/* the reason went to stderr */
	printf("migration completed");
	if (m->total_ms >= 0)
		printf(" in %.1f s", (double)m->total_ms / 1000.0);
	if (m->downtime_ms >= 0)
		printf(", downtime %" PRId64 " ms", m->downtime_ms);
	if (m->ram_transferred >= 0)
		printf(", %.1f MiB of RAM sent", (double)m->ram_transferred / 1048576.0);
	printf("\n");
	if (r->have_handed) {
		printf("port %s, source on %s: ", r->o.port,
		       has(&r->at_switch, PV_ACCEL) ? "the accelerator" : "software");
		if (has(&r->at_switch, PV_ACCEL))
			printf("%" PRId64 " pages harvested from the device's dirty log\n", r->harvested);
		else
			printf("software path, no device log to harvest\n");
		for (unsigned i = 0; i < r->at_switch.migration.nhanded; i++) {
			const struct dest_ring *d = NULL;

			for (unsigned k = 0; k < r->ndest; k++)
				if (r->dest[k].ring == r->at_switch.migration.handed[i].ring)
					d = &r->dest[k];
			printf("  ring %u: handed over at %u", r->at_switch.migration.handed[i].ring,
			       r->at_switch.migration.handed[i].next_avail);
			if (!d)
				printf("\n");
			else if (d->check == RING_RESUMED)
				printf(", resumed there on the destination\n");
			else if (d->check == RING_AT_OR_AFTER)
				printf(", resumed on the destination (now at %u)\n", d->now);
			else if (d->check == RING_NOT_REPORTED)
				printf(", started on the destination (position not reported)\n");
			else
				printf(", NOT RESUMED THERE on the destination (%s %u)\n",
				       d->started ? "at" : "not started, at", d->now);
		}
	}
	if (r->have_handed && (r->at_switch.switchover.has & PV_BIT(PV_SW_SOURCE_US)))
		printf("backend on the source: %" PRIu64 " us from the first ring's stop to the last "
		       "reply (%" PRIu64 " us handling)\n", r->at_switch.switchover.source_us,
		       r->at_switch.switchover.source_handling_us);
	if (r->dst_phases.has & PV_BIT(PV_SW_DEST_US)) {
		printf("backend on the destination: %" PRIu64 " us from the memory table to the last "
		       "ring's start (memory table %" PRIu64 " us, ring starts %" PRIu64 " us",
		       r->dst_phases.dest_us, r->dst_phases.dest_mem_table_us,
		       r->dst_phases.dest_ring_start_us);
		if (r->dst_phases.has & PV_BIT(PV_SW_DEST_HANDLING_US))
			printf(", %" PRIu64 " us handling", r->dst_phases.dest_handling_us);
		printf(")\n");
	}
	if (r->traffic_gap_ms >= 0)
		printf("traffic gap: %" PRId64 " ms (last frame on the source to the first on the "
		       "destination; includes any idle time)\n", r->traffic_gap_ms);
	if (r->dest_note[0])
		printf("%s\n", r->dest_note);
}

/* ---- entry ------------------------------------------------------------------ */

static int run_qmp(struct run *r)
{
	int status;

	if (r->o.port) {
		status = precheck(r);
		if (status)
			return status;
	}
	if (got_signal) {
		r->outcome = "interrupted";
		return MIGRATE_EXIT_INTERRUPTED;
	}
	status = connect_qemus(r);
	if (status == 0 && got_signal) {
		say(r, "%s: stopped before the migration started", strsignal((int)got_signal));
		r->outcome = "interrupted";
		return MIGRATE_EXIT_INTERRUPTED;
	}
	if (status) {
		r->outcome = "failed";
		return status;
	}
	if (start_migration(r) < 0) {
		if (got_signal && !r->started) {
			r->outcome = "interrupted";
			say(r, "%s: stopped before the migration started", strsignal((int)got_signal));
			restore_caps(r);
			return source_verdict(r, MIGRATE_EXIT_INTERRUPTED);
		}
		r->outcome = "failed";
		return fail_before_switchover(r);
	}
	qmp_set_interrupt(r->src, &got_signal);
	say(r, "migrating to %s%s%s", r->o.uri, r->o.port ? ", port " : "",
	    r->o.port ? r->o.port : "");
	status = follow(r);
	end_line(r);
	if (status)
		return status;
	r->outcome = "completed";
	return check_destination(r);
}

int cli_migrate(char **args, bool json)
{
	struct run *r;
	struct sigaction sa;
	int status;

	if (!has_qmp_option(args))
		return migrate_libvirt_main(args, json);

	r = calloc(1, sizeof(*r));
	if (!r) {
		cli_error("out of memory\n");
		return MIGRATE_EXIT_FAILED;
	}
	r->o.json = json;
	status = parse_opts(args, &r->o);
	if (status) {
		free(r);
		return status;
	}
	r->from.addr = r->o.from;
	r->to.addr = r->o.to;
	r->saved_events = r->saved_pause = -1;
	r->traffic_gap_ms = -1;
	r->tty = isatty(STDERR_FILENO) == 1;

	/* No SA_RESTART: a signal ends the waits (poll, nanosleep) at once. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A lost terminal (SIGHUP) is a stop like Ctrl-C; a reader of stderr
	 * that went away (SIGPIPE) must not kill us with the VM paused
	 * before the switchover. */
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	status = run_qmp(r);
	end_line(r);
	if (r->o.json)
		print_json(r, status);
	else
		print_human(r);
	if (status == MIGRATE_EXIT_OK && r->completed)
		fflush(stdout);

	qmp_free(r->src);
	qmp_free(r->dst);
	ctl_client_free(r->from.c);
	ctl_client_free(r->to.c);
	free(r->pre);
	free(r);
	return status;
}
