// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for agent/cli/precheck.c: every rule of precheck_compare() on
 * replies built here (a port-show of the source, a port-show or port-offer
 * of the destination), the refusal of replies that lack what a rule reads,
 * and the text and JSON an operator sees.  Also the source-side migration
 * state that port-show reports (vu_dev_quiesced(): quiesced means every
 * ring that ran was handed over by GET_VRING_BASE), driven through
 * vu_dev_handle() as QEMU would.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent/cli/precheck.h"
#include "agent/common/util.h"
#include "agent/daemon/vu_dev.h"

#define BIT(b) (UINT64_C(1) << (b))
/* What vufront and a Linux guest negotiate on an agent port. */
#define GUEST (BIT(32) | BIT(15) | BIT(28) | BIT(29) | BIT(16))
/* What an agent port offers (plus LOG_ALL 26 and PROTOCOL_FEATURES 30). */
#define OFFER (GUEST | BIT(21) | BIT(26) | BIT(30))

/* ---- fixtures ------------------------------------------------------------- */

struct port_fix {
	const char *name, *state, *backend, *mac;
	unsigned queues, mtu;		/* mtu 0: not configured */
	uint64_t features;		/* source: negotiated */
	uint64_t offered;		/* destination */
	unsigned max_ring;
	unsigned ring_size[4];		/* source rings (0: no more rings) */
};

static const struct port_fix src_ok = {
	"p0", "running", "sw", "52:54:00:12:34:56", 2, 1500, GUEST | BIT(26) | BIT(30), 0, 0,
	{ 256, 256, 256, 256 },
};
static const struct port_fix dst_ok = {
	"p0", "listening", "sw", "52:54:00:12:34:56", 2, 1500, 0, OFFER, 32768, { 0 },
};

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_hex(struct json_object *o, const char *k, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
	add_str(o, k, b);
}

/* {"ok":true,"port":{...}} as port-show answers for a source port. */
static struct json_object *src_reply(const struct port_fix *f)
{
	struct json_object *r = json_object_new_object(), *p = json_object_new_object();
	struct json_object *rings = json_object_new_array();

	add_str(p, "name", f->name);
	add_str(p, "state", f->state);
	add_str(p, "backend", f->backend);
	json_object_object_add(p, "queues", json_object_new_int((int)f->queues));
	if (f->mac)
		add_str(p, "mac", f->mac);
	if (f->mtu)
		json_object_object_add(p, "mtu", json_object_new_int((int)f->mtu));
	add_hex(p, "features", f->features);
	add_hex(p, "offered_features", OFFER);
	json_object_object_add(p, "max_ring_size", json_object_new_int(32768));
	for (int i = 0; i < 4 && f->ring_size[i]; i++) {
		struct json_object *ring = json_object_new_object();

		json_object_object_add(ring, "index", json_object_new_int(i));
		json_object_object_add(ring, "size", json_object_new_int((int)f->ring_size[i]));
		json_object_array_add(rings, ring);
	}
	json_object_object_add(p, "rings", rings);
	json_object_object_add(r, "ok", json_object_new_boolean(1));
	json_object_object_add(r, "port", p);
	return r;
}

/* The destination: port-show (show true) or port-offer (flat members). */
static struct json_object *dst_reply(const struct port_fix *f, bool show)
{
	struct json_object *r = json_object_new_object();
	struct json_object *p = show ? json_object_new_object() : r;

	add_str(p, "name", f->name);
	add_str(p, "backend", f->backend);
	json_object_object_add(p, "queues", json_object_new_int((int)f->queues));
	if (f->mac)
		add_str(p, "mac", f->mac);
	if (f->mtu)
		json_object_object_add(p, "mtu", json_object_new_int((int)f->mtu));
	add_hex(p, "offered_features", f->offered);
	add_hex(p, "offered_protocol_features", 0x1f);
	json_object_object_add(p, "max_ring_size", json_object_new_int((int)f->max_ring));
	if (show) {
		add_str(p, "state", f->state);
		add_hex(p, "features", 0);
		json_object_object_add(p, "rings", json_object_new_array());
		json_object_object_add(r, "port", p);
	}
	json_object_object_add(r, "ok", json_object_new_boolean(1));
	return r;
}

