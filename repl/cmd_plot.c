/* cmd_plot.c: `plot METRIC` draws the training and validation curves through a pipe to gnuplot
 * (a text plot on stdout, or a PNG/SVG file), `plot METRIC live` redraws the text plot after each
 * epoch of a run (hooked into the progress lines, see plot.h), and `history save FILE.csv` writes
 * the per-epoch metrics. Nothing the user types reaches gnuplot unescaped: paths go into single-quoted gnuplot
 * strings with ' doubled, and paths with control characters are refused. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "csv.h"
#include "plot.h"

#define GNUPLOT_MISSING "gnuplot is not installed; install it with: apt-get install gnuplot-nox"

/* 1 when an executable gnuplot is on PATH. */
static int have_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char dir[4096];
    while (*path) {
        size_t len = strcspn(path, ":");
        if (len + sizeof "/gnuplot" < sizeof dir) {
            if (len == 0)
                snprintf(dir, sizeof dir, "./gnuplot");
            else
                snprintf(dir, sizeof dir, "%.*s/gnuplot", (int)len, path);
            if (access(dir, X_OK) == 0)
                return 1;
        }
        path += len;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* 1 when s has a control character (newline, tab, escape, DEL ...). */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return 1;
    return 0;
}

/* s as a gnuplot single-quoted string (only '' is special there). */
static void gp_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

