/* shell.h: the state of one husky session (the engine objects it drives and where input comes
 * from) and the helpers every command uses to speak to the user. */
#ifndef HUSKY_SHELL_H
#define HUSKY_SHELL_H

#include <signal.h>
#include <stdint.h>

#include "augment.h"
#include "checkpoint.h"
#include "dataset.h"
#include "history.h"
#include "image.h"
#include "lexer.h"
#include "model.h"
#include "modelfile.h"
#include "train.h"
#include "train_state.h"
#include "worker.h"

struct hk_server;

#define SHELL_MAX_DEPTH 16   /* nesting of source / script files */
#define SHELL_MAX_VARS 64

struct shell_var {
    char *name, *value;
};

/* `plot METRIC live`: what is drawn and where the run's epochs start in the history. */
struct live_plot {
    int on;
    enum hk_metric metric;
    size_t epochs0, batches0;  /* history sizes before the run's first epoch */
    size_t per_epoch;          /* batches per epoch of the run (0 until known) */
    int seen;                  /* epochs of the run drawn so far */
    int lines;                 /* lines of the last plot on screen; 0: none */
    unsigned long seq;         /* output_seq just after it was drawn */
};

struct shell {
    /* the engine */
    struct hk_model *model;
    struct hk_dataset *train, *val;
    struct hk_augment augment;
    float rescale;
    float threshold;               /* a sigmoid model's decision threshold on its output (model file) */
    uint64_t seed;
    int threads;
    struct hk_image_limits limits;
    struct hk_history *history;
    struct hk_worker *worker;
    struct hk_train_run *run;      /* the current or last run (owned), NULL before the first */
    struct hk_checkpoint *checkpoint; /* that run's checkpointer (owned), NULL when none */
    int progress_pipe[2];          /* typed progress events from the worker to the main thread */
    struct hk_train_state *resume; /* training state of a loaded model file, for train resume=yes
                                      (owned), NULL when none */
    char **classes;                /* class names recorded in the model file the model was loaded
                                      from (owned; NULL after model new or a training run, when
                                      the data set's names apply) */
    int nclasses;
    char *data_sha256;             /* the data hash recorded in the model file the model was loaded
                                      from, which model save keeps (owned); NULL when none or after
                                      model new, model reset or a training run (it records its own) */
    struct hk_model_meta kept;     /* of the file the model was loaded from, the provenance husky does
                                      not interpret (kept.extra), which model save writes back;
                                      empty after model new or model import */
    int pinned;                    /* the model was loaded with model load FILE sha256=HEX: model edit
                                      refuses to change it */
    struct live_plot live;
    struct hk_server *server;      /* `serve`: the HTTP server (owned), NULL when not serving */
    char *serve_path;              /* the model file it serves (owned), NULL for the shell's model */
    struct {
        int shown;                 /* a progress bar is on the screen (progress.c) */
        unsigned long seq;         /* output_seq just after it was drawn */
        double last;               /* when it was drawn */
    } bar;
    unsigned long output_seq;      /* counts everything printed and every line typed */

    /* where input comes from */
    int interactive;               /* a terminal with readline */
    const char *file;              /* current script file, NULL for the prompt or -e */
    int line;                      /* its line number */
    const char *line_text;         /* the current command line */
    const char *command;           /* the current command's name, for messages */
    const char *usage;             /* its usage line, from the command table (or the layer table) */
    int depth;                     /* nesting of scripts */
    int keep_going;                /* scripts continue after an error */
    int quit;                      /* quit requested */
    int failed;                    /* a command failed (exit status) */
    char last_error[2048];         /* the message of the last error, for other ranks */
    int nvars;
    struct shell_var vars[SHELL_MAX_VARS];
};

/* Set up a session; returns 0, or -1 after printing why. */
int shell_init(struct shell *sh, int interactive);

/* Wait for a run, free everything. */
void shell_free(struct shell *sh);

/* Make names[0..count) (malloc'd, taken over; NULL for none) the class names of the current model,
 * freeing the old ones. */
void shell_set_classes(struct shell *sh, char **names, int count);
/* Replace the recorded data hash with `hash` (owned by the shell from now on; NULL: none). */
void shell_set_data_sha256(struct shell *sh, char *hash);

/* Into meta, what model save writes for the shell's model besides the weights: rescale, the
 * decision threshold of a 1-unit model, class names (the loaded file's, else the data set's), the
 * data hash and the loaded file's other provenance. The pointers are borrowed: do not free meta. */
void shell_model_meta(const struct shell *sh, struct hk_model_meta *meta);

/* Class k of the current model: the name recorded in the file it was loaded from, else the
 * training (or validation) set's, else "class K" written into buf (cap bytes). Borrowed. */
const char *shell_class_name(const struct shell *sh, int k, char *buf, size_t cap);

/* Print to stdout, above the prompt when a prompt is showing. */
void shell_print(struct shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print text, first erasing the `erase` lines just above the cursor (a live plot printed last)
 * when on a terminal; above the prompt when a prompt is showing. */
void shell_print_over(struct shell *sh, int erase, const char *text);

/* The terminal's rows and columns (0 when unknown). */
void shell_screen_size(int *rows, int *cols);

/* Report an error in the current command about word `word` (-1: the whole command):
 * in a script "file:line: command: message", at the prompt a caret under the word.
 * Always returns -1 so handlers can `return shell_error(...)`. */
int shell_error(struct shell *sh, const struct hk_words *w, int word, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A warning line (never fails the command). */
void shell_warn(struct shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 while a training run is going; the command that needs the model idle reports it. */
int shell_busy(struct shell *sh, const struct hk_words *w);

/* Print queued progress lines from the worker, at most 64 KiB of them (call again for more);
 * returns how many bytes were read. */
int shell_drain_progress(struct shell *sh);

/* Block until the current run ends, printing its progress; SIGINT stops the run. */
void shell_wait(struct shell *sh);

/* Variables for ${name} in scripts. NULL when unset. */
const char *shell_var(const struct shell *sh, const char *name);
int shell_set_var(struct shell *sh, const char *name, const char *value);

/* Set by the SIGINT handler; consumed by the input loop and by shell_wait. */
extern volatile sig_atomic_t shell_interrupted;

#endif
