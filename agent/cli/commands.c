// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa-migrate: the command line of vdpa-agentd's control socket.
 *
 *   vdpa-migrate [--agent AGENT] [-j] COMMAND [ARGS] [OPTIONS]
 *
 * Commands are a table (name, arguments, options, function, one-line help)
 * that drives dispatch, the argument count check, the option parser and
 * every usage text; "port" and "dirtylog" have tables of their own.  Only
 * exact names match, commands and options alike.  The socket work is in
 * agent/cli/ctl_client.c, the output in agent/cli/render.c; this file maps
 * their results to exit statuses (see vdpa-migrate(8)):
 *   0 ok, 1 the agent refused, 2 usage, 65 a bad trace file, 66 cannot
 *   read an input file, 69 agent unreachable, 71 out of memory, 74 cannot
 *   write the output, 76 bad reply, 128 + N stopped by signal N.
 *
 * One parser, getopt_long(), runs once per level of the command line: the
 * program's own options up to the command word ("+": it stops there), a
 * group's ("port", "dirtylog") up to the subcommand, then the command's
 * options, which are its table's plus the global ones (-j, --agent, -h,
 * -V), in any order among its arguments (getopt permutes them).  So a
 * global option works before the command and after it, and every command
 * answers --help with its own usage before it checks its arguments or
 * contacts anything.  getopt_long() would take an unambiguous prefix of a
 * long option; parse() refuses that, so that a name means one option for
 * good.  libvirt-hook is the exception: libvirt gives its four arguments,
 * which are taken as they are (a domain may be named "-j").
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/cli/cli_migrate.h"
#include "agent/cli/commands.h"
#include "agent/cli/ctl_client.h"
#include "agent/cli/dlanalyze.h"
#include "agent/cli/dlrecord.h"
#include "agent/cli/precheck.h"
#include "agent/common/config.h"
#include "agent/cli/render.h"
#include "dirtylog/trace.h"
#include "agent/common/version.h"
#include "agent/common/util.h"
#include "protocol/control.h"

#define EXIT_USAGE 2
#define EXIT_DATAERR 65	/* EX_DATAERR: a corrupt or truncated trace */
#define EXIT_NOINPUT 66	/* EX_NOINPUT */
#define EXIT_OSERR 71	/* EX_OSERR: out of memory */
#define EXIT_IOERR 74	/* EX_IOERR */


struct cli {
	const char *agent;	/* "unix:PATH" or whatever the user wrote */
	bool json;
	bool help;		/* -h/--help: print the usage of what came before */
	bool version;		/* -V/--version */
};

typedef int (*render_fn)(struct json_object *reply, FILE *f, struct ctl_error *err);

/* An option: --NAME, or --NAME VALUE / --NAME=VALUE when arg is set. */
struct cmd_option {
	const char *name;	/* without "--" */
	int letter;		/* its short form, or 0 (global options only) */
	const char *arg;	/* the value's name, for usage; NULL: takes none */
	const char *help;
};

/* What parse() found for a command: its arguments and options in order. */
struct cmd_args {
	char **pos;		/* positional arguments, NULL-terminated */
	int npos;
	struct {
		const struct cmd_option *opt;
		const char *value;	/* NULL for an option without one */
	} *given;
	int ngiven;
	char **posbuf;		/* room for pos: one more than arguments */
};

struct command {
	const char *name;
	const char *args;	/* synopsis of the arguments and options; NULL: none */
	int min_args, max_args;	/* positional arguments allowed */
	const struct cmd_option *opts;	/* the command's own options */
	size_t nopts;
	bool raw;		/* arguments as given, no options (libvirt-hook) */
	int (*fn)(const struct cli *cli, const struct cmd_args *a);
	const char *help;
	const struct command *sub;	/* a command with subcommands has no fn */
	size_t nsub;
};

static int cmd_ports(const struct cli *cli, const struct cmd_args *a);
static int cmd_port_show(const struct cli *cli, const struct cmd_args *a);
static int cmd_port_add(const struct cli *cli, const struct cmd_args *a);
static int cmd_port_del(const struct cli *cli, const struct cmd_args *a);
static int cmd_version(const struct cli *cli, const struct cmd_args *a);
static int cmd_help(const struct cli *cli, const struct cmd_args *a);
static int cmd_dirtylog_record(const struct cli *cli, const struct cmd_args *a);
static int cmd_switch(const struct cli *cli, const struct cmd_args *a);
static int cmd_dirtylog_analyze(const struct cli *cli, const struct cmd_args *a);
static int cmd_migrate(const struct cli *cli, const struct cmd_args *a);
static int cmd_libvirt_hook(const struct cli *cli, const struct cmd_args *a);
static int cmd_precheck(const struct cli *cli, const struct cmd_args *a);
static int cmd_proxy(const struct cli *cli, const struct cmd_args *a);

/* Accepted by every command, before or after its arguments. */
static const struct cmd_option global_opts[] = {
	{ "agent", 0, "AGENT", "unix:PATH (the agent's control socket) or\n"
	  "ssh://[USER@]HOST[/PATH] (the same through ssh; PATH\n"
	  "defaults to " CTL_SSH_DEFAULT_PATH ")\n"
	  "default: $" CTL_AGENT_ENV ", else " CTL_DEFAULT_AGENT },
	{ "json", 'j', NULL, "print JSON: the agent's reply, or the result, on one line;\n"
	  "a failure too (vdpa-migrate-json(7))" },
	{ "pretty", 0, NULL, "with -j: indent the JSON over several lines" },
	{ "help", 'h', NULL, "print the usage and exit" },
	{ "version", 'V', NULL, "print the version and exit" },
};

static const struct cmd_option record_opts[] = {
	{ "seconds", 0, "S", "how long to record, 0.001 to 604800 (required)" },
	{ "out", 0, "FILE", "the trace file to write (required)" },
	{ "interval", 0, "MS", "milliseconds between snapshots (default 100)" },
};

static const struct cmd_option analyze_opts[] = {
	{ "bandwidth", 0, "RATE", "the link in bits/s, such as 10G, 2.5G, 500M (default 10G)" },
	{ "downtime-limit", 0, "MS", "the downtime limit in milliseconds (default 300)" },
	{ "plot", 0, "SVG", "also draw the dirty rate and working sets into SVG" },
};

static const struct cmd_option switch_opts[] = {
	{ "to", 0, "sw|accel", "the path to move to (required)" },
};

static const struct cmd_option precheck_opts[] = {
	{ "from", 0, "AGENT", "the source agent (required)" },
	{ "port", 0, "NAME", "the port on the source agent (required)" },
	{ "to", 0, "AGENT", "the destination agent (required)" },
	{ "to-backend", 0, "sw|accel", "the destination backend (default: the source's)" },
};

