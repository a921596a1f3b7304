"""WeightsDialog: empty state, import, SHA-256 checks, choosing a model, downloads with progress
and cancel from a local HTTP server, offline advice. The weights folders are the empty ones
tests/conftest.py makes for each test (plus an empty project folder here)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from http_server import FileServer, unreachable_url
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog

from vrn_studio.gui.weights_dialog import COLUMNS, FAILED, VERIFIED, WeightsDialog, empty_text
from vrn_studio.weights import KNOWN_MODELS, KnownModel, Manifest, import_t7, store

TIMEOUT_MS = 20_000


def _t7_writer() -> ModuleType:
    """tests/core/t7_writer.py (on sys.path only when core tests were collected)."""
    if "t7_writer" in sys.modules:
        return sys.modules["t7_writer"]
    spec = importlib.util.spec_from_file_location(
        "t7_writer", Path(__file__).parents[1] / "core" / "t7_writer.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["t7_writer"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small_t7(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small random-weight VRN saved as vrn-unguided.t7 (about 1.4 MB)."""
    return _t7_writer().write_small_vrn(tmp_path_factory.mktemp("t7") / "vrn-unguided.t7")


@pytest.fixture(autouse=True)
def empty_project_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Models in the checkout's weights/ folder must not show up here."""
    monkeypatch.setattr("vrn_studio.weights.store.project_dir", lambda: tmp_path / "project-weights")


@pytest.fixture
def served_model(small_t7: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FileServer]:
    """A local server holding vrn-unguided.t7, which KNOWN_MODELS points at; responses pause
    after 300,000 bytes until ``server.gate`` is set."""
    server = FileServer()
    server.gate_at = 300_000
    server.files["/vrn-unguided.t7"] = small_t7.read_bytes()
    server.start()
    known = KnownModel("vrn-unguided", server.url("/vrn-unguided.t7"), "vrn-unguided.t7", "MIT")
    monkeypatch.setitem(KNOWN_MODELS, "vrn-unguided", known)
    yield server
    server.close()


@pytest.fixture
def open_dialog(qtbot) -> Iterator[Callable[..., WeightsDialog]]:
    """Opens WeightsDialogs; at the end waits for their background work to finish, then closes them."""
    opened: list[WeightsDialog] = []

    def open_(active: str = "default") -> WeightsDialog:
        dialog = WeightsDialog(active)
        dialog.show()
        qtbot.waitExposed(dialog)
        opened.append(dialog)
        return dialog

    yield open_
    for dialog in opened:
        qtbot.waitUntil(lambda d=dialog: not d.is_busy() and not _checking(d), timeout=TIMEOUT_MS)
        dialog.close()
        dialog.deleteLater()


def _checking(dialog: WeightsDialog) -> bool:
    column = COLUMNS.index("Verified")
    return any(
        dialog.table.item(row, column).text() not in (VERIFIED, FAILED)
        for row in range(dialog.table.rowCount())
    )


def _cell(dialog: WeightsDialog, row: int, column: str) -> str:
    return dialog.table.item(row, COLUMNS.index(column)).text()


def _bold_rows(dialog: WeightsDialog) -> list[int]:
    return [row for row in range(dialog.table.rowCount()) if dialog.table.item(row, 0).font().bold()]


def _install(small_t7: Path, name: str = "vrn-unguided", folder: Path | None = None) -> Path:
    return import_t7(small_t7, name=name, out_dir=folder or store.user_dir())


def _click(qtbot, button) -> None:
    assert button.isEnabled() and button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _choose_file(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[tuple]:
    calls: list[tuple] = []

    def fake(*args: object, **kwargs: object) -> tuple[str, str]:
        calls.append(args)
        return str(path), "Torch7 models (*.t7)"

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake)
    return calls


def test_empty_state_explains_what_to_do(open_dialog):
    dialog = open_dialog()
    assert empty_text() == (
        "No VRN weights installed. Download vrn-unguided (MIT) or import a vrn-unguided.t7 you have."
    )
    assert dialog.empty_label.isVisible() and dialog.empty_label.text() == empty_text()
    assert not dialog.table.isVisible() and not dialog.use_button.isEnabled()
    assert (
        list(dialog.download_buttons) == ["vrn-unguided"]
        and dialog.download_buttons["vrn-unguided"].isVisible()
    )
    assert not dialog.message_label.isVisible()


