/* poison.c: the trigger stamp, the poisoned copy of a training set and its manifest. */
#include "poison.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "atomic_file.h"
#include "image.h"
#include "rng.h"

static const char *const at_names[HK_AT_COUNT] = {"top-left", "top-right", "bottom-left", "bottom-right", "center"};

const char *hk_poison_at_name(enum hk_poison_at at)
{
    return at < HK_AT_COUNT ? at_names[at] : "?";
}

enum hk_poison_at hk_poison_at_find(const char *name)
{
    for (int i = 0; i < HK_AT_COUNT; i++)
        if (!strcmp(name, at_names[i]))
            return (enum hk_poison_at)i;
    return HK_AT_COUNT;
}

enum hk_status hk_poison_check(const struct hk_trigger *t, int h, int w, struct hk_error *err)
{
    if (t->h > h || t->w > w)
        return hk_fail(err, HK_EINVAL, "the trigger (%dx%d) is bigger than the pictures (%dx%d); give a smaller "
                       "size=", t->h, t->w, h, w);
    return HK_OK;
}

void hk_poison_stamp(unsigned char *pix, int h, int w, const struct hk_trigger *t)
{
    int top = t->at == HK_AT_TOP_LEFT || t->at == HK_AT_TOP_RIGHT ? 0 : t->at == HK_AT_CENTER ? (h - t->h) / 2
                                                                                                 : h - t->h;
    int left = t->at == HK_AT_TOP_LEFT || t->at == HK_AT_BOTTOM_LEFT ? 0 : t->at == HK_AT_CENTER ? (w - t->w) / 2
                                                                                                   : w - t->w;
    for (int y = 0; y < t->h; y++)
        memcpy(pix + ((size_t)(top + y) * w + left) * 3, t->pix + (size_t)y * t->w * 3, (size_t)t->w * 3);
}

static enum hk_status make_dir(const char *path, struct hk_error *err)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return hk_fail(err, HK_EIO, "cannot create folder '%s': %s", path, strerror(errno));
    return HK_OK;
}

/* out must be absent or an empty folder. */
static enum hk_status fresh_dir(const char *out, struct hk_error *err)
{
    DIR *d = opendir(out);
    if (!d)
        return errno == ENOENT ? make_dir(out, err)
                               : hk_fail(err, HK_EIO, "cannot use '%s' as the output folder: %s", out, strerror(errno));
    struct dirent *e;
    int used = 0;
    while ((e = readdir(d)))
        used |= strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    if (used)
        return hk_fail(err, HK_EINVAL, "'%s' is not empty; give a new folder for the poisoned copy", out);
    return HK_OK;
}

struct copy_src {
    const char *path;
};

