/* test_manifest.c: data manifests and the checks on loaded sets: a manifest written, read back
 * and compared clean; a picture moved to another label, a changed, a removed and an added file each
 * detected in temporary copies of the stripes fixture; SHA-256 values from sha256sum; malformed
 * manifests refused with file:line; duplicate pictures across classes and sets; the stratified,
 * seeded split. Usage: test_manifest FIXTURES (the tests/fixtures folder). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dataset.h"
#include "manifest.h"
#include "rng.h"

static const char *fixtures;
static char tmpdir[256];

/* Run a shell command built from fmt; 1 when it succeeded. */
static int __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd) == 0;
}

static struct hk_dataset *load(const char *root)
{
    struct hk_dataset *ds = NULL;
    struct hk_error err;
    CHECK(hk_dataset_load(root, (struct hk_size){.h = 16, .w = 16}, NULL, 2, &ds, &err) == HK_OK, "load %s: %s", root, err.msg);
    return ds;
}

static struct hk_manifest *manifest_of(const struct hk_dataset *train, const struct hk_dataset *val)
{
    const struct hk_dataset *sets[2] = {train, val};
    const char *names[2] = {"train", "val"};
    struct hk_manifest *m = NULL;
    struct hk_error err;
    CHECK(hk_manifest_from_sets(sets, names, 2, &m, &err) == HK_OK, "manifest: %s", err.msg);
    return m;
}

static const struct hk_manifest_entry *find_entry(const struct hk_manifest *m, const char *split, const char *path)
{
    for (size_t i = 0; m && i < m->count; i++)
        if (!strcmp(m->entries[i].split, split) && !strcmp(m->entries[i].path, path))
            return &m->entries[i];
    return NULL;
}

static int has_difference(const struct hk_manifest_diff *d, enum hk_manifest_change kind, const char *was_path,
                          const char *now_path)
{
    for (size_t i = 0; i < d->count; i++) {
        const struct hk_manifest_difference *x = &d->v[i];
        if (x->kind == kind && (!was_path || (x->was && !strcmp(x->was->path, was_path))) &&
            (!now_path || (x->now && !strcmp(x->now->path, now_path))))
            return 1;
    }
    return 0;
}

