/*
 * Ports: the vhost-user server socket and connection handling.  See port.h.
 *
 * The connection code is the thin layer between the socket and the device:
 * vu_io_recv() gets bytes and fds, vu_parse() validates them against the
 * connection's state, vu_dev_handle() applies them, vu_respond() says what
 * to answer, and this file sends it.  Any refusal that the front end cannot
 * be told about through REPLY_ACK ends the connection: after a message we
 * did not understand, the two sides no longer agree on the device's state.
 */
#include "agent/daemon/port.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <zlib.h>

#include "agent/daemon/accel_dev.h"
#include "agent/datapath/endpoint.h"
#include "agent/daemon/engine_accel.h"
#include "agent/daemon/engine_sw.h"
#include "agent/common/log.h"
#include "agent/common/util.h"
#include "agent/daemon/vu_dev.h"
#include "dirtylog/dirtylog.h"
#include "protocol/base64.h"
#include "protocol/control.h"
#include "protocol/port_view.h"
#include "protocol/vhost_user.h"
#include "protocol/vhost_user_io.h"

/*
 * A reply must be taken this fast.  QEMU reads each reply at once; a front
 * end that does not read stalls only itself, then loses its connection.
 */
#define VU_SEND_TIMEOUT_MS 200

struct port {
	struct port_config cfg;
	enum port_origin origin;
	struct loop *loop;
	int listen_fd;
	struct watch *listen_watch;
	int conn_fd;
	struct watch *conn_watch;
	struct vu_io_rx rx;	/* partial message of the connection */
	struct vu_dev dev;
	struct engine_sw *engine;	/* always there while connected: the fallback */
	struct engine_accel *acc;	/* the accelerator, while it serves the port */
	struct watch *dev_watch;	/* the device's socket: EOF means it died */
	/*
	 * The rings left an accelerator without a dirty log of its own
	 * because QEMU turned logging on: they go back when it turns it off
	 * (a cancelled migration).
	 */
	bool sw_while_logging;
	uint64_t logging_switches;	/* how often that happened */
	/* How the device's writes reach QEMU's log, once one was opened. */
	const char *dirty_tracking;
	uint64_t relayed;		/* chains relayed by accelerators gone */
	uint64_t fallbacks;
	uint64_t last_switch_us;
	struct endpoint *ep;
	uint64_t connections;
	/*
	 * Accelerator stops while QEMU logged that missed their final harvest,
	 * counted over this connection's engines (freed ones included), and
	 * the count when QEMU last turned logging on: a migration's log is
	 * complete when no miss happened since.
	 */
	uint64_t harvest_misses;
	/* Device pages outside QEMU's log, of accelerators gone on this connection. */
	uint64_t accel_log_errors;
};

/* The longest ring either data path takes (virtio's limit for split rings). */
#define PORT_MAX_RING_SIZE 32768

uint64_t port_offered_features(const struct port_config *cfg)
{
	uint64_t f = VU_BIT(VIRTIO_F_VERSION_1) | VU_BIT(VIRTIO_NET_F_MRG_RXBUF) |
		     VU_BIT(VIRTIO_F_INDIRECT_DESC) | VU_BIT(VIRTIO_F_EVENT_IDX) |
		     VU_BIT(VIRTIO_NET_F_STATUS) | VU_BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) |
		     VU_BIT(VU_F_LOG_ALL) | VU_BIT(VU_F_PROTOCOL_FEATURES);

	if (cfg->has_mac)
		f |= VU_BIT(VIRTIO_NET_F_MAC);
	if (cfg->has_mtu)
		f |= VU_BIT(VIRTIO_NET_F_MTU);
	if (cfg->queues > 1)
		f |= VU_BIT(VIRTIO_NET_F_MQ);
	return f;
}

uint64_t port_offered_protocol_features(const struct port_config *cfg)
{
	(void)cfg;
	return VU_PF(VU_PROTO_F_MQ) | VU_PF(VU_PROTO_F_LOG_SHMFD) | VU_PF(VU_PROTO_F_RARP) |
	       VU_PF(VU_PROTO_F_REPLY_ACK) | VU_PF(VU_PROTO_F_NET_MTU) |
	       VU_PF(VU_PROTO_F_STATUS);
}

const struct port_config *port_config(const struct port *p)
{
	return &p->cfg;
}

enum port_origin port_origin(const struct port *p)
{
	return p->origin;
}

static bool any_ring_started(const struct port *p)
{
	for (unsigned i = 0; i < p->dev.nvrings; i++)
		if (p->dev.ring[i].started)
			return true;
	return false;
}

const char *port_state_name(const struct port *p)
{
	if (p->conn_fd < 0)
		return "listening";
	return any_ring_started(p) ? "running" : "connected";
}

/*
 * The accelerator engine goes (its rings are off the device): what it
 * counted is final and moves into the port's totals, then it is freed.
 */
