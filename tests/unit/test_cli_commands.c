// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for vdpa-migrate's command line (agent/cli/commands.c): the
 * command table, its getopt_long parser and the usage texts, run as the
 * program runs them.  Each case calls vdpa_migrate_main() in a child
 * process (getopt and the signal handlers are process state) with stdout
 * and stderr in memfds, and checks the exit status and both outputs.
 * The agent, where one is wanted, is a unix socket this process listens on:
 * a case that must not contact it checks that nobody connected; a case
 * that must, answers one request with a golden reply (tests/golden, or
 * $GOLDEN_DIR) and compares the output with the golden rendering.
 * UPDATE_GOLDEN=1 rewrites the usage golden files.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent/cli/commands.h"
#include "agent/common/util.h"
#include "agent/common/version.h"
#include "tests/helpers/testhelp.h"

struct run {
	int status;
	char *out, *err;	/* NUL-terminated */
};

struct fixture {
	char dir[64];
	char sock[96];
	char agent[160];	/* "unix:" sock */
	int lfd;		/* listening, non-blocking */
};

static const char *golden_dir(void)
{
	const char *d = getenv("GOLDEN_DIR");

	return d && d[0] ? d : "tests/golden";
}

static char *slurp_fd(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf;

	assert_true(len >= 0);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
	return buf;
}

static char *slurp_golden(const char *name)
{
	char path[512];
	int fd;
	char *s;

	snprintf(path, sizeof(path), "%s/%s", golden_dir(), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open %s: %s (run from the source root or set GOLDEN_DIR)", path,
			 strerror(errno));
	s = slurp_fd(fd);
	close(fd);
	return s;
}

static void assert_golden(const char *got, const char *name)
{
	char *want;

	if (getenv("UPDATE_GOLDEN")) {
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", golden_dir(), name);
		f = fopen(path, "we");
		assert_non_null(f);
		fputs(got, f);
		assert_int_equal(fclose(f), 0);
	}
	want = slurp_golden(name);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "--- want (%s)\n%s--- got\n%s---\n", name, want, got);
		fail_msg("output differs from %s", name);
	}
	free(want);
}

/* Starts vdpa-migrate ARGS... (NULL-terminated) in a child; returns its pid. */
static pid_t start(int out, int err, const char *const *args)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[32];
		int n = 0, status;

		argv[n++] = (char *)"vdpa-migrate";
		for (; *args && n < 31; args++)
			argv[n++] = (char *)(uintptr_t)*args;
		argv[n] = NULL;
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
		    dup2(err, STDERR_FILENO) < 0)
			_exit(99);
		unsetenv("VDPA_AGENT");
		unsetenv("POSIXLY_CORRECT");
		status = vdpa_migrate_main(n, argv);
		fflush(stdout);
		fflush(stderr);
		_exit(status);
	}
	return pid;
}

static struct run finish(pid_t pid, int out, int err)
{
	struct run r;
	int ws;

	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws));
	r.status = WEXITSTATUS(ws);
	r.out = slurp_fd(out);
	r.err = slurp_fd(err);
	close(out);
	close(err);
	return r;
}

/* vdpa-migrate ARGS..., no agent answering. */
static struct run run_cli(const char *first, ...)
{
	const char *args[32];
	va_list ap;
	int n = 0, out = th_memfd("out", 0), err = th_memfd("err", 0);

