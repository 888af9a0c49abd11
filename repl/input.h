/* input.h: the one input loop behind the terminal, script files, source and -e: it tracks file
 * and line, expands ${variables}, joins \ continuations, limits nesting and line length. */
#ifndef HUSKY_INPUT_H
#define HUSKY_INPUT_H

#include "shell.h"

/* Run one line (it may hold several commands separated by ;). Returns 0 or -1. */
int input_run_line(struct shell *sh, const char *line);

/* Run a script file; stops at the first failing command unless sh->keep_going. 0 or -1. */
int input_run_file(struct shell *sh, const char *path);

/* The interactive prompt (readline in callback mode, progress lines above the prompt) until
 * quit or end of input; without a terminal, plain lines from stdin. */
void input_loop(struct shell *sh);

#endif