/* s as a /bin/sh single-quoted word. */
static void sh_quote(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    out[o++] = '\'';
    for (; *s && o + 5 < cap; s++) {
        if (*s == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else
            out[o++] = *s;
    }
    out[o++] = '\'';
    out[o] = '\0';
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* gnuplot's text plot without trailing blanks, form feeds and blank lines around it, as one owned
 * string; *lines receives its line count. NULL when it cannot be read. */
static char *read_text_plot(const char *path, int *lines)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int started = 0, blank = 0;
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    *lines = 0;
    while (f && text && fgets(line, sizeof line, f)) {
        size_t n = 0;
        for (char *c = line; *c && *c != '\n'; c++)
            if (*c != '\f')
                line[n++] = *c;
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\r'))
            n--;
        line[n] = '\0';
        if (!n) {
            blank += started;
            continue;
        }
        if (len + (size_t)blank + n + 2 > cap) {
            char *grown = realloc(text, cap = 2 * (len + (size_t)blank + n + 2));
            if (!grown) {
                free(text);
                text = NULL;
                break;
            }
            text = grown;
        }
        for (; blank; blank--, ++*lines)
            text[len++] = '\n';
        memcpy(text + len, line, n);
        len += n;
        text[len++] = '\n';
        ++*lines;
        started = 1;
    }
    if (text)
        text[len] = '\0';
    if (f)
        fclose(f);
    return text;
}

static void put_value(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.9g", v);
    else
        fprintf(f, " ?");
}

/* One gnuplot run: a data file written by write_data, the terminal (text of width x height, or a
 * .png/.svg file out), then script's commands (which read the data file by its name). */
struct gp_job {
    const char *out;
    int width, height;
    int (*write_data)(FILE *f, void *user);   /* 0, or -1 (errno set) */
    void (*script)(FILE *gp, const char *data, void *user);
    void *user;
};

/* Run a job. Returns 0 (with the text plot in *text, owned, when job->out is NULL), or -1 with
 * why filled; *out_failed is 1 when it was writing the file that failed. */
static int gp_run(const struct gp_job *job, char **text, int *lines, char *why, size_t why_cap, int *out_failed)
{
    const char *out = job->out;
    *out_failed = 0;
    *text = NULL;
    if (!have_gnuplot()) {
        snprintf(why, why_cap, GNUPLOT_MISSING);
        return -1;
    }
    /* a private temporary folder for the data, the text plot and gnuplot's messages */
    const char *tmpdir = getenv("TMPDIR");
    char dir[1024], data[1100], textf[1100], errf[1100], qerr[2400];
    snprintf(dir, sizeof dir, "%s/husky-plot-XXXXXX", tmpdir && *tmpdir && strlen(tmpdir) < 900 ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        snprintf(why, why_cap, "cannot make a temporary folder %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(textf, sizeof textf, "%s/plot.txt", dir);
    snprintf(errf, sizeof errf, "%s/errors", dir);
    int rc = 0;
    /* gnuplot writes a temporary file next to out, renamed over it once complete: a plot is never
     * half written, and an out= gnuplot cannot open (a missing folder) is caught here, before
     * gnuplot would fall back to printing the picture's bytes on the terminal */
    struct hk_atomic_file part = {0};
    int e = out ? hk_atomic_open(&part, out) : 0;
    if (e) {
        snprintf(why, why_cap, "cannot write '%s': %s", out, csv_strerror(e));
        *out_failed = 1;
        rc = -1;
        goto out;
    }
    FILE *f = fopen(data, "w");
    if (!f) {
        snprintf(why, why_cap, "%s: %s", data, strerror(errno));
        rc = -1;
        goto out;
    }
    if (job->write_data(f, job->user) != 0 || fclose(f) != 0) {
        snprintf(why, why_cap, "%s: %s", data, strerror(errno));
        rc = -1;
        goto out;
    }

    char cmd[2600];
    sh_quote(qerr, sizeof qerr, errf);
    snprintf(cmd, sizeof cmd, "gnuplot 2>%s", qerr);
    /* a gnuplot that dies early must not kill the shell with SIGPIPE */
    struct sigaction ign = {0}, old;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);
    fflush(stdout);
    FILE *gp = popen(cmd, "w");
    if (!gp) {
        sigaction(SIGPIPE, &old, NULL);
        snprintf(why, why_cap, GNUPLOT_MISSING);
        rc = -1;
        goto out;
    }
    fprintf(gp, "set datafile missing '?'\n");
    if (!out)
        fprintf(gp, "set terminal dumb size %d,%d mono nofeed noenhanced\n", job->width, job->height);
    else if (ends_with(out, ".svg"))
        fprintf(gp, "set terminal svg size 800,500 noenhanced\n");
    else
        fprintf(gp, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size 800,500 "
                    "noenhanced } else { set terminal png size 800,500 noenhanced }\n");
    fprintf(gp, "set output ");
    gp_quote(gp, out ? part.tmp : textf);
    fprintf(gp, "\n");
    job->script(gp, data, job->user);
    fprintf(gp, "\nset output\n");
    int status = pclose(gp);
    sigaction(SIGPIPE, &old, NULL);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        rc = -1;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
            snprintf(why, why_cap, GNUPLOT_MISSING);
            goto out;
        }
        FILE *e = fopen(errf, "r");
        char msg[512] = "", line[512];
        while (e && fgets(line, sizeof line, e)) /* gnuplot's last non-empty line says what failed */
            if (line[strspn(line, " \t\n^")]) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(msg, sizeof msg, "%s", line + strspn(line, " \t"));
            }
        if (e)
            fclose(e);
        snprintf(why, why_cap, "gnuplot failed%s%s", *msg ? ": " : "", msg);
        *out_failed = out != NULL;
        goto out;
    }
    if (out) {
        if ((e = hk_atomic_commit(&part)) != 0) {
            snprintf(why, why_cap, "cannot write '%s': %s", out, csv_strerror(e));
            *out_failed = 1;
            rc = -1;
            goto out;
        }
    } else if (!(*text = read_text_plot(textf, lines))) {
        snprintf(why, why_cap, "cannot read gnuplot's text plot");
        rc = -1;
    }
out:
    hk_atomic_abort(&part);
    unlink(data);
    unlink(textf);
    unlink(errf);
    rmdir(dir);
    return rc;
}

/* What to draw: a metric's curves from the first max_epochs epochs and max_batches batches of the
 * history (SIZE_MAX: all), to a file or as text of width x height characters. */
struct plot_request {
    enum hk_metric metric;
    const char *out;         /* .png or .svg file; NULL: text */
    size_t max_epochs, max_batches;
    int width, height;
};

