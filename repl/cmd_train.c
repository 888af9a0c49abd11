/* cmd_train.c: starting, resuming, checkpointing, watching and stopping a training run; the
 * history table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cluster.h"
#include "commands.h"
#include "progress.h"

static int parse_until(struct shell *sh, const struct hk_words *w, int i, struct hk_train_config *c)
{
    const char *v = w->w[i].value;
    const char *ops[] = {">=", "<=", ">", "<"};
    const enum hk_compare cmp[] = {HK_CMP_GE, HK_CMP_LE, HK_CMP_GT, HK_CMP_LT};
    for (int k = 0; k < 4; k++) {
        const char *at = strstr(v, ops[k]);
        if (!at)
            continue;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(at - v), v);
        c->until = hk_metric_find(name);
        if (c->until == HK_METRIC_COUNT || c->until == HK_METRIC_SECONDS || c->until == HK_METRIC_IMAGES_PER_S)
            return shell_error(sh, w, i, "until needs loss, accuracy, val_loss or val_accuracy, got '%s'", name);
        c->until_cmp = cmp[k];
        if (!hk_parse_float(at + strlen(ops[k]), &c->until_value))
            return shell_error(sh, w, i, "until needs a number after %s, got '%s'", ops[k], at + strlen(ops[k]));
        return 0;
    }
    return shell_error(sh, w, i, "until must look like val_accuracy>=0.99, got '%s'", v);
}

static int parse_class_weight(struct shell *sh, const struct hk_words *w, int i, struct hk_train_config *c)
{
    const char *v = w->w[i].value;
    if (!strcmp(v, "balanced")) {
        hk_train_balanced_weights(sh->train, c->class_weight);
        return 0;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", v);
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","), n++) {
        double x;
        if (n >= sh->train->class_count || !hk_parse_float(tok, &x) || x < 0)
            return shell_error(sh, w, i, "class_weight must be balanced or %d non-negative numbers W0,W1,...",
                               sh->train->class_count);
        c->class_weight[n] = (float)x;
    }
    if (n != sh->train->class_count)
        return shell_error(sh, w, i, "class_weight needs %d weights (one per class), got %d",
                           sh->train->class_count, n);
    return 0;
}

/* The checkpointer asked for by checkpoint=DIR and monitor=METRIC, in *out (NULL without
 * checkpoint=); a resumed run keeps its metric and best value. 0, or -1 after reporting. */
static int parse_checkpoint(struct shell *sh, const struct hk_words *w, const struct hk_train_config *c,
                            const struct hk_train_state *resume, struct hk_checkpoint **out)
{
    int at = arg_option(w, "checkpoint"), mat = arg_option(w, "monitor");
    *out = NULL;
    if (at < 0)
        return mat >= 0 ? shell_error(sh, w, mat, "monitor= chooses the best checkpoint; add checkpoint=DIR") : 0;
    enum hk_metric monitor = sh->val ? HK_METRIC_VAL_LOSS : HK_METRIC_LOSS;
    if (resume && resume->monitor != HK_METRIC_COUNT)
        monitor = resume->monitor;
    if (mat >= 0) {
        monitor = hk_metric_find(w->w[mat].value);
        if (monitor > HK_METRIC_VAL_ACCURACY)
            return shell_error(sh, w, mat, "monitor must be loss, accuracy, val_loss or val_accuracy, got '%s'",
                               w->w[mat].value);
    }
    if ((monitor == HK_METRIC_VAL_LOSS || monitor == HK_METRIC_VAL_ACCURACY) && !sh->val)
        return shell_error(sh, w, mat >= 0 ? mat : at, "monitor=%s needs a validation set; load one with: data val "
                           "FOLDER (or use monitor=loss)", hk_metric_name(monitor));
    struct hk_model_meta meta;
    hk_model_meta_init(&meta);
    meta.rescale = c->rescale;
    meta.extra = sh->kept.extra; /* a loaded file's provenance goes on into the checkpoints */
    meta.extra_count = sh->kept.extra_count;
    if (sh->train) {
        meta.class_names = sh->train->class_names;
        meta.class_count = sh->train->class_count;
    }
    struct hk_error err;
    *out = hk_checkpoint_new(w->w[at].value, monitor, &meta, &err);
    if (!*out)
        return shell_error(sh, w, at, "%s", err.msg);
    if (resume && resume->monitor == monitor && resume->has_best)
        hk_checkpoint_set_best(*out, resume->best);
    return 0;
}

