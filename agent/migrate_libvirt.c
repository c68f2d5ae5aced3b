// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libvirt mode of "vdpa-migrate migrate" (vdpa-migrate(8)):
 *
 *   migrate DOMAIN --to qemu+ssh://HOST/system [--to-backend sw|accel]
 *           [--connect URI] [--socket-dir DIR] [--dry-run]
 *
 * Reads the domain's migratable XML from the source libvirtd, rewrites its
 * managed interfaces for the destination (agent/domxml.c) and hands it to
 * virDomainMigrateToURI3() as the destination XML: live, peer to peer, the
 * definition moves with the guest.  Without --to-backend the XML goes as it
 * is and the destination's hook adapts it to what that host serves.
 *
 * One thread runs the migration call; another waits for SIGINT/SIGTERM
 * (blocked everywhere else) with a one-second timeout, prints the job's
 * progress on stderr each time it wakes, and turns a signal into
 * virDomainAbortJob().  Exit statuses are those of agent/cli_migrate.h.
 *
 * Trust boundary: the XML comes from libvirtd (trusted, but parsed as
 * untrusted by domxml_parse() all the same); libvirt's error messages are
 * printed as they are.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "agent/cli_migrate.h"
#include "agent/domxml.h"

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

static const char *last_error(void)
{
	const char *m = virGetLastErrorMessage();

	return m && m[0] ? m : "unknown libvirt error";
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vdpa-migrate: migrate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nUsage: vdpa-migrate migrate DOMAIN --to URI [--to-backend sw|accel] "
	      "[--connect URI] [--socket-dir DIR] [--dry-run]\n", stderr);
	return MIGRATE_EXIT_USAGE;
}

static int parse_args(char **args, struct options *o)
{
	static const char *const valued[] = { "--to", "--to-backend", "--connect",
					      "--socket-dir" };
	const char **dst[] = { &o->to, &o->to_backend, &o->connect, &o->sockdir };

	o->connect = DEFAULT_CONNECT;
	o->sockdir = DEFAULT_SOCKDIR;
	for (size_t i = 0; args[i]; i++) {
		size_t k;

		if (strcmp(args[i], "--dry-run") == 0) {
			o->dry_run = true;
			continue;
		}
		for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if (strcmp(args[i], valued[k]) == 0)
				break;
		if (k < sizeof(valued) / sizeof(valued[0])) {
			if (!args[i + 1] || !args[i + 1][0])
				return usage_error("%s needs a value", args[i]);
			*dst[k] = args[++i];
			continue;
		}
		if (args[i][0] == '-')
			return usage_error("unknown option %s", args[i]);
		if (o->domain)
			return usage_error("one DOMAIN only (also got %s)", args[i]);
		o->domain = args[i];
	}
	if (!o->domain)
		return usage_error("%s", "DOMAIN is missing");
	if (!o->to)
		return usage_error("%s", "--to URI is missing");
	if (o->to_backend && strcmp(o->to_backend, "sw") != 0 &&
	    strcmp(o->to_backend, "accel") != 0)
		return usage_error("--to-backend %s: expected sw or accel", o->to_backend);
	if (o->sockdir[0] != '/')
		return usage_error("--socket-dir %s: expected an absolute path", o->sockdir);
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
	fprintf(stderr, "vdpa-migrate: migrate %s: %llu.%01llu s, memory %llu of %llu MiB sent, "
		"%llu MiB left, %.1f MiB/s, pass %llu\n", pr->name, ms / 1000, ms % 1000 / 100,
		done >> 20, total >> 20, left >> 20, (double)bps / (1 << 20), pass);
}

