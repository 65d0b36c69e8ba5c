"""The request path's memo: bounded in entries and in the size of what it keeps."""

from __future__ import annotations

from mock_omni.api.memo import MISSING, Memo


def test_none_is_a_result_and_absence_is_missing() -> None:
    memo: Memo[str, str | None] = Memo(limit=4, max_size=10)
    assert memo.get("a", MISSING) is MISSING
    assert memo.remember("a", None, 1) is None
    assert memo.get("a", MISSING) is None


def test_full_memo_starts_over_and_oversized_inputs_are_not_kept() -> None:
    memo: Memo[int, int] = Memo(limit=3, max_size=10)
    for n in range(7):
        assert memo.remember(n, n * 2, 1) == n * 2
        assert len(memo) <= 3
    assert memo.remember(99, 5, 11) == 5
    assert memo.get(99, MISSING) is MISSING and 0 < len(memo) <= 3
