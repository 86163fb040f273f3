"""The kernel channels nbclient waits on ask the socket again every half second."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from queue import Empty
from typing import Any, TypeVar

import pytest
import zmq
import zmq.asyncio

from sreworkbook.reports.execute import _PollingChannel

T = TypeVar("T")


class _MissedWakeUpSocket(zmq.asyncio.Socket):
    """A socket whose message is there from the second look, but whose wait never wakes."""

    polls: list[int | None]

    async def poll(self, timeout: int | None = None, flags: int = zmq.POLLIN) -> int:  # type: ignore[override]
        self.polls.append(timeout)
        if timeout is None:
            await asyncio.Event().wait()  # the edge-triggered wake-up that never comes
        return 1 if len(self.polls) >= 2 else 0


class _Channel(_PollingChannel):
    async def _recv(self, **_: Any) -> dict[str, Any]:
        return {"msg_type": "execute_reply"}


@pytest.fixture
def socket() -> Iterator[_MissedWakeUpSocket]:
    context = zmq.asyncio.Context()
    sock = context.socket(zmq.PAIR, socket_class=_MissedWakeUpSocket)
    sock.polls = []
    yield sock
    sock.close(linger=0)
    context.term()


def _in_a_loop_of_its_own(make: Callable[[], Awaitable[T]]) -> T:
    """Run ``make()`` on a fresh event loop in a thread (the test process may run one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()  # type: ignore[arg-type]


def test_a_reply_whose_wake_up_was_missed_is_found_by_the_next_poll(
    socket: _MissedWakeUpSocket,
) -> None:
    channel = _Channel(socket, session=None)  # type: ignore[arg-type]

    async def wait() -> dict[str, Any]:
        return await asyncio.wait_for(channel.get_msg(timeout=None), 5)

    msg = _in_a_loop_of_its_own(wait)
    assert msg == {"msg_type": "execute_reply"}
    assert socket.polls == [500, 500]


def test_a_wait_with_a_timeout_is_cut_into_half_seconds_too(
    socket: _MissedWakeUpSocket,
) -> None:
    channel = _Channel(socket, session=None)  # type: ignore[arg-type]

    async def wait() -> dict[str, Any]:
        return await asyncio.wait_for(channel.get_msg(timeout=30), 5)

    msg = _in_a_loop_of_its_own(wait)
    assert msg == {"msg_type": "execute_reply"}  # a cell under the run's budget: found too
    assert socket.polls == [500, 500]


class _SilentSocket(zmq.asyncio.Socket):
    """A socket on which nothing ever arrives: each poll waits its whole timeout."""

    polls: list[int | None]

    async def poll(self, timeout: int | None = None, flags: int = zmq.POLLIN) -> int:  # type: ignore[override]
        self.polls.append(timeout)
        await asyncio.sleep((timeout or 0) / 1000)
        return 0


def test_a_wait_with_a_timeout_ends_when_it_runs_out() -> None:
    context = zmq.asyncio.Context()
    sock = context.socket(zmq.PAIR, socket_class=_SilentSocket)
    sock.polls = []
    try:
        channel = _Channel(sock, session=None)  # type: ignore[arg-type]
        with pytest.raises(Empty):
            _in_a_loop_of_its_own(lambda: channel.get_msg(timeout=1.2))
        assert sock.polls[:2] == [500, 500] and len(sock.polls) == 3
        assert 150 <= (sock.polls[2] or 0) <= 200
    finally:
        sock.close(linger=0)
        context.term()
