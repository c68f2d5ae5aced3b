// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Base64 (RFC 4648, standard alphabet, with padding) for binary data in the
 * JSON control protocol (dirty-log snapshots).  Pure functions; the decoder
 * treats its input as untrusted: any character outside the alphabet, bad
 * padding or a length that is not a multiple of 4 is refused.
 */
#ifndef VDPA_PROTOCOL_BASE64_H
#define VDPA_PROTOCOL_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed for len bytes, without the NUL. */
size_t b64_encoded_len(size_t len);
/* Writes b64_encoded_len(len) characters and a NUL into out. */
void b64_encode(const uint8_t *in, size_t len, char *out);
/*
 * Decodes slen characters into out (cap bytes).  Returns 0 and *ret_len, or
 * -EINVAL (not base64) / -ENOBUFS (out too small).
 */
int b64_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *ret_len);

#endif
