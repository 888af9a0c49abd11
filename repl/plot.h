/* plot.h: the live plot's hook into the progress events that reach the prompt, and curve plots
 * for other commands (cmd_plot.c). */
#ifndef HUSKY_PLOT_H
#define HUSKY_PLOT_H

#include "shell.h"

/* Print a progress event from the worker as its line (formatted, ending in a newline). With a
 * live plot on, an epoch's line is followed by the plot redrawn with that epoch (in place of the
 * previous one when nothing was printed below it), and the event that ends the run turns the
 * live plot off. */
void plot_live_progress(struct shell *sh, const struct hk_train_event *ev, const char *line);

/* Curves y_s(x) for s < nseries, n points each, drawn by gnuplot into out (.png or .svg) or, with
 * out NULL, as a text plot printed to the shell; y from 0 to 1. */
struct plot_curves {
    const char *title, *xlabel, *ylabel;
    int n, nseries;
    const double *x;
    const double *const *y;
    const char *const *names;
    const char *out;
};

/* Draw; 0, or -1 with why filled (*out_failed 1 when writing out failed). */
int plot_curves(struct shell *sh, const struct plot_curves *c, char *why, size_t why_cap, int *out_failed);

#endif
