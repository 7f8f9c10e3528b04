"""Argument types shared by the subcommands, and the engine options generated from ``EngineSpec``."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from ..engine import EngineSpec, Option, options


class Parser(argparse.ArgumentParser):
    """Usage mistakes get one line (and exit status 2), not the whole usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_at_least(lowest: int):
    """An argparse type: an integer >= ``lowest``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be at least {lowest}, got {value}")
        return value

    return parse


#: factors and similar counts that make no sense below 2
positive_int = int_at_least(2)


def size(text: str) -> tuple[int, int]:
    """An argparse type: ``WIDTHxHEIGHT`` such as ``1280x720``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}")
    return int(parts[0]), int(parts[1])


def _checked(option: Option, kind: type):
    """An argparse type that parses ``kind`` and applies the option's range."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        problem = option.problem(value)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse


def add_engine_args(parser: argparse.ArgumentParser, only: Iterable[str] | None = None) -> None:
    """The engine options (``EngineSpec``'s fields, or those named in ``only``) as a "model" group."""
    group = parser.add_argument_group("model")
    wanted = set(only) if only is not None else None
    for name, default, option in options():
        if wanted is not None and name not in wanted:
            continue
        flag = option.flag or "--" + name.replace("_", "-")
        kwargs: dict = {"help": option.help, "default": default, "dest": name}
        if isinstance(default, bool):
            kwargs["action"] = "store_true"
        elif name == "channels_last":  # three states: on, off, the device's default
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.choices is not None:
            kwargs["choices"] = option.choices
        elif isinstance(default, float):
            kwargs["type"] = _checked(option, float)
        elif option.low is not None:
            kwargs["type"] = _checked(option, int)
        group.add_argument(flag, **kwargs)


def engine_spec(args: argparse.Namespace, **overrides) -> EngineSpec:
    """The ``EngineSpec`` the parsed engine options describe (fields a command lacks keep their default)."""
    values = {name: getattr(args, name) for name, _, _ in options() if hasattr(args, name)}
    return EngineSpec(**{**values, **overrides})
