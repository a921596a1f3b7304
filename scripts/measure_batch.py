"""Measure ``vrn-studio batch`` on this machine: photos/s of the local and Ray engines, Ray's
overhead on a small job, peak memory, and the per-stage costs behind docs/batch.md's arithmetic.

::

    python scripts/measure_batch.py --photos 24 --out benchmarks/batch/<machine>-<date>.json

The collection is the two sample photos, copied ``--photos`` times in all (the default outputs
of ``reconstruct``, the built-in model, the default landmarker, 60 smoothing iterations: what
``vrn-studio batch`` does by default). Each engine runs on a fresh output folder. Peak memory is
the largest resident set of this process and all its children (Ray's workers, raylet, object
store), sampled every 0.2 s from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq

from vrn_studio.image import sample_image_path
from vrn_studio.mesh import DEFAULT_SMOOTH
from vrn_studio.pipeline.batch import BatchOptions, run_batch

PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> int:
    """Resident bytes of process ``root`` and every descendant (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            rss[int(entry.name)] = int((entry / "statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class PeakMemory:
    """Samples :func:`_tree_rss` of this process in a thread; ``peak`` in bytes."""

    def __enter__(self) -> PeakMemory:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(os.getpid()))
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def collection(folder: Path, photos: int) -> Path:
    """``photos`` copies of the two sample photos in ``folder``."""
    folder.mkdir(parents=True)
    for i in range(photos):
        name = ("astronaut", "grace_hopper")[i % 2]
        shutil.copy(sample_image_path(name), folder / f"{i:04d}_{name}{sample_image_path(name).suffix}")
    return folder


def timed(source: Path, out: Path, options: BatchOptions, engine: str) -> dict[str, float]:
    """One run: wall seconds, photos/s, peak memory (MB), the median stage times of its photos
    (ms), the mean size of a photo's outputs (MB)."""
    with PeakMemory() as memory:
        start = time.perf_counter()
        run = run_batch(source, out, options, engine=engine)
        seconds = time.perf_counter() - start
    rows = pq.read_table(run.table).to_pylist()
    assert run.failed == 0, [row["error"] for row in rows if row["error"]]
    stages = {name[:-3]: round(statistics.median(row[name] for row in rows), 1)
              for name in rows[0] if name.endswith("_ms") and rows[0][name] is not None}
    return {"photos": len(rows), "seconds": round(seconds, 2), "photos_per_s": round(len(rows) / seconds, 3),
            "peak_memory_mb": round(memory.peak / 2**20), "median_stage_ms": stages,
            "output_mb_per_photo": round(statistics.mean(row["output_bytes"] for row in rows) / 2**20, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    options = BatchOptions({"model": "default", "smooth": DEFAULT_SMOOTH})
    figures: dict[str, object] = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                                  "date": time.strftime("%Y-%m-%d"), "options": "reconstruct's defaults"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = collection(Path(tmp) / "photos", args.photos)
        figures["local"] = timed(folder, Path(tmp) / "local", options, "local")
        one = collection(Path(tmp) / "one", 1)
        figures["local_one_photo"] = timed(one, Path(tmp) / "local-one", options, "local")
        import ray

        start = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        figures["ray_init_s"] = round(time.perf_counter() - start, 2)
        figures["ray"] = timed(folder, Path(tmp) / "ray", options, "ray")
        figures["ray_one_photo"] = timed(one, Path(tmp) / "ray-one", options, "ray")
        start = time.perf_counter()
        run_batch(folder, Path(tmp) / "ray", options, engine="ray")
        figures["ray_rerun_all_complete_s"] = round(time.perf_counter() - start, 2)
        ray.shutdown()
    print(json.dumps(figures, indent=1))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
