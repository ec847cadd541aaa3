"""``driverseat ...`` given bad input: exit 2 and one sentence, a runtime failure exit 1, a
closed stdout a quiet exit; never a traceback (daemon/cli/guard.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.store import Store


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    """``main(argv)``'s one sentence on stderr, after checking its exit code."""
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse's own errors
        got = exc.code  # type: ignore[assignment]
    captured = capsys.readouterr()
    assert got == code, captured.err
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) >= 1 and lines[-1].startswith("driverseat"), captured.err
    return lines[-1]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir with a token and an empty database."""
    d = tmp_path / "data"
    assert main(["token", "--data-dir", str(d)]) == 0
    with Store(d / "driverseat.db"):
        pass
    return d


# -- 1. no tracebacks -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind"), [("[1,2]", "a list"), ("42", "a number"), ("null", "null"),
                                            ('"click"', "a string"), ("true", "a boolean")])  # fmt: skip
def test_act_with_json_that_is_not_an_object(
    text: str, kind: str, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the URL of nothing: the check comes before any request
    err = _fails(["act", text, "--data-dir", str(data), "--url", "http://127.0.0.1:9"], capsys)
    assert err == (
        """driverseat: the action must be a JSON object like '{"action": "click", "x": 10, "y": 20}', """
        f"not {kind}"
    )


@pytest.mark.parametrize(("text", "why"), [("[" * 5000 + "]" * 5000, "nested too deeply"),
                                           ('{"action": "wait", "duration": NaN}', "NaN is not JSON")])  # fmt: skip
def test_act_with_hostile_json_is_a_sentence(text: str, why: str, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nested 5000 deep, ``json.loads`` raised RecursionError: a traceback."""
    err = _fails(["act", text, "--data-dir", str(data), "--url", "http://127.0.0.1:9"], capsys)
    assert err.startswith("driverseat: the action is not valid JSON (") and why in err


