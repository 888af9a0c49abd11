/* test_modelfile.c: the compile command's parser, SHA-256, and .hkm model files: exact round trips
 * (weights, predictions, optimizer state, metadata), and refusal of every damaged, truncated or
 * lying file with a located message (the training-state sections: test_modelfile_train.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "compile_spec.h"
#include "model.h"
#include "modelfile.h"
#include "modelfile_files.h"
#include "sha256.h"

static struct hk_words words; /* large: not on the stack */

/* ---- compile ---------------------------------------------------------------------------- */

static enum hk_status parse_compile(const char *line, struct hk_optim *o, enum hk_loss *loss, int *bad,
                                    struct hk_error *err)
{
    int col;
    if (hk_lex(line, &words, &col, err) != HK_OK)
        return err->status;
    return hk_compile_parse(&words, 0, o, loss, bad, err);
}

static int same_optim(const struct hk_optim *a, const struct hk_optim *b)
{
    return a->kind == b->kind && a->lr == b->lr && a->momentum == b->momentum && a->nesterov == b->nesterov &&
           a->rho == b->rho && a->beta1 == b->beta1 && a->beta2 == b->beta2 && a->epsilon == b->epsilon;
}

static void test_compile(void)
{
    struct hk_optim o;
    enum hk_loss loss;
    struct hk_error err;
    int bad;
    char buf[256];

    CHECK(parse_compile("compile", &o, &loss, &bad, &err) == HK_OK, "bare compile: %s", err.msg);
    struct hk_optim adam = hk_optim_default(HK_OPTIM_ADAM);
    CHECK(same_optim(&o, &adam) && loss == HK_LOSS_BCE, "bare compile gives adam defaults and BCE");

    CHECK(parse_compile("compile optimizer=adam lr=0.0005 loss=binary_crossentropy", &o, &loss, &bad, &err) == HK_OK,
          "blog compile: %s", err.msg);
    hk_compile_format(&o, loss, buf, sizeof buf);
    CHECK(strcmp(buf, "compile optimizer=adam lr=0.0005 beta1=0.9 beta2=0.999 epsilon=1e-07 "
                      "loss=binary_crossentropy") == 0,
          "format of the blog's compile: %s", buf);

    /* the optimizer decides the defaults whatever the word order */
    CHECK(parse_compile("compile lr=0.5 momentum=0.9 nesterov=yes optimizer=sgd loss=cce", &o, &loss, &bad, &err) ==
              HK_OK,
          "sgd after its options: %s", err.msg);
    CHECK(o.kind == HK_OPTIM_SGD && o.lr == 0.5f && o.momentum == 0.9f && o.nesterov == 1 && loss == HK_LOSS_CCE,
          "sgd options applied");
    CHECK(parse_compile("compile optimizer=rmsprop rho=0.8 epsilon=1/3", &o, &loss, &bad, &err) == HK_OK,
          "rmsprop: %s", err.msg);
    CHECK(o.kind == HK_OPTIM_RMSPROP && o.rho == 0.8f && o.epsilon == (float)(1.0 / 3) && o.lr == 0.001f,
          "rmsprop options applied");

    /* errors: typo suggestion with the bad word, options of other optimizers, ranges, repeats */
    CHECK(parse_compile("compile optimizer=adam lrr=0.1", &o, &loss, &bad, &err) == HK_EINVAL && bad == 2 &&
              strstr(err.msg, "unknown option 'lrr'; did you mean 'lr'?"),
          "typo: bad=%d %s", bad, err.msg);
    CHECK(parse_compile("compile optimizer=adamw", &o, &loss, &bad, &err) == HK_EINVAL && bad == 1 &&
              strstr(err.msg, "did you mean 'adam'"),
          "optimizer typo: %s", err.msg);
    CHECK(parse_compile("compile loss=binary_crossentropi", &o, &loss, &bad, &err) == HK_EINVAL &&
              strstr(err.msg, "did you mean 'binary_crossentropy'"),
          "loss typo: %s", err.msg);
    CHECK(parse_compile("compile momentum=0.9", &o, &loss, &bad, &err) == HK_EINVAL && bad == 1 &&
              strstr(err.msg, "does not apply to optimizer adam"),
          "momentum with adam: %s", err.msg);
    CHECK(parse_compile("compile lr=0", &o, &loss, &bad, &err) == HK_EINVAL && strstr(err.msg, "lr"),
          "lr=0: %s", err.msg);
    CHECK(parse_compile("compile lr=1e-60", &o, &loss, &bad, &err) == HK_EINVAL, "lr underflowing float: %s",
          err.msg);
    CHECK(parse_compile("compile beta1=1", &o, &loss, &bad, &err) == HK_EINVAL, "beta1=1: %s", err.msg);
    CHECK(parse_compile("compile lr=0.1 lr=0.2", &o, &loss, &bad, &err) == HK_EINVAL && bad == 2 &&
              strstr(err.msg, "twice"),
          "repeated option: %s", err.msg);
    CHECK(parse_compile("compile adam", &o, &loss, &bad, &err) == HK_EINVAL && bad == 1, "positional: %s", err.msg);
    CHECK(parse_compile("compile optimizer=sgd nesterov=maybe", &o, &loss, &bad, &err) == HK_EINVAL,
          "nesterov=maybe: %s", err.msg);

    /* format -> parse is exact for awkward values of every optimizer */
    struct hk_optim cases[3] = {hk_optim_default(HK_OPTIM_SGD), hk_optim_default(HK_OPTIM_RMSPROP),
                                hk_optim_default(HK_OPTIM_ADAM)};
    cases[0].lr = 1.0f / 3, cases[0].momentum = 0.123456789f, cases[0].nesterov = 1;
    cases[1].lr = 3e-5f, cases[1].rho = 0.95f, cases[1].epsilon = 1.17549435e-38f;
    cases[2].lr = 0.0005f, cases[2].beta1 = 0.8999999f, cases[2].beta2 = 0.99999994f, cases[2].epsilon = 1e-8f;
    for (int i = 0; i < 3; i++) {
        struct hk_optim back;
        hk_compile_format(&cases[i], i == 1 ? HK_LOSS_CCE : HK_LOSS_BCE, buf, sizeof buf);
        CHECK(parse_compile(buf, &back, &loss, &bad, &err) == HK_OK, "reparse '%s': %s", buf, err.msg);
        CHECK(same_optim(&back, &cases[i]) && loss == (i == 1 ? HK_LOSS_CCE : HK_LOSS_BCE), "round trip of '%s'",
              buf);
    }
    const char *const *keys = hk_compile_keys;
    int n = 0;
    while (keys[n])
        n++;
    CHECK(n == 9 && strcmp(keys[0], "optimizer") == 0, "9 compile options for completion");
}

