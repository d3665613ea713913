"""Naturalness: how probable a line of code is under a token trigram trained on the repo itself.

Why a repo-trained n-gram and not a pretrained model: no small code model ships in a wheel
(realism.md §4), and a trigram with absolute discounting trains in about a second on a repo,
scores a line in microseconds and needs nothing but the standard library. The signal is weak
on its own (realism.md §2.3: AUC 0.58), so the score gives it half weight.

Scoring leaves the instance's own file out of the counts (as the reference experiment did):
otherwise the original line is memorised and every change would look unnatural.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

DISCOUNT = 0.75
LONG_STRING = 12  # strings longer than this become one <STR> token
BOS = "<s>"

_TOKEN = re.compile(
    r"""(?P<str>[rRbBuUfF]{0,2}(?:'''[^']*'''|\"\"\"[^"]*\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
    |(?P<num>\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?[jJ]?|\.\d+)
    |(?P<name>[^\W\d]\w*)
    |(?P<comment>\#.*)
    |(?P<op>\*\*=?|//=?|>>=?|<<=?|->|:=|==|!=|<=|>=|[-+*/%@&|^~<>=!]=?|[()\[\]{},:;.])
    """,
    re.VERBOSE,
)


def tokens(line: str) -> list[str]:
    """Tokens of one source line (comments dropped, long strings abstracted)."""
    out = []
    for m in _TOKEN.finditer(line):
        kind = m.lastgroup
        text = m.group()
        if kind == "comment":
            break
        if kind == "str" and len(text) > LONG_STRING:
            text = "<STR>"
        out.append(text)
    return out


def _trigrams(line_tokens: list[str]) -> Iterable[tuple[str, str, str]]:
    seq = [BOS, BOS, *line_tokens]
    for i in range(2, len(seq)):
        yield seq[i - 2], seq[i - 1], seq[i]


@dataclass
class Counts:
    """Trigram, bigram and unigram counts with the continuation counts discounting needs."""

    tri: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    bi: dict[str, Counter[str]] = field(default_factory=dict)
    uni: Counter[str] = field(default_factory=Counter)

    def add_line(self, line_tokens: list[str]) -> None:
        for u, v, w in _trigrams(line_tokens):
            self.tri.setdefault((u, v), Counter())[w] += 1
            self.bi.setdefault(v, Counter())[w] += 1
            self.uni[w] += 1


def count_source(text: str) -> Counts:
    counts = Counts()
    for line in text.splitlines():
        toks = tokens(line)
        if toks:
            counts.add_line(toks)
    return counts


class NgramModel:
    """An interpolated trigram (absolute discounting) over the repo's files, minus one file."""

    def __init__(self, files: dict[str, str]) -> None:
        self.per_file = {rel: count_source(text) for rel, text in files.items()}
        self.total = Counts()
        for c in self.per_file.values():
            for ctx, cnt in c.tri.items():
                self.total.tri.setdefault(ctx, Counter()).update(cnt)
            for ctx1, cnt in c.bi.items():
                self.total.bi.setdefault(ctx1, Counter()).update(cnt)
            self.total.uni.update(c.uni)
        self._tri_n = {ctx: sum(c.values()) for ctx, c in self.total.tri.items()}
        self._bi_n = {ctx: sum(c.values()) for ctx, c in self.total.bi.items()}
        self._uni_n = sum(self.total.uni.values())

    @property
    def tokens_seen(self) -> int:
        return self._uni_n

    def tokens_outside(self, exclude_file: str | None) -> int:
        """Tokens the model keeps when ``exclude_file`` is left out."""
        ex = self.per_file.get(exclude_file) if exclude_file else None
        return self._uni_n - (sum(ex.uni.values()) if ex else 0)

    def _level(self, total: Counter[str] | None, n: int, ex: Counter[str] | None, w: str,
                lower: float) -> float:
        """One interpolation level: (c - d)+ / N + d * distinct / N * lower, minus ``ex``."""
        if total is None:
            return lower
        ex = ex or Counter()
        n -= sum(ex.values())
        if n <= 0:
            return lower
        distinct = len(total) - sum(1 for k, v in ex.items() if total.get(k, 0) <= v)
        c = total.get(w, 0) - ex.get(w, 0)
        return max(c - DISCOUNT, 0.0) / n + DISCOUNT * distinct / n * lower

    def prob(self, u: str, v: str, w: str, exclude: Counts | None = None) -> float:
        ex = exclude or Counts()
        vocab = len(self.total.uni) + 1
        n_uni = self._uni_n - sum(ex.uni.values())
        p1 = (self.total.uni.get(w, 0) - ex.uni.get(w, 0) + 1) / (max(n_uni, 0) + vocab)
        p2 = self._level(self.total.bi.get(v), self._bi_n.get(v, 0), ex.bi.get(v), w, p1)
        return self._level(self.total.tri.get((u, v)), self._tri_n.get((u, v), 0),
                           ex.tri.get((u, v)), w, p2)

    def entropy(self, lines: Iterable[str], exclude_file: str | None = None) -> float | None:
        """Mean bits per token of ``lines`` (None: no tokens), the file's own counts left out."""
        ex = self.per_file.get(exclude_file) if exclude_file else None
        bits = 0.0
        n = 0
        for line in lines:
            for u, v, w in _trigrams(tokens(line)):
                bits -= math.log2(self.prob(u, v, w, ex))
                n += 1
        return bits / n if n else None

    def delta(self, buggy: list[str], original: list[str],
              exclude_file: str | None = None) -> tuple[float | None, float | None, float | None]:
        """(entropy of the buggy lines, of the original lines, buggy minus original)."""
        hb = self.entropy(buggy, exclude_file)
        ho = self.entropy(original, exclude_file)
        d = hb - ho if hb is not None and ho is not None else None
        return hb, ho, d