/* precheck_compare() of two fixtures; fails the test on an error. */
static void compare(const struct port_fix *s, const struct port_fix *d, bool show,
		    const char *to_backend, struct precheck_result *res)
{
	struct json_object *sj = src_reply(s), *dj = dst_reply(d, show);
	struct ctl_error err = { "", "" };
	int r;

	memset(res, 0x5a, sizeof(*res));
	r = precheck_compare(sj, dj, to_backend, res, &err);
	if (r != 0)
		fail_msg("precheck_compare: %d %s", r, err.message);
	json_object_put(sj);
	json_object_put(dj);
}

/* The issue about what, or NULL. */
static const struct precheck_issue *find(const struct precheck_result *res, const char *what)
{
	for (size_t i = 0; i < res->n; i++)
		if (strcmp(res->issue[i].what, what) == 0)
			return &res->issue[i];
	return NULL;
}

static void dump(const struct precheck_result *res)
{
	for (size_t i = 0; i < res->n; i++)
		print_message("  issue: %s: %s -> %s: %s\n", res->issue[i].what, res->issue[i].source,
			      res->issue[i].dest, res->issue[i].consequence);
}

/* Exactly one issue, about what, of severity sev; returned. */
static const struct precheck_issue *only(const struct precheck_result *res, const char *what,
					 enum precheck_severity sev)
{
	if (res->n != 1 || strcmp(res->issue[0].what, what) != 0)
		dump(res);
	assert_int_equal(res->n, 1);
	assert_string_equal(res->issue[0].what, what);
	assert_int_equal(res->issue[0].severity, sev);
	assert_int_equal(res->refused, sev == PRECHECK_REFUSE);
	assert_true(strlen(res->issue[0].consequence) > 20);
	return &res->issue[0];
}

/* ---- rules ------------------------------------------------------------- */

static void matching_ports_pass(void **state)
{
	struct precheck_result res;

	(void)state;
	compare(&src_ok, &dst_ok, true, NULL, &res);
	dump(&res);
	assert_false(res.refused);
	assert_int_equal(res.n, 0);
	assert_string_equal(res.port, "p0");
	assert_string_equal(res.dest_backend, "sw");
	assert_true(res.dest_exists);
	/* The same through port-offer: a port the destination would create. */
	compare(&src_ok, &dst_ok, false, "sw", &res);
	assert_false(res.refused);
	assert_int_equal(res.n, 0);
	assert_false(res.dest_exists);
}

static void missing_features_are_named(void **state)
{
	struct port_fix s = src_ok, d = dst_ok;
	struct precheck_result res;

	(void)state;
	s.features |= BIT(17);			/* CTRL_VQ */
	d.offered &= ~BIT(29);			/* EVENT_IDX */
	compare(&s, &d, true, NULL, &res);
	dump(&res);
	assert_true(res.refused);
	assert_int_equal(res.n, 2);
	/* Ascending by bit, each with its name and what it breaks. */
	assert_string_equal(res.issue[0].what, "feature CTRL_VQ");
	assert_string_equal(res.issue[1].what, "feature EVENT_IDX");
	assert_string_equal(res.issue[1].source, "negotiated");
	assert_string_equal(res.issue[1].dest, "not offered");
	assert_non_null(strstr(res.issue[1].consequence,
			       "only after all guest memory has been copied"));
	/* A bit without a name still shows. */
	s = src_ok;
	s.features |= BIT(50);
	compare(&s, &dst_ok, true, NULL, &res);
	only(&res, "feature bit50", PRECHECK_REFUSE);
}

/* LOG_ALL and PROTOCOL_FEATURES are vhost's, not the guest's. */
static void vhost_bits_are_not_guest_features(void **state)
{
	struct port_fix d = dst_ok;
	struct precheck_result res;

	(void)state;
	d.offered &= ~(BIT(26) | BIT(30));
	compare(&src_ok, &d, true, NULL, &res);
	dump(&res);
	assert_int_equal(res.n, 0);
	assert_false(res.refused);
}

