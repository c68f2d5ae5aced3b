// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Migration precheck; see precheck.h.
 *
 * Trust boundary: both replies come from agents (one possibly remote,
 * through ssh).  Every member a rule reads is checked for type and range
 * before it is used, and a reply that lacks one is an error (-EBADMSG),
 * not a pass: a precheck that cannot read a value must not say "fine".
 * Text from the replies is copied into fixed fields, cut to fit; the
 * printer replaces control characters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agent/cli/ctl_client.h"
#include "agent/cli/precheck.h"
#include "protocol/port_view.h"
#include "protocol/text.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(b) (UINT64_C(1) << (b))

/* Not guest features: vhost's LOG_ALL and vhost-user's PROTOCOL_FEATURES. */
#define NOT_GUEST_FEATURES (BIT(26) | BIT(30))
#define DEFAULT_MTU 1500

static const struct {
	unsigned bit;
	const char *name;
} virtio_net_features[] = {
	{ 0, "CSUM" }, { 1, "GUEST_CSUM" }, { 2, "CTRL_GUEST_OFFLOADS" }, { 3, "MTU" },
	{ 5, "MAC" }, { 7, "GUEST_TSO4" }, { 8, "GUEST_TSO6" }, { 9, "GUEST_ECN" },
	{ 10, "GUEST_UFO" }, { 11, "HOST_TSO4" }, { 12, "HOST_TSO6" }, { 13, "HOST_ECN" },
	{ 14, "HOST_UFO" }, { 15, "MRG_RXBUF" }, { 16, "STATUS" }, { 17, "CTRL_VQ" },
	{ 18, "CTRL_RX" }, { 19, "CTRL_VLAN" }, { 20, "CTRL_RX_EXTRA" },
	{ 21, "GUEST_ANNOUNCE" }, { 22, "MQ" }, { 23, "CTRL_MAC_ADDR" },
	{ 24, "NOTIFY_ON_EMPTY" }, { 27, "ANY_LAYOUT" }, { 28, "INDIRECT_DESC" },
	{ 29, "EVENT_IDX" }, { 32, "VERSION_1" }, { 33, "ACCESS_PLATFORM" },
	{ 34, "RING_PACKED" }, { 35, "IN_ORDER" }, { 36, "ORDER_PLATFORM" },
	{ 37, "SR_IOV" }, { 38, "NOTIFICATION_DATA" }, { 57, "HASH_REPORT" },
	{ 60, "RSS" }, { 61, "RSC_EXT" }, { 62, "STANDBY" }, { 63, "SPEED_DUPLEX" },
};

static void feature_name(unsigned bit, char *buf, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(virtio_net_features); i++) {
		if (virtio_net_features[i].bit == bit) {
			snprintf(buf, len, "%s", virtio_net_features[i].name);
			return;
		}
	}
	snprintf(buf, len, "bit%u", bit);
}

static void add(struct precheck_result *res, enum precheck_severity sev, const char *what,
		const char *src, const char *dst, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Adds an issue; past PRECHECK_MAX_ISSUES only the verdict still counts it. */
static void add(struct precheck_result *res, enum precheck_severity sev, const char *what,
		const char *src, const char *dst, const char *fmt, ...)
{
	struct precheck_issue *is;
	va_list ap;

	if (sev == PRECHECK_REFUSE)
		res->refused = true;
	if (res->n >= PRECHECK_MAX_ISSUES)
		return;
	is = &res->issue[res->n++];
	is->severity = sev;
	snprintf(is->what, sizeof(is->what), "%s", what);
	snprintf(is->source, sizeof(is->source), "%s", src);
	snprintf(is->dest, sizeof(is->dest), "%s", dst);
	va_start(ap, fmt);
	vsnprintf(is->consequence, sizeof(is->consequence), fmt, ap);
	va_end(ap);
}

/* ---- reading replies ------------------------------------------------- */

/*
 * What the rules read (protocol/port_view.h checks types and bounds of
 * everything present; these must be present).  mtu and mac are optional:
 * an unset MTU is Ethernet's 1500, an unset MAC is the guest's own.
 */
static const struct port_view_need source_need = {
	.port = PV_BIT(PV_NAME) | PV_BIT(PV_STATE) | PV_BIT(PV_BACKEND) | PV_BIT(PV_QUEUES) |
		PV_BIT(PV_FEATURES) | PV_BIT(PV_RINGS),
	.ring = PV_BIT(PV_RING_INDEX) | PV_BIT(PV_RING_SIZE),
};

#define DEST_NEED (PV_BIT(PV_NAME) | PV_BIT(PV_BACKEND) | PV_BIT(PV_QUEUES) | \
		   PV_BIT(PV_OFFERED_FEATURES) | PV_BIT(PV_MAX_RING_SIZE))