/* Check and start a run with config c, from the position of resume (NULL: from the start), with
 * checkpointer cp (taken over, may be NULL). 0, or -1 after reporting. */
static int start_run(struct shell *sh, const struct hk_words *w, const struct hk_train_config *c,
                     const struct hk_train_state *resume, struct hk_checkpoint *cp)
{
    struct hk_error err;
    enum hk_status st = resume ? hk_train_state_check(resume, sh->model, sh->train, sh->val, &err)
                               : hk_train_check(sh->model, sh->train, sh->val, c, &err);
    if (st == HK_OK && resume && resume->nepochs != hk_history_epoch_count(sh->history))
        st = hk_fail(&err, HK_EINVAL, "the history has %zu epochs, the saved run %zu; load the file again",
                     hk_history_epoch_count(sh->history), resume->nepochs);
    if (st != HK_OK) {
        hk_checkpoint_free(cp);
        return shell_error(sh, w, 0, "%s", err.msg);
    }
    if (cluster_check_data(sh, w)) {
        hk_checkpoint_free(cp);
        return -1;
    }
    if (!cluster_is_writer()) { /* only rank 0 writes files */
        hk_checkpoint_free(cp);
        cp = NULL;
    }
    if (!sh->run && !(sh->run = calloc(1, sizeof *sh->run))) {
        hk_checkpoint_free(cp);
        return shell_error(sh, w, 0, "out of memory");
    }
    struct hk_train_setup setup = {
        .model = sh->model,
        .train = sh->train,
        .val = sh->val,
        .config = *c,
        .history = sh->history,
        .worker = sh->worker,
        .resume = resume ? &resume->pos : NULL,
        /* only rank 0 prints; elsewhere nobody would read the pipe and the worker would block on it */
        .progress = cluster_is_writer() ? progress_send : NULL,
        .progress_user = sh,
        .epoch_end = cp ? hk_checkpoint_write : NULL,
        .epoch_end_user = cp,
    };
    cluster_train_share(&setup.share);
    st = hk_train_start(sh->run, &setup, &err);
    if (st != HK_OK) {
        hk_checkpoint_free(cp);
        return shell_error(sh, w, st == HK_ENOMEM ? arg_option(w, "batch") : 0, "%s", err.msg);
    }
    hk_checkpoint_free(sh->checkpoint);
    sh->checkpoint = cp;
    shell_set_classes(sh, NULL, 0); /* the model learns the training set's classes now */
    shell_set_data_sha256(sh, NULL); /* and its data, which the run records */
    if (resume)
        shell_print(sh, "resuming at epoch %d of %d, batch %d", resume->pos.epoch + 1, c->epochs,
                    resume->pos.batch);
    else
        shell_print(sh, "training %d epochs", c->epochs);
    shell_print(sh, " on %zu pictures, batch %d%s%s%s (running in the background: status, stop, wait)\n",
                sh->train->count, c->batch, hk_augment_active(&c->augment) ? ", augmented" : "",
                sh->val ? ", validating after each epoch" : "", cp ? ", checkpointing" : "");
    /* the session's state now is this run's */
    hk_train_state_free(sh->resume);
    sh->resume = NULL;
    return 0;
}

/* Continue the run of training state s: its own options, except epochs= (more) and the
 * checkpoint. own_run: s is the session's own stopped run, whose checkpointer goes on. */
