/*
 * vdpa-agentd's control thread: ports, signals (signalfd), the systemd
 * notification protocol and the watchdog (timerfd, CLOCK_MONOTONIC).
 */
#include "agent/agentd.h"

#include <errno.h>
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

#include "agent/ctl_server.h"
#include "agent/log.h"

static void notify_status(const struct agentd *a)
{
	size_t running = 0;

	if (a->stopping)
		return;
	for (size_t i = 0; i < a->nports; i++)
		if (strcmp(port_state_name(a->ports[i]), "listening") != 0)
			running++;
	sd_notifyf(0, "STATUS=%zu port(s), %zu with a front end", a->nports, running);
}

struct port *agentd_find_port(const struct agentd *a, const char *name)
{
	for (size_t i = 0; i < a->nports; i++)
		if (strcmp(port_config(a->ports[i])->name, name) == 0)
			return a->ports[i];
	return NULL;
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
	return 0;
}

int agentd_del_port(struct agentd *a, const char *name)
{
	for (size_t i = 0; i < a->nports; i++) {
		if (strcmp(port_config(a->ports[i])->name, name) != 0)
			continue;
		log_notice("port %s: removed", name);
		port_free(a->ports[i]);
		memmove(&a->ports[i], &a->ports[i + 1], (a->nports - i - 1) * sizeof(a->ports[0]));
		a->nports--;
		notify_status(a);
		return 0;
	}
	return -ENOENT;
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
	for (size_t j = 0; j < cfg.nports; j++) {
		struct port *p = agentd_find_port(a, cfg.ports[j].name);

		if (p) {
			if (memcmp(port_config(p), &cfg.ports[j], sizeof(cfg.ports[j])) != 0)
				log_warning("reload: port %s changed in the file; it keeps its "
					    "running configuration (delete and add it to apply)",
					    cfg.ports[j].name);
			continue;
		}
		if (agentd_add_port(a, &cfg.ports[j], PORT_FROM_CONFIG, err, sizeof(err)) < 0)
			log_err("reload: port %s: %s", cfg.ports[j].name, err);
	}
	agent_config_free(&cfg);
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

int agentd_run(struct agentd *a)
{
	char err[256] = "";
	int r;

	if (mkdir(a->runtime_dir, 0755) < 0 && errno != EEXIST) {
		log_err("runtime directory %s: %s", a->runtime_dir, strerror(errno));
		return -errno;
	}
	r = ctl_server_new(a, &a->ctl, err, sizeof(err));
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
