/* bench_data.c: the data side's speed on the real picture set.
 *
 *   bench_data [data=/work/shared/data/husky-v1] [images=320] [epochs=3] [threads=1]
 *
 * 0. SHA-256 alone (hk_sha256, which guards model files and manifests): MB/s over 64 MiB, best of 3.
 * 1. Loading DATA/train (decode, resize to 128x128, hashes) with 1 and with 2 threads: seconds and
 *    images/s.
 * 2. Augmentation alone on one thread (hk_batch_fill with the blog's options, then without).
 * 3. Training the blog network through the real training job on the compute worker (the prefetch
 *    helper assembles the next batch meanwhile), batch 32, on `images` pictures carved from the
 *    training set (stratified, seed 1), `epochs` epochs of which the first is a warm-up, on
 *    `threads` compute threads: images/s without and with the blog's augmentation (rotation=30 shear=0.2
 *    zoom=0.2 flip=horizontal fill=nearest), the slowdown, and the fraction of step time the worker
 *    waited for a batch.
 * The last line is key=value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_clock.h"
#include "batch.h"
#include "blog_model.h"
#include "dataset.h"
#include "sha256.h"
#include "train.h"

/* CPU seconds used by the whole process so far (all threads). */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void die(const char *what, const struct hk_error *err)
{
    fprintf(stderr, "bench_data: %s: %s\n", what, err->msg);
    exit(1);
}

static const char *option(int argc, char **argv, const char *key, const char *fallback)
{
    size_t n = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
            return argv[i] + n + 1;
    return fallback;
}

static struct hk_augment blog_augment(void)
{
    struct hk_augment a = hk_augment_default();
    a.rotation_range = 30;
    a.shear_range = 0.2f;
    a.zoom_lo = 0.8f;
    a.zoom_hi = 1.2f;
    a.horizontal_flip = 1;
    a.fill = HK_FILL_NEAREST;
    return a;
}

/* Seconds to load root with `threads` decoding threads; the set is returned in *out. */
static double time_load(const char *root, int threads, struct hk_dataset **out)
{
    struct hk_error err;
    double t0 = bench_now();
    if (hk_dataset_load(root, (struct hk_size){.h = 128, .w = 128}, NULL, threads, out, &err) != HK_OK)
        die("load", &err);
    return bench_now() - t0;
}

/* Images/s of hk_batch_fill over the whole set in batches of 32, with augmentation a (or none). */
static double fill_rate(const struct hk_dataset *ds, const struct hk_augment *a)
{
    size_t size = (size_t)ds->width * ds->height * 3;
    float *x = malloc(32 * size * sizeof *x);
    unsigned char *tmp = malloc(size);
    uint32_t idx[32];
    if (!x || !tmp) {
        fprintf(stderr, "bench_data: out of memory\n");
        exit(1);
    }
    double t0 = bench_now();
    for (size_t s = 0; s < ds->count; s += 32) {
        int n = ds->count - s < 32 ? (int)(ds->count - s) : 32;
        for (int i = 0; i < n; i++)
            idx[i] = (uint32_t)(s + i);
        hk_batch_fill(x, ds, idx, n, 1.0f / 255, a, 1, 0, tmp);
    }
    double rate = (double)ds->count / (bench_now() - t0);
    free(x);
    free(tmp);
    return rate;
}

struct train_result {
    double images_per_s;  /* over the epochs after the first */
    double wait_fraction; /* of the worker's step time spent waiting for a batch */
    double cpu_ms;        /* CPU time of the process per trained image, all threads, all epochs */
};

static struct train_result time_training(const struct hk_dataset *ds, const struct hk_augment *a, int epochs,
                                         int threads)
{
    struct hk_error err;
    struct hk_model *m = blog_model_build(42, &err);
    struct hk_worker *w = hk_worker_new(&err);
    struct hk_history *h = hk_history_new();
    struct hk_train_run *run = calloc(1, sizeof *run);
    if (!m || !w || !h || !run)
        die("setup", &err);
    hk_worker_set_threads(w, threads);
    run->model = m;
    run->train = ds;
    run->history = h;
    run->worker = w;
    run->config = (struct hk_train_config){.epochs = epochs, .batch = 32, .seed = 1337, .rescale = 1.0f / 255,
                                           .augment = *a, .until = HK_METRIC_COUNT};
    for (int c = 0; c < 64; c++)
        run->config.class_weight[c] = 1.0f;
    atomic_init(&run->stop, 0);
    double cpu0 = cpu_seconds();
    if (hk_train_check(m, ds, NULL, &run->config, &err) != HK_OK || hk_worker_start(w, hk_train_job, run, &err))
        die("train", &err);
    hk_worker_wait(w);
    double cpu = cpu_seconds() - cpu0;
    if (run->status != HK_OK)
        die("training run", &run->err);
    size_t n;
    struct hk_epoch_record *r = hk_history_epochs(h, &n);
    double seconds = 0;
    for (size_t e = 1; e < n; e++)
        seconds += r[e].v[HK_METRIC_SECONDS];
    struct train_result out = {(double)ds->count * (double)(n - 1) / seconds,
                               run->step_seconds > 0 ? run->data_wait_seconds / run->step_seconds : NAN,
                               1000 * cpu / ((double)ds->count * epochs)};
    free(r);
    free(run);
    hk_history_free(h);
    hk_worker_free(w);
    hk_model_free(m);
    return out;
}

