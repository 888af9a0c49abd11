/* model_pass.c: the passes over a model's workspace: forward (from any layer, for the feature
 * cache), backward with the gradient sums of a graph, the loss's input gradient for attacks, the
 * optimizer update of the trainable layers, and batched predict and evaluate. */
#include "model.h"
#include "model_internal.h"

#include <string.h>

enum hk_status hk_model_sync_idle(struct hk_model *m, struct hk_error *err)
{
    if (!m->sync)
        return HK_OK;
    enum hk_status st = hk_model_reserve(m, 1, err);
    if (st != HK_OK)
        return st;
    struct hk_pass p = {.training = 1, .seed = m->seed, .step = m->step, .sync = m->sync,
                        .sync_user = m->sync_user, .share = 0};
    memcpy(p.scratch, m->scratch, sizeof p.scratch);
    for (int i = 0; i < m->count; i++)
        if (m->layers[i].ops->sync_idle)
            m->layers[i].ops->sync_idle(&m->layers[i], &p, 0);
    for (int i = m->count - 1; i >= 0; i--) /* as backward(): not the layers off the loss's path */
        if (m->layers[i].ops->sync_idle && m->gbuf[i] >= 0)
            m->layers[i].ops->sync_idle(&m->layers[i], &p, 1);
    return HK_OK;
}

enum hk_status hk_model_forward(struct hk_model *m, const float *x, int n, int training, uint64_t sample0,
                                const float **out, struct hk_error *err)
{
    return hk_model_forward_from(m, 0, x, n, training, sample0, out, err);
}

enum hk_status hk_model_forward_from(struct hk_model *m, int first, const float *x, int n, int training,
                                     uint64_t sample0, const float **out, struct hk_error *err)
{
    if (first < 0 || (first > 0 && first >= m->count))
        return hk_fail(err, HK_EINVAL, "no layer %d to start a forward pass at (the model has %d)", first, m->count);
    for (int i = first; i < m->count && first > 0; i++)
        if (m->layers[i].input < first - 1 || (m->layers[i].input2 >= 0 && m->layers[i].input2 < first - 1))
            return hk_fail(err, HK_EINVAL, "%s reads a layer before %s; a pass cannot start after it",
                           m->layers[i].name, m->layers[first - 1].name);
    enum hk_status st = hk_model_reserve(m, n, err);
    if (st != HK_OK)
        return st;
    if (first > 0) { /* x is layer first-1's output: the later layers read it where they read that layer */
        const struct hk_layer *before = &m->layers[first - 1];
        memcpy(before->y, x, (size_t)n * hk_shape_size(before->out) * sizeof *x);
    }
    struct hk_pass p = {.training = training, .seed = m->seed, .step = m->step, .sample0 = sample0,
                        .sync = training ? m->sync : NULL, .sync_user = m->sync_user, .share = m->share};
    memcpy(p.scratch, m->scratch, sizeof p.scratch);
    const float *in = x;
    int lend = n < HK_TEAM_PARTS;
    if (lend)
        hk_team_lend_blas(1);
    for (int i = first; i < m->count; i++) {
        struct hk_layer *l = &m->layers[i];
        size_t width = hk_shape_size(l->out);
        p.x2 = l->input2 >= 0 ? m->layers[l->input2].y : NULL;
        l->ops->forward(l, l->input >= 0 ? m->layers[l->input].y : x, n, &p);
        if (i == m->count - 1)
            memcpy(m->logits, l->y, (size_t)n * width * sizeof *l->y);
        if (!hk_layer_fuses_act(l))
            hk_act_forward(l->spec.act, l->y, (size_t)n, width);
        in = l->y;
    }
    if (lend)
        hk_team_lend_blas(0);
    if (out)
        *out = in;
    return HK_OK;
}

static int count_correct(const float *logits, const int *labels, int n, int k)
{
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * k;
        int pred = 0;
        if (k == 1)
            pred = row[0] >= 0.0f; /* sigmoid(z) >= 0.5 */
        else
            for (int j = 1; j < k; j++)
                pred = row[j] > row[pred] ? j : pred;
        correct += pred == labels[i];
    }
    return correct;
}

static double l2_penalty(struct hk_model *m, int with_grad)
{
    double total = 0;
    for (int i = 0; i < m->count; i++) {
        struct hk_layer *l = &m->layers[i];
        if (l->spec.l2 <= 0 || !l->wcount || l->frozen)
            continue;
        double s = 0;
        for (size_t j = 0; j < l->wcount; j++) {
            s += (double)l->w[j] * l->w[j];
            if (with_grad)
                l->dw[j] += 2.0f * l->spec.l2 * l->w[j];
        }
        total += l->spec.l2 * s;
    }
    return total;
}

