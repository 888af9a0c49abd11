/* progress.c: a run's typed events from the worker to the screen, formatted once, and the
 * terminal's progress bars (see progress.h). */
#include "progress.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "plot.h"

#define BAR_WIDTH 30         /* characters between the brackets, as Keras draws them */
#define BAR_INTERVAL 0.2     /* seconds between two redraws */

_Static_assert(sizeof(struct hk_train_event) <= PIPE_BUF, "an event must be one atomic pipe write");

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void progress_send(void *user, const struct hk_train_event *ev)
{
    struct shell *sh = user;
    if (write(sh->progress_pipe[1], ev, sizeof *ev) < 0) {
        /* the main thread is gone; nothing to tell */
    }
}

int progress_format(const struct hk_train_event *ev, char *line, size_t cap)
{
    int n;
    if (ev->kind == HK_TRAIN_EPOCH_END) {
        const double *v = ev->rec.v;
        n = snprintf(line, cap, "epoch %d/%d  loss %.4f  accuracy %.4f", ev->epoch, ev->epochs, v[HK_METRIC_LOSS],
                     v[HK_METRIC_ACCURACY]);
        if (!isnan(v[HK_METRIC_VAL_LOSS]))
            n += snprintf(line + n, cap - (size_t)n, "  val_loss %.4f  val_accuracy %.4f", v[HK_METRIC_VAL_LOSS],
                          v[HK_METRIC_VAL_ACCURACY]);
        n += snprintf(line + n, cap - (size_t)n, "  %.1fs  %.1f img/s\n", v[HK_METRIC_SECONDS],
                      v[HK_METRIC_IMAGES_PER_S]);
    } else if (ev->kind == HK_TRAIN_WARNING) {
        n = snprintf(line, cap, "warning: %s\n", ev->message);
    } else {
        n = snprintf(line, cap, "%s%s\n",
                     ev->status == HK_OK || ev->status == HK_ECANCELLED ? "training " : "training failed: ",
                     ev->message);
    }
    return n < (int)cap ? n : (int)cap - 1;
}

int shell_drain_progress(struct shell *sh)
{
    /* whole events go to the live plot's hook; a part event waits for the rest. At most one
     * pipe's worth (64 KiB) per call: a run of tiny epochs sends events faster than a slow stdout
     * (a pipe to mpirun) takes their lines, and an unbounded loop here never let the caller read
     * its input, so a `stop` typed during such a run was never read */
    enum { DRAIN_MAX = 65536 };
    static struct hk_train_event ev;
    static size_t have; /* bytes of ev read so far */
    int total = 0;
    while (total < DRAIN_MAX) {
        ssize_t n = read(sh->progress_pipe[0], (char *)&ev + have, sizeof ev - have);
        if (n <= 0)
            break;
        total += (int)n;
        have += (size_t)n;
        if (have < sizeof ev)
            continue;
        have = 0;
        char line[1024];
        progress_format(&ev, line, sizeof line);
        progress_bar_clear(sh);
        plot_live_progress(sh, &ev, line);
    }
    return total;
}

int progress_bars_on(struct shell *sh)
{
    return sh->interactive && !sh->live.on && cluster_is_writer() && isatty(STDOUT_FILENO);
}

/* "4.2s", "42s", "3m05s", "2h07m" */
static void format_seconds(char *buf, size_t cap, double s)
{
    int t = s > 0 && s < 1e8 ? (int)(s + 0.5) : 0;
    if (s < 9.95)
        snprintf(buf, cap, "%.1fs", s > 0 ? s : 0.0);
    else if (t < 60)
        snprintf(buf, cap, "%ds", t);
    else if (t < 3600)
        snprintf(buf, cap, "%dm%02ds", t / 60, t % 60);
    else
        snprintf(buf, cap, "%dh%02dm", t / 3600, t % 3600 / 60);
}

/* "[=====>......]" of width w for done of total into buf. */
static void format_bar(char *buf, int w, size_t done, size_t total)
{
    int full = total ? (int)((double)w * (double)done / (double)total) : 0;
    full = full > w ? w : full;
    buf[0] = '[';
    for (int i = 0; i < w; i++)
        buf[1 + i] = i < full ? '=' : i == full ? '>' : '.';
    buf[1 + w] = ']';
    buf[2 + w] = '\0';
}

