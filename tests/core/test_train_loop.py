"""Training loop: loss, schedule, checkpoints and resume, variants, DDP on CPU, config, CLI."""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from vrn_studio.cli.main import main as cli_main
from vrn_studio.train.config import ConfigError, TrainConfig
from vrn_studio.train.loop import build_model, compute_loss, learning_rate, surface_weights, train
from vrn_studio.train.smoke import SyntheticSmokeDataset

SIZE, DEPTH = 32, 8


def tiny(tmp_path: Path, **overrides: object) -> TrainConfig:
    """A config small enough for a CPU test: 32 px, 8 depth bins, 8 features."""
    values: dict[str, object] = {
        "features": 8,
        "stacks": 1,
        "hourglass_depth": 2,
        "depth_bins": DEPTH,
        "input_size": SIZE,
        "batch_size": 2,
        "epochs": 1,
        "out_dir": tmp_path / "run",
    }
    return TrainConfig(**(values | overrides))


def data(n: int = 2) -> SyntheticSmokeDataset:
    return SyntheticSmokeDataset(n, SIZE, DEPTH, seed=3)


def metrics(config: TrainConfig) -> list[dict]:
    return [json.loads(line) for line in (config.out_dir / "metrics.jsonl").read_text().splitlines()]


def batch_of(dataset: SyntheticSmokeDataset) -> dict[str, torch.Tensor]:
    return {
        k: torch.stack([dataset[i][k] for i in range(len(dataset))]) for k in ("image", "volume", "landmarks")
    }


def test_smoke_dataset_format() -> None:
    sample = data(1)[0]
    assert (
        sample["image"].shape == (3, SIZE, SIZE) and 0 <= sample["image"].min() <= sample["image"].max() <= 1
    )
    assert sample["volume"].shape == (DEPTH, SIZE, SIZE)
    assert set(sample["volume"].unique().tolist()) == {0.0, 1.0}
    assert sample["landmarks"].shape == (68, 2)
    assert torch.equal(sample["volume"], data(1)[0]["volume"])  # deterministic


def test_loss_decreases_on_a_fixed_batch(tmp_path: Path) -> None:
    config = tiny(tmp_path, epochs=20, lr=1e-3)
    train(config, data(2), device="cpu", progress=False)
    losses = [m["loss"] for m in metrics(config)]
    assert len(losses) == 20
    assert losses[-1] < 0.8 * losses[0]


def test_learning_rate_schedule() -> None:
    config = TrainConfig(lr_drop_epoch=40)
    assert [learning_rate(config, e) for e in (0, 39, 40, 59)] == [1e-4, 1e-4, 1e-5, 1e-5]


def test_resume_equals_uninterrupted_training_and_lr_drops(tmp_path: Path) -> None:
    dataset = data(4)
    straight = tiny(tmp_path / "a", epochs=2, lr_drop_epoch=1)
    last = train(straight, dataset, device="cpu", progress=False)
    assert [m["lr"] for m in metrics(straight)] == [1e-4, 1e-4, 1e-5, 1e-5]
    assert json.loads(last.read_text())["optimizer"]["param_groups"][0]["lr"] == 1e-5

    first = tiny(tmp_path / "b", epochs=1, lr_drop_epoch=1)
    checkpoint = train(first, dataset, device="cpu", progress=False)
    resumed = train(
        tiny(tmp_path / "b", epochs=2, lr_drop_epoch=1),
        dataset,
        device="cpu",
        progress=False,
        resume=checkpoint,
    )
    assert resumed.name == last.name == "epoch-0002.json"
    for suffix in (".safetensors", ".optimizer.safetensors"):
        a, b = load_file(last.with_suffix(suffix)), load_file(resumed.with_suffix(suffix))
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), suffix
    assert [m["step"] for m in metrics(first)] == [1, 2, 3, 4]  # the resumed run appends to the log
    log = first.out_dir / "metrics.jsonl"
    rows = log.read_text().splitlines(keepends=True)
    stale = [json.dumps({**json.loads(row), "loss": 99.0}) + "\n" for row in rows[2:]]
    log.write_text("".join(rows[:2] + stale))  # as a run killed in epoch 2 leaves it
    train(tiny(tmp_path / "b", epochs=2, lr_drop_epoch=1), dataset, device="cpu", progress=False, resume=checkpoint)
    again = metrics(first)
    assert [m["step"] for m in again] == [1, 2, 3, 4] and 99.0 not in [m["loss"] for m in again]
    finished = tiny(tmp_path / "b", epochs=2)
    assert train(finished, dataset, device="cpu", progress=False, resume=finished.out_dir) == resumed


