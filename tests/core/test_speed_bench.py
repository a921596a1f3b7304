"""The benchmark tools (vrn_studio.bench): statistics, synthetic inputs, paths, live loop, report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from fakes import ASTRONAUT_LANDMARKS, EllipsoidNet

from conftest import PROJECT_WEIGHTS
from vrn_studio.bench import (
    STAGES,
    Stats,
    choose_fastest,
    faithfulness,
    format_markdown,
    format_summary,
    head_volume,
    run_live,
    write_test_video,
)
from vrn_studio.bench.suite import PathConfig, run_paths
from vrn_studio.cli import benchmark_cmd
from vrn_studio.image import sample_image_path
from vrn_studio.mesh import remove_bumps, volume_to_mesh
from vrn_studio.pipeline import Reconstructor

ROOT = Path(__file__).resolve().parents[2]
LANDMARKS = ASTRONAUT_LANDMARKS


def test_stats_in_milliseconds() -> None:
    stats = Stats.of([0.003, 0.001, 0.002])
    assert (stats.median, stats.min, stats.max, stats.n) == (2.0, 1.0, 3.0, 3)
    assert stats.p10 == pytest.approx(1.2) and stats.scaled(0.5).median == 1.0


def test_synthetic_head_has_two_detached_blobs() -> None:
    bumps = remove_bumps(volume_to_mesh(head_volume()))
    assert len(bumps.removed_sizes) == 2
    assert 80_000 < bumps.kept_size < 150_000  # as many vertices as a real VRN face mesh


def test_faithfulness_of_identical_and_shifted_volumes() -> None:
    volume = head_volume(blobs=0)
    same = faithfulness(volume, volume)
    assert same["occupied_iou"] == 1.0 and same["mesh_max_px"] == 0.0 and same["max_abs_probability"] == 0.0
    shifted = faithfulness(volume, np.roll(volume, 1, axis=2))
    assert shifted["occupied_iou"] < 1.0 and 0.3 < shifted["mesh_mean_px"] < 1.0


def test_the_fastest_faithful_variant_wins() -> None:
    fast_unfaithful = {"occupied_iou": 0.99, "mesh_mean_px": 0.2}
    faithful = {"occupied_iou": 0.9999, "mesh_mean_px": 0.01}
    variants = [
        {"name": "fp32", "batch": 1, "per_crop_ms": {"median": 10.0}, "faithfulness": faithful},
        {"name": "bf16", "batch": 1, "per_crop_ms": {"median": 5.0}, "faithfulness": fast_unfaithful},
        {"name": "batch", "batch": 8, "per_crop_ms": {"median": 4.0}, "faithfulness": faithful},
        {"name": "broken", "error": "no compiler"},
        {"name": "fp16", "batch": 1, "per_crop_ms": {"median": 7.0}, "faithfulness": faithful},
    ]
    assert choose_fastest(variants) == "fp16"
    assert choose_fastest(variants, faithful=False) == "bf16"


@pytest.fixture(scope="module")
def ellipsoid_rec() -> Reconstructor:
    return Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu")


def test_live_path_on_a_video_file(tmp_path: Path, ellipsoid_rec: Reconstructor) -> None:
    video = write_test_video(tmp_path / "pan.avi", sample_image_path("astronaut"), seconds=2)
    assert len(video.offsets) == 60 and video.path.stat().st_size > 0
    report = run_live(ellipsoid_rec, video.path, seconds=2.5, landmarks=video.landmarks(LANDMARKS), skip=1)
    assert report["meshes"] >= 3 and report["no_face"] == 0 and report["fps"] > 0
    assert report["frames_delivered"] > report["meshes"]  # real-time playback: slow frames are dropped
    assert report["latency_ms"]["median"] > 0 and "network" in report["stage_median_ms"]


def test_baseline_and_optimised_paths_give_the_same_mesh(ellipsoid_rec: Reconstructor) -> None:
    configs = [
        PathConfig("baseline", ellipsoid_rec, occupied_only=False, mesh_method="skimage", bump_method="reference",
                   description="b"),
        PathConfig("optimised", ellipsoid_rec, occupied_only=True, mesh_method="auto", bump_method="fast",
                   description="o"),
    ]
    report = run_paths(configs, sample_image_path("astronaut"), repeat=1, warmup=0, sync=lambda: None,
                       landmarks=LANDMARKS)
    for name in ("baseline", "optimised"):
        assert set(report[name]["stages"]) == set(STAGES) and report[name]["total"]["n"] == 1
    fidelity = report["optimised"]["faithfulness"]
    assert fidelity["occupied_iou"] == 1.0 and fidelity["mesh_max_px"] < 1e-3
    assert report["optimised"]["mesh_vertices"] == report["baseline"]["mesh_vertices"]


def test_committed_results_render_as_tables() -> None:
    results = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
    assert results
    for path in results:
        table = format_markdown(json.loads(path.read_text()))
        assert "| **total** |" in table and "FLOP bound" in table
    summary = format_summary([json.loads(path.read_text()) for path in results])
    assert summary.count("\n") == len(STAGES) + 2 and "| network |" in summary


def test_a_fastest_path_gets_its_own_columns() -> None:
    result = json.loads(min((ROOT / "benchmarks" / "results").glob("*.json")).read_text())
    fastest = json.loads(json.dumps(result["paths"]["optimised"]))
    fastest["description"] = "int8 (not faithful to fp32)"
    fastest["total"]["median"] = result["paths"]["baseline"]["total"]["median"] / 4
    result["paths"]["fastest"] = fastest
    table = format_markdown(result)
    assert "| stage | baseline ms | optimised ms | speed-up | fastest ms | speed-up |" in table
    total_row = next(line for line in table.splitlines() if line.startswith("| **total** |"))
    assert total_row.endswith("| 4.00x |")
    assert "Fastest: int8 (not faithful to fp32)" in table


def test_benchmark_command_options() -> None:
    parser = argparse.ArgumentParser()
    benchmark_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["benchmark", "--device", "cpu", "--no-compile", "--webcam-seconds", "0"])
    assert (args.device, args.compile, args.webcam_seconds, args.repeat) == ("cpu", False, 0.0, 10)
    assert args.out == Path("benchmarks/results") and args.func is benchmark_cmd.run


def test_matmul_peaks_are_measured_for_float32_and_int8() -> None:
    import torch

    from vrn_studio.bench.measure import matmul_tflops

    assert matmul_tflops("cpu", size=128) > 0
    assert matmul_tflops("cpu", torch.int8, size=128) > 0  # torch._int_mm: the int8 bound's peak


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One product run with the built-in model (the project's weights, no per-user folder)."""
    from vrn_studio.bench.product import run_product

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("vrn_studio.weights.store.user_dir", lambda: tmp_path_factory.mktemp("user-weights"))
        patch.setattr("vrn_studio.weights.store.project_dir", lambda: PROJECT_WEIGHTS)
        return run_product(sample_image_path("astronaut"), "cpu", landmarkers=("dlib", "mediapipe", "nope"),
                           smooth=5, repeat=2, warmup=0, profile_top=8)


