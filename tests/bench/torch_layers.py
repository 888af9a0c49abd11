#!/usr/bin/env python3
"""torch_layers.py: bench_layers.c's shapes in PyTorch (CPU, float32, NCHW), for comparison.

    /usr/bin/python3 tests/bench/torch_layers.py [threads=N] [steps=N] [clock=cpu]  (defaults 1, 20)

clock=cpu times with the process's CPU time, as bench_layers' clock=cpu.

Depthwise 3x3 (F.conv2d with groups=C, padding 1, bias) and batch norm in training mode
(F.batch_norm), batch 32; backward is torch.autograd.grad of the layer's output with a fixed dy,
giving dx and the parameter gradients. Prints the same table and "key value" lines as
bench_layers. Run it with MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4000000000 in the
environment (compare_layers.sh does both ways): glibc otherwise returns every block over 32 MiB
to the kernel on free, and PyTorch pays page faults on each new activation.
"""
import statistics
import sys
import time

import torch
import torch.nn.functional as F

BATCH = 32
SHAPES = [(32, 64, 64, 1), (96, 64, 64, 2), (144, 32, 32, 1), (384, 8, 8, 1), (960, 4, 4, 1)]


clock = time.perf_counter


def args():
    global clock
    vals = {"threads": 1, "steps": 20}
    for a in sys.argv[1:]:
        k, _, v = a.partition("=")
        if a == "clock=cpu":
            clock = time.process_time
            continue
        if k not in vals or not v.isdigit() or int(v) < 1:
            sys.exit("usage: torch_layers.py [threads=N] [steps=N] [clock=cpu]")
        vals[k] = int(v)
    return vals["threads"], vals["steps"]


def median_ms(fn, steps):
    fn()
    times = []
    for _ in range(steps):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times) * 1e3


def main():
    threads, steps = args()
    torch.set_num_threads(threads)
    torch.manual_seed(3)
    print(f"depthwise 3x3 (padding same, bias) and batchnorm (training), batch {BATCH}, torch {torch.__version__}, "
          f"{threads} thread{'s' if threads > 1 else ''}, median of {steps}")
    print("%-10s %-22s %9s %8s %9s %8s" % ("layer", "input -> output", "fwd ms", "fwd GB/s", "bwd ms", "bwd GB/s"))
    lines = []
    for c, h, w, s in SHAPES:
        x = (torch.rand(BATCH, c, h, w) * 2 - 1).requires_grad_()
        k = (torch.rand(c, 1, 3, 3) - 0.5).requires_grad_()
        b = torch.zeros(c).requires_grad_()
        oh, ow = -(-h // s), -(-w // s)
        xb = (torch.rand(BATCH, c, oh, ow) * 2 - 1).requires_grad_()
        gamma, beta = torch.ones(c).requires_grad_(), torch.zeros(c).requires_grad_()
        rm, rv = torch.zeros(c), torch.ones(c)
        dy = (torch.rand(BATCH, c, oh, ow) - 0.5) * 0.02

        def dw_fwd():
            return F.conv2d(x, k, b, stride=s, padding=1, groups=c)

        def bn_fwd():
            return F.batch_norm(xb, rm, rv, gamma, beta, training=True, momentum=0.01, eps=1e-3)

        for name, fwd, inputs, cin, hin, win in (("depthwise", dw_fwd, (x, k, b), c, h, w),
                                                ("batchnorm", bn_fwd, (xb, gamma, beta), c, oh, ow)):
            with torch.no_grad():
                tf = median_ms(fwd, steps)
            y = fwd()
            tb = median_ms(lambda: torch.autograd.grad(y, inputs, dy, retain_graph=True), steps)
            nin, nout = BATCH * cin * hin * win, BATCH * c * oh * ow
            bf, bb = 4.0 * (nin + nout), 4.0 * (2 * nin + nout)
            print("%-10s %-22s %9.3f %8.1f %9.3f %8.1f" % (name, f"{cin}x{hin}x{win} -> {oh}x{ow}", tf,
                                                          bf / tf / 1e6, tb, bb / tb / 1e6))
            stride = s if name == "depthwise" else 1
            lines.append(f"{name}_{cin}x{hin}x{win}_s{stride}_fwd_ms {tf:.4f}")
            lines.append(f"{name}_{cin}x{hin}x{win}_s{stride}_bwd_ms {tb:.4f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
