"""Batch reconstruction of a collection (vrn_studio.pipeline.batch, ``vrn-studio batch``): inputs,
bad photos, the results table, resuming after a kill; the Ray engine on a local instance."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fakes import EllipsoidNet

from vrn_studio.cli.main import main
from vrn_studio.errors import ImageError, VrnStudioError
from vrn_studio.export import read_glb
from vrn_studio.image import sample_image_path
from vrn_studio.pipeline.batch import (
    RECORDS_DIR,
    TABLE_COLUMNS,
    BatchOptions,
    Photo,
    collect_photos,
    read_photo,
    run_batch,
)

TESTS = Path(__file__).resolve().parents[1]
OPTIONS = BatchOptions({"model": EllipsoidNet(blob=False), "landmarker": "dlib", "device": "cpu"},
                       outputs=("glb", "landmarks"))


def make_collection(folder: Path, photos: int = 3) -> Path:
    """``photos`` copies of the sample photo (one in a subfolder), plus three bad files: not an
    image, a JPEG cut short, and a grey picture without a face."""
    (folder / "sub").mkdir(parents=True)
    for i in range(photos):
        shutil.copy(sample_image_path("astronaut"), folder / ("sub" if i == 0 else ".") / f"p{i}.png")
    (folder / "notes.jpg").write_text("not a photo")
    (folder / "cut.jpg").write_bytes(sample_image_path("grace_hopper").read_bytes()[:2000])
    grey = np.full((200, 200, 3), 128, np.uint8)
    from PIL import Image

    Image.fromarray(grey).save(folder / "grey.png")
    return folder


def table(out: Path) -> dict[str, dict]:
    return {row["key"]: row for row in pq.read_table(out / "results.parquet").to_pylist()}


def test_collections_from_a_folder_a_glob_and_manifests(tmp_path: Path) -> None:
    folder = make_collection(tmp_path / "shoot")
    shutil.copy(sample_image_path("astronaut"), folder / "p1.jpg")  # p1.png and p1.jpg: two keys
    keys = [p.key for p in collect_photos(folder)]
    assert keys == ["cut", "grey", "notes", "p1", "p1_2", "p2", "sub/p0"]
    assert [p.key for p in collect_photos(f"{folder}/**/p*.png")] == ["p1", "p2", "sub/p0"]
    (tmp_path / "list.csv").write_text("path,who\nshoot/p2.png,x\nshoot/sub/p0.png,y\n")
    assert [(Path(p.path).name, p.key) for p in collect_photos(tmp_path / "list.csv")] == [("p2.png", "p2"),
                                                                                            ("p0.png", "sub/p0")]
    uri = (folder / "p2.png").resolve().as_uri()
    pq.write_table(pa.table({"path": [uri]}), tmp_path / "list.parquet")
    (photo,) = collect_photos(tmp_path / "list.parquet")
    assert photo.path == uri and read_photo(uri).shape == (512, 512, 3)  # read through pyarrow's file systems
    with pytest.raises(ImageError):
        read_photo((folder / "notes.jpg").resolve().as_uri())
    (tmp_path / "bad.csv").write_text("file\na.jpg\n")
    with pytest.raises(VrnStudioError, match="no 'path' column"):
        collect_photos(tmp_path / "bad.csv")
    with pytest.raises(VrnStudioError, match="No photos"):
        collect_photos(f"{folder}/*.tif")


def test_bad_photos_are_rows_and_a_rerun_redoes_only_what_is_missing(tmp_path: Path) -> None:
    folder = make_collection(tmp_path / "shoot")
    out = tmp_path / "out"
    run = run_batch(folder, out, OPTIONS, csv=True)
    assert (run.done, run.reused, run.failed) == (3, 0, 3)
    rows = table(out)
    assert pq.read_table(out / "results.parquet").column_names == list(TABLE_COLUMNS)
    assert {k: r["status"] for k, r in rows.items()} == {"cut": "error", "grey": "error", "notes": "error",
                                                          "p1": "ok", "p2": "ok", "sub/p0": "ok"}
    assert "not an image file" in rows["notes"]["error"] and "face" in rows["grey"]["error"].lower()
    ok = rows["sub/p0"]
    assert ok["outputs"] == ["sub/p0.glb", "sub/p0_landmarks.json"] and ok["faces"] == 1
    assert ok["model"] == "EllipsoidNet" and ok["network_ms"] > 0 and ok["output_bytes"] == sum(
        (out / name).stat().st_size for name in ok["outputs"])
    assert (out / "results.csv").read_text().count("\n") == 7
    # Again: the complete photos are kept (checked: a truncated output is redone), the failed retried.
    glb = out / "p2.glb"
    glb.write_bytes(glb.read_bytes()[:100])
    again = run_batch(folder, out, OPTIONS)
    assert (again.done, again.reused, again.failed) == (1, 2, 3)
    assert read_glb(glb.read_bytes())[0]["meshes"] and table(out)["p2"]["reused"] is False
    other = run_batch(folder, out, BatchOptions(OPTIONS.reconstructor, outputs=("ply",)))
    assert other.reused == 0 and (out / "p2.ply").is_file()  # other outputs asked for: redone


def test_a_killed_driver_loses_only_the_photo_in_flight(tmp_path: Path) -> None:
    folder = tmp_path / "shoot"
    folder.mkdir()
    for i in range(12):
        shutil.copy(sample_image_path("astronaut"), folder / f"p{i:02d}.png")
    out = tmp_path / "out"
    script = (f"import sys; sys.path[:0] = [{str(TESTS)!r}, {str(TESTS / 'core')!r}]; from test_batch import OPTIONS; "
              f"from vrn_studio.pipeline.batch import run_batch; run_batch({str(folder)!r}, {str(out)!r}, OPTIONS)")
    child = subprocess.Popen([sys.executable, "-c", script])
    records = out / RECORDS_DIR
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline and len(list(records.glob("*.json"))) < 3:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    kept = len(list(records.glob("*.json")))
    assert 3 <= kept < 12 and not (out / "results.parquet").exists()
    for glb in out.glob("*.glb"):  # no final name holds a partial file, finished or not
        assert read_glb(glb.read_bytes())[0]["meshes"]
    run = run_batch(folder, out, OPTIONS)
    assert (run.reused, run.done, run.failed) == (kept, 12 - kept, 0)


def test_cli_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_collection(tmp_path / "shoot", photos=1)
    out = tmp_path / "out"
    # No weights in the tests' store: the command says so and writes detection outputs.
    assert main(["batch", str(folder), "-o", str(out), "-f", "landmarks,crop", "--landmarker", "dlib", "--csv"]) == 1
    captured = capsys.readouterr()
    assert "4 photo(s): 1 reconstructed, 0 kept from before, 3 failed" in captured.out
    assert "running face detection and crop only" in captured.err
    assert (out / "sub" / "p0_landmarks.json").is_file() and (out / "results.csv").is_file()
    assert main(["batch", str(tmp_path / "none"), "-o", str(out)]) == 2
    assert "not a folder, a manifest" in capsys.readouterr().err
    assert main(["batch", str(folder), "-o", str(out), "--address", "x:1"]) == 2


def test_the_ray_engine_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as where it is not installed
    with pytest.raises(VrnStudioError, match=r"vrn-studio\[cluster\]"):
        run_batch([Photo(str(sample_image_path()), "a")], tmp_path, OPTIONS, engine="ray")


@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance of two CPUs. Without the cluster extra the Ray tests skip, except on
    CI (which installs it), where they fail."""
    if os.environ.get("CI"):
        import ray
    else:
        ray = pytest.importorskip("ray", reason="the cluster extra is not installed (pip install 'vrn-studio[cluster]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(TESTS)}})  # workers unpickle the fake network from fakes
    yield ray
    ray.shutdown()


def test_the_ray_engine_makes_what_the_local_one_makes(ray_instance, tmp_path: Path) -> None:
    folder = make_collection(tmp_path / "shoot", photos=4)
    local = run_batch(folder, tmp_path / "local", OPTIONS)
    distributed = run_batch(folder, tmp_path / "ray", OPTIONS, engine="ray")
    assert (distributed.done, distributed.failed) == (local.done, local.failed) == (4, 3)
    rows, reference = table(tmp_path / "ray"), table(tmp_path / "local")
    assert {k: (r["status"], r["faces"], r["outputs"]) for k, r in rows.items()} == {
        k: (r["status"], r["faces"], r["outputs"]) for k, r in reference.items()}
    assert rows["p1"]["network_ms"] > 0 and rows["notes"]["error"] == reference["notes"]["error"]
    for name in ("p1.glb", "sub/p0_landmarks.json"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    again = run_batch(folder, tmp_path / "ray", OPTIONS, engine="ray")
    assert (again.reused, again.done, again.failed) == (4, 0, 3)


def ray_stage_workers() -> list[int]:
    """PIDs of the Ray workers running a crop or mesh task now (Linux: their titles in /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            title = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "ray::Map(_crop)" in title or "ray::Map(_mesh)" in title:
            found.append(int(entry.name))
    return found


def test_the_ray_engine_survives_a_killed_worker(ray_instance, tmp_path: Path) -> None:
    folder = tmp_path / "shoot"
    folder.mkdir()
    for i in range(10):
        shutil.copy(sample_image_path("astronaut"), folder / f"p{i:02d}.png")
    out = tmp_path / "out"
    finished: list = []
    job = threading.Thread(target=lambda: finished.append(run_batch(folder, out, OPTIONS, engine="ray")))
    job.start()
    killed = []
    deadline = time.monotonic() + 120
    while not killed and time.monotonic() < deadline and job.is_alive():
        for pid in ray_stage_workers()[:1]:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        time.sleep(0.05)
    job.join(300)
    assert killed and finished, "a worker was killed and the job still finished"
    run = finished[0]
    assert (run.done, run.failed) == (10, 0)
    assert not [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".") and p.suffix == ".part"]