static void test_verify(void)
{
    char train[512], val[512], file[600];
    snprintf(train, sizeof train, "%s/stripes/train", tmpdir);
    snprintf(val, sizeof val, "%s/stripes/val", tmpdir);
    CHECK(sh("cp -r '%s/stripes' '%s'", fixtures, tmpdir), "copy the stripes fixture");

    struct hk_dataset *t = load(train), *v = load(val);
    if (!t || !v)
        return;
    struct hk_manifest *m = manifest_of(t, v);
    CHECK(m && m->count == 64, "manifest of 48 + 16 pictures has %zu entries", m ? m->count : 0);
    /* reference digests from sha256sum */
    const struct hk_manifest_entry *e = find_entry(m, "train", "horizontal/00.png");
    char hex[65] = "";
    if (e)
        hk_sha256_hex(e->sha256, hex);
    CHECK(e && !strcmp(e->label, "horizontal") && !e->skipped &&
              !strcmp(hex, "fc7b0b927201a1beab31ba22183c0471786f9fde396260e288c5350a846837c4"),
          "train horizontal/00.png: sha256 %s", hex);
    e = find_entry(m, "train", "vertical/00.png");
    if (e)
        hk_sha256_hex(e->sha256, hex);
    CHECK(e && !strcmp(hex, "06ba1278b41158c2157c2b8053925c5e7cdbeab77c379a920060327db4b3d936"),
          "train vertical/00.png: sha256 %s", hex);

    /* written, read back, compared with the same sets: clean */
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/set.manifest", tmpdir);
    struct hk_error err;
    CHECK(hk_manifest_write(m, mpath, &err) == HK_OK, "write: %s", err.msg);
    struct hk_manifest *back = NULL;
    CHECK(hk_manifest_read(mpath, &back, &err) == HK_OK, "read back: %s", err.msg);
    struct hk_manifest_diff d;
    if (back) {
        CHECK(hk_manifest_compare(back, m, &d, &err) == HK_OK, "compare: %s", err.msg);
        CHECK(d.count == 0 && d.same == 64, "clean set: %zu differences, %zu same", d.count, d.same);
        hk_manifest_diff_free(&d);
    }

    /* a picture moved from horizontal/ to vertical/, one changed, one removed, one added */
    CHECK(sh("mv '%s/horizontal/03.png' '%s/vertical/moved.png'", train, train), "move");
    CHECK(sh("cp '%s/images/rgb4x3.png' '%s/vertical/05.png'", fixtures, train), "change");
    CHECK(sh("rm '%s/horizontal/07.png'", val), "remove");
    CHECK(sh("cp '%s/images/small.jpg' '%s/vertical/new.jpg'", fixtures, val), "add");
    hk_dataset_free(t);
    hk_dataset_free(v);
    t = load(train);
    v = load(val);
    struct hk_manifest *now = manifest_of(t, v);
    if (back && now) {
        CHECK(hk_manifest_compare(back, now, &d, &err) == HK_OK, "compare: %s", err.msg);
        CHECK(d.counts[HK_MANIFEST_MOVED] == 1 && d.counts[HK_MANIFEST_CHANGED] == 1 &&
                  d.counts[HK_MANIFEST_REMOVED] == 1 && d.counts[HK_MANIFEST_ADDED] == 1 && d.count == 4,
              "moved %zu changed %zu removed %zu added %zu (of %zu)", d.counts[HK_MANIFEST_MOVED],
              d.counts[HK_MANIFEST_CHANGED], d.counts[HK_MANIFEST_REMOVED], d.counts[HK_MANIFEST_ADDED], d.count);
        CHECK(has_difference(&d, HK_MANIFEST_MOVED, "horizontal/03.png", "vertical/moved.png"), "move detected");
        CHECK(has_difference(&d, HK_MANIFEST_CHANGED, "vertical/05.png", "vertical/05.png"), "change detected");
        CHECK(has_difference(&d, HK_MANIFEST_REMOVED, "horizontal/07.png", NULL), "removal detected");
        CHECK(has_difference(&d, HK_MANIFEST_ADDED, NULL, "vertical/new.jpg"), "addition detected");
        CHECK(d.same == 61, "%zu unchanged, expected 61 (64 less moved, changed, removed)", d.same);
        for (size_t i = 0; i < d.count; i++)
            if (d.v[i].kind == HK_MANIFEST_MOVED)
                CHECK(!strcmp(d.v[i].was->label, "horizontal") && !strcmp(d.v[i].now->label, "vertical"),
                      "moved from label %s to %s", d.v[i].was->label, d.v[i].now->label);
        hk_manifest_diff_free(&d);
    }

    /* a skipped file is listed and marked */
    FILE *f;
    snprintf(file, sizeof file, "%s/horizontal/notes.png", train);
    if ((f = fopen(file, "w"))) {
        fputs("not a picture\n", f);
        fclose(f);
    }
    hk_dataset_free(t);
    t = load(train);
    hk_manifest_free(now);
    now = manifest_of(t, v);
    e = find_entry(now, "train", "horizontal/notes.png");
    if (e)
        hk_sha256_hex(e->sha256, hex);
    /* printf 'not a picture\n' | sha256sum */
    CHECK(e && e->skipped && e->hashed &&
              !strcmp(hex, "a9b39165aa59997b0e9610de5e3adcfc5ddfde3dd3422dac9eebd36a821db887"),
          "skipped notes.png: %s, sha256 %s", e ? (e->skipped ? "skipped" : "ok") : "missing", hex);

    hk_manifest_free(m);
    hk_manifest_free(back);
    hk_manifest_free(now);
    hk_dataset_free(t);
    hk_dataset_free(v);
}

/* Parse text; returns the status and leaves the message in err. */
static enum hk_status parse(const char *text, struct hk_error *err)
{
    struct hk_manifest *m = NULL;
    enum hk_status st = hk_manifest_parse(text, strlen(text), "m.txt", &m, err);
    hk_manifest_free(m);
    return st;
}

#define HASH "fc7b0b927201a1beab31ba22183c0471786f9fde396260e288c5350a846837c4"

