// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the decisions of "vdpa-migrate migrate" in QMP mode
 * (agent/cli/cli_migrate.c), against in-process fakes: four unix sockets in a
 * temporary directory, each served by a thread of this program:
 *
 *   src   a source QEMU's QMP: greeting, qmp_capabilities, query-status,
 *         query-migrate (a scripted sequence of statuses after "migrate",
 *         each change announced by a MIGRATION event so no wait runs to
 *         its timeout), query-migrate-capabilities, migrate-set-capabilities,
 *         migrate-set-parameters, migrate, migrate-continue, migrate_cancel;
 *   dst   a destination QEMU's QMP: "inmigrate" (started with -incoming
 *         defer: it expects migrate-incoming), "running" once the source
 *         got migrate-continue;
 *   from  the source agent (control protocol, one JSON line each way):
 *         port-show, whose "migration" object at the pre-switchover pause
 *         is scripted;
 *   to    the destination agent: port-show (rings started at scripted
 *         indices after the switchover) and port-offer.
 *
 * Every fake records the command names it received; each case checks the
 * exit status and what reached the fakes (above all: migrate-continue only
 * after a confirmed final harvest, migrate_cancel otherwise).  The fakes
 * share one state (struct world): the source QMP notes when it reported
 * pre-switchover and when it got migrate-continue, and the agents answer
 * from that, so nothing here waits by sleeping.
 *
 * Each case runs in a child process (cli_migrate() keeps its signal
 * handler and a caught signal's flag for good), with a watchdog; the
 * child also checks that no fd and no file was left behind.  The two cases
 * where the agent never confirms run into cli_migrate.c's 5 s switchover
 * wait; everything else takes milliseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent/cli/cli_migrate.h"
#include "tests/helpers/testhelp.h"

#define MAX_CONNS 8
#define MAX_REC 128
#define WATCHDOG_S 60		/* a hung run kills the program (SIGALRM) */

/* The handed-over indices of the source's two rings. */
#define HANDED0 5
#define HANDED1 7

/* ---- the scripts ------------------------------------------------------------ */

enum mig_mode {
	MIG_READY,		/* at pre-switchover: quiesced, final_harvest, handed_over */
	MIG_NO_HARVEST,		/* at pre-switchover: quiesced, final_harvest false */
	MIG_ABSENT,		/* port-show never has a "migration" object */
};

struct script {
	/* source QMP */
	const char *initial;		/* query-migrate status before "migrate"; NULL: {} */
	const char *const *seq;		/* statuses after "migrate", NULL-ended; the last repeats */
	bool caps_error;		/* migrate-set-capabilities answers an error */
	bool close_after_continue;	/* hang up right after answering migrate-continue */
	bool qmp_sigint_at_presw;	/* SIGINT just before reporting pre-switchover */
	/* source agent */
	enum mig_mode mode;
	bool agent_sigint_at_presw;	/* SIGINT at the first port-show after pre-switchover */
	/* destination agent */
	int dst_mtu;			/* 0: 1500 like the source */
	int started_at_skew;		/* added to ring 1's started_at */
	bool dst_no_port;		/* port-show refuses (no such port) until the switchover */
	/* traffic gap */
	bool frame_times;		/* both agents report first/last_frame_rt_ns */
	bool src_accel;			/* the source port is on the accelerator */
	bool dst_first_late;		/* no first frame at the first look after completion */
	bool json;			/* -j: the summary is parsed into result.gap_ms */
};

/* Wall-clock frame times the fake agents report (ns). */
#define T0 1700000000000000000LL
#define SRC_LAST0 (T0 - 40000000LL)	/* ring 0's last frame */
#define SRC_LAST1 T0			/* ring 1's: the source's last */
#define DST_FIRST0 (T0 + 123400000LL)	/* the destination's first after T0: 123 ms */
#define DST_FIRST1 (T0 - 900000000LL)	/* before the source's last: not this migration's */
#define GAP_MS 123

/* What the fakes share: their view of where the migration stands. */
static struct world {
	pthread_mutex_t lock;
	const struct script *sc;
	enum { PH_IDLE, PH_MIGRATING, PH_CONTINUED, PH_CANCELLED } phase;
	size_t seq_pos;			/* query-migrate replies since "migrate" */
	bool presw;			/* the source QMP reported pre-switchover */
	bool agent_raised;		/* the source agent raised SIGINT */
	int to_after_shows;		/* destination port-shows after the switchover */
	pthread_t main;			/* the thread in cli_migrate(): SIGINT goes there */
} W = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- a fake server: one thread, poll()ing its listener and connections ------ */

struct fake;
typedef bool (*line_fn)(struct fake *f, int fd, struct json_object *msg);

struct fake {
	const char *role;
	char path[108];
	int lfd, stop[2];
	pthread_t thread;
	bool greet;			/* QMP: greet each new connection */
	line_fn on_line;		/* false: close this connection */
	int conns[MAX_CONNS];
	char *buf[MAX_CONNS];
	size_t len[MAX_CONNS];
	int accepted;
	/* the command names received, in order (under W.lock) */
	char rec[MAX_REC][40];
	int nrec;
};

static void send_str(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* the client went away */
		s += w;
		n -= (size_t)w;
	}
}

