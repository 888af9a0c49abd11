/* shell.c: session set-up and tear-down, output above the prompt, located error messages,
 * waiting for a run, and script variables. */
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <readline/readline.h>

#include "progress.h"
#include "server.h"

volatile sig_atomic_t shell_interrupted;

int shell_init(struct shell *sh, int interactive)
{
    memset(sh, 0, sizeof *sh);
    sh->interactive = interactive;
    sh->augment = hk_augment_default();
    sh->rescale = 1.0f / 255.0f;
    sh->threshold = 0.5f;
    sh->seed = 1337;
    sh->threads = 0;
    sh->limits = hk_image_limits_default();
    struct hk_error err;
    sh->history = hk_history_new();
    sh->worker = hk_worker_new(&err);
    if (!sh->history || !sh->worker || pipe(sh->progress_pipe) != 0) {
        fprintf(stderr, "husky: cannot start: %s\n", sh->worker ? strerror(errno) : err.msg);
        return -1;
    }
    fcntl(sh->progress_pipe[0], F_SETFL, O_NONBLOCK);
    return 0;
}

void shell_free(struct shell *sh)
{
    hk_server_stop(sh->server);
    sh->server = NULL;
    free(sh->serve_path);
    if (sh->run) {
        atomic_store(&sh->run->stop, 1);
        hk_worker_wait(sh->worker);
    }
    hk_worker_free(sh->worker);
    hk_checkpoint_free(sh->checkpoint);
    hk_train_run_release(sh->run);
    free(sh->run);
    hk_train_state_free(sh->resume);
    shell_set_classes(sh, NULL, 0);
    shell_set_data_sha256(sh, NULL);
    hk_model_meta_free(&sh->kept);
    hk_model_free(sh->model);
    hk_dataset_free(sh->train);
    hk_dataset_free(sh->val);
    hk_history_free(sh->history);
    if (sh->progress_pipe[0] > 0) {
        close(sh->progress_pipe[0]);
        close(sh->progress_pipe[1]);
    }
    for (int i = 0; i < sh->nvars; i++) {
        free(sh->vars[i].name);
        free(sh->vars[i].value);
    }
}

/* Text printed while readline shows a prompt goes above it, and the prompt and the typed text
 * are drawn again below. */
static void vprint_to(struct shell *sh, FILE *f, const char *fmt, va_list ap)
{
    int prompt_up = sh->interactive && rl_line_buffer != NULL && !sh->command;
    if (prompt_up) {
        rl_clear_visible_line();
    }
    vfprintf(f, fmt, ap);
    fflush(f);
    sh->output_seq++;
    if (prompt_up) {
        rl_on_new_line();
        rl_redisplay();
    }
}

void shell_print(struct shell *sh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_to(sh, stdout, fmt, ap);
    va_end(ap);
}

void shell_print_over(struct shell *sh, int erase, const char *text)
{
    int prompt_up = sh->interactive && rl_line_buffer != NULL && !sh->command;
    if (prompt_up)
        rl_clear_visible_line();
    if (erase > 0 && sh->interactive)
        printf("\033[%dA\r\033[J", erase); /* up, to the first column, clear to the end of the screen */
    fputs(text, stdout);
    fflush(stdout);
    sh->output_seq++;
    if (prompt_up) {
        rl_on_new_line();
        rl_redisplay();
    }
}

void shell_screen_size(int *rows, int *cols)
{
    *rows = *cols = 0;
    rl_get_screen_size(rows, cols);
    /* the terminal's own size: readline does not hear of a resize while signals are husky's */
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0 &&
        (ws.ws_row != *rows || ws.ws_col != *cols)) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
        rl_set_screen_size(*rows, *cols);
    }
}

void shell_warn(struct shell *sh, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sh->output_seq++;
    if (sh->file)
        fprintf(stderr, "%s:%d: warning: %s\n", sh->file, sh->line, msg);
    else
        fprintf(stderr, "warning: %s\n", msg);
}

