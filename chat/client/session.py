"""One epoch of one chat, seen from one side: its keys, send counter and receive window (protocol.md §5–6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from chat.protocol import crypto

Side = Literal["visitor", "counsellor"]


@dataclass
class EpochSession:
    """Seals outgoing and opens incoming ``msg`` frames for one epoch.

    The keys live only in this object, in memory; dropping it ends the epoch for this side.
    """

    side: Side
    chat: str
    epoch: int
    keys: crypto.SessionKeys
    send_counter: crypto.SendCounter = field(default_factory=crypto.SendCounter)
    receive_window: crypto.ReceiveWindow = field(default_factory=crypto.ReceiveWindow)

    @classmethod
    def derive(
        cls,
        side: Side,
        chat: str,
        epoch: int,
        own_private: ec.EllipticCurvePrivateKey,
        vk: str,
        ck: str,
    ) -> EpochSession:
        """Derive the epoch's keys from our ECDH private key and both public keys (b64, as on the wire)."""
        v_pub_raw = crypto.b64d(vk)
        c_pub_raw = crypto.b64d(ck)
        peer = c_pub_raw if side == "visitor" else v_pub_raw
        keys = crypto.derive_session(own_private, peer, v_pub_raw, c_pub_raw, chat, epoch)
        return cls(side=side, chat=chat, epoch=epoch, keys=keys)

    @property
    def safety_code(self) -> str:
        return self.keys.safety_code

    @property
    def send_direction(self) -> crypto.Direction:
        return "v2c" if self.side == "visitor" else "c2v"

    @property
    def receive_direction(self) -> crypto.Direction:
        return "c2v" if self.side == "visitor" else "v2c"

    def seal(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Encrypt a message object and return the ``msg`` frame that carries it; uses a fresh seq."""
        seq = self.send_counter.next_seq()
        ct = crypto.encrypt_message(
            self.keys.key_for(self.send_direction), self.chat, self.epoch, self.send_direction, seq, message
        )
        return {"type": "msg", "chat": self.chat, "epoch": self.epoch, "seq": seq, "ct": ct}

    def open(self, frame: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        """Decrypt a received ``msg`` frame of this epoch; return (message, number of messages missing before it).

        Raises ``crypto.ReplayedSequenceError`` for a seq already seen and
        ``crypto.MessageDecryptionError`` for anything that does not authenticate. The window only
        moves after the message authenticated, so a forged frame cannot push it forward.
        """
        seq = frame["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise crypto.MessageDecryptionError("seq is not an integer")
        self.receive_window.check(seq)
        message = crypto.decrypt_message(
            self.keys.key_for(self.receive_direction), self.chat, self.epoch, self.receive_direction, seq,
            frame["ct"],
        )
        missing = self.receive_window.advance(seq)
        return message, missing
