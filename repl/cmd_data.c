/* cmd_data.c: loading picture sets (data train/val/info/split), the checks on them (duplicates
 * at load, data manifest/verify, data limits) and the augmentation settings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment_show.h"
#include "commands.h"
#include "manifest.h"
#include "progress.h"

#define DUPLICATES_LISTED 10    /* pairs of equal pictures named at load */
#define DIFFERENCES_LISTED 20   /* differences named per kind by data verify */

/* Warn about pictures that are in both sets or in two classes (same pixels after resize). */
static void warn_duplicates(struct shell *sh)
{
    const struct hk_dataset *sets[2] = {sh->train, sh->val};
    static const char *const names[2] = {"train", "val"};
    if (sh->train && sh->val && (sh->train->width != sh->val->width || sh->train->height != sh->val->height))
        sets[1] = NULL;
    struct hk_duplicate pairs[DUPLICATES_LISTED];
    struct hk_duplicate_counts c;
    size_t listed;
    struct hk_error err;
    if (hk_dataset_duplicates(sets, 2, pairs, DUPLICATES_LISTED, &listed, &c, &err) != HK_OK) {
        shell_warn(sh, "duplicate check skipped: %s", err.msg);
        return;
    }
    if (!c.cross_set && !c.cross_class)
        return;
    shell_warn(sh, "the same picture (equal pixels at %dx%d) is in more than one split or class: %zu pair%s across "
               "train and val, %zu across classes", sh->train ? sh->train->height : sh->val->height,
               sh->train ? sh->train->width : sh->val->width, c.cross_set, c.cross_set == 1 ? "" : "s",
               c.cross_class);
    for (size_t i = 0; i < listed; i++) {
        const struct hk_dataset *a = sets[pairs[i].set_a], *b = sets[pairs[i].set_b];
        shell_warn(sh, "  %s %s = %s %s", names[pairs[i].set_a], a->paths[pairs[i].a], names[pairs[i].set_b],
                   b->paths[pairs[i].b]);
    }
    if (listed < c.cross_set + c.cross_class)
        shell_warn(sh, "  ... and %zu more pairs", c.cross_set + c.cross_class - listed);
}

