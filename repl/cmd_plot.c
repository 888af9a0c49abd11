/* cmd_plot.c: `plot METRIC` draws the training and validation curves through a pipe to gnuplot
 * (a text plot on stdout, or a PNG/SVG file), and `history save FILE.csv` writes the per-epoch
 * metrics. Nothing the user types reaches gnuplot unescaped: paths go into single-quoted gnuplot
 * strings with ' doubled, and paths with control characters are refused. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"

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

/* Print gnuplot's text plot without trailing blanks and without blank lines around it. */
static void print_text_plot(struct shell *sh, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int started = 0, blank = 0;
    while (f && fgets(line, sizeof line, f)) {
        size_t len = 0;
        for (char *c = line; *c && *c != '\n'; c++) /* drop form feeds */
            if (*c != '\f')
                line[len++] = *c;
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\r'))
            len--;
        line[len] = '\0';
        if (!len) {
            blank += started;
            continue;
        }
        for (; blank; blank--)
            shell_print(sh, "\n");
        shell_print(sh, "%s\n", line);
        started = 1;
    }
    if (f)
        fclose(f);
}

static void put_value(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.9g", v);
    else
        fprintf(f, " ?");
}

int cmd_plot(struct shell *sh, const struct hk_words *w, int arg)
{
    static const char usage[] = "plot loss|accuracy|METRIC [out=FILE.png|FILE.svg]";
    if (arg_count(sh, w, arg, 1, 1, usage))
        return -1;
    enum hk_metric m = hk_metric_find(w->w[arg].text);
    if (m == HK_METRIC_COUNT) {
        const char *names[HK_METRIC_COUNT + 1];
        for (int k = 0; k < HK_METRIC_COUNT; k++)
            names[k] = hk_metric_name((enum hk_metric)k);
        names[HK_METRIC_COUNT] = NULL;
        const char *near = hk_closest(w->w[arg].text, names);
        if (near)
            return shell_error(sh, w, arg, "no metric '%s'; did you mean '%s'?", w->w[arg].text, near);
        return shell_error(sh, w, arg, "no metric '%s'; usage: %s", w->w[arg].text, usage);
    }
    int at = arg_option(w, "out");
    const char *out = at >= 0 ? w->w[at].value : NULL;
    if (out) {
        if (!*out)
            return shell_error(sh, w, at, "out= needs a file name ending in .png or .svg");
        if (has_control(out))
            return shell_error(sh, w, at, "the path contains a control character (newline, tab, escape...); "
                                          "choose another name");
        if (!ends_with(out, ".png") && !ends_with(out, ".svg"))
            return shell_error(sh, w, at, "out= must end in .png or .svg, got '%s'", out);
    }

    /* which curves */
    enum hk_metric train_m = m, val_m = HK_METRIC_COUNT;
    if (m == HK_METRIC_LOSS || m == HK_METRIC_VAL_LOSS)
        train_m = HK_METRIC_LOSS, val_m = HK_METRIC_VAL_LOSS;
    else if (m == HK_METRIC_ACCURACY || m == HK_METRIC_VAL_ACCURACY)
        train_m = HK_METRIC_ACCURACY, val_m = HK_METRIC_VAL_ACCURACY;
    int with_batches = train_m == HK_METRIC_LOSS;

    size_t n = 0, nb = 0;
    struct hk_epoch_record *r = hk_history_epochs(sh->history, &n);
    if (!r)
        return shell_error(sh, w, 0, "out of memory");
    if (n == 0) {
        free(r);
        return shell_error(sh, w, 0, "no epochs trained yet; train first: train epochs=N batch=B");
    }
    if (!have_gnuplot()) {
        free(r);
        return shell_error(sh, w, 0, GNUPLOT_MISSING);
    }
    float *b = with_batches ? hk_history_batches(sh->history, &nb) : NULL;
    int has_train = 0, has_val = 0;
    for (size_t i = 0; i < n; i++) {
        has_train |= isfinite(r[i].v[train_m]);
        has_val |= val_m != HK_METRIC_COUNT && isfinite(r[i].v[val_m]);
    }

    /* a private temporary folder for the data, the text plot and gnuplot's messages */
    const char *tmpdir = getenv("TMPDIR");
    char dir[1024], data[1100], text[1100], errf[1100], qerr[2400];
    snprintf(dir, sizeof dir, "%s/husky-plot-XXXXXX", tmpdir && *tmpdir && strlen(tmpdir) < 900 ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        free(r);
        free(b);
        return shell_error(sh, w, 0, "cannot make a temporary folder %s: %s", dir, strerror(errno));
    }
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(text, sizeof text, "%s/plot.txt", dir);
    snprintf(errf, sizeof errf, "%s/errors", dir);
    int rc = 0;
    FILE *f = fopen(data, "w");
    if (!f) {
        rc = shell_error(sh, w, 0, "%s: %s", data, strerror(errno));
        goto out;
    }
    /* index 0: per epoch; index 1: per batch, x scaled to epochs */
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%d", r[i].epoch);
        put_value(f, r[i].v[train_m]);
        put_value(f, val_m != HK_METRIC_COUNT ? r[i].v[val_m] : NAN);
        fprintf(f, "\n");
    }
    fprintf(f, "\n\n");
    for (size_t i = 0; i < nb; i++) {
        fprintf(f, "%.9g", (double)(i + 1) * (double)n / (double)nb);
        put_value(f, b[i]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0) {
        rc = shell_error(sh, w, 0, "%s: %s", data, strerror(errno));
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
        rc = shell_error(sh, w, 0, GNUPLOT_MISSING);
        goto out;
    }
    const char *name = hk_metric_name(train_m);
    fprintf(gp, "set datafile missing '?'\n");
    if (!out)
        fprintf(gp, "set terminal dumb size 79,24 mono nofeed noenhanced\n");
    else if (ends_with(out, ".svg"))
        fprintf(gp, "set terminal svg size 800,500 noenhanced\n");
    else
        fprintf(gp, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size 800,500 "
                    "noenhanced } else { set terminal png size 800,500 noenhanced }\n");
    fprintf(gp, "set output ");
    gp_quote(gp, out ? out : text);
    fprintf(gp, "\nset title ");
    gp_quote(gp, name);
    fprintf(gp, "\nset xlabel 'epoch'\nset key outside bottom center horizontal width 2\n");
    if (n == 1)
        fprintf(gp, "set xrange [0:2]\n");
    else
        fprintf(gp, "set xrange [%s:%d]\n", with_batches && nb ? "0" : "1", r[n - 1].epoch);
    fprintf(gp, "plot ");
    const char *sep = "";
    if (with_batches && nb) {
        gp_quote(gp, data);
        fprintf(gp, " index 1 using 1:2 with lines title 'loss per batch'");
        sep = ", ";
    }
    if (has_train) {
        fprintf(gp, "%s", sep);
        gp_quote(gp, data);
        fprintf(gp, " index 0 using 1:2 with linespoints title ");
        gp_quote(gp, name);
        sep = ", ";
    }
    if (has_val) {
        fprintf(gp, "%s", sep);
        gp_quote(gp, data);
        fprintf(gp, " index 0 using 1:3 with linespoints title ");
        gp_quote(gp, hk_metric_name(val_m));
        sep = ", ";
    }
    if (!*sep) /* nothing to draw: let gnuplot say so rather than guess */
        fprintf(gp, "NaN notitle");
    fprintf(gp, "\nset output\n");
    int status = pclose(gp);
    sigaction(SIGPIPE, &old, NULL);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
            rc = shell_error(sh, w, 0, GNUPLOT_MISSING);
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
        rc = shell_error(sh, w, out ? at : 0, "gnuplot failed%s%s", *msg ? ": " : "", msg);
        goto out;
    }
    if (out)
        shell_print(sh, "wrote %s\n", out);
    else
        print_text_plot(sh, text);
out:
    unlink(data);
    unlink(text);
    unlink(errf);
    rmdir(dir);
    free(r);
    free(b);
    return rc;
}

int cmd_history_save(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1, "history save FILE.csv"))
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
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) {
        free(r);
        return shell_error(sh, w, 0, "out of memory");
    }
    snprintf(tmp, len + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        free(r);
        return shell_error(sh, w, arg, "%s: %s", path, strerror(e));
    }
    fchmod(fd, 0644);
    fprintf(f, "epoch");
    for (int m = 0; m < HK_METRIC_COUNT; m++)
        fprintf(f, ",%s", hk_metric_name((enum hk_metric)m));
    fprintf(f, "\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%d", r[i].epoch);
        for (int m = 0; m < HK_METRIC_COUNT; m++) {
            if (isfinite(r[i].v[m]))
                fprintf(f, ",%.9g", r[i].v[m]);
            else
                fprintf(f, ",");
        }
        fprintf(f, "\n");
    }
    int ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
    int e = errno;
    ok &= fclose(f) == 0;
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    free(r);
    if (!ok)
        return shell_error(sh, w, arg, "%s: %s", path, strerror(e));
    shell_print(sh, "wrote %s (%zu epochs)\n", path, n);
    return 0;
}
