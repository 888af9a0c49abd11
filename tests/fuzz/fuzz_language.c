/* fuzz_language.c: fuzz target for the command language as the core parses it: the lexer, the
 * number and shape parsers, the layer commands (layer_spec.c) and compile (compile_spec.c), and
 * shape inference when the parsed layers are added to a model. The input is a script, one
 * command line per text line. Understood commands (the rest only go through the lexer):
 *   model new input=HxWxC     a fresh model (inputs of at most 4096 values, to stay fast)
 *   LAYER ARGS...             parse, then append to the model
 *   model remove N            remove layer N
 *   model set N ARGS...       change layer N's settings
 *   compile ARGS...           parse, then compile the model
 *   forward                   one forward (and, when compiled, backward) pass of a zero batch
 * Checked properties, besides not crashing: every layer of the model, written back with
 * hk_layer_spec_format, parses to the same settings; every compile setting written back with
 * hk_compile_format parses to exactly the same optimizer and loss. */
#include <stdlib.h>
#include <string.h>

#include "compile_spec.h"
#include "fuzz.h"
#include "layer_spec.h"
#include "lexer.h"
#include "model.h"

#define MAX_INPUT (1 << 16)          /* bytes of script looked at */
#define MAX_INPUT_VALUES 4096        /* values per input sample */
#define MAX_FORWARD_BYTES (16 << 20) /* run passes only on models this small */
#define MEMORY_LIMIT ((size_t)32 << 20) /* hk_model_set_memory_limit: what a user might set; small, so
                                         * that the limit is often reached and runs stay fast */

static struct hk_words words, again; /* large: not on the stack */

/* hk_layer_spec_format(spec) parses back to spec (strides written only when not the default). */
static void check_layer_round_trip(const struct hk_layer_spec *spec)
{
    char text[512];
    int bad;
    struct hk_error err;
    struct hk_layer_spec back;
    hk_layer_spec_format(spec, text, sizeof text);
    int lexed = hk_lex(text, &again, &bad, &err) == HK_OK;
    FUZZ_CHECK(lexed);
    int parsed = hk_layer_spec_parse(&again, 0, &back, &bad, &err) == HK_OK;
    FUZZ_CHECK(parsed);
    FUZZ_CHECK(back.kind == spec->kind && back.units == spec->units && back.kh == spec->kh && back.kw == spec->kw);
    FUZZ_CHECK(back.same == spec->same && back.rate == spec->rate && back.act == spec->act && back.l2 == spec->l2);
    FUZZ_CHECK(back.sh == 0 || (back.sh == spec->sh && back.sw == spec->sw));
}

static void check_compile_round_trip(const struct hk_optim *opt, enum hk_loss loss)
{
    char text[512];
    int bad;
    struct hk_error err;
    struct hk_optim back;
    enum hk_loss back_loss;
    hk_compile_format(opt, loss, text, sizeof text);
    int lexed = hk_lex(text, &again, &bad, &err) == HK_OK;
    FUZZ_CHECK(lexed);
    int parsed = hk_compile_parse(&again, 0, &back, &back_loss, &bad, &err) == HK_OK;
    FUZZ_CHECK(parsed);
    FUZZ_CHECK(back_loss == loss && back.kind == opt->kind && back.lr == opt->lr);
    switch (opt->kind) {
    case HK_OPTIM_SGD:
        FUZZ_CHECK(back.momentum == opt->momentum && back.nesterov == opt->nesterov);
        break;
    case HK_OPTIM_RMSPROP:
        FUZZ_CHECK(back.rho == opt->rho && back.epsilon == opt->epsilon);
        break;
    case HK_OPTIM_ADAM:
    case HK_OPTIM_COUNT:
        FUZZ_CHECK(back.beta1 == opt->beta1 && back.beta2 == opt->beta2 && back.epsilon == opt->epsilon);
        break;
    }
}

/* The number and shape parsers on every word: they must accept or refuse, nothing else. */
static void parse_numbers(const struct hk_words *w)
{
    static const char *const names[] = {"conv2d", "dense", "maxpool", "compile", "model", NULL};
    for (int i = 0; i < w->count; i++) {
        const char *t = w->w[i].key ? w->w[i].value : w->w[i].text;
        int dims[3], n;
        double v;
        int parts = hk_parse_dims(t, dims);
        for (int k = 0; k < parts; k++)
            FUZZ_CHECK(dims[k] >= 1 && dims[k] <= 1000000);
        if (hk_parse_int(t, &n))
            FUZZ_CHECK(n >= 0);
        hk_parse_float(t, &v);
        hk_closest(t, names);
    }
}