/* ---- sha256 ----------------------------------------------------------------------------- */

static void test_sha256(void)
{
    unsigned char d[32];
    char hex[65];
    hk_sha256("abc", 3, d);
    hk_sha256_hex(d, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "abc: %s", hex);
    hk_sha256("", 0, d);
    hk_sha256_hex(d, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0, "empty: %s", hex);
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hk_sha256(m448, strlen(m448), d);
    hk_sha256_hex(d, hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0, "448 bits: %s",
          hex);
    /* one million 'a', fed in uneven pieces through the incremental interface */
    struct hk_sha256 s;
    char a[1000];
    memset(a, 'a', sizeof a);
    hk_sha256_init(&s);
    size_t left = 1000000, piece = 1;
    while (left) {
        size_t k = piece < left ? piece : left;
        hk_sha256_update(&s, a, k);
        left -= k;
        piece = piece % 977 + 13;
    }
    hk_sha256_final(&s, d);
    hk_sha256_hex(d, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0, "million a: %s",
          hex);
    unsigned char back[32];
    CHECK(hk_sha256_parse_hex(hex, back) && memcmp(back, d, 32) == 0, "hex parses back");
    CHECK(!hk_sha256_parse_hex("cdc7", back) && !hk_sha256_parse_hex("", back), "short hex refused");
}

/* ---- models ----------------------------------------------------------------------------- */

static void fill_meta(struct hk_model_meta *meta)
{
    struct hk_error err;
    const char *classes[] = {"not husky", "husky"};
    hk_model_meta_init(meta);
    CHECK(hk_model_meta_set_classes(meta, classes, 2, &err) == HK_OK, "set classes: %s", err.msg);
    meta->rescale = 1.0f / 255;
    meta->script = strdup("seed 1337\nmodel new input=8x8x3  # \"quoted\" 'x'; y\n\n  conv2d 4 3x3\n");
    CHECK(hk_model_meta_set_extra(meta, "data_sha256", "0123abcd", &err) == HK_OK, "set data hash");
    CHECK(hk_model_meta_set_extra(meta, "trained.by", "husky test; with spaces = and # too", &err) == HK_OK,
          "set extra: %s", err.msg);
    CHECK(hk_model_meta_set_extra(meta, "bad key", "v", &err) == HK_EINVAL, "meta key with a space refused");
    CHECK(hk_model_meta_set_extra(meta, "k", "a\nb", &err) == HK_EINVAL, "meta value with a newline refused");
}

static int same_params(struct hk_model *a, struct hk_model *b)
{
    size_t n = hk_model_param_count(a);
    return n == hk_model_param_count(b) && memcmp(hk_model_params(a), hk_model_params(b), n * sizeof(float)) == 0;
}

static int same_predictions(struct hk_model *a, struct hk_model *b)
{
    float pa[N], pb[N];
    struct hk_error err;
    if (hk_model_predict(a, xs, N, 4, pa, &err) != HK_OK || hk_model_predict(b, xs, N, 4, pb, &err) != HK_OK)
        return 0;
    return memcmp(pa, pb, sizeof pa) == 0;
}

static void test_round_trip(void)
{
    struct hk_error err;
    struct hk_model *m = small_model(3), *back = NULL;
    struct hk_model_meta meta, got;
    fill_meta(&meta);
    hk_model_meta_init(&got);
    const char *path = in_dir("m.hkm");

    CHECK(hk_modelfile_save(path, m, &meta, 0, &err) == HK_OK, "save: %s", err.msg);
    CHECK(temp_files_left() == 0, "no temporary file after save");
    CHECK(hk_modelfile_load(path, NULL, &back, &got, &err) == HK_OK, "load: %s", err.msg);
    if (!back)
        return;
    CHECK(hk_model_count(back) == 5 && hk_model_param_count(back) == hk_model_param_count(m) &&
              hk_model_param_count(m) == 149,
          "same architecture (%zu params)", hk_model_param_count(back));
    CHECK(same_params(m, back), "weights are bit for bit the same");
    CHECK(same_predictions(m, back), "predictions are bit for bit the same");
    struct hk_optim o1, o2;
    enum hk_loss l1, l2;
    CHECK(hk_model_compiled(back, &o2, &l2) && hk_model_compiled(m, &o1, &l1) && same_optim(&o1, &o2) && l1 == l2,
          "compile settings restored");
    CHECK(hk_model_seed(back) == 1337, "seed restored");
    CHECK(hk_model_layer(back, 0)->spec.l2 == 0.001f && hk_model_layer(back, 2)->spec.rate == 0.25f,
          "layer options restored");
    CHECK(hk_model_optim_step(back) == 0, "without state the optimizer starts over");
    CHECK(got.class_count == 2 && strcmp(got.class_names[0], "not husky") == 0 &&
              strcmp(got.class_names[1], "husky") == 0,
          "class names restored");
    CHECK(got.rescale == 1.0f / 255, "rescale restored exactly");
    CHECK(got.script && strcmp(got.script, meta.script) == 0, "script restored exactly: [%s]",
          got.script ? got.script : "(null)");
    CHECK(got.data_sha256 && strcmp(got.data_sha256, "0123abcd") == 0, "data hash restored");
    CHECK(hk_model_meta_get_extra(&got, "trained.by") &&
              strcmp(hk_model_meta_get_extra(&got, "trained.by"), "husky test; with spaces = and # too") == 0,
          "extra meta restored");
    CHECK(got.husky_version && strcmp(got.husky_version, HK_VERSION) == 0 && got.seed == 1337 &&
              got.layer_count == 5 && got.param_count == 149 && got.compiled && got.state == 0,
          "load fills the file facts");

    /* verify gives the sha256sum of the whole file; a pin with it loads, another pin does not */
    char hex[65];
    size_t n;
    unsigned char *bytes = read_file(path, &n), d[32];
    char want[65];
    hk_sha256(bytes, n, d);
    hk_sha256_hex(d, want);
    CHECK(hk_modelfile_verify(path, hex, &err) == HK_OK && strcmp(hex, want) == 0, "verify: %s", err.msg);
    struct hk_model *pinned = NULL;
    CHECK(hk_modelfile_load(path, want, &pinned, NULL, &err) == HK_OK && pinned, "pinned load: %s", err.msg);
    hk_model_free(pinned);
    want[0] = want[0] == '0' ? '1' : '0';
    CHECK(hk_modelfile_load(path, want, &pinned, NULL, &err) == HK_EFORMAT && !pinned &&
              strstr(err.msg, "not the expected"),
          "wrong pin refused: %s", err.msg);
    CHECK(hk_modelfile_load(path, "abc", &pinned, NULL, &err) == HK_EINVAL, "malformed pin refused: %s", err.msg);

    /* info reads the header only */
    char *text = NULL;
    struct hk_model_meta info;
    hk_model_meta_init(&info);
    CHECK(hk_modelfile_info(path, &info, &text, &err) == HK_OK, "info: %s", err.msg);
    CHECK(text && strncmp(text, "husky ", 6) == 0 && strstr(text, "\nconv2d 4 3x3 activation=relu l2=0.001") &&
              strstr(text, "\nclasses \"not husky\" husky\n") && strstr(text, "\ncompile optimizer=adam lr=0.0005"),
          "header text:\n%s", text ? text : "(null)");
    CHECK(info.param_count == 149 && info.layer_count == 5 && info.class_count == 2 && info.input.h == 8 &&
              info.input.c == 3,
          "info facts");
    free(text);
    hk_model_meta_free(&info);

    /* saving over an existing file replaces it and leaves no temporary files */
    CHECK(hk_modelfile_save(path, back, &got, 0, &err) == HK_OK, "save over: %s", err.msg);
    CHECK(temp_files_left() == 0, "no temporary file after saving over");
    size_t n2;
    unsigned char *bytes2 = read_file(path, &n2);
    CHECK(n2 == n && memcmp(bytes, bytes2, n) == 0, "save -> load -> save is byte for byte stable");
    free(bytes2);
    free(bytes);

    hk_model_meta_free(&got);
    hk_model_meta_free(&meta);
    hk_model_free(back);
    hk_model_free(m);
}

