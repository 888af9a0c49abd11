/* metrics.c: confusion matrix, accuracy, balanced accuracy, precision, recall, F1 and ROC AUC
 * (Mann-Whitney U by mid-ranks over a sorted copy). */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct scored {
    double v;
    size_t i;  /* sample index; breaks ties so that sorting is deterministic */
};

static int by_value(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static double ratio(double num, double den)
{
    return den > 0 ? num / den : NAN;
}

static enum hk_status check_scores(const double *score, size_t n, struct hk_error *err)
{
    if (n == 0)
        return hk_fail(err, HK_EINVAL, "no samples to measure");
    for (size_t i = 0; i < n; i++)
        if (isnan(score[i]))
            return hk_fail(err, HK_EINVAL, "the score of sample %zu is not a number", i);
    return HK_OK;
}

enum hk_status hk_metrics_binary(const double *score, const int *positive, size_t n, double threshold,
                                 struct hk_binary_metrics *out, struct hk_error *err)
{
    enum hk_status st = check_scores(score, n, err);
    if (st != HK_OK)
        return st;
    struct hk_binary_metrics m = {.n = n};
    for (size_t i = 0; i < n; i++) {
        int predicted = score[i] >= threshold;
        if (positive[i])
            predicted ? m.tp++ : m.fn++;
        else
            predicted ? m.fp++ : m.tn++;
    }
    double tp = (double)m.tp, fp = (double)m.fp, tn = (double)m.tn, fn = (double)m.fn;
    m.accuracy = (tp + tn) / (double)n;
    m.precision = ratio(tp, tp + fp);
    m.recall = ratio(tp, tp + fn);
    m.f1 = ratio(2 * tp, 2 * tp + fp + fn);
    double specificity = ratio(tn, tn + fp);
    if (isnan(m.recall))
        m.balanced_accuracy = specificity;
    else if (isnan(specificity))
        m.balanced_accuracy = m.recall;
    else
        m.balanced_accuracy = (m.recall + specificity) / 2;
    *out = m;
    return HK_OK;
}

enum hk_status hk_metrics_roc_auc(const double *score, const int *positive, size_t n, double *auc,
                                  struct hk_error *err)
{
    enum hk_status st = check_scores(score, n, err);
    if (st != HK_OK)
        return st;
    size_t npos = 0;
    for (size_t i = 0; i < n; i++)
        npos += positive[i] != 0;
    if (npos == 0 || npos == n)
        return hk_fail(err, HK_EINVAL, "ROC AUC is undefined: all %zu samples are %s", n,
                       npos ? "positive" : "negative");
    struct scored *s = malloc(n * sizeof *s);
    if (!s)
        return hk_fail(err, HK_ENOMEM, "out of memory sorting %zu scores", n);
    for (size_t i = 0; i < n; i++)
        s[i] = (struct scored){score[i], i};
    qsort(s, n, sizeof *s, by_value);
    /* sum of the 1-based ranks of the positives, tied scores sharing their mean rank */
    double rank_sum = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a, pos_in_tie = 0;
        while (b < n && s[b].v == s[a].v)
            pos_in_tie += positive[s[b++].i] != 0;
        rank_sum += (double)pos_in_tie * ((double)(a + 1) + (double)b) / 2;
        a = b;
    }
    free(s);
    double p = (double)npos, q = (double)(n - npos);
    *auc = (rank_sum - p * (p + 1) / 2) / (p * q);
    return HK_OK;
}

enum hk_status hk_metrics_confusion(const int *truth, const int *pred, size_t n, int k, size_t *cm,
                                    struct hk_error *err)
{
    if (k < 1)
        return hk_fail(err, HK_EINVAL, "a confusion matrix needs at least one class, got %d", k);
    memset(cm, 0, (size_t)k * (size_t)k * sizeof *cm);
    for (size_t i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= k || pred[i] < 0 || pred[i] >= k)
            return hk_fail(err, HK_EINVAL, "sample %zu has class %d (true) / %d (predicted); the classes are 0 to %d",
                           i, truth[i], pred[i], k - 1);
        cm[(size_t)truth[i] * (size_t)k + (size_t)pred[i]]++;
    }
    return HK_OK;
}

