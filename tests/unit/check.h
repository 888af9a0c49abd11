/* check.h: the tiny assertion harness shared by the unit tests. Each CHECK counts a pass or a
 * failure (printed with file and line); check_summary prints "N passed, M failed" and returns
 * the exit status. */
#ifndef HK_CHECK_H
#define HK_CHECK_H

void check_record(int ok, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int check_summary(void);

#define CHECK(cond, ...) check_record(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#endif
