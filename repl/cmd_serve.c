/* cmd_serve.c: `serve` (Husky AI over HTTP, core/serve/server.h) with `serve status`, `serve
 * stop` and `serve reload`, and model signing: `model keygen` and `model sign`
 * (core/modelfile/sign.h). The server predicts with its own verified copy of a model file or of
 * the shell's model (saved by the worker into a private temporary folder and loaded back), never
 * with the model the shell trains. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "modelfile.h"
#include "save.h"
#include "server.h"
#include "sign.h"

/* Save the shell's model on the worker into path, with the metadata model save would write
 * (class names, preprocessing, decision threshold, provenance). */
static enum hk_status save_copy(struct shell *sh, const char *path, struct hk_error *err)
{
    struct hk_model_meta meta;
    shell_model_meta(sh, &meta);
    struct hk_save_request req = {.path = path, .model = sh->model, .meta = &meta};
    return hk_save_model(sh->worker, &req, NULL, err);
}

/* Load what is to be served: the file `path` (pin and key checked), or with path NULL a copy of
 * the shell's model. With srv, hand it to hk_server_reload instead (which audits the outcome).
 * Returns 0, or -1 after reporting. */
static int load_served(struct shell *sh, const struct hk_words *w, const char *path, const char *pin,
                       const char *trust, struct hk_served **out, struct hk_server *srv)
{
    struct hk_error err;
    if (path) {
        enum hk_status st = srv ? hk_server_reload(srv, path, NULL, pin, &err)
                                : hk_served_load(path, pin, trust, out, NULL, &err);
        return st == HK_OK ? 0 : shell_error(sh, w, 0, "%s%s", err.msg, srv ? "; still serving the old model" : "");
    }
    if (!sh->model)
        return shell_error(sh, w, 0, "no model to serve; build or load one, or give model=FILE");
    char dir[] = "/tmp/husky-serve-XXXXXX";
    if (!mkdtemp(dir))
        return shell_error(sh, w, 0, "cannot make a temporary folder: %s", strerror(errno));
    char file[sizeof dir + 16];
    snprintf(file, sizeof file, "%s/model.hkm", dir);
    int rc = 0;
    if (save_copy(sh, file, &err) != HK_OK)
        rc = shell_error(sh, w, 0, "copying the shell's model: %s", err.msg);
    else if (srv && hk_server_reload(srv, file, "the shell's model", NULL, &err) != HK_OK)
        rc = shell_error(sh, w, 0, "%s; still serving the old model", err.msg);
    else if (!srv && hk_served_load(file, NULL, NULL, out, NULL, &err) != HK_OK)
        rc = shell_error(sh, w, 0, "loading the copy of the shell's model: %s", err.msg);
    unlink(file);
    rmdir(dir);
    return rc;
}

/* rate=N/min, N/s, N/h, N (a minute) or off, into requests per minute (0 = off). */
static int parse_rate(const char *v, double *per_minute)
{
    if (!strcmp(v, "off") || !strcmp(v, "0")) {
        *per_minute = 0;
        return 1;
    }
    char *end;
    double n = strtod(v, &end);
    if (end == v || !(n > 0) || n > 1e9)
        return 0;
    double unit = 1;
    if (!strcmp(end, "/s") || !strcmp(end, "/sec"))
        unit = 60;
    else if (!strcmp(end, "/h") || !strcmp(end, "/hour"))
        unit = 1.0 / 60;
    else if (*end && strcmp(end, "/min") && strcmp(end, "/m"))
        return 0;
    *per_minute = n * unit;
    return 1;
}

static int opt_int(struct shell *sh, const struct hk_words *w, const char *key, int lo, int hi, int *out)
{
    int i = arg_option(w, key);
    return i >= 0 ? arg_int(sh, w, i, lo, hi, out) : 0;
}

static const char *opt_text(const struct hk_words *w, const char *key)
{
    int i = arg_option(w, key);
    return i >= 0 ? w->w[i].value : NULL;
}

