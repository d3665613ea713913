#!/usr/bin/env python3
"""Build the ``ledgerkit`` sample repository from scratch and ship it as a git bundle.

ledgerkit is a small, self-contained bookkeeping library (money, accounts, CSV import,
interest, reports, validation, a rate limiter and an asyncio batch processor) with a
thorough pytest suite. Its history is written out below as a list of commits; several of
them are realistic *fix commits* (source + regression test) for bugfoundry's fix-commit
miner, and the rest give procedural mutations a well-tested code base to work on.

Everything is deterministic: fixed authors, dates and git configuration, so the commit
SHAs are identical on every run.

Usage::

    python3 data/make_sample_repo.py                  # writes data/sample.bundle
    python3 data/make_sample_repo.py --workdir /tmp/lk --check
    python3 data/make_sample_repo.py --print-commits

``--check`` needs pytest importable by the running interpreter. It runs the suite at every
commit, confirms each fix commit's regression tests fail on its parent (with the fix's
tests) and pass on the fix, and confirms which fixes reverse-apply cleanly at HEAD.

Only the standard library is used. Requires git >= 2.32.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_BUNDLE = HERE / "sample.bundle"
BRANCH = "main"

PEOPLE = {
    "dana": ("Dana Whitfield", "dana.whitfield@example.com"),
    "sam": ("Sam Okafor", "sam.okafor@example.org"),
}
COMMITTER = "dana"

GIT_CONFIG = [
    "-c", f"init.defaultBranch={BRANCH}",
    "-c", "commit.gpgsign=false",
    "-c", "tag.gpgsign=false",
    "-c", "core.autocrlf=false",
    "-c", "core.fileMode=true",
    "-c", "pack.threads=1",
    "-c", "user.useConfigOnly=false",
]


@dataclass(frozen=True)
class Write:
    """Create or overwrite ``path`` with ``text``."""

    path: str
    text: str


@dataclass(frozen=True)
class Edit:
    """Replace the single occurrence of ``old`` in ``path`` with ``new``."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Append:
    """Append ``text`` to the existing file ``path``."""

    path: str
    text: str


@dataclass(frozen=True)
class Commit:
    date: str  # ISO 8601 with offset; used for both author and committer date
    author: str  # key into PEOPLE
    message: str
    changes: list
    # Fix-commit metadata (used by --check and the README, not by git):
    regression: list[str] = field(default_factory=list)  # pytest node ids added by the fix
    reverts_cleanly_at_head: bool | None = None  # does `git apply -R` of the source half work?

    @property
    def is_fix(self) -> bool:
        return bool(self.regression)

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0]


def T(text: str) -> str:
    """File text as written below: drop the newline right after the opening quotes."""
    return text[1:] if text.startswith("\n") else text


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment that ignores the user's and the system's git configuration."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_") and key not in ("EMAIL",)
    }
    env.update(
        {
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "TZ": "UTC",
            "LC_ALL": "C",
        }
    )
    env.update(extra or {})
    return env


def git(repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True,
        input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *GIT_CONFIG, *args],
        cwd=repo,
        env=env or git_env(),
        input=input,
        capture_output=True,
        text=True,
        check=check,
    )


def apply_change(repo: Path, change) -> None:
    path = repo / change.path
    if isinstance(change, Write):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(change.text, encoding="utf-8", newline="\n")
    elif isinstance(change, Edit):
        text = path.read_text(encoding="utf-8")
        count = text.count(change.old)
        if count != 1:
            raise SystemExit(f"edit of {change.path}: expected 1 match, found {count}:\n{change.old}")
        path.write_text(text.replace(change.old, change.new), encoding="utf-8", newline="\n")
    elif isinstance(change, Append):
        with path.open("a", encoding="utf-8", newline="\n") as fh:
            fh.write(change.text)
    else:  # pragma: no cover
        raise TypeError(change)
    os.chmod(path, 0o644)


def build(repo: Path) -> list[str]:
    """Create the repository in ``repo`` (must be empty or absent); returns the commit SHAs."""
    repo.mkdir(parents=True, exist_ok=True)
    if any(repo.iterdir()):
        raise SystemExit(f"{repo} is not empty")
    git(repo, "init", "-q", f"--initial-branch={BRANCH}", "--template=")
    shas = []
    for commit in COMMITS:
        for change in commit.changes:
            apply_change(repo, change)
        name, email = PEOPLE[commit.author]
        committer_name, committer_email = PEOPLE[COMMITTER]
        env = git_env(
            {
                "GIT_AUTHOR_NAME": name,
                "GIT_AUTHOR_EMAIL": email,
                "GIT_AUTHOR_DATE": commit.date,
                "GIT_COMMITTER_NAME": committer_name,
                "GIT_COMMITTER_EMAIL": committer_email,
                "GIT_COMMITTER_DATE": commit.date,
            }
        )
        git(repo, "add", "-A", env=env)
        git(repo, "commit", "-q", "--no-verify", "--cleanup=verbatim", "-F", "-",
            env=env, input=commit.message.rstrip("\n") + "\n")
        shas.append(git(repo, "rev-parse", "HEAD").stdout.strip())
    return shas


def make_bundle(repo: Path, bundle: Path) -> None:
    bundle.parent.mkdir(parents=True, exist_ok=True)
    if bundle.exists():
        bundle.unlink()
    git(repo, "bundle", "create", "-q", str(bundle), "--all")
    git(repo, "bundle", "verify", "-q", str(bundle))


# --------------------------------------------------------------------------------------------
# --check: the properties the sample promises
# --------------------------------------------------------------------------------------------


def run_pytest(tree: Path, *args: str) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tree, env=env, capture_output=True, text=True,
    )
    return proc.returncode, proc.stdout + proc.stderr


def summary_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1].strip("= ") if lines else "(no output)"


def check(repo: Path, shas: list[str]) -> bool:
    ok = True

    def report(good: bool, text: str) -> None:
        nonlocal ok
        ok = ok and good
        print(f"  [{'ok' if good else 'FAIL'}] {text}")

    def checkout(rev: str) -> None:
        git(repo, "checkout", "-q", "--force", "--detach", rev)
        git(repo, "clean", "-q", "-fdx")

    print("every commit passes its own tests:")
    for sha, commit in zip(shas, COMMITS):
        checkout(sha)
        rc, out = run_pytest(repo)
        report(rc == 0, f"{sha[:10]} {commit.subject}: {summary_line(out)}")

    print("fix commits: regression tests fail on the parent, pass on the fix:")
    for sha, commit in zip(shas, COMMITS):
        if not commit.is_fix:
            continue
        checkout(f"{sha}^")
        git(repo, "checkout", sha, "--", "tests")
        rc, out = run_pytest(repo, *commit.regression)
        all_failed = re.search(r"\d+ failed", out) and not re.search(r"\d+ passed", out)
        report(rc == 1 and bool(all_failed),
               f"{sha[:10]}^ with the fix's tests: {summary_line(out)}")
        deselect = [arg for node in commit.regression for arg in ("--deselect", node)]
        rc, out = run_pytest(repo, *deselect)
        report(rc == 0, f"{sha[:10]}^ other tests still pass: {summary_line(out)}")
        checkout(sha)
        rc, out = run_pytest(repo, *commit.regression)
        report(rc == 0, f"{sha[:10]} regression tests: {summary_line(out)}")

    print("reverse-applying each fix's source half at HEAD:")
    for sha, commit in zip(shas, COMMITS):
        if not commit.is_fix:
            continue
        checkout(BRANCH)
        diff = git(repo, "diff", f"{sha}^", sha, "--", ".", ":(exclude)tests").stdout
        applies = git(repo, "apply", "-R", "--check", "-", input=diff, check=False).returncode == 0
        detail = "applies" if applies else "does not apply"
        if applies:
            git(repo, "apply", "-R", "-", input=diff)
            rc, out = run_pytest(repo, *commit.regression)
            detail += f", regression tests then fail: {summary_line(out)}"
            applies = rc == 1 and not re.search(r"\d+ passed", out)
        report(applies == commit.reverts_cleanly_at_head,
               f"{sha[:10]} {detail} (expected: {'applies' if commit.reverts_cleanly_at_head else 'conflict'})")
    checkout(BRANCH)
    git(repo, "checkout", "-q", BRANCH)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="build here and keep it (must be empty)")
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="bundle to write")
    parser.add_argument("--no-bundle", action="store_true", help="only build the repository")
    parser.add_argument("--check", action="store_true", help="verify the promised properties")
    parser.add_argument("--print-commits", action="store_true", help="list commits and exit")
    args = parser.parse_args(argv)

    if args.print_commits:
        for i, commit in enumerate(COMMITS, 1):
            kind = "fix" if commit.is_fix else "   "
            print(f"{i:2} {kind} {commit.date} {commit.subject}")
        return 0

    tmp = None
    if args.workdir is None:
        tmp = tempfile.mkdtemp(prefix="ledgerkit-")
        repo = Path(tmp) / "ledgerkit"
    else:
        repo = args.workdir.resolve()
    try:
        shas = build(repo)
        for sha, commit in zip(shas, COMMITS):
            mark = "fix" if commit.is_fix else "   "
            print(f"{sha[:10]} {mark} {commit.subject}")
        if not args.no_bundle:
            make_bundle(repo, args.bundle.resolve())
            print(f"wrote {args.bundle} ({len(shas)} commits on {BRANCH}, HEAD {shas[-1][:10]})")
        if args.check and not check(repo, shas):
            print("check FAILED")
            return 1
        return 0
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The history. File contents are given as first committed; later commits edit them.
# --------------------------------------------------------------------------------------------

# .gitignore as of commit 1
GITIGNORE = T(r'''
__pycache__/
*.py[cod]
*.egg-info/
.pytest_cache/
.venv/
build/
dist/
''')

# pyproject.toml as of commit 1
PYPROJECT_TOML = T(r'''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "ledgerkit"
version = "0.1.0"
description = "Small, exact bookkeeping helpers: money, accounts, CSV import and interest."
readme = "README.md"
requires-python = ">=3.10"
authors = [{ name = "Dana Whitfield", email = "dana.whitfield@example.com" }]
dependencies = []

[project.optional-dependencies]
test = ["pytest"]

[tool.setuptools]
packages = ["ledgerkit"]

[tool.pytest.ini_options]
testpaths = ["tests"]
''')

# README.md as of commit 1
README_MD = T(r'''
# ledgerkit

Small, exact bookkeeping helpers for Python. No dependencies.

```
pip install -e '.[test]'
pytest
```
''')

# ledgerkit/__init__.py as of commit 1
INIT_PY = T(r'''
"""ledgerkit: small, exact bookkeeping helpers."""

from .money import CurrencyMismatchError, Money, sum_money

__version__ = "0.1.0"
''')

