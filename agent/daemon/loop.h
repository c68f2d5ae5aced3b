/*
 * The daemon's control event loop: epoll over fds with one callback each.
 * Only the daemon owns a loop (libraries never do); data-path workers have
 * their own threads and do not use it.
 *
 * A watch may be removed from inside any callback, including one for
 * another fd of the same epoll batch: removal marks it dead and the memory
 * is released after the batch, so no callback runs on a freed watch.
 */
#ifndef VDPA_AGENT_LOOP_H
#define VDPA_AGENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct watch;

typedef void (*watch_fn)(struct watch *w, int fd, uint32_t events, void *opaque);

int loop_new(struct loop **ret);
void loop_free(struct loop *l);

/* Watches fd for events (EPOLLIN ...); the fd stays the caller's. */
int loop_add(struct loop *l, int fd, uint32_t events, watch_fn fn, void *opaque,
	     struct watch **ret);
int loop_modify(struct watch *w, uint32_t events);
/* Stops watching; takes NULL.  Does not close the fd. */
void loop_remove(struct watch *w);

/* Runs one epoll_wait (timeout in ms, -1 forever) and dispatches.  Returns
 * the number of events or a negative errno (EINTR is not an error: 0). */
int loop_iterate(struct loop *l, int timeout_ms);
/* Runs until loop_quit(). */
int loop_run(struct loop *l);
void loop_quit(struct loop *l);
bool loop_quitting(const struct loop *l);

#endif
