/* fixture.c: reading reference-value fixtures and comparing results with them (fixture.h). */
#include "fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"

#define MAX_SECTIONS 40

static struct fixture_section sections[MAX_SECTIONS];
static int nsections;

int fixture_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 0;
    }
    char line[256];
    int lineno = 0, ok = 1;
    struct fixture_section *cur = NULL;
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line + strspn(line, " \t");
        if (*s == '#' || *s == '\n' || *s == '\0')
            continue;
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
            char word[16];
            int idx = -1, used = 0;
            unsigned long n;
            if (sscanf(s, "layer %d %lu", &idx, &n) == 2)
                used = 1;
            else if (sscanf(s, "%15s %lu", word, &n) != 2)
                used = -1;
            if (used < 0 || nsections == MAX_SECTIONS || (cur && cur->filled != cur->count) || n > 1000000) {
                fprintf(stderr, "%s:%d: unexpected header (or previous section short)\n", path, lineno);
                ok = 0;
                break;
            }
            cur = &sections[nsections++];
            if (used)
                snprintf(cur->name, sizeof cur->name, "layer %d", idx);
            else
                snprintf(cur->name, sizeof cur->name, "%s", word);
            cur->count = n;
            cur->filled = 0;
            cur->v = calloc(n ? n : 1, sizeof *cur->v);
            ok = cur->v != NULL;
            continue;
        }
        char *end;
        double v = strtod(s, &end);
        if (!cur || end == s || cur->filled == cur->count) {
            fprintf(stderr, "%s:%d: value outside a section or too many values\n", path, lineno);
            ok = 0;
            break;
        }
        cur->v[cur->filled++] = v;
    }
    fclose(f);
    if (ok && cur && cur->filled != cur->count) {
        fprintf(stderr, "%s: section %s has %zu of %zu values\n", path, cur->name, cur->filled, cur->count);
        ok = 0;
    }
    return ok;
}

void fixture_free(void)
{
    for (int i = 0; i < nsections; i++)
        free(sections[i].v);
    nsections = 0;
}

const struct fixture_section *fixture_section(const char *name, size_t want)
{
    for (int i = 0; i < nsections; i++)
        if (strcmp(sections[i].name, name) == 0) {
            CHECK(!want || sections[i].count == want, "fixture section %s has %zu values, expected %zu", name,
                  sections[i].count, want);
            return !want || sections[i].count == want ? &sections[i] : NULL;
        }
    CHECK(0, "fixture has no section %s", name);
    return NULL;
}

int fixture_close(double got, double ref)
{
    return fabs(got - ref) <= FIXTURE_ABS_TOL + FIXTURE_REL_TOL * fabs(ref);
}

void fixture_compare(const char *what, const float *got, const double *ref, size_t n)
{
    size_t bad = 0, first = 0, worst = 0;
    double worst_diff = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - ref[i]);
        if (!(d <= worst_diff)) { /* also catches NaN */
            worst_diff = d;
            worst = i;
        }
        if (!fixture_close(got[i], ref[i]) && bad++ == 0)
            first = i;
    }
    CHECK(bad == 0,
          "%s: %zu of %zu values differ from the reference (tolerance %g + %g*|ref|); first at [%zu]: husky %.9g, "
          "reference %.9g; largest difference %.3g at [%zu]: husky %.9g, reference %.9g",
          what, bad, n, FIXTURE_ABS_TOL, FIXTURE_REL_TOL, first, (double)got[first], ref[first], worst_diff, worst,
          (double)got[worst], ref[worst]);
}


void fixture_compare_scaled(struct hk_model *m, const float *got, const double *ref)
{
    size_t off = 0;
    for (int i = 0; i < hk_model_count(m); i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        size_t n = l->wcount + l->bcount, worst = off;
        double scale = 0, worst_diff = 0;
        for (size_t j = off; j < off + n; j++)
            scale = fabs(ref[j]) > scale ? fabs(ref[j]) : scale;
        for (size_t j = off; j < off + n; j++) {
            double d = fabs(got[j] - ref[j]);
            if (!(d <= worst_diff)) {
                worst_diff = d;
                worst = j;
            }
        }
        if (n)
            CHECK(worst_diff <= FIXTURE_SCALED_TOL * scale,
                  "gradient of %s (params [%zu, %zu)): largest difference %.3g at [%zu] (husky %.9g, reference "
                  "%.9g) is over %g of the layer's largest gradient %.3g",
                  l->name, off, off + n, worst_diff, worst, (double)got[worst], ref[worst], FIXTURE_SCALED_TOL, scale);
        off += n;
    }
}