/*
 * Both modes' options: the parser only checks the names; cli_migrate()
 * (QMP mode with --qmp, else libvirt mode) checks what goes with what.
 */
static const struct cmd_option migrate_opts[] = {
	{ "qmp", 0, "SRC_SOCK", "QMP mode: the source QEMU's QMP socket" },
	{ "dest-qmp", 0, "DST_SOCK", "QMP mode: the destination QEMU's QMP socket" },
	{ "to-uri", 0, "URI", "QMP mode: where the source sends the migration stream" },
	{ "downtime-limit", 0, "MS", "QMP mode: QEMU's downtime limit, 1 to 2000000" },
	{ "port", 0, "NAME", "QMP mode: the VM's port; with --from and --to" },
	{ "from", 0, "AGENT", "QMP mode: the source agent" },
	{ "to", 0, "AGENT|URI", "QMP mode: the destination agent;\n"
	  "libvirt mode: the destination libvirt, qemu+ssh://HOST/system" },
	{ "to-backend", 0, "sw|accel", "the destination backend" },
	{ "connect", 0, "URI", "libvirt mode: the source libvirt (default qemu:///system)" },
	{ "socket-dir", 0, "DIR", "libvirt mode: the agents' socket directory\n"
	  "(default /run/vdpa-agent)" },
	{ "dry-run", 0, NULL, "libvirt mode: print the destination XML, migrate nothing" },
};

#define OPTS(o) o, ARRAY_SIZE(o)

static const struct cmd_option add_opts[] = {
	{ "may-exist", 0, NULL, "a port of that name exists already: succeed, change nothing" },
};

static const struct cmd_option del_opts[] = {
	{ "if-exists", 0, NULL, "no port of that name: succeed" },
};

static const struct command port_commands[] = {
	{ "show", "NAME", 1, 1, NULL, 0, false, cmd_port_show,
	  "show a port: features, dirty logging, rings", NULL, 0 },
	{ "add", "SPEC [--may-exist]", 1, 1, OPTS(add_opts), false, cmd_port_add,
	  "add a port (SPEC as in vdpa-agentd(8))", NULL, 0 },
	{ "del", "NAME [--if-exists]", 1, 1, OPTS(del_opts), false, cmd_port_del,
	  "delete a port", NULL, 0 },
};

static const struct command dirtylog_commands[] = {
	{ "record", "NAME --seconds S --out FILE [--interval MS]", 1, 1, OPTS(record_opts), false,
	  cmd_dirtylog_record, "record the pages a port's data path writes into a trace file",
	  NULL, 0 },
	{ "analyze", "FILE [--bandwidth RATE] [--downtime-limit MS] [--plot SVG]", 1, 1,
	  OPTS(analyze_opts), false, cmd_dirtylog_analyze,
	  "dirty rate, working set and a pre-copy estimate of a trace", NULL, 0 },
};

static const struct command commands[] = {
	{ "ports", NULL, 0, 0, NULL, 0, false, cmd_ports, "list the agent's ports", NULL, 0 },
	{ "port", NULL, 0, 0, NULL, 0, false, NULL, "show, add and delete ports",
	  port_commands, ARRAY_SIZE(port_commands) },
	{ "dirtylog", NULL, 0, 0, NULL, 0, false, NULL, "record and analyze dirty pages",
	  dirtylog_commands, ARRAY_SIZE(dirtylog_commands) },
	{ "switch", "NAME --to sw|accel", 1, 1, OPTS(switch_opts), false, cmd_switch,
	  "move a live port between software and its accelerator", NULL, 0 },
	{ "precheck", "--from AGENT --port NAME --to AGENT [--to-backend sw|accel]", 0, 0,
	  OPTS(precheck_opts), false, cmd_precheck, "check before copying anything that a "
	  "port's guest can run on the destination", NULL, 0 },
	{ "migrate", "--qmp SRC --dest-qmp DST --to-uri URI [...] | DOMAIN --to URI [...]", 0, 1,
	  OPTS(migrate_opts), false, cmd_migrate,
	  "live-migrate a VM (QMP or libvirt mode) and check its ports", NULL, 0 },
	{ "libvirt-hook", "DOMAIN OPERATION SUBOPERATION EXTRA", 4, 4, NULL, 0, true,
	  cmd_libvirt_hook, "what the libvirt qemu hook runs (domain XML on stdin)", NULL, 0 },
	{ "proxy", NULL, 0, 0, NULL, 0, false, cmd_proxy,
	  "join stdin and stdout to the agent's socket (what ssh:// agents run)", NULL, 0 },
	{ "version", NULL, 0, 0, NULL, 0, false, cmd_version, "print the version of vdpa-migrate",
	  NULL, 0 },
	{ "help", "[COMMAND [SUBCOMMAND]]", 0, 2, NULL, 0, false, cmd_help,
	  "print this help, or a command's", NULL, 0 },
};

/* ---- usage ------------------------------------------------------------- */

/* "port show", "ports": a command's full name, for messages. */
static void full_name(char *buf, size_t cap, const struct command *parent,
		      const struct command *c)
{
	snprintf(buf, cap, "%s%s%s", parent ? parent->name : "", parent ? " " : "",
		 c ? c->name : "");
}

static void usage_line(FILE *f, const struct command *parent, const struct command *c)
{
	char label[128], name[64];

	full_name(name, sizeof(name), parent, c);
	snprintf(label, sizeof(label), "%s%s%s", name, c->args ? " " : "", c->args ? c->args : "");
	/* A long synopsis takes its own line, the help goes under it. */
	if (strlen(label) > 18)
		fprintf(f, "  %s\n  %-18s %s\n", label, "", c->help);
	else
		fprintf(f, "  %-18s %s\n", label, c->help);
}

/* One option per entry; a help of several lines is indented under it. */
static void option_lines(FILE *f, const struct cmd_option *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char label[64];
		const char *h = o[i].help;

		if (o[i].letter)
			snprintf(label, sizeof(label), "-%c, --%s%s%s", o[i].letter, o[i].name,
				 o[i].arg ? " " : "", o[i].arg ? o[i].arg : "");
		else
			snprintf(label, sizeof(label), "--%s%s%s", o[i].name, o[i].arg ? " " : "",
				 o[i].arg ? o[i].arg : "");
		if (strlen(label) > 18)
			fprintf(f, "  %s\n  %-18s ", label, "");
		else
			fprintf(f, "  %-18s ", label);
		for (const char *nl; (nl = strchr(h, '\n')); h = nl + 1)
			fprintf(f, "%.*s\n  %-18s ", (int)(nl - h), h, "");
		fprintf(f, "%s\n", h);
	}
}

