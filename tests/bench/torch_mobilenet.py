#!/usr/bin/env python3
"""torch_mobilenet.py: bench_mobilenet.c's figures for torchvision's mobilenet_v2 (CPU, float32, NCHW).

    python3 tests/bench/torch_mobilenet.py [threads=N] [steps=N] [repeats=N] [only=layers] [clock=cpu]

Same as bench_mobilenet: 128x128 random inputs in [0,1), batch 32, torchvision.models.mobilenet_v2
(weights=None, 1000 classes; CrossEntropyLoss, Adam): training and batch-32 inference images/s,
single-image latency; fine-tuning README's transfer head (the base up to block_13's expansion,
i.e. features[:14] and features[14].conv[0], global average pooling, dropout 0.2, Linear(576, 1),
BCEWithLogitsLoss, Adam lr 0.0001) with features[:12] (stem to block_10) frozen and in eval mode;
then the per-layer-kind table: each leaf module's forward and backward timed on its own (inputs
recorded by hooks on one training-mode forward), the residual adds as tensor adds of the same
shapes. clock=cpu times with the process's CPU time. Last line: key=value as bench_mobilenet.
Run it with MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4000000000 in the environment for
the tuned-allocator figures (glibc otherwise unmaps every block over 32 MiB on free).
"""
import copy
import statistics
import sys
import time

import torch
import torchvision
from torch import nn

BATCH = 32
SIZE = 128
clock = time.perf_counter


def args():
    global clock
    vals = {"threads": 1, "steps": 5, "repeats": 3}
    only_layers = False
    for a in sys.argv[1:]:
        k, _, v = a.partition("=")
        if a == "clock=cpu":
            clock = time.process_time
            continue
        if a == "only=layers":
            only_layers = True
            continue
        if k not in vals or not v.isdigit() or int(v) < 1:
            sys.exit("usage: torch_mobilenet.py [threads=N] [steps=N] [repeats=N] [only=layers] [clock=cpu]")
        vals[k] = int(v)
    return vals["threads"], vals["steps"], vals["repeats"], only_layers


def train_rate(model, opt, loss_fn, x, y, steps, repeats):
    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    step()  # warm-up
    rates = []
    for _ in range(repeats):
        t0 = clock()
        for _ in range(steps):
            step()
        rates.append(steps * BATCH / (clock() - t0))
    return statistics.median(rates)


def finetune_model(full):
    f = copy.deepcopy(full.features)
    model = nn.Sequential(f[:14], f[14].conv[0], nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                          nn.Linear(576, 1))
    for p in f[:12].parameters():
        p.requires_grad_(False)
    return model


KINDS = ["conv2d 1x1", "conv2d 3x3", "depthwise", "batchnorm", "relu6", "add", "pooling", "dense", "zeropad"]


def kind_of(mod):
    if isinstance(mod, nn.Conv2d):
        if mod.groups > 1:
            return "depthwise"
        return "conv2d 1x1" if mod.kernel_size == (1, 1) else "conv2d 3x3"
    if isinstance(mod, nn.BatchNorm2d):
        return "batchnorm"
    if isinstance(mod, nn.ReLU6):
        return "relu6"
    if isinstance(mod, nn.Linear):
        return "dense"
    if isinstance(mod, nn.AdaptiveAvgPool2d):
        return "pooling"
    return None


def med(fn, steps):
    ts = []
    for _ in range(steps):
        t0 = clock()
        fn()
        ts.append(clock() - t0)
    return statistics.median(ts)


