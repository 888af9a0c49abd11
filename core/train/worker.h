/* worker.h: the one compute thread. Only it calls BLAS and touches the weights while a run is
 * going: a long job (training) runs on it, and short calls (predict, inspect, save, evaluate)
 * queued by other threads run on it between two batches, or at once when it is idle. Inside a
 * conv layer call it makes, the compute team's helpers (team.h) run BLAS too while it waits. */
#ifndef HK_WORKER_H
#define HK_WORKER_H

#include "status.h"

struct hk_worker;

typedef void (*hk_job_fn)(void *arg);

/* Start the thread. NULL with err set when it cannot be started. Owned: hk_worker_free. */
struct hk_worker *hk_worker_new(struct hk_error *err);

/* Ask a running long job to finish (the job sees hk_worker_stopping), join the thread, free.
 * NULL is a no-op. */
void hk_worker_free(struct hk_worker *w);

/* Run fn(arg) on the worker and return when it has run. Must not be called from the worker. */
void hk_worker_call(struct hk_worker *w, hk_job_fn fn, void *arg);

/* Start a long job; HK_EBUSY when one is already running. */
enum hk_status hk_worker_start(struct hk_worker *w, hk_job_fn fn, void *arg, struct hk_error *err);

/* 1 while a long job is running. */
int hk_worker_busy(struct hk_worker *w);

/* Block until no long job is running. */
void hk_worker_wait(struct hk_worker *w);

/* From inside a long job: run the short calls queued meanwhile. */
void hk_worker_service(struct hk_worker *w);

/* From inside a long job: 1 when the worker is being shut down. */
int hk_worker_stopping(struct hk_worker *w);

/* Set the number of compute threads (0 = all cores): the team's members; BLAS itself is set to
 * one thread. On the worker thread. */
void hk_worker_set_threads(struct hk_worker *w, int threads);

#endif