# ledgerkit/money.py as of commit 1
MONEY_PY = T(r'''
"""Decimal-backed money values with currency-aware rounding."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

#: Minor-unit digits for the currencies ledgerkit knows about.
CURRENCY_EXPONENTS: dict[str, int] = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3}
CURRENCY_SYMBOLS: dict[str, str] = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
DEFAULT_CURRENCY = "USD"


class CurrencyMismatchError(ValueError):
    """Raised when amounts in different currencies are combined."""


def exponent_for(currency: str) -> int:
    """Return the number of decimal places used by ``currency``."""
    try:
        return CURRENCY_EXPONENTS[currency.upper()]
    except KeyError:
        raise ValueError(f"unknown currency: {currency!r}") from None


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Convert ``value`` to a Decimal; floats are refused because they are inexact."""
    if isinstance(value, float):
        raise TypeError("use str or Decimal for money amounts, not float")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a valid amount: {value!r}") from None


@dataclass(frozen=True)
class Money:
    """An exact amount in one currency; arithmetic keeps full precision until rounded."""

    amount: Decimal
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        object.__setattr__(self, "currency", self.currency.upper())
        exponent_for(self.currency)  # rejects unknown currencies early

    @classmethod
    def zero(cls, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, units: int, currency: str = DEFAULT_CURRENCY) -> Money:
        """Build an amount from integer minor units, e.g. cents."""
        return cls(Decimal(units).scaleb(-exponent_for(currency)), currency)

    @property
    def exponent(self) -> int:
        return exponent_for(self.currency)

    @property
    def minor_units(self) -> int:
        """The rounded amount as a whole number of minor units."""
        return int(self.rounded().amount.scaleb(self.exponent))

    def rounded(self) -> Money:
        """Round to the currency's minor unit."""
        quantum = Decimal(1).scaleb(-self.exponent)
        return Money(self.amount.quantize(quantum, rounding=ROUND_HALF_EVEN), self.currency)

    def _check_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{self.currency} != {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * to_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check_currency(other)
        return self.amount <= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def is_negative(self) -> bool:
        return self.amount < 0

    def allocate(self, ratios: Sequence[int]) -> list[Money]:
        """Split proportionally to ``ratios``; leftover minor units go to the first parts."""
        if not ratios or min(ratios) <= 0:
            raise ValueError("ratios must be a non-empty sequence of positive integers")
        total = sum(ratios)
        units = self.minor_units
        shares = [units * ratio // total for ratio in ratios]
        for i in range(units - sum(shares)):
            shares[i] += 1
        return [Money.from_minor(share, self.currency) for share in shares]

    def format(self, symbol: bool = True) -> str:
        """Human-readable form such as ``-$1,234.50`` or ``1,234.500 KWD``."""
        value = self.rounded().amount
        sign = "-" if value < 0 else ""
        prefix = CURRENCY_SYMBOLS.get(self.currency) if symbol else None
        if prefix is None:
            return f"{sign}{abs(value):,} {self.currency}"
        return f"{sign}{prefix}{abs(value):,}"

    def __str__(self) -> str:
        return self.format(symbol=False)


def sum_money(amounts: Iterable[Money], currency: str = DEFAULT_CURRENCY) -> Money:
    """Add up ``amounts``; an empty iterable gives zero in ``currency``."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
''')

# tests/test_money.py as of commit 1
TEST_MONEY_PY = T(r'''
from decimal import Decimal

import pytest

from ledgerkit.money import CurrencyMismatchError, Money, exponent_for, sum_money, to_decimal


def test_amount_becomes_decimal_and_currency_is_uppercased():
    m = Money("12.50", "usd")
    assert isinstance(m.amount, Decimal)
    assert m.amount == Decimal("12.50")
    assert m.currency == "USD"
    assert Money(3).currency == "USD"


def test_unknown_currency_is_rejected():
    with pytest.raises(ValueError, match="unknown currency: 'XYZ'"):
        Money("1", "XYZ")


def test_exponent_for():
    assert [exponent_for(c) for c in ("USD", "eur", "JPY", "KWD")] == [2, 2, 0, 3]
    assert Money("1", "KWD").exponent == 3


def test_to_decimal():
    assert to_decimal(3) == Decimal(3)
    assert to_decimal("0.10") == Decimal("0.10")
    with pytest.raises(TypeError, match="not float"):
        to_decimal(0.1)
    with pytest.raises(ValueError, match="not a valid amount: 'abc'"):
        Money("abc")


def test_zero_and_from_minor():
    assert Money.zero("eur") == Money("0", "EUR")
    assert Money.zero().currency == "USD"
    assert Money.from_minor(1234) == Money("12.34")
    assert Money.from_minor(1234, "JPY") == Money("1234", "JPY")
    assert Money.from_minor(-5, "KWD").amount == Decimal("-0.005")


@pytest.mark.parametrize(
    "raw, currency, expected",
    [
        ("2.344", "USD", "2.34"),
        ("2.346", "USD", "2.35"),
        ("-1.004", "USD", "-1.00"),
        ("7", "USD", "7.00"),
        ("1234.6", "JPY", "1235"),
    ],
)
def test_rounded_to_minor_unit(raw, currency, expected):
    rounded = Money(raw, currency).rounded()
    assert str(rounded.amount) == expected
    assert rounded.currency == currency


def test_minor_units():
    assert Money("1.23456", "KWD").minor_units == 1235
    assert Money("12.34").minor_units == 1234
    assert Money("-0.07").minor_units == -7
    assert Money("5", "JPY").minor_units == 5
    assert Money("1.0049").minor_units == 100


def test_add_sub_neg_abs():
    a, b = Money("10.25"), Money("0.75")
    assert a + b == Money("11.00")
    assert a - b == Money("9.50")
    assert b - a == Money("-9.50")
    assert -a == Money("-10.25")
    assert abs(Money("-3.10")) == Money("3.10")
    assert abs(Money("3.10")) == Money("3.10")


def test_multiplication_keeps_precision_and_currency():
    assert Money("10.00", "EUR") * Decimal("0.125") == Money("1.25", "EUR")
    assert 3 * Money("0.10") == Money("0.30")
    assert (Money("1") * Decimal("0.333")).amount == Decimal("0.333")
    with pytest.raises(TypeError):
        Money("1") * 1.5


def test_mixing_currencies_raises():
    usd, eur = Money("1"), Money("1", "EUR")
    for op in ("__add__", "__sub__", "__lt__", "__le__"):
        with pytest.raises(CurrencyMismatchError, match="USD != EUR"):
            getattr(usd, op)(eur)


def test_comparisons():
    one, two = Money("1"), Money("2")
    assert one < two
    assert not two < one
    assert not one < Money("1.00")
    assert one <= Money("1.00")
    assert one <= two
    assert not two <= one
    assert two > one
    assert Money("1.0") == Money("1.00")
    assert Money("1") != Money("1", "EUR")
    assert Money("0.00").is_zero()
    assert not Money("0.01").is_zero()
    assert Money("-0.01").is_negative()
    assert not Money("0").is_negative()
    assert not Money("0.01").is_negative()


@pytest.mark.parametrize(
    "amount, ratios, expected",
    [
        ("100", [1, 1, 1], ["33.34", "33.33", "33.33"]),
        ("0.05", [3, 7], ["0.02", "0.03"]),
        ("-1.00", [1, 1, 1], ["-0.33", "-0.33", "-0.34"]),
    ],
)
def test_allocate(amount, ratios, expected):
    parts = Money(amount).allocate(ratios)
    assert [p.amount for p in parts] == [Decimal(e) for e in expected]
    assert sum_money(parts) == Money(amount)


def test_allocate_rejects_bad_ratios():
    for ratios in ([], [1, 0], [2, -1]):
        with pytest.raises(ValueError, match="positive integers"):
            Money("1").allocate(ratios)


def test_format():
    assert Money("1234.5").format() == "$1,234.50"
    assert Money("-1234.5").format() == "-$1,234.50"
    assert Money("1234.5").format(symbol=False) == "1,234.50 USD"
    assert Money("5", "EUR").format() == "€5.00"
    assert Money("1234567.8912", "KWD").format() == "1,234,567.891 KWD"
    assert Money("-0.001").format() == "$0.00"
    assert str(Money("3.5", "GBP")) == "3.50 GBP"


def test_sum_money():
    assert sum_money([]) == Money("0")
    assert sum_money([], "EUR") == Money("0", "EUR")
    assert sum_money([Money("1.10"), Money("2.20"), Money("-0.30")]) == Money("3.00")
    with pytest.raises(CurrencyMismatchError):
        sum_money([Money("1", "EUR")])
''')

# ledgerkit/accounts.py as of commit 2
ACCOUNTS_PY = T(r'''
"""Accounts, their statements, and the ledger that moves money between them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .money import Money


class InsufficientFunds(Exception):
    """Raised when a withdrawal would exceed what the account allows."""


@dataclass(frozen=True)
class Entry:
    """One statement line; ``amount`` is positive for credits, negative for debits."""

    on: date
    description: str
    amount: Money
    balance: Money


class Account:
    """A plain account: holds a balance and records every movement as an entry."""

    kind = "account"
    page_size = 10

    def __init__(self, name: str, currency: str = "USD") -> None:
        if not name.strip():
            raise ValueError("account name must not be empty")
        self.name = name
        self.currency = currency
        self._balance = Money.zero(currency)
        self._entries: list[Entry] = []

    @property
    def balance(self) -> Money:
        return self._balance

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries)

    def available(self) -> Money:
        """How much may be withdrawn right now."""
        return self._balance

    def can_withdraw(self, amount: Money) -> bool:
        return amount < self.available()

    def _post(self, on: date, description: str, amount: Money) -> Entry:
        self._balance = self._balance + amount
        entry = Entry(on, description, amount, self._balance)
        self._entries.append(entry)
        return entry

    def deposit(self, amount: Money, on: date, description: str = "deposit") -> Entry:
        if amount.is_negative() or amount.is_zero():
            raise ValueError("deposit amount must be positive")
        return self._post(on, description, amount)

    def withdraw(self, amount: Money, on: date, description: str = "withdrawal") -> Entry:
        if amount.is_negative() or amount.is_zero():
            raise ValueError("withdrawal amount must be positive")
        if not self.can_withdraw(amount):
            raise InsufficientFunds(f"{self.name}: cannot withdraw {amount}")
        return self._post(on, description, -amount)

    def page_count(self, page_size: int | None = None) -> int:
        size = page_size or self.page_size
        return (len(self._entries) + size - 1) // size

    def statement_page(self, page: int, page_size: int | None = None) -> list[Entry]:
        """Entries on the 1-based ``page`` of the statement."""
        if page < 1:
            raise ValueError("statement pages are numbered from 1")
        size = page_size or self.page_size
        start = (page - 1) * size
        end = min(start + size, len(self._entries) - 1)
        return self._entries[start:end]


class CheckingAccount(Account):
    """An account that may be overdrawn down to ``-overdraft``."""

    kind = "checking"

    def __init__(self, name: str, overdraft: Money | None = None, currency: str = "USD") -> None:
        super().__init__(name, currency)
        self.overdraft = Money.zero(currency) if overdraft is None else overdraft
        if self.overdraft.is_negative():
            raise ValueError("overdraft must not be negative")

    def available(self) -> Money:
        return self._balance + self.overdraft

    @property
    def is_overdrawn(self) -> bool:
        return self._balance.is_negative()


class SavingsAccount(Account):
    """An interest-bearing account that allows only a few withdrawals per month."""

    kind = "savings"
    max_monthly_withdrawals = 3

    def __init__(self, name: str, annual_rate: Decimal, currency: str = "USD") -> None:
        super().__init__(name, currency)
        if annual_rate < 0:
            raise ValueError("interest rate must not be negative")
        self.annual_rate = annual_rate

    def withdrawals_in(self, year: int, month: int) -> int:
        debits = [e for e in self._entries if e.amount.is_negative()]
        return sum(1 for e in debits if e.on.year == year and e.on.month == month)

    def withdraw(self, amount: Money, on: date, description: str = "withdrawal") -> Entry:
        if self.withdrawals_in(on.year, on.month) >= self.max_monthly_withdrawals:
            raise InsufficientFunds(f"{self.name}: monthly withdrawal limit reached")
        return super().withdraw(amount, on, description)

    def accrue_interest(self, on: date, days: int = 30) -> Entry | None:
        """Credit ``days`` of simple interest; returns None when there is nothing to add."""
        interest = (self._balance * (self.annual_rate * days / 365)).rounded()
        if interest.is_zero() or interest.is_negative():
            return None
        return self._post(on, "interest", interest)


class Ledger:
    """A set of uniquely named accounts plus transfers between them."""

    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}

    def __getitem__(self, name: str) -> Account:
        return self._accounts[name]

    def open(self, account: Account) -> Account:
        if account.name in self._accounts:
            raise ValueError(f"duplicate account name: {account.name}")
        self._accounts[account.name] = account
        return account

    def transfer(self, source: str, target: str, amount: Money, on: date) -> None:
        """Move ``amount``; nothing is posted when the withdrawal is refused."""
        if source == target:
            raise ValueError("cannot transfer to the same account")
        src, dst = self[source], self[target]
        src.withdraw(amount, on, f"transfer to {target}")
        dst.deposit(amount, on, f"transfer from {source}")

    def total(self, currency: str = "USD") -> Money:
        result = Money.zero(currency)
        for account in self._accounts.values():
            if account.currency == currency:
                result = result + account.balance
        return result
''')

