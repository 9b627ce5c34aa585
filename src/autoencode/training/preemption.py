"""Stopping when the machine asks: SIGTERM (a batch scheduler, ``kill``, a container stop) and
SIGUSR1 (what schedulers send before a job's time is up) finish the current step, write a
checkpoint inside the epoch, and stop training with :class:`Preempted`; the run resumes from that
step exactly. ``Every`` schedules such checkpoints during long epochs as well.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from autoencode.errors import AutoencodeError, ConfigError

SIGNALS = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGUSR1", None)) if s
)


class Preempted(AutoencodeError):
    """Training stopped on a signal after writing a checkpoint; ``resume`` continues it."""

    def __init__(self, signal_name: str, epoch: int, step: int):
        where = f"epoch {epoch}, step {step}" if step else f"the end of epoch {epoch - 1}"
        super().__init__(f"stopped by {signal_name} at {where}")
        self.signal_name, self.epoch, self.step = signal_name, epoch, step


class StopRequest:
    """The signal that asked training to stop, if one has (set from a signal handler)."""

    def __init__(self):
        self.number = 0  # the signal's number, 0 while none has come

    def __bool__(self) -> bool:
        return self.number != 0

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.number).name if self.number else ""

    @contextlib.contextmanager
    def handling(self) -> Iterator[StopRequest]:
        """SIGTERM and SIGUSR1 set the request while inside; the earlier handlers come back after.
        Outside the main thread (where Python cannot take signals) nothing is installed."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(number, frame):
            self.number = number

        previous = {s: signal.signal(s, handler) for s in SIGNALS}
        try:
            yield self
        finally:
            for number, old in previous.items():
                signal.signal(number, old)


@dataclass(frozen=True)
class Every:
    """How often to write a checkpoint inside an epoch: every ``steps`` steps or ``seconds``."""

    steps: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str | int | Every | None) -> Every | None:
        """``500`` (steps), ``30s``, ``10m`` or ``1h``; a malformed one is a ConfigError."""
        if text is None or isinstance(text, Every):
            return text
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
        value = float(match.group(1)) if match else 0.0
        if not match or value <= 0 or (not match.group(2) and value != int(value)):
            raise ConfigError(f"{{parameter}}: expected a number of steps (500) or a time "
                              f"(30s, 10m, 1h), got {text!r}", parameter="checkpoint_every")  # fmt: skip
        if not match.group(2):
            return cls(steps=int(value))
        return cls(seconds=value * {"s": 1, "m": 60, "h": 3600}[match.group(2)])

    def due(self, step: int, since: float) -> bool:
        """Whether a checkpoint is due after ``step`` (of the epoch; the last one written at
        ``since``, ``time.perf_counter()`` seconds)."""
        if self.steps is not None:
            return step % self.steps == 0
        return time.perf_counter() - since >= self.seconds
