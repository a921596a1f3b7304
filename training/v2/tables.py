"""Print the markdown tables of training/v2/README.md from the result files of stage 2.

::

    python training/v2/tables.py training/results/v2-stage2

Each table row is one model's report of ``scripts/evaluate_ict_testset.py`` on the fixed ICT
test set (``MODEL-ict.json``); the reference rows come from the oracle report
(``oracle-ict.json``, ``--oracle-only``).
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


def rows(folder: Path) -> list[tuple[str, dict[str, dict[str, float]]]]:
    """(label, per-|yaw| summary) of each model report, then of each oracle reference."""
    found = []
    for path in sorted(folder.glob("*-ict.json")):
        if path.name != "oracle-ict.json":
            report = json.loads(path.read_text())
            found.append((path.name.removesuffix("-ict.json"), report["by_abs_yaw_degrees"]))
    oracle = folder / "oracle-ict.json"
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


def main() -> None:
    """Print the tables: NME, NME by part (mean over |yaw|), median normal error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    found = rows(parser.parse_args().folder)
    print("NME by |yaw| (degrees)\n\n" + table(found, "nme", 4) + "\n")
    print("NME of the nose part by |yaw|\n\n" + table(found, "nme_nose", 4) + "\n")
    print("Median normal error (degrees) by |yaw|\n\n" + table(found, "normal_error_median_degrees", 1) + "\n")
    print("NME by part, mean over the four |yaw|\n")
    print(f"| | {' | '.join(PARTS)} |\n|---|{'---:|' * len(PARTS)}")
    for label, by_yaw in found:
        cells = []
        for part in PARTS:
            values = [entry[f"mean_nme_{part}"] for entry in by_yaw.values() if f"mean_nme_{part}" in entry]
            cells.append(f"{sum(values) / len(values):.4f}" if values else "")
        print(f"| {label} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
