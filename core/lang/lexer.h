/* lexer.h: splits one line of the husky command language into words. Words are separated by
 * blanks; "double" or 'single' quotes keep blanks inside a word; # starts a comment outside
 * quotes; ; ends a command. A word of the form key=value is an option. */
#ifndef HK_LEXER_H
#define HK_LEXER_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define HK_LEX_MAX_WORDS 64
#define HK_LEX_MAX_LINE 65536

struct hk_word {
    const char *text;  /* the whole word, quotes removed */
    const char *key;   /* for key=value: the key, else NULL */
    const char *value; /* for key=value: the value, else NULL */
    int col;           /* byte offset of the word in the line */
};

struct hk_words {
    int count;
    struct hk_word w[HK_LEX_MAX_WORDS];
    int rest;          /* offset just after a ';' that ended the command, or -1 */
    char buf[2 * HK_LEX_MAX_LINE + HK_LEX_MAX_WORDS * 2]; /* words and copies of keys */
};

/* Split line (up to ';', a comment or the end) into out. Errors (unterminated quote, too many
 * words, line too long) set *bad_col to the column of the problem. */
enum hk_status hk_lex(const char *line, struct hk_words *out, int *bad_col, struct hk_error *err);

/* The candidate closest to word by edit distance if it is close enough to be a likely typo,
 * else NULL. candidates is NULL-terminated. */
const char *hk_closest(const char *word, const char *const *candidates);

/* Parse "HxW" or "HxWxC" or a single "N" (meaning NxN). Returns the number of parts read
 * (1, 2 or 3) or 0 on a malformed value; values must be 1..1000000. */
int hk_parse_dims(const char *text, int dims[3]);

/* Parse a float ("0.4", "1e-3", or a fraction "1/255"); returns 0 on malformed text. */
int hk_parse_float(const char *text, double *out);

/* Write v in the shortest %g form that reads back as exactly v; returns the length written. */
int hk_format_float(char *buf, size_t cap, float v);

/* Parse an amount of memory, as `model limits memory=` and `data limits file_size=` take it:
 * digits with an optional fraction and an optional unit K, M, G or T (powers of 1024), optionally
 * followed by B ("4294967296", "512M", "1.5GB"). Returns 0 on malformed text, under 1 byte or
 * over SIZE_MAX. */
int hk_parse_bytes(const char *text, size_t *out);

/* Parse a count the same way with K, M, G, T meaning powers of 1000 and no B ("40M"). */
int hk_parse_count(const char *text, size_t *out);

/* Write an amount of memory exactly, in the largest unit that divides it, so that hk_parse_bytes
 * reads it back: "10MB", "1536KB", "1000". Returns the length written. */
int hk_format_bytes_exact(char *buf, size_t cap, size_t bytes);

/* Write an amount of memory for people, in powers of 1024: "900 bytes", "3.4 KB", "512.0 MB",
 * "78.6 TB". Returns the length written. */
int hk_format_bytes(char *buf, size_t cap, size_t bytes);

/* Parse a decimal number below 2^64 (digits only); returns 0 on malformed text. */
int hk_parse_u64(const char *text, uint64_t *out);

/* Parse a non-negative integer that fits in an int; returns 0 on malformed text. */
int hk_parse_int(const char *text, int *out);

#endif
