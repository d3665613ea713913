"""PR mirroring's route (c): ask a model to undo an old fix in today's version of a file.

When a fix commit's source half neither reverse-applies at the pinned commit nor can be
validated at the fix commit itself, SWE-smith's answer is to show a model the fix and the
current file and ask for the file with the bug put back. The answer is checked like any LM
answer (fenced code, parses, differs, no revealing comments) before it becomes a candidate.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from engine.lm.batch import Ask, BatchStats, ask_all
from engine.lm.client import LMClient, LMError, cache_key
from engine.lm.parsing import Rejected, extract_code
from engine.lm.prompts import undo_messages
from engine.store import LMCall, Store

Undo = Callable[[str, str, str], str | None]


@dataclass
class UndoStats:
    asked: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    batch: BatchStats = field(default_factory=BatchStats)


def _comments(code: str) -> set[str]:
    out: set[str] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                out.add(" ".join(tok.string.lstrip("#").split()).lower())
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def check_undo(answer: str, current: str) -> str:
    """The whole new file from an answer, or ``Rejected`` with a reason."""
    code = extract_code(answer)
    if not code.endswith("\n"):
        code += "\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            new_tree = ast.parse(code)
        except SyntaxError as exc:
            raise Rejected("does_not_parse", f"line {exc.lineno}: {exc.msg}") from None
        if ast.dump(new_tree) == ast.dump(ast.parse(current)):
            raise Rejected("unchanged", "the file is the same as today's")
    added = _comments(code) - _comments(current)
    if added:
        raise Rejected("revealing_comment", f"adds the comment '# {sorted(added)[0][:80]}'")
    return code


def make_undo(client: LMClient, store: Store, repo: str,
              stats: UndoStats | None = None) -> Undo:
    """An ``undo(rel_path, current_text, fix_diff)`` for PR mirroring, cached and logged."""
    st = stats if stats is not None else UndoStats()

    def undo(rel: str, current: str, fix_diff: str) -> str | None:
        ask = Ask(undo_messages(rel, current, fix_diff), "pr_mirror")
        st.asked += 1
        answer = ask_all(client, store, [ask], stats=st.batch)[0]
        call = LMCall(repo, "pr_mirror", rel, "", cache_key(client.settings, ask.messages),
                      status="error", model=client.settings.model)
        if isinstance(answer, LMError):
            store.log_lm_calls([replace(call, reason=answer.reason, detail=answer.detail)])
            return None
        call = answer.charge(call)
        try:
            code = check_undo(answer.text, current)
        except Rejected as rej:
            st.rejected[rej.reason] = st.rejected.get(rej.reason, 0) + 1
            store.log_lm_calls([replace(call, status="rejected", reason=rej.reason,
                                        detail=rej.detail)])
            return None
        st.accepted += 1
        store.log_lm_calls([replace(call, status="ok")])
        return code

    return undo
