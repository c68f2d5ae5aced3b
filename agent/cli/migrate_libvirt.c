// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libvirt mode of "vdpa-migrate migrate" (vdpa-migrate(8)):
 *
 *   migrate DOMAIN --to qemu+ssh://HOST/system [--to-backend sw|accel]
 *           [--connect URI] [--socket-dir DIR] [--dry-run]
 *
 * Reads the domain's migratable XML from the source libvirtd, rewrites its
 * managed interfaces for the destination (agent/cli/domxml.c) and hands it to
 * virDomainMigrateToURI3() as the destination XML: live, peer to peer, the
 * definition moves with the guest.  The persistent (inactive) definition
 * is rewritten the same way and goes as the persistent XML, so that the
 * destination does not keep the source's interfaces for its next start.
 * Without --to-backend the XML goes as it is and the destination's hook
 * adapts it to what that host serves (the live definition only: libvirt
 * gives the hook no persistent one).
 *
 * One thread runs the migration call; another waits for SIGINT/SIGTERM
 * (blocked everywhere else) with a one-second timeout, prints the job's
 * progress on stderr each time it wakes, and turns a signal into
 * virDomainAbortJob(), tried again on every tick until it succeeds or the
 * migration call returns (a signal before libvirtd started the job would
 * be lost otherwise).  Exit statuses are those of agent/cli/cli_migrate.h.
 *
 * Trust boundary: the XML comes from libvirtd (trusted, but parsed as
 * untrusted by domxml_parse() all the same); libvirt's error messages
 * (which may quote the destination or the domain) are printed with their
 * control characters replaced (text_show()).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "agent/cli/cli_migrate.h"
#include "agent/cli/domxml.h"
#include "agent/cli/render.h"
#include "agent/common/util.h"
#include "protocol/text.h"

#define DEFAULT_CONNECT "qemu:///system"
#define DEFAULT_SOCKDIR "/run/vdpa-agent"

struct options {
	const char *domain;
	const char *to;
	const char *to_backend;		/* NULL: the XML goes unchanged */
	const char *connect;
	const char *sockdir;
	bool dry_run;
};

struct progress {
	virDomainPtr dom;
	const char *name;
	pthread_mutex_t lock;
	bool done;			/* the migration call returned */
	int signal;			/* the signal that aborted the job, or 0 */
	sigset_t sigs;
};

/* libvirt prints every error on stderr by default; we print what matters. */
static void quiet(void *data, virErrorPtr e)
{
	(void)data;
	(void)e;
}

/* libvirt's last error of this thread, cleaned for one line on stderr. */
static const char *last_error(void)
{
	static _Thread_local char buf[512];
	const char *m = virGetLastErrorMessage();

	if (!m || !m[0])
		return "unknown libvirt error";
	text_show(m, SIZE_MAX, buf, sizeof(buf));
	return buf;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	char msg[400];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line; the caller points to "vdpa-migrate migrate --help". */
	cli_error("migrate: %s", msg);
	return MIGRATE_EXIT_USAGE;
}

