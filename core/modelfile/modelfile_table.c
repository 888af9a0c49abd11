/* modelfile_table.c: reading a model file's tensor table and checking every entry against the
 * data section and the tensors the header's model needs. */
#include "modelfile_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    size_t at;         /* file offset of the entry */
    size_t name_at;    /* file offset of the name */
    uint16_t name_len;
    uint32_t rank;
    uint32_t dims[4];
    uint64_t offset, length;
};

/* Read the table at file offset pos (the data section and the hash follow it; end is the offset of
 * the hash) and check it against the wanted tensors. On success *data_at is the file offset of the
 * data section. */
enum hk_status mf_read_table(const char *path, const unsigned char *file, size_t pos, size_t end,
                                 const struct mf_tensor *want, int nwant, size_t *data_at, struct hk_error *err)
{
    size_t table_at = pos;
    if (end - pos < 4)
        return mf_fail_file(err, HK_EFORMAT, path, "tensor count at offset %zu runs past the end of the file", pos);
    uint32_t count = mf_get_u32(file + pos);
    if (count > HK_MODELFILE_MAX_TENSORS)
        return mf_fail_file(err, HK_EFORMAT, path, "tensor count at offset %zu is %lu; the limit is %d", pos,
                         (unsigned long)count, HK_MODELFILE_MAX_TENSORS);
    size_t min_entry = 2 + 1 + 4 + 4 + 8 + 8;
    if ((end - pos - 4) / min_entry < count)
        return mf_fail_file(err, HK_EFORMAT, path,
                         "tensor count at offset %zu is %lu, but only %zu bytes follow (each entry takes at least "
                         "%zu)",
                         pos, (unsigned long)count, end - pos - 4, min_entry);
    struct entry *ents = calloc(count ? count : 1, sizeof *ents);
    if (!ents)
        return hk_fail(err, HK_ENOMEM, "out of memory reading the tensor table of '%s'", path);
    enum hk_status st = HK_OK;
    char ex[80];
    pos += 4;
    /* pass 1: the entries' structure, and so where the data section starts */
    for (uint32_t i = 0; i < count && st == HK_OK; i++) {
        struct entry *e = &ents[i];
        e->at = pos;
#define NEED(n)                                                                                                 \
    if (end - pos < (n)) {                                                                                      \
        st = mf_fail_file(err, HK_EFORMAT, path, "tensor table entry %lu at offset %zu runs past the end of the file", \
                       (unsigned long)i + 1, e->at);                                                            \
        break;                                                                                                  \
    }
        NEED(2);
        e->name_len = mf_get_u16(file + pos);
        pos += 2;
        if (e->name_len < 1 || e->name_len > HK_MODELFILE_MAX_NAME) {
            st = mf_fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: name length %u; expected 1 to %d bytes",
                           (unsigned long)i + 1, e->at, e->name_len, HK_MODELFILE_MAX_NAME);
            break;
        }
        NEED(e->name_len);
        e->name_at = pos;
        pos += e->name_len;
        NEED(4);
        e->rank = mf_get_u32(file + pos);
        pos += 4;
        if (e->rank < 1 || e->rank > 4) {
            st = mf_fail_file(err, HK_EFORMAT, path, "tensor table entry %lu at offset %zu: rank %lu; expected 1 to 4",
                           (unsigned long)i + 1, e->at, (unsigned long)e->rank);
            break;
        }
        NEED(4 * (size_t)e->rank + 16);
        for (uint32_t d = 0; d < e->rank; d++, pos += 4)
            e->dims[d] = mf_get_u32(file + pos);
        e->offset = mf_get_u64(file + pos);
        e->length = mf_get_u64(file + pos + 8);
        pos += 16;
#undef NEED
    }
    size_t data_start = pos, data_size = end - pos;
    /* pass 2: every entry against its shape, the data section and the tensor the model needs */
    uint64_t next = 0;
    for (uint32_t i = 0; i < count && st == HK_OK; i++) {
        const struct entry *e = &ents[i];
        unsigned long n1 = (unsigned long)i + 1;
        const char *name = mf_excerpt(file + e->name_at, e->name_len, ex, sizeof ex);
        uint64_t values = 1;
        int ok = 1;
        for (uint32_t d = 0; d < e->rank; d++)
            ok &= e->dims[d] >= 1 && mf_mul_u64(values, e->dims[d], &values);
        if (!ok || !mf_mul_u64(values, 4, &values) || values != e->length) {
            st = mf_fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: '%s' has length %llu, which does not match its "
                           "shape",
                           n1, e->at, name, (unsigned long long)e->length);
        } else if (e->offset > data_size) {
            st = mf_fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: offset %llu is past the end of the data (%zu "
                           "bytes)",
                           n1, e->at, (unsigned long long)e->offset, data_size);
        } else if (e->offset < next) {
            st = mf_fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: '%s' at data offset %llu overlaps the tensor "
                           "before it, which ends at %llu",
                           n1, e->at, name, (unsigned long long)e->offset, (unsigned long long)next);
        } else if (e->offset > next) {
            st = mf_fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: '%s' at data offset %llu leaves a gap after the "
                           "tensor before it, which ends at %llu",
                           n1, e->at, name, (unsigned long long)e->offset, (unsigned long long)next);
        } else if (e->length > data_size - e->offset) {
            st = mf_fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: '%s' (%llu bytes at data offset %llu) runs past "
                           "the end of the data (%zu bytes)",
                           n1, e->at, name, (unsigned long long)e->length, (unsigned long long)e->offset,
                           data_size);
        } else if ((int)i >= nwant) {
            st = mf_fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: unexpected tensor '%s'; the header describes "
                           "only %d tensors",
                           n1, e->at, name, nwant);
        } else if (strlen(want[i].name) != e->name_len || memcmp(want[i].name, file + e->name_at, e->name_len)) {
            st = mf_fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: expected tensor '%s', found '%s'", n1, e->at,
                           want[i].name, name);
        } else {
            int same = e->rank == want[i].rank;
            for (uint32_t d = 0; same && d < e->rank; d++)
                same = e->dims[d] == want[i].dims[d];
            if (!same) {
                char have[64], need[64];
                int hn = 0, nn = 0;
                for (uint32_t d = 0; d < e->rank; d++)
                    hn += snprintf(have + hn, sizeof have - (size_t)hn, "%s%lu", d ? "," : "",
                                   (unsigned long)e->dims[d]);
                for (uint32_t d = 0; d < want[i].rank; d++)
                    nn += snprintf(need + nn, sizeof need - (size_t)nn, "%s%lu", d ? "," : "",
                                   (unsigned long)want[i].dims[d]);
                st = mf_fail_file(err, HK_EFORMAT, path,
                               "tensor table entry %lu at offset %zu: '%s' has shape (%s), but the header's model "
                               "needs (%s)",
                               n1, e->at, name, have, need);
            }
        }
        next = e->offset + e->length;
    }
    if (st == HK_OK && (int)count < nwant)
        st = mf_fail_file(err, HK_EFORMAT, path,
                       "tensor table at offset %zu has %lu tensors; missing '%s' (the header describes %d)", table_at,
                       (unsigned long)count, want[count].name, nwant);
    if (st == HK_OK && next != data_size)
        st = mf_fail_file(err, HK_EFORMAT, path,
                       "the tensors cover %llu of the %zu bytes of data at offset %zu; expected exactly all of them",
                       (unsigned long long)next, data_size, data_start);
    free(ents);
    *data_at = data_start;
    return st;
}
