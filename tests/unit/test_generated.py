"""A generated file is known by its first line, whatever an editor did to it."""

from __future__ import annotations

from pathlib import Path

from generator.generated import GENERATED_MARK, is_generated
from generator.write import apply, plan

MARK = f"{GENERATED_MARK} test\n".encode()


def test_a_generated_file_an_editor_saved_with_a_byte_order_mark_is_put_right(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes("\ufeff".encode() + MARK + b"a: 2\r\n")
    assert is_generated((tmp_path / "a.yaml").read_bytes())
    apply(tmp_path, plan(tmp_path, {"a.yaml": MARK + b"a: 1\n"}))
    assert (tmp_path / "a.yaml").read_bytes() == MARK + b"a: 1\n"


def test_a_file_that_only_mentions_the_mark_is_not_generated() -> None:
    assert not is_generated(b"# mine\n" + MARK)
    assert not is_generated(b" " + MARK)
