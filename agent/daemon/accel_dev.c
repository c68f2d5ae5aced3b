// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-user client for accelerators; see accel_dev.h.  A command is
 * encoded, sent, and its reply received, parsed and matched; vhost
 * requests and interrupts go in flights (accel_dev_vhost_run()): all of a
 * flight's commands are sent, then their replies read in order.  A reply that does
 * not parse or does not answer its command, or none within the timeout, is
 * an error the caller treats as the device being gone.
 */
#include "agent/daemon/accel_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/common/util.h"
#include "agent/daemon/accel_vdpa.h"
#include "protocol/sock_io.h"
#include "protocol/vfio_user.h"
#include "protocol/vfio_user_io.h"

struct accel_dev {
	struct accel_vdpa *vdpa;	/* the vhost-vdpa carrier, or vfio-user: */
	int sock;
	uint16_t next_id;
	unsigned nvrings;
	uint64_t mailbox_size;
	uint64_t log_granularity;
	bool batch;		/* the device takes mailbox batches ("mailbox_batch") */
	bool if_ok;		/* and conditional requests in them ("mailbox_if_ok") */
	int doorbell[ACCEL_DEV_MAX_VRINGS];
	struct vfu_io_msg *io;	/* ~64 KiB receive buffer */
	/*
	 * While a flight is sent (corking), commands gather here and go in one
	 * sendmsg: when full, and before any reply is waited for (flush()).
	 * A command with fds begins a new one (its fds ride on its first byte,
	 * the sendmsg's first): one such command per sendmsg.  A send costs
	 * the sender the device process's wake-up, tens of microseconds here.
	 */
	bool corking;
	uint8_t *cork;
	size_t cork_len;
	int cork_fds[VFU_MAX_FDS];
	size_t cork_nfds;
	bool cut;		/* accel_dev_cut_off() shut our end down */
	/*
	 * A send or a reply failed (other than the device refusing): replies
	 * may be left unread, so no later command can be matched to its reply.
	 */
	bool out_of_step;
	/*
	 * Commands sent without waiting for their replies
	 * (accel_dev_dma_map_nowait(), accel_dev_vhost_nowait()), oldest
	 * first: their replies are read before any later one (drain()); the
	 * first of their failures waits for accel_dev_sync().  A mailbox access
	 * names the (first) vhost request it carries (request, has_req); a
	 * mailbox read reads the replies of nreq of them, the oldest in preq[]
	 * (a FIFO: the requests whose replies are due, in order).
	 */
	struct pending {
		uint16_t id, command;
		uint32_t count;
		bool has_req;
		uint64_t request;
		unsigned nreq;
	} pending[ACCEL_DEV_MAX_PENDING];
	unsigned npending;
	struct vv_msg preq[ACCEL_DEV_MAX_PENDING];
	unsigned preq_head, npreq;
	int deferred;
	char deferred_err[200];
	int cut_result;
	char err[200];
};

#define fail(d, e, ...) errf((d)->err, sizeof((d)->err), e, __VA_ARGS__)

const char *accel_dev_error(const struct accel_dev *d)
{
	if (d->vdpa)
		return accel_vdpa_error(d->vdpa);
	return d->err;
}

int accel_dev_fd(const struct accel_dev *d)
{
	if (d->vdpa)
		return accel_vdpa_fd(d->vdpa);
	return d->sock;
}

uint64_t accel_dev_log_granularity(const struct accel_dev *d)
{
	return d->log_granularity;
}

bool accel_dev_can_suspend(const struct accel_dev *d)
{
	return !d->vdpa || accel_vdpa_can_suspend(d->vdpa);
}

bool accel_dev_has_log(const struct accel_dev *d)
{
	return !d->vdpa;
}

const char *accel_dev_carrier(const struct accel_dev *d)
{
	return d->vdpa ? "vhost-vdpa" : "vfio-user";
}

int accel_dev_dma_batch(struct accel_dev *d, bool begin)
{
	return d->vdpa ? accel_vdpa_dma_batch(d->vdpa, begin) : 0;
}



int accel_dev_doorbell_fd(const struct accel_dev *d, unsigned q)
{
	if (d->vdpa)
		return accel_vdpa_doorbell_fd(d->vdpa, q);
	return q < d->nvrings ? d->doorbell[q] : -1;
}

#define CORK_SIZE (64u << 10)

/* Sends what was corked; a failure puts the connection out of step. */
static int flush(struct accel_dev *d)
{
	size_t len = d->cork_len, nfds = d->cork_nfds;
	int r;

	if (len == 0)
		return 0;
	d->cork_len = 0;
	d->cork_nfds = 0;
	r = vfu_send_msg(d->sock, ACCEL_DEV_TIMEOUT_MS, d->cork, len, d->cork_fds, nfds);
	if (r < 0) {
		d->out_of_step = true;	/* part of it may have gone */
		return fail(d, r, "send: %s", strerror(-r));
	}
	return 0;
}