int cmd_serve(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0))
        return -1;
    if (sh->server)
        return shell_error(sh, w, 0, "already serving on port %d; serve stop first, or serve reload",
                           hk_server_port(sh->server));
    struct hk_server_options o;
    hk_server_options_default(&o);
    o.limits = sh->limits;
    o.max_body = sh->limits.max_file_bytes;
    const char *path = opt_text(w, "model"), *pin = opt_text(w, "sha256"), *trust = opt_text(w, "trust");
    if (opt_text(w, "bind"))
        o.bind = opt_text(w, "bind");
    if (opt_int(sh, w, "port", 0, 65535, &o.port) || opt_int(sh, w, "burst", 1, 1000000, &o.burst) ||
        opt_int(sh, w, "conns", 1, 10000, &o.conns) || opt_int(sh, w, "queue", 1, 100000, &o.queue) ||
        opt_int(sh, w, "batch", 1, 64, &o.batch) || opt_int(sh, w, "threads", 1, 64, &o.threads) ||
        opt_int(sh, w, "timeout", 1, 3600, &o.timeout) || opt_int(sh, w, "deadline", 1, 3600, &o.deadline))
        return -1;
    int i = arg_option(w, "rate");
    if (i >= 0 && !parse_rate(w->w[i].value, &o.rate_per_minute))
        return shell_error(sh, w, i, "rate is N/min, N/s, N/h or off, e.g. rate=5/min, got '%s'", w->w[i].value);
    i = arg_option(w, "body");
    if (i >= 0 && (!hk_parse_bytes(w->w[i].value, &o.max_body) || o.max_body < 1024 ||
                   o.max_body > ((size_t)1 << 30)))
        return shell_error(sh, w, i, "body must be bytes, or with KB, MB or GB, from 1KB to 1GB, got '%s'",
                           w->w[i].value);
    i = arg_option(w, "audit");
    o.audit_path = i >= 0 ? w->w[i].value : "husky-audit.jsonl";
    if (i >= 0 && (!strcmp(o.audit_path, "off") || !*o.audit_path))
        o.audit_path = NULL;
    if (!path && (pin || trust))
        return shell_error(sh, w, arg_option(w, pin ? "sha256" : "trust"),
                           "sha256= and trust= check a model file: give model=FILE (the shell's own model is "
                           "neither pinned nor signed)");
    o.pin_sha256 = pin;
    o.trust_pub = trust;
    o.model_source = path ? path : "the shell's model";
    struct hk_served *m = NULL;
    if (load_served(sh, w, path, pin, trust, &m, NULL))
        return -1;
    struct hk_error err;
    if (hk_server_start(&o, m, &sh->server, &err) != HK_OK)
        return shell_error(sh, w, 0, "%s", err.msg);
    free(sh->serve_path);
    sh->serve_path = path ? strdup(path) : NULL;
    struct hk_server_stats st;
    hk_server_stats(sh->server, &st);
    const char *b = o.bind;
    int v6 = strchr(b, ':') != NULL;
    shell_print(sh, "serving %s on http://%s%s%s:%d/ (model sha256 %s)\n", o.model_source, v6 ? "[" : "", b,
                v6 ? "]" : "", st.port, st.model_sha256);
    if (o.audit_path)
        shell_print(sh, "audit log: %s\n", o.audit_path);
    return 0;
}

static int need_server(struct shell *sh, const struct hk_words *w)
{
    if (sh->server)
        return 0;
    return shell_error(sh, w, 0, "not serving; start with: serve [model=FILE]");
}

int cmd_serve_status(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0) || need_server(sh, w))
        return -1;
    struct hk_server_stats s;
    hk_server_stats(sh->server, &s);
    shell_print(sh, "model %s, sha256 %s, port %d\n", s.model_source, s.model_sha256, s.port);
    shell_print(sh, "requests %llu: %llu predictions, %llu errors; %d pictures queued\n",
                (unsigned long long)s.requests, (unsigned long long)s.predictions, (unsigned long long)s.errors,
                s.queued);
    shell_print(sh, "latency p50 %.1f ms, p99 %.1f ms (of the last %llu predictions, receive to answer)\n",
                s.p50_ms, s.p99_ms, (unsigned long long)(s.predictions > 10000 ? 10000 : s.predictions));
    shell_print(sh, "refused: %llu rate limited (429), %llu queue full (503), %llu too large (413), "
                    "%llu not an image (415), %llu bad requests (400/404/405), %llu timed out\n",
                (unsigned long long)s.rate_limited, (unsigned long long)s.queue_full, (unsigned long long)s.too_large,
                (unsigned long long)s.not_image, (unsigned long long)s.bad_request, (unsigned long long)s.timed_out);
    shell_print(sh, "reloads %llu (%llu refused)\n", (unsigned long long)s.reloads,
                (unsigned long long)s.reloads_refused);
    return 0;
}

int cmd_serve_stop(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0) || need_server(sh, w))
        return -1;
    hk_server_stop(sh->server);
    sh->server = NULL;
    free(sh->serve_path);
    sh->serve_path = NULL;
    shell_print(sh, "stopped serving\n");
    return 0;
}

int cmd_serve_reload(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0) || need_server(sh, w))
        return -1;
    const char *path = opt_text(w, "model"), *pin = opt_text(w, "sha256");
    if (!path)
        path = sh->serve_path;
    if (!path && pin)
        return shell_error(sh, w, arg_option(w, "sha256"), "sha256= checks a model file: give model=FILE");
    if (load_served(sh, w, path, pin, NULL, NULL, sh->server))
        return -1;
    if (path && path != sh->serve_path) {
        char *p = strdup(path);
        if (p) {
            free(sh->serve_path);
            sh->serve_path = p;
        }
    }
    struct hk_server_stats s;
    hk_server_stats(sh->server, &s);
    shell_print(sh, "now serving %s (model sha256 %s)\n", s.model_source, s.model_sha256);
    return 0;
}

int cmd_model_keygen(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1))
        return -1;
    struct hk_error err;
    if (hk_sign_keygen(w->w[arg].text, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    shell_print(sh, "wrote %s (secret, mode 0600) and %s.pub (public)\n", w->w[arg].text, w->w[arg].text);
    return 0;
}

int cmd_model_sign(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1))
        return -1;
    int k = arg_option(w, "key");
    if (k < 0 || !*w->w[k].value)
        return shell_error(sh, w, 0, "needs key=KEY (a secret key from model keygen)");
    struct hk_error err;
    char sig[4096];
    if (hk_sign_file(w->w[arg].text, w->w[k].value, sig, sizeof sig, &err) != HK_OK)
        return shell_error(sh, w, err.status == HK_EIO && strstr(err.msg, w->w[k].value) ? k : arg, "%s", err.msg);
    shell_print(sh, "wrote %s\n", sig);
    return 0;
}