def test_export_to_a_path_under_a_file(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = data.parent / "a-file"
    blocker.write_text("")
    err = _fails(["export", "--all", "--out", str(blocker / "x"), "--data-dir", str(data)], capsys)
    assert err == f"driverseat: cannot write the dataset to {blocker / 'x'}: {blocker} is a file, so nothing can be made under it"
    err = _fails(["export", "--all", "--out", str(blocker), "--data-dir", str(data)], capsys)
    assert err.endswith(f"{blocker} is a file, not a folder")


def test_report_to_a_path_it_cannot_write(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = data.parent / "a-file"
    blocker.write_text("")
    err = _fails(["report", "--out", str(blocker / "r.html"), "--data-dir", str(data)], capsys)
    assert err.startswith(f"driverseat: cannot write the report to {blocker / 'r.html'}: ")
    err = _fails(["report", "--out", str(data), "--data-dir", str(data)], capsys)
    assert err.endswith(f"{data} is a folder, not a file")


def test_an_export_that_fails_while_writing_is_a_runtime_failure(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import daemon.shadow.export

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(daemon.shadow.export, "export_trajectory", full)
    out = data.parent / "out"
    err = _fails(["export", "--all", "--out", str(out), "--data-dir", str(data)], capsys, code=1)
    assert err == f"driverseat: could not write the dataset to {out}: No space left on device"


def test_a_closed_stdout_ends_the_command_quietly(data: Path) -> None:
    """``driverseat token | head -c0``: the reader is gone before the first write."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "daemon.cli", "token", "--data-dir", str(data)],
            stdout=write, stderr=subprocess.PIPE, text=True, timeout=30, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    assert done.stderr == ""  # not "Exception ignored ... BrokenPipeError"
    assert done.returncode == 141  # as a tool killed by SIGPIPE: a pipeline sees it the same


# -- 2. consistent exit codes and messages -------------------------------------------------------


@pytest.mark.parametrize("url", ["notaurl", "ftp://host:1", "http://", "http://[::1"])
def test_a_url_that_is_not_an_address(url: str, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["state", "--url", url, "--data-dir", str(data)], capsys)
    assert err == (
        f"driverseat: {url!r} (from --url) is not the address of a daemon; expected one like "
        "http://127.0.0.1:8765 (http:// or https://, a host, optionally :port)"
    )


def test_a_bad_url_names_where_it_came_from(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIVERSEAT_URL", "localhost:8765")
    assert "(from $DRIVERSEAT_URL)" in _fails(["state", "--data-dir", str(data)], capsys)
    monkeypatch.delenv("DRIVERSEAT_URL")
    (data / "url").write_text("garbage\n")
    assert f"(from {data / 'url'})" in _fails(["view", "--data-dir", str(data)], capsys)


def test_an_unreachable_daemon_is_a_runtime_failure(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["state", "--url", "http://127.0.0.1:9", "--data-dir", str(data)], capsys, code=1)
    assert "is not running at http://127.0.0.1:9" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--out", "OUT"],  # neither --session nor --all
        ["export", "--format", "preference", "--all", "--out", "OUT"],
        ["export", "--questions", "--all", "--out", "OUT"],
        ["export", "--session", "nope", "--out", "OUT"],
        ["report", "--auditor-at", "9", "--supervisor-at", "1", "--out", "OUT"],
        ["reviewer", "remove", "nobody"],
        ["agreement", "--session", "nope"],
    ],
)
def test_usage_mistakes_exit_2(argv: list[str], data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(data.parent / "out")
    _fails([*(out if a == "OUT" else a for a in argv), "--data-dir", str(data)], capsys)


@pytest.mark.parametrize("command", [["audit"], ["report"], ["export", "--all", "--out", "x"],
                                     ["agreement"], ["reviewer", "score"], ["reviewer", "remove", "bob"]])  # fmt: skip
def test_a_data_dir_with_no_database_is_the_same_mistake_everywhere(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _fails([*command, "--data-dir", str(tmp_path / "empty")], capsys)
    assert "does not exist" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "--hourly-cost", "abc"], "argument --hourly-cost: 'abc' must be a number, 0 or more"),
        (["report", "--hourly-cost", "inf"], "argument --hourly-cost: 'inf' must be a number, 0 or more"),
        (["report", "--min-actions", "lots"], "argument --min-actions: 'lots' must be a whole number, 0 or more"),
        (["serve", "--monitor", "two"], "argument --monitor: 'two' must be a whole number, 0 or more"),
        (["ask", "q", "--timeout", "soon"], "argument --timeout: 'soon' must be a number, 0 or more"),
    ],
)
def test_type_errors_read_as_sentences(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(argv, capsys)
    assert err.endswith(message), err
    assert "invalid" not in err


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("action", ["add", "list", "remove", "score"])
def test_reviewer_subcommands_are_described(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = _help(["reviewer", action], capsys)
    _, _, rest = out.partition("\n\n")
    assert not rest.startswith(("positional arguments", "options")), out  # a description first
    if "\n  name\n" in out or re.search(r"^  name +", out, re.MULTILINE):  # a NAME argument is explained
        assert re.search(r"^  name +\S", out, re.MULTILINE), out


def test_export_help_shows_the_default_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert "(default: trajectory)" in " ".join(_help(["export"], capsys).split())


def test_ask_help_example_survives_the_shell(capsys: pytest.CaptureFixture[str]) -> None:
    out = _help(["ask"], capsys)
    example = next(line.strip() for line in out.splitlines() if line.strip().startswith("driverseat ask"))
    # one line, as typed; and a shell gives back the same words (no "$5" expanded away)
    shell = subprocess.run(["sh", "-c", f"set -- {example[len('driverseat ask '):]}; printf '%s\\n' \"$@\""],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert shell.stdout.splitlines() == ["Which flight?", "--option", "economy $500", "--option", "business $1,500"]


def test_reviewer_list_with_nobody_says_how_to_add_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for data in (tmp_path / "none", tmp_path / "empty"):  # no database; a database, nobody in it
        if data.name == "empty":
            data.mkdir()
            with Store(data / "driverseat.db"):
                pass
        assert main(["reviewer", "list", "--data-dir", str(data)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("no reviewers yet") and "driverseat reviewer add NAME" in out
        assert main(["reviewer", "list", "--json", "--data-dir", str(data)]) == 0
        assert capsys.readouterr().out == ""  # JSON lines: none
