"""The weights store: manifests, search order, checksums, loading, pickle refusal."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from t7_writer import SMALL_CONFIG, write_small_vrn

from vrn_studio.errors import WeightsError
from vrn_studio.weights import (
    ENV_VAR,
    Manifest,
    find_model,
    import_t7,
    list_models,
    load_model,
    search_paths,
    sha256_file,
    verify_model,
)
from vrn_studio.weights import store as store_module
from vrn_studio.weights.store import project_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """A folder holding one imported small model, ``small.safetensors`` + ``small.json``."""
    folder = tmp_path_factory.mktemp("imported")
    import_t7(write_small_vrn(folder / "small.t7"), out_dir=folder, name="small")
    (folder / "small.t7").unlink()
    return folder


@pytest.fixture
def store(tmp_path, monkeypatch) -> dict[str, Path]:
    """Isolated search folders: two from the environment variable and the user folder."""
    folders = {
        "env1": tmp_path / "env1",
        "env2": tmp_path / "env2",
        "user": tmp_path / "user-data" / "weights",
    }
    for folder in folders.values():
        folder.mkdir(parents=True)
    monkeypatch.setenv(ENV_VAR, f"{folders['env1']}{os.pathsep}{folders['env2']}")
    monkeypatch.setattr(store_module, "user_dir", lambda: folders["user"])
    return folders


def _install(imported: Path, folder: Path, name: str = "small") -> Path:
    """Copy the imported model into ``folder`` under ``name``; return its manifest path."""
    manifest = Manifest.read(imported / "small.json")
    shutil.copy(imported / "small.safetensors", folder / f"{name}.safetensors")
    renamed = dataclasses.replace(manifest, name=name, file=f"{name}.safetensors")
    return renamed.write(folder / f"{name}.json")


# ---------------------------------------------------------------- manifest


def test_manifest_round_trip_and_validation(tmp_path, imported):
    manifest = Manifest.read(imported / "small.json")
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert manifest.created.endswith("+00:00")
    with pytest.raises(WeightsError, match="missing sha256"):
        Manifest.from_json(
            json.dumps({k: v for k, v in json.loads(manifest.to_json()).items() if k != "sha256"})
        )
    with pytest.raises(WeightsError, match="size should be an integer"):
        Manifest.from_json(manifest.to_json().replace(f'"size": {manifest.size}', '"size": "big"'))
    with pytest.raises(WeightsError, match="x.json is not a valid manifest"):
        Manifest.from_json("{", origin="x.json")


def test_sha256_file_streams(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc" * 1_000_000)
    assert sha256_file(path) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()


# ---------------------------------------------------------------- search order


def test_search_path_order(store, shipped_weights):
    assert search_paths() == [store["env1"], store["env2"], store["user"], project_dir()]
    assert project_dir() == REPO_ROOT / "weights"


def test_first_folder_wins_and_list_shows_all(store, imported):
    _install(imported, store["user"])
    env_manifest = _install(imported, store["env2"])
    entries = [(e.name, e.location) for e in list_models() if e.name == "small"]
    assert entries == [("small", "env"), ("small", "user")]
    assert find_model("small").path == env_manifest


def test_non_manifest_json_is_skipped_with_a_warning(store, caplog):
    (store["env1"] / "notes.json").write_text("[1, 2]")
    with caplog.at_level(logging.WARNING):
        assert [e for e in list_models() if e.path.name == "notes.json"] == []
    assert "notes.json" in caplog.text


def test_missing_model_says_where_it_looked_and_what_to_run(store):
    with pytest.raises(WeightsError) as info:
        load_model("vrn-unguided")
    message = str(info.value)
    assert "'vrn-unguided' is not installed" in message
    assert str(store["env1"]) in message and str(store["user"]) in message
    assert "vrn-studio weights download vrn-unguided" in message
    assert "vrn-studio weights import vrn-unguided.t7" in message
    with pytest.raises(WeightsError, match="'vrn-unguided' is not installed"):
        load_model()


# ---------------------------------------------------------------- loading


def test_load_by_name_default_and_path(store, imported):
    manifest_path = _install(imported, store["user"], name="vrn-unguided")
    by_name = load_model("vrn-unguided", dtype=torch.float64, norm="running")
    assert by_name.manifest.architecture == {"in_channels": 3, **SMALL_CONFIG}
    assert not by_name.model.training and next(by_name.model.parameters()).dtype == torch.float64
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    by_default = load_model()
    by_path = load_model(manifest_path.with_suffix(".safetensors"))
    with torch.no_grad():
        torch.testing.assert_close(by_default.model(x), by_path.model(x), rtol=0, atol=0)
    verify_model(find_model("vrn-unguided"))


def test_corrupt_weights_name_both_hashes(store, imported):
    manifest_path = _install(imported, store["user"])
    weights = manifest_path.with_suffix(".safetensors")
    expected = Manifest.read(manifest_path).sha256
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError) as info:
        load_model("small")
    assert expected in str(info.value) and sha256_file(weights) in str(info.value)
    with pytest.raises(WeightsError, match="is missing"):
        weights.unlink()
        verify_model(find_model("small"))


class _Marker:
    """Unpickling this creates ``path``: proof that a file was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".ckpt", ".safetensors"])
def test_pickle_checkpoints_are_refused_and_never_unpickled(tmp_path, suffix):
    marker = tmp_path / "unpickled"
    checkpoint = tmp_path / f"evil{suffix}"
    checkpoint.write_bytes(pickle.dumps({"state": _Marker(marker)}, protocol=4))
    Manifest(
        name="evil",
        file=checkpoint.name,
        sha256=sha256_file(checkpoint),
        size=checkpoint.stat().st_size,
        source="nowhere",
        licence="none",
        architecture=SMALL_CONFIG,
    ).write(tmp_path / "evil.json")
    for target in (checkpoint, tmp_path / "evil.json"):
        with pytest.raises(WeightsError, match="pickle-based PyTorch checkpoint.*never loads"):
            load_model(target)
    assert not marker.exists()


def test_torch_zip_checkpoint_is_refused(tmp_path):
    checkpoint = tmp_path / "model.bin"
    torch.save({"w": torch.zeros(1)}, checkpoint)
    (tmp_path / "model.json").write_text(
        Manifest(
            name="m",
            file="model.bin",
            sha256=sha256_file(checkpoint),
            size=checkpoint.stat().st_size,
            source="-",
            licence="-",
            architecture=SMALL_CONFIG,
        ).to_json()
    )
    with pytest.raises(WeightsError, match="pickle-based"):
        load_model(checkpoint)


def test_t7_path_points_to_import(tmp_path):
    t7 = write_small_vrn(tmp_path / "x.t7")
    with pytest.raises(WeightsError, match="weights import"):
        load_model(t7)


# ---------------------------------------------------------------- the project weights folder


def test_every_file_in_project_weights_has_a_correct_manifest():
    folder = REPO_ROOT / "weights"
    files = {p.name for p in folder.iterdir() if p.is_file()} - {"README.md"} if folder.is_dir() else set()
    manifests = [Manifest.read(folder / name) for name in files if name.endswith(".json")]
    cards = {f"{m.name}.md" for m in manifests}  # a model card may sit beside its model
    covered = {m.file for m in manifests} | {name for name in files if name.endswith(".json")} | cards
    assert files <= covered, f"files without a manifest in weights/: {sorted(files - covered)}"
    for manifest in manifests:
        weights = folder / manifest.file
        assert weights.stat().st_size == manifest.size < 50_000_000
        assert sha256_file(weights) == manifest.sha256
        assert manifest.source and manifest.licence
