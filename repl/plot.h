/* plot.h: the live plot's hook into the progress lines that reach the prompt (cmd_plot.c). */
#ifndef HUSKY_PLOT_H
#define HUSKY_PLOT_H

#include "shell.h"

/* Print one progress line from the worker (ending in a newline). With a live plot on, an epoch
 * line is followed by the plot redrawn with that epoch (in place of the previous one when nothing
 * was printed below it), and the line that ends the run turns the live plot off. */
void plot_live_progress(struct shell *sh, const char *line);

#endif