static void retire_accel(struct port *p)
{
	struct engine_accel_stats st;

	loop_remove(p->dev_watch);
	p->dev_watch = NULL;
	if (!p->acc)
		return;
	engine_accel_stats(p->acc, &st);
	p->harvest_misses += engine_accel_harvest_misses(p->acc);
	p->accel_log_errors += st.log_errors;
	p->relayed += st.relayed;
	engine_accel_free(p->acc);
	p->acc = NULL;
}

/* The accelerator leaves the port: its rings go on in software. */
static void drop_accel(struct port *p, const char *why)
{
	uint64_t t0 = (mono_ns() / 1000);
	int r;

	if (!p->acc)
		return;
	r = vu_dev_switch(&p->dev, &engine_sw_ops, p->engine);
	retire_accel(p);
	p->last_switch_us = (mono_ns() / 1000) - t0;
	if (why) {
		p->fallbacks++;
		log_warning("port %s: falling back to software: %s%s", p->cfg.name, why,
			    r < 0 ? " (a ring did not restart)" : "");
	} else {
		log_notice("port %s: switched to software in %llu us", p->cfg.name,
			   (unsigned long long)p->last_switch_us);
	}
}

static void on_device(struct watch *w, int fd, uint32_t events, void *opaque)
{
	struct port *p = opaque;

	(void)w;
	(void)fd;
	(void)events;
	/*
	 * The device never speaks unasked: readable means closed or broken,
	 * unless it answers what we sent without waiting (the DMA mapping
	 * of a new memory table, engine_accel.c).
	 */
	if (p->acc && engine_accel_device_readable(p->acc) == 0)
		return;
	drop_accel(p, "the accelerator's connection closed");
}

/* The port's rings move onto its accelerator (opened now). */
static int use_accel(struct port *p, char *err, size_t errlen)
{
	struct accel_dev *adev;
	uint64_t t0 = (mono_ns() / 1000);
	int r;

	if (p->acc)
		return 0;
	r = accel_dev_open(p->cfg.device, p->dev.nvrings, &adev, err, errlen);
	if (r < 0)
		return r;
	if (p->cfg.dirty_tracking == PORT_TRACK_DEVICE_LOG && !accel_dev_has_log(adev)) {
		snprintf(err, errlen, "device %s has no dirty log of its own (dirty-tracking=device-log "
			 "needs one; auto or relay would relay its rings)", p->cfg.device);
		accel_dev_close(adev);
		return -EOPNOTSUPP;
	}
	switch (p->cfg.dirty_tracking) {
	case PORT_TRACK_AUTO:
		p->dirty_tracking = accel_dev_has_log(adev) ? "device-log" : "relay";
		break;
	default:
		p->dirty_tracking = port_dirty_tracking_name(p->cfg.dirty_tracking);
		break;
	}
	r = engine_accel_new(p->cfg.name, &p->dev, adev, p->cfg.harvest_ms,
			     (enum engine_accel_tracking)p->cfg.dirty_tracking, &p->acc);
	if (r < 0) {
		snprintf(err, errlen, "device %s: %s", p->cfg.device, strerror(-r));
		return r;
	}
	/* A carrier without an fd to watch (vhost-vdpa) is found broken by port_tick(). */
	if (accel_dev_fd(engine_accel_device(p->acc)) >= 0)
		r = loop_add(p->loop, accel_dev_fd(engine_accel_device(p->acc)), EPOLLIN, on_device,
			     p, &p->dev_watch);
	if (r == 0)
		r = vu_dev_switch(&p->dev, &engine_accel_ops, p->acc);
	if (r < 0 || engine_accel_failed(p->acc)) {
		snprintf(err, errlen, "device %s: cannot take over the rings", p->cfg.device);
		drop_accel(p, NULL);
		return r < 0 ? r : -EIO;
	}
	if (engine_accel_wants_software(p->acc)) {
		snprintf(err, errlen, "port %s has dirty-tracking=software and QEMU is logging (a "
			 "migration): the rings stay in software until logging ends", p->cfg.name);
		drop_accel(p, NULL);
		p->sw_while_logging = true;
		return -EBUSY;
	}
	p->last_switch_us = (mono_ns() / 1000) - t0;
	log_notice("port %s: rings on the accelerator %s (%llu us)", p->cfg.name, p->cfg.device,
		   (unsigned long long)p->last_switch_us);
	return 0;
}

int port_switch(struct port *p, enum port_backend to, uint64_t *ret_us, char *err,
		size_t errlen)
{
	int r = 0;

	if (p->conn_fd < 0) {
		snprintf(err, errlen, "port %s has no front end", p->cfg.name);
		return -ENOTCONN;
	}
	if (to == PORT_BACKEND_ACCEL) {
		if (!p->cfg.device[0]) {
			snprintf(err, errlen, "port %s has no device= configured", p->cfg.name);
			return -EINVAL;
		}
		r = use_accel(p, err, errlen);
	} else {
		drop_accel(p, NULL);
		p->sw_while_logging = false;
	}
	if (r == 0)
		*ret_us = p->last_switch_us;
	return r;
}

void port_tick(struct port *p)
{
	if (p->acc && engine_accel_probe(p->acc) < 0)
		drop_accel(p, "the accelerator reports an error");
}

