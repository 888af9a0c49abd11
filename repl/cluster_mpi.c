/* cluster_mpi.c: husky on N MPI ranks. Rank 0 reads the terminal and shares each line; every
 * rank runs every command and they agree on its result; rank 0 alone prints and writes files.
 * Training: the core computes this rank's share of each global batch and calls reduce_step, which
 * sums the (pre-weighted) gradient arena and the step's loss/accuracy/stop sums over all ranks.
 * Every wait on another rank is bounded (HUSKY_MPI_TIMEOUT, default 60 s) except the wait for the
 * next input line: a watchdog thread aborts the job with a message when a wait lasts longer, so a
 * hung rank makes the others stop instead of hanging. */
#include "cluster.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "commands.h"

static int rank, ranks = 1;
static MPI_Comm line_comm, train_comm; /* the main thread's collectives; the worker's */
static int saved_stderr = STDERR_FILENO; /* the real stderr, also on silenced ranks */
static double timeout_seconds = 60;
static volatile sig_atomic_t stop_requested, leaving; /* leaving: the end is known, say nothing more */

/* What the watchdog watches: per thread (0 main, 1 worker) since when it waits on other ranks
 * (MPI_Wtime, 0 = not waiting) and for what. */
enum { MAIN_WAIT, STEP_WAIT, WAITS };
static _Atomic double waiting_since[WAITS];
static const char *_Atomic waiting_for[WAITS];
static atomic_int watchdog_quit;
static pthread_t watchdog;
static int watchdog_running;

/* The last run's step timing (written by the worker, read by `cluster` after the run). */
static long steps;
static double reduce_seconds, compute_seconds, compute_cpu_seconds, last_reduce_end, last_reduce_end_cpu;
static size_t reduce_floats;

static void on_sigterm(int sig)
{
    static const char msg[] = "husky: the MPI job is ending (mpirun sent SIGTERM: Ctrl-C, or another rank "
                              "exited or died); unsaved work is lost\n";
    if (rank == 0 && !leaving && write(saved_stderr, msg, sizeof msg - 1) < 0) {
        /* nothing more to do on the way out */
    }
    _exit(128 + sig);
}