# tests/test_accounts.py as of commit 2
TEST_ACCOUNTS_PY = T(r'''
import unittest
from datetime import date
from decimal import Decimal

from ledgerkit.accounts import (
    Account,
    CheckingAccount,
    Entry,
    InsufficientFunds,
    Ledger,
    SavingsAccount,
)
from ledgerkit.money import Money

MAR_1 = date(2024, 3, 1)


class AccountTests(unittest.TestCase):
    def setUp(self):
        self.account = Account("cash")

    def test_new_account(self):
        self.assertEqual(self.account.name, "cash")
        self.assertEqual(self.account.balance, Money("0.00"))
        self.assertEqual(self.account.entries, [])
        self.assertEqual(Account.kind, "account")
        self.assertEqual(Account("eu", "EUR").balance, Money.zero("EUR"))

    def test_blank_name_is_rejected(self):
        with self.assertRaisesRegex(ValueError, "must not be empty"):
            Account("   ")

    def test_deposit_records_running_balance(self):
        first = self.account.deposit(Money("10.00"), MAR_1, "salary")
        second = self.account.deposit(Money("2.50"), date(2024, 3, 2))
        self.assertEqual(first, Entry(MAR_1, "salary", Money("10.00"), Money("10.00")))
        self.assertEqual(second, Entry(date(2024, 3, 2), "deposit", Money("2.50"), Money("12.50")))
        self.assertEqual(self.account.balance, Money("12.50"))
        self.assertEqual(self.account.entries, [first, second])
        self.account.entries.append("junk")
        self.assertEqual(self.account.entries, [first, second])

    def test_amounts_must_be_positive(self):
        self.account.deposit(Money("50"), MAR_1)
        for bad in (Money("0"), Money("-1")):
            with self.assertRaisesRegex(ValueError, "deposit amount must be positive"):
                self.account.deposit(bad, MAR_1)
            with self.assertRaisesRegex(ValueError, "withdrawal amount must be positive"):
                self.account.withdraw(bad, MAR_1)
        self.assertEqual(len(self.account.entries), 1)

    def test_withdraw(self):
        self.account.deposit(Money("20.00"), MAR_1)
        entry = self.account.withdraw(Money("5.25"), MAR_1)
        self.assertEqual(entry, Entry(MAR_1, "withdrawal", Money("-5.25"), Money("14.75")))
        self.assertEqual(self.account.balance, Money("14.75"))
        self.assertEqual(self.account.available(), Money("14.75"))
        self.assertTrue(self.account.can_withdraw(Money("14.74")))
        self.assertFalse(self.account.can_withdraw(Money("14.76")))

    def test_overdrawing_raises_and_posts_nothing(self):
        self.account.deposit(Money("5.00"), MAR_1)
        with self.assertRaisesRegex(InsufficientFunds, r"^cash: cannot withdraw 5.01 USD$"):
            self.account.withdraw(Money("5.01"), MAR_1)
        self.assertEqual(self.account.balance, Money("5.00"))
        self.assertEqual(len(self.account.entries), 1)


class StatementTests(unittest.TestCase):
    def setUp(self):
        self.account = Account("cash")
        for day in range(1, 6):
            self.account.deposit(Money(day), date(2024, 1, day))

    def amounts(self, entries):
        return [int(e.amount.amount) for e in entries]

    def test_page_count(self):
        self.assertEqual(self.account.page_count(2), 3)
        self.assertEqual(self.account.page_count(5), 1)
        self.assertEqual(self.account.page_count(4), 2)
        self.assertEqual(self.account.page_count(), 1)
        self.assertEqual(Account("new").page_count(), 0)

    def test_pages(self):
        self.assertEqual(self.amounts(self.account.statement_page(1, 2)), [1, 2])
        self.assertEqual(self.amounts(self.account.statement_page(2, 2)), [3, 4])
        self.assertEqual(self.account.statement_page(4, 2), [])
        with self.assertRaisesRegex(ValueError, "numbered from 1"):
            self.account.statement_page(0)

    def test_page_size_defaults_to_class_attribute(self):
        self.assertEqual(Account.page_size, 10)
        self.account.page_size = 2
        self.assertEqual(self.amounts(self.account.statement_page(2)), [3, 4])
        self.assertEqual(self.account.page_count(), 3)


class CheckingAccountTests(unittest.TestCase):
    def setUp(self):
        self.account = CheckingAccount("current", overdraft=Money("100"))
        self.account.deposit(Money("50"), MAR_1)

    def test_defaults(self):
        plain = CheckingAccount("plain", currency="EUR")
        self.assertIsInstance(plain, Account)
        self.assertEqual(plain.kind, "checking")
        self.assertEqual(plain.overdraft, Money.zero("EUR"))
        self.assertFalse(plain.can_withdraw(Money("0.01", "EUR")))
        with self.assertRaisesRegex(ValueError, "overdraft must not be negative"):
            CheckingAccount("bad", overdraft=Money("-1"))

    def test_withdraw_into_overdraft(self):
        self.account.withdraw(Money("120"), MAR_1)
        self.assertEqual(self.account.balance, Money("-70"))
        self.assertEqual(self.account.available(), Money("30"))
        self.assertTrue(self.account.is_overdrawn)

    def test_not_overdrawn_at_zero_or_above(self):
        self.assertFalse(self.account.is_overdrawn)
        self.account.withdraw(Money("50"), MAR_1)
        self.assertFalse(self.account.is_overdrawn)
        self.assertEqual(self.account.available(), Money("100"))

    def test_withdraw_beyond_overdraft_raises(self):
        with self.assertRaises(InsufficientFunds):
            self.account.withdraw(Money("150.01"), MAR_1)
        self.assertEqual(self.account.balance, Money("50"))


class SavingsAccountTests(unittest.TestCase):
    def setUp(self):
        self.account = SavingsAccount("rainy day", Decimal("0.05"))
        self.account.deposit(Money("1000"), MAR_1)

    def test_class_attributes(self):
        self.assertEqual(SavingsAccount.kind, "savings")
        self.assertEqual(SavingsAccount.max_monthly_withdrawals, 3)
        self.assertEqual(self.account.annual_rate, Decimal("0.05"))
        self.assertEqual(SavingsAccount("free", Decimal("0")).annual_rate, Decimal("0"))
        with self.assertRaisesRegex(ValueError, "must not be negative"):
            SavingsAccount("bad", Decimal("-0.01"))

    def test_withdrawals_in_counts_debits_per_month(self):
        self.account.withdraw(Money("1"), date(2024, 3, 2))
        self.account.withdraw(Money("1"), date(2024, 3, 30))
        self.account.withdraw(Money("1"), date(2024, 4, 1))
        self.assertEqual(self.account.withdrawals_in(2024, 3), 2)
        self.assertEqual(self.account.withdrawals_in(2024, 4), 1)
        self.assertEqual(self.account.withdrawals_in(2023, 3), 0)

    def test_monthly_withdrawal_limit(self):
        for day in (2, 3, 4):
            self.account.withdraw(Money("10"), date(2024, 3, day))
        with self.assertRaisesRegex(InsufficientFunds, "monthly withdrawal limit reached"):
            self.account.withdraw(Money("10"), date(2024, 3, 5))
        self.account.withdraw(Money("10"), date(2024, 4, 1))
        self.assertEqual(self.account.balance, Money("960"))

    def test_balance_is_still_checked(self):
        with self.assertRaisesRegex(InsufficientFunds, "cannot withdraw"):
            self.account.withdraw(Money("1000.01"), date(2024, 3, 2))

    def test_accrue_interest(self):
        entry = self.account.accrue_interest(date(2024, 3, 31))
        self.assertEqual(entry, Entry(date(2024, 3, 31), "interest", Money("4.11"), Money("1004.11")))
        full_year = SavingsAccount("y", Decimal("0.05"))
        full_year.deposit(Money("200"), MAR_1)
        self.assertEqual(full_year.accrue_interest(MAR_1, days=365).amount, Money("10.00"))

    def test_no_interest_entry_when_nothing_accrues(self):
        self.assertIsNone(SavingsAccount("empty", Decimal("0.05")).accrue_interest(MAR_1))
        tiny = SavingsAccount("tiny", Decimal("0.01"))
        tiny.deposit(Money("0.10"), MAR_1)
        self.assertIsNone(tiny.accrue_interest(MAR_1))
        self.assertEqual(len(tiny.entries), 1)


class LedgerTests(unittest.TestCase):
    def setUp(self):
        self.ledger = Ledger()
        self.checking = self.ledger.open(CheckingAccount("checking"))
        self.savings = self.ledger.open(SavingsAccount("savings", Decimal("0.02")))
        self.checking.deposit(Money("100"), MAR_1)

    def test_open_and_lookup(self):
        self.assertIs(self.ledger["checking"], self.checking)
        with self.assertRaises(KeyError):
            self.ledger["missing"]
        with self.assertRaisesRegex(ValueError, "duplicate account name: savings"):
            self.ledger.open(Account("savings"))
        with self.assertRaisesRegex(ValueError, "same account"):
            self.ledger.transfer("checking", "checking", Money("1"), MAR_1)

    def test_transfer(self):
        self.ledger.transfer("checking", "savings", Money("40"), MAR_1)
        self.assertEqual(self.checking.balance, Money("60"))
        self.assertEqual(self.savings.balance, Money("40"))
        self.assertEqual(self.checking.entries[-1].description, "transfer to savings")
        self.assertEqual(self.savings.entries[-1].description, "transfer from checking")

    def test_refused_transfer_posts_nothing(self):
        with self.assertRaises(InsufficientFunds):
            self.ledger.transfer("savings", "checking", Money("1"), MAR_1)
        self.assertEqual(len(self.checking.entries), 1)
        self.assertEqual(self.savings.entries, [])

    def test_total_per_currency(self):
        self.savings.deposit(Money("5.50"), MAR_1)
        euro = self.ledger.open(Account("euro", "EUR"))
        euro.deposit(Money("7", "EUR"), MAR_1)
        self.assertEqual(self.ledger.total(), Money("105.50"))
        self.assertEqual(self.ledger.total("EUR"), Money("7", "EUR"))
        self.assertEqual(Ledger().total("GBP"), Money.zero("GBP"))
''')

