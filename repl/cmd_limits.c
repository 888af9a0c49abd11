/* cmd_limits.c: `model limits`: show or set the memory one model may use (core/nn/model.h). */
#include <stdio.h>

#include "commands.h"
#include "modelfile.h"

int cmd_model_limits(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    int i = arg_option(w, "memory");
    if (i >= 0) {
        size_t bytes;
        if (!hk_parse_bytes(w->w[i].value, &bytes) || bytes < ((size_t)1 << 20))
            return shell_error(sh, w, i, "memory must be bytes, or with KB, MB, GB or TB, at least 1MB, got '%s'",
                               w->w[i].value);
        if (shell_busy(sh, w))
            return -1;
        hk_model_set_memory_limit(bytes);
    }
    char limit[32], need[32];
    hk_format_bytes_exact(limit, sizeof limit, hk_model_memory_limit());
    shell_print(sh, "memory=%s per model (parameters with gradients and optimizer state, and a batch's activations)",
                limit);
    if (sh->model) {
        hk_format_bytes(need, sizeof need, hk_model_memory_bytes(sh->model, 1));
        shell_print(sh, "; this model needs %s for one picture", need);
    }
    shell_print(sh, "\nmodel files: header up to %lu bytes, %d tensors\n", (unsigned long)HK_MODELFILE_MAX_HEADER,
                HK_MODELFILE_MAX_TENSORS);
    return 0;
}
