// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa-migrate: the command line of vdpa-agentd's control socket.
 *
 *   vdpa-migrate [--agent unix:PATH] [-j] COMMAND [ARGS]
 *
 * Commands are a table (name, arguments, function, one-line help) that
 * drives dispatch, the argument count check and the usage text; "port" has
 * a table of its own.  Only exact names match.  The socket work is in
 * agent/ctl_client.c, the output in agent/render.c; this file maps their
 * results to exit statuses (see vdpa-migrate(8)):
 *   0 ok, 1 the agent refused, 2 usage, 69 agent unreachable,
 *   74 cannot write the output, 76 bad reply.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent/ctl_client.h"
#include "agent/render.h"
#include "agent/version.h"
#include "protocol/control.h"

#define EXIT_USAGE 2
#define EXIT_IOERR 74	/* EX_IOERR */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct cli {
	const char *agent;	/* "unix:PATH" or whatever the user wrote */
	bool json;
};

typedef int (*render_fn)(struct json_object *reply, FILE *f, struct ctl_error *err);

struct command {
	const char *name;
	const char *args;	/* names of the arguments, for usage; NULL: none */
	int nargs;		/* exact count of arguments */
	int (*fn)(const struct cli *cli, char **args);
	const char *help;
	const struct command *sub;	/* a command with subcommands has no fn */
	size_t nsub;
};

static int cmd_ports(const struct cli *cli, char **args);
static int cmd_port_show(const struct cli *cli, char **args);
static int cmd_port_add(const struct cli *cli, char **args);
static int cmd_port_del(const struct cli *cli, char **args);
static int cmd_version(const struct cli *cli, char **args);
static int cmd_help(const struct cli *cli, char **args);

static const struct command port_commands[] = {
	{ "show", "NAME", 1, cmd_port_show, "show a port: features, dirty logging, rings", NULL, 0 },
	{ "add", "SPEC", 1, cmd_port_add, "add a port (SPEC as in vdpa-agentd(8))", NULL, 0 },
	{ "del", "NAME", 1, cmd_port_del, "delete a port", NULL, 0 },
};

static const struct command commands[] = {
	{ "ports", NULL, 0, cmd_ports, "list the agent's ports", NULL, 0 },
	{ "port", NULL, 0, NULL, NULL, port_commands, ARRAY_SIZE(port_commands) },
	{ "version", NULL, 0, cmd_version, "print the version of vdpa-migrate", NULL, 0 },
	{ "help", NULL, 0, cmd_help, "print this help", NULL, 0 },
};

static void usage_line(FILE *f, const char *parent, const struct command *c)
{
	char label[64];

	snprintf(label, sizeof(label), "%s%s%s%s%s", parent ? parent : "", parent ? " " : "",
		 c->name, c->args ? " " : "", c->args ? c->args : "");
	fprintf(f, "  %-18s %s\n", label, c->help);
}

static void usage(FILE *f)
{
	fputs("Usage: vdpa-migrate [--agent unix:PATH] [-j] COMMAND [ARGS]\n\nCommands:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];

		if (!c->sub) {
			usage_line(f, NULL, c);
			continue;
		}
		for (size_t j = 0; j < c->nsub; j++)
			usage_line(f, c->name, &c->sub[j]);
	}
	fputs("\nOptions:\n"
	      "  --agent unix:PATH  the agent's control socket (default: $" CTL_AGENT_ENV ",\n"
	      "                     else " CTL_DEFAULT_AGENT ")\n"
	      "  -j                 print the agent's reply as JSON\n"
	      "\nSee vdpa-migrate(8).\n", f);
}

/* ---- talking to the agent ------------------------------------------- */

/* With -j a refusal is also data on stdout: {"error": ..., "field": ...}. */
static void print_refusal_json(const struct ctl_error *err)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return;
	json_object_object_add(o, "error", json_object_new_string(err->message));
	if (err->field[0])
		json_object_object_add(o, "field", json_object_new_string(err->field));
	render_json(o, stdout);
	json_object_put(o);
}

/*
 * Sends req, prints the reply with render (or as JSON with -j) and returns
 * the exit status.  Every message names the agent, so an operator with
 * several agents knows which one failed.
 */
