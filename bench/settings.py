"""Settings for the benchmarked server: the embedded default, with the abuse brakes a load test would trip
(proof of work, queue length) opened up. Never used outside `python -m bench`."""

from helpline.settings.dev import *  # noqa: F403

CHAT_POW_BITS = 0
CHAT_RENT_SECONDS = 0
MAX_QUEUE_LENGTH = 10_000