def layer_table(model, x, steps):
    """Per-kind forward and backward ms of each leaf module timed alone, training mode."""
    for m in model.modules():
        if isinstance(m, nn.ReLU6):
            m.inplace = False
    model.train()
    calls, adds = [], []
    # torchvision applies global average pooling functionally: time it as a module of the same op
    with torch.no_grad():
        calls_pool = [(nn.AdaptiveAvgPool2d(1), model.features(x), None)]
    hooks = [m.register_forward_hook(lambda mod, inp, out: calls.append((mod, inp[0].detach(), out.shape)))
             for m in model.modules() if kind_of(m)]
    for blk in model.features:
        if getattr(blk, "use_res_connect", False):
            blk.register_forward_hook(lambda mod, inp, out: adds.append(inp[0].detach()))
    model.classifier[0].p = 0.0
    model(x)
    for h in hooks:
        h.remove()
    fwd = dict.fromkeys(KINDS, 0.0)
    bwd = dict.fromkeys(KINDS, 0.0)
    count = dict.fromkeys(KINDS, 0)
    first = True
    for mod, inp, _ in calls + calls_pool:
        k = kind_of(mod)
        xin = inp.clone().requires_grad_(not first)
        first = False
        y = mod(xin)
        dy = torch.rand_like(y) * 0.02 - 0.01
        fwd[k] += med(lambda: mod(xin), steps)

        def back():
            y = mod(xin)
            t0 = clock()
            y.backward(dy)
            return clock() - t0

        bwd[k] += statistics.median([back() for _ in range(steps)])
        count[k] += 1
    for a in adds:
        xa = a.clone().requires_grad_(True)
        xb = a.clone().requires_grad_(True)
        dy = torch.rand_like(a)
        fwd["add"] += med(lambda: xa + xb, steps)

        def back():
            y = xa + xb
            t0 = clock()
            y.backward(dy)
            return clock() - t0

        bwd["add"] += statistics.median([back() for _ in range(steps)])
        count["add"] += 1
    print(f"\nper layer kind, batch {BATCH}, training mode (sum over the modules of the median of {steps} calls)")
    print(f"{'kind':<12} {'layers':>7} {'fwd ms':>10} {'bwd ms':>10} {'total ms':>10}")
    for k in KINDS:
        print(f"{k:<12} {count[k]:7d} {fwd[k] * 1e3:10.2f} {bwd[k] * 1e3:10.2f} {(fwd[k] + bwd[k]) * 1e3:10.2f}")
    tf, tb = sum(fwd.values()), sum(bwd.values())
    print(f"{'total':<12} {sum(count.values()):7d} {tf * 1e3:10.2f} {tb * 1e3:10.2f} {(tf + tb) * 1e3:10.2f}")
    print("layers=" + ",".join(f"{k}:{fwd[k] * 1e3:.2f}:{bwd[k] * 1e3:.2f}" for k in KINDS))


def main():
    threads, steps, repeats, only_layers = args()
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    model = torchvision.models.mobilenet_v2(weights=None)
    nparams = sum(p.numel() for p in model.parameters())
    x = torch.rand(BATCH, 3, SIZE, SIZE)
    labels = torch.randint(0, 1000, (BATCH,))
    binary = torch.randint(0, 2, (BATCH, 1)).float()
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}: mobilenet_v2, {SIZE}x{SIZE}, "
          f"1000 classes, {nparams} parameters, batch {BATCH}, threads={threads} steps={steps} repeats={repeats}")
    if only_layers:
        layer_table(model, x, steps)
        return

    model.train()
    train = train_rate(model, torch.optim.Adam(model.parameters()), nn.CrossEntropyLoss(), x, labels, steps, repeats)
    model.eval()
    with torch.no_grad():
        torch.softmax(model(x), 1)  # warm-up
        rates = []
        for _ in range(repeats):
            t0 = clock()
            for _ in range(steps):
                torch.softmax(model(x), 1)
            rates.append(steps * BATCH / (clock() - t0))
        infer = statistics.median(rates)
        nlat = max(10 * steps, 30)
        torch.softmax(model(x[:1]), 1)  # warm-up
        lat = []
        for k in range(nlat):
            xi = x[k % BATCH:k % BATCH + 1]
            t0 = clock()
            torch.softmax(model(xi), 1)
            lat.append(clock() - t0)
        latency = statistics.median(lat) * 1e3

    ft = finetune_model(model)
    ft.train()
    ft[0][:12].eval()
    params = [p for p in ft.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    frozen = sum(p.numel() for p in ft.parameters()) - trainable
    finetune = train_rate(ft, torch.optim.Adam(params, lr=0.0001), nn.BCEWithLogitsLoss(), x, binary, steps, repeats)

    print(f"training:   {train:8.1f} images/s (batch {BATCH}, median of {repeats} x {steps} steps)")
    print(f"inference:  {infer:8.1f} images/s (batch {BATCH})")
    print(f"latency:    {latency:8.2f} ms (1 image, median of {nlat})")
    print(f"fine-tune:  {finetune:8.1f} images/s (transfer head, up to block_10 frozen: {trainable} trainable, "
          f"{frozen} not)")
    layer_table(model, x, steps)
    print(f"threads={threads} train_img_s={train:.1f} infer32_img_s={infer:.1f} latency_ms={latency:.3f} "
          f"finetune_img_s={finetune:.1f}")


if __name__ == "__main__":
    main()