static int load_set(struct shell *sh, const struct hk_words *w, int arg, struct hk_dataset **slot)
{
    if (arg_count(sh, w, arg, 1, 1) || shell_busy(sh, w))
        return -1;
    int dims[3] = {128, 128, 3};
    int at = arg_option(w, "size");
    if (at >= 0) {
        int n = hk_parse_dims(w->w[at].value, dims);
        if (n < 1 || n > 2 || dims[0] > 8192 || dims[1] > 8192)
            return shell_error(sh, w, at, "size must look like 128x128, got '%s'", w->w[at].value);
    } else if (sh->model) {
        dims[0] = hk_model_input(sh->model).h;
        dims[1] = hk_model_input(sh->model).w;
    }
    struct hk_dataset *ds;
    struct hk_error err;
    struct progress_load bar = {sh, w->w[arg].text, 0, 0};
    bar.t0 = bar.last = progress_now();
    struct hk_size size = {.h = dims[0], .w = dims[1]};
    if (hk_dataset_load_progress(w->w[arg].text, size, &sh->limits, sh->threads, progress_load, &bar, &ds, &err) !=
        HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    hk_dataset_free(*slot);
    *slot = ds;
    shell_print(sh, "%s: %zu pictures in %d classes (", w->w[arg].text, ds->count, ds->class_count);
    for (int c = 0; c < ds->class_count; c++)
        shell_print(sh, "%s%s %zu", c ? ", " : "", ds->class_names[c], ds->class_counts[c]);
    shell_print(sh, "), %dx%d", ds->height, ds->width);
    if (ds->skipped_count)
        shell_print(sh, "; %zu skipped (data info lists them)", ds->skipped_count);
    shell_print(sh, "\n");
    if (slot == &sh->train && sh->val && sh->val->split_is_val) {
        shell_print(sh, "(the validation set carved by data split is dropped; run data split again)\n");
        hk_dataset_free(sh->val);
        sh->val = NULL;
    }
    warn_duplicates(sh);
    return 0;
}

int cmd_data_train(struct shell *sh, const struct hk_words *w, int arg)
{
    return load_set(sh, w, arg, &sh->train);
}

int cmd_data_val(struct shell *sh, const struct hk_words *w, int arg)
{
    return load_set(sh, w, arg, &sh->val);
}

static void info_set(struct shell *sh, const char *what, const struct hk_dataset *ds)
{
    if (!ds) {
        shell_print(sh, "%s: not loaded\n", what);
        return;
    }
    shell_print(sh, "%s: %s, %zu pictures at %dx%d\n", what, ds->root, ds->count, ds->height, ds->width);
    if (ds->split_fraction > 0)
        shell_print(sh, "  %s by data split %g (seed %llu, stratified by class)\n",
                    ds->split_is_val ? "carved out of the training set" : "what is left of the training set",
                    ds->split_fraction, (unsigned long long)ds->split_seed);
    size_t most = 0, least = (size_t)-1;
    for (int c = 0; c < ds->class_count; c++) {
        shell_print(sh, "  %-20s %6zu  (label %d)\n", ds->class_names[c], ds->class_counts[c], c);
        most = ds->class_counts[c] > most ? ds->class_counts[c] : most;
        least = ds->class_counts[c] < least ? ds->class_counts[c] : least;
    }
    if (ds->class_count > 1 && least)
        shell_print(sh, "  class ratio %.1f : 1 (largest to smallest)%s\n", (double)most / (double)least,
                    (double)most / (double)least >= 3 ? "; consider train ... class_weight=balanced" : "");
    if (ds->skipped_count)
        shell_print(sh, "  skipped %zu:\n", ds->skipped_count);
    for (size_t i = 0; i < ds->skipped_count; i++)
        shell_print(sh, "    %s: %s\n", ds->skipped[i].path, ds->skipped[i].reason);
}

int cmd_data_info(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    info_set(sh, "train", sh->train);
    info_set(sh, "val", sh->val);
    return 0;
}

int cmd_data_split(struct shell *sh, const struct hk_words *w, int arg)
{
    double fraction;
    if (arg_count(sh, w, arg, 1, 1) || shell_busy(sh, w))
        return -1;
    if (!hk_parse_float(w->w[arg].text, &fraction) || !(fraction > 0 && fraction < 1))
        return shell_error(sh, w, arg, "the fraction must be a number between 0 and 1, e.g. 0.2, got '%s'",
                           w->w[arg].text);
    if (!sh->train)
        return shell_error(sh, w, -1, "no training set to split; load one with: data train FOLDER");
    if (sh->val)
        return shell_error(sh, w, -1, "a validation set is already loaded (%s); data split only carves one when "
                           "there is none (load the training set again to split it anew)", sh->val->root);
    struct hk_dataset *rest, *carved;
    struct hk_error err;
    if (hk_dataset_split(sh->train, fraction, sh->seed, &rest, &carved, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    hk_dataset_free(sh->train);
    sh->train = rest;
    sh->val = carved;
    shell_print(sh, "split %s (seed %llu): train %zu, val %zu (", rest->root, (unsigned long long)sh->seed,
                rest->count, carved->count);
    for (int c = 0; c < carved->class_count; c++)
        shell_print(sh, "%s%s %zu/%zu", c ? ", " : "", carved->class_names[c], rest->class_counts[c],
                    carved->class_counts[c]);
    shell_print(sh, ")\n");
    return 0;
}

/* The loaded sets as a manifest, with their split names. */
static int current_manifest(struct shell *sh, const struct hk_words *w, struct hk_manifest **out)
{
    const struct hk_dataset *sets[2] = {sh->train, sh->val};
    static const char *const names[2] = {"train", "val"};
    struct hk_error err;
    if (!sh->train && !sh->val)
        return shell_error(sh, w, -1, "no pictures loaded; load them with: data train FOLDER");
    if (hk_manifest_from_sets(sets, names, 2, out, &err) != HK_OK)
        return shell_error(sh, w, -1, "%s", err.msg);
    return 0;
}

int cmd_data_manifest(struct shell *sh, const struct hk_words *w, int arg)
{
    struct hk_manifest *m;
    struct hk_error err;
    if (arg_count(sh, w, arg, 1, 1) || current_manifest(sh, w, &m))
        return -1;
    if (hk_manifest_write(m, w->w[arg].text, &err) != HK_OK) {
        hk_manifest_free(m);
        return shell_error(sh, w, arg, "%s", err.msg);
    }
    size_t skipped = 0;
    for (size_t i = 0; i < m->count; i++)
        skipped += (size_t)m->entries[i].skipped;
    shell_print(sh, "wrote %s: %zu files (train %zu, val %zu; %zu of them skipped at load)\n", w->w[arg].text,
                m->count, sh->train ? sh->train->count + sh->train->skipped_count : 0,
                sh->val ? sh->val->count + sh->val->skipped_count : 0, skipped);
    hk_manifest_free(m);
    return 0;
}

static void print_entry(struct shell *sh, const struct hk_manifest_entry *e)
{
    shell_print(sh, "%s %s%s", e->split, e->path, e->skipped ? " (skipped)" : "");
}

int cmd_data_verify(struct shell *sh, const struct hk_words *w, int arg)
{
    struct hk_manifest *was, *now;
    struct hk_error err;
    if (arg_count(sh, w, arg, 1, 1))
        return -1;
    if (hk_manifest_read(w->w[arg].text, &was, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    if (current_manifest(sh, w, &now)) {
        hk_manifest_free(was);
        return -1;
    }
    struct hk_manifest_diff d;
    if (hk_manifest_compare(was, now, &d, &err) != HK_OK) {
        hk_manifest_free(was);
        hk_manifest_free(now);
        return shell_error(sh, w, -1, "%s", err.msg);
    }
    size_t shown = 0;
    for (size_t i = 0; i < d.count; i++) {
        const struct hk_manifest_difference *x = &d.v[i];
        shown = i && x->kind == d.v[i - 1].kind ? shown + 1 : 1;
        if (shown == DIFFERENCES_LISTED + 1)
            shell_print(sh, "  ... and %zu more %s\n", d.counts[x->kind] - DIFFERENCES_LISTED,
                        hk_manifest_change_name(x->kind));
        if (shown > DIFFERENCES_LISTED)
            continue;
        shell_print(sh, "  %-8s ", hk_manifest_change_name(x->kind));
        print_entry(sh, x->was ? x->was : x->now);
        if (x->kind == HK_MANIFEST_MOVED) {
            shell_print(sh, " -> ");
            print_entry(sh, x->now);
            if (strcmp(x->was->label, x->now->label))
                shell_print(sh, "  (label %s -> %s)", x->was->label, x->now->label);
        }
        shell_print(sh, "\n");
    }
    int rc = 0;
    if (d.count == 0)
        shell_print(sh, "clean: all %zu files match %s\n", d.same, w->w[arg].text);
    else
        rc = shell_error(sh, w, arg, "the loaded pictures differ from %s: %zu added, %zu removed, %zu changed, %zu "
                         "moved; %zu unchanged", w->w[arg].text, d.counts[HK_MANIFEST_ADDED],
                         d.counts[HK_MANIFEST_REMOVED], d.counts[HK_MANIFEST_CHANGED], d.counts[HK_MANIFEST_MOVED],
                         d.same);
    hk_manifest_diff_free(&d);
    hk_manifest_free(was);
    hk_manifest_free(now);
    return rc;
}

static void show_limits(struct shell *sh)
{
    const struct hk_image_limits *l = &sh->limits;
    char file_size[32];
    hk_format_bytes_exact(file_size, sizeof file_size, l->max_file_bytes);
    shell_print(sh, "file_size=%s width=%d height=%d pixels=%zu (checked before a picture is decoded; applies to "
                "the next load)\n", file_size, l->max_width, l->max_height, l->max_pixels);
}

int cmd_data_limits(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    struct hk_image_limits l = sh->limits;
    for (int i = arg; i < w->count; i++) {
        const char *k = w->w[i].key, *v = w->w[i].value;
        size_t n;
        if (!strcmp(k, "file_size")) {
            if (!hk_parse_bytes(v, &n) || n > (size_t)1 << 31)
                return shell_error(sh, w, i, "file_size must be bytes, or with KB, MB or GB, from 1 to 2GB, got '%s'",
                                   v);
            l.max_file_bytes = n;
        } else if (!strcmp(k, "width") || !strcmp(k, "height")) {
            int side;
            if (arg_int(sh, w, i, 1, HK_IMAGE_MAX_SIDE, &side))
                return -1;
            *(k[0] == 'w' ? &l.max_width : &l.max_height) = side;
        } else if (!strcmp(k, "pixels")) {
            if (!hk_parse_count(v, &n) || n > (size_t)HK_IMAGE_MAX_SIDE * HK_IMAGE_MAX_SIDE)
                return shell_error(sh, w, i, "pixels must be a count (K and M mean thousand and million) from 1 to "
                                   "%d, got '%s'", HK_IMAGE_MAX_SIDE * HK_IMAGE_MAX_SIDE, v);
            l.max_pixels = n;
        }
    }
    sh->limits = l;
    show_limits(sh);
    return 0;
}

/* "LO,HI" or a single value. Returns the count read (1 or 2), 0 when malformed. */
static int parse_range(const char *text, double *lo, double *hi)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    char *comma = strchr(buf, ',');
    if (comma) {
        *comma = '\0';
        return hk_parse_float(buf, lo) && hk_parse_float(comma + 1, hi) ? 2 : 0;
    }
    return hk_parse_float(buf, lo) ? 1 : 0;
}

static void show_augment(struct shell *sh)
{
    const struct hk_augment *a = &sh->augment;
    shell_print(sh, "rescale=%.9g rotation=%g width_shift=%g height_shift=%g shear=%g zoom=%g,%g flip=%s "
                    "brightness=%g,%g fill=%s cval=%d (%s)\n",
                (double)sh->rescale, (double)a->rotation_range, (double)a->width_shift, (double)a->height_shift,
                (double)a->shear_range, (double)a->zoom_lo, (double)a->zoom_hi,
                hk_augment_flip_name(a),
                (double)a->brightness_lo, (double)a->brightness_hi, hk_augment_fill_name(a->fill), a->cval,
                hk_augment_active(a) ? "augmentation on" : "augmentation off");
}

static int set_option(struct shell *sh, const struct hk_words *w, int i, struct hk_augment *a, float *rescale)
{
    const char *k = w->w[i].key, *v = w->w[i].value;
    double x, y;
    if (!strcmp(k, "rescale")) {
        if (arg_float(sh, w, i, 1e-9, 1e9, &x))
            return -1;
        *rescale = (float)x;
    } else if (!strcmp(k, "rotation")) {
        if (arg_float(sh, w, i, 0, 360, &x))
            return -1;
        a->rotation_range = (float)x;
    } else if (!strcmp(k, "width_shift") || !strcmp(k, "height_shift") || !strcmp(k, "shift")) {
        if (arg_float(sh, w, i, 0, 10000, &x))
            return -1;
        if (k[0] != 'h')
            a->width_shift = (float)x;
        if (k[0] != 'w')
            a->height_shift = (float)x;
    } else if (!strcmp(k, "shear")) {
        if (arg_float(sh, w, i, 0, 89, &x))
            return -1;
        a->shear_range = (float)x;
    } else if (!strcmp(k, "zoom")) {
        int n = parse_range(v, &x, &y);
        if (n == 1 && x >= 0 && x < 1) {
            a->zoom_lo = (float)(1 - x);
            a->zoom_hi = (float)(1 + x);
        } else if (n == 2 && x > 0 && y >= x && y <= 100) {
            a->zoom_lo = (float)x;
            a->zoom_hi = (float)y;
        } else {
            return shell_error(sh, w, i, "zoom must be F in [0, 1) or LO,HI with 0 < LO <= HI, got '%s'", v);
        }
    } else if (!strcmp(k, "flip")) {
        if (!hk_augment_flip_set(a, v))
            return shell_error(sh, w, i, "flip must be horizontal, vertical, both or none, got '%s'", v);
    } else if (!strcmp(k, "brightness")) {
        if (parse_range(v, &x, &y) != 2 || x <= 0 || y < x || y > 100)
            return shell_error(sh, w, i, "brightness must be LO,HI with 0 < LO <= HI, e.g. 0.8,1.2, got '%s'", v);
        a->brightness_lo = (float)x;
        a->brightness_hi = (float)y;
    } else if (!strcmp(k, "fill")) {
        enum hk_fill f = hk_augment_fill_find(v);
        if (f == HK_FILL_COUNT)
            return shell_error(sh, w, i, "fill must be nearest, constant, reflect or wrap, got '%s'", v);
        a->fill = f;
    } else if (!strcmp(k, "cval")) {
        int c;
        if (arg_int(sh, w, i, 0, 255, &c))
            return -1;
        a->cval = c;
    }
    return 0;
}

int cmd_augment(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 1))
        return -1;
    if (arg == w->count) {
        show_augment(sh);
        return 0;
    }
    if (shell_busy(sh, w))
        return -1;
    struct hk_augment a = sh->augment;
    float rescale = sh->rescale;
    for (int i = arg; i < w->count; i++) {
        if (!w->w[i].key) {
            if (strcmp(w->w[i].text, "off"))
                return shell_error(sh, w, i, "expected 'off' or OPTION=VALUE, got '%s'", w->w[i].text);
            a = hk_augment_default();
            continue;
        }
        if (set_option(sh, w, i, &a, &rescale))
            return -1;
    }
    struct hk_error err;
    if (hk_augment_check(&a, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    sh->augment = a;
    sh->rescale = rescale;
    return 0;
}

int cmd_augment_show(struct shell *sh, const struct hk_words *w, int arg)
{
    int n;
    if (arg_count(sh, w, arg, 1, 1) ||
        arg_int(sh, w, arg, 1, HK_AUGMENT_SHOW_MAX, &n))
        return -1;
    int at = arg_option(w, "out");
    const char *path = at >= 0 ? w->w[at].value : "augment-show.png";
    unsigned char *img;
    int gw, gh;
    struct hk_error err;
    if (hk_augment_show(sh->train, &sh->augment, sh->seed, n, &img, &gw, &gh, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    enum hk_status st = hk_png_write(path, img, gw, gh, 3, &err);
    free(img);
    if (st != HK_OK)
        return shell_error(sh, w, at >= 0 ? at : -1, "%s", err.msg);
    shell_print(sh, "wrote %s: %d augmented training pictures (seed %llu, %s), %dx%d\n", path, n,
                (unsigned long long)sh->seed, hk_augment_active(&sh->augment) ? "augmentation on" : "augmentation off",
                gh, gw);
    return 0;
}
