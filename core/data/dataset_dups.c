/* dataset_dups.c: finding the same picture (equal cached pixels after resize) in more than one
 * set or more than one class, a sign of a leaked or poisoned data set. */
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

/* One picture of one set, sorted by pixel hash. */
struct ref {
    uint64_t hash;
    int set;
    size_t index;
};

static int compare_refs(const void *pa, const void *pb)
{
    const struct ref *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    if (a->set != b->set)
        return a->set < b->set ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static const unsigned char *ref_pixels(const struct hk_dataset *const *sets, const struct ref *r)
{
    return hk_dataset_image(sets[r->set], r->index);
}

static int ref_label(const struct hk_dataset *const *sets, const struct ref *r)
{
    return sets[r->set]->labels[r->index];
}

enum hk_status hk_dataset_duplicates(const struct hk_dataset *const *sets, int nsets, struct hk_duplicate *pairs,
                                     size_t max, size_t *listed, struct hk_duplicate_counts *counts,
                                     struct hk_error *err)
{
    *listed = 0;
    *counts = (struct hk_duplicate_counts){0, 0};
    size_t total = 0, stride = 0;
    for (int s = 0; s < nsets; s++) {
        if (!sets[s])
            continue;
        size_t size = (size_t)sets[s]->width * (size_t)sets[s]->height * 3;
        if (stride && size != stride)
            return hk_fail(err, HK_EINVAL, "duplicates: the sets have different picture sizes");
        stride = size;
        total += sets[s]->count;
    }
    if (total < 2)
        return HK_OK;
    struct ref *refs = malloc(total * sizeof *refs);
    unsigned char *group = malloc(total);
    if (!refs || !group) {
        free(refs);
        free(group);
        return hk_fail(err, HK_ENOMEM, "out of memory looking for duplicate pictures");
    }
    size_t n = 0;
    for (int s = 0; s < nsets; s++)
        for (size_t i = 0; sets[s] && i < sets[s]->count; i++)
            refs[n++] = (struct ref){sets[s]->pixel_hash[i], s, i};
    qsort(refs, n, sizeof *refs, compare_refs);

    for (size_t lo = 0, hi; lo < n; lo = hi) {
        for (hi = lo + 1; hi < n && refs[hi].hash == refs[lo].hash; hi++)
            ;
        if (hi - lo < 2)
            continue;
        /* Within a run of equal hashes, group the pictures whose bytes are equal (a hash collision
         * splits the run into several groups); then count the pairs across sets or classes. */
        memset(group + lo, 0, hi - lo);
        for (size_t rep = lo; rep < hi; rep++) {
            if (group[rep])
                continue;
            group[rep] = 1;
            const unsigned char *rp = ref_pixels(sets, &refs[rep]);
            for (size_t j = rep + 1; j < hi; j++)
                if (!group[j] && memcmp(rp, ref_pixels(sets, &refs[j]), stride) == 0)
                    group[j] = 2;
            for (size_t a = rep; a < hi; a++) {
                if (a != rep && group[a] != 2)
                    continue;
                for (size_t b = a + 1; b < hi; b++) {
                    if (group[b] != 2)
                        continue;
                    const struct ref *ra = &refs[a], *rb = &refs[b];
                    if (ra->set != rb->set)
                        counts->cross_set++;
                    else if (ref_label(sets, ra) != ref_label(sets, rb))
                        counts->cross_class++;
                    else
                        continue;
                    if (*listed < max)
                        pairs[(*listed)++] = (struct hk_duplicate){ra->set, rb->set, ra->index, rb->index};
                }
            }
            for (size_t j = rep + 1; j < hi; j++)
                if (group[j] == 2)
                    group[j] = 3; /* done: belongs to rep's group */
        }
    }
    free(refs);
    free(group);
    return HK_OK;
}
