/* cmd_attack.c: the attack lab's commands: gradient attacks (attack fgsm, attack pgd) on a picture
 * or a folder, black-box attacks that read only the model's output (attack pixels, attack noise,
 * attack canvas), and the BadNets poisoned copy of a training set (data poison). The model work
 * runs on the compute worker (core/attack), between two batches when a run is going. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "attack.h"
#include "audit.h"
#include "attack_cmd.h"
#include "batch.h"
#include "commands.h"
#include "csv.h"
#include "folder.h"
#include "infer.h"
#include "poison.h"

int session_classes(const struct shell *sh, const char *const **names)
{
    const struct hk_dataset *ds = sh->train ? sh->train : sh->val;
    if (ds && ds->class_count) {
        *names = (const char *const *)ds->class_names;
        return ds->class_count;
    }
    *names = (const char *const *)sh->classes;
    return sh->nclasses;
}

int attack_ready(struct shell *sh, const struct hk_words *w, const char **names_out[], int *count)
{
    struct hk_error err;
    if (!sh->model)
        return shell_error(sh, w, 0, "no model yet; build one or: model load FILE");
    if (hk_model_check_compiled(sh->model, &err) != HK_OK)
        return shell_error(sh, w, 0, "%s", err.msg);
    if (hk_model_input(sh->model).c != 3)
        return shell_error(sh, w, 0, "attacks need a model with 3 input channels (RGB pictures)");
    const char *const *names;
    int n = session_classes(sh, &names);
    int k = (int)hk_shape_size(hk_model_output(sh->model)), classes = k == 1 ? 2 : k;
    if (n == 0)
        return shell_error(sh, w, 0, "the model's classes are unknown; load data (data train|val FOLDER) or a model "
                           "file that names them (model load FILE)");
    if (n != classes)
        return shell_error(sh, w, 0, "the model has %d classes but the loaded data has %d", classes, n);
    if (!(sh->rescale > 0))
        return shell_error(sh, w, 0, "attacks need a positive rescale (augment rescale=1/255)");
    if (names_out)
        *names_out = (const char **)names;
    if (count)
        *count = n;
    return 0;
}

int arg_class_of(struct shell *sh, const struct hk_words *w, int i, const char *const *names, int count)
{
    const char *t = w->w[i].value;
    int idx;
    if (hk_parse_int(t, &idx)) {
        if (idx >= 0 && idx < count)
            return idx;
        return shell_error(sh, w, i, "no class %d; the classes are 0 to %d", idx, count - 1);
    }
    for (int k = 0; k < count; k++)
        if (!strcmp(names[k], t))
            return k;
    char list[256] = "";
    const char *near_names[HK_TRAIN_MAX_CLASSES + 1] = {NULL}; /* hk_closest wants a NULL-terminated list */
    for (int k = 0, len = 0; k < count && k < HK_TRAIN_MAX_CLASSES; k++) {
        near_names[k] = names[k];
        if (len < (int)sizeof list - 40)
            len += snprintf(list + len, sizeof list - (size_t)len, "%s%s", k ? ", " : "", names[k]);
    }
    const char *near = hk_closest(t, near_names);
    if (near)
        return shell_error(sh, w, i, "no class '%s'; did you mean '%s'?", t, near);
    return shell_error(sh, w, i, "no class '%s'; the classes are: %s", t, list);
}

/* eps= (or another budget option at word i) in 0..1; -1 after reporting. */
static int arg_budget(struct shell *sh, const struct hk_words *w, int i, double *out)
{
    if (!hk_parse_float(w->w[i].value, out) || !(*out >= 0 && *out <= 1))
        return shell_error(sh, w, i, "%s must be from 0 to 1 (a share of the 0..255 pixel range, e.g. 8/255), got "
                           "'%s'", w->w[i].key, w->w[i].value);
    return 0;
}

