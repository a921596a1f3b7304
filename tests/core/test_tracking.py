"""FaceTracker: which frames detect, and how the box follows the landmarks in between."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import ASTRONAUT_LANDMARKS as LANDMARKS

from vrn_studio.errors import NoFaceError
from vrn_studio.face import Face, get_landmarker
from vrn_studio.image import load_image, sample_image_path
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


def test_a_checked_hint_says_when_the_tracked_face_has_gone() -> None:
    landmarker = get_landmarker("dlib")
    rgb = load_image(sample_image_path())
    tracker = FaceTracker(redetect_every=30)
    assert tracker.checked_hint(landmarker, rgb) is None  # first frame: detect
    tracker.update(landmarker.detect(rgb)[0], detected=True)
    np.testing.assert_array_equal(tracker.checked_hint(landmarker, rgb), tracker.box)  # the face is there
    with pytest.raises(NoFaceError, match="gone"):
        tracker.checked_hint(landmarker, np.full_like(rgb, 128))
    assert tracker.box is None and tracker.checked_hint(landmarker, rgb) is None  # forgotten: detect again
