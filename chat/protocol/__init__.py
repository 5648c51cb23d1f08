"""Chat protocol v1 (see protocol.md): the cryptography lives in ``chat.protocol.crypto``."""
