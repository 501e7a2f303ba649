/*
 * clock.h: the time consentd lives by (unix seconds). Records, refusal windows and retention
 * read it here, so that tests can move it: a build with CONSENTD_TEST_CLOCK (build/
 * consentd-testclock, never installed) adds CONSENTD_TEST_CLOCK_OFFSET seconds from the
 * environment; every other build ignores that variable.
 */
#ifndef CONSENTD_CLOCK_H
#define CONSENTD_CLOCK_H

#include <stdint.h>

/* Read the offset, in a test-clock build; says so in the log. Call before any thread starts. */
void	 clock_init(void);
int64_t	 clock_now(void);

#endif
