// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for agent/cli/domxml.c: libvirt domain XML rewriting.
 *
 * Golden files in tests/fixtures/libvirt/ ($FIXTURE_DIR): IN.in.xml read
 * with the agent socket directory /run/vdpa-agent and rewritten for a
 * target must give NAME.out.xml byte for byte, or fail with the one line of
 * NAME.err.  UPDATE_GOLDEN=1 rewrites the expected files (review the diff).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/cli/domxml.h"
#include "agent/common/util.h"
#include "protocol/text.h"

#define SOCKDIR "/run/vdpa-agent"

static const char *fixture_dir(void)
{
	const char *d = getenv("FIXTURE_DIR");

	return d && d[0] ? d : "tests/fixtures/libvirt";
}

/* The file's contents, NUL-terminated; NULL (and a message) when missing. */
static char *read_fixture(const char *name, size_t *ret_len)
{
	char path[512], *buf = NULL;
	size_t cap = 0, len = 0, n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
	f = fopen(path, "re");
	if (!f) {
		print_error("cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	do {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return buf;
}

static void write_fixture(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Compares got with the file; on a difference, prints both. */
static void expect_file(const char *name, const char *got)
{
	char *want;

	if (getenv("UPDATE_GOLDEN")) {
		write_fixture(name, got);
		return;
	}
	want = read_fixture(name, NULL);
	assert_non_null(want);
	if (strcmp(want, got) != 0) {
		print_error("%s differs.\n--- expected\n%s--- got\n%s---\n", name, want, got);
		free(want);
		fail();
	}
	free(want);
}

static struct domxml *parse_fixture(const char *input, const char *sockdir)
{
	struct domxml_error err = { "" };
	struct domxml *d = NULL;
	char name[128], *buf;
	size_t len;
	int r;

	snprintf(name, sizeof(name), "%s.in.xml", input);
	buf = read_fixture(name, &len);
	assert_non_null(buf);
	r = domxml_parse(buf, len, sockdir, &d, &err);
	free(buf);
	if (r < 0)
		print_error("%s: %s\n", name, err.message);
	assert_int_equal(r, 0);
	return d;
}

static char *format(const struct domxml *d)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(domxml_format(d, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

/* ---- golden rewrites ------------------------------------------------------ */

struct golden {
	const char *name;	/* NAME.out.xml */
	const char *input;	/* INPUT.in.xml */
	enum domxml_target target;
	bool changed;
};

static const struct golden goldens[] = {
	{ "vdpa-to-sw", "vdpa-to-sw", DOMXML_TO_SW, true },
	{ "vhostuser-to-accel", "vhostuser-to-accel", DOMXML_TO_ACCEL, true },
	{ "vhostuser-to-sw", "vhostuser-to-accel", DOMXML_TO_SW, true },
	{ "nometa-unchanged", "nometa-unchanged", DOMXML_TO_SW, false },
	{ "nometa-server-mode", "nometa-server-mode", DOMXML_TO_ACCEL, true },
	{ "vdpa-nodev-accel", "vdpa-nodev-roundtrip", DOMXML_TO_ACCEL, false },
};

static void golden_rewrites(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		const struct golden *g = &goldens[i];
		struct domxml_error err = { "" };
		struct domxml *d = parse_fixture(g->input, SOCKDIR), *again;
		char out_name[128], *out, *out2;
		bool changed = !g->changed;
		int r;

		r = domxml_rewrite(d, g->target, SOCKDIR, &changed, &err);
		if (r < 0)
			print_error("%s: %s\n", g->name, err.message);
		assert_int_equal(r, 0);
		if (changed != g->changed)
			print_error("%s: changed is %d, expected %d\n", g->name, changed, g->changed);
		assert_true(changed == g->changed);
		out = format(d);
		snprintf(out_name, sizeof(out_name), "%s.out.xml", g->name);
		expect_file(out_name, out);

		/* The result is a fixed point: rewriting it again changes nothing. */
		assert_int_equal(domxml_parse(out, strlen(out), SOCKDIR, &again, &err), 0);
		assert_int_equal(domxml_nports(again), domxml_nports(d));
		changed = true;
		assert_int_equal(domxml_rewrite(again, g->target, SOCKDIR, &changed, &err), 0);
		assert_false(changed);
		out2 = format(again);
		assert_string_equal(out, out2);
		free(out2);
		domxml_free(again);
		free(out);
		domxml_free(d);
	}
}

/* ---- golden refusals ---------------------------------------------------- */

struct refusal {
	const char *name;	/* NAME.err: the message */
	const char *input;
	bool at_parse;		/* refused by domxml_parse(), else by domxml_rewrite() */
	enum domxml_target target;
	int rc;
};

static const struct refusal refusals[] = {
	{ "err-doctype", "err-doctype", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-not-domain", "err-not-domain", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-malformed", "err-malformed", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-meta-bad-mac", "err-meta-bad-mac", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-meta-bad-name", "err-meta-bad-name", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-meta-unmatched", "err-meta-unmatched", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-meta-wrong-type", "err-meta-wrong-type", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-bad-queues", "err-bad-queues", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-bad-socket-name", "err-bad-socket-name", true, DOMXML_TO_SW, -EBADMSG },
	/* A socket path goes into the agent's SPEC: no ',' (KEY=VALUE injection),
	 * no control characters (one line on stderr), absolute. */
	{ "err-meta-socket-comma", "err-meta-socket-comma", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-meta-socket-newline", "err-meta-socket-newline", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-meta-socket-relative", "err-meta-socket-relative", true, DOMXML_TO_SW, -EBADMSG },
	{ "err-private-memory", "vdpa-nodev-roundtrip", false, DOMXML_TO_SW, -EPERM },
	{ "err-numa-private", "err-numa-private", false, DOMXML_TO_SW, -EPERM },
};

static void golden_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
		const struct refusal *c = &refusals[i];
		struct domxml_error err = { "" };
		struct domxml *d = NULL;
		char name[128], line[sizeof(err.message) + 2], *buf, *before, *after;
		size_t len;
		int r;

		snprintf(name, sizeof(name), "%s.in.xml", c->input);
		buf = read_fixture(name, &len);
		assert_non_null(buf);
		r = domxml_parse(buf, len, SOCKDIR, &d, &err);
		free(buf);
		if (c->at_parse) {
			if (r != c->rc)
				print_error("%s: parse gave %d (%s), expected %d\n", c->name, r,
					    r ? err.message : "ok", c->rc);
			assert_int_equal(r, c->rc);
		} else {
			assert_int_equal(r, 0);
			before = format(d);
			r = domxml_rewrite(d, c->target, SOCKDIR, NULL, &err);
			if (r != c->rc)
				print_error("%s: rewrite gave %d (%s), expected %d\n", c->name, r,
					    r ? err.message : "ok", c->rc);
			assert_int_equal(r, c->rc);
			/* All or nothing: the document did not change. */
			after = format(d);
			assert_string_equal(before, after);
			free(before);
			free(after);
			domxml_free(d);
		}
		/* One line, no control characters (C1 included): it goes to libvirt's log. */
		for (const char *p = err.message; *p; p++) {
			assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
			assert_false((unsigned char)p[0] == 0xc2 && (unsigned char)p[1] >= 0x80 &&
				     (unsigned char)p[1] <= 0x9f);
		}
		snprintf(line, sizeof(line), "%s\n", err.message);
		snprintf(name, sizeof(name), "%s.err", c->name);
		expect_file(name, line);
	}
}

/* ---- what the parser finds ------------------------------------------------ */

static void ports_found(void **state)
{
	struct domxml *d;
	const struct domxml_port *p;

	(void)state;
	d = parse_fixture("vhostuser-to-accel", SOCKDIR);
	assert_string_equal(domxml_name(d), "vm2");
	assert_int_equal(domxml_nports(d), 2);
	assert_true(domxml_memory_shared(d));
	p = domxml_port(d, 0);
	assert_string_equal(p->name, "vm2-net0");
	assert_string_equal(p->mac, "52:54:00:00:00:21");
	assert_int_equal(p->type, DOMXML_IF_VHOSTUSER);
	assert_string_equal(p->socket, "/run/vdpa-agent/vm2-net0.sock");
	assert_string_equal(p->vdpa_dev, "/dev/vhost-vdpa-3");
	assert_int_equal(p->queues, 4);
	assert_int_equal(p->mtu, 0);
	assert_true(p->in_metadata);
	p = domxml_port(d, 1);
	assert_string_equal(p->name, "vm2-net1");
	assert_string_equal(p->socket, "/var/run/other-agent/x.sock");
	assert_string_equal(p->vdpa_dev, "");
	assert_null(domxml_port(d, 2));
	domxml_free(d);

	/* Without metadata only sockets directly in the agent's directory count. */
	d = parse_fixture("nometa-unchanged", SOCKDIR);
	assert_int_equal(domxml_nports(d), 1);
	p = domxml_port(d, 0);
	assert_string_equal(p->name, "vm3.net0");
	assert_false(p->in_metadata);
	assert_int_equal(p->mtu, 1500);
	assert_int_equal(p->queues, 0);
	domxml_free(d);
	d = parse_fixture("nometa-unchanged", "/run/ovs");
	assert_int_equal(domxml_nports(d), 1);
	assert_string_equal(domxml_port(d, 0)->name, "vm3");
	domxml_free(d);
	d = parse_fixture("nometa-unchanged", "/run");
	assert_int_equal(domxml_nports(d), 0);
	domxml_free(d);

	/* The vdpa device of an interface without vdpa-dev in the metadata. */
	d = parse_fixture("vdpa-nodev-roundtrip", SOCKDIR);
	assert_false(domxml_memory_shared(d));
	assert_string_equal(domxml_port(d, 0)->vdpa_dev, "/dev/vhost-vdpa-7");
	assert_int_equal(domxml_port(d, 0)->type, DOMXML_IF_VDPA);
	domxml_free(d);
}

static void rewrite_updates_ports(void **state)
{
	struct domxml_error err = { "" };
	struct domxml *d = parse_fixture("vdpa-to-sw", SOCKDIR);
	const struct domxml_port *p;

	(void)state;
	assert_int_equal(domxml_rewrite(d, DOMXML_TO_SW, "/srv/agent", NULL, &err), 0);
	p = domxml_port(d, 0);
	assert_int_equal(p->type, DOMXML_IF_VHOSTUSER);
	assert_string_equal(p->socket, "/srv/agent/vm1-net0.sock");
	assert_int_equal(p->queues, 2);
	assert_int_equal(p->mtu, 9000);
	assert_int_equal(domxml_rewrite(d, DOMXML_TO_ACCEL, "/srv/agent", NULL, &err), 0);
	assert_int_equal(p->type, DOMXML_IF_VDPA);
	assert_string_equal(p->socket, "");
	domxml_free(d);
}

static void limits(void **state)
{
	struct domxml_error err = { "" };
	struct domxml *d = NULL;
	char longdir[120];
	char *big;

	(void)state;
	big = malloc(DOMXML_MAX_BYTES + 1);
	assert_non_null(big);
	memset(big, ' ', DOMXML_MAX_BYTES + 1);
	memcpy(big, "<domain>", 8);
	assert_int_equal(domxml_parse(big, DOMXML_MAX_BYTES + 1, SOCKDIR, &d, &err), -EFBIG);
	assert_string_equal(err.message, "the domain XML is larger than 4194304 bytes");
	free(big);
	assert_null(d);

	assert_int_equal(domxml_parse("", 0, SOCKDIR, &d, &err), -EBADMSG);
	assert_int_equal(domxml_parse("<domain", 7, SOCKDIR, &d, &err), -EBADMSG);
	assert_null(d);

	/* sockdir/NAME.sock must fit sun_path; the document stays as it was. */
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	d = parse_fixture("vdpa-to-sw", SOCKDIR);
	assert_int_equal(domxml_rewrite(d, DOMXML_TO_SW, longdir, NULL, &err), -ENAMETOOLONG);
	assert_int_equal(domxml_port(d, 0)->type, DOMXML_IF_VDPA);
	domxml_free(d);

	assert_int_equal(domxml_target_parse("sw", &(enum domxml_target){ DOMXML_TO_ACCEL }), 0);
	assert_int_equal(domxml_target_parse("SW", &(enum domxml_target){ DOMXML_TO_ACCEL }),
			 -EINVAL);
}

/* ---- text for messages ------------------------------------------------------ */

static void show_text(const char *in, size_t max, size_t cap, const char *want)
{
	char out[128];

	assert_true(cap <= sizeof(out));
	memset(out, 'X', sizeof(out));
	text_show(in, max, out, cap);
	if (strcmp(out, want) != 0)
		print_error("text_show(max %zu, cap %zu): got '%s', expected '%s'\n", max, cap,
			    out, want);
	assert_string_equal(out, want);
}

static void show_cleans(void **state)
{
	(void)state;
	show_text("plain", 64, 64, "plain");
	show_text(NULL, 64, 64, "");
	show_text("a\nb\tc\x7f" "d\x1b[31m", 64, 64, "a?b?c?d?[31m");
	/* C1 controls (U+0085 NEL, U+009B CSI) go, U+00A0 and U+00E9 stay. */
	show_text("a\xc2\x85" "b\xc2\x9b" "c\xc2\xa0" "d\xc3\xa9", 64, 64,
		  "a?b?c\xc2\xa0" "d\xc3\xa9");
	/* Not UTF-8: each bad byte is one '?'. */
	show_text("a\x80\xff" "b\xc3", 64, 64, "a??b?");
	show_text("\xe2\x82" "x", 64, 64, "??x");
	/* A multibyte character is never cut: not by max, not by cap. */
	show_text("ab\xe2\x82\xac", 4, 64, "ab");
	show_text("ab\xe2\x82\xac", 5, 64, "ab\xe2\x82\xac");
	show_text("ab\xe2\x82\xac", 64, 5, "ab");
	show_text("ab\xe2\x82\xac", 64, 6, "ab\xe2\x82\xac");
	show_text("ab\xc2\x85", 3, 64, "ab");
	show_text("abc", 64, 1, "");
	show_text("abcdef", 3, 64, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_rewrites),
		cmocka_unit_test(golden_refusals),
		cmocka_unit_test(ports_found),
		cmocka_unit_test(rewrite_updates_ports),
		cmocka_unit_test(limits),
		cmocka_unit_test(show_cleans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