/* Sends o (taken) as one line; QMP ends lines in "\r\n" like QEMU. */
static void send_json(struct fake *f, int fd, struct json_object *o)
{
	char *line;

	if (asprintf(&line, "%s%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		     f->greet ? "\r\n" : "\n") > 0) {
		send_str(fd, line);
		free(line);
	}
	json_object_put(o);
}

static void record(struct fake *f, const char *name)
{
	pthread_mutex_lock(&W.lock);
	if (f->nrec < MAX_REC)
		snprintf(f->rec[f->nrec++], sizeof(f->rec[0]), "%s", name ? name : "?");
	pthread_mutex_unlock(&W.lock);
}

static void drop_conn(struct fake *f, int i)
{
	close(f->conns[i]);
	free(f->buf[i]);
	f->conns[i] = -1;
	f->buf[i] = NULL;
	f->len[i] = 0;
}

/* Reads what connection i has; false when it closed (or must close). */
static bool serve_conn(struct fake *f, int i)
{
	char tmp[4096], *nl;
	ssize_t n = recv(f->conns[i], tmp, sizeof(tmp), 0);

	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	f->buf[i] = realloc(f->buf[i], f->len[i] + (size_t)n + 1);
	if (!f->buf[i])
		abort();
	memcpy(f->buf[i] + f->len[i], tmp, (size_t)n);
	f->len[i] += (size_t)n;
	f->buf[i][f->len[i]] = '\0';
	while ((nl = memchr(f->buf[i], '\n', f->len[i]))) {
		size_t take = (size_t)(nl - f->buf[i]) + 1;
		struct json_object *msg;
		bool keep;

		*nl = '\0';
		msg = json_tokener_parse(f->buf[i]);
		memmove(f->buf[i], f->buf[i] + take, f->len[i] - take + 1);
		f->len[i] -= take;
		if (!msg) {
			record(f, "(not json)");
			return false;
		}
		keep = f->on_line(f, f->conns[i], msg);
		json_object_put(msg);
		if (!keep)
			return false;
	}
	return true;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		struct pollfd p[2 + MAX_CONNS];
		int idx[2 + MAX_CONNS], np = 2;

		p[0] = (struct pollfd){ .fd = f->stop[0], .events = POLLIN };
		p[1] = (struct pollfd){ .fd = f->lfd, .events = POLLIN };
		for (int i = 0; i < MAX_CONNS; i++) {
			if (f->conns[i] < 0)
				continue;
			idx[np] = i;
			p[np++] = (struct pollfd){ .fd = f->conns[i], .events = POLLIN };
		}
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN) {
			int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC), i;

			for (i = 0; fd >= 0 && i < MAX_CONNS && f->conns[i] >= 0; i++)
				;
			if (fd >= 0 && i == MAX_CONNS) {
				close(fd);
			} else if (fd >= 0) {
				f->conns[i] = fd;
				f->accepted++;
				if (f->greet)
					send_str(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, "
						 "\"minor\": 2, \"major\": 8}}, \"capabilities\": []}}\r\n");
			}
		}
		for (int k = 2; k < np; k++)
			if (p[k].revents && !serve_conn(f, idx[k]))
				drop_conn(f, idx[k]);
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (f->conns[i] >= 0)
			drop_conn(f, i);
	return NULL;
}

/* Binds and listens here (so a client can connect at once), then the thread. */
static int fake_start(struct fake *f, const char *dir, const char *role, bool greet, line_fn fn)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	f->role = role;
	f->greet = greet;
	f->on_line = fn;
	for (int i = 0; i < MAX_CONNS; i++)
		f->conns[i] = -1;
	snprintf(f->path, sizeof(f->path), "%s/%s.sock", dir, role);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(f->lfd, 8) < 0 || pipe2(f->stop, O_CLOEXEC) < 0)
		return -1;
	return pthread_create(&f->thread, NULL, fake_main, f) == 0 ? 0 : -1;
}

static void fake_stop(struct fake *f)
{
	(void)!write(f->stop[1], "x", 1);
	pthread_join(f->thread, NULL);
	close(f->stop[0]);
	close(f->stop[1]);
	close(f->lfd);
	unlink(f->path);
}

/* ---- the fake QEMUs ----------------------------------------------------------- */

static void qmp_return(struct fake *f, int fd, struct json_object *msg, struct json_object *ret)
{
	struct json_object *o = json_object_new_object(), *id;

	json_object_object_add(o, "return", ret ? ret : json_object_new_object());
	if (json_object_object_get_ex(msg, "id", &id))
		json_object_object_add(o, "id", json_object_get(id));
	send_json(f, fd, o);
}

static void qmp_error(struct fake *f, int fd, struct json_object *msg, const char *desc)
{
	struct json_object *o = json_object_new_object(), *e = json_object_new_object(), *id;

	json_object_object_add(e, "class", json_object_new_string("GenericError"));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	if (json_object_object_get_ex(msg, "id", &id))
		json_object_object_add(o, "id", json_object_get(id));
	send_json(f, fd, o);
}

static void qmp_event(int fd, const char *status)
{
	char line[200];

	snprintf(line, sizeof(line), "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
		 "\"event\": \"MIGRATION\", \"data\": {\"status\": \"%s\"}}\r\n", status);
	send_str(fd, line);
}

