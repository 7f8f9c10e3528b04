"""Argument types shared by the subcommands, and the engine options generated from ``EngineSpec``."""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ..options import Option, options_of
from ..spec import EngineSpec, options


class Parser(argparse.ArgumentParser):
    """Usage mistakes get one line (and exit status 2), not the whole usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def size(text: str) -> tuple[int, int]:
    """An argparse type: ``WIDTHxHEIGHT`` such as ``1280x720``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}")
    return int(parts[0]), int(parts[1])


def checked_type(option: Option, kind: type):
    """An argparse type that parses ``kind`` and applies the option's range."""

    def parse(text: str):
        if text in option.words:
            return text
        try:
            value = kind(text)
        except ValueError:
            expected = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(
                f"expected {' or '.join([expected, *option.words])}, got {text!r}"
            ) from None
        problem = option.problem(value)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse


def int_at_least(lowest: int):
    """An argparse type: an integer >= ``lowest`` (parsed and checked as an option's range is)."""
    return checked_type(Option(help="", low=lowest), int)


#: factors and similar counts that make no sense below 2
positive_int = int_at_least(2)


def add_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    only: Iterable[str] | None = None,
    unset: bool = False,
    ranges: bool = True,
) -> None:
    """One flag per field of ``cls`` (a dataclass whose fields carry an :class:`Option`): its help,
    choices, range and metavar from the Option, its kind from the field's type.

    ``unset``: every flag defaults to None (a config file's value then stands unless the flag is
    given) and booleans get ``--x/--no-x``; otherwise flags default to the field's default.
    Fields not in ``only`` (when given) are left out. ``ranges``: numbers are checked against
    their range while the command line is parsed (a usage error, exit status 2); without it only
    their kind is, and the range is the class's to check when it is made (exit status 1). Fields
    of other types (a ``Fraction``) come as the text given, for the command to parse.
    """
    hints = typing.get_type_hints(cls)
    wanted = set(only) if only is not None else None
    for name, default, option in options_of(cls):
        if wanted is not None and name not in wanted:
            continue
        kind = _kind(hints[name])
        kwargs: dict[str, Any] = {"dest": name, "default": None if unset else default, "help": _help(option, default)}
        if option.metavar:
            kwargs["metavar"] = option.metavar
        if kind is list:
            kwargs["action"] = "append"
        elif kind is bool:  # three states (unset, on, off) where unset means something
            kwargs["action"] = argparse.BooleanOptionalAction if unset or default is None else "store_true"
        elif option.choices is not None:
            kwargs["choices"] = option.choices
        elif kind in (int, float):
            # parsed, and the range checked before anything runs
            kwargs["type"] = checked_type(option if ranges else replace(option, low=None, high=None), kind)
        parser.add_argument(option.flag or "--" + name.replace("_", "-"), **kwargs)


def _kind(hint: Any) -> type:
    """``int`` for ``int | None``, ``list`` for ``list[str]``, the type itself otherwise."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return typing.get_origin(hint) or hint


def _help(option: Option, default: Any) -> str:
    """The option's help, with its default when the help does not already say what it is."""
    if default is None or default == [] or "(default" in option.help:
        return option.help
    if isinstance(default, bool):
        shown = "on" if default else "off"
    else:
        shown = f"{default:g}" if isinstance(default, float) else default
    return f"{option.help} (default: {shown})"


def add_engine_args(parser: argparse.ArgumentParser, only: Iterable[str] | None = None) -> None:
    """The engine options (``EngineSpec``'s fields, or those named in ``only``) as a "model" group."""
    add_options(parser.add_argument_group("model"), EngineSpec, only=only)


def engine_spec(args: argparse.Namespace, **overrides) -> EngineSpec:
    """The ``EngineSpec`` the parsed engine options describe (fields a command lacks keep their default)."""
    values = {name: getattr(args, name) for name, _, _ in options() if hasattr(args, name)}
    return EngineSpec(**{**values, **overrides})
