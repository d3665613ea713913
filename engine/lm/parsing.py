"""Turning a model's answer into a new function, or a named reason why not.

Every rule here exists because real models break it: they wrap code in prose, return the whole
file, rename a parameter, add an import, or leave ``# BUG: off by one`` next to the change.
Each rejection carries a short reason code (stored in the LM call log) and a detail for people.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
import warnings
from dataclasses import dataclass

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)

REASONS = ("no_code", "does_not_parse", "missing_function", "touches_other_entities",
           "adds_imports", "signature_changed", "docstring_changed", "revealing_comment",
           "unchanged")


class Rejected(Exception):
    """An answer that cannot become a candidate; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def extract_code(text: str, want: str | None = None) -> str:
    """The fenced Python block of an answer (the one defining ``want`` when there are several),
    or the whole answer when it has no fence but parses as Python."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    blocks = [(lang, body) for lang, body in blocks if lang in ("", "python", "py", "python3")]
    if blocks:
        if want:
            for _, body in blocks:
                if re.search(rf"\bdef\s+{re.escape(want)}\s*\(", body):
                    return body
        return max((b for _, b in blocks), key=len)
    if text.strip() and _parses(text):
        return text
    raise Rejected("no_code", "the answer holds no fenced Python block")


def _parses(code: str) -> bool:
    try:
        _parse(code)
    except SyntaxError:
        return False
    return True


def _parse(code: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(textwrap.dedent(code))


FuncNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class NewFunction:
    """The accepted function: its source, dedented, decorators included."""

    source: str
    name: str


def _docstring(node: FuncNode) -> str | None:
    return ast.get_docstring(node, clean=False)


def _signature(node: FuncNode) -> str:
    return "|".join((type(node).__name__, node.name, ast.dump(node.args),
                     ast.dump(node.returns) if node.returns else "",
                     *(ast.dump(d) for d in node.decorator_list)))


def _body_dump(node: FuncNode) -> str:
    body = node.body
    if body and _docstring(node) is not None:
        body = body[1:]
    return "\n".join(ast.dump(s) for s in body)


def _comments(code: str) -> list[str]:
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(textwrap.dedent(code)).readline):
            if tok.type == tokenize.COMMENT:
                out.append(" ".join(tok.string.lstrip("#").split()).lower())
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _find_target(tree: ast.Module, name: str) -> tuple[FuncNode | None, list[ast.stmt]]:
    """The function called ``name`` (top level or inside one class) and the other statements."""
    others: list[ast.stmt] = []
    found: FuncNode | None = None
    for stmt in tree.body:
        if isinstance(stmt, FuncNode) and stmt.name == name and found is None:
            found = stmt
            continue
        if isinstance(stmt, ast.ClassDef) and found is None:
            inner = [s for s in stmt.body if isinstance(s, FuncNode) and s.name == name]
            if inner:
                found = inner[0]
                others.extend(s for s in stmt.body if s is not found
                              and not isinstance(s, ast.Pass))
                continue
        others.append(stmt)
    return found, others


def _lines_of(code: str, node: FuncNode) -> str:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = textwrap.dedent(code).splitlines(keepends=True)[first - 1: node.end_lineno]
    text = textwrap.dedent("".join(lines))
    return text if text.endswith("\n") else text + "\n"


def accept_function(answer: str, original: str, *, file_source: str = "") -> NewFunction:
    """Check a model's answer against the ``original`` function source; raise ``Rejected``.

    ``file_source`` (the whole original file) lets an answer repeat the file around the
    function: statements identical to the file's own are ignored, anything new is rejected.
    """
    orig_tree = _parse(original)
    orig = next(n for n in orig_tree.body if isinstance(n, FuncNode))
    code = extract_code(answer, orig.name)
    try:
        tree = _parse(code)
    except SyntaxError as exc:
        raise Rejected("does_not_parse", f"line {exc.lineno}: {exc.msg}") from None
    node, others = _find_target(tree, orig.name)
    if node is None:
        raise Rejected("missing_function", f"the answer does not define {orig.name}()")
    known = ({ast.dump(s) for s in ast.walk(_parse(file_source)) if isinstance(s, ast.stmt)}
             if file_source else set())
    for stmt in others:
        if ast.dump(stmt) in known:
            continue
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            raise Rejected("adds_imports", ast.unparse(stmt))
        what = getattr(stmt, "name", None) or ast.unparse(stmt).splitlines()[0][:80]
        raise Rejected("touches_other_entities", f"the answer also changes {what}")
    if _signature(node) != _signature(orig):
        raise Rejected("signature_changed", f"def {node.name}({ast.unparse(node.args)})")
    if _docstring(node) != _docstring(orig):
        raise Rejected("docstring_changed", "the docstring was edited")
    if _body_dump(node) == _body_dump(orig):
        raise Rejected("unchanged", "the code is the same as the original")
    source = _lines_of(code, node)
    old_comments = set(_comments(original))
    new = [c for c in _comments(source) if c not in old_comments]
    if new:
        raise Rejected("revealing_comment", f"adds the comment '# {new[0][:80]}'")
    return NewFunction(source, node.name)


def splice_function(file_source: str, start_line: int, end_line: int, new: str) -> str:
    """``file_source`` with lines ``start_line..end_line`` (1-based, inclusive; decorators
    included) replaced by ``new`` re-indented to the original's indentation."""
    lines = file_source.splitlines(keepends=True)
    first = lines[start_line - 1]
    indent = first[: len(first) - len(first.lstrip())]
    body = textwrap.indent(new, indent, lambda line: bool(line.strip()))
    newline = "\r\n" if first.endswith("\r\n") else "\n"
    if newline != "\n":
        body = body.replace("\n", newline)
    return "".join(lines[: start_line - 1]) + body + "".join(lines[end_line:])


def stub_function(file_source: str, start_line: int, end_line: int) -> str:
    """The file with one function's body replaced by ``raise NotImplementedError`` (its
    decorators, signature and docstring kept): what LM rewrite shows the model."""
    lines = file_source.splitlines(keepends=True)
    original = "".join(lines[start_line - 1: end_line])
    tree = _parse(original)
    node = next(n for n in tree.body if isinstance(n, FuncNode))
    has_doc = _docstring(node) is not None
    keep_until = node.body[0].end_lineno if has_doc else node.body[0].lineno - 1
    if keep_until is None or node.body[0].lineno == node.lineno:
        raise ValueError("a one-line function has no body to blank")
    body_indent = " " * (node.body[0].col_offset)
    first = lines[start_line - 1]
    base = first[: len(first) - len(first.lstrip())]
    dedented = textwrap.dedent(original).splitlines(keepends=True)
    head = "".join(dedented[: keep_until])
    stub = head + body_indent + "raise NotImplementedError\n"
    return "".join(lines[: start_line - 1]) + textwrap.indent(
        stub, base, lambda line: bool(line.strip())) + "".join(lines[end_line:])
