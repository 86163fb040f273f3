"""The journal: replay gives back the episodes and the work not done, nothing else."""

from __future__ import annotations

from pathlib import Path

from sreworkbook.respond import Episode, Journal, Work
from sreworkbook.secrets import Scrubber


def work(ident: str, episode: Episode, kind: str = "firing") -> Work:
    return Work(ident, kind, episode, {"groupKey": episode.group_key, "alerts": []}, 1.0)


def test_replay_keeps_only_work_not_done(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    a, b = Episode("a", 1, True, 0.0), Episode("b", 1, True, 0.0)
    journal.work(work("1", a))
    journal.work(work("2", b))
    journal.ran("2", {"notebook": "n", "status": "OK", "headline": "h", "report_url": "u"})
    journal.done("1")
    journal.episode(Episode("a", 1, False, 0.0, 5.0, closed_once=True))
    with (tmp_path / "j.jsonl").open("a") as handle:
        handle.write('{"t": "work", "id": "torn')  # a crash in the middle of a line
    replay = journal.replay()
    assert [w.id for w in replay.pending] == ["2"]
    assert replay.pending[0].ran == {
        "notebook": "n", "status": "OK", "headline": "h", "report_url": "u"
    }  # fmt: skip
    assert replay.episodes["a"].firing is False and replay.episodes["b"].firing is True
    journal.compact(replay)
    again = journal.replay()
    assert [w.id for w in again.pending] == ["2"] and again.pending[0].ran is not None
    assert again.episodes["a"].firing is False  # the work's older episode does not win


def test_no_secret_value_is_written(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", scrubber=Scrubber(["canary-7f3a9c"]))
    episode = Episode("g", 1, True, 0.0)
    journal.append({"t": "work", "id": "x", "note": "token canary-7f3a9c leaked in a label"})
    journal.work(work("y", episode))
    assert "canary-7f3a9c" not in (tmp_path / "j.jsonl").read_text()