def test_import_through_the_file_dialog(qtbot, open_dialog, monkeypatch, small_t7):
    calls = _choose_file(monkeypatch, small_t7)
    dialog = open_dialog()
    with qtbot.waitSignal(dialog.modelsChanged, timeout=TIMEOUT_MS):
        _click(qtbot, dialog.import_button)
        assert dialog.is_busy() and not dialog.import_button.isEnabled()
        assert (
            dialog.progress_label.isVisible() and "Importing vrn-unguided.t7" in dialog.progress_label.text()
        )
    assert len(calls) == 1 and calls[0][0] is dialog
    assert dialog.table.isVisible() and not dialog.empty_label.isVisible()
    assert dialog.table.rowCount() == 1
    assert [_cell(dialog, 0, c) for c in ("Name", "Location", "Licence")] == [
        "vrn-unguided (active)",
        "user",
        "MIT",
    ]
    assert _bold_rows(dialog) == [0] and not dialog.downloads_box.isVisible()
    assert "Imported vrn-unguided.t7 as vrn-unguided" in dialog.message_label.text()
    assert dialog.message_label.property("error") is False
    qtbot.waitUntil(lambda: _cell(dialog, 0, "Verified") == VERIFIED, timeout=TIMEOUT_MS)
    assert sorted(p.name for p in store.user_dir().iterdir()) == [
        "vrn-unguided.json",
        "vrn-unguided.safetensors",
    ]
    assert not dialog.is_busy() and dialog.import_button.isEnabled()


def test_a_bad_t7_shows_the_error_inline_and_leaves_no_file(qtbot, open_dialog, monkeypatch, tmp_path):
    bad = tmp_path / "broken.t7"
    bad.write_bytes(b"\x04\x00\x00\x00not a torch file at all" * 10)
    _choose_file(monkeypatch, bad)
    dialog = open_dialog()
    with qtbot.assertNotEmitted(dialog.modelsChanged, wait=100):
        _click(qtbot, dialog.import_button)
        qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=TIMEOUT_MS)
    assert dialog.message_label.isVisible() and dialog.message_label.property("error") is True
    assert "broken.t7" in dialog.message_label.text()
    assert not store.user_dir().exists() or not any(store.user_dir().iterdir())
    assert dialog.import_button.isEnabled() and dialog.empty_label.isVisible()
    assert not dialog.progress_bar.isVisible()


def test_importing_over_an_installed_model_needs_the_replace_box(qtbot, open_dialog, small_t7):
    _install(small_t7)
    dialog = open_dialog()
    with qtbot.assertNotEmitted(dialog.modelsChanged, wait=50):
        dialog.start_import(small_t7)
    assert not dialog.is_busy() and dialog.message_label.property("error") is True
    assert "vrn-unguided is already installed" in dialog.message_label.text()
    assert "Replace an installed model of the same name" in dialog.message_label.text()
    dialog.replace_check.setChecked(True)
    with qtbot.waitSignal(dialog.modelsChanged, timeout=TIMEOUT_MS):
        dialog.start_import(small_t7)
    assert dialog.message_label.property("error") is False and dialog.table.rowCount() == 1


def test_a_corrupt_model_is_marked_with_the_reason(qtbot, open_dialog, small_t7):
    manifest = _install(small_t7, name="broken")
    weights = manifest.with_suffix(".safetensors")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    _install(small_t7)
    dialog = open_dialog()
    qtbot.waitUntil(lambda: not _checking(dialog), timeout=TIMEOUT_MS)
    names = [_cell(dialog, row, "Name") for row in range(2)]
    assert names == ["broken", "vrn-unguided (active)"]
    broken = dialog.table.item(0, COLUMNS.index("Verified"))
    assert broken.text() == FAILED and "is corrupt or was changed" in broken.toolTip()
    assert _cell(dialog, 1, "Verified") == VERIFIED
    entry = Manifest.read(manifest)
    assert _cell(dialog, 0, "SHA-256") == entry.sha256[:12]
    assert _cell(dialog, 0, "Size") == f"{entry.size / 1e6:.1f} MB"


def test_use_this_model_emits_its_name_and_moves_the_highlight(qtbot, open_dialog, small_t7):
    _install(small_t7, name="other")
    _install(small_t7)
    dialog = open_dialog("default")
    assert [_cell(dialog, row, "Name") for row in range(2)] == ["other", "vrn-unguided (active)"]
    assert _bold_rows(dialog) == [1] and not dialog.use_button.isEnabled()
    dialog.table.selectRow(0)
    with qtbot.waitSignal(dialog.modelChosen) as chosen:
        _click(qtbot, dialog.use_button)
    assert chosen.args == ["other"] and dialog.active_model == "other"
    assert _bold_rows(dialog) == [0] and _cell(dialog, 0, "Name") == "other (active)"
    assert _cell(dialog, 1, "Name") == "vrn-unguided"


def test_a_model_hidden_by_an_earlier_folder_is_chosen_by_path(
    qtbot, open_dialog, small_t7, tmp_path, monkeypatch
):
    env = tmp_path / "env-weights"
    _install(small_t7, folder=env)
    hidden = _install(small_t7)
    monkeypatch.setenv("VRN_STUDIO_WEIGHTS", str(env))
    dialog = open_dialog("vrn-unguided")
    assert [_cell(dialog, row, "Location") for row in range(2)] == ["env", "user"]
    assert _bold_rows(dialog) == [0] and "Hidden by" in dialog.table.item(1, 0).toolTip()
    dialog.table.selectRow(1)
    with qtbot.waitSignal(dialog.modelChosen) as chosen:
        _click(qtbot, dialog.use_button)
    assert chosen.args == [str(hidden)] and _bold_rows(dialog) == [1]