# ledgerkit/parsing.py as of commit 4
PARSING_PY = T(r'''
"""Parse transactions out of the CSV-like exports banks hand out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from .money import Money

REQUIRED_COLUMNS = ("date", "description", "amount")


class ParseError(ValueError):
    """A row could not be parsed; ``line_no`` is 1-based."""

    def __init__(self, line_no: int, message: str) -> None:
        super().__init__(f"line {line_no}: {message}")
        self.line_no = line_no


@dataclass(frozen=True)
class Transaction:
    on: date
    description: str
    amount: Money
    category: str = "uncategorized"

    @property
    def is_debit(self) -> bool:
        return self.amount.is_negative()


def split_line(line: str, delimiter: str = ",") -> list[str]:
    """Split one line into stripped fields; quotes protect delimiters, "" is a quote."""
    fields: list[str] = []
    current: list[str] = []
    in_quotes = False
    i = 0
    while i < len(line):
        char = line[i]
        if in_quotes:
            if char == '"' and line[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            elif char == '"':
                in_quotes = False
            else:
                current.append(char)
        elif char == '"':
            in_quotes = True
        elif char == delimiter:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    if in_quotes:
        raise ValueError("unterminated quoted field")
    fields.append("".join(current).strip())
    return fields


def parse_amount(text: str, currency: str = "USD") -> Money:
    """Parse ``1,234.50``, ``-12.00`` or ``$3``."""
    cleaned = text.strip().replace(",", "").replace("$", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"bad amount: {text!r}") from None
    return Money(value, currency)


def parse_date(text: str) -> date:
    """Accept ISO ``2024-03-01`` or US-style ``03/01/2024`` (two-digit years are 20xx)."""
    text = text.strip()
    if "-" in text:
        return date.fromisoformat(text)
    parts = text.split("/")
    if len(parts) != 3:
        raise ValueError(f"bad date: {text!r}")
    month, day, year = (int(part) for part in parts)
    if year < 100:
        year += 2000
    return date(year, month, day)


def _to_transaction(header: list[str], fields: list[str], currency: str) -> Transaction:
    if len(fields) != len(header):
        raise ValueError(f"expected {len(header)} fields, got {len(fields)}")
    row = dict(zip(header, fields))
    category = row.get("category") or "uncategorized"
    return Transaction(
        on=parse_date(row["date"]),
        description=row["description"],
        amount=parse_amount(row["amount"], currency),
        category=category.lower(),
    )


def parse_transactions(text: str, currency: str = "USD", strict: bool = True) -> list[Transaction]:
    """Parse an export whose first non-comment line is a header row.

    Blank lines and ``#`` comments are ignored. Bad rows raise :class:`ParseError`, or are
    skipped when ``strict`` is false.
    """
    header: list[str] | None = None
    transactions: list[Transaction] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if header is None:
            header = [name.lower() for name in split_line(line)]
            missing = [name for name in REQUIRED_COLUMNS if name not in header]
            if missing:
                raise ParseError(line_no, "missing columns: " + ", ".join(missing))
            continue
        try:
            transactions.append(_to_transaction(header, split_line(line), currency))
        except ValueError as exc:
            if strict:
                raise ParseError(line_no, str(exc)) from exc
    return transactions
''')

# tests/test_parsing.py as of commit 4
TEST_PARSING_PY = T(r'''
from datetime import date
from decimal import Decimal

import pytest

from ledgerkit.money import Money
from ledgerkit.parsing import (
    ParseError,
    Transaction,
    parse_amount,
    parse_date,
    parse_transactions,
    split_line,
)

EXPORT = """\
# exported from First Bank, 2024-03-31
Date,Description,Amount,Category
2024-03-01,Salary,"2,500.00",Income

2024-03-02,"Coffee, large",-4.50,Food
03/05/2024,Rent,-1200,
"""


@pytest.mark.parametrize(
    "line, expected",
    [
        ("a,b,c", ["a", "b", "c"]),
        (" a ,, b ,", ["a", "", "b", ""]),
        ('"Smith, J",5', ["Smith, J", "5"]),
        ('"say ""hi"" twice",x', ['say "hi" twice', "x"]),
    ],
)
def test_split_line(line, expected):
    assert split_line(line) == expected


def test_split_line_custom_delimiter_and_unterminated_quote():
    assert split_line("a;b,c", delimiter=";") == ["a", "b,c"]
    assert split_line('x;"tail"', ";") == ["x", "tail"]
    with pytest.raises(ValueError, match="unterminated"):
        split_line('a,"b')


@pytest.mark.parametrize(
    "text, expected",
    [("1,234.56", "1234.56"), ("-3", "-3"), (" $4.10 ", "4.10")],
)
def test_parse_amount(text, expected):
    assert parse_amount(text) == Money(expected)


def test_parse_amount_errors_and_currency():
    assert parse_amount("5", "EUR") == Money("5", "EUR")
    for bad in ("abc", "", "(50"):
        with pytest.raises(ValueError, match="bad amount"):
            parse_amount(bad)


@pytest.mark.parametrize(
    "text, expected",
    [
        (" 2024-03-01 ", date(2024, 3, 1)),
        (" 03/01/2024 ", date(2024, 3, 1)),
        ("12/31/99", date(2099, 12, 31)),
        ("1/2/100", date(100, 1, 2)),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_parse_date_rejects_garbage():
    with pytest.raises(ValueError, match="bad date: '2024/03'"):
        parse_date("2024/03")
    for text in ("2024/03", "13/01/2024", "2024-02-30", "a/b/c"):
        with pytest.raises(ValueError):
            parse_date(text)


def test_parse_transactions():
    rows = parse_transactions(EXPORT)
    assert rows == [
        Transaction(date(2024, 3, 1), "Salary", Money("2500.00"), "income"),
        Transaction(date(2024, 3, 2), "Coffee, large", Money("-4.50"), "food"),
        Transaction(date(2024, 3, 5), "Rent", Money("-1200"), "uncategorized"),
    ]
    assert [row.is_debit for row in rows] == [False, True, True]


def test_category_column_is_optional_and_currency_applies():
    rows = parse_transactions("date,amount,description\n2024-01-01,3,Tea", currency="GBP")
    assert rows == [Transaction(date(2024, 1, 1), "Tea", Money("3", "GBP"))]
    assert rows[0].category == "uncategorized"
    assert parse_transactions("") == []
    assert parse_transactions("# only a comment\n\n") == []


def test_missing_columns_are_reported_with_line_number():
    with pytest.raises(ParseError, match=r"^line 3: missing columns: date, amount$") as info:
        parse_transactions("# header follows\n\nDescription,Note\n")
    assert info.value.line_no == 3


def test_bad_row_raises_parse_error_in_strict_mode():
    text = "date,description,amount\n2024-01-01,ok,1\n2024-01-02,short\n"
    with pytest.raises(ParseError, match=r"^line 3: expected 3 fields, got 2$") as info:
        parse_transactions(text)
    assert info.value.line_no == 3
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(ParseError, match=r"^line 2: bad amount: 'x'$"):
        parse_transactions("date,description,amount\n2024-01-01,bad,x\n")


def test_bad_rows_are_skipped_when_not_strict():
    text = 'date,description,amount\n2024-01-01,a,1\n2024-01-02,b\n2024-01-03,"c,2\n2024-01-04,d,4\n'
    rows = parse_transactions(text, strict=False)
    assert [(row.description, row.amount) for row in rows] == [("a", Money("1")), ("d", Money("4"))]
''')

# ledgerkit/interest.py as of commit 6
INTEREST_PY = T(r'''
"""Interest and loan amortization helpers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .money import Money

DAYS_IN_YEAR = 365
MONTHS_IN_YEAR = 12


@dataclass(frozen=True)
class Installment:
    number: int
    payment: Money
    interest: Money
    principal: Money
    balance: Money


def simple_interest(principal: Money, annual_rate: Decimal, days: int) -> Money:
    """Interest over ``days`` without compounding, on an actual/365 basis."""
    if days < 0:
        raise ValueError("days must not be negative")
    amount = principal.amount * annual_rate * days / DAYS_IN_YEAR
    return Money(amount, principal.currency).rounded()


def compound_amount(
    principal: Money, annual_rate: Decimal, years: int, periods_per_year: int = MONTHS_IN_YEAR
) -> Money:
    """Future value of ``principal`` after ``years`` of periodic compounding."""
    if periods_per_year <= 0:
        raise ValueError("periods_per_year must be positive")
    growth = (1 + annual_rate / periods_per_year) ** periods_per_year * years
    return Money(principal.amount * growth, principal.currency).rounded()


def monthly_payment(principal: Money, annual_rate: Decimal, months: int) -> Money:
    """Level monthly payment that repays ``principal`` over ``months`` (annuity formula)."""
    if months <= 0:
        raise ValueError("months must be positive")
    if annual_rate == 0:
        return Money(principal.amount / months, principal.currency).rounded()
    rate = annual_rate / MONTHS_IN_YEAR
    payment = principal.amount * rate / (1 - (1 + rate) ** -months)
    return Money(payment, principal.currency).rounded()


def amortization_schedule(principal: Money, annual_rate: Decimal, months: int) -> list[Installment]:
    """Month-by-month split of each payment into interest and principal."""
    payment = monthly_payment(principal, annual_rate, months)
    rate = annual_rate / MONTHS_IN_YEAR
    balance = principal
    schedule: list[Installment] = []
    for number in range(1, months + 1):
        interest = Money(balance.amount * rate, balance.currency).rounded()
        if number == months:
            repaid = balance  # the last payment absorbs accumulated rounding
        else:
            repaid = payment - interest
        balance = balance - repaid
        schedule.append(Installment(number, interest + repaid, interest, repaid, balance))
    return schedule


def describe_term(months: int) -> str:
    """Human-readable loan term, e.g. ``describe_term(27) == "2 years 3 months"``."""
    if months < 0:
        raise ValueError("months must not be negative")
    years = months // MONTHS_IN_YEAR
    rest = months % MONTHS_IN_YEAR
    parts = []
    if years:
        parts.append(f"{years} year" + ("s" if years != 1 else ""))
    if rest or not years:
        parts.append(f"{rest} month" + ("s" if rest != 1 else ""))
    return " ".join(parts)
''')

# tests/test_interest.py as of commit 6
TEST_INTEREST_PY = T(r'''
import unittest
from decimal import Decimal

import pytest

from ledgerkit.interest import (
    Installment,
    amortization_schedule,
    compound_amount,
    describe_term,
    monthly_payment,
    simple_interest,
)
from ledgerkit.money import Money


class SimpleInterestTests(unittest.TestCase):
    def test_actual_365(self):
        self.assertEqual(simple_interest(Money("1000"), Decimal("0.05"), 365), Money("50.00"))
        self.assertEqual(simple_interest(Money("1000"), Decimal("0.05"), 30), Money("4.11"))
        self.assertEqual(simple_interest(Money("1000"), Decimal("0.05"), 0), Money("0.00"))
        result = simple_interest(Money("730", "EUR"), Decimal("0.10"), 10)
        self.assertEqual(result, Money("2.00", "EUR"))

    def test_negative_days_are_rejected(self):
        with self.assertRaisesRegex(ValueError, "days must not be negative"):
            simple_interest(Money("1"), Decimal("0.05"), -1)


class CompoundAmountTests(unittest.TestCase):
    def test_monthly_compounding_for_one_year(self):
        self.assertEqual(compound_amount(Money("1000"), Decimal("0.12"), 1), Money("1126.83"))
        self.assertEqual(compound_amount(Money("1000"), Decimal("0.12"), 1, 1), Money("1120.00"))

    def test_periods_must_be_positive(self):
        with self.assertRaisesRegex(ValueError, "periods_per_year must be positive"):
            compound_amount(Money("1000"), Decimal("0.12"), 1, 0)


class PaymentTests(unittest.TestCase):
    def test_monthly_payment(self):
        self.assertEqual(monthly_payment(Money("10000"), Decimal("0.06"), 12), Money("860.66"))
        self.assertEqual(monthly_payment(Money("200000"), Decimal("0.045"), 360), Money("1013.37"))
        self.assertEqual(monthly_payment(Money("100"), Decimal("0.12"), 1), Money("101.00"))
        self.assertEqual(monthly_payment(Money("1200"), Decimal("0"), 12), Money("100.00"))
        self.assertEqual(monthly_payment(Money("1000"), Decimal("0"), 3), Money("333.33"))

    def test_months_must_be_positive(self):
        with self.assertRaisesRegex(ValueError, "months must be positive"):
            monthly_payment(Money("1000"), Decimal("0.05"), 0)

    def test_amortization_schedule(self):
        rows = amortization_schedule(Money("1000"), Decimal("0.12"), 3)
        usd = Money
        self.assertEqual(
            rows,
            [
                Installment(1, usd("340.02"), usd("10.00"), usd("330.02"), usd("669.98")),
                Installment(2, usd("340.02"), usd("6.70"), usd("333.32"), usd("336.66")),
                Installment(3, usd("340.03"), usd("3.37"), usd("336.66"), usd("0.00")),
            ],
        )

    def test_long_schedule_pays_off_exactly(self):
        rows = amortization_schedule(Money("200000"), Decimal("0.045"), 360)
        self.assertEqual(len(rows), 360)
        self.assertEqual(rows[0].interest, Money("750.00"))
        self.assertEqual(rows[-1].payment, Money("1014.00"))
        self.assertEqual(rows[-1].balance, Money("0"))
        self.assertEqual(sum(row.principal.amount for row in rows), Decimal("200000"))


@pytest.mark.parametrize(
    "months, text",
    [
        (0, "0 months"),
        (12, "1 year"),
        (13, "1 year 1 month"),
        (27, "2 years 3 months"),
    ],
)
def test_describe_term(months, text):
    assert describe_term(months) == text


def test_describe_term_rejects_negative():
    with pytest.raises(ValueError):
        describe_term(-1)
''')

