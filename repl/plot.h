/* plot.h: the live plot's hook into the progress events that reach the prompt (cmd_plot.c). */
#ifndef HUSKY_PLOT_H
#define HUSKY_PLOT_H

#include "shell.h"

/* Print a progress event from the worker as its line (formatted, ending in a newline). With a
 * live plot on, an epoch's line is followed by the plot redrawn with that epoch (in place of the
 * previous one when nothing was printed below it), and the event that ends the run turns the
 * live plot off. */
void plot_live_progress(struct shell *sh, const struct hk_train_event *ev, const char *line);

#endif