static void test_parse(void)
{
    struct hk_error err;
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"", "m.txt:1: empty file"},
        {"husky-manifest 2\n", "m.txt:1: not a husky manifest"},
        {"husky-manifest 1\ntrain\thusky\tok\t" HASH "\n", "m.txt:2: fewer than 5"},
        {"husky-manifest 1\n# c\n\ntrain\thusky\tok\t" HASH "\ta\tb\n", "m.txt:4: more than 5"},
        {"husky-manifest 1\ntrain\thusky\tfine\t" HASH "\ta.jpg\n", "m.txt:2: the state must be"},
        {"husky-manifest 1\ntrain\thusky\tok\tabc\ta.jpg\n", "m.txt:2: the sha256 must be 64 hex digits"},
        {"husky-manifest 1\ntrain\thusky\tok\t-\ta.jpg\n", "m.txt:2: a loaded ('ok') file needs a sha256"},
        {"husky-manifest 1\ntrain\thusky\tok\t" HASH "\ta\\q.jpg\n", "m.txt:2: an unknown escape"},
        {"husky-manifest 1\ntrain\thusky\tok\t" HASH "\ta\\x00.jpg\n", "m.txt:2: \\x00 in a field"},
        {"husky-manifest 1\ntrain\t\tok\t" HASH "\ta.jpg\n", "m.txt:2: empty label"},
        {"husky-manifest 1\ntrain\thu\x01sky\tok\t" HASH "\ta.jpg\n", "m.txt:2: a raw control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum hk_status st = parse(bad[i].text, &err);
        CHECK(st == HK_EFORMAT && !strncmp(err.msg, bad[i].msg, strlen(bad[i].msg)), "bad manifest %zu: %s", i,
              err.msg);
    }
    /* a NUL byte and an over-long line */
    struct hk_manifest *m = NULL;
    static const char nul[] = "husky-manifest 1\ntrain\thusky\tok\t" HASH "\ta\0.jpg\n";
    CHECK(hk_manifest_parse(nul, sizeof nul - 1, "m.txt", &m, &err) == HK_EFORMAT &&
              !strcmp(err.msg, "m.txt:2: a NUL byte"), "NUL: %s", err.msg);
    size_t big = HK_MANIFEST_MAX_LINE + 100;
    char *text = malloc(big + 64);
    if (text) {
        int n = snprintf(text, 64, "husky-manifest 1\r\n# ok\n");
        memset(text + n, 'a', big);
        CHECK(hk_manifest_parse(text, (size_t)n + big, "m.txt", &m, &err) == HK_EFORMAT &&
                  !strcmp(err.msg, "m.txt:3: line longer than 8192 bytes"), "long line: %s", err.msg);
        free(text);
    }
    /* escapes and CRLF round-trip */
    const char *ok = "husky-manifest 1\r\ntrain\tnot\\thusky\tskipped\t-\ta\\\\b\\nc\\x7f.jpg\r\n";
    CHECK(hk_manifest_parse(ok, strlen(ok), "m.txt", &m, &err) == HK_OK, "escapes: %s", err.msg);
    CHECK(m && m->count == 1 && !strcmp(m->entries[0].label, "not\thusky") &&
              !strcmp(m->entries[0].path, "a\\b\nc\x7f.jpg") && m->entries[0].skipped && !m->entries[0].hashed,
          "escaped fields read back");
    if (m) {
        char path[600];
        snprintf(path, sizeof path, "%s/escapes.manifest", tmpdir);
        struct hk_manifest *back = NULL;
        CHECK(hk_manifest_write(m, path, &err) == HK_OK && hk_manifest_read(path, &back, &err) == HK_OK,
              "escapes write/read: %s", err.msg);
        CHECK(back && back->count == 1 && !strcmp(back->entries[0].label, "not\thusky") &&
                  !strcmp(back->entries[0].path, "a\\b\nc\x7f.jpg"), "escaped fields written and read back");
        hk_manifest_free(back);
    }
    hk_manifest_free(m);
    CHECK(hk_manifest_read("/nonexistent/m", &m, &err) == HK_EIO && strstr(err.msg, "/nonexistent/m"),
          "missing file: %s", err.msg);
}

/* Thousands of random byte mutations of a valid manifest: each is either refused with a located
 * message or parsed into entries with non-empty fields; never a crash (run under ASan/valgrind). */