/* A metric plot's data and curves, for gp_run. */
struct metric_plot {
    enum hk_metric train_m, val_m;
    int with_batches, has_train, has_val;
    const struct hk_epoch_record *r;
    size_t n, nb;
    const float *b;
};

/* index 0: per epoch; index 1: per batch, x scaled to epochs */
static int metric_data(FILE *f, void *user)
{
    const struct metric_plot *mp = user;
    for (size_t i = 0; i < mp->n; i++) {
        fprintf(f, "%d", mp->r[i].epoch);
        put_value(f, mp->r[i].v[mp->train_m]);
        put_value(f, mp->val_m != HK_METRIC_COUNT ? mp->r[i].v[mp->val_m] : NAN);
        fprintf(f, "\n");
    }
    fprintf(f, "\n\n");
    for (size_t i = 0; i < mp->nb; i++) {
        fprintf(f, "%.9g", (double)(i + 1) * (double)mp->n / (double)mp->nb);
        put_value(f, mp->b[i]);
        fprintf(f, "\n");
    }
    return 0;
}

static void metric_script(FILE *gp, const char *data, void *user)
{
    const struct metric_plot *mp = user;
    const char *name = hk_metric_name(mp->train_m);
    fprintf(gp, "set title ");
    gp_quote(gp, name);
    fprintf(gp, "\nset xlabel 'epoch'\nset key outside bottom center horizontal width 2\n");
    if (mp->n == 1)
        fprintf(gp, "set xrange [0:2]\n");
    else
        fprintf(gp, "set xrange [%s:%d]\n", mp->with_batches && mp->nb ? "0" : "1", mp->r[mp->n - 1].epoch);
    fprintf(gp, "plot ");
    const char *sep = "";
    if (mp->with_batches && mp->nb) {
        gp_quote(gp, data);
        fprintf(gp, " index 1 using 1:2 with lines title 'loss per batch'");
        sep = ", ";
    }
    if (mp->has_train) {
        fprintf(gp, "%s", sep);
        gp_quote(gp, data);
        fprintf(gp, " index 0 using 1:2 with linespoints title ");
        gp_quote(gp, name);
        sep = ", ";
    }
    if (mp->has_val) {
        fprintf(gp, "%s", sep);
        gp_quote(gp, data);
        fprintf(gp, " index 0 using 1:3 with linespoints title ");
        gp_quote(gp, hk_metric_name(mp->val_m));
        sep = ", ";
    }
    if (!*sep) /* nothing to draw: let gnuplot say so rather than guess */
        fprintf(gp, "NaN notitle");
}

/* Draw through gnuplot. Returns 0 (with the text plot in *text, owned, when rq->out is NULL), or
 * -1 with why filled; *out_failed is 1 when it was writing the file that failed. */
static int plot_draw(struct shell *sh, const struct plot_request *rq, char **text, int *lines, char *why,
                     size_t why_cap, int *out_failed)
{
    /* which curves */
    enum hk_metric m = rq->metric;
    struct metric_plot mp = {m, HK_METRIC_COUNT, 0, 0, 0, NULL, 0, 0, NULL};
    if (m == HK_METRIC_LOSS || m == HK_METRIC_VAL_LOSS)
        mp.train_m = HK_METRIC_LOSS, mp.val_m = HK_METRIC_VAL_LOSS;
    else if (m == HK_METRIC_ACCURACY || m == HK_METRIC_VAL_ACCURACY)
        mp.train_m = HK_METRIC_ACCURACY, mp.val_m = HK_METRIC_VAL_ACCURACY;
    mp.with_batches = mp.train_m == HK_METRIC_LOSS;
    *out_failed = 0;
    *text = NULL;

    struct hk_epoch_record *r = hk_history_epochs(sh->history, &mp.n);
    if (!r) {
        snprintf(why, why_cap, "out of memory");
        return -1;
    }
    mp.n = mp.n < rq->max_epochs ? mp.n : rq->max_epochs;
    if (mp.n == 0) {
        free(r);
        snprintf(why, why_cap, "no epochs trained yet; train first: train epochs=N batch=B");
        return -1;
    }
    if (!have_gnuplot()) {
        free(r);
        snprintf(why, why_cap, GNUPLOT_MISSING);
        return -1;
    }
    float *b = mp.with_batches ? hk_history_batches(sh->history, &mp.nb) : NULL;
    mp.nb = mp.nb < rq->max_batches ? mp.nb : rq->max_batches;
    for (size_t i = 0; i < mp.n; i++) {
        mp.has_train |= isfinite(r[i].v[mp.train_m]);
        mp.has_val |= mp.val_m != HK_METRIC_COUNT && isfinite(r[i].v[mp.val_m]);
    }
    mp.r = r;
    mp.b = b;
    struct gp_job job = {rq->out, rq->width, rq->height, metric_data, metric_script, &mp};
    int rc = gp_run(&job, text, lines, why, why_cap, out_failed);
    free(r);
    free(b);
    return rc;
}