static const struct port_view_need dest_show_need = { .port = DEST_NEED | PV_BIT(PV_STATE) };
static const struct port_view_need dest_offer_need = { .port = DEST_NEED };

/* Passes r on; when it is an error, err's message says which agent's reply it is about. */
static int which_reply(int r, const char *side, struct ctl_error *err)
{
	size_t n = strlen(side) + 1, k;

	if (r < 0 && n < sizeof(err->message)) {
		/* The reason may lose its end, not the side. */
		k = strnlen(err->message, sizeof(err->message) - 1 - n);
		memmove(err->message + n, err->message, k);
		memcpy(err->message, side, n - 1);
		err->message[n - 1] = ' ';
		err->message[n + k] = '\0';
	}
	return r;
}

static int read_source(struct json_object *reply, struct port_view *s, struct ctl_error *err)
{
	return which_reply(port_view_decode_show(reply, &source_need, s, err), "source", err);
}

/* The destination: a port-show reply (a "port" object) or a port-offer reply. */
static int read_dest(struct json_object *reply, struct port_view *d, bool *ret_show,
		     struct ctl_error *err)
{
	struct json_object *p;
	int r;

	*ret_show = json_object_object_get_ex(reply, "port", &p) &&
		    json_object_is_type(p, json_type_object);
	if (*ret_show)
		r = port_view_decode_show(reply, &dest_show_need, d, err);
	else
		r = port_view_decode_offer(reply, &dest_offer_need, d, err);
	return which_reply(r, "destination", err);
}

/* ---- the rules ----------------------------------------------------------- */

static void check_features(const struct port_view *s, const struct port_view *d,
			   struct precheck_result *res)
{
	uint64_t lacking = s->features & ~NOT_GUEST_FEATURES & ~d->offered_features;

	for (unsigned bit = 0; bit < 64; bit++) {
		char what[40], name[24];

		if (!(lacking & BIT(bit)))
			continue;
		feature_name(bit, name, sizeof(name));
		snprintf(what, sizeof(what), "feature %s", name);
		add(res, PRECHECK_REFUSE, what, "negotiated", "not offered",
		    "the guest uses %s, which the destination does not offer: QEMU there would "
		    "refuse the virtio-net device state only after all guest memory has been "
		    "copied", name);
	}
}

static void check_queues(const struct port_view *s, const struct port_view *d,
			 struct precheck_result *res)
{
	uint32_t sq = s->summary.queues, dq = d->summary.queues;
	char a[24], b[24];

	if (dq >= sq)
		return;
	snprintf(a, sizeof(a), "%" PRIu32, sq);
	snprintf(b, sizeof(b), "%" PRIu32, dq);
	add(res, PRECHECK_REFUSE, "queues", a, b,
	    "QEMU on the destination is set up for %" PRIu32 " queue pairs and the port serves "
	    "%" PRIu32 ": it would fail to start the device", sq, dq);
}

static bool has(const struct port_view *v, enum port_view_member m)
{
	return v->has & PV_BIT(m);
}

static void check_mtu(const struct port_view *s, const struct port_view *d,
		      struct precheck_result *res)
{
	uint64_t sm = has(s, PV_MTU) ? s->mtu : DEFAULT_MTU, dm = has(d, PV_MTU) ? d->mtu : DEFAULT_MTU;
	char a[32], b[32];

	if (sm == dm)
		return;
	snprintf(a, sizeof(a), "%" PRIu64 "%s", sm, has(s, PV_MTU) ? "" : " (default)");
	snprintf(b, sizeof(b), "%" PRIu64 "%s", dm, has(d, PV_MTU) ? "" : " (default)");
	if (dm < sm)
		add(res, PRECHECK_REFUSE, "mtu", a, b,
		    "the guest keeps sending frames of up to %" PRIu64 " bytes, which the "
		    "destination's %" PRIu64 "-byte link would drop", sm, dm);
	else
		add(res, PRECHECK_WARN, "mtu", a, b,
		    "the guest keeps its MTU of %" PRIu64 " until its driver restarts; the larger "
		    "MTU is not used before then", sm);
}

