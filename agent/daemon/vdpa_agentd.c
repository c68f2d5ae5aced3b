/*
 * vdpa-agentd: the per-host agent.  This file holds the command line and
 * start-up; everything else lives in libagent (the other agent sources).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/daemon/agentd.h"
#include "agent/common/config.h"
#include "agent/common/log.h"
#include "agent/daemon/selfcheck.h"
#include "agent/common/version.h"

#define DEFAULT_RUNTIME_DIR "/run/vdpa-agent"
#define DEFAULT_STATE_DIR   "/var/lib/vdpa-agent"
#define MAX_CLI_PORTS       256

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vdpa-agentd [OPTIONS]\n"
		"\n"
		"Serves virtio-net devices of local VMs as vhost-user backends.\n"
		"\n"
		"  -c, --config FILE       configuration file (vdpa-agentd.conf(5))\n"
		"  -r, --runtime-dir DIR   sockets live here (default " DEFAULT_RUNTIME_DIR ")\n"
		"  -s, --state-dir DIR     persistent state (default " DEFAULT_STATE_DIR ")\n"
		"  -p, --port SPEC         add a port: name=NAME,socket=PATH[,endpoint=...]...\n"
		"  -l, --log-level LEVEL   err, warning, notice, info (default) or debug\n"
		"      --check-config      parse the configuration and ports, then exit\n"
		"      --self-check        check this host can run the agent, then exit\n"
		"  -V, --version           print the version and exit\n"
		"  -h, --help              print this help and exit\n");
}

enum { OPT_SELF_CHECK = 256, OPT_CHECK_CONFIG };

/* A usage error: one line (logged already) and where to read more. */
static int try_help(void)
{
	fputs("Try 'vdpa-agentd --help'.\n", stderr);
	return 2;
}

/*
 * --check-config: what can be known of each port without serving it.  A
 * port the daemon would skip makes the whole check fail (exit 2), with the
 * file and line of the port.
 */
static int check_ports(const char *config_path, const char *runtime_dir,
		       const struct agent_config *cfg, const struct port_config *cli, size_t ncli)
{
	char err[CONFIG_ERR_MAX];
	size_t bad = 0;

	for (size_t i = 0; i < cfg->nports + ncli; i++) {
		const struct port_config *pc = i < cfg->nports ? &cfg->ports[i] : &cli[i - cfg->nports];

		if (agentd_port_preflight(pc, runtime_dir, err, sizeof(err)) == 0)
			continue;
		if (i < cfg->nports)
			log_err("%s:%u: [port %s]: cannot be served: %s", config_path,
				cfg->port_lines[i], pc->name, err);
		else
			log_err("--port name=%s: cannot be served: %s", pc->name, err);
		bad++;
	}
	if (bad) {
		printf("configuration refused: %zu of %zu port(s) cannot be served\n", bad,
		       cfg->nports + ncli);
		return 2;
	}
	printf("configuration ok: %zu port(s)\n", cfg->nports + ncli);
	return 0;
}