const char *port_engine_name(const struct port *p)
{
	return p->acc ? "accel" : "sw";
}

static void disconnect(struct port *p, const char *why)
{
	if (p->conn_fd < 0)
		return;
	log_notice("port %s: front end disconnected%s%s", p->cfg.name, why ? ": " : "",
		   why ? why : "");
	loop_remove(p->conn_watch);
	p->conn_watch = NULL;
	vu_io_rx_reset(&p->rx);
	/* Stop the rings while the engines still exist, then drop them. */
	vu_dev_reset(&p->dev);
	retire_accel(p);
	engine_sw_free(p->engine);
	p->engine = NULL;
	close(p->conn_fd);
	p->conn_fd = -1;
}

static int send_response(struct port *p, const struct vu_msg *m, enum vu_respond how,
			 const struct vu_reply *reply, int status)
{
	uint8_t buf[VU_MAX_REPLY];
	size_t len;
	int r;

	if (how == VU_RESPOND_REPLY)
		r = vu_encode_reply(reply, buf, sizeof(buf), &len);
	else
		r = vu_encode_ack(m->request, status, buf, sizeof(buf), &len);
	if (r < 0)
		return r;
	return vu_io_send(p->conn_fd, VU_SEND_TIMEOUT_MS, buf, len, NULL, 0);
}

/* Misses of the engines gone and of the one serving now. */
static uint64_t port_harvest_misses(const struct port *p)
{
	return p->harvest_misses + (p->acc ? engine_accel_harvest_misses(p->acc) : 0);
}

static unsigned rings_running(const struct port *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->dev.nvrings; i++)
		n += p->dev.ring[i].started;
	return n;
}

/*
 * dirty-tracking=software: the device does not serve while QEMU logs: its
 * rings go to software when logging starts (the engine left the device stopped at
 * exact bases) and back when it ends without a switchover (a cancelled
 * migration; after a completed one QEMU stops the rings, and the port
 * stays in software until the front end goes).
 */
static void logging_moves(struct port *p)
{
	char err[256];

	if (p->acc && engine_accel_wants_software(p->acc)) {
		drop_accel(p, NULL);
		p->sw_while_logging = true;
		p->logging_switches++;
		/* The port's choice, whether or not the device has a log of its own. */
		log_notice("port %s: QEMU logs dirty pages and the port has "
			   "dirty-tracking=software: the rings leave the device %s while it logs",
			   p->cfg.name, p->cfg.device);
		return;
	}
	if (p->sw_while_logging && !p->acc && !p->dev.log_all && rings_running(p) > 0) {
		p->sw_while_logging = false;
		if (use_accel(p, err, sizeof(err)) < 0)
			log_warning("port %s: logging ended, but the rings stay in software: %s",
				    p->cfg.name, err);
		else
			log_notice("port %s: logging ended: the rings are back on the accelerator",
				   p->cfg.name);
	}
}

/* " ring N" for a request about one ring, "" otherwise. */
static const char *ring_of(const struct vu_msg *m, char *buf, size_t len)
{
	if (!strstr(vu_request_name(m->request), "_VRING_"))
		return "";
	snprintf(buf, len, " ring %u", m->ring);
	return buf;
}

/* Handles one message; returns false when the connection must close. */
static bool handle_one(struct port *p, struct vu_io_msg *io)
{
	struct vu_parse_ctx ctx;
	struct vu_msg m;
	struct msg_err verr;
	struct vu_reply reply;
	enum vu_respond how;
	uint64_t pf, t_in, t_handled;
	unsigned long long wall = 0;
	unsigned running;
	char why[256], ringbuf[24];
	int r;

	vu_dev_parse_ctx(&p->dev, &ctx);
	r = vu_parse(io->buf, io->len, io->fds, io->nfds, &ctx, &m, &verr);
	io->nfds = 0; /* vu_parse() took the fds */
	if (r < 0) {
		snprintf(why, sizeof(why), "refused %s: %s",
			 verr.id ? vu_request_name((uint32_t)verr.id) : "message", verr.reason);
		disconnect(p, why);
		return false;
	}
	/* The ack rule depends on what was negotiated when the request arrived. */
	pf = p->dev.protocol_features;
	/*
	 * At debug level each request gets a line once answered: when it came
	 * on the wall clock (QEMU's "-msg timestamp=on" trace uses the same),
	 * and how long it took; bench_downtime's TIMELINE lines them up.
	 */
	if (log_get_level() >= LOG_LVL_DEBUG)
		wall = log_wall_us();
	t_in = mono_ns();
	running = rings_running(p);
	r = vu_dev_handle(&p->dev, &m, &reply);
	t_handled = mono_ns();
	mig_log_state(&p->dev.mig, p->dev.log_all, port_harvest_misses(p));
	how = vu_respond(&m, pf);
	if (r < 0)
		log_warning("port %s: %s failed: %s", p->cfg.name, vu_request_name(m.request),
			    p->dev.err);
	/*
	 * A reply carries a value (GET_VRING_BASE: where the ring stands) and
	 * has no way to say it failed: sending the zeroed reply would hand the
	 * front end an index we do not have.  Close without it.
	 */
	if (r < 0 && how == VU_RESPOND_REPLY) {
		snprintf(why, sizeof(why), "%s failed and its reply cannot say so",
			 vu_request_name(m.request));
		vu_msg_close(&m);
		disconnect(p, why);
		return false;
	}
	if (how != VU_RESPOND_NONE) {
		int e = send_response(p, &m, how, &reply, r);
		if (e < 0) {
			snprintf(why, sizeof(why), "cannot answer %s: %s", vu_request_name(m.request),
				 strerror(-e));
			vu_msg_close(&m);
			disconnect(p, why);
			return false;
		}
	}
	if (wall)
		log_debug("port %s: %s%s at " LOG_WALL_FMT ", done in %llu us", p->cfg.name,
			  vu_request_name(m.request), ring_of(&m, ringbuf, sizeof(ringbuf)),
			  LOG_WALL_ARGS(wall), (unsigned long long)(mono_ns() - t_in) / 1000u);
	mig_request(&p->dev.mig, m.request, t_in, t_handled, mono_ns(), running,
		    rings_running(p));
	vu_msg_close(&m);
	if (p->acc && engine_accel_failed(p->acc))
		drop_accel(p, "the accelerator failed a request");
	logging_moves(p);
	if (r < 0 && how != VU_RESPOND_ACK) {
		snprintf(why, sizeof(why), "%s failed and the front end cannot be told",
			 vu_request_name(m.request));
		disconnect(p, why);
		return false;
	}
	return true;
}