/* Sends cmd (with fds), numbered; its reply is read by recv_reply(). */
static int send_cmd(struct accel_dev *d, struct vfu_msg *cmd, const int *fds, size_t nfds)
{
	uint8_t buf[VFU_MAX_MSG];
	struct msg_err verr;
	size_t len;
	int r;

	if (d->cut)
		return fail(d, -ENOTCONN, "%s: the device was cut off",
			    vfu_command_name(cmd->command));
	if (d->out_of_step)
		return fail(d, -EPIPE, "%s: an earlier command's reply failed; the connection "
			    "is out of step", vfu_command_name(cmd->command));
	cmd->msg_id = d->next_id++;
	cmd->nfds = nfds;
	r = vfu_encode(cmd, buf, sizeof(buf), &len, &verr);
	if (r < 0)
		return fail(d, r, "%s: cannot encode: %s", vfu_command_name(cmd->command),
			    verr.reason);
	/* Its fds go with its own first byte: what was corked goes before it. */
	if ((nfds || !d->corking || d->cork_len + len > CORK_SIZE) && (r = flush(d)) < 0)
		return r;
	if (d->corking && len <= CORK_SIZE && nfds <= VFU_MAX_FDS) {
		memcpy(d->cork + d->cork_len, buf, len);
		d->cork_len += len;
		if (nfds) {	/* the first of the cork (flushed above) */
			memcpy(d->cork_fds, fds, nfds * sizeof(fds[0]));
			d->cork_nfds = nfds;
		}
		return 0;
	}
	r = vfu_send_msg(d->sock, ACCEL_DEV_TIMEOUT_MS, buf, len, fds, nfds);
	if (r < 0) {
		d->out_of_step = true;	/* part of it may have gone */
		return fail(d, r, "%s: send: %s", vfu_command_name(cmd->command), strerror(-r));
	}
	return 0;
}

/*
 * recv_reply() without the bookkeeping; *refused set when the device
 * refused.  Not wait: -EAGAIN, nothing read, when no byte of it is there.
 */
static int recv_reply_once(struct accel_dev *d, const struct vfu_msg *cmd, struct vfu_msg *rep,
			   bool *refused, bool wait)
{
	struct msg_err verr;
	int64_t deadline, left;
	int r;

	if ((r = flush(d)) < 0)
		return r;
	/*
	 * The socket does not block: vfu_recv_msg() says -EAGAIN until the
	 * reply's first byte is there (in a flight the later replies usually
	 * are: no poll for them), then waits for the rest within what is left
	 * of the timeout.  A device that never answers must not hang the
	 * control thread, and with it every port and the control socket.
	 */
	deadline = mono_ms() + ACCEL_DEV_TIMEOUT_MS;
	for (;;) {
		left = deadline - mono_ms();
		r = vfu_recv_msg(d->sock, left > 0 ? (int)left : 1, d->io);
		if (r != -EAGAIN)
			break;
		if (!wait)
			return -EAGAIN;
		r = sio_wait_for(d->sock, POLLIN, deadline);
		if (r == -ETIMEDOUT)
			return fail(d, r, "%s: no reply within %d ms",
				    vfu_command_name(cmd->command), ACCEL_DEV_TIMEOUT_MS);
		if (r < 0)
			return fail(d, r, "%s: receive: %s", vfu_command_name(cmd->command),
				    strerror(-r));
	}
	if (r == 0)
		return fail(d, -ECONNRESET, "%s: the device closed the connection",
			    vfu_command_name(cmd->command));
	if (r < 0)
		return fail(d, r, "%s: receive: %s", vfu_command_name(cmd->command),
			    strerror(-r));
	r = vfu_parse(d->io->buf, d->io->len, d->io->fds, d->io->nfds, rep, &verr);
	d->io->nfds = 0;
	if (r < 0)
		return fail(d, r, "%s: bad reply: %s", vfu_command_name(cmd->command), verr.reason);
	r = vfu_match_reply(cmd, rep, &verr);
	if (r < 0) {
		vfu_msg_close(rep);
		return fail(d, r, "%s: reply does not match: %s", vfu_command_name(cmd->command),
			    verr.reason);
	}
	if (rep->error) {
		vfu_msg_close(rep);
		*refused = true;
		return fail(d, -(int)rep->error, "%s: the device refused: %s",
			    vfu_command_name(cmd->command), strerror((int)rep->error));
	}
	return 0;
}

static int mailbox_replies(struct accel_dev *d, const struct vv_msg *reqs, unsigned n,
			   const uint8_t *data, size_t len, struct vv_msg *replies,
			   unsigned *ret_failed);

/*
 * Reads the replies of the commands sent without waiting, in order; a
 * refusal is kept for accel_dev_sync(), anything else puts the connection
 * out of step (returned).  Not wait: only those already there (the rest
 * stay pending).
 */
static int drain(struct accel_dev *d, bool wait)
{
	while (d->npending) {
		struct pending p = d->pending[0];
		struct vfu_msg cmd, rep;
		bool refused = false;
		int r;

		vfu_msg_init(&cmd, p.command, 0);
		cmd.msg_id = p.id;
		if (p.has_req) {
			cmd.u.access.region = VV_REGION_MAILBOX;
			cmd.u.access.count = p.count;
		}
		r = recv_reply_once(d, &cmd, &rep, &refused, wait);
		if (r == -EAGAIN && !refused && !wait)
			return 0;
		d->npending--;
		memmove(&d->pending[0], &d->pending[1], d->npending * sizeof(d->pending[0]));
		if (r < 0 && !refused) {
			d->out_of_step = true;
			d->npending = 0;
			d->npreq = d->preq_head = 0;
			return r;
		}
		if (r < 0 && p.has_req) {	/* the mailbox access was refused: name the request */
			fail(d, r, "%s: the device refused: %s", vv_request_name(p.request),
			     strerror(-r));
		} else if (r == 0) {
			/* A bad or refusing mailbox reply leaves the connection in step. */
			if (p.nreq)
				r = mailbox_replies(d, &d->preq[d->preq_head], p.nreq,
						    rep.u.access.data, rep.u.access.count, NULL,
						    NULL);
			vfu_msg_close(&rep);
		}
		/* Read or refused, those replies are no longer due. */
		d->preq_head += p.nreq;
		d->npreq -= p.nreq;
		if (d->npreq == 0)
			d->preq_head = 0;
		if (r < 0 && !d->deferred) {
			d->deferred = r;
			snprintf(d->deferred_err, sizeof(d->deferred_err), "%s", d->err);
		}
	}
	return 0;
}

