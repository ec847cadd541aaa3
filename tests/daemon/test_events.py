"""The event hub's order numbers and the overlays' acknowledgements (no HTTP, no X)."""

from __future__ import annotations

import asyncio

from daemon.events import EventHub


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
        while hub.waiting_for_overlays == 0:  # the waiter is in place (a poll of the loop)
            await asyncio.sleep(0)
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
        mute = hub.subscribe(overlay=True)
        hub.publish({"type": "review_decided"})
        assert await hub.overlays_caught_up(0.05) is False
        waiting = asyncio.ensure_future(hub.overlays_caught_up(5))
        while hub.waiting_for_overlays == 0:
            await asyncio.sleep(0)
        hub.unsubscribe(mute)  # it went away (crashed, closed): nobody to wait for
        assert await asyncio.wait_for(waiting, 5) is True
        assert hub.waiting_for_overlays == 0

    asyncio.run(main())


def test_a_hub_that_closes_releases_the_waiters() -> None:
    async def main() -> None:
        hub = await _bound()
        hub.subscribe(overlay=True)
        hub.publish({"type": "review_decided"})
        waiting = asyncio.ensure_future(hub.overlays_caught_up(5))
        while hub.waiting_for_overlays == 0:
            await asyncio.sleep(0)
        hub.close()
        assert await asyncio.wait_for(waiting, 5) is True

    asyncio.run(main())