/* Provenance husky does not interpret ("meta KEY VALUE" lines with keys it has no use for, as a
 * newer husky or another tool may write) survives load -> save: every entry, in file order. */
static void test_unknown_meta_kept(void)
{
    struct hk_error err;
    struct hk_model *m = small_model(0), *back = NULL, *back2 = NULL;
    struct hk_model_meta meta, got, got2;
    hk_model_meta_init(&meta);
    hk_model_meta_init(&got);
    hk_model_meta_init(&got2);
    const char *keys[] = {"z.from_a_newer_husky", "origin.url", "data_sha256", "a-reviewer"};
    const char *values[] = {"x=1 y=2", "https://example.org/husky.hkm", "feedbeef", "someone, on 2026-12-06"};
    for (int i = 0; i < 4; i++)
        CHECK(hk_model_meta_set_extra(&meta, keys[i], values[i], &err) == HK_OK, "set %s: %s", keys[i], err.msg);
    const char *first = in_dir("meta1.hkm"), *second = in_dir("meta2.hkm");
    CHECK(hk_modelfile_save(first, m, &meta, 0, &err) == HK_OK, "save: %s", err.msg);
    CHECK(hk_modelfile_load(first, NULL, &back, &got, &err) == HK_OK, "load: %s", err.msg);
    CHECK(back && hk_modelfile_save(second, back, &got, 0, &err) == HK_OK, "save the loaded model: %s", err.msg);
    CHECK(hk_modelfile_load(second, NULL, &back2, &got2, &err) == HK_OK, "load it again: %s", err.msg);
    CHECK(got2.extra_count == 3, "3 unknown entries kept (data_sha256 is known): %d", got2.extra_count);
    for (int i = 0, k = 0; i < 4 && got2.extra_count == 3; i++) {
        if (i == 2)
            continue;
        CHECK(!strcmp(got2.extra[k].key, keys[i]) && !strcmp(got2.extra[k].value, values[i]),
              "entry %d is %s %s in file order (got %s %s)", k, keys[i], values[i], got2.extra[k].key,
              got2.extra[k].value);
        k++;
    }
    CHECK(got2.data_sha256 && !strcmp(got2.data_sha256, "feedbeef"), "data_sha256 kept");
    size_t n1, n2;
    unsigned char *b1 = read_file(first, &n1), *b2 = read_file(second, &n2);
    CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1), "the re-saved file is byte for byte the first");
    free(b1);
    free(b2);
    hk_model_meta_free(&meta);
    hk_model_meta_free(&got);
    hk_model_meta_free(&got2);
    hk_model_free(back);
    hk_model_free(back2);
    hk_model_free(m);
}