	assert_true(out >= 0 && err >= 0);
	va_start(ap, first);
	for (const char *a = first; a && n < 31; a = va_arg(ap, const char *))
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	return finish(start(out, err, args), out, err);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_cli_commands.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/control.sock", f->dir);
	snprintf(f->agent, sizeof(f->agent), "unix:%s", f->sock);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->lfd);
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Nobody connected to the fake agent. */
static void assert_not_contacted(struct fixture *f)
{
	int c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (c >= 0) {
		close(c);
		fail_msg("the agent was contacted");
	}
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

/*
 * Answers one request on the fake agent with the golden reply json_name
 * (sent as one line) and returns the request line.
 */
static char *serve_one(struct fixture *f, const char *json_name)
{
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	struct json_object *reply;
	char path[512], req[4096];
	const char *line;
	size_t len = 0;
	int c;

	assert_int_equal(poll(&p, 1, 10000), 1);
	c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(c >= 0);
	while (len == 0 || req[len - 1] != '\n') {
		ssize_t n;

		assert_true(len < sizeof(req) - 1);
		n = read(c, req + len, sizeof(req) - 1 - len);
		assert_true(n > 0);
		len += (size_t)n;
	}
	req[len] = '\0';
	snprintf(path, sizeof(path), "%s/%s", golden_dir(), json_name);
	reply = json_object_from_file(path);
	if (!reply)
		fail_msg("cannot read %s", path);
	line = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	assert_int_equal(write(c, line, strlen(line)), (ssize_t)strlen(line));
	assert_int_equal(write(c, "\n", 1), 1);
	json_object_put(reply);
	close(c);
	return strdup(req);
}

/* vdpa-migrate ARGS... against the fake agent answering with json_name. */
static struct run run_with_agent(struct fixture *f, const char *json_name, char **ret_req,
				 const char *const *args)
{
	int out = th_memfd("out", 0), err = th_memfd("err", 0);
	pid_t pid;

	assert_true(out >= 0 && err >= 0);
	pid = start(out, err, args);
	*ret_req = serve_one(f, json_name);
	return finish(pid, out, err);
}

/* ---- --help answers at every level, on stdout, without contacting -------- */

/* "migrate --help" said "unknown argument: --help" (exit 2). */
static void migrate_help(void **state)
{
	struct run r = run_cli("migrate", "--help", NULL);

	(void)state;
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_non_null(strstr(r.out, "Usage: vdpa-migrate [--agent AGENT] [-j] migrate --qmp"));
	assert_non_null(strstr(r.out, "--dest-qmp DST_SOCK"));
	assert_non_null(strstr(r.out, "--socket-dir DIR"));
	run_free(&r);
}

/* "dirtylog analyze --help" tried to open a file named --help (exit 66). */
static void dirtylog_analyze_help(void **state)
{
	struct run r = run_cli("dirtylog", "analyze", "--help", NULL);

	(void)state;
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_golden(r.out, "help-dirtylog-analyze.txt");
	run_free(&r);
}

/* "port show --help" sent port-show for a port named --help. */
static void port_show_help_contacts_nothing(void **state)
{
	struct fixture *f = *state;
	struct run r = run_cli("--agent", f->agent, "port", "show", "--help", NULL);

	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_golden(r.out, "help-port-show.txt");
	assert_not_contacted(f);
	run_free(&r);

	/* After the argument, and -h, the same. */
	r = run_cli("port", "show", "p0", "-h", "--agent", f->agent, NULL);
	assert_int_equal(r.status, 0);
	assert_golden(r.out, "help-port-show.txt");
	assert_not_contacted(f);
	run_free(&r);
}

/* Every command of the table answers --help with its own usage. */
static void every_command_has_help(void **state)
{
	static const char *const cmds[][2] = {
		{ "ports", NULL }, { "port", "show" }, { "port", "add" }, { "port", "del" },
		{ "dirtylog", "record" }, { "dirtylog", "analyze" }, { "switch", NULL },
		{ "precheck", NULL }, { "migrate", NULL }, { "libvirt-hook", NULL },
		{ "proxy", NULL }, { "version", NULL }, { "help", NULL },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		char want[128];
		struct run r = cmds[i][1] ? run_cli("--agent", f->agent, cmds[i][0], cmds[i][1],
						    "--help", NULL)
					  : run_cli("--agent", f->agent, cmds[i][0], "--help", NULL);

		snprintf(want, sizeof(want), "Usage: vdpa-migrate [--agent AGENT] [-j] %s%s%s",
			 cmds[i][0], cmds[i][1] ? " " : "", cmds[i][1] ? cmds[i][1] : "");
		if (r.status != 0 || strncmp(r.out, want, strlen(want)) != 0 || r.err[0])
			fail_msg("%s %s --help: exit %d, stdout '%.80s', stderr '%s'", cmds[i][0],
				 cmds[i][1] ? cmds[i][1] : "", r.status, r.out, r.err);
		run_free(&r);
	}
	assert_not_contacted(f);
}

/* The program's usage lists the table; a group's lists its commands. */
static void usage_from_table(void **state)
{
	struct run r = run_cli("--help", NULL);

	(void)state;
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\n  port show NAME "));
	assert_non_null(strstr(r.out, "\n  dirtylog record NAME --seconds S"));
	assert_non_null(strstr(r.out, "\n  libvirt-hook DOMAIN"));
	assert_non_null(strstr(r.out, "-V, --version"));
	run_free(&r);

	r = run_cli("port", "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\n  port del NAME "));
	assert_null(strstr(r.out, "dirtylog"));
	run_free(&r);

	r = run_cli("help", "dirtylog", "analyze", NULL);
	assert_int_equal(r.status, 0);
	assert_golden(r.out, "help-dirtylog-analyze.txt");
	run_free(&r);
}

