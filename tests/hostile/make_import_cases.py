#!/usr/bin/env python3
"""make_import_cases.py: small hand-made TensorFlow.js layers models, each a folder OUT/NAME with a
model.json and its weight file, for tests/hostile/import.husky (run by import.setup.sh); with
--seeds, each case as one file (model.json, a NUL byte, the weights) for the fuzz_import corpus.
Standard library only.

  make_import_cases.py OUT
  make_import_cases.py --seeds tests/fuzz/corpus/import
"""
import json
import os
import struct
import sys


def layer(name, cls, inbound, **config):
    config["name"] = name
    return {"name": name, "class_name": cls, "config": config,
            "inbound_nodes": [[[i, 0, 0, {}] for i in inbound]] if inbound else []}


def model(layers, weights, shard="group1-shard1of1"):
    return {"format": "layers-model", "generatedBy": "make_import_cases.py",
            "modelTopology": {"keras_version": "2.2.4", "backend": "tensorflow", "model_config": {
                "class_name": "Model", "config": {
                    "name": "model_1", "layers": layers,
                    "input_layers": [[layers[0]["name"], 0, 0]],
                    "output_layers": [[layers[-1]["name"], 0, 0]]}}},
            "weightsManifest": [{"paths": [shard], "weights": weights}]}


def f32(name, shape):
    return {"name": name, "shape": shape, "dtype": "float32"}


def u8(name, shape, lo=-1.0, scale=0.01):
    return {"name": name, "shape": shape, "dtype": "float32",
            "quantization": {"min": lo, "scale": scale, "dtype": "uint8"}}


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def nbytes(weights):
    size = {"float32": 4, "int32": 4, "uint8": 1, "uint16": 2, "float16": 2, "uint4": 1}
    return sum(count(w["shape"]) * size[w.get("quantization", w)["dtype"]] for w in weights)


SEEDS = False


def write(out, name, m, data=None, raw_json=None):
    text = raw_json if raw_json is not None else json.dumps(m)
    if m is not None and data is None:
        data = bytes(i % 251 for i in range(nbytes(m["weightsManifest"][0]["weights"])))
    if SEEDS:
        with open(os.path.join(out, name), "wb") as f:
            f.write(text.encode() + (b"\0" + data if m is not None else b""))
        return
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.json"), "w") as f:
        f.write(raw_json if raw_json is not None else json.dumps(m))
    if m is not None:
        group = m["weightsManifest"][0]
        if "/" not in group["paths"][0]:
            with open(os.path.join(d, group["paths"][0]), "wb") as f:
                f.write(data)


INPUT = layer("input_1", "InputLayer", [], batch_input_shape=[None, 1, 1, 4], dtype="float32")


def dense(name="dense_1", units=3, inbound="input_1"):
    return layer(name, "Dense", [inbound], units=units, activation="softmax", use_bias=True)


