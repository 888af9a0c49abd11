/* test_import.c: the TensorFlow.js importer's layouts and dequantisation, against a reference
 * written here independently in Keras's own NHWC terms (double precision). A hand-made functional
 * model (ZeroPadding2D, strided Conv2D, BatchNormalization, ReLU6, DepthwiseConv2D, Add, Flatten of
 * a 2x2x3 map, Dense softmax) with tensors stored as float32, uint8, uint16 and float16 is imported
 * from memory and run on a random picture; a Sequential model imports too; weights that do not
 * add up to the manifest are refused. Usage: test_import */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "import_tfjs.h"

/* ---- the stored weights: what each tensor holds, and its bytes ---- */

enum store { F32, U8, U16, F16 };

struct tensor {
    const char *name;
    const char *shape; /* JSON list */
    int count;
    enum store store;
    double min, scale;
    double v[64];      /* the values as Keras sees them (after dequantisation) */
};

static struct tensor tensors[] = {
    {"conv/kernel", "[3,3,2,3]", 54, F32, 0, 0, {0}},
    {"conv/bias", "[3]", 3, F32, 0, 0, {0}},
    {"bn/gamma", "[3]", 3, U8, 0.5, 0.01, {0}},
    {"bn/beta", "[3]", 3, U8, -0.2, 0.005, {0}},
    {"bn/moving_mean", "[3]", 3, U16, -1, 0.0001, {0}},
    {"bn/moving_variance", "[3]", 3, U8, 0.1, 0.02, {0}},
    {"dw/depthwise_kernel", "[3,3,3,1]", 27, F16, 0, 0, {0}},
    {"dw/bias", "[3]", 3, F32, 0, 0, {0}},
    {"dense/kernel", "[12,4]", 48, U8, -0.5, 1.0 / 255, {0}},
    {"dense/bias", "[4]", 4, F16, 0, 0, {0}},
};
#define NT ((int)(sizeof tensors / sizeof tensors[0]))

