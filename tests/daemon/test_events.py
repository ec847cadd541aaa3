"""The event hub's order numbers and the overlays' acknowledgements (no HTTP, no X)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from daemon.events import QUEUE_SIZE, EventHub


async def _until(pred: Callable[[], bool]) -> None:
    """Let the loop run until ``pred()`` (bounded: a broken counter fails, never hangs)."""
    for _ in range(10_000):
        if pred():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never came")


async def _bound() -> EventHub:
    hub = EventHub()
    hub.bind(asyncio.get_running_loop())
    return hub


def test_every_message_gets_its_place_in_the_stream() -> None:
    async def main() -> None:
        hub = await _bound()
        q = hub.subscribe()
        hub.publish({"type": "review"})
        hub.publish({"type": "outcome"})
        assert [(await q.get())["seq"] for _ in range(2)] == [1, 2]  # type: ignore[index]
        assert hub.seq == 2

    asyncio.run(main())


def test_an_approved_action_waits_for_every_overlay_and_only_overlays() -> None:
    async def main() -> None:
        hub = await _bound()
        watcher = hub.subscribe()  # a plain subscriber (a bench, a browser): never waited for
        assert await hub.overlays_caught_up(0.01)
        early = hub.subscribe(overlay=True)
        assert await hub.overlays_caught_up(0.01)  # it came after everything so far: caught up
        hub.publish({"type": "review_decided"})
        late = hub.subscribe(overlay=True)  # came after the decision: nothing of it to handle
        waiting = asyncio.ensure_future(hub.overlays_caught_up(5))
        await _until(lambda: hub.waiting_for_overlays == 1)  # the waiter is in place
        hub.ack(early, 0)  # not forward: ignored
        hub.ack(early, "1")  # not a number: ignored
        hub.ack(early, 99)  # a place the stream has not reached: ignored
        await asyncio.sleep(0)
        assert not waiting.done() and early.acked == 0
        hub.ack(early, 1)
        assert await asyncio.wait_for(waiting, 5) is True
        assert late.acked == 1 and watcher.acked == 0

    asyncio.run(main())


def test_an_overlay_that_never_answers_costs_the_timeout_and_one_that_leaves_nothing() -> None:
    async def main() -> None:
        hub = await _bound()
        hub.subscribe(overlay=True)  # hung: never answers
        hub.publish({"type": "review_decided"})
        assert await hub.overlays_caught_up(0.05) is False
        gone = hub.subscribe(overlay=True)
        hub.publish({"type": "review_decided"})
        waiting = asyncio.ensure_future(hub.overlays_caught_up(5))
        await _until(lambda: hub.waiting_for_overlays == 1)
        hub.unsubscribe(gone)  # it went away (crashed, closed): nobody to wait for
        assert await asyncio.wait_for(waiting, 5) is True
        assert hub.waiting_for_overlays == 0

    asyncio.run(main())


def test_a_hub_that_closes_releases_the_waiters() -> None:
    async def main() -> None:
        hub = await _bound()
        hub.subscribe(overlay=True)
        hub.publish({"type": "review_decided"})
        waiting = asyncio.ensure_future(hub.overlays_caught_up(5))
        await _until(lambda: hub.waiting_for_overlays == 1)
        hub.close()
        assert await asyncio.wait_for(waiting, 5) is True

    asyncio.run(main())


def test_waiters_are_counted_and_a_short_wait_still_sees_the_ack() -> None:
    async def main() -> None:
        hub = await _bound()
        overlay = hub.subscribe(overlay=True)
        hub.publish({"type": "review_decided"})
        first = asyncio.ensure_future(hub.overlays_caught_up(0.5))
        second = asyncio.ensure_future(hub.overlays_caught_up(0.5))
        await _until(lambda: hub.waiting_for_overlays == 2)
        hub.ack(overlay, hub.seq)
        assert await asyncio.wait_for(asyncio.gather(first, second), 5) == [True, True]
        assert hub.waiting_for_overlays == 0

    asyncio.run(main())


def test_an_overlay_cut_loose_for_falling_behind_is_not_waited_for() -> None:
    async def main() -> None:
        hub = await _bound()
        stuck = hub.subscribe(overlay=True)
        hub.publish({"type": "review_decided"})
        waiting = asyncio.ensure_future(hub.overlays_caught_up(5))
        await _until(lambda: hub.waiting_for_overlays == 1)
        for i in range(QUEUE_SIZE):  # it reads nothing: its queue overflows
            hub.publish({"n": i})
        assert stuck.cut.is_set() and stuck.overflowed and stuck not in hub._clients
        assert await asyncio.wait_for(waiting, 5) is True

    asyncio.run(main())


def test_a_message_from_another_thread_arrives_in_order_and_none_after_close() -> None:
    async def main() -> None:
        hub = await _bound()
        q = hub.subscribe()
        assert not q.overflowed and not q.overlay and not q.cut.is_set()
        await asyncio.to_thread(hub.publish, {"type": "control", "n": 1})
        assert await asyncio.wait_for(q.get(), 5) == {"type": "control", "n": 1, "seq": 1}
        hub.close()
        assert q.cut.is_set() and not q.overflowed  # a shutdown: closed, not reset
        hub.publish({"type": "review"})  # nobody can be listening: dropped, no error
        await asyncio.to_thread(hub.publish, {"type": "review"})
        assert hub.seq == 1

    asyncio.run(main())


def test_an_overlay_that_missed_a_deadline_is_not_waited_for_until_it_acks() -> None:
    """A hung overlay costs one approved action the bound, not every one after it."""

    async def main() -> None:
        hub = await _bound()
        mute, live = hub.subscribe(overlay=True), hub.subscribe(overlay=True)
        hub.publish({"type": "review_decided"})
        hub.ack(live, hub.seq)
        assert await hub.overlays_caught_up(0.05) is False
        assert mute.late and not live.late
        hub.publish({"type": "review_decided"})
        waiting = asyncio.ensure_future(hub.overlays_caught_up(5))
        await _until(lambda: hub.waiting_for_overlays == 1)
        hub.ack(live, hub.seq)  # only the one that answers is waited for
        assert await asyncio.wait_for(waiting, 5) is True
        hub.ack(mute, hub.seq)  # it came back: waited for again
        assert not mute.late
        hub.publish({"type": "review_decided"})
        hub.ack(live, hub.seq)
        assert await hub.overlays_caught_up(0.05) is False and mute.late

    asyncio.run(main())
