"""The prompts: what we ask the model for, in words a model follows.

Each prompt asks for one fenced Python block and says exactly what may change, because the
parser (``engine.lm.parsing``) rejects anything else; a precise prompt keeps the rejection
rate, and so the bill, down.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

# Kinds of subtle logic bugs (after SWE-smith's list for its LM modify strategy, reworded).
BUG_KINDS: tuple[str, ...] = (
    "an off-by-one error in a loop bound, a range, a slice or an index",
    "a comparison that is slightly wrong (< instead of <=, == instead of is, a flipped test)",
    "a condition that is inverted or checks the wrong variable",
    "an edge case that is no longer handled (empty input, None, zero, a single element)",
    "the wrong one of two similar variables, attributes or keys is used",
    "arguments passed in the wrong order to a call",
    "a wrong initial or default value (an accumulator, a counter, a flag)",
    "a return that happens too early, or returns a related but wrong value",
    "a state update that is missing, duplicated or done at the wrong moment",
    "an exception that is swallowed, or the wrong exception type raised",
    "arithmetic that is subtly wrong (operator, rounding, integer vs true division, sign)",
    "a string built, split or parsed slightly wrongly (separator, strip, case, format)",
    "a loop that stops too early or skips an element",
    "a copy that became a shared reference, or a mutation of an argument that was copied",
)

SYSTEM_BUGS = (
    "You are an expert Python developer helping build a dataset of realistic bugs for training "
    "and evaluating software-engineering agents. You edit code exactly as asked and answer "
    "with one fenced Python code block and nothing else."
)


def sample_bug_kinds(rng: random.Random, k: int = 3) -> list[str]:
    return rng.sample(BUG_KINDS, k)


def modify_messages(path: str, qualname: str, function_source: str,
                    kinds: Sequence[str]) -> list[dict[str, str]]:
    """LM modify: rewrite one function so it carries a subtle bug."""
    bullet = "\n".join(f"- {k}" for k in kinds)
    user = (
        f"Here is the function `{qualname}` from `{path}`:\n\n```python\n{function_source}```\n\n"
        "Rewrite this function so that it contains one subtle logical bug, the kind a careful "
        "developer could write and a reviewer could miss. Pick one of these kinds:\n"
        f"{bullet}\n\n"
        "Rules:\n"
        "- Keep the name, the signature, the decorators and the docstring exactly as they are.\n"
        "- The code must still run: no syntax errors, no undefined names, no new imports.\n"
        "- Change as little as possible; do not touch any other function or class.\n"
        "- Do not add comments, and do not hint at the bug anywhere.\n"
        "Answer with the complete rewritten function in one ```python block."
    )
    return [{"role": "system", "content": SYSTEM_BUGS}, {"role": "user", "content": user}]


def rewrite_messages(path: str, qualname: str, file_with_stub: str) -> list[dict[str, str]]:
    """LM rewrite: implement a function whose body was blanked, from the rest of the file."""
    user = (
        f"In the file `{path}` below, the body of `{qualname}` has been replaced by "
        "`raise NotImplementedError`.\n\n"
        f"```python\n{file_with_stub}```\n\n"
        f"Implement `{qualname}` so that it does what its name, signature, docstring and "
        "callers imply. Keep the name, the signature, the decorators and the docstring "
        "exactly as they are, add no imports and no comments, and do not change anything "
        f"else. Answer with the complete function `{qualname.rpartition('.')[2]}` only, in one "
        "```python block."
    )
    return [{"role": "system", "content": SYSTEM_BUGS}, {"role": "user", "content": user}]


SYSTEM_ISSUES = (
    "You write GitHub issues as a user of a Python library who has just hit a bug. You describe "
    "what you did, what you expected and what happened, with a small code example. You have "
    "not read the library's source code and you do not know where the bug is."
)


def statement_messages(repo: str, diff: str, failures: str,
                       tests: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """A GitHub-issue-style text for one instance; the diff is context, never to be quoted."""
    test_text = "\n\n".join(f"# {name}\n{src}" for name, src in tests) or "(none)"
    user = (
        f"A bug was introduced into the Python project `{repo}` by this change (for your "
        f"understanding only):\n\n```diff\n{diff}```\n\n"
        f"These tests now fail with this output:\n\n```\n{failures}\n```\n\n"
        f"Source of some of the failing tests:\n\n```python\n{test_text}\n```\n\n"
        "Write the GitHub issue a user would file after running into this behaviour. Describe "
        "the observable symptom with a short, self-contained example using the public API, "
        "the expected and the actual result.\n"
        "Do not quote or paraphrase the changed lines, do not say where in the code the bug "
        "is or how to fix it, do not mention tests, test names, pytest or this diff. Write "
        "the issue text only (a title line, then the body), in Markdown, no code fence "
        "around the whole answer."
    )
    return [{"role": "system", "content": SYSTEM_ISSUES}, {"role": "user", "content": user}]


def undo_messages(path: str, current_source: str, fix_diff: str) -> list[dict[str, str]]:
    """PR mirroring, route (c): undo an old fix in the current version of one file."""
    user = (
        f"This diff once fixed a bug in `{path}`:\n\n```diff\n{fix_diff}```\n\n"
        f"The file has changed since. Here is its current version:\n\n"
        f"```python\n{current_source}```\n\n"
        "Undo the fix in the current version: bring the original bug back, adapting it to "
        "the code as it is now, and change nothing else. Add no comments. Answer with the "
        "complete file in one ```python block."
    )
    return [{"role": "system", "content": SYSTEM_BUGS}, {"role": "user", "content": user}]