static void *progress_thread(void *data)
{
	struct progress *pr = data;
	const struct timespec tick = { 1, 0 };

	for (;;) {
		siginfo_t si;
		bool done;
		int sig = sigtimedwait(&pr->sigs, &si, &tick);

		pthread_mutex_lock(&pr->lock);
		done = pr->done;
		if (sig > 0 && !done && !pr->signal)
			pr->signal = sig;
		pthread_mutex_unlock(&pr->lock);
		if (done)
			return NULL;
		if (sig > 0) {
			fprintf(stderr, "vdpa-migrate: migrate %s: %s, cancelling the migration\n",
				pr->name, strsignal(sig));
			if (virDomainAbortJob(pr->dom) < 0)
				fprintf(stderr, "vdpa-migrate: migrate %s: cannot cancel: %s\n",
					pr->name, last_error());
			continue;
		}
		print_progress(pr);
	}
}

/* ---- after a failure ---------------------------------------------------------- */

/* MIGRATE_EXIT_FAILED when the guest runs on the source, else MIGRATE_EXIT_UNKNOWN. */
static int where_is_it(virDomainPtr dom, const char *name)
{
	int state = 0, reason = 0;

	if (virDomainGetState(dom, &state, &reason, 0) < 0) {
		fprintf(stderr, "vdpa-migrate: migrate %s: the domain's state on the source is "
			"unknown (%s): check both hosts\n", name, last_error());
		return MIGRATE_EXIT_UNKNOWN;
	}
	if (state == VIR_DOMAIN_RUNNING) {
		fprintf(stderr, "vdpa-migrate: migrate %s: the domain still runs on the source\n",
			name);
		return MIGRATE_EXIT_FAILED;
	}
	fprintf(stderr, "vdpa-migrate: migrate %s: the domain is not running on the source "
		"(state %d, reason %d): check the destination\n", name, state, reason);
	return MIGRATE_EXIT_UNKNOWN;
}

/* ---- main ------------------------------------------------------------------- */

static int print_json(const struct options *o, const struct domxml *d, const char *xml,
		      bool migrated)
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
	else
		json_object_object_add(j, "migrated", json_object_new_boolean(migrated));
	if (printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_SPACED)) < 0)
		r = -EIO;
	json_object_put(j);
	return r;
}

static int migrate(const struct options *o, virDomainPtr dom, const char *dest_xml)
{
	unsigned int flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
			     VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_ABORT_ON_ERROR;
	struct progress pr = { .dom = dom, .name = o->domain, .lock = PTHREAD_MUTEX_INITIALIZER };
	virTypedParameterPtr params = NULL;
	int nparams = 0, maxparams = 0, r, status;
	sigset_t old;
	pthread_t th;

	if (dest_xml && virTypedParamsAddString(&params, &nparams, &maxparams,
						VIR_MIGRATE_PARAM_DEST_XML, dest_xml) < 0) {
		fprintf(stderr, "vdpa-migrate: migrate %s: %s\n", o->domain, last_error());
		return MIGRATE_EXIT_FAILED;
	}
	sigemptyset(&pr.sigs);
	sigaddset(&pr.sigs, SIGINT);
	sigaddset(&pr.sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &pr.sigs, &old);
	r = pthread_create(&th, NULL, progress_thread, &pr);
	if (r != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		virTypedParamsFree(params, nparams);
		fprintf(stderr, "vdpa-migrate: migrate %s: %s\n", o->domain, strerror(r));
		return MIGRATE_EXIT_FAILED;
	}
	fprintf(stderr, "vdpa-migrate: migrate %s: to %s%s\n", o->domain, o->to,
		dest_xml ? " with the rewritten domain XML" : "");
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
		fprintf(stderr, "vdpa-migrate: migrate %s: done, the domain runs on %s\n",
			o->domain, o->to);
		return MIGRATE_EXIT_OK;
	}
	fprintf(stderr, "vdpa-migrate: migrate %s: failed: %s\n", o->domain, last_error());
	status = where_is_it(dom, o->domain);
	if (pr.signal && status == MIGRATE_EXIT_FAILED)
		return MIGRATE_EXIT_INTERRUPTED;
	return status;
}