/* The settings of attack fgsm|pgd and of evaluate ... robust; -1 after reporting. */
int attack_grad_options(struct shell *sh, const struct hk_words *w, enum hk_attack_method method, int with_eps,
                        const char *const *names, int count, struct hk_attack_grad *a)
{
    int at;
    memset(a, 0, sizeof *a);
    a->method = method;
    a->eps = 8.0 / 255;
    a->steps = 10;
    a->target = -1;
    a->seed = sh->seed;
    if (with_eps && (at = arg_option(w, "eps")) >= 0 && arg_budget(sh, w, at, &a->eps))
        return -1;
    a->step = a->eps > 0 ? 2.5 * a->eps / a->steps : 1.0 / 255;
    if ((at = arg_option(w, "steps")) >= 0 && arg_int(sh, w, at, 1, 100000, &a->steps))
        return -1;
    if (arg_option(w, "step") < 0)
        a->step = a->eps > 0 ? 2.5 * a->eps / a->steps : 1.0 / 255;
    if ((at = arg_option(w, "step")) >= 0) {
        if (!hk_parse_float(w->w[at].value, &a->step) || !(a->step > 0 && a->step <= 1))
            return shell_error(sh, w, at, "step must be above 0 and at most 1 (e.g. 2/255), got '%s'",
                               w->w[at].value);
    }
    if ((at = arg_option(w, "restarts")) >= 0 && arg_int(sh, w, at, 0, 1000, &a->restarts))
        return -1;
    if ((at = arg_option(w, "target")) >= 0 && (a->target = arg_class_of(sh, w, at, names, count)) < 0)
        return -1;
    if ((at = arg_option(w, "seed")) >= 0) {
        int s;
        if (arg_int(sh, w, at, 0, 2147483647, &s))
            return -1;
        a->seed = (uint64_t)s;
    }
    return 0;
}

/* "8/255" for a budget that is a whole number of pixel steps, else the number. */
void attack_format_eps(char *buf, size_t cap, double eps)
{
    double steps = eps * 255;
    if (eps == 0)
        snprintf(buf, cap, "0");
    else if (fabs(steps - round(steps)) < 1e-6)
        snprintf(buf, cap, "%.0f/255", round(steps));
    else
        snprintf(buf, cap, "%.4g", eps);
}

static int is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* path with its extension replaced by suffix ("adv.png" + "-strip.png" -> "adv-strip.png"). */
static void with_suffix(char *buf, size_t cap, const char *path, const char *suffix)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    int stem = dot && (!slash || dot > slash) ? (int)(dot - path) : (int)strlen(path);
    snprintf(buf, cap, "%.*s%s", stem, path, suffix);
}

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* The pictures of attack fgsm|pgd: word arg names a file or a folder. */
struct pictures {
    struct folder_list files;
    int folder;
    size_t n;              /* readable pictures */
    char **paths;          /* borrowed, n */
    unsigned char *pix;    /* n x h x w x 3 */
    float *x;              /* n x input size */
};

static void pictures_free(struct pictures *p)
{
    folder_list_free(&p->files);
    free(p->paths);
    free(p->pix);
    free(p->x);
}

static int load_pictures(struct shell *sh, const struct hk_words *w, int arg, struct pictures *p)
{
    struct hk_shape in = hk_model_input(sh->model);
    size_t size = hk_shape_size(in), psize = (size_t)in.h * in.w * 3;
    const char *path = w->w[arg].text;
    memset(p, 0, sizeof *p);
    p->folder = is_folder(path);
    if (p->folder) {
        int e = folder_list_files(path, &p->files);
        if (e)
            return shell_error(sh, w, arg, "%s: %s", path, strerror(e));
        if (!p->files.count)
            return shell_error(sh, w, arg, "%s: no files in this folder", path);
    }
    size_t total = p->folder ? p->files.count : 1;
    p->paths = malloc(total * sizeof *p->paths);
    p->pix = malloc(total * psize);
    p->x = malloc(total * size * sizeof *p->x);
    if (!p->paths || !p->pix || !p->x)
        return shell_error(sh, w, 0, "out of memory for %zu pictures", total);
    struct hk_infer_prep prep = {&sh->limits, sh->rescale};
    for (size_t i = 0; i < total; i++) {
        char *file = p->folder ? p->files.paths[i] : (char *)path;
        struct hk_error err;
        if (hk_infer_load(sh->model, &prep, file, p->pix + p->n * psize, p->x + p->n * size, &err) != HK_OK) {
            if (!p->folder)
                return shell_error(sh, w, arg, "%s: %s", file, err.msg);
            shell_print(sh, "skipped %s: %s\n", file, err.msg);
            continue;
        }
        p->paths[p->n++] = file;
    }
    if (!p->n)
        return shell_error(sh, w, arg, "%s: no readable pictures", path);
    return 0;
}

static int write_png(struct shell *sh, const struct hk_words *w, int word, const char *path, const unsigned char *pix,
                     int width, int height)
{
    struct hk_error err;
    if (hk_png_write(path, pix, width, height, 3, &err) != HK_OK)
        return shell_error(sh, w, word, "%s", err.msg);
    return 0;
}

