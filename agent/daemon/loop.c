/* epoll event loop with deferred watch release; see loop.h. */
#include "agent/daemon/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define LOOP_BATCH 64

struct watch {
	struct loop *loop;
	int fd;
	bool dead;
	watch_fn fn;
	void *opaque;
	struct watch *next_dead;
};

struct loop {
	int epfd;
	bool quit;
	bool dispatching;
	struct watch *dead;
};

int loop_new(struct loop **ret)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = -errno;
		free(l);
		return e;
	}
	*ret = l;
	return 0;
}

static void release_dead(struct loop *l)
{
	while (l->dead) {
		struct watch *w = l->dead;
		l->dead = w->next_dead;
		free(w);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	release_dead(l);
	close(l->epfd);
	free(l);
}

int loop_add(struct loop *l, int fd, uint32_t events, watch_fn fn, void *opaque,
	     struct watch **ret)
{
	struct epoll_event ev = { .events = events };
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->loop = l;
	w->fd = fd;
	w->fn = fn;
	w->opaque = opaque;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = -errno;
		free(w);
		return e;
	}
	if (ret)
		*ret = w;
	return 0;
}

int loop_modify(struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

void loop_remove(struct watch *w)
{
	struct loop *l;

	if (!w || w->dead)
		return;
	l = w->loop;
	/* The fd may already be closed by its owner; EBADF/ENOENT are fine. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = true;
	w->next_dead = l->dead;
	l->dead = w;
	if (!l->dispatching)
		release_dead(l);
}

int loop_iterate(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int n;

	n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->dispatching = true;
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;
		if (!w->dead)
			w->fn(w, w->fd, evs[i].events, w->opaque);
	}
	l->dispatching = false;
	release_dead(l);
	return n;
}

int loop_run(struct loop *l)
{
	while (!l->quit) {
		int r = loop_iterate(l, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

void loop_quit(struct loop *l)
{
	l->quit = true;
}

bool loop_quitting(const struct loop *l)
{
	return l->quit;
}
