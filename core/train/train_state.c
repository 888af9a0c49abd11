/* train_state.c: capturing a run's state for a model file, checking it against the data before a
 * resume, restoring its history, and the training set's manifest hash. */
#include "train_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

void hk_train_state_free(struct hk_train_state *s)
{
    if (!s)
        return;
    free(s->epochs);
    free(s->batch_losses);
    free(s);
}

struct hk_train_state *hk_train_state_capture(const struct hk_train_run *run, enum hk_metric monitor,
                                              const double *best)
{
    struct hk_train_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->config = run->config;
    s->class_count = run->train ? run->train->class_count : 0;
    s->pos = run->pos;
    s->monitor = monitor;
    s->has_best = monitor != HK_METRIC_COUNT && best;
    s->best = s->has_best ? *best : 0;
    if (run->train) {
        s->images = run->train->count;
        hk_train_manifest(run->train, s->data_sha256);
    }
    s->epochs = hk_history_epochs(run->history, &s->nepochs);
    s->batch_losses = hk_history_batches(run->history, &s->nbatches);
    if (!s->epochs || !s->batch_losses) {
        hk_train_state_free(s);
        return NULL;
    }
    return s;
}

enum hk_status hk_train_state_restore_history(const struct hk_train_state *s, struct hk_history *h,
                                              struct hk_error *err)
{
    if (!hk_history_replace(h, s->epochs, s->nepochs, s->batch_losses, s->nbatches))
        return hk_fail(err, HK_ENOMEM, "out of memory restoring %zu epochs of history", s->nepochs);
    return HK_OK;
}

void hk_train_manifest(const struct hk_dataset *ds, char hex[65])
{
    struct hk_sha256 sha;
    hk_sha256_init(&sha);
    char line[64];
    int n = snprintf(line, sizeof line, "%dx%d %d\n", ds->height, ds->width, ds->class_count);
    hk_sha256_update(&sha, line, (size_t)n);
    for (int c = 0; c < ds->class_count; c++)
        hk_sha256_update(&sha, ds->class_names[c], strlen(ds->class_names[c]) + 1);
    size_t root = ds->root ? strlen(ds->root) : 0;
    for (size_t i = 0; i < ds->count; i++) {
        const char *path = ds->paths[i];
        if (root && strncmp(path, ds->root, root) == 0) {
            path += root; /* CLASS/FILE: the same set found through another path is the same */
            while (*path == '/')
                path++;
        }
        n = snprintf(line, sizeof line, "%d ", ds->labels[i]);
        hk_sha256_update(&sha, line, (size_t)n);
        hk_sha256_update(&sha, path, strlen(path) + 1);
    }
    unsigned char digest[HK_SHA256_BYTES];
    hk_sha256_final(&sha, digest);
    hk_sha256_hex(digest, hex);
}

enum hk_status hk_train_state_check(const struct hk_train_state *s, const struct hk_model *m,
                                    const struct hk_dataset *ds, const struct hk_dataset *val, struct hk_error *err)
{
    if (!ds || !ds->count)
        return hk_fail(err, HK_EINVAL, "no training pictures; load the run's training set with: data train FOLDER");
    if (ds->count != s->images)
        return hk_fail(err, HK_EINVAL, "the training set has %zu pictures but the run was on %zu; an exact resume "
                       "needs the same pictures", ds->count, s->images);
    char hex[65];
    hk_train_manifest(ds, hex);
    if (s->data_sha256[0] && strcmp(hex, s->data_sha256) != 0)
        return hk_fail(err, HK_EINVAL, "the training set's manifest is %.12s..., the run's was %.12s...: other "
                       "files, names, classes or picture size; an exact resume needs the same pictures", hex, s->data_sha256);
    if (ds->class_count != s->class_count)
        return hk_fail(err, HK_EINVAL, "the training set has %d classes, the run had %d", ds->class_count,
                       s->class_count);
    return hk_train_check(m, ds, val, &s->config, err);
}
