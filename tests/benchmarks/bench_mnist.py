"""MNIST benchmark: the notes' MLP recipe, a fixed MLP and the chapter-11 CNN.

Run from the repository root (not a test; pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_mnist.py            # full run
    .venv/bin/python tests/benchmarks/bench_mnist.py --quick    # smoke run, seconds

Recipes (all on the same in-memory, normalised MNIST tensors, CPU or the first
available accelerator, seeded):

(a) notes_mlp  note 003 (2 简单回归问题, 手写数字识别案例) as written: 784-256-64-10
               with ReLU on the hidden layers, MSE between the outputs and one-hot
               labels, SGD(lr=0.01, momentum=0.9), batch size 512, 3 epochs.
(b) fixed_mlp  the same network and batch size, trained as a classifier: cross-entropy
               on the logits (no ReLU on the output), Adam(lr=1e-3), 3 epochs.
(c) cnn        the CNN of notebooks/11_cnn_mnist.ipynb with the chapter's recipe:
               two conv5x5-BN-ReLU-maxpool stages (16, 32 channels), 1568-128-10,
               cross-entropy, Adam + OneCycleLR(max_lr=0.01), batch size 128, 3 epochs
               (without the chapter's test pass after each epoch).

Runs: 3 per MLP recipe (--repeats) and 1 for the CNN (--cnn-repeats; it takes ~30 s on
an idle 2-core CPU). Every recipe is seeded identically in every repeat, so the test
accuracy is the same in every repeat on one machine; the training wall time (data
already in memory; loading is timed once, separately) is the median over the repeats.
Images/s = epochs x training images / median wall time. Ratios are relative to (a).
The note's own loader converts a PIL image per sample (ToTensor + Normalize); here
every recipe reads the same tensors, so the table compares the recipes, not the data
pipelines.

Data root: $TORCH_COURSE_DATA, else ./data (MNIST/raw/*-ubyte; downloaded when online).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets

MEAN, STD = 0.1307, 0.3081  # MNIST training-set pixel mean and std (as in note 003)


def pick_device() -> torch.device:
    """CUDA, else MPS, else CPU — the course's setup-cell logic."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def load_mnist(root: Path, train: bool):
    """MNIST from root; downloads when online. One clear message when it can't."""
    try:
        return datasets.MNIST(root, train=train, download=True)
    except RuntimeError as err:
        raise SystemExit(
            f"MNIST is not under {root}/MNIST/raw and could not be downloaded ({err}). "
            "Set TORCH_COURSE_DATA to a folder that holds MNIST/raw/*-ubyte files."
        ) from None


def to_tensors(ds, limit: int | None):
    """(N, 1, 28, 28) float32 normalised images and int64 labels."""
    X = ds.data[:limit].float().div(255).sub(MEAN).div(STD).unsqueeze(1)
    return X, ds.targets[:limit].clone()


# --- the models ----------------------------------------------------------------------


class NotesNet(nn.Module):
    """Note 003's Net: 784-256-64-10, ReLU on the hidden layers, raw output."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 256)
        self.fc2 = nn.Linear(256, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(x.size(0), 28 * 28)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class MnistCNN(nn.Module):
    """The chapter-11 CNN (keep in step with notebooks/11_cnn_mnist.ipynb)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5, padding=2, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=5, padding=2, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


# --- the recipes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    key: str
    label: str
    batch_size: int
    num_epochs: int
    repeats_default: int


RECIPES = [
    Recipe("notes_mlp", "(a) notes' MLP: MSE on one-hot, SGD", 512, 3, 3),
    Recipe("fixed_mlp", "(b) fixed MLP: cross-entropy, Adam", 512, 3, 3),
    Recipe("cnn", "(c) chapter-11 CNN: CE, Adam+OneCycle", 128, 3, 1),
]


def build(recipe: Recipe, steps: int):
    """model, optimizer, scheduler (or None), loss function for a recipe."""
    if recipe.key == "notes_mlp":
        model = NotesNet()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def loss_fn(out, y):
            return F.mse_loss(out, F.one_hot(y, 10).float())

        return model, optimizer, None, loss_fn
    if recipe.key == "fixed_mlp":
        model = NotesNet()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        return model, optimizer, None, nn.CrossEntropyLoss()
    model = MnistCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.01, total_steps=steps
    )
    return model, optimizer, scheduler, nn.CrossEntropyLoss()