static void test_optimizer_state(void)
{
    struct hk_error err;
    struct hk_model *m = small_model(4), *back = NULL;
    const char *path = in_dir("state.hkm");
    CHECK(hk_modelfile_save(path, m, NULL, HK_MODELFILE_STATE_OPTIMIZER, &err) == HK_OK, "save state: %s", err.msg);
    struct hk_model_meta meta;
    hk_model_meta_init(&meta);
    CHECK(hk_modelfile_load(path, NULL, &back, &meta, &err) == HK_OK, "load state: %s", err.msg);
    if (!back)
        return;
    float *m1, *v1, *m2, *v2;
    uint64_t *s1, *s2;
    hk_model_optim_state(m, &m1, &v1, &s1);
    hk_model_optim_state(back, &m2, &v2, &s2);
    size_t n = hk_model_param_count(m);
    CHECK(*s1 == 4 && *s2 == 4 && meta.optimizer_step == 4 && meta.state == HK_MODELFILE_STATE_OPTIMIZER,
          "step restored (%llu)", (unsigned long long)*s2);
    CHECK(memcmp(m1, m2, n * 4) == 0 && memcmp(v1, v2, n * 4) == 0, "moments restored bit for bit");
    int nonzero = 0;
    for (size_t i = 0; i < n; i++)
        nonzero += m2[i] != 0;
    CHECK(nonzero > 0, "moments are not trivially zero");
    /* training resumes exactly: one more step on each gives the same weights */
    struct hk_step_result r;
    hk_model_train_step(m, xs, labels, NULL, N, &r, &err);
    hk_model_train_step(back, xs, labels, NULL, N, &r, &err);
    CHECK(same_params(m, back), "a step after loading matches a step without saving");
    hk_model_meta_free(&meta);
    hk_model_free(back);

    /* a zeroed meta (as callers build it with = {0}) saves, and err may be NULL */
    struct hk_model_meta zero;
    memset(&zero, 0, sizeof zero);
    char hex[65];
    CHECK(hk_modelfile_save(path, m, &zero, 0, NULL) == HK_OK && hk_modelfile_verify(path, hex, NULL) == HK_OK,
          "zeroed meta saves");
    CHECK(hk_modelfile_load(path, NULL, &back, &zero, NULL) == HK_OK && zero.rescale == 1.0f,
          "zeroed meta loads, rescale 1");
    hk_model_meta_free(&zero);
    hk_model_free(back);
    /* the whole file's hash as the writer computed it is the one read back (optimizer state too) */
    unsigned char written[32];
    char written_hex[65];
    CHECK(hk_modelfile_save_hashed(path, m, NULL, HK_MODELFILE_STATE_OPTIMIZER, written, &err) == HK_OK &&
              hk_modelfile_verify(path, hex, NULL) == HK_OK,
          "save_hashed: %s", err.msg);
    hk_sha256_hex(written, written_hex);
    CHECK(strcmp(hex, written_hex) == 0, "the writer's hash %s is not the file's %s", written_hex, hex);
    CHECK(hk_modelfile_load(in_dir("nothing.hkm"), NULL, &back, NULL, NULL) == HK_EIO && !back, "err may be NULL");

    /* optimizer state of an uncompiled model cannot be saved */
    struct hk_model *u = hk_model_new((struct hk_shape){1, 2, 2}, 1, &err);
    CHECK(hk_modelfile_save(in_dir("u.hkm"), u, NULL, HK_MODELFILE_STATE_OPTIMIZER, &err) == HK_EINVAL,
          "state of an uncompiled model: %s", err.msg);
    CHECK(hk_modelfile_save(in_dir("u.hkm"), u, NULL, 0, &err) == HK_OK, "an empty model saves: %s", err.msg);
    struct hk_model *ub = NULL;
    CHECK(hk_modelfile_load(in_dir("u.hkm"), NULL, &ub, NULL, &err) == HK_OK && ub && hk_model_count(ub) == 0,
          "an empty model loads: %s", err.msg);
    hk_model_free(ub);
    hk_model_free(u);
    hk_model_free(m);
}

/* batchnorm (its moving statistics are state tensors), depthwise, zeropad, relu6, global_avgpool,
 * rescaling (a scale that has no short decimal form) after a few training steps: weights, state,
 * the rescaling and predictions come back bit for bit. */
static void test_modern_layers(void)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){3, 8, 8}, 5, &err), *back = NULL;
    struct hk_layer_spec specs[] = {
        {.kind = HK_LAYER_RESCALING, .scale = 1.0f / 127.5f, .offset = -1.0f},
        {.kind = HK_LAYER_ZEROPAD, .pad = {0, 1, 0, 1}},
        {.kind = HK_LAYER_CONV2D, .units = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .nobias = 1},
        {.kind = HK_LAYER_BATCHNORM, .momentum = 0.5f},
        {.kind = HK_LAYER_ACTIVATION, .act = HK_ACT_RELU6},
        {.kind = HK_LAYER_DEPTHWISE, .kh = 3, .kw = 3, .same = 1},
        {.kind = HK_LAYER_GLOBAL_AVGPOOL},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    for (int i = 0; i < 8; i++)
        CHECK(hk_model_insert(m, i, &specs[i], NULL, &err) == HK_OK, "insert %d: %s", i, err.msg);
    struct hk_optim o = hk_optim_default(HK_OPTIM_ADAM);
    hk_model_compile(m, &o, HK_LOSS_BCE, &err);
    for (int s = 0; s < 3; s++) {
        struct hk_step_result r;
        hk_model_train_step(m, xs, labels, NULL, N, &r, &err);
    }
    CHECK(hk_model_state_count(m) == 8 && hk_model_state(m)[0] != 0.0f && hk_model_state(m)[4] != 1.0f,
          "8 values of state, moved by training");
    CHECK(strcmp(hk_model_layer(m, 4)->name, "re_lu") == 0, "activation relu6 is named re_lu");
    CHECK(hk_modelfile_save(in_dir("bn.hkm"), m, NULL, 0, &err) == HK_OK, "save: %s", err.msg);
    CHECK(hk_modelfile_load(in_dir("bn.hkm"), NULL, &back, NULL, &err) == HK_OK, "load: %s", err.msg);
    if (back) {
        CHECK(same_params(m, back), "weights restored");
        CHECK(hk_model_state_count(back) == 8 &&
                  memcmp(hk_model_state(m), hk_model_state(back), 8 * sizeof(float)) == 0,
              "moving mean and variance restored");
        CHECK(same_predictions(m, back), "predictions are bit for bit the same");
        CHECK(hk_model_layer(back, 0)->spec.scale == 1.0f / 127.5f && hk_model_layer(back, 0)->spec.offset == -1.0f,
              "rescaling's scale and offset restored exactly");
    }
    struct hk_modelfile_report r;
    enum hk_status st = hk_modelfile_check(in_dir("bn.hkm"), &r, &err);
    CHECK(st == HK_OK && r.tensors == 9 && r.param_count == hk_model_param_count(m),
          "9 tensors (conv2d kernel; gamma, beta, moving_mean, moving_variance; depthwise kernel, bias; dense "
          "kernel, bias): %d, %s", r.tensors, st == HK_OK ? "" : err.msg);
    hk_model_free(back);
    hk_model_free(m);
}

