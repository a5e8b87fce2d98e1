"""loaders.errors.one_line: the one shortener of messages quoted in one-line errors."""

from __future__ import annotations

from loaders.errors import one_line


def test_the_first_non_blank_line_with_white_space_folded() -> None:
    assert one_line("\n  ERROR:  relation  missing\nDETAIL: more\n") == "ERROR: relation missing"
    assert one_line(ValueError("bad\tvalue")) == "bad value"


def test_cut_to_the_limit_with_an_ellipsis() -> None:
    cut = one_line("x" * 300, 80)
    assert len(cut) == 80 and cut.endswith("…") and cut.startswith("x" * 79)
    assert one_line("y" * 80, 80) == "y" * 80


def test_nothing_to_say_is_empty() -> None:
    assert one_line("") == ""
    assert one_line(" \n \n") == ""
    assert (one_line(RuntimeError()) or "RuntimeError") == "RuntimeError"
