"""One chat-completion client for any OpenAI-compatible endpoint, robust to what real ones do.

The ``openai`` package speaks the protocol; this module adds what a foundry needs around it:
retries with exponential backoff (honouring ``Retry-After``) on 429, 5xx, timeouts, dropped
connections and malformed bodies; a concurrency limit; token and cost accounting against a
configurable price table; and a budget that refuses new requests once it is spent. Caching
lives with the caller (``engine.lm.batch``), because the cache is in the store and the store
belongs to one thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UsageError

if TYPE_CHECKING:
    from engine.store.lm import LMCall

CONFIG_FILE = "config.toml"  # in the workspace: an [lm] table

# USD per million (input, output) tokens. Local servers (vLLM, Ollama, llama.cpp) cost nothing;
# add or correct models in the workspace config ([lm.prices]) or with --price IN,OUT.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
}


class LMError(Exception):
    """A request that failed for good (after retries), with a short reason code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class BudgetSpent(LMError):
    """``--max-cost`` is reached: no new request is sent; answers already paid for are kept."""

    def __init__(self, spent: float, limit: float) -> None:
        super().__init__("budget_spent", f"spent ${spent:.4f} of ${limit:.4f}")


@dataclass
class LMSettings:
    """Where and how to ask. Resolved from flags, then environment, then workspace config."""

    model: str = ""
    base_url: str | None = None  # None: the openai package's default (OpenAI itself)
    api_key: str | None = None
    temperature: float = 0.8
    max_tokens: int = 2048
    concurrency: int = 4
    timeout: float = 120.0  # seconds per request
    max_retries: int = 4
    backoff: float = 1.0  # first retry waits about this long; doubles each time (with jitter)
    max_backoff: float = 30.0
    max_cost: float | None = None  # USD for this run; None = no limit
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        """The request parameters that change an answer (part of the cache key)."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}

    def price(self) -> tuple[float, float]:
        table = {**DEFAULT_PRICES, **self.prices}
        if self.model in table:
            return table[self.model]
        # "gpt-4o-mini-2024-07-18" is priced as "gpt-4o-mini": the longest known prefix wins.
        best = max((m for m in table if self.model.startswith(m)), key=len, default=None)
        return table[best] if best else (0.0, 0.0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        pin, pout = self.price()
        return (prompt_tokens * pin + completion_tokens * pout) / 1_000_000

    def public(self) -> dict[str, Any]:
        """For logs and run records: never the key."""
        d = asdict(self)
        d.pop("api_key", None)
        return d


def load_settings(home: Path | None, *, model: str | None = None,
                  base_url: str | None = None, concurrency: int | None = None,
                  max_cost: float | None = None, price: str | None = None,
                  temperature: float | None = None) -> LMSettings:
    """Flags beat ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``BUGFOUNDRY_LM_MODEL``, which beat
    ``<workspace>/config.toml``'s ``[lm]`` table."""
    conf: dict[str, Any] = {}
    path = home / CONFIG_FILE if home else None
    if path is not None and path.is_file():
        try:
            conf = tomllib.loads(path.read_text(encoding="utf-8")).get("lm", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from exc
    s = LMSettings()
    for key, kind in (("temperature", float), ("max_tokens", int), ("concurrency", int),
                      ("timeout", float), ("max_retries", int), ("backoff", float),
                      ("max_backoff", float), ("max_cost", float)):
        if key in conf:
            setattr(s, key, kind(conf[key]))
    s.model = model or os.environ.get("BUGFOUNDRY_LM_MODEL") or conf.get("model", "")
    s.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or conf.get("base_url")
    s.api_key = os.environ.get("OPENAI_API_KEY") or conf.get("api_key")
    s.prices = {str(k): _price_pair(v, str(path)) for k, v in conf.get("prices", {}).items()}
    if concurrency is not None:
        s.concurrency = concurrency
    if max_cost is not None:
        s.max_cost = max_cost
    if temperature is not None:
        s.temperature = temperature
    if price:
        s.prices[s.model] = _price_pair(price.split(","), "--price")
    if s.concurrency < 1:
        raise UsageError("--lm-concurrency must be at least 1.")
    return s


def _price_pair(value: Any, where: str) -> tuple[float, float]:
    try:
        pin, pout = (float(x) for x in value)
    except (TypeError, ValueError):
        raise UsageError(f"a price in {where} must be two numbers, USD per million input and "
                         f"output tokens (e.g. 0.15,0.60); got {value!r}.") from None
    return pin, pout


@dataclass(frozen=True)
class Completion:
    """One answer: its text and what it cost. ``cached`` answers cost nothing this time."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    seconds: float
    attempts: int = 1
    cached: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Completion:
        return cls(**json.loads(text))

    def charge(self, call: LMCall) -> LMCall:
        """``call`` with this answer's model and usage (a cached answer costs nothing now)."""
        return replace(call, model=self.model, prompt_tokens=self.prompt_tokens,
                       completion_tokens=self.completion_tokens,
                       cost=0.0 if self.cached else self.cost, cached=self.cached)

    def usage(self) -> dict[str, Any]:
        """What a candidate records about the call that made it."""
        return {"model": self.model, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost": round(self.cost, 6),
                "cached": self.cached, "attempts": self.attempts}


Messages = Sequence[Mapping[str, str]]


def cache_key(settings: LMSettings, messages: Messages) -> str:
    """(prompt, model, parameters): what makes two requests the same request."""
    blob = json.dumps({"model": settings.model, "messages": list(messages),
                       "params": settings.params}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class Budget:
    """Dollars spent by this run, shared by the client's threads."""

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.spent = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        with self._lock:
            if self.limit is not None and self.spent >= self.limit:
                raise BudgetSpent(self.spent, self.limit)

    def add(self, cost: float) -> None:
        with self._lock:
            self.spent += cost

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.spent >= self.limit


_RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


class LMClient:
    """Thread-safe: many workers may call ``complete`` at once, up to ``concurrency`` in flight."""

    def __init__(self, settings: LMSettings, *, sleep: Callable[[float], None] = time.sleep,
                 seed: int = 0) -> None:
        if not settings.model:
            raise UsageError("no model given for the LM strategies: pass --model NAME (or set "
                             "BUGFOUNDRY_LM_MODEL, or model in the workspace's config.toml [lm]).")
        import openai  # imported here: only LM features pay for it

        self.settings = settings
        self.budget = Budget(settings.max_cost)
        self.requests = 0  # HTTP requests sent (retries included)
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=settings.base_url, api_key=settings.api_key or "not-needed",
            max_retries=0, timeout=settings.timeout)
        self._slots = threading.BoundedSemaphore(settings.concurrency)
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def complete(self, messages: Messages) -> Completion:
        """One answer, retried on transient failures; raises ``LMError`` or ``BudgetSpent``."""
        s = self.settings
        last = LMError("no_attempt")
        for attempt in range(1, s.max_retries + 2):
            self.budget.check()
            started = time.monotonic()
            with self._slots:
                with self._lock:
                    self.requests += 1
                try:
                    resp = self._client.chat.completions.create(
                        model=s.model, messages=list(messages),  # type: ignore[arg-type]
                        temperature=s.temperature, max_tokens=s.max_tokens)
                    completion = self._read(resp, time.monotonic() - started, attempt)
                except LMError as exc:
                    last, wait = exc, None
                except Exception as exc:  # noqa: BLE001 - classified below
                    last, wait, retry = self._classify(exc)
                    if not retry:
                        raise last from exc
                else:
                    self.budget.add(completion.cost)
                    return completion
            if attempt <= s.max_retries:
                self._sleep(self._delay(attempt, wait))
        raise last

    def _read(self, resp: Any, seconds: float, attempt: int) -> Completion:
        """The first choice's text and usage; a body without them counts as malformed."""
        try:
            text = resp.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            raise LMError("malformed_response", "no choices[0].message.content") from None
        if not isinstance(text, str):
            raise LMError("malformed_response", "choices[0].message.content is not text")
        usage = getattr(resp, "usage", None)
        pt = int(getattr(usage, "prompt_tokens", 0) or 0)
        ct = int(getattr(usage, "completion_tokens", 0) or 0)
        return Completion(text, str(getattr(resp, "model", "") or self.settings.model), pt, ct,
                          self.settings.cost(pt, ct), round(seconds, 3), attempt)

    def _classify(self, exc: Exception) -> tuple[LMError, float | None, bool]:
        """(error, server-requested wait, retry?) for an exception from the openai package."""
        o = self._openai
        if isinstance(exc, o.APITimeoutError):
            return LMError("timeout", str(exc)), None, True
        if isinstance(exc, o.APIConnectionError):
            return LMError("connection_error", str(exc)), None, True
        if isinstance(exc, o.APIStatusError):
            code = exc.status_code
            wait = _retry_after(exc.response.headers.get("retry-after"))
            reason = "rate_limited" if code == 429 else f"http_{code}"
            return LMError(reason, _short(exc.message)), wait, code in _RETRY_STATUS
        if isinstance(exc, o.APIResponseValidationError | ValueError):
            return LMError("malformed_response", _short(str(exc))), None, True
        return LMError("client_error", f"{type(exc).__name__}: {_short(str(exc))}"), None, False

    def _delay(self, attempt: int, server_wait: float | None) -> float:
        s = self.settings
        if server_wait is not None:
            return min(server_wait, s.max_backoff)
        base = s.backoff * 2 ** (attempt - 1)
        with self._lock:
            jitter = self._rng.uniform(0.5, 1.0)
        return min(base * jitter, s.max_backoff)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
