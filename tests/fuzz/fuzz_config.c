// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the configuration file parser and the port SPEC parser
 * over arbitrary bytes.  An accepted SPEC must format back into a SPEC that
 * parses to the same port.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config cfg;
	struct port_config pc, pc2;
	char err[CONFIG_ERR_MAX], buf[1024];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (agent_config_parse("fuzz.conf", text, &cfg, err, sizeof(err)) == 0)
		agent_config_free(&cfg);
	if (port_spec_parse(text, &pc, err, sizeof(err)) == 0) {
		if (port_spec_format(&pc, buf, sizeof(buf)) > 0) {
			if (port_spec_parse(buf, &pc2, err, sizeof(err)) != 0 ||
			    memcmp(&pc, &pc2, sizeof(pc)) != 0)
				abort();
		}
	}
	free(text);
	return 0;
}
