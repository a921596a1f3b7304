"""Print the markdown tables of training/v2/README.md and the model card from a results folder.

::

    python training/v2/tables.py training/results/v2-stage2
    python training/v2/tables.py training/results/head-fit --set mediapipe

Each table row is one model's report of ``scripts/evaluate_ict_testset.py`` on a fixed test
set (``NAME-ict.json``, or ``NAME-mediapipe.json`` with ``--set mediapipe``); the reference
rows come from the oracle report (``oracle-ict.json``, ``--oracle-only``). Reports of
``scripts/evaluate_model.py`` on the sample photos (``NAME-photos.json``) make one more table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PARTS = ("jaw", "brows", "nose", "eyes", "mouth")
REFERENCES = {
    "binary_targets": "the face's own target (oracle)",
    "binary_96px_targets": "its target at 96 px, resampled",
    "another_face_targets": "another face's exact target",
}


def rows(folder: Path, test_set: str = "ict") -> list[tuple[str, dict[str, dict[str, float]]]]:
    """(label, per-|yaw| summary) of each model report on ``test_set``, then of each oracle reference."""
    found = []
    for path in sorted(folder.glob(f"*-{test_set}.json")):
        if not path.name.startswith("oracle-"):
            report = json.loads(path.read_text())
            found.append((path.name.removesuffix(f"-{test_set}.json"), report["by_abs_yaw_degrees"]))
    oracle = folder / f"oracle-{test_set}.json"
    if oracle.is_file():
        by_yaw = json.loads(oracle.read_text())["by_abs_yaw_degrees"]
        for key, label in REFERENCES.items():
            found.append((label, {yaw: entry["oracle"][key] for yaw, entry in by_yaw.items()}))
    return found


def table(found: list[tuple[str, dict[str, dict[str, float]]]], figure: str, digits: int) -> str:
    """One markdown table: a row per model, a column per |yaw|, mean ``figure``."""
    yaws = list(found[0][1])
    lines = [f"| | {' | '.join(yaws)} |", f"|---|{'---:|' * len(yaws)}"]
    for label, by_yaw in found:
        cells = [f"{by_yaw[y][f'mean_{figure}']:.{digits}f}" if f"mean_{figure}" in by_yaw[y] else "" for y in yaws]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def photos_table(folder: Path) -> str:
    """One markdown table of the ``*-photos.json`` reports: the real-photo checks and photo-to-mesh time."""
    lines = ["| | photo | coverage | spread | IoU | nose | photo to mesh (ms) |", "|---|---|---:|---:|---:|---:|---:|"]
    for path in sorted(folder.glob("*-photos.json")):
        for photo, figures in json.loads(path.read_text())["real_photos"].items():
            milliseconds = sum(figures["median_ms"].values())
            lines.append(f"| {path.name.removesuffix('-photos.json')} | {photo} | {figures['silhouette_coverage']:.3f} | "
                         f"{figures['silhouette_spread']:.2f} | {figures['silhouette_iou']:.3f} | "
                         f"{figures['nose_protrusion']:.3f} | {milliseconds:.0f} |")
    return "\n".join(lines)


def main() -> None:
    """Print the tables: NME, NME by part (mean over |yaw|), normal error; the photos' checks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--set", default="ict", dest="test_set", help="test set of the reports (default: ict)")
    args = parser.parse_args()
    found = rows(args.folder, args.test_set)
    print("NME by |yaw| (degrees)\n\n" + table(found, "nme", 4) + "\n")
    print("NME of the nose part by |yaw|\n\n" + table(found, "nme_nose", 4) + "\n")
    print("Mean normal error (degrees) by |yaw|\n\n" + table(found, "normal_error_degrees", 1) + "\n")
    print("Median normal error (degrees) by |yaw|\n\n" + table(found, "normal_error_median_degrees", 1) + "\n")
    print("NME by part, mean over the four |yaw|\n")
    print(f"| | {' | '.join(PARTS)} |\n|---|{'---:|' * len(PARTS)}")
    for label, by_yaw in found:
        cells = []
        for part in PARTS:
            values = [entry[f"mean_nme_{part}"] for entry in by_yaw.values() if f"mean_nme_{part}" in entry]
            cells.append(f"{sum(values) / len(values):.4f}" if values else "")
        print(f"| {label} | {' | '.join(cells)} |")
    if any(args.folder.glob("*-photos.json")):
        print("\nThe sample photos (scripts/evaluate_model.py)\n\n" + photos_table(args.folder))


if __name__ == "__main__":
    main()
