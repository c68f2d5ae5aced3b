/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A port as the control protocol's replies carry it (docs/control-protocol.md):
 * the PORT_SUMMARY of "ports" and "port-add", the PORT of "port-show" with
 * its rings, accelerator and migration objects, and the members of
 * "port-offer".  One encoder writes them for the agent, one decoder reads
 * them for every client (rendering, precheck, migrate).
 *
 * Trust boundary: the decoder reads what an agent answered, which a client
 * treats as untrusted (a remote agent, an older or newer one, the wrong
 * socket).  Every member it stores was checked for type and bounds, strings
 * for length and NUL, arrays for length, ring indexes for range; a reply
 * that fails gets -EBADMSG with the reason in struct ctl_error and leaves
 * *ret alone.  Members the decoder does not know are ignored (a newer
 * agent's additions).  Strings are stored as sent, control characters
 * included: whoever prints one cleans it.
 *
 * Which members must be there is the caller's to say (struct
 * port_view_need): a precheck needs less than "port show" prints, and the
 * agents in the field may be older than the client.  What is present is
 * always checked; what is absent shows as a clear bit in "has".
 *
 * Nothing here does I/O or logs.
 */
#ifndef VDPA_PROTOCOL_PORT_VIEW_H
#define VDPA_PROTOCOL_PORT_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/control.h"

struct json_object;

#define PORT_VIEW_MAX_RINGS     64	/* rings (and handed-over rings) of one port */
#define PORT_VIEW_MAX_QUEUES    (PORT_VIEW_MAX_RINGS / 2)
#define PORT_VIEW_MAX_RING_SIZE 32768	/* virtio's limit for a split ring */

/* Bytes of the strings, the NUL included. */
#define PORT_VIEW_NAME_SIZE     (CTL_NAME_MAX + 1)
#define PORT_VIEW_SOCKET_SIZE   108	/* sizeof(sun_path) */
#define PORT_VIEW_WORD_SIZE     16	/* backend, state, engine */
#define PORT_VIEW_ENDPOINT_SIZE 32	/* "tap:" and an interface name */
#define PORT_VIEW_SPEC_SIZE     (CTL_SPEC_MAX + 1)
#define PORT_VIEW_MAC_SIZE      32
#define PORT_VIEW_REASON_SIZE   128
#define PORT_VIEW_DEVICE_SIZE   128

#define PV_BIT(m) (UINT32_C(1) << (m))

/* The members of a port object, in the order the agent writes them: bits of port_view.has. */
enum port_view_member {
	PV_NAME,
	PV_SOCKET,
	PV_BACKEND,
	PV_ENDPOINT,
	PV_STATE,
	PV_QUEUES,
	PV_SPEC,
	PV_MAC,				/* when configured */
	PV_MTU,				/* when configured */
	PV_OFFERED_FEATURES,
	PV_OFFERED_PROTOCOL_FEATURES,
	PV_MAX_RING_SIZE,		/* needed whenever offered_features is there */
	PV_FEATURES,
	PV_PROTOCOL_FEATURES,
	PV_MIGRATION,			/* absent: an agent that cannot tell (never quiesced) */
	PV_LOG_ALL,
	PV_LOG_ERRORS,
	PV_CONNECTIONS,
	PV_ENGINE,
	PV_FALLBACKS,
	PV_LAST_SWITCH_US,
	PV_DIRTY_TRACKING,		/* once a device was opened: "device-log", "software" */
	PV_LOGGING_SWITCHES,		/* with dirty_tracking */
	PV_RELAYED,			/* with dirty_tracking */
	PV_ACCEL,			/* while an accelerator serves the port */
	PV_SWITCHOVER,			/* once a switchover began on this connection */
	PV_RINGS,
	PV_PORT_MEMBERS
};