/* Backpropagate the loss gradient in the last layer's gradient buffer (dbuf[0], of its logits)
 * through the graph of the last forward pass of x: parameter gradients accumulate into the
 * gradient arena, and dinput (may be NULL) receives the gradient with respect to the input. A
 * layer's output gradient is complete once all its readers (all later) have run; the first of them
 * writes it, the others add into it. Layers whose output does not reach the loss are skipped, and
 * without dinput so are layers with nothing trainable at or above them (a frozen base). */
static void backward(struct hk_model *m, const float *x, int n, int training, uint64_t sample0, float *dinput)
{
    int up[HK_MODEL_MAX_LAYERS], written[HK_MODEL_MAX_LAYERS], input_written = 0;
    for (int i = 0; i < m->count; i++) {
        const struct hk_layer *l = &m->layers[i];
        up[i] = dinput || (l->wcount + l->bcount > 0 && !l->frozen) || (l->input >= 0 && up[l->input]) ||
                (l->input2 >= 0 && up[l->input2]);
        written[i] = i == m->count - 1;
    }
    struct hk_pass p = {.training = training, .seed = m->seed, .step = m->step, .sample0 = sample0,
                        .sync = training ? m->sync : NULL, .sync_user = m->sync_user, .share = m->share};
    memcpy(p.scratch, m->scratch, sizeof p.scratch);
    for (int i = m->count - 1; i >= 0; i--) {
        struct hk_layer *l = &m->layers[i];
        if (m->gbuf[i] < 0 || !up[i])
            continue;
        float *dy = m->dbuf[m->gbuf[i]], *target[2] = {NULL, NULL}, *sum[2] = {NULL, NULL};
        int in[2] = {l->input, l->input2}, add[2] = {0, 0};
        if (i != m->count - 1 && !hk_layer_fuses_act(l))
            hk_act_backward(l->spec.act, l->y, dy, (size_t)n, hk_shape_size(l->out));
        for (int s = 0; s < 2; s++) {
            if (in[s] < 0 && (s == 1 || !dinput))
                continue;
            if (in[s] >= 0 && !up[in[s]])
                continue;
            int *done = in[s] >= 0 ? &written[in[s]] : &input_written;
            sum[s] = in[s] >= 0 ? m->dbuf[m->gbuf[in[s]]] : dinput;
            add[s] = *done;
            target[s] = add[s] ? m->dbuf[m->ngbuf + s] : sum[s];
            *done = 1;
        }
        p.x2 = in[1] >= 0 ? m->layers[in[1]].y : NULL;
        p.dx2 = target[1];
        l->ops->backward(l, in[0] >= 0 ? m->layers[in[0]].y : x, dy, target[0], n, &p);
        if (l->frozen) /* a layer may skip dw when frozen; none may leave one behind */
            memset(l->dw, 0, (l->wcount + l->bcount) * sizeof *l->dw);
        for (int s = 0; s < 2; s++) {
            if (!add[s])
                continue;
            const float *part = target[s];
            size_t count = (size_t)n * hk_shape_size(in[s] >= 0 ? m->layers[in[s]].out : m->input);
            for (size_t j = 0; j < count; j++)
                sum[s][j] += part[j];
        }
    }
}

enum hk_status hk_model_gradients(struct hk_model *m, const float *x, const int *labels,
                                  const float *sample_weight, int n, uint64_t sample0,
                                  struct hk_step_result *res, struct hk_error *err)
{
    return hk_model_gradients_from(m, 0, x, labels, sample_weight, n, sample0, res, err);
}

enum hk_status hk_model_gradients_from(struct hk_model *m, int first, const float *x, const int *labels,
                                       const float *sample_weight, int n, uint64_t sample0,
                                       struct hk_step_result *res, struct hk_error *err)
{
    enum hk_status st = hk_model_check_compiled(m, err);
    if (st == HK_OK && first > 0 && !(first - 1 <= hk_model_cache_point(m)))
        st = hk_fail(err, HK_EINVAL, "training cannot start after %s: a layer up to it trains or draws dropout",
                     m->layers[first - 1].name);
    if (st == HK_OK)
        st = hk_model_forward_from(m, first, x, n, 1, sample0, NULL, err);
    if (st != HK_OK)
        return st;
    struct hk_layer *last = &m->layers[m->count - 1];
    int k = (int)hk_shape_size(last->out);
    res->loss = hk_loss_eval(m->loss, m->logits, labels, sample_weight, n, k, m->dbuf[m->gbuf[m->count - 1]]);
    res->correct = count_correct(m->logits, labels, n, k);
    memset(m->grads, 0, m->nparams * sizeof *m->grads);
    backward(m, x, n, 1, sample0, NULL);
    res->loss += l2_penalty(m, 1);
    return HK_OK;
}