# ledgerkit/report.py as of commit 8
REPORT_PY = T(r'''
"""Plain-text and CSV reports over parsed transactions."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from .money import Money, sum_money
from .parsing import Transaction


def summarize_by_category(transactions: Iterable[Transaction]) -> dict[str, Money]:
    """Total per category, with categories in alphabetical order."""
    totals: dict[str, Money] = {}
    for tx in transactions:
        if tx.category in totals:
            totals[tx.category] = totals[tx.category] + tx.amount
        else:
            totals[tx.category] = tx.amount
    return dict(sorted(totals.items()))


def income_and_spending(
    transactions: Sequence[Transaction], currency: str = "USD"
) -> tuple[Money, Money]:
    """``(income, spending)``; spending is reported as a negative amount."""
    income = sum_money((tx.amount for tx in transactions if not tx.is_debit), currency)
    spending = sum_money((tx.amount for tx in transactions if tx.is_debit), currency)
    return income, spending


class ReportWriter:
    """Accumulates report text; :meth:`section` indents everything written inside it."""

    def __init__(self, indent: str = "  ") -> None:
        self.indent = indent
        self._depth = 0
        self._out = io.StringIO()

    def line(self, text: str = "") -> None:
        if text:
            self._out.write(self.indent * self._depth + text)
        self._out.write("\n")

    @contextmanager
    def section(self, title: str) -> Iterator[ReportWriter]:
        self.line(title)
        self.line("=" * len(title))
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1

    def getvalue(self) -> str:
        return self._out.getvalue()


def monthly_report(transactions: Sequence[Transaction], title: str = "Monthly report") -> str:
    writer = ReportWriter()
    income, spending = income_and_spending(transactions)
    with writer.section(title):
        writer.line(f"Income:   {income.format()}")
        writer.line(f"Spending: {spending.format()}")
        writer.line(f"Net:      {(income + spending).format()}")
    writer.line()
    with writer.section("By category"):
        for category, amount in summarize_by_category(transactions).items():
            writer.line(f"{category:<14}{amount.format():>12}")
    return writer.getvalue()


def to_csv(transactions: Iterable[Transaction]) -> str:
    """Serialise back to the format :func:`ledgerkit.parsing.parse_transactions` reads."""
    with io.StringIO() as out:
        out.write("date,description,amount,category\n")
        for tx in transactions:
            description = tx.description
            if "," in description or '"' in description:
                description = '"' + description.replace('"', '""') + '"'
            amount = tx.amount.rounded().amount
            out.write(f"{tx.on.isoformat()},{description},{amount},{tx.category}\n")
        return out.getvalue()
''')

# tests/test_report.py as of commit 8
TEST_REPORT_PY = T(r'''
from datetime import date

import pytest

from ledgerkit.money import Money
from ledgerkit.parsing import Transaction, parse_transactions
from ledgerkit.report import (
    ReportWriter,
    income_and_spending,
    monthly_report,
    summarize_by_category,
    to_csv,
)


@pytest.fixture
def transactions():
    return [
        Transaction(date(2024, 3, 1), "Salary", Money("2500.00"), "income"),
        Transaction(date(2024, 3, 2), 'Coffee, "large"', Money("-4.50"), "food"),
        Transaction(date(2024, 3, 3), "Groceries, weekly", Money("-95.25"), "food"),
        Transaction(date(2024, 3, 5), "Rent", Money("-1200.00"), "rent"),
        Transaction(date(2024, 3, 9), "Refund", Money("20.00"), "food"),
    ]


def test_summarize_by_category(transactions):
    summary = summarize_by_category(transactions)
    assert list(summary) == ["food", "income", "rent"]
    assert summary == {
        "food": Money("-79.75"),
        "income": Money("2500.00"),
        "rent": Money("-1200.00"),
    }
    assert summarize_by_category([]) == {}


def test_income_and_spending(transactions):
    assert income_and_spending(transactions) == (Money("2520.00"), Money("-1299.75"))
    assert income_and_spending([], "EUR") == (Money.zero("EUR"), Money.zero("EUR"))


def test_report_writer_sections_indent_and_restore():
    writer = ReportWriter(indent="--")
    writer.line("top")
    with writer.section("Outer") as same:
        assert same is writer
        writer.line("a")
        with writer.section("In"):
            writer.line("b")
        writer.line()
        writer.line("c")
    writer.line("end")
    assert writer.getvalue() == "top\nOuter\n=====\n--a\n--In\n--==\n----b\n\n--c\nend\n"


def test_section_restores_depth_after_error():
    writer = ReportWriter()
    with pytest.raises(RuntimeError):
        with writer.section("Broken"):
            raise RuntimeError("boom")
    writer.line("after")
    assert writer.getvalue().splitlines()[-1] == "after"


def test_monthly_report(transactions):
    expected = (
        "March\n"
        "=====\n"
        "  Income:   $2,520.00\n"
        "  Spending: -$1,299.75\n"
        "  Net:      $1,220.25\n"
        "\n"
        "By category\n"
        "===========\n"
        "  food               -$79.75\n"
        "  income           $2,500.00\n"
        "  rent            -$1,200.00\n"
    )
    assert monthly_report(transactions, title="March") == expected
    assert monthly_report([]).startswith("Monthly report\n==============\n  Income:   $0.00\n")


def test_to_csv_quotes_and_round_trips(transactions):
    text = to_csv(transactions[:2] + [Transaction(date(2024, 3, 4), "Bus", Money("-2.345"))])
    assert text == (
        "date,description,amount,category\n"
        "2024-03-01,Salary,2500.00,income\n"
        '2024-03-02,"Coffee, ""large""",-4.50,food\n'
        "2024-03-04,Bus,-2.35,uncategorized\n"
    )
    assert parse_transactions(to_csv(transactions)) == transactions
''')

# ledgerkit/ratelimit.py as of commit 11
RATELIMIT_PY = T(r'''
"""Token-bucket rate limiting and a retry helper with exponential backoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
Clock = Callable[[], float]


class RateLimitExceeded(RuntimeError):
    """Raised by :meth:`TokenBucket.acquire` when not enough tokens are available."""


class TokenBucket:
    """Holds up to ``capacity`` tokens, refilled continuously at ``rate`` tokens per second.

    ``clock`` returns seconds as a float; inject a fake one in tests.
    """

    def __init__(self, capacity: int, rate: float, clock: Clock = time.monotonic) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError("capacity and rate must be positive")
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._tokens = float(capacity)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(float(self.capacity), self._tokens + elapsed * self.rate)
            self._updated = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def try_acquire(self, cost: int = 1) -> bool:
        if cost > self.capacity:
            raise ValueError("cost exceeds bucket capacity")
        self._refill()
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    def acquire(self, cost: int = 1) -> None:
        if not self.try_acquire(cost):
            raise RateLimitExceeded(f"need {cost} tokens, have {self._tokens:.2f}")

    def wait_time(self, cost: int = 1) -> float:
        """Seconds until ``cost`` tokens will be available."""
        missing = cost - self.tokens
        if missing <= 0:
            return 0.0
        else:
            return missing / self.rate


def retry(
    func: Callable[[], T],
    *,
    attempts: int = 3,
    retry_on: tuple[type[Exception], ...] = (Exception,),
    delay: float = 0.1,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``func`` until it succeeds, sleeping ``delay * backoff**n`` between attempts.

    Exceptions not listed in ``retry_on`` propagate at once.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    wait = delay
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except retry_on:
            if attempt < attempts:
                sleep(wait)
                wait = wait * backoff
''')

# tests/test_ratelimit.py as of commit 11
TEST_RATELIMIT_PY = T(r'''
import unittest

import pytest

from ledgerkit.ratelimit import RateLimitExceeded, TokenBucket, retry


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class TokenBucketTests(unittest.TestCase):
    def setUp(self):
        self.clock = FakeClock()
        self.bucket = TokenBucket(capacity=4, rate=2.0, clock=self.clock)

    def test_invalid_configuration(self):
        for capacity, rate in ((0, 1.0), (1, 0.0), (-1, 1.0)):
            with self.assertRaisesRegex(ValueError, "must be positive"):
                TokenBucket(capacity, rate, clock=self.clock)
        self.assertEqual(TokenBucket(1, 0.5, clock=self.clock).tokens, 1.0)
        self.assertEqual(self.bucket.tokens, 4.0)
        self.assertEqual(self.bucket.capacity, 4)
        self.assertEqual(self.bucket.rate, 2.0)

    def test_try_acquire_consumes_tokens(self):
        self.assertTrue(self.bucket.try_acquire(3))
        self.assertEqual(self.bucket.tokens, 1.0)
        self.assertTrue(self.bucket.try_acquire())
        self.assertFalse(self.bucket.try_acquire())
        self.assertEqual(self.bucket.tokens, 0.0)

    def test_cost_above_capacity_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "exceeds bucket capacity"):
            self.bucket.try_acquire(5)

    def test_refills_over_time_up_to_capacity(self):
        self.bucket.try_acquire(4)
        self.clock.advance(0.75)
        self.assertEqual(self.bucket.tokens, 1.5)
        self.assertEqual(self.bucket.tokens, 1.5)
        self.clock.advance(60)
        self.assertEqual(self.bucket.tokens, 4.0)

    def test_clock_going_backwards_adds_nothing(self):
        self.bucket.try_acquire(4)
        self.clock.advance(-5)
        self.assertEqual(self.bucket.tokens, 0.0)
        self.clock.advance(5.5)
        self.assertEqual(self.bucket.tokens, 1.0)

    def test_acquire_raises_when_empty(self):
        self.bucket.acquire(2)
        self.bucket.acquire(2)
        with self.assertRaisesRegex(RateLimitExceeded, r"^need 1 tokens, have 0.00$"):
            self.bucket.acquire()

    def test_wait_time(self):
        self.assertEqual(self.bucket.wait_time(4), 0.0)
        self.bucket.try_acquire(4)
        self.assertEqual(self.bucket.wait_time(), 0.5)
        self.assertEqual(self.bucket.wait_time(3), 1.5)
        self.clock.advance(0.25)
        self.assertEqual(self.bucket.wait_time(), 0.25)


class Flaky:
    """Fails ``failures`` times with ConnectionError, then returns ``"ok"``."""

    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"boom {self.calls}")
        return "ok"


def test_retry_returns_first_success_without_sleeping():
    sleeps = []
    func = Flaky(0)
    assert retry(func, sleep=sleeps.append) == "ok"
    assert func.calls == 1
    assert sleeps == []


def test_retry_backs_off_between_attempts():
    sleeps = []
    func = Flaky(2)
    assert retry(func, sleep=sleeps.append) == "ok"
    assert func.calls == 3
    assert sleeps == [0.1, 0.2]


def test_retry_custom_delay_and_backoff():
    sleeps = []
    assert retry(Flaky(3), attempts=4, delay=1.0, backoff=3.0, sleep=sleeps.append) == "ok"
    assert sleeps == [1.0, 3.0, 9.0]


def test_retry_does_not_retry_other_errors():
    sleeps = []
    func = Flaky(1, error=KeyError)
    with pytest.raises(KeyError):
        retry(func, retry_on=(ConnectionError,), sleep=sleeps.append)
    assert func.calls == 1
    assert sleeps == []


def test_retry_needs_at_least_one_attempt():
    with pytest.raises(ValueError, match="at least 1"):
        retry(Flaky(0), attempts=0)
''')

