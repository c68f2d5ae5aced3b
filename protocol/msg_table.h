// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the three message tables share (vhost_user.c, vfio_user.c,
 * vhost_vfio.c, and the handler tables of their users): finding a
 * message's row, and the "WHO: why" line a refusal leaves in its error
 * struct.  The fd hand-off they share is sio_move_fds() (sock_io.h).
 *
 * Pure: no I/O, no logging.
 */
#ifndef VDPA_PROTOCOL_MSG_TABLE_H
#define VDPA_PROTOCOL_MSG_TABLE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_ROWS(table) (sizeof(table) / sizeof((table)[0]))

/*
 * The row for id in a table indexed by id (rows in designated
 * initializers, [ID] = { .name = ... }), or NULL when id is beyond the
 * table or its row was left out (no name).
 */
#define MSG_ROW(table, id)                                                     \
	((uint64_t)(id) < MSG_ROWS(table) && (table)[(id)].name ? &(table)[(id)] \
								: NULL)

/*
 * The row whose uint64_t field key equals id, in a table of ids too sparse
 * to index by (the vhost-vfio ioctl numbers), or NULL.
 */
const void *msg_find(const void *rows, size_t nrows, size_t row_size,
		     size_t key_off, uint64_t id);
#define MSG_FIND(table, key, id)                                               \
	((const __typeof__((table)[0]) *)msg_find(                              \
		(table), MSG_ROWS(table), sizeof((table)[0]),                   \
		offsetof(__typeof__((table)[0]), key), (id)))

/*
 * Why a parser refused a message, for all three tables: the id of the
 * message (its vhost-user request, vfio-user command or vhost-vfio ioctl
 * number; 0 when the header was too short to say) and one line such as
 * "SET_MEM_TABLE: region 2: guest_phys_addr + memory_size overflows".
 */
#define MSG_REASON_MAX 160
struct msg_err {
	uint64_t id;
	char reason[MSG_REASON_MAX];
};

/*
 * Records id and "who: " + fmt's text in *err (when err is not NULL) and
 * returns rc: the parsers' one way to refuse.
 */
int msg_fail(struct msg_err *err, uint64_t id, const char *who, int rc, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Writes "who: " and then fmt's text into reason (cap bytes, cut short if
 * it does not fit, always terminated).  The parsers' fail() helpers call it
 * after recording which message failed.
 */
void msg_vreason(char *reason, size_t cap, const char *who, const char *fmt,
		 va_list ap) __attribute__((format(printf, 4, 0)));

#endif