enum port_view_ring_member {
	PV_RING_INDEX,
	PV_RING_SIZE,
	PV_RING_STARTED,
	PV_RING_ENABLED,
	PV_RING_BROKEN,
	PV_RING_REASON,			/* when broken, and the data path said why */
	PV_RING_NEXT_AVAIL,
	PV_RING_STARTED_AT,		/* while started */
	PV_RING_USED,
	PV_RING_KICKS,
	PV_RING_CALLS,
	PV_RING_FRAMES,
	PV_RING_BYTES,
	PV_RING_DROPS,
	PV_RING_NO_BUFS,
	PV_RING_LOG_MARKS,
	PV_RING_LOG_BYTES,
	PV_RING_LOG_PAGES,
	PV_RING_FIRST_FRAME_RT_NS,	/* when known */
	PV_RING_LAST_FRAME_RT_NS,	/* when known */
	PV_RING_MEMBERS
};

enum port_view_accel_member {
	PV_ACCEL_DEVICE,
	PV_ACCEL_HARVEST_ROUNDS,
	PV_ACCEL_HARVEST_PAGES,
	PV_ACCEL_LAST_ROUND_PAGES,
	PV_ACCEL_DIRTY_RATE_PPS,
	PV_ACCEL_LAST_HARVEST_MS_AGO,	/* clear: null on the wire (no harvest yet) */
	PV_ACCEL_SWITCHOVER_US,
	PV_ACCEL_DEVICE_STOPS,
	PV_ACCEL_DEVICE_STARTS,		/* the members below: agents since issue 14 */
	PV_ACCEL_STOP_US,
	PV_ACCEL_HARVEST_US,
	PV_ACCEL_BASES_US,
	PV_ACCEL_MAP_US,
	PV_ACCEL_CONFIG_US,
	PV_ACCEL_START_US,
	PV_ACCEL_DEVICE_FEATURES,	/* these two came after (issue 11's precheck) */
	PV_ACCEL_UNSERVED_FEATURES,
	PV_ACCEL_MEMBERS
};

/*
 * The backend's part of the last switchover on this connection, in
 * microseconds (the agent's clock): on a source, from the first
 * GET_VRING_BASE to the reply to the last, and the time spent handling
 * them; on a destination, from the memory table of a device start to the
 * start of its last ring, the time spent mapping memory and starting rings,
 * and the time spent handling every request in between (an agent older
 * than dest_handling_us leaves it out).  A side that did not happen is
 * absent.
 */
enum port_view_switchover_member {
	PV_SW_SOURCE_US,
	PV_SW_SOURCE_HANDLING_US,
	PV_SW_SOURCE_REQUESTS,
	PV_SW_DEST_US,
	PV_SW_DEST_MEM_TABLE_US,
	PV_SW_DEST_RING_START_US,
	PV_SW_DEST_RINGS,
	PV_SW_DEST_HANDLING_US,
	PV_SW_MEMBERS
};

struct port_view_switchover {
	uint32_t has;			/* PV_SW_* bits */
	uint64_t source_us, source_handling_us, source_requests;
	uint64_t dest_us, dest_mem_table_us, dest_ring_start_us, dest_rings;
	uint64_t dest_handling_us;	/* every request's, memory table to last start */
};

/* What "ports" lists and "port-add" answers: every member always there. */
struct port_view_summary {
	char name[PORT_VIEW_NAME_SIZE];
	char socket[PORT_VIEW_SOCKET_SIZE];
	char backend[PORT_VIEW_WORD_SIZE];	/* "sw", "accel" */
	char endpoint[PORT_VIEW_ENDPOINT_SIZE];	/* "tap:IF", "null", "loop" */
	char state[PORT_VIEW_WORD_SIZE];	/* "listening", "connected", "running" */
	uint32_t queues;			/* 1..PORT_VIEW_MAX_QUEUES */
};

#define PV_SUMMARY (PV_BIT(PV_NAME) | PV_BIT(PV_SOCKET) | PV_BIT(PV_BACKEND) | \
		    PV_BIT(PV_ENDPOINT) | PV_BIT(PV_STATE) | PV_BIT(PV_QUEUES))

struct port_view_ring {
	uint32_t has;			/* PV_RING_* bits */
	uint32_t index;			/* < PORT_VIEW_MAX_RINGS */
	uint32_t size;			/* <= PORT_VIEW_MAX_RING_SIZE */
	bool started, enabled, broken;
	char reason[PORT_VIEW_REASON_SIZE];
	uint16_t next_avail;
	uint16_t started_at;
	uint16_t used;
	uint64_t kicks, calls, frames, bytes, drops, no_bufs;
	uint64_t log_marks, log_bytes, log_pages;
	uint64_t first_frame_rt_ns, last_frame_rt_ns;	/* <= INT64_MAX */
};