/*
 * The front end paused (every request it sent was read): the accelerator
 * engine sends what it gathered for the device, once (engine_accel_idle()),
 * counted as the destination's handling.
 */
static void front_end_paused(struct port *p)
{
	uint64_t t0;

	if (!p->acc)
		return;
	t0 = mono_ns();
	engine_accel_idle(p->acc);
	mig_work(&p->dev.mig, mono_ns() - t0);
	if (engine_accel_failed(p->acc))
		drop_accel(p, "the accelerator failed a request");
}

static void serve_front_end(struct port *p, int fd)
{
	struct vu_io_msg io;
	char why[128];

	/*
	 * Never waits: a message that is not complete yet stays in p->rx.
	 * Bounded so one chatty front end cannot starve the other ports.
	 */
	for (int i = 0; i < 64; i++) {
		int r = vu_io_rx_step(fd, &p->rx, &io);

		if (r == -EAGAIN) {
			front_end_paused(p);
			return;
		}
		if (r == 0) {
			disconnect(p, NULL);
			return;
		}
		if (r < 0) {
			snprintf(why, sizeof(why), "vhost-user socket: %s",
				 r == -ENOBUFS ? "more file descriptors than a message may carry" :
				 r == -EMSGSIZE ? "message size above the limit" :
				 r == -EPROTO ? "file descriptors sent with payload bytes" :
				 r == -ECONNRESET ? "closed in the middle of a message" : strerror(-r));
			disconnect(p, why);
			return;
		}
		if (!handle_one(p, &io))
			return;
	}
	front_end_paused(p);	/* more may wait: what came so far goes now */
}

/*
 * The lines logged while the front end's requests are served go out
 * together once it pauses (log_hold()): a switchover logs a line per ring
 * on each side, and under systemd each line is a send to journald, whose
 * wake-up the sender pays inside QEMU's downtime.  Warnings and errors
 * are not held.
 */
static void on_conn(struct watch *w, int fd, uint32_t events, void *opaque)
{
	(void)w;
	(void)events;
	log_hold();
	serve_front_end(opaque, fd);
	log_release();
}

static void on_accept(struct watch *w, int fd, uint32_t events, void *opaque)
{
	struct port *p = opaque;
	int c, r;

	(void)w;
	(void)events;
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warning("port %s: accept: %s", p->cfg.name, strerror(errno));
		return;
	}
	if (p->conn_fd >= 0) {
		log_warning("port %s: refusing a second front end (one is connected)", p->cfg.name);
		close(c);
		return;
	}
	vu_dev_init(&p->dev, p->cfg.name, port_offered_features(&p->cfg),
		    port_offered_protocol_features(&p->cfg), p->cfg.queues, &engine_sw_ops, NULL);
	p->dev.bench_log = p->cfg.bench_log;
	r = engine_sw_new(p->cfg.name, &p->dev, p->ep, p->cfg.poll, &p->engine);
	if (r < 0) {
		log_err("port %s: cannot start the data path: %s", p->cfg.name, strerror(-r));
		close(c);
		return;
	}
	p->dev.opaque = p->engine;
	r = loop_add(p->loop, c, EPOLLIN, on_conn, p, &p->conn_watch);
	if (r < 0) {
		log_err("port %s: %s", p->cfg.name, strerror(-r));
		engine_sw_free(p->engine);
		p->engine = NULL;
		close(c);
		return;
	}
	p->conn_fd = c;
	vu_io_rx_init(&p->rx);
	p->connections++;
	p->harvest_misses = 0;
	p->accel_log_errors = 0;
	p->sw_while_logging = false;
	log_notice("port %s: front end connected", p->cfg.name);
	if (p->cfg.backend == PORT_BACKEND_ACCEL) {
		char err[256] = "";

		if (use_accel(p, err, sizeof(err)) < 0) {
			p->fallbacks++;
			log_warning("port %s: accelerator unavailable, serving in software: %s",
				    p->cfg.name, err);
		}
	}
}

