"""``export --format preference`` and ``--format sft``: through the real review queue and a
real recorded session's rows, loaded with ``datasets`` and passed through TRL's own
dataset functions (``trl.data_utils``: installed without torch by scripts/install-deps.sh,
which is what the trainers run on a row before the model sees it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from daemon.cli import main
from daemon.outcomes import DecisionRequest
from daemon.review.queue import ReviewQueue
from daemon.store import Store
from tests.shadow.test_store_export import _session

SCREEN = (0, 0, 1920, 1080)
AGENT = (1366, 768)


def _png() -> bytes:
    # a gradient, so a frame resized to the agent's size is told from one merely copied
    img = np.zeros((1080, 1920, 3), np.uint8)
    img[:, :, 1] = np.linspace(0, 255, 1920, dtype=np.uint8)[None, :]
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def _click(x: int, y: int, **extra: Any) -> dict[str, Any]:
    return {"action": "click", "x": x, "y": y, "button": "left", "count": 1, "modifiers": [], **extra}


def _reviews(data: Path) -> dict[str, str]:
    """A correction, an edit, a drag correction, an approval and a rejection; their ids."""
    png = _png()
    with Store(data / "driverseat.db") as store:
        q = ReviewQueue(store, data / "frames")

        def review(action: dict[str, Any], screen: dict[str, Any], rule: str = "careful") -> str:
            return q.create(f"a-{rule}-{action['action']}", action, screen, "approve", rule, png,
                            SCREEN, AGENT).id  # fmt: skip

        words = {"reason": "Send is the button that submits", "goal": "send the report",
                 "steps": ["opened mail", "attached report.pdf"], "confidence": 0.6}  # fmt: skip
        ids = {
            "correct": review(_click(100, 200, **words), _click(141, 281)),
            "edit": review({"action": "type", "text": "helo", "goal": "greet"},
                           {"action": "type", "text": "helo"}, rule="typing"),
            "drag": review({"action": "drag", "path": [[10, 10], [20, 20], [30, 30]]},
                           {"action": "drag", "path": [[14, 14], [28, 28], [42, 42]]}),
            "approve": review(_click(5, 5), _click(7, 7)),
            "reject": review(_click(6, 6), _click(8, 8)),
        }
        q.decide(ids["correct"], DecisionRequest(verdict="correct", reviewer="ann", points=((960, 540),),
                                                 shown_at=1.0))  # fmt: skip
        q.decide(ids["edit"], DecisionRequest(verdict="edit", reviewer="bob", edited={"text": "hello"}))
        q.decide(ids["drag"], DecisionRequest(verdict="correct", reviewer="ann",
                                              points=((0, 0), (1919, 1079))))  # fmt: skip
        q.decide(ids["approve"], DecisionRequest(verdict="approve", reviewer="ann"))
        q.decide(ids["reject"], DecisionRequest(verdict="reject", reviewer="ann", rationale="wrong window"))
        return ids


def _answer(turns: list[dict[str, Any]]) -> dict[str, Any]:
    [turn] = turns
    assert turn["role"] == "assistant"
    [part] = turn["content"]
    assert part["type"] == "text"
    return dict(json.loads(part["text"]))


def test_corrections_and_edits_become_vision_dpo_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = tmp_path / "data", tmp_path / "pref"
    ids = _reviews(data)
    assert main(["export", "--format", "preference", "--out", str(out), "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out.startswith("exported 3 preference pair(s) and 3 frame(s)")
    meta = [json.loads(x) for x in (out / "train" / "metadata.jsonl").read_text().splitlines()]
    assert [m["review_id"] for m in meta] == [ids["correct"], ids["edit"], ids["drag"]]  # no approval, no rejection
    assert all((out / "train" / m["file_names"][0]).is_file() for m in meta)

    import datasets

    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train")
    assert ds.num_rows == 3
    assert {"prompt", "chosen", "rejected", "images"} <= set(ds.column_names)
    row = ds[0]
    [image] = row["images"]
    assert image.size == AGENT  # stored at the agent's size: the answer's pixels are the image's
    assert image.getpixel((1365, 0))[1] == 255 and image.getpixel((0, 0))[1] == 0
    # chosen: the agent's click moved to the corrected point, (960, 540) on screen -> agent space
    assert _answer(row["chosen"]) == {"action": "click", "x": 683, "y": 384, "button": "left",
                                      "count": 1, "modifiers": []}  # fmt: skip
    assert _answer(row["rejected"]) == {"action": "click", "x": 100, "y": 200, "button": "left",
                                        "count": 1, "modifiers": []}  # fmt: skip
    [user] = row["prompt"]
    assert user["role"] == "user" and user["content"][0]["type"] == "image"
    text = user["content"][1]["text"]
    assert "Goal: send the report" in text and "2. attached report.pdf" in text
    assert "Your reasoning: Send is the button that submits" in text and "1366x768" in text
    assert _answer(ds[1]["chosen"])["text"] == "hello" and _answer(ds[1]["rejected"])["text"] == "helo"
    assert _answer(ds[2]["chosen"])["path"] == [[0, 0], [1365, 767]]
    assert _answer(ds[2]["rejected"])["path"] == [[10, 10], [20, 20], [30, 30]]

    from trl.data_utils import (
        is_conversational,
        maybe_apply_chat_template,
        prepare_multimodal_messages,
    )

    for example in ds:
        assert is_conversational(example)
        filled = prepare_multimodal_messages(example["prompt"], images=example["images"])
        assert filled[0]["content"][0]["image"] is example["images"][0]
        templated = maybe_apply_chat_template(
            {k: example[k] for k in ("prompt", "chosen", "rejected")}, _tokenizer()
        )  # the text path: prompt, chosen and rejected as TRL's DPO tokenises them
        assert templated["prompt"].endswith("<assistant>") and "Goal:" in templated["prompt"]
        chosen = json.loads(templated["chosen"].removesuffix("</assistant>"))
        assert chosen == _answer(example["chosen"]) != _answer(example["rejected"])


def _tokenizer() -> Any:
    """A tokenizer built here (no download): only its chat template matters to TRL's check."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    template = (
        "{% for m in messages %}<{{ m['role'] }}>{% for c in m['content'] %}"
        "{% if c['type'] == 'text' %}{{ c['text'] }}{% else %}<image>{% endif %}{% endfor %}"
        "</{{ m['role'] }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    tok = Tokenizer(models.WordLevel(vocab={"[UNK]": 0}, unk_token="[UNK]"))
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok, chat_template=template, eos_token="[UNK]"
    )


