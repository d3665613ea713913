"""Argument parsing that answers bad input as every other error: ``bugfoundry: error: ...``.

argparse's own answer is a usage block and an error line that does not say how to go on; the
parser here prints one error line and where to look, and the number types refuse values that
would mean something else (``--max 0`` as "unlimited", ``--workers -2``, a timeout of 0).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are two lines: the problem, then where the help is."""

    def error(self, message: str) -> NoReturn:
        print(f"bugfoundry: error: {message}\nSee: {self.prog} --help", file=sys.stderr,
              flush=True)
        raise SystemExit(2)


def _number(kind: type[int] | type[float], low: float, inclusive: bool
            ) -> Callable[[str], int | float]:
    word = "an integer" if kind is int else "a number"
    bound = f">= {low:g}" if inclusive else f"> {low:g}"

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {word} {bound} (got {text!r})") from None
        if math.isnan(value) or (value < low if inclusive else value <= low):
            raise argparse.ArgumentTypeError(f"must be {bound} (got {text})")
        return value

    parse.__name__ = f"{kind.__name__} {bound}"
    return parse


def integer(text: str) -> int:
    """Any integer (a seed), said as the other number types say it."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer (got {text!r})") from None


def finite(text: str) -> float:
    """Any real number but nan and infinities (a score threshold)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number (got {text!r})")
    return value


positive_int = _number(int, 1, inclusive=True)
count = _number(int, 0, inclusive=True)  # 0 allowed
seconds = _number(float, 0, inclusive=False)
amount = _number(float, 0, inclusive=True)  # 0 allowed
