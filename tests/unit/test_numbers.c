/* test_numbers.c: the number parsers of the command language (core/lang/lexer.h): hk_parse_int and
 * hk_parse_float refuse blanks and signs strtol/strtod would skip (a word "\v-1" parsed as -1,
 * found by tests/fuzz/fuzz_language); the one parser of sizes and counts (hk_parse_bytes: powers
 * of 1024 with K, M, G, T and an optional B, for `model limits memory=` and `data limits
 * file_size=`; hk_parse_count: powers of 1000, for `data limits pixels=`) and the two size
 * formatters, including that the exact form reads back to the same number of bytes. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "lexer.h"

/* parse (hk_parse_bytes or hk_parse_count, named what) reads text as want. */
static void check_size(int (*parse)(const char *, size_t *), const char *what, const char *text, size_t want)
{
    size_t got = 0;
    int ok = parse(text, &got);
    CHECK(ok && got == want, "%s(\"%s\") = %d, %zu; want %zu", what, text, ok, got, want);
}

static void check_bytes(const char *text, size_t want)
{
    check_size(hk_parse_bytes, "hk_parse_bytes", text, want);
}

static void check_count(const char *text, size_t want)
{
    check_size(hk_parse_count, "hk_parse_count", text, want);
}

static void check_bytes_refused(const char *text)
{
    size_t got = 12345;
    CHECK(!hk_parse_bytes(text, &got) && got == 12345, "hk_parse_bytes(\"%s\") accepted (%zu)", text, got);
}

static void check_format(size_t bytes, const char *rounded, const char *exact)
{
    char buf[32];
    hk_format_bytes(buf, sizeof buf, bytes);
    CHECK(!strcmp(buf, rounded), "hk_format_bytes(%zu) = '%s', want '%s'", bytes, buf, rounded);
    hk_format_bytes_exact(buf, sizeof buf, bytes);
    CHECK(!strcmp(buf, exact), "hk_format_bytes_exact(%zu) = '%s', want '%s'", bytes, buf, exact);
    size_t back = 0;
    CHECK(hk_parse_bytes(buf, &back) && back == bytes, "'%s' reads back as %zu, not %zu", buf, back, bytes);
}

static void check_int_and_float(void)
{
    int n = 7;
    CHECK(hk_parse_int("42", &n) && n == 42, "hk_parse_int(\"42\")");
    CHECK(hk_parse_int("2147483647", &n) && n == 2147483647, "hk_parse_int(INT_MAX)");
    const char *bad_ints[] = {"", "-1", "+1", "\v-1", "\f1", " 1", "\t1", "1 ", "2147483648", "1x", "0x10"};
    for (size_t i = 0; i < sizeof bad_ints / sizeof *bad_ints; i++) {
        n = 7;
        CHECK(!hk_parse_int(bad_ints[i], &n) && n == 7, "hk_parse_int(\"%s\") accepted (%d)", bad_ints[i], n);
    }
    double v = 7;
    CHECK(hk_parse_float("-0.5", &v) && v == -0.5, "hk_parse_float(\"-0.5\")");
    CHECK(hk_parse_float("1/255", &v) && v == 1.0 / 255, "hk_parse_float(\"1/255\")");
    const char *bad_floats[] = {"", "\v1", " 1", "\n1", "1/\v2", "1/ 2", "1/0", "1e999", "nan", "inf", "1/"};
    for (size_t i = 0; i < sizeof bad_floats / sizeof *bad_floats; i++) {
        v = 7;
        CHECK(!hk_parse_float(bad_floats[i], &v) && v == 7, "hk_parse_float(\"%s\") accepted (%g)", bad_floats[i],
              v);
    }
}

int main(void)
{
    check_int_and_float();
    check_bytes("1", 1);
    check_bytes("4294967296", (size_t)4 << 30);
    check_bytes("100B", 100);
    check_bytes("10k", 10240);
    check_bytes("10K", 10240);
    check_bytes("10KB", 10240);
    check_bytes("10kb", 10240);
    check_bytes("512M", (size_t)512 << 20);
    check_bytes("10MB", (size_t)10 << 20);
    check_bytes("1.5GB", (size_t)3 << 29);
    check_bytes("2G", (size_t)2 << 30);
    check_bytes("3TB", (size_t)3 << 40);
    check_bytes("0.5K", 512);
    const char *refused[] = {"", "0", "0.4", "-1", "+1", " 1", "1 ", "MB", "lots", "1e3", "0x10", "1.2.3", "10P",
                             "10MBB", "10b", "10Mi", "inf", "nan", "99999999999T", "18446744073709551616", ".5K"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        check_bytes_refused(refused[i]);

    check_count("60", 60);
    check_count("40M", 40000000);
    check_count("2k", 2000);
    check_count("1.5K", 1500);
    size_t n = 7;
    CHECK(!hk_parse_count("40MB", &n) && n == 7, "a count takes no B");
    CHECK(!hk_parse_count("0", &n) && n == 7, "a count of 0 is refused");

    check_format(900, "900 bytes", "900");
    check_format(1024, "1.0 KB", "1KB");
    check_format(1536, "1.5 KB", "1536");
    check_format((size_t)3 << 19, "1.5 MB", "1536KB");
    check_format((size_t)10 << 20, "10.0 MB", "10MB");
    check_format((size_t)4 << 30, "4.0 GB", "4GB");
    check_format((size_t)3 << 40, "3.0 TB", "3TB");
    check_format((size_t)5 << 50, "5.0 PB", "5120TB");
    return check_summary();
}
