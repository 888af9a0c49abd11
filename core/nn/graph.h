/* graph.h: the model's connections. Layers run in script order; each reads the previous layer's
 * output unless its spec names another (input=NAME), and an add reads two (from=A or from=A,B).
 * Names resolve to earlier layers only, so the script order is always a valid execution order. */
#ifndef HK_GRAPH_H
#define HK_GRAPH_H

#include "layer.h"

#define HK_GRAPH_MAX_LAYERS 256 /* the most layers a model has (HK_MODEL_MAX_LAYERS) */

/* 1 when name is a valid layer name: 1 to 31 of [A-Za-z0-9_.-], starting with a letter or '_'. */
int hk_layer_name_valid(const char *name);

/* Connect layer i of layers[0..i] (all named): resolve its spec's input= and from= among the
 * earlier layers, set index, input, input2 and in (input: the model's input shape), check that the
 * two inputs of an add have the same shape, and infer the layer's output. On failure err names the
 * layer and what is wrong (both shapes of an add). */
enum hk_status hk_graph_connect(struct hk_layer *layers, int i, struct hk_shape input, struct hk_error *err);

/* The first layer of layers[0..count) other than skip whose spec names `name` (input= or from=),
 * or -1; *how receives "input" or "from". */
int hk_graph_reader(const struct hk_layer *layers, int count, int skip, const char *name, const char **how);

/* 1 when some layer reads other than the previous layer's output alone (a graph, not a stack). */
int hk_graph_is_graph(const struct hk_layer *layers, int count);

/* Gradient buffers of a backward pass over connected layers[0..count): gbuf[j] is the buffer of
 * layer j's output gradient, -1 when that output does not reach the loss (the last layer's output).
 * Buffers are reused once their layer's backward has run. Returns the number of buffers; *temps is
 * the number of extra buffers needed where a second consumer adds into a gradient (0 to 2). */
int hk_graph_grad_plan(const struct hk_layer *layers, int count, int *gbuf, int *temps);

#endif
