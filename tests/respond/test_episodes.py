"""One episode per group: repeats, replicas and flapping start nothing new."""

from __future__ import annotations

from sreworkbook.respond import Decision, Episodes


def test_repeats_and_replicas_are_one_episode() -> None:
    episodes = Episodes(window_s=300)
    decision, first = episodes.decide("g", "firing", 0)
    assert decision is Decision.OPEN and first is not None
    episodes.restore(first)
    for now in (1, 1, 60, 3600):  # a second replica, repeat_interval, retries
        assert episodes.decide("g", "firing", now)[0] is Decision.REPEAT


def test_flapping_reopens_the_same_episode_and_later_firing_opens_a_new_one() -> None:
    episodes = Episodes(window_s=300)
    for status, now, expected, number in [
        ("firing", 0, Decision.OPEN, 1),
        ("resolved", 100, Decision.CLOSE, 1),
        ("resolved", 101, Decision.REPEAT, 1),
        ("firing", 200, Decision.REOPEN, 1),
        ("resolved", 250, Decision.RECLOSE, 1),
        ("firing", 1000, Decision.OPEN, 2),
    ]:
        decision, episode = episodes.decide("g", status, now)
        assert (decision, episode and episode.number) == (expected, number), (status, now)
        assert episode is not None
        episodes.restore(episode)
    assert episodes.get("g") is not None and episodes.get("g").flaps == 0  # type: ignore[union-attr]


def test_a_resolved_group_never_seen_is_nothing() -> None:
    assert Episodes(window_s=0).decide("g", "resolved", 0) == (Decision.REPEAT, None)
