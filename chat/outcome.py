"""What a chat action decided: the events each socket must hear, and whether the queue changed.

Every action in chat.actions returns one `Outcome` (or raises chat.access.ChatRefused); chat.delivery sends
it. An event is a channel-layer message for one socket, named `chat.<what>` and handled by that socket's
`chat_<what>` method (Channels' convention). What changes a socket's own state (it joined a chat, it now
holds one, it handed one over) is an event to that socket too, so every socket learns every change the
same way, whoever caused it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One channel-layer message for the socket whose channel is `channel`.

    `if_undeliverable`: what the acting socket hears instead when the receiver's inbox is full (a relayed
    message then reaches no one, and its sender must be told which one).
    """

    channel: str
    message: dict[str, Any]
    if_undeliverable: dict[str, Any] | None = None

    @property
    def type(self) -> str:
        return str(self.message["type"])


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    queue_changed: bool = False

    def tell(self, channel: str, event_type: str, **fields: Any) -> Outcome:
        """Add an event for `channel`; an empty channel (a socket that is gone) hears nothing."""
        if channel:
            self.events.append(Event(channel, {"type": event_type, **fields}))
        return self

    def add(self, other: Outcome) -> Outcome:
        self.events.extend(other.events)
        self.queue_changed = self.queue_changed or other.queue_changed
        return self

    def for_channel(self, channel: str) -> list[dict[str, Any]]:
        """The messages for one channel, in order (for tests and for reading an outcome)."""
        return [event.message for event in self.events if event.channel == channel]