static void check_mac(const struct port_view *s, const struct port_view *d,
		      struct precheck_result *res)
{
	if (!has(s, PV_MAC) || !has(d, PV_MAC) || strcasecmp(s->mac, d->mac) == 0)
		return;
	add(res, PRECHECK_REFUSE, "mac", s->mac, d->mac,
	    "the guest keeps its address %.20s while the destination port is set up for "
	    "another, so its traffic would go astray", s->mac);
}

static void check_rings(const struct port_view *s, const struct port_view *d,
			struct precheck_result *res)
{
	for (unsigned i = 0; i < s->nrings; i++) {
		const struct port_view_ring *r = &s->ring[i];
		char what[40], a[24], b[32];

		if (r->size <= d->max_ring_size)
			continue;
		snprintf(what, sizeof(what), "ring %" PRIu32 " size", r->index);
		snprintf(a, sizeof(a), "%" PRIu32, r->size);
		snprintf(b, sizeof(b), "at most %" PRIu32, d->max_ring_size);
		add(res, PRECHECK_REFUSE, what, a, b,
		    "the destination cannot run a ring of %" PRIu32 " descriptors: QEMU would fail "
		    "to start it after all guest memory has been copied", r->size);
	}
}

/*
 * A destination port that runs on its accelerator says which ring-layout
 * features its device lacks (agents newer than the issue-14 phases): a
 * guest that negotiated one of them is served by the software path there, not by the
 * device, for as long as it keeps the feature (the port offers it, so a
 * driver that renegotiates takes it again).  Not a refusal: nothing is
 * lost, the guest only runs slower.
 */
static void check_device(const struct port_view *s, const struct port_view *d,
			 struct precheck_result *res)
{
	const struct port_view_accel *a = &d->accel;
	uint64_t missing;

	if (!has(d, PV_ACCEL) || !(a->has & PV_BIT(PV_ACCEL_UNSERVED_FEATURES)))
		return;
	missing = s->features & a->unserved_features;
	for (unsigned bit = 0; bit < 64; bit++) {
		char what[40], name[24];

		if (!(missing & BIT(bit)))
			continue;
		feature_name(bit, name, sizeof(name));
		snprintf(what, sizeof(what), "device feature %s", name);
		add(res, PRECHECK_WARN, what, "negotiated", "not on the device",
		    "the destination's device %.60s lacks %s, which the guest uses: the port "
		    "there serves the guest in software, not on the device", a->device, name);
	}
}

static void compare(const struct port_view *s, const struct port_view *d, bool show,
		    const char *to_backend, struct precheck_result *out)
{
	const char *sstate = s->summary.state, *dbackend = d->summary.backend;

	memset(out, 0, sizeof(*out));
	snprintf(out->port, sizeof(out->port), "%s", s->summary.name);
	snprintf(out->dest_backend, sizeof(out->dest_backend), "%.*s",
		 (int)sizeof(out->dest_backend) - 1, to_backend ? to_backend : dbackend);
	out->dest_exists = show;

	if (strcmp(sstate, "listening") == 0 || (s->features & ~NOT_GUEST_FEATURES) == 0) {
		add(out, PRECHECK_REFUSE, "source port", sstate, "-",
		    "the guest has not negotiated the device; nothing to compare");
		return;
	}
	if (show && to_backend && strcmp(to_backend, dbackend) != 0) {
		char a[32];

		snprintf(a, sizeof(a), "--to-backend %s", to_backend);
		add(out, PRECHECK_REFUSE, "backend", a, dbackend,
		    "the destination port %.31s is configured for backend=%.8s, not %.8s: the "
		    "guest would run on %.8s there; change the port or --to-backend",
		    d->summary.name, dbackend, to_backend, dbackend);
	}
	/*
	 * "connected" is the normal case: the destination QEMU waits with
	 * -incoming and has connected already (its rings start only with the
	 * migrated state).  Rings running there belong to a live guest.
	 */
	if (show && strcmp(d->summary.state, "running") == 0)
		add(out, PRECHECK_REFUSE, "destination port", "-", d->summary.state,
		    "the destination port already carries a running guest and takes only one "
		    "front end, so the migrated guest could not use it");
	check_features(s, d, out);
	check_queues(s, d, out);
	check_mtu(s, d, out);
	check_mac(s, d, out);
	check_rings(s, d, out);
	if (!to_backend || strcmp(to_backend, "accel") == 0)
		check_device(s, d, out);
}

