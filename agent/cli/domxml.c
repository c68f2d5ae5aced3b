// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libvirt domain XML for the hook and libvirt mode (see domxml.h): parse
 * with libxml2, find the managed interfaces, switch them between
 * type='vdpa' and type='vhostuser', write the document back.
 *
 * Trust boundary: see domxml.h.  The document is parsed with XML_PARSE_NONET
 * and without XML_PARSE_NOENT, XML_PARSE_DTDLOAD or XML_PARSE_HUGE (so
 * libxml2's own depth and entity-amplification limits stay on), and a
 * DOCTYPE is refused outright: libvirt never writes one.  Text from the
 * document that goes into a message is cut and has its control characters
 * replaced, so a hostile document cannot forge lines in libvirt's log.
 *
 * The document is changed in place, node by node, so that everything this
 * module does not manage comes out as it went in (up to libxml2's way of
 * quoting attributes); the golden files in tests/fixtures/libvirt/ pin the
 * exact output.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlversion.h>
#include <libxml/xmlsave.h>

#include "agent/cli/domxml.h"
#include "agent/common/util.h"
#include "protocol/text.h"

#define SHOW_MAX 64	/* bytes of document text quoted in a message */

struct meta_port {
	char mac[18];
	char name[PORT_NAME_MAX + 1];
	char vdpa_dev[DOMXML_DEV_MAX + 1];
	bool used;
};

struct domxml {
	xmlDocPtr doc;
	char name[SHOW_MAX + 1];
	size_t n;
	struct domxml_port port[DOMXML_MAX_PORTS];
	xmlNodePtr iface[DOMXML_MAX_PORTS];
};

#define fail(err, r, ...) errf((err)->message, sizeof((err)->message), r, __VA_ARGS__)

/* Document text for a message: at most SHOW_MAX bytes, no control characters. */
static void show(const char *in, char *out, size_t cap)
{
	text_show(in, SHOW_MAX, out, cap);
}

/* ---- libxml2 helpers ---------------------------------------------------- */

/* An element of libvirt's schema: no namespace. */
static bool is_elem(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !n->ns &&
	       strcmp((const char *)n->name, name) == 0;
}

static bool is_ours(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       strcmp((const char *)n->ns->href, DOMXML_NS_URI) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr child(const xmlNode *parent, const char *name)
{
	if (!parent)
		return NULL;
	for (xmlNodePtr c = parent->children; c; c = c->next)
		if (is_elem(c, name))
			return c;
	return NULL;
}

/*
 * Copies attribute name (no namespace) of n into buf.  -ENOENT when n or
 * the attribute is missing, -ENAMETOOLONG when it does not fit cap.
 */
static int attr(const xmlNode *n, const char *name, char *buf, size_t cap)
{
	xmlChar *v;
	size_t len;

	if (!n)
		return -ENOENT;
	v = xmlGetNoNsProp(n, (const xmlChar *)name);
	if (!v)
		return -ENOENT;
	len = strlen((const char *)v);
	if (len >= cap) {
		show((const char *)v, buf, cap);
		xmlFree(v);
		return -ENAMETOOLONG;
	}
	memcpy(buf, v, len + 1);
	xmlFree(v);
	return 0;
}

/* Any length: a vdpa-dev or socket path is longer than a fixed buffer for a word. */
static bool attr_is(const xmlNode *n, const char *name, const char *value)
{
	xmlChar *v;
	bool eq;

	if (!n)
		return false;
	v = xmlGetNoNsProp(n, (const xmlChar *)name);
	eq = v && strcmp((const char *)v, value) == 0;
	xmlFree(v);
	return eq;
}

/* ---- values --------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "52:54:00:AB:cd:01" -> "52:54:00:ab:cd:01"; -EINVAL for anything else. */
static int mac_normalize(const char *in, char out[18])
{
	for (size_t i = 0; i < 17; i++) {
		if (i % 3 == 2 ? in[i] != ':' : hexval(in[i]) < 0)
			return -EINVAL;
		out[i] = (char)((in[i] >= 'A' && in[i] <= 'F') ? in[i] - 'A' + 'a' : in[i]);
	}
	if (in[17] != '\0')
		return -EINVAL;
	out[17] = '\0';
	return 0;
}

static bool valid_port_name(const char *name)
{
	struct port_config pc;
	char err[CONFIG_ERR_MAX];

	port_config_init(&pc);
	return port_config_set(&pc, "name", name, err, sizeof(err)) == 0;
}

/* A decimal number in 1..max, nothing else. */
static int parse_count(const char *s, unsigned max, unsigned *ret)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	if (v == 0)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

/* An absolute path without control characters. */
static bool valid_dev_path(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/*
 * A vhost-user socket path that may go into a port SPEC: absolute, no
 * control characters, no ',' (it separates the SPEC's KEY=VALUE items).
 */
static bool valid_socket_path(const char *p)
{
	return valid_dev_path(p) && !strchr(p, ',');
}

/* ---- the metadata ---------------------------------------------------------- */

static int parse_meta_port(const xmlNode *el, struct meta_port *mp, struct domxml_error *err)
{
	char mac[32], shown[SHOW_MAX + 1];
	int r;

	memset(mp, 0, sizeof(*mp));
	r = attr(el, "mac", mac, sizeof(mac));
	if (r == -ENOENT)
		return fail(err, -EBADMSG, "metadata: a <" DOMXML_NS_PREFIX ":port> has no mac");
	if (r < 0 || mac_normalize(mac, mp->mac) < 0) {
		show(mac, shown, sizeof(shown));
		return fail(err, -EBADMSG, "metadata: mac '%s' is not of the form 52:54:00:12:34:56",
			    shown);
	}
	r = attr(el, "name", mp->name, sizeof(mp->name));
	if (r == -ENOENT)
		return fail(err, -EBADMSG, "metadata: the port with mac %s has no name", mp->mac);
	if (r < 0 || !valid_port_name(mp->name)) {
		show(mp->name, shown, sizeof(shown));
		return fail(err, -EBADMSG,
			    "metadata: port name '%s' is not 1-%d characters of [A-Za-z0-9_.-] "
			    "not starting with '.' or '-'", shown, PORT_NAME_MAX);
	}
	r = attr(el, "vdpa-dev", mp->vdpa_dev, sizeof(mp->vdpa_dev));
	if (r == -ENAMETOOLONG)
		return fail(err, -EBADMSG, "metadata: port %s: vdpa-dev is longer than %d bytes",
			    mp->name, DOMXML_DEV_MAX);
	if (r == 0 && !valid_dev_path(mp->vdpa_dev)) {
		show(mp->vdpa_dev, shown, sizeof(shown));
		return fail(err, -EBADMSG, "metadata: port %s: vdpa-dev '%s' is not an absolute path",
			    mp->name, shown);
	}
	return 0;
}

/* Every <vm:port> of every <vm:vdpa-migrate> in <metadata>. */
static int parse_metadata(const xmlNode *domain, struct meta_port *meta, size_t *ret_n,
			  struct domxml_error *err)
{
	size_t n = 0;
	int r;

	for (xmlNodePtr md = domain->children; md; md = md->next) {
		if (!is_elem(md, "metadata"))
			continue;
		for (xmlNodePtr el = md->children; el; el = el->next) {
			if (!is_ours(el, "vdpa-migrate"))
				continue;
			for (xmlNodePtr p = el->children; p; p = p->next) {
				char shown[SHOW_MAX + 1];

				if (p->type != XML_ELEMENT_NODE)
					continue;
				if (!is_ours(p, "port")) {
					show((const char *)p->name, shown, sizeof(shown));
					return fail(err, -EBADMSG,
						    "metadata: unknown element <%s> in <"
						    DOMXML_NS_PREFIX ":vdpa-migrate> (only <"
						    DOMXML_NS_PREFIX ":port>)", shown);
				}
				if (n == DOMXML_MAX_PORTS)
					return fail(err, -EBADMSG,
						    "metadata: more than %d ports", DOMXML_MAX_PORTS);
				r = parse_meta_port(p, &meta[n], err);
				if (r < 0)
					return r;
				for (size_t i = 0; i < n; i++) {
					if (strcmp(meta[i].mac, meta[n].mac) == 0)
						return fail(err, -EBADMSG,
							    "metadata: mac %s is named twice",
							    meta[n].mac);
					if (strcmp(meta[i].name, meta[n].name) == 0)
						return fail(err, -EBADMSG,
							    "metadata: port name %s is used twice",
							    meta[n].name);
				}
				n++;
			}
		}
	}
	*ret_n = n;
	return 0;
}

/* ---- interfaces ------------------------------------------------------------ */

/*
 * Without metadata: the port of a vhost-user socket sockdir/NAME.sock, in
 * ret_name; false when the socket is elsewhere.
 */
static bool port_of_socket(const char *path, const char *sockdir, char *ret_name, size_t cap)
{
	size_t dl = strlen(sockdir), bl;
	const char *base;

	if (strncmp(path, sockdir, dl) != 0 || path[dl] != '/')
		return false;
	base = path + dl + 1;
	if (strchr(base, '/'))
		return false;
	bl = strlen(base);
	if (bl <= 5 || strcmp(base + bl - 5, ".sock") != 0 || bl - 5 >= cap)
		return false;
	memcpy(ret_name, base, bl - 5);
	ret_name[bl - 5] = '\0';
	return true;
}

/* The interface's MAC, normalized, or "" when it has none or a bad one. */
static void iface_mac(const xmlNode *iface, char mac[18])
{
	char buf[32];

	if (attr(child(iface, "mac"), "address", buf, sizeof(buf)) < 0 ||
	    mac_normalize(buf, mac) < 0)
		mac[0] = '\0';
}

static const char *iface_label(const struct domxml_port *p)
{
	return p->mac[0] ? p->mac : "without a mac";
}

/* Queues, mtu, socket of a managed interface. */
static int parse_managed(const xmlNode *iface, struct domxml_port *p, struct domxml_error *err)
{
	char buf[32], shown[SHOW_MAX + 1];
	int r;

	r = attr(child(iface, "driver"), "queues", buf, sizeof(buf));
	if (r != -ENOENT && (r < 0 || parse_count(buf, 65535, &p->queues) < 0)) {
		show(buf, shown, sizeof(shown));
		return fail(err, -EBADMSG, "interface %s (port %s): <driver queues='%s'> is not a "
			    "positive number", iface_label(p), p->name, shown);
	}
	r = attr(child(iface, "mtu"), "size", buf, sizeof(buf));
	if (r != -ENOENT && (r < 0 || parse_count(buf, 65535, &p->mtu) < 0)) {
		show(buf, shown, sizeof(shown));
		return fail(err, -EBADMSG, "interface %s (port %s): <mtu size='%s'> is not a "
			    "number in 1..65535", iface_label(p), p->name, shown);
	}
	if (p->type == DOMXML_IF_VHOSTUSER) {
		r = attr(child(iface, "source"), "path", p->socket, sizeof(p->socket));
		if (r == -ENAMETOOLONG)
			return fail(err, -EBADMSG, "interface %s (port %s): the socket path is "
				    "longer than %d bytes", iface_label(p), p->name, PORT_SOCKET_MAX);
		if (r < 0)
			return fail(err, -EBADMSG, "interface %s (port %s): vhostuser without "
				    "<source path=...>", iface_label(p), p->name);
		if (!valid_socket_path(p->socket)) {
			show(p->socket, shown, sizeof(shown));
			return fail(err, -EBADMSG, "interface %s (port %s): socket path '%s' is "
				    "not an absolute path without control characters and ','",
				    iface_label(p), p->name, shown);
		}
	} else if (!p->vdpa_dev[0]) {
		/* No vdpa-dev in the metadata: the device the interface has now. */
		r = attr(child(iface, "source"), "dev", p->vdpa_dev, sizeof(p->vdpa_dev));
		if (r == -ENAMETOOLONG)
			return fail(err, -EBADMSG, "interface %s (port %s): the vdpa device path "
				    "is longer than %d bytes", iface_label(p), p->name,
				    DOMXML_DEV_MAX);
		if (r < 0 || !valid_dev_path(p->vdpa_dev))
			return fail(err, -EBADMSG, "interface %s (port %s): vdpa without an "
				    "absolute <source dev=...>", iface_label(p), p->name);
	}
	return 0;
}

static int find_interfaces(struct domxml *d, const xmlNode *domain, struct meta_port *meta,
			   size_t nmeta, const char *sockdir, struct domxml_error *err)
{
	const xmlNode *devices = child(domain, "devices");
	int r;

	for (xmlNodePtr it = devices ? devices->children : NULL; it; it = it->next) {
		struct domxml_port p;
		struct meta_port *mp = NULL;
		char type[32] = "", path[PORT_SOCKET_MAX + 1], shown[SHOW_MAX + 1];
		char name[PORT_SOCKET_MAX + 1];

		if (!is_elem(it, "interface"))
			continue;
		memset(&p, 0, sizeof(p));
		iface_mac(it, p.mac);
		(void)attr(it, "type", type, sizeof(type));
		for (size_t i = 0; p.mac[0] && i < nmeta; i++)
			if (strcmp(meta[i].mac, p.mac) == 0)
				mp = &meta[i];
		if (mp) {
			mp->used = true;
			strcpy(p.name, mp->name);
			strcpy(p.vdpa_dev, mp->vdpa_dev);
			p.in_metadata = true;
			if (strcmp(type, "vhostuser") == 0) {
				p.type = DOMXML_IF_VHOSTUSER;
			} else if (strcmp(type, "vdpa") == 0) {
				p.type = DOMXML_IF_VDPA;
			} else {
				show(type, shown, sizeof(shown));
				return fail(err, -EBADMSG,
					    "interface %s is port %s in the metadata, but its type is "
					    "'%s' (only 'vhostuser' and 'vdpa' can be switched)",
					    p.mac, p.name, shown);
			}
		} else {
			if (strcmp(type, "vhostuser") != 0 ||
			    attr(child(it, "source"), "path", path, sizeof(path)) < 0 ||
			    !port_of_socket(path, sockdir, name, sizeof(name)))
				continue;	/* not ours */
			if (strlen(name) > PORT_NAME_MAX || !valid_port_name(name)) {
				show(name, shown, sizeof(shown));
				return fail(err, -EBADMSG,
					    "interface %s: socket %s/%s.sock is in the agent's "
					    "directory, but '%s' is not a port name (1-%d characters "
					    "of [A-Za-z0-9_.-])", iface_label(&p), sockdir, shown,
					    shown, PORT_NAME_MAX);
			}
			strcpy(p.name, name);
			p.type = DOMXML_IF_VHOSTUSER;
		}
		if (d->n == DOMXML_MAX_PORTS)
			return fail(err, -EBADMSG, "more than %d managed interfaces",
				    DOMXML_MAX_PORTS);
		r = parse_managed(it, &p, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < d->n; i++)
			if (strcmp(d->port[i].name, p.name) == 0)
				return fail(err, -EBADMSG, "two interfaces are port %s", p.name);
		d->port[d->n] = p;
		d->iface[d->n] = it;
		d->n++;
	}
	for (size_t i = 0; i < nmeta; i++)
		if (!meta[i].used)
			return fail(err, -EBADMSG, "metadata names port %s with mac %s, but no "
				    "interface has that mac", meta[i].name, meta[i].mac);
	return 0;
}

/* ---- parse ---------------------------------------------------------------- */

static void domain_name(struct domxml *d, const xmlNode *domain)
{
	xmlNodePtr nn = child(domain, "name");
	xmlChar *s = nn ? xmlNodeGetContent(nn) : NULL;

	if (s && s[0])
		show((const char *)s, d->name, sizeof(d->name));
	else
		strcpy(d->name, "?");
	xmlFree(s);
}

/*
 * The first error libxml2 reports (the last one is usually a consequence,
 * such as "Premature end of data").  Set as the structured error handler
 * for the parse only; it keeps libxml2 from printing on stderr too.
 */
struct first_error {
	bool seen;
	int line;
	char message[200];
};

/* libxml2 2.12 made the handler's error const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *caught_error;
#else
typedef xmlErrorPtr caught_error;
#endif

static void catch_error(void *data, caught_error e)
{
	struct first_error *fe = data;
	size_t n;

	if (fe->seen || !e || e->level < XML_ERR_ERROR)
		return;
	fe->seen = true;
	fe->line = e->line;
	show(e->message ? e->message : "", fe->message, sizeof(fe->message));
	/* libxml2's messages end in a newline (now a '?'). */
	n = strlen(fe->message);
	while (n && (fe->message[n - 1] == '?' || fe->message[n - 1] == ' '))
		fe->message[--n] = '\0';
}

int domxml_parse(const char *buf, size_t len, const char *sockdir, struct domxml **ret,
		 struct domxml_error *err)
{
	struct meta_port meta[DOMXML_MAX_PORTS];
	struct first_error fe = { false, 0, "" };
	xmlParserCtxtPtr ctxt;
	struct domxml *d;
	xmlNodePtr root;
	size_t nmeta = 0;
	int r;

	if (len > DOMXML_MAX_BYTES)
		return fail(err, -EFBIG, "the domain XML is larger than %u bytes", DOMXML_MAX_BYTES);
	if (len == 0)
		return fail(err, -EBADMSG, "the domain XML is empty");
	d = calloc(1, sizeof(*d));
	if (!d)
		return fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	xmlInitParser();
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		free(d);
		return fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	}
	/* No XML_PARSE_NOENT, DTDLOAD, DTDATTR or HUGE: see the top of the file. */
	xmlSetStructuredErrorFunc(&fe, catch_error);
	d->doc = xmlCtxtReadMemory(ctxt, buf, (int)len, "domain.xml", NULL,
				   XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (!d->doc) {
		if (fe.seen)
			r = fail(err, -EBADMSG, "not well-formed XML: line %d: %s", fe.line,
				 fe.message);
		else
			r = fail(err, -EBADMSG, "not well-formed XML");
		goto fail;
	}
	if (d->doc->intSubset || d->doc->extSubset) {
		r = fail(err, -EBADMSG, "the domain XML has a DOCTYPE (libvirt never writes one)");
		goto fail;
	}
	root = xmlDocGetRootElement(d->doc);
	if (!is_elem(root, "domain")) {
		char shown[SHOW_MAX + 1];

		show(root ? (const char *)root->name : "", shown, sizeof(shown));
		r = fail(err, -EBADMSG, "the root element is <%s>, not <domain>", shown);
		goto fail;
	}
	domain_name(d, root);
	r = parse_metadata(root, meta, &nmeta, err);
	if (r == 0)
		r = find_interfaces(d, root, meta, nmeta, sockdir, err);
	if (r < 0)
		goto fail;
	xmlFreeParserCtxt(ctxt);
	*ret = d;
	return 0;
fail:
	xmlFreeParserCtxt(ctxt);
	domxml_free(d);
	return r;
}

void domxml_free(struct domxml *d)
{
	if (!d)
		return;
	if (d->doc)
		xmlFreeDoc(d->doc);
	free(d);
}

const char *domxml_name(const struct domxml *d)
{
	return d->name;
}

size_t domxml_nports(const struct domxml *d)
{
	return d->n;
}

const struct domxml_port *domxml_port(const struct domxml *d, size_t i)
{
	return i < d->n ? &d->port[i] : NULL;
}

bool domxml_memory_shared(const struct domxml *d)
{
	const xmlNode *root = xmlDocGetRootElement(d->doc);
	const xmlNode *numa = child(child(root, "cpu"), "numa");
	bool shared = attr_is(child(child(root, "memoryBacking"), "access"), "mode", "shared");
	bool cells = false;

	/* A NUMA cell's memAccess overrides <memoryBacking><access>. */
	for (xmlNodePtr c = numa ? numa->children : NULL; c; c = c->next) {
		char mode[16];

		if (!is_elem(c, "cell"))
			continue;
		cells = true;
		if (attr(c, "memAccess", mode, sizeof(mode)) < 0) {
			if (!shared)
				return false;
		} else if (strcmp(mode, "shared") != 0) {
			return false;
		}
	}
	return shared || cells;
}

/* ---- rewrite ---------------------------------------------------------------- */

int domxml_target_parse(const char *s, enum domxml_target *ret)
{
	if (strcmp(s, "sw") == 0)
		*ret = DOMXML_TO_SW;
	else if (strcmp(s, "accel") == 0)
		*ret = DOMXML_TO_ACCEL;
	else
		return -EINVAL;
	return 0;
}

static enum domxml_iftype wanted_type(const struct domxml_port *p, enum domxml_target t)
{
	return t == DOMXML_TO_ACCEL && p->vdpa_dev[0] ? DOMXML_IF_VDPA : DOMXML_IF_VHOSTUSER;
}

/* Removes n and the indentation before it. */
static void remove_node(xmlNodePtr n)
{
	xmlNodePtr prev = n->prev;

	if (prev && prev->type == XML_TEXT_NODE && xmlIsBlankNode(prev)) {
		xmlUnlinkNode(prev);
		xmlFreeNode(prev);
	}
	xmlUnlinkNode(n);
	xmlFreeNode(n);
}

/* Is the interface already what p asks for (type, source)? */
static bool iface_matches(const xmlNode *it, enum domxml_iftype type, const char *value)
{
	const xmlNode *src = child(it, "source");

	if (type == DOMXML_IF_VDPA)
		return attr_is(it, "type", "vdpa") && attr_is(src, "dev", value) &&
		       !xmlHasProp(src, (const xmlChar *)"type");
	{
		char path[PORT_SOCKET_MAX + 1];

		return attr_is(it, "type", "vhostuser") && attr_is(src, "type", "unix") &&
		       attr_is(src, "mode", "client") &&
		       attr(src, "path", path, sizeof(path)) == 0 && strcmp(path, value) == 0;
	}
}

int domxml_rewrite(struct domxml *d, enum domxml_target target, const char *sockdir,
		   bool *ret_changed, struct domxml_error *err)
{
	/* The new source of each interface: a socket path or a vdpa device. */
	char value[DOMXML_MAX_PORTS][DOMXML_DEV_MAX + 1];
	_Static_assert(PORT_SOCKET_MAX <= DOMXML_DEV_MAX, "a socket path fits value[]");
	xmlNodePtr fresh[DOMXML_MAX_PORTS] = { NULL };
	bool changed = false;
	size_t i;
	int r = 0;

	/* Check everything first: a refusal leaves the document as it was. */
	for (i = 0; i < d->n; i++) {
		const struct domxml_port *p = &d->port[i];

		if (wanted_type(p, target) == DOMXML_IF_VDPA) {
			snprintf(value[i], sizeof(value[i]), "%s", p->vdpa_dev);
			continue;
		}
		if (!domxml_memory_shared(d))
			return fail(err, -EPERM,
				    "domain %s: interface %s (port %s) would be vhost-user, which "
				    "needs shared guest memory (<memoryBacking><access "
				    "mode='shared'/>); QEMU cannot connect a vhost-user backend to "
				    "private memory, and the memory backing cannot change in a "
				    "migration", d->name, iface_label(p), p->name);
		r = snprintf(value[i], sizeof(value[i]), "%s/%s.sock", sockdir, p->name);
		if (r < 0 || r > PORT_SOCKET_MAX)
			return fail(err, -ENAMETOOLONG,
				    "port %s: %s/%s.sock is longer than %d bytes (a unix socket path)",
				    p->name, sockdir, p->name, PORT_SOCKET_MAX);
	}
	/* Then the new <source> nodes of type changes: ENOMEM changes nothing. */
	for (i = 0; i < d->n; i++) {
		enum domxml_iftype want = wanted_type(&d->port[i], target);
		bool ok = true;

		if (iface_matches(d->iface[i], want, value[i]) ||
		    (want == d->port[i].type && child(d->iface[i], "source")))
			continue;
		fresh[i] = xmlNewDocNode(d->doc, NULL, (const xmlChar *)"source", NULL);
		if (!fresh[i])
			goto nomem;
		if (want == DOMXML_IF_VDPA) {
			ok = xmlNewProp(fresh[i], (const xmlChar *)"dev", (const xmlChar *)value[i]);
		} else {
			ok = xmlNewProp(fresh[i], (const xmlChar *)"type", (const xmlChar *)"unix") &&
			     xmlNewProp(fresh[i], (const xmlChar *)"path", (const xmlChar *)value[i]) &&
			     xmlNewProp(fresh[i], (const xmlChar *)"mode", (const xmlChar *)"client");
		}
		if (!ok)
			goto nomem;
	}

	for (i = 0; i < d->n; i++) {
		struct domxml_port *p = &d->port[i];
		enum domxml_iftype want = wanted_type(p, target);
		xmlNodePtr it = d->iface[i], src = child(it, "source"), tgt;

		if (iface_matches(it, want, value[i]))
			continue;
		changed = true;
		if (!fresh[i] && want == DOMXML_IF_VDPA) {
			xmlSetProp(src, (const xmlChar *)"dev", (const xmlChar *)value[i]);
			/* A vdpa <source> has no type (iface_matches() requires that). */
			xmlUnsetProp(src, (const xmlChar *)"type");
		} else if (!fresh[i]) {
			/* vhostuser stays vhostuser: a new path, children (reconnect) stay. */
			xmlSetProp(src, (const xmlChar *)"type", (const xmlChar *)"unix");
			xmlSetProp(src, (const xmlChar *)"path", (const xmlChar *)value[i]);
			xmlSetProp(src, (const xmlChar *)"mode", (const xmlChar *)"client");
		} else {
			xmlSetProp(it, (const xmlChar *)"type", (const xmlChar *)
				   (want == DOMXML_IF_VDPA ? "vdpa" : "vhostuser"));
			if (src) {
				xmlReplaceNode(src, fresh[i]);
				xmlFreeNode(src);
			} else {
				xmlNodePtr mac = child(it, "mac");

				if (mac)
					xmlAddNextSibling(mac, fresh[i]);
				else if (it->children)
					xmlAddPrevSibling(it->children, fresh[i]);
				else
					xmlAddChild(it, fresh[i]);
			}
			fresh[i] = NULL;
			tgt = child(it, "target");
			if (tgt && want != p->type)
				remove_node(tgt);
		}
		p->type = want;
		if (want == DOMXML_IF_VHOSTUSER)
			memcpy(p->socket, value[i], strlen(value[i]) + 1);
		else
			p->socket[0] = '\0';
	}
	if (ret_changed)
		*ret_changed = changed;
	return 0;
nomem:
	for (i = 0; i < d->n; i++)
		xmlFreeNode(fresh[i]);
	return fail(err, -ENOMEM, "%s", strerror(ENOMEM));
}

/* ---- format ------------------------------------------------------------------ */

int domxml_format(const struct domxml *d, char **ret, size_t *ret_len)
{
	xmlBufferPtr buf = xmlBufferCreate();
	xmlSaveCtxtPtr sc;
	size_t len;
	char *out;
	long n;

	if (!buf)
		return -ENOMEM;
	sc = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_NO_DECL);
	if (!sc) {
		xmlBufferFree(buf);
		return -ENOMEM;
	}
	n = xmlSaveDoc(sc, d->doc);
	if (xmlSaveClose(sc) < 0 || n < 0) {
		xmlBufferFree(buf);
		return -ENOMEM;
	}
	len = (size_t)xmlBufferLength(buf);
	out = malloc(len + 2);
	if (!out) {
		xmlBufferFree(buf);
		return -ENOMEM;
	}
	memcpy(out, xmlBufferContent(buf), len);
	xmlBufferFree(buf);
	if (len == 0 || out[len - 1] != '\n')
		out[len++] = '\n';
	out[len] = '\0';
	*ret = out;
	*ret_len = len;
	return 0;
}
