"""``vrn-studio train``: train a VRN variant from a TOML/JSON config (torchrun-aware)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
    p = sub.add_parser(
        "train",
        help="train VRN / VRN-Guided / VRN-Multitask from a config file",
        description="Train a network with the paper's loss and RMSProp schedule, writing a checkpoint every "
        "epoch and a metrics log (JSON lines) to the config's out_dir. Launch with torchrun for several "
        "GPUs or nodes.",
    )
    p.add_argument("config", type=Path, help="training config (.toml or .json); see vrn_studio.train.config")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 (default: auto)")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="CKPT",
        help="checkpoint JSON (or run folder: its latest checkpoint) to continue from",
    )
    p.add_argument(
        "--until-epoch",
        type=int,
        metavar="N",
        help="stop after epoch N's checkpoint (the schedule stays the config's; --resume goes on later)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the config and its dataset, train, print the last checkpoint's path."""
    from vrn_studio.train.config import TrainConfig
    from vrn_studio.train.loop import build_dataset, train

    config = TrainConfig.load(args.config)
    dataset = build_dataset(config, progress=args.progress)
    last = train(config, dataset, device=args.device, resume=args.resume, progress=args.progress,
                 until_epoch=args.until_epoch)
    print(f"last checkpoint: {last}")
    return 0