static void usage(FILE *f)
{
	fputs("Usage: vdpa-migrate [--agent AGENT] [-j] COMMAND [ARGS]\n\nCommands:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];

		if (!c->sub) {
			usage_line(f, NULL, c);
			continue;
		}
		for (size_t j = 0; j < c->nsub; j++)
			usage_line(f, c, &c->sub[j]);
	}
	fputs("\nOptions (before or after the command):\n", f);
	option_lines(f, global_opts, ARRAY_SIZE(global_opts));
	fputs("\n'vdpa-migrate COMMAND --help' prints a command's usage.  See vdpa-migrate(8).\n", f);
}

/* The usage of a command, or of a group (parent NULL, c->sub set). */
static void command_usage(FILE *f, const struct command *parent, const struct command *c)
{
	char name[64];

	full_name(name, sizeof(name), parent, c);
	if (c->sub) {
		fprintf(f, "Usage: vdpa-migrate [--agent AGENT] [-j] %s COMMAND [ARGS]\n\n"
			   "%c%s.\n\nCommands:\n", name, toupper((unsigned char)c->help[0]),
			c->help + 1);
		for (size_t j = 0; j < c->nsub; j++)
			usage_line(f, c, &c->sub[j]);
	} else {
		fprintf(f, "Usage: vdpa-migrate [--agent AGENT] [-j] %s%s%s\n\n%c%s.\n", name,
			c->args ? " " : "", c->args ? c->args : "",
			toupper((unsigned char)c->help[0]), c->help + 1);
		if (c->nopts) {
			fputs("\nOptions:\n", f);
			option_lines(f, c->opts, c->nopts);
		}
	}
	if (!c->raw) {
		fputs("\nGlobal options (before or after the command):\n", f);
		option_lines(f, global_opts, ARRAY_SIZE(global_opts));
	}
	fputs("\nSee vdpa-migrate(8).\n", f);
}

/* A usage error: one line (already printed) and where to read more. */
static int try_help(const struct command *parent, const struct command *c)
{
	char name[64];

	full_name(name, sizeof(name), parent, c);
	fprintf(stderr, "Try 'vdpa-migrate %s%s--help'.\n", name, name[0] ? " " : "");
	return EXIT_USAGE;
}

/* The value of the last --NAME given, or NULL. */
static const char *opt_last(const struct cmd_args *a, const char *name)
{
	for (int i = a->ngiven - 1; i >= 0; i--)
		if (strcmp(a->given[i].opt->name, name) == 0)
			return a->given[i].value;
	return NULL;
}

/* ---- talking to the agent ------------------------------------------- */

/*
 * With -j a refusal is also data on stdout: {"version", "error", "field",
 * "exit_status"}; every other failure gets the same object without
 * "field" from vdpa_migrate_main().
 */
static void print_refusal_json(const struct ctl_error *err)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return;
	json_object_object_add(o, "error", json_object_new_string(err->message));
	if (err->field[0])
		json_object_object_add(o, "field", json_object_new_string(err->field));
	json_object_object_add(o, "exit_status", json_object_new_int(CTL_STATUS_REFUSED));
	render_json(o, stdout);
	json_object_put(o);
}

/*
 * Connects to cli->agent: "unix:PATH" or "ssh://[USER@]HOST[/PATH]" (see
 * ctl_client_open()).  A malformed address is a usage error (2), an agent
 * that cannot be reached 69.
 */
static int open_agent(const struct cli *cli, struct ctl_client **ret)
{
	struct ctl_error err = { "", "" };
	struct ctl_agent_addr addr;
	int r;

	r = ctl_agent_parse(cli->agent, &addr, &err);
	if (r < 0) {
		cli_error("--agent %s: %s\n", cli->agent, err.message);
		return EXIT_USAGE;
	}
	r = ctl_client_open(cli->agent, CTL_CLIENT_TIMEOUT_MS, ret, &err);
	if (r < 0) {
		cli_error("cannot reach the agent at %s: %s\n", cli->agent,
			err.message);
		return CTL_STATUS_UNAVAILABLE;
	}
	return 0;
}

/*
 * Sends req, prints the reply with render (or as JSON with -j) and returns
 * the exit status.  Every message names the agent, so an operator with
 * several agents knows which one failed.  A refusal whose message is
 * exactly unchanged (--may-exist, --if-exists: the state asked for is there
 * already) is a success that says so.
 */
static int call_agent(const struct cli *cli, const struct ctl_request *req, render_fn render,
		      const char *unchanged)
{
	struct json_object *reply = NULL;
	struct ctl_client *c = NULL;
	struct ctl_error err = { "", "" };
	const char *path = cli->agent;
	int r, status;

	status = open_agent(cli, &c);
	if (status != 0)
		return status;
	r = ctl_client_call(c, req, &reply, &err);
	ctl_client_free(c);
	status = (int)ctl_client_status(r);

	switch (status) {
	case CTL_STATUS_OK:
		if (cli->json)
			r = render_json(reply, stdout);
		else
			r = render(reply, stdout, &err);
		json_object_put(reply);
		if (r == -EBADMSG) {
			cli_error("bad reply from the agent at %s: %s\n", path,
				err.message);
			return CTL_STATUS_BAD_REPLY;
		}
		if (r < 0) {
			cli_error("%s\n", strerror(-r));
			return EXIT_IOERR;
		}
		return 0;
	case CTL_STATUS_REFUSED:
		if (unchanged && strcmp(err.message, unchanged) == 0) {
			if (cli->json) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "unchanged", json_object_new_string(err.message));
				render_json(o, stdout);
				json_object_put(o);
			} else {
				cli_error("%s; nothing to do\n", err.message);
			}
			return 0;
		}
		if (cli->json)
			print_refusal_json(&err);
		cli_error("%s\n", err.message);
		return status;
	case CTL_STATUS_BAD_REPLY:
		cli_error("bad reply from the agent at %s: %s\n", path, err.message);
		return status;
	default:
		cli_error("talking to the agent at %s: %s\n", path, err.message);
		return status;
	}
}

/*
 * Copies a NAME or SPEC argument into its request field; the agent would
 * refuse an empty or over-long one anyway, but saying so here names the
 * argument rather than a protocol member.
 */
static bool copy_arg(char *dst, size_t cap, const char *arg, const char *what)
{
	size_t n = strlen(arg);

	if (n == 0 || n >= cap) {
		cli_error("%s must be 1 to %zu bytes\n", what, cap - 1);
		return false;
	}
	memcpy(dst, arg, n + 1);
	return true;
}

