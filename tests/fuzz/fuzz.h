/* fuzz.h: the entry point every fuzz target defines. libFuzzer calls it with each input; the
 * replay driver (replay.c) calls it with each file of a corpus folder. It must return 0 and
 * must not crash, leak, hang or allocate without bound on any input. */
#ifndef HK_FUZZ_H
#define HK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A property every input must keep; unlike assert it stays in release builds. */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