/* Layers named with gaps (after a remove) and a softmax head with three classes. */
static void test_names_and_classes(void)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){2, 5, 5}, 9, &err), *back = NULL;
    struct hk_layer_spec conv = {.kind = HK_LAYER_CONV2D, .units = 2, .kh = 3, .kw = 3, .same = 1};
    struct hk_layer_spec flat = {.kind = HK_LAYER_FLATTEN};
    struct hk_layer_spec head = {.kind = HK_LAYER_DENSE, .units = 3, .act = HK_ACT_SOFTMAX};
    hk_model_insert(m, 0, &conv, NULL, &err);
    hk_model_insert(m, 1, &conv, NULL, &err);
    hk_model_remove(m, 0, NULL, &err);
    hk_model_insert(m, 1, &flat, NULL, &err);
    hk_model_insert(m, 2, &head, NULL, &err);
    struct hk_optim o = hk_optim_default(HK_OPTIM_SGD);
    CHECK(hk_model_compile(m, &o, HK_LOSS_CCE, &err) == HK_OK, "compile cce: %s", err.msg);
    CHECK(strcmp(hk_model_layer(m, 0)->name, "conv2d_1") == 0, "the first layer is named conv2d_1");
    struct hk_model_meta meta;
    hk_model_meta_init(&meta);
    const char *two[] = {"a", "b"}, *three[] = {"cat's", "dog;x", "#bird"};
    hk_model_meta_set_classes(&meta, two, 2, &err);
    CHECK(hk_modelfile_save(in_dir("c.hkm"), m, &meta, 0, &err) == HK_EINVAL && strstr(err.msg, "needs 3 class"),
          "two classes for three outputs refused: %s", err.msg);
    hk_model_meta_set_classes(&meta, three, 3, &err);
    CHECK(hk_modelfile_save(in_dir("c.hkm"), m, &meta, 0, &err) == HK_OK, "save cce: %s", err.msg);
    struct hk_model_meta got;
    hk_model_meta_init(&got);
    CHECK(hk_modelfile_load(in_dir("c.hkm"), NULL, &back, &got, &err) == HK_OK, "load cce: %s", err.msg);
    if (back) {
        CHECK(same_params(m, back), "weights of a renamed layer restored");
        CHECK(strcmp(hk_model_layer(back, 0)->name, "conv2d") == 0, "reloaded layers are named by position");
        CHECK(got.class_count == 3 && strcmp(got.class_names[0], "cat's") == 0 &&
                  strcmp(got.class_names[1], "dog;x") == 0 && strcmp(got.class_names[2], "#bird") == 0,
              "class names with special characters restored");
    }
    const char *quoted[] = {"say \"hi\"", "b", "c"};
    hk_model_meta_free(&meta);
    meta.class_names = (char **)quoted;
    meta.class_count = 3;
    CHECK(hk_modelfile_save(in_dir("q.hkm"), m, &meta, 0, &err) == HK_EINVAL && strstr(err.msg, "double quote"),
          "class name with a quote refused: %s", err.msg);
    CHECK(access(in_dir("q.hkm"), F_OK) != 0 && temp_files_left() == 0, "nothing written for a refused save");
    hk_model_meta_free(&got);
    hk_model_free(back);
    hk_model_free(m);
}

/* ---- damaged files ---------------------------------------------------------------------- */

static void test_damage(void)
{
    struct hk_error err;
    struct hk_model *m = small_model(1), *back;
    const char *good = in_dir("good.hkm"), *bad = in_dir("bad.hkm");
    CHECK(hk_modelfile_save(good, m, NULL, 0, &err) == HK_OK, "save: %s", err.msg);
    size_t n;
    unsigned char *bytes = read_file(good, &n);
    unsigned char *copy = malloc(n);

    int flips_refused = 0, flips_verify = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(copy, bytes, n);
        copy[i] ^= 0xff;
        write_file(bad, copy, n);
        back = NULL;
        flips_refused += hk_modelfile_load(bad, NULL, &back, NULL, &err) != HK_OK && !back && err.msg[0];
        flips_verify += hk_modelfile_verify(bad, NULL, &err) != HK_OK;
        hk_model_free(back);
    }
    CHECK(flips_refused == (int)n && flips_verify == (int)n, "every byte flip refused: load %d, verify %d of %zu",
          flips_refused, flips_verify, n);
    memcpy(copy, bytes, n);
    copy[n / 2] ^= 0xff;
    write_file(bad, copy, n);
    CHECK(hk_modelfile_load(bad, NULL, &back, NULL, &err) == HK_EFORMAT &&
              strstr(err.msg, "is damaged or was changed: SHA-256 mismatch (stored "),
          "flip message: %s", err.msg);

    int cut_refused = 0, cut_verify = 0;
    for (size_t len = 0; len < n; len++) {
        write_file(bad, bytes, len);
        back = NULL;
        cut_refused += hk_modelfile_load(bad, NULL, &back, NULL, &err) != HK_OK && !back && err.msg[0];
        cut_verify += hk_modelfile_verify(bad, NULL, &err) != HK_OK;
        hk_model_free(back);
    }
    CHECK(cut_refused == (int)n && cut_verify == (int)n, "every truncation refused: load %d, verify %d of %zu",
          cut_refused, cut_verify, n);
    write_file(bad, bytes, 10);
    CHECK(hk_modelfile_load(bad, NULL, &back, NULL, &err) == HK_EFORMAT && strstr(err.msg, "only 10 bytes"),
          "short file message: %s", err.msg);

    /* flips with the hash made right again: the parser sees damaged content and must cope */
    int parsed = 0;
    for (size_t i = 0; i + 32 < n; i++) {
        memcpy(copy, bytes, n);
        copy[i] ^= 0xff;
        hk_sha256(copy, n - 32, copy + n - 32);
        write_file(bad, copy, n);
        back = NULL;
        enum hk_status st = hk_modelfile_load(bad, NULL, &back, NULL, &err);
        parsed += st == HK_OK;
        CHECK((st == HK_OK) == (back != NULL), "status and model agree at flipped byte %zu", i);
        hk_model_free(back);
    }
    CHECK(parsed > 0, "flips of weights with a fixed hash still load (%d)", parsed);

    CHECK(hk_modelfile_load(in_dir("missing.hkm"), NULL, &back, NULL, &err) == HK_EIO && !back &&
              strstr(err.msg, "missing.hkm"),
          "missing file: %s", err.msg);
    CHECK(hk_modelfile_load(dir, NULL, &back, NULL, &err) == HK_EIO, "a directory: %s", err.msg);
    if (mkfifo(in_dir("fifo.hkm"), 0600) == 0) {
        char hex[65];
        CHECK(hk_modelfile_load(in_dir("fifo.hkm"), NULL, &back, NULL, &err) == HK_EIO &&
                  strstr(err.msg, "not a regular file"),
              "a FIFO is refused, not waited on: %s", err.msg);
        CHECK(hk_modelfile_verify(in_dir("fifo.hkm"), hex, &err) == HK_EIO, "verify of a FIFO: %s", err.msg);
    }
    free(copy);
    free(bytes);
    hk_model_free(m);
}