/* Runs the daemon until SIGTERM; returns the exit status. */
static int serve(const char *config_path, const char *runtime_dir, const char *state_dir,
		 const struct agent_config *cfg, const struct port_config *cli, size_t ncli)
{
	struct agentd a;
	int r, rc = 1;

	r = agentd_init(&a, config_path, runtime_dir, state_dir);
	if (r < 0) {
		log_err("cannot initialise: %s", strerror(-r));
		goto out;
	}
	/* Before the ports: their sockets usually live in it. */
	if (mkdir(runtime_dir, 0755) < 0 && errno != EEXIST) {
		log_err("runtime directory %s: %s", runtime_dir, strerror(errno));
		goto out;
	}
	/* A port that cannot be served is logged and skipped: the others
	 * (and their VMs) must not lose their network because of it. */
	a.nskipped_config = agentd_add_configured(&a, cfg->ports, cfg->port_lines, cfg->nports,
						  PORT_FROM_CONFIG);
	a.nskipped_cli = agentd_add_configured(&a, cli, NULL, ncli, PORT_FROM_CLI);
	/* A file that cannot be read is logged; the other ports still serve. */
	(void)agentd_restore_ports(&a);
	r = agentd_run(&a);
	rc = r < 0 ? 1 : 0;
out:
	agentd_fini(&a);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "self-check", no_argument, NULL, OPT_SELF_CHECK },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config_path = NULL, *runtime_dir = NULL, *state_dir = NULL;
	const char *level_arg = NULL;
	static struct port_config cli_ports[MAX_CLI_PORTS];
	size_t ncli = 0;
	struct agent_config cfg = { 0 };
	bool self_check = false, check_config = false;
	enum log_level level;
	char err[CONFIG_ERR_MAX];
	int c, rc = 1;

	log_init();
	opterr = 0;	/* one message of ours, not getopt's naming argv[0] */
	while ((c = getopt_long(argc, argv, ":c:r:s:p:l:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'r':
			runtime_dir = optarg;
			break;
		case 's':
			state_dir = optarg;
			break;
		case 'p':
			if (ncli >= MAX_CLI_PORTS) {
				log_err("more than %d --port options", MAX_CLI_PORTS);
				return 2;
			}
			if (port_spec_parse(optarg, &cli_ports[ncli], err, sizeof(err)) < 0) {
				log_err("--port %s: %s", optarg, err);
				return 2;
			}
			ncli++;
			break;
		case 'l':
			level_arg = optarg;
			break;
		case OPT_SELF_CHECK:
			self_check = true;
			break;
		case OPT_CHECK_CONFIG:
			check_config = true;
			break;
		case 'V':
			printf("vdpa-agentd %s\n", VDPA_MIGRATE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			log_err("option '%s' needs a value", argv[optind - 1]);
			return try_help();
		default:
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				log_err("bad option '%.*s'", (int)strcspn(argv[optind - 1], "="),
					argv[optind - 1]);
			else
				log_err("unknown option '-%c'", optopt);
			return try_help();
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return try_help();
	}

	if (config_path && agent_config_load(config_path, &cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 2;
	}
	/* The command line overrides the file. */
	if (!level_arg)
		level_arg = cfg.log_level;
	if (level_arg) {
		/* The file's value was checked with its line when it was read. */
		if (log_level_from_string(level_arg, &level) < 0) {
			log_err("--log-level: '%s' is not err, warning, notice, info or debug",
				level_arg);
			rc = 2;
			goto out;
		}
		log_set_level(level);
	}
	if (!runtime_dir)
		runtime_dir = cfg.runtime_dir ? cfg.runtime_dir : DEFAULT_RUNTIME_DIR;
	if (!state_dir)
		state_dir = cfg.state_dir ? cfg.state_dir : DEFAULT_STATE_DIR;
	for (size_t i = 0; i < ncli; i++) {
		for (size_t j = 0; j < cfg.nports + i; j++) {
			const struct port_config *o = j < cfg.nports ? &cfg.ports[j] : &cli_ports[j - cfg.nports];
			if (strcmp(o->name, cli_ports[i].name) == 0 ||
			    strcmp(o->socket, cli_ports[i].socket) == 0) {
				log_err("--port %s: name or socket already used by port %s",
					cli_ports[i].name, o->name);
				rc = 2;
				goto out;
			}
		}
	}

	if (self_check) {
		rc = selfcheck_run(stdout, runtime_dir) == 0 ? 0 : 1;
		goto out;
	}
	if (check_config) {
		rc = check_ports(config_path, runtime_dir, &cfg, cli_ports, ncli);
		goto out;
	}
	rc = serve(config_path, runtime_dir, state_dir, &cfg, cli_ports, ncli);
out:
	agent_config_free(&cfg);
	return rc;
}
