/* cmd_session.c: commands about the session itself: seed, threads, variables, echo, source, quit. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "input.h"

int cmd_seed(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 1))
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
    if (arg_count(sh, w, arg, 0, 1))
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

int cmd_set(struct shell *sh, const struct hk_words *w, int arg)
{
    if (w->count - arg != 2 || w->w[arg].key)
        return shell_error(sh, w, arg, "usage: %s", sh->usage);
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
    if (arg_count(sh, w, arg, 1, 1))
        return -1;
    return input_run_file(sh, w->w[arg].text);
}

int cmd_quit(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    sh->quit = 1;
    return 0;
}
