/* cmd_inspect.c: `inspect LAYER IMAGE` (a layer's activation maps for one picture) and
 * `inspect filters LAYER` (a conv layer's kernels) as PNG grids, with a coarse colour preview in
 * the terminal. The forward pass and the copies of activations and weights are the core's
 * (infer.h: on the compute worker), so they are consistent even while a run is going. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "infer.h"
#include "inspect.h"

#define PREVIEW_COLS 64

/* Coarse preview: two picture rows per text row with upper-half blocks, box-averaged to at most
 * PREVIEW_COLS columns. Only for a terminal. */
static void preview(struct shell *sh, const unsigned char *img, int width, int height)
{
    int cols = width < PREVIEW_COLS ? width : PREVIEW_COLS;
    double step = (double)width / cols;
    int rows = (int)(height / step + 0.5);
    if (rows < 2)
        rows = 2;
    rows += rows & 1;
    double ystep = (double)height / rows;
    char *line = malloc((size_t)cols * 48 + 16);
    if (!line)
        return;
    for (int r = 0; r < rows; r += 2) {
        size_t o = 0;
        for (int c = 0; c < cols; c++) {
            int rgb[2][3];
            for (int half = 0; half < 2; half++) {
                int y0 = (int)((r + half) * ystep), y1 = (int)((r + half + 1) * ystep);
                int x0 = (int)(c * step), x1 = (int)((c + 1) * step);
                y1 = y1 > y0 ? y1 : y0 + 1;
                x1 = x1 > x0 ? x1 : x0 + 1;
                y1 = y1 < height ? y1 : height;
                x1 = x1 < width ? x1 : width;
                long sum[3] = {0, 0, 0}, cnt = 0;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++, cnt++)
                        for (int k = 0; k < 3; k++)
                            sum[k] += img[((size_t)y * width + x) * 3 + k];
                for (int k = 0; k < 3; k++)
                    rgb[half][k] = cnt ? (int)(sum[k] / cnt) : 0;
            }
            o += (size_t)sprintf(line + o, "\033[38;2;%d;%d;%dm\033[48;2;%d;%d;%dm\xe2\x96\x80", rgb[0][0],
                                 rgb[0][1], rgb[0][2], rgb[1][0], rgb[1][1], rgb[1][2]);
        }
        sprintf(line + o, "\033[0m\n");
        shell_print(sh, "%s", line);
    }
    free(line);
}

/* Write the grid, show it, report. */
static int finish(struct shell *sh, const struct hk_words *w, const unsigned char *img,
                  const struct hk_inspect_size *s, const char *path, int explicit_out)
{
    struct hk_error err;
    if (hk_png_write(path, img, s->width, s->height, 3, &err) != HK_OK)
        return shell_error(sh, w, explicit_out ? arg_option(w, "out") : -1, "%s: %s", path, err.msg);
    if (!explicit_out && isatty(STDOUT_FILENO))
        preview(sh, img, s->width, s->height);
    shell_print(sh, "wrote %s (%dx%d, %d tiles)\n", path, s->height, s->width, s->tiles);
    return 0;
}

/* The output path: out=, or the default name for the layer. */
static const char *out_path(const struct hk_words *w, const char *prefix, const char *layer, char *buf,
                            size_t cap, int *explicit_out)
{
    int at = arg_option(w, "out");
    *explicit_out = at >= 0;
    if (at >= 0)
        return w->w[at].value;
    snprintf(buf, cap, "%s%s.png", prefix, layer);
    return buf;
}

