"""``serve``'s notification options: a bad URL or a missing secret exits 2 with a sentence,
before anything is opened; the secret never reaches the output."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.cli import main


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--webhook", "ftp://chat/hook"], None, "argument --webhook: 'ftp://chat/hook' is not an http:// or https:// URL"),
        (["--webhook", "http://127.0.0.1:9/h"], None, "--webhook needs a secret to sign its messages"),
        (["--webhook", "http://127.0.0.1:9/h"], "  ", "$DRIVERSEAT_WEBHOOK_SECRET is empty or unset"),
        (["--webhook-secret-file", "{tmp}/s"], "x", "--webhook-secret-file needs --webhook URL"),
        (["--webhook", "http://127.0.0.1:9/h", "--webhook-secret-file", "{tmp}/missing"], None,
         "cannot read the webhook secret"),
    ],
)  # fmt: skip
def test_bad_webhook_settings_exit_2(
    argv: list[str], env: str | None, message: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.delenv("DRIVERSEAT_WEBHOOK_SECRET", raising=False)
    if env is not None:
        monkeypatch.setenv("DRIVERSEAT_WEBHOOK_SECRET", env)
    (tmp_path / "s").write_text("k")
    data = tmp_path / "data"
    args = ["serve", "--data-dir", str(data), *[a.replace("{tmp}", str(tmp_path)) for a in argv]]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code  # type: ignore[assignment]
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not data.exists()  # nothing opened


def test_an_empty_secret_file_is_refused_and_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "s").write_text("\n")
    code = main(["serve", "--data-dir", str(tmp_path / "d"), "--webhook", "http://127.0.0.1:9/T0K3N",
                 "--webhook-secret-file", str(tmp_path / "s")])  # fmt: skip
    assert code == 2 and f"({tmp_path / 's'} is empty or unset)" in capsys.readouterr().err