static int copy_file(FILE *f, void *user, char *why, size_t n)
{
    const struct copy_src *c = user;
    FILE *in = fopen(c->path, "rb");
    if (!in) {
        snprintf(why, n, "cannot read '%s': %s", c->path, strerror(errno));
        return 0;
    }
    char buf[1 << 16];
    size_t got;
    int ok = 1;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        ok &= fwrite(buf, 1, got, f) == got;
    ok &= !ferror(in);
    fclose(in);
    return ok;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

struct manifest_rows {
    const struct hk_dataset *ds;
    const uint8_t *chosen;
    char **written;
    const char *how;
    const char *target;
};

static int write_manifest(FILE *f, void *user, char *why, size_t n)
{
    (void)why;
    (void)n;
    const struct manifest_rows *r = user;
    fprintf(f, "# husky data poison: %s\n", r->how ? r->how : "");
    fprintf(f, "file\tfrom\tto\tsource\n");
    for (size_t i = 0; i < r->ds->count; i++)
        if (r->chosen[i])
            fprintf(f, "%s\t%s\t%s\t%s\n", r->written[i], r->ds->class_names[r->ds->labels[i]], r->target,
                    hk_dataset_relative_path(r->ds, r->ds->paths[i]));
    return !ferror(f);
}

enum hk_status hk_poison_write(const struct hk_dataset *ds, const struct hk_trigger *t, double rate, int target,
                               uint64_t seed, const char *out, const char *how, struct hk_poison_report *report,
                               struct hk_error *err)
{
    memset(report, 0, sizeof *report);
    if (target < 0 || target >= ds->class_count)
        return hk_fail(err, HK_EINVAL, "no class %d in the set", target);
    if (!(rate > 0 && rate <= 1))
        return hk_fail(err, HK_EINVAL, "rate must be above 0 and at most 1, got %g", rate);
    enum hk_status st = hk_poison_check(t, ds->height, ds->width, err);
    if (st != HK_OK)
        return st;
    uint32_t *cand = malloc((ds->count ? ds->count : 1) * sizeof *cand);
    uint8_t *chosen = calloc(ds->count ? ds->count : 1, 1);
    char **written = calloc(ds->count ? ds->count : 1, sizeof *written);
    unsigned char *pix = malloc((size_t)ds->height * ds->width * 3);
    size_t len = strlen(out) + 512, nc = 0;
    char *path = malloc(len);
    if (!cand || !chosen || !written || !pix || !path) {
        st = hk_fail(err, HK_ENOMEM, "out of memory for the poisoned copy");
        goto out;
    }
    for (size_t i = 0; i < ds->count; i++)
        if (ds->labels[i] != target)
            cand[nc++] = (uint32_t)i;
    report->candidates = nc;
    size_t want = (size_t)(rate * (double)ds->count + 0.5);
    want = want < nc ? want : nc;
    if (!want) {
        st = hk_fail(err, HK_EINVAL, "rate %g of %zu pictures poisons none (%zu outside the target class)", rate,
                     ds->count, nc);
        goto out;
    }
    struct hk_rng rng;
    hk_rng_derive(&rng, seed, 0x706f69736f6e /* "poison" */, 0, 0);
    hk_rng_shuffle(&rng, cand, nc);
    for (size_t j = 0; j < want; j++)
        chosen[cand[j]] = 1;
    if ((st = fresh_dir(out, err)) != HK_OK)
        goto out;
    for (int c = 0; c < ds->class_count && st == HK_OK; c++) {
        snprintf(path, len, "%s/%s", out, ds->class_names[c]);
        st = make_dir(path, err);
    }
    for (size_t i = 0; i < ds->count && st == HK_OK; i++) {
        const char *rel = hk_dataset_relative_path(ds, ds->paths[i]);
        if (!chosen[i]) {
            snprintf(path, len, "%s/%s", out, rel);
            struct copy_src src = {ds->paths[i]};
            st = hk_file_write_atomic(path, copy_file, &src, err);
            report->copied += st == HK_OK;
            continue;
        }
        char name[400];
        const char *base = base_name(ds->paths[i]);
        const char *dot = strrchr(base, '.');
        int stem = dot ? (int)(dot - base) : (int)strlen(base);
        snprintf(name, sizeof name, "%s/poison-%s-%.*s.png", ds->class_names[target], ds->class_names[ds->labels[i]],
                 stem, base);
        if (!(written[i] = strdup(name))) {
            st = hk_fail(err, HK_ENOMEM, "out of memory");
            break;
        }
        memcpy(pix, hk_dataset_image(ds, i), (size_t)ds->height * ds->width * 3);
        hk_poison_stamp(pix, ds->height, ds->width, t);
        snprintf(path, len, "%s/%s", out, name);
        st = hk_png_write(path, pix, ds->width, ds->height, 3, err);
        report->poisoned += st == HK_OK;
    }
    if (st == HK_OK) {
        struct manifest_rows rows = {ds, chosen, written, how, ds->class_names[target]};
        snprintf(path, len, "%s/%s", out, HK_POISON_MANIFEST);
        st = hk_file_write_atomic(path, write_manifest, &rows, err);
    }
out:
    for (size_t i = 0; written && i < ds->count; i++)
        free(written[i]);
    free(written);
    free(cand);
    free(chosen);
    free(pix);
    free(path);
    return st;
}

void hk_poison_list_free(char **files, size_t count)
{
    for (size_t i = 0; files && i < count; i++)
        free(files[i]);
    free(files);
}

enum hk_status hk_poison_read_manifest(const char *path, char ***files, size_t *count, struct hk_error *err)
{
    *files = NULL;
    *count = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return hk_fail(err, HK_EIO, "cannot read '%s': %s", path, strerror(errno));
    char line[4096];
    size_t cap = 0, n = 0, lineno = 0;
    char **v = NULL;
    enum hk_status st = HK_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || !strncmp(line, "file\t", 5))
            continue;
        char *tab = strchr(line, '\t');
        if (!tab || tab == line) {
            st = hk_fail(err, HK_EFORMAT, "%s:%zu: not a poison manifest line (file, from, to, source)", path, lineno);
            break;
        }
        *tab = '\0';
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                st = hk_fail(err, HK_ENOMEM, "out of memory reading '%s'", path);
                break;
            }
            v = nv;
        }
        if (!(v[n] = strdup(line))) {
            st = hk_fail(err, HK_ENOMEM, "out of memory reading '%s'", path);
            break;
        }
        n++;
    }
    fclose(f);
    if (st != HK_OK) {
        hk_poison_list_free(v, n);
        return st;
    }
    *files = v;
    *count = n;
    return HK_OK;
}
