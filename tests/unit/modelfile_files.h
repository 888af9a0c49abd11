/* modelfile_files.h: what test_modelfile and test_modelfile_train share: a scratch folder
 * (dir, made by the test's main), file helpers, a small trained model, and hand-built model files
 * checked against the loader (EXPECT). */
#ifndef HK_MODELFILE_FILES_H
#define HK_MODELFILE_FILES_H

#include <stddef.h>

#include "model.h"
#include "modelfile.h"

extern char dir[64]; /* the scratch folder (mkdtemp) */

/* dir/name, in one of four rotating buffers. */
const char *in_dir(const char *name);
/* The whole file (malloc'd, *n bytes), or NULL. */
unsigned char *read_file(const char *path, size_t *n);
void write_file(const char *path, const void *p, size_t n);
/* Temporary files (".tmp.") left in dir. */
int temp_files_left(void);
/* Remove dir and its files. */
void remove_dir(void);

#define N 6
extern float xs[N * 8 * 8 * 3]; /* N pictures of 8x8x3 */
extern int labels[N];

/* conv2d, maxpool, dropout, flatten, dense sigmoid on 8x8x3, compiled with Adam, trained
 * train_steps steps on xs. */
struct hk_model *small_model(int train_steps);

/* One tensor-table entry of a hand-built file. */
struct entry {
    const char *name;
    unsigned rank, dims[4];
    unsigned long long offset, length;
};

/* Append v to *p as `bytes` little-endian bytes. */
void put(unsigned char **p, unsigned long long v, int bytes);
/* Write a file with this header, table and `data` zero bytes of data, and a correct hash. */
void build(const char *path, const char *header, const struct entry *e, int count, size_t data);
/* Build the file, load it: the status must be want and the message contain text. */
void expect(const char *header, const struct entry *e, int count, size_t data, enum hk_status want,
            const char *text, int line);
#define EXPECT(h, e, c, d, st, text) expect(h, e, c, d, st, text, __LINE__)

#endif
