"""The option table: how a field of an options dataclass is offered and checked.

A field made with :func:`option` carries an :class:`Option` (its help, choices and range) in its
metadata. The command line generates its flags from that table (``ifrnet.commands.options``),
and :func:`check_options` checks an instance against it, so a default, a range or a help line is
written once: for the engine (``ifrnet.spec.EngineSpec``), a video run
(``ifrnet.video.options``) and training (``ifrnet.training.config``). Ground floor: imports
nothing of the package but its errors.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from .errors import InputError


@dataclass(frozen=True)
class Option:
    """How an options field is offered and checked: one place for its range and help."""

    help: str
    choices: tuple[str, ...] | None = None
    #: lowest and highest value, both inclusive, except ``low`` when ``open_low`` (``low < value``)
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    #: whole numbers only (a count, a factor)
    integer: bool = False
    #: what the command line names it, when not the field name with dashes
    flag: str | None = None
    metavar: str | None = None
    #: words a numeric option also takes (such as ``auto``)
    words: tuple[str, ...] = ()
    #: a few words after a closed range's message: what the ends of the range mean
    hint: str | None = None

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` ("must be ...; got ..."), or None."""
        if value is None or value in self.words:
            return None
        if isinstance(value, str) and self.words:
            return f"must be a number or {' or '.join(self.words)}; got {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}; got {value!r}"
        closed = not self.open_low and self.low is not None and self.high is not None
        whole = not self.integer or (not isinstance(value, bool) and float(value).is_integer())
        if closed and not (whole and self.low <= value <= self.high):
            if self.integer:
                return f"must be an integer from {self.low:g} to {self.high:g}; got {value}"
            hint = f" ({self.hint})" if self.hint else ""
            return f"must be between {self.low:g} and {self.high:g}{hint}; got {float(value):g}"
        if not whole:
            return f"must be an integer; got {value}"
        if self.open_low and self.high is not None and not self.low < value <= self.high:
            return f"must be in ({self.low:g}, {self.high:g}]; got {float(value):g}"
        if self.open_low and self.high is None and not self.low < value:
            return f"must be more than {self.low:g}; got {float(value):g}"
        if not self.open_low and self.low is not None and value < self.low:
            return f"must be at least {self.low:g}; got {float(value):g}"
        if self.high is not None and value > self.high:
            return f"must be at most {self.high:g}; got {float(value):g}"
        return None

    def check(self, name: str, value: Any) -> None:
        """Raise :class:`InputError` naming the option when ``value`` is out of its range or choices."""
        problem = self.problem(value)
        if problem is not None:
            raise InputError(f"{self.flag or '--' + name.replace('_', '-')} {problem}")


def option(default: Any, **kwargs: Any) -> Any:
    """A dataclass field with ``default`` whose :class:`Option` is made of ``kwargs``."""
    return field(default=default, metadata={"option": Option(**kwargs)})


def options_of(cls: type) -> list[tuple[str, Any, Option]]:
    """``(name, default, Option)`` of every field of a dataclass that carries an :class:`Option`, in
    declaration order; a list field's default is ``[]``. Fields without one are left out."""
    return [
        (f.name, f.default_factory() if f.default_factory is not MISSING else f.default, f.metadata["option"])
        for f in fields(cls)
        if "option" in f.metadata
    ]


def check_options(obj: Any) -> None:
    """Check every :class:`Option` field of the dataclass instance ``obj``; raises
    :class:`InputError` naming the flag of the first one out of range."""
    for name, _, spec in options_of(type(obj)):
        spec.check(name, getattr(obj, name))