/*
 * A socket file left by a previous run is replaced; one that something
 * still listens on, or a file that is not a socket, is not touched.
 */
static int prepare_socket_path(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "socket %s: exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, path);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "socket %s: another process is listening on it", path);
		return -EADDRINUSE;
	}
	unlink(path);
	return 0;
}

/*
 * socket-group= and socket-mode=: so that QEMU running as another user
 * (libvirt's libvirt-qemu) may connect.  Applied right after bind(), before
 * the socket is watched; a group that does not exist fails the port rather
 * than leave a socket QEMU cannot open.
 */
int port_socket_gid(const struct port_config *cfg, gid_t *ret_gid, char *err, size_t errlen)
{
	const char *g = cfg->socket_group;
	char *end;
	unsigned long v;
	gid_t gid = (gid_t)-1;

	if (g[0]) {
		v = strtoul(g, &end, 10);
		if (g[0] >= '0' && g[0] <= '9' && !*end) {
			gid = (gid_t)v;
		} else {
			struct group *gr = getgrnam(g);

			if (!gr) {
				snprintf(err, errlen, "socket-group: no group named '%s'", g);
				return -ENOENT;
			}
			gid = gr->gr_gid;
		}
	}
	if (ret_gid)
		*ret_gid = gid;
	return 0;
}

static int socket_access(const struct port_config *cfg, char *err, size_t errlen)
{
	gid_t gid;
	int r;

	r = port_socket_gid(cfg, &gid, err, errlen);
	if (r < 0)
		return r;
	if (gid != (gid_t)-1 && chown(cfg->socket, (uid_t)-1, gid) < 0) {
		int e = errno;

		snprintf(err, errlen, "socket %s: chown to group %s: %s", cfg->socket,
			 cfg->socket_group, strerror(e));
		return -e;
	}
	if (cfg->socket_mode && chmod(cfg->socket, (mode_t)cfg->socket_mode) < 0) {
		int e = errno;

		snprintf(err, errlen, "socket %s: chmod %04o: %s", cfg->socket, cfg->socket_mode,
			 strerror(e));
		return -e;
	}
	return 0;
}

int port_new(struct loop *loop, const struct port_config *cfg, enum port_origin origin,
	     struct port **ret, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct port *p;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	p->origin = origin;
	p->loop = loop;
	p->listen_fd = -1;
	p->conn_fd = -1;
	vu_io_rx_init(&p->rx);
	vu_dev_init(&p->dev, p->cfg.name, 0, 0, 1, &engine_sw_ops, NULL);

	r = endpoint_open(cfg->endpoint, cfg->ifname, cfg->queues, &p->ep, err, errlen);
	if (r < 0)
		goto fail;
	/* No guest receives yet: no link towards the host. */
	endpoint_set_carrier(p->ep, false);
	r = prepare_socket_path(cfg->socket, err, errlen);
	if (r < 0) {
		if (!err[0])
			snprintf(err, errlen, "socket %s: %s", cfg->socket, strerror(-r));
		goto fail;
	}
	p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (p->listen_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	strcpy(sa.sun_path, cfg->socket);
	if (bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(p->listen_fd, 4) < 0) {
		r = -errno;
		snprintf(err, errlen, "socket %s: %s", cfg->socket, strerror(errno));
		goto fail;
	}
	r = socket_access(cfg, err, errlen);
	if (r < 0) {
		unlink(cfg->socket);
		goto fail;
	}
	r = loop_add(loop, p->listen_fd, EPOLLIN, on_accept, p, &p->listen_watch);
	if (r < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(-r));
		unlink(cfg->socket);
		goto fail;
	}
	*ret = p;
	return 0;
fail:
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	endpoint_close(p->ep);
	free(p);
	return r;
}

void port_free(struct port *p)
{
	if (!p)
		return;
	disconnect(p, "port removed");
	loop_remove(p->listen_watch);
	if (p->listen_fd >= 0) {
		close(p->listen_fd);
		unlink(p->cfg.socket);
	}
	endpoint_close(p->ep);
	free(p);
}

static const char *endpoint_text(const struct port_config *c, char *buf, size_t len)
{
	switch (c->endpoint) {
	case PORT_ENDPOINT_TAP:
		snprintf(buf, len, "tap:%s", c->ifname);
		return buf;
	case PORT_ENDPOINT_LOOP:
		return "loop";
	case PORT_ENDPOINT_NULL:
		break;
	}
	return "null";
}