/* ---- plot_curves: curves of y against x for other commands (evaluate ... robust) ---- */

static int curves_data(FILE *f, void *user)
{
    const struct plot_curves *c = user;
    for (int i = 0; i < c->n; i++) {
        fprintf(f, "%.9g", c->x[i]);
        for (int s = 0; s < c->nseries; s++)
            put_value(f, c->y[s][i]);
        fprintf(f, "\n");
    }
    return 0;
}

static void curves_script(FILE *gp, const char *data, void *user)
{
    const struct plot_curves *c = user;
    fprintf(gp, "set title ");
    gp_quote(gp, c->title);
    fprintf(gp, "\nset xlabel ");
    gp_quote(gp, c->xlabel);
    fprintf(gp, "\nset ylabel ");
    gp_quote(gp, c->ylabel);
    fprintf(gp, "\nset yrange [0:1]\nset key outside bottom center horizontal width 2\nplot ");
    for (int s = 0; s < c->nseries; s++) {
        fprintf(gp, "%s", s ? ", " : "");
        gp_quote(gp, data);
        fprintf(gp, " using 1:%d with linespoints title ", s + 2);
        gp_quote(gp, c->names[s]);
    }
}

int plot_curves(struct shell *sh, const struct plot_curves *c, char *why, size_t why_cap, int *out_failed)
{
    for (int s = 0; s < c->nseries; s++)
        if (has_control(c->names[s]))
            c = NULL;
    if (!c || has_control(c->title) || (c->out && has_control(c->out))) {
        snprintf(why, why_cap, "a plot title or file name with control characters");
        return -1;
    }
    int width = 0, height = 0;
    shell_screen_size(&height, &width);
    width = width >= 40 && width <= 200 ? width : 79;
    char *text = NULL;
    int lines = 0;
    struct gp_job job = {c->out, width, 20, curves_data, curves_script, (void *)c};
    if (gp_run(&job, &text, &lines, why, why_cap, out_failed) != 0)
        return -1;
    if (text)
        shell_print(sh, "%s", text);
    free(text);
    return 0;
}

/* ---- plot METRIC live: redrawn after each epoch, in place above the prompt ---- */

/* The text size of a live plot: the terminal's, within limits; 79x24 without a terminal. */
static void live_size(struct shell *sh, int *width, int *height)
{
    *width = 79;
    *height = 24;
    if (!sh->interactive)
        return;
    int rows = 0, cols = 0;
    shell_screen_size(&rows, &cols);
    if (cols > 40)
        *width = cols - 1 < 120 ? cols - 1 : 120;
    if (rows > 0)
        *height = rows - 4 < 24 ? (rows - 4 > 8 ? rows - 4 : 8) : 24;
}

/* Draw the live plot for the epochs seen so far, after `before` (text to print first, may be
 * NULL); erase the previous live plot when nothing has been printed below it since. */
