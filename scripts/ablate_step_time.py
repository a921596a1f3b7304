"""Seconds per training step of candidate built-in models on this machine: ``python scripts/ablate_step_time.py``.

The cost half of the model-size ablation (issue 14, part 3): for each candidate (input size,
depth bins, width, stacks) one VRN-Guided training step (forward, the paper's loss, backward,
RMSProp) on a batch of 8 random crops with random soft targets, timed as the median of
``--steps`` steps after one warm-up step, with torch's threads as training uses them. Writes
``training/results/ablation-step-time.json`` and prints a Markdown table. The error half comes
from short training runs of the candidates this table leaves in play.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vrn_studio._io import atomic_write
from vrn_studio.train.config import TrainConfig
from vrn_studio.train.loop import build_model, compute_loss

CANDIDATES: tuple[tuple[int, int, int, int], ...] = (
    # (input_size, depth_bins, features, stacks); v1 is (96, 100, 64, 2)
    (96, 100, 64, 2),
    (96, 100, 64, 1),
    (96, 100, 64, 3),
    (96, 100, 96, 2),
    (96, 100, 128, 2),
    (96, 200, 64, 2),
    (192, 200, 64, 2),
    (192, 200, 32, 2),
)


def step_seconds(input_size: int, depth_bins: int, features: int, stacks: int, steps: int) -> dict[str, float]:
    """Median and spread of one training step's wall time (s) for one candidate, and its parameters."""
    config = TrainConfig(variant="guided", input_size=input_size, depth_bins=depth_bins, features=features,
                         stacks=stacks, hourglass_depth=4, batch_size=8, amp=False)
    torch.manual_seed(0)
    model = build_model(config).train()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=config.lr)
    batch = {
        "image": torch.rand(8, 3, input_size, input_size),
        "volume": torch.rand(8, depth_bins, input_size, input_size),
        "landmarks": torch.rand(8, 68, 2) * input_size,
    }
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss, _ = compute_loss(model, model, batch, config)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    times = times[1:]
    return {
        "seconds_per_step_median": round(statistics.median(times), 3),
        "seconds_per_step_min": round(min(times), 3),
        "seconds_per_step_max": round(max(times), 3),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def main() -> int:
    """Time every candidate, write the JSON, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per candidate (default 5)")
    parser.add_argument("--out", type=Path, default=ROOT / "training" / "results" / "ablation-step-time.json")
    args = parser.parse_args()
    rows = []
    for input_size, depth_bins, features, stacks in CANDIDATES:
        row = {"input_size": input_size, "depth_bins": depth_bins, "features": features, "stacks": stacks}
        row |= step_seconds(input_size, depth_bins, features, stacks, args.steps)
        rows.append(row)
        print(row, flush=True)
    report = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpu_threads": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__},
        "batch_size": 8,
        "variant": "guided",
        "hourglass_depth": 4,
        "load_average_at_end": os.getloadavg(),
        "candidates": rows,
    }
    atomic_write(args.out, (json.dumps(report, indent=1) + "\n").encode("utf-8"), overwrite=True)
    print("\n| input | depth bins | features | stacks | parameters | s/step (median) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['input_size']} | {r['depth_bins']} | {r['features']} | {r['stacks']} | "
              f"{r['parameters']:,} | {r['seconds_per_step_median']:.2f} |")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