static void test_parse_mutations(void)
{
    const char *valid = "husky-manifest 1\n# c\ntrain\thusky\tok\t" HASH "\thusky/a\\tb.jpg\n"
                        "val\tnot_husky\tskipped\t-\tnot_husky/c.png\r\n";
    size_t n = strlen(valid);
    char buf[256];
    struct hk_rng r;
    hk_rng_seed(&r, 3);
    int refused = 0, parsed = 0, bad = 0;
    for (int round = 0; round < 5000; round++) {
        memcpy(buf, valid, n);
        size_t len = n;
        int edits = 1 + (int)hk_rng_below(&r, 4);
        for (int e = 0; e < edits; e++) {
            size_t at = hk_rng_below(&r, (uint32_t)len);
            switch (hk_rng_below(&r, 3)) {
            case 0: buf[at] = (char)hk_rng_below(&r, 256); break;
            case 1: len = at; break;
            default: buf[at] = "\t\n\\x0-"[hk_rng_below(&r, 6)]; break;
            }
        }
        struct hk_manifest *m = NULL;
        struct hk_error err;
        if (hk_manifest_parse(buf, len, "m.txt", &m, &err) != HK_OK) {
            refused++;
            bad += strncmp(err.msg, "m.txt:", 6) != 0 || m != NULL;
            continue;
        }
        parsed++;
        for (size_t i = 0; i < m->count; i++)
            bad += !*m->entries[i].split || !*m->entries[i].label || !*m->entries[i].path;
        hk_manifest_free(m);
    }
    CHECK(bad == 0, "%d mutated manifests gave an unlocated error or an empty field", bad);
    CHECK(refused > 1000 && parsed > 100, "mutations: %d refused, %d parsed", refused, parsed);
}

static void test_duplicates(void)
{
    char train[512], val[512];
    snprintf(train, sizeof train, "%s/dups/train", tmpdir);
    snprintf(val, sizeof val, "%s/dups/val", tmpdir);
    CHECK(sh("mkdir '%s/dups' && cp -r '%s/stripes/train' '%s/stripes/val' '%s/dups/'", tmpdir, fixtures, fixtures,
             tmpdir),
          "copy for duplicates");
    struct hk_dataset *t = load(train), *v = load(val);
    struct hk_duplicate pairs[4];
    struct hk_duplicate_counts c;
    size_t listed;
    struct hk_error err;
    const struct hk_dataset *sets[2] = {t, v};
    CHECK(hk_dataset_duplicates(sets, 2, pairs, 4, &listed, &c, &err) == HK_OK && listed == 0 && c.cross_set == 0 &&
              c.cross_class == 0, "clean fixture: %zu listed", listed);
    hk_dataset_free(t);
    hk_dataset_free(v);

    /* the same picture in two classes (a renamed copy) and in both sets */
    CHECK(sh("cp '%s/horizontal/00.png' '%s/vertical/copy.png'", train, train), "copy across classes");
    CHECK(sh("cp '%s/horizontal/01.png' '%s/horizontal/leak.png'", train, val), "copy across sets");
    t = load(train);
    v = load(val);
    sets[0] = t;
    sets[1] = v;
    CHECK(hk_dataset_duplicates(sets, 2, pairs, 4, &listed, &c, &err) == HK_OK && listed == 2 && c.cross_set == 1 &&
              c.cross_class == 1, "%zu listed, %zu across sets, %zu across classes", listed, c.cross_set,
          c.cross_class);
    for (size_t i = 0; i < listed && t && v; i++) {
        const struct hk_dataset *a = sets[pairs[i].set_a], *b = sets[pairs[i].set_b];
        const char *pa = hk_dataset_relative_path(a, a->paths[pairs[i].a]);
        const char *pb = hk_dataset_relative_path(b, b->paths[pairs[i].b]);
        if (pairs[i].set_a != pairs[i].set_b)
            CHECK(!strcmp(pa, "horizontal/01.png") && !strcmp(pb, "horizontal/leak.png"), "leak pair %s %s", pa, pb);
        else
            CHECK(!strcmp(pa, "horizontal/00.png") && !strcmp(pb, "vertical/copy.png"), "class pair %s %s", pa, pb);
    }
    /* one set alone: only the pair across classes */
    CHECK(hk_dataset_duplicates(sets, 1, pairs, 0, &listed, &c, &err) == HK_OK && listed == 0 && c.cross_set == 0 &&
              c.cross_class == 1, "train alone: %zu across classes", c.cross_class);
    hk_dataset_free(t);
    hk_dataset_free(v);
}