static struct json_object *status_obj(const char *status)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "running", json_object_new_boolean(strcmp(status, "running") == 0));
	json_object_object_add(o, "singlestep", json_object_new_boolean(false));
	return o;
}

static const char *cmd_name(struct json_object *msg)
{
	struct json_object *v;

	return json_object_object_get_ex(msg, "execute", &v) ? json_object_get_string(v) : NULL;
}

static size_t seq_len(const char *const *seq)
{
	size_t n = 0;

	while (seq && seq[n])
		n++;
	return n;
}

static bool src_line(struct fake *f, int fd, struct json_object *msg)
{
	const char *cmd = cmd_name(msg);
	const struct script *sc = W.sc;

	record(f, cmd);
	if (!cmd) {
		qmp_error(f, fd, msg, "no execute");
		return true;
	}
	pthread_mutex_lock(&W.lock);
	if (strcmp(cmd, "query-status") == 0) {
		const char *st = "running";

		if (W.phase == PH_MIGRATING && W.presw)
			st = "finish-migrate";
		else if (W.phase == PH_CONTINUED)
			st = "postmigrate";
		pthread_mutex_unlock(&W.lock);
		qmp_return(f, fd, msg, status_obj(st));
		return true;
	}
	if (strcmp(cmd, "query-migrate") == 0) {
		struct json_object *ret = json_object_new_object();
		const char *st = NULL, *next = NULL;
		size_t n = seq_len(sc->seq);
		bool raise_now = false;

		if (W.phase == PH_IDLE) {
			st = sc->initial;
		} else if (W.phase == PH_MIGRATING) {
			st = n ? sc->seq[W.seq_pos < n ? W.seq_pos : n - 1] : "active";
			W.seq_pos++;
			if (W.seq_pos < n && strcmp(sc->seq[W.seq_pos], st) != 0)
				next = sc->seq[W.seq_pos];
			if (strcmp(st, "pre-switchover") == 0) {
				raise_now = !W.presw && sc->qmp_sigint_at_presw;
				W.presw = true;
			}
		} else {
			st = W.phase == PH_CONTINUED ? "completed" : "cancelled";
		}
		pthread_mutex_unlock(&W.lock);
		if (st)
			json_object_object_add(ret, "status", json_object_new_string(st));
		if (st && strcmp(st, "completed") == 0) {
			json_object_object_add(ret, "total-time", json_object_new_int(1234));
			json_object_object_add(ret, "downtime", json_object_new_int(42));
		}
		/* Pending on the main thread before the reply leaves: its
		 * handler runs before cli_migrate() can read the reply. */
		if (raise_now)
			pthread_kill(W.main, SIGINT);
		qmp_return(f, fd, msg, ret);
		if (next)
			qmp_event(fd, next);
		return true;
	}
	pthread_mutex_unlock(&W.lock);

	if (strcmp(cmd, "qmp_capabilities") == 0 || strcmp(cmd, "migrate-set-parameters") == 0) {
		qmp_return(f, fd, msg, NULL);
	} else if (strcmp(cmd, "query-migrate-capabilities") == 0) {
		struct json_object *a = json_object_new_array();
		const char *names[] = { "xbzrle", "events", "pause-before-switchover" };

		for (size_t i = 0; i < 3; i++) {
			struct json_object *c = json_object_new_object();

			json_object_object_add(c, "capability", json_object_new_string(names[i]));
			json_object_object_add(c, "state", json_object_new_boolean(false));
			json_object_array_add(a, c);
		}
		qmp_return(f, fd, msg, a);
	} else if (strcmp(cmd, "migrate-set-capabilities") == 0) {
		if (sc->caps_error)
			qmp_error(f, fd, msg, "There's a migration process in progress");
		else
			qmp_return(f, fd, msg, NULL);
	} else if (strcmp(cmd, "migrate") == 0) {
		pthread_mutex_lock(&W.lock);
		W.phase = PH_MIGRATING;
		W.seq_pos = 0;
		pthread_mutex_unlock(&W.lock);
		qmp_return(f, fd, msg, NULL);
		qmp_event(fd, "setup");
	} else if (strcmp(cmd, "migrate-continue") == 0) {
		bool ok;

		pthread_mutex_lock(&W.lock);
		ok = W.phase == PH_MIGRATING && W.presw;
		if (ok)
			W.phase = PH_CONTINUED;
		pthread_mutex_unlock(&W.lock);
		if (!ok) {
			qmp_error(f, fd, msg, "Migration not in expected state: active");
			return true;
		}
		qmp_return(f, fd, msg, NULL);
		if (sc->close_after_continue)
			return false;
		qmp_event(fd, "device");
		qmp_event(fd, "completed");
	} else if (strcmp(cmd, "migrate_cancel") == 0) {
		bool moved;

		pthread_mutex_lock(&W.lock);
		moved = W.phase == PH_MIGRATING;
		if (moved)
			W.phase = PH_CANCELLED;
		pthread_mutex_unlock(&W.lock);
		qmp_return(f, fd, msg, NULL);
		if (moved)
			qmp_event(fd, "cancelled");
	} else {
		qmp_error(f, fd, msg, "The command has not been found");
	}
	return true;
}