/*
 * Waits for the reply to cmd (sent by send_cmd(), every command before it
 * already answered) into *rep.  Returns 0 with rep parsed and matched, or
 * a negative errno.  A device that refused (the reply says an error) gives
 * -error with *refused set (NULL: not asked): the connection is still in
 * step.  Any other failure (no reply in time, one that does not parse or
 * match) leaves it out of step: every later command fails at once.
 */
static int recv_reply(struct accel_dev *d, const struct vfu_msg *cmd, struct vfu_msg *rep,
		      bool *refused)
{
	bool no = false;
	int r = d->npending ? drain(d, true) : 0;

	if (r < 0)
		return r;
	r = recv_reply_once(d, cmd, rep, refused ? refused : &no, true);
	if (r < 0 && !(refused ? *refused : no))
		d->out_of_step = true;
	return r;
}

int accel_dev_readable(struct accel_dev *d, bool *ret_awaited)
{
	uint8_t b;
	ssize_t n;

	*ret_awaited = false;
	if (d->vdpa)
		return fail(d, -EPROTO, "the device's fd turned readable");
	/* Replies due: those there are read (none there: read meanwhile; closed: an error). */
	if (d->npending) {
		*ret_awaited = true;
		return drain(d, false);
	}
	n = recv(d->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	/* Read meanwhile: a reply awaited came before a later one was read. */
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n < 0)
		return fail(d, -errno, "receive: %s", strerror(errno));
	if (n == 0)
		return fail(d, -ECONNRESET, "the device closed the connection");
	return fail(d, -EPROTO, "the device spoke unasked");
}

int accel_dev_sync(struct accel_dev *d)
{
	int r;

	if (d->vdpa)
		return 0;
	if ((r = drain(d, true)) < 0)
		return r;
	r = d->deferred;
	if (r < 0) {
		snprintf(d->err, sizeof(d->err), "%s", d->deferred_err);
		d->deferred = 0;
	}
	return r;
}

/* One command and its reply (see recv_reply()). */
static int call(struct accel_dev *d, struct vfu_msg *cmd, const int *fds, size_t nfds,
		struct vfu_msg *rep)
{
	int r = send_cmd(d, cmd, fds, nfds);

	return r < 0 ? r : recv_reply(d, cmd, rep, NULL);
}

/*
 * Sends cmd (with fds) and queues its reply as one to read later
 * (drain()); req: the vhost request a mailbox access carries, or NULL.
 */
static int send_nowait(struct accel_dev *d, struct vfu_msg *cmd, const int *fds, size_t nfds,
		       const struct vv_msg *reqs, unsigned nreq)
{
	bool read = reqs && cmd->command == VFU_CMD_REGION_READ;
	struct pending *p;
	int r;

	/* Full: the oldest replies are read (what was corked goes first). */
	if ((d->npending == ACCEL_DEV_MAX_PENDING ||
	     (read && d->npreq + nreq > ACCEL_DEV_MAX_PENDING)) && (r = drain(d, true)) < 0)
		return r;
	if ((r = send_cmd(d, cmd, fds, nfds)) < 0)
		return r;
	p = &d->pending[d->npending++];
	*p = (struct pending){ .id = cmd->msg_id, .command = cmd->command };
	if (!reqs)
		return 0;
	p->count = cmd->u.access.count;
	p->has_req = true;
	p->request = reqs[0].request;
	if (!read)
		return 0;
	/* Its replies are due: their requests join the queue, at its end. */
	if (d->preq_head + d->npreq + nreq > ACCEL_DEV_MAX_PENDING) {
		memmove(d->preq, d->preq + d->preq_head, d->npreq * sizeof(d->preq[0]));
		d->preq_head = 0;
	}
	memcpy(d->preq + d->preq_head + d->npreq, reqs, nreq * sizeof(reqs[0]));
	d->npreq += nreq;
	p->nreq = nreq;
	return 0;
}

int accel_dev_dma_map_nowait(struct accel_dev *d, uint64_t iova, uint64_t size, int fd,
			     uint64_t offset)
{
	struct vfu_msg cmd;

	if (d->vdpa)
		return accel_vdpa_dma_map(d->vdpa, iova, size, fd, offset);
	vfu_msg_init(&cmd, VFU_CMD_DMA_MAP, 0);
	cmd.u.dma_map.flags = VFU_DMA_READ | VFU_DMA_WRITE;
	cmd.u.dma_map.offset = offset;
	cmd.u.dma_map.addr = iova;
	cmd.u.dma_map.size = size;
	return send_nowait(d, &cmd, &fd, 1, NULL, 0);
}

/* The mapping and its reply (and any mapping's before it sent without waiting). */
int accel_dev_dma_map(struct accel_dev *d, uint64_t iova, uint64_t size, int fd,
		      uint64_t offset)
{
	int r = accel_dev_dma_map_nowait(d, iova, size, fd, offset);

	return r < 0 ? r : accel_dev_sync(d);
}

int accel_dev_dma_unmap(struct accel_dev *d, uint64_t iova, uint64_t size)
{
	struct vfu_msg cmd, rep;
	int r;

	if (d->vdpa)
		return accel_vdpa_dma_unmap(d->vdpa, iova, size);
	vfu_msg_init(&cmd, VFU_CMD_DMA_UNMAP, 0);
	cmd.u.dma_unmap.addr = iova;
	cmd.u.dma_unmap.size = size;
	r = call(d, &cmd, NULL, 0, &rep);
	if (r == 0)
		vfu_msg_close(&rep);
	return r;
}

/*
 * The mailbox's reply to req, as a REGION_READ returned it (len bytes at
 * data): parsed, matched, its status checked (< 0: the device refused,
 * -status returned); into *ret_reply if wanted.
 */