static int cmd_ports(const struct cli *cli, const struct cmd_args *a)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORTS };

	(void)a;
	return call_agent(cli, &req, render_ports, NULL);
}

static int cmd_port_show(const struct cli *cli, const struct cmd_args *a)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_SHOW };

	if (!copy_arg(req.name, sizeof(req.name), a->pos[0], "NAME"))
		return EXIT_USAGE;
	return call_agent(cli, &req, render_port_show, NULL);
}

/* Whether --NAME was given (an option with or without a value). */
static bool opt_given(const struct cmd_args *a, const char *name)
{
	for (int i = 0; i < a->ngiven; i++)
		if (strcmp(a->given[i].opt->name, name) == 0)
			return true;
	return false;
}

static int cmd_port_add(const struct cli *cli, const struct cmd_args *a)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_ADD };
	char unchanged[CTL_NAME_MAX + 32] = "";
	struct port_config pc;
	char why[CONFIG_ERR_MAX];

	if (!copy_arg(req.spec, sizeof(req.spec), a->pos[0], "SPEC"))
		return EXIT_USAGE;
	/* The agent's refusal of a name it has (agentd_add_port()). */
	if (opt_given(a, "may-exist") && port_spec_parse(req.spec, &pc, why, sizeof(why)) == 0)
		snprintf(unchanged, sizeof(unchanged), "port %s already exists", pc.name);
	return call_agent(cli, &req, render_port_added, unchanged[0] ? unchanged : NULL);
}

/* port-del replies {"ok":true}: nothing to say on success. */
static int render_nothing(struct json_object *reply, FILE *f, struct ctl_error *err)
{
	(void)reply;
	(void)f;
	(void)err;
	return 0;
}

static int cmd_port_del(const struct cli *cli, const struct cmd_args *a)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_DEL };

	char unchanged[CTL_NAME_MAX + 32] = "";

	if (!copy_arg(req.name, sizeof(req.name), a->pos[0], "NAME"))
		return EXIT_USAGE;
	/* The control server's refusal of a name it does not have. */
	if (opt_given(a, "if-exists"))
		snprintf(unchanged, sizeof(unchanged), "no port named '%s'", req.name);
	return call_agent(cli, &req, render_nothing, unchanged[0] ? unchanged : NULL);
}

static int render_switch(struct json_object *reply, FILE *f, struct ctl_error *err)
{
	struct json_object *e, *g;

	if (!json_object_object_get_ex(reply, "engine", &e) ||
	    !json_object_is_type(e, json_type_string) ||
	    !json_object_object_get_ex(reply, "gap_us", &g) || !json_object_is_type(g, json_type_int)) {
		snprintf(err->message, sizeof(err->message), "no engine or gap_us in the reply");
		return -EBADMSG;
	}
	fprintf(f, "now on %s; rings stopped for %lld us\n",
		strcmp(json_object_get_string(e), "accel") == 0 ? "the accelerator" : "software",
		(long long)json_object_get_int64(g));
	return 0;
}

static int cmd_switch(const struct cli *cli, const struct cmd_args *a)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_SWITCH };

	const char *to = opt_last(a, "to");

	if (!to || (strcmp(to, "sw") != 0 && strcmp(to, "accel") != 0)) {
		cli_error("switch needs --to sw or --to accel\n");
		return EXIT_USAGE;
	}
	if (!copy_arg(req.name, sizeof(req.name), a->pos[0], "NAME"))
		return EXIT_USAGE;
	strcpy(req.to, to);
	return call_agent(cli, &req, render_switch, NULL);
}

/* ---- dirtylog ---------------------------------------------------------- */

/*
 * A decimal with at most three decimals, times 1000 (seconds to ms, or ms
 * to µs), within [min, max] after scaling.  Exact: no floating point.
 */
static bool parse_milli(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	int frac = -1;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || frac == 3 || v > UINT64_MAX / 100)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (frac >= 0)
			frac++;
	}
	if (frac == 0)
		return false;	/* "5." */
	for (frac = frac < 0 ? 0 : frac; frac < 3; frac++)
		v *= 10;
	if (v < min || v > max)
		return false;
	*ret = v;
	return true;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

struct record_ui {
	const char *name;
	bool tty;
	uint64_t next_line_ms;	/* not a terminal: a line per second */
};

static void record_progress(const struct dlrec_progress *p, void *userdata)
{
	struct record_ui *ui = userdata;

	if (ui->tty) {
		fprintf(stderr, "\rrecording %s: %llu snapshot(s), %llu dirty pages, %.1f/%.1f s  ",
			ui->name, (unsigned long long)p->snapshots, (unsigned long long)p->pages,
			(double)p->elapsed_ms / 1000, (double)p->duration_ms / 1000);
		return;
	}
	if (p->elapsed_ms < ui->next_line_ms)
		return;
	ui->next_line_ms = (p->elapsed_ms / 1000 + 1) * 1000;
	fprintf(stderr, "recording %s: %llu snapshot(s), %llu dirty pages, %.1f/%.1f s\n",
		ui->name, (unsigned long long)p->snapshots, (unsigned long long)p->pages,
		(double)p->elapsed_ms / 1000, (double)p->duration_ms / 1000);
}

/*
 * The trace goes to a temporary file beside FILE, renamed over it at the
 * end: a record that fails before its first snapshot leaves an existing
 * FILE alone, and a reader never sees a file being written.  Once recording
 * has started, whatever was written is renamed into place, also after an
 * error or a signal: the trace is complete up to its last snapshot.
 */