static bool dst_line(struct fake *f, int fd, struct json_object *msg)
{
	const char *cmd = cmd_name(msg);
	bool continued;

	record(f, cmd);
	pthread_mutex_lock(&W.lock);
	continued = W.phase == PH_CONTINUED;
	pthread_mutex_unlock(&W.lock);
	if (cmd && strcmp(cmd, "query-status") == 0)
		qmp_return(f, fd, msg, status_obj(continued ? "running" : "inmigrate"));
	else if (cmd && (strcmp(cmd, "qmp_capabilities") == 0 || strcmp(cmd, "migrate-incoming") == 0))
		qmp_return(f, fd, msg, NULL);
	else if (cmd && strcmp(cmd, "query-migrate") == 0)
		qmp_return(f, fd, msg, NULL);	/* -incoming defer: {} until migrate-incoming */
	else
		qmp_error(f, fd, msg, "The command has not been found");
	return true;
}

/* ---- the fake agents ------------------------------------------------------------ */

#define FEATURES "0x144018029"
#define OFFERED "0x1544018029"

static void agent_send(struct fake *f, int fd, const char *json)
{
	struct json_object *o = json_tokener_parse(json);

	if (!o)
		abort();	/* a bad fixture */
	send_json(f, fd, o);
}

static const char *agent_cmd(struct json_object *msg)
{
	struct json_object *v;

	return json_object_object_get_ex(msg, "cmd", &v) ? json_object_get_string(v) : NULL;
}

static bool from_line(struct fake *f, int fd, struct json_object *msg)
{
	const struct script *sc = W.sc;
	const char *cmd = agent_cmd(msg);
	char mig[256] = "", rings[640], reply[2400], last0[64] = "", last1[64] = "";
	const char *accel = "";
	bool presw, raise_now = false;

	record(f, cmd);
	if (!cmd || strcmp(cmd, "port-show") != 0) {
		agent_send(f, fd, "{\"ok\":false,\"error\":\"unexpected\"}");
		return true;
	}
	pthread_mutex_lock(&W.lock);
	presw = W.presw && W.phase == PH_MIGRATING;
	if (presw && sc->agent_sigint_at_presw && !W.agent_raised)
		raise_now = W.agent_raised = true;
	pthread_mutex_unlock(&W.lock);

	/*
	 * The frame times: a real agent on the accelerator shows none, but
	 * an older one's (from before a switch) must be ignored all the same.
	 */
	if (sc->frame_times) {
		snprintf(last0, sizeof(last0), "\"last_frame_rt_ns\":%lld,", (long long)SRC_LAST0);
		snprintf(last1, sizeof(last1), "\"last_frame_rt_ns\":%lld,", (long long)SRC_LAST1);
	}
	if (sc->src_accel)
		accel = ",\"accel\":{\"device\":\"fake0\",\"harvest_pages\":3,\"dirty_rate_pps\":0}";
	/* At the pause QEMU has stopped both rings with GET_VRING_BASE. */
	snprintf(rings, sizeof(rings),
		 "[{\"index\":0,\"size\":256,\"started\":%s,\"next_avail\":%d,%s%s\"log_pages\":10},"
		 "{\"index\":1,\"size\":256,\"started\":%s,\"next_avail\":%d,%s%s\"log_pages\":20}]",
		 presw ? "false" : "true", HANDED0, presw ? "" : "\"started_at\":0,", last0,
		 presw ? "false" : "true", HANDED1, presw ? "" : "\"started_at\":0,", last1);
	if (sc->mode != MIG_ABSENT && presw)
		snprintf(mig, sizeof(mig), ",\"migration\":{\"quiesced\":true,\"final_harvest\":%s,"
			 "\"handed_over\":[{\"ring\":0,\"next_avail\":%d},{\"ring\":1,\"next_avail\":%d}]}",
			 sc->mode == MIG_READY ? "true" : "false", HANDED0, HANDED1);
	else if (sc->mode != MIG_ABSENT)
		snprintf(mig, sizeof(mig), ",\"migration\":{\"quiesced\":false,\"final_harvest\":false,"
			 "\"handed_over\":[]}");
	snprintf(reply, sizeof(reply),
		 "{\"ok\":true,\"port\":{\"name\":\"p0\",\"socket\":\"/run/p0.sock\",\"backend\":\"sw\","
		 "\"endpoint\":\"null\",\"state\":\"%s\",\"queues\":1,"
		 "\"spec\":\"name=p0,socket=/run/p0.sock,backend=sw,endpoint=null,mtu=1500\","
		 "\"mtu\":1500,\"features\":\"" FEATURES "\",\"protocol_features\":\"0x8217\","
		 "\"offered_features\":\"" OFFERED "\",\"offered_protocol_features\":\"0x8217\","
		 "\"max_ring_size\":32768,\"log_all\":true,\"connections\":1,\"engine\":\"%s\"%s%s,"
		 "\"rings\":%s}}",
		 presw ? "connected" : "running", sc->src_accel ? "accel" : "sw", accel, mig, rings);
	/* Pending on the main thread before the reply leaves: its handler
	 * runs before cli_migrate() can read the reply. */
	if (raise_now)
		pthread_kill(W.main, SIGINT);
	agent_send(f, fd, reply);
	return true;
}

