// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa-simd: a simulated VRING-capable virtio-net accelerator, the stand-in
 * for hardware this project drives over vhost-vfio (as the kernel ships
 * vdpa_sim).  A vfio-user server on a unix socket, in the foreground, one
 * client at a time; the device is reset when a client leaves.  Behaviour
 * and the interface are in vdpa-simd(8).
 *
 * This file: the command line (a table), the wire, the listening socket.
 */
#include "contrib/vdpa-simd/simd.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/common/log.h"
#include "agent/common/util.h"
#include "agent/common/version.h"

static volatile int quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* ---- options ---------------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

typedef int opt_fn(struct simd_options *o, const char *arg);

static int opt_socket(struct simd_options *o, const char *arg)
{
	struct sockaddr_un sa;

	if (strlen(arg) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	o->socket = arg;
	return 0;
}

static int opt_wire(struct simd_options *o, const char *arg)
{
	if (strcmp(arg, "null") == 0) {
		o->wire = PORT_ENDPOINT_NULL;
	} else if (strcmp(arg, "loop") == 0) {
		o->wire = PORT_ENDPOINT_LOOP;
	} else if (strncmp(arg, "tap:", 4) == 0 && arg[4] && strlen(arg + 4) < IFNAME_MAX + 1) {
		o->wire = PORT_ENDPOINT_TAP;
		o->ifname = arg + 4;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int opt_granularity(struct simd_options *o, const char *arg)
{
	uint64_t v;

	if (parse_u64(arg, 1ULL << VV_LOG_SHIFT_MIN, 1ULL << VV_LOG_SHIFT_MAX, &v) < 0 ||
	    (v & (v - 1)))
		return -EINVAL;
	o->log_shift = (unsigned)__builtin_ctzll(v);
	return 0;
}

static int opt_queues(struct simd_options *o, const char *arg)
{
	uint64_t v;

	if (parse_u64(arg, 1, SIMD_MAX_QP, &v) < 0)
		return -EINVAL;
	o->queues = (unsigned)v;
	return 0;
}

static int opt_fault(struct simd_options *o, const char *arg)
{
	uint64_t v;

	if (strncmp(arg, "die-after-packets=", 18) == 0) {
		if (parse_u64(arg + 18, 1, UINT64_MAX, &v) < 0)
			return -EINVAL;
		o->die_after = v;
	} else if (strncmp(arg, "stall-ms=", 9) == 0) {
		if (parse_u64(arg + 9, 0, 60000, &v) < 0)
			return -EINVAL;
		o->stall_ms = (unsigned)v;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int opt_log_level(struct simd_options *o, const char *arg)
{
	enum log_level l;

	(void)o;
	if (log_level_from_string(arg, &l) < 0)
		return -EINVAL;
	log_set_level(l);
	return 0;
}

/* The command line: {name, value, function, help} drives getopt_long() and --help. */
static const struct {
	const char *name;	/* without "--" */
	const char *arg;
	opt_fn *fn;
	const char *help;
} options[] = {
	{ "socket", "PATH", opt_socket, "the vfio-user socket to listen on (required)" },
	{ "wire", "tap:IFNAME|null|loop", opt_wire, "where frames go (default null)" },
	{ "log-granularity", "BYTES", opt_granularity,
	  "bytes per dirty-log bit, a power of two 4096..2097152 (default 4096)" },
	{ "queues", "N", opt_queues, "queue pairs, 1..32 (default 1)" },
	{ "fault", "SPEC", opt_fault,
	  "die-after-packets=N or stall-ms=N, for tests; may be repeated" },
	{ "log-level", "LEVEL", opt_log_level, "err, warning, notice, info (default), debug" },
};

#define NOPTIONS ARRAY_SIZE(options)

static void usage(FILE *f)
{
	fprintf(f, "Usage: vdpa-simd --socket PATH [OPTION ARG]...\n"
		   "A simulated virtio-net accelerator served over vfio-user.\n\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		char both[64];

		snprintf(both, sizeof(both), "--%s %s", options[i].name, options[i].arg);
		fprintf(f, "  %-38s %s\n", both, options[i].help);
	}
	fprintf(f, "  %-38s %s\n", "-V, --version", "print the version and exit");
	fprintf(f, "  %-38s %s\n", "-h, --help", "print this help and exit");
	fputs("\nSee vdpa-simd(8).\n", f);
}

enum { OPT_HELP = 'h', OPT_VERSION = 'V', OPT_TABLE = 1000 };

/*
 * 0 to run, 1 when --help or --version was answered, -EINVAL after one
 * line on stderr.  getopt_long() would also take an unambiguous prefix of
 * an option's name; the names here match exactly, as they always did.
 */
static int parse_args(int argc, char **argv, struct simd_options *o)
{
	struct option lo[NOPTIONS + 3];
	int c;

	for (size_t i = 0; i < NOPTIONS; i++)
		lo[i] = (struct option){ options[i].name, required_argument, NULL,
					 OPT_TABLE + (int)i };
	lo[NOPTIONS] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	lo[NOPTIONS + 1] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	lo[NOPTIONS + 2] = (struct option){ 0 };

	opterr = 0;	/* one message of ours, not getopt's naming argv[0] */
	while ((c = getopt_long(argc, argv, ":hV", lo, NULL)) != -1) {
		const char *el = argv[optind - 1];
		size_t k;

		if (c == OPT_HELP) {
			usage(stdout);
			return 1;
		}
		if (c == OPT_VERSION) {
			printf("vdpa-simd %s\n", VDPA_MIGRATE_VERSION);
			return 1;
		}
		if (c == ':') {
			fprintf(stderr, "vdpa-simd: %s needs %s\n", el,
				optopt >= OPT_TABLE ? options[optopt - OPT_TABLE].arg : "a value");
			return -EINVAL;
		}
		if (c == '?') {
			if (optopt > 0 && optopt < 256)
				fprintf(stderr, "vdpa-simd: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "vdpa-simd: unknown option '%s'\n", el);
			return -EINVAL;
		}
		k = (size_t)(c - OPT_TABLE);
		/* The option as written: before its value, unless --NAME=VALUE. */
		if (optarg == argv[optind - 1])
			el = argv[optind - 2];
		if (strncmp(el, "--", 2) != 0 || strncmp(el + 2, options[k].name,
							 strlen(options[k].name)) != 0 ||
		    (el[2 + strlen(options[k].name)] != '\0' && el[2 + strlen(options[k].name)] != '=')) {
			fprintf(stderr, "vdpa-simd: unknown option '%.*s' (did you mean '--%s'?)\n",
				(int)strcspn(el, "="), el, options[k].name);
			return -EINVAL;
		}
		if (options[k].fn(o, optarg) < 0) {
			fprintf(stderr, "vdpa-simd: --%s: bad value '%s' (want %s)\n", options[k].name,
				optarg, options[k].arg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vdpa-simd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->socket) {
		fprintf(stderr, "vdpa-simd: --socket PATH is required\n");
		return -EINVAL;
	}
	return 0;
}

/* ---- socket --------------------------------------------------------------- */

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	/* A socket left behind by a previous run is ours to replace. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static const char *wire_name(const struct simd_options *o)
{
	switch (o->wire) {
	case PORT_ENDPOINT_LOOP:
		return "loop";
	case PORT_ENDPOINT_TAP:
		return "tap";
	case PORT_ENDPOINT_NULL:
		break;
	}
	return "null";
}

int main(int argc, char **argv)
{
	struct simd_options o = { .wire = PORT_ENDPOINT_NULL, .log_shift = 12, .queues = 1 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct endpoint *ep = NULL;
	struct simd_dev *d = NULL;
	char err[256] = "";
	unsigned nclient = 0;
	int lfd = -1, rc = SIMD_EXIT_FAILURE, r;

	log_init();
	r = parse_args(argc, argv, &o);
	if (r < 0) {
		fputs("Try 'vdpa-simd --help'.\n", stderr);
		return SIMD_EXIT_USAGE;
	}
	if (r > 0)
		return SIMD_EXIT_OK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = endpoint_open(o.wire, o.ifname, o.queues, &ep, err, sizeof(err));
	if (r < 0) {
		log_err("cannot open the wire %s: %s", wire_name(&o), err[0] ? err : strerror(-r));
		return SIMD_EXIT_FAILURE;
	}
	d = calloc(1, sizeof(*d));
	if (!d || (r = simd_dev_init(d, &o, ep)) < 0) {
		log_err("cannot set the device up: %s", d ? strerror(-r) : "out of memory");
		goto out;
	}
	lfd = listen_on(o.socket);
	if (lfd < 0) {
		log_err("cannot listen on %s: %s", o.socket, strerror(-lfd));
		goto out;
	}
	log_notice("vdpa-simd: listening on %s: %u queue pair(s), wire %s%s%s, log %llu bytes per bit%s%s",
		   o.socket, o.queues, wire_name(&o), o.ifname ? ":" : "", o.ifname ? o.ifname : "",
		   1ULL << o.log_shift, o.die_after ? ", fault die-after-packets" : "",
		   o.stall_ms ? ", fault stall-ms" : "");

	while (!quit) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			log_err("accept: %s", strerror(errno));
			goto out;
		}
		snprintf(d->who, sizeof(d->who), "client %u", ++nclient);
		log_info("%s: connected", d->who);
		r = simd_serve(d, cfd, lfd, &quit);
		if (r < 0)
			log_warning("%s: connection closed: %s", d->who, strerror(-r));
		else
			log_info("%s: disconnected", d->who);
		/*
		 * DMA ends before our end closes: a client that cut us off
		 * waits for the close to know we write its memory no more.
		 */
		r = simd_dev_reset(d);
		close(cfd);
		if (r < 0) {
			log_err("cannot reset the device: %s", strerror(-r));
			goto out;
		}
		snprintf(d->who, sizeof(d->who), "device");
	}
	log_notice("vdpa-simd: stopping");
	rc = SIMD_EXIT_OK;
out:
	if (d) {
		simd_dev_destroy(d);
		free(d);
	}
	if (lfd >= 0) {
		close(lfd);
		unlink(o.socket);
	}
	endpoint_close(ep);
	return rc;
}
