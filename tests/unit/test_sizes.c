/* test_sizes.c: the one parser of sizes and counts (hk_parse_bytes: powers of 1024 with K, M, G,
 * T and an optional B, for `model limits memory=` and `data limits file_size=`; hk_parse_count:
 * powers of 1000, for `data limits pixels=`) and the two size formatters, including that the
 * exact form reads back to the same number of bytes. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "lexer.h"

static void check_bytes(const char *text, size_t want)
{
    size_t got = 0;
    int ok = hk_parse_bytes(text, &got);
    CHECK(ok && got == want, "hk_parse_bytes(\"%s\") = %d, %zu; want %zu", text, ok, got, want);
}

static void check_bytes_refused(const char *text)
{
    size_t got = 12345;
    CHECK(!hk_parse_bytes(text, &got) && got == 12345, "hk_parse_bytes(\"%s\") accepted (%zu)", text, got);
}

static void check_count(const char *text, size_t want)
{
    size_t got = 0;
    int ok = hk_parse_count(text, &got);
    CHECK(ok && got == want, "hk_parse_count(\"%s\") = %d, %zu; want %zu", text, ok, got, want);
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

int main(void)
{
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