static bool to_line(struct fake *f, int fd, struct json_object *msg)
{
	const struct script *sc = W.sc;
	const char *cmd = agent_cmd(msg);
	int mtu = sc->dst_mtu ? sc->dst_mtu : 1500;
	char rings[640], reply[2400], first0[64] = "", first1[64] = "";
	bool after, late = false;

	record(f, cmd);
	pthread_mutex_lock(&W.lock);
	after = W.phase == PH_CONTINUED;
	if (after && cmd && strcmp(cmd, "port-show") == 0)
		late = W.to_after_shows++ == 0 && sc->dst_first_late;
	pthread_mutex_unlock(&W.lock);
	if (cmd && strcmp(cmd, "port-offer") == 0) {
		snprintf(reply, sizeof(reply),
			 "{\"ok\":true,\"name\":\"p0\",\"backend\":\"sw\",\"queues\":1,\"mtu\":%d,"
			 "\"offered_features\":\"" OFFERED "\",\"offered_protocol_features\":\"0x8217\","
			 "\"max_ring_size\":32768}", mtu);
		agent_send(f, fd, reply);
		return true;
	}
	if (!cmd || strcmp(cmd, "port-show") != 0) {
		agent_send(f, fd, "{\"ok\":false,\"error\":\"unexpected\"}");
		return true;
	}
	if (sc->dst_no_port && !after) {
		agent_send(f, fd, "{\"ok\":false,\"error\":\"no port named 'p0'\",\"field\":\"name\"}");
		return true;
	}
	if (after && sc->frame_times && !late) {
		snprintf(first0, sizeof(first0), ",\"first_frame_rt_ns\":%lld", (long long)DST_FIRST0);
		snprintf(first1, sizeof(first1), ",\"first_frame_rt_ns\":%lld", (long long)DST_FIRST1);
	}
	if (after)
		snprintf(rings, sizeof(rings),
			 "[{\"index\":0,\"size\":256,\"started\":true,\"next_avail\":%d,\"started_at\":%d%s},"
			 "{\"index\":1,\"size\":256,\"started\":true,\"next_avail\":%d,\"started_at\":%d%s}]",
			 HANDED0, HANDED0, first0, HANDED1 + sc->started_at_skew,
			 HANDED1 + sc->started_at_skew, first1);
	else
		snprintf(rings, sizeof(rings),
			 "[{\"index\":0,\"size\":256,\"started\":false,\"next_avail\":0},"
			 "{\"index\":1,\"size\":256,\"started\":false,\"next_avail\":0}]");
	snprintf(reply, sizeof(reply),
		 "{\"ok\":true,\"port\":{\"name\":\"p0\",\"socket\":\"/run/p0.sock\",\"backend\":\"sw\","
		 "\"endpoint\":\"null\",\"state\":\"%s\",\"queues\":1,"
		 "\"spec\":\"name=p0,socket=/run/p0.sock,backend=sw,endpoint=null,mtu=%d\","
		 "\"mtu\":%d,\"features\":\"%s\",\"protocol_features\":\"0x8217\","
		 "\"offered_features\":\"" OFFERED "\",\"offered_protocol_features\":\"0x8217\","
		 "\"max_ring_size\":32768,\"log_all\":false,\"connections\":1,\"engine\":\"%s\","
		 "\"rings\":%s}}",
		 after ? "running" : "connected", mtu, mtu, after ? FEATURES : "0x0",
		 after ? "sw" : "none", rings);
	agent_send(f, fd, reply);
	return true;
}

/* ---- one run --------------------------------------------------------------------- */

struct result {
	int status;
	bool agent_raised;		/* the source agent raised SIGINT */
	int fds_leaked;			/* open fds after the run minus before */
	bool dir_removed;		/* the temporary directory was empty at the end */
	struct fake src, dst, from, to;	/* stopped; their records stay readable */
	bool json_ok;			/* -j: the summary parsed as one JSON object */
	int64_t gap_ms;			/* its traffic_gap_ms; -1 absent */
};

/*
 * Runs cli_migrate() against fakes playing sc; with_port: --port p0 --from
 * --to.  Asserts nothing (it runs in a child, see run_case()): 0, or -1 when
 * the fakes could not be set up.
 */
