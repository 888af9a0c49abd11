/* complete.c: readline completion driven by the command table. */
#include "complete.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/readline.h>

#include "commands.h"
#include "compile_spec.h"
#include "layer_spec.h"
#include "loss.h"
#include "optim.h"

static struct shell *the_shell;

#define MAX_CANDIDATES 256
static const char *candidates[MAX_CANDIDATES];
static int ncandidates;
static char prefix_buf[256]; /* "key=" prefix kept on value completions */

static void add(const char *c)
{
    for (int i = 0; i < ncandidates; i++)
        if (!strcmp(candidates[i], c))
            return;
    if (ncandidates < MAX_CANDIDATES - 1)
        candidates[ncandidates++] = c;
}

static char *generator(const char *text, int state)
{
    static int next;
    if (!state)
        next = 0;
    const char *value = strchr(text, '=');
    size_t skip = value ? (size_t)(value - text + 1) : 0;
    while (next < ncandidates) {
        const char *c = candidates[next++];
        if (strncmp(c, text + skip, strlen(text + skip)) == 0) {
            size_t len = skip + strlen(c) + 1;
            char *out = malloc(len);
            if (out)
                snprintf(out, len, "%.*s%s", (int)skip, prefix_buf, c);
            return out;
        }
    }
    return NULL;
}

static void add_values(const char *key)
{
    if (!strcmp(key, "activation"))
        for (int i = 0; i < HK_ACT_COUNT; i++)
            add(hk_act_name((enum hk_act)i));
    else if (!strcmp(key, "optimizer"))
        for (int i = 0; i < HK_OPTIM_COUNT; i++)
            add(hk_optim_name((enum hk_optim_kind)i));
    else if (!strcmp(key, "loss"))
        for (int i = 0; i < HK_LOSS_COUNT; i++)
            add(hk_loss_name((enum hk_loss)i));
    else if (!strcmp(key, "fill"))
        for (int i = 0; i < HK_FILL_COUNT; i++)
            add(hk_augment_fill_name((enum hk_fill)i));
    else if (!strcmp(key, "padding")) {
        add("valid");
        add("same");
    } else if (!strcmp(key, "flip")) {
        add("horizontal");
        add("vertical");
        add("both");
        add("none");
    } else if (!strcmp(key, "until")) {
        add("val_accuracy>=");
        add("accuracy>=");
        add("val_loss<=");
        add("loss<=");
    } else if (!strcmp(key, "class_weight")) {
        add("balanced");
    }
}

static void add_keys(const char *const *keys)
{
    static char with_eq[MAX_CANDIDATES][40];
    for (int i = 0; keys && keys[i] && ncandidates < MAX_CANDIDATES - 1; i++) {
        snprintf(with_eq[ncandidates], sizeof with_eq[0], "%s=", keys[i]);
        add(with_eq[ncandidates]);
    }
}

/* Add the second words of the two-word commands that start with first ("data" -> "train", "val",
 * ...). Returns 1 when first is not a command by itself, so nothing else can follow it. */
static int add_subcommands(const char *first)
{
    size_t len = strlen(first);
    int alone = 0;
    for (const struct command *c = commands; c->name; c++) {
        if (!strncmp(c->name, first, len) && c->name[len] == ' ')
            add(c->name + len + 1);
        alone |= !strcmp(c->name, first);
    }
    return !alone;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    ncandidates = 0;
    prefix_buf[0] = '\0';
    struct hk_words *w = malloc(sizeof *w);
    char *before = strndup(rl_line_buffer, (size_t)start);
    int bad;
    if (!w || !before || hk_lex(before, w, &bad, NULL) != HK_OK) {
        free(w);
        free(before);
        return NULL;
    }
    rl_attempted_completion_over = 1;
    const char *eq = strchr(text, '=');
    if (w->count == 0) {
        for (const char *const *c = commands_words(); *c; c++)
            add(*c);
    } else if (w->count == 1 && add_subcommands(w->w[0].text)) {
        /* only sub-commands follow this word */
    } else if (eq) {
        snprintf(prefix_buf, sizeof prefix_buf, "%.*s", (int)(eq - text + 1), text);
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - text), text);
        add_values(key);
    } else {
        int arg;
        const struct command *c = commands_find(w, &arg);
        enum hk_layer_kind kind = hk_layer_kind_find(w->w[0].text);
        if (kind != HK_LAYER_KIND_COUNT) {
            add_keys(hk_layer_spec_options(kind));
        } else if (c) {
            add_keys(c->options);
            if (c->args == ARG_PATH) {
                free(w);
                free(before);
                rl_attempted_completion_over = 0;
                return NULL; /* readline's file name completion */
            }
            if (c->args == ARG_LAYER && the_shell->model)
                for (int i = 0; i < hk_model_count(the_shell->model); i++)
                    add(hk_model_layer(the_shell->model, i)->name);
            if (c->args == ARG_SET) {
                add("train");
                add("val");
            }
        }
    }
    free(w);
    free(before);
    if (eq || (ncandidates == 1 && candidates[0][strlen(candidates[0]) - 1] == '='))
        rl_completion_append_character = '\0';
    else
        rl_completion_append_character = ' ';
    return rl_completion_matches(text, generator);
}

void complete_install(struct shell *sh)
{
    the_shell = sh;
    rl_attempted_completion_function = complete;
    rl_completer_word_break_characters = " \t";
}
