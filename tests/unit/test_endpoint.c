/* Unit tests for agent/datapath/endpoint.c: null, loop and tap endpoints, RARP. */
#include <errno.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/datapath/endpoint.h"

static const uint8_t frame[64] = {
	0x52, 0x54, 0x00, 0x00, 0x00, 0x02,	/* dst */
	0x52, 0x54, 0x00, 0x00, 0x00, 0x01,	/* src */
	0x08, 0x00, 0x45,
};

static void null_drops(void **state)
{
	struct endpoint *ep;
	char err[128];
	uint8_t buf[128];

	(void)state;
	assert_int_equal(endpoint_open(PORT_ENDPOINT_NULL, NULL, 1, &ep, err, sizeof(err)), 0);
	assert_int_equal(endpoint_send(ep, 0, frame, sizeof(frame)), 0);
	assert_int_equal(endpoint_recv(ep, 0, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(endpoint_rx_fd(ep, 0), -1);
	assert_int_equal(endpoint_send(ep, 1, frame, sizeof(frame)), -EINVAL);
	endpoint_close(ep);
	endpoint_close(NULL);
}

static void loop_swaps_macs_and_bounds(void **state)
{
	struct endpoint *ep;
	char err[128];
	uint8_t buf[128];
	uint64_t v;
	unsigned n = 0;

	(void)state;
	assert_int_equal(endpoint_open(PORT_ENDPOINT_LOOP, NULL, 2, &ep, err, sizeof(err)), 0);
	/* Nothing waits: the eventfd is not readable. */
	assert_int_equal(read(endpoint_rx_fd(ep, 1), &v, sizeof(v)), -1);
	assert_int_equal(endpoint_send(ep, 1, frame, sizeof(frame)), 0);
	assert_int_equal(endpoint_recv(ep, 0, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(endpoint_recv(ep, 1, buf, sizeof(buf)), sizeof(frame));
	assert_memory_equal(buf, frame + 6, 6);
	assert_memory_equal(buf + 6, frame, 6);
	assert_memory_equal(buf + 12, frame + 12, sizeof(frame) - 12);
	assert_int_equal(endpoint_recv(ep, 1, buf, sizeof(buf)), -EAGAIN);

	/* Full queue: -EAGAIN, and every queued frame comes back in order. */
	while (endpoint_send(ep, 0, frame, 20 + n % 7) == 0)
		n++;
	assert_int_equal(n, ENDPOINT_LOOP_DEPTH);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(endpoint_recv(ep, 0, buf, sizeof(buf)), 20 + i % 7);
	assert_int_equal(endpoint_recv(ep, 0, buf, sizeof(buf)), -EAGAIN);
	endpoint_close(ep);
}

static void rarp_frame(void **state)
{
	const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
	uint8_t buf[60];

	(void)state;
	assert_int_equal(endpoint_build_rarp(mac, buf), 60);
	for (int i = 0; i < 6; i++)
		assert_int_equal(buf[i], 0xff);
	assert_memory_equal(buf + 6, mac, 6);
	assert_int_equal(buf[12], 0x80);
	assert_int_equal(buf[13], 0x35);
	assert_int_equal(buf[21], 3);
	assert_memory_equal(buf + 22, mac, 6);
	assert_memory_equal(buf + 32, mac, 6);
}

/* Root only (CI runs as root): a tap is created, and gone after close. */
static void tap_create(void **state)
{
	struct endpoint *ep;
	char err[128], name[IFNAMSIZ];
	uint8_t buf[128];

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(name, sizeof(name), "vdpat%d", (int)(getpid() % 100000));
	assert_int_equal(endpoint_open(PORT_ENDPOINT_TAP, name, 2, &ep, err, sizeof(err)), 0);
	assert_true(if_nametoindex(name) > 0);
	assert_true(endpoint_rx_fd(ep, 1) >= 0);
	/* The interface is down: nothing arrives. */
	assert_int_equal(endpoint_recv(ep, 0, buf, sizeof(buf)), -EAGAIN);
	endpoint_close(ep);
	assert_int_equal(if_nametoindex(name), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(null_drops),
		cmocka_unit_test(loop_swaps_macs_and_bounds),
		cmocka_unit_test(rarp_frame),
		cmocka_unit_test(tap_create),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