static int run_migrate(const struct script *sc, bool with_port, struct result *res)
{
	char dir[] = "/tmp/test_cli_migrate.XXXXXX", from[160], to[160], uri[160];
	struct fake *fs[] = { &res->src, &res->dst, &res->from, &res->to };
	char *argv[24];
	int n = 0, fds, started = 0;

	memset(res, 0, sizeof(*res));
	fds = th_count_fds();
	if (!mkdtemp(dir))
		return -1;
	W.sc = sc;
	W.phase = PH_IDLE;
	W.seq_pos = 0;
	W.presw = W.agent_raised = false;
	W.to_after_shows = 0;
	W.main = pthread_self();

	if (fake_start(&res->src, dir, "src", true, src_line) == 0 && ++started &&
	    fake_start(&res->dst, dir, "dst", true, dst_line) == 0 && ++started &&
	    fake_start(&res->from, dir, "from", false, from_line) == 0 && ++started &&
	    fake_start(&res->to, dir, "to", false, to_line) == 0 && ++started) {
		snprintf(from, sizeof(from), "unix:%s", res->from.path);
		snprintf(to, sizeof(to), "unix:%s", res->to.path);
		snprintf(uri, sizeof(uri), "unix:%s/migration.sock", dir);

		argv[n++] = (char *)"--qmp";
		argv[n++] = res->src.path;
		argv[n++] = (char *)"--dest-qmp";
		argv[n++] = res->dst.path;
		argv[n++] = (char *)"--to-uri";
		argv[n++] = uri;
		argv[n++] = (char *)"--downtime-limit";
		argv[n++] = (char *)"300";
		if (with_port) {
			argv[n++] = (char *)"--port";
			argv[n++] = (char *)"p0";
			argv[n++] = (char *)"--from";
			argv[n++] = from;
			argv[n++] = (char *)"--to";
			argv[n++] = to;
		}
		argv[n] = NULL;

		alarm(WATCHDOG_S);
		res->status = cli_migrate(argv, sc->json);
		alarm(0);
	}

	/* The fakes go first: then the records are complete and stable. */
	for (int i = 0; i < started; i++)
		fake_stop(fs[i]);
	res->agent_raised = W.agent_raised;
	res->dir_removed = rmdir(dir) == 0;
	res->fds_leaked = th_count_fds() - fds;
	return started == 4 ? 0 : -1;
}

/*
 * One case in a child process: cli_migrate() installs its SIGINT handler
 * for good and keeps a caught signal in a static flag, so a case that
 * leaves either behind (a broken build, say) must not reach the next one;
 * and a run that hangs is killed by the child's watchdog alone.  The
 * result comes back in shared memory.
 */
static void report_run(const struct result *res);
static struct result *R;

static struct result *run_case(const struct script *sc, bool with_port)
{
	int st = 0, rc;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *out = NULL;

		/* -j: the summary to a file, read back once the run is over. */
		if (sc->json) {
			fflush(stdout);
			out = tmpfile();
			if (!out || dup2(fileno(out), STDOUT_FILENO) < 0)
				_exit(1);
		}
		rc = run_migrate(sc, with_port, R);
		fflush(stdout);
		fflush(stderr);
		if (out) {
			char buf[8192];
			size_t n;
			struct json_object *o, *g;

			rewind(out);
			n = fread(buf, 1, sizeof(buf) - 1, out);
			buf[n] = '\0';
			o = json_tokener_parse(buf);
			R->json_ok = o && json_object_is_type(o, json_type_object);
			R->gap_ms = o && json_object_object_get_ex(o, "traffic_gap_ms", &g) ?
				    json_object_get_int64(g) : -1;
			json_object_put(o);
		}
		_exit(rc == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		fprintf(stderr, "the run died of signal %d (%s)\n", WTERMSIG(st),
			WTERMSIG(st) == SIGALRM ? "the watchdog" : "a crash");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	report_run(R);
	return R;
}

static int group_setup(void **state)
{
	(void)state;
	R = mmap(NULL, sizeof(*R), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return R == MAP_FAILED ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	munmap(R, sizeof(*R));
	return 0;
}

static int count(const struct fake *f, const char *name)
{
	int c = 0;

	for (int i = 0; i < f->nrec; i++)
		c += strcmp(f->rec[i], name) == 0;
	return c;
}

/* Index of the first record of name at or after from, or -1. */
static int find(const struct fake *f, const char *name, int from)
{
	for (int i = from; i < f->nrec; i++)
		if (strcmp(f->rec[i], name) == 0)
			return i;
	return -1;
}

/* Prints what the fakes received, and checks nothing was left open. */
static void report_run(const struct result *res)
{
	const struct fake *fs[] = { &res->src, &res->dst, &res->from, &res->to };

	fprintf(stderr, "exit %d\n", res->status);
	/* Every case: cli_migrate() and the fakes closed all they opened. */
	assert_int_equal(res->fds_leaked, 0);
	assert_true(res->dir_removed);
	for (size_t k = 0; k < 4; k++) {
		fprintf(stderr, "  %s:", fs[k]->role);
		for (int i = 0, run; i < fs[k]->nrec; i += run) {
			for (run = 1; i + run < fs[k]->nrec &&
				      strcmp(fs[k]->rec[i + run], fs[k]->rec[i]) == 0; run++)
				;
			fprintf(stderr, run > 1 ? " %s x%d" : " %s", fs[k]->rec[i], run);
		}
		fputc('\n', stderr);
	}
}

/* The source ran the migration up to "migrate", in the usual order. */
static void assert_started(const struct result *res)
{
	int caps = find(&res->src, "migrate-set-capabilities", 0);
	int params = find(&res->src, "migrate-set-parameters", 0);
	int mig = find(&res->src, "migrate", 0);

	assert_int_equal(res->src.accepted, 1);
	assert_int_equal(find(&res->src, "qmp_capabilities", 0), 0);
	assert_true(caps > 0 && params > caps && mig > params);
	assert_int_equal(count(&res->src, "migrate"), 1);
	/* -incoming defer: the destination was told to listen. */
	assert_int_equal(count(&res->dst, "migrate-incoming"), 1);
}

/* Cancelled before the switchover: migrate_cancel after "migrate", never a continue. */
static void assert_cancelled(const struct result *res)
{
	int mig = find(&res->src, "migrate", 0), cancel = find(&res->src, "migrate_cancel", 0);

	assert_started(res);
	assert_int_equal(count(&res->src, "migrate-continue"), 0);
	assert_int_equal(count(&res->src, "migrate_cancel"), 1);
	assert_true(cancel > mig);
	/* The capabilities put back (a second migrate-set-capabilities) after the cancel. */
	assert_true(find(&res->src, "migrate-set-capabilities", cancel) > cancel);
	/* The source was asked whether the VM runs again. */
	assert_true(find(&res->src, "query-status", cancel) > cancel);
	/* The destination never saw a switchover: no ring check on it. */
	assert_int_equal(count(&res->to, "port-show"), 1);
}

static const char *const SEQ_TO_PRESW[] = { "setup", "active", "active", "pre-switchover", NULL };

/* ---- the cases --------------------------------------------------------------------- */

/* 1. Confirmed quiesced + final harvest, rings resumed where handed over: 0. */
static void happy_path(void **state)
{
	static const struct script sc = { .seq = SEQ_TO_PRESW, .mode = MIG_READY };
	struct result *res;
	int cont;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_OK);
	assert_started(res);
	cont = find(&res->src, "migrate-continue", 0);
	assert_int_equal(count(&res->src, "migrate-continue"), 1);
	assert_int_equal(count(&res->src, "migrate_cancel"), 0);
	assert_true(cont > find(&res->src, "migrate", 0));
	/* The precheck (port-show on both), then the source polled, the destination checked. */
	assert_true(count(&res->from, "port-show") >= 3);
	assert_int_equal(count(&res->to, "port-show"), 2);
	assert_int_equal(count(&res->to, "port-offer"), 0);
	/* After completion the destination was asked whether it runs. */
	assert_true(count(&res->dst, "query-status") >= 2);
}

/* 1b. The destination has no port yet: the precheck asks port-offer; still 0. */
static void happy_path_port_offer(void **state)
{
	static const struct script sc = { .seq = SEQ_TO_PRESW, .mode = MIG_READY, .dst_no_port = true };
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_OK);
	assert_int_equal(find(&res->to, "port-show", 0), 0);
	assert_int_equal(find(&res->to, "port-offer", 0), 1);
	assert_int_equal(count(&res->to, "port-offer"), 1);
	assert_int_equal(count(&res->src, "migrate-continue"), 1);
	assert_int_equal(count(&res->src, "migrate_cancel"), 0);
}

