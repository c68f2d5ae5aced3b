/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Text that came from outside -- a peer agent, QEMU, libvirt, a domain
 * document -- made safe to print: the one cleaner every message uses.
 */
#ifndef VDPA_PROTOCOL_TEXT_H
#define VDPA_PROTOCOL_TEXT_H

#include <stddef.h>

/*
 * Text from outside for a one-line message:
 * at most max bytes of in (NULL is ""), at most cap - 1 bytes out,
 * NUL-terminated.  Every control character -- C0 (bytes < 0x20), DEL and
 * the UTF-8 C1 controls U+0080..U+009F (0xC2 0x80..0x9F) -- becomes '?',
 * and so does a byte that is not part of a complete UTF-8 sequence; a
 * multibyte character is never cut in half (it is left out whole when it
 * does not fit).  The output is valid UTF-8 without control characters.
 */
void text_show(const char *in, size_t max, char *out, size_t cap);

/*
 * The same for exactly len bytes of in, a NUL among them shown as '?' (a
 * JSON string may hold one): what a peer's reply members go through.
 */
void text_show_n(const char *in, size_t len, char *out, size_t cap);

#endif