static void fewer_queues_refused(void **state)
{
	struct port_fix d = dst_ok;
	struct precheck_result res;
	const struct precheck_issue *is;

	(void)state;
	d.queues = 1;
	compare(&src_ok, &d, true, NULL, &res);
	is = only(&res, "queues", PRECHECK_REFUSE);
	assert_string_equal(is->source, "2");
	assert_string_equal(is->dest, "1");
	/* More queue pairs than the guest uses: fine. */
	d.queues = 8;
	compare(&src_ok, &d, true, NULL, &res);
	assert_int_equal(res.n, 0);
}

static void mtu_smaller_refused_larger_warned(void **state)
{
	struct port_fix s = src_ok, d = dst_ok;
	struct precheck_result res;
	const struct precheck_issue *is;

	(void)state;
	d.mtu = 1400;
	compare(&src_ok, &d, true, NULL, &res);
	is = only(&res, "mtu", PRECHECK_REFUSE);
	assert_string_equal(is->source, "1500");
	assert_string_equal(is->dest, "1400");
	d.mtu = 9000;
	compare(&src_ok, &d, true, NULL, &res);
	only(&res, "mtu", PRECHECK_WARN);
	/* Not configured is Ethernet's 1500, and said so. */
	s.mtu = 9000;
	d.mtu = 0;
	compare(&s, &d, true, NULL, &res);
	is = only(&res, "mtu", PRECHECK_REFUSE);
	assert_string_equal(is->dest, "1500 (default)");
	s.mtu = 0;
	compare(&s, &d, true, NULL, &res);
	assert_int_equal(res.n, 0);
}

static void mac_differs_refused(void **state)
{
	struct port_fix s = src_ok, d = dst_ok;
	struct precheck_result res;
	const struct precheck_issue *is;

	(void)state;
	d.mac = "52:54:00:12:34:57";
	compare(&src_ok, &d, true, NULL, &res);
	is = only(&res, "mac", PRECHECK_REFUSE);
	assert_string_equal(is->source, "52:54:00:12:34:56");
	assert_string_equal(is->dest, "52:54:00:12:34:57");
	/* The same address in capitals; none configured on one side: nothing to say. */
	s.mac = "52:54:00:ab:cd:ef";
	d.mac = "52:54:00:AB:CD:EF";
	compare(&s, &d, true, NULL, &res);
	assert_int_equal(res.n, 0);
	d.mac = NULL;
	compare(&src_ok, &d, true, NULL, &res);
	assert_int_equal(res.n, 0);
}

static void ring_above_max_refused(void **state)
{
	struct port_fix s = src_ok, d = dst_ok;
	struct precheck_result res;
	const struct precheck_issue *is;

	(void)state;
	s.ring_size[2] = 1024;
	d.max_ring = 512;
	compare(&s, &d, true, NULL, &res);
	is = only(&res, "ring 2 size", PRECHECK_REFUSE);
	assert_string_equal(is->source, "1024");
	assert_string_equal(is->dest, "at most 512");
	/* Exactly the limit is fine. */
	d.max_ring = 1024;
	compare(&s, &d, true, NULL, &res);
	assert_int_equal(res.n, 0);
}

static void backend_differs_refused(void **state)
{
	struct port_fix d = dst_ok;
	struct precheck_result res;
	const struct precheck_issue *is;

	(void)state;
	d.backend = "accel";
	compare(&src_ok, &d, true, "sw", &res);
	is = only(&res, "backend", PRECHECK_REFUSE);
	assert_string_equal(is->source, "--to-backend sw");
	assert_string_equal(is->dest, "accel");
	assert_non_null(strstr(is->consequence, "backend=accel, not sw"));
	assert_string_equal(res.dest_backend, "sw");
	/* Without --to-backend the existing port's backend is the target. */
	compare(&src_ok, &d, true, NULL, &res);
	assert_int_equal(res.n, 0);
	assert_string_equal(res.dest_backend, "accel");
}