static int mailbox_reply(struct accel_dev *d, const struct vv_msg *req, const uint8_t *data,
			 size_t len, struct vv_msg *ret_reply)
{
	struct vv_parse_ctx ctx = { .max_vrings = d->nvrings };
	struct vv_wire_hdr h;
	struct msg_err verr;
	struct vv_msg rep;
	int r;

	/* The mailbox holds one message; its own size field says how much. */
	if (len >= sizeof(h)) {
		memcpy(&h, data, sizeof(h));
		if (h.size <= VV_MAX_PAYLOAD && VV_HDR_SIZE + h.size <= len)
			len = VV_HDR_SIZE + h.size;
	}
	r = vv_parse(data, len, &ctx, &rep, &verr);
	if (r < 0)
		return fail(d, r, "%s: bad reply: %s", vv_request_name(req->request), verr.reason);
	r = vv_match_reply(req, &rep, &verr);
	if (r < 0)
		return fail(d, r, "%s: reply does not match: %s", vv_request_name(req->request),
			    verr.reason);
	if (rep.status < 0)
		return fail(d, rep.status, "%s: the device refused: %s",
			    vv_request_name(req->request), strerror(-rep.status));
	if (ret_reply)
		*ret_reply = rep;
	return 0;
}

/*
 * The replies to reqs[0..n), back to back in the len bytes a REGION_READ
 * returned at data (one reply: the mailbox, its own size field says how
 * much of it), each checked by mailbox_reply(), into replies[] when
 * wanted.  0, or the first failure (*ret_failed: whose; the error says
 * it).  The replies after a refusal are checked too, unless the framing
 * broke.
 */
static int mailbox_replies(struct accel_dev *d, const struct vv_msg *reqs, unsigned n,
			   const uint8_t *data, size_t len, struct vv_msg *replies,
			   unsigned *ret_failed)
{
	char first_err[sizeof(d->err)];
	size_t off = 0, m = len;
	int first = 0, r;

	for (unsigned i = 0; i < n; i++) {
		bool framed = n == 1 || vv_msg_size(data + off, len - off, &m) == 0;

		if (framed)
			r = mailbox_reply(d, &reqs[i], data + off, m, replies ? &replies[i] : NULL);
		else
			r = fail(d, -EPROTO, "%s: bad reply: the batch's replies end before it",
				 vv_request_name(reqs[i].request));
		if (r < 0 && !first) {
			first = r;
			snprintf(first_err, sizeof(first_err), "%s", d->err);
			if (ret_failed)
				*ret_failed = i;
		}
		if (!framed)
			break;
		off += m;
	}
	if (first)
		snprintf(d->err, sizeof(d->err), "%s", first_err);
	return first;
}

/* Requests per burst: their mailbox writes and reads fit the socket's buffer. */
#define BURST 32
/* A mailbox batch: at most this many requests, in at most this many bytes. */
#define BATCH_REQS 32u
#define BATCH_BYTES 4096u
_Static_assert(BATCH_BYTES >= VV_MAX_MSG, "a batch buffer holds any one request");
_Static_assert(BATCH_REQS <= ACCEL_DEV_MAX_PENDING, "a batch's replies can all be due");
/* Neighbouring vectors per SET_IRQS: their eventfds travel in one message. */
#define IRQ_BATCH 8u

/*
 * A flight: commands sent one after the other, none waiting for a reply,
 * then every reply read in order (the device runs them in order).  A
 * refusal leaves the connection in step, so the replies after it are read
 * too; the first failure is the one returned.  Any other failure to send
 * or to read puts the connection out of step and ends the flight.
 */
struct flight_ent {
	uint16_t msg_id, command;
	uint32_t count;		/* REGION_READ, _WRITE: the bytes (the reply says them again) */
	int req;		/* the (first) vhost request it carries, -1 for none */
	unsigned nreq;		/* how many it carries: more than one in a batch */
	unsigned vector;	/* SET_IRQS: its first vector */
};

struct flight {
	struct flight_ent e[2 * BURST + ACCEL_DEV_MAX_VRINGS + 1];
	unsigned n;
	int first;
	char first_err[200];
	unsigned failed_req;	/* the first vhost request that failed */
};

static void flight_init(struct flight *f)
{
	f->n = 0;
	f->first = 0;
	f->first_err[0] = '\0';
	f->failed_req = UINT_MAX;
}

static void flight_failed(struct accel_dev *d, struct flight *f, int r, int req)
{
	if (f->first)
		return;
	f->first = r;
	snprintf(f->first_err, sizeof(f->first_err), "%s", d->err);
	if (req >= 0)
		f->failed_req = (unsigned)req;
}

/* Sends cmd as part of f; false when nothing more may be sent. */
static bool flight_send(struct accel_dev *d, struct flight *f, struct vfu_msg *cmd, const int *fds,
			size_t nfds, int req, unsigned nreq)
{
	int r;

	if (f->first)
		return false;
	r = send_cmd(d, cmd, fds, nfds);
	if (r < 0) {
		/* Not sent: what was, is still answered (unless out of step). */
		flight_failed(d, f, r, req);
		return false;
	}
	f->e[f->n++] = (struct flight_ent){
		cmd->msg_id, cmd->command,
		cmd->command == VFU_CMD_REGION_READ || cmd->command == VFU_CMD_REGION_WRITE ?
			cmd->u.access.count : 0, req, nreq,
		cmd->command == VFU_CMD_DEVICE_SET_IRQS ? cmd->u.irq_set.start : 0 };
	return true;
}

