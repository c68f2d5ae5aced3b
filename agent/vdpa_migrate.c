/*
 * vdpa-migrate: the command line.  Commands are a table (name, function,
 * one-line help) that drives both dispatch and the usage text; only exact
 * names match.
 */
#include <stdio.h>
#include <string.h>

#include "agent/version.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "print this help" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vdpa-migrate COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("vdpa-migrate %s\n", VDPA_MIGRATE_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "vdpa-migrate: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