int shell_error(struct shell *sh, const struct hk_words *w, int word, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *cmd = sh->command ? sh->command : "husky";
    sh->failed = 1;
    sh->output_seq++;
    snprintf(sh->last_error, sizeof sh->last_error, "%s", msg);
    fflush(stdout);
    if (sh->file) {
        fprintf(stderr, "%s:%d: %s: %s\n", sh->file, sh->line, cmd, msg);
        return -1;
    }
    if (sh->interactive && w && sh->line_text && word >= 0) {
        int col = word < w->count ? w->w[word].col : (int)strlen(sh->line_text);
        fprintf(stderr, "  %s\n  %*s^\n", sh->line_text, col, "");
    }
    fprintf(stderr, "%s: %s\n", cmd, msg);
    return -1;
}

int shell_busy(struct shell *sh, const struct hk_words *w)
{
    if (!hk_worker_busy(sh->worker))
        return 0;
    shell_error(sh, w, 0, "a training run is going; use 'stop' or 'wait' first");
    return 1;
}

void shell_wait(struct shell *sh)
{
    int stop_sent = 0;
    while (hk_worker_busy(sh->worker)) {
        struct pollfd p = {sh->progress_pipe[0], POLLIN, 0};
        poll(&p, 1, 100);
        shell_drain_progress(sh);
        progress_tick(sh);
        if (shell_interrupted && !stop_sent && sh->run) {
            shell_interrupted = 0;
            stop_sent = 1;
            atomic_store(&sh->run->stop, 1);
            shell_print(sh, "stopping after the current batch...\n");
        }
    }
    while (shell_drain_progress(sh) > 0) /* the run is over: its last lines, all of them */
        ;
}

void shell_set_classes(struct shell *sh, char **names, int count)
{
    for (int i = 0; i < sh->nclasses; i++)
        free(sh->classes[i]);
    free(sh->classes);
    sh->classes = names;
    sh->nclasses = names ? count : 0;
}

void shell_set_data_sha256(struct shell *sh, char *hash)
{
    free(sh->data_sha256);
    sh->data_sha256 = hash;
}

void shell_model_meta(const struct shell *sh, struct hk_model_meta *meta)
{
    hk_model_meta_init(meta);
    const struct hk_dataset *ds = sh->train ? sh->train : sh->val;
    int outputs = (int)hk_shape_size(hk_model_output(sh->model));
    meta->rescale = sh->rescale;
    if (outputs == 1)
        meta->threshold = sh->threshold;
    meta->data_sha256 = sh->data_sha256; /* a run that trained the model records its own instead */
    meta->extra = sh->kept.extra;
    meta->extra_count = sh->kept.extra_count;
    if (sh->nclasses && sh->nclasses == (outputs == 1 ? 2 : outputs)) { /* the names the loaded file recorded */
        meta->class_names = sh->classes;
        meta->class_count = sh->nclasses;
    } else if (ds) {
        meta->class_names = ds->class_names;
        meta->class_count = ds->class_count;
    }
}

const char *shell_class_name(const struct shell *sh, int k, char *buf, size_t cap)
{
    const struct hk_dataset *ds = sh->train ? sh->train : sh->val;
    if (k >= 0 && k < sh->nclasses)
        return sh->classes[k];
    if (ds && k >= 0 && k < ds->class_count)
        return ds->class_names[k];
    snprintf(buf, cap, "class %d", k);
    return buf;
}

const char *shell_var(const struct shell *sh, const char *name)
{
    for (int i = 0; i < sh->nvars; i++)
        if (strcmp(sh->vars[i].name, name) == 0)
            return sh->vars[i].value;
    return NULL;
}

int shell_set_var(struct shell *sh, const char *name, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    for (int i = 0; i < sh->nvars; i++)
        if (strcmp(sh->vars[i].name, name) == 0) {
            free(sh->vars[i].value);
            sh->vars[i].value = copy;
            return 0;
        }
    if (sh->nvars == SHELL_MAX_VARS || !(sh->vars[sh->nvars].name = strdup(name))) {
        free(copy);
        return -1;
    }
    sh->vars[sh->nvars++].value = copy;
    return 0;
}