struct port_view_accel {
	uint32_t has;			/* PV_ACCEL_* bits */
	char device[PORT_VIEW_DEVICE_SIZE];
	uint64_t harvest_rounds, harvest_pages, last_round_pages;
	double dirty_rate_pps;		/* finite, >= 0 */
	uint64_t last_harvest_ms_ago;
	uint64_t switchover_us, device_stops;
	uint64_t device_starts, stop_us, harvest_us, bases_us, map_us, config_us, start_us;
	uint64_t device_features, unserved_features;
};

struct port_view_migration {
	bool quiesced, final_harvest;
	unsigned nhanded;
	struct {
		uint32_t ring;		/* < PORT_VIEW_MAX_RINGS */
		uint16_t next_avail;
	} handed[PORT_VIEW_MAX_RINGS];
};

struct port_view {
	uint32_t has;			/* PV_* bits: the members present */
	struct port_view_summary summary;
	char spec[PORT_VIEW_SPEC_SIZE];
	char mac[PORT_VIEW_MAC_SIZE];
	uint32_t mtu;			/* <= 65535 */
	uint64_t offered_features, offered_protocol_features;
	uint32_t max_ring_size;		/* <= PORT_VIEW_MAX_RING_SIZE */
	uint64_t features, protocol_features;
	struct port_view_migration migration;
	bool log_all;
	uint64_t log_errors, connections;
	char engine[PORT_VIEW_WORD_SIZE];	/* "sw", "accel", "none" */
	uint64_t fallbacks, last_switch_us;
	char dirty_tracking[PORT_VIEW_WORD_SIZE];
	uint64_t logging_switches, relayed;
	struct port_view_accel accel;
	struct port_view_switchover switchover;
	unsigned nrings;
	struct port_view_ring ring[PORT_VIEW_MAX_RINGS];
};

/* The members that must be present, for the port, each ring, and "accel" when it is there. */
struct port_view_need {
	uint32_t port;		/* PV_* bits */
	uint32_t ring;		/* PV_RING_* bits */
	uint32_t accel;		/* PV_ACCEL_* bits */
};

/*
 * What today's agent always writes (optional members aside): the need the
 * decoders take for NULL.
 */
extern const struct port_view_need port_view_need_show;	/* port-show */
extern const struct port_view_need port_view_need_offer;	/* port-offer */

/*
 * Encoders: add the members of v whose bit is set in has (a summary: all
 * of them) to obj, in the agent's order; "migration", "accel" and "rings"
 * as nested values.  "last_harvest_ms_ago" is written as null when its bit
 * is clear.  0, or -ENOMEM, or -EINVAL for a string without its NUL or a
 * count above its bound (obj may then hold some of the members).
 */
int port_view_encode(const struct port_view *v, struct json_object *obj);
int port_view_encode_summary(const struct port_view_summary *s, struct json_object *obj);

/*
 * Decoders of the replies of ctl_parse_reply(); -EBADMSG with err set
 * ("WHERE: "KEY" is missing or not WHAT", and the like), -ENOMEM.
 *
 * ports:      {"ports":[PORT_SUMMARY,...]}: *ret is a malloc'd array of
 *             *ret_n summaries (free() it; not NULL when there are none).
 * port-add:   {"port":PORT_SUMMARY}.
 * port-show:  {"port":PORT}, the members of need (NULL: port_view_need_show).
 * port-offer: the reply itself is the port, need NULL: port_view_need_offer.
 */
int port_view_decode_ports(struct json_object *reply, struct port_view_summary **ret,
			   size_t *ret_n, struct ctl_error *err);
int port_view_decode_added(struct json_object *reply, struct port_view_summary *ret,
			   struct ctl_error *err);
int port_view_decode_show(struct json_object *reply, const struct port_view_need *need,
			  struct port_view *ret, struct ctl_error *err);
int port_view_decode_offer(struct json_object *reply, const struct port_view_need *need,
			   struct port_view *ret, struct ctl_error *err);

#endif