/*
 * reqs[0..n) (n >= 1) as mailbox commands into cmd[]: one write (encoded
 * into buf, BATCH_BYTES, which must outlive them) and, when they have
 * replies, the read of them.  The write carries the first request or, to
 * a device that takes batches, as many of the next as may go together:
 * each expects a reply, and the replies fit the mailbox
 * (protocol/vhost_vfio.h).  *ret_k: how many it carries.  Returns how
 * many commands (1 or 2), or < 0 when the first cannot be encoded.
 */
static int mailbox_cmds(struct accel_dev *d, const struct vv_msg *reqs, unsigned n, uint8_t *buf,
			struct vfu_msg cmd[2], unsigned *ret_k)
{
	struct vv_parse_ctx ctx = { .max_vrings = d->nvrings };
	size_t cap = d->batch && d->mailbox_size < BATCH_BYTES ? d->mailbox_size : BATCH_BYTES;
	bool reply = vv_expects_reply(&reqs[0]);
	struct msg_err verr;
	size_t len, one;
	unsigned k = 1;
	int r, nc = reply ? 2 : 1;

	r = vv_encode(&reqs[0], &ctx, buf, VV_MAX_MSG, &len, &verr);
	if (r < 0)
		return fail(d, r, "%s: cannot encode: %s", vv_request_name(reqs[0].request),
			    verr.reason);
	/* The others that may join it; one that cannot be encoded goes alone, later. */
	while (d->batch && reply && k < n && k < BATCH_REQS && vv_expects_reply(&reqs[k]) &&
	       (k + 1) * VV_REPLY_SIZE <= cap &&
	       vv_encode(&reqs[k], &ctx, buf + len, cap - len, &one, NULL) == 0) {
		len += one;
		k++;
	}
	for (int read = 0; read < nc; read++) {
		vfu_msg_init(&cmd[read], read ? VFU_CMD_REGION_READ : VFU_CMD_REGION_WRITE, 0);
		cmd[read].u.access.region = VV_REGION_MAILBOX;
		cmd[read].u.access.count = !read ? (uint32_t)len :
				   k > 1 ? k * VV_REPLY_SIZE : (uint32_t)VV_MAX_MSG;
		cmd[read].u.access.data = read ? NULL : buf;
	}
	*ret_k = k;
	return nc;
}

/* reqs[0..n) as mailbox writes, each followed by a read when it has replies. */
static void flight_vhost(struct accel_dev *d, struct flight *f, const struct vv_msg *reqs,
			 unsigned n)
{
	uint8_t buf[BATCH_BYTES];

	for (unsigned i = 0, k; i < n; i += k) {
		struct vfu_msg cmd[2];
		int c = mailbox_cmds(d, &reqs[i], n - i, buf, cmd, &k);

		if (c < 0) {
			flight_failed(d, f, c, (int)i);
			return;
		}
		for (int j = 0; j < c; j++)
			if (!flight_send(d, f, &cmd[j], NULL, 0, (int)i, k))
				return;
	}
}

/* SET_IRQS binding vector (its eventfd goes with it), or unbinding every vector. */
static void irq_cmd(struct vfu_msg *cmd, unsigned vector, bool bind)
{
	vfu_msg_init(cmd, VFU_CMD_DEVICE_SET_IRQS, 0);
	cmd->u.irq_set.index = 0;
	cmd->u.irq_set.start = bind ? vector : 0;
	cmd->u.irq_set.flags = VFU_IRQ_ACTION_TRIGGER |
			       (bind ? VFU_IRQ_DATA_EVENTFD : VFU_IRQ_DATA_NONE);
	cmd->u.irq_set.count = bind;
}

/*
 * Interrupts: fds[i] (-1: none) for vring i, neighbouring vectors with
 * fds in one command (up to IRQ_BATCH).  vfio-user has no way to unbind one vector (an fd of -1 cannot be
 * passed; DATA_NONE with count 0 unbinds them all): when a ring has none,
 * every vector is unbound first and the others bound after.
 */
static void flight_irqs(struct accel_dev *d, struct flight *f, unsigned first, const int *fds,
			unsigned n)
{
	bool some_none = false;
	struct vfu_msg cmd;

	for (unsigned i = 0; i < n; i++)
		some_none |= fds[i] < 0;
	if (some_none) {	/* one unbinds them all */
		irq_cmd(&cmd, 0, false);
		if (!flight_send(d, f, &cmd, NULL, 0, -1, 0))
			return;
	}
	for (unsigned i = 0, k; i < n; i += k) {
		for (k = 0; i + k < n && k < IRQ_BATCH && fds[i + k] >= 0; k++)
			;
		if (k == 0) {
			k = 1;	/* none: left unbound */
			continue;
		}
		irq_cmd(&cmd, first + i, true);
		cmd.u.irq_set.count = k;
		if (!flight_send(d, f, &cmd, &fds[i], k, -1, 0))
			return;
	}
}

/* Entries from k on have no reply read: their requests are not confirmed. */
static void flight_unread(struct flight *f, unsigned k)
{
	if (k < f->n && f->e[k].req >= 0 && (unsigned)f->e[k].req < f->failed_req)
		f->failed_req = (unsigned)f->e[k].req;
}

/*
 * Reads the flight's replies; the vhost replies into replies[] when
 * wanted.  f->failed_req ends as the first request not confirmed.
 */
static int flight_land(struct accel_dev *d, struct flight *f, const struct vv_msg *reqs,
		       struct vv_msg *replies)
{
	int sent = flush(d);