static void destination_in_use_refused(void **state)
{
	struct port_fix d = dst_ok;
	struct precheck_result res;

	(void)state;
	d.state = "running";
	compare(&src_ok, &d, true, NULL, &res);
	only(&res, "destination port", PRECHECK_REFUSE);
	/* Connected without running rings: the incoming QEMU, accepted. */
	d.state = "connected";
	compare(&src_ok, &d, true, NULL, &res);
	assert_false(res.refused);
	assert_int_equal(res.n, 0);
}

static void source_not_negotiated_refused(void **state)
{
	struct port_fix s = src_ok;
	struct precheck_result res;
	const struct precheck_issue *is;

	(void)state;
	s.state = "listening";
	s.features = 0;
	compare(&s, &dst_ok, true, NULL, &res);
	is = only(&res, "source port", PRECHECK_REFUSE);
	assert_string_equal(is->consequence, "the guest has not negotiated the device; nothing to compare");
	/* Connected, but only vhost bits so far: no device state either. */
	s.state = "connected";
	s.features = BIT(30);
	compare(&s, &dst_ok, true, NULL, &res);
	only(&res, "source port", PRECHECK_REFUSE);
}

/* A destination port on an accelerator (port-show's "accel"), unserved features given. */
static struct precheck_result accel_dest(uint64_t unserved, const char *to_backend)
{
	struct port_fix d = dst_ok;
	struct json_object *sj = src_reply(&src_ok), *dj, *p, *a = json_object_new_object();
	struct ctl_error err = { "", "" };
	struct precheck_result res;

	d.backend = "accel";
	dj = dst_reply(&d, true);
	assert_true(json_object_object_get_ex(dj, "port", &p));
	add_str(a, "device", "vfio-user:/run/vdpa-simd/nic0.sock");
	add_hex(a, "device_features", OFFER & ~unserved);
	add_hex(a, "unserved_features", unserved);
	json_object_object_add(p, "accel", a);
	memset(&res, 0x5a, sizeof(res));
	if (precheck_compare(sj, dj, to_backend, &res, &err) != 0)
		fail_msg("precheck_compare: %s", err.message);
	json_object_put(sj);
	json_object_put(dj);
	return res;
}

/*
 * The destination's device lacks ring-layout features the guest uses: a
 * warning per feature (the port serves in software there), not a refusal.
 */
static void device_lacking_features_warned(void **state)
{
	struct precheck_result res;
	const struct precheck_issue *is;

	(void)state;
	res = accel_dest(BIT(15) | BIT(28) | BIT(29), NULL);
	dump(&res);
	assert_false(res.refused);
	assert_int_equal(res.n, 3);
	assert_non_null(find(&res, "device feature MRG_RXBUF"));
	assert_non_null(find(&res, "device feature INDIRECT_DESC"));
	is = find(&res, "device feature EVENT_IDX");
	assert_non_null(is);
	assert_int_equal(is->severity, PRECHECK_WARN);
	assert_string_equal(is->source, "negotiated");
	assert_string_equal(is->dest, "not on the device");
	assert_non_null(strstr(is->consequence, "nic0.sock"));
	assert_non_null(strstr(is->consequence, "software"));
	/* Only what the guest negotiated: GUEST_ANNOUNCE (21) it did not. */
	res = accel_dest(BIT(29) | BIT(21), NULL);
	only(&res, "device feature EVENT_IDX", PRECHECK_WARN);
	/* A device that serves everything, or a guest going to software. */
	res = accel_dest(0, NULL);
	assert_int_equal(res.n, 0);
	res = accel_dest(BIT(15), "sw");
	assert_true(res.refused);	/* the port is backend=accel: --to-backend sw differs */
	assert_null(find(&res, "device feature MRG_RXBUF"));
	res = accel_dest(BIT(15), "accel");
	only(&res, "device feature MRG_RXBUF", PRECHECK_WARN);
}

