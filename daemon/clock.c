/*
 * clock.c: see clock.h.
 */
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "log.h"

static int64_t	offset;

void
clock_init(void)
{
#ifdef CONSENTD_TEST_CLOCK
	const char *s = getenv("CONSENTD_TEST_CLOCK_OFFSET");
	char *end;

	if (s == NULL)
		return;
	offset = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0')
		fatalx("CONSENTD_TEST_CLOCK_OFFSET must be a number of seconds");
	log_warnx("test clock: %lld seconds from now", (long long)offset);
#endif
}

int64_t
clock_now(void)
{
	return (int64_t)time(NULL) + offset;
}