static int resume_from_state(struct shell *sh, const struct hk_words *w, int arg, const struct hk_train_state *s,
                             int own_run)
{
    static const char *const fixed[] = {"batch", "until", "class_weight"};
    for (int k = 0; k < 3; k++)
        if (arg_option(w, fixed[k]) >= 0)
            return shell_error(sh, w, arg_option(w, fixed[k]), "%s= cannot change when a run is resumed: an exact "
                               "resume uses the run's own options", fixed[k]);
    struct hk_train_config c = s->config;
    int at = arg_option(w, "epochs");
    if (at >= 0 && arg_int(sh, w, at, s->pos.epoch + 1, 1000000, &c.epochs))
        return -1;
    if (s->pos.epoch >= c.epochs)
        return shell_error(sh, w, at >= 0 ? at : arg, "the run already did its %d epochs; give more with epochs=N",
                           c.epochs);
    struct hk_checkpoint *cp;
    if (own_run && sh->checkpoint && arg_option(w, "checkpoint") < 0 && arg_option(w, "monitor") < 0) {
        cp = sh->checkpoint; /* the session's own run goes on checkpointing where it did */
        sh->checkpoint = NULL;
    } else if (parse_checkpoint(sh, w, &c, s, &cp)) {
        return -1;
    }
    sh->augment = c.augment; /* later predictions and runs use the run's preprocessing */
    sh->rescale = c.rescale;
    return start_run(sh, w, &c, s, cp);
}

/* train resume=yes and train resume FILE: continue the training state loaded with the model, or
 * else the session's own stopped run of this model. */
static int resume_run(struct shell *sh, const struct hk_words *w, int arg)
{
    if (sh->resume)
        return resume_from_state(sh, w, arg, sh->resume, 0);
    if (!sh->run || sh->run->model != sh->model || sh->run->status != HK_ECANCELLED)
        return shell_error(sh, w, arg_option(w, "resume"), "there is no stopped run to resume: load a model file "
                           "saved with training=yes (or a checkpoint), or use train resume FILE");
    struct hk_train_state *own = hk_checkpoint_capture(sh->checkpoint, sh->run); /* the worker is idle */
    if (!own)
        return shell_error(sh, w, 0, "out of memory");
    int rc = resume_from_state(sh, w, arg, own, 1);
    hk_train_state_free(own);
    return rc;
}

int cmd_train(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0) || shell_busy(sh, w))
        return -1;
    if (!sh->model)
        return shell_error(sh, w, 0, "no model yet; start one with: model new input=128x128x3");
    int resume = 0, at = arg_option(w, "resume");
    if (at >= 0 && arg_bool(sh, w, at, &resume))
        return -1;
    if (resume)
        return resume_run(sh, w, arg);
    struct hk_train_config c = hk_train_config_default();
    int cache = 1;
    c.seed = sh->seed;
    c.rescale = sh->rescale;
    c.augment = sh->augment;
    for (int i = arg; i < w->count; i++) {
        const char *k = w->w[i].key;
        int rc = 0;
        if (!strcmp(k, "epochs"))
            rc = arg_int(sh, w, i, 1, 1000000, &c.epochs);
        else if (!strcmp(k, "batch"))
            rc = arg_int(sh, w, i, 1, 65536, &c.batch);
        else if (!strcmp(k, "until"))
            rc = parse_until(sh, w, i, &c);
        else if (!strcmp(k, "class_weight"))
            rc = sh->train ? parse_class_weight(sh, w, i, &c) : 0;
        else if (!strcmp(k, "cache") && !(rc = arg_bool(sh, w, i, &cache)))
            c.no_cache = !cache;
        else if (!strcmp(k, "adversarial")) {
            c.adversarial = !strcmp(w->w[i].value, "fgsm") ? 1 : !strcmp(w->w[i].value, "pgd") ? 2 : -1;
            if (c.adversarial < 0)
                return shell_error(sh, w, i, "adversarial= is fgsm or pgd, got '%s'", w->w[i].value);
        } else if (!strcmp(k, "eps") && (!hk_parse_float(w->w[i].value, &c.adversarial_eps) ||
                                         !(c.adversarial_eps >= 0 && c.adversarial_eps <= 1)))
            return shell_error(sh, w, i, "eps must be from 0 to 1 (a share of the 0..255 pixel range, e.g. 8/255), "
                               "got '%s'", w->w[i].value);
        if (rc)
            return -1;
    }
    if (c.adversarial && arg_option(w, "eps") < 0)
        return shell_error(sh, w, w->count, "adversarial= needs eps=, e.g. adversarial=fgsm eps=8/255");
    if (!c.adversarial && arg_option(w, "eps") >= 0)
        return shell_error(sh, w, arg_option(w, "eps"), "eps= is for adversarial training: adversarial=fgsm|pgd eps=");
    struct hk_checkpoint *cp;
    if (parse_checkpoint(sh, w, &c, NULL, &cp))
        return -1;
    return start_run(sh, w, &c, NULL, cp);
}

