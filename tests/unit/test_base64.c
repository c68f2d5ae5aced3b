// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for protocol/base64.c: RFC 4648 vectors, round trips, refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/common/util.h"
#include "protocol/base64.h"

static void rfc4648_vectors(void **state)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					    "Zm9vYmFy" };
	char out[16];
	uint8_t back[16];
	size_t n;

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		b64_encode((const uint8_t *)in[i], strlen(in[i]), out);
		assert_string_equal(out, want[i]);
		assert_int_equal(b64_encoded_len(strlen(in[i])), strlen(want[i]));
		assert_int_equal(b64_decode(out, strlen(out), back, sizeof(back), &n), 0);
		assert_int_equal(n, strlen(in[i]));
		assert_memory_equal(back, in[i], n);
	}
}

static void binary_roundtrip(void **state)
{
	uint8_t in[1000], back[1000];
	char enc[1400];
	size_t n;

	(void)state;
	for (size_t len = 0; len < sizeof(in); len += 37) {
		for (size_t i = 0; i < len; i++)
			in[i] = (uint8_t)(i * 151 + len);
		b64_encode(in, len, enc);
		assert_int_equal(b64_decode(enc, strlen(enc), back, sizeof(back), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(back, in, len);
	}
}

static void refusals(void **state)
{
	static const char *const bad[] = { "Zg=", "Zg", "Z===", "Zg=a", "Zm9v!A==", "Zh==",
					   "Zm9=", "=Zm9", "Zm9vYg==Zm9v" };
	uint8_t out[16];
	size_t n;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(b64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n), -EINVAL);
	assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 5, &n), -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4648_vectors),
		cmocka_unit_test(binary_roundtrip),
		cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
