/* fuzz_import.c: fuzz target for the TensorFlow.js importer (core/modelfile/import_tfjs.h) through
 * hk_import_tfjs_memory. The input is model.json's text, a NUL byte, then the weight bytes (all
 * shards concatenated); without a NUL it is all JSON and there are no weights. Corpus files are
 * made by tests/hostile/make_import_cases.py --seeds. Checked properties: an import either gives
 * a model or a message; a small imported model runs a forward pass; nothing leaks. */
#include <string.h>

#include "fuzz.h"
#include "import_tfjs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_model_set_memory_limit((size_t)256 << 20);
    const uint8_t *nul = memchr(data, 0, size);
    size_t n = nul ? (size_t)(nul - data) : size;
    const unsigned char *weights = nul ? nul + 1 : data + size;
    size_t wbytes = nul ? size - n - 1 : 0;
    struct hk_model *m = NULL;
    struct hk_import_info info;
    struct hk_error err;
    if (hk_import_tfjs_memory("fuzz.json", (const char *)data, n, weights, wbytes, 1, &m, &info, &err) != HK_OK) {
        FUZZ_CHECK(m == NULL && err.msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(m != NULL && info.layers == hk_model_count(m) && info.weight_bytes == wbytes);
    struct hk_shape in = hk_model_input(m);
    size_t values = hk_shape_size(in);
    if (values <= 4096) {
        float *x = calloc(values, sizeof *x);
        const float *out;
        if (x)
            hk_model_forward(m, x, 1, 0, 0, &out, &err);
        free(x);
    }
    hk_model_free(m);
    return 0;
}
