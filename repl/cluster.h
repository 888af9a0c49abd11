/* cluster.h: running one husky per MPI rank (mpirun -n N husky ...). Every rank executes the
 * same command stream; rank 0 alone reads the terminal, prints and writes files; training splits
 * each global batch across the ranks and sums the gradients once per step. Built without MPI
 * (cluster_single.c) or started without mpirun, husky is one rank of one.
 * Data: every rank reads the whole set itself from the same path (a shared or copied folder) and
 * keeps all of it decoded, because the shuffle is global: any picture can fall into any rank's
 * share of a batch. Nothing but commands, gradients and a few sums crosses the network;
 * `train` checks that the ranks' sets list the same files with the same labels. */
#ifndef HUSKY_CLUSTER_H
#define HUSKY_CLUSTER_H

#include "shell.h"
#include "train.h"

/* Join the MPI job when started by mpirun (before anything else reads argv). On ranks other
 * than 0, stdout and stderr are silenced. Returns 0, or -1 after printing why. */
int cluster_init(int *argc, char ***argv);

/* Leave the MPI job (collective: every rank calls it once at exit). */
void cluster_finish(void);

/* This rank and the number of ranks (0 and 1 without MPI). */
int cluster_rank(void);
int cluster_ranks(void);

/* 1 on the one rank that prints and writes files (rank 0). */
int cluster_is_writer(void);

/* Share one input line from rank 0 with every rank. kind is 0 when buf (cap bytes) holds a line
 * read on rank 0; any other value (the end of input, a line that could not be read) is shared as
 * it is. On other ranks buf and kind are ignored; rank 0's line is copied into buf. Returns rank
 * 0's kind. Blocks (without spinning) until rank 0 sends. */
int cluster_share_line(char *buf, size_t cap, int kind);

/* After a command ran on every rank with result rc: the result of all of them. A failure on a
 * rank other than 0 is reported by rank 0 with that rank's message. Returns 0 or -1. */
int cluster_agree(struct shell *sh, int rc);

/* Before training: check that every rank loaded the same pictures (same files, same labels) for
 * the training and validation sets; otherwise report it and return -1. */
int cluster_check_data(struct shell *sh, const struct hk_words *w);

/* How the next training run shares its batches (single process: zero). Clears a pending stop. */
void cluster_train_share(struct hk_train_share *share);

/* The `cluster` command: ranks, hosts, and the all-reduce time of the last run. */
int cmd_cluster(struct shell *sh, const struct hk_words *w, int arg);

#endif
