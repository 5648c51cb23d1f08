"""What one side of one chat said and heard across epochs (docs/protocol.md §6): message ids, receipts, re-sending.

Both Python clients keep one `Conversation` per chat. A text gets an id when it is written and keeps it when it
is sent again under a later epoch; it is pending until the other side's receipt names it. A received text is
reported once per id and receipted every time (its first receipt may have been lost with its epoch).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chat.protocol import crypto


@dataclass
class Conversation:
    chat: str
    # id -> body of texts sent and not yet confirmed by a receipt, in the order written.
    pending: dict[str, str] = field(default_factory=dict)
    delivered: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)

    def write(self, body: str) -> dict[str, str]:
        """A new text message with a fresh id, pending until receipted."""
        message_id = crypto.new_message_id()
        self.pending[message_id] = body
        return crypto.text_message(body, message_id)

    def to_send_again(self) -> list[dict[str, str]]:
        """Every pending text, in the order written, to send under the current epoch."""
        return [crypto.text_message(body, message_id) for message_id, body in self.pending.items()]

    def confirmed(self, message_ids: list[str]) -> list[str]:
        """Record a receipt; returns the ids it newly confirmed."""
        newly = [message_id for message_id in message_ids if self.pending.pop(message_id, None) is not None]
        self.delivered.update(newly)
        return newly

    def received(self, message_id: str) -> bool:
        """Record a received text's id; True the first time (show it), False for a copy sent again."""
        if message_id in self.seen:
            return False
        self.seen.add(message_id)
        return True
