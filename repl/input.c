/* input.c: lines from scripts, -e, a pipe or the terminal, through one path: ${var} expansion,
 * lexing, dispatch; readline in callback mode with progress printed above the prompt. */
#include "input.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cluster.h"
#include "commands.h"
#include "complete.h"
#include "progress.h"

/* Expand ${name} and ${name:-default} into out (cap bytes). 0, or -1 with *bad_col set. */
static int expand(const struct shell *sh, const char *line, char *out, size_t cap, int *bad_col, char *why,
                  size_t why_cap)
{
    size_t o = 0;
    for (const char *p = line; *p; p++) {
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p, '}');
            if (!end) {
                *bad_col = (int)(p - line);
                snprintf(why, why_cap, "unterminated ${");
                return -1;
            }
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(end - p - 2), p + 2);
            char *dflt = strstr(name, ":-");
            if (dflt) {
                *dflt = '\0';
                dflt += 2;
            }
            const char *v = shell_var(sh, name);
            if (!v)
                v = dflt;
            if (!v) {
                *bad_col = (int)(p - line);
                snprintf(why, why_cap, "variable '%s' is not set (set it with: set %s VALUE, or NAME=VALUE after the "
                         "script name)", name, name);
                return -1;
            }
            size_t len = strlen(v);
            if (o + len >= cap)
                goto too_long;
            memcpy(out + o, v, len);
            o += len;
            p = end;
            continue;
        }
        if (o + 1 >= cap)
            goto too_long;
        out[o++] = *p;
    }
    out[o] = '\0';
    return 0;
too_long:
    *bad_col = 0;
    snprintf(why, why_cap, "line longer than %d bytes", HK_LEX_MAX_LINE);
    return -1;
}

int input_run_line(struct shell *sh, const char *line)
{
    static char expanded[HK_LEX_MAX_LINE + 1];
    static struct hk_words words;
    int bad = 0, rc = 0;
    char why[512];
    if (strlen(line) > HK_LEX_MAX_LINE) {
        sh->line_text = NULL;
        return shell_error(sh, NULL, -1, "line is %zu bytes long; the limit is %d", strlen(line), HK_LEX_MAX_LINE);
    }
    if (expand(sh, line, expanded, sizeof expanded, &bad, why, sizeof why)) {
        sh->line_text = line;
        words.count = 0;
        struct hk_words one = {.count = 1};
        one.w[0].col = bad;
        return shell_error(sh, &one, 0, "%s", why);
    }
    char *copy = strdup(expanded);
    if (!copy)
        return shell_error(sh, NULL, -1, "out of memory");
    const char *p = copy;
    for (;;) {
        struct hk_error err;
        sh->line_text = p;
        if (hk_lex(p, &words, &bad, &err) != HK_OK) {
            struct hk_words one = {.count = 1};
            one.w[0].col = bad;
            rc = shell_error(sh, &one, 0, "%s", err.msg);
            break;
        }
        int rest = words.rest; /* words is reused by a nested source */
        if (commands_run(sh, &words) != 0)
            rc = -1;
        shell_drain_progress(sh);
        if ((rc && !sh->keep_going) || sh->quit || rest < 0)
            break; /* with -k the commands after a failing one on the line run too */
        p += rest;
    }
    sh->line_text = NULL;
    free(copy);
    return rc;
}

enum line_status { LINE_OK, LINE_END, LINE_TOO_LONG, LINE_NUL };

/* Read one logical line (joining lines that end in a backslash) into buf (cap bytes, at least
 * 2). Never reads more than cap bytes of a line: a longer one is LINE_TOO_LONG, and a NUL byte
 * (a binary file) is LINE_NUL; the rest of the stream is then not for reading as a script.
 * LINE_END at the end of input. */
static enum line_status read_logical_line(FILE *f, char *buf, size_t cap, int *lineno, int *first_line)
{
    size_t len = 0;
    int c, any = 0;
    *first_line = *lineno + 1;
    for (;;) {
        c = getc(f);
        if (c == EOF && !any)
            return LINE_END;
        any = 1;
        if (c == EOF || c == '\n') {
            (*lineno)++;
            while (len && buf[len - 1] == '\r')
                len--;
            if (len && buf[len - 1] == '\\') {
                buf[len - 1] = ' ';
                if (c != EOF)
                    continue;
            }
            buf[len] = '\0';
            return LINE_OK;
        }
        if (c == '\0') {
            (*lineno)++;
            return LINE_NUL;
        }
        if (len + 1 >= cap) {
            (*lineno)++;
            return LINE_TOO_LONG;
        }
        buf[len++] = (char)c;
    }
}

/* Until f (unbuffered) has input, print the worker's progress lines as they come: a run's epoch
 * lines appear while rank 0 of an MPI job waits for a command, and the worker never blocks on a
 * full progress pipe (which would stall every rank). */