static void optim_run(struct hk_model *m, size_t start, size_t end)
{
    if (end > start)
        hk_optim_step(&m->optim, m->step, m->params + start, m->grads + start, m->mom1 + start, m->mom2 + start,
                      end - start);
}

enum hk_status hk_model_input_gradient(struct hk_model *m, const float *x, const int *labels, int n, int margin,
                                       float *dx, float *out, double *loss, struct hk_error *err)
{
    const float *y;
    enum hk_status st = hk_model_check_compiled(m, err);
    if (st == HK_OK)
        st = hk_model_forward(m, x, n, 0, 0, &y, err);
    if (st != HK_OK)
        return st;
    int k = (int)hk_shape_size(hk_model_output(m));
    if (out)
        memcpy(out, y, (size_t)n * k * sizeof *out);
    double l = margin ? hk_loss_margin(m->logits, labels, n, k, m->dbuf[0])
                      : hk_loss_eval(m->loss, m->logits, labels, NULL, n, k, m->dbuf[0]);
    if (loss)
        *loss = l;
    backward(m, x, n, 0, 0, dx);
    return HK_OK;
}

void hk_model_update(struct hk_model *m)
{
    m->step++;
    /* one flat loop over each run of trainable layers (the arena is in layer order); frozen
     * layers' parameters and moments stay as they are */
    size_t start = 0, end = 0;
    for (int i = 0; i < m->count; i++) {
        const struct hk_layer *l = &m->layers[i];
        size_t off = (size_t)(l->w - m->params), cnt = l->wcount + l->bcount;
        if (!cnt)
            continue;
        if (l->frozen || off != end) {
            optim_run(m, start, end);
            start = end = l->frozen ? off + cnt : off;
        }
        if (!l->frozen)
            end = off + cnt;
    }
    optim_run(m, start, end);
}

enum hk_status hk_model_train_step(struct hk_model *m, const float *x, const int *labels,
                                   const float *sample_weight, int n, struct hk_step_result *res,
                                   struct hk_error *err)
{
    enum hk_status st = hk_model_gradients(m, x, labels, sample_weight, n, 0, res, err);
    if (st == HK_OK)
        hk_model_update(m);
    return st;
}

enum hk_status hk_model_predict(struct hk_model *m, const float *x, int n, int batch, float *probs,
                                struct hk_error *err)
{
    size_t in = hk_shape_size(m->input), k = hk_shape_size(hk_model_output(m));
    batch = batch > 0 ? batch : 32;
    for (int s = 0; s < n; s += batch) {
        int b = n - s < batch ? n - s : batch;
        const float *out;
        enum hk_status st = hk_model_forward(m, x + (size_t)s * in, b, 0, 0, &out, err);
        if (st != HK_OK)
            return st;
        memcpy(probs + (size_t)s * k, out, (size_t)b * k * sizeof *out);
    }
    return HK_OK;
}

enum hk_status hk_model_evaluate(struct hk_model *m, const float *x, const int *labels, int n, int batch,
                                 struct hk_step_result *res, float *probs, struct hk_error *err)
{
    return hk_model_evaluate_from(m, 0, x, labels, n, batch, res, probs, err);
}

enum hk_status hk_model_evaluate_from(struct hk_model *m, int first, const float *x, const int *labels, int n,
                                      int batch, struct hk_step_result *res, float *probs, struct hk_error *err)
{
    enum hk_status compiled = hk_model_check_compiled(m, err);
    if (compiled != HK_OK)
        return compiled;
    size_t in = first > 0 ? hk_shape_size(m->layers[first - 1].out) : hk_shape_size(m->input);
    int k = (int)hk_shape_size(hk_model_output(m));
    double total = 0;
    int correct = 0;
    batch = batch > 0 ? batch : 32;
    for (int s = 0; s < n; s += batch) {
        int b = n - s < batch ? n - s : batch;
        const float *out;
        enum hk_status st = hk_model_forward_from(m, first, x + (size_t)s * in, b, 0, 0, &out, err);
        if (st != HK_OK)
            return st;
        if (probs)
            memcpy(probs + (size_t)s * k, out, (size_t)b * k * sizeof *out);
        total += hk_loss_eval(m->loss, m->logits, labels + s, NULL, b, k, NULL) * b;
        correct += count_correct(m->logits, labels + s, b, k);
    }
    res->loss = n ? total / n : 0;
    res->correct = correct;
    return HK_OK;
}
