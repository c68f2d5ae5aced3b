/* Unit tests for agent/common/config.c: port SPECs and the configuration file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/common/config.h"
#include "agent/common/util.h"

static void spec_minimal(void **state)
{
	struct port_config pc;
	char err[CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(port_spec_parse("name=p0,socket=/run/p0.sock", &pc, err, sizeof(err)), 0);
	assert_string_equal(pc.name, "p0");
	assert_string_equal(pc.socket, "/run/p0.sock");
	assert_int_equal(pc.backend, PORT_BACKEND_SW);
	assert_int_equal(pc.endpoint, PORT_ENDPOINT_NULL);
	assert_int_equal(pc.queues, 1);
	assert_false(pc.has_mac);
	assert_false(pc.has_mtu);
	assert_false(pc.poll);
}

static void spec_full_roundtrip(void **state)
{
	struct port_config pc, pc2;
	char err[CONFIG_ERR_MAX], buf[512];

	(void)state;
	assert_int_equal(port_spec_parse("name=vm1.net-0,socket=/tmp/s,backend=sw,endpoint=tap:vtap0,"
					 "mac=52:54:00:AB:cd:01,queues=8,mtu=9000,poll=on,"
					 "socket-group=libvirt-qemu,socket-mode=0660",
					 &pc, err, sizeof(err)), 0);
	assert_string_equal(pc.socket_group, "libvirt-qemu");
	assert_int_equal(pc.socket_mode, 0660);
	assert_int_equal(pc.endpoint, PORT_ENDPOINT_TAP);
	assert_string_equal(pc.ifname, "vtap0");
	assert_true(pc.has_mac);
	assert_int_equal(pc.mac[3], 0xab);
	assert_int_equal(pc.queues, 8);
	assert_int_equal(pc.mtu, 9000);
	assert_true(pc.poll);
	assert_true(port_spec_format(&pc, buf, sizeof(buf)) > 0);
	assert_int_equal(port_spec_parse(buf, &pc2, err, sizeof(err)), 0);
	assert_memory_equal(&pc, &pc2, sizeof(pc));
	assert_int_equal(port_spec_format(&pc, buf, 10), -ENOSPC);
}

struct bad { const char *spec; const char *why; };

static void spec_refusals(void **state)
{
	static const struct bad cases[] = {
		{ "socket=/s", "name: missing" },
		{ "name=p", "socket: missing" },
		{ "name=p,socket=run/p.sock", "socket: 'run/p.sock' is not an absolute path" },
		{ "name=p,socket=/s,queues=0", "queues: '0' is not a number in 1..8" },
		{ "name=p,socket=/s,queues=9", "queues: '9' is not a number in 1..8" },
		{ "name=p,socket=/s,queues=+2", "queues: '+2' is not a number in 1..8" },
		{ "name=p,socket=/s,queues=2x", "queues: '2x' is not a number in 1..8" },
		{ "name=p,socket=/s,mtu=67", "mtu: '67' is not a number in 68..65535" },
		{ "name=p,socket=/s,mtu=65536", "mtu: '65536' is not a number in 68..65535" },
		{ "name=p,socket=/s,mac=01:00:5e:00:00:01", "mac: '01:00:5e:00:00:01' is a multicast address" },
		{ "name=p,socket=/s,mac=00:00:00:00:00:00", "mac: the all-zero address is not usable" },
		{ "name=p,socket=/s,mac=52:54:00:12:34", "mac: '52:54:00:12:34' is not of the form 52:54:00:12:34:56" },
		{ "name=p,socket=/s,mac=52:54:00:12:34:5g", "mac: '52:54:00:12:34:5g' is not of the form 52:54:00:12:34:56" },
		{ "name=p,socket=/s,endpoint=tap:", "endpoint: '' is not a valid interface name (1-15 bytes, no '/', ':', ',' or spaces)" },
		{ "name=p,socket=/s,endpoint=tap:0123456789abcdef", "endpoint: '0123456789abcdef' is not a valid interface name (1-15 bytes, no '/', ':', ',' or spaces)" },
		{ "name=p,socket=/s,endpoint=udp", "endpoint: 'udp' is not tap:IFNAME, null or loop" },
		{ "name=p,socket=/s,backend=hw", "backend: 'hw' is not 'sw' or 'accel'" },
		{ "name=p,socket=/s,backend=accel", "device: missing (backend=accel needs device=vfio-user:PATH)" },
		{ "name=p,socket=/s,backend=accel,device=vfio:/sys/bus/mdev/devices/x", "device: 'vfio:/sys/bus/mdev/devices/x': kernel VFIO devices are not supported yet; use vfio-user:PATH" },
		{ "name=p,socket=/s,backend=accel,device=tcp:x", "device: 'tcp:x' is not vfio-user:PATH or vhost-vdpa:PATH" },
		{ "name=p,socket=/s,harvest-ms=0", "harvest-ms: '0' is not a number in 1..10000" },
		{ "name=p,socket=/s,dirty-tracking=log", "dirty-tracking: 'log' is not 'auto', 'device-log', 'relay' or 'software'" },
		{ "name=p,socket=/s,backend=accel,device=vhost-vdpa:/dev/v,dirty-tracking=relay,dirty-tracking=auto", "dirty-tracking: given twice" },
		{ "name=p,socket=/s,poll=yes", "poll: 'yes' is not 'on' or 'off'" },
		{ "name=p,socket=/s,colour=red", "unknown key 'colour' (name, socket, backend, device, harvest-ms, dirty-tracking, endpoint, mac, queues, mtu, poll, socket-group, socket-mode, bench-log)" },
		{ "name=p,socket=/s,socket-group=Kvm", "socket-group: 'Kvm' is not a group name ([a-z_][a-z0-9_-]*, at most 32 characters) or a numeric gid" },
		{ "name=p,socket=/s,socket-group=", "socket-group: '' is not a group name ([a-z_][a-z0-9_-]*, at most 32 characters) or a numeric gid" },
		{ "name=p,socket=/s,socket-group=a;b", "socket-group: 'a;b' is not a group name ([a-z_][a-z0-9_-]*, at most 32 characters) or a numeric gid" },
		{ "name=p,socket=/s,socket-mode=0400", "socket-mode: '0400' is not an octal mode in 0600..0777 (the owner must keep read and write)" },
		{ "name=p,socket=/s,socket-mode=0666x", "socket-mode: '0666x' is not an octal mode in 0600..0777 (the owner must keep read and write)" },
		{ "name=p,socket=/s,socket-mode=1777", "socket-mode: '1777' is not an octal mode in 0600..0777 (the owner must keep read and write)" },
		{ "name=p,socket=/s,socket-mode=0680", "socket-mode: '0680' is not an octal mode in 0600..0777 (the owner must keep read and write)" },
		{ "name=p,socket=/s,socket-mode=0660,socket-mode=0600", "socket-mode: given twice" },
		{ "name=p,socket=/s,queues", "'queues' is not KEY=VALUE" },
		{ "name=p,name=q,socket=/s", "name: given twice" },
		{ "name=-p,socket=/s", "name: '-p' is not 1-31 characters of [A-Za-z0-9_.-] not starting with '.' or '-'" },
		{ "name=a/b,socket=/s", "name: 'a/b' is not 1-31 characters of [A-Za-z0-9_.-] not starting with '.' or '-'" },
	};
	struct port_config pc;
	char err[CONFIG_ERR_MAX];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(err, 0, sizeof(err));
		assert_int_equal(port_spec_parse(cases[i].spec, &pc, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, cases[i].why);
	}
}

static void spec_socket_too_long(void **state)
{
	char spec[300], err[CONFIG_ERR_MAX];
	struct port_config pc;

	(void)state;
	snprintf(spec, sizeof(spec), "name=p,socket=/%0108d", 0);
	assert_int_equal(port_spec_parse(spec, &pc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "socket: path must be 1-107 bytes long");
}

static const char good_file[] =
	"# vdpa-agentd.conf\n"
	"[agent]\n"
	"runtime-dir = /run/x\n"
	"log-level = debug\n"
	"\n"
	"[port vm1]\n"
	"socket = /run/x/vm1.sock\n"
	"  endpoint = tap:t1   \n"
	"; comment\n"
	"queues = 2\n"
	"[port vm2]\n"
	"socket = /run/x/vm2.sock\n";

static void file_good(void **state)
{
	struct agent_config cfg;
	char err[CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(agent_config_parse("t.conf", good_file, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.runtime_dir, "/run/x");
	assert_null(cfg.state_dir);
	assert_string_equal(cfg.log_level, "debug");
	assert_int_equal(cfg.nports, 2);
	assert_string_equal(cfg.ports[0].name, "vm1");
	assert_string_equal(cfg.ports[0].ifname, "t1");
	assert_int_equal(cfg.ports[0].queues, 2);
	assert_string_equal(cfg.ports[1].socket, "/run/x/vm2.sock");
	/* Where each port was written: the daemon names it when it cannot serve it. */
	assert_int_equal(cfg.port_lines[0], 6);
	assert_int_equal(cfg.port_lines[1], 11);
	agent_config_free(&cfg);
	agent_config_free(NULL);
}