/* ---- global options in any position --------------------------------------- */

/* "port show p -j" was refused: -j only worked before the command. */
static void json_after_the_argument(void **state)
{
	struct fixture *f = *state;
	const char *const args[] = { "port", "show", "vm1-net0", "-j", "--agent", f->agent,
				     "--pretty", NULL };
	char *req;
	struct run r = run_with_agent(f, "port-show.json", &req, args);

	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_golden(r.out, "port-show.j.txt");
	assert_non_null(strstr(req, "\"port-show\""));
	assert_non_null(strstr(req, "\"vm1-net0\""));
	free(req);
	run_free(&r);
}

/* Between the group and its command, with --agent=, --json. */
static void globals_anywhere(void **state)
{
	struct fixture *f = *state;
	char opt[200];
	char *req;
	const char *const args[] = { "--pretty", "port", "--json", "show", opt, "vm1-net0", NULL };
	struct run r;

	snprintf(opt, sizeof(opt), "--agent=%s", f->agent);
	r = run_with_agent(f, "port-show.json", &req, args);
	assert_int_equal(r.status, 0);
	assert_golden(r.out, "port-show.j.txt");
	free(req);
	run_free(&r);
}

/* switch's --to is an option: before its NAME too. */
static void switch_to_is_an_option(void **state)
{
	struct fixture *f = *state;
	const char *const args[] = { "--agent", f->agent, "switch", "--to", "accel", "p0", NULL };
	char *req;
	struct run r = run_with_agent(f, "switch.json", &req, args);

	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "now on the accelerator; rings stopped for 42 us\n");
	assert_non_null(strstr(req, "\"accel\""));
	assert_non_null(strstr(req, "\"p0\""));
	free(req);
	run_free(&r);
}

/* ---- errors: one line and where to look ------------------------------------ */

static void unknown_option_one_line(void **state)
{
	struct fixture *f = *state;
	struct run r = run_cli("--agent", f->agent, "port", "show", "--bogus", "p0", NULL);

	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "vdpa-migrate: port show: unknown option '--bogus'\n"
				   "Try 'vdpa-migrate port show --help'.\n");
	run_free(&r);

	r = run_cli("--bogus", "ports", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "vdpa-migrate: unknown option '--bogus'\n"
				   "Try 'vdpa-migrate --help'.\n");
	run_free(&r);

	r = run_cli("dirtylog", "analyze", "t.trace", "--plot", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "vdpa-migrate: dirtylog analyze: option '--plot' needs a value\n"
				   "Try 'vdpa-migrate dirtylog analyze --help'.\n");
	run_free(&r);

	r = run_cli("migrate", "--qmp", "a", "--dest-qmp", "b", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "vdpa-migrate: migrate: --qmp, --dest-qmp and --to-uri are "
				   "required\nTry 'vdpa-migrate migrate --help'.\n");
	run_free(&r);
	assert_not_contacted(f);
}

static void wrong_arguments_one_line(void **state)
{
	struct run r = run_cli("port", "show", NULL);

	(void)state;
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "vdpa-migrate: port show: expected NAME\n"
				   "Try 'vdpa-migrate port show --help'.\n");
	run_free(&r);

	r = run_cli(NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "vdpa-migrate: no command\nTry 'vdpa-migrate --help'.\n");
	run_free(&r);

	r = run_cli("port", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "vdpa-migrate: port: missing subcommand\n"
				   "Try 'vdpa-migrate port --help'.\n");
	run_free(&r);
}