static int attack_grad_cmd(struct shell *sh, const struct hk_words *w, int arg, enum hk_attack_method method)
{
    const char **names;
    int count;
    struct hk_attack_grad a;
    if (arg_count(sh, w, arg, 1, 1) || attack_ready(sh, w, &names, &count) ||
        attack_grad_options(sh, w, method, 1, names, count, &a))
        return -1;
    int at_out = arg_option(w, "out");
    const char *out = at_out >= 0 ? w->w[at_out].value : NULL;
    if (out && !*out)
        return shell_error(sh, w, at_out, "out= needs a file or folder name");
    struct pictures p;
    struct hk_shape in = hk_model_input(sh->model);
    size_t size = hk_shape_size(in), psize = (size_t)in.h * in.w * 3;
    int k = (int)hk_shape_size(hk_model_output(sh->model)), rc = 0;
    float *before = NULL, *after = NULL, *adv = NULL;
    int *labels = NULL;
    unsigned char *advpix = NULL, *strip = NULL;
    struct csv csv;
    char csv_path[4096]; /* borrowed by csv until it is committed */
    int writing = 0;
    struct hk_error err;
    if (load_pictures(sh, w, arg, &p)) {
        pictures_free(&p);
        return -1;
    }
    if (out && p.folder) {
        struct stat st;
        if (stat(out, &st) != 0 && mkdir(out, 0777) != 0) {
            rc = shell_error(sh, w, at_out, "cannot create folder '%s': %s", out, strerror(errno));
            goto done;
        }
    }
    size_t n = p.n;
    before = malloc(n * (size_t)k * sizeof *before);
    after = malloc(n * (size_t)k * sizeof *after);
    adv = malloc(n * size * sizeof *adv);
    labels = malloc(n * sizeof *labels);
    advpix = malloc(n * psize);
    strip = malloc(psize * 3);
    if (!before || !after || !adv || !labels || !advpix || !strip) {
        rc = shell_error(sh, w, 0, "out of memory");
        goto done;
    }
    double t0 = seconds_now();
    if (hk_attack_predict(sh->worker, sh->model, p.x, (int)n, before, &err) != HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        labels[i] = hk_attack_predicted(before + i * k, k);
    if (hk_attack_grad_run(sh->worker, sh->model, &a, sh->rescale, p.x, labels, (int)n, 0, adv, NULL, &err) != HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
        goto done;
    }
    double seconds = seconds_now() - t0;
    /* what an attacker hands over is an 8-bit picture: score that */
    int budget = (int)floor(a.eps * 255 + 1e-6);
    for (size_t i = 0; i < n; i++) {
        hk_attack_to_pixels(advpix + i * psize, adv + i * size, in.h, in.w, sh->rescale, p.pix + i * psize, budget);
        hk_batch_from_pixels(adv + i * size, advpix + i * psize, in.h, in.w, sh->rescale);
    }
    if (hk_attack_predict(sh->worker, sh->model, adv, (int)n, after, &err) != HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
        goto done;
    }
    char eps_text[32];
    attack_format_eps(eps_text, sizeof eps_text, a.eps);
    if (p.folder && out) {
        snprintf(csv_path, sizeof csv_path, "%s/attack.csv", out);
        int e = csv_open(&csv, csv_path);
        if (e) {
            rc = shell_error(sh, w, at_out, "%s: %s", csv_path, csv_strerror(e));
            goto done;
        }
        writing = 1;
        const char *head[] = {"path", "before", "p_before", "after", "p_after", "largest_change", "adversarial"};
        for (size_t j = 0; j < sizeof head / sizeof *head; j++)
            csv_field(&csv, head[j]);
        csv_end_row(&csv);
    }
    size_t flipped = 0, reached = 0;
    int most = 0;
    for (size_t i = 0; i < n; i++) {
        const float *b = before + i * k, *f = after + i * k;
        int pb = hk_attack_predicted(b, k), pa = hk_attack_predicted(f, k);
        int change = hk_attack_max_change(p.pix + i * psize, advpix + i * psize, in.h, in.w);
        most = change > most ? change : most;
        flipped += pa != pb;
        reached += a.target >= 0 && pa == a.target;
        char adv_path[4096] = "";
        if (out && p.folder) {
            char name[1024];
            with_suffix(name, sizeof name, base_name(p.paths[i]), ".png");
            snprintf(adv_path, sizeof adv_path, "%s/%s", out, name);
        } else if (out)
            snprintf(adv_path, sizeof adv_path, "%s", out);
        if (adv_path[0] && write_png(sh, w, at_out, adv_path, advpix + i * psize, in.w, in.h)) {
            rc = -1;
            goto done;
        }
        if (writing) {
            csv_field(&csv, p.paths[i]);
            csv_field(&csv, names[pb]);
            csv_fieldf(&csv, "%.6f", hk_attack_prob(b, k, pb));
            csv_field(&csv, names[pa]);
            csv_fieldf(&csv, "%.6f", hk_attack_prob(f, k, pa));
            csv_fieldf(&csv, "%d", change);
            csv_field(&csv, adv_path);
            csv_end_row(&csv);
        }
        if (p.folder && n > 20)
            continue;
        shell_print(sh, "%s: %s %.4f -> %s %.4f", p.paths[i], names[pb], hk_attack_prob(b, k, pb), names[pa],
                    hk_attack_prob(f, k, pa));
        if (a.target >= 0)
            shell_print(sh, "  P(%s) %.4f -> %.4f", names[a.target], hk_attack_prob(b, k, a.target),
                        hk_attack_prob(f, k, a.target));
        shell_print(sh, "  largest pixel change %d/255%s\n", change,
                    a.target >= 0 ? (pa == a.target ? "  (reached the target)" : "")
                                  : (pa != pb ? "  (flipped)" : ""));
    }
    if (!p.folder && out) {
        char strip_path[4096];
        with_suffix(strip_path, sizeof strip_path, out, "-strip.png");
        hk_attack_strip(strip, p.pix, advpix, in.h, in.w);
        if (write_png(sh, w, at_out, strip_path, strip, 3 * in.w, in.h)) {
            rc = -1;
            goto done;
        }
        shell_print(sh, "wrote %s and %s (original | perturbation x%.0f | adversarial)\n", out, strip_path,
                    most ? floor(127.0 / most) : 0.0);
    }
    if (p.folder) {
        if (a.target >= 0)
            shell_print(sh, "%zu pictures: %zu now classified %s (%.4f)", n, reached, names[a.target],
                        (double)reached / (double)n);
        else
            shell_print(sh, "%zu pictures: %zu flipped (%.4f)", n, flipped, (double)flipped / (double)n);
        shell_print(sh, ", eps %s, largest pixel change %d/255, attack %.1fs  %.1f img/s\n", eps_text, most, seconds,
                    (double)n / seconds);
    }
    if (writing) {
        writing = 0;
        int e = csv_commit(&csv);
        if (e) {
            rc = shell_error(sh, w, at_out, "%s/attack.csv: %s", out, csv_strerror(e));
            goto done;
        }
        shell_print(sh, "wrote %zu adversarial pictures and %s/attack.csv\n", n, out);
    }
done:
    if (writing)
        csv_abort(&csv);
    pictures_free(&p);
    free(before);
    free(after);
    free(adv);
    free(labels);
    free(advpix);
    free(strip);
    return rc;
}

int cmd_attack_fgsm(struct shell *sh, const struct hk_words *w, int arg)
{
    return attack_grad_cmd(sh, w, arg, HK_ATTACK_FGSM);
}

int cmd_attack_pgd(struct shell *sh, const struct hk_words *w, int arg)
{
    return attack_grad_cmd(sh, w, arg, HK_ATTACK_PGD);
}

int cmd_attack_pixels(struct shell *sh, const struct hk_words *w, int arg)
{
    const char **names;
    int count, at, budget = 5000, target = -1, rc = 0;
    if (arg_count(sh, w, arg, 1, 1) || attack_ready(sh, w, &names, &count))
        return -1;
    if ((at = arg_option(w, "budget")) >= 0 && arg_int(sh, w, at, 1, 100000000, &budget))
        return -1;
    if ((at = arg_option(w, "target")) >= 0 && (target = arg_class_of(sh, w, at, names, count)) < 0)
        return -1;
    uint64_t seed = sh->seed;
    if ((at = arg_option(w, "seed")) >= 0) {
        int s;
        if (arg_int(sh, w, at, 0, 2147483647, &s))
            return -1;
        seed = (uint64_t)s;
    }
    int at_out = arg_option(w, "out");
    if (at_out >= 0 && !*w->w[at_out].value)
        return shell_error(sh, w, at_out, "out= needs a file name, e.g. out=pixels.png");
    if (is_folder(w->w[arg].text))
        return shell_error(sh, w, arg, "%s is a folder; attack pixels takes one picture", w->w[arg].text);
    struct pictures p;
    if (load_pictures(sh, w, arg, &p)) {
        pictures_free(&p);
        return -1;
    }
    struct hk_shape in = hk_model_input(sh->model);
    size_t psize = (size_t)in.h * in.w * 3;
    int k = (int)hk_shape_size(hk_model_output(sh->model));
    unsigned char *pix = malloc(psize), *strip = malloc(psize * 3);
    float before[256], after[256];
    struct hk_error err;
    long queries = 0;
    double score = 0;
    int success = 0;
    if (!pix || !strip || k > 256) {
        rc = shell_error(sh, w, 0, k > 256 ? "attack pixels handles at most 256 classes" : "out of memory");
        goto done;
    }
    memcpy(pix, p.pix, psize);
    if (hk_attack_predict(sh->worker, sh->model, p.x, 1, before, &err) != HK_OK ||
        hk_attack_pixels_run(sh->worker, sh->model, sh->rescale, pix, target, budget, seed, &queries, &score, &success,
                             &err) != HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
        goto done;
    }
    hk_batch_from_pixels(p.x, pix, in.h, in.w, sh->rescale);
    if (hk_attack_predict(sh->worker, sh->model, p.x, 1, after, &err) != HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
        goto done;
    }
    int pb = hk_attack_predicted(before, k), pa = hk_attack_predicted(after, k), changed = 0;
    for (size_t i = 0; i < psize; i += 3)
        changed += memcmp(pix + i, p.pix + i, 3) != 0;
    shell_print(sh, "%s: %s %.4f -> %s %.4f", p.paths[0], names[pb], hk_attack_prob(before, k, pb), names[pa],
                hk_attack_prob(after, k, pa));
    if (target >= 0)
        shell_print(sh, "  P(%s) %.4f -> %.4f", names[target], hk_attack_prob(before, k, target),
                    hk_attack_prob(after, k, target));
    shell_print(sh, "\n  %ld quer%s, %d pixels changed, best score %.4f: %s\n", queries, queries == 1 ? "y" : "ies", changed, score,
                success ? (target >= 0 ? "reached the target" : "flipped") : "budget spent without success");
    if (at_out >= 0) {
        char strip_path[4096];
        const char *out = w->w[at_out].value;
        with_suffix(strip_path, sizeof strip_path, out, "-strip.png");
        hk_attack_strip(strip, p.pix, pix, in.h, in.w);
        if (write_png(sh, w, at_out, out, pix, in.w, in.h) ||
            write_png(sh, w, at_out, strip_path, strip, 3 * in.w, in.h)) {
            rc = -1;
            goto done;
        }
        shell_print(sh, "wrote %s and %s\n", out, strip_path);
    }
done:
    pictures_free(&p);
    free(pix);
    free(strip);
    return rc;
}

/* attack canvas and attack noise: how the model scores pictures of nothing. */
static int canvas_cmd(struct shell *sh, const struct hk_words *w, int arg, int noise_only)
{
    const char **names;
    int count, at, noise = noise_only ? 1000 : 100, target = -1, rc = 0;
    if (arg_count(sh, w, arg, 0, 0) ||
        attack_ready(sh, w, &names, &count))
        return -1;
    if ((at = arg_option(w, noise_only ? "count" : "noise")) >= 0 &&
        arg_int(sh, w, at, noise_only ? 1 : 0, 1000000, &noise))
        return -1;
    if ((at = arg_option(w, "target")) >= 0 && (target = arg_class_of(sh, w, at, names, count)) < 0)
        return -1;
    uint64_t seed = sh->seed;
    if ((at = arg_option(w, "seed")) >= 0) {
        int s;
        if (arg_int(sh, w, at, 0, 2147483647, &s))
            return -1;
        seed = (uint64_t)s;
    }
    struct hk_shape in = hk_model_input(sh->model);
    size_t size = hk_shape_size(in), psize = (size_t)in.h * in.w * 3;
    int k = (int)hk_shape_size(hk_model_output(sh->model));
    const enum hk_canvas kinds[3] = {HK_CANVAS_COLOUR, HK_CANVAS_GREY, HK_CANVAS_NOISE};
    const char *kind_names[3] = {"plain colours", "grey shades", "noise"};
    int per_kind[3] = {noise_only ? 0 : HK_CANVAS_COLOURS, noise_only ? 0 : 256, noise};
    unsigned char *pix = malloc(psize);
    float *x = malloc(HK_ATTACK_CHUNK * size * sizeof *x), *probs = malloc(HK_ATTACK_CHUNK * (size_t)k * sizeof *probs);
    size_t *hits = calloc((size_t)3 * count, sizeof *hits);
    double *best = malloc((size_t)count * sizeof *best);
    char (*best_name)[32] = calloc((size_t)count, sizeof *best_name);
    struct hk_error err;
    long queries = 0;
    if (!pix || !x || !probs || !hits || !best || !best_name) {
        rc = shell_error(sh, w, 0, "out of memory");
        goto done;
    }
    for (int c = 0; c < count; c++)
        best[c] = -1;
    for (int kind = 0; kind < 3; kind++)
        for (int s = 0; s < per_kind[kind]; s += HK_ATTACK_CHUNK) {
            int b = per_kind[kind] - s < HK_ATTACK_CHUNK ? per_kind[kind] - s : HK_ATTACK_CHUNK;
            char label[HK_ATTACK_CHUNK][32];
            for (int j = 0; j < b; j++) {
                hk_attack_canvas(pix, in.h, in.w, kinds[kind], s + j, seed, label[j]);
                hk_batch_from_pixels(x + (size_t)j * size, pix, in.h, in.w, sh->rescale);
            }
            if (hk_attack_predict(sh->worker, sh->model, x, b, probs, &err) != HK_OK) {
                rc = shell_error(sh, w, 0, "%s", err.msg);
                goto done;
            }
            queries += b;
            for (int j = 0; j < b; j++) {
                const float *row = probs + (size_t)j * k;
                hits[(size_t)kind * count + hk_attack_predicted(row, k)]++;
                for (int c = 0; c < count; c++)
                    if (hk_attack_prob(row, k, c) > best[c]) {
                        best[c] = hk_attack_prob(row, k, c);
                        memcpy(best_name[c], label[j], sizeof best_name[c]);
                    }
            }
        }
    shell_print(sh, "%ld queries; pictures classified as each class:\n  %-14s %8s", queries, "", "pictures");
    for (int c = 0; c < count; c++)
        if (target < 0 || c == target)
            shell_print(sh, "  %12.12s", names[c]);
    shell_print(sh, "\n");
    for (int kind = 0; kind < 3; kind++) {
        if (!per_kind[kind])
            continue;
        shell_print(sh, "  %-14s %8d", kind_names[kind], per_kind[kind]);
        for (int c = 0; c < count; c++)
            if (target < 0 || c == target)
                shell_print(sh, "  %12zu", hits[(size_t)kind * count + c]);
        shell_print(sh, "\n");
    }
    for (int c = 0; c < count; c++)
        if (target < 0 || c == target)
            shell_print(sh, "best score for %s: %.4f (%s)\n", names[c], best[c], best_name[c]);
done:
    free(pix);
    free(x);
    free(probs);
    free(hits);
    free(best);
    free(best_name);
    return rc;
}

int cmd_attack_canvas(struct shell *sh, const struct hk_words *w, int arg)
{
    return canvas_cmd(sh, w, arg, 0);
}

int cmd_attack_noise(struct shell *sh, const struct hk_words *w, int arg)
{
    return canvas_cmd(sh, w, arg, 1);
}

int attack_load_trigger(struct shell *sh, const struct hk_words *w, int h, int wd, unsigned char **pix,
                        struct hk_trigger *t)
{
    int at = arg_option(w, "trigger"), size = 0, where;
    struct hk_error err;
    unsigned char *rgb;
    int tw, th;
    *pix = NULL;
    t->at = HK_AT_BOTTOM_RIGHT;
    if (at < 0)
        return shell_error(sh, w, w->count, "missing trigger=PATCH.png");
    if ((where = arg_option(w, "at")) >= 0 && (t->at = hk_poison_at_find(w->w[where].value)) == HK_AT_COUNT)
        return shell_error(sh, w, where, "at= is one of top-left, top-right, bottom-left, bottom-right, center; got "
                           "'%s'", w->w[where].value);
    int sz = arg_option(w, "size");
    if (sz >= 0 && arg_int(sh, w, sz, 1, HK_IMAGE_MAX_SIDE, &size))
        return -1;
    if (hk_image_load(w->w[at].value, &sh->limits, &rgb, &tw, &th, &err) != HK_OK)
        return shell_error(sh, w, at, "%s: %s", w->w[at].value, err.msg);
    t->h = size ? size : th;
    t->w = size ? size : tw;
    if (hk_poison_check(t, h, wd, &err) != HK_OK) {
        free(rgb);
        return shell_error(sh, w, sz >= 0 ? sz : at, "%s", err.msg);
    }
    if (!size) {
        *pix = rgb;
    } else {
        *pix = malloc((size_t)size * size * 3);
        if (*pix)
            hk_image_resize(*pix, size, size, rgb, tw, th);
        free(rgb);
        if (!*pix)
            return shell_error(sh, w, 0, "out of memory");
    }
    t->pix = *pix;
    return 0;
}

int cmd_data_poison(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    const struct hk_dataset *ds = sh->train;
    if (!ds)
        return shell_error(sh, w, 0, "no training set loaded; use: data train FOLDER");
    int at_target = arg_option(w, "target"), at_out = arg_option(w, "out"), at, target;
    if (at_target < 0)
        return shell_error(sh, w, w->count, "missing target=CLASS (the class the trigger should make pictures)");
    if (at_out < 0 || !*w->w[at_out].value)
        return shell_error(sh, w, at_out >= 0 ? at_out : w->count, "missing out=FOLDER for the poisoned copy");
    if ((target = arg_class_of(sh, w, at_target, (const char *const *)ds->class_names, ds->class_count)) < 0)
        return -1;
    double rate = 0.05;
    if ((at = arg_option(w, "rate")) >= 0 &&
        (!hk_parse_float(w->w[at].value, &rate) || !(rate > 0 && rate <= 1)))
        return shell_error(sh, w, at, "rate must be above 0 and at most 1 (e.g. 0.05), got '%s'", w->w[at].value);
    uint64_t seed = sh->seed;
    if ((at = arg_option(w, "seed")) >= 0) {
        int s;
        if (arg_int(sh, w, at, 0, 2147483647, &s))
            return -1;
        seed = (uint64_t)s;
    }
    unsigned char *tpix;
    struct hk_trigger t;
    if (attack_load_trigger(sh, w, ds->height, ds->width, &tpix, &t))
        return -1;
    char how[1024];
    snprintf(how, sizeof how, "trigger=%s at=%s size=%dx%d rate=%g target=%s seed=%llu from=%s",
             w->w[arg_option(w, "trigger")].value, hk_poison_at_name(t.at), t.h, t.w, rate, ds->class_names[target],
             (unsigned long long)seed, ds->root);
    struct hk_poison_report r;
    struct hk_error err;
    enum hk_status st = hk_poison_write(ds, &t, rate, target, seed, w->w[at_out].value, how, &r, &err);
    free(tpix);
    if (st != HK_OK)
        return shell_error(sh, w, at_out, "%s", err.msg);
    shell_print(sh, "wrote %s: %zu pictures copied, %zu poisoned (trigger %dx%d at %s, relabelled %s; %zu were "
                "outside %s), manifest %s/%s\n", w->w[at_out].value, r.copied, r.poisoned, t.h, t.w,
                hk_poison_at_name(t.at), ds->class_names[target], r.candidates, ds->class_names[target],
                w->w[at_out].value, HK_POISON_MANIFEST);
    return 0;
}

/* Order pictures by descending score (ties by index), for the audit's lists. */
static const double *audit_scores;

static int by_score(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (audit_scores[i] != audit_scores[j])
        return audit_scores[i] < audit_scores[j] ? 1 : -1;
    return i < j ? -1 : i > j;
}

int cmd_data_audit(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    const struct hk_dataset *ds = sh->train;
    if (!ds)
        return shell_error(sh, w, 0, "no training set loaded; use: data train FOLDER");
    if (attack_ready(sh, w, NULL, NULL))
        return -1;
    struct hk_error err;
    struct hk_train_config cfg = {.epochs = 1, .batch = 32, .until = HK_METRIC_COUNT};
    if (hk_train_check(sh->model, ds, NULL, &cfg, &err) != HK_OK)
        return shell_error(sh, w, 0, "%s", err.msg);
    int at, top = 10, layer = hk_model_count(sh->model) - 2;
    if ((at = arg_option(w, "layer")) >= 0) {
        layer = hk_model_find(sh->model, w->w[at].value);
        if (layer < 0 && !hk_parse_int(w->w[at].value, &layer))
            return shell_error(sh, w, at, "no layer named '%s' (model lists them)", w->w[at].value);
        if (layer < 0 || layer >= hk_model_count(sh->model))
            return shell_error(sh, w, at, "no layer %s; the model has layers 0 to %d", w->w[at].value,
                               hk_model_count(sh->model) - 1);
    }
    if (layer < 0)
        return shell_error(sh, w, 0, "the model needs at least two layers: the audit reads the one before the last");
    if ((at = arg_option(w, "top")) >= 0 && arg_int(sh, w, at, 1, 100000, &top))
        return -1;
    int cluster = 0;
    if ((at = arg_option(w, "method")) >= 0) {
        cluster = !strcmp(w->w[at].value, "cluster");
        if (!cluster && strcmp(w->w[at].value, "spectral"))
            return shell_error(sh, w, at, "method= is spectral or cluster, got '%s'", w->w[at].value);
    }
    /* the poison manifest: given, or the one data poison left in the training folder */
    char manifest[4096];
    int at_manifest = arg_option(w, "manifest");
    snprintf(manifest, sizeof manifest, "%s/%s", ds->root, HK_POISON_MANIFEST);
    if (at_manifest >= 0)
        snprintf(manifest, sizeof manifest, "%s", w->w[at_manifest].value);
    struct stat st;
    int have_manifest = at_manifest >= 0 || stat(manifest, &st) == 0;
    char **poisoned = NULL;
    size_t npoisoned = 0;
    if (have_manifest && hk_poison_read_manifest(manifest, &poisoned, &npoisoned, &err) != HK_OK)
        return shell_error(sh, w, at_manifest >= 0 ? at_manifest : 0, "%s", err.msg);

    const struct hk_layer *l = hk_model_layer(sh->model, layer);
    size_t n = ds->count, d = hk_shape_size(l->out);
    float *act = malloc(n * d * sizeof *act);
    double *score = malloc(n * sizeof *score), *share = malloc((size_t)ds->class_count * sizeof *share);
    size_t *order = malloc(n * sizeof *order);
    uint8_t *is_poison = calloc(n ? n : 1, 1);
    int rc = 0;
    if (!act || !score || !share || !order || !is_poison || d > 1000000) {
        rc = shell_error(sh, w, 0, d > 1000000 ? "%s has %zu values per picture; audit a smaller layer"
                                               : "out of memory for %s's activations (%zu values per picture)",
                         l->name, d);
        goto out;
    }
    if (hk_audit_activations(sh->worker, sh->model, ds, sh->rescale, layer, act, &err) != HK_OK ||
        (cluster ? hk_audit_cluster(act, n, (int)d, ds->labels, ds->class_count, score, share, &err)
                 : hk_audit_spectral(act, n, (int)d, ds->labels, ds->class_count, score, &err)) != HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
        goto out;
    }
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rel = hk_dataset_relative_path(ds, ds->paths[i]);
        for (size_t p = 0; p < npoisoned && !is_poison[i]; p++)
            is_poison[i] = !strcmp(rel, poisoned[p]);
        found += is_poison[i];
    }
    shell_print(sh, "%s of %s (%zu values per picture) over %zu training pictures\n",
                cluster ? "activation clustering" : "spectral signatures", l->name, d, n);
    size_t hits = 0, listed = 0;
    for (int c = 0; c < ds->class_count; c++) {
        size_t m = 0, pc = 0;
        for (size_t i = 0; i < n; i++)
            if (ds->labels[i] == c) {
                order[m++] = i;
                pc += is_poison[i];
            }
        if (!m)
            continue;
        audit_scores = score;
        qsort(order, m, sizeof *order, by_score);
        size_t show = (size_t)top < m ? (size_t)top : m;
        if (cluster)
            shell_print(sh, "%s: %zu pictures, the smaller cluster holds %.4f of them; the %zu most suspicious:\n",
                        ds->class_names[c], m, share[c], show);
        else
            shell_print(sh, "%s: %zu pictures, the %zu most suspicious:\n", ds->class_names[c], m, show);
        for (size_t j = 0; j < show; j++)
            shell_print(sh, "  %10.4g  %s%s\n", score[order[j]], hk_dataset_relative_path(ds, ds->paths[order[j]]),
                        is_poison[order[j]] ? "  (poisoned)" : "");
        size_t list = 2 * pc < m ? 2 * pc : m;
        for (size_t j = 0; j < list; j++)
            hits += is_poison[order[j]];
        listed += list;
    }
    if (have_manifest)
        shell_print(sh, "%s lists %zu poisoned files, %zu of them in this set; the %zu most suspicious of their "
                    "classes (2 x the poisoned count per class) hold %zu of them (%.4f)\n", manifest, npoisoned, found,
                    listed, hits, found ? (double)hits / (double)found : 0.0);
out:
    hk_poison_list_free(poisoned, npoisoned);
    free(act);
    free(score);
    free(share);
    free(order);
    free(is_poison);
    return rc;
}
