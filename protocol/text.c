// SPDX-License-Identifier: GPL-2.0-or-later
/* Cleaning outside text for messages (protocol/text.h). */
#include "protocol/text.h"

#include <stdint.h>
#include <string.h>

/* The length of the UTF-8 sequence a byte starts; 0 for one that starts none. */
static size_t utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;	/* a continuation byte, 0xc0, 0xc1, 0xf5.. */
}

/*
 * The cleaner: bytes [0, len) of s are the text (a NUL among them is a
 * control character like any other); a character that does not end
 * before max is left out whole.
 */
static void show(const unsigned char *s, size_t len, size_t max, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	if (cap == 0)
		return;
	while (i < len && i < max && o + 1 < cap) {
		size_t n = utf8_len(s[i]), k;

		if (n == 1) {
			out[o++] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
			i++;
			continue;
		}
		for (k = 1; n && k < n && i + k < len && (s[i + k] & 0xc0) == 0x80; k++)
			;
		if (n == 0 || k < n) {
			out[o++] = '?';	/* not a complete UTF-8 sequence */
			i++;
			continue;
		}
		if (i + n > max)
			break;		/* the character would be cut: leave it out */
		if (n == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f) {
			out[o++] = '?';	/* C1 control U+0080..U+009F */
			i += 2;
			continue;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
}

void text_show(const char *in, size_t max, char *out, size_t cap)
{
	const char *s = in ? in : "";

	/* A NUL ends the text; a character cut by max may end up to 3 bytes after it. */
	show((const unsigned char *)s, strnlen(s, max > SIZE_MAX - 3 ? SIZE_MAX : max + 3), max,
	     out, cap);
}

void text_show_n(const char *in, size_t len, char *out, size_t cap)
{
	show((const unsigned char *)in, len, len, out, cap);
}
