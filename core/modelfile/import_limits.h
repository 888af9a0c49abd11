/* import_limits.h: the limits a TensorFlow.js import checks before it allocates (shared by
 * import_tfjs.c and import_json.c; see import_tfjs.h). */
#ifndef HK_IMPORT_LIMITS_H
#define HK_IMPORT_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#define HK_IMPORT_MAX_JSON_BYTES ((size_t)16 << 20)  /* model.json */
#define HK_IMPORT_MAX_DEPTH 64                        /* nesting of [ and { in model.json */
#define HK_IMPORT_MAX_TENSORS 4096                    /* entries in the weights manifest */
#define HK_IMPORT_MAX_SHARDS 256                      /* weight files over all groups */
#define HK_IMPORT_MAX_WEIGHT_BYTES ((uint64_t)1 << 30) /* all shards together: 1 GiB */

#endif