/* MB/s of hk_sha256 over 64 MiB, best of 3. */
static double sha256_rate(void)
{
    size_t n = (size_t)64 << 20;
    unsigned char *buf = malloc(n), digest[HK_SHA256_BYTES];
    if (!buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 24);
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        double t0 = bench_now();
        hk_sha256(buf, n, digest);
        double t = bench_now() - t0;
        best = t < best ? t : best;
    }
    free(buf);
    return (double)n / 1e6 / best;
}

int main(int argc, char **argv)
{
    const char *data = option(argc, argv, "data", "/work/shared/data/husky-v1");
    int images = atoi(option(argc, argv, "images", "320"));
    int epochs = atoi(option(argc, argv, "epochs", "3"));
    int threads = atoi(option(argc, argv, "threads", "1"));
    if (images < 32 || epochs < 2 || threads < 0) {
        fprintf(stderr, "usage: bench_data [data=DIR] [images=N>=32] [epochs=E>=2] [threads=N]\n");
        return 2;
    }
    char root[4096];
    snprintf(root, sizeof root, "%s/train", data);

    double sha = sha256_rate();
    printf("sha256: %.0f MB/s (64 MiB, best of 3)\n", sha);
    struct hk_dataset *ds = NULL, *ds2 = NULL;
    double load1 = time_load(root, 1, &ds);
    double load2 = time_load(root, 2, &ds2);
    hk_dataset_free(ds2);
    printf("load %s (%zu pictures, %zu skipped) to 128x128:\n", root, ds->count, ds->skipped_count);
    printf("  1 thread   %6.2f s  %7.1f images/s\n", load1, (double)ds->count / load1);
    printf("  2 threads  %6.2f s  %7.1f images/s  (x%.2f)\n", load2, (double)ds->count / load2, load1 / load2);

    struct hk_augment aug = blog_augment(), off = hk_augment_default();
    double fill_aug = fill_rate(ds, &aug), fill_off = fill_rate(ds, &off);
    printf("batch assembly on one thread: %.0f images/s with the blog's augmentation, %.0f without\n", fill_aug,
           fill_off);

    struct hk_dataset *rest = NULL, *subset = NULL;
    struct hk_error err;
    double fraction = (double)images / (double)ds->count;
    if (fraction >= 1)
        subset = ds;
    else if (hk_dataset_split(ds, fraction, 1, &rest, &subset, &err) != HK_OK)
        die("subset", &err);
    hk_dataset_free(rest);
    printf("training the blog network, batch 32, %zu pictures, %d epochs (first one not counted), %d compute "
           "thread%s:\n", subset->count, epochs, threads, threads == 1 ? "" : "s");
    struct train_result t_off = time_training(subset, &off, epochs, threads);
    printf("  no augmentation    %6.1f images/s  %6.2f CPU ms/image  (worker waited for data %.1f%% of step time)\n",
           t_off.images_per_s, t_off.cpu_ms, 100 * t_off.wait_fraction);
    struct train_result t_aug = time_training(subset, &aug, epochs, threads);
    double slowdown = 1 - t_aug.images_per_s / t_off.images_per_s;
    printf("  blog augmentation  %6.1f images/s  %6.2f CPU ms/image  (worker waited for data %.1f%% of step time)\n",
           t_aug.images_per_s, t_aug.cpu_ms, 100 * t_aug.wait_fraction);
    printf("  augmentation costs %.1f%% of training images/s (target: at most 10%%) and %.1f%% more CPU time\n",
           100 * slowdown, 100 * (t_aug.cpu_ms / t_off.cpu_ms - 1));
    printf("sha256_mb_s=%.0f ", sha);
    printf("load_s_1=%.3f load_s_2=%.3f load_ips_1=%.1f load_ips_2=%.1f fill_aug_ips=%.0f fill_off_ips=%.0f "
           "train_ips_off=%.2f train_ips_aug=%.2f aug_slowdown=%.4f cpu_ms_off=%.3f cpu_ms_aug=%.3f wait_off=%.4f "
           "wait_aug=%.4f threads=%d\n",
           load1, load2, (double)ds->count / load1, (double)ds->count / load2, fill_aug, fill_off, t_off.images_per_s,
           t_aug.images_per_s, slowdown, t_off.cpu_ms, t_aug.cpu_ms, t_off.wait_fraction, t_aug.wait_fraction, threads);
    if (subset != ds)
        hk_dataset_free(subset);
    hk_dataset_free(ds);
    return 0;
}
