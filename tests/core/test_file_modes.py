"""Every file VRN Studio writes gets the permissions the user's umask gives a new file.

Atomic writes go through a temporary file (created owner-only by ``mkstemp``) that is
renamed over the target; the renamed file must still carry ``0o666 & ~umask``, and a
replaced file keeps the mode it had. Each test runs under two umasks.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fakes import ASTRONAUT_LANDMARKS, EllipsoidNet

from vrn_studio._io import atomic_write, current_umask
from vrn_studio.image import sample_image_path
from vrn_studio.model import VRN
from vrn_studio.pipeline import Reconstructor
from vrn_studio.pipeline.save import output_names, save_result


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under ``request.param`` as the process umask; yield the mode a new file gets."""
    previous = os.umask(request.param)
    try:
        yield 0o666 & ~request.param
    finally:
        os.umask(previous)


def modes(folder: Path) -> dict[str, int]:
    """Permission bits of every file under ``folder``, by path relative to it."""
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_current_umask_reads_the_process_mask_without_changing_it(mask: int) -> None:
    previous = os.umask(mask)
    try:
        assert current_umask() == mask
        assert current_umask() == mask
    finally:
        assert os.umask(previous) == mask


def test_a_new_file_gets_the_umask_mode_and_a_replaced_one_keeps_its_own(tmp_path: Path, umask: int) -> None:
    new = atomic_write(tmp_path / "new.bin", b"x")
    assert stat.S_IMODE(new.stat().st_mode) == umask
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    atomic_write(kept, b"new", overwrite=True)
    assert kept.read_bytes() == b"new" and stat.S_IMODE(kept.stat().st_mode) == 0o640


def test_every_reconstruction_output_gets_the_umask_mode(tmp_path: Path, umask: int) -> None:
    result = Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu", head_fit="ict").reconstruct(
        sample_image_path("astronaut"), face=ASTRONAUT_LANDMARKS
    )  # with a fitted head, so that every output, rigged-glb too, is written
    written = save_result(result, tmp_path / "out", outputs=output_names())
    assert len(written) == len(output_names()) + 2  # textured-obj writes an OBJ, its MTL and its PNG
    assert set(modes(tmp_path / "out").values()) == {umask}


def test_installed_weights_and_manifests_get_the_umask_mode(tmp_path: Path, umask: int) -> None:
    from vrn_studio.weights.store import save_model

    save_model(VRN(features=8, stacks=1, hourglass_depth=1), tmp_path, "tiny", source="test", licence="MIT",
               architecture={"features": 8, "stacks": 1, "hourglass_depth": 1})
    assert modes(tmp_path) == {"tiny.safetensors": umask, "tiny.json": umask}


def test_training_checkpoints_get_the_umask_mode(tmp_path: Path, umask: int) -> None:
    from vrn_studio.train.config import TrainConfig
    from vrn_studio.train.loop import save_checkpoint

    model = VRN(features=8, stacks=1, hourglass_depth=1)
    optimizer = torch.optim.RMSprop(model.parameters())
    save_checkpoint(tmp_path / "epoch-0001.json", model, optimizer, torch.amp.GradScaler(enabled=False),
                    TrainConfig(out_dir=tmp_path), epoch=1, step=1, elapsed=0.0)
    assert len(modes(tmp_path)) == 3 and set(modes(tmp_path).values()) == {umask}


def test_the_onnx_cache_gets_the_umask_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int) -> None:
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("VRN_STUDIO_CACHE", str(tmp_path))
    net = VRN(features=8, stacks=1, depth_bins=8, hourglass_depth=1, input_size=32).eval()
    Reconstructor(net, device="cpu", runtime="onnxruntime")
    assert len(modes(tmp_path)) == 1 and set(modes(tmp_path).values()) == {umask}


def test_the_apps_settings_get_the_umask_mode(tmp_path: Path, umask: int) -> None:
    from vrn_studio.gui.settings import AppSettings, SettingsStore

    SettingsStore(tmp_path / "settings.ini").save(AppSettings(theme="dark"))
    assert modes(tmp_path) == {"settings.ini": umask}


def test_benchmark_results_get_the_umask_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int) -> None:
    from vrn_studio.cli import benchmark_cmd

    monkeypatch.setattr("vrn_studio.bench.run_benchmark", lambda **_: "result")
    monkeypatch.setattr("vrn_studio.bench.result_file_name", lambda _: "bench.json")
    monkeypatch.setattr("vrn_studio.bench.format_markdown", lambda _: "table")
    monkeypatch.setattr("vrn_studio.bench.runner.as_json", lambda _: {"ok": True})
    parser = argparse.ArgumentParser()
    benchmark_cmd.register(parser.add_subparsers())
    assert benchmark_cmd.run(parser.parse_args(["benchmark", "--out", str(tmp_path)])) == 0
    assert modes(tmp_path) == {"bench.json": umask}
    assert json.loads((tmp_path / "bench.json").read_text()) == {"ok": True}