/* Everything wrong at once: each rule speaks, the verdict is refused. */
static void every_rule_at_once(void **state)
{
	struct port_fix s = src_ok, d = dst_ok;
	struct precheck_result res;

	(void)state;
	s.ring_size[0] = 4096;
	d.offered &= ~BIT(15);
	d.queues = 1;
	d.mtu = 1280;
	d.mac = "02:00:00:00:00:01";
	d.max_ring = 1024;
	d.backend = "accel";
	compare(&s, &d, true, "sw", &res);
	dump(&res);
	assert_true(res.refused);
	assert_non_null(find(&res, "backend"));
	assert_non_null(find(&res, "feature MRG_RXBUF"));
	assert_non_null(find(&res, "queues"));
	assert_non_null(find(&res, "mtu"));
	assert_non_null(find(&res, "mac"));
	assert_non_null(find(&res, "ring 0 size"));
	assert_int_equal(res.n, 6);
}

/* A reply without what a rule reads is an error, never a pass. */
static void replies_without_members_refused(void **state)
{
	static const char *const src_keys[] = { "name", "state", "backend", "queues", "features",
						"rings" };
	static const char *const dst_keys[] = { "name", "backend", "queues", "offered_features",
						"max_ring_size", "state" };
	struct precheck_result res;
	struct ctl_error err;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(src_keys); i++) {
		struct json_object *sj = src_reply(&src_ok), *dj = dst_reply(&dst_ok, true), *p;

		json_object_object_get_ex(sj, "port", &p);
		json_object_object_del(p, src_keys[i]);
		memset(&res, 0x5a, sizeof(res));
		assert_int_equal(precheck_compare(sj, dj, NULL, &res, &err), -EBADMSG);
		assert_non_null(strstr(err.message, src_keys[i]));
		assert_non_null(strstr(err.message, "source"));
		assert_int_equal(((unsigned char *)&res)[0], 0x5a);
		json_object_put(sj);
		json_object_put(dj);
	}
	for (size_t i = 0; i < ARRAY_SIZE(dst_keys); i++) {
		struct json_object *sj = src_reply(&src_ok), *dj = dst_reply(&dst_ok, true), *p;

		json_object_object_get_ex(dj, "port", &p);
		json_object_object_del(p, dst_keys[i]);
		assert_int_equal(precheck_compare(sj, dj, NULL, &res, &err), -EBADMSG);
		assert_non_null(strstr(err.message, dst_keys[i]));
		assert_non_null(strstr(err.message, "destination"));
		json_object_put(sj);
		json_object_put(dj);
	}
	/* Wrong types: a feature word that is not hex, a negative queue count. */
	{
		struct json_object *sj = src_reply(&src_ok), *dj = dst_reply(&dst_ok, false), *p;

		json_object_object_get_ex(sj, "port", &p);
		add_str(p, "features", "0xzz");
		assert_int_equal(precheck_compare(sj, dj, NULL, &res, &err), -EBADMSG);
		json_object_put(sj);
		sj = src_reply(&src_ok);
		json_object_object_add(dj, "queues", json_object_new_int(-1));
		assert_int_equal(precheck_compare(sj, dj, NULL, &res, &err), -EBADMSG);
		json_object_put(sj);
		json_object_put(dj);
	}
}

/* ---- output ------------------------------------------------------------ */

static char *print_to_string(const struct precheck_result *res)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(precheck_print(res, f), 0);
	fclose(f);
	return buf;
}

static void human_output(void **state)
{
	struct port_fix d = dst_ok;
	struct precheck_result res;
	char *text;

	(void)state;
	d.mtu = 1400;
	d.offered &= ~BIT(29);
	compare(&src_ok, &d, true, NULL, &res);
	text = print_to_string(&res);
	assert_string_equal(text,
		"refuse  feature EVENT_IDX: negotiated -> not offered: the guest uses EVENT_IDX, "
		"which the destination does not offer: QEMU there would refuse the virtio-net "
		"device state only after all guest memory has been copied\n"
		"refuse  mtu: 1500 -> 1400: the guest keeps sending frames of up to 1500 bytes, "
		"which the destination's 1400-byte link would drop\n"
		"refused: port p0 cannot migrate to the sw backend (2 problems); nothing was copied\n");
	free(text);

	d = dst_ok;
	d.mtu = 9000;
	compare(&src_ok, &d, false, "sw", &res);
	text = print_to_string(&res);
	assert_string_equal(text,
		"warn    mtu: 1500 -> 9000: the guest keeps its MTU of 1500 until its driver "
		"restarts; the larger MTU is not used before then\n"
		"accepted: port p0 can migrate to the sw backend (new port, 1 warning)\n");
	free(text);
}

