/* bench_clock.h: what the benchmarks time with: one clock (wall by default, process CPU time with
 * clock=cpu) and the median of repeated runs. */
#ifndef HK_BENCH_CLOCK_H
#define HK_BENCH_CLOCK_H

#include <time.h>

/* The clock bench_now reads: CLOCK_MONOTONIC, or CLOCK_PROCESS_CPUTIME_ID for clock=cpu. */
extern clockid_t bench_clock;

/* Seconds on bench_clock. */
double bench_now(void);

/* The median of n values; sorts v in place. */
double bench_median(double *v, int n);

#endif
