/* test_team.c: the compute team. Every part of a call runs exactly once, on as many members as
 * asked for, and a conv network (with batchnorm and depthwise layers) gives the same bits
 * (outputs, loss, every gradient) with 1, 2 and 3 compute threads, because the batch is always
 * cut into the same parts and their weight gradients are added in the same order. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "team.h"

#define BATCH 7
#define PARTS 9

struct part_log {
    int runs[PARTS];
    pthread_t who[PARTS];
    int member[PARTS];
};

static void note_part(void *arg, int part, int member)
{
    struct part_log *log = arg;
    log->runs[part]++;
    log->who[part] = pthread_self();
    log->member[part] = member;
}

/* Each part runs once; with `members` members, parts k and k+members share a thread and parts
 * 0..members-1 run on distinct threads, part 0 on the caller. */
static void check_parts(int members)
{
    struct hk_error err;
    CHECK(hk_team_resize(members, &err) == HK_OK && hk_team_size() == members, "team of %d", members);
    struct part_log log;
    memset(&log, 0, sizeof log);
    hk_team_run(note_part, &log, PARTS);
    int once = 1, spread = 1;
    for (int k = 0; k < PARTS; k++) {
        once &= log.runs[k] == 1 && log.member[k] == k % members;
        if (k + members < PARTS)
            spread &= pthread_equal(log.who[k], log.who[k + members]) != 0;
        for (int j = 0; j < k && j < members && k < members; j++)
            spread &= !pthread_equal(log.who[k], log.who[j]);
    }
    CHECK(once, "%d members: every part runs exactly once, on member part %% members", members);
    CHECK(spread, "%d members: parts are dealt out round-robin over distinct threads", members);
    CHECK(pthread_equal(log.who[0], pthread_self()), "%d members: the caller runs part 0", members);
}

static struct hk_model *conv_net(struct hk_error *err)
{
    struct hk_model *m = hk_model_new((struct hk_shape){3, 12, 11}, 5, err);
    const struct hk_layer_spec specs[] = {
        {.kind = HK_LAYER_CONV2D, .units = 6, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .same = 1, .act = HK_ACT_RELU},
        {.kind = HK_LAYER_BATCHNORM, .momentum = 0.99f},
        {.kind = HK_LAYER_MAXPOOL2D, .kh = 2, .kw = 2},
        {.kind = HK_LAYER_DEPTHWISE, .kh = 3, .kw = 3, .same = 1, .act = HK_ACT_RELU6},
        {.kind = HK_LAYER_CONV2D, .units = 5, .kh = 3, .kw = 2, .sh = 1, .sw = 1, .act = HK_ACT_TANH},
        {.kind = HK_LAYER_DROPOUT, .rate = 0.3f},
        {.kind = HK_LAYER_FLATTEN},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    for (size_t i = 0; m && i < sizeof specs / sizeof *specs; i++)
        if (hk_model_insert(m, (int)i, &specs[i], NULL, err) != HK_OK) {
            hk_model_free(m);
            return NULL;
        }
    struct hk_optim o = hk_optim_default(HK_OPTIM_ADAM);
    if (m && hk_model_compile(m, &o, HK_LOSS_BCE, err) != HK_OK) {
        hk_model_free(m);
        return NULL;
    }
    return m;
}

struct run {
    float *grads, *out;
    double loss;
};

/* Two training steps (so the second runs on updated weights), keeping the second's gradients. */
static int gradients_with(int threads, const float *x, const int *labels, struct run *r)
{
    struct hk_error err;
    struct hk_step_result res;
    struct hk_model *m = conv_net(&err);
    if (!m || hk_team_resize(threads, &err) != HK_OK)
        return 0;
    size_t np = hk_model_param_count(m);
    int ok = hk_model_train_step(m, x, labels, NULL, BATCH, &res, &err) == HK_OK &&
             hk_model_gradients(m, x, labels, NULL, BATCH, 0, &res, &err) == HK_OK;
    const float *out = NULL;
    r->grads = malloc(np * sizeof *r->grads);
    r->out = malloc(BATCH * sizeof *r->out);
    r->loss = res.loss;
    if (ok)
        memcpy(r->grads, hk_model_grads(m), np * sizeof *r->grads);
    ok = ok && hk_model_forward(m, x, BATCH, 0, 0, &out, &err) == HK_OK;
    if (ok)
        memcpy(r->out, out, BATCH * sizeof *r->out);
    hk_model_free(m);
    return ok;
}

int main(void)
{
    for (int members = 1; members <= 4; members++)
        check_parts(members);

    struct hk_error err;
    struct hk_model *m = conv_net(&err);
    if (!m) {
        CHECK(0, "build the conv network: %s", err.msg);
        return check_summary();
    }
    size_t in = hk_shape_size(hk_model_input(m)), np = hk_model_param_count(m);
    hk_model_free(m);
    float *x = malloc(BATCH * in * sizeof *x);
    int labels[BATCH];
    struct hk_rng rng;
    hk_rng_seed(&rng, 3);
    for (size_t i = 0; i < BATCH * in; i++)
        x[i] = hk_rng_uniform(&rng, -1, 1);
    for (int i = 0; i < BATCH; i++)
        labels[i] = i % 2;

    struct run one, two, three;
    CHECK(gradients_with(1, x, labels, &one), "gradients with 1 thread");
    CHECK(gradients_with(2, x, labels, &two), "gradients with 2 threads");
    CHECK(gradients_with(3, x, labels, &three), "gradients with 3 threads");
    size_t nonzero = 0;
    for (size_t i = 0; i < np; i++)
        nonzero += one.grads[i] != 0.0f;
    CHECK(nonzero > np / 2, "the gradients are not trivially zero (%zu of %zu nonzero)", nonzero, np);
    CHECK(!memcmp(one.grads, two.grads, np * sizeof *one.grads), "1 and 2 threads: bit-identical gradients");
    CHECK(!memcmp(one.grads, three.grads, np * sizeof *one.grads), "1 and 3 threads: bit-identical gradients");
    CHECK(one.loss == two.loss && one.loss == three.loss, "same loss with 1, 2, 3 threads");
    CHECK(!memcmp(one.out, two.out, BATCH * sizeof *one.out) && !memcmp(one.out, three.out, BATCH * sizeof *one.out),
          "1, 2 and 3 threads: bit-identical predictions");
    struct run *runs[] = {&one, &two, &three};
    for (int k = 0; k < 3; k++) {
        free(runs[k]->grads);
        free(runs[k]->out);
    }
    free(x);
    hk_team_resize(1, NULL);
    return check_summary();
}
