/*
 * vdpa-agentd's control thread: ports, signals (signalfd), the systemd
 * notification protocol and the watchdog (timerfd, CLOCK_MONOTONIC).
 */
#include "agent/daemon/agentd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "agent/daemon/ctl_server.h"
#include "agent/common/log.h"
#include "protocol/control.h"

/* STATE_DIR/ports: see agentd_restore_ports(). */
#define STATE_PORTS "ports"

static void notify_status(const struct agentd *a)
{
	size_t running = 0;

	if (a->stopping)
		return;
	for (size_t i = 0; i < a->nports; i++)
		if (strcmp(port_state_name(a->ports[i]), "listening") != 0)
			running++;
	char skipped[96] = "", unserved[PATH_MAX + 64] = "";
	size_t nskipped = a->nskipped_config + a->nskipped_cli;

	if (nskipped)
		snprintf(skipped, sizeof(skipped), "; %zu configured port(s) not served", nskipped);
	if (a->nunserved)
		snprintf(unserved, sizeof(unserved), "; %zu from %s/" STATE_PORTS " not served",
			 a->nunserved, a->state_dir);
	sd_notifyf(0, "STATUS=%zu port(s), %zu with a front end%s%s%s", a->nports, running,
		   skipped, unserved, nskipped || a->nunserved ? " (see the log)" : "");
}

struct port *agentd_find_port(const struct agentd *a, const char *name)
{
	for (size_t i = 0; i < a->nports; i++)
		if (strcmp(port_config(a->ports[i])->name, name) == 0)
			return a->ports[i];
	return NULL;
}

/*
 * STATE_DIR/ports: the SPECs of the ports added over the control socket,
 * one per line, so that a restarted agent serves them again (QEMU's
 * vhost-user client reconnects to the same socket).  Ports from the
 * configuration file and --port are not in it: they come back from there.
 * Written whole on every change, to a temporary file that is synced and
 * renamed over the old one, so a crash leaves the old list or the new one.
 */
