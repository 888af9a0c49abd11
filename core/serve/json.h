/* json.h: building JSON text for the server's answers and its audit log: a growable buffer,
 * and strings escaped so that any bytes (invalid UTF-8, control characters, "</script>") give
 * valid JSON that is also safe inside HTML. */
#ifndef HK_JSON_H
#define HK_JSON_H

#include <stddef.h>

/* A growable text buffer, always NUL-terminated once something was added. After an allocation
 * failure `oom` is set and further adds are ignored. Zero-initialise; hk_json_free when done. */
struct hk_json {
    char *p;
    size_t n, cap;
    int oom;
};

/* Append s as it is. */
void hk_json_raw(struct hk_json *j, const char *s);

/* Append formatted text (numbers, punctuation; never untrusted strings). */
void hk_json_printf(struct hk_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s[0..n) as a quoted JSON string: '"', '\\' and control characters escaped, '<', '>', '&'
 * and U+2028/U+2029 as \u escapes, each byte of invalid UTF-8 as U+FFFD. */
void hk_json_string(struct hk_json *j, const char *s, size_t n);

/* hk_json_string of a NUL-terminated string; NULL gives null. */
void hk_json_str(struct hk_json *j, const char *s);

/* Release the buffer and make j empty again. */
void hk_json_free(struct hk_json *j);

#endif