int precheck_compare(struct json_object *src, struct json_object *dst, const char *to_backend,
		     struct precheck_result *res, struct ctl_error *err)
{
	struct port_view *s = malloc(sizeof(*s)), *d = malloc(sizeof(*d));
	struct precheck_result *out = malloc(sizeof(*out));
	bool show;
	int r = -ENOMEM;

	if (!s || !d || !out)
		ctl_errorf(err, "%s", strerror(ENOMEM));
	else if ((r = read_source(src, s, err)) == 0 && (r = read_dest(dst, d, &show, err)) == 0) {
		compare(s, d, show, to_backend, out);
		*res = *out;
	}
	free(s);
	free(d);
	free(out);
	return r;
}

/* ---- talking to the agents ------------------------------------------------ */

/* One request to the agent at addr; err is prefixed with which agent. */
static int call(const char *side, const char *addr, const struct ctl_request *req,
		struct json_object **ret, struct ctl_error *err)
{
	struct ctl_client *c = NULL;
	struct ctl_error e = { "", "" };
	int r;

	r = ctl_client_open(addr, CTL_CLIENT_TIMEOUT_MS, &c, &e);
	if (r == 0)
		r = ctl_client_call(c, req, ret, &e);
	ctl_client_free(c);
	if (r < 0) {
		/* Truncation is fine: the agent's reason comes last. */
		int n = snprintf(err->message, sizeof(err->message), "%s agent %.100s: ", side,
				 addr);

		if (n > 0 && (size_t)n < sizeof(err->message)) {
			size_t k = strnlen(e.message, sizeof(err->message) - (size_t)n - 1);

			memcpy(err->message + n, e.message, k);
			err->message[(size_t)n + k] = '\0';
		}
		memcpy(err->field, e.field, sizeof(err->field));
	}
	return r;
}

/*
 * The source's SPEC for port-offer: backend= replaced by backend, device=,
 * harvest-ms= and dirty-tracking= (accelerator keys) dropped.  -ENAMETOOLONG when it does
 * not fit a request.
 */
static int offer_spec(const char *spec, const char *backend, char *out, size_t cap)
{
	size_t n = 0;
	const char *p = spec;
	int w;

	out[0] = '\0';
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (!(len >= 8 && strncmp(p, "backend=", 8) == 0) &&
		    !(len >= 7 && strncmp(p, "device=", 7) == 0) &&
		    !(len >= 11 && strncmp(p, "harvest-ms=", 11) == 0) &&
		    !(len >= 15 && strncmp(p, "dirty-tracking=", 15) == 0)) {
			w = snprintf(out + n, cap - n, "%s%.*s", n ? "," : "", (int)len, p);
			if (w < 0 || (size_t)w >= cap - n)
				return -ENAMETOOLONG;
			n += (size_t)w;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	w = snprintf(out + n, cap - n, "%sbackend=%s", n ? "," : "", backend);
	if (w < 0 || (size_t)w >= cap - n)
		return -ENAMETOOLONG;
	return 0;
}

int precheck_run(const char *from_agent, const char *port, const char *to_agent,
		 const char *to_backend, struct precheck_result *res, struct ctl_error *err)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_SHOW };
	static const struct port_view_need spec_need = {
		.port = PV_BIT(PV_SPEC) | PV_BIT(PV_BACKEND),
	};
	struct json_object *src = NULL, *dst = NULL;
	struct port_view *sv = NULL;
	int r;

	if (strlen(port) > CTL_NAME_MAX) {
		ctl_errorf(err, "port name '%.40s' is longer than %d bytes", port, CTL_NAME_MAX);
		return -EINVAL;
	}
	strcpy(req.name, port);
	r = call("source", from_agent, &req, &src, err);
	if (r < 0)
		return r;
	r = call("destination", to_agent, &req, &dst, err);
	if (r == -EREMOTEIO && strcmp(err->field, "name") == 0) {
		/* No such port there: what would one made from the source's SPEC offer? */
		sv = malloc(sizeof(*sv));
		if (!sv) {
			ctl_errorf(err, "%s", strerror(ENOMEM));
			r = -ENOMEM;
			goto out;
		}
		r = which_reply(port_view_decode_show(src, &spec_need, sv, err), "source", err);
		if (r < 0)
			goto out;
		if (!to_backend)
			to_backend = sv->summary.backend;
		if (strcmp(to_backend, "sw") != 0) {
			struct precheck_result out;
			char dest[64];

			memset(&out, 0, sizeof(out));
			snprintf(out.port, sizeof(out.port), "%s", port);
			snprintf(out.dest_backend, sizeof(out.dest_backend), "%.*s",
				 (int)sizeof(out.dest_backend) - 1, to_backend);
			snprintf(dest, sizeof(dest), "no port %s", port);
			add(&out, PRECHECK_REFUSE, "destination port", "-", dest,
			    "destination has no port %s and an accel port needs a device; add the "
			    "port there (port add) and run the precheck again", port);
			*res = out;
			r = 0;
			goto out;
		}
		req = (struct ctl_request){ .cmd = CTL_CMD_PORT_OFFER };
		if (offer_spec(sv->spec, to_backend, req.spec, sizeof(req.spec)) < 0) {
			ctl_errorf(err, "the source port's spec is too long for port-offer");
			r = -EMSGSIZE;
			goto out;
		}
		r = call("destination", to_agent, &req, &dst, err);
	}
	if (r < 0)
		goto out;
	r = precheck_compare(src, dst, to_backend, res, err);