enum hk_status hk_metrics_summary(const size_t *cm, int k, double *accuracy, double *balanced_accuracy,
                                  double *recall, struct hk_error *err)
{
    size_t total = 0, correct = 0;
    double recall_sum = 0;
    int present = 0;
    for (int t = 0; t < k; t++) {
        size_t row = 0;
        for (int p = 0; p < k; p++)
            row += cm[(size_t)t * (size_t)k + (size_t)p];
        size_t hit = cm[(size_t)t * (size_t)k + (size_t)t];
        double r = ratio((double)hit, (double)row);
        if (recall)
            recall[t] = r;
        if (row) {
            recall_sum += r;
            present++;
        }
        total += row;
        correct += hit;
    }
    if (total == 0)
        return hk_fail(err, HK_EINVAL, "no samples to measure");
    *accuracy = (double)correct / (double)total;
    *balanced_accuracy = recall_sum / present;
    return HK_OK;
}

void hk_metrics_predict(const float *probs, size_t n, int k, double threshold, int *pred)
{
    for (size_t i = 0; i < n; i++) {
        const float *row = probs + i * (size_t)k;
        int best = 0;
        if (k == 1)
            best = (double)row[0] >= threshold;
        else
            for (int j = 1; j < k; j++)
                best = row[j] > row[best] ? j : best;
        pred[i] = best;
    }
}

size_t hk_metrics_worst(const double *p_true, size_t n, size_t count, size_t *idx, struct hk_error *err)
{
    if (count > n)
        count = n;
    if (count == 0)
        return 0;
    struct scored *s = malloc(n * sizeof *s);
    if (!s) {
        hk_fail(err, HK_ENOMEM, "out of memory sorting %zu samples", n);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = (struct scored){isnan(p_true[i]) ? -INFINITY : p_true[i], i};
    qsort(s, n, sizeof *s, by_value);
    for (size_t i = 0; i < count; i++)
        idx[i] = s[i].i;
    free(s);
    return count;
}

struct thr_scored {
    float out;
    int label;
};

static int by_thr_output(const void *a, const void *b)
{
    float x = ((const struct thr_scored *)a)->out, y = ((const struct thr_scored *)b)->out;
    return (x > y) - (x < y);
}

enum hk_status hk_metrics_best_threshold(const float *out, const int *label, size_t n, double *threshold, double *ba,
                                         struct hk_error *err)
{
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += label[i] == 1;
    if (!pos || pos == n)
        return hk_fail(err, HK_EINVAL, "choosing a threshold needs pictures of both classes; the set has %s",
                       pos ? "only class 1" : "no class 1");
    struct thr_scored *s = malloc(n * sizeof *s);
    if (!s)
        return hk_fail(err, HK_ENOMEM, "out of memory for %zu outputs", n);
    for (size_t i = 0; i < n; i++)
        s[i] = (struct thr_scored){out[i], label[i] == 1};
    qsort(s, n, sizeof *s, by_thr_output);
    /* threshold between s[i-1] and s[i]: samples i.. are predicted class 1 */
    size_t neg = n - pos, tn = 0, fn = 0;
    double best = -1, best_t = 0.5;
    for (size_t i = 0; i <= n; i++) {
        if (i == 0 || i == n || s[i].out != s[i - 1].out) {
            double t = i == 0 ? (double)s[0].out - 1e-6 : i == n ? (double)s[n - 1].out + 1e-6
                                                               : 0.5 * ((double)s[i - 1].out + (double)s[i].out);
            double b = 0.5 * ((double)(pos - fn) / (double)pos + (double)tn / (double)neg);
            if (b > best + 1e-12 || (fabs(b - best) <= 1e-12 && fabs(t - 0.5) < fabs(best_t - 0.5))) {
                best = b;
                best_t = t;
            }
        }
        if (i < n) {
            tn += !s[i].label;
            fn += s[i].label;
        }
    }
    free(s);
    *threshold = best_t;
    *ba = best;
    return HK_OK;
}
