/* fixture.h: reference-value fixtures for the unit tests (written by the python scripts in
 * tests/fixtures): sections of a header `name N` (or `layer I N`) followed by N values, '#' lines
 * are comments; and the comparisons of husky's float results with them. */
#ifndef HK_FIXTURE_H
#define HK_FIXTURE_H

#include <stddef.h>

#define FIXTURE_ABS_TOL 1e-5
#define FIXTURE_REL_TOL 1e-4

struct fixture_section {
    char name[32];
    size_t count, filled;
    double *v; /* count values */
};

/* Read the fixture at path (once per program); 0 with a message on stderr when it is malformed. */
int fixture_load(const char *path);

/* Free what fixture_load read. */
void fixture_free(void);

/* The section called name with exactly `want` values (want 0: any count), or NULL (a failed check). */
const struct fixture_section *fixture_section(const char *name, size_t want);

/* |got - ref| <= FIXTURE_ABS_TOL + FIXTURE_REL_TOL * |ref| */
int fixture_close(double got, double ref);

/* One check per array: how many values are out of tolerance, the first and the worst of them. */
void fixture_compare(const char *what, const float *got, const double *ref, size_t n);

/* Gradients can be small (conv2d's at most ~1e-4 in test_reference), so FIXTURE_ABS_TOL alone
 * would let a large relative error through. Per layer of m, also require |got - ref| <=
 * FIXTURE_SCALED_TOL * max|ref| over that layer's parameters (got and ref in the parameter
 * arena's layout; float32 arithmetic stays within ~2e-6 of it). */
#define FIXTURE_SCALED_TOL 1e-4
struct hk_model;
void fixture_compare_scaled(struct hk_model *m, const float *got, const double *ref);

#endif
