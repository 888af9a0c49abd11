/* cmd_session.c: commands about the session itself: seed, threads, limits, variables, echo, source,
 * quit. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "input.h"
#include "modelfile.h"

int cmd_seed(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 1, "seed N"))
        return -1;
    if (arg == w->count) {
        shell_print(sh, "seed %llu\n", (unsigned long long)sh->seed);
        return 0;
    }
    int seed;
    if (arg_int(sh, w, arg, 0, 2147483647, &seed))
        return -1;
    sh->seed = (uint64_t)seed;
    return 0;
}

int cmd_threads(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 1, "threads N"))
        return -1;
    if (arg == w->count) {
        shell_print(sh, "threads %d%s\n", sh->threads, sh->threads ? "" : " (all cores)");
        return 0;
    }
    int n;
    if (arg_int(sh, w, arg, 0, 256, &n) || shell_busy(sh, w))
        return -1;
    sh->threads = n;
    hk_worker_set_threads(sh->worker, n);
    return 0;
}

int cmd_limits(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0, "limits [memory=SIZE]"))
        return -1;
    int i = arg_option(w, "memory");
    if (i >= 0) {
        size_t bytes;
        if (!hk_parse_bytes(w->w[i].value, &bytes) || bytes < 1000000)
            return shell_error(sh, w, i, "memory must be a size of at least 1M, like 8G or 512M, got '%s'",
                               w->w[i].value);
        if (shell_busy(sh, w))
            return -1;
        hk_model_set_memory_limit(bytes);
        return 0;
    }
    char mem[32], used[32];
    hk_format_bytes(mem, sizeof mem, hk_model_memory_limit());
    shell_print(sh, "memory       %s per model (parameters, gradients, optimizer state, a batch's activations)",
                mem);
    if (sh->model) {
        hk_format_bytes(used, sizeof used, hk_model_memory_bytes(sh->model, 1));
        shell_print(sh, "; this model needs %s for one picture", used);
    }
    shell_print(sh, "\nimages       %zu bytes per file, %dx%d pixels, %zu pixels in all\n", sh->limits.max_file_bytes,
                sh->limits.max_width,
                sh->limits.max_height, sh->limits.max_pixels);
    shell_print(sh, "scripts      %d bytes per line, %d words per command, sources nested %d deep\n", HK_LEX_MAX_LINE,
                HK_LEX_MAX_WORDS, SHELL_MAX_DEPTH);
    shell_print(sh, "model files  %lu bytes of header\n", (unsigned long)HK_MODELFILE_MAX_HEADER);
    return 0;
}

int cmd_set(struct shell *sh, const struct hk_words *w, int arg)
{
    if (w->count - arg != 2 || w->w[arg].key)
        return shell_error(sh, w, arg, "usage: set NAME VALUE");
    const char *name = w->w[arg].text;
    for (const char *p = name; *p; p++)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return shell_error(sh, w, arg, "a variable name has only letters, digits and _");
    if (shell_set_var(sh, name, w->w[arg + 1].text))
        return shell_error(sh, w, arg, "too many variables");
    return 0;
}

int cmd_echo(struct shell *sh, const struct hk_words *w, int arg)
{
    for (int i = arg; i < w->count; i++)
        shell_print(sh, "%s%s", w->w[i].text, i + 1 < w->count ? " " : "");
    shell_print(sh, "\n");
    return 0;
}

int cmd_source(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1, "source FILE"))
        return -1;
    return input_run_file(sh, w->w[arg].text);
}

int cmd_quit(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0, "quit"))
        return -1;
    sh->quit = 1;
    return 0;
}
