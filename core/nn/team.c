/* team.c: the compute team: helper threads sleep on a condition variable, wake for each call,
 * run their parts, and the caller waits for them at one barrier at the end of the call. */
#include "team.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>

static struct {
    pthread_mutex_t run;      /* held by the thread whose call the team is running */
    pthread_mutex_t lock;     /* guards the fields below */
    pthread_cond_t start;     /* helpers wait on this for a call */
    pthread_cond_t finished;  /* the caller waits on this for the helpers */
    pthread_t helpers[HK_TEAM_MAX];
    int members;              /* 1 + started helpers */
    unsigned long generation; /* counts calls */
    unsigned long hired;      /* generation when the helpers were started */
    int pending;              /* helpers still running the current call */
    int quit;
    hk_team_fn fn;
    void *arg;
    int parts;
} team = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, {0}, 1, 0, 0, 0, 0, NULL, NULL, 0};

static atomic_int lent; /* the team's threads are lent to BLAS: calls run on the caller */

static void run_parts(hk_team_fn fn, void *arg, int parts, int member, int members)
{
    for (int k = member; k < parts; k += members)
        fn(arg, k, member);
}

static void *helper_main(void *arg)
{
    int member = (int)(long)arg;
    pthread_mutex_lock(&team.lock);
    unsigned long seen = team.hired; /* a call may have started before this thread ran */
    for (;;) {
        while (team.generation == seen && !team.quit)
            pthread_cond_wait(&team.start, &team.lock);
        if (team.quit)
            break;
        seen = team.generation;
        hk_team_fn fn = team.fn;
        void *fn_arg = team.arg;
        int parts = team.parts, members = team.members;
        pthread_mutex_unlock(&team.lock);
        run_parts(fn, fn_arg, parts, member, members);
        pthread_mutex_lock(&team.lock);
        if (--team.pending == 0)
            pthread_cond_signal(&team.finished);
    }
    pthread_mutex_unlock(&team.lock);
    return NULL;
}

/* Stop and join every helper; called with team.run held. */
static void stop_helpers(void)
{
    pthread_mutex_lock(&team.lock);
    team.quit = 1;
    pthread_cond_broadcast(&team.start);
    pthread_mutex_unlock(&team.lock);
    for (int t = 1; t < team.members; t++)
        pthread_join(team.helpers[t], NULL);
    team.quit = 0;
    team.members = 1;
}

enum hk_status hk_team_resize(int members, struct hk_error *err)
{
    members = members < 1 ? 1 : members > HK_TEAM_MAX ? HK_TEAM_MAX : members;
    enum hk_status st = HK_OK;
    pthread_mutex_lock(&team.run);
    if (members != team.members) {
        stop_helpers();
        pthread_mutex_lock(&team.lock);
        team.hired = team.generation;
        pthread_mutex_unlock(&team.lock);
        for (int t = 1; t < members; t++) {
            if (pthread_create(&team.helpers[t], NULL, helper_main, (void *)(long)t) != 0) {
                st = hk_fail(err, HK_ENOMEM, "could only start %d of %d compute threads", t, members);
                break;
            }
            pthread_mutex_lock(&team.lock);
            team.members = t + 1;
            pthread_mutex_unlock(&team.lock);
        }
    }
    openblas_set_num_threads(1);
    pthread_mutex_unlock(&team.run);
    return st;
}

void hk_team_lend_blas(int on)
{
    int members = hk_team_size();
    if (members > 1)
        openblas_set_num_threads(on ? members : 1);
    atomic_store(&lent, on && members > 1);
}

int hk_team_size(void)
{
    pthread_mutex_lock(&team.lock);
    int members = team.members;
    pthread_mutex_unlock(&team.lock);
    return members;
}

void hk_team_run(hk_team_fn fn, void *arg, int parts)
{
    if (atomic_load(&lent) || pthread_mutex_trylock(&team.run) != 0) {
        run_parts(fn, arg, parts, 0, 1);
        return;
    }
    int members = team.members; /* only changed with team.run held */
    if (members == 1) {
        run_parts(fn, arg, parts, 0, 1);
        pthread_mutex_unlock(&team.run);
        return;
    }
    pthread_mutex_lock(&team.lock);
    team.fn = fn;
    team.arg = arg;
    team.parts = parts;
    team.pending = members - 1;
    team.generation++;
    pthread_cond_broadcast(&team.start);
    pthread_mutex_unlock(&team.lock);
    run_parts(fn, arg, parts, 0, members);
    pthread_mutex_lock(&team.lock);
    while (team.pending)
        pthread_cond_wait(&team.finished, &team.lock);
    pthread_mutex_unlock(&team.lock);
    pthread_mutex_unlock(&team.run);
}

int hk_team_part_start(int n, int parts, int k)
{
    return (int)((long long)n * k / parts);
}