static void live_draw(struct shell *sh, const char *before)
{
    struct live_plot *lp = &sh->live;
    size_t n = hk_history_epoch_count(sh->history), nb = 0;
    free(hk_history_batches(sh->history, &nb));
    if (lp->epochs0 + (size_t)lp->seen > n) { /* the history was cleared meanwhile */
        lp->epochs0 = n > (size_t)lp->seen ? n - (size_t)lp->seen : 0;
        lp->batches0 = nb > (size_t)lp->seen * lp->per_epoch ? nb - (size_t)lp->seen * lp->per_epoch : 0;
    }
    struct plot_request rq = {lp->metric, NULL, lp->epochs0 + (size_t)lp->seen,
                              lp->batches0 + (size_t)lp->seen * lp->per_epoch, 79, 24};
    live_size(sh, &rq.width, &rq.height);
    char *text = NULL, why[1400];
    int lines = 0, out_failed;
    int erase = lp->lines && lp->seq == sh->output_seq ? lp->lines : 0;
    if (plot_draw(sh, &rq, &text, &lines, why, sizeof why, &out_failed) != 0) {
        shell_print_over(sh, erase, before ? before : "");
        shell_warn(sh, "plot %s live: %s; live plot off", hk_metric_name(lp->metric), why);
        lp->on = 0;
        lp->lines = 0;
        return;
    }
    size_t blen = before ? strlen(before) : 0, tlen = strlen(text);
    char *all = malloc(blen + tlen + 1);
    if (all) {
        memcpy(all, before ? before : "", blen);
        memcpy(all + blen, text, tlen + 1);
        shell_print_over(sh, erase, all);
        lp->lines = lines;
        lp->seq = sh->output_seq;
    }
    free(all);
    free(text);
}

void plot_live_progress(struct shell *sh, const struct hk_train_event *ev, const char *line)
{
    struct live_plot *lp = &sh->live;
    if (!lp->on) {
        shell_print(sh, "%s", line);
        return;
    }
    if (ev->kind == HK_TRAIN_EPOCH_END) {
        if (!lp->per_epoch && sh->run && sh->run->train && sh->run->train->count) {
            size_t count = sh->run->train->count, batch = (size_t)hk_train_batch(&sh->run->config, count);
            lp->per_epoch = (count + batch - 1) / batch;
        }
        lp->seen++;
        live_draw(sh, line);
        return;
    }
    shell_print(sh, "%s", line);
    if (ev->kind == HK_TRAIN_FINISHED) { /* the run ended: the last plot stays */
        lp->on = 0;
        lp->lines = 0;
    }
}

static int plot_live_start(struct shell *sh, const struct hk_words *w, enum hk_metric m)
{
    if (!have_gnuplot())
        return shell_error(sh, w, 0, GNUPLOT_MISSING);
    shell_drain_progress(sh); /* a finished run's last lines must not end the new live plot */
    struct live_plot *lp = &sh->live;
    *lp = (struct live_plot){.on = 1, .metric = m};
    size_t nb = 0;
    free(hk_history_batches(sh->history, &nb));
    lp->epochs0 = hk_history_epoch_count(sh->history);
    lp->batches0 = nb;
    struct hk_progress p = hk_history_progress(sh->history);
    if (hk_worker_busy(sh->worker) && p.running && p.batches) { /* batches 0: starting, as the next run */
        /* mid-run: count from the run's start (approximately, the worker does not wait) */
        lp->seen = p.epoch - 1 < (int)lp->epochs0 ? p.epoch - 1 : (int)lp->epochs0;
        lp->per_epoch = (size_t)p.batches;
        lp->epochs0 -= (size_t)lp->seen;
        size_t done = (size_t)lp->seen * lp->per_epoch + (size_t)p.batch;
        lp->batches0 = nb > done ? nb - done : 0;
        shell_print(sh, "plotting %s after each epoch of this run (plot off stops)\n", hk_metric_name(m));
        if (lp->seen)
            live_draw(sh, NULL);
        return 0;
    }
    shell_print(sh, "plotting %s after each epoch of the next run (plot off stops)\n", hk_metric_name(m));
    return 0;
}