	if (sent < 0)
		flight_failed(d, f, sent, -1);
	if (d->out_of_step) {
		flight_unread(f, 0);
		return f->first ? f->first : -EPIPE;
	}
	for (unsigned k = 0; k < f->n; k++) {
		const struct flight_ent *x = &f->e[k];
		const struct vv_msg *req = x->req >= 0 ? &reqs[x->req] : NULL;
		struct vfu_msg cmd, rep;
		bool refused = false;
		int r;

		vfu_msg_init(&cmd, x->command, 0);
		cmd.msg_id = x->msg_id;
		cmd.u.access.region = VV_REGION_MAILBOX;
		cmd.u.access.count = x->count;
		r = recv_reply(d, &cmd, &rep, &refused);
		if (r < 0 && !refused) {
			/* Out of step: the device is gone. */
			flight_unread(f, k);
			return r;
		}
		if (r < 0 && req && x->nreq > 1)	/* a batch refused: none of it ran */
			fail(d, r, "%s and the %u requests after it (one batch): the device "
			     "refused them: %s", vv_request_name(req->request), x->nreq - 1,
			     strerror(-r));
		else if (r < 0 && req)	/* the mailbox write was refused: name the request */
			fail(d, r, "%s: the device refused: %s", vv_request_name(req->request),
			     strerror(-r));
		else if (r < 0)
			fail(d, r, "DEVICE_SET_IRQS of vring %u: the device refused: %s", x->vector,
			     strerror(-r));
		if (r == 0 && x->command == VFU_CMD_REGION_READ) {
			unsigned bad = 0;

			/* A bad or refusing mailbox reply leaves the connection in step. */
			r = mailbox_replies(d, req, x->nreq, rep.u.access.data, rep.u.access.count,
					    replies ? &replies[x->req] : NULL, &bad);
			vfu_msg_close(&rep);
			if (r < 0) {
				flight_failed(d, f, r, x->req + (int)bad);
				continue;
			}
		} else if (r == 0) {
			vfu_msg_close(&rep);
		}
		if (r < 0)
			flight_failed(d, f, r, x->req);
	}
	if (f->first)
		snprintf(d->err, sizeof(d->err), "%s", f->first_err);
	return f->first;
}

int accel_dev_set_irqs(struct accel_dev *d, const int *fds, unsigned n)
{
	struct flight f;

	if (d->vdpa)
		return accel_vdpa_set_irqs(d->vdpa, fds, n);
	if (n > ACCEL_DEV_MAX_VRINGS)
		return fail(d, -ERANGE, "DEVICE_SET_IRQS: %u vrings", n);
	flight_init(&f);
	flight_irqs(d, &f, 0, fds, n);
	return flight_land(d, &f, NULL, NULL);
}

int accel_dev_set_irqs_nowait(struct accel_dev *d, unsigned first, const int *fds, unsigned n)
{
	struct vfu_msg cmd;
	int r;

	for (unsigned i = 0; i < n; i++)
		if (fds[i] < 0)
			return fail(d, -EINVAL, "DEVICE_SET_IRQS: vring %u: no eventfd", first + i);
	if (d->vdpa) {
		for (unsigned i = 0; i < n; i++)
			if ((r = accel_vdpa_set_irq(d->vdpa, first + i, fds[i])) < 0)
				return r;
		return 0;
	}
	if (first >= ACCEL_DEV_MAX_VRINGS || n > ACCEL_DEV_MAX_VRINGS - first)
		return fail(d, -ERANGE, "DEVICE_SET_IRQS: vrings %u..%u", first, first + n - 1);
	for (unsigned i = 0, k; i < n; i += k) {
		k = n - i < IRQ_BATCH ? n - i : IRQ_BATCH;
		irq_cmd(&cmd, first + i, true);
		cmd.u.irq_set.count = k;
		if ((r = send_nowait(d, &cmd, &fds[i], k, NULL, 0)) < 0)
			return r;
	}
	return 0;
}

int accel_dev_set_irq_nowait(struct accel_dev *d, unsigned idx, int fd)
{
	return accel_dev_set_irqs_nowait(d, idx, &fd, 1);
}

int accel_dev_set_irq(struct accel_dev *d, unsigned idx, int fd)
{
	int r = accel_dev_set_irq_nowait(d, idx, fd);

	return r < 0 ? r : accel_dev_sync(d);
}

int accel_dev_vhost(struct accel_dev *d, const struct vv_msg *req, struct vv_msg *ret_reply)
{
	if (d->vdpa)
		return accel_vdpa_vhost(d->vdpa, req, ret_reply);
	return accel_dev_vhost_many(d, req, 1, ret_reply);
}

int accel_dev_vhost_run(struct accel_dev *d, const struct vv_msg *reqs, unsigned n,
			struct vv_msg *replies, const int *calls, unsigned ncalls,
			unsigned *ret_done)
{
	unsigned done = 0;
	int r = 0;

	if (calls && ncalls > ACCEL_DEV_MAX_VRINGS)
		return fail(d, -ERANGE, "DEVICE_SET_IRQS: %u vrings", ncalls);
	while (done < n || (calls && done == n)) {
		unsigned k = n - done < BURST ? n - done : BURST;
		bool last = done + k == n;
		struct flight f;

		if (d->vdpa) {
			/* ioctls: each is done when it returns; the first failure ends the run. */
			if (done == n) {
				r = accel_vdpa_set_irqs(d->vdpa, calls, ncalls);
				break;
			}
			r = accel_vdpa_vhost(d->vdpa, &reqs[done], replies ? &replies[done] : NULL);
			if (r < 0)
				break;
			done++;
			continue;
		}
		/* The last burst carries the interrupts, read back with it. */
		flight_init(&f);
		d->corking = true;
		flight_vhost(d, &f, &reqs[done], k);
		if (last && calls)
			flight_irqs(d, &f, 0, calls, ncalls);
		d->corking = false;	/* flight_land() sends what is corked */
		r = flight_land(d, &f, &reqs[done], replies ? &replies[done] : NULL);
		if (r < 0) {
			/* After a failure nothing more is sent: the run's result is known. */
			done += f.failed_req != UINT_MAX ? f.failed_req : k;
			break;
		}
		done += k;
		if (last)
			break;
	}
	if (ret_done)
		*ret_done = r < 0 ? done : n;
	return r;
}

