#!/usr/bin/env python3
"""torch_husky.py: the blog network of bench_husky.c in PyTorch (CPU, float32, NCHW), for comparison.

    python3 tests/bench/torch_husky.py [threads=N] [steps=N] [repeats=N] [clock=cpu]    (defaults 1, 10, 3)

clock=cpu times with the process's CPU time instead of the wall clock, as bench_husky's clock=cpu
(for threads=1 on a machine shared with other jobs).

Same batch (32), random inputs in [0,1), random labels, Adam lr 0.0005, BCEWithLogitsLoss, dropout 0.4.
Prints training and batch-32 inference images/s (median over repeats), single-image latency, peak RSS
and, last, the same key=value line as bench_husky.
"""
import resource
import statistics
import sys
import time

import torch
from torch import nn

BATCH = 32
PARAMS = 3304769


clock = time.perf_counter


def args():
    global clock
    vals = {"threads": 1, "steps": 10, "repeats": 3}
    for a in sys.argv[1:]:
        k, _, v = a.partition("=")
        if a == "clock=cpu":
            clock = time.process_time
            continue
        if k not in vals or not v.isdigit() or int(v) < 1:
            sys.exit("usage: torch_husky.py [threads=N] [steps=N] [repeats=N] [clock=cpu]")
        vals[k] = int(v)
    return vals["threads"], vals["steps"], vals["repeats"]


def build():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.4),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.4),
        nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.4),
        nn.Flatten(),
        nn.Linear(128 * 14 * 14, 128), nn.ReLU(),
        nn.Linear(128, 1),  # sigmoid is fused into the loss for training, applied for inference
    )


def main():
    threads, steps, repeats = args()
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    model = build()
    nparams = sum(p.numel() for p in model.parameters())
    assert nparams == PARAMS, f"{nparams} parameters, expected {PARAMS}"
    opt = torch.optim.Adam(model.parameters(), lr=0.0005)
    loss_fn = nn.BCEWithLogitsLoss()
    x = torch.rand(BATCH, 3, 128, 128)
    y = torch.randint(0, 2, (BATCH, 1)).float()
    print(f"torch {torch.__version__}: blog network, {nparams} parameters, batch {BATCH}, "
          f"threads={threads} steps={steps} repeats={repeats}")

    def train_step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    train_step()  # warm-up
    rates = []
    for _ in range(repeats):
        t0 = clock()
        for _ in range(steps):
            train_step()
        rates.append(steps * BATCH / (clock() - t0))
    train = statistics.median(rates)

    model.eval()
    with torch.no_grad():
        torch.sigmoid(model(x))  # warm-up
        rates = []
        for _ in range(repeats):
            t0 = clock()
            for _ in range(steps):
                torch.sigmoid(model(x))
            rates.append(steps * BATCH / (clock() - t0))
        infer = statistics.median(rates)

        nlat = max(10 * steps, 50)
        torch.sigmoid(model(x[:1]))  # warm-up
        lat = []
        for k in range(nlat):
            xi = x[k % BATCH:k % BATCH + 1]
            t0 = clock()
            torch.sigmoid(model(xi))
            lat.append(clock() - t0)
        latency = statistics.median(lat) * 1e3

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    print(f"training:   {train:8.1f} images/s (batch {BATCH}, median of {repeats} x {steps} steps)")
    print(f"inference:  {infer:8.1f} images/s (batch {BATCH})")
    print(f"latency:    {latency:8.2f} ms (1 image, median of {nlat})")
    print(f"peak RSS:   {rss:8.1f} MB")
    print(f"threads={threads} train_img_s={train:.1f} infer32_img_s={infer:.1f} "
          f"latency_ms={latency:.3f} peak_rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()
