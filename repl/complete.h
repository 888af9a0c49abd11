/* complete.h: tab completion of commands, sub-commands, option keys and values, layer names and
 * paths, all drawn from the command table and the core's lists. */
#ifndef HUSKY_COMPLETE_H
#define HUSKY_COMPLETE_H

#include "shell.h"

/* Install the completer for this session's readline. */
void complete_install(struct shell *sh);

#endif