/* Text from an agent cannot drive the terminal. */
static void human_output_cleans_control_characters(void **state)
{
	struct port_fix d = dst_ok;
	struct precheck_result res;
	char *text;

	(void)state;
	d.mac = "\x1b[2J";
	compare(&src_ok, &d, true, NULL, &res);
	text = print_to_string(&res);
	assert_null(strchr(text, '\x1b'));
	assert_non_null(strstr(text, "-> ?[2J:"));
	free(text);
}

static void json_output(void **state)
{
	struct port_fix d = dst_ok;
	struct precheck_result res;
	struct json_object *o;

	(void)state;
	d.queues = 1;
	compare(&src_ok, &d, true, NULL, &res);
	o = precheck_to_json(&res);
	assert_non_null(o);
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		"{\"port\":\"p0\",\"refused\":true,\"dest_backend\":\"sw\",\"dest_exists\":true,"
		"\"issues\":[{\"severity\":\"refuse\",\"what\":\"queues\",\"source\":\"2\","
		"\"dest\":\"1\",\"consequence\":\"QEMU on the destination is set up for 2 queue "
		"pairs and the port serves 1: it would fail to start the device\"}]}");
	json_object_put(o);
}

/* ---- the source's migration state (port-show "migration") ------------------ */

static int q_start(void *o, unsigned idx)
{
	(void)o;
	(void)idx;
	return 0;
}

static int q_stop(void *o, unsigned idx, uint16_t *ret_base)
{
	(void)o;
	*ret_base = (uint16_t)(100 + idx);
	return 0;
}

static void q_nop(void *o)
{
	(void)o;
}

static const struct vu_dev_ops q_ops = { q_start, q_stop, q_nop, q_nop, NULL, NULL, NULL };

static struct vu_msg qmsg(uint32_t req, unsigned idx, unsigned num)
{
	struct vu_msg m;

	memset(&m, 0, sizeof(m));
	m.request = req;
	m.flags = VU_VERSION;
	for (unsigned i = 0; i < VU_MAX_FDS; i++)
		m.fds[i] = -1;
	m.u.state = (struct vu_vring_state){ idx, num };
	m.ring = idx;
	return m;
}

static void qsend(struct vu_dev *d, struct vu_msg m, struct vu_reply *rep)
{
	assert_int_equal(vu_dev_handle(d, &m, rep), 0);
	vu_msg_close(&m);
}

/* QEMU's start of ring idx (memory already set). */
static void q_ring_up(struct vu_dev *d, unsigned idx)
{
	struct vu_reply rep;
	struct vu_msg m;

	qsend(d, qmsg(VU_REQ_SET_VRING_NUM, idx, 256), &rep);
	qsend(d, qmsg(VU_REQ_SET_VRING_BASE, idx, 0), &rep);
	m = qmsg(VU_REQ_SET_VRING_ADDR, 0, 0);
	m.u.addr = (struct vu_vring_addr){ .index = idx, .desc_user_addr = 0x10000000,
					   .avail_user_addr = 0x10001000,
					   .used_user_addr = 0x10002000 };
	m.ring = idx;
	qsend(d, m, &rep);
	m = qmsg(VU_REQ_SET_VRING_KICK, 0, 0);
	m.u.vring_file.index = idx;
	m.ring = idx;
	m.u.vring_file.nofd = true;
	qsend(d, m, &rep);
	qsend(d, qmsg(VU_REQ_SET_VRING_ENABLE, idx, 1), &rep);
	assert_true(d->ring[idx].started);
}

