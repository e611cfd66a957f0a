"""The convolutions alone in PyTorch: forward, and forward + input and filter
gradients, of the second conv layer of each benchmarked net (batch 128), to set
beside the per-kernel times of `deno run -A bench/profile.ts gal|cifar`.

Usage: python3 bench/torch_conv_reference.py [--threads 2]
"""

import argparse
import time

import torch


def timed(f, repeats=20):
    for _ in range(3):
        f()
    start = time.perf_counter()
    for _ in range(repeats):
        f()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    threads = parser.parse_args().threads
    torch.set_num_threads(threads)
    layers = {"Gal conv2": (128, 25, 32, 32, 4), "CIFAR conv2": (128, 15, 32, 64, 3)}
    print(f"PyTorch {torch.__version__}, {threads} threads")
    for name, (n, h, ci, co, k) in layers.items():
        x = torch.randn(n, ci, h, h, requires_grad=True)
        w = torch.randn(co, ci, k, k, requires_grad=True)
        out = h - k + 1
        flops = 2 * n * out * out * co * ci * k * k
        forward = timed(lambda: torch.nn.functional.conv2d(x, w))
        g = torch.randn(n, co, out, out)
        both = timed(lambda: torch.autograd.grad(torch.nn.functional.conv2d(x, w), (x, w), g))
        print(f"{name}: forward {forward * 1e3:.1f} ms ({flops / forward / 1e9:.0f} GFLOP/s), "
              f"forward + dx + dW {both * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
