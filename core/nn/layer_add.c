/* layer_add.c: add (Keras Add): the sum of two earlier layers' outputs of the same shape. The
 * model connects the inputs (core/nn/graph.c checks their shapes) and passes the second input in
 * the pass (x2, dx2). */
#include <string.h>

#include "layer.h"

static enum hk_status add_infer(struct hk_layer *l, struct hk_error *err)
{
    (void)err;
    l->out = l->in;
    l->wcount = l->bcount = 0;
    return HK_OK;
}

/* x, x2, y: [n][size]; y = x + x2 */
static void add_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    size_t count = (size_t)n * hk_shape_size(l->out);
    const float *x2 = p->x2;
    float *y = l->y;
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] + x2[i];
}

/* dx = dy, dx2 = dy */
static void add_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                         const struct hk_pass *p)
{
    (void)x;
    size_t bytes = (size_t)n * hk_shape_size(l->out) * sizeof *dy;
    if (dx)
        memcpy(dx, dy, bytes);
    if (p->dx2)
        memcpy(p->dx2, dy, bytes);
}

static const char *const add_opts[] = {"from", NULL};

const struct hk_layer_ops hk_add_ops = {
    .word = "add",
    .keras_name = "add",
    .keras_class = "Add",
    .usage = "add from=NAME | add from=A,B",
    .help = "The sum of two earlier layers' outputs of the same shape (Keras Add): from=NAME adds the previous "
            "layer's output and NAME's, from=A,B adds A's and B's. Any layer takes name=NAME (unique) and "
            "input=NAME (read NAME's output instead of the previous layer's).",
    .options = add_opts,
    .positional = 0,
    .required = 0,
    .infer = add_infer,
    .forward = add_forward,
    .backward = add_backward,
};