def test_product_path_times_each_landmarker_with_the_built_in_model(product: dict) -> None:
    assert product["model"] == "vrn-studio-guided" and product["smooth"] == 5
    assert set(product["paths"]) == {"dlib", "mediapipe"} and "nope" in product["unavailable"]
    for path in product["paths"].values():
        assert {"detect", "network", "isosurface", "bumps", "clean", "photo"} <= set(path["stages"])
        assert path["total"]["n"] == 2 and path["mesh_vertices"] > 10_000
        assert path["to_mesh"]["median"] < path["total"]["median"]  # smoothing is the difference
        assert path["total"]["median"] == pytest.approx(
            sum(stage["median"] for stage in path["stages"].values()), rel=0.5)
    functions = product["profile"]["functions"]
    assert len(functions) == 8 and product["profile"]["landmarker"] == "dlib"
    own = [row["own_ms"] for row in functions]
    assert own == sorted(own, reverse=True) and own[0] > 0
    assert any("conv2d" in row["function"] for row in functions)  # the network shows up by its operators


def test_product_needs_an_installed_landmarker() -> None:
    from vrn_studio.bench.product import run_product

    with pytest.raises(ValueError, match="None of the landmarkers"):
        run_product(sample_image_path("astronaut"), landmarkers=("nope",), repeat=1, warmup=0)


def test_product_tables_and_speedup(product: dict) -> None:
    from vrn_studio.bench.product import speedup
    from vrn_studio.bench.runner import result_file_name

    ratio = speedup(product)
    assert ratio == pytest.approx(product["paths"]["dlib"]["to_mesh"]["median"]
                                  / product["paths"]["mediapipe"]["to_mesh"]["median"], abs=0.01)
    assert speedup(product, fast="fan") is None
    committed = json.loads(min((ROOT / "benchmarks" / "results").glob("*.json")).read_text())
    result = {"created": "2026-12-06T18:00:00+00:00", "environment": committed["environment"],
              "settings": {"repeat": 2, "warmup": 0, "product_only": True},
              "product": {**product, "speedup_mediapipe_over_dlib": ratio}, "peak_rss_mib": 1.0}
    table = format_markdown(result)
    assert "FLOP bound" not in table and "Product path: model `vrn-studio-guided`" in table
    assert "| stage | dlib ms | mediapipe ms |" in table and "| **photo to mesh (all but clean)** |" in table
    assert "nope: not measured" in table and "Profile of the dlib path" in table
    assert result_file_name(result).endswith("-2026-12-06-product.json")


@pytest.mark.usefixtures("shipped_weights")
def test_product_live_loop() -> None:
    from vrn_studio.bench.product import run_product_live

    runs = run_product_live(sample_image_path("astronaut"), "cpu", landmarker="mediapipe", seconds=2.0,
                            smooths=(0,), runtime="torch")
    assert [run["smooth"] for run in runs] == [0, 0] and [run["workers"] for run in runs] == [1, 2]
    for run in runs:
        assert run["landmarker"] == "mediapipe" and run["runtime"] == "torch"
        assert run["meshes"] >= 1 and run["no_face"] == 0


def test_benchmark_command_product_options() -> None:
    parser = argparse.ArgumentParser()
    benchmark_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["benchmark"])
    assert (args.model, args.product_only) == ("default", False)
    args = parser.parse_args(["benchmark", "--product-only", "--model", "vrn-studio-guided-v2"])
    assert (args.model, args.product_only) == ("vrn-studio-guided-v2", True)