static int parse_args(char **args, struct options *o)
{
	static const char *const valued[] = { "--to", "--to-backend", "--connect",
					      "--socket-dir" };
	const char **dst[] = { &o->to, &o->to_backend, &o->connect, &o->sockdir };

	const size_t nvalued = ARRAY_SIZE(valued);

	for (size_t i = 0; args[i]; i++) {
		const char *v = NULL;
		size_t k;

		if (strcmp(args[i], "--dry-run") == 0) {
			if (o->dry_run)
				return usage_error("%s", "--dry-run given twice");
			o->dry_run = true;
			continue;
		}
		/* OPTION VALUE or OPTION=VALUE, as in QMP mode. */
		for (k = 0; k < nvalued; k++) {
			size_t n = strlen(valued[k]);

			if (strncmp(args[i], valued[k], n) != 0)
				continue;
			if (args[i][n] == '=') {
				v = args[i] + n + 1;
				break;
			}
			if (args[i][n] == '\0') {
				v = args[i + 1] ? args[++i] : "";
				break;
			}
		}
		if (k < nvalued) {
			if (*dst[k])
				return usage_error("%s given twice", valued[k]);
			if (!v[0])
				return usage_error("%s needs a value", valued[k]);
			*dst[k] = v;
			continue;
		}
		if (args[i][0] == '-')
			return usage_error("unknown option %s", args[i]);
		if (o->domain)
			return usage_error("one DOMAIN only (also got %s)", args[i]);
		o->domain = args[i];
	}
	if (!o->connect)
		o->connect = DEFAULT_CONNECT;
	if (!o->sockdir)
		o->sockdir = DEFAULT_SOCKDIR;
	if (!o->domain)
		return usage_error("%s", "DOMAIN is missing");
	if (!o->to)
		return usage_error("%s", "--to URI is missing");
	if (o->to_backend && strcmp(o->to_backend, "sw") != 0 &&
	    strcmp(o->to_backend, "accel") != 0)
		return usage_error("--to-backend %s: expected sw or accel", o->to_backend);
	/* Its sockets go into the destination's port SPECs (KEY=VALUE,...). */
	if (o->sockdir[0] != '/' || strchr(o->sockdir, ','))
		return usage_error("--socket-dir %s: expected an absolute path without ','",
				   o->sockdir);
	for (const char *c = o->sockdir; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return usage_error("%s", "--socket-dir: control characters in the path");
	return 0;
}

/* ---- progress ------------------------------------------------------------- */

static unsigned long long param(virTypedParameterPtr p, int n, const char *name)
{
	unsigned long long v = 0;

	if (virTypedParamsGetULLong(p, n, name, &v) <= 0)
		return 0;
	return v;
}

static void print_progress(struct progress *pr)
{
	virTypedParameterPtr p = NULL;
	int n = 0, type = 0;
	unsigned long long total, done, left, bps, ms, pass;

	if (virDomainGetJobStats(pr->dom, &type, &p, &n, 0) < 0)
		return;	/* between phases, or over: the next tick tells */
	if (type == VIR_DOMAIN_JOB_NONE) {
		virTypedParamsFree(p, n);
		return;
	}
	total = param(p, n, VIR_DOMAIN_JOB_MEMORY_TOTAL);
	done = param(p, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED);
	left = param(p, n, VIR_DOMAIN_JOB_MEMORY_REMAINING);
	bps = param(p, n, VIR_DOMAIN_JOB_MEMORY_BPS);
	ms = param(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED);
	pass = param(p, n, VIR_DOMAIN_JOB_MEMORY_ITERATION);
	virTypedParamsFree(p, n);
	cli_error("migrate %s: %llu.%01llu s, memory %llu of %llu MiB sent, "
		"%llu MiB left, %.1f MiB/s, pass %llu\n", pr->name, ms / 1000, ms % 1000 / 100,
		done >> 20, total >> 20, left >> 20, (double)bps / (1 << 20), pass);
}

/*
 * A signal asks for virDomainAbortJob(), which fails while libvirtd has not
 * started the migration job yet ("no job active"): it is tried again every
 * RETRY_NS until it succeeds or the migration call returns.
 */
#define RETRY_NS 200000000L

static void *progress_thread(void *data)
{
	struct progress *pr = data;
	bool aborted = false, told = false;

	for (;;) {
		const struct timespec tick = { 1, 0 }, retry = { 0, RETRY_NS };
		siginfo_t si;
		bool done, pending;
		int sig;

		pthread_mutex_lock(&pr->lock);
		pending = pr->signal && !aborted;
		pthread_mutex_unlock(&pr->lock);
		sig = sigtimedwait(&pr->sigs, &si, pending ? &retry : &tick);
		pthread_mutex_lock(&pr->lock);
		done = pr->done;
		if (sig > 0 && !done && !pr->signal)
			pr->signal = sig;
		pending = pr->signal && !aborted;
		pthread_mutex_unlock(&pr->lock);
		if (done)
			return NULL;
		if (sig > 0)
			cli_error("migrate %s: %s, cancelling the migration\n",
				pr->name, strsignal(sig));
		if (pending) {
			if (virDomainAbortJob(pr->dom) == 0) {
				aborted = true;
				if (told)
					cli_error("migrate %s: cancelled\n",
						pr->name);
			} else if (!told) {
				cli_error("migrate %s: cannot cancel yet: %s; "
					"trying again until the migration starts or ends\n",
					pr->name, last_error());
				told = true;
			}
			continue;
		}
		if (sig <= 0)
			print_progress(pr);
	}
}

/* ---- after a failure ---------------------------------------------------------- */

/*
 * MIGRATE_EXIT_FAILED when the guest is on the source as it was before the
 * migration (running, or in the state it had then: a domain paused before
 * stays paused), else MIGRATE_EXIT_UNKNOWN.  before is the state before the
 * migration, or -1 when unknown.
 */
static int where_is_it(virDomainPtr dom, const char *name, int before)
{
	int state = 0, reason = 0;

	if (virDomainGetState(dom, &state, &reason, 0) < 0) {
		cli_error("migrate %s: the domain's state on the source is "
			"unknown (%s): check both hosts\n", name, last_error());
		return MIGRATE_EXIT_UNKNOWN;
	}
	if (state == VIR_DOMAIN_RUNNING) {
		cli_error("migrate %s: the domain still runs on the source\n",
			name);
		return MIGRATE_EXIT_FAILED;
	}
	if (before >= 0 && state == before) {
		cli_error("migrate %s: the domain is still on the source, in "
			"the state it had before (state %d, reason %d)\n", name, state, reason);
		return MIGRATE_EXIT_FAILED;
	}
	cli_error("migrate %s: the domain is not running on the source "
		"(state %d, reason %d): check the destination\n", name, state, reason);
	return MIGRATE_EXIT_UNKNOWN;
}

/* ---- main ------------------------------------------------------------------- */

static int print_json(const struct options *o, const struct domxml *d, const char *xml,
		      const char *persist_xml, bool migrated)
{
	struct json_object *j = json_object_new_object(), *ports = json_object_new_array();
	int r = 0;

	if (!j || !ports) {
		json_object_put(j);
		json_object_put(ports);
		return -ENOMEM;
	}
	json_object_object_add(j, "domain", json_object_new_string(o->domain));
	json_object_object_add(j, "to", json_object_new_string(o->to));
	if (o->to_backend)
		json_object_object_add(j, "to_backend", json_object_new_string(o->to_backend));
	for (size_t i = 0; i < domxml_nports(d); i++) {
		const struct domxml_port *p = domxml_port(d, i);
		struct json_object *e = json_object_new_object();

		if (!e)
			continue;
		json_object_object_add(e, "name", json_object_new_string(p->name));
		json_object_object_add(e, "type", json_object_new_string(
			p->type == DOMXML_IF_VDPA ? "vdpa" : "vhostuser"));
		json_object_object_add(e, p->type == DOMXML_IF_VDPA ? "device" : "socket",
				       json_object_new_string(p->type == DOMXML_IF_VDPA ?
							      p->vdpa_dev : p->socket));
		json_object_array_add(ports, e);
	}
	json_object_object_add(j, "ports", ports);
	if (xml)
		json_object_object_add(j, "dest_xml", json_object_new_string(xml));
	if (xml && persist_xml)
		json_object_object_add(j, "persist_xml", json_object_new_string(persist_xml));
	if (!xml)
		json_object_object_add(j, "migrated", json_object_new_boolean(migrated));
	if (render_json(j, stdout) < 0)
		r = -EIO;
	json_object_put(j);
	return r;
}

static int migrate(const struct options *o, virDomainPtr dom, const char *dest_xml,
		   const char *persist_xml)
{
	unsigned int flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
			     VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_ABORT_ON_ERROR;
	struct progress pr = { .dom = dom, .name = o->domain, .lock = PTHREAD_MUTEX_INITIALIZER };
	virTypedParameterPtr params = NULL;
	int nparams = 0, maxparams = 0, r, status, before = -1, reason;
	sigset_t old;
	pthread_t th;

	if ((dest_xml && virTypedParamsAddString(&params, &nparams, &maxparams,
						 VIR_MIGRATE_PARAM_DEST_XML, dest_xml) < 0) ||
	    (persist_xml && virTypedParamsAddString(&params, &nparams, &maxparams,
						    VIR_MIGRATE_PARAM_PERSIST_XML,
						    persist_xml) < 0)) {
		cli_error("migrate %s: %s\n", o->domain, last_error());
		virTypedParamsFree(params, nparams);
		return MIGRATE_EXIT_FAILED;
	}
	/* Where "still on the source" is after a failure: as it is now. */
	if (virDomainGetState(dom, &before, &reason, 0) < 0)
		before = -1;
	sigemptyset(&pr.sigs);
	sigaddset(&pr.sigs, SIGINT);
	sigaddset(&pr.sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &pr.sigs, &old);
	r = pthread_create(&th, NULL, progress_thread, &pr);
	if (r != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		virTypedParamsFree(params, nparams);
		cli_error("migrate %s: %s\n", o->domain, strerror(r));
		return MIGRATE_EXIT_FAILED;
	}
	cli_error("migrate %s: to %s%s%s\n", o->domain, o->to,
		dest_xml ? " with the rewritten domain XML" : "",
		persist_xml ? (dest_xml ? " and persistent definition" :
			       " with the rewritten persistent definition") : "");
	r = virDomainMigrateToURI3(dom, o->to, params, (unsigned int)nparams, flags);
	pthread_mutex_lock(&pr.lock);
	pr.done = true;
	pthread_mutex_unlock(&pr.lock);
	pthread_kill(th, SIGTERM);	/* wakes it; it sees done and ends */
	pthread_join(th, NULL);
	virTypedParamsFree(params, nparams);
	/* A signal that came after the call returned must not kill us now. */
	{
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pr.sigs, NULL, &zero) > 0)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		cli_error("migrate %s: done, the domain runs on %s\n",
			o->domain, o->to);
		return MIGRATE_EXIT_OK;
	}
	cli_error("migrate %s: failed: %s\n", o->domain, last_error());
	status = where_is_it(dom, o->domain, before);
	if (pr.signal && status == MIGRATE_EXIT_FAILED)
		return MIGRATE_EXIT_INTERRUPTED;
	return status;
}

