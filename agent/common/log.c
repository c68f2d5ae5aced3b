/*
 * Logging to stderr with journal priority prefixes under systemd.  One
 * write(2) per line, or per group of whole lines (log_hold()), so lines
 * from the control and data-path threads never interleave mid-line.
 */
#include "agent/common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level max_level = LOG_LVL_INFO;
static bool journal;
/* log_hold(): this thread's lines held back, whole lines only. */
static __thread bool holding;
static __thread size_t held_len;
static __thread char held[LOG_HOLD_BYTES];

static const char *const level_names[] = {
	[LOG_LVL_ERR] = "err",
	[LOG_LVL_WARNING] = "warning",
	[LOG_LVL_NOTICE] = "notice",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

int log_level_from_string(const char *s, enum log_level *ret_level)
{
	for (int l = LOG_LVL_ERR; l <= LOG_LVL_DEBUG; l++) {
		if (strcmp(s, level_names[l]) == 0) {
			*ret_level = (enum log_level)l;
			return 0;
		}
	}
	if (strcmp(s, "error") == 0) {
		*ret_level = LOG_LVL_ERR;
		return 0;
	}
	return -EINVAL;
}

void log_set_level(enum log_level level)
{
	max_level = level;
}

enum log_level log_get_level(void)
{
	return max_level;
}

unsigned long long log_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u;
}

void log_set_journal(bool on)
{
	journal = on;
}

/* systemd sets JOURNAL_STREAM=dev:inode for the stream it connected to
 * stderr; prefixes are only right when stderr still is that stream. */
void log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	journal = false;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return;
	if (fstat(STDERR_FILENO, &st) < 0)
		return;
	journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Best effort: there is nowhere to report a failing stderr. */
static void put(const char *p, size_t n)
{
	if (n && write(STDERR_FILENO, p, n) < 0)
		(void)0;
}

static void put_held(void)
{
	put(held, held_len);
	held_len = 0;
}

void log_hold(void)
{
	holding = true;
}

void log_release(void)
{
	put_held();
	holding = false;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	int saved_errno = errno;
	size_t n;
	int k;
	va_list ap;

	if (level > max_level)
		return;
	if (journal)
		k = snprintf(line, sizeof(line), "<%d>", (int)level);
	else
		k = level == LOG_LVL_ERR       ? snprintf(line, sizeof(line), "error: ")
		    : level == LOG_LVL_WARNING ? snprintf(line, sizeof(line), "warning: ")
					       : 0;
	n = k > 0 ? (size_t)k : 0;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (holding && level > LOG_LVL_WARNING) {
		if (held_len + n > sizeof(held))
			put_held();
		memcpy(held + held_len, line, n);	/* a line is at most 1024 bytes */
		held_len += n;
	} else {
		put_held();
		put(line, n);
	}
	errno = saved_errno;
}