def test_preference_with_nothing_to_pair_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store(tmp_path / "driverseat.db") as store:
        q = ReviewQueue(store, tmp_path / "frames")
        r = q.create("a1", _click(1, 1), _click(1, 1), "approve", "careful", _png(), SCREEN, AGENT)
        q.decide(r.id, DecisionRequest(verdict="approve", reviewer="ann"))
    assert main(["export", "--format", "preference", "--out", str(tmp_path / "o"),
                 "--data-dir", str(tmp_path)]) == 2  # fmt: skip
    assert "no corrected or edited review" in capsys.readouterr().err


def test_a_review_whose_frame_is_gone_is_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _reviews(tmp_path)
    with Store(tmp_path / "driverseat.db") as store:
        frame = store.get_review(ids["edit"])
    assert frame is not None
    (tmp_path / "frames" / frame["frame"]).unlink()
    assert main(["export", "--format", "preference", "--out", str(tmp_path / "o"),
                 "--data-dir", str(tmp_path)]) == 0  # fmt: skip
    assert capsys.readouterr().out.rstrip().endswith("; 1 left out, their frames gone")
    meta = (tmp_path / "o" / "train" / "metadata.jsonl").read_text().splitlines()
    assert [json.loads(m)["review_id"] for m in meta] == [ids["correct"], ids["drag"]]


def test_sft_gives_one_instruction_example_per_human_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = tmp_path / "data", tmp_path / "sft"
    _session(data)  # a human click, then a foreign (another injector's) typing
    _session(data, "s2")
    assert main(["export", "--all", "--format", "sft", "--goal", "file the invoice", "--out", str(out),
                 "--data-dir", str(data)]) == 0  # fmt: skip
    said = capsys.readouterr().out
    assert said.startswith("exported 2 instruction example(s) and 1 frame(s)")
    assert "; 2 action(s) of another injector (origin foreign) left out" in said
    import datasets

    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train")
    assert ds.num_rows == 2 and ds["session"] == ["s1", "s2"]
    row = ds[0]
    assert row["images"][0].size == (160, 90) and row["images"][0].getpixel((0, 0)) == (10, 10, 10)
    user, answer = row["messages"]
    assert user["content"][0]["type"] == "image"
    assert "Goal: file the invoice" in user["content"][1]["text"]
    assert "Previous actions: none" in user["content"][1]["text"]
    assert _answer([answer]) == {"action": "click", "x": 80, "y": 45, "button": "left", "count": 1,
                                 "modifiers": []}  # fmt: skip
    assert row["pyautogui"] == "pyautogui.click(x=80, y=45)"

    from trl.data_utils import (
        is_conversational,
        maybe_apply_chat_template,
        prepare_multimodal_messages,
    )

    for example in ds:
        assert is_conversational(example)
        assert prepare_multimodal_messages(example["messages"], images=example["images"])
        assert "<assistant>{" in maybe_apply_chat_template({"messages": example["messages"]}, _tokenizer())["text"]