/* A graph (names, input=, add from=) with frozen layers, after the model was edited so that its
 * automatic names are not the ones a replay would give: the file names every layer, and the
 * loaded model has the same names, connections, frozen layers, weights and predictions. */
static void test_graph_round_trip(void)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){3, 8, 8}, 99, &err), *back = NULL;
    struct hk_layer_spec specs[] = {
        {.kind = HK_LAYER_CONV2D, .units = 4, .kh = 3, .kw = 3, .same = 1, .act = HK_ACT_RELU},
        {.kind = HK_LAYER_CONV2D, .units = 4, .kh = 3, .kw = 3, .same = 1, .name = "branch"},
        {.kind = HK_LAYER_ADD, .from = {"conv2d_1"}},
        {.kind = HK_LAYER_CONV2D, .units = 4, .kh = 1, .kw = 1, .input = "conv2d_1", .name = "side"},
        {.kind = HK_LAYER_ADD, .from = {"side", "add"}, .name = "sum"},
        {.kind = HK_LAYER_FLATTEN},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    struct hk_layer_spec dropout = {.kind = HK_LAYER_DROPOUT, .rate = 0.5f};
    /* conv2d (removed below) makes the first convolution conv2d_1 */
    int ok = hk_model_insert(m, 0, &specs[0], NULL, &err) == HK_OK;
    for (int i = 0; i < 7 && ok; i++)
        ok = hk_model_insert(m, i + 1, &specs[i], NULL, &err) == HK_OK;
    ok = ok && hk_model_insert(m, 1, &dropout, NULL, &err) == HK_OK && hk_model_remove(m, 0, NULL, &err) == HK_OK &&
         hk_model_remove(m, 0, NULL, &err) == HK_OK;
    CHECK(ok && strcmp(hk_model_layer(m, 0)->name, "conv2d_1") == 0, "graph built: %s", ok ? "" : err.msg);
    if (!ok)
        return;
    hk_model_set_frozen(m, 0, 2, 1);
    const char *path = in_dir("graph.hkm");
    CHECK(hk_modelfile_save(path, m, NULL, 0, &err) == HK_OK, "graph save: %s", err.msg);
    CHECK(hk_modelfile_load(path, NULL, &back, NULL, &err) == HK_OK, "graph load: %s", err.msg);
    if (back) {
        int same = hk_model_count(back) == hk_model_count(m);
        for (int i = 0; same && i < hk_model_count(m); i++) {
            const struct hk_layer *a = hk_model_layer(m, i), *b = hk_model_layer(back, i);
            same = strcmp(a->name, b->name) == 0 && a->input == b->input && a->input2 == b->input2 &&
                   a->frozen == b->frozen;
        }
        CHECK(same, "graph: names, connections and frozen layers come back");
        CHECK(same_params(m, back) && same_predictions(m, back), "graph: weights and predictions bit for bit");
        size_t t, nt;
        hk_model_param_split(back, &t, &nt);
        CHECK(nt == hk_model_layer(m, 0)->wcount + hk_model_layer(m, 0)->bcount + 4 * 4 * 9 + 4 && t > 0,
              "graph: the frozen parameters are non-trainable after loading (%zu)", nt);
    }
    hk_model_free(back);
    hk_model_free(m);
}

/* ---- hand-built files ------------------------------------------------------------------- */