static void file_refusals(void **state)
{
	static const struct bad cases[] = {
		{ "[port a]\nsocket=/s\nqueues = 0\n", "c:3: [port a]: queues: '0' is not a number in 1..8" },
		{ "[port a]\nsocket=/s\nsocket=/t\n", "c:3: socket: given twice" },
		{ "[port a]\nqueues=2\n[port b]\nsocket=/t\n", "c:1: [port a]: socket: missing" },
		{ "[port a]\nsocket=/s\n[port a]\nsocket=/t\n", "c:3: port a is defined twice" },
		{ "[port a]\nsocket=/s\n[port b]\nsocket=/s\n", "c:3: [port b]: socket /s is also used by port a" },
		{ "socket=/s\n", "c:1: 'socket' outside a section" },
		{ "[ports a]\n", "c:1: unknown section [ports a] (expected [agent] or [port NAME])" },
		{ "[port a\n", "c:1: malformed section header" },
		{ "[agent]\nverbose = 1\n", "c:2: [agent]: unknown key 'verbose' (runtime-dir, state-dir, log-level)" },
		{ "[agent]\nstate-dir =\n", "c:2: state-dir: empty value" },
		{ "[port a]\nsocket /s\n", "c:2: expected KEY = VALUE or [section]" },
		{ "[port a]\nname = b\n", "c:2: the port's name is given by its section header" },
		{ "[port a]\nsocket = a.sock\n", "c:2: [port a]: socket: 'a.sock' is not an absolute path" },
		{ "[agent]\nlog-level = loud\n", "c:2: log-level: 'loud' is not err, warning, notice, info or debug" },
		{ "[port a b]\n", "c:1: name: 'a b' is not 1-31 characters of [A-Za-z0-9_.-] not starting with '.' or '-'" },
	};
	struct agent_config cfg;
	char err[CONFIG_ERR_MAX];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(err, 0, sizeof(err));
		assert_int_equal(agent_config_parse("c", cases[i].spec, &cfg, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, cases[i].why);
	}
}

static void file_load(void **state)
{
	char path[] = "/tmp/vdpa-test-conf-XXXXXX";
	struct agent_config cfg;
	char err[CONFIG_ERR_MAX];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, good_file, strlen(good_file)), (ssize_t)strlen(good_file));
	close(fd);
	assert_int_equal(agent_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nports, 2);
	agent_config_free(&cfg);
	unlink(path);
	assert_int_equal(agent_config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No such file or directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spec_minimal),
		cmocka_unit_test(spec_full_roundtrip),
		cmocka_unit_test(spec_refusals),
		cmocka_unit_test(spec_socket_too_long),
		cmocka_unit_test(file_good),
		cmocka_unit_test(file_refusals),
		cmocka_unit_test(file_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