int cmd_plot(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 2))
        return -1;
    if (!strcmp(w->w[arg].text, "off")) {
        if (arg_count(sh, w, arg, 1, 1))
            return -1;
        shell_print(sh, sh->live.on ? "live plot off\n" : "no live plot is on\n");
        sh->live.on = 0;
        sh->live.lines = 0;
        return 0;
    }
    enum hk_metric m = hk_metric_find(w->w[arg].text);
    if (m == HK_METRIC_COUNT) {
        const char *names[HK_METRIC_COUNT + 2];
        for (int k = 0; k < HK_METRIC_COUNT; k++)
            names[k] = hk_metric_name((enum hk_metric)k);
        names[HK_METRIC_COUNT] = "off";
        names[HK_METRIC_COUNT + 1] = NULL;
        const char *near = hk_closest(w->w[arg].text, names);
        if (near)
            return shell_error(sh, w, arg, "no metric '%s'; did you mean '%s'?", w->w[arg].text, near);
        return shell_error(sh, w, arg, "no metric '%s'; usage: %s", w->w[arg].text, sh->usage);
    }
    int at = arg_option(w, "out"), live = 0;
    for (int i = arg + 1; i < w->count; i++) {
        if (w->w[i].key)
            continue;
        if (strcmp(w->w[i].text, "live"))
            return shell_error(sh, w, i, "expected live or nothing after the metric, got '%s'", w->w[i].text);
        live = 1;
    }
    const char *out = at >= 0 ? w->w[at].value : NULL;
    if (out && !strcmp(out, "-"))
        out = NULL; /* the text plot on standard output, as without out= */
    if (live && out)
        return shell_error(sh, w, at, "a live plot is drawn in the terminal; drop out= (or plot to a file after "
                                      "the run)");
    if (live)
        return plot_live_start(sh, w, m);
    if (out) {
        if (!*out)
            return shell_error(sh, w, at, "out= needs a file name ending in .png or .svg");
        if (has_control(out))
            return shell_error(sh, w, at, "the path contains a control character (newline, tab, escape...); "
                                          "choose another name");
        if (!ends_with(out, ".png") && !ends_with(out, ".svg"))
            return shell_error(sh, w, at, "out= must end in .png or .svg, got '%s'", out);
    }
    struct plot_request rq = {m, out, SIZE_MAX, SIZE_MAX, 79, 24};
    char *text, why[1400];
    int lines, out_failed;
    if (plot_draw(sh, &rq, &text, &lines, why, sizeof why, &out_failed) != 0)
        return shell_error(sh, w, out_failed ? at : 0, "%s", why);
    if (out)
        shell_print(sh, "wrote %s\n", out);
    else
        shell_print(sh, "%s", text);
    free(text);
    return 0;
}

int cmd_history_save(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1))
        return -1;
    const char *path = w->w[arg].text;
    size_t n;
    struct hk_epoch_record *r = hk_history_epochs(sh->history, &n);
    if (!r)
        return shell_error(sh, w, 0, "out of memory");
    if (n == 0) {
        free(r);
        return shell_error(sh, w, 0, "no epochs trained yet");
    }
    struct csv c;
    int e = csv_open(&c, path);
    if (e) {
        free(r);
        return shell_error(sh, w, arg, "%s: %s", path, csv_strerror(e));
    }
    csv_field(&c, "epoch");
    for (int m = 0; m < HK_METRIC_COUNT; m++)
        csv_field(&c, hk_metric_name((enum hk_metric)m));
    csv_end_row(&c);
    for (size_t i = 0; i < n; i++) {
        csv_fieldf(&c, "%d", r[i].epoch);
        for (int m = 0; m < HK_METRIC_COUNT; m++) {
            if (isfinite(r[i].v[m]))
                csv_fieldf(&c, "%.9g", r[i].v[m]);
            else
                csv_field(&c, "");
        }
        csv_end_row(&c);
    }
    free(r);
    e = csv_commit(&c);
    if (e)
        return shell_error(sh, w, arg, "%s: %s", path, csv_strerror(e));
    if (!c.stream)
        shell_print(sh, "wrote %s (%zu epochs)\n", path, n);
    return 0;
}
