"""The review screen's pure parts: diff rows, side-by-side pairing, frames to hunks."""

from __future__ import annotations

from tui.diffmodel import Frame, find_frame, parse_patch

PATCH = """\
diff --git a/pkg/a.py b/pkg/a.py
--- a/pkg/a.py
+++ b/pkg/a.py
@@ -10,4 +10,4 @@ def f():
 x = 1
-y = x + 1
-z = y * 2
+y = x - 1
 return z
@@ -40,3 +39,4 @@
 a = 1
+b = 2
 c = 3
\\ No newline at end of file
diff --git a/pkg/b.py b/pkg/b.py
--- a/pkg/b.py
+++ b/pkg/b.py
@@ -5 +5 @@
-old()
+new()
"""


def test_parse_numbers_lines_per_side() -> None:
    d = parse_patch(PATCH)
    kinds = [ln.kind for ln in d.lines]
    assert kinds[:4] == ["header", "header", "header", "hunk"]
    assert kinds.count("add") == 3 and kinds.count("del") == 3 and kinds.count("other") == 1
    by_text = {ln.text: ln for ln in d.lines}
    assert (by_text[" x = 1"].old_no, by_text[" x = 1"].new_no) == (10, 10)
    assert (by_text["-z = y * 2"].old_no, by_text["-z = y * 2"].new_no) == (12, None)
    assert (by_text["+y = x - 1"].old_no, by_text["+y = x - 1"].new_no) == (None, 11)
    assert by_text[" return z"].new_no == 12
    assert by_text["+b = 2"].new_no == 40 and by_text["+b = 2"].file == "pkg/a.py"
    assert by_text["+new()"].file == "pkg/b.py" and by_text["+new()"].new_no == 5
    assert [(h.file, h.new_start, h.new_len) for h in d.hunks] == [
        ("pkg/a.py", 10, 4), ("pkg/a.py", 39, 4), ("pkg/b.py", 5, 1)]
    assert d.files == {"pkg/a.py", "pkg/b.py"}
    assert by_text["+y = x - 1"].code == "y = x - 1"


def test_side_rows_pair_removed_with_added() -> None:
    rows = parse_patch(PATCH).side_rows()
    pairs = [(r.left.text if r.left else None, r.right.text if r.right else None)
             for r in rows if r.header is None]
    assert pairs[:4] == [
        (" x = 1", " x = 1"), ("-y = x + 1", "+y = x - 1"), ("-z = y * 2", None),
        (" return z", " return z"),
    ]
    assert (None, "+b = 2") in pairs and ("-old()", "+new()") in pairs
    headers = [r.header.kind for r in rows if r.header is not None]
    assert headers.count("hunk") == 3 and "other" in headers


def test_frames_and_their_target_rows() -> None:
    d = parse_patch(PATCH)
    assert find_frame("pkg/a.py:11: in f", d) == Frame("pkg/a.py", 11, True)
    assert find_frame("pkg/a.py:25: AssertionError", d) == Frame("pkg/a.py", 25, False)
    assert find_frame("pkg/c.py:11: in g", d) is None  # not a file the diff touches
    assert find_frame("    pkg/a.py:11: in f", d) is None  # source lines are not frames
    # Its own line when the diff shows it (unified and side by side) ...
    row = d.target_row(Frame("pkg/a.py", 11, True))
    assert d.lines[row].text == "+y = x - 1"
    side = d.side_rows()
    srow = d.target_row(Frame("pkg/a.py", 11, True), side=True)
    assert side[srow].right.text == "+y = x - 1"
    # ... else the header of the nearest hunk in that file.
    far = d.target_row(Frame("pkg/a.py", 36, False))
    assert d.lines[far].text.startswith("@@ -40,3 +39,4")
    near_first = d.target_row(Frame("pkg/a.py", 2, False))
    assert d.lines[near_first].text.startswith("@@ -10,4")
    assert d.target_row(Frame("pkg/zzz.py", 1, False)) is None


def test_empty_and_odd_patches() -> None:
    assert parse_patch("").lines == [] and parse_patch("").side_rows() == []
    d = parse_patch("@@ -1 +1 @@\n-a\n+b\n")  # no file headers
    assert [ln.kind for ln in d.lines] == ["hunk", "del", "add"] and d.files == set()


def test_emphasis_marks_only_the_edited_characters() -> None:
    d = parse_patch(PATCH)
    by_text = {ln.text: ln for ln in d.lines}
    emph = d.emphasis()
    # "y = x + 1" -> "y = x - 1": just the operator, on both sides.
    assert emph[by_text["-y = x + 1"]] == [(6, 7)] and emph[by_text["+y = x - 1"]] == [(6, 7)]
    assert by_text["-z = y * 2"] not in emph and by_text["+b = 2"] not in emph  # unpaired
    assert by_text["-old()"] not in emph  # too different to be an edit of one another