static uint32_t rng_state = 12345;
static uint32_t next(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

/* Halves with exact values: 1, -0.5, 0.25, 2, -1.5, 0.125, 0.75, -0.25 */
static const uint16_t halves[8] = {0x3C00, 0xB800, 0x3400, 0x4000, 0xBE00, 0x3000, 0x3A00, 0xB400};
static const double half_values[8] = {1, -0.5, 0.25, 2, -1.5, 0.125, 0.75, -0.25};

/* Fill each tensor with values and append its stored bytes to w (returns the byte count). */
static size_t make_weights(unsigned char *w)
{
    size_t o = 0;
    for (int t = 0; t < NT; t++) {
        struct tensor *x = &tensors[t];
        for (int i = 0; i < x->count; i++) {
            uint32_t r = next();
            if (x->store == F32) {
                float f = (float)((double)(r % 2001) / 1000.0 - 1.0);
                memcpy(w + o, &f, 4); /* little-endian hosts, as everywhere husky runs */
                o += 4;
                x->v[i] = f;
            } else if (x->store == U8) {
                w[o++] = (unsigned char)(r & 255);
                x->v[i] = (float)((r & 255) * x->scale + x->min);
            } else if (x->store == U16) {
                unsigned q = r & 65535;
                w[o++] = (unsigned char)(q & 255);
                w[o++] = (unsigned char)(q >> 8);
                x->v[i] = (float)(q * x->scale + x->min);
            } else {
                w[o++] = (unsigned char)(halves[r & 7] & 255);
                w[o++] = (unsigned char)(halves[r & 7] >> 8);
                x->v[i] = half_values[r & 7];
            }
        }
    }
    return o;
}

static const char *store_name(enum store s)
{
    return s == F32 ? "float32" : s == U8 ? "uint8" : s == U16 ? "uint16" : "float16";
}

/* The model.json text of the functional test model. */
static void make_json(char *j, size_t cap)
{
    int o = snprintf(j, cap,
        "{\"modelTopology\":{\"keras_version\":\"2.2.4\",\"model_config\":{\"class_name\":\"Model\",\"config\":{"
        "\"name\":\"m\",\"input_layers\":[[\"in\",0,0]],\"output_layers\":[[\"dense\",0,0]],\"layers\":["
        "{\"name\":\"in\",\"class_name\":\"InputLayer\",\"config\":{\"batch_input_shape\":[null,5,5,2],"
        "\"name\":\"in\"},\"inbound_nodes\":[]},"
        "{\"name\":\"pad\",\"class_name\":\"ZeroPadding2D\",\"config\":{\"padding\":[[0,1],[0,1]]},"
        "\"inbound_nodes\":[[[\"in\",0,0,{}]]]},"
        "{\"name\":\"conv\",\"class_name\":\"Conv2D\",\"config\":{\"filters\":3,\"kernel_size\":[3,3],"
        "\"strides\":[2,2],\"padding\":\"valid\",\"activation\":\"linear\",\"use_bias\":true,"
        "\"dilation_rate\":[1,1]},\"inbound_nodes\":[[[\"pad\",0,0,{}]]]},"
        "{\"name\":\"bn\",\"class_name\":\"BatchNormalization\",\"config\":{\"axis\":-1,\"momentum\":0.999,"
        "\"epsilon\":0.001},\"inbound_nodes\":[[[\"conv\",0,0,{}]]]},"
        "{\"name\":\"relu\",\"class_name\":\"ReLU\",\"config\":{\"max_value\":6,\"negative_slope\":0,"
        "\"threshold\":0},\"inbound_nodes\":[[[\"bn\",0,0,{}]]]},"
        "{\"name\":\"dw\",\"class_name\":\"DepthwiseConv2D\",\"config\":{\"kernel_size\":[3,3],"
        "\"strides\":[1,1],\"padding\":\"same\",\"depth_multiplier\":1,\"use_bias\":true},"
        "\"inbound_nodes\":[[[\"relu\",0,0,{}]]]},"
        "{\"name\":\"add\",\"class_name\":\"Add\",\"config\":{},"
        "\"inbound_nodes\":[[[\"relu\",0,0,{}],[\"dw\",0,0,{}]]]},"
        "{\"name\":\"flat\",\"class_name\":\"Flatten\",\"config\":{},\"inbound_nodes\":[[[\"add\",0,0,{}]]]},"
        "{\"name\":\"dense\",\"class_name\":\"Dense\",\"config\":{\"units\":4,\"activation\":\"softmax\"},"
        "\"inbound_nodes\":[[[\"flat\",0,0,{}]]]}]}}},"
        "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":[");
    for (int t = 0; t < NT; t++) {
        const struct tensor *x = &tensors[t];
        o += snprintf(j + o, cap - (size_t)o, "%s{\"name\":\"%s\",\"shape\":%s,\"dtype\":\"float32\"", t ? "," : "",
                      x->name, x->shape);
        if (x->store == U8 || x->store == U16)
            o += snprintf(j + o, cap - (size_t)o, ",\"quantization\":{\"min\":%.17g,\"scale\":%.17g,\"dtype\":\"%s\"}",
                          x->min, x->scale, store_name(x->store));
        else if (x->store == F16)
            o += snprintf(j + o, cap - (size_t)o, ",\"quantization\":{\"dtype\":\"float16\"}");
        o += snprintf(j + o, cap - (size_t)o, "}");
    }
    snprintf(j + o, cap - (size_t)o, "]}]}");
}

/* ---- the reference, in Keras's NHWC terms ---- */

static const double *T(const char *name)
{
    for (int t = 0; t < NT; t++)
        if (!strcmp(tensors[t].name, name))
            return tensors[t].v;
    return NULL;
}

/* x: 5x5x2 NHWC picture -> probs[4] */
static void reference(double x[5][5][2], double probs[4])
{
    double p[6][6][2] = {{{0}}}, r[2][2][3], a[2][2][3], z[4];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            for (int c = 0; c < 2; c++)
                p[i][j][c] = x[i][j][c]; /* one zero row at the bottom, one zero column at the right */
    const double *K = T("conv/kernel"), *cb = T("conv/bias"), *g = T("bn/gamma"), *be = T("bn/beta"),
                 *mu = T("bn/moving_mean"), *var = T("bn/moving_variance"), *D = T("dw/depthwise_kernel"),
                 *db = T("dw/bias"), *Wd = T("dense/kernel"), *bd = T("dense/bias");
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int f = 0; f < 3; f++) {
                double s = cb[f];
                for (int y = 0; y < 3; y++)
                    for (int xx = 0; xx < 3; xx++)
                        for (int c = 0; c < 2; c++)
                            s += p[2 * i + y][2 * j + xx][c] * K[((y * 3 + xx) * 2 + c) * 3 + f];
                s = (s - mu[f]) / sqrt(var[f] + 0.001) * g[f] + be[f];
                r[i][j][f] = fmin(fmax(s, 0), 6);
            }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int c = 0; c < 3; c++) {
                double s = db[c];
                for (int y = 0; y < 3; y++)
                    for (int xx = 0; xx < 3; xx++) {
                        int yi = i + y - 1, xj = j + xx - 1;
                        if (yi >= 0 && yi < 2 && xj >= 0 && xj < 2)
                            s += r[yi][xj][c] * D[(y * 3 + xx) * 3 + c];
                    }
                a[i][j][c] = r[i][j][c] + s;
            }
    double mx = -1e300, sum = 0;
    for (int u = 0; u < 4; u++) {
        z[u] = bd[u];
        for (int k = 0; k < 12; k++)
            z[u] += a[k / 6][(k / 3) % 2][k % 3] * Wd[k * 4 + u];
        mx = fmax(mx, z[u]);
    }
    for (int u = 0; u < 4; u++)
        sum += exp(z[u] - mx);
    for (int u = 0; u < 4; u++)
        probs[u] = exp(z[u] - mx) / sum;
}

static void test_functional(void)
{
    static unsigned char w[4096];
    static char json[16384];
    size_t wbytes = make_weights(w);
    make_json(json, sizeof json);
    struct hk_model *m = NULL;
    struct hk_import_info info;
    struct hk_error err;
    enum hk_status st = hk_import_tfjs_memory("test.json", json, strlen(json), w, wbytes, 7, &m, &info, &err);
    CHECK(st == HK_OK, "import the functional test model: %s", st == HK_OK ? "ok" : err.msg);
    if (!m)
        return;
    CHECK(info.layers == 8 && info.tensors == NT && info.weight_bytes == wbytes, "8 layers, %d tensors, %zu bytes",
          NT, wbytes);
    CHECK(!strcmp(info.dtypes, "float32,uint8,uint16,float16"), "stored types listed: %s", info.dtypes);
    CHECK(hk_model_find(m, "dw") == 4 && hk_model_find(m, "dense") == 7, "Keras names kept");
    double x[5][5][2], probs[4];
    float chw[2 * 5 * 5];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            for (int c = 0; c < 2; c++) {
                x[i][j][c] = (float)((double)(next() % 1000) / 1000.0);
                chw[(c * 5 + i) * 5 + j] = (float)x[i][j][c];
            }
    reference(x, probs);
    const float *out;
    CHECK(hk_model_forward(m, chw, 1, 0, 0, &out, &err) == HK_OK, "forward");
    double worst = 0;
    for (int u = 0; u < 4; u++)
        worst = fmax(worst, fabs(out[u] - probs[u]));
    CHECK(worst < 1e-5, "softmax equals the NHWC reference (worst difference %.2g; %.4f %.4f %.4f %.4f)", worst,
          probs[0], probs[1], probs[2], probs[3]);

    struct hk_model *again = NULL;
    st = hk_import_tfjs_memory("test.json", json, strlen(json), w, wbytes - 1, 7, &again, NULL, &err);
    CHECK(st == HK_EFORMAT && !again && strstr(err.msg, "need"), "one byte short is refused: %s", err.msg);
    hk_model_free(m);
}

static void test_sequential(void)
{
    const char *json =
        "{\"modelTopology\":{\"class_name\":\"Sequential\",\"config\":{\"name\":\"s\",\"layers\":["
        "{\"class_name\":\"Flatten\",\"config\":{\"name\":\"flatten\",\"batch_input_shape\":[null,2,2,3]}},"
        "{\"class_name\":\"Dense\",\"config\":{\"name\":\"out\",\"units\":1,\"activation\":\"sigmoid\"}}]}},"
        "\"weightsManifest\":[{\"paths\":[\"w\"],\"weights\":[{\"name\":\"out/kernel\",\"shape\":[12,1],"
        "\"dtype\":\"float32\"},{\"name\":\"out/bias\",\"shape\":[1],\"dtype\":\"float32\"}]}]}";
    float w[13];
    for (int i = 0; i < 13; i++)
        w[i] = (float)i; /* kernel row r = (y * 2 + x) * 3 + c holds r; bias 12 */
    struct hk_model *m = NULL;
    struct hk_error err;
    enum hk_status st = hk_import_tfjs_memory("seq.json", json, strlen(json), (const unsigned char *)w, sizeof w, 1, &m,
                                              NULL, &err);
    CHECK(st == HK_OK && hk_model_count(m) == 2, "a Sequential model imports: %s", st == HK_OK ? "ok" : err.msg);
    if (!m)
        return;
    const struct hk_layer *d = hk_model_layer(m, 1);
    int ok = 1;
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 4; p++)
            ok &= d->w[c * 4 + p] == (float)(p * 3 + c);
    CHECK(ok && d->b[0] == 12, "dense rows moved from HWC flatten order to CHW");
    hk_model_free(m);
}

int main(void)
{
    test_functional();
    test_sequential();
    return check_summary();
}