static int state_path(const struct agentd *a, const char *suffix, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/" STATE_PORTS "%s", a->state_dir, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int save_ports(const struct agentd *a)
{
	char path[PATH_MAX], tmp[PATH_MAX], spec[CTL_SPEC_MAX + 1];
	int fd, r = 0, dfd;
	FILE *f;

	if (!a->state_dir)
		return 0;
	if ((r = state_path(a, "", path, sizeof(path))) < 0 ||
	    (r = state_path(a, ".tmp", tmp, sizeof(tmp))) < 0)
		return r;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	/* No state directory yet (systemd's StateDirectory= makes it): make it. */
	if (fd < 0 && errno == ENOENT && mkdir(a->state_dir, 0755) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	fputs("# vdpa-agentd: the ports added with \"vdpa-migrate port add\", restored\n"
	      "# when the agent starts.  Written by the agent; one SPEC per line.\n", f);
	for (size_t i = 0; i < a->nports && r == 0; i++) {
		if (port_origin(a->ports[i]) != PORT_FROM_CONTROL)
			continue;
		r = port_spec_format(port_config(a->ports[i]), spec, sizeof(spec));
		if (r >= 0) {
			fprintf(f, "%s\n", spec);
			r = 0;
		}
	}
	for (size_t i = 0; i < a->nunserved && r == 0; i++) {
		const struct agentd_unserved *u = &a->unserved[i];

		/* Added again since, under that name: the live port's line counts. */
		if (u->name[0] && agentd_find_port(a, u->name))
			continue;
		fprintf(f, "# not served at the last start (see the log); tried again at the "
			   "next:\n%s\n", u->line);
	}
	if (r == 0 && (fflush(f) != 0 || ferror(f)))
		r = errno ? -errno : -EIO;
	if (r == 0 && fsync(fileno(f)) < 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = errno ? -errno : -EIO;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/* The rename itself, on disk. */
	dfd = open(a->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

static void save_ports_or_warn(const struct agentd *a, const char *what)
{
	int r = save_ports(a);

	if (r < 0)
		log_warning("%s; cannot write %s/" STATE_PORTS ": %s (after a restart the "
			    "agent would serve the ports it had before)", what, a->state_dir,
			    strerror(-r));
}

/* A port of that name was added or deleted over the control socket: the
 * operator's word replaces a line kept from the last start. */
static void forget_unserved(struct agentd *a, const char *name)
{
	for (size_t i = 0; i < a->nunserved;) {
		if (strcmp(a->unserved[i].name, name) != 0) {
			i++;
			continue;
		}
		free(a->unserved[i].line);
		memmove(&a->unserved[i], &a->unserved[i + 1],
			(a->nunserved - i - 1) * sizeof(a->unserved[0]));
		a->nunserved--;
	}
	notify_status(a);
}

/* The value of "name=" in a SPEC that did not parse, so that port add and
 * port del can still address its line; "" when there is none that fits. */
static const char *spec_name(const char *spec, char *buf, size_t len)
{
	for (const char *k = spec; k; k = strchr(k, ',')) {
		size_t n;

		if (*k == ',')
			k++;
		if (strncmp(k, "name=", 5) != 0)
			continue;
		k += 5;
		n = strcspn(k, ",");
		if (n == 0 || n >= len)
			break;
		memcpy(buf, k, n);
		buf[n] = '\0';
		return buf;
	}
	buf[0] = '\0';
	return buf;
}

/* Keeps a line that could not be served, so that no rewrite drops it. */
static void keep_unserved(struct agentd *a, const char *line, const char *name)
{
	struct agentd_unserved *nu;
	char *copy = strdup(line);

	nu = copy ? realloc(a->unserved, (a->nunserved + 1) * sizeof(*nu)) : NULL;
	if (!nu) {
		free(copy);
		log_err("out of memory: a later rewrite of the port list drops '%s'", line);
		return;
	}
	a->unserved = nu;
	nu[a->nunserved].line = copy;
	snprintf(nu[a->nunserved].name, sizeof(nu[a->nunserved].name), "%s", name);
	a->nunserved++;
}

int agentd_restore_ports(struct agentd *a)
{
	char path[PATH_MAX], err[CONFIG_ERR_MAX], *line = NULL;
	size_t cap = 0, restored = 0;
	unsigned lineno = 0;
	ssize_t n;
	FILE *f;
	int r;

	if (!a->state_dir)
		return 0;
	if ((r = state_path(a, "", path, sizeof(path))) < 0) {
		log_err("state directory %s: %s; ports added at run time are not restored",
			a->state_dir, strerror(-r));
		return r;
	}
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		log_err("cannot read %s: %s; ports added at run time are not restored", path,
			strerror(-r));
		return r;
	}
	a->restoring = true;
	while ((n = getline(&line, &cap, f)) >= 0) {
		struct port_config pc;
		struct port *p;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if ((size_t)n > CTL_SPEC_MAX) {
			/* Not a SPEC any agent wrote: not kept either. */
			log_err("%s:%u: line longer than %u bytes; dropped", path, lineno,
				CTL_SPEC_MAX);
			continue;
		}
		if (port_spec_parse(line, &pc, err, sizeof(err)) < 0) {
			char name[PORT_NAME_MAX + 1];

			log_err("%s:%u: %s; skipped", path, lineno, err);
			keep_unserved(a, line, spec_name(line, name, sizeof(name)));
			continue;
		}
		if ((p = agentd_find_port(a, pc.name))) {
			if (port_origin(p) == PORT_FROM_CONTROL)
				log_err("%s:%u: a second line for port %s; dropped", path, lineno,
					pc.name);
			else
				log_notice("%s:%u: port %s is in the configuration file or "
					   "--port now; that one is served, this line dropped",
					   path, lineno, pc.name);
			continue;
		}
		if (agentd_add_port(a, &pc, PORT_FROM_CONTROL, err, sizeof(err)) < 0) {
			log_err("%s:%u: port %s: %s; skipped", path, lineno, pc.name, err);
			keep_unserved(a, line, pc.name);
			continue;
		}
		restored++;
	}
	a->restoring = false;
	free(line);
	fclose(f);
	if (restored)
		log_notice("restored %zu port(s) added at run time, from %s", restored, path);
	if (a->nunserved)
		log_warning("%zu port(s) of %s not served; kept there for the next start",
			    a->nunserved, path);
	notify_status(a);
	return 0;
}

int agentd_add_port(struct agentd *a, const struct port_config *cfg, enum port_origin origin,
		    char *err, size_t errlen)
{
	struct port **np, *p;
	int r;

	err[0] = '\0';
	for (size_t i = 0; i < a->nports; i++) {
		const struct port_config *o = port_config(a->ports[i]);
		if (strcmp(o->name, cfg->name) == 0) {
			snprintf(err, errlen, "port %s already exists", cfg->name);
			return -EEXIST;
		}
		if (strcmp(o->socket, cfg->socket) == 0) {
			snprintf(err, errlen, "socket %s is already used by port %s", cfg->socket,
				 o->name);
			return -EEXIST;
		}
	}
	np = realloc(a->ports, (a->nports + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	a->ports = np;
	r = port_new(a->loop, cfg, origin, &p, err, errlen);
	if (r < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	a->ports[a->nports++] = p;
	log_notice("port %s: listening on %s", cfg->name, cfg->socket);
	notify_status(a);
	if (origin == PORT_FROM_CONTROL && !a->restoring) {
		forget_unserved(a, cfg->name);
		save_ports_or_warn(a, "port added");
	}
	return 0;
}

int agentd_del_port(struct agentd *a, const char *name)
{
	for (size_t i = 0; i < a->nports; i++) {
		if (strcmp(port_config(a->ports[i])->name, name) != 0)
			continue;
		bool saved = port_origin(a->ports[i]) == PORT_FROM_CONTROL;

		log_notice("port %s: removed", name);
		port_free(a->ports[i]);
		memmove(&a->ports[i], &a->ports[i + 1], (a->nports - i - 1) * sizeof(a->ports[0]));
		a->nports--;
		notify_status(a);
		/* Not at shutdown: the list is what the next start restores. */
		if (saved && !a->stopping) {
			forget_unserved(a, name);
			save_ports_or_warn(a, "port removed");
		}
		return 0;
	}
	/* Not served since the last start, but kept in the list: gone now. */
	for (size_t i = 0; i < a->nunserved; i++) {
		if (strcmp(a->unserved[i].name, name) != 0)
			continue;
		forget_unserved(a, name);
		log_notice("port %s: removed from the ports to restore", name);
		save_ports_or_warn(a, "port removed");
		return 0;
	}
	return -ENOENT;
}

size_t agentd_add_configured(struct agentd *a, const struct port_config *ports,
			     const unsigned *lines, size_t n, enum port_origin origin)
{
	char err[CONFIG_ERR_MAX];
	size_t skipped = 0;

	for (size_t i = 0; i < n; i++) {
		if (agentd_add_port(a, &ports[i], origin, err, sizeof(err)) == 0)
			continue;
		if (lines)
			log_err("%s:%u: [port %s]: not served: %s", a->config_path, lines[i],
				ports[i].name, err);
		else
			log_err("--port name=%s: not served: %s", ports[i].name, err);
		skipped++;
	}
	return skipped;
}

int agentd_port_preflight(const struct port_config *pc, const char *runtime_dir, char *err,
			  size_t errlen)
{
	char dir[PORT_SOCKET_MAX + 1];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", pc->socket);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (strcmp(dir, runtime_dir) != 0) {
		if (stat(dir, &st) < 0) {
			snprintf(err, errlen, "socket %s: directory %s: %s", pc->socket, dir,
				 strerror(errno));
			return -ENOENT;
		}
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "socket %s: %s is not a directory", pc->socket, dir);
			return -ENOTDIR;
		}
	}
	if (lstat(pc->socket, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "socket %s: exists and is not a socket", pc->socket);
		return -EEXIST;
	}
	return port_socket_gid(pc, NULL, err, errlen);
}

int agentd_reload(struct agentd *a)
{
	struct agent_config cfg;
	char err[CONFIG_ERR_MAX];
	int r;

	if (!a->config_path) {
		log_notice("reload: no configuration file; nothing to do");
		return 0;
	}
	r = agent_config_load(a->config_path, &cfg, err, sizeof(err));
	if (r < 0) {
		log_err("reload: %s; keeping the running configuration", err);
		return r;
	}
	/* Ports the file no longer has go; ports from elsewhere stay. */
	for (size_t i = 0; i < a->nports;) {
		const struct port_config *pc = port_config(a->ports[i]);
		bool keep = port_origin(a->ports[i]) != PORT_FROM_CONFIG;

		for (size_t j = 0; j < cfg.nports && !keep; j++)
			keep = strcmp(cfg.ports[j].name, pc->name) == 0;
		if (keep) {
			i++;
			continue;
		}
		agentd_del_port(a, pc->name);
	}
	a->nskipped_config = 0;
	for (size_t j = 0; j < cfg.nports; j++) {
		struct port *p = agentd_find_port(a, cfg.ports[j].name);

		if (p) {
			if (memcmp(port_config(p), &cfg.ports[j], sizeof(cfg.ports[j])) != 0)
				log_warning("reload: port %s changed in the file; it keeps its "
					    "running configuration (delete and add it to apply)",
					    cfg.ports[j].name);
			continue;
		}
		a->nskipped_config += agentd_add_configured(a, &cfg.ports[j], &cfg.port_lines[j], 1,
							    PORT_FROM_CONFIG);
	}
	agent_config_free(&cfg);
	notify_status(a);
	log_notice("reload: %zu port(s)", a->nports);
	return 0;
}

static void on_signal(struct watch *w, int fd, uint32_t events, void *opaque)
{
	struct agentd *a = opaque;
	struct signalfd_siginfo si;

	(void)w;
	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_notice("signal %s: shutting down", strsignal((int)si.ssi_signo));
			sd_notify(0, "STOPPING=1");
			a->stopping = true;
			loop_quit(a->loop);
			break;
		case SIGHUP:
			sd_notify(0, "RELOADING=1");
			agentd_reload(a);
			sd_notify(0, "READY=1");
			notify_status(a);
			break;
		default:
			break;
		}
	}
}

static void on_watchdog(struct watch *w, int fd, uint32_t events, void *opaque)
{
	uint64_t n;

	(void)w;
	(void)events;
	(void)opaque;
	if (read(fd, &n, sizeof(n)) == sizeof(n))
		sd_notify(0, "WATCHDOG=1");
}

int agentd_init(struct agentd *a, const char *config_path, const char *runtime_dir,
		const char *state_dir)
{
	sigset_t mask;
	int r;

	memset(a, 0, sizeof(*a));
	a->config_path = config_path;
	a->runtime_dir = runtime_dir;
	a->state_dir = state_dir;
	a->sig_fd = -1;
	a->wd_fd = -1;
	a->tick_fd = -1;
	r = loop_new(&a->loop);
	if (r < 0)
		return r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* Blocked before any worker thread exists, so every thread inherits it. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sig_fd < 0)
		return -errno;
	return loop_add(a->loop, a->sig_fd, EPOLLIN, on_signal, a, &a->sig_watch);
}

void agentd_fini(struct agentd *a)
{
	a->stopping = true;
	while (a->nports)
		agentd_del_port(a, port_config(a->ports[a->nports - 1])->name);
	free(a->ports);
	for (size_t i = 0; i < a->nunserved; i++)
		free(a->unserved[i].line);
	free(a->unserved);
	ctl_server_free(a->ctl);
	loop_remove(a->sig_watch);
	loop_remove(a->wd_watch);
	loop_remove(a->tick_watch);
	if (a->tick_fd >= 0)
		close(a->tick_fd);
	if (a->sig_fd >= 0)
		close(a->sig_fd);
	if (a->wd_fd >= 0)
		close(a->wd_fd);
	loop_free(a->loop);
	memset(a, 0, sizeof(*a));
}

static void on_tick(struct watch *w, int fd, uint32_t events, void *opaque)
{
	struct agentd *a = opaque;
	uint64_t n;

	(void)w;
	(void)events;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	for (size_t i = 0; i < a->nports; i++)
		port_tick(a->ports[i]);
}

/* A once-a-second tick for the ports' housekeeping (accelerator health). */
static int start_tick(struct agentd *a)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };

	a->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->tick_fd < 0)
		return -errno;
	if (timerfd_settime(a->tick_fd, 0, &its, NULL) < 0)
		return -errno;
	return loop_add(a->loop, a->tick_fd, EPOLLIN, on_tick, a, &a->tick_watch);
}