# ledgerkit/batch.py as of commit 12
BATCH_PY = T(r'''
"""Process items concurrently in fixed-size batches with asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


async def batched(items: Iterable[Any], size: int) -> AsyncIterator[list[Any]]:
    """Yield lists of up to ``size`` items, giving the event loop a turn between batches."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
            await asyncio.sleep(0)
    if batch:
        yield batch


@dataclass
class BatchResult:
    """Per-item outcomes in input order: ``results[i]`` is None when item ``i`` failed."""

    results: list[Any] = field(default_factory=list)
    errors: dict[int, Exception] = field(default_factory=dict)
    batches: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


class BatchProcessor:
    """Runs an async ``worker`` over items, at most ``concurrency`` at a time."""

    def __init__(
        self,
        worker: Callable[[Any], Awaitable[Any]],
        *,
        batch_size: int = 10,
        concurrency: int = 4,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.worker = worker
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.active = 0
        self.peak = 0

    async def _run_one(self, limit: asyncio.Semaphore, item: Any) -> tuple[Any, Exception | None]:
        async with limit:
            self.active += 1
            self.peak = max(self.peak, self.active)
            try:
                return await self.worker(item), None
            except Exception as exc:
                return None, exc
            finally:
                self.active -= 1

    async def run(self, items: Iterable[Any]) -> BatchResult:
        semaphore = asyncio.Semaphore(self.concurrency)
        result = BatchResult()
        async for batch in batched(items, self.batch_size):
            outcomes = await asyncio.gather(*(self._run_one(semaphore, item) for item in batch))
            for value, error in outcomes:
                if error is not None:
                    result.errors[len(result.results)] = error
                result.results.append(value)
            result.batches += 1
        return result
''')

# tests/test_batch.py as of commit 12
TEST_BATCH_PY = T(r'''
import asyncio

import pytest

from ledgerkit.batch import BatchProcessor, BatchResult, batched


async def collect(aiterable):
    return [item async for item in aiterable]


async def double(x):
    await asyncio.sleep(0)
    return x * 2


def test_batched():
    assert asyncio.run(collect(batched(range(5), 2))) == [[0, 1], [2, 3], [4]]
    assert asyncio.run(collect(batched(range(4), 2))) == [[0, 1], [2, 3]]
    assert asyncio.run(collect(batched([], 3))) == []
    assert asyncio.run(collect(batched("ab", 1))) == [["a"], ["b"]]
    with pytest.raises(ValueError, match="at least 1"):
        asyncio.run(collect(batched([1], 0)))


def test_batch_result_defaults():
    result = BatchResult()
    assert result.results == []
    assert result.errors == {}
    assert result.batches == 0
    assert result.ok


def test_processor_runs_every_item_in_order():
    processor = BatchProcessor(double, batch_size=3)
    result = asyncio.run(processor.run(range(7)))
    assert result.results == [0, 2, 4, 6, 8, 10, 12]
    assert result.batches == 3
    assert result.ok
    assert processor.active == 0


def test_processor_collects_errors_by_index():
    async def picky(x):
        if x % 2:
            raise ValueError(f"odd: {x}")
        return x

    result = asyncio.run(BatchProcessor(picky, batch_size=2).run(range(5)))
    assert result.results == [0, None, 2, None, 4]
    assert sorted(result.errors) == [1, 3]
    assert str(result.errors[3]) == "odd: 3"
    assert not result.ok


def test_concurrency_is_limited():
    processor = BatchProcessor(double, batch_size=5, concurrency=2)
    asyncio.run(processor.run(range(10)))
    assert processor.peak == 2
    wide = BatchProcessor(double, batch_size=4, concurrency=10)
    asyncio.run(wide.run(range(10)))
    assert wide.peak == 4


def test_results_keep_input_order_when_workers_finish_out_of_order():
    async def slow_for_small(x):
        for _ in range(5 - x):
            await asyncio.sleep(0)
        return x

    result = asyncio.run(BatchProcessor(slow_for_small, batch_size=5).run(range(5)))
    assert result.results == [0, 1, 2, 3, 4]


def test_concurrency_must_be_positive():
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        BatchProcessor(double, concurrency=0)
    serial = BatchProcessor(double, concurrency=1)
    assert (serial.active, serial.peak) == (0, 0)
    assert asyncio.run(serial.run([1, 2, 3])).results == [2, 4, 6]
    assert serial.peak == 1
''')

# ledgerkit/validation.py as of commit 14
VALIDATION_PY = T(r'''
"""Declarative validation rules for imported transactions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from .money import Money
from .parsing import Transaction


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    index: int | None = None


class Rule:
    """Base class for rules: subclasses implement :meth:`check`."""

    name = "rule"

    def check(self, tx: Transaction) -> str | None:
        """Return a message describing the problem, or None when ``tx`` is fine."""
        raise NotImplementedError

    def __call__(self, tx: Transaction, index: int | None = None) -> Violation | None:
        message = self.check(tx)
        if message is None:
            return None
        return Violation(self.name, message, index)


class AmountRange(Rule):
    """The absolute amount must lie within ``[minimum, maximum]``; either bound is optional."""

    name = "amount-range"

    def __init__(self, minimum: Money | None = None, maximum: Money | None = None) -> None:
        if minimum is not None and maximum is not None and maximum < minimum:
            raise ValueError("maximum must not be below minimum")
        self.minimum = minimum
        self.maximum = maximum

    def check(self, tx: Transaction) -> str | None:
        amount = abs(tx.amount)
        if self.minimum is not None and amount < self.minimum:
            return f"{amount} is below the minimum {self.minimum}"
        if self.maximum is not None and not amount <= self.maximum:
            return f"{amount} is above the maximum {self.maximum}"
        return None


class DateWindow(Rule):
    """The transaction date must fall within ``start`` and ``end``, inclusive."""

    name = "date-window"

    def __init__(self, start: date, end: date) -> None:
        if end < start:
            raise ValueError("window ends before it starts")
        self.start = start
        self.end = end

    def check(self, tx: Transaction) -> str | None:
        if self.start <= tx.on <= self.end:
            return None
        else:
            return f"{tx.on} is outside {self.start}..{self.end}"


class AllowedCategories(Rule):
    name = "category"

    def __init__(self, categories: Iterable[str], allow_uncategorized: bool = False) -> None:
        self.categories = frozenset(c.lower() for c in categories)
        self.allow_uncategorized = allow_uncategorized

    def check(self, tx: Transaction) -> str | None:
        if tx.category in self.categories:
            return None
        if self.allow_uncategorized and tx.category == "uncategorized":
            return None
        return f"unknown category {tx.category!r}"


def validate(transactions: Iterable[Transaction], rules: Sequence[Rule]) -> list[Violation]:
    """Every violation of every rule, in transaction order then rule order."""
    violations: list[Violation] = []
    for index, tx in enumerate(transactions):
        for rule in rules:
            violation = rule(tx, index)
            if violation is not None:
                violations.append(violation)
    return violations
''')

# tests/test_validation.py as of commit 14
TEST_VALIDATION_PY = T(r'''
import unittest
from datetime import date

import pytest

from ledgerkit.money import Money
from ledgerkit.parsing import Transaction
from ledgerkit.validation import (
    AllowedCategories,
    AmountRange,
    DateWindow,
    Rule,
    Violation,
    validate,
)


def tx(amount="10.00", on=date(2024, 3, 15), category="food", description="Lunch"):
    return Transaction(on, description, Money(amount), category)


class RuleBaseTests(unittest.TestCase):
    def test_check_is_abstract(self):
        with self.assertRaises(NotImplementedError):
            Rule()(tx())

    def test_call_wraps_message_in_violation(self):
        class AlwaysFails(Rule):
            name = "always"

            def check(self, tx):
                return "nope"

        self.assertEqual(AlwaysFails()(tx()), Violation("always", "nope", None))
        self.assertEqual(AlwaysFails()(tx(), 4), Violation("always", "nope", 4))


class AmountRangeTests(unittest.TestCase):
    def test_bounds_must_be_ordered(self):
        with self.assertRaisesRegex(ValueError, "maximum must not be below minimum"):
            AmountRange(Money("10"), Money("5"))
        AmountRange(Money("5"), Money("5"))

    def test_bounds_are_inclusive(self):
        rule = AmountRange(Money("5"), Money("50"))
        self.assertIsNone(rule(tx("5")))
        self.assertIsNone(rule(tx("50")))
        self.assertIsNone(rule(tx("-50")))

    def test_outside_bounds(self):
        violation = AmountRange(minimum=Money("10"))(tx("-9.99"))
        self.assertEqual(violation, Violation("amount-range", "9.99 USD is below the minimum 10.00 USD"))
        rule = AmountRange(maximum=Money("40"))
        self.assertEqual(rule.check(tx("-40.01")), "40.01 USD is above the maximum 40.00 USD")
        self.assertIsNone(rule.check(tx("0.01")))

    def test_no_bounds_accepts_anything(self):
        self.assertIsNone(AmountRange()(tx("1000000")))


class DateWindowTests(unittest.TestCase):
    def setUp(self):
        self.rule = DateWindow(date(2024, 3, 1), date(2024, 3, 31))

    def test_inclusive_window(self):
        for day in (1, 15, 31):
            self.assertIsNone(self.rule(tx(on=date(2024, 3, day))))
        self.assertEqual(
            self.rule.check(tx(on=date(2024, 4, 1))), "2024-04-01 is outside 2024-03-01..2024-03-31"
        )
        self.assertIsNotNone(self.rule.check(tx(on=date(2024, 2, 29))))

    def test_window_must_not_be_reversed(self):
        with self.assertRaisesRegex(ValueError, "ends before it starts"):
            DateWindow(date(2024, 3, 2), date(2024, 3, 1))
        DateWindow(date(2024, 3, 1), date(2024, 3, 1))


@pytest.mark.parametrize(
    "category, allow_uncategorized, ok",
    [
        ("food", False, True),
        ("rent", False, False),
        ("uncategorized", False, False),
        ("uncategorized", True, True),
    ],
)
def test_allowed_categories(category, allow_uncategorized, ok):
    rule = AllowedCategories(["Food", "travel"], allow_uncategorized=allow_uncategorized)
    message = rule.check(tx(category=category))
    assert (message is None) is ok
    if not ok:
        assert message == f"unknown category {category!r}"


def test_validate_reports_every_violation_in_order():
    rules = [AmountRange(maximum=Money("100")), AllowedCategories(["food"])]
    transactions = [tx("5"), tx("500", category="rent"), tx("50", category="toys")]
    assert validate(transactions, rules) == [
        Violation("amount-range", "500.00 USD is above the maximum 100.00 USD", 1),
        Violation("category", "unknown category 'rent'", 1),
        Violation("category", "unknown category 'toys'", 2),
    ]
    assert validate(transactions, []) == []
    assert validate([], rules) == []
''')

