"""MNIST benchmark: the notes' MLP, a fixed MLP, the chapter-11 CNN, and the recipe of
the official PyTorch MNIST example.

Run from the repository root (not a test; pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_mnist.py            # full run (long)
    .venv/bin/python tests/benchmarks/bench_mnist.py --quick    # smoke run, seconds
    .venv/bin/python tests/benchmarks/bench_mnist.py --only cnn --only official

Recipes (all on the same in-memory, normalised MNIST tensors — the 60 000 training
images and the 10 000 test images — CPU or the first available accelerator, seeded):

(a) notes_mlp  note 003 (2 简单回归问题, 手写数字识别案例) as written: 784-256-64-10
               with ReLU on the hidden layers, MSE between the outputs and one-hot
               labels, SGD(lr=0.01, momentum=0.9), batch size 512, 3 epochs.
(b) fixed_mlp  the same network and batch size, trained as a classifier: cross-entropy
               on the logits (no ReLU on the output), Adam(lr=1e-3), 3 epochs.
(c) cnn        the CNN of notebooks/11_cnn_mnist.ipynb with the chapter's recipe:
               two conv5x5-BN-ReLU-maxpool stages (16, 32 channels), 1568-128-10,
               cross-entropy with label smoothing 0.1, Adam + OneCycleLR(max_lr=0.01)
               stepped per batch, batch size 128, 3 epochs (the budget the chapter
               chooses on its validation split).
(d) official   the recipe of the official PyTorch MNIST example (github.com/pytorch/
               examples, mnist/main.py), written from its description: conv3x3 1->32,
               ReLU, conv3x3 32->64, ReLU, max-pool 2, dropout 0.25, flatten (9216),
               fc 9216->128, ReLU, dropout 0.5, fc 128->10, log_softmax + NLL loss,
               Adadelta(lr=1.0), StepLR(step_size=1, gamma=0.7) stepped per epoch,
               batch size 64, 14 epochs.

Per recipe and run, the test accuracy is measured after every epoch (outside the
training clock), which gives the accuracy curve and the training time needed to reach
99.0 % and 99.2 % test accuracy (at epoch granularity; "-" when never reached). These
are benchmark readings of finished recipes, not model selection: the chapter chooses
its budget on a validation split and touches the test set once.

Runs: 3 per MLP recipe (--repeats), 1 per CNN recipe (--cnn-repeats). Every recipe is
seeded identically in every repeat, so its accuracies are the same in every repeat on
one machine; times are medians over the repeats. Images/s = epochs x training images /
median training wall time. Ratios are relative to (a); the last two columns compare
the time to 99.0 % with that of (c). The note's own loader converts a PIL image per
sample (ToTensor + Normalize), the official example does the same with its
DataLoader; here every recipe reads the same tensors, so the table compares the
recipes, not the data pipelines.

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
TARGETS = (0.990, 0.992)  # test accuracies whose time-to-reach is reported


def pick_device() -> torch.device:
    """The accelerator PyTorch finds, else the CPU — the course's setup-cell logic."""
    if torch.accelerator.is_available():
        return torch.accelerator.current_accelerator()
    return torch.device("cpu")


def sync(device: torch.device) -> None:
    if device.type != "cpu":
        torch.accelerator.synchronize()


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


