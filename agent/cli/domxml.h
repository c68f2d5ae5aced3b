/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt domain XML: find the interfaces vdpa-migrate manages and switch
 * them between a kernel vDPA device (type='vdpa') and a vdpa-agentd port
 * (type='vhostuser'), for the libvirt hook (agent/cli/cli_hook.c) and libvirt
 * mode of "vdpa-migrate migrate" (agent/cli/migrate_libvirt.c).
 *
 * A managed interface is either
 *   - named in the domain's metadata, matched by MAC:
 *       <metadata>
 *         <vm:vdpa-migrate xmlns:vm="https://vdpa-migrate.org/xmlns/domain/1">
 *           <vm:port mac="52:54:00:12:34:56" name="vm1-net0" vdpa-dev="/dev/vhost-vdpa-0"/>
 *         </vm:vdpa-migrate>
 *       </metadata>
 *     (vdpa-dev is optional: without it the port is always a vhost-user
 *     port of the agent), or
 *   - without metadata, a type='vhostuser' interface whose socket lies in
 *     the agent's socket directory: the port is the socket's name without
 *     ".sock".
 * The <source path> of a managed vhost-user interface goes into the
 * agent's port SPEC (KEY=VALUE,...): it must be an absolute path without
 * control characters and without ','.  A metadata-managed interface may
 * have its socket outside the agent's socket directory (the metadata names
 * it explicitly, and a rewrite moves it into the directory anyway); one
 * without metadata is managed only because its socket is in there.
 * Everything else in the domain is left as it is.
 *
 * Trust boundary: the XML is untrusted (libvirt hands the hook whatever
 * the source host sent; a user may feed anything to the CLI).  It is
 * bounded (DOMXML_MAX_BYTES), parsed without network access, without
 * entity substitution and without DTD loading, a DOCTYPE is refused, and
 * every value taken from it is checked before use (port names as the agent
 * checks them, paths against sun_path).  Nothing here logs or exits: every
 * failure is a negative errno and a reason in struct domxml_error.
 */
#ifndef VDPA_AGENT_DOMXML_H
#define VDPA_AGENT_DOMXML_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/common/config.h"

/* The namespace of vdpa-migrate's <metadata> element (version 1). */
#define DOMXML_NS_URI "https://vdpa-migrate.org/xmlns/domain/1"
#define DOMXML_NS_PREFIX "vm"
#define DOMXML_MAX_BYTES (4u << 20)	/* a domain XML is a few KiB; 4 MiB is plenty */
#define DOMXML_MAX_PORTS 32
#define DOMXML_DEV_MAX 127		/* bytes of a vdpa-dev path */

enum domxml_iftype {
	DOMXML_IF_VHOSTUSER = 0,	/* <interface type='vhostuser'>: an agent port */
	DOMXML_IF_VDPA = 1,		/* <interface type='vdpa'>: a kernel vhost-vdpa device */
};

/* What the destination host serves, as the hook's backend= and --to-backend. */
enum domxml_target {
	DOMXML_TO_SW = 0,	/* every managed interface becomes an agent port */
	DOMXML_TO_ACCEL = 1,	/* type='vdpa' where the metadata names a vdpa-dev, else an agent port */
};

struct domxml_port {
	char name[PORT_NAME_MAX + 1];	/* the agent's port name */
	char mac[18];			/* "52:54:00:12:34:56" (lower case), or "" */
	enum domxml_iftype type;	/* the interface's type, as now in the document */
	char socket[PORT_SOCKET_MAX + 1];	/* type vhostuser: <source path>; else "" */
	char vdpa_dev[DOMXML_DEV_MAX + 1];	/* metadata vdpa-dev, or "" */
	unsigned queues;		/* <driver queues>, 0 when not given */
	unsigned mtu;			/* <mtu size>, 0 when not given */
	bool in_metadata;		/* named in the metadata (else found by its socket) */
};

struct domxml_error {
	char message[320];
};

struct domxml;

/*
 * Parses a domain XML of len bytes and finds its managed interfaces.
 * sockdir is the agent's socket directory (no trailing '/'), for
 * interfaces without metadata.
 *   -EFBIG    longer than DOMXML_MAX_BYTES
 *   -EBADMSG  not well-formed, a DOCTYPE, not a <domain>, or a managed
 *             interface or the metadata is not usable (err says which)
 *   -ENOMEM
 */
int domxml_parse(const char *buf, size_t len, const char *sockdir, struct domxml **ret,
		 struct domxml_error *err);

void domxml_free(struct domxml *d);

/* The domain's <name>, or "?" when it has none. */
const char *domxml_name(const struct domxml *d);

size_t domxml_nports(const struct domxml *d);

/* The i-th managed interface in document order; NULL past the end. */
const struct domxml_port *domxml_port(const struct domxml *d, size_t i);

/* The guest memory is shared (what vhost-user needs). */
bool domxml_memory_shared(const struct domxml *d);

/*
 * Rewrites every managed interface for target: the type, and a <source>
 * that is sockdir/NAME.sock (QEMU the client) or the metadata's vdpa-dev.
 * The MAC, model, PCI address, mtu, driver, alias, boot order and all other
 * children stay; <target> goes when the type changes (it names a host-side
 * device of the old type).  The ports (domxml_port()) follow the new types.
 * *ret_changed tells whether anything changed (may be NULL).  All or
 * nothing: on failure the document is unchanged.
 *   -EPERM         an interface would become vhost-user but the guest memory
 *                  is not shared
 *   -ENAMETOOLONG  sockdir/NAME.sock does not fit sun_path
 *   -ENOMEM
 */
int domxml_rewrite(struct domxml *d, enum domxml_target target, const char *sockdir,
		   bool *ret_changed, struct domxml_error *err);

/*
 * The document as XML text, without an XML declaration, ending in '\n'.
 * *ret is malloc'd and NUL-terminated; *ret_len is its length.
 */
int domxml_format(const struct domxml *d, char **ret, size_t *ret_len);

/* "sw" -> DOMXML_TO_SW, "accel" -> DOMXML_TO_ACCEL; -EINVAL otherwise. */
int domxml_target_parse(const char *s, enum domxml_target *ret);

#endif
