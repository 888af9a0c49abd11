/* server_model.c: the served model as the server's threads see it: installed under the model
 * lock for the inference thread, with a snapshot (input shape, preprocessing, hash, the GET
 * /model answer) under the info lock for the HTTP threads; its threshold and preprocessing. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "server_internal.h"

/* The served model's decision threshold on its sigmoid output (0.5 when its file has none). */
float sv_threshold(const struct hk_served *m)
{
    return m->meta.threshold > 0 ? m->meta.threshold : 0.5f;
}

/* How uploads become inputs of m: the server's decoder limits and m's rescale. */
struct hk_infer_prep sv_prep(const struct hk_server *s, const struct hk_served *m)
{
    return (struct hk_infer_prep){&s->opt.limits, m->meta.rescale > 0 ? m->meta.rescale : 1.0f};
}

char *sv_describe_model(const struct hk_served *m)
{
    struct hk_json j = {0};
    struct hk_shape in = hk_model_input(m->model);
    hk_json_raw(&j, "{\"classes\":[");
    int k = m->outputs == 1 ? 2 : m->outputs;
    for (int i = 0; i < k; i++) {
        char buf[32];
        if (i)
            hk_json_raw(&j, ",");
        hk_json_str(&j, hk_served_class(m, i, buf, sizeof buf));
    }
    float rescale = m->meta.rescale > 0 ? m->meta.rescale : 1.0f;
    hk_json_printf(&j, "],\"input\":{\"height\":%d,\"width\":%d,\"channels\":%d}", in.h, in.w, in.c);
    hk_json_printf(&j, ",\"preprocessing\":{\"formats\":[\"PNG\",\"JPEG\",\"GIF\"],\"color\":\"RGB\","
                       "\"resize\":\"antialiased bilinear to %dx%d\",\"rescale\":%.9g}",
                   in.h, in.w, (double)rescale);
    hk_json_printf(&j, ",\"output\":\"%s\"", m->outputs == 1 ? "sigmoid" : "softmax");
    if (m->outputs == 1)
        hk_json_printf(&j, ",\"score\":\"the sigmoid output: the probability of class 1\",\"threshold\":%.9g,"
                           "\"decision\":\"class 1 when the score is at least the threshold\"",
                       (double)sv_threshold(m));
    hk_json_printf(&j, ",\"layers\":%d,\"parameters\":%zu,\"sha256\":\"%s\"}", hk_model_count(m->model),
                   hk_model_param_count(m->model), m->sha256);
    if (j.oom) {
        hk_json_free(&j);
        return NULL;
    }
    return j.p;
}

/* Install m as the served model (the server owns it); returns the old one (to free). */
struct hk_served *sv_install(struct hk_server *s, struct hk_served *m, char *json)
{
    pthread_mutex_lock(&s->model_lock);
    struct hk_served *old = s->model;
    s->model = m;
    pthread_mutex_unlock(&s->model_lock);
    pthread_mutex_lock(&s->info_lock);
    s->input = hk_model_input(m->model);
    s->prep = sv_prep(s, m);
    memcpy(s->sha256, m->sha256, sizeof s->sha256);
    free(s->model_json);
    s->model_json = json;
    pthread_mutex_unlock(&s->info_lock);
    return old;
}