out:
	free(sv);
	json_object_put(src);
	json_object_put(dst);
	return r;
}

/* ---- output ------------------------------------------------------------ */

/* s cleaned for the terminal (text_show()); every s is a field of a result, < 256 bytes. */
static void put(FILE *f, const char *s)
{
	char buf[256];

	text_show(s, SIZE_MAX, buf, sizeof(buf));
	fputs(buf, f);
}

int precheck_print(const struct precheck_result *res, FILE *f)
{
	size_t refusals = 0, warnings = 0;

	for (size_t i = 0; i < res->n; i++) {
		const struct precheck_issue *is = &res->issue[i];

		if (is->severity == PRECHECK_REFUSE)
			refusals++;
		else
			warnings++;
		fputs(is->severity == PRECHECK_REFUSE ? "refuse  " : "warn    ", f);
		put(f, is->what);
		fputs(": ", f);
		put(f, is->source);
		fputs(" -> ", f);
		put(f, is->dest);
		fputs(": ", f);
		put(f, is->consequence);
		fputc('\n', f);
	}
	if (res->refused) {
		fputs("refused: port ", f);
		put(f, res->port);
		fputs(" cannot migrate to the ", f);
		put(f, res->dest_backend);	/* the destination agent's word */
		fprintf(f, " backend (%zu problem%s", refusals, refusals == 1 ? "" : "s");
		if (warnings)
			fprintf(f, ", %zu warning%s", warnings, warnings == 1 ? "" : "s");
		fputs("); nothing was copied\n", f);
	} else {
		fputs("accepted: port ", f);
		put(f, res->port);
		fputs(" can migrate to the ", f);
		put(f, res->dest_backend);
		fprintf(f, " backend (%s port", res->dest_exists ? "existing" : "new");
		if (warnings)
			fprintf(f, ", %zu warning%s", warnings, warnings == 1 ? "" : "s");
		fputs(")\n", f);
	}
	if (fflush(f) != 0 || ferror(f))
		return -EIO;
	return 0;
}

struct json_object *precheck_to_json(const struct precheck_result *res)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return NULL;
	}
	json_object_object_add(o, "port", json_object_new_string(res->port));
	json_object_object_add(o, "refused", json_object_new_boolean(res->refused));
	json_object_object_add(o, "dest_backend", json_object_new_string(res->dest_backend));
	json_object_object_add(o, "dest_exists", json_object_new_boolean(res->dest_exists));
	for (size_t i = 0; i < res->n; i++) {
		const struct precheck_issue *is = &res->issue[i];
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "severity", json_object_new_string(
			is->severity == PRECHECK_REFUSE ? "refuse" : "warn"));
		json_object_object_add(j, "what", json_object_new_string(is->what));
		json_object_object_add(j, "source", json_object_new_string(is->source));
		json_object_object_add(j, "dest", json_object_new_string(is->dest));
		json_object_object_add(j, "consequence", json_object_new_string(is->consequence));
		json_object_array_add(arr, j);
	}
	json_object_object_add(o, "issues", arr);
	return o;
}
