/* audit.c: activations of a whole set on the worker, spectral-signature scores and activation
 * clustering. */
#include "audit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "rng.h"

#define AUDIT_CHUNK 32
#define AUDIT_ITERATIONS 100
#define AUDIT_CLUSTER_DIMS 10 /* Chen et al. reduce to 10 dimensions before clustering */

struct act_call {
    struct hk_model *m;
    const float *x;
    int n, layer;
    float *act;
    enum hk_status st;
    struct hk_error err;
};

static void act_on_worker(void *arg)
{
    struct act_call *c = arg;
    c->st = hk_model_forward(c->m, c->x, c->n, 0, 0, NULL, &c->err);
    if (c->st == HK_OK) {
        const struct hk_layer *l = hk_model_layer(c->m, c->layer);
        memcpy(c->act, l->y, (size_t)c->n * hk_shape_size(l->out) * sizeof *c->act);
    }
}

enum hk_status hk_audit_activations(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds,
                                    float rescale, int layer, float *act, struct hk_error *err)
{
    const struct hk_layer *l = hk_model_layer(m, layer);
    if (!l)
        return hk_fail(err, HK_EINVAL, "no layer %d", layer);
    size_t size = (size_t)ds->height * ds->width * 3, d = hk_shape_size(l->out);
    if (size != hk_shape_size(hk_model_input(m)))
        return hk_fail(err, HK_ESHAPE, "the set's pictures (%dx%d) are not the model's input", ds->height, ds->width);
    float *x = malloc(AUDIT_CHUNK * size * sizeof *x);
    if (!x)
        return hk_fail(err, HK_ENOMEM, "out of memory for an audit batch");
    uint32_t idx[AUDIT_CHUNK];
    enum hk_status st = HK_OK;
    for (size_t s = 0; s < ds->count && st == HK_OK; s += AUDIT_CHUNK) {
        int b = ds->count - s < AUDIT_CHUNK ? (int)(ds->count - s) : AUDIT_CHUNK;
        for (int i = 0; i < b; i++)
            idx[i] = (uint32_t)(s + i);
        hk_batch_fill(x, ds, idx, b, rescale, NULL, 0, 0, NULL);
        struct act_call c = {m, x, b, layer, act + s * d, HK_OK, {0}};
        hk_worker_call(wk, act_on_worker, &c);
        st = c.st;
        if (st != HK_OK && err)
            *err = c.err;
    }
    free(x);
    return st;
}

/* The mean of class c's rows into mean (d values); returns how many rows class c has. */
static size_t class_mean(const float *act, size_t n, int d, const int *labels, int c, double *mean)
{
    size_t count = 0;
    memset(mean, 0, (size_t)d * sizeof *mean);
    for (size_t i = 0; i < n; i++)
        if (labels[i] == c) {
            count++;
            for (int j = 0; j < d; j++)
                mean[j] += act[i * d + j];
        }
    for (int j = 0; j < d && count; j++)
        mean[j] /= (double)count;
    return count;
}

static double centred_dot(const float *row, const double *mean, const double *v, int d)
{
    double dot = 0;
    for (int j = 0; j < d; j++)
        dot += ((double)row[j] - mean[j]) * v[j];
    return dot;
}

/* The top k right singular vectors of class c's centred rows into basis (k x d), by power
 * iteration on R^T R without forming it (u = R v, v = R^T u), each kept orthogonal to the ones
 * before; every start is drawn from (class, vector), so the result is reproducible. nv: d values
 * of scratch. A direction with nothing left to explain stays zero. */
static void top_directions(const float *act, size_t n, int d, const int *labels, int c, const double *mean, int k,
                           double *basis, double *nv)
{
    for (int b = 0; b < k; b++) {
        double *v = basis + (size_t)b * d;
        struct hk_rng rng;
        hk_rng_derive(&rng, 0x61756469 /* "audi" */, (uint64_t)c, (uint64_t)b, 0);
        for (int j = 0; j < d; j++)
            v[j] = hk_rng_uniform(&rng, -1, 1);
        for (int it = 0; it < AUDIT_ITERATIONS; it++) {
            memset(nv, 0, (size_t)d * sizeof *nv);
            for (size_t i = 0; i < n; i++) {
                if (labels[i] != c)
                    continue;
                double dot = centred_dot(act + i * d, mean, v, d);
                for (int j = 0; j < d; j++)
                    nv[j] += ((double)act[i * d + j] - mean[j]) * dot;
            }
            for (int e = 0; e < b; e++) { /* deflate: drop the parts along the earlier vectors */
                const double *u = basis + (size_t)e * d;
                double dot = 0;
                for (int j = 0; j < d; j++)
                    dot += nv[j] * u[j];
                for (int j = 0; j < d; j++)
                    nv[j] -= dot * u[j];
            }
            double norm = 0;
            for (int j = 0; j < d; j++)
                norm += nv[j] * nv[j];
            norm = sqrt(norm);
            if (!(norm > 1e-12)) {
                memset(v, 0, (size_t)d * sizeof *v);
                break;
            }
            for (int j = 0; j < d; j++)
                v[j] = nv[j] / norm;
        }
    }
}

