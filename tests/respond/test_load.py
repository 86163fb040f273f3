"""1,000 webhook posts in under a minute on loopback (duplicates, 50 groups, several senders,
flapping): exactly one run per group and episode, one resolved run per resolved episode, no
group lost, nothing refused, memory bounded. The runs are recorded at the runner (the
receiver and the responder are real: HTTP, journal, episodes, workers)."""

from __future__ import annotations

import json
import tracemalloc
from collections import Counter
from pathlib import Path

from support.storm import plan_storm, run_storm

from .helpers import TOKEN, Fakes, make_responder, serving


def test_a_storm_of_1000_posts_gives_one_run_per_group_and_episode(tmp_path: Path) -> None:
    storm = plan_storm(posts=1000, groups=50)
    assert storm.posts == 1000
    fakes = Fakes()
    journal = tmp_path / "j.jsonl"
    tracemalloc.start()
    responder = make_responder(journal, fakes, concurrency=2, queue_bound=200,
                               dedup_window_s=300, triage={"notebook": "triage"})  # fmt: skip
    with serving(responder) as server:
        result = run_storm(server.url + "/webhook", TOKEN, storm)
        assert responder.wait_idle(60)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.wall_s < 60, result.wall_s
    assert Counter(result.codes) == {200: 1000}  # nothing refused, nothing lost
    assert {notebook for notebook, _ in fakes.runs} == {"triage"}  # no runbook: triage
    firing = Counter(
        json.loads(p["labels"])["labels"]["alertname"] for _, p in fakes.runs
    )  # fmt: skip
    # Every group: its firing run; resolved groups (flapping or not): one more, the second run.
    expected = {f"Storm{g:02d}": 1 + (g in storm.resolving) for g in range(storm.groups)}
    assert dict(firing) == expected
    replies = Counter((m.title.split(" on ")[0], m.resolved) for _, m in fakes.sent)
    assert len(replies) == storm.groups + len(storm.resolving)
    assert set(replies.values()) == {1}
    assert peak < 64 * 1024 * 1024, peak  # bounded: no per-post growth kept
    # The journal keeps only what is needed after compaction at the next start.
    again = make_responder(journal, Fakes())
    replay = again.start()
    again.stop(1.0)
    assert replay.pending == [] and len(replay.episodes) == storm.groups
    print(f"1,000 posts in {result.wall_s:.1f} s; acceptance p50 "
          f"{result.quantile(0.5) * 1000:.1f} ms, p99 {result.quantile(0.99) * 1000:.1f} ms")  # fmt: skip