def test_multitask_trains_both_heads(tmp_path: Path) -> None:
    config = tiny(tmp_path, variant="multitask", landmark_loss_weight=10.0)
    torch.manual_seed(config.seed)
    model = build_model(config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(config, data(2), device="cpu", progress=False, model=model)
    after = model.state_dict()
    for head in ("landmark_head", "volume_head", "landmark_fork", "volume_fork", "trunk"):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(head)), head
    assert {"volume_loss", "landmark_loss"} <= metrics(config)[0].keys()


def test_guided_consumes_landmarks(tmp_path: Path) -> None:
    config = tiny(tmp_path, variant="guided")
    torch.manual_seed(0)
    model = build_model(config)
    batch = batch_of(data(2))
    moved = dict(batch, landmarks=batch["landmarks"].flip(-1))
    loss, _ = compute_loss(model, model, batch, config)
    loss_moved, _ = compute_loss(model, model, moved, config)
    assert float(loss.detach()) != float(loss_moved.detach())
    loss.backward()
    assert model.stem[0].weight.grad[:, 3:].abs().sum() > 0  # the heatmap channels get gradient


def test_mismatched_volume_names_the_settings(tmp_path: Path) -> None:
    config = tiny(tmp_path, depth_bins=4)
    with pytest.raises(ValueError, match="depth_bins"):
        train(config, data(2), device="cpu", progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="mixed precision runs on CUDA only")
def test_mixed_precision_on_cuda(tmp_path: Path) -> None:
    config = tiny(tmp_path, epochs=2, amp=True)
    last = train(config, data(2), device="cuda", progress=False)
    assert json.loads(last.read_text())["scaler"]["scale"] > 0
    assert all(torch.isfinite(torch.tensor(m["loss"])) for m in metrics(config))
    resumed = train(tiny(tmp_path, epochs=3, amp=True), data(2), device="cuda", progress=False, resume=last)
    assert resumed.name == "epoch-0003.json"


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    config = tiny(Path(out), batch_size=1)
    torch.manual_seed(config.seed)
    model = build_model(config)
    train(config, data(4), device="cpu", progress=False, model=model)  # 2 samples per rank: 2 steps
    save_file(
        {k: p.detach().contiguous() for k, p in model.named_parameters()}, f"{out}/rank{rank}.safetensors"
    )


def test_ddp_two_cpu_processes_end_with_identical_weights(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    a, b = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [m["step"] for m in metrics(tiny(tmp_path))] == [1, 2]  # rank 0 alone logs
    assert (tmp_path / "run" / "checkpoints" / "epoch-0001.json").is_file()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("batch_size = 0", "batch_size"),
        ("varient = 'guided'", "varient"),
        ("variant = 'big'", "variant"),
        ("input_size = 30", "input_size"),
        ("amp = 'yes'", "amp"),
        ("lr = -1.0", "lr"),
        ("init_sha256 = 'abc'", "init_sha256"),
        ("init_iso_level = 1.0", "init_iso_level"),
        ("init_weights = 3", "init_weights"),
        ("surface_weight = -1.0", "surface_weight"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=key):
        TrainConfig.load(path)


def test_config_json_and_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"variant": "multitask", "out_dir": "out", "lr_drop_epoch": 3}))
    config = TrainConfig.load(path)
    assert (config.variant, config.out_dir, config.lr_drop_epoch) == ("multitask", tmp_path / "out", 3)


def test_cli_trains_a_smoke_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "smoke.toml"
    path.write_text(
        'data = "synthetic-smoke"\nout_dir = "out"\nfeatures = 8\nstacks = 1\nhourglass_depth = 2\n'
        "depth_bins = 8\ninput_size = 32\nbatch_size = 4\nepochs = 1\n"
    )
    assert cli_main(["train", str(path), "--device", "cpu", "--no-progress"]) == 0
    assert "epoch-0001.json" in capsys.readouterr().out
    assert (tmp_path / "out" / "checkpoints" / "epoch-0001.safetensors").is_file()
    path.write_text("epochs = 0\n")
    assert cli_main(["train", str(path)]) == 2


