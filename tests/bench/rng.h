/*
 * rng.h: splitmix64, the bench tools' random numbers: small, fast, well mixed (so that a
 * number modulo a range hits it evenly), and the same sequence everywhere for a seed.
 */
#ifndef CONSENTD_BENCH_RNG_H
#define CONSENTD_BENCH_RNG_H

#include <stdint.h>

static inline uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