def run_once(recipe: Recipe, data, device: torch.device, num_epochs: int):
    """Train from seed 0; return (test accuracy, wall seconds, CPU seconds)."""
    X_train, y_train, X_test, y_test = data
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    train_loader = DataLoader(
        TensorDataset(X_train, y_train),
        batch_size=recipe.batch_size,
        shuffle=True,
        generator=g,
    )
    steps = num_epochs * len(train_loader)
    model, optimizer, scheduler, loss_fn = build(recipe, steps)
    model.to(device)

    sync(device)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    model.train()
    for _ in range(num_epochs):
        for X, y in train_loader:
            X, y = X.to(device), y.to(device)
            loss = loss_fn(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    sync(device)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(X_test), 1000):
            X = X_test[start : start + 1000].to(device)
            y = y_test[start : start + 1000].to(device)
            correct += (model(X).argmax(dim=1) == y).sum().item()
    return correct / len(X_test), wall, cpu


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="runs per MLP recipe (default 3; the median time is reported)",
    )
    parser.add_argument(
        "--cnn-repeats",
        type=int,
        default=None,
        help="runs of the CNN recipe (default 1)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 repeat, 1 epoch, 4096 training / 1024 test images",
    )
    parser.add_argument(
        "--only",
        choices=[r.key for r in RECIPES],
        action="append",
        help="run only this recipe (repeatable); ratios need notes_mlp",
    )
    args = parser.parse_args(argv)

    root = Path(os.environ.get("TORCH_COURSE_DATA") or "data")
    device = pick_device()
    load_before = os.getloadavg()[0]
    limit_train, limit_test = (4096, 1024) if args.quick else (None, None)

    t0 = time.perf_counter()
    X_train, y_train = to_tensors(load_mnist(root, train=True), limit_train)
    X_test, y_test = to_tensors(load_mnist(root, train=False), limit_test)
    load_s = time.perf_counter() - t0
    data = (X_train, y_train, X_test, y_test)

    print(
        f"MNIST benchmark | torch {torch.__version__} | device {device} | "
        f"{torch.get_num_threads()} threads | {len(X_train)} train / {len(X_test)} test"
    )
    print(f"data loading (once, shared by all recipes): {load_s:.1f} s")

    rows = []
    for recipe in RECIPES:
        if args.only and recipe.key not in args.only:
            continue
        if args.quick:
            repeats, num_epochs = 1, 1
        else:
            default = args.cnn_repeats if recipe.key == "cnn" else args.repeats
            repeats = default if default is not None else recipe.repeats_default
            num_epochs = recipe.num_epochs
        runs = [run_once(recipe, data, device, num_epochs) for _ in range(repeats)]
        acc = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        images_per_s = num_epochs * len(X_train) / wall
        rows.append((recipe, repeats, num_epochs, acc, wall, cpu, images_per_s))

    base = next((r for r in rows if r[0].key == "notes_mlp"), None)
    header = (
        f"{'recipe':40} {'epochs':>6} {'batch':>5} {'runs':>4} {'test acc':>8} "
        f"{'train s':>8} {'cpu s':>7} {'images/s':>9} {'time/(a)':>8} {'img/s/(a)':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    for recipe, repeats, num_epochs, acc, wall, cpu, ips in rows:
        if base is not None:
            ratios = f"{wall / base[4]:8.2f} {ips / base[6]:9.2f}"
        else:
            ratios = f"{'-':>8} {'-':>9}"
        print(
            f"{recipe.label:40} {num_epochs:6d} {recipe.batch_size:5d} {repeats:4d} "
            f"{acc:8.4f} {wall:8.1f} {cpu:7.1f} {ips:9.0f} {ratios}"
        )
    print()
    print(
        f"1-minute load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} "
        f"after, on {os.cpu_count()} CPUs (other processes inflate the times)"
    )
    print(
        "train s: median training wall time over the runs (data in memory); cpu s: "
        "median process CPU time (all threads);\nimages/s = epochs x training images "
        "/ train s; time/(a) and img/s/(a): ratios to recipe (a)."
    )


if __name__ == "__main__":
    main()
