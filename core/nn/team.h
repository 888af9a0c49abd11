/* team.h: the compute team, a few persistent threads that split one layer call over the batch.
 * The batch is always cut into HK_TEAM_PARTS contiguous parts, whatever the team size, so that
 * per-part sums (weight gradients) and their fixed-order reduction give the same bits with any
 * number of threads; with fewer members than parts a member runs several parts in turn. */
#ifndef HK_TEAM_H
#define HK_TEAM_H

#include "status.h"

/* Parts a batch is cut into for a team call; each part has its own scratch in the workspace. */
#define HK_TEAM_PARTS 2
/* Most members a team can have. */
#define HK_TEAM_MAX 64

/* Work on one part (0 .. parts-1) as team member `member` (0 = the caller; always < parts, so a
 * member can use a per-part buffer of its own index as its scratch). */
typedef void (*hk_team_fn)(void *arg, int part, int member);

/* Make the team `members` threads: the caller of hk_team_run plus members-1 helpers (started or
 * stopped here; waits for a running call), and set BLAS to one thread (each member runs its own
 * sgemm calls). members < 1 counts as 1. HK_ENOMEM when a helper cannot be started (the team
 * keeps the helpers it could start). */
enum hk_status hk_team_resize(int members, struct hk_error *err);

/* Members of the team (1 = no helpers). */
int hk_team_size(void);

/* Run fn(arg, part) for every part in 0..parts-1 and return when all have run: member t runs
 * parts t, t+size, ... in that order, the caller being member 0. When another thread's call is
 * running, or the threads are lent to BLAS, the caller runs every part itself. Never allocates. */
void hk_team_run(hk_team_fn fn, void *arg, int parts);

/* A pass over fewer samples than parts (one picture) has nothing to split: with on = 1 BLAS gets
 * as many threads as the team has members (and hk_team_run runs every part on the caller), with
 * on = 0 it goes back to one. Call between team calls, from the thread that makes them. */
void hk_team_lend_blas(int on);

/* First sample of part k of a batch of n cut into `parts` parts (k = parts gives n). */
int hk_team_part_start(int n, int parts, int k);

#endif
