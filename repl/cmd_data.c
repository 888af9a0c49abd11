/* cmd_data.c: loading picture sets (data train/val/info) and the augmentation settings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static int load_set(struct shell *sh, const struct hk_words *w, int arg, struct hk_dataset **slot,
                    const char *usage)
{
    if (arg_count(sh, w, arg, 1, 1, usage) || shell_busy(sh, w))
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
    if (hk_dataset_load(w->w[arg].text, dims[1], dims[0], &sh->limits, sh->threads, &ds, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    hk_dataset_free(*slot);
    *slot = ds;
    shell_print(sh, "%s: %zu pictures in %d classes (", w->w[arg].text, ds->count, ds->class_count);
    for (int c = 0; c < ds->class_count; c++)
        shell_print(sh, "%s%s %zu", c ? ", " : "", ds->class_names[c], ds->class_counts[c]);
    shell_print(sh, "), %dx%d", ds->width, ds->height);
    if (ds->skipped_count)
        shell_print(sh, "; %zu skipped (data info lists them)", ds->skipped_count);
    shell_print(sh, "\n");
    return 0;
}

int cmd_data_train(struct shell *sh, const struct hk_words *w, int arg)
{
    return load_set(sh, w, arg, &sh->train, "data train FOLDER [size=HxW]");
}

int cmd_data_val(struct shell *sh, const struct hk_words *w, int arg)
{
    return load_set(sh, w, arg, &sh->val, "data val FOLDER [size=HxW]");
}

static void info_set(struct shell *sh, const char *what, const struct hk_dataset *ds)
{
    if (!ds) {
        shell_print(sh, "%s: not loaded\n", what);
        return;
    }
    shell_print(sh, "%s: %s, %zu pictures at %dx%d\n", what, ds->root, ds->count, ds->width, ds->height);
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
    if (arg_count(sh, w, arg, 0, 0, "data info"))
        return -1;
    info_set(sh, "train", sh->train);
    info_set(sh, "val", sh->val);
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
                a->horizontal_flip ? (a->vertical_flip ? "both" : "horizontal") : (a->vertical_flip ? "vertical" : "none"),
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
        int h = !strcmp(v, "horizontal") || !strcmp(v, "both"), vert = !strcmp(v, "vertical") || !strcmp(v, "both");
        if (!h && !vert && strcmp(v, "none"))
            return shell_error(sh, w, i, "flip must be horizontal, vertical, both or none, got '%s'", v);
        a->horizontal_flip = h;
        a->vertical_flip = vert;
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
    if (arg_count(sh, w, arg, 0, 1, "augment [off] [OPTION=VALUE...]"))
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
