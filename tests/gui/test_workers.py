"""ReconstructionRunner: real worker threads driven from a real Qt event loop (pytest-qt)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import SlowReconstructor
from PySide6.QtCore import QThreadPool, QTimer
from pytestqt.qtbot import QtBot

from vrn_studio.errors import ImageError, WeightsError
from vrn_studio.gui.workers import ReconstructionRunner
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.pipeline import Result

ALL_STAGES = ["load", "detect", "crop", "network", "isosurface", "bumps", "clean", "fit", "photo"]
TIMEOUT_MS = 30_000


class Recorder:
    """Every public signal of a runner, in arrival order."""

    def __init__(self, runner: ReconstructionRunner) -> None:
        self.events: list[tuple] = []
        runner.started.connect(lambda: self.events.append(("started",)))
        runner.stageDone.connect(lambda name, seconds: self.events.append(("stage", name, seconds)))
        runner.resultReady.connect(lambda result: self.events.append(("result", result)))
        runner.failed.connect(lambda message: self.events.append(("failed", message)))
        runner.cancelled.connect(lambda: self.events.append(("cancelled",)))
        runner.busyChanged.connect(lambda busy: self.events.append(("busy", busy)))

    def of(self, kind: str) -> list[tuple]:
        return [event for event in self.events if event[0] == kind]

    def stages(self) -> list[str]:
        return [event[1] for event in self.of("stage")]

    def results(self) -> list[Result]:
        return [event[1] for event in self.of("result")]


@pytest.fixture
def make_runner() -> Iterator:
    """Build runners that are shut down (and checked to end) after the test."""
    runners: list[ReconstructionRunner] = []

    def make(reconstructor) -> tuple[ReconstructionRunner, Recorder]:
        runner = ReconstructionRunner(reconstructor)
        runners.append(runner)
        return runner, Recorder(runner)

    yield make
    for runner in runners:
        assert runner.shutdown(timeout_ms=10_000)


def test_ui_keeps_ticking_while_stages_arrive_in_order(qtbot: QtBot, make_runner) -> None:
    built_in: list[threading.Thread] = []

    def factory() -> SlowReconstructor:
        built_in.append(threading.current_thread())
        return SlowReconstructor(delay=0.3)

    runner, recorder = make_runner(factory)
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    with qtbot.waitSignal(runner.resultReady, timeout=TIMEOUT_MS):
        runner.start(sample_image_path("astronaut"))
        assert runner.is_busy()
    timer.stop()
    qtbot.waitUntil(lambda: not runner.is_busy())

    # 7 stages x 0.3 s of sleep: a UI thread blocked by the work would tick once or not at all.
    assert len(ticks) >= 20
    assert built_in and built_in[0] is not threading.main_thread()
    assert recorder.stages() == ALL_STAGES
    assert all(isinstance(event[2], float) and event[2] >= 0 for event in recorder.of("stage"))
    kinds = [event[0] for event in recorder.events]
    assert kinds == ["busy", "started", *["stage"] * len(ALL_STAGES), "result", "busy"]
    assert [event[1] for event in recorder.of("busy")] == [True, False]
    (result,) = recorder.results()
    assert isinstance(result, Result)
    assert result.source == sample_image_path("astronaut")
    assert result.mesh is not None and len(result.mesh.faces) > 1000
    assert result.bumps.n_removed == 1  # EllipsoidNet's detached blob


def test_factory_is_built_once_and_reused(qtbot: QtBot, make_runner) -> None:
    built = []
    runner, recorder = make_runner(lambda: built.append(SlowReconstructor(delay=0)) or built[-1])
    for _ in range(2):
        with qtbot.waitSignal(runner.resultReady, timeout=TIMEOUT_MS):
            runner.start(sample_image_path("astronaut"), remove_bumps=False)
    assert len(built) == 1
    assert all(result.bumps.n_removed == 0 for result in recorder.results())


def test_cancel_mid_run_emits_cancelled_and_no_result(qtbot: QtBot, make_runner) -> None:
    runner, recorder = make_runner(SlowReconstructor(delay=0.3))
    with qtbot.waitSignal(runner.stageDone, timeout=TIMEOUT_MS):
        runner.start(sample_image_path("astronaut"))
    with qtbot.waitSignals([runner.cancelled, runner.busyChanged], timeout=TIMEOUT_MS):
        runner.cancel()
        assert runner.is_busy()  # it stops at the next stage boundary, not at once
    assert not runner.is_busy()
    assert recorder.results() == []
    assert recorder.of("failed") == []
    assert 1 <= len(recorder.stages()) < len(ALL_STAGES)
    assert recorder.events[-2:] == [("cancelled",), ("busy", False)]


def test_latest_start_wins(qtbot: QtBot, make_runner) -> None:
    runner, recorder = make_runner(SlowReconstructor(delay=0.2))
    first, second = sample_image_path("astronaut"), sample_image_path("grace_hopper")
    with qtbot.waitSignal(runner.stageDone, timeout=TIMEOUT_MS):
        runner.start(first)
    with qtbot.waitSignal(runner.resultReady, timeout=TIMEOUT_MS) as blocker:
        runner.start(second)
    qtbot.waitUntil(lambda: not runner.is_busy())

    assert blocker.args[0].source == second
    assert [result.source for result in recorder.results()] == [second]
    assert len(recorder.of("cancelled")) == 1
    assert len(recorder.of("started")) == 2
    assert [event[1] for event in recorder.of("busy")] == [True, False]  # busy throughout
    # The first job's stages end with the cancel; the second runs all of them after it.
    after_cancel = recorder.events[recorder.events.index(("cancelled",)) + 1 :]
    assert [event[1] for event in after_cancel if event[0] == "stage"] == ALL_STAGES


def test_burst_of_starts_runs_only_the_last(qtbot: QtBot, make_runner) -> None:
    runner, recorder = make_runner(SlowReconstructor(delay=0.05))
    image = load_image(sample_image_path("astronaut"))
    with qtbot.waitSignal(runner.resultReady, timeout=TIMEOUT_MS) as blocker:
        for _ in range(3):
            runner.start(image[:, ::-1].copy())
        runner.start(sample_image_path("astronaut"))
    qtbot.waitUntil(lambda: not runner.is_busy())
    assert blocker.args[0].source == sample_image_path("astronaut")
    assert len(recorder.results()) == 1
    assert len(recorder.of("cancelled")) == 3


def test_unreadable_image_emits_failed_with_the_image_error_text(
    qtbot: QtBot, make_runner, tmp_path: Path
) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    with pytest.raises(ImageError) as expected:
        load_image(text)
    runner, recorder = make_runner(SlowReconstructor(delay=0))
    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as blocker:
        runner.start(text)
    assert blocker.args == [str(expected.value)]
    qtbot.waitUntil(lambda: not runner.is_busy())
    assert recorder.results() == [] and recorder.of("cancelled") == []


def test_factory_errors_are_reported_and_the_runner_recovers(
    qtbot: QtBot, make_runner, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> SlowReconstructor:
        raise RuntimeError("CUDA out of memory")

    def missing() -> SlowReconstructor:
        raise WeightsError("Model 'vrn-unguided' is not installed")

    runner, recorder = make_runner(broken)
    with (
        caplog.at_level(logging.ERROR, logger="vrn_studio.gui.workers"),
        qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as blocker,
    ):
        runner.start(sample_image_path("astronaut"))
    assert blocker.args == ["Unexpected error: RuntimeError: CUDA out of memory"]
    assert "Traceback" in caplog.text and "CUDA out of memory" in caplog.text

    caplog.clear()
    runner.set_reconstructor_factory(missing)
    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as blocker:
        runner.start(sample_image_path("astronaut"))
    assert blocker.args == ["Model 'vrn-unguided' is not installed"]
    assert caplog.text == ""  # an expected error is shown, not logged as a bug

    runner.set_reconstructor_factory(lambda: SlowReconstructor(delay=0))
    with qtbot.waitSignal(runner.resultReady, timeout=TIMEOUT_MS):
        runner.start(sample_image_path("astronaut"))
    assert len(recorder.of("failed")) == 2


def test_shutdown_mid_run_leaves_no_thread(qtbot: QtBot) -> None:
    baseline = threading.active_count()
    runner = ReconstructionRunner(SlowReconstructor(delay=0.3))
    recorder = Recorder(runner)
    with qtbot.waitSignal(runner.stageDone, timeout=TIMEOUT_MS):
        runner.start(sample_image_path("astronaut"))
    assert threading.active_count() == baseline + 1

    assert runner.shutdown(timeout_ms=10_000)
    assert threading.active_count() == baseline
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    assert runner.shutdown()  # safe twice
    qtbot.waitUntil(lambda: not runner.is_busy())
    assert recorder.results() == [] and len(recorder.of("cancelled")) == 1

    runner.set_reconstructor_factory(lambda: SlowReconstructor(delay=0))
    with qtbot.waitSignal(runner.resultReady, timeout=TIMEOUT_MS):  # usable again
        runner.start(sample_image_path("astronaut"))
    assert runner.shutdown()
    assert threading.active_count() == baseline


def test_shutdown_that_times_out_says_so_and_the_runner_recovers(qtbot: QtBot) -> None:
    baseline = threading.active_count()
    loaded = threading.Event()

    def slow_to_load() -> SlowReconstructor:
        loaded.wait(TIMEOUT_MS / 1000)  # stands for weights that take long to load
        return SlowReconstructor(delay=0)

    runner = ReconstructionRunner(slow_to_load)
    recorder = Recorder(runner)
    with qtbot.waitSignal(runner.started, timeout=TIMEOUT_MS):
        runner.start(sample_image_path("astronaut"))
    assert not runner.shutdown(timeout_ms=50)
    assert runner.is_busy()

    with qtbot.waitSignal(runner.resultReady, timeout=TIMEOUT_MS):
        runner.start(sample_image_path("grace_hopper"))  # a new thread: the old one is stuck
        loaded.set()
    assert runner.shutdown(timeout_ms=10_000)
    assert threading.active_count() == baseline
    qtbot.waitUntil(lambda: not runner.is_busy())
    assert [result.source for result in recorder.results()] == [sample_image_path("grace_hopper")]
    assert len(recorder.of("cancelled")) == 1