int migrate_libvirt_main(char **args, bool json)
{
	struct options o = { 0 };
	struct domxml_error err = { "" };
	struct domxml *d = NULL, *pd = NULL;
	virConnectPtr conn = NULL;
	virDomainPtr dom = NULL;
	char *xml = NULL, *dest = NULL, *pxml = NULL, *persist = NULL;
	size_t len = 0, plen = 0;
	bool changed = false, pchanged = false;
	int status, r;

	status = parse_args(args, &o);
	if (status != 0)
		return status;
	if (virInitialize() < 0) {
		cli_error("migrate: cannot initialize libvirt\n");
		return MIGRATE_EXIT_FAILED;
	}
	virSetErrorFunc(NULL, quiet);

	status = MIGRATE_EXIT_FAILED;
	conn = virConnectOpen(o.connect);
	if (!conn) {
		cli_error("migrate: cannot connect to %s: %s\n", o.connect,
			last_error());
		goto out;
	}
	dom = virDomainLookupByName(conn, o.domain);
	if (!dom)
		dom = virDomainLookupByUUIDString(conn, o.domain);
	if (!dom) {
		cli_error("migrate: no domain %s on %s\n", o.domain, o.connect);
		goto out;
	}
	xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_MIGRATABLE);
	if (!xml) {
		cli_error("migrate %s: cannot get its XML: %s\n", o.domain,
			last_error());
		goto out;
	}
	status = MIGRATE_EXIT_REFUSED;
	r = domxml_parse(xml, strlen(xml), o.sockdir, &d, &err);
	if (r < 0) {
		cli_error("migrate %s: domain XML: %s\n", o.domain, err.message);
		goto out;
	}
	if (o.to_backend) {
		enum domxml_target t = DOMXML_TO_SW;

		(void)domxml_target_parse(o.to_backend, &t);
		r = domxml_rewrite(d, t, o.sockdir, &changed, &err);
		if (r < 0) {
			cli_error("migrate %s: %s\n", o.domain, err.message);
			goto out;
		}
		/*
		 * The persistent definition, rewritten the same way: with
		 * VIR_MIGRATE_PERSIST_DEST libvirt defines the domain on the
		 * destination from the source's, whatever the destination XML
		 * says, unless it gets VIR_MIGRATE_PARAM_PERSIST_XML.
		 */
		status = MIGRATE_EXIT_FAILED;
		pxml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE |
					   VIR_DOMAIN_XML_MIGRATABLE);
		if (!pxml) {
			cli_error("migrate %s: cannot get its persistent XML: "
				"%s\n", o.domain, last_error());
			goto out;
		}
		status = MIGRATE_EXIT_REFUSED;
		r = domxml_parse(pxml, strlen(pxml), o.sockdir, &pd, &err);
		if (r == 0)
			r = domxml_rewrite(pd, t, o.sockdir, &pchanged, &err);
		if (r < 0) {
			cli_error("migrate %s: persistent domain XML: %s\n",
				o.domain, err.message);
			goto out;
		}
		if (o.dry_run || pchanged) {
			r = domxml_format(pd, &persist, &plen);
			if (r < 0) {
				cli_error("migrate %s: %s\n", o.domain,
					strerror(-r));
				goto out;
			}
		}
	}
	if (domxml_nports(d) == 0)
		cli_error("migrate %s: no managed interfaces (see HOOK in "
			"vdpa-migrate(8)); the domain migrates as libvirt would move it\n", o.domain);
	if (o.dry_run || changed) {
		r = domxml_format(d, &dest, &len);
		if (r < 0) {
			cli_error("migrate %s: %s\n", o.domain, strerror(-r));
			goto out;
		}
	}
	if (o.dry_run) {
		r = json ? print_json(&o, d, dest, persist, false)
			 : (fwrite(dest, 1, len, stdout) == len ? 0 : -EIO);
		if (r == 0 && fflush(stdout) != 0)
			r = -EIO;
		status = r == 0 ? MIGRATE_EXIT_OK : MIGRATE_EXIT_FAILED;
		if (r < 0)
			cli_error("migrate %s: cannot write the XML\n", o.domain);
		goto out;
	}
	r = virDomainIsActive(dom);
	if (r != 1) {
		cli_error("migrate %s: %s\n", o.domain,
			r == 0 ? "the domain is not running" : last_error());
		goto out;
	}
	status = migrate(&o, dom, changed ? dest : NULL, pchanged ? persist : NULL);
	if (json && (status == MIGRATE_EXIT_OK || status == MIGRATE_EXIT_FAILED ||
		     status == MIGRATE_EXIT_INTERRUPTED))
		(void)print_json(&o, d, NULL, NULL, status == MIGRATE_EXIT_OK);
out:
	free(dest);
	free(xml);
	free(persist);
	free(pxml);
	domxml_free(d);
	domxml_free(pd);
	if (dom)
		virDomainFree(dom);
	if (conn)
		virConnectClose(conn);
	return status;
}