static void test_lies(void)
{
    const char *small = "husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3\nflatten\ndense 1 "
                        "activation=sigmoid\ncompile\n";
    /* conv kernel 2x1x3x3 (72 bytes), bias 2 (8), dense kernel 8x1 (32), bias 1 (4): 116 bytes */
    struct entry ok[4] = {{"conv2d/kernel", 4, {2, 1, 3, 3}, 0, 72},
                          {"conv2d/bias", 1, {2}, 72, 8},
                          {"dense/kernel", 2, {8, 1}, 80, 32},
                          {"dense/bias", 1, {1}, 112, 4}};
    struct entry e[5];
    EXPECT(small, ok, 4, 116, HK_OK, "");

    memcpy(e, ok, sizeof ok);
    e[3].offset = 9999;
    EXPECT(small, e, 4, 116, HK_EFORMAT, "tensor table entry 4 at offset ");
    EXPECT(small, e, 4, 116, HK_EFORMAT, "offset 9999 is past the end of the data (116 bytes)");
    memcpy(e, ok, sizeof ok);
    e[2].offset = 60;
    EXPECT(small, e, 4, 116, HK_EFORMAT, "overlaps the tensor before it, which ends at 80");
    memcpy(e, ok, sizeof ok);
    e[1].offset = 76;
    EXPECT(small, e, 4, 116, HK_EFORMAT, "leaves a gap");
    memcpy(e, ok, sizeof ok);
    EXPECT(small, e, 4, 120, HK_EFORMAT, "the tensors cover 116 of the 120 bytes of data");
    EXPECT(small, e, 4, 100, HK_EFORMAT, "runs past the end of the data (100 bytes)");
    e[0].name = "conv2d/kernal";
    EXPECT(small, e, 4, 116, HK_EFORMAT, "expected tensor 'conv2d/kernel', found 'conv2d/kernal'");
    memcpy(e, ok, sizeof ok);
    e[0].dims[1] = 1, e[0].dims[2] = 9, e[0].dims[3] = 1;
    EXPECT(small, e, 4, 116, HK_EFORMAT, "'conv2d/kernel' has shape (2,1,9,1), but the header's model needs (2,1,3,3)");
    memcpy(e, ok, sizeof ok);
    e[0].length = 76;
    EXPECT(small, e, 4, 116, HK_EFORMAT, "does not match its shape");
    memcpy(e, ok, sizeof ok);
    e[0].dims[0] = 0xffffffffu, e[0].dims[1] = 0xffffffffu, e[0].dims[2] = 0xffffffffu;
    EXPECT(small, e, 4, 116, HK_EFORMAT, "does not match its shape");
    memcpy(e, ok, sizeof ok);
    e[0].rank = 7;
    EXPECT(small, e, 4, 116, HK_EFORMAT, "rank 7; expected 1 to 4");
    EXPECT(small, ok, 3, 112, HK_EFORMAT, "missing 'dense/bias'");
    /* connections and freeze lines are checked against the layers */
    const char *graph = "husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3 name=c\nflatten name=f\n"
                        "dense 1 activation=sigmoid name=d\nmodel freeze c..f\ncompile\n";
    struct entry named[4] = {{"c/kernel", 4, {2, 1, 3, 3}, 0, 72},
                             {"c/bias", 1, {2}, 72, 8},
                             {"d/kernel", 2, {8, 1}, 80, 32},
                             {"d/bias", 1, {1}, 112, 4}};
    EXPECT(graph, named, 4, 116, HK_OK, "");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3 name=c\nflatten name=f\n"
           "dense 1 activation=sigmoid name=d\nmodel freeze c..x\n",
           named, 4, 116, HK_EFORMAT, "header line 6 (offset 126): model freeze c..x: no such layer");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3 name=c\nflatten name=f\n"
           "dense 1 activation=sigmoid name=d\nmodel freeze f..c\n",
           named, 4, 116, HK_EFORMAT, "model freeze f..c: the range is backwards");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3 name=c\nflatten name=f input=d\n"
           "dense 1 activation=sigmoid name=d\n",
           named, 4, 116, HK_EFORMAT, "header line 4 (offset 77): f: input=d names no earlier layer");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3 name=c\nflatten name=f\nadd from=c\n"
           "dense 1 activation=sigmoid name=d\n",
           named, 4, 116, HK_EFORMAT, "add: cannot add f (None, 8) and c (None, 2, 2, 2); the shapes must be equal");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3 name=c\nflatten name=c\n"
           "dense 1 activation=sigmoid name=d\n",
           named, 4, 116, HK_EFORMAT, "c: the name is taken by layer 0");
    memcpy(e, ok, sizeof ok);
    e[4] = (struct entry){"extra/thing", 1, {1}, 116, 4};
    EXPECT(small, e, 5, 120, HK_EFORMAT, "unexpected tensor 'extra/thing'");

    /* headers that lie or are not models */
    EXPECT("husky 0.1.0\nmodel new input=2048x2048x4 seed=1\nflatten\ndense 100000000\n", NULL, 0, 0, HK_ENOMEM,
           "header line 4 (offset 71): dense: output (1,1,100000000) has more than 64 M values");
    EXPECT("husky 0.1.0\nmodel new input=2048x2048x4 seed=1\nflatten\ndense 1000\n", NULL, 0, 0, HK_ENOMEM,
           "header line 4 (offset 71): dense: the model would have 16777217000 parameters; the limit is 268435456");
    EXPECT("husky 0.1.0\nmodel new input=128x128x128 seed=1\n", NULL, 0, 0, HK_EFORMAT,
           "header line 2 (offset 28): model new: input must look like 128x128x3");
    EXPECT("husky 0.1.0\nmodel new input=128x128x3\n", NULL, 0, 0, HK_EFORMAT, "model new: missing seed=N");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nlambda x: os.system('rm -rf /')\n", NULL, 0, 0, HK_EFORMAT,
           "header line 3 (offset 57): unknown command 'lambda'");
    EXPECT("hello world\n", NULL, 0, 0, HK_EFORMAT, "header line 1 (offset 16): expected 'husky VERSION'");
    EXPECT("", NULL, 0, 0, HK_EFORMAT, "is empty");
    EXPECT("husky 0.1.0\nconv2d 2 3x3\n", NULL, 0, 0, HK_EFORMAT, "comes before 'model new'");
    EXPECT("husky 0.1.0\n", NULL, 0, 0, HK_EFORMAT, "no 'model new");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 0 3x3\n", NULL, 0, 0, HK_EFORMAT,
           "header line 3 (offset 57): conv2d: filters must be");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 9x9\n", NULL, 0, 0, HK_EFORMAT, "does not fit");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3\nflatten\ndense 1 activation=relu\ncompile\n",
           ok, 4, 116, HK_EFORMAT, "header line 6 (offset ");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nclasses \"unterminated\n", NULL, 0, 0, HK_EFORMAT,
           "unterminated");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\noptimizer_step 5\n", NULL, 0, 0, HK_EFORMAT,
           "optimizer_step without a compile line");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nrescale -1\n", NULL, 0, 0, HK_EFORMAT, "positive number");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nmeta k a\nmeta k b\n", NULL, 0, 0, HK_EFORMAT, "twice");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nmodel new input=4x4x1 seed=3\n", NULL, 0, 0, HK_EFORMAT,
           "a second 'model new'");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3; flatten\n", NULL, 0, 0, HK_EFORMAT, "';'");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\n\xff\xfe\n", NULL, 0, 0, HK_EFORMAT, "invalid UTF-8");
    /* a conv with an absurd kernel (its size is multiplied out with overflow checks) */
    EXPECT("husky 0.1.0\nmodel new input=1x1x4 seed=1\nconv2d 65536 524288x524288 padding=same\n", NULL, 0, 0,
           HK_EFORMAT, "header line 3");
    EXPECT("husky 0.1.0\nmodel new input=4x4x1 seed=3\nclasses a b c\nconv2d 2 3x3\nflatten\ndense 1 "
           "activation=sigmoid\ncompile\n",
           ok, 4, 116, HK_EFORMAT, "names 3 classes, but the model's output needs 2");

    /* counts and lengths in the prefix */
    unsigned char raw[128] = "HUSKYMDL";
    raw[8] = 1;
    raw[12] = 0xff, raw[13] = 0xff, raw[14] = 0xff, raw[15] = 0x7f;
    hk_sha256(raw, 96, raw + 96);
    write_file(in_dir("lie.hkm"), raw, 128);
    struct hk_error err;
    struct hk_model *m = NULL;
    CHECK(hk_modelfile_load(in_dir("lie.hkm"), NULL, &m, NULL, &err) == HK_EFORMAT &&
              strstr(err.msg, "offset 12: header length 2147483647; the limit is 1048576"),
          "huge header length: %s", err.msg);
    raw[12] = 80, raw[13] = raw[14] = raw[15] = 0;
    hk_sha256(raw, 96, raw + 96);
    write_file(in_dir("lie.hkm"), raw, 128);
    CHECK(hk_modelfile_load(in_dir("lie.hkm"), NULL, &m, NULL, &err) == HK_EFORMAT &&
              strstr(err.msg, "offset 12: header length 80 runs past the end of the file (128 bytes)"),
          "header past the end: %s", err.msg);
    raw[8] = 2;
    hk_sha256(raw, 96, raw + 96);
    write_file(in_dir("lie.hkm"), raw, 128);
    CHECK(hk_modelfile_load(in_dir("lie.hkm"), NULL, &m, NULL, &err) == HK_EFORMAT &&
              strstr(err.msg, "offset 8: format version 2"),
          "newer version: %s", err.msg);

    char big[200];
    snprintf(big, sizeof big, "%s", "husky 0.1.0\nmodel new input=4x4x1 seed=3\n");
    size_t hl = strlen(big);
    unsigned char *buf = calloc(1, 4096), *p = buf;
    memcpy(p, "HUSKYMDL", 8), p += 8;
    put(&p, 1, 4), put(&p, hl, 4);
    memcpy(p, big, hl), p += hl;
    put(&p, 4097, 4);
    p += 100;
    hk_sha256(buf, (size_t)(p - buf), p), p += 32;
    write_file(in_dir("lie.hkm"), buf, (size_t)(p - buf));
    CHECK(hk_modelfile_load(in_dir("lie.hkm"), NULL, &m, NULL, &err) == HK_EFORMAT &&
              strstr(err.msg, "tensor count at offset 57 is 4097; the limit is 4096"),
          "too many tensors: %s", err.msg);
    p = buf + 16 + hl;
    put(&p, 4000, 4);
    p += 100;
    hk_sha256(buf, (size_t)(p - buf), p), p += 32;
    write_file(in_dir("lie.hkm"), buf, (size_t)(p - buf));
    CHECK(hk_modelfile_load(in_dir("lie.hkm"), NULL, &m, NULL, &err) == HK_EFORMAT &&
              strstr(err.msg, "only 100 bytes follow"),
          "tensor count larger than the file: %s", err.msg);
    free(buf);

    /* not a model at all */
    static const char png[] = "\x89PNG\r\n\x1a\n this is a picture, not a model, padded to some length ....";
    write_file(in_dir("lie.hkm"), png, sizeof png - 1);
    CHECK(hk_modelfile_load(in_dir("lie.hkm"), NULL, &m, NULL, &err) == HK_EFORMAT &&
              strstr(err.msg, "not a husky model file"),
          "a PNG: %s", err.msg);
    CHECK(m == NULL, "no model from lies");
}