bool accel_dev_one_conditional_write(struct accel_dev *d, const struct vv_msg *reqs, unsigned n)
{
	uint8_t buf[BATCH_BYTES];
	struct vfu_msg cmd[2];
	unsigned k = 0;

	if (d->vdpa || !d->if_ok || n == 0 || n > BURST)
		return false;
	/* accel_dev_vhost_run() groups them the same way. */
	return mailbox_cmds(d, reqs, n, buf, cmd, &k) > 0 && k == n;
}

int accel_dev_vhost_many(struct accel_dev *d, const struct vv_msg *reqs, unsigned n,
			 struct vv_msg *replies)
{
	return accel_dev_vhost_run(d, reqs, n, replies, NULL, 0, NULL);
}

int accel_dev_vhost_nowait(struct accel_dev *d, const struct vv_msg *reqs, unsigned n)
{
	uint8_t buf[BATCH_BYTES];
	bool was;
	int r = 0;

	if (d->vdpa) {
		for (unsigned i = 0; i < n && r == 0; i++)
			r = accel_vdpa_vhost(d->vdpa, &reqs[i], NULL);
		return r;
	}
	was = accel_dev_cork(d);
	for (unsigned i = 0, k = 0; i < n && r == 0; i += k) {
		struct vfu_msg cmd[2];
		int c = mailbox_cmds(d, &reqs[i], n - i, buf, cmd, &k);

		r = c < 0 ? c : 0;
		for (int j = 0; j < c && r == 0; j++)
			r = send_nowait(d, &cmd[j], NULL, 0, &reqs[i], k);
	}
	if (was)
		return r;	/* the outer cork sends it */
	if (r < 0) {
		d->corking = false;
		return r;
	}
	return accel_dev_uncork(d);
}

bool accel_dev_cork(struct accel_dev *d)
{
	bool was = d->corking;

	d->corking = true;
	return was;
}

int accel_dev_uncork(struct accel_dev *d)
{
	d->corking = false;
	return d->vdpa ? 0 : flush(d);
}

/*
 * The device's dirty-log page size, from "log_granularity" in its VERSION
 * capabilities (vdpa-simd announces it; 4 KiB when absent).  The text is the
 * device's: only a plain number in range after the key is believed.
 */
static uint64_t caps_granularity(const char *caps)
{
	const char *p = caps ? strstr(caps, "\"log_granularity\"") : NULL;
	unsigned long long v;
	char *end;

	if (!p)
		return 4096;
	p += strlen("\"log_granularity\"");
	while (*p == ' ' || *p == ':')
		p++;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || end == p || v < 4096 || v > (2u << 20) || (v & (v - 1)))
		return 4096;
	return v;
}

/* Whether "key" is true in the device's capabilities ("mailbox_batch", "mailbox_if_ok"). */
static bool caps_true(const char *caps, const char *key)
{
	char quoted[32];
	const char *p;

	snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	p = caps ? strstr(caps, quoted) : NULL;

	if (!p)
		return false;
	p += strlen(quoted);
	while (*p == ' ' || *p == ':')
		p++;
	return strncmp(p, "true", 4) == 0;
}

static int setup(struct accel_dev *d)
{
	static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":8}}";
	struct vfu_msg cmd, rep;
	int r;

	vfu_msg_init(&cmd, VFU_CMD_VERSION, 0);
	cmd.u.version.major = 0;
	cmd.u.version.minor = 1;
	cmd.u.version.caps = caps;
	cmd.u.version.caps_len = strlen(caps);
	r = call(d, &cmd, NULL, 0, &rep);
	if (r < 0)
		return r;
	if (rep.u.version.major != 0) {
		vfu_msg_close(&rep);
		return fail(d, -EPROTONOSUPPORT, "vfio-user version %u.%u is not 0.x",
			    rep.u.version.major, rep.u.version.minor);
	}
	d->log_granularity = caps_granularity(rep.u.version.caps);
	d->batch = caps_true(rep.u.version.caps, "mailbox_batch");
	d->if_ok = d->batch && caps_true(rep.u.version.caps, "mailbox_if_ok");
	vfu_msg_close(&rep);

	vfu_msg_init(&cmd, VFU_CMD_DEVICE_GET_INFO, 0);
	cmd.u.device_info.argsz = 16;
	r = call(d, &cmd, NULL, 0, &rep);
	if (r < 0)
		return r;
	if (rep.u.device_info.num_regions < 2 || rep.u.device_info.num_irqs < 1) {
		vfu_msg_close(&rep);
		return fail(d, -ENODEV, "not a vhost-vfio device: %u regions, %u irqs",
			    rep.u.device_info.num_regions, rep.u.device_info.num_irqs);
	}
	vfu_msg_close(&rep);

	vfu_msg_init(&cmd, VFU_CMD_DEVICE_GET_REGION_INFO, 0);
	cmd.u.region_info.argsz = 32;
	cmd.u.region_info.index = VV_REGION_MAILBOX;
	r = call(d, &cmd, NULL, 0, &rep);
	if (r < 0)
		return r;
	d->mailbox_size = rep.u.region_info.size;
	vfu_msg_close(&rep);
	if (d->mailbox_size < VV_MAX_MSG)
		return fail(d, -ENODEV, "mailbox region of %llu bytes, need %u",
			    (unsigned long long)d->mailbox_size, (unsigned)VV_MAX_MSG);

	vfu_msg_init(&cmd, VFU_CMD_DEVICE_GET_IRQ_INFO, 0);
	cmd.u.irq_info.argsz = 16;
	cmd.u.irq_info.index = 0;
	r = call(d, &cmd, NULL, 0, &rep);
	if (r < 0)
		return r;
	if (rep.u.irq_info.count < d->nvrings) {
		vfu_msg_close(&rep);
		return fail(d, -ENODEV, "%u interrupt vectors for %u rings",
			    rep.u.irq_info.count, d->nvrings);
	}
	vfu_msg_close(&rep);

	/* Doorbells: one ioeventfd per notify page. */
	vfu_msg_init(&cmd, VFU_CMD_DEVICE_GET_REGION_IO_FDS, 0);
	cmd.u.io_fds.argsz = (uint32_t)(16 + 40 * VFU_MAX_SUBREGIONS);
	cmd.u.io_fds.index = VV_REGION_NOTIFY;
	r = call(d, &cmd, NULL, 0, &rep);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rep.u.io_fds.nsub; i++) {
		const struct vfu_sub_region *s = &rep.u.io_fds.sub[i];
		uint64_t q = s->offset / VV_NOTIFY_STRIDE;

		if (s->type != VFU_SUB_IOEVENTFD || s->offset % VV_NOTIFY_STRIDE || q >= d->nvrings ||
		    d->doorbell[q] >= 0)
			continue;
		d->doorbell[q] = vfu_msg_take_fd(&rep, s->fd_index);
	}
	vfu_msg_close(&rep);
	for (unsigned q = 0; q < d->nvrings; q++)
		if (d->doorbell[q] < 0)
			return fail(d, -ENODEV, "no doorbell eventfd for ring %u", q);
	return 0;
}

