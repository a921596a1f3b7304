"""Landmarkers by name: choice of "auto", and every way a backend can be unavailable.

Absence is faked with None in ``sys.modules``, breakage with a failing import hook, and
face-alignment (not installed here, weights absent) with a small fake module.
"""

from __future__ import annotations

import importlib.abc
import sys
import types
from typing import ClassVar

import numpy as np
import pytest

from vrn_studio.errors import MissingDependencyError, VrnStudioError, WeightsError
from vrn_studio.face import BACKENDS, available_landmarkers, get_landmarker
from vrn_studio.image import sample_image_path

pytest.importorskip("dlib", reason="these tests run the dlib detector: pip install 'vrn-studio[dlib]'")

DLIB_MISSING = (
    "The 'dlib' landmarker needs 'dlib-bin', which is not installed. "
    "Install it with: pip install 'vrn-studio[dlib]'"
)


class _FailingImport(importlib.abc.MetaPathFinder):
    """Makes ``import <name>`` raise ``error``, as a package with a broken binary would."""

    def __init__(self, name: str, error: ImportError) -> None:
        self.name, self.error = name, error

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name:
            raise self.error


def _break_import(monkeypatch, name: str, error: ImportError) -> None:
    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_FailingImport(name, error), *sys.meta_path])


class FakeFaceAlignment:
    """Stands in for face_alignment.FaceAlignment: records its arguments, returns boxes' diagonals."""

    instances: ClassVar[list[FakeFaceAlignment]] = []

    def __init__(self, landmarks_type, **kwargs):
        self.landmarks_type, self.kwargs = landmarks_type, kwargs
        self.calls = []
        FakeFaceAlignment.instances.append(self)

    def get_landmarks_from_image(self, image, detected_faces=None):
        self.calls.append((image.shape, [np.asarray(b).copy() for b in detected_faces]))
        t = np.linspace(0.0, 1.0, 68)[:, None]
        return [np.hstack([b[:2] + (b[2:4] - b[:2]) * t, t]) for b in detected_faces]  # (68, 3) like 3D


@pytest.fixture
def fake_fa(monkeypatch, tmp_path):
    """A fake face_alignment package and an empty torch hub at tmp_path/hub."""
    module = types.ModuleType("face_alignment")
    api = types.ModuleType("face_alignment.api")
    api.models_urls = {"2DFAN-4": "https://example.invalid/python-fan/2DFAN4-11f355bf06.pth.tar"}
    module.api = api
    module.FaceAlignment = FakeFaceAlignment
    module.LandmarksType = types.SimpleNamespace(TWO_D=1)
    monkeypatch.setitem(sys.modules, "face_alignment", module)
    monkeypatch.setitem(sys.modules, "face_alignment.api", api)
    monkeypatch.delitem(sys.modules, "vrn_studio.face.fan", raising=False)  # re-import against the fake
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # no fast landmarker: "auto" means fan, then dlib
    FakeFaceAlignment.instances.clear()
    return tmp_path / "hub" / "checkpoints" / "2DFAN4-11f355bf06.pth.tar"


def test_table_order_and_unknown_name():
    assert list(BACKENDS) == ["mediapipe", "fan", "dlib"]
    with pytest.raises(ValueError, match=r"^Unknown landmarker 'fann'\. Available: mediapipe, fan, dlib\.$"):
        get_landmarker("fann")


def test_dlib_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # the fast landmarker is not installed either
    monkeypatch.setitem(sys.modules, "dlib", None)
    with pytest.raises(MissingDependencyError) as info:
        get_landmarker("dlib")
    assert str(info.value) == DLIB_MISSING
    assert isinstance(info.value, ImportError)
    problems = available_landmarkers()
    assert problems["dlib"] == DLIB_MISSING
    assert problems["fan"] is not None
    with pytest.raises(MissingDependencyError, match=r"No landmarker can run here\. mediapipe: .* fan: .* dlib: The 'dlib'"):
        get_landmarker("auto")


def test_dlib_installed_but_broken(monkeypatch):
    _break_import(monkeypatch, "dlib", ImportError("libdlib.so: cannot open shared object file"))
    with pytest.raises(MissingDependencyError) as info:
        get_landmarker("dlib")
    message = str(info.value)
    assert message == "'dlib-bin' is installed but failed to import: libdlib.so: cannot open shared object file"
    assert "pip" not in message


def test_face_recognition_models_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "face_recognition_models", None)
    assert available_landmarkers()["dlib"] == (
        "The 'dlib' landmarker needs 'face_recognition_models', which is not installed. "
        "Install it with: pip install 'vrn-studio[dlib]'"
    )