/* One forward pass of a zero batch of 2, and a backward pass when compiled. */
static void run_passes(struct hk_model *m)
{
    if (!hk_model_count(m))
        return;
    size_t in = hk_shape_size(hk_model_input(m));
    size_t bytes = hk_model_workspace_bytes(m, 2) + hk_model_param_count(m) * 16 + in * 2 * sizeof(float);
    if (bytes > MAX_FORWARD_BYTES)
        return;
    float *x = calloc(in * 2, sizeof *x);
    if (!x)
        return;
    struct hk_error err;
    const float *out;
    hk_model_forward(m, x, 2, 0, 0, &out, &err);
    if (hk_model_compiled(m, NULL, NULL)) {
        int labels[2] = {0, 1};
        struct hk_step_result res;
        if (hk_model_gradients(m, x, labels, NULL, 2, 0, &res, &err) == HK_OK)
            hk_model_update(m);
    }
    free(x);
}

static int is(const struct hk_words *w, int i, const char *text)
{
    return i < w->count && strcmp(w->w[i].text, text) == 0;
}

/* Run one lexed command against *m. */
static void run_command(struct hk_model **m, const struct hk_words *w)
{
    struct hk_error err;
    struct hk_layer_spec spec;
    int bad, at;
    parse_numbers(w);
    if (!w->count)
        return;
    if (is(w, 0, "model") && is(w, 1, "new") && w->count == 3 && w->w[2].key && !strcmp(w->w[2].key, "input")) {
        int dims[3] = {0, 0, 1};
        if (hk_parse_dims(w->w[2].value, dims) == 3 && (size_t)dims[0] * dims[1] * dims[2] <= MAX_INPUT_VALUES) {
            struct hk_model *fresh = hk_model_new((struct hk_shape){dims[2], dims[0], dims[1]}, 7, &err);
            if (fresh) {
                hk_model_free(*m);
                *m = fresh;
            }
        }
    } else if (is(w, 0, "model") && is(w, 1, "remove") && w->count == 3 && hk_parse_int(w->w[2].text, &at)) {
        hk_model_remove(*m, at, NULL, &err);
    } else if (is(w, 0, "model") && is(w, 1, "set") && w->count >= 3 && hk_parse_int(w->w[2].text, &at)) {
        const struct hk_layer *l = hk_model_layer(*m, at);
        if (l) {
            spec = l->spec;
            if (hk_layer_spec_parse_args(w, 3, 1, &spec, &bad, &err) == HK_OK) {
                FUZZ_CHECK(bad >= 3 && bad <= w->count);
                hk_model_replace(*m, at, &spec, NULL, &err);
            }
        }
    } else if (is(w, 0, "compile")) {
        struct hk_optim opt;
        enum hk_loss loss;
        if (hk_compile_parse(w, 0, &opt, &loss, &bad, &err) == HK_OK) {
            check_compile_round_trip(&opt, loss);
            hk_model_compile(*m, &opt, loss, &err);
        } else {
            FUZZ_CHECK(bad >= 0 && bad <= w->count);
        }
    } else if (is(w, 0, "forward")) {
        run_passes(*m);
    } else if (hk_layer_kind_find(w->w[0].text) != HK_LAYER_KIND_COUNT) {
        if (hk_layer_spec_parse(w, 0, &spec, &bad, &err) == HK_OK)
            hk_model_insert(*m, hk_model_count(*m), &spec, NULL, &err);
        else
            FUZZ_CHECK(bad >= 0 && bad <= w->count);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        size = MAX_INPUT;
    hk_model_set_memory_limit(MEMORY_LIMIT);
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){3, 8, 8}, 7, &err);
    char *line = text;
    while (line && m) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        const char *p = line;
        for (;;) {
            int bad = -1;
            if (hk_lex(p, &words, &bad, &err) != HK_OK) {
                FUZZ_CHECK(bad >= 0 && (size_t)bad <= strlen(p));
                break;
            }
            FUZZ_CHECK(words.count >= 0 && words.count <= HK_LEX_MAX_WORDS);
            run_command(&m, &words);
            if (words.rest < 0)
                break;
            FUZZ_CHECK(words.rest > 0 && (size_t)words.rest <= strlen(p));
            p += words.rest;
        }
        line = next;
    }
    for (int i = 0; m && i < hk_model_count(m); i++)
        check_layer_round_trip(&hk_model_layer(m, i)->spec);
    hk_model_free(m);
    free(text);
    return 0;
}
