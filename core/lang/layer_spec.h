/* layer_spec.h: the layer commands of the language (conv2d, depthwise, maxpool, avgpool,
 * global_avgpool, zeropad, batchnorm, dropout, flatten, dense, activation) parsed into a struct
 * hk_layer_spec and written back. Scripts, the shell and the model file loader all build layers
 * through this one parser. */
#ifndef HK_LAYER_SPEC_H
#define HK_LAYER_SPEC_H

#include <stddef.h>

#include "layer.h"
#include "lexer.h"

/* The layer kind whose command word is `word`, or HK_LAYER_KIND_COUNT. */
enum hk_layer_kind hk_layer_kind_find(const char *word);

/* Parse words[first..count) as a layer command (words[first] is the command word). On error
 * *bad is the index of the offending word and err says what is wrong and what was expected. */
enum hk_status hk_layer_spec_parse(const struct hk_words *words, int first, struct hk_layer_spec *spec, int *bad,
                                   struct hk_error *err);

/* Parse the arguments words[first..count) of a layer of kind spec->kind onto *spec. With update,
 * spec already holds a layer's settings and the words change only what they name (positional
 * arguments are optional); without, the required positional arguments must all be there. */
enum hk_status hk_layer_spec_parse_args(const struct hk_words *words, int first, int update,
                                        struct hk_layer_spec *spec, int *bad, struct hk_error *err);

/* Write spec as the command that builds it ("conv2d 32 3x3 activation=relu"). */
void hk_layer_spec_format(const struct hk_layer_spec *spec, char *buf, size_t cap);

/* The option keys a layer kind accepts (NULL-terminated, borrowed), for help and completion. */
const char *const *hk_layer_spec_options(enum hk_layer_kind kind);

/* One-line usage of a layer command ("conv2d FILTERS KxK [strides=S] ..."). */
const char *hk_layer_spec_usage(enum hk_layer_kind kind);

/* What a layer kind does, in a sentence or two (borrowed), for help. */
const char *hk_layer_spec_help(enum hk_layer_kind kind);

#endif