def test_fan_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # so "auto" falls through to fan, then dlib
    monkeypatch.setitem(sys.modules, "face_alignment", None)
    message = available_landmarkers()["fan"]
    assert message.startswith("The 'fan' landmarker needs 'face-alignment', which is not installed.")
    assert "pip install 'vrn-studio[fan]' && pip install --no-deps face-alignment==1.5.0" in message
    assert get_landmarker("auto").name == "dlib"
    with pytest.raises(MissingDependencyError, match="needs 'face-alignment'"):
        get_landmarker("fan")


def test_fan_broken_by_a_missing_dependency_of_its_own(monkeypatch):
    error = ModuleNotFoundError("No module named 'numba'", name="numba")
    _break_import(monkeypatch, "face_alignment", error)
    message = available_landmarkers()["fan"]
    assert message == "'face-alignment' is installed but failed to import: No module named 'numba'"


def test_fan_without_weights_is_never_built(fake_fa):
    problem = available_landmarkers()["fan"]
    assert problem is not None
    assert "2DFAN4-11f355bf06.pth.tar" in problem and str(fake_fa.parent) in problem
    assert "https://example.invalid/python-fan/2DFAN4-11f355bf06.pth.tar" in problem
    assert get_landmarker("auto").name == "dlib"
    with pytest.raises(WeightsError, match="does not download them"):
        get_landmarker("fan")
    assert isinstance(WeightsError("x"), VrnStudioError)
    assert FakeFaceAlignment.instances == []


def test_fan_with_weights_feeds_dlib_boxes_to_face_alignment(fake_fa):
    fake_fa.parent.mkdir(parents=True)
    fake_fa.write_bytes(b"placeholder")
    assert {name: problem for name, problem in available_landmarkers().items() if name != "mediapipe"} == {
        "fan": None, "dlib": None
    }
    landmarker = get_landmarker("auto", device="cuda:1")
    assert landmarker.name == "fan"
    (fa,) = FakeFaceAlignment.instances
    assert fa.landmarks_type == 1
    assert fa.kwargs == {"device": "cuda:1", "flip_input": True, "face_detector": "folder", "compile": False}

    faces = landmarker.detect(sample_image_path("astronaut"))
    assert len(faces) == 1
    shape, boxes = fa.calls[-1]
    assert shape == (512, 512, 3)
    assert np.array_equal(boxes[0], faces[0].box)
    assert faces[0].landmarks.shape == (68, 2)
    assert np.allclose(faces[0].landmarks[[0, -1]], faces[0].box.reshape(2, 2))

    face = landmarker.landmarks_in_box(sample_image_path("astronaut"), (100, 50, 300, 250))
    assert np.allclose(face.landmarks[[0, -1]], [[100, 50], [300, 250]]) and face.score == 1.0
    assert landmarker.detect(np.full((100, 100, 3), 80, np.uint8)) == []
    assert len(fa.calls) == 2  # no call to face-alignment without a box


@pytest.mark.slow
def test_real_face_alignment_with_random_weights(monkeypatch, tmp_path):
    """The installed face-alignment accepts our arguments end to end (landmarks are noise)."""
    pytest.importorskip("face_alignment", reason="needs face-alignment: see available_landmarkers()['fan']")
    torch = pytest.importorskip("torch")
    from face_alignment.models import FAN

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    from vrn_studio.face.fan import weights_path

    weights_path().parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(FAN(4).state_dict(), weights_path())
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # no fast landmarker: "auto" means fan
    landmarker = get_landmarker("auto")
    assert landmarker.name == "fan"
    faces = landmarker.detect(sample_image_path("astronaut"))
    assert len(faces) == 1 and faces[0].landmarks.shape == (68, 2)
    assert landmarker.landmarks_in_box(sample_image_path("astronaut"), faces[0].box).landmarks.shape == (68, 2)


def test_dlib_model_file_missing(monkeypatch):
    monkeypatch.setattr("vrn_studio.face.dlib.SHAPE_PREDICTOR_FILE", "no_such_model.dat")
    message = available_landmarkers()["dlib"]
    assert message.startswith("The 'dlib' landmarker needs no_such_model.dat from 'face_recognition_models'")
    assert message.endswith("Install it with: pip install 'vrn-studio[dlib]'")
    with pytest.raises(MissingDependencyError, match="needs no_such_model.dat"):
        get_landmarker("dlib")