static int call_agent(const struct cli *cli, const struct ctl_request *req, render_fn render)
{
	struct json_object *reply = NULL;
	struct ctl_client *c = NULL;
	struct ctl_error err = { "", "" };
	char path[128];
	int r, status;

	r = ctl_agent_path(cli->agent, path, sizeof(path));
	if (r == -EPROTONOSUPPORT) {
		fprintf(stderr, "vdpa-migrate: --agent %s: ssh:// agents are not supported yet; "
				"use unix:PATH\n", cli->agent);
		return EXIT_USAGE;
	}
	if (r == -ENAMETOOLONG) {
		fprintf(stderr, "vdpa-migrate: --agent %s: the path is too long for a unix socket\n",
			cli->agent);
		return EXIT_USAGE;
	}
	if (r < 0) {
		fprintf(stderr, "vdpa-migrate: --agent %s: expected unix:PATH\n", cli->agent);
		return EXIT_USAGE;
	}

	r = ctl_client_connect(path, CTL_CLIENT_TIMEOUT_MS, &c, &err);
	if (r < 0) {
		fprintf(stderr, "vdpa-migrate: cannot reach the agent at %s: %s\n", path, err.message);
		return CTL_STATUS_UNAVAILABLE;
	}
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
			fprintf(stderr, "vdpa-migrate: bad reply from the agent at %s: %s\n", path,
				err.message);
			return CTL_STATUS_BAD_REPLY;
		}
		if (r < 0) {
			fprintf(stderr, "vdpa-migrate: %s\n", strerror(-r));
			return EXIT_IOERR;
		}
		return 0;
	case CTL_STATUS_REFUSED:
		if (cli->json)
			print_refusal_json(&err);
		fprintf(stderr, "vdpa-migrate: %s\n", err.message);
		return status;
	case CTL_STATUS_BAD_REPLY:
		fprintf(stderr, "vdpa-migrate: bad reply from the agent at %s: %s\n", path, err.message);
		return status;
	default:
		fprintf(stderr, "vdpa-migrate: talking to the agent at %s: %s\n", path, err.message);
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
		fprintf(stderr, "vdpa-migrate: %s must be 1 to %zu bytes\n", what, cap - 1);
		return false;
	}
	memcpy(dst, arg, n + 1);
	return true;
}

static int cmd_ports(const struct cli *cli, char **args)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORTS };

	(void)args;
	return call_agent(cli, &req, render_ports);
}

static int cmd_port_show(const struct cli *cli, char **args)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_SHOW };

	if (!copy_arg(req.name, sizeof(req.name), args[0], "NAME"))
		return EXIT_USAGE;
	return call_agent(cli, &req, render_port_show);
}

static int cmd_port_add(const struct cli *cli, char **args)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_ADD };

	if (!copy_arg(req.spec, sizeof(req.spec), args[0], "SPEC"))
		return EXIT_USAGE;
	return call_agent(cli, &req, render_port_added);
}

/* port-del replies {"ok":true}: nothing to say on success. */
static int render_nothing(struct json_object *reply, FILE *f, struct ctl_error *err)
{
	(void)reply;
	(void)f;
	(void)err;
	return 0;
}

static int cmd_port_del(const struct cli *cli, char **args)
{
	struct ctl_request req = { .cmd = CTL_CMD_PORT_DEL };

	if (!copy_arg(req.name, sizeof(req.name), args[0], "NAME"))
		return EXIT_USAGE;
	return call_agent(cli, &req, render_nothing);
}

static int cmd_version(const struct cli *cli, char **args)
{
	(void)args;
	if (cli->json)
		printf("{\n  \"version\": \"%s\"\n}\n", VDPA_MIGRATE_VERSION);
	else
		printf("vdpa-migrate %s\n", VDPA_MIGRATE_VERSION);
	return 0;
}

static int cmd_help(const struct cli *cli, char **args)
{
	(void)cli;
	(void)args;
	usage(stdout);
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

static int dispatch(const struct cli *cli, int argc, char **argv)
{
	const struct command *c = find(commands, ARRAY_SIZE(commands), argv[0]);
	const char *parent = NULL;

	if (!c) {
		fprintf(stderr, "vdpa-migrate: unknown command '%s'\n", argv[0]);
		goto usage;
	}
	if (c->sub) {
		parent = c->name;
		if (argc < 2) {
			fprintf(stderr, "vdpa-migrate: %s: missing subcommand\n", parent);
			goto usage;
		}
		c = find(c->sub, c->nsub, argv[1]);
		if (!c) {
			fprintf(stderr, "vdpa-migrate: unknown command '%s %s'\n", parent, argv[1]);
			goto usage;
		}
		argc--;
		argv++;
	}
	if (argc - 1 != c->nargs) {
		fprintf(stderr, "vdpa-migrate: %s%s%s: expected %s\n", parent ? parent : "",
			parent ? " " : "", c->name, c->args ? c->args : "no arguments");
		goto usage;
	}
	return c->fn(cli, argv + 1);
usage:
	fputc('\n', stderr);
	usage(stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct cli cli = { .agent = CTL_DEFAULT_AGENT };
	const char *env = getenv(CTL_AGENT_ENV);
	int i, status;

	if (env && env[0])
		cli.agent = env;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-j") == 0) {
			cli.json = true;
		} else if (strcmp(a, "--agent") == 0) {
			if (i + 1 >= argc) {
				fputs("vdpa-migrate: --agent needs unix:PATH\n", stderr);
				return EXIT_USAGE;
			}
			cli.agent = argv[++i];
		} else if (strncmp(a, "--agent=", 8) == 0) {
			cli.agent = a + 8;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "vdpa-migrate: unknown option '%s'\n\n", a);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	status = dispatch(&cli, argc - i, argv + i);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "vdpa-migrate: writing the output: %s\n", strerror(errno));
		return EXIT_IOERR;
	}
	return status;
}
