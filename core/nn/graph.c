/* graph.c: resolving the names that connect layers, checking the connections, and planning the
 * gradient buffers of the backward pass (a tensor that feeds several layers sums their gradients). */
#include "graph.h"

#include <stdio.h>
#include <string.h>

int hk_layer_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n >= HK_LAYER_NAME_MAX)
        return 0;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') || name[0] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* Shape as Keras prints it: (None, 8, 8, 16) or (None, 10). */
static void keras_shape(char *buf, size_t cap, struct hk_shape s)
{
    if (s.h == 1 && s.w == 1)
        snprintf(buf, cap, "(None, %d)", s.c);
    else
        snprintf(buf, cap, "(None, %d, %d, %d)", s.h, s.w, s.c);
}

/* Index of the layer named `name` before layer i; else -1 with err saying why. */
static int resolve(const struct hk_layer *layers, int i, const char *key, const char *name, struct hk_error *err)
{
    for (int j = 0; j < i; j++)
        if (strcmp(layers[j].name, name) == 0)
            return j;
    hk_fail(err, HK_EINVAL, "%s: %s=%s names no earlier layer (a layer reads only layers above it)", layers[i].name,
            key, name);
    return -1;
}

enum hk_status hk_graph_connect(struct hk_layer *layers, int i, struct hk_shape input, struct hk_error *err)
{
    struct hk_layer *l = &layers[i];
    const struct hk_layer_spec *s = &l->spec;
    for (int j = 0; j < i; j++)
        if (strcmp(layers[j].name, l->name) == 0)
            return hk_fail(err, HK_EINVAL, "%s: the name is taken by layer %d; names are unique", l->name, j);
    l->index = i;
    l->input = i - 1;
    l->input2 = -1;
    if (s->input[0] && (l->input = resolve(layers, i, "input", s->input, err)) < 0)
        return HK_EINVAL;
    if (l->spec.kind == HK_LAYER_ADD) {
        if (!s->from[0][0])
            return hk_fail(err, HK_EINVAL, "%s: add needs from=NAME (the previous layer plus NAME) or from=A,B",
                           l->name);
        if (s->from[1][0]) {
            if (s->input[0])
                return hk_fail(err, HK_EINVAL, "%s: input= and from=A,B both name the inputs; give one of them",
                               l->name);
            if ((l->input = resolve(layers, i, "from", s->from[0], err)) < 0)
                return HK_EINVAL;
            if ((l->input2 = resolve(layers, i, "from", s->from[1], err)) < 0)
                return HK_EINVAL;
        } else if ((l->input2 = resolve(layers, i, "from", s->from[0], err)) < 0) {
            return HK_EINVAL;
        }
        if (l->input < 0)
            return hk_fail(err, HK_EINVAL, "%s: add needs an earlier layer as its first input; it is the first layer",
                           l->name);
    }
    l->in = l->input >= 0 ? layers[l->input].out : input;
    if (l->input2 >= 0) {
        struct hk_shape a = l->in, b = layers[l->input2].out;
        if (a.c != b.c || a.h != b.h || a.w != b.w) {
            char sa[64], sb[64];
            keras_shape(sa, sizeof sa, a);
            keras_shape(sb, sizeof sb, b);
            return hk_fail(err, HK_ESHAPE, "%s: cannot add %s %s and %s %s; the shapes must be equal", l->name,
                           layers[l->input].name, sa, layers[l->input2].name, sb);
        }
    }
    return l->ops->infer(l, err);
}

int hk_graph_reader(const struct hk_layer *layers, int count, int skip, const char *name, const char **how)
{
    for (int j = 0; j < count; j++) {
        const struct hk_layer_spec *s = &layers[j].spec;
        if (j == skip)
            continue;
        if (strcmp(s->input, name) == 0) {
            *how = "input";
            return j;
        }
        if (strcmp(s->from[0], name) == 0 || strcmp(s->from[1], name) == 0) {
            *how = "from";
            return j;
        }
    }
    return -1;
}

int hk_graph_is_graph(const struct hk_layer *layers, int count)
{
    for (int j = 0; j < count; j++)
        if (layers[j].input != j - 1 || layers[j].input2 >= 0)
            return 1;
    return 0;
}

int hk_graph_grad_plan(const struct hk_layer *layers, int count, int *gbuf, int *temps)
{
    int needed[HK_GRAPH_MAX_LAYERS], last_use[HK_GRAPH_MAX_LAYERS], written[HK_GRAPH_MAX_LAYERS];
    int free_list[HK_GRAPH_MAX_LAYERS + 1], nfree = 0, nbuf = 0;
    *temps = 0;
    if (count <= 0)
        return 0;
    for (int j = 0; j < count; j++) {
        needed[j] = j == count - 1;
        last_use[j] = j == count - 1 ? count : -1;
        written[j] = j == count - 1;
        gbuf[j] = -1;
    }
    /* what reaches the loss, and the highest layer that reads each output (its first writer) */
    for (int t = count - 1; t >= 0; t--) {
        if (!needed[t])
            continue;
        int in[2] = {layers[t].input, layers[t].input2};
        for (int k = 0; k < 2; k++)
            if (in[k] >= 0) {
                needed[in[k]] = 1;
                if (last_use[in[k]] < t)
                    last_use[in[k]] = t;
            }
    }
    gbuf[count - 1] = nbuf++;
    /* backward order: a buffer is taken when its first writer runs, given back after its layer */
    for (int t = count - 1; t >= 0; t--) {
        if (!needed[t])
            continue;
        int in[2] = {layers[t].input, layers[t].input2};
        for (int k = 0; k < 2; k++) {
            int j = in[k];
            if (j < 0)
                continue;
            if (last_use[j] == t && gbuf[j] < 0)
                gbuf[j] = nfree ? free_list[--nfree] : nbuf++;
            if (written[j] && *temps < k + 1)
                *temps = k + 1;
            written[j] = 1;
        }
        free_list[nfree++] = gbuf[t];
    }
    return nbuf;
}