/* Lies about sizes are refused before anything large is allocated: the same files, loaded in a
 * child whose data segment is capped at 64 MiB, give the same refusals (a loader that allocated
 * what the header claims would fail with "out of memory" instead). Skipped under ASan, whose
 * shadow memory does not fit such a cap. */
static void test_lies_small_memory(void)
{
#if defined(__SANITIZE_ADDRESS__)
    CHECK(1, "skipped under ASan");
#else
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit lim = {(rlim_t)64 << 20, (rlim_t)64 << 20};
        setrlimit(RLIMIT_DATA, &lim);
        /* 201 M parameters (over 3 GB with gradients and moments) claimed by a 300-byte file */
        EXPECT("husky 0.1.0\nmodel new input=128x128x3 seed=1\nflatten\ndense 4096\n", NULL, 0, 0, HK_EFORMAT,
               "tensor table at offset 80 has 0 tensors; missing 'dense/kernel'");
        struct entry huge[2] = {{"dense/kernel", 2, {49152, 4096}, 0, 805306368ull},
                                {"dense/bias", 1, {4096}, 805306368ull, 16384}};
        EXPECT("husky 0.1.0\nmodel new input=128x128x3 seed=1\nflatten\ndense 4096\n", huge, 2, 64, HK_EFORMAT,
               "runs past the end of the data (64 bytes)");
        int rc = check_summary();
        _exit(rc);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "lies under a 64 MiB data limit (status %d)", status);
#endif
}

/* ---- saving failures -------------------------------------------------------------------- */

static void test_save_failures(void)
{
    struct hk_error err;
    struct hk_model *m = small_model(0);
    char path[300];
    snprintf(path, sizeof path, "%s/no/such/folder/m.hkm", dir);
    CHECK(hk_modelfile_save(path, m, NULL, 0, &err) == HK_EIO && strstr(err.msg, path) &&
              strstr(err.msg, "No such file or directory"),
          "save into a missing folder: %s", err.msg);

    /* a full disk, simulated with a file size limit: the old file stays, no temporary is left */
    const char *target = in_dir("full.hkm");
    CHECK(hk_modelfile_save(target, m, NULL, 0, &err) == HK_OK, "first save: %s", err.msg);
    size_t n0;
    unsigned char *before = read_file(target, &n0);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 300;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    struct hk_model *m2 = small_model(2);
    enum hk_status st = hk_modelfile_save(target, m2, NULL, HK_MODELFILE_STATE_OPTIMIZER, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(st == HK_EIO && strstr(err.msg, target) && strstr(err.msg, "File too large"),
          "save past the size limit: %s", err.msg);
    size_t n1;
    unsigned char *after = read_file(target, &n1);
    CHECK(n0 == n1 && memcmp(before, after, n0) == 0, "the old file is unchanged");
    CHECK(temp_files_left() == 0, "no temporary file after a failed save");
    struct stat sb;
    CHECK(stat(target, &sb) == 0 && (sb.st_mode & 0777) != 0600, "a saved file gets the usual mode (%o)",
          (unsigned)(sb.st_mode & 0777));
    free(before);
    free(after);
    hk_model_free(m2);
    hk_model_free(m);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/hk_modelfile_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_compile();
    test_sha256();
    test_round_trip();
    test_unknown_meta_kept();
    test_graph_round_trip();
    test_optimizer_state();
    test_names_and_classes();
    test_modern_layers();
    test_damage();
    test_lies();
    test_lies_small_memory();
    test_save_failures();
    remove_dir();
    return check_summary();
}