static void source_quiesced_after_every_handover(void **state)
{
	struct vu_dev d;
	struct vu_reply rep;
	struct vu_msg m;
	int fd = memfd_create("q", MFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	vu_dev_init(&d, "q", BIT(32) | BIT(30), 0, 2, &q_ops, NULL);
	m = qmsg(VU_REQ_SET_FEATURES, 0, 0);
	m.u.u64 = BIT(32) | BIT(30);
	qsend(&d, m, &rep);
	m = qmsg(VU_REQ_SET_MEM_TABLE, 0, 0);
	m.u.mem.nregions = 1;
	m.u.mem.regions[0] = (struct vu_mem_region){ 0, 1 << 20, 0x10000000, 0 };
	m.fds[0] = fd;
	m.nfds = 1;
	qsend(&d, m, &rep);

	/* Nothing ran yet: not quiesced (there is nothing to hand over). */
	assert_false(vu_dev_quiesced(&d));
	q_ring_up(&d, 0);
	q_ring_up(&d, 1);
	assert_false(vu_dev_quiesced(&d));
	/* One of two rings stopped: not yet. */
	qsend(&d, qmsg(VU_REQ_GET_VRING_BASE, 0, 0), &rep);
	assert_int_equal(rep.u.state.num, 100);
	assert_true(d.mig.ring[0].handed_over);
	assert_int_equal(d.mig.ring[0].handed_base, 100);
	assert_false(vu_dev_quiesced(&d));
	/* Disabling is not a hand-over: QEMU still has to ask where it stands. */
	qsend(&d, qmsg(VU_REQ_SET_VRING_ENABLE, 1, 0), &rep);
	assert_false(d.ring[1].started);
	assert_false(vu_dev_quiesced(&d));
	qsend(&d, qmsg(VU_REQ_GET_VRING_BASE, 1, 0), &rep);
	assert_int_equal(rep.u.state.num, 101);
	assert_true(vu_dev_quiesced(&d));
	/* Rings 2 and 3 never ran: they do not hold it back. */
	assert_false(d.mig.ring[2].ran);
	/* The migration was cancelled: QEMU starts ring 0 again. */
	q_ring_up(&d, 0);
	assert_false(d.mig.ring[0].handed_over);
	assert_false(vu_dev_quiesced(&d));
	qsend(&d, qmsg(VU_REQ_GET_VRING_BASE, 0, 0), &rep);
	assert_true(vu_dev_quiesced(&d));
	/* A ring restarted by a new kick alone is running again: not handed over. */
	m = qmsg(VU_REQ_SET_VRING_KICK, 0, 0);
	m.u.vring_file.index = 0;
	m.u.vring_file.nofd = true;
	qsend(&d, m, &rep);
	assert_true(d.ring[0].started);
	assert_false(d.mig.ring[0].handed_over);	/* not listed as handed over any more */
	assert_false(vu_dev_quiesced(&d));
	qsend(&d, qmsg(VU_REQ_GET_VRING_BASE, 0, 0), &rep);
	assert_true(vu_dev_quiesced(&d));
	/* A new SET_VRING_BASE on a ring starts its story over. */
	qsend(&d, qmsg(VU_REQ_SET_VRING_BASE, 1, 7), &rep);
	assert_false(d.mig.ring[1].handed_over);
	assert_false(vu_dev_quiesced(&d));
	/* A reset (reconnect) forgets everything. */
	vu_dev_reset(&d);
	assert_false(d.mig.ring[0].ran);
	assert_false(vu_dev_quiesced(&d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matching_ports_pass),
		cmocka_unit_test(missing_features_are_named),
		cmocka_unit_test(vhost_bits_are_not_guest_features),
		cmocka_unit_test(fewer_queues_refused),
		cmocka_unit_test(mtu_smaller_refused_larger_warned),
		cmocka_unit_test(mac_differs_refused),
		cmocka_unit_test(ring_above_max_refused),
		cmocka_unit_test(backend_differs_refused),
		cmocka_unit_test(destination_in_use_refused),
		cmocka_unit_test(source_not_negotiated_refused),
		cmocka_unit_test(every_rule_at_once),
		cmocka_unit_test(replies_without_members_refused),
		cmocka_unit_test(device_lacking_features_warned),
		cmocka_unit_test(human_output),
		cmocka_unit_test(human_output_cleans_control_characters),
		cmocka_unit_test(json_output),
		cmocka_unit_test(source_quiesced_after_every_handover),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