static void test_split(void)
{
    char root[600];
    snprintf(root, sizeof root, "%s/stripes/train", fixtures);
    struct hk_dataset *ds = load(root), *rest = NULL, *val = NULL, *rest2 = NULL, *val2 = NULL, *rest3 = NULL,
                      *val3 = NULL;
    if (!ds)
        return;
    struct hk_error err;
    CHECK(hk_dataset_split(ds, 0.2, 7, &rest, &val, &err) == HK_OK, "split: %s", err.msg);
    CHECK(hk_dataset_split(ds, 0.2, 7, &rest2, &val2, &err) == HK_OK, "split again: %s", err.msg);
    CHECK(hk_dataset_split(ds, 0.2, 8, &rest3, &val3, &err) == HK_OK, "split, other seed: %s", err.msg);
    if (rest && val && rest2 && val2 && rest3 && val3) {
        /* 24 per class: round(0.2 * 24) = 5 each */
        CHECK(val->count == 10 && val->class_counts[0] == 5 && val->class_counts[1] == 5 && rest->count == 38 &&
                  rest->class_counts[0] == 19 && rest->class_counts[1] == 19,
              "split counts: val %zu (%zu, %zu), rest %zu", val->count, val->class_counts[0], val->class_counts[1],
              rest->count);
        int same = val2->count == val->count, other = val3->count == val->count;
        for (size_t i = 0; same && i < val->count; i++)
            same = !strcmp(val->paths[i], val2->paths[i]);
        int differs = 0;
        for (size_t i = 0; other && i < val->count; i++)
            differs |= strcmp(val->paths[i], val3->paths[i]) != 0;
        CHECK(same, "the same seed carves the same pictures");
        CHECK(other && differs, "another seed carves other pictures");
        /* disjoint, and together the whole set, pixels and labels kept */
        size_t found = 0;
        for (size_t i = 0; i < ds->count; i++) {
            int in_val = 0, in_rest = 0;
            for (size_t k = 0; k < val->count; k++)
                if (!strcmp(val->paths[k], ds->paths[i])) {
                    in_val = 1;
                    CHECK(val->labels[k] == ds->labels[i] &&
                              !memcmp(hk_dataset_image(val, k), hk_dataset_image(ds, i), 16 * 16 * 3),
                          "carved picture %s keeps label and pixels", ds->paths[i]);
                }
            for (size_t k = 0; k < rest->count; k++)
                in_rest += !strcmp(rest->paths[k], ds->paths[i]);
            found += in_val + in_rest == 1;
        }
        CHECK(found == ds->count, "%zu of %zu pictures in exactly one part", found, ds->count);
        CHECK(val->split_is_val && !rest->split_is_val && val->split_fraction == 0.2, "split marks");
    }
    hk_dataset_free(rest2), hk_dataset_free(val2);
    CHECK(hk_dataset_split(ds, 1.0, 7, &rest2, &val2, &err) == HK_EINVAL, "fraction 1 refused");

    /* copies of a picture (five of 00.png in one class) all land on the side of the first */
    char copies[600];
    snprintf(copies, sizeof copies, "%s/copies", tmpdir);
    CHECK(sh("cp -r '%s' '%s' && for i in 1 2 3 4 5; do cp '%s/horizontal/00.png' '%s/horizontal/zz$i.png'; done",
             root, copies, copies, copies), "copies");
    struct hk_dataset *cds = load(copies);
    int leaks = 0, carved_ok = 1;
    for (uint64_t seed = 0; cds && seed < 20; seed++) {
        struct hk_dataset *r = NULL, *c = NULL;
        if (hk_dataset_split(cds, 0.3, seed, &r, &c, &err) != HK_OK) {
            carved_ok = 0;
            continue;
        }
        const struct hk_dataset *sets[2] = {r, c};
        struct hk_duplicate_counts dc;
        size_t listed;
        hk_dataset_duplicates(sets, 2, NULL, 0, &listed, &dc, &err);
        leaks += dc.cross_set != 0;
        hk_dataset_free(r);
        hk_dataset_free(c);
    }
    CHECK(carved_ok && leaks == 0, "%d of 20 seeds leaked a copy across the split", leaks);
    hk_dataset_free(cds);
    hk_dataset_free(rest), hk_dataset_free(val), hk_dataset_free(rest3), hk_dataset_free(val3);
    hk_dataset_free(ds);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_manifest FIXTURES\n");
        return 2;
    }
    fixtures = argv[1];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hk_test_manifest.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_verify();
    test_parse();
    test_parse_mutations();
    test_duplicates();
    test_split();
    sh("rm -rf '%s'", tmpdir);
    return check_summary();
}