def test_long_changed_lines_wrap_and_keep_the_edit_visible() -> None:
    from tui.panes import SideBySideDiff, UnifiedDiff

    code = "total = compute(alpha, beta, gamma, delta) * scale_factor_for_units + offset"
    patch = (f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -3 +3 @@\n"
             f"-{code}\n+{code.replace('+ offset', '- offset')}\n")
    d = parse_patch(patch)
    for content in (UnifiedDiff(d), SideBySideDiff(d)):
        width = 60 if isinstance(content, UnifiedDiff) else 120
        rows = [content.row(i, width) for i in range(content.count(width))]
        assert all(r.cell_len == width for r in rows)
        text = "\n".join(r.plain for r in rows)
        assert "- offset" in text and "+ offset" in text  # the end of the line is on screen
        assert "↪" in text
        # Every displayed row maps back to its logical row, and the jump target is its first.
        last = d.target_row(Frame("m.py", 3, True), side=isinstance(content, SideBySideDiff))
        first = content.first_row(last, width)
        assert content.origin(first, width) == last and content.origin(first + 1, width) == last
    # The emphasised characters are the operator at the end, on the continuation row.
    u = UnifiedDiff(d)
    wrapped = [u.row(i, 60) for i in range(u.count(60))]
    bold = [(r.plain, span) for r in wrapped for span in r.spans
            if "bold" in str(span.style) and "on #" in str(span.style)]
    assert {plain[s.start:s.end] for plain, s in bold} == {"+", "-"}


def test_library_frames_are_shortened_and_dimmed() -> None:
    from tui.failures import failure_lines

    out = ("pkg/a.py:11: in f\n    y = x - 1\n"
           "../../envs/x/venv/lib/python3.11/site-packages/_pytest/raises.py:624: in __init__\n"
           "    self.expected = tuple(\n"
           "tests/t.py:5: in test_f\n    assert f() == 2\nE   AssertionError: boom")
    lines, frames = failure_lines({"tests/t.py::test_f": out}, parse_patch(PATCH))
    shown = [(ln.plain, str(ln.style)) for ln in lines]
    assert shown[1][0].endswith("◀ in the diff") and list(frames) == [1]
    assert shown[3] == ("site-packages/_pytest/raises.py:624: in __init__", "dim")
    assert shown[4] == ("    self.expected = tuple(", "dim")
    assert shown[5] == ("tests/t.py:5: in test_f", "") and shown[6][1] == ""
    assert shown[7] == ("E   AssertionError: boom", "red")


def test_collection_errors_come_first_and_long_failure_lists_fold() -> None:
    from tui.failures import SHOWN_FAILURES, failure_lines

    failures = {"tests/test_t.py::test_a": "collection failed (tests/test_t.py): TypeError",
                "tests/test_t.py::test_b": "collection failed (tests/test_t.py): TypeError"}
    failures |= {f"tests/test_u.py::test_{k}": f"E   assert {k} == 0"
                 for k in range(SHOWN_FAILURES + 7)}
    error = "tests/test_t.py:3: in <module>\n    import pkg\nE   TypeError: bad"
    lines, _ = failure_lines(failures, parse_patch(PATCH), {"tests/test_t.py": error})
    text = [ln.plain for ln in lines]
    assert text[0] == "✖ collection error in tests/test_t.py"
    assert "E   TypeError: bad" in text[:5]
    assert any(t.startswith("2 FAIL_TO_PASS tests did not run because of it") for t in text)
    assert sum(t.startswith("● ") for t in text) == SHOWN_FAILURES
    assert text[-1].startswith("… 7 more failing tests folded")


def test_test_ids_wrap_at_their_separators_not_mid_word() -> None:
    from rich.text import Text

    from tui.panes import TextLines

    nodeid = "● tests/unit/test_accounts.py::TestSavings::test_accrue_interest[monthly-12]"
    lines = TextLines([Text(nodeid), Text("E   assert a == b and words wrap at spaces")])
    rows = [lines.row(i, 30).plain for i in range(lines.count(30))]
    assert rows[:4] == ["● tests/unit/", "test_accounts.py::", "TestSavings::",
                        "test_accrue_interest[monthly-"]
    assert "".join(rows[:5]) == nodeid  # nothing lost
    assert rows[5].startswith("E   assert a == b")