/* 1c. Without --port: no agents, straight to migrate-continue at the pause. */
static void happy_path_no_port(void **state)
{
	static const struct script sc = { .seq = SEQ_TO_PRESW, .mode = MIG_READY };
	struct result *res;

	(void)state;
	res = run_case(&sc, false);
	assert_int_equal(res->status, MIGRATE_EXIT_OK);
	assert_int_equal(count(&res->src, "migrate-continue"), 1);
	assert_int_equal(count(&res->src, "migrate_cancel"), 0);
	assert_int_equal(res->from.nrec + res->to.nrec, 0);
}

/* 2. Quiesced but the final harvest never confirmed: cancel, 4, no continue. */
static void no_final_harvest(void **state)
{
	static const struct script sc = { .seq = SEQ_TO_PRESW, .mode = MIG_NO_HARVEST };
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_FAILED);
	assert_cancelled(res);
	/* It kept asking for the whole wait (every 50 ms for 5 s), not once. */
	assert_true(count(&res->from, "port-show") > 10);
}

/* 3. An agent without a "migration" object cannot confirm: cancel, 4, no continue. */
static void no_migration_object(void **state)
{
	static const struct script sc = { .seq = SEQ_TO_PRESW, .mode = MIG_ABSENT };
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_FAILED);
	assert_cancelled(res);
}

/* 4a. SIGINT while the agent confirms (its reply says ready): cancel, 130. */
static void sigint_agent_ready(void **state)
{
	static const struct script sc = {
		.seq = SEQ_TO_PRESW, .mode = MIG_READY, .agent_sigint_at_presw = true,
	};
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_true(res->agent_raised);
	assert_int_equal(res->status, MIGRATE_EXIT_INTERRUPTED);
	assert_cancelled(res);
}

/* 4b. SIGINT while the agent is not done yet: the wait stops at once, 130. */
static void sigint_agent_not_ready(void **state)
{
	static const struct script sc = {
		.seq = SEQ_TO_PRESW, .mode = MIG_NO_HARVEST, .agent_sigint_at_presw = true,
	};
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_true(res->agent_raised);
	assert_int_equal(res->status, MIGRATE_EXIT_INTERRUPTED);
	assert_cancelled(res);
	/* Not the 5 s wait: the port-show that raised it and at most one more. */
	assert_true(count(&res->from, "port-show") <= 6);
}

/* 4c. SIGINT as the source QEMU reports pre-switchover: cancel, 130. */
static void sigint_at_qmp_presw(void **state)
{
	static const struct script sc = {
		.seq = SEQ_TO_PRESW, .mode = MIG_READY, .qmp_sigint_at_presw = true,
	};
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_INTERRUPTED);
	assert_cancelled(res);
}