int accel_dev_open(const char *spec, unsigned nvrings, struct accel_dev **ret, char *err,
		   size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct accel_dev *d;
	const char *path;
	int r;

	if (strncmp(spec, "vfio:", 5) == 0) {
		snprintf(err, errlen, "device %s: kernel VFIO devices are not supported yet; "
			 "use vfio-user:PATH", spec);
		return -EOPNOTSUPP;
	}
	if (strncmp(spec, "vhost-vdpa:", 11) == 0) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		d->sock = -1;
		for (unsigned q = 0; q < ACCEL_DEV_MAX_VRINGS; q++)
			d->doorbell[q] = -1;
		r = accel_vdpa_open(spec + 11, nvrings, &d->vdpa, err, errlen);
		if (r < 0) {
			free(d);
			return r;
		}
		*ret = d;
		return 0;
	}
	if (strncmp(spec, "vfio-user:", 10) != 0) {
		snprintf(err, errlen, "device %s: not vfio-user:PATH or vhost-vdpa:PATH", spec);
		return -EINVAL;
	}
	path = spec + 10;
	if (!path[0] || strlen(path) >= sizeof(sa.sun_path) || nvrings == 0 ||
	    nvrings > ACCEL_DEV_MAX_VRINGS) {
		snprintf(err, errlen, "device %s: bad path or ring count", spec);
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->io = malloc(sizeof(*d->io));
	d->cork = malloc(CORK_SIZE);
	d->nvrings = nvrings;
	d->log_granularity = 4096;
	for (unsigned q = 0; q < ACCEL_DEV_MAX_VRINGS; q++)
		d->doorbell[q] = -1;
	d->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!d->io || !d->cork || d->sock < 0) {
		r = d->io && d->cork ? -errno : -ENOMEM;
		snprintf(err, errlen, "device %s: %s", spec, strerror(-r));
		accel_dev_close(d);
		return r;
	}
	strcpy(sa.sun_path, path);
	if (connect(d->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		snprintf(err, errlen, "device %s: connect: %s", spec, strerror(-r));
		accel_dev_close(d);
		return r;
	}
	if (fcntl(d->sock, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "device %s: making the socket non-blocking: %s", spec,
			 strerror(-r));
		accel_dev_close(d);
		return r;
	}
	r = setup(d);
	if (r < 0) {
		snprintf(err, errlen, "device %s: %s", spec, d->err);
		accel_dev_close(d);
		return r;
	}
	*ret = d;
	return 0;
}

int accel_dev_cut_off(struct accel_dev *d, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;

	if (d->vdpa)
		return accel_vdpa_cut_off(d->vdpa);
	if (d->cut)
		return d->cut_result;
	d->cut = true;
	d->cut_result = -ETIMEDOUT;
	d->npending = 0;	/* read below with every other late reply */
	/*
	 * Shut down, not closed: the fd stays valid for the port's watch
	 * until accel_dev_close(), and we can still read to see the end.
	 */
	if (shutdown(d->sock, SHUT_WR) < 0 && errno != ENOTCONN)
		return d->cut_result;
	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 16)];
			struct cmsghdr align;
		} ctl;
		uint8_t junk[4096];
		struct iovec iov = { .iov_base = junk, .iov_len = sizeof(junk) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		ssize_t n;
		int r;

		r = sio_wait_for(d->sock, POLLIN, deadline);
		if (r < 0)
			break;
		/* Late replies (and any fds they carry) are dropped unread. */
		n = recvmsg(d->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n >= 0 && c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			d->cut_result = 0;
			break;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
	}
	return d->cut_result;
}

void accel_dev_close(struct accel_dev *d)
{
	if (!d)
		return;
	accel_vdpa_close(d->vdpa);
	for (unsigned q = 0; q < ACCEL_DEV_MAX_VRINGS; q++)
		if (d->doorbell[q] >= 0)
			close(d->doorbell[q]);
	if (d->sock >= 0)
		close(d->sock);
	free(d->io);
	free(d->cork);
	free(d);
}
