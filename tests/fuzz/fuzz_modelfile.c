/* fuzz_modelfile.c: fuzz target for the model file loader (core/modelfile/modelfile.h): hk_modelfile_verify,
 * hk_modelfile_info and hk_modelfile_load on the input written to a temporary file. A mutated
 * file almost never keeps a matching SHA-256, and the loader checks the hash before anything
 * else, so the target first replaces the input's last 32 bytes with the SHA-256 of the bytes
 * before them: the fuzzer then explores the header, table and tensor checks behind the hash.
 * (Corpus files are ordinary .hkm files.) Checked properties: a loaded model saves and loads
 * again with bit-identical weights; failures come with a message and leave nothing allocated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_files.h"
#include "modelfile.h"
#include "sha256.h"

/* Save m, load it back, compare the weights bit for bit. */
static void check_round_trip(struct hk_model *m, const struct hk_model_meta *meta)
{
    struct hk_error err;
    const char *again = fuzz_temp_path("again.hkm");
    unsigned state = hk_model_compiled(m, NULL, NULL) ? HK_MODELFILE_STATE_OPTIMIZER : 0;
    if (hk_modelfile_save(again, m, meta, state, &err) != HK_OK) {
        fprintf(stderr, "save after load failed: %s\n", err.msg);
        FUZZ_CHECK(0);
    }
    struct hk_model *back = NULL;
    if (hk_modelfile_load(again, NULL, &back, NULL, &err) != HK_OK) {
        fprintf(stderr, "load after save failed: %s\n", err.msg);
        FUZZ_CHECK(0);
    }
    size_t n = hk_model_param_count(m);
    FUZZ_CHECK(hk_model_param_count(back) == n && hk_model_count(back) == hk_model_count(m));
    FUZZ_CHECK(n == 0 || memcmp(hk_model_params(back), hk_model_params(m), n * sizeof(float)) == 0);
    hk_model_free(back);
    unlink(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *file = malloc(size ? size : 1);
    if (!file)
        return 0;
    memcpy(file, data, size);
    if (size > HK_SHA256_BYTES)
        hk_sha256(file, size - HK_SHA256_BYTES, file + size - HK_SHA256_BYTES);
    const char *path = fuzz_temp_path("input.hkm");
    fuzz_write_file(path, file, size);
    free(file);

    struct hk_error err;
    char hex[65];
    hk_modelfile_verify(path, hex, &err);

    struct hk_model_meta meta;
    hk_model_meta_init(&meta);
    char *header = NULL;
    if (hk_modelfile_info(path, &meta, &header, &err) == HK_OK)
        FUZZ_CHECK(header != NULL);
    free(header);
    hk_model_meta_free(&meta);

    struct hk_model *m = NULL;
    hk_model_meta_init(&meta);
    if (hk_modelfile_load(path, NULL, &m, &meta, &err) == HK_OK) {
        FUZZ_CHECK(m != NULL);
        check_round_trip(m, &meta);
    } else {
        FUZZ_CHECK(m == NULL && meta.class_count == 0 && err.msg[0] != '\0');
    }
    hk_model_free(m);
    hk_model_meta_free(&meta);
    unlink(path);
    return 0;
}