static void print_progress_until_input(struct shell *sh, FILE *f)
{
    for (;;) {
        struct pollfd p[2] = {{fileno(f), POLLIN, 0}, {sh->progress_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return;
        if (p[1].revents & POLLIN)
            shell_drain_progress(sh);
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            return;
    }
}

/* Run the lines of f. shared: rank 0 reads f and every rank runs what it read (MPI). */
static int run_stream(struct shell *sh, FILE *f, const char *name, int shared)
{
    const char *saved_file = sh->file;
    int saved_line = sh->line, lineno = 0, first = 0, rc = 0;
    char *line = malloc(HK_LEX_MAX_LINE + 1);
    if (!line)
        return shell_error(sh, NULL, -1, "out of memory reading '%s'", name);
    sh->file = name;
    while (!sh->quit) {
        if (shared && cluster_is_writer())
            print_progress_until_input(sh, f);
        enum line_status got = LINE_END;
        if (!shared || cluster_is_writer())
            got = read_logical_line(f, line, HK_LEX_MAX_LINE + 1, &lineno, &first);
        if (shared)
            got = cluster_share_line(line, HK_LEX_MAX_LINE + 1, got);
        if (got == LINE_END)
            break;
        sh->line = first;
        if (got != LINE_OK) {
            sh->line = lineno;
            if (got == LINE_TOO_LONG)
                shell_error(sh, NULL, -1, "line is longer than %d bytes; the rest of '%s' is not read",
                            HK_LEX_MAX_LINE, name);
            else
                shell_error(sh, NULL, -1, "line has a NUL byte ('%s' is not a text file); the rest is not read",
                            name);
            rc = -1;
            break;
        }
        if (input_run_line(sh, line) != 0) {
            rc = -1;
            if (!sh->keep_going)
                break;
        }
    }
    free(line);
    sh->file = saved_file;
    sh->line = saved_line;
    return rc;
}

int input_run_file(struct shell *sh, const char *path)
{
    if (sh->depth >= SHELL_MAX_DEPTH)
        return shell_error(sh, NULL, -1, "scripts nested more than %d deep (does '%s' source itself?)",
                           SHELL_MAX_DEPTH, path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return shell_error(sh, NULL, -1, "'%s' is a folder, not a script", path);
    FILE *f = fopen(path, "r");
    if (!f)
        return shell_error(sh, NULL, -1, "cannot open '%s': %s", path, strerror(errno));
    /* path may point into the words of the line that sourced it, which the script's own lines
     * overwrite: its messages need a copy */
    char *name = strdup(path);
    if (!name) {
        fclose(f);
        return shell_error(sh, NULL, -1, "out of memory");
    }
    sh->depth++;
    int rc = run_stream(sh, f, name, 0);
    sh->depth--;
    fclose(f);
    free(name);
    return rc;
}

static struct shell *active;

static void on_line(char *line)
{
    struct shell *sh = active;
    if (!line) {
        sh->quit = 1;
        putchar('\n');
        return;
    }
    if (*line)
        add_history(line);
    progress_bar_lift(sh, rl_prompt, line);
    sh->output_seq++; /* the typed line stays on screen */
    sh->file = NULL;
    sh->failed = 0;
    input_run_line(sh, line);
    free(line);
}

static void on_sigint(int sig)
{
    (void)sig;
    shell_interrupted = 1;
}

static char *history_path(void)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[4096];
    if (state && *state)
        snprintf(dir, sizeof dir, "%s/husky", state);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/state/husky", home);
    else
        return NULL;
    char *slash = dir;
    while ((slash = strchr(slash + 1, '/'))) {
        *slash = '\0';
        mkdir(dir, 0700);
        *slash = '/';
    }
    mkdir(dir, 0700);
    size_t len = strlen(dir) + 16;
    char *path = malloc(len);
    if (path)
        snprintf(path, len, "%s/history", dir);
    return path;
}

/* Ctrl-C: the first press stops a run after its batch; a second within 3 s leaves husky; at an
 * idle prompt it clears the line. */
static void handle_interrupt(struct shell *sh, time_t *last)
{
    shell_interrupted = 0;
    time_t now = time(NULL);
    if (hk_worker_busy(sh->worker) && sh->run) {
        if (*last && now - *last <= 3) {
            fprintf(stderr, "\ninterrupted; leaving husky\n");
            sh->quit = 2;
            return;
        }
        *last = now;
        atomic_store(&sh->run->stop, 1);
        shell_print(sh, "stopping after the current batch (Ctrl-C again within 3 s to leave husky)\n");
        return;
    }
    rl_replace_line("", 0);
    rl_crlf();
    rl_on_new_line();
    rl_redisplay();
}

void input_loop(struct shell *sh)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (!sh->interactive) {
        if (cluster_ranks() > 1)
            setvbuf(stdin, NULL, _IONBF, 0); /* so that poll() on it tells whether a line is waiting */
        run_stream(sh, stdin, "<stdin>", cluster_ranks() > 1);
        return;
    }
    active = sh;
    rl_catch_signals = 0;
    rl_readline_name = "husky";
    complete_install(sh);
    char *hist = history_path();
    if (hist)
        read_history(hist);
    stifle_history(2000);
    rl_callback_handler_install("husky> ", on_line);
    time_t last_interrupt = 0;
    while (!sh->quit) {
        struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {sh->progress_pipe[0], POLLIN, 0}};
        int n = poll(p, 2, 250);
        if (shell_interrupted)
            handle_interrupt(sh, &last_interrupt);
        progress_tick(sh);
        if (n <= 0)
            continue;
        if (p[1].revents & POLLIN)
            shell_drain_progress(sh);
        if (p[0].revents & (POLLIN | POLLHUP))
            rl_callback_read_char();
    }
    rl_callback_handler_remove();
    if (hist)
        write_history(hist);
    free(hist);
}
