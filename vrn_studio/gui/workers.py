"""Reconstructions off the UI thread, reported through Qt signals.

This module and :mod:`vrn_studio.gui.webcam` are the only places in the GUI that start
threads; short one-off jobs (exports, model import and download, checksums) go through
:func:`start_task`. Worker threads never touch a widget: they hand immutable data (stage timings, a
:class:`~vrn_studio.pipeline.Result`, a message) to the UI thread through queued signals.

Why plain Python threads and not superqt's ``GeneratorWorker``: the worker has to stay
responsive to cancellation between stages, run one job at a time, report every failure, and
be joinable at shutdown. ``GeneratorWorker`` treats any ``RuntimeError`` raised by the
generator as "the worker was deleted" and returns without emitting ``errored`` or
``finished`` (torch reports CUDA out-of-memory and shape mismatches as ``RuntimeError``, so
the UI would stay busy forever); it rewires :mod:`warnings` process-wide from the worker
thread; and it runs in Qt's global thread pool with a class-level registry of workers. One
``threading.Thread`` fed by a queue gives one job at a time by construction, a thread that
``join`` can wait for, and a Reconstructor that only that thread uses. A video job
(:class:`VideoJobRunner`) runs for minutes, so it gets a thread of its own for the same reasons.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from superqt.utils import WorkerBase, create_worker

from vrn_studio.errors import VrnStudioError
from vrn_studio.image import ImageSource
from vrn_studio.pipeline import Reconstructor, Result, StageDone
from vrn_studio.pipeline.reconstructor import FaceHint
from vrn_studio.pipeline.video import reconstruct_video

log = logging.getLogger(__name__)

ReconstructorSource = Reconstructor | Callable[[], Reconstructor]
"""A ready :class:`Reconstructor`, or a zero-argument callable that builds one (loads weights)."""


def start_task(func: Callable[..., object], *args: object, connect: dict[str, Callable[..., object]],
               **kwargs: object) -> WorkerBase:
    """Run a short job ``func(*args, **kwargs)`` in Qt's thread pool (a superqt worker).

    ``connect`` maps the worker's signals (``returned``, ``errored``, ``yielded`` for a
    generator, ``finished``) to slots, which run on the UI thread. Connect ``errored``:
    without it superqt re-raises the job's exception in the event loop. Returns the started
    worker (keep a reference while it runs); ``QThreadPool.globalInstance().waitForDone()``
    waits for all of them.
    """
    worker = create_worker(func, *args, _start_thread=False, _connect=connect, **kwargs)
    worker.start()
    return worker


def user_message(exc: BaseException) -> str:
    """The text to show the user for an exception caught in a worker thread.

    Parameters
    ----------
    exc : BaseException
        The exception.

    Returns
    -------
    str
        ``str(exc)`` for a :class:`VrnStudioError` (its message is written for the user);
        ``"Unexpected error: <type>: <text>"`` for anything else, which is also logged with
        its traceback since it is a bug or an environment problem.
    """
    if isinstance(exc, VrnStudioError):
        return str(exc)
    log.error("Unexpected error in a worker thread", exc_info=exc)
    return f"Unexpected error: {type(exc).__name__}: {exc}"


def run_stages(
    stages: Generator[StageDone, None, Result],
    should_stop: Callable[[], bool],
    on_stage: Callable[[StageDone], None] | None = None,
) -> Result | None:
    """Drive :meth:`Reconstructor.iter_stages` to its end, stopping early on request.

    Parameters
    ----------
    stages : generator of StageDone returning Result
        A fresh ``iter_stages(...)`` generator.
    should_stop : callable () -> bool
        Asked before each stage and once more after the last; True stops the run.
    on_stage : callable (StageDone) -> None, optional
        Called after each stage, in the calling thread.

    Returns
    -------
    Result or None
        The result, or None when ``should_stop`` said to stop (the generator is closed).

    Raises
    ------
    Exception
        Whatever a stage raises (``ImageError``, ``NoFaceError``, ...).
    """
    try:
        while not should_stop():
            try:
                stage = next(stages)
            except StopIteration as done:
                return None if should_stop() else done.value
            if on_stage is not None:
                on_stage(stage)
        return None
    finally:
        stages.close()


class LazyReconstructor:
    """A :class:`Reconstructor` built on first use, in the thread that uses it.

    Building a Reconstructor loads model weights (seconds, hundreds of MB), so a worker
    thread calls :meth:`get` and the UI thread never waits for it. The instance is kept and
    reused until :meth:`set_source` swaps in another model or settings.

    Parameters
    ----------
    source : Reconstructor or callable () -> Reconstructor
        A ready Reconstructor (used as is) or a factory called on the first :meth:`get`.
    """

    def __init__(self, source: ReconstructorSource) -> None:
        self._lock = threading.Lock()
        self._factory: Callable[[], Reconstructor]
        self._instance: Reconstructor | None
        self.set_source(source)

    def set_source(self, source: ReconstructorSource) -> None:
        """Use another Reconstructor or factory from the next :meth:`get` on (any thread)."""
        with self._lock:
            if isinstance(source, Reconstructor):
                self._factory, self._instance = (lambda: source), source
            else:
                self._factory, self._instance = source, None

    def get(self) -> Reconstructor:
        """The Reconstructor, built now by the factory if there is none yet.

        Raises
        ------
        WeightsError, DeviceError, MissingDependencyError
            Whatever the factory raises; the next call tries again.
        """
        with self._lock:
            factory, instance = self._factory, self._instance
        if instance is not None:
            return instance
        instance = factory()
        with self._lock:
            if self._factory is factory:
                self._instance = instance
        return instance


@dataclass(eq=False)
class _Job:
    """One call to :meth:`ReconstructionRunner.start`."""

    image: ImageSource
    face: FaceHint
    remove_bumps: bool
    all_faces: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)


class ReconstructionRunner(QObject):
    """Runs reconstructions one at a time in a worker thread; the newest request wins.

    Every :meth:`start` ends in exactly one of ``resultReady``, ``failed`` or
    ``cancelled``. A start while busy cancels the running job, which stops at its next
    stage boundary without emitting ``resultReady``, then the new job runs. All signals are
    emitted on the thread that owns the runner (the UI thread).

    Parameters
    ----------
    reconstructor : Reconstructor or callable () -> Reconstructor
        The Reconstructor, or a factory: it is called in the worker thread on the first job
        (loading weights never blocks the UI) and its product is reused.
    parent : QObject, optional
        Qt parent.

    Signals
    -------
    started()
        A job began running in the worker thread.
    stageDone(str, float)
        A stage finished: its name (``load``, ``detect``, ``crop``, ``network``,
        ``isosurface``, ``bumps``, ``photo``) and duration in seconds.
    resultReady(object)
        The job's :class:`~vrn_studio.pipeline.Result`, or for ``start(..., all_faces=True)``
        the list of one Result per face.
    failed(str)
        The job failed; the message is meant for the user.
    cancelled()
        The job was cancelled (by :meth:`cancel`, :meth:`shutdown` or a newer :meth:`start`).
    busyChanged(bool)
        True when the first job is submitted, False when no job is left.

    Notes
    -----
    Call :meth:`shutdown` before the application quits (in ``closeEvent``).
    """

    started = Signal()
    stageDone = Signal(str, float)
    resultReady = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    busyChanged = Signal(bool)

    _event = Signal(object, str, object)  # (job, kind, payload), from the worker thread

    def __init__(self, reconstructor: ReconstructorSource, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._reconstructor = LazyReconstructor(reconstructor)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ending: list[threading.Thread] = []  # told to end by shutdown(), maybe still running
        self._jobs: list[_Job] = []  # submitted, final signal not yet emitted; UI thread only
        self._event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)

    def set_reconstructor_factory(self, factory: ReconstructorSource) -> None:
        """Use another model or settings from the next job on; built lazily in the worker."""
        self._reconstructor.set_source(factory)

    def start(
        self, image: ImageSource, *, face: FaceHint = None, remove_bumps: bool = True, all_faces: bool = False
    ) -> None:
        """Reconstruct ``image`` in the worker thread, cancelling any job still running.

        Parameters
        ----------
        image : path, np.ndarray (H, W, 3) uint8 RGB, or PIL image
            The photo; it is decoded in the worker thread. Do not modify an array after
            passing it.
        face : Face, np.ndarray (4,) or (68, 2), optional
            A face given by hand (see :meth:`Reconstructor.reconstruct`).
        remove_bumps : bool, default: True
            Run bump removal.
        all_faces : bool, default: False
            Reconstruct every face found (:meth:`Reconstructor.reconstruct_faces`; ``face``
            is ignored); ``resultReady`` then carries a list. Stages are not reported one by
            one, and a cancel takes effect when the faces are done.
        """
        self.cancel()
        job = _Job(image, face, remove_bumps, all_faces)
        was_busy = bool(self._jobs)
        self._jobs.append(job)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, args=(self._queue,), name="vrn-reconstruction", daemon=True
            )
            self._thread.start()
        self._queue.put(job)
        if not was_busy:
            self.busyChanged.emit(True)

    def cancel(self) -> None:
        """Ask every pending job to stop at its next stage boundary; each emits ``cancelled``."""
        for job in self._jobs:
            job.cancel.set()

    def is_busy(self) -> bool:
        """Whether a job is submitted and has not yet emitted its final signal."""
        return bool(self._jobs)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel all jobs and wait for the worker thread to end.

        Parameters
        ----------
        timeout_ms : int, default: 5000
            Longest wait, in milliseconds (one stage can take seconds on a CPU).

        Returns
        -------
        bool
            True when no worker thread is left; False when one is still finishing a stage
            (it ends by itself; call again to wait longer). A later :meth:`start` starts a
            new thread either way.
        """
        self.cancel()
        if self._thread is not None:
            self._queue.put(None)
            self._ending.append(self._thread)
            self._thread, self._queue = None, queue.SimpleQueue()
        deadline = time.monotonic() + timeout_ms / 1000
        for thread in self._ending:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._ending = [thread for thread in self._ending if thread.is_alive()]
        return not self._ending

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        """Worker thread: run jobs from its own queue until the ``None`` sentinel."""
        while (job := jobs.get()) is not None:
            self._run(job)

    def _run(self, job: _Job) -> None:
        """Worker thread: one job, reported through ``_event``."""
        if job.cancel.is_set():
            self._event.emit(job, "cancelled", None)
            return
        self._event.emit(job, "started", None)
        try:
            rec = self._reconstructor.get()
            if job.all_faces:
                result = rec.reconstruct_faces(job.image, remove_bumps=job.remove_bumps)
            else:
                stages = rec.iter_stages(job.image, face=job.face, remove_bumps=job.remove_bumps)
                result = run_stages(
                    stages, job.cancel.is_set, lambda stage: self._event.emit(job, "stage", stage)
                )
        except Exception as exc:  # noqa: BLE001 - every failure is reported; none may end the thread
            self._event.emit(job, "failed", user_message(exc))
        else:
            self._event.emit(job, "cancelled" if result is None else "result", result)

    @Slot(object, str, object)
    def _on_event(self, job: _Job, kind: str, payload: object) -> None:
        """UI thread: turn a worker event into the public signals."""
        if kind == "started":
            if not job.cancel.is_set():
                self.started.emit()
            return
        if kind == "stage":
            if not job.cancel.is_set():
                self.stageDone.emit(payload.name, payload.seconds)
            return
        self._jobs.remove(job)
        if kind == "cancelled" or job.cancel.is_set():
            self.cancelled.emit()
        elif kind == "failed":
            self.failed.emit(payload)
        else:
            self.resultReady.emit(payload)
        if not self._jobs:
            self.busyChanged.emit(False)


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """One frame of a :class:`VideoJobRunner` job, just written.

    Attributes
    ----------
    index : int
        The frame's 0-based index in the video.
    image : np.ndarray
        The frame, (H, W, 3) uint8 RGB.
    result : Result or None
        Its reconstruction (landmarks, crop, mesh); None when the frame has no face.
    done : int
        Frames handled so far, those kept from an earlier run included.
    total : int
        Frames to handle (every ``every``-th of the video), 0 when the container does not say.
    per_second : float
        Frames handled per second in this job so far.
    """

    index: int
    image: np.ndarray
    result: Result | None
    done: int
    total: int
    per_second: float

    @property
    def seconds_left(self) -> float | None:
        """Seconds to the last frame at the rate so far; None while the total or the rate is unknown."""
        if not self.total or self.per_second <= 0:
            return None
        return max(self.total - self.done, 0) / self.per_second


