/* checkpoint.c: last.hkm after every epoch and at a stop, best.hkm when the monitored metric
 * improves; each a full-state model file written atomically by hk_modelfile_save. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup */
#endif
#include "checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


struct hk_checkpoint {
    char *last, *best_path;     /* DIR/last.hkm, DIR/best.hkm */
    enum hk_metric monitor;
    int has_best;
    double best;
    struct hk_model_meta meta;  /* class names, rescale, provenance */
};

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int hk_checkpoint_mode_max(enum hk_metric monitor)
{
    const char *name = hk_metric_name(monitor);
    return name && strstr(name, "acc") != NULL;
}

struct hk_checkpoint *hk_checkpoint_new(const char *dir, enum hk_metric monitor, const struct hk_model_meta *meta,
                                        struct hk_error *err)
{
    if (monitor != HK_METRIC_LOSS && monitor != HK_METRIC_ACCURACY && monitor != HK_METRIC_VAL_LOSS &&
        monitor != HK_METRIC_VAL_ACCURACY) {
        hk_fail(err, HK_EINVAL, "a checkpoint can watch loss, accuracy, val_loss or val_accuracy");
        return NULL;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0777) != 0) {
            hk_fail(err, HK_EIO, "cannot create checkpoint folder '%s': %s", dir, strerror(errno));
            return NULL;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        hk_fail(err, HK_EIO, "checkpoint folder '%s' is not a folder", dir);
        return NULL;
    }
    struct hk_checkpoint *cp = calloc(1, sizeof *cp);
    if (!cp || !(cp->last = join(dir, HK_CHECKPOINT_LAST)) || !(cp->best_path = join(dir, HK_CHECKPOINT_BEST))) {
        hk_checkpoint_free(cp);
        hk_fail(err, HK_ENOMEM, "out of memory");
        return NULL;
    }
    cp->monitor = monitor;
    hk_model_meta_init(&cp->meta);
    if (meta) {
        enum hk_status s = hk_model_meta_set_classes(&cp->meta, (const char *const *)meta->class_names,
                                                     meta->class_count, err);
        for (int i = 0; s == HK_OK && i < meta->extra_count; i++)
            s = hk_model_meta_set_extra(&cp->meta, meta->extra[i].key, meta->extra[i].value, err);
        if (s == HK_OK && meta->data_sha256)
            s = hk_model_meta_set_extra(&cp->meta, "data_sha256", meta->data_sha256, err);
        if (s == HK_OK && meta->script && !(cp->meta.script = strdup(meta->script)))
            s = hk_fail(err, HK_ENOMEM, "out of memory");
        if (s != HK_OK) {
            hk_checkpoint_free(cp);
            return NULL;
        }
        cp->meta.rescale = meta->rescale;
    }
    return cp;
}

void hk_checkpoint_free(struct hk_checkpoint *cp)
{
    if (!cp)
        return;
    free(cp->last);
    free(cp->best_path);
    hk_model_meta_free(&cp->meta);
    free(cp);
}

enum hk_metric hk_checkpoint_monitor(const struct hk_checkpoint *cp)
{
    return cp->monitor;
}

int hk_checkpoint_best(const struct hk_checkpoint *cp, double *best)
{
    *best = cp->best;
    return cp->has_best;
}

void hk_checkpoint_set_best(struct hk_checkpoint *cp, double best)
{
    cp->best = best;
    cp->has_best = 1;
}

/* best.hkm as a second name of the last.hkm just written (the next save of last.hkm replaces that
 * name with a new file and leaves best.hkm alone): a link made under a temporary name and renamed
 * over best.hkm, so best.hkm too is always a complete file. 0 when the folder cannot link. */
static int link_best(struct hk_checkpoint *cp)
{
    size_t n = strlen(cp->best_path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return 0;
    snprintf(tmp, n, "%s.tmp.link", cp->best_path);
    unlink(tmp);
    int ok = link(cp->last, tmp) == 0 && rename(tmp, cp->best_path) == 0;
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok;
}

struct hk_train_state *hk_checkpoint_capture(const struct hk_checkpoint *cp, const struct hk_train_run *run)
{
    if (!cp)
        return hk_train_state_capture(run, HK_METRIC_COUNT, NULL);
    return hk_train_state_capture(run, cp->monitor, cp->has_best ? &cp->best : NULL);
}

enum hk_status hk_checkpoint_write(void *user, struct hk_train_run *run, const struct hk_epoch_record *rec,
                                   struct hk_error *err)
{
    struct hk_checkpoint *cp = user;
    int improved = 0;
    if (rec) {
        double v = rec->v[cp->monitor];
        improved = !isnan(v) && (!cp->has_best || (hk_checkpoint_mode_max(cp->monitor) ? v > cp->best : v < cp->best));
        if (improved)
            hk_checkpoint_set_best(cp, v);
    }
    struct hk_train_state *state = hk_checkpoint_capture(cp, run);
    if (!state)
        return hk_fail(err, HK_ENOMEM, "out of memory writing a checkpoint");
    cp->meta.training = state;
    char *data = cp->meta.data_sha256;
    cp->meta.data_sha256 = state->data_sha256[0] ? state->data_sha256 : data; /* the manifest of the run's data */
    unsigned sections = HK_MODELFILE_STATE_OPTIMIZER | HK_MODELFILE_STATE_TRAINING;
    enum hk_status st = hk_modelfile_save(cp->last, run->model, &cp->meta, sections, err);
    if (st == HK_OK && improved && !link_best(cp))
        st = hk_modelfile_save(cp->best_path, run->model, &cp->meta, sections, err);
    cp->meta.training = NULL;
    cp->meta.data_sha256 = data;
    hk_train_state_free(state);
    return st;
}