static void summary_view(const struct port *p, struct port_view_summary *s)
{
	char ep[32];

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", p->cfg.name);
	snprintf(s->socket, sizeof(s->socket), "%s", p->cfg.socket);
	snprintf(s->backend, sizeof(s->backend), "%s", port_backend_name(p->cfg.backend));
	snprintf(s->endpoint, sizeof(s->endpoint), "%s", endpoint_text(&p->cfg, ep, sizeof(ep)));
	snprintf(s->state, sizeof(s->state), "%s", port_state_name(p));
	s->queues = p->cfg.queues;
}

/* The encoder's object, or NULL when it failed (no memory). */
static struct json_object *encoded(int r, struct json_object *o)
{
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *port_summary_json(const struct port *p)
{
	struct port_view_summary s;
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	summary_view(p, &s);
	return encoded(port_view_encode_summary(&s, o), o);
}

/* mac, mtu (when configured) and what a front end is offered. */
static void offer_view(const struct port_config *cfg, struct port_view *v)
{
	if (cfg->has_mac) {
		snprintf(v->mac, sizeof(v->mac), "%02x:%02x:%02x:%02x:%02x:%02x", cfg->mac[0],
			 cfg->mac[1], cfg->mac[2], cfg->mac[3], cfg->mac[4], cfg->mac[5]);
		v->has |= PV_BIT(PV_MAC);
	}
	if (cfg->has_mtu) {
		v->mtu = cfg->mtu;
		v->has |= PV_BIT(PV_MTU);
	}
	v->offered_features = port_offered_features(cfg);
	v->offered_protocol_features = port_offered_protocol_features(cfg);
	/*
	 * The accelerator interface (vhost-vfio) has no way to tell a ring
	 * size limit, so an accel port promises what the software path takes:
	 * it falls back to software whenever the device cannot serve.
	 */
	v->max_ring_size = PORT_MAX_RING_SIZE;
	v->has |= PV_BIT(PV_OFFERED_FEATURES) | PV_BIT(PV_OFFERED_PROTOCOL_FEATURES) |
		  PV_BIT(PV_MAX_RING_SIZE);
}

int port_offer_encode(const struct port_config *cfg, struct json_object *obj)
{
	struct port_view *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	snprintf(v->summary.name, sizeof(v->summary.name), "%s", cfg->name);
	snprintf(v->summary.backend, sizeof(v->summary.backend), "%s",
		 port_backend_name(cfg->backend));
	v->summary.queues = cfg->queues;
	v->has = PV_BIT(PV_NAME) | PV_BIT(PV_BACKEND) | PV_BIT(PV_QUEUES);
	offer_view(cfg, v);
	r = port_view_encode(v, obj);
	free(v);
	return r;
}

/*
 * Writes of this connection the dirty log could not record (beyond QEMU's
 * log): the software path's marks and the accelerators' harvested pages.
 */
static uint64_t port_log_errors(const struct port *p)
{
	uint64_t n = p->accel_log_errors + engine_sw_log_errors(p->engine);

	if (p->acc) {
		struct engine_accel_stats st;

		engine_accel_stats(p->acc, &st);
		n += st.log_errors;
	}
	return n;
}

/*
 * Where the source side of a migration stands (docs/control-protocol.md):
 * quiesced once every ring that ran was stopped by GET_VRING_BASE;
 * final_harvest when, besides, every write the data path made while QEMU
 * logged is in QEMU's log.  The software path marks the log before each
 * used index it publishes, so its side is always complete; an accelerator's
 * is complete when each of its stops merged the device's log (a clean stop
 * merges before GET_VRING_BASE is answered) since logging went on.
 */
static void migration_view(const struct port *p, struct port_view_migration *m)
{
	m->quiesced = p->conn_fd >= 0 && vu_dev_quiesced(&p->dev);
	m->final_harvest = m->quiesced && mig_final_harvest(&p->dev.mig, port_harvest_misses(p));
	for (unsigned i = 0; p->conn_fd >= 0 && i < p->dev.nvrings; i++) {
		const struct mig_ring *mr = &p->dev.mig.ring[i];

		if (!mr->handed_over)
			continue;
		m->handed[m->nhanded].ring = i;
		m->handed[m->nhanded].next_avail = mr->handed_base;
		m->nhanded++;
	}
}

/* The last switchover's phases (migration.h), the sides that happened. */
static void switchover_view(const struct port *p, struct port_view_switchover *v)
{
	const struct mig_phases *ph = &p->dev.mig.phases;

	v->has = 0;
	if (ph->src_done) {
		v->source_us = (ph->src_last_ns - ph->src_first_ns) / 1000;
		v->source_handling_us = ph->src_handling_ns / 1000;
		v->source_requests = ph->src_requests;
		v->has |= PV_BIT(PV_SW_SOURCE_US) | PV_BIT(PV_SW_SOURCE_HANDLING_US) |
			  PV_BIT(PV_SW_SOURCE_REQUESTS);
	}
	if (ph->dst_rings) {
		v->dest_us = (ph->dst_last_ns - ph->dst_first_ns) / 1000;
		v->dest_mem_table_us = ph->dst_mem_ns / 1000;
		v->dest_ring_start_us = ph->dst_start_ns / 1000;
		v->dest_rings = ph->dst_rings;
		v->dest_handling_us = ph->dst_handling_ns / 1000;
		v->has |= PV_BIT(PV_SW_DEST_US) | PV_BIT(PV_SW_DEST_MEM_TABLE_US) |
			  PV_BIT(PV_SW_DEST_RING_START_US) | PV_BIT(PV_SW_DEST_RINGS) |
			  PV_BIT(PV_SW_DEST_HANDLING_US);
	}
}

static void accel_view(const struct port *p, struct port_view_accel *a)
{
	struct engine_accel_stats st;

	engine_accel_stats(p->acc, &st);
	snprintf(a->device, sizeof(a->device), "%s", p->cfg.device);
	a->harvest_rounds = st.harvest_rounds;
	a->harvest_pages = st.harvest_pages;
	a->last_round_pages = st.last_round_pages;
	a->dirty_rate_pps = st.dirty_rate;
	a->switchover_us = st.last_switchover_us;
	a->device_stops = st.device_stops;
	a->device_starts = st.device_starts;
	a->stop_us = st.last_stop_us;
	a->harvest_us = st.last_harvest_us;
	a->bases_us = st.last_bases_us;
	a->map_us = st.last_map_us;
	a->config_us = st.last_config_us;
	a->start_us = st.last_start_us;
	a->device_features = st.device_features;
	a->unserved_features = st.unserved_features;
	a->has = (PV_BIT(PV_ACCEL_MEMBERS) - 1) & ~PV_BIT(PV_ACCEL_LAST_HARVEST_MS_AGO);
	if (st.last_harvest_ns) {
		a->last_harvest_ms_ago = (mono_ns() - st.last_harvest_ns) / 1000000u;
		a->has |= PV_BIT(PV_ACCEL_LAST_HARVEST_MS_AGO);
	}
}

static void ring_view(const struct port *p, unsigned i, struct port_view_ring *r)
{
	const struct vu_ring_cfg *rc = &p->dev.ring[i];
	struct engine_ring_info ri;

	engine_sw_ring_info(p->engine, i, &ri);
	r->has = (PV_BIT(PV_RING_MEMBERS) - 1) &
		 ~(PV_BIT(PV_RING_REASON) | PV_BIT(PV_RING_STARTED_AT) |
		   PV_BIT(PV_RING_FIRST_FRAME_RT_NS) | PV_BIT(PV_RING_LAST_FRAME_RT_NS));
	r->index = i;
	r->size = rc->num;
	r->started = rc->started;
	r->enabled = rc->enabled;
	r->broken = ri.broken;
	if (ri.broken && ri.reason) {
		snprintf(r->reason, sizeof(r->reason), "%s", ri.reason);
		r->has |= PV_BIT(PV_RING_REASON);
	}
	r->next_avail = rc->started ? ri.next_avail : rc->base;
	/* Where the ring last started (SET_VRING_BASE): what a migration's
	 * hand-over check compares, whichever engine serves the ring (an
	 * accelerator's own index is its own). */
	if (rc->started) {
		r->started_at = rc->base;
		r->has |= PV_BIT(PV_RING_STARTED_AT);
	}
	r->used = ri.used;
	r->kicks = ri.stats.kicks;
	r->calls = ri.stats.calls;
	r->frames = ri.stats.frames;
	r->bytes = ri.stats.bytes;
	r->drops = ri.stats.drops;
	r->no_bufs = ri.stats.no_bufs;
	r->log_marks = ri.stats.log_marks;
	r->log_bytes = ri.stats.log_bytes;
	r->log_pages = ri.stats.log_pages;
	/* The agent sees the frames of the rings it serves only. */
	r->first_frame_rt_ns = p->acc ? 0 : ri.first_frame_rt_ns;
	r->last_frame_rt_ns = p->acc ? 0 : ri.last_frame_rt_ns;
	if (r->first_frame_rt_ns)
		r->has |= PV_BIT(PV_RING_FIRST_FRAME_RT_NS);
	if (r->last_frame_rt_ns)
		r->has |= PV_BIT(PV_RING_LAST_FRAME_RT_NS);
}

static void detail_view(const struct port *p, struct port_view *v)
{
	bool conn = p->conn_fd >= 0;

	memset(v, 0, sizeof(*v));
	summary_view(p, &v->summary);
	v->has = PV_SUMMARY | PV_BIT(PV_FEATURES) | PV_BIT(PV_PROTOCOL_FEATURES) |
		 PV_BIT(PV_MIGRATION) | PV_BIT(PV_LOG_ALL) | PV_BIT(PV_LOG_ERRORS) |
		 PV_BIT(PV_CONNECTIONS) | PV_BIT(PV_ENGINE) | PV_BIT(PV_FALLBACKS) |
		 PV_BIT(PV_LAST_SWITCH_US) | PV_BIT(PV_RINGS);
	if (port_spec_format(&p->cfg, v->spec, sizeof(v->spec)) > 0)
		v->has |= PV_BIT(PV_SPEC);
	offer_view(&p->cfg, v);
	v->features = conn ? p->dev.features : 0;
	v->protocol_features = conn ? p->dev.protocol_features : 0;
	migration_view(p, &v->migration);
	v->log_all = conn && p->dev.log_all;
	v->log_errors = port_log_errors(p);
	v->connections = p->connections;
	snprintf(v->engine, sizeof(v->engine), "%s", conn ? port_engine_name(p) : "none");
	v->fallbacks = p->fallbacks;
	v->last_switch_us = p->last_switch_us;
	if (p->dirty_tracking) {
		snprintf(v->dirty_tracking, sizeof(v->dirty_tracking), "%s", p->dirty_tracking);
		v->logging_switches = p->logging_switches;
		v->relayed = p->relayed;
		if (p->acc) {
			struct engine_accel_stats st;

			engine_accel_stats(p->acc, &st);
			v->relayed += st.relayed;
		}
		v->has |= PV_BIT(PV_DIRTY_TRACKING) | PV_BIT(PV_LOGGING_SWITCHES) |
			  PV_BIT(PV_RELAYED);
	}
	if (p->acc) {
		accel_view(p, &v->accel);
		v->has |= PV_BIT(PV_ACCEL);
	}
	switchover_view(p, &v->switchover);
	if (v->switchover.has)
		v->has |= PV_BIT(PV_SWITCHOVER);
	for (unsigned i = 0; conn && i < p->dev.nvrings && i < PORT_VIEW_MAX_RINGS; i++)
		ring_view(p, i, &v->ring[v->nrings++]);
}

struct json_object *port_detail_json(const struct port *p)
{
	struct port_view *v = malloc(sizeof(*v));
	struct json_object *o = json_object_new_object();
	int r = -ENOMEM;

