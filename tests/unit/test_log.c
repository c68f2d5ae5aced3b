// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit test for agent/common/log.c's held lines (log_hold()): between the
 * hold and the release a thread's notice, info and debug lines wait and
 * go in one write, a warning or error goes at once after them, in order,
 * and a hold never holds more than LOG_HOLD_BYTES.  stderr is a pipe here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/common/log.h"

static int rd = -1, saved = -1;
static FILE *orig_stderr;

static int setup(void **state)
{
	int p[2];

	(void)state;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	rd = p[0];
	/* cmocka's own messages (a failure's) still reach the real stderr. */
	orig_stderr = stderr;
	stderr = fdopen(dup(saved), "w");
	if (!stderr)
		return -1;
	setvbuf(stderr, NULL, _IONBF, 0);
	log_set_journal(false);
	log_set_level(LOG_LVL_DEBUG);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fclose(stderr);
	stderr = orig_stderr;
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(rd);
	return 0;
}

/* What the pipe holds now ("" when nothing). */
static const char *drained(void)
{
	static char buf[16384];
	ssize_t n = read(rd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void held_until_release_or_warning(void **state)
{
	(void)state;
	log_info("not held");
	assert_string_equal(drained(), "not held\n");

	log_hold();
	log_info("one");
	log_notice("two");
	log_debug("three");
	assert_string_equal(drained(), "");
	log_warning("four");
	assert_string_equal(drained(), "one\ntwo\nthree\nwarning: four\n");
	log_info("five");
	assert_string_equal(drained(), "");
	log_release();
	assert_string_equal(drained(), "five\n");
	log_info("six");
	assert_string_equal(drained(), "six\n");
}

/* A hold that would pass LOG_HOLD_BYTES writes what it held first, whole lines. */
static void never_more_than_a_pipe_write(void **state)
{
	char line[1001], want[8192];
	size_t k = 0;
	unsigned per = LOG_HOLD_BYTES / sizeof(line);

	(void)state;
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	log_hold();
	for (unsigned i = 0; i < per; i++) {
		log_info("%s", line);
		k += (size_t)snprintf(want + k, sizeof(want) - k, "%s\n", line);
	}
	assert_string_equal(drained(), "");
	log_info("%s", line);	/* does not fit after them */
	assert_string_equal(drained(), want);
	log_release();
	assert_int_equal(strlen(drained()), sizeof(line));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(held_until_release_or_warning),
		cmocka_unit_test(never_more_than_a_pipe_write),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
