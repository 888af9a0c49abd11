/* cluster_single.c: the cluster interface for a husky built without MPI: one rank of one. */
#include "cluster.h"

#include <string.h>

#include "commands.h"

int cluster_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

void cluster_finish(void) {}
int cluster_rank(void) { return 0; }
int cluster_ranks(void) { return 1; }
int cluster_is_writer(void) { return 1; }
int cluster_share_line(char *buf, size_t cap, int kind)
{
    (void)buf;
    (void)cap;
    return kind;
}
int cluster_agree(struct shell *sh, int rc)
{
    (void)sh;
    return rc;
}

int cluster_check_data(struct shell *sh, const struct hk_words *w)
{
    (void)sh;
    (void)w;
    return 0;
}

void cluster_train_share(struct hk_train_share *share)
{
    memset(share, 0, sizeof *share);
}

int cmd_cluster(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 1))
        return -1;
    shell_print(sh, "1 process (husky was built without MPI; configure with -Dmpi=enabled)\n");
    return 0;
}