# README.md as of commit 16
README_MD_V16 = T(r'''
# ledgerkit

Small, exact bookkeeping helpers for Python: decimal money with currency-aware
rounding, accounts and a ledger, CSV import, interest and amortization, reports,
validation rules, and a few asyncio utilities for importers. No dependencies.

```python
from datetime import date
from decimal import Decimal

from ledgerkit import CheckingAccount, Ledger, Money, SavingsAccount

ledger = Ledger()
checking = ledger.open(CheckingAccount("checking", overdraft=Money("200")))
ledger.open(SavingsAccount("savings", annual_rate=Decimal("0.035")))
checking.deposit(Money("1500.00"), date(2024, 3, 1), "salary")
ledger.transfer("checking", "savings", Money("250.00"), date(2024, 3, 2))
print(ledger.total().format())  # $1,500.00
```

## Modules

| module                 | what it does                                                      |
|------------------------|-------------------------------------------------------------------|
| `ledgerkit.money`      | `Money`: exact amounts, rounding (half-up by default), allocation |
| `ledgerkit.accounts`   | `Account`, `CheckingAccount`, `SavingsAccount`, `Ledger`           |
| `ledgerkit.parsing`    | `parse_transactions()` for CSV-like bank exports                  |
| `ledgerkit.interest`   | simple/compound interest, loan payments, amortization schedules   |
| `ledgerkit.report`     | category summaries, plain-text monthly report, CSV export         |
| `ledgerkit.validation` | declarative rules (`AmountRange`, `DateWindow`, ...)              |
| `ledgerkit.ratelimit`  | `TokenBucket` rate limiter and `retry()` with backoff             |
| `ledgerkit.batch`      | `BatchProcessor`: bounded-concurrency asyncio batch processing    |

Amounts are always `Decimal`; passing a `float` raises `TypeError`.

## Development

```
python -m venv .venv && . .venv/bin/activate
pip install -e '.[test]'
pytest
```
''')


