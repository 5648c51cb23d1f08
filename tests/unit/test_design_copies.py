"""docs/protocol.md and docs/protocol-vectors.json are faithful copies of the shared design."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
SHARED = REPO.parent / "shared" / "design"


@pytest.mark.parametrize(("ours", "theirs"), [("protocol.md", "protocol.md"), ("protocol-vectors.json", "vectors.json")])
def test_copy_matches_shared_design(ours: str, theirs: str) -> None:
    if not (SHARED / theirs).exists():
        pytest.skip("no ../shared beside this checkout")
    assert (REPO / "docs" / ours).read_bytes() == (SHARED / theirs).read_bytes(), f"refresh docs/{ours}"
