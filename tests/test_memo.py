"""The request path's memo: bounded in entries and in the size of what it keeps."""

from __future__ import annotations

from mock_omni.vendor.memo import Memo


def test_a_repeat_is_not_computed_again_and_none_is_a_result() -> None:
    calls: list[str] = []
    memo: Memo[str, str | None] = Memo(limit=4, max_size=10)

    def compute() -> None:
        calls.append("x")

    assert memo.get("a", 1, compute) is None and memo.get("a", 1, compute) is None
    assert calls == ["x"]


def test_full_memo_starts_over_and_oversized_inputs_are_not_kept() -> None:
    memo: Memo[int, int] = Memo(limit=3, max_size=10)
    for n in range(7):
        assert memo.get(n, 1, lambda n=n: n * 2) == n * 2  # type: ignore[misc]
        assert len(memo) <= 3
    assert memo.get(99, 11, lambda: 5) == 5
    assert 0 < len(memo) <= 3 and memo.get(99, 11, lambda: 6) == 6  # computed again: it was not kept
