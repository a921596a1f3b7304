"""Downloads against a local HTTP server: full, resumed, cancelled, bad checksum, unreachable."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

import pytest
from http_server import FileServer, unreachable_url
from t7_writer import write_small_vrn

from vrn_studio.errors import WeightsError
from vrn_studio.weights import KNOWN_MODELS, KnownModel, Manifest, download, fetch, load_model


@pytest.fixture
def server() -> Iterator[FileServer]:
    srv = FileServer().start()
    yield srv
    srv.close()


PAYLOAD = bytes(range(256)) * 1000


def test_fetch_whole_file(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    target = fetch(
        server.url("/f.bin"), tmp_path / "f.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest(), progress=False
    )
    assert target.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()
    assert server.requests == [None]


def test_fetch_resumes_a_partial_download(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:1000])
    fetch(server.url("/f.bin"), tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert server.requests == ["bytes=1000-"]


def test_interrupted_download_keeps_its_part_and_resumes(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    server.cut_at = 5000
    with pytest.raises(WeightsError, match="stopped at 5000 of 256000 bytes; run the same command again"):
        fetch(server.url("/f.bin"), tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin.part").stat().st_size == 5000 and not (tmp_path / "f.bin").exists()
    fetch(server.url("/f.bin"), tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert server.requests == [None, "bytes=5000-"]


def test_fetch_reports_bytes_to_a_callable(server, tmp_path, capsys):
    server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:1000])
    calls: list[tuple[int, int | None]] = []
    fetch(server.url("/f.bin"), tmp_path / "f.bin", progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (1000, len(PAYLOAD)) and calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [done for done, _ in calls] == sorted(done for done, _ in calls) and len(calls) > 2
    assert capsys.readouterr().err == ""


def test_cancelled_fetch_keeps_its_part_and_resumes(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    cancel = threading.Event()

    def cancel_after_first_chunk(done: int, total: int | None) -> None:
        if done > 0:
            cancel.set()

    with pytest.raises(WeightsError, match="cancelled at 65536 bytes.*kept in f.bin.part"):
        fetch(server.url("/f.bin"), tmp_path / "f.bin", progress=cancel_after_first_chunk, cancel=cancel)
    assert (tmp_path / "f.bin.part").stat().st_size == 65536 and not (tmp_path / "f.bin").exists()
    fetch(server.url("/f.bin"), tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert server.requests == [None, "bytes=65536-"]


def test_cancel_set_as_the_last_chunk_arrives_keeps_the_file(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD[:1000]
    cancel = threading.Event()
    cancel.set()
    target = fetch(server.url("/f.bin"), tmp_path / "f.bin", progress=False, cancel=cancel)
    assert target.read_bytes() == PAYLOAD[:1000]


def test_fetch_restarts_when_the_server_ignores_ranges(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    server.ranges = False
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes")
    fetch(server.url("/f.bin"), tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_checksum_mismatch_leaves_no_file(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    with pytest.raises(WeightsError) as info:
        fetch(server.url("/f.bin"), tmp_path / "f.bin", sha256="0" * 64, progress=False)
    assert "0" * 64 in str(info.value) and hashlib.sha256(PAYLOAD).hexdigest() in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_http_error_gives_manual_steps(server, tmp_path):
    with pytest.raises(WeightsError, match="HTTP 404.*download .* on a machine with internet access"):
        fetch(server.url("/missing.t7"), tmp_path / "vrn-unguided.t7", progress=False)


def test_unreachable_server_fails_at_once_with_manual_steps(tmp_path, monkeypatch):
    url = unreachable_url("/vrn-unguided.t7")
    monkeypatch.setitem(
        KNOWN_MODELS, "vrn-unguided", KnownModel("vrn-unguided", url, "vrn-unguided.t7", "MIT")
    )
    with pytest.raises(WeightsError) as info:
        download("vrn-unguided", tmp_path, progress=False, timeout=5)
    message = str(info.value)
    assert f"Cannot reach {url}" in message and "offline" in message
    assert "vrn-studio weights import vrn-unguided.t7" in message
    assert list(tmp_path.iterdir()) == []


def test_download_imports_the_model(server, tmp_path, monkeypatch):
    original = write_small_vrn(tmp_path / "served.t7").read_bytes()
    server.files["/vrn-unguided.t7"] = original
    url = server.url("/vrn-unguided.t7")
    known = KnownModel("vrn-unguided", url, "vrn-unguided.t7", "MIT", hashlib.sha256(original).hexdigest())
    monkeypatch.setitem(KNOWN_MODELS, "vrn-unguided", known)
    dest = tmp_path / "models"
    manifest_path = download("vrn-unguided", dest, progress=False)
    manifest = Manifest.read(manifest_path)
    assert (manifest.name, manifest.source, manifest.licence) == ("vrn-unguided", url, "MIT")
    assert manifest.imported_from["sha256"] == known.sha256
    assert sorted(p.name for p in dest.iterdir()) == [
        "vrn-unguided.json",
        "vrn-unguided.safetensors",
        "vrn-unguided.t7",
    ]
    assert load_model(manifest_path).manifest == manifest


def test_cancelled_download_imports_nothing(server, tmp_path, monkeypatch):
    server.files["/vrn-unguided.t7"] = PAYLOAD
    known = KnownModel("vrn-unguided", server.url("/vrn-unguided.t7"), "vrn-unguided.t7", "MIT")
    monkeypatch.setitem(KNOWN_MODELS, "vrn-unguided", known)
    cancel = threading.Event()
    cancel.set()
    calls: list[tuple[int, int | None]] = []
    with pytest.raises(WeightsError, match="cancelled"):
        download("vrn-unguided", tmp_path, progress=lambda *call: calls.append(call), cancel=cancel)
    assert calls == [(0, len(PAYLOAD)), (65536, len(PAYLOAD))]
    assert [p.name for p in tmp_path.iterdir()] == ["vrn-unguided.t7.part"]


def test_unknown_model_name(tmp_path):
    with pytest.raises(WeightsError, match="Unknown model 'nope'; downloadable models: vrn-unguided"):
        download("nope", tmp_path)


def test_release_entry_points_at_the_authors_file():
    known = KNOWN_MODELS["vrn-unguided"]
    assert known.url == "http://cs.nott.ac.uk/~psxasj/download.php?file=vrn-unguided.t7"
    assert known.licence == "MIT" and known.filename == "vrn-unguided.t7"
