/*
 * Logging for vdpa-agentd and vdpa-migrate.
 *
 * Only the programs log; the libraries return errors.  Every line names the
 * port or connection it concerns (the caller puts it in the format).  Under
 * systemd (stderr connected to the journal) each line carries a "<N>"
 * priority prefix so journald files it at the right level; on a terminal the
 * level is spelled out instead.
 */
#ifndef VDPA_AGENT_LOG_H
#define VDPA_AGENT_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* Parses "err", "warning", "notice", "info" or "debug"; -EINVAL otherwise. */
int log_level_from_string(const char *s, enum log_level *ret_level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Forces (or disables) journal-style "<N>" prefixes; by default they are on
 * when $JOURNAL_STREAM names our stderr. */
void log_set_journal(bool on);
void log_init(void);

/*
 * The wall clock in microseconds (CLOCK_REALTIME), for debug lines meant to
 * be lined up with another process's: QEMU's trace with "-msg
 * timestamp=on" uses the same clock.  Printed as "SEC.USEC (wall clock)",
 * the form bench_downtime's TIMELINE parses: LOG_WALL_FMT in the format,
 * LOG_WALL_ARGS(us) in the arguments.
 */
unsigned long long log_wall_us(void);
#define LOG_WALL_FMT "%llu.%06llu (wall clock)"
#define LOG_WALL_ARGS(us) (us) / 1000000u, (us) % 1000000u

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Between log_hold() and log_release() the calling thread's lines of
 * notice level and below gather, and go in one write at the release (or
 * sooner, when LOG_HOLD_BYTES would overflow); a warning or an error goes
 * at once, after what was held, so the order stays.  For a thread whose
 * replies should not wait for its log: a write is a system call (under
 * systemd a send that wakes journald), and a switchover logs a line per
 * ring (the agent's port while it serves its front end, vdpa-simd's
 * control thread).  Other threads log as before.
 */
#define LOG_HOLD_BYTES 4096u	/* PIPE_BUF: one write to a pipe stays whole */
void log_hold(void);
void log_release(void);

#define log_err(...)     log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
