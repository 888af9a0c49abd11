/* commands.h: the one command table behind dispatch, help and completion, and the handlers. */
#ifndef HUSKY_COMMANDS_H
#define HUSKY_COMMANDS_H

#include "shell.h"

enum arg_kind { ARG_NONE, ARG_PATH, ARG_LAYER, ARG_SET };

/* A handler gets the words and the index of its first argument; returns 0 or -1 (after
 * shell_error). */
typedef int (*command_fn)(struct shell *sh, const struct hk_words *w, int arg);

/* What the dispatcher must know about a command. */
enum command_flag {
    CMD_WRITER_ONLY = 1u,  /* only prints or writes files: under MPI rank 0 alone runs it */
    CMD_OWN_OPTIONS = 2u,  /* parses its own key=value options (the dispatcher does not check them) */
};

struct command {
    const char *name;            /* one or two words: "train", "model new" */
    const char *usage;
    const char *help;
    const char *const *options;  /* the key=value keys it takes (NULL-terminated); NULL: none */
    command_fn run;
    enum arg_kind args;          /* what its positional arguments are, for completion */
    unsigned flags;              /* enum command_flag bits */
};

/* The table, ending with a zeroed entry. */
extern const struct command commands[];

/* Find the command the words start with (two-word names first); *arg receives the index of the
 * first argument. NULL when none. */
const struct command *commands_find(const struct hk_words *w, int *arg);

/* Every first word a command line can start with (command names, layer words), NULL-terminated. */
const char *const *commands_words(void);

/* Run one lexed command line. Returns 0 or -1. */
int commands_run(struct shell *sh, const struct hk_words *w);

/* Shared argument helpers: each reports its own error and returns -1 on a bad value. */
int arg_int(struct shell *sh, const struct hk_words *w, int i, int lo, int hi, int *out);
int arg_float(struct shell *sh, const struct hk_words *w, int i, double lo, double hi, double *out);
int arg_bool(struct shell *sh, const struct hk_words *w, int i, int *out);
/* Require at least min and at most max positional words from arg on (options excluded); the
 * error quotes the current command's usage from the table. */
int arg_count(struct shell *sh, const struct hk_words *w, int arg, int min, int max);
/* Index of the model layer named or numbered by word i, or -1 after reporting (with the closest
 * name or the list of layers). The model must exist. */
int arg_layer(struct shell *sh, const struct hk_words *w, int i);
/* Index of option key among the words, or -1. */
int arg_option(const struct hk_words *w, const char *key);

/* Handlers (cmd_*.c). */
int cmd_help(struct shell *sh, const struct hk_words *w, int arg);
int cmd_seed(struct shell *sh, const struct hk_words *w, int arg);
int cmd_threads(struct shell *sh, const struct hk_words *w, int arg);
int cmd_set(struct shell *sh, const struct hk_words *w, int arg);
int cmd_echo(struct shell *sh, const struct hk_words *w, int arg);
int cmd_source(struct shell *sh, const struct hk_words *w, int arg);
int cmd_quit(struct shell *sh, const struct hk_words *w, int arg);

int cmd_model_new(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_list(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_summary(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_remove(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_insert(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_set(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_reset(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_cut(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_input(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_freeze(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_unfreeze(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_limits(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_save(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_load(struct shell *sh, const struct hk_words *w, int arg);
/* Load the model file named by word arg (sha256= pins its hash) into the session, with its history
 * and training state; 0, or -1 after reporting. The worker must be idle. */
int model_load_file(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_verify(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_info(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_import(struct shell *sh, const struct hk_words *w, int arg);
int cmd_layer(struct shell *sh, const struct hk_words *w, int arg);
int cmd_compile(struct shell *sh, const struct hk_words *w, int arg);

int cmd_data_train(struct shell *sh, const struct hk_words *w, int arg);
int cmd_data_val(struct shell *sh, const struct hk_words *w, int arg);
int cmd_data_info(struct shell *sh, const struct hk_words *w, int arg);
int cmd_data_split(struct shell *sh, const struct hk_words *w, int arg);
int cmd_data_manifest(struct shell *sh, const struct hk_words *w, int arg);
int cmd_data_verify(struct shell *sh, const struct hk_words *w, int arg);
int cmd_data_limits(struct shell *sh, const struct hk_words *w, int arg);
int cmd_augment(struct shell *sh, const struct hk_words *w, int arg);
int cmd_augment_show(struct shell *sh, const struct hk_words *w, int arg);

int cmd_train(struct shell *sh, const struct hk_words *w, int arg);
int cmd_train_resume(struct shell *sh, const struct hk_words *w, int arg);
int cmd_status(struct shell *sh, const struct hk_words *w, int arg);
int cmd_stop(struct shell *sh, const struct hk_words *w, int arg);
int cmd_wait(struct shell *sh, const struct hk_words *w, int arg);
int cmd_history(struct shell *sh, const struct hk_words *w, int arg);

int cmd_predict(struct shell *sh, const struct hk_words *w, int arg);
int cmd_evaluate(struct shell *sh, const struct hk_words *w, int arg);

int cmd_inspect(struct shell *sh, const struct hk_words *w, int arg);
int cmd_inspect_filters(struct shell *sh, const struct hk_words *w, int arg);
int cmd_plot(struct shell *sh, const struct hk_words *w, int arg);
int cmd_history_save(struct shell *sh, const struct hk_words *w, int arg);

int cmd_serve(struct shell *sh, const struct hk_words *w, int arg);
int cmd_serve_status(struct shell *sh, const struct hk_words *w, int arg);
int cmd_serve_stop(struct shell *sh, const struct hk_words *w, int arg);
int cmd_serve_reload(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_keygen(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_sign(struct shell *sh, const struct hk_words *w, int arg);
int cmd_attack_fgsm(struct shell *sh, const struct hk_words *w, int arg);
int cmd_attack_pgd(struct shell *sh, const struct hk_words *w, int arg);
int cmd_attack_pixels(struct shell *sh, const struct hk_words *w, int arg);
int cmd_attack_noise(struct shell *sh, const struct hk_words *w, int arg);
int cmd_attack_canvas(struct shell *sh, const struct hk_words *w, int arg);
int cmd_data_poison(struct shell *sh, const struct hk_words *w, int arg);
int cmd_data_audit(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_diff(struct shell *sh, const struct hk_words *w, int arg);
int cmd_model_edit(struct shell *sh, const struct hk_words *w, int arg);
/* evaluate ... robust and evaluate ... trigger= (cmd_robust.c): 1 when the words ask for one. */
int evaluate_under_attack(const struct hk_words *w, int arg);
int cmd_evaluate_attack(struct shell *sh, const struct hk_words *w, int arg);

#endif
