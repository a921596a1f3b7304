"""``vrn-studio weights list | import | verify`` through the CLI entry point."""

from __future__ import annotations

from pathlib import Path

from t7_writer import write_small_vrn

from vrn_studio.cli.main import main
from vrn_studio.weights import ENV_VAR, Manifest, store


def test_list_with_nothing_installed(capsys):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "No models installed. Get one with: vrn-studio weights download vrn-unguided" in out
    assert str(store.user_dir()) in out


def test_import_list_verify(tmp_path, capsys, monkeypatch):
    t7 = write_small_vrn(tmp_path / "vrn-unguided.t7")
    assert main(["weights", "import", str(t7)]) == 0
    manifest_path = store.user_dir() / "vrn-unguided.json"
    manifest = Manifest.read(manifest_path)
    assert (
        f"Imported and checked against the .t7 network: vrn-unguided: {manifest_path}"
        in capsys.readouterr().out
    )

    out_dir = tmp_path / "elsewhere"
    assert main(["weights", "import", str(t7), "--name", "second", "--out", str(out_dir)]) == 0
    monkeypatch.setenv(ENV_VAR, str(out_dir))
    capsys.readouterr()

    assert main(["weights", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "LOCATION", "SIZE", "LICENCE", "SHA256", "VERIFIED"]
    assert lines[1].split()[:2] == ["second", "env"]
    assert lines[2].split() == [
        "vrn-unguided",
        "user",
        f"{manifest.size / 1e6:.1f}",
        "MB",
        "MIT",
        manifest.sha256[:12],
        "yes",
    ]

    assert main(["weights", "verify"]) == 0
    assert capsys.readouterr().out.count("ok ") == 2

    weights = store.user_dir() / "vrn-unguided.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert main(["weights", "verify", "vrn-unguided"]) == 1
    assert "FAILED  vrn-unguided" in capsys.readouterr().out
    assert main(["weights", "list"]) == 0
    assert "NO (corrupt or changed" in capsys.readouterr().out


def test_import_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "bad.t7"
    bad.write_bytes(b"not a torch file")
    assert main(["weights", "import", str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "bad.t7" in err
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["bad.t7"]
    assert main(["weights", "import", str(write_small_vrn(tmp_path / "x.t7")), "--name", "a/b"]) == 2
    assert "not a valid model name" in capsys.readouterr().err


def test_verify_unknown_model(capsys):
    assert main(["weights", "verify", "nope"]) == 2
    assert "'nope' is not installed" in capsys.readouterr().err