static int cmd_dirtylog_record(const struct cli *cli, const struct cmd_args *a)
{
	struct dlrec_opts o = { .interval_ms = 100, .stop = &got_signal };
	struct record_ui ui = { .tty = isatty(STDERR_FILENO) == 1 };
	struct ctl_error err = { "", "" };
	struct dlrec_summary sum;
	struct sigaction sa;
	struct ctl_client *c = NULL;
	const char *out = NULL, *path = cli->agent, *v;
	char *tmp = NULL;
	char name[CTL_NAME_MAX + 1];
	int fd = -1, r, status;

	if (!copy_arg(name, sizeof(name), a->pos[0], "NAME"))
		return EXIT_USAGE;
	o.name = ui.name = name;
	if ((v = opt_last(a, "seconds")) &&
	    !parse_milli(v, 1, UINT64_C(7) * 24 * 3600 * 1000, &o.duration_ms)) {
		cli_error("--seconds %s: expected a number of seconds, "
			"0.001 to 604800\n", v);
		return EXIT_USAGE;
	}
	if ((v = opt_last(a, "interval"))) {
		if (!parse_milli(v, 1000, UINT64_C(3600) * 1000 * 1000, &o.interval_ms) ||
		    o.interval_ms % 1000) {
			cli_error("--interval %s: expected whole milliseconds, "
				"1 to 3600000\n", v);
			return EXIT_USAGE;
		}
		o.interval_ms /= 1000;
	}
	if ((out = opt_last(a, "out")) && !out[0]) {
		cli_error("--out needs a file name\n");
		return EXIT_USAGE;
	}
	if (!o.duration_ms || !out) {
		cli_error("dirtylog record needs --seconds S and --out FILE\n");
		return EXIT_USAGE;
	}
	if (o.interval_ms > o.duration_ms) {
		cli_error("--interval is longer than --seconds: nothing to record\n");
		return EXIT_USAGE;
	}
	o.progress = record_progress;
	o.userdata = &ui;

	status = open_agent(cli, &c);
	if (status != 0)
		return status;
	if (asprintf(&tmp, "%s.%ld.tmp", out, (long)getpid()) < 0) {
		ctl_client_free(c);
		cli_error("out of memory\n");
		return EXIT_OSERR;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		cli_error("cannot create %s: %s\n", tmp, strerror(errno));
		status = EXIT_IOERR;
		goto out;
	}

	/* No SA_RESTART: the signal ends the sleep between two snapshots. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	r = dlrec_run(c, &o, fd, &sum, &err);
	if (ui.tty && sum.progress.snapshots)
		fputc('\n', stderr);
	status = 0;
	switch (sum.stage) {
	case DLREC_OK:
		break;
	case DLREC_INTERRUPTED:
		status = 128 + (int)got_signal;
		break;
	case DLREC_AGENT:
		status = (int)ctl_client_status(r);
		if (r == -EREMOTEIO && cli->json)
			print_refusal_json(&err);
		if (status == CTL_STATUS_BAD_REPLY)
			cli_error("bad reply from the agent at %s: %s\n", path,
				err.message);
		else if (status == CTL_STATUS_REFUSED)
			cli_error("%s\n", err.message);
		else
			cli_error("talking to the agent at %s: %s\n", path,
				err.message);
		break;
	case DLREC_OUTPUT:
		cli_error("%s: %s\n", out, err.message);
		status = EXIT_IOERR;
		break;
	}
	if (sum.stop_rc < 0 && sum.stage != DLREC_AGENT)
		cli_error("dirtylog-stop %s: %s\n", name, sum.stop_err.message);

	if (close(fd) < 0 && status == 0) {
		cli_error("%s: %s\n", out, strerror(errno));
		status = EXIT_IOERR;
	}
	fd = -1;
	if (!sum.progress.guest_size) {
		/* Nothing recorded, not even the header: leave FILE as it was. */
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, out) < 0) {
		cli_error("cannot rename %s to %s: %s\n", tmp, out,
			strerror(errno));
		unlink(tmp);
		status = EXIT_IOERR;
		goto out;
	}
	if (cli->json && (status == 0 || sum.stage == DLREC_INTERRUPTED)) {
		struct json_object *jo = json_object_new_object();

		if (jo) {
			json_object_object_add(jo, "port", json_object_new_string(name));
			json_object_object_add(jo, "file", json_object_new_string(out));
			json_object_object_add(jo, "snapshots",
					       json_object_new_uint64(sum.progress.snapshots));
			json_object_object_add(jo, "dirty_pages",
					       json_object_new_uint64(sum.progress.pages));
			json_object_object_add(jo, "guest_size",
					       json_object_new_uint64(sum.progress.guest_size));
			json_object_object_add(jo, "interrupted",
					       json_object_new_boolean(sum.stage == DLREC_INTERRUPTED));
			render_json(jo, stdout);
			json_object_put(jo);
		}
	} else if (!cli->json) {
		printf("%s %llu snapshots of port %s (%llu dirty pages, guest %.1f MiB) into %s\n",
		       status == 0 ? "recorded" : "kept", (unsigned long long)sum.progress.snapshots,
		       name, (unsigned long long)sum.progress.pages,
		       (double)sum.progress.guest_size / (1024.0 * 1024.0), out);
	}
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	ctl_client_free(c);
	return status;
}

static int cmd_dirtylog_analyze(const struct cli *cli, const struct cmd_args *a)
{
	struct dla_params params = {
		.link_bps = DLA_DEFAULT_LINK_BPS,
		.downtime_ms = DLA_DEFAULT_DOWNTIME_MS,
		.window_ns = DLA_DEFAULT_WINDOW_NS,
	};
	struct dirtylog_trace_reader rd;
	struct dla_state *st = NULL;
	struct dla_result res = { 0 };
	const char *file = a->pos[0], *plot = opt_last(a, "plot"), *v;
	bool json = cli->json, have_result = false;
	char err[160];
	int fd, r, status = 0;
	uint64_t us;

	if ((v = opt_last(a, "bandwidth")) && dla_parse_rate(v, &params.link_bps) < 0) {
		cli_error("--bandwidth %s: expected bits/s, such as 10G, 2.5G, "
			"500M\n", v);
		return EXIT_USAGE;
	}
	if ((v = opt_last(a, "downtime-limit"))) {
		if (!parse_milli(v, 1, UINT64_C(3600) * 1000 * 1000, &us)) {
			cli_error("--downtime-limit %s: expected milliseconds, "
				"0.001 to 3600000\n", v);
			return EXIT_USAGE;
		}
		params.downtime_ms = (double)us / 1000;
	}
	if (plot && !plot[0]) {
		cli_error("--plot needs a file name\n");
		return EXIT_USAGE;
	}

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("cannot open %s: %s\n", file, strerror(errno));
		return EXIT_NOINPUT;
	}
	r = dirtylog_trace_reader_init(&rd, fd);
	if (r < 0) {
		cli_error("%s: %s\n", file, rd.err);
		status = r == -ENOMEM ? EXIT_OSERR : EXIT_DATAERR;
		goto out;
	}
	r = dla_new(rd.page_shift, rd.guest_size, &params, &st);
	if (r < 0) {
		cli_error("%s: cannot analyze a guest of %llu bytes: %s\n", file,
			(unsigned long long)rd.guest_size, strerror(-r));
		status = r == -ENOMEM ? EXIT_OSERR : EXIT_DATAERR;
		goto out;
	}
	for (;;) {
		struct dirtylog_trace_snapshot snap;

		r = dirtylog_trace_reader_next(&rd, &snap);
		if (r == 0)
			break;
		if (r < 0) {
			cli_error("%s: %s\n", file, rd.err);
			status = r == -ENOMEM ? EXIT_OSERR : EXIT_DATAERR;
			goto out;
		}
		r = dla_add(st, snap.timestamp_ns, snap.bitmap, snap.len, err, sizeof(err));
		if (r < 0) {
			cli_error("%s: %s\n", file, err);
			status = r == -ENOMEM ? EXIT_OSERR : EXIT_DATAERR;
			goto out;
		}
	}
	if (dla_finish(st, &res) < 0) {
		cli_error("out of memory\n");
		status = EXIT_OSERR;
		goto out;
	}
	have_result = true;

	if (plot) {
		FILE *f = fopen(plot, "we");

		if (!f || dla_write_svg(&res, f) < 0 || fclose(f) != 0) {
			cli_error("cannot write %s: %s\n", plot, strerror(errno));
			status = EXIT_IOERR;
			goto out;
		}
	}
	r = json ? dla_write_json(&res, stdout) : dla_write_report(&res, stdout);
	if (r == -ENOMEM) {
		cli_error("out of memory\n");
		status = EXIT_OSERR;
	}
