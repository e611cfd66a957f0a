"""PyTorch reference for `deno task bench` (optional: run only where torch imports).

Measures the same two nets as the bench, with the same batch (128), optimiser
(Adam, lr 1e-3) and random byte-valued images scaled to [0, 1]: training images/s (forward, backward and
step, dropout on) and eval-mode forward images/s. Prints one JSON object.

Usage: python3 bench/torch_reference.py [--threads N] [--batches B]
"""

import argparse
import json
import time

import torch
from torch import nn


def gal_cnn() -> nn.Module:
    # The Gal et al. 2017 MNIST net, as dsl/model.ts galCnn.
    return nn.Sequential(
        nn.Conv2d(1, 32, 4), nn.ReLU(),
        nn.Conv2d(32, 32, 4), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(32 * 11 * 11, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    )


def small_cnn() -> nn.Module:
    # The CIFAR-10 examples' net, as dsl/model.ts smallCnn.
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(64 * 6 * 6, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    )


def rates(net: nn.Module, shape, batches: int):
    batch = 128
    # Pixel values as the bench feeds ours: bytes scaled to [0, 1].
    x = torch.randint(0, 256, (batch * batches, *shape)).float() / 255
    y = torch.randint(0, 10, (batch * batches,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(i):
        xb, yb = x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()

    # Each rate is the median of 3 runs, as the bench takes its own.
    net.train()
    step(0)  # warm-up
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for i in range(batches):
            step(i)
        runs.append(batch * batches / (time.perf_counter() - start))
    train = sorted(runs)[1]

    net.eval()
    with torch.no_grad():
        net(x[:batch])
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            for i in range(batches):
                net(x[i * batch:(i + 1) * batch])
            runs.append(batch * batches / (time.perf_counter() - start))
        forward = sorted(runs)[1]
    return {"train": train, "forward": forward}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "gal": rates(gal_cnn(), (1, 28, 28), args.batches),
        "cifar": rates(small_cnn(), (3, 32, 32), args.batches),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