/* 5. The precheck refuses (smaller MTU there): 3, and QEMU is never told to migrate. */
static void precheck_refuses(void **state)
{
	static const struct script sc = { .seq = SEQ_TO_PRESW, .mode = MIG_READY, .dst_mtu = 1400 };
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_REFUSED);
	assert_int_equal(count(&res->src, "migrate"), 0);
	assert_int_equal(count(&res->src, "migrate-set-capabilities"), 0);
	assert_int_equal(count(&res->dst, "migrate-incoming"), 0);
	assert_int_equal(count(&res->from, "port-show"), 1);
	assert_int_equal(count(&res->to, "port-show"), 1);
}

/* 6. The destination resumed ring 1 elsewhere than handed over: 5. */
static void dest_ring_mismatch(void **state)
{
	static const struct script sc = { .seq = SEQ_TO_PRESW, .mode = MIG_READY, .started_at_skew = 2 };
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_UNKNOWN);
	assert_started(res);
	assert_int_equal(count(&res->src, "migrate-continue"), 1);
	assert_int_equal(count(&res->src, "migrate_cancel"), 0);
	assert_int_equal(count(&res->to, "port-show"), 2);
}

/* 7. migrate-set-capabilities fails with an earlier "completed" on record: 4, not 5. */
static void caps_error_stale_completed(void **state)
{
	static const struct script sc = {
		.initial = "completed", .seq = SEQ_TO_PRESW, .mode = MIG_READY, .caps_error = true,
	};
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_FAILED);
	assert_true(count(&res->src, "migrate-set-capabilities") >= 1);
	assert_int_equal(count(&res->src, "migrate"), 0);
	assert_int_equal(count(&res->src, "migrate-continue"), 0);
	assert_int_equal(count(&res->src, "migrate_cancel"), 0);
	/* It looked whether the VM still runs on the source. */
	assert_true(find(&res->src, "query-status", find(&res->src, "migrate-set-capabilities", 0)) > 0);
}

/* 8. The source's QMP goes away right after migrate-continue: the state is unknown, 5. */
static void src_gone_after_continue(void **state)
{
	static const struct script sc = {
		.seq = SEQ_TO_PRESW, .mode = MIG_READY, .close_after_continue = true,
	};
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_UNKNOWN);
	assert_int_equal(count(&res->src, "migrate-continue"), 1);
	assert_int_equal(count(&res->src, "migrate_cancel"), 0);
	/* Nothing after the continue reached the source; the destination was not judged. */
	assert_string_equal(res->src.rec[res->src.nrec - 1], "migrate-continue");
	assert_int_equal(count(&res->to, "port-show"), 1);
}

/* 9. Both agents report frame times: the gap from the source's last to the destination's first. */
static void traffic_gap(void **state)
{
	static const struct script sc = {
		.seq = SEQ_TO_PRESW, .mode = MIG_READY, .frame_times = true, .json = true,
	};
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_OK);
	assert_true(res->json_ok);
	/* min over the destination's first frames after T0, minus the max of the source's last */
	assert_int_equal(res->gap_ms, GAP_MS);
	/* It was there at the first look: no extra polling. */
	assert_int_equal(count(&res->to, "port-show"), 2);
}

/* 9a. The destination moved no frame yet at the first look: it is asked again. */
static void traffic_gap_late(void **state)
{
	static const struct script sc = {
		.seq = SEQ_TO_PRESW, .mode = MIG_READY, .frame_times = true, .dst_first_late = true,
		.json = true,
	};
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_OK);
	assert_true(res->json_ok);
	assert_int_equal(res->gap_ms, GAP_MS);
	assert_int_equal(count(&res->to, "port-show"), 3);
}

/* 9b. The source on the accelerator: the agent did not see its frames, no gap. */
static void traffic_gap_src_accel(void **state)
{
	static const struct script sc = {
		.seq = SEQ_TO_PRESW, .mode = MIG_READY, .frame_times = true, .src_accel = true,
		.json = true,
	};
	struct result *res;

	(void)state;
	res = run_case(&sc, true);
	assert_int_equal(res->status, MIGRATE_EXIT_OK);
	assert_true(res->json_ok);
	assert_int_equal(res->gap_ms, -1);
	/* Nothing to wait for: the destination was read once after completion. */
	assert_int_equal(count(&res->to, "port-show"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(happy_path),
		cmocka_unit_test(happy_path_port_offer),
		cmocka_unit_test(happy_path_no_port),
		cmocka_unit_test(no_final_harvest),
		cmocka_unit_test(no_migration_object),
		cmocka_unit_test(sigint_agent_ready),
		cmocka_unit_test(sigint_agent_not_ready),
		cmocka_unit_test(sigint_at_qmp_presw),
		cmocka_unit_test(precheck_refuses),
		cmocka_unit_test(dest_ring_mismatch),
		cmocka_unit_test(caps_error_stale_completed),
		cmocka_unit_test(src_gone_after_continue),
		cmocka_unit_test(traffic_gap),
		cmocka_unit_test(traffic_gap_late),
		cmocka_unit_test(traffic_gap_src_accel),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
