// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for libvirt domain XML rewriting (agent/cli/domxml.c).
 *
 * The input is a domain XML, as the libvirt hook gets it from a source
 * host.  It is parsed with the agent's socket directory and, for each
 * target (sw, accel), rewritten, formatted and parsed again.  Beyond the
 * sanitizers it checks the module's promises:
 *   - a return is 0 or one of the documented negative errnos, and a
 *     failure has a message without control characters;
 *   - the ports are valid: a port name the agent takes, a normalized MAC
 *     or "", a type of the two, no two ports of one name;
 *   - a refused rewrite leaves the document as it was (all or nothing),
 *     also with a socket directory too long for sun_path;
 *   - a rewritten document parses again, with the same ports, each of
 *     the type and socket the rewrite gave it, and rewriting it again for
 *     the same target changes nothing.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/common/config.h"
#include "agent/cli/domxml.h"
#include "protocol/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SOCKDIR "/run/vdpa-agent"
/* 102 bytes: sockdir/NAME.sock never fits sun_path (PORT_SOCKET_MAX 107). */
#define LONGDIR "/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void check_text(const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);

	if (!end)
		abort();
	for (; s < end; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
		/* No UTF-8 C1 control either (U+0080..U+009F). */
		if ((unsigned char)s[0] == 0xc2 && (unsigned char)s[1] >= 0x80 &&
		    (unsigned char)s[1] <= 0x9f)
			abort();
	}
}

static void check_err(const struct domxml_error *err)
{
	check_text(err->message, sizeof(err->message));
	if (!err->message[0])
		abort();
}

static bool valid_name(const char *name)
{
	struct port_config pc;
	char e[CONFIG_ERR_MAX];

	port_config_init(&pc);
	return port_config_set(&pc, "name", name, e, sizeof(e)) == 0;
}

