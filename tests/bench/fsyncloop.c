/*
 * fsyncloop.c: the one-fsync-per-write rate of a file system, for the bench (see bench.py).
 *
 *   fsyncloop FILE SECONDS [RECORD_BYTES]
 *
 * Appends a record (default 200 bytes) to FILE and fsync()s after each, for SECONDS, then
 * prints one JSON object: writes, writes per second, and the latency of write+fsync.
 * FILE is created (truncated) and removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const uint64_t *v, size_t n, double p)
{
	return n ? (double)v[(size_t)(p * (double)(n - 1) + 0.5)] / 1000.0 : 0.0;
}

int
main(int argc, char **argv)
{
	size_t rec = 200, n = 0, cap = 4096;
	uint64_t t0, t1, now, *lat;
	double seconds;
	char *buf;
	int fd;

	if (argc < 3 || argc > 4 || (seconds = atof(argv[2])) <= 0 ||
	    (argc == 4 && (rec = (size_t)atol(argv[3])) == 0)) {
		fprintf(stderr, "usage: fsyncloop FILE SECONDS [RECORD_BYTES]\n");
		return 2;
	}
	if ((buf = malloc(rec)) == NULL || (lat = malloc(cap * sizeof *lat)) == NULL)
		return 1;
	memset(buf, 'r', rec);
	buf[rec - 1] = '\n';
	if ((fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0600)) == -1) {
		fprintf(stderr, "fsyncloop: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	t0 = now = now_ns();
	t1 = t0 + (uint64_t)(seconds * 1e9);
	while (now < t1) {
		uint64_t start = now;

		if (write(fd, buf, rec) != (ssize_t)rec || fsync(fd) == -1) {
			fprintf(stderr, "fsyncloop: %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		now = now_ns();
		if (n == cap && (lat = realloc(lat, (cap *= 2) * sizeof *lat)) == NULL)
			return 1;
		lat[n++] = now - start;
	}
	close(fd);
	unlink(argv[1]);
	qsort(lat, n, sizeof *lat, cmp_u64);
	printf("{\"writes\":%zu,\"seconds\":%.3f,\"writes_per_s\":%.1f,\"p50_us\":%.2f,"
	    "\"p99_us\":%.2f,\"record_bytes\":%zu}\n", n, (double)(now - t0) / 1e9,
	    (double)n / ((double)(now - t0) / 1e9), pct(lat, n, 0.5), pct(lat, n, 0.99), rec);
	free(lat);
	free(buf);
	return 0;
}