enum hk_status hk_audit_spectral(const float *act, size_t n, int d, const int *labels, int classes, double *score,
                                 struct hk_error *err)
{
    double *mean = malloc((size_t)d * sizeof *mean), *v = malloc((size_t)d * sizeof *v);
    double *nv = malloc((size_t)d * sizeof *nv);
    if (!mean || !v || !nv) {
        free(mean);
        free(v);
        free(nv);
        return hk_fail(err, HK_ENOMEM, "out of memory for the audit of %zu pictures", n);
    }
    for (size_t i = 0; i < n; i++)
        score[i] = 0;
    for (int c = 0; c < classes; c++) {
        if (class_mean(act, n, d, labels, c, mean) < 2)
            continue;
        top_directions(act, n, d, labels, c, mean, 1, v, nv);
        for (size_t i = 0; i < n; i++) {
            if (labels[i] != c)
                continue;
            double dot = centred_dot(act + i * d, mean, v, d);
            score[i] = dot * dot;
        }
    }
    free(mean);
    free(v);
    free(nv);
    return HK_OK;
}

static double dist2(const double *a, const double *b, int k)
{
    double s = 0;
    for (int j = 0; j < k; j++)
        s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
}

/* 2-means of m points of k values (Lloyd's iterations from the point farthest from the origin,
 * which is their mean, and the point farthest from that one); side[i] receives 0 or 1, cen the two
 * centroids (2 x k), count the two sizes. */
static void two_means(const double *p, size_t m, int k, int *side, double *cen, size_t count[2])
{
    size_t a = 0, b = 0;
    double zero[AUDIT_CLUSTER_DIMS] = {0};
    for (size_t i = 1; i < m; i++)
        a = dist2(p + i * k, zero, k) > dist2(p + a * k, zero, k) ? i : a;
    for (size_t i = 1; i < m; i++)
        b = dist2(p + i * k, p + a * k, k) > dist2(p + b * k, p + a * k, k) ? i : b;
    memcpy(cen, p + a * k, (size_t)k * sizeof *cen);
    memcpy(cen + k, p + b * k, (size_t)k * sizeof *cen);
    for (size_t i = 0; i < m; i++)
        side[i] = -1;
    for (int it = 0; it < AUDIT_ITERATIONS; it++) {
        int moved = 0;
        for (size_t i = 0; i < m; i++) {
            int s = dist2(p + i * k, cen + k, k) < dist2(p + i * k, cen, k);
            moved |= s != side[i];
            side[i] = s;
        }
        if (!moved)
            break;
        count[0] = count[1] = 0;
        memset(cen, 0, 2 * (size_t)k * sizeof *cen);
        for (size_t i = 0; i < m; i++) {
            count[side[i]]++;
            for (int j = 0; j < k; j++)
                cen[side[i] * k + j] += p[i * k + j];
        }
        for (int s = 0; s < 2; s++)
            for (int j = 0; j < k && count[s]; j++)
                cen[s * k + j] /= (double)count[s];
    }
    count[0] = count[1] = 0;
    for (size_t i = 0; i < m; i++)
        count[side[i]]++;
}

enum hk_status hk_audit_cluster(const float *act, size_t n, int d, const int *labels, int classes, double *score,
                                double *share, struct hk_error *err)
{
    int k = d < AUDIT_CLUSTER_DIMS ? d : AUDIT_CLUSTER_DIMS;
    double *mean = malloc((size_t)d * sizeof *mean), *basis = malloc((size_t)k * d * sizeof *basis);
    double *nv = malloc((size_t)d * sizeof *nv), *p = malloc((n ? n : 1) * (size_t)k * sizeof *p);
    size_t *rows = malloc((n ? n : 1) * sizeof *rows);
    int *side = malloc((n ? n : 1) * sizeof *side);
    enum hk_status st = HK_OK;
    if (!mean || !basis || !nv || !p || !rows || !side) {
        st = hk_fail(err, HK_ENOMEM, "out of memory for the audit of %zu pictures", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        score[i] = 0;
    for (int c = 0; c < classes; c++) {
        share[c] = 0;
        size_t m = class_mean(act, n, d, labels, c, mean);
        if (m < 2)
            continue;
        top_directions(act, n, d, labels, c, mean, k, basis, nv);
        m = 0;
        for (size_t i = 0; i < n; i++) {
            if (labels[i] != c)
                continue;
            rows[m] = i;
            for (int b = 0; b < k; b++)
                p[m * k + b] = centred_dot(act + i * d, mean, basis + (size_t)b * d, d);
            m++;
        }
        double cen[2 * AUDIT_CLUSTER_DIMS];
        size_t count[2];
        two_means(p, m, k, side, cen, count);
        int small = count[1] < count[0]; /* on a tie, cluster 0 */
        share[c] = (double)count[small] / (double)m;
        for (size_t i = 0; i < m; i++) /* > 0: nearer the smaller cluster's centre */
            score[rows[i]] =
                sqrt(dist2(p + i * k, cen + (1 - small) * k, k)) - sqrt(dist2(p + i * k, cen + small * k, k));
    }
out:
    free(mean);
    free(basis);
    free(nv);
    free(p);
    free(rows);
    free(side);
    return st;
}