int migrate_libvirt_main(char **args, bool json)
{
	struct options o = { 0 };
	struct domxml_error err = { "" };
	struct domxml *d = NULL;
	virConnectPtr conn = NULL;
	virDomainPtr dom = NULL;
	char *xml = NULL, *dest = NULL;
	size_t len = 0;
	bool changed = false;
	int status, r;

	status = parse_args(args, &o);
	if (status != 0)
		return status;
	if (virInitialize() < 0) {
		fputs("vdpa-migrate: migrate: cannot initialize libvirt\n", stderr);
		return MIGRATE_EXIT_FAILED;
	}
	virSetErrorFunc(NULL, quiet);

	status = MIGRATE_EXIT_FAILED;
	conn = virConnectOpen(o.connect);
	if (!conn) {
		fprintf(stderr, "vdpa-migrate: migrate: cannot connect to %s: %s\n", o.connect,
			last_error());
		goto out;
	}
	dom = virDomainLookupByName(conn, o.domain);
	if (!dom)
		dom = virDomainLookupByUUIDString(conn, o.domain);
	if (!dom) {
		fprintf(stderr, "vdpa-migrate: migrate: no domain %s on %s\n", o.domain, o.connect);
		goto out;
	}
	xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_MIGRATABLE);
	if (!xml) {
		fprintf(stderr, "vdpa-migrate: migrate %s: cannot get its XML: %s\n", o.domain,
			last_error());
		goto out;
	}
	status = MIGRATE_EXIT_REFUSED;
	r = domxml_parse(xml, strlen(xml), o.sockdir, &d, &err);
	if (r < 0) {
		fprintf(stderr, "vdpa-migrate: migrate %s: domain XML: %s\n", o.domain, err.message);
		goto out;
	}
	if (o.to_backend) {
		enum domxml_target t = DOMXML_TO_SW;

		(void)domxml_target_parse(o.to_backend, &t);
		r = domxml_rewrite(d, t, o.sockdir, &changed, &err);
		if (r < 0) {
			fprintf(stderr, "vdpa-migrate: migrate %s: %s\n", o.domain, err.message);
			goto out;
		}
	}
	if (domxml_nports(d) == 0)
		fprintf(stderr, "vdpa-migrate: migrate %s: no managed interfaces (see HOOK in "
			"vdpa-migrate(8)); the domain migrates as libvirt would move it\n", o.domain);
	if (o.dry_run || changed) {
		r = domxml_format(d, &dest, &len);
		if (r < 0) {
			fprintf(stderr, "vdpa-migrate: migrate %s: %s\n", o.domain, strerror(-r));
			goto out;
		}
	}
	if (o.dry_run) {
		r = json ? print_json(&o, d, dest, false)
			 : (fwrite(dest, 1, len, stdout) == len ? 0 : -EIO);
		if (r == 0 && fflush(stdout) != 0)
			r = -EIO;
		status = r == 0 ? MIGRATE_EXIT_OK : MIGRATE_EXIT_FAILED;
		if (r < 0)
			fprintf(stderr, "vdpa-migrate: migrate %s: cannot write the XML\n", o.domain);
		goto out;
	}
	r = virDomainIsActive(dom);
	if (r != 1) {
		fprintf(stderr, "vdpa-migrate: migrate %s: %s\n", o.domain,
			r == 0 ? "the domain is not running" : last_error());
		goto out;
	}
	status = migrate(&o, dom, changed ? dest : NULL);
	if (json && (status == MIGRATE_EXIT_OK || status == MIGRATE_EXIT_FAILED ||
		     status == MIGRATE_EXIT_INTERRUPTED))
		(void)print_json(&o, d, NULL, status == MIGRATE_EXIT_OK);
out:
	free(dest);
	free(xml);
	domxml_free(d);
	if (dom)
		virDomainFree(dom);
	if (conn)
		virConnectClose(conn);
	return status;
}
