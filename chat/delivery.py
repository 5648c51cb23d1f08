"""The one way an action's outcome reaches sockets: `deliver`.

Every event of an `Outcome` goes to the socket it names. The acting socket hears its own events at once, in
order, before its next frame is read (its state must change before it handles anything else); every other
socket hears them over the channel layer. (A relayed message that reaches an idle socket of this process is
passed on by that socket at once, in the sender's turn, rather than in a turn of its own; and a message read
from an idle socket, for a peer in this process with room, is relayed in the turn that read it, without an
Outcome: ChatSocket.take_relays_at_once. The order is the same, and whatever else happens goes through here.)
A queue change then asks this process for a routing pass, which broadcasts the new waiting list
(chat.process). Consumers, the clock and routing all deliver through here.
"""

from __future__ import annotations

from typing import Any, Protocol

import chat.process as process
from chat.outcome import Outcome


class Socket(Protocol):
    channel_name: str

    async def dispatch(self, message: dict[str, Any]) -> None: ...


async def deliver(outcome: Outcome, here: Socket | None = None) -> None:
    """Send `outcome`'s events (`here`: the socket whose frame caused it, if any), then route if the queue
    changed. An event whose receiver's inbox is full is lost to that receiver; if it says what the acting
    socket should hear instead (`if_undeliverable`), it hears that."""
    work = process.work()
    for event in outcome.events:
        if here is not None and event.channel == here.channel_name:
            await here.dispatch(event.message)
        elif not await work.send(event.channel, event.message) and here is not None and event.if_undeliverable:
            await here.dispatch(event.if_undeliverable)
    if outcome.queue_changed:
        work.queue_changed()