static int start_watchdog(struct agentd *a)
{
	struct itimerspec its = { 0 };
	uint64_t usec;
	int r;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	/* Twice per interval, as systemd recommends. */
	usec /= 2;
	its.it_interval.tv_sec = (time_t)(usec / 1000000);
	its.it_interval.tv_nsec = (long)(usec % 1000000) * 1000;
	its.it_value = its.it_interval;
	a->wd_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->wd_fd < 0)
		return -errno;
	if (timerfd_settime(a->wd_fd, 0, &its, NULL) < 0)
		return -errno;
	r = loop_add(a->loop, a->wd_fd, EPOLLIN, on_watchdog, a, &a->wd_watch);
	if (r == 0)
		log_info("watchdog: pinging systemd every %llu ms", (unsigned long long)(usec / 1000));
	return r;
}

/* The control server's view of the ports (ctl_server.h). */
static size_t ctl_count(void *opaque)
{
	return ((struct agentd *)opaque)->nports;
}

static struct port *ctl_at(void *opaque, size_t i)
{
	return ((struct agentd *)opaque)->ports[i];
}

static struct port *ctl_find(void *opaque, const char *name)
{
	return agentd_find_port(opaque, name);
}

static int ctl_add(void *opaque, const struct port_config *cfg, char *err, size_t errlen)
{
	return agentd_add_port(opaque, cfg, PORT_FROM_CONTROL, err, errlen);
}