def test_cli_trains_on_a_dataset_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder in the documented dataset format feeds FolderDataset (crop, voxelise, augment)."""
    from test_dataset import write_sample

    data = tmp_path / "data"
    data.mkdir()
    for name in ("a", "b"):
        write_sample(data, name)
    path = tmp_path / "folder.toml"
    path.write_text(
        'data = "data"\nout_dir = "out"\nfeatures = 8\nstacks = 1\nhourglass_depth = 2\n'
        "depth_bins = 16\ninput_size = 32\nbatch_size = 2\nepochs = 2\n"
    )
    assert cli_main(["train", str(path), "--device", "cpu", "--no-progress"]) == 0
    assert "epoch-0002.json" in capsys.readouterr().out


def test_each_epoch_tells_the_dataset(tmp_path: Path) -> None:
    """Datasets with ``set_epoch`` (FolderDataset) draw new augmentations every epoch."""

    class Recording(SyntheticSmokeDataset):
        epochs: list[int] = []

        def set_epoch(self, epoch: int) -> None:
            self.epochs.append(epoch)

    dataset = Recording(2, SIZE, DEPTH, seed=3)
    train(tiny(tmp_path, epochs=3), dataset, device="cpu", progress=False)
    assert dataset.epochs == [0, 1, 2]


def test_soft_targets_train(tmp_path: Path) -> None:
    """The cross-entropy takes fractional targets: training on them runs and lowers the loss."""
    dataset = data(2)

    class Soft(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(dataset)

        def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
            item = dict(dataset[index])
            item["volume"] = item["volume"] * 0.75  # fractional occupancy
            return item

    config = tiny(tmp_path, epochs=10, lr=1e-3)
    train(config, Soft(), device="cpu", progress=False)
    losses = [m["loss"] for m in metrics(config)]
    assert losses[-1] < 0.9 * losses[0]


def test_stopping_at_an_epoch_and_resuming_equals_the_whole_run(tmp_path: Path) -> None:
    dataset = data(4)
    whole = tiny(tmp_path / "whole", epochs=3, lr_drop_epoch=2)
    last = train(whole, dataset, device="cpu", progress=False)
    parted = tiny(tmp_path / "parted", epochs=3, lr_drop_epoch=2)
    stopped = train(parted, dataset, device="cpu", progress=False, until_epoch=1)
    assert stopped.name == "epoch-0001.json" and not (stopped.parent / "epoch-0002.json").exists()
    resumed = train(parted, dataset, device="cpu", progress=False, resume=stopped)
    assert resumed.name == last.name == "epoch-0003.json"
    a, b = load_file(last.with_suffix(".safetensors")), load_file(resumed.with_suffix(".safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [m["lr"] for m in metrics(parted)] == [m["lr"] for m in metrics(whole)] == [1e-4] * 4 + [1e-5] * 2


def test_surface_weight_weighs_the_band_around_the_surfaces(tmp_path: Path) -> None:
    dataset = data()
    batch = batch_of(dataset)
    weights = surface_weights(batch["volume"], 10.0)
    assert set(weights.unique().tolist()) == {1.0, 11.0}
    solid = batch["volume"] >= 0.5
    interior = solid[:, 3:-3] & solid[:, 2:-4] & solid[:, 4:-2] & solid[:, 1:-5] & solid[:, 5:-1]
    assert (weights[:, 3:-3][interior] == 1.0).all()  # deep inside: plain weight
    torch.manual_seed(0)
    net = build_model(tiny(tmp_path))
    plain, _ = compute_loss(net, net, batch, tiny(tmp_path))
    weighted, _ = compute_loss(net, net, batch, tiny(tmp_path, surface_weight=10.0))
    assert torch.isfinite(weighted) and not torch.isclose(plain, weighted)
    config = tiny(tmp_path, surface_weight=10.0)
    train(config, dataset, device="cpu", progress=False)
    assert all(math.isfinite(row["loss"]) for row in metrics(config))
