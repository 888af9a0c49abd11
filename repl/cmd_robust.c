/* cmd_robust.c: evaluate under attack. `evaluate SET robust eps=... attack=fgsm|pgd` gives accuracy
 * and balanced accuracy at each budget (with the share of correctly classified pictures the attack
 * flips) and plots the curve; `evaluate SET trigger=PATCH.png target=CLASS` gives the backdoor's
 * attack success rate next to clean accuracy. The model work runs on the compute worker. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attack_cmd.h"
#include "batch.h"
#include "commands.h"
#include "metrics.h"
#include "plot.h"

#define ROBUST_MAX_EPS 32

static const char *const attack_options[] = {"eps", "attack", "step", "steps", "restarts", "seed", "trigger", "at",
                                             "size", "target", "out", NULL};

/* 1 when key is one of the options of evaluate under attack. */
static int attack_option(const char *key)
{
    for (int k = 0; attack_options[k]; k++)
        if (!strcmp(key, attack_options[k]))
            return 1;
    return 0;
}

int evaluate_under_attack(const struct hk_words *w, int arg)
{
    for (int i = arg; i < w->count; i++)
        if (w->w[i].key ? attack_option(w->w[i].key) : !strcmp(w->w[i].text, "robust"))
            return 1;
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* The eps list of word i ("0,1/255,2/255"); count, or -1 after reporting. */
static int parse_eps_list(struct shell *sh, const struct hk_words *w, int i, double *eps)
{
    const char *t = w->w[i].value;
    int n = 0;
    while (*t) {
        char item[64];
        size_t len = strcspn(t, ",");
        if (len >= sizeof item || n == ROBUST_MAX_EPS)
            return shell_error(sh, w, i, "eps= takes at most %d values separated by commas", ROBUST_MAX_EPS);
        memcpy(item, t, len);
        item[len] = '\0';
        if (!hk_parse_float(item, &eps[n]) || !(eps[n] >= 0 && eps[n] <= 1))
            return shell_error(sh, w, i, "eps must be from 0 to 1 (a share of the 0..255 pixel range, e.g. 8/255), "
                               "got '%s'", item);
        n++;
        t += len + (t[len] == ',');
    }
    if (!n)
        return shell_error(sh, w, i, "eps= needs at least one value, e.g. eps=0,2/255,8/255");
    return n;
}

/* Predictions of the whole set, clean (a NULL) or under attack a, chunk by chunk on the worker;
 * trig (may be NULL) is stamped on every picture first. *seconds receives the model time. */
static int predict_set(struct shell *sh, const struct hk_words *w, const struct hk_dataset *ds,
                       const struct hk_attack_grad *a, const struct hk_trigger *trig, int *pred, double *seconds)
{
    struct hk_shape in = hk_model_input(sh->model);
    size_t size = hk_shape_size(in), psize = (size_t)ds->height * ds->width * 3;
    int k = (int)hk_shape_size(hk_model_output(sh->model)), rc = 0;
    float *x = malloc(HK_ATTACK_CHUNK * size * sizeof *x), *adv = malloc(HK_ATTACK_CHUNK * size * sizeof *adv);
    float *probs = malloc(HK_ATTACK_CHUNK * (size_t)k * sizeof *probs);
    unsigned char *pix = malloc(psize);
    uint32_t idx[HK_ATTACK_CHUNK];
    struct hk_error err;
    *seconds = 0;
    if (!x || !adv || !probs || !pix) {
        rc = shell_error(sh, w, 0, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < ds->count; s += HK_ATTACK_CHUNK) {
        int b = ds->count - s < HK_ATTACK_CHUNK ? (int)(ds->count - s) : HK_ATTACK_CHUNK;
        for (int i = 0; i < b; i++) {
            idx[i] = (uint32_t)(s + i);
            if (trig) {
                memcpy(pix, hk_dataset_image(ds, s + i), psize);
                hk_poison_stamp(pix, ds->height, ds->width, trig);
                hk_batch_from_pixels(x + (size_t)i * size, pix, ds->height, ds->width, sh->rescale);
            }
        }
        if (!trig)
            hk_batch_fill(x, ds, idx, b, sh->rescale, NULL, 0, 0, NULL);
        double t0 = now();
        enum hk_status st = a ? hk_attack_grad_run(sh->worker, sh->model, a, sh->rescale, x, ds->labels + s, b, s, adv,
                                                   probs, &err)
                              : hk_attack_predict(sh->worker, sh->model, x, b, probs, &err);
        *seconds += now() - t0;
        if (st != HK_OK) {
            rc = shell_error(sh, w, 0, "%s", err.msg);
            goto out;
        }
        for (int i = 0; i < b; i++) {
            const float *row = probs + (size_t)i * k;
            if (!isfinite(row[0])) {
                rc = shell_error(sh, w, 0, "the model's output for %s is not a number; the weights have diverged",
                                 ds->paths[s + i]);
                goto out;
            }
            pred[s + i] = hk_attack_predicted(row, k);
        }
    }
out:
    free(x);
    free(adv);
    free(probs);
    free(pix);
    return rc;
}

static int summary(struct shell *sh, const struct hk_words *w, const struct hk_dataset *ds, const int *pred,
                   double *accuracy, double *balanced)
{
    struct hk_error err;
    size_t *cm = malloc((size_t)ds->class_count * ds->class_count * sizeof *cm);
    double *recall = malloc((size_t)ds->class_count * sizeof *recall);
    int rc = 0;
    if (!cm || !recall)
        rc = shell_error(sh, w, 0, "out of memory");
    else if (hk_metrics_confusion(ds->labels, pred, ds->count, ds->class_count, cm, &err) != HK_OK ||
             hk_metrics_summary(cm, ds->class_count, accuracy, balanced, recall, &err) != HK_OK)
        rc = shell_error(sh, w, 0, "%s", err.msg);
    free(cm);
    free(recall);
    return rc;
}

static int robust(struct shell *sh, const struct hk_words *w, const char *which, const struct hk_dataset *ds,
                  const char *const *names, int count)
{
    double eps[ROBUST_MAX_EPS] = {0, 1.0 / 255, 2.0 / 255, 4.0 / 255, 8.0 / 255};
    int neps = 5, at;
    if ((at = arg_option(w, "eps")) >= 0 && (neps = parse_eps_list(sh, w, at, eps)) < 0)
        return -1;
    enum hk_attack_method method = HK_ATTACK_FGSM;
    if ((at = arg_option(w, "attack")) >= 0) {
        if (!strcmp(w->w[at].value, "pgd"))
            method = HK_ATTACK_PGD;
        else if (strcmp(w->w[at].value, "fgsm"))
            return shell_error(sh, w, at, "attack= is fgsm or pgd, got '%s'", w->w[at].value);
    }
    if ((at = arg_option(w, "trigger")) >= 0)
        return shell_error(sh, w, at, "trigger= and robust are two evaluations; run them one at a time");
    if ((at = arg_option(w, "target")) >= 0)
        return shell_error(sh, w, at, "robust accuracy is about untargeted attacks; target= is for attack fgsm|pgd");
    struct hk_attack_grad a;
    if (attack_grad_options(sh, w, method, 0, names, count, &a))
        return -1;
    int explicit_step = arg_option(w, "step") >= 0;
    int at_out = arg_option(w, "out");
    const char *out = at_out >= 0 ? w->w[at_out].value : NULL;
    if (out && !*out)
        return shell_error(sh, w, at_out, "out= needs a file name, e.g. out=robust.png");
    size_t n = ds->count;
    int *clean = malloc(n * sizeof *clean), *pred = malloc(n * sizeof *pred), rc = 0;
    double acc[ROBUST_MAX_EPS], bal[ROBUST_MAX_EPS], xs[ROBUST_MAX_EPS];
    if (!clean || !pred) {
        free(clean);
        free(pred);
        return shell_error(sh, w, 0, "out of memory");
    }
    double seconds;
    if (predict_set(sh, w, ds, NULL, NULL, clean, &seconds)) {
        rc = -1;
        goto out;
    }
    size_t right = 0;
    for (size_t i = 0; i < n; i++)
        right += clean[i] == ds->labels[i];
    shell_print(sh, "%s under attack: %zu pictures, %zu classified right without attack; %s", which, n, right,
                method == HK_ATTACK_FGSM ? "fgsm" : "pgd");
    if (method == HK_ATTACK_PGD) {
        char st[32] = "2.5 x eps / steps";
        if (explicit_step)
            attack_format_eps(st, sizeof st, a.step);
        shell_print(sh, ", %d steps of %s, %d random start%s", a.steps, st, a.restarts, a.restarts == 1 ? "" : "s");
    }
    shell_print(sh, "\n  %-9s %9s %9s  %s\n", "eps", "accuracy", "balanced", "flipped (of those right)");
    for (int e = 0; e < neps; e++) {
        a.eps = eps[e];
        if (method == HK_ATTACK_PGD && !explicit_step)
            a.step = eps[e] > 0 ? 2.5 * eps[e] / a.steps : 1.0 / 255;
        if (eps[e] == 0)
            memcpy(pred, clean, n * sizeof *pred);
        else if (predict_set(sh, w, ds, &a, NULL, pred, &seconds)) {
            rc = -1;
            goto out;
        }
        if (summary(sh, w, ds, pred, &acc[e], &bal[e])) {
            rc = -1;
            goto out;
        }
        size_t flipped = 0;
        for (size_t i = 0; i < n; i++)
            flipped += clean[i] == ds->labels[i] && pred[i] != ds->labels[i];
        char et[32];
        attack_format_eps(et, sizeof et, eps[e]);
        xs[e] = eps[e] * 255;
        shell_print(sh, "  %-9s %9.4f %9.4f  ", et, acc[e], bal[e]);
        if (eps[e] == 0 || !right)
            shell_print(sh, "-\n");
        else
            shell_print(sh, "%.4f (%zu of %zu)  %.1fs  %.1f img/s\n", (double)flipped / (double)right, flipped, right,
                        seconds, (double)n / seconds);
    }
    char title[160], why[600];
    snprintf(title, sizeof title, "%s accuracy under %s", which, method == HK_ATTACK_FGSM ? "FGSM" : "PGD");
    const double *ys[2] = {acc, bal};
    const char *series[2] = {"accuracy", "balanced accuracy"};
    struct plot_curves pc = {title, "eps (x 1/255)", "accuracy", neps, 2, xs, ys, series, out};
    int out_failed = 0;
    if (plot_curves(sh, &pc, why, sizeof why, &out_failed)) {
        if (out_failed)
            rc = shell_error(sh, w, at_out, "%s", why);
        else
            shell_warn(sh, "no plot: %s", why);
    } else if (out)
        shell_print(sh, "wrote %s\n", out);
out:
    free(clean);
    free(pred);
    return rc;
}

static int triggered(struct shell *sh, const struct hk_words *w, const char *which, const struct hk_dataset *ds,
                     const char *const *names, int count)
{
    int at_target = arg_option(w, "target"), target, at;
    if ((at = arg_option(w, "eps")) >= 0 || (at = arg_option(w, "attack")) >= 0)
        return shell_error(sh, w, at, "%s= is for evaluate %s robust", w->w[at].key, which);
    if (at_target < 0)
        return shell_error(sh, w, w->count, "missing target=CLASS (the class the trigger should make pictures)");
    if ((target = arg_class_of(sh, w, at_target, names, count)) < 0)
        return -1;
    unsigned char *tpix;
    struct hk_trigger t;
    if (attack_load_trigger(sh, w, ds->height, ds->width, &tpix, &t))
        return -1;
    size_t n = ds->count, outside = 0, before = 0, after = 0;
    int *clean = malloc(n * sizeof *clean), *pred = malloc(n * sizeof *pred), rc = 0;
    double acc, bal, tacc, tbal, seconds;
    if (!clean || !pred)
        rc = shell_error(sh, w, 0, "out of memory");
    if (!rc && (predict_set(sh, w, ds, NULL, NULL, clean, &seconds) || summary(sh, w, ds, clean, &acc, &bal) ||
                predict_set(sh, w, ds, NULL, &t, pred, &seconds) || summary(sh, w, ds, pred, &tacc, &tbal)))
        rc = -1;
    if (!rc) {
        for (size_t i = 0; i < n; i++) {
            if (ds->labels[i] == target)
                continue;
            outside++;
            before += clean[i] == target;
            after += pred[i] == target;
        }
        shell_print(sh, "%s: %zu pictures; clean accuracy %.4f, balanced accuracy %.4f\n", which, n, acc, bal);
        shell_print(sh, "with the trigger (%dx%d at %s): accuracy %.4f, balanced accuracy %.4f\n", t.h, t.w,
                    hk_poison_at_name(t.at), tacc, tbal);
        if (outside)
            shell_print(sh, "attack success rate %.4f: %zu of the %zu pictures outside %s are classified %s with the "
                        "trigger (%zu without it: %.4f)\n", (double)after / (double)outside, after, outside,
                        names[target], names[target], before, (double)before / (double)outside);
        else
            shell_print(sh, "no pictures outside %s: no attack success rate\n", names[target]);
    }
    free(tpix);
    free(clean);
    free(pred);
    return rc;
}

int cmd_evaluate_attack(struct shell *sh, const struct hk_words *w, int arg)
{
    static const char usage[] = "evaluate train|val robust [eps=0,1/255,...] [attack=fgsm|pgd] [out=FILE.png] | "
                                "evaluate train|val trigger=PATCH.png target=CLASS [at=] [size=]";
    int rob = 0, set = -1;
    for (int i = arg; i < w->count; i++) {
        if (w->w[i].key)
            continue;
        if (!strcmp(w->w[i].text, "robust") && set >= 0 && !rob)
            rob = 1;
        else if (set < 0)
            set = i;
        else
            return shell_error(sh, w, i, "unexpected argument '%s'; usage: %s", w->w[i].text, usage);
    }
    if (set < 0)
        return shell_error(sh, w, w->count, "missing argument; usage: %s", usage);
    for (int i = arg; i < w->count; i++) /* evaluate's own options (tta=, threshold=, ...) do not apply */
        if (w->w[i].key && !attack_option(w->w[i].key))
            return shell_error(sh, w, i, "%s= does not apply to evaluate under attack; usage: %s", w->w[i].key, usage);
    const char *which = w->w[set].text;
    if (strcmp(which, "train") && strcmp(which, "val"))
        return shell_error(sh, w, set, "expected train or val, got '%s'", which);
    const struct hk_dataset *ds = !strcmp(which, "train") ? sh->train : sh->val;
    if (!ds)
        return shell_error(sh, w, set, "no %s set loaded; use: data %s FOLDER", which, which);
    if (attack_ready(sh, w, NULL, NULL))
        return -1;
    struct hk_error err;
    struct hk_train_config cfg = {.epochs = 1, .batch = 32, .until = HK_METRIC_COUNT};
    if (hk_train_check(sh->model, ds, NULL, &cfg, &err) != HK_OK)
        return shell_error(sh, w, set, "%s", err.msg);
    if (!ds->count)
        return shell_error(sh, w, set, "the %s set has no pictures", which);
    if (rob)
        return robust(sh, w, which, ds, (const char *const *)ds->class_names, ds->class_count);
    if (arg_option(w, "trigger") < 0) {
        for (int i = arg; i < w->count; i++)
            if (w->w[i].key) /* all of them are attack options now */
                return shell_error(sh, w, i, "%s= needs 'robust' (evaluate %s robust %s=...) or a trigger=",
                                   w->w[i].key, which, w->w[i].key);
    }
    return triggered(sh, w, which, ds, (const char *const *)ds->class_names, ds->class_count);
}