COMMITS: list[Commit] = [
    Commit(  # 1
        date="2024-03-04T09:12:41+01:00",
        author="dana",
        message="""\
Add Money value type

Decimal-backed amounts with currency-aware rounding, allocation and
formatting. Also sets up packaging and the test suite.
""",
        changes=[
            Write(".gitignore", GITIGNORE),
            Write("pyproject.toml", PYPROJECT_TOML),
            Write("README.md", README_MD),
            Write("ledgerkit/__init__.py", INIT_PY),
            Write("ledgerkit/money.py", MONEY_PY),
            Write("tests/test_money.py", TEST_MONEY_PY),
        ],
    ),
    Commit(  # 2
        date="2024-03-06T17:40:05+01:00",
        author="dana",
        message="""\
Add account hierarchy and ledger

Account keeps a running balance and a paginated statement; CheckingAccount
adds an overdraft, SavingsAccount a monthly withdrawal limit and interest.
Ledger transfers between named accounts.
""",
        changes=[
            Edit(
                "ledgerkit/__init__.py",
                "from .money import CurrencyMismatchError, Money, sum_money\n",
                T(r'''
from .accounts import Account, CheckingAccount, InsufficientFunds, Ledger, SavingsAccount
from .money import CurrencyMismatchError, Money, sum_money
'''),
            ),
            Write("ledgerkit/accounts.py", ACCOUNTS_PY),
            Write("tests/test_accounts.py", TEST_ACCOUNTS_PY),
        ],
    ),
    Commit(  # 3  FIX
        date="2024-03-11T10:03:17+01:00",
        author="sam",
        message="""\
Round half-cent amounts up instead of to even (closes #3)

Money.rounded() used ROUND_HALF_EVEN, so 2.345 became 2.34 while bank
statements and invoices show 2.35. Round halves away from zero instead,
which is what people expect for currency amounts.
""",
        regression=["tests/test_money.py::test_rounds_half_cents_away_from_zero"],
        reverts_cleanly_at_head=False,
        changes=[
            Edit(
                "ledgerkit/money.py",
                "from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation\n",
                "from decimal import ROUND_HALF_UP, Decimal, InvalidOperation\n",
            ),
            Edit(
                "ledgerkit/money.py",
                T(r'''
    def rounded(self) -> Money:
        """Round to the currency's minor unit."""
        quantum = Decimal(1).scaleb(-self.exponent)
        return Money(self.amount.quantize(quantum, rounding=ROUND_HALF_EVEN), self.currency)
'''),
                T(r'''
    def rounded(self) -> Money:
        """Round to the currency's minor unit; halves go away from zero."""
        quantum = Decimal(1).scaleb(-self.exponent)
        return Money(self.amount.quantize(quantum, rounding=ROUND_HALF_UP), self.currency)
'''),
            ),
            Append(
                "tests/test_money.py",
                T(r'''


def test_rounds_half_cents_away_from_zero():
    assert Money("2.345").rounded() == Money("2.35")
    assert Money("-2.345").rounded() == Money("-2.35")
    assert Money("0.125").minor_units == 13
    assert Money("1234.5", "JPY").rounded().amount == Decimal("1235")
'''),
            ),
        ],
    ),
    Commit(  # 4
        date="2024-03-14T21:26:52+01:00",
        author="dana",
        message="""\
Add CSV transaction import

parse_transactions() reads the CSV-like exports most banks offer: header
row, quoted fields, comments, ISO or US dates, optional category column.
Bad rows raise ParseError with the line number, or are skipped with
strict=False.
""",
        changes=[
            Edit(
                "ledgerkit/__init__.py",
                "from .money import CurrencyMismatchError, Money, sum_money\n",
                T(r'''
from .money import CurrencyMismatchError, Money, sum_money
from .parsing import ParseError, Transaction, parse_transactions
'''),
            ),
            Write("ledgerkit/parsing.py", PARSING_PY),
            Write("tests/test_parsing.py", TEST_PARSING_PY),
        ],
    ),
    Commit(  # 5  FIX
        date="2024-03-19T08:55:30+01:00",
        author="sam",
        message="""\
Fix off-by-one in statement pagination (closes #7)

statement_page() capped the slice end at len(entries) - 1, so the most
recent entry never showed up: the last page of a statement was one line
short, or empty when it should have held a single entry.
""",
        regression=["tests/test_accounts.py::StatementTests::test_last_page_includes_final_entry"],
        reverts_cleanly_at_head=True,
        changes=[
            Edit(
                "ledgerkit/accounts.py",
                T(r'''
        start = (page - 1) * size
        end = min(start + size, len(self._entries) - 1)
        return self._entries[start:end]
'''),
                T(r'''
        start = (page - 1) * size
        return self._entries[start : start + size]
'''),
            ),
            Edit(
                "tests/test_accounts.py",
                T(r'''
        self.assertEqual(self.account.page_count(), 3)


class CheckingAccountTests'''),
                T(r'''
        self.assertEqual(self.account.page_count(), 3)

    def test_last_page_includes_final_entry(self):
        self.assertEqual(self.amounts(self.account.statement_page(3, 2)), [5])
        self.assertEqual(self.amounts(self.account.statement_page(1)), [1, 2, 3, 4, 5])


class CheckingAccountTests'''),
            ),
        ],
    ),
    Commit(  # 6
        date="2024-03-25T14:17:08+01:00",
        author="dana",
        message="""\
Add interest and amortization helpers

simple_interest(), compound_amount(), monthly_payment() and
amortization_schedule(), plus describe_term() for display.
""",
        changes=[
            Write("ledgerkit/interest.py", INTEREST_PY),
            Write("tests/test_interest.py", TEST_INTEREST_PY),
        ],
    ),
    Commit(  # 7  FIX
        date="2024-03-28T11:41:59+01:00",
        author="sam",
        message="""\
Fix import of accounting-style negative amounts (closes #9)

Several banks export debits as (12.50) rather than -12.50. parse_amount()
rejected those, so the whole export failed with a ParseError. Treat an
amount wrapped in parentheses as negative.
""",
        regression=["tests/test_parsing.py::test_accounting_style_negative_amounts", "tests/test_parsing.py::test_accounting_style_negative_amounts_in_export"],
        reverts_cleanly_at_head=True,
        changes=[
            Edit(
                "ledgerkit/parsing.py",
                T(r'''
    """Parse ``1,234.50``, ``-12.00`` or ``$3``."""
    cleaned = text.strip().replace(",", "").replace("$", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"bad amount: {text!r}") from None
    return Money(value, currency)
'''),
                T(r'''
    """Parse ``1,234.50``, ``-12.00``, ``$3`` or accounting-style ``(12.00)``."""
    cleaned = text.strip().replace(",", "").replace("$", "")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"bad amount: {text!r}") from None
    return Money(-value if negative else value, currency)
'''),
            ),
            Append(
                "tests/test_parsing.py",
                T(r'''


@pytest.mark.parametrize(
    "text, expected", [("(12.50)", "-12.50"), ("($1,000.00)", "-1000.00"), ("(0)", "0")]
)
def test_accounting_style_negative_amounts(text, expected):
    assert parse_amount(text) == Money(expected)


def test_accounting_style_negative_amounts_in_export():
    rows = parse_transactions('date,description,amount\n2024-03-02,Coffee,"(4.50)"\n')
    assert rows[0].amount == Money("-4.50")
    assert rows[0].is_debit
'''),
            ),
        ],
    ),
    Commit(  # 8
        date="2024-04-02T16:08:44+02:00",
        author="dana",
        message="""\
Add plain-text and CSV reports

summarize_by_category(), monthly_report() built on a small ReportWriter
with indented sections, and to_csv(), which round-trips through
parse_transactions(). Bump the version to 0.2.0.
""",
        changes=[
            Edit(
                "pyproject.toml",
                "version = \"0.1.0\"\n",
                "version = \"0.2.0\"\n",
            ),
            Edit(
                "ledgerkit/__init__.py",
                "__version__ = \"0.1.0\"\n",
                "__version__ = \"0.2.0\"\n",
            ),
            Write("ledgerkit/report.py", REPORT_PY),
            Write("tests/test_report.py", TEST_REPORT_PY),
        ],
    ),
    Commit(  # 9  FIX
        date="2024-04-09T09:30:12+02:00",
        author="sam",
        message="""\
Fix compound_amount() for terms longer than one year (closes #11)

The growth factor was written as `x ** periods_per_year * years`, which
Python evaluates as `(x ** periods_per_year) * years` rather than raising x
to the total number of periods. One-year terms happened to come out right,
which is why the existing tests missed it.
""",
        regression=["tests/test_interest.py::CompoundAmountTests::test_multi_year_terms"],
        reverts_cleanly_at_head=False,
        changes=[
            Edit(
                "ledgerkit/interest.py",
                "    growth = (1 + annual_rate / periods_per_year) ** periods_per_year * years\n",
                "    growth = (1 + annual_rate / periods_per_year) ** (periods_per_year * years)\n",
            ),
            Edit(
                "tests/test_interest.py",
                "            compound_amount(Money(\"1000\"), Decimal(\"0.12\"), 1, 0)\n",
                T(r'''
            compound_amount(Money("1000"), Decimal("0.12"), 1, 0)

    def test_multi_year_terms(self):
        self.assertEqual(compound_amount(Money("1000"), Decimal("0.12"), 2), Money("1269.73"))
        self.assertEqual(compound_amount(Money("1000"), Decimal("0.12"), 3, 1), Money("1404.93"))
        self.assertEqual(compound_amount(Money("1000"), Decimal("0.12"), 0), Money("1000.00"))
'''),
            ),
        ],
    ),
    Commit(  # 10  FIX
        date="2024-04-12T13:52:27+02:00",
        author="dana",
        message="""\
Fix withdrawal check rejecting the exact available amount (closes #12)

can_withdraw() compared with `<`, so withdrawing exactly the balance, or
going down to exactly the overdraft limit of a checking account, raised
InsufficientFunds.
""",
        regression=["tests/test_accounts.py::AccountTests::test_can_withdraw_the_whole_balance", "tests/test_accounts.py::CheckingAccountTests::test_withdraw_down_to_exact_overdraft_limit"],
        reverts_cleanly_at_head=True,
        changes=[
            Edit(
                "ledgerkit/accounts.py",
                "        return amount < self.available()\n",
                "        return amount <= self.available()\n",
            ),
            Edit(
                "tests/test_accounts.py",
                T(r'''
        self.assertEqual(len(self.account.entries), 1)


class StatementTests'''),
                T(r'''
        self.assertEqual(len(self.account.entries), 1)

    def test_can_withdraw_the_whole_balance(self):
        self.account.deposit(Money("10.00"), MAR_1)
        self.assertTrue(self.account.can_withdraw(Money("10.00")))
        self.account.withdraw(Money("10.00"), MAR_1)
        self.assertTrue(self.account.balance.is_zero())


class StatementTests'''),
            ),
            Edit(
                "tests/test_accounts.py",
                T(r'''
        self.assertEqual(self.account.balance, Money("50"))


class SavingsAccountTests'''),
                T(r'''
        self.assertEqual(self.account.balance, Money("50"))

    def test_withdraw_down_to_exact_overdraft_limit(self):
        self.account.withdraw(Money("150"), MAR_1)
        self.assertEqual(self.account.balance, Money("-100"))
        self.assertTrue(self.account.available().is_zero())


class SavingsAccountTests'''),
            ),
        ],
    ),
    Commit(  # 11
        date="2024-04-18T10:14:50+02:00",
        author="dana",
        message="""\
Add token bucket rate limiter and retry helper

Bank APIs throttle aggressively. TokenBucket takes an injectable clock so
it can be tested without sleeping; retry() backs off exponentially and only
retries the exception types it is told to.
""",
        changes=[
            Write("ledgerkit/ratelimit.py", RATELIMIT_PY),
            Write("tests/test_ratelimit.py", TEST_RATELIMIT_PY),
        ],
    ),
    Commit(  # 12
        date="2024-04-23T15:33:06+02:00",
        author="dana",
        message="""\
Add async batch processor

BatchProcessor runs an async worker over items in fixed-size batches with
bounded concurrency, collecting per-item errors instead of aborting.
""",
        changes=[
            Write("ledgerkit/batch.py", BATCH_PY),
            Write("tests/test_batch.py", TEST_BATCH_PY),
        ],
    ),
    Commit(  # 13  FIX
        date="2024-04-26T09:47:21+02:00",
        author="sam",
        message="""\
Fix retry() returning None when every attempt fails (closes #14)

When all attempts raised a retryable error the loop just ended and retry()
fell off the end, returning None; callers then failed much later with a
confusing AttributeError. Re-raise the last error instead.
""",
        regression=["tests/test_ratelimit.py::test_retry_raises_last_error_when_attempts_are_exhausted"],
        reverts_cleanly_at_head=True,
        changes=[
            Edit(
                "ledgerkit/ratelimit.py",
                T(r'''
    Exceptions not listed in ``retry_on`` propagate at once.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    wait = delay
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except retry_on:
            if attempt < attempts:
                sleep(wait)
                wait = wait * backoff
'''),
                T(r'''
    Exceptions not listed in ``retry_on`` propagate at once; when every attempt fails the
    last error is raised.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    wait = delay
    last_error: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except retry_on as exc:
            last_error = exc
            if attempt < attempts:
                sleep(wait)
                wait = wait * backoff
    assert last_error is not None
    raise last_error
'''),
            ),
            Append(
                "tests/test_ratelimit.py",
                T(r'''


def test_retry_raises_last_error_when_attempts_are_exhausted():
    sleeps = []
    func = Flaky(5)
    with pytest.raises(ConnectionError, match="boom 3"):
        retry(func, sleep=sleeps.append)
    assert func.calls == 3
    assert sleeps == [0.1, 0.2]
    with pytest.raises(ConnectionError, match="boom 4"):
        retry(func, attempts=1, sleep=sleeps.append)
    assert sleeps == [0.1, 0.2]
'''),
            ),
        ],
    ),
    Commit(  # 14
        date="2024-05-02T11:05:38+02:00",
        author="dana",
        message="""\
Add transaction validation rules

Rule subclasses return a message or None; validate() runs a list of rules
over imported transactions and reports violations with their index.
""",
        changes=[
            Write("ledgerkit/validation.py", VALIDATION_PY),
            Write("tests/test_validation.py", TEST_VALIDATION_PY),
        ],
    ),
    Commit(  # 15
        date="2024-05-07T18:21:14+02:00",
        author="dana",
        message="""\
Allow choosing the rounding mode for interest calculations

Some lenders round interest half-to-even. Money.rounded() now takes an
optional rounding mode and simple_interest()/compound_amount() pass one
through. The per-period rate computation moves into a shared
periodic_rate() helper.
""",
        changes=[
            Edit(
                "ledgerkit/money.py",
                T(r'''
    def rounded(self) -> Money:
        """Round to the currency's minor unit; halves go away from zero."""
        quantum = Decimal(1).scaleb(-self.exponent)
        return Money(self.amount.quantize(quantum, rounding=ROUND_HALF_UP), self.currency)
'''),
                T(r'''
    def rounded(self, rounding: str = ROUND_HALF_UP) -> Money:
        """Round to the currency's minor unit; halves go away from zero by default."""
        quantum = Decimal(1).scaleb(-self.exponent)
        return Money(self.amount.quantize(quantum, rounding=rounding), self.currency)
'''),
            ),
            Edit(
                "ledgerkit/interest.py",
                "from decimal import Decimal\n",
                "from decimal import ROUND_HALF_UP, Decimal\n",
            ),
            Edit(
                "ledgerkit/interest.py",
                T(r'''
def simple_interest(principal: Money, annual_rate: Decimal, days: int) -> Money:
    """Interest over ``days`` without compounding, on an actual/365 basis."""
    if days < 0:
        raise ValueError("days must not be negative")
    amount = principal.amount * annual_rate * days / DAYS_IN_YEAR
    return Money(amount, principal.currency).rounded()


def compound_amount(
    principal: Money, annual_rate: Decimal, years: int, periods_per_year: int = MONTHS_IN_YEAR
) -> Money:
    """Future value of ``principal`` after ``years`` of periodic compounding."""
    if periods_per_year <= 0:
        raise ValueError("periods_per_year must be positive")
    growth = (1 + annual_rate / periods_per_year) ** (periods_per_year * years)
    return Money(principal.amount * growth, principal.currency).rounded()
'''),
                T(r'''
def periodic_rate(annual_rate: Decimal, periods_per_year: int = MONTHS_IN_YEAR) -> Decimal:
    """The nominal ``annual_rate`` split evenly over ``periods_per_year``."""
    if periods_per_year <= 0:
        raise ValueError("periods_per_year must be positive")
    return annual_rate / periods_per_year


def simple_interest(
    principal: Money, annual_rate: Decimal, days: int, *, rounding: str = ROUND_HALF_UP
) -> Money:
    """Interest over ``days`` without compounding, on an actual/365 basis."""
    if days < 0:
        raise ValueError("days must not be negative")
    amount = principal.amount * annual_rate * days / DAYS_IN_YEAR
    return Money(amount, principal.currency).rounded(rounding)


def compound_amount(
    principal: Money,
    annual_rate: Decimal,
    years: int,
    periods_per_year: int = MONTHS_IN_YEAR,
    *,
    rounding: str = ROUND_HALF_UP,
) -> Money:
    """Future value of ``principal`` after ``years`` of periodic compounding."""
    rate = periodic_rate(annual_rate, periods_per_year)
    growth = (1 + rate) ** (periods_per_year * years)
    return Money(principal.amount * growth, principal.currency).rounded(rounding)
'''),
            ),
            Edit(
                "ledgerkit/interest.py",
                T(r'''
        return Money(principal.amount / months, principal.currency).rounded()
    rate = annual_rate / MONTHS_IN_YEAR
'''),
                T(r'''
        return Money(principal.amount / months, principal.currency).rounded()
    rate = periodic_rate(annual_rate)
'''),
            ),
            Edit(
                "ledgerkit/interest.py",
                T(r'''
    payment = monthly_payment(principal, annual_rate, months)
    rate = annual_rate / MONTHS_IN_YEAR
'''),
                T(r'''
    payment = monthly_payment(principal, annual_rate, months)
    rate = periodic_rate(annual_rate)
'''),
            ),
            Edit(
                "tests/test_money.py",
                "from decimal import Decimal\n",
                "from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal\n",
            ),
            Append(
                "tests/test_money.py",
                T(r'''


def test_rounding_mode_can_be_chosen():
    assert Money("2.345").rounded(ROUND_HALF_EVEN) == Money("2.34")
    assert Money("2.355").rounded(ROUND_HALF_EVEN) == Money("2.36")
    assert Money("-2.349").rounded(ROUND_DOWN) == Money("-2.34")
    assert Money("2.345").rounded().amount == Decimal("2.35")
'''),
            ),
            Edit(
                "tests/test_interest.py",
                "from decimal import Decimal\n",
                "from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal\n",
            ),
            Edit(
                "tests/test_interest.py",
                T(r'''
    monthly_payment,
    simple_interest,
'''),
                T(r'''
    monthly_payment,
    periodic_rate,
    simple_interest,
'''),
            ),
            Append(
                "tests/test_interest.py",
                T(r'''


def test_periodic_rate():
    assert periodic_rate(Decimal("0.12")) == Decimal("0.01")
    assert periodic_rate(Decimal("0.12"), 4) == Decimal("0.03")
    with pytest.raises(ValueError, match="periods_per_year must be positive"):
        periodic_rate(Decimal("0.12"), 0)


def test_rounding_mode_is_passed_through():
    assert simple_interest(Money("10.50"), Decimal("0.05"), 365) == Money("0.53")
    half_even = simple_interest(Money("10.50"), Decimal("0.05"), 365, rounding=ROUND_HALF_EVEN)
    assert half_even == Money("0.52")
    assert compound_amount(Money("10.5"), Decimal("0.05"), 1, 1) == Money("11.03")
    assert compound_amount(Money("10.5"), Decimal("0.05"), 1, 1, rounding=ROUND_DOWN) == Money("11.02")
'''),
            ),
        ],
    ),
    Commit(  # 16
        date="2024-05-10T12:00:03+02:00",
        author="dana",
        message="""\
Document the public API and release 0.3.0

Expand the README with an example and a module overview, export the
main names through __all__, and bump the version.
""",
        changes=[
            Write("README.md", README_MD_V16),
            Edit(
                "pyproject.toml",
                "version = \"0.2.0\"\n",
                "version = \"0.3.0\"\n",
            ),
            Edit(
                "ledgerkit/__init__.py",
                "__version__ = \"0.2.0\"\n",
                T(r'''
__version__ = "0.3.0"

__all__ = [
    "Account",
    "CheckingAccount",
    "CurrencyMismatchError",
    "InsufficientFunds",
    "Ledger",
    "Money",
    "ParseError",
    "SavingsAccount",
    "Transaction",
    "parse_transactions",
    "sum_money",
]
'''),
            ),
        ],
    ),
]


if __name__ == "__main__":
    sys.exit(main())
