/*
 * string-copy.h: bounded string copies for the hot path, where snprintf's format parsing would be
 * the larger part of the cost.
 */
#ifndef CONSENTD_STRING_COPY_H
#define CONSENTD_STRING_COPY_H

#include <string.h>

/* Copy src (NULL: empty) into dst of size len, truncating; dst is always terminated. */
static inline void
string_copy(char *dst, size_t len, const char *src)
{
	size_t n = src != NULL ? strnlen(src, len - 1) : 0;

	memcpy(dst, src != NULL ? src : "", n);
	dst[n] = '\0';
}

#endif