int cmd_train_resume(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1) ||
        shell_busy(sh, w) || model_load_file(sh, w, arg))
        return -1;
    if (!sh->resume)
        return shell_error(sh, w, arg, "'%s' has no training state (it was saved without training=yes); it is "
                           "loaded, and train starts a new run", w->w[arg].text);
    return resume_run(sh, w, arg);
}

int cmd_status(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    struct hk_progress p = hk_history_progress(sh->history);
    if (!p.running || !hk_worker_busy(sh->worker)) {
        size_t n = hk_history_epoch_count(sh->history);
        shell_print(sh, "idle; %zu epoch%s trained so far", n, n == 1 ? "" : "s");
        if (sh->run && sh->run->step_seconds > 0)
            shell_print(sh, "; the last run waited for pictures %.1f%% of its step time",
                        100 * sh->run->data_wait_seconds / sh->run->step_seconds);
        shell_print(sh, "\n");
        return 0;
    }
    if (!p.batches) /* started; the worker has not begun the epoch yet */
        shell_print(sh, "starting: epoch %d/%d\n", p.epoch, p.epochs);
    else if (p.batch <= p.first_batch) /* no batch of this run's epoch is done: no loss to show yet */
        shell_print(sh, "training: epoch %d/%d, batch %d/%d\n", p.epoch, p.epochs, p.batch, p.batches);
    else
        shell_print(sh, "training: epoch %d/%d, batch %d/%d, loss %.4f, accuracy %.4f\n", p.epoch, p.epochs,
                    p.batch, p.batches, p.loss, p.accuracy);
    return 0;
}

int cmd_stop(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    if (!sh->run || !hk_worker_busy(sh->worker)) {
        shell_print(sh, "nothing is running\n");
        return 0;
    }
    atomic_store(&sh->run->stop, 1);
    shell_wait(sh);
    return 0;
}

int cmd_wait(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    shell_wait(sh);
    if (sh->run && sh->run->status != HK_OK && sh->run->status != HK_ECANCELLED) {
        sh->failed = 1;
        return -1;
    }
    return 0;
}

int cmd_history(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    size_t n;
    struct hk_epoch_record *r = hk_history_epochs(sh->history, &n);
    if (!r)
        return shell_error(sh, w, 0, "out of memory");
    shell_print(sh, "%5s", "epoch");
    for (int m = 0; m < HK_METRIC_COUNT; m++)
        shell_print(sh, " %13s", hk_metric_name((enum hk_metric)m));
    shell_print(sh, "\n");
    for (size_t i = 0; i < n; i++) {
        shell_print(sh, "%5d", r[i].epoch);
        for (int m = 0; m < HK_METRIC_COUNT; m++)
            shell_print(sh, " %13.4f", r[i].v[m]);
        shell_print(sh, "\n");
    }
    free(r);
    return 0;
}
