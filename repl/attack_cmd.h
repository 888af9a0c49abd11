/* attack_cmd.h: helpers the attack lab's commands share (cmd_attack.c, cmd_robust.c). */
#ifndef HUSKY_ATTACK_CMD_H
#define HUSKY_ATTACK_CMD_H

#include "attack.h"
#include "poison.h"
#include "shell.h"

/* The class names of the session: the loaded training set's, else the validation set's, else
 * those of the loaded model file; their count (0: unknown). Borrowed. */
int session_classes(const struct shell *sh, const char *const **names);

/* 0 when the model can be attacked (compiled, RGB input, known classes, positive rescale);
 * names and count (may be NULL) receive the classes. Else -1 after reporting. */
int attack_ready(struct shell *sh, const struct hk_words *w, const char **names_out[], int *count);

/* The class named or numbered by option word i among names; -1 after reporting. */
int arg_class_of(struct shell *sh, const struct hk_words *w, int i, const char *const *names, int count);

/* eps= (unless with_eps is 0: the caller reads it), step=, steps=, restarts=, target=, seed= of
 * a gradient attack; -1 after reporting. */
int attack_grad_options(struct shell *sh, const struct hk_words *w, enum hk_attack_method method, int with_eps,
                        const char *const *names, int count, struct hk_attack_grad *a);

/* "8/255" for a whole number of pixel steps, else the number. */
void attack_format_eps(char *buf, size_t cap, double eps);

/* The trigger of trigger=PATCH.png [at=] [size=] for pictures of h x w: *pix (owned, free) holds
 * its pixels, t points at them. -1 after reporting (missing, unreadable, bigger than a picture). */
int attack_load_trigger(struct shell *sh, const struct hk_words *w, int h, int wd, unsigned char **pix,
                        struct hk_trigger *t);

#endif
