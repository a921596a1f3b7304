"""Loss curves and wall time of training runs, from their ``metrics.jsonl``.

::

    python scripts/plot_training.py runs/v2-soft runs/v2-binary --out training/results/v2-loss.png

One line per run: the per-step loss averaged over a window of ``--window`` steps, against
the step; the legend gives each run's steps, last epoch and wall time (the ``seconds``
column: training time, resumed runs included). Prints the same as a Markdown table. Losses
of runs with soft and binary targets differ by the soft targets' own entropy, so compare
their shapes, not their levels.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from vrn_studio._io import atomic_write


def read_metrics(run: Path) -> list[dict[str, float]]:
    """The records of ``run``/metrics.jsonl, one per step, in order."""
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each run of ``window`` consecutive values (shorter at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.maximum(np.arange(1, len(values) + 1) - window, 0)]) / counts


def main() -> int:
    """Plot every run given, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (out_dir of a training config)")
    parser.add_argument("--window", type=int, default=50, help="steps averaged per point (default 50)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = parser.parse_args()
    figure, axes = plt.subplots(figsize=(7, 4), dpi=120)
    print("| run | steps | epochs | wall time | loss, first / last window |")
    print("|---|---|---|---|---|")
    for run in args.runs:
        rows = read_metrics(run)
        steps = np.array([r["step"] for r in rows])
        loss = moving_average(np.array([r["loss"] for r in rows]), args.window)
        minutes = rows[-1]["seconds"] / 60
        axes.plot(steps, loss, label=f"{run.name}: {len(rows)} steps, {minutes:.0f} min")
        print(f"| {run.name} | {len(rows)} | {rows[-1]['epoch']} | {minutes:.1f} min | "
              f"{loss[min(args.window, len(loss)) - 1]:.4f} / {loss[-1]:.4f} |")
    axes.set_xlabel("step (batch of 8)")
    axes.set_ylabel(f"loss (mean of {args.window} steps)")
    axes.set_yscale("log")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    picture = io.BytesIO()
    figure.savefig(picture, format="png")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, picture.getvalue(), overwrite=True)
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