/* The terminal's width for a bar line, at most 120. */
static int bar_columns(void)
{
    int rows, cols;
    shell_screen_size(&rows, &cols);
    return cols > 20 ? (cols - 1 < 120 ? cols - 1 : 120) : 79;
}

/* Draw text (one line without its newline) as the bar, in place of the previous bar when nothing
 * was printed below it. */
static void draw(struct shell *sh, const char *text)
{
    char line[512];
    snprintf(line, sizeof line, "%.*s\n", bar_columns(), text);
    int erase = sh->bar.shown && sh->bar.seq == sh->output_seq;
    shell_print_over(sh, erase, line);
    sh->bar.shown = 1;
    sh->bar.seq = sh->output_seq;
    sh->bar.last = progress_now();
}

void progress_bar_clear(struct shell *sh)
{
    if (sh->bar.shown && sh->bar.seq == sh->output_seq)
        shell_print_over(sh, 1, "");
    sh->bar.shown = 0;
}

void progress_bar_lift(struct shell *sh, const char *prompt, const char *line)
{
    int shown = sh->bar.shown && sh->bar.seq == sh->output_seq;
    sh->bar.shown = 0;
    if (!shown || strlen(prompt) + strlen(line) >= (size_t)bar_columns())
        return; /* a line that wrapped takes more rows than we know */
    printf("\033[2A\r\033[J%s%s\n", prompt, line); /* up to the bar, clear to the end, the line again */
    fflush(stdout);
}

void progress_tick(struct shell *sh)
{
    if (!progress_bars_on(sh) || !sh->run || !hk_worker_busy(sh->worker) ||
        progress_now() - sh->bar.last < BAR_INTERVAL)
        return;
    struct hk_progress p = hk_history_progress(sh->history);
    if (!p.running || p.batch <= p.first_batch || p.batches <= 0)
        return; /* nothing of this epoch trained yet */
    char bar[BAR_WIDTH + 3], elapsed[32], eta[32], text[512];
    int width = bar_columns() < 100 ? BAR_WIDTH * bar_columns() / 100 : BAR_WIDTH;
    format_bar(bar, width < 10 ? 10 : width, (size_t)p.batch, (size_t)p.batches);
    format_seconds(elapsed, sizeof elapsed, p.seconds);
    format_seconds(eta, sizeof eta, p.seconds / (p.batch - p.first_batch) * (p.batches - p.batch));
    int n = snprintf(text, sizeof text, "epoch %d/%d %d/%d %s %s, ETA %s", p.epoch, p.epochs, p.batch, p.batches,
                     bar, elapsed, p.batch < p.batches ? eta : "0s");
    /* the running figures only when they fit whole: a narrow terminal keeps the bar and the ETA */
    char figures[96];
    int f = snprintf(figures, sizeof figures, "  loss %.4f  accuracy %.4f", p.loss, p.accuracy);
    if (n + f > bar_columns())
        f = snprintf(figures, sizeof figures, "  loss %.4f", p.loss);
    if (n + f <= bar_columns() && n + f < (int)sizeof text)
        memcpy(text + n, figures, (size_t)f + 1);
    draw(sh, text);
}

void progress_load(void *user, size_t done, size_t total)
{
    struct progress_load *l = user;
    struct shell *sh = l->sh;
    if (!progress_bars_on(sh))
        return;
    double t = progress_now();
    if (done >= total) {
        progress_bar_clear(sh);
        return;
    }
    if (t - l->last < BAR_INTERVAL || !done)
        return;
    l->last = t;
    char bar[BAR_WIDTH + 3], elapsed[32], eta[32], text[512];
    format_bar(bar, BAR_WIDTH, done, total);
    format_seconds(elapsed, sizeof elapsed, t - l->t0);
    format_seconds(eta, sizeof eta, (t - l->t0) / (double)done * (double)(total - done));
    snprintf(text, sizeof text, "loading %s %zu/%zu %s %s, ETA %s", l->what, done, total, bar, elapsed, eta);
    draw(sh, text);
}