static int ctl_del(void *opaque, const char *name)
{
	return agentd_del_port(opaque, name);
}

int agentd_run(struct agentd *a)
{
	const struct ctl_ports ctl_ports = {
		.opaque = a, .count = ctl_count, .at = ctl_at, .find = ctl_find,
		.add = ctl_add, .del = ctl_del,
	};
	char err[256] = "";
	int r;

	r = ctl_server_new(a->loop, a->runtime_dir, &ctl_ports, &a->ctl, err, sizeof(err));
	if (r < 0) {
		log_err("control socket: %s", err);
		return r;
	}
	r = start_tick(a);
	if (r < 0) {
		log_err("timer: %s", strerror(-r));
		return r;
	}
	r = start_watchdog(a);
	if (r < 0) {
		log_err("watchdog: %s", strerror(-r));
		return r;
	}
	/* Every socket is bound: QEMU may connect now. */
	sd_notify(0, "READY=1");
	notify_status(a);
	log_notice("ready: %zu port(s), control socket %s", a->nports, ctl_server_path(a->ctl));
	r = loop_run(a->loop);
	/* SIGTERM said STOPPING=1 already; an error exit says it here. */
	if (!a->stopping)
		sd_notify(0, "STOPPING=1");
	a->stopping = true;
	return r;
}
