/* cluster_mpi.c: husky on N MPI ranks. Rank 0 reads the terminal and shares each line; every
 * rank runs every command and they agree on its result; rank 0 alone prints and writes files.
 * Training: the core computes this rank's share of each global batch and calls reduce_step, which
 * sums the (pre-weighted) gradient arena and the step's loss/accuracy/stop sums over all ranks.
 * Every wait on another rank is bounded (HUSKY_MPI_TIMEOUT, default 60 s) except the wait for the
 * next input line, so a hung rank makes the others stop with a message instead of hanging. */
#include "cluster.h"

#include <fcntl.h>
#include <limits.h>
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
static volatile sig_atomic_t stop_requested, aborting;

/* The last run's step timing (written by the worker, read by `cluster` after the run). */
static long steps;
static double reduce_seconds, compute_seconds, last_reduce_end;
static size_t reduce_floats;

static void on_sigterm(int sig)
{
    static const char msg[] = "husky: the MPI job is ending (mpirun sent SIGTERM: Ctrl-C, or another rank "
                              "exited or died); unsaved work is lost\n";
    if (rank == 0 && !aborting && write(saved_stderr, msg, sizeof msg - 1) < 0) {
        /* nothing more to do on the way out */
    }
    _exit(128 + sig);
}

static void on_sigusr1(int sig)
{
    (void)sig;
    stop_requested = 1;
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
    return 0;
}

void cluster_finish(void)
{
    int on = 0;
    MPI_Initialized(&on);
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

/* Wait for requests without spinning a core; with bounded, give up after timeout_seconds: print
 * what was going on and abort every rank (an MPI job cannot go on without one of its ranks). */
static void wait_for(MPI_Request *req, int count, int bounded, const char *what)
{
    double start = MPI_Wtime();
    for (;;) {
        int done = 0;
        MPI_Testall(count, req, &done, MPI_STATUSES_IGNORE);
        if (done)
            return;
        double waited = MPI_Wtime() - start;
        if (bounded && timeout_seconds > 0 && waited > timeout_seconds) {
            dprintf(saved_stderr, "husky: rank %d: no answer from the other ranks for %.0f s while %s; one of "
                    "them has hung or died. Stopping all ranks (HUSKY_MPI_TIMEOUT sets the limit in seconds).\n",
                    rank, waited, what);
            aborting = 1;
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
        if (waited > 0.002)
            pause_a_little(waited);
    }
}

char *cluster_share_line(char *line)
{
    if (ranks < 2)
        return line;
    int len = rank == 0 ? (line ? (int)strlen(line) + 1 : 0) : 0;
    MPI_Request req;
    MPI_Ibcast(&len, 1, MPI_INT, 0, line_comm, &req);
    wait_for(&req, 1, 0, "waiting for the next command");
    if (!len)
        return NULL;
    if (rank != 0 && !(line = malloc((size_t)len))) {
        dprintf(saved_stderr, "husky: rank %d: out of memory for a command line\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    MPI_Ibcast(line, len, MPI_CHAR, 0, line_comm, &req);
    wait_for(&req, 1, 1, "receiving a command line");
    return line;
}

int cluster_agree(struct shell *sh, int rc)
{
    if (ranks < 2)
        return rc;
    int mine = rc ? rank : ranks, first;
    MPI_Request req;
    MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, line_comm, &req);
    wait_for(&req, 1, 1, "agreeing on the result of a command");
    if (first == ranks)
        return 0;
    char msg[sizeof sh->last_error];
    if (rank == first)
        memcpy(msg, sh->last_error, sizeof msg);
    MPI_Ibcast(msg, (int)sizeof msg, MPI_CHAR, first, line_comm, &req);
    wait_for(&req, 1, 1, "sharing an error message");
    msg[sizeof msg - 1] = '\0';
    if (rc)
        return -1;
    if (rank == 0)
        return shell_error(sh, NULL, -1, "failed on rank %d of %d: %s", first, ranks, msg);
    sh->failed = 1;
    return -1;
}

/* The reduce hook of hk_train_share: one all-reduce of the whole gradient arena per step, with
 * the step's five sums alongside. */
static enum hk_status reduce_step(void *user, float *grads, size_t count, double *sums, struct hk_error *err)
{
    (void)user;
    if (count > INT_MAX)
        return hk_fail(err, HK_EINVAL, "%zu parameters are more than one MPI message can carry", count);
    sums[HK_SUM_STOP] += stop_requested;
    double t0 = MPI_Wtime();
    if (steps)
        compute_seconds += t0 - last_reduce_end;
    MPI_Request req[2];
    MPI_Iallreduce(MPI_IN_PLACE, sums, HK_SUM_COUNT, MPI_DOUBLE, MPI_SUM, train_comm, &req[0]);
    MPI_Iallreduce(MPI_IN_PLACE, grads, (int)count, MPI_FLOAT, MPI_SUM, train_comm, &req[1]);
    wait_for(req, 2, 1, "summing the gradients of a training step");
    last_reduce_end = MPI_Wtime();
    reduce_seconds += last_reduce_end - t0;
    reduce_floats = count;
    steps++;
    return HK_OK;
}

void cluster_train_share(struct hk_train_share *share)
{
    memset(share, 0, sizeof *share);
    stop_requested = 0;
    steps = 0;
    reduce_seconds = compute_seconds = 0;
    if (ranks < 2)
        return;
    share->rank = rank;
    share->ranks = ranks;
    share->reduce = reduce_step;
}

int cmd_cluster(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0, "cluster"))
        return -1;
    if (ranks < 2) {
        shell_print(sh, "1 process (start husky with mpirun -n N to train on N ranks)\n");
        return 0;
    }
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
        shell_print(sh, "last run: %ld steps; per step %.1f ms computing, %.1f ms in the all-reduce of %.1f MB of "
                    "gradient (including waiting for the slowest rank)\n", steps,
                    1e3 * compute_seconds / (double)(steps - 1), 1e3 * reduce_seconds / (double)steps,
                    (double)reduce_floats * sizeof(float) / 1e6);
    return 0;
}
