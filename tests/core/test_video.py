"""Video to 3D (vrn_studio.pipeline.video, ``vrn-studio video``) on videos the tests write."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import EllipsoidNet

from vrn_studio.cli.main import main
from vrn_studio.errors import ExportError
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.pipeline import Reconstructor
from vrn_studio.pipeline.temporal import OneEuroFilter
from vrn_studio.pipeline.video import (
    TABLE_NAME,
    _model_points,
    frame_stem,
    head_pose,
    read_table,
    reconstruct_video,
)
from vrn_studio.pipeline.video_io import VideoError, iter_frames, probe_video

FPS = 12.0


def write_clip(path: Path, faces: int = 6, blanks: int = 2) -> Path:
    """An MJPG clip: the sample photo sliding right by 4 px a frame, then ``blanks`` grey frames."""
    photo = cv2.cvtColor(load_image(sample_image_path("astronaut")), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 512))
    for i in range(faces):
        frame = np.full((512, 640, 3), 90, np.uint8)
        frame[:, 40 + 4 * i:552 + 4 * i] = photo
        writer.write(frame)
    for _ in range(blanks):
        writer.write(np.full((512, 640, 3), 128, np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("video") / "clip.avi")


@pytest.fixture(scope="module")
def rec() -> Reconstructor:
    return Reconstructor(EllipsoidNet(blob=False), landmarker="dlib", device="cpu")


def test_probe_and_frames(clip: Path) -> None:
    info = probe_video(clip)
    assert (info.fps, info.frame_count, info.width, info.height) == (FPS, 8, 640, 512)
    assert [(i, round(t, 6)) for i, t, _ in iter_frames(clip, every=3)] == [(0, 0.0), (3, 0.25), (6, 0.5)]
    (_, _, first), *_ = iter_frames(clip)
    assert first.shape == (512, 640, 3) and first.dtype == np.uint8


def test_every_frame_gets_a_mesh_and_a_row(clip: Path, rec: Reconstructor, tmp_path: Path) -> None:
    seen = []
    run = reconstruct_video(rec, clip, tmp_path, smooth_landmarks=False,
                            progress=lambda done, total: seen.append((done, total)))
    assert (run.reconstructed, run.without_face, run.resumed) == (6, 2, 0)
    assert seen[-1] == (8, 8)
    rows = [json.loads(line) for line in (tmp_path / TABLE_NAME).read_text().splitlines()]
    assert [row["frame"] for row in rows] == list(range(8))
    assert [row["face"] for row in rows] == [True] * 6 + [False] * 2
    assert rows[3]["time_s"] == pytest.approx(3 / FPS) and rows[7]["mesh"] is None
    for row in rows[:6]:
        assert (tmp_path / row["mesh"]).is_file() and row["mesh"] == f"{frame_stem(row['frame'])}.ply"
        assert np.asarray(row["landmarks"]).shape == (68, 2)
        assert abs(row["pose_deg"]["yaw"]) < 20 and abs(row["pose_deg"]["roll"]) < 10  # a frontal portrait
    # The face slides right by 4 px a frame, and so do its landmarks (tracked between detections).
    shift = np.diff([np.mean(np.asarray(row["landmarks"])[:, 0]) for row in rows[:6]])
    np.testing.assert_allclose(shift, 4.0, atol=1.5)


def test_an_interrupted_run_resumes(clip: Path, rec: Reconstructor, tmp_path: Path) -> None:
    reconstruct_video(rec, clip, tmp_path, every=2)  # frames 0, 2, 4, 6
    # A kill: frame 4's mesh never made it and the table's last line was cut short.
    (tmp_path / f"{frame_stem(4)}.ply").unlink()
    table = tmp_path / TABLE_NAME
    table.write_text(table.read_text()[:-15])
    assert set(read_table(tmp_path)) == {0, 2, 4}
    with pytest.raises(ExportError, match="resume"):
        reconstruct_video(rec, clip, tmp_path, every=2)
    seen = []
    run = reconstruct_video(rec, clip, tmp_path, every=2, resume=True, progress=lambda *p: seen.append(p))
    assert (run.resumed, run.reconstructed, run.without_face) == (2, 1, 1)  # 0, 2 kept; 4 redone; 6 blank
    assert seen == [(2, 4), (3, 4), (4, 4)]
    rows = read_table(tmp_path)
    assert sorted(rows) == [0, 2, 4, 6] and rows[4]["face"] and (tmp_path / rows[4]["mesh"]).is_file()


def test_unreadable_videos_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="No video file"):
        probe_video(tmp_path / "missing.mp4")
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    with pytest.raises(VideoError, match="cannot be read"):
        probe_video(notes)
    empty = write_clip(tmp_path / "empty.avi", faces=0, blanks=0)
    with pytest.raises(VideoError):
        probe_video(empty)


def test_head_pose_recovers_a_known_rotation() -> None:
    rotation = cv2.Rodrigues(np.radians([10.0, -35.0, 5.0]))[0]
    camera = np.array([[640.0, 0, 320], [0, 640, 240], [0, 0, 1]])
    points = cv2.projectPoints(_model_points(), cv2.Rodrigues(rotation)[0], np.array([0, 0, 60.0]), camera, None)[0]
    pose = head_pose(points[:, 0], 640, 480)
    pitch, yaw, roll = cv2.RQDecomp3x3(rotation)[0]
    assert pose == pytest.approx({"yaw": yaw, "pitch": pitch, "roll": roll}, abs=0.05)
    front = cv2.projectPoints(_model_points(), np.zeros(3), np.array([0, 0, 60.0]), camera, None)[0][:, 0]
    assert head_pose(front, 640, 480) == pytest.approx({"yaw": 0.0, "pitch": 0.0, "roll": 0.0}, abs=0.05)
    with pytest.raises(ValueError, match="68"):
        head_pose(np.zeros((5, 2)), 640, 480)


def test_cli_video(clip: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("vrn_studio.cli.reconstruct_cmd.Reconstructor",
                        lambda *a, **k: Reconstructor(EllipsoidNet(blob=False), landmarker="dlib", device="cpu"))
    out = tmp_path / "out"
    assert main(["video", str(clip), "-o", str(out), "--every", "4", "--format", "obj", "--no-overlay"]) == 0
    printed = capsys.readouterr().out
    assert "2 frame(s) reconstructed, 0 kept from before, 0 without a face" in printed
    assert f"wrote {out / 'animation.glb'}" in printed and not (out / "overlay.mp4").exists()
    assert sorted(p.name for p in out.glob("*.obj")) == [f"{frame_stem(0)}.obj", f"{frame_stem(4)}.obj"]
    assert main(["video", str(clip), "-o", str(out), "--every", "4"]) == 2  # a run is there: --resume
    assert "resume" in capsys.readouterr().err
    assert main(["video", str(tmp_path / "nothing.mp4"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No video file") and "Traceback" not in err


def test_landmarks_only_without_a_model(clip: Path, tmp_path: Path) -> None:
    run = reconstruct_video(Reconstructor(None, landmarker="dlib", device="cpu"), clip, tmp_path)
    assert (run.reconstructed, run.without_face) == (6, 2) and not list(tmp_path.glob("frame_*"))
    rows = read_table(tmp_path)
    assert rows[0]["face"] and rows[0]["mesh"] is None and len(rows[0]["landmarks"]) == 68
    again = reconstruct_video(Reconstructor(None, landmarker="dlib", device="cpu"), clip, tmp_path, resume=True)
    assert (again.resumed, again.reconstructed) == (8, 0)  # a landmarks-only run is complete without meshes


def test_landmark_smoothing_stills_jitter_without_lagging() -> None:
    import runpy

    measure = runpy.run_path(str(Path(__file__).resolve().parents[2] / "scripts" / "measure_video_smoothing.py"))
    figures = measure["measure"]("dlib", frames=30)
    assert figures["still_motion_reduction"] >= 0.5  # the bar: at least 50 % less motion
    assert figures["moving_lag_frames"] <= 2.0  # and at most 2 frames behind a moving face
    assert figures["moving_speed_px_per_frame"] > 1.0  # (the clip does move)


def test_one_euro_filter_follows_a_ramp_and_checks_its_settings() -> None:
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    out = [f(np.array([3.0 * i]), i / 30)[0] for i in range(60)]
    assert out[0] == 0.0 and 0 < 3.0 * 59 - out[-1] < 2 * 3.0  # behind a 3-per-frame ramp by under 2 frames
    f.reset()
    assert f(np.array([5.0]), 10.0)[0] == 5.0
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0.0)


def test_a_run_without_per_frame_meshes_still_animates_and_resumes(clip: Path, tmp_path: Path, monkeypatch,
                                                                   capsys) -> None:
    monkeypatch.setattr("vrn_studio.cli.reconstruct_cmd.Reconstructor",
                        lambda *a, **k: Reconstructor(EllipsoidNet(blob=False), landmarker="dlib", device="cpu"))
    out = tmp_path / "out"
    assert main(["video", str(clip), "-o", str(out), "--format", "none", "--no-overlay"]) == 0
    assert not list(out.glob("frame_*")) and (out / "animation.glb").is_file()
    rows = read_table(out)
    assert rows[0]["mesh"] is None and (out / rows[0]["grid"]).is_file()
    (out / rows[2]["grid"]).unlink()  # a frame's grid lost: that frame alone is redone
    assert main(["video", str(clip), "-o", str(out), "--format", "none", "--no-overlay", "--resume"]) == 0
    assert "1 frame(s) reconstructed, 7 kept from before" in capsys.readouterr().out