class OfficialNet(nn.Module):
    """The network of the official PyTorch MNIST example (written from its recipe)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)  # 28x28 -> 26x26
        self.conv2 = nn.Conv2d(32, 64, 3, 1)  # -> 24x24
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)  # 64 x 12 x 12 after max-pooling
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


# --- the recipes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    key: str
    label: str
    batch_size: int
    num_epochs: int
    repeats_default: int
    is_cnn: bool


RECIPES = [
    Recipe("notes_mlp", "(a) notes' MLP: MSE on one-hot, SGD", 512, 3, 3, False),
    Recipe("fixed_mlp", "(b) fixed MLP: cross-entropy, Adam", 512, 3, 3, False),
    Recipe("cnn", "(c) chapter-11 CNN: CE+LS, OneCycle", 128, 3, 1, True),
    Recipe("official", "(d) official example: Adadelta+StepLR", 64, 14, 1, True),
]


def build(recipe: Recipe, steps: int):
    """model, optimizer, scheduler (or None), 'batch'/'epoch', loss function."""
    if recipe.key == "notes_mlp":
        model = NotesNet()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def loss_fn(out, y):
            return F.mse_loss(out, F.one_hot(y, 10).float())

        return model, optimizer, None, None, loss_fn
    if recipe.key == "fixed_mlp":
        model = NotesNet()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        return model, optimizer, None, None, nn.CrossEntropyLoss()
    if recipe.key == "official":
        model = OfficialNet()
        optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
        return model, optimizer, scheduler, "epoch", nn.NLLLoss()
    model = MnistCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.01, total_steps=steps
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    return model, optimizer, scheduler, "batch", loss_fn


@torch.no_grad()
def test_accuracy(model, X_test, y_test, device) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(X_test), 1000):
        X = X_test[start : start + 1000].to(device)
        y = y_test[start : start + 1000].to(device)
        correct += (model(X).argmax(dim=1) == y).sum().item()
    return correct / len(X_test)


def run_once(recipe: Recipe, data, device: torch.device, num_epochs: int):
    """Train from seed 0. Returns per-epoch test accuracies, the cumulative training
    wall time at the end of each epoch, and the total training CPU time."""
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
    model, optimizer, scheduler, step_every, loss_fn = build(recipe, steps)
    model.to(device)

    accs, walls, wall, cpu = [], [], 0.0, 0.0
    for _ in range(num_epochs):
        sync(device)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        model.train()
        for X, y in train_loader:
            X, y = X.to(device), y.to(device)
            loss = loss_fn(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step_every == "batch":
                scheduler.step()
        if step_every == "epoch":
            scheduler.step()
        sync(device)
        wall += time.perf_counter() - wall0
        cpu += time.process_time() - cpu0
        walls.append(wall)
        accs.append(test_accuracy(model, X_test, y_test, device))  # not timed
    return accs, walls, cpu


def time_to(accs, walls, target):
    """Training wall time at the end of the first epoch reaching target, or None."""
    return next((w for a, w in zip(accs, walls, strict=True) if a >= target), None)


def fmt_time(seconds, width):
    return f"{'-':>{width}}" if seconds is None else f"{seconds:{width}.1f}"


def fmt_ratio(num, den, width):
    if num is None or den is None:
        return f"{'-':>{width}}"
    return f"{num / den:{width}.2f}"


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
        help="runs of each CNN recipe (default 1)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 repeat, at most 2 epochs, 4096 training / 1024 test images",
    )
    parser.add_argument(
        "--only",
        choices=[r.key for r in RECIPES],
        action="append",
        help="run only this recipe (repeatable); ratios need notes_mlp and cnn",
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
        + (" | QUICK SMOKE RUN: numbers are not comparable" if args.quick else "")
    )
    print(f"data loading (once, shared by all recipes): {load_s:.1f} s")

    rows = []
    for recipe in RECIPES:
        if args.only and recipe.key not in args.only:
            continue
        if args.quick:
            repeats, num_epochs = 1, min(2, recipe.num_epochs)
        else:
            default = args.cnn_repeats if recipe.is_cnn else args.repeats
            repeats = default if default is not None else recipe.repeats_default
            num_epochs = recipe.num_epochs
        start = time.perf_counter()
        runs = [run_once(recipe, data, device, num_epochs) for _ in range(repeats)]
        accs = [statistics.median(r[0][e] for r in runs) for e in range(num_epochs)]
        walls = [statistics.median(r[1][e] for r in runs) for e in range(num_epochs)]
        cpu = statistics.median(r[2] for r in runs)
        reach = [time_to(accs, walls, t) for t in TARGETS]
        rows.append((recipe, repeats, num_epochs, accs, walls, cpu, reach))
        print(
            f"  {recipe.key}: {repeats} run(s) of {num_epochs} epochs in "
            f"{time.perf_counter() - start:.0f} s (load {os.getloadavg()[0]:.2f})",
            flush=True,
        )

    by_key = {row[0].key: row for row in rows}
    base, cnn = by_key.get("notes_mlp"), by_key.get("cnn")
    header = (
        f"{'recipe':40} {'epochs':>6} {'batch':>5} {'runs':>4} {'test acc':>8} "
        f"{'train s':>8} {'cpu s':>7} {'images/s':>9} {'to 99.0':>7} {'to 99.2':>7} "
        f"{'time/(a)':>8} {'img/s/(a)':>9} {'99.0/(c)':>8} {'99.2/(c)':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    for recipe, repeats, num_epochs, accs, walls, cpu, reach in rows:
        wall = walls[-1]
        ips = num_epochs * len(X_train) / wall
        if base is not None:
            base_ips = base[2] * len(X_train) / base[4][-1]
            ratios = f"{wall / base[4][-1]:8.2f} {ips / base_ips:9.2f}"
        else:
            ratios = f"{'-':>8} {'-':>9}"
        vs_cnn = " ".join(
            fmt_ratio(mine, cnn[6][i] if cnn else None, 8)
            for i, mine in enumerate(reach)
        )
        print(
            f"{recipe.label:40} {num_epochs:6d} {recipe.batch_size:5d} {repeats:4d} "
            f"{accs[-1]:8.4f} {wall:8.1f} {cpu:7.1f} {ips:9.0f} "
            f"{fmt_time(reach[0], 7)} {fmt_time(reach[1], 7)} {ratios} {vs_cnn}"
        )
    print()
    print("test accuracy after each epoch (training seconds so far in brackets):")
    for recipe, _, _, accs, walls, _, _ in rows:
        print(f"  {recipe.key:10}", end="")
        for e, (acc, wall) in enumerate(zip(accs, walls, strict=True), start=1):
            sep = "\n" + " " * 12 if e > 1 and (e - 1) % 5 == 0 else ""
            print(f"{sep} {e:2d}: {acc:.4f} ({wall:5.1f})", end="")
        print()
    print()
    print(
        f"1-minute load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} "
        f"after, on {os.cpu_count()} CPUs (other processes inflate the times)"
    )
    print(
        "train s: median training wall time over the runs (data in memory, test "
        "passes not included); cpu s: median process CPU time (all threads);\n"
        "images/s = epochs x training images / train s; to 99.0 / to 99.2: training "
        "seconds until the first epoch whose test accuracy reaches it;\n"
        "time/(a), img/s/(a): ratios to recipe (a); 99.0/(c), 99.2/(c): time to reach "
        "the target relative to recipe (c)."
    )


if __name__ == "__main__":
    main()