def test_an_approval_is_a_positive_sft_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _reviews(tmp_path)  # one approval among them
    _session(tmp_path)
    out = tmp_path / "sft"
    assert main(["export", "--format", "sft", "--approvals", "--out", str(out), "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("exported 1 instruction example(s) and 1 frame(s)")
    import datasets

    [row] = datasets.load_dataset("imagefolder", data_dir=str(out), split="train")
    assert row["source"] == "approval" and row["images"][0].size == AGENT
    user, answer = row["messages"]
    assert user["content"][0]["type"] == "image" and "Goal: (not given)" in user["content"][1]["text"]
    assert _answer([answer]) == {"action": "click", "x": 5, "y": 5, "button": "left", "count": 1, "modifiers": []}
    both = tmp_path / "both"
    assert main(["export", "--format", "sft", "--approvals", "--all", "--out", str(both),
                 "--data-dir", str(tmp_path)]) == 0  # fmt: skip
    ds = datasets.load_dataset("imagefolder", data_dir=str(both), split="train")
    assert ds["source"] == ["recording", "approval"]


def test_sft_history_lists_the_previous_actions(tmp_path: Path) -> None:
    from daemon.shadow.sft import instruction

    text = instruction("g", [{"action": "key", "keys": "ctrl+s", "space": "screen"}], (10, 20))
    assert 'Previous actions:\n1. {"action": "key", "keys": "ctrl+s"}' in text and "10x20" in text


def test_a_format_that_exports_sessions_needs_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _session(tmp_path)
    assert main(["export", "--format", "sft", "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)]) == 2
    assert "needs --session NAME or --all" in capsys.readouterr().err


def test_a_rejection_then_a_demonstration_is_a_pair(tmp_path: Path) -> None:
    """The person rejected the agent's click with a reason, took over and clicked the right
    spot: the demonstration's first action is ``chosen``; a rejection never shown stays out."""
    from daemon.shadow.demos import Demonstrations
    from daemon.shadow_store import ShadowStore

    data, out = tmp_path / "data", tmp_path / "pref"
    ids = _reviews(data)
    with Store(data / "driverseat.db") as store:
        shadow = ShadowStore(store)
        info = shadow.open_session("takeovers", ":9", (1920, 1080))
        demos = Demonstrations(store, info.id, info.name, lambda: True, lambda x, y: (x, y))
        demos.on_control("control", {"from": "agent", "to": "human", "takeover_id": "t1"})
        shown = shadow.add_action(info.id, 0, (1.0, 1.1), _click(960, 540), origin="human",
                                  window="Mail", frame_before=None)  # fmt: skip
        demos.on_action({"id": shown, "action": _click(960, 540), "frame": None, "window": "Mail",
                         "element": None})  # fmt: skip
        demos.on_control("control", {"from": "human", "to": "agent", "takeover_id": "t1"})
    assert main(["export", "--format", "preference", "--out", str(out), "--data-dir", str(data)]) == 0
    meta = [json.loads(x) for x in (out / "train" / "metadata.jsonl").read_text().splitlines()]
    assert [m["review_id"] for m in meta] == [ids["correct"], ids["edit"], ids["drag"], ids["reject"]]
    row = meta[-1]
    assert (row["verdict"], row["rationale"], row["takeover_id"]) == ("reject", "wrong window", "t1")
    assert _answer(row["chosen"]) == {"action": "click", "x": 683, "y": 384, "button": "left",
                                      "count": 1, "modifiers": []}  # fmt: skip
    assert _answer(row["rejected"]) == _click(6, 6)

    import datasets

    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train")
    assert ds.num_rows == 4 and ds[3]["images"][0].size == AGENT


def _questions(data: Path) -> dict[str, str]:
    """Questions asked through the real desk and answered as the overlay would: an option
    with a candidate, a point, a text, a secret, and one nobody answered; their ids."""
    from capture.coords import Rect, Scaling
    from daemon.ask.desk import QuestionDesk
    from daemon.control.view import AgentView
    from daemon.question import AnswerRequest, QuestionRequest

    scaling = Scaling(Rect(*SCREEN), *AGENT)
    png = _png()
    with Store(data / "driverseat.db") as store:
        desk = QuestionDesk(store, data / "frames", scaling, grab_frame=lambda: png)

        def ask(**body: Any) -> str:
            req = QuestionRequest.model_validate({"question": "Which Save?", "goal": "save it", **body})
            return desk.ask(req, AgentView(scaling).to_screen).id

        def answer(qid: str, **body: Any) -> None:
            desk.answer(qid, AnswerRequest.model_validate({"reviewer": "ann", **body}))

        ids = {
            "option": ask(stuck="two Save buttons", options=[
                {"text": "the toolbar one", "action": {"action": "click", "x": 40, "y": 30}},
                {"text": "the dialog's"}]),
            "point": ask(),
            "text": ask(),
            "secret": ask(secret=True),
            "open": ask(),
        }
        answer(ids["option"], kind="option", option=1)
        answer(ids["point"], kind="point", point=[960, 540])
        answer(ids["text"], kind="text", text="the one on the right")
        answer(ids["secret"], kind="secret", text="hunter2")
        return ids


def test_answers_to_questions_are_sft_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _questions(tmp_path)
    out = tmp_path / "sft"
    assert main(["export", "--format", "sft", "--questions", "--out", str(out), "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("exported 2 instruction example(s) and 2 frame(s)")
    import datasets

    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train")
    rows = {r["question_id"]: r for r in ds}
    assert set(rows) == {ids["option"], ids["point"]}  # no text, no secret, nothing unanswered
    option, point = rows[ids["option"]], rows[ids["point"]]
    assert option["source"] == "question" and option["images"][0].size == AGENT
    text = option["messages"][0]["content"][1]["text"]
    assert "Goal: save it" in text and "Stuck on: two Save buttons" in text
    assert "You asked the person: Which Save?" in text and "Option 1: the toolbar one" in text
    assert _answer([option["messages"][1]])["x"] == 40  # the candidate, in the agent's pixels
    assert (_answer([point["messages"][1]])["x"], _answer([point["messages"][1]])["y"]) == (683, 384)
    assert b"hunter2" not in b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert main(["export", "--format", "trajectory", "--questions", "--all", "--out", str(tmp_path / "t"),
                 "--data-dir", str(tmp_path)]) == 2  # fmt: skip
    assert "--questions goes with --format sft" in capsys.readouterr().err


def test_an_sft_export_into_an_earlier_ones_folder_leaves_only_its_own_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _reviews(tmp_path)
    _session(tmp_path)
    out = tmp_path / "sft"
    assert main(["export", "--format", "sft", "--approvals", "--out", str(out), "--data-dir", str(tmp_path)]) == 0
    assert main(["export", "--format", "sft", "--all", "--out", str(out), "--data-dir", str(tmp_path)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[-1].endswith("; removed 1 frame(s) of an earlier export there"), said
    named = {Path(n).name for line in (out / "train" / "metadata.jsonl").read_text().splitlines()
             for n in json.loads(line)["file_names"]}  # fmt: skip
    assert {p.name for p in (out / "train" / "frames").iterdir()} == named


def test_an_sft_export_of_another_injectors_actions_only_says_why_it_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """"no action of the person's" alone left a user who had recorded a VNC session
    wondering where their actions went."""
    from daemon.shadow.frames import FrameFiles
    from daemon.shadow_store import ShadowStore
    from tests.shadow.test_store_export import _frame

    with Store(tmp_path / "driverseat.db") as store:
        shadow = ShadowStore(store)
        frame = FrameFiles(shadow, tmp_path / "shadow-frames").put(_frame(5))
        info = shadow.open_session("vnc", ":9", (160, 90))
        shadow.add_action(info.id, 0, (1.0, 1.1), {"action": "type", "text": "hi"},
                          origin="foreign", window=None, frame_before=frame)  # fmt: skip
    assert main(["export", "--format", "sft", "--all", "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)]) != 0
    assert "1 action(s) came from another injector" in capsys.readouterr().err
