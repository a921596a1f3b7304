"""``vrn-studio evaluate`` end to end on a fabricated dataset, with EllipsoidNet as the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fakes import EllipsoidNet
from test_dataset import write_sample

from vrn_studio.cli import evaluate_cmd
from vrn_studio.cli.main import main
from vrn_studio.pipeline import Reconstructor


@pytest.fixture
def ellipsoid_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the command reconstruct with EllipsoidNet on the CPU (no weights needed)."""
    monkeypatch.setattr(
        evaluate_cmd, "build_reconstructor", lambda args: Reconstructor(EllipsoidNet(), device="cpu")
    )


@pytest.mark.usefixtures("ellipsoid_model")
@pytest.mark.parametrize("icp", ["--icp", "--no-icp"])
def test_evaluate_writes_a_finite_nme_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], icp: str
) -> None:
    write_sample(tmp_path / "data", "a", with_3d=True)
    write_sample(tmp_path / "data", "b", mesh_format="ply")
    out = tmp_path / "report.json"
    assert main(["evaluate", str(tmp_path / "data"), icp, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["icp"] is (icp == "--icp") and report["model"] == "EllipsoidNet"
    assert (report["measured"], report["failed"]) == (2, 0)
    values = [row["nme"] for row in report["samples"]]
    assert all(np.isfinite(values)) and all(0 < v < 1 for v in values)
    assert report["mean_nme"] == pytest.approx(np.mean(values))
    assert all(row["region_vertices"] > 100 for row in report["samples"])
    printed = capsys.readouterr().out
    assert f"a: NME {values[0]:.4f}" in printed and f"mean NME {report['mean_nme']:.4f}" in printed
    assert main(["evaluate", str(tmp_path / "data"), "--out", str(out)]) == 2  # no silent overwrite
    assert "report.json exists; pass --overwrite" in capsys.readouterr().err


@pytest.mark.usefixtures("ellipsoid_model")
def test_a_failing_sample_is_reported_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_sample(tmp_path / "data", "a")
    out = tmp_path / "report.json"
    record = json.loads((tmp_path / "data" / "a.landmarks.json").read_text())
    record["landmarks_3d"] = np.zeros((68, 3)).tolist()  # zero interocular distance
    (tmp_path / "data" / "a.landmarks.json").write_text(json.dumps(record))
    assert main(["evaluate", str(tmp_path / "data"), "--out", str(out)]) == 1
    report = json.loads(out.read_text())
    assert report["mean_nme"] is None and report["failed"] == 1 and "error" in report["samples"][0]
    assert "failed: a:" in capsys.readouterr().err


def test_without_weights_it_fails_with_the_weights_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sample(tmp_path / "data", "a")
    assert main(["evaluate", str(tmp_path / "data"), "--out", str(tmp_path / "r.json")]) == 2
    assert "is not installed" in capsys.readouterr().err and not (tmp_path / "r.json").exists()


def test_a_bad_dataset_fails_before_any_model_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(tmp_path / "missing"), "--format", "aflw2000"]) == 2
    assert "missing does not exist" in capsys.readouterr().err