@dataclass(eq=False)
class _VideoJob:
    """One call to :meth:`VideoJobRunner.start`."""

    video: Path
    out_dir: Path
    every: int
    resume: bool
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class VideoJobRunner(QObject):
    """Runs :func:`~vrn_studio.pipeline.video.reconstruct_video` in a worker thread, one job at a time.

    Every :meth:`start` ends in exactly one of ``finished`` or ``failed`` (none after
    :meth:`shutdown`). All signals are emitted on the thread that owns the runner (the UI
    thread).

    Parameters
    ----------
    reconstructor : Reconstructor or callable () -> Reconstructor
        The Reconstructor, or a factory called in the worker thread on the first job and
        reused. Give it one that no other runner uses: a job holds it for minutes.
    parent : QObject, optional
        Qt parent.

    Signals
    -------
    frameDone(object)
        A :class:`VideoFrame`, once the frame's files and table row are written.
    writing(str)
        The name of a file made from all frames (``animation.glb``, ``overlay.mp4``), before
        it is written; :meth:`stop` no longer stops the job then.
    finished(object)
        The job's :class:`~vrn_studio.pipeline.video.VideoRun`; ``stopped`` after :meth:`stop`.
    failed(str)
        The job failed (unreadable video, a folder that holds a run, disk full...); the
        message is meant for the user. The frames done are kept.
    """

    frameDone = Signal(object)
    writing = Signal(str)
    finished = Signal(object)
    failed = Signal(str)

    _event = Signal(object, str, object)  # (job, kind, payload), from the worker thread

    def __init__(self, reconstructor: ReconstructorSource, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._reconstructor = LazyReconstructor(reconstructor)
        self._job: _VideoJob | None = None  # started, final signal not yet emitted; UI thread only
        self._event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)

    def set_reconstructor_factory(self, factory: ReconstructorSource) -> None:
        """Use another model or settings from the next job on; built lazily in the worker."""
        self._reconstructor.set_source(factory)

    def is_busy(self) -> bool:
        """Whether a job is started and has not yet emitted its final signal."""
        return self._job is not None

    def start(self, video: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, every: int = 1,
              resume: bool = False) -> None:
        """Reconstruct every ``every``-th frame of ``video`` into ``out_dir`` in the worker thread.

        ``resume``: go on with the run already in ``out_dir`` (without it such a folder fails
        the job). The other options are :func:`~vrn_studio.pipeline.video.reconstruct_video`'s
        defaults: PLY meshes, bump removal, landmark and surface smoothing, animation and overlay.

        Raises
        ------
        RuntimeError
            A job is running.
        """
        if self._job is not None:
            raise RuntimeError("A video job is running; stop it first")
        job = _VideoJob(Path(video), Path(out_dir), every, resume)
        job.thread = threading.Thread(target=self._run, args=(job,), name="vrn-video", daemon=True)
        self._job = job
        job.thread.start()

    def stop(self) -> None:
        """Stop the job after the frame in progress (its frames are kept; ``resume`` goes on)."""
        if self._job is not None:
            self._job.stop.set()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop the job and wait for its thread, dropping its final signal.

        Parameters
        ----------
        timeout_ms : int, default: 5000
            Longest wait, in milliseconds (a frame takes about a second on a CPU; writing the
            animation and overlay of a long video takes longer and is not interrupted).

        Returns
        -------
        bool
            True when no worker thread is left; False when it is still finishing (it ends by itself).
        """
        job, self._job = self._job, None
        if job is None:
            return True
        job.stop.set()
        job.thread.join(timeout_ms / 1000)
        return not job.thread.is_alive()

    def _run(self, job: _VideoJob) -> None:
        """Worker thread: one job, reported through ``_event``."""
        try:
            rec = self._reconstructor.get()
            began, frames, progress = time.monotonic(), 0, (0, 0)

            def on_progress(done: int, total: int) -> None:
                nonlocal progress
                progress = (done, total)

            def on_frame(index: int, rgb: np.ndarray, result: Result | None) -> bool:
                nonlocal frames
                frames += 1
                rate = frames / max(time.monotonic() - began, 1e-6)
                self._event.emit(job, "frame", VideoFrame(index, rgb, result, *progress, rate))
                return not job.stop.is_set()

            run = reconstruct_video(
                rec, job.video, job.out_dir, every=job.every, resume=job.resume, progress=on_progress,
                status=lambda name: self._event.emit(job, "writing", name), on_frame=on_frame,
            )
        except Exception as exc:  # noqa: BLE001 - every failure is reported; none may pass silently
            self._event.emit(job, "failed", user_message(exc))
        else:
            self._event.emit(job, "finished", run)

    @Slot(object, str, object)
    def _on_event(self, job: _VideoJob, kind: str, payload: object) -> None:
        """UI thread: turn a worker event of the current job into the public signals."""
        if job is not self._job:
            return
        if kind == "frame":
            self.frameDone.emit(payload)
        elif kind == "writing":
            self.writing.emit(payload)
        else:
            self._job = None
            if kind == "failed":
                self.failed.emit(payload)
            else:
                self.finished.emit(payload)