out:
	if (have_result)
		dla_result_release(&res);
	dla_free(st);
	dirtylog_trace_reader_release(&rd);
	close(fd);
	return status;
}

/* ---- precheck ------------------------------------------------------------- */

/* An agent address of an option: checked here so a typo is a usage error. */
static bool check_agent_arg(const char *opt, const char *addr)
{
	struct ctl_error err = { "", "" };
	struct ctl_agent_addr a;

	if (ctl_agent_parse(addr, &a, &err) == 0)
		return true;
	cli_error("%s %s: %s\n", opt, addr, err.message);
	return false;
}

static int cmd_precheck(const struct cli *cli, const struct cmd_args *a)
{
	const char *from = opt_last(a, "from"), *to = opt_last(a, "to");
	const char *backend = opt_last(a, "to-backend"), *p = opt_last(a, "port");
	struct precheck_result res;
	struct ctl_error err = { "", "" };
	char port[CTL_NAME_MAX + 1] = "";
	int r, status;

	if (p && !copy_arg(port, sizeof(port), p, "--port NAME"))
		return EXIT_USAGE;
	if (backend && strcmp(backend, "sw") != 0 && strcmp(backend, "accel") != 0) {
		cli_error("--to-backend %s: expected sw or accel\n", backend);
		return EXIT_USAGE;
	}
	if (!from || !to || !port[0]) {
		cli_error("precheck needs --from AGENT, --port NAME and --to AGENT\n");
		return EXIT_USAGE;
	}
	if (!check_agent_arg("--from", from) || !check_agent_arg("--to", to))
		return EXIT_USAGE;

	r = precheck_run(from, port, to, backend, &res, &err);
	if (r < 0) {
		status = (int)ctl_client_status(r);
		if (status == CTL_STATUS_REFUSED && cli->json)
			print_refusal_json(&err);
		cli_error("precheck: %s%s\n",
			status == CTL_STATUS_BAD_REPLY ? "bad reply: " : "", err.message);
		return status;
	}
	if (cli->json) {
		struct json_object *o = precheck_to_json(&res);

		if (!o) {
			cli_error("out of memory\n");
			return EXIT_OSERR;
		}
		render_json(o, stdout);
		json_object_put(o);
	} else if (precheck_print(&res, stdout) < 0) {
		cli_error("writing the output: %s\n", strerror(errno));
		return EXIT_IOERR;
	}
	return res.refused ? MIGRATE_EXIT_REFUSED : 0;
}

/* ---- proxy ----------------------------------------------------------------- */

#define PROXY_BUF 65536

/* One direction of the proxy: bytes read from in, not yet written to out. */
struct pump {
	int in, out;
	bool eof;		/* in is done */
	size_t off, len;
	char buf[PROXY_BUF];
};

