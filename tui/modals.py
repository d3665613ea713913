"""Modal screens: the help with the realism rubric, and SWE-bench Verified's rubric form."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Markdown, Select, Static

from engine.store import DIFFICULTY_VALUES

HELP = """\
# Curating with bugfoundry

Every key writes one event to the workspace database at once; nothing waits for a save.
The footer shows the keys of the screen you are on; `ctrl+p` opens the command palette.
`escape`, `q` or `?` closes this help.

| key | what it does |
|---|---|
| `a` / `r` / `s` | accept / reject / skip, then move on |
| `1` / `2` / `3` | realism: realistic / plausible / artificial |
| `u` / `U` (or `ctrl+y`) | undo / redo, unlimited, across sessions |
| `enter` or `o` | review the highlighted instance (browse) |
| `n` / `p`, `N` or `space` | next / previous, next undecided (review) |
| `/`, then `]` / `[` | search the focused pane; next / previous match (review) |
| `f` / `w` | failures pane full screen / wide (review) |
| `t` | re-run the FAIL_TO_PASS tests with the bug applied, whole output (review) |
| `home` / `end` | first / last loaded row (browse) |
| `E` | export dialog: format, rule, dedup, repo, path (browse) |
| `d` | unified or side-by-side diff (review) |
| `j` (or click a marked frame) | jump from a traceback frame to its hunk; again for the next |
| `e` | write a note (review); `enter` saves, `escape` cancels |
| `X` | reject with reasons: each reason's key (`1`-`7` by default) toggles it |
| `A` | adjudicate (review): the final accept/reject, reasons and note; `u` undoes it |
| `g` | the workspace's guidelines (`guidelines.md`; also shown at first start) |
| `R` | rubric (review): clarity 0-3, test validity 0-3, difficulty; `ctrl+s` saves |
| `c` / `C` | copy the instance id / its bug diff to the clipboard (review) |
| `/`, `S`, `O` | filter, cycle the sort column, reverse it (browse) |
| `P` | progress: per-curator counts, agreement (Cohen, Fleiss, Krippendorff), confusion |
| `F` | forge: pick a repo and strategies, watch instances arrive, `x` cancels |
| `R` | realism report (browse): score distribution, AUC and coverage per strategy |
| `B` | blind mode: hide realism scores, strategy, route and modifier (neutral ids) |
| `T` | blind test "real or forged?": `r`/`f` then `1`-`5` how sure, `n`/`p`, `s` report |
| `ctrl+p` | palette: jump to an id, save or apply a filter, open forge or progress |
| `?` or `F1` | this help |
| `escape` / `q` | back / quit (in review `q` goes back too) |

Filter text matches the id, file or function; `repo:X strategy:Y mod:Z` narrow columns
(case-insensitive substrings: `mod:swap` keeps `op_swap`),
`by:NAME` keeps the instances curator NAME labelled (the decision and realism columns stay
yours), `assigned:me` keeps your queue (`bugfoundry assign`),
`score>1` or `score<-2` bound the realism score, `is:disputed` keeps the open disputes (accept
vs reject with no final decision yet, as `bugfoundry disputes` lists them; also the decision
selector's `disputed` and the palette's "Queue: disputes to adjudicate"), `is:settled` the
disputes an adjudicator settled, `is:disagreement` every instance curators labelled
differently (decision or realism, settled or not), and `is:duplicate` the duplicates of another
instance (hidden by default: one per group is listed, `D` shows them); `-` before a token
leaves its matches out (`-repo:x`, `-is:settled`). Decision keys do nothing
while a text field has focus, and nothing at all when the database is open read-only
(another process holds it).

Frames of a failing test's traceback that run through a changed line are marked
`◀ in the diff`; frames elsewhere in a changed file are marked `◀ changed file`.

## Realism rubric

* **realistic**: a slip a competent developer could make and ship (off-by-one, a wrong
  operator, an inverted condition in ordinary code); the failing tests read like a bug report.
* **plausible**: could happen, but the change is blunt (a whole branch or call gone) or the
  failure points straight at the edit.
* **artificial**: no one would write this (a base class dropped, methods shuffled), or the
  failure is a crash at import; useful only as a smoke test.

Reject an instance whose failing tests do not check the behaviour the diff breaks
(SWE-bench Verified's "tests are invalid"), or whose diff is not a bug at all.

## SWE-bench Verified rubric (`R`)

* **problem-statement clarity**: 0 well specified, 1 some blanks to fill sensibly,
  2 vague, 3 impossible to tell what a fix should do.
* **test validity**: 0 the tests check the broken behaviour, 1 mostly, 2 they also demand
  details a correct fix could miss, 3 they test something else.
* **difficulty** for an experienced engineer: `<15m`, `15m-1h`, `1-4h`, `>4h`.

## Agreement

With several curators (`--curator NAME`), `P` shows each pair's Cohen's kappa on accept vs
reject (a skip abstains) and on realism, over the instances both labelled; kappa is
"undefined" when both used one label only. Disagreements open into review and `n` walks them;
`D` browses the open disputes (`is:disputed`).
"""


class HelpScreen(ModalScreen[None]):
    """Keys and the realism rubric, over whatever screen is open."""

    BINDINGS = [Binding("escape,question_mark,q,f1", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)


SCORE_OPTIONS = [("not rated", None), ("0", 0), ("1", 1), ("2", 2), ("3", 3)]


class RubricScreen(ModalScreen[dict | None]):
    """SWE-bench Verified's rubric for one instance; dismisses with the chosen fields."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="rubric.save"),
        Binding("escape", "dismiss(None)", "Cancel", id="rubric.cancel"),
    ]
    AUTO_FOCUS = "#rubric-clarity"  # keys work at once: up/down pick, tab moves on

    def __init__(self, clarity: int | None, validity: int | None, difficulty: str | None) -> None:
        super().__init__()
        self.initial = (clarity, validity, difficulty)

    def compose(self) -> ComposeResult:
        clarity, validity, difficulty = self.initial
        with VerticalScroll(id="rubric"):
            yield Static("Problem-statement clarity (0 = clear ... 3 = impossible to tell)")
            yield Select(SCORE_OPTIONS, value=clarity, allow_blank=False, id="rubric-clarity")
            yield Static("Test validity (0 = tests check the behaviour ... 3 = unrelated)")
            yield Select(SCORE_OPTIONS, value=validity, allow_blank=False, id="rubric-validity")
            yield Static("Difficulty for an experienced engineer")
            yield Select([("not rated", None), *((d, d) for d in DIFFICULTY_VALUES)],
                         value=difficulty, allow_blank=False, id="rubric-difficulty")
            yield Static("ctrl+s saves, escape cancels", classes="hint")

    def action_save(self) -> None:
        self.dismiss({
            "clarity": self.query_one("#rubric-clarity", Select).value,
            "test_validity": self.query_one("#rubric-validity", Select).value,
            "difficulty": self.query_one("#rubric-difficulty", Select).value,
        })


class NameScreen(ModalScreen[str | None]):
    """Ask for a short name (a saved filter's); enter accepts, escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="name.cancel")]
    AUTO_FOCUS = "#name"

    def __init__(self, prompt: str) -> None:
        super().__init__()
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="name-box"):
            yield Static(self.prompt)
            yield Input(placeholder="a name, e.g. undecided op_swap", id="name")

    @on(Input.Submitted, "#name")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
