/* progress.h: how a run's progress reaches the screen. The worker's callback sends each typed
 * event (struct hk_train_event) through the shell's pipe as it is; the main thread reads whole
 * events (shell_drain_progress) and formats each once, here. On a terminal a bar within each epoch
 * (batch n/N, elapsed and ETA, running loss and accuracy) and one while a data set loads are
 * redrawn in place above the prompt; without one (scripts, pipes, MPI ranks other than 0) only
 * the plain epoch lines are printed. */
#ifndef HUSKY_PROGRESS_H
#define HUSKY_PROGRESS_H

#include <stddef.h>

#include "shell.h"

/* The train progress callback (train.h), on the worker: user is the shell. */
void progress_send(void *user, const struct hk_train_event *ev);

/* The plain line for an event, ending in a newline, into line (cap bytes); returns its length. */
int progress_format(const struct hk_train_event *ev, char *line, size_t cap);

/* 1 when progress bars are drawn: an interactive terminal on stdout, rank 0, no live plot. */
int progress_bars_on(struct shell *sh);

/* Redraw the bar of the running epoch when it is due (about 5 times a second); a no-op without
 * bars or a run. Called by the input loop and shell_wait while they wait. */
void progress_tick(struct shell *sh);

/* Erase the bar when it is the last thing on the screen; forget it otherwise. */
void progress_bar_clear(struct shell *sh);

/* The monotonic clock in seconds. */
double progress_now(void);

/* A line was just entered below the bar (readline has moved to the next line): when the bar is
 * the last thing above it, erase the bar and write prompt and line again in its place, so that a
 * finished command line never leaves a stale bar above it. */
void progress_bar_lift(struct shell *sh, const char *prompt, const char *line);

/* A data set load's progress (hk_dataset_progress_fn): user is a struct progress_load. */
struct progress_load {
    struct shell *sh;
    const char *what;   /* the folder, for the label */
    double t0, last;    /* when the load began and the bar was last drawn */
};
void progress_load(void *user, size_t done, size_t total);

#endif
