/* compile_spec.h: the `compile` command (optimizer, its hyper-parameters and the loss) parsed
 * into a struct hk_optim and an enum hk_loss, and written back. The shell and the model file
 * loader both go through this one parser. */
#ifndef HK_COMPILE_SPEC_H
#define HK_COMPILE_SPEC_H

#include <stddef.h>

#include "lexer.h"
#include "loss.h"
#include "optim.h"
#include "status.h"

/* Parse words[first..count) as a compile command (words->w[first].text is "compile"). Options:
 * optimizer=sgd|rmsprop|adam (default adam), lr, momentum, nesterov=yes|no (sgd), rho (rmsprop),
 * beta1, beta2 (adam), epsilon (rmsprop, adam), loss=binary_crossentropy|categorical_crossentropy
 * (default binary_crossentropy; "bce"/"cce" accepted). Settings start from
 * hk_optim_default(optimizer) whatever the word order. An option that does not apply to the chosen
 * optimizer, a repeated option or a value out of range is an error. On error *opt and *loss are
 * unspecified, *bad is the index of the offending word and err says what was expected. */
enum hk_status hk_compile_parse(const struct hk_words *words, int first, struct hk_optim *opt, enum hk_loss *loss,
                                int *bad, struct hk_error *err);

/* Write the full command that sets opt and loss, every option of the optimizer spelled out
 * ("compile optimizer=adam lr=0.0005 beta1=0.9 beta2=0.999 epsilon=1e-07 loss=binary_crossentropy").
 * Each float is written with the fewest digits that read back to the same float, so parsing the
 * text gives exactly opt again. Truncated (still NUL-terminated) when cap is too small. */
void hk_compile_format(const struct hk_optim *opt, enum hk_loss loss, char *buf, size_t cap);

/* The option keys of compile, NULL-terminated, and its one-line usage: constants, so that the
 * shell's command table can hold them (help, option checks and completion read them there). */
extern const char *const hk_compile_keys[];
extern const char hk_compile_usage[];

#endif
