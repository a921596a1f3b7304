"""FaceTracker: which frames detect, and how the box follows the landmarks in between."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import ASTRONAUT_LANDMARKS as LANDMARKS

from vrn_studio.face import Face
from vrn_studio.pipeline.tracking import FaceTracker


def _face(landmarks: np.ndarray, box: tuple[float, ...] = (0.0, 0, 1, 1)) -> Face:
    return Face(box=np.array(box), score=1.0, landmarks=landmarks)


def test_the_box_follows_the_landmarks_and_their_spread() -> None:
    tracker = FaceTracker()
    tracker.update(_face(LANDMARKS, (150.0, 80, 290, 220)), detected=True)
    np.testing.assert_allclose(tracker.box, [150, 80, 290, 220])
    tracker.update(_face(LANDMARKS + [10.0, -5.0]), detected=False)  # moved: the box moves along
    np.testing.assert_allclose(tracker.box, [160, 75, 300, 215])
    centre = LANDMARKS.mean(axis=0)
    tracker.update(_face(centre + 2 * (LANDMARKS - centre)), detected=False)  # twice as near: twice the box
    box = tracker.box
    np.testing.assert_allclose(box[2:] - box[:2], [280, 280])


def test_detection_on_the_first_frame_every_nth_and_after_a_loss() -> None:
    tracker = FaceTracker(redetect_every=3)
    hints = []
    for _ in range(7):
        hint = tracker.next_hint()
        hints.append(hint is None)
        tracker.update(_face(LANDMARKS, (150.0, 80, 290, 220)), detected=hint is None)
    assert hints == [True, False, False, True, False, False, True]
    tracker.reset()  # the face was lost
    assert tracker.next_hint() is None and tracker.box is None


def test_every_frame_detects_with_redetect_every_one() -> None:
    tracker = FaceTracker(redetect_every=1)
    tracker.update(_face(LANDMARKS, (150.0, 80, 290, 220)), detected=True)
    assert all(tracker.next_hint() is None for _ in range(4))
    with pytest.raises(ValueError, match="at least 1"):
        FaceTracker(redetect_every=0)