/* Reads what in has (room permitting); -errno, 0, or 1 on EOF. */
static int pump_read(struct pump *p)
{
	ssize_t n;

	if (p->len)
		return 0;
	n = read(p->in, p->buf, sizeof(p->buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 1;
	p->off = 0;
	p->len = (size_t)n;
	return 0;
}

static int pump_write(struct pump *p)
{
	ssize_t n = write(p->out, p->buf + p->off, p->len);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	p->off += (size_t)n;
	p->len -= (size_t)n;
	return 0;
}

/*
 * stdin -> the agent's socket, the socket -> stdout, until the socket
 * closes (after stdin's EOF has been passed on as a half-close, so replies
 * already on their way still arrive) or either side fails.  What ssh://
 * agents run on the remote host; the socket's timeouts do not apply here:
 * the client at the other end of ssh keeps its own.
 */
static int cmd_proxy(const struct cli *cli, const struct cmd_args *args)
{
	struct ctl_error err = { "", "" };
	struct ctl_agent_addr a;
	struct ctl_client *c = NULL;
	struct pump *up = NULL, *down = NULL;
	int sock, r, status = 0;

	(void)args;
	if (ctl_agent_parse(cli->agent, &a, &err) < 0 || a.ssh) {
		cli_error("proxy needs --agent unix:PATH (got %s)\n", cli->agent);
		return EXIT_USAGE;
	}
	r = ctl_client_connect(a.path, CTL_CLIENT_TIMEOUT_MS, &c, &err);
	if (r < 0) {
		cli_error("cannot reach the agent at %s: %s\n", cli->agent,
			err.message);
		return CTL_STATUS_UNAVAILABLE;
	}
	up = calloc(1, sizeof(*up));
	down = calloc(1, sizeof(*down));
	if (!up || !down) {
		cli_error("out of memory\n");
		status = EXIT_OSERR;
		goto out;
	}
	/* A reader gone from stdout is an error to report, not a signal to die of. */
	signal(SIGPIPE, SIG_IGN);
	sock = ctl_client_fd(c);
	*up = (struct pump){ .in = STDIN_FILENO, .out = sock };
	*down = (struct pump){ .in = sock, .out = STDOUT_FILENO };
	for (;;) {
		struct pollfd pfd[4];
		int n = 0, iu = -1, id = -1, ou = -1, od = -1;

		if (!up->eof && !up->len) {
			pfd[n] = (struct pollfd){ .fd = up->in, .events = POLLIN };
			iu = n++;
		}
		if (up->len) {
			pfd[n] = (struct pollfd){ .fd = up->out, .events = POLLOUT };
			ou = n++;
		}
		if (!down->eof && !down->len) {
			pfd[n] = (struct pollfd){ .fd = down->in, .events = POLLIN };
			id = n++;
		}
		if (down->len) {
			pfd[n] = (struct pollfd){ .fd = down->out, .events = POLLOUT };
			od = n++;
		}
		if (down->eof && !down->len)
			break;	/* the agent is done and everything it said is out */
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		r = 0;
		if (iu >= 0 && pfd[iu].revents) {
			r = pump_read(up);
			if (r == 1) {
				/* The client is done: let the agent see it, keep its replies. */
				up->eof = true;
				shutdown(sock, SHUT_WR);
				r = 0;
			}
		}
		if (r == 0 && ou >= 0 && pfd[ou].revents)
			r = pump_write(up);
		if (r == 0 && id >= 0 && pfd[id].revents) {
			r = pump_read(down);
			if (r == 1) {
				down->eof = true;
				r = 0;
			}
		}
		if (r == 0 && od >= 0 && pfd[od].revents)
			r = pump_write(down);
		if (r < 0)
			goto fail;
	}
	goto out;
fail:
	cli_error("proxy: %s\n", strerror(-r));
	status = r == -EPIPE ? EXIT_IOERR : CTL_STATUS_UNAVAILABLE;
out:
	free(up);
	free(down);
	ctl_client_free(c);
	return status;
}

/*
 * cli_migrate() parses its own options (the two modes take different ones
 * and check them differently): it gets them back as --NAME VALUE, in the
 * order given, then the positional argument.  Global options stay here.
 */
static int cmd_migrate(const struct cli *cli, const struct cmd_args *a)
{
	char **args = calloc((size_t)(2 * a->ngiven + a->npos + 1), sizeof(*args));
	char *names = calloc((size_t)a->ngiven, 64);
	size_t n = 0;
	int status;

	if (!args || !names) {
		free(args);
		free(names);
		cli_error("out of memory\n");
		return EXIT_OSERR;
	}
	for (int i = 0; i < a->ngiven; i++) {
		char *name = names + 64 * i;

		snprintf(name, 64, "--%s", a->given[i].opt->name);
		args[n++] = name;
		if (a->given[i].value)
			args[n++] = (char *)(uintptr_t)a->given[i].value;
	}
	for (int i = 0; i < a->npos; i++)
		args[n++] = a->pos[i];
	args[n] = NULL;
	status = cli_migrate(args, cli->json);
	free(args);
	free(names);
	return status;
}

static int cmd_libvirt_hook(const struct cli *cli, const struct cmd_args *a)
{
	(void)cli;
	return cli_libvirt_hook(a->pos);
}

static int cmd_version(const struct cli *cli, const struct cmd_args *a)
{
	(void)a;
	if (cli->json) {
		struct json_object *o = json_object_new_object();

		if (!o)
			return EXIT_OSERR;
		json_object_object_add(o, "program_version",
				       json_object_new_string(VDPA_MIGRATE_VERSION));
		render_json(o, stdout);
		json_object_put(o);
	} else {
		printf("vdpa-migrate %s\n", VDPA_MIGRATE_VERSION);
	}
	return 0;
}

/* ---- dispatch ---------------------------------------------------------- */

static const struct command *find(const struct command *table, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

/* "help [COMMAND [SUBCOMMAND]]": the usage of the program or of a command. */
static int cmd_help(const struct cli *cli, const struct cmd_args *a)
{
	const struct command *c, *parent = NULL;

	(void)cli;
	if (a->npos == 0) {
		usage(stdout);
		return 0;
	}
	c = find(commands, ARRAY_SIZE(commands), a->pos[0]);
	if (c && c->sub && a->npos == 2) {
		parent = c;
		c = find(c->sub, c->nsub, a->pos[1]);
	} else if (c && a->npos == 2) {
		c = NULL;
	}
	if (!c) {
		cli_error("help: unknown command '%s%s%s'\n", a->pos[0],
			a->npos == 2 ? " " : "", a->npos == 2 ? a->pos[1] : "");
		return EXIT_USAGE;
	}
	command_usage(stdout, parent, c);
	return 0;
}

#define MAX_OPTS 24
#define OPT_BASE 1000	/* getopt_long()'s val of entry i: OPT_BASE + i */

/*
 * Parses argv[0..argc) with getopt_long(): argv[0] is the program or the
 * command word, then the options of opts (those of the command) and the
 * global ones.  stop: stop at the first argument that is not an option
 * (the command or subcommand word); otherwise arguments and options come
 * in any order.  The global options land in cli, the others in ret->given;
 * the arguments left over, in order, in ret->pos.  what names the
 * command for messages ("" for the program).  Returns 0, or EXIT_USAGE
 * after one line on stderr.
 */
static int parse(struct cli *cli, const char *what, const struct cmd_option *opts, size_t nopts,
		 bool stop, int argc, char **argv, struct cmd_args *ret)
{
	struct option lo[MAX_OPTS + 1];
	const struct cmd_option *all[MAX_OPTS];
	char shorts[16];
	size_t n = 0, ns = 0;
	int c, li;

	/* '-': arguments come back in order as option 1 (permuting would stop
	 * at the first one when POSIXLY_CORRECT is set). */
	shorts[ns++] = stop ? '+' : '-';
	shorts[ns++] = ':';	/* ':' for a missing value; no messages of its own */
	for (size_t i = 0; i < nopts + ARRAY_SIZE(global_opts); i++) {
		const struct cmd_option *o = i < nopts ? &opts[i] : &global_opts[i - nopts];

		if (n == MAX_OPTS)
			abort();	/* a table too large for this parser: a bug */
		all[n] = o;
		lo[n] = (struct option){ o->name, o->arg ? required_argument : no_argument, NULL,
					 OPT_BASE + (int)n };
		n++;
		if (o->letter) {
			shorts[ns++] = (char)o->letter;
			if (o->arg)
				shorts[ns++] = ':';
		}
	}
	lo[n] = (struct option){ 0 };
	shorts[ns] = '\0';

	opterr = 0;	/* its messages would name argv[0], the binary's path */
	optind = 0;	/* glibc: start again, and read '+' or '-' anew */
	ret->ngiven = 0;
	ret->npos = 0;
	while ((li = -1, c = getopt_long(argc, argv, shorts, lo, &li)) != -1) {
		const struct cmd_option *o = NULL;
		const char *el;

		if (c == 1) {
			ret->posbuf[ret->npos++] = optarg;
			continue;
		}
		if (c == '?' || c == ':') {
			el = argv[optind - 1];
			if (c == ':')
				cli_error("%s%soption '%s' needs a value\n", what,
					what[0] ? ": " : "", el);
			else if (optopt >= OPT_BASE)
				cli_error("%s%soption '--%s' takes no value\n", what,
					what[0] ? ": " : "", all[optopt - OPT_BASE]->name);
			else if (optopt)
				cli_error("%s%sunknown option '-%c'\n", what,
					what[0] ? ": " : "", optopt);
			else
				cli_error("%s%sunknown option '%s'\n", what,
					what[0] ? ": " : "", el);
			return EXIT_USAGE;
		}
		if (c >= OPT_BASE) {
			size_t len;

			o = all[c - OPT_BASE];
			len = strlen(o->name);
			/* The argument as written: before its separate value, if any. */
			el = o->arg && optarg == argv[optind - 1] ? argv[optind - 2] : argv[optind - 1];
			if (strncmp(el, "--", 2) != 0 || strncmp(el + 2, o->name, len) != 0 ||
			    (el[2 + len] != '\0' && el[2 + len] != '=')) {
				cli_error("%s%sunknown option '%.*s' (did you mean "
					"'--%s'?)\n", what, what[0] ? ": " : "",
					(int)strcspn(el, "="), el, o->name);
				return EXIT_USAGE;
			}
		} else {
			for (size_t i = 0; i < n && !o; i++)
				if (all[i]->letter == c)
					o = all[i];
		}
		if (!o)
			abort();	/* getopt_long() returned what we did not ask for */
		if (o >= global_opts && o < global_opts + ARRAY_SIZE(global_opts)) {
			if (strcmp(o->name, "agent") == 0)
				cli->agent = optarg;
			else if (strcmp(o->name, "json") == 0)
				cli->json = true;
			else if (strcmp(o->name, "pretty") == 0)
				render_json_set_pretty(true);
			else if (strcmp(o->name, "help") == 0)
				cli->help = true;
			else
				cli->version = true;
			continue;
		}
		ret->given[ret->ngiven].opt = o;
		ret->given[ret->ngiven].value = o->arg ? optarg : NULL;
		ret->ngiven++;
	}
	if (stop) {
		ret->pos = argv + optind;
		ret->npos = argc - optind;
		return 0;
	}
	/* What follows "--". */
	while (optind < argc)
		ret->posbuf[ret->npos++] = argv[optind++];
	ret->posbuf[ret->npos] = NULL;
	ret->pos = ret->posbuf;
	return 0;
}

/*
 * The three levels: the program's options up to the command word, a
 * group's up to the subcommand word, then the command's options and
 * arguments.  -h/--help at any level prints the usage of what it follows
 * (the command's if one came, even after it); nothing is checked or
 * contacted then.
 */
static int dispatch(struct cli *cli, int argc, char **argv, struct cmd_args *a)
{
	const struct command *c, *parent = NULL;
	char name[64];
	int r;

	r = parse(cli, "", NULL, 0, true, argc, argv, a);
	if (r)
		return try_help(NULL, NULL);
	if (a->npos == 0) {
		if (cli->help) {
			usage(stdout);
			return 0;
		}
		if (cli->version)
			return cmd_version(cli, a);
		cli_error("no command\n");
		return try_help(NULL, NULL);
	}
	c = find(commands, ARRAY_SIZE(commands), a->pos[0]);
	if (!c) {
		cli_error("unknown command '%s'\n", a->pos[0]);
		return try_help(NULL, NULL);
	}
	argc = a->npos;
	argv = a->pos;
	if (c->sub) {
		r = parse(cli, c->name, NULL, 0, true, argc, argv, a);
		if (r)
			return try_help(NULL, c);
		if (a->npos == 0) {
			if (cli->help) {
				command_usage(stdout, NULL, c);
				return 0;
			}
			if (cli->version)
				return cmd_version(cli, a);
			cli_error("%s: missing subcommand\n", c->name);
			return try_help(NULL, c);
		}
		parent = c;
		c = find(parent->sub, parent->nsub, a->pos[0]);
		if (!c) {
			cli_error("unknown command '%s %s'\n", parent->name,
				a->pos[0]);
			return try_help(NULL, parent);
		}
		argc = a->npos;
		argv = a->pos;
	}
	full_name(name, sizeof(name), parent, c);
	if (c->raw) {
		/* Taken as given; only a lone --help is read. */
		a->pos = argv + 1;
		a->npos = argc - 1;
		if (a->npos == 1 && (strcmp(a->pos[0], "--help") == 0 || strcmp(a->pos[0], "-h") == 0))
			cli->help = true;
	} else {
		r = parse(cli, name, c->opts, c->nopts, false, argc, argv, a);
		if (r)
			return try_help(parent, c);
	}
	if (cli->help) {
		command_usage(stdout, parent, c);
		return 0;
	}
	if (cli->version)
		return cmd_version(cli, a);
	if (a->npos < c->min_args || a->npos > c->max_args) {
		cli_error("%s: expected %s\n", name,
			c->args ? c->args : "no arguments");
		return try_help(parent, c);
	}
	r = c->fn(cli, a);
	if (r == EXIT_USAGE && !c->raw)
		try_help(parent, c);
	return r;
}

int vdpa_migrate_main(int argc, char **argv)
{
	struct cli cli = { .agent = CTL_DEFAULT_AGENT };
	struct cmd_args a = { 0 };
	const char *env = getenv(CTL_AGENT_ENV);
	int status;

	if (env && env[0])
		cli.agent = env;
	render_json_reset();
	if (argc < 1) {
		cli_error("no arguments at all, not even a name\n");
		return EXIT_USAGE;
	}
	/* At most one entry per argument. */
	a.given = calloc((size_t)argc, sizeof(*a.given));
	a.posbuf = calloc((size_t)argc + 1, sizeof(*a.posbuf));
	if (!a.given || !a.posbuf) {
		free(a.given);
		free(a.posbuf);
		cli_error("out of memory\n");
		return EXIT_OSERR;
	}
	status = dispatch(&cli, argc, argv, &a);
	free(a.given);
	free(a.posbuf);
	/* -j: a failure is an object on stdout too, whatever failed. */
	if (cli.json && status != 0 && !render_json_wrote_stdout()) {
		struct json_object *o = json_object_new_object();

		if (o) {
			json_object_object_add(o, "error", json_object_new_string(
				cli_last_error()[0] ? cli_last_error() : "failed"));
			json_object_object_add(o, "exit_status", json_object_new_int(status));
			render_json(o, stdout);
			json_object_put(o);
		}
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("writing the output: %s\n", strerror(errno));
		return EXIT_IOERR;
	}
	return status;
}