/* Exact names only: commands and long options alike. */
static void exact_names(void **state)
{
	struct run r = run_cli("vers", NULL);

	(void)state;
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "vdpa-migrate: unknown command 'vers'\n"
				   "Try 'vdpa-migrate --help'.\n");
	run_free(&r);

	/* getopt_long() alone would take --dest for --dest-qmp. */
	r = run_cli("migrate", "--dest", "x", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "vdpa-migrate: migrate: unknown option '--dest' (did you mean "
				   "'--dest-qmp'?)\nTry 'vdpa-migrate migrate --help'.\n");
	run_free(&r);

	r = run_cli("--vers", NULL);
	assert_int_equal(r.status, 2);
	run_free(&r);
}

/* ---- -V / --version ------------------------------------------------------- */

static void version_options(void **state)
{
	static const char *const spellings[][3] = {
		{ "-V", NULL, NULL }, { "--version", NULL, NULL }, { "version", NULL, NULL },
		{ "ports", "-V", NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(spellings); i++) {
		struct run r = run_cli(spellings[i][0], spellings[i][1], NULL);

		assert_int_equal(r.status, 0);
		assert_string_equal(r.out, "vdpa-migrate " VDPA_MIGRATE_VERSION "\n");
		assert_string_equal(r.err, "");
		run_free(&r);
	}
}

/* -j is a contract (vdpa-migrate-json(7)): one line, "version" first. */
static void json_compact_with_version(void **state)
{
	struct fixture *f = *state;
	const char *const args[] = { "-j", "port", "show", "vm1-net0", "--agent", f->agent, NULL };
	char *req;
	struct run r = run_with_agent(f, "port-show.json", &req, args);

	assert_int_equal(r.status, 0);
	assert_true(strncmp(r.out, "{\"version\":1,\"port\":{", 21) == 0);
	assert_ptr_equal(strchr(r.out, '\n'), r.out + strlen(r.out) - 1);
	/* Names beside the hex word, as the text output names them. */
	assert_non_null(strstr(r.out, "\"features\":\"0x144018029\",\"feature_names\":[\"bit0\","
				     "\"MTU\",\"MAC\",\"MRG_RXBUF\",\"STATUS\",\"LOG_ALL\","
				     "\"PROTOCOL_FEATURES\",\"VERSION_1\"]"));
	free(req);
	run_free(&r);
}

/* With -j every failure is an object on stdout, also one that never reached an agent. */
static void json_failures_on_stdout(void **state)
{
	struct run r = run_cli("ports", "-j", "--agent", "unix:/nonexistent/control.sock", NULL);

	(void)state;
	assert_int_equal(r.status, 69);
	assert_string_equal(r.out, "{\"version\":1,\"error\":\"cannot reach the agent at "
			    "unix:/nonexistent/control.sock: No such file or directory\","
			    "\"exit_status\":69}\n");
	assert_non_null(strstr(r.err, "cannot reach the agent"));
	run_free(&r);

	r = run_cli("-j", "port", "show", NULL);	/* a usage error */
	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "{\"version\":1,\"error\":\"port show: expected NAME\","
			    "\"exit_status\":2}\n");
	run_free(&r);

	r = run_cli("version", "-j", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "{\"version\":1,\"program_version\":\"" VDPA_MIGRATE_VERSION
			    "\"}\n");
	run_free(&r);
}

/* libvirt gives the hook's arguments: "-j" is a domain name there. */
static void libvirt_hook_arguments_as_given(void **state)
{
	struct run r = run_cli("libvirt-hook", "-j", "stopped", "end", "-", NULL);

	(void)state;
	/* An operation the hook ignores: exit 0, nothing printed. */
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "");
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(migrate_help),
		cmocka_unit_test(dirtylog_analyze_help),
		cmocka_unit_test_setup_teardown(port_show_help_contacts_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(every_command_has_help, setup, teardown),
		cmocka_unit_test(usage_from_table),
		cmocka_unit_test_setup_teardown(json_after_the_argument, setup, teardown),
		cmocka_unit_test_setup_teardown(globals_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(switch_to_is_an_option, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_option_one_line, setup, teardown),
		cmocka_unit_test(wrong_arguments_one_line),
		cmocka_unit_test(exact_names),
		cmocka_unit_test(version_options),
		cmocka_unit_test_setup_teardown(json_compact_with_version, setup, teardown),
		cmocka_unit_test(json_failures_on_stdout),
		cmocka_unit_test(libvirt_hook_arguments_as_given),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