static void on_sigusr1(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* CPU time of the calling thread (the worker's, in reduce_step): unlike wall time, it does not
 * grow when other programs share the cores. */
static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void begin_wait(int slot, const char *what)
{
    atomic_store(&waiting_for[slot], what);
    atomic_store(&waiting_since[slot], MPI_Wtime());
}

static void end_wait(int slot)
{
    atomic_store(&waiting_since[slot], 0.0);
}

/* The watchdog thread: twice a second, check that no wait on other ranks has lasted longer than
 * timeout_seconds; if one has, say what was going on and abort every rank (an MPI job cannot go
 * on without one of its ranks). */
static void *watch(void *arg)
{
    (void)arg;
    while (!atomic_load(&watchdog_quit)) {
        struct timespec half = {0, 500000000};
        nanosleep(&half, NULL);
        for (int s = 0; s < WAITS; s++) {
            double since = atomic_load(&waiting_since[s]);
            if (since > 0 && MPI_Wtime() - since > timeout_seconds) {
                dprintf(saved_stderr, "husky: rank %d: no answer from the other ranks for %.0f s while %s; one "
                        "of them has hung or died. Stopping all ranks (HUSKY_MPI_TIMEOUT sets the limit in "
                        "seconds).\n", rank, MPI_Wtime() - since, atomic_load(&waiting_for[s]));
                leaving = 1;
                MPI_Abort(MPI_COMM_WORLD, 3);
            }
        }
    }
    return NULL;
}

static int started_by_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

int cluster_init(int *argc, char ***argv)
{
    if (!started_by_mpirun())
        return 0;
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (ranks > 1 && provided < MPI_THREAD_MULTIPLE) {
        if (rank == 0)
            fprintf(stderr, "husky: this MPI library does not support MPI_THREAD_MULTIPLE, which husky needs "
                    "(training runs on a worker thread while the shell reads commands)\n");
        MPI_Finalize();
        return -1;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &line_comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &train_comm);
    const char *t = getenv("HUSKY_MPI_TIMEOUT");
    if (t && *t)
        timeout_seconds = atof(t);
    saved_stderr = dup(STDERR_FILENO);
    if (rank != 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            close(null);
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_sigusr1;
    sigaction(SIGUSR1, &sa, NULL);
    if (ranks > 1 && timeout_seconds > 0)
        watchdog_running = pthread_create(&watchdog, NULL, watch, NULL) == 0;
    return 0;
}

void cluster_finish(void)
{
    int on = 0;
    MPI_Initialized(&on);
    leaving = 1; /* mpirun may end this rank when another exits first with a failure status */
    if (watchdog_running) {
        atomic_store(&watchdog_quit, 1);
        pthread_join(watchdog, NULL);
    }
    if (on) {
        MPI_Comm_free(&line_comm);
        MPI_Comm_free(&train_comm);
        MPI_Finalize();
    }
}

int cluster_rank(void) { return rank; }
int cluster_ranks(void) { return ranks; }
int cluster_is_writer(void) { return rank == 0; }

static void pause_a_little(double waited)
{
    struct timespec ts = {0, waited < 1.0 ? 200000 : 10000000}; /* 0.2 ms, then 10 ms when idle */
    nanosleep(&ts, NULL);
}

/* On the main thread: wait for requests without spinning a core (the worker may be training);
 * what != NULL: under the watchdog's limit. */
static void wait_for(MPI_Request *req, int count, const char *what)
{
    double start = MPI_Wtime();
    if (what)
        begin_wait(MAIN_WAIT, what);
    for (;;) {
        int done = 0;
        MPI_Testall(count, req, &done, MPI_STATUSES_IGNORE);
        if (done)
            break;
        double waited = MPI_Wtime() - start;
        if (waited > 0.002)
            pause_a_little(waited);
    }
    if (what)
        end_wait(MAIN_WAIT);
}

int cluster_share_line(char *buf, size_t cap, int kind)
{
    if (ranks < 2)
        return kind;
    int head[2] = {kind, rank == 0 && kind == 0 ? (int)strlen(buf) + 1 : 0}; /* kind, length */
    MPI_Request req;
    MPI_Ibcast(head, 2, MPI_INT, 0, line_comm, &req);
    wait_for(&req, 1, NULL);
    if (head[0] != 0)
        return head[0];
    if ((size_t)head[1] > cap) {
        dprintf(saved_stderr, "husky: rank %d: a command line of %d bytes is longer than %zu\n", rank, head[1], cap);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    MPI_Ibcast(buf, head[1], MPI_CHAR, 0, line_comm, &req);
    wait_for(&req, 1, "receiving a command line");
    return 0;
}

int cluster_agree(struct shell *sh, int rc)
{
    if (ranks < 2)
        return rc;
    int mine = rc ? rank : ranks, first;
    MPI_Request req;
    MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, line_comm, &req);
    wait_for(&req, 1, "agreeing on the result of a command");
    if (first == ranks)
        return 0;
    char msg[sizeof sh->last_error];
    if (rank == first)
        memcpy(msg, sh->last_error, sizeof msg);
    MPI_Ibcast(msg, (int)sizeof msg, MPI_CHAR, first, line_comm, &req);
    wait_for(&req, 1, "sharing an error message");
    msg[sizeof msg - 1] = '\0';
    if (rc)
        return -1;
    if (rank == 0)
        return shell_error(sh, NULL, -1, "failed on rank %d of %d: %s", first, ranks, msg);
    sh->failed = 1;
    return -1;
}

/* The reduce hook of hk_train_share, on the worker: one all-reduce of the whole gradient arena per
 * step, after one of the step's five sums. Blocking calls: they are quicker than non-blocking ones
 * for large messages in Open MPI 4.1 (17.8 against 31.1 ms for 13 MB on 2 local ranks). */
static enum hk_status reduce_step(void *user, float *grads, size_t count, double *sums, struct hk_error *err)
{
    (void)user;
    if (count > INT_MAX)
        return hk_fail(err, HK_EINVAL, "%zu parameters are more than one MPI message can carry", count);
    sums[HK_SUM_STOP] += stop_requested;
    double t0 = MPI_Wtime(), cpu0 = thread_cpu_seconds();
    if (steps) {
        compute_seconds += t0 - last_reduce_end;
        compute_cpu_seconds += cpu0 - last_reduce_end_cpu;
    }
    begin_wait(STEP_WAIT, "summing the gradients of a training step");
    MPI_Allreduce(MPI_IN_PLACE, sums, HK_SUM_COUNT, MPI_DOUBLE, MPI_SUM, train_comm);
    MPI_Allreduce(MPI_IN_PLACE, grads, (int)count, MPI_FLOAT, MPI_SUM, train_comm);
    end_wait(STEP_WAIT);
    last_reduce_end = MPI_Wtime();
    last_reduce_end_cpu = thread_cpu_seconds();
    reduce_seconds += last_reduce_end - t0;
    reduce_floats = count;
    steps++;
    return HK_OK;
}

/* The sync hook of hk_train_share, on the worker inside a step: batchnorm's per-channel sums over
 * the ranks (two all-reduces per batchnorm layer and step: the forward pass's sums and count, the
 * backward pass's gradient sums). */
static void sync_stats(void *user, double *sums, size_t count)
{
    (void)user;
    begin_wait(STEP_WAIT, "summing the batch statistics of a training step");
    MPI_Allreduce(MPI_IN_PLACE, sums, (int)count, MPI_DOUBLE, MPI_SUM, train_comm);
    end_wait(STEP_WAIT);
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* A fingerprint of which files a set holds under which labels (not the pixels: cheap). */
static uint64_t data_fingerprint(const struct hk_dataset *ds)
{
    uint64_t h = 0xcbf29ce484222325ull;
    if (!ds)
        return h;
    h = fnv1a(h, &ds->count, sizeof ds->count);
    for (size_t i = 0; i < ds->count; i++) {
        h = fnv1a(h, ds->paths[i], strlen(ds->paths[i]) + 1);
        h = fnv1a(h, &ds->labels[i], sizeof ds->labels[i]);
    }
    return h;
}

int cluster_check_data(struct shell *sh, const struct hk_words *w)
{
    if (ranks < 2)
        return 0;
    const struct hk_dataset *sets[2] = {sh->train, sh->val};
    for (int s = 0; s < 2; s++) {
        uint64_t fp = data_fingerprint(sets[s]), mine[2] = {fp, ~fp}, all[2];
        MPI_Request req;
        MPI_Iallreduce(mine, all, 2, MPI_UINT64_T, MPI_MIN, line_comm, &req);
        wait_for(&req, 1, "comparing the data sets of the ranks");
        if (all[0] != fp || ~all[1] != fp)
            return shell_error(sh, w, 0, "the ranks loaded different %s sets (rank 0: %zu pictures); every rank "
                               "must read the same files from the same path", s ? "validation" : "training",
                               sets[s] ? sets[s]->count : 0);
    }
    return 0;
}

void cluster_train_share(struct hk_train_share *share)
{
    memset(share, 0, sizeof *share);
    stop_requested = 0;
    steps = 0;
    reduce_seconds = compute_seconds = compute_cpu_seconds = 0;
    if (ranks < 2)
        return;
    share->rank = rank;
    share->ranks = ranks;
    share->reduce = reduce_step;
    share->sync = sync_stats;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* `cluster bench`: time all-reduces of a buffer the size of the model's gradient arena, the way
 * training does them, after a barrier (so without waiting for a slower rank). */
static int bench_allreduce(struct shell *sh, const struct hk_words *w)
{
    if (!sh->model || !hk_model_param_count(sh->model))
        return shell_error(sh, w, 1, "no model with parameters yet; the benchmark uses its gradient size");
    if (shell_busy(sh, w))
        return -1;
    size_t count = hk_model_param_count(sh->model);
    enum { REPEATS = 10 };
    float *buf = calloc(count, sizeof *buf);
    double sums[HK_SUM_COUNT] = {0}, t[REPEATS];
    if (!buf)
        return shell_error(sh, w, 0, "out of memory");
    for (int i = -1; i < REPEATS; i++) {
        MPI_Barrier(line_comm);
        double t0 = MPI_Wtime();
        begin_wait(MAIN_WAIT, "timing all-reduces");
        MPI_Allreduce(MPI_IN_PLACE, sums, HK_SUM_COUNT, MPI_DOUBLE, MPI_SUM, line_comm);
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, line_comm);
        end_wait(MAIN_WAIT);
        if (i >= 0)
            t[i] = MPI_Wtime() - t0;
    }
    free(buf);
    qsort(t, REPEATS, sizeof *t, compare_doubles);
    double bytes = (double)count * sizeof(float), med = t[REPEATS / 2];
    shell_print(sh, "all-reduce of %.1f MB over %d ranks: median %.2f ms, fastest %.2f ms of %d "
                "(%.2f GB/s of gradient)\n", bytes / 1e6, ranks, 1e3 * med, 1e3 * t[0], REPEATS, bytes / med / 1e9);
    return 0;
}

int cmd_cluster(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 1))
        return -1;
    if (arg < w->count && strcmp(w->w[arg].text, "bench") != 0)
        return shell_error(sh, w, arg, "cluster takes nothing or 'bench', got '%s'", w->w[arg].text);
    if (ranks < 2) {
        shell_print(sh, "1 process (start husky with mpirun -n N to train on N ranks)\n");
        return 0;
    }
    if (arg < w->count)
        return bench_allreduce(sh, w);
    char name[MPI_MAX_PROCESSOR_NAME] = "";
    int len;
    MPI_Get_processor_name(name, &len);
    char *names = rank == 0 ? calloc((size_t)ranks, sizeof name) : NULL;
    MPI_Gather(name, (int)sizeof name, MPI_CHAR, names, (int)sizeof name, MPI_CHAR, 0, line_comm);
    shell_print(sh, "%d ranks; rank 0 reads commands, prints and writes files\n", ranks);
    for (int r = 0; names && r < ranks; r++)
        shell_print(sh, "  rank %d on %s\n", r, names + (size_t)r * sizeof name);
    free(names);
    if (steps > 1)
        shell_print(sh, "last run: %ld steps; per step %.1f ms computing (%.1f ms of CPU), %.1f ms in the all-reduce "
                    "of %.1f MB of gradient (including waiting for the slowest rank)\n", steps,
                    1e3 * compute_seconds / (double)(steps - 1), 1e3 * compute_cpu_seconds / (double)(steps - 1),
                    1e3 * reduce_seconds / (double)steps, (double)reduce_floats * sizeof(float) / 1e6);
    return 0;
}