int cmd_inspect(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 2, 2))
        return -1;
    if (!sh->model)
        return shell_error(sh, w, 0, "no model yet; build one or: model load FILE");
    int idx = arg_layer(sh, w, arg);
    if (idx < 0)
        return -1;
    const struct hk_layer *l = hk_model_layer(sh->model, idx);
    struct hk_shape in = hk_model_input(sh->model), out = l->out;
    if (in.c != 3)
        return shell_error(sh, w, 0, "inspect needs a model with 3 input channels");
    struct hk_inspect_size s = hk_inspect_grid_size(out.c, out.h, out.w);
    if (!s.tiles)
        return shell_error(sh, w, arg, "layer '%s' has output %dx%dx%d: too large to draw", l->name, out.h,
                           out.w, out.c);
    char name[64];
    int explicit_out;
    const char *path = out_path(w, "inspect-", l->name, name, sizeof name, &explicit_out);
    const char *image = w->w[arg + 1].text;
    unsigned char *pix = malloc((size_t)in.h * in.w * 3), *img = malloc((size_t)s.width * s.height * 3);
    float *x = malloc(hk_shape_size(in) * sizeof *x), *act = malloc(hk_shape_size(out) * sizeof *act);
    struct hk_infer_prep prep = {&sh->limits, sh->rescale};
    int rc = 0;
    struct hk_error err;
    if (!pix || !img || !x || !act) {
        rc = shell_error(sh, w, 0, "out of memory");
        goto out;
    }
    if (hk_infer_load(sh->model, &prep, image, pix, x, &err) != HK_OK) {
        rc = shell_error(sh, w, arg + 1, "%s: %s", image, err.msg);
        goto out;
    }
    if (hk_infer_activation(sh->worker, sh->model, x, idx, act, &err) != HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
        goto out;
    }
    if (hk_inspect_grid(img, act, out.c, out.h, out.w, pix, in.w, in.h, &err) != HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
        goto out;
    }
    rc = finish(sh, w, img, &s, path, explicit_out);
out:
    free(pix);
    free(img);
    free(x);
    free(act);
    return rc;
}

/* conv2d and depthwise layers have kernels to draw */
static int has_filters(const struct hk_layer *l)
{
    return l->spec.kind == HK_LAYER_CONV2D || l->spec.kind == HK_LAYER_DEPTHWISE;
}

int cmd_inspect_filters(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1))
        return -1;
    if (!sh->model)
        return shell_error(sh, w, 0, "no model yet; build one or: model load FILE");
    int idx = arg_layer(sh, w, arg);
    if (idx < 0)
        return -1;
    const struct hk_layer *l = hk_model_layer(sh->model, idx);
    if (!has_filters(l)) {
        char list[256] = "";
        size_t len = 0;
        for (int k = 0; k < hk_model_count(sh->model) && len < sizeof list - 40; k++)
            if (has_filters(hk_model_layer(sh->model, k)))
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "",
                                        hk_model_layer(sh->model, k)->name);
        if (len)
            return shell_error(sh, w, arg, "layer '%s' has no spatial filters; conv2d layers: %s", l->name, list);
        return shell_error(sh, w, arg, "layer '%s' has no spatial filters, and the model has no conv2d layer",
                           l->name);
    }
    /* a depthwise layer's kernels have one input channel each */
    int f = l->out.c, c = l->spec.kind == HK_LAYER_DEPTHWISE ? 1 : l->in.c, kh = l->spec.kh, kw = l->spec.kw;
    struct hk_inspect_size s = hk_inspect_filters_size(f, c, kh, kw);
    if (!s.tiles)
        return shell_error(sh, w, arg, "layer '%s': too many filters to draw", l->name);
    char name[64];
    int explicit_out;
    const char *path = out_path(w, "inspect-filters-", l->name, name, sizeof name, &explicit_out);
    float *kernel = malloc(l->wcount * sizeof *kernel);
    unsigned char *img = malloc((size_t)s.width * s.height * 3);
    int rc;
    struct hk_error err;
    if (!kernel || !img) {
        rc = shell_error(sh, w, 0, "out of memory");
    } else if (hk_infer_weights(sh->worker, sh->model, idx, kernel, &err) != HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
    } else {
        if (hk_inspect_filters(img, kernel, f, c, kh, kw, &err) != HK_OK)
            rc = shell_error(sh, w, 0, "%s", err.msg);
        else
            rc = finish(sh, w, img, &s, path, explicit_out);
    }
    free(kernel);
    free(img);
    return rc;
}
