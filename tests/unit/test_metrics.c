/* test_metrics.c: the confusion matrix, accuracy, balanced accuracy, precision, recall, F1, ROC AUC
 * and the worst samples against reference values computed independently with numpy and scipy
 * (tests/fixtures/make_metrics_reference.py documents the cases and the format), including ties,
 * threshold changes, a one-class set and multi-class sets; then the error cases by hand.
 * Usage: test_metrics FIXTURE (tests/fixtures/metrics_reference.txt). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

#define MAX_N 1000
#define MAX_K 8

static int same(double got, double want)
{
    if (isnan(want))
        return isnan(got);
    return fabs(got - want) <= 1e-12;
}

static void check_binary(FILE *f, const char *name, size_t n, double threshold)
{
    static double score[MAX_N];
    static int label[MAX_N];
    static double p_true[MAX_N];
    for (size_t i = 0; i < n; i++)
        if (fscanf(f, "%lf %d", &score[i], &label[i]) != 2) {
            CHECK(0, "%s: short sample list", name);
            return;
        }
    unsigned long tp, fp, tn, fn;
    double want[6];
    int got_fields = fscanf(f, " expect %lu %lu %lu %lu %lf %lf %lf %lf %lf %lf", &tp, &fp, &tn, &fn, &want[0],
                            &want[1], &want[2], &want[3], &want[4], &want[5]);
    CHECK(got_fields == 10, "%s: expect line", name);

    struct hk_binary_metrics m;
    struct hk_error err;
    CHECK(hk_metrics_binary(score, label, n, threshold, &m, &err) == HK_OK, "%s: binary metrics", name);
    CHECK(m.n == n && m.tp == tp && m.fp == fp && m.tn == tn && m.fn == fn,
          "%s: confusion tp %zu fp %zu tn %zu fn %zu, want %lu %lu %lu %lu", name, m.tp, m.fp, m.tn, m.fn, tp, fp,
          tn, fn);
    const double got[5] = {m.accuracy, m.balanced_accuracy, m.precision, m.recall, m.f1};
    const char *what[5] = {"accuracy", "balanced accuracy", "precision", "recall", "F1"};
    for (int k = 0; k < 5; k++)
        CHECK(same(got[k], want[k]), "%s: %s %.17g, want %.17g", name, what[k], got[k], want[k]);

    double auc = -1;
    enum hk_status st = hk_metrics_roc_auc(score, label, n, &auc, &err);
    if (isnan(want[5]))
        CHECK(st == HK_EINVAL && strstr(err.msg, "undefined") && strstr(err.msg, "all"),
              "%s: one class must be an error naming why, got %d '%s'", name, (int)st, err.msg);
    else
        CHECK(st == HK_OK && same(auc, want[5]), "%s: AUC %.17g, want %.17g (%s)", name, auc, want[5],
              st == HK_OK ? "ok" : err.msg);

    unsigned long count;
    CHECK(fscanf(f, " worst %lu", &count) == 1 && count <= n, "%s: worst line", name);
    for (size_t i = 0; i < n; i++)
        p_true[i] = label[i] ? score[i] : 1.0 - score[i];
    size_t idx[MAX_N];
    size_t written = hk_metrics_worst(p_true, n, count, idx, &err);
    CHECK(written == count, "%s: worst wrote %zu, want %lu", name, written, count);
    for (size_t i = 0; i < count; i++) {
        unsigned long want_idx;
        CHECK(fscanf(f, "%lu", &want_idx) == 1, "%s: worst index %zu", name, i);
        CHECK(i >= written || idx[i] == want_idx, "%s: worst[%zu] = %zu, want %lu", name, i, idx[i], want_idx);
    }
}

static void check_multiclass(FILE *f, const char *name, size_t n, int k)
{
    static int truth[MAX_N], pred[MAX_N];
    for (size_t i = 0; i < n; i++)
        if (fscanf(f, "%d %d", &truth[i], &pred[i]) != 2) {
            CHECK(0, "%s: short sample list", name);
            return;
        }
    double want_acc, want_bal, want_recall[MAX_K];
    CHECK(fscanf(f, " expect %lf %lf recall", &want_acc, &want_bal) == 2, "%s: expect line", name);
    for (int c = 0; c < k; c++)
        CHECK(fscanf(f, "%lf", &want_recall[c]) == 1, "%s: recall %d", name, c);
    size_t cm[MAX_K * MAX_K];
    struct hk_error err;
    CHECK(hk_metrics_confusion(truth, pred, n, k, cm, &err) == HK_OK, "%s: confusion", name);
    CHECK(fscanf(f, " confusion") == 0, "%s: confusion line", name);
    for (int c = 0; c < k * k; c++) {
        unsigned long want;
        CHECK(fscanf(f, "%lu", &want) == 1 && cm[c] == want, "%s: cm[%d][%d] = %zu, want %lu", name, c / k, c % k,
              cm[c], want);
    }
    double acc, bal, recall[MAX_K];
    CHECK(hk_metrics_summary(cm, k, &acc, &bal, recall, &err) == HK_OK, "%s: summary", name);
    CHECK(same(acc, want_acc), "%s: accuracy %.17g, want %.17g", name, acc, want_acc);
    CHECK(same(bal, want_bal), "%s: balanced accuracy %.17g, want %.17g", name, bal, want_bal);
    for (int c = 0; c < k; c++)
        CHECK(same(recall[c], want_recall[c]), "%s: recall[%d] %.17g, want %.17g", name, c, recall[c],
              want_recall[c]);
}

static void check_fixture(const char *path)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f)
        return;
    char line[256];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        char name[64];
        unsigned long n;
        double threshold;
        int k;
        if (sscanf(line, "binary %63s %lu %lf", name, &n, &threshold) == 3 && n <= MAX_N) {
            check_binary(f, name, n, threshold);
            cases++;
        } else if (sscanf(line, "multiclass %63s %lu %d", name, &n, &k) == 3 && n <= MAX_N && k <= MAX_K) {
            check_multiclass(f, name, n, k);
            cases++;
        }
    }
    fclose(f);
    CHECK(cases == 14, "the fixture has %d cases, want 14", cases);
}

/* Hand-made cases: errors and the prediction rule. */
static void check_by_hand(void)
{
    struct hk_error err;
    struct hk_binary_metrics m;
    double auc, s[3] = {0.2, NAN, 0.9};
    int y[3] = {0, 1, 1};
    CHECK(hk_metrics_binary(s, y, 0, 0.5, &m, &err) == HK_EINVAL && strstr(err.msg, "no samples"),
          "no samples: '%s'", err.msg);
    CHECK(hk_metrics_roc_auc(s, y, 0, &auc, &err) == HK_EINVAL && strstr(err.msg, "no samples"),
          "AUC of no samples: '%s'", err.msg);
    CHECK(hk_metrics_roc_auc(s, y, 3, &auc, &err) == HK_EINVAL && strstr(err.msg, "sample 1"),
          "a NaN score names the sample: '%s'", err.msg);
    int none[2] = {0, 0};
    CHECK(hk_metrics_roc_auc((double[]){0.1, 0.7}, none, 2, &auc, &err) == HK_EINVAL &&
              strstr(err.msg, "all 2 samples are negative"),
          "all negative: '%s'", err.msg);

    size_t cm[4];
    CHECK(hk_metrics_confusion((int[]){0, 2}, (int[]){0, 1}, 2, 2, cm, &err) == HK_EINVAL &&
              strstr(err.msg, "sample 1"),
          "a label out of range names the sample: '%s'", err.msg);
    double acc, bal;
    size_t zero[4] = {0};
    CHECK(hk_metrics_summary(zero, 2, &acc, &bal, NULL, &err) == HK_EINVAL, "an empty matrix is an error");

    /* sigmoid: class 1 at or above the threshold; softmax: the first largest */
    float sig[4] = {0.49f, 0.5f, 0.51f, 0.9f};
    int pred[4];
    hk_metrics_predict(sig, 4, 1, 0.5, pred);
    CHECK(pred[0] == 0 && pred[1] == 1 && pred[2] == 1 && pred[3] == 1, "sigmoid at 0.5");
    hk_metrics_predict(sig, 4, 1, 0.6, pred);
    CHECK(pred[0] == 0 && pred[1] == 0 && pred[2] == 0 && pred[3] == 1, "sigmoid at 0.6");
    float soft[6] = {0.2f, 0.4f, 0.4f, 0.7f, 0.2f, 0.1f};
    hk_metrics_predict(soft, 2, 3, 0.5, pred);
    CHECK(pred[0] == 1 && pred[1] == 0, "softmax argmax, first of a tie: %d %d", pred[0], pred[1]);

    size_t idx[2];
    CHECK(hk_metrics_worst((double[]){0.3, 0.1}, 2, 5, idx, &err) == 2 && idx[0] == 1 && idx[1] == 0,
          "worst clamps the count to n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_metrics FIXTURE\n");
        return 2;
    }
    check_fixture(argv[1]);
    check_by_hand();
    return check_summary();
}