static bool valid_mac(const char *m)
{
	if (!m[0])
		return true;
	for (size_t i = 0; i < 17; i++) {
		char c = m[i];

		if (i % 3 == 2 ? c != ':' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return m[17] == '\0';
}

static void check_ports(const struct domxml *d)
{
	size_t n = domxml_nports(d);

	if (n > DOMXML_MAX_PORTS || domxml_port(d, n) != NULL)
		abort();
	check_text(domxml_name(d), 65);
	(void)domxml_memory_shared(d);
	for (size_t i = 0; i < n; i++) {
		const struct domxml_port *p = domxml_port(d, i);

		if (!p || !memchr(p->name, '\0', sizeof(p->name)) || !valid_name(p->name) ||
		    !memchr(p->mac, '\0', sizeof(p->mac)) || !valid_mac(p->mac) ||
		    !memchr(p->socket, '\0', sizeof(p->socket)) ||
		    !memchr(p->vdpa_dev, '\0', sizeof(p->vdpa_dev)) ||
		    p->queues > 65535 || p->mtu > 65535)
			abort();
		if (p->type != DOMXML_IF_VHOSTUSER && p->type != DOMXML_IF_VDPA)
			abort();
		if (p->type == DOMXML_IF_VDPA && p->socket[0])
			abort();
		/* A socket goes into a port SPEC: absolute, no ',', no control characters. */
		if (p->type == DOMXML_IF_VHOSTUSER &&
		    (p->socket[0] != '/' || strchr(p->socket, ',')))
			abort();
		if (p->type == DOMXML_IF_VHOSTUSER)
			check_text(p->socket, sizeof(p->socket));
		if (p->type == DOMXML_IF_VDPA && p->vdpa_dev[0] != '/')
			abort();
		if (!p->in_metadata && (p->type != DOMXML_IF_VHOSTUSER || p->vdpa_dev[0]))
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(domxml_port(d, j)->name, p->name) == 0)
				abort();
	}
}

static int parse(const char *buf, size_t len, struct domxml **ret)
{
	struct domxml_error err;
	int r;

	memset(&err, 0, sizeof(err));
	*ret = NULL;
	r = domxml_parse(buf, len, SOCKDIR, ret, &err);
	if (r == 0) {
		if (!*ret)
			abort();
		check_ports(*ret);
		return 0;
	}
	if (*ret || (r != -EFBIG && r != -EBADMSG && r != -ENOMEM))
		abort();
	check_err(&err);
	return r;
}

static char *format(const struct domxml *d, size_t *len)
{
	char *out;

	if (domxml_format(d, &out, len) < 0)
		abort();	/* no ENOMEM under the fuzzer's limits */
	if (*len == 0 || out[*len - 1] != '\n' || out[*len] != '\0' || strlen(out) != *len)
		abort();
	return out;
}

/* A rewrite that fails leaves the document as it was. */
static int rewrite(struct domxml *d, enum domxml_target t, const char *sockdir, bool *changed)
{
	struct domxml_error err;
	size_t blen, alen;
	char *before = format(d, &blen), *after;
	int r;

	memset(&err, 0, sizeof(err));
	*changed = false;
	r = domxml_rewrite(d, t, sockdir, changed, &err);
	if (r == 0) {
		free(before);
		check_ports(d);
		return 0;
	}
	if (r != -EPERM && r != -ENAMETOOLONG && r != -ENOMEM)
		abort();
	check_err(&err);
	after = format(d, &alen);
	if (alen != blen || memcmp(before, after, blen) != 0)
		abort();
	free(before);
	free(after);
	return r;
}

static void one_target(const char *buf, size_t len, enum domxml_target t)
{
	struct domxml *d, *again;
	bool changed;
	size_t olen;
	char *out;

	if (parse(buf, len, &d) < 0)
		return;
	/* A socket directory too long for any port: refused, or nothing to do. */
	if (rewrite(d, t, LONGDIR, &changed) == 0) {
		for (size_t i = 0; i < domxml_nports(d); i++)
			if (domxml_port(d, i)->type == DOMXML_IF_VHOSTUSER)
				abort();
	}
	domxml_free(d);

	if (parse(buf, len, &d) < 0)
		abort();	/* parsed a moment ago */
	if (rewrite(d, t, SOCKDIR, &changed) < 0) {
		domxml_free(d);
		return;
	}
	for (size_t i = 0; i < domxml_nports(d); i++) {
		const struct domxml_port *p = domxml_port(d, i);

		if ((p->type == DOMXML_IF_VDPA) != (t == DOMXML_TO_ACCEL && p->vdpa_dev[0]))
			abort();
		if (p->type == DOMXML_IF_VHOSTUSER &&
		    (strncmp(p->socket, SOCKDIR "/", sizeof(SOCKDIR)) != 0 ||
		     strncmp(p->socket + sizeof(SOCKDIR), p->name, strlen(p->name)) != 0 ||
		     strcmp(p->socket + sizeof(SOCKDIR) + strlen(p->name), ".sock") != 0))
			abort();
	}

	out = format(d, &olen);
	if (parse(out, olen, &again) < 0)
		abort();	/* what the rewrite wrote must parse */
	if (domxml_nports(again) != domxml_nports(d) ||
	    strcmp(domxml_name(again), domxml_name(d)) != 0)
		abort();
	for (size_t i = 0; i < domxml_nports(d); i++) {
		const struct domxml_port *a = domxml_port(d, i), *b = domxml_port(again, i);

		if (strcmp(a->name, b->name) != 0 || strcmp(a->mac, b->mac) != 0 ||
		    a->type != b->type || strcmp(a->socket, b->socket) != 0 ||
		    a->queues != b->queues || a->mtu != b->mtu || a->in_metadata != b->in_metadata)
			abort();
	}
	/* The same rewrite again: nothing left to change. */
	if (rewrite(again, t, SOCKDIR, &changed) != 0 || changed)
		abort();
	free(out);
	domxml_free(again);
	domxml_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size > 256 * 1024)
		return 0;
	/* An exact-size copy, so ASan sees any read past the end. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	/* Text for messages: bounded, valid, no control characters, any input. */
	{
		char text[80], *nul = malloc(size + 1);

		if (nul) {
			memcpy(nul, data, size);
			nul[size] = '\0';
			text_show(nul, size % 97, text, sizeof(text) - size % 7);
			if (strlen(text) >= sizeof(text) - size % 7 || strlen(text) > size % 97)
				abort();
			check_text(text, sizeof(text));
			free(nul);
		}
	}
	one_target(buf, size, DOMXML_TO_SW);
	one_target(buf, size, DOMXML_TO_ACCEL);
	free(buf);
	return 0;
}