	if (v && o) {
		detail_view(p, v);
		r = port_view_encode(v, o);
	}
	free(v);
	return encoded(r, o);
}

int port_dirtylog_snapshot(struct port *p, struct json_object **ret, char *err, size_t errlen)
{
	struct json_object *o;
	uint64_t now;
	uint8_t *raw = NULL, *z = NULL;
	char *b64 = NULL;
	uint64_t pages = 0;
	size_t size;
	uLongf zlen;
	int r;

	if (p->conn_fd < 0 || !p->dev.mem.nregions) {
		snprintf(err, errlen, "port %s has no guest memory to record (no front end)",
			 p->cfg.name);
		return -ENODATA;
	}
	if (!p->dev.rec_log) {
		r = vu_dev_record_start(&p->dev);
		if (r < 0) {
			snprintf(err, errlen, "cannot start recording: %s", strerror(-r));
			return r;
		}
		log_notice("port %s: dirty-log recording started", p->cfg.name);
	}
	size = dirtylog_size(p->dev.rec_log);
	raw = malloc(size);
	zlen = compressBound(size);
	z = malloc(zlen);
	if (!raw || !z) {
		r = -ENOMEM;
		goto out;
	}
	now = mono_ns();
	r = vu_dev_record_take(&p->dev, raw, size, &pages);
	if (r < 0) {
		snprintf(err, errlen, "snapshot: %s", strerror(-r));
		goto out;
	}
	if (compress2(z, &zlen, raw, size, 1) != Z_OK) {
		r = -EIO;
		snprintf(err, errlen, "snapshot: compression failed");
		goto out;
	}
	/* The reply must stay within what clients read (CTL_MAX_REPLY). */
	if (b64_encoded_len(zlen) > CTL_MAX_REPLY - 4096) {
		r = -EMSGSIZE;
		snprintf(err, errlen, "snapshot of %llu dirty pages does not fit in a reply",
			 (unsigned long long)pages);
		goto out;
	}
	b64 = malloc(b64_encoded_len(zlen) + 1);
	if (!b64) {
		r = -ENOMEM;
		goto out;
	}
	b64_encode(z, zlen, b64);
	o = json_object_new_object();
	json_object_object_add(o, "page_size", json_object_new_int(1 << DIRTYLOG_QEMU_PAGE_SHIFT));
	json_object_object_add(o, "guest_size",
			       json_object_new_uint64((uint64_t)size * 8 << DIRTYLOG_QEMU_PAGE_SHIFT));
	json_object_object_add(o, "timestamp_ns", json_object_new_uint64(now));
	json_object_object_add(o, "pages", json_object_new_uint64(pages));
	json_object_object_add(o, "bitmap_z64", json_object_new_string(b64));
	*ret = o;
	r = 0;
out:
	free(raw);
	free(z);
	free(b64);
	return r;
}

int port_dirtylog_stop(struct port *p)
{
	if (p->conn_fd < 0 || !p->dev.rec_log)
		return -ENODATA;
	vu_dev_record_stop(&p->dev);
	log_notice("port %s: dirty-log recording stopped", p->cfg.name);
	return 0;
}
