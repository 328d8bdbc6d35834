"""Reading a file line by line: one item per "\\n", whatever Unicode the lines hold."""

import pytest

from apps.common import text


@pytest.mark.parametrize("inside", ["\u0085", "\u2028", "\u2029", "\x0c", "\x0b", "\x1c", "\r"])
def test_only_newlines_end_a_line(tmp_path, inside):
    path = tmp_path / "lines.txt"
    path.write_bytes(f"one{inside}still one\ntwo\r\nthree\n".encode("utf-8"))
    assert text.read_lines(path) == [f"one{inside}still one", "two", "three"]


@pytest.mark.parametrize("content, expected", [
    ("", []),
    ("\n", [""]),
    ("a", ["a"]),
    ("a\n\nb", ["a", "", "b"]),
    ("a\r\nb\r\n", ["a", "b"]),
])
def test_empty_lines_and_the_last_line_end(content, expected):
    assert text.split_lines(content) == expected


def test_any_utf8_round_trips_line_for_line(tmp_path):
    lines = ["emoji \U0001F600 and accents éàü", "", "tab\tinside", "U+0085\u0085here",
             "ﬁ ligature", "日本語"]
    path = tmp_path / "round.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert text.read_lines(path) == lines