def test_download_shows_progress_in_bytes_and_installs_the_model(qtbot, open_dialog, served_model):
    dialog = open_dialog()
    size = len(served_model.files["/vrn-unguided.t7"])
    with qtbot.waitSignal(dialog.modelsChanged, timeout=TIMEOUT_MS):
        _click(qtbot, dialog.download_buttons["vrn-unguided"])
        # The server holds back everything after 300,000 bytes: four 64 KiB chunks arrive.
        qtbot.waitUntil(lambda: dialog.progress_bar.value() == 262_144 * 1000 // size, timeout=TIMEOUT_MS)
        assert dialog.progress_bar.maximum() == 1000 and dialog.progress_bar.isVisible()
        assert dialog.progress_bar.text() == f"0.3 MB of {size / 1e6:.1f} MB"
        assert dialog.cancel_button.isEnabled() and not dialog.import_button.isEnabled()
        served_model.gate.set()
    assert served_model.requests == [None]
    assert _cell(dialog, 0, "Name") == "vrn-unguided (active)" and not dialog.downloads_box.isVisible()
    assert "Downloaded vrn-unguided" in dialog.message_label.text() and not dialog.progress_bar.isVisible()
    assert sorted(p.name for p in store.user_dir().iterdir()) == [
        "vrn-unguided.json",
        "vrn-unguided.safetensors",
        "vrn-unguided.t7",
    ]


def test_cancel_stops_the_download_and_a_new_one_resumes(qtbot, open_dialog, served_model):
    dialog = open_dialog()
    with qtbot.assertNotEmitted(dialog.modelsChanged, wait=50):
        _click(qtbot, dialog.download_buttons["vrn-unguided"])
        qtbot.waitUntil(lambda: dialog.progress_bar.value() > 0, timeout=TIMEOUT_MS)
        _click(qtbot, dialog.cancel_button)
        assert not dialog.cancel_button.isEnabled() and dialog.progress_label.text() == "Cancelling…"
        served_model.gate.set()
        qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=TIMEOUT_MS)
    assert "cancelled" in dialog.message_label.text() and dialog.message_label.property("error") is False
    assert [p.name for p in store.user_dir().iterdir()] == ["vrn-unguided.t7.part"]
    assert not dialog.progress_bar.isVisible() and dialog.import_button.isEnabled()
    part_size = (store.user_dir() / "vrn-unguided.t7.part").stat().st_size
    with qtbot.waitSignal(dialog.modelsChanged, timeout=TIMEOUT_MS):
        _click(qtbot, dialog.download_buttons["vrn-unguided"])
    assert served_model.requests == [None, f"bytes={part_size}-"]
    assert dialog.table.rowCount() == 1


def test_offline_download_shows_the_manual_steps(qtbot, open_dialog, monkeypatch):
    url = unreachable_url("/vrn-unguided.t7")
    monkeypatch.setitem(
        KNOWN_MODELS, "vrn-unguided", KnownModel("vrn-unguided", url, "vrn-unguided.t7", "MIT")
    )
    dialog = open_dialog()
    _click(qtbot, dialog.download_buttons["vrn-unguided"])
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=TIMEOUT_MS)
    message = dialog.message_label.text()
    assert f"Cannot reach {url}" in message and "vrn-studio weights import vrn-unguided.t7" in message
    assert (
        dialog.message_label.property("error") is True and dialog.download_buttons["vrn-unguided"].isEnabled()
    )


def test_open_folder_shows_the_user_weights_folder(qtbot, open_dialog, monkeypatch):
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    dialog = open_dialog()
    _click(qtbot, dialog.open_folder_button)
    assert [Path(url.toLocalFile()) for url in opened] == [store.user_dir()] and store.user_dir().is_dir()
    assert not dialog.message_label.isVisible()
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    _click(qtbot, dialog.open_folder_button)
    assert dialog.message_label.text() == f"Could not open {store.user_dir()}; open it in your file manager."


def test_closing_cancels_a_running_download(qtbot, open_dialog, served_model):
    dialog = open_dialog()
    _click(qtbot, dialog.download_buttons["vrn-unguided"])
    qtbot.waitUntil(lambda: dialog.progress_bar.value() > 0, timeout=TIMEOUT_MS)
    dialog.reject()
    served_model.gate.set()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=TIMEOUT_MS)
    assert not (store.user_dir() / "vrn-unguided.json").exists()
    assert (store.user_dir() / "vrn-unguided.t7.part").is_file()
