/* metrics.h: classification metrics from per-sample scores and true labels: the confusion matrix,
 * accuracy, balanced accuracy, per-class recall, and for one positive class precision, recall, F1
 * and ROC AUC (the Mann-Whitney statistic, ties counting one half). Pure functions; nothing here
 * touches a model. */
#ifndef HK_METRICS_H
#define HK_METRICS_H

#include <stddef.h>

#include "status.h"

/* The metrics of a binary decision about one positive class. A value that is undefined (a ratio
 * with a zero denominator) is NaN: precision when nothing is predicted positive, recall when no
 * sample is positive, F1 when there are no positives and none predicted. */
struct hk_binary_metrics {
    size_t n;                  /* samples */
    size_t tp, fp, tn, fn;     /* true/false positives, true/false negatives */
    double accuracy;           /* (tp + tn) / n */
    double balanced_accuracy;  /* mean of recall and specificity, over the classes that occur */
    double precision;          /* tp / (tp + fp) */
    double recall;             /* tp / (tp + fn), the true positive rate */
    double f1;                 /* 2 tp / (2 tp + fp + fn) */
};

/* Binary metrics: sample i is predicted positive when score[i] >= threshold, and is truly
 * positive when positive[i] != 0. HK_EINVAL when n is 0 or a score is NaN. */
enum hk_status hk_metrics_binary(const double *score, const int *positive, size_t n, double threshold,
                                 struct hk_binary_metrics *out, struct hk_error *err);

/* ROC AUC of the scores for the positive samples (higher score = more positive): the probability
 * that a random positive scores above a random negative, ties counting one half. Sorts a copy,
 * O(n log n). HK_EINVAL when n is 0, when only one class occurs (the AUC is undefined) or when a
 * score is NaN; HK_ENOMEM when the copy cannot be made. */
enum hk_status hk_metrics_roc_auc(const double *score, const int *positive, size_t n, double *auc,
                                  struct hk_error *err);

/* The k x k confusion matrix into cm (caller-owned, k*k counts; rows: true class, columns:
 * predicted): cm[truth[i] * k + pred[i]] counts. HK_EINVAL when a label is outside 0..k-1. */
enum hk_status hk_metrics_confusion(const int *truth, const int *pred, size_t n, int k, size_t *cm,
                                    struct hk_error *err);

/* From a k x k confusion matrix: accuracy, balanced accuracy (the mean recall over the classes that
 * occur), and each class's recall into recall[k] (NaN for a class with no samples; may be NULL).
 * HK_EINVAL when the matrix counts no samples. */
enum hk_status hk_metrics_summary(const size_t *cm, int k, double *accuracy, double *balanced_accuracy,
                                  double *recall, struct hk_error *err);

/* The predicted class of each of n rows of k probabilities: the first largest for k > 1; for one
 * sigmoid output (k = 1), class 1 when the output is >= threshold. */
void hk_metrics_predict(const float *probs, size_t n, int k, double threshold, int *pred);

/* The decision threshold on one sigmoid output that gives the best balanced accuracy on n samples:
 * out[i] the output, label[i] 0 or 1 (class 1 predicted when out >= the threshold). Candidates are
 * the midpoints between neighbouring distinct outputs (and 0.5 when it ties with the best); among
 * equally good ones the closest to 0.5 wins. *ba receives the balanced accuracy reached. HK_EINVAL
 * when a class is missing; HK_ENOMEM. */
enum hk_status hk_metrics_best_threshold(const float *out, const int *label, size_t n, double *threshold, double *ba,
                                         struct hk_error *err);

/* The indices of the `count` samples whose true class got the lowest probability, lowest first
 * (ties by index), into idx (caller-owned, count entries). p_true[i] is the probability the model
 * gave sample i's true class. Returns how many were written (min(count, n)); 0 with err set when
 * memory runs out. */
size_t hk_metrics_worst(const double *p_true, size_t n, size_t count, size_t *idx, struct hk_error *err);

#endif