def main():
    global SEEDS
    SEEDS = sys.argv[1] == "--seeds"
    out = sys.argv[-1]
    os.makedirs(out, exist_ok=True)
    ok_weights = [u8("dense_1/bias", [3]), u8("dense_1/kernel", [4, 3])]
    # a Lambda layer: code, refused by name
    write(out, "lambda", model([INPUT, layer("lambda_1", "Lambda", ["input_1"], function="lambda x: x"),
                                dense(inbound="lambda_1")], ok_weights))
    # a class husky does not know
    write(out, "custom", model([INPUT, layer("my_layer", "MyCustomLayer", ["input_1"]),
                                dense(inbound="my_layer")], ok_weights))
    # a stored type husky does not read
    write(out, "dtype", model([INPUT, dense()], [u8("dense_1/bias", [3]),
                                                  {"name": "dense_1/kernel", "shape": [4, 3], "dtype": "int32"}]))
    write(out, "qtype", model([INPUT, dense()], [u8("dense_1/bias", [3]),
                                                  {"name": "dense_1/kernel", "shape": [4, 3], "dtype": "float32",
                                                   "quantization": {"dtype": "uint4", "min": 0, "scale": 1}}]))
    # the manifest's sizes do not add up to the weight file (longer, and truncated)
    write(out, "sizes", model([INPUT, dense()], ok_weights), data=bytes(nbytes(ok_weights) + 8))
    write(out, "truncated", model([INPUT, dense()], ok_weights), data=bytes(nbytes(ok_weights) - 5))
    # a tensor whose shape does not match its layer (4 inputs, kernel for 5)
    write(out, "shape", model([INPUT, dense()], [u8("dense_1/bias", [3]), u8("dense_1/kernel", [5, 3])]))
    # a tensor the layer needs is missing from the manifest
    write(out, "missing", model([INPUT, dense()], [u8("dense_1/kernel", [4, 3])]))
    # a 2 GB tensor claimed by a tiny file
    write(out, "huge", model([INPUT, dense()], [u8("dense_1/bias", [3]), f32("dense_1/kernel", [536870912])]),
          data=bytes(64))
    # five tensors each under the per-tensor limit, together over the 1 GiB of weights
    write(out, "total", model([INPUT, dense()], ok_weights + [u8("big_%d/kernel" % i, [250000000]) for i in range(5)]),
          data=bytes(64))
    # a weight file outside the model's folder
    write(out, "escape", model([INPUT, dense()], ok_weights, shard="../lambda/group1-shard1of1"))
    # JSON nested 10,000 deep, and not JSON at all
    write(out, "deep", None, raw_json="[" * 10000 + "]" * 10000)
    write(out, "garbage", None, raw_json="modelTopology: {class_name: 'Model'}\n")
    # two layers with one name; a layer reading one listed after it; a shared layer
    write(out, "twice", model([INPUT, dense(), dense()], ok_weights))
    write(out, "order", model([INPUT, dense(inbound="dense_2"), dense("dense_2")], ok_weights))
    # a tensor listed twice
    write(out, "duplicate", model([INPUT, dense()], ok_weights + [u8("dense_1/bias", [3])]))
    # a small MobileNetV2-like model that imports: Keras's -1..1 input scaling, an inverted residual
    # block, global pooling and a head, weights stored as float32, uint8, uint16 and float16, the first layers trainable: false
    relu6 = {"max_value": 6, "negative_slope": 0, "threshold": 0}
    layers = [
        layer("input_1", "InputLayer", [], batch_input_shape=[None, 8, 8, 3], dtype="float32"),
        layer("rescaling", "Rescaling", ["input_1"], scale=1 / 127.5, offset=-1),
        layer("Conv1_pad", "ZeroPadding2D", ["rescaling"], padding=[[0, 1], [0, 1]], trainable=False),
        layer("Conv1", "Conv2D", ["Conv1_pad"], filters=4, kernel_size=[3, 3], strides=[2, 2], padding="valid",
              use_bias=False, activation="linear", dilation_rate=[1, 1], trainable=False),
        layer("bn_Conv1", "BatchNormalization", ["Conv1"], axis=-1, momentum=0.999, epsilon=0.001,
              trainable=False),
        layer("Conv1_relu", "ReLU", ["bn_Conv1"], trainable=False, **relu6),
        layer("block_depthwise", "DepthwiseConv2D", ["Conv1_relu"], kernel_size=[3, 3], strides=[1, 1],
              padding="same", depth_multiplier=1, use_bias=False, activation="linear"),
        layer("block_depthwise_BN", "BatchNormalization", ["block_depthwise"], momentum=0.999, epsilon=0.001),
        layer("block_depthwise_relu", "ReLU", ["block_depthwise_BN"], **relu6),
        layer("block_project", "Conv2D", ["block_depthwise_relu"], filters=4, kernel_size=[1, 1],
              padding="same", use_bias=False, activation="linear"),
        layer("block_project_BN", "BatchNormalization", ["block_project"], momentum=0.999, epsilon=0.001),
        layer("block_add", "Add", ["Conv1_relu", "block_project_BN"]),
        layer("global_average_pooling2d", "GlobalAveragePooling2D", ["block_add"]),
        layer("dropout", "Dropout", ["global_average_pooling2d"], rate=0.2, noise_shape=None),
        layer("dense", "Dense", ["dropout"], units=2, activation="softmax", use_bias=True),
    ]
    def bn(name, store=u8):
        return [store(name + "/" + w, [4]) for w in ("beta", "gamma", "moving_mean", "moving_variance")]
    weights = ([f32("Conv1/kernel", [3, 3, 3, 4])] + bn("bn_Conv1", f32) +
               [{"name": "block_depthwise/depthwise_kernel", "shape": [3, 3, 4, 1], "dtype": "float32",
                 "quantization": {"dtype": "float16"}}] + bn("block_depthwise_BN") +
               [u8("block_project/kernel", [1, 1, 4, 4])] +
               [{"name": "block_project_BN/" + w, "shape": [4], "dtype": "float32",
                 "quantization": {"min": 0.0, "scale": 0.0001, "dtype": "uint16"}}
                for w in ("beta", "gamma", "moving_mean", "moving_variance")] +
               [u8("dense/bias", [2]), u8("dense/kernel", [4, 2])])
    write(out, "ok", model(layers, weights))
    # the same with a tensor no layer has
    write(out, "extra", model(layers, weights + [u8("block_project/bias", [4])]))


if __name__ == "__main__":
    main()
