"""Option types shared by the command-line tools."""

from __future__ import annotations

import re

import click

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(s|sec|m|min|h|hr)?\s*$")
_UNITS = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}


class Duration(click.ParamType):
    """A wall-clock duration such as ``90``, ``90s``, ``15m`` or ``2h``, in seconds."""

    name = "duration"

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        match = _DURATION.match(str(value))
        if not match:
            self.fail(f"expected a duration like 90s, 15m or 2h, got {value!r}", param, ctx)
        return float(match.group(1)) * _UNITS[match.group(2)]


class FloatList(click.ParamType):
    """Comma-separated numbers, e.g. ``0.6,0.2,0.2``."""

    name = "numbers"

    def convert(self, value, param, ctx) -> list[float]:
        if isinstance(value, (list, tuple)):
            return [float(v) for v in value]
        try:
            return [float(v) for v in str(value).split(",") if v.strip()]
        except ValueError:
            self.fail(f"expected comma-separated numbers, got {value!r}", param, ctx)


class IntList(FloatList):
    """Comma-separated whole numbers, e.g. ``100,300,1000`` (``1e3`` too).

    A fraction is refused, not truncated: ``--n-conv 2.5`` silently trained
    two convolutions.
    """

    name = "integers"

    def convert(self, value, param, ctx) -> list[int]:
        numbers = super().convert(value, param, ctx)
        bad = [v for v in numbers if not float(v).is_integer()]
        if bad:
            self.fail(f"expected comma-separated whole numbers, got {value!r}", param, ctx)
        return [int(v) for v in numbers]


cpu_time_option = click.option(
    "--cpu-time",
    is_flag=True,
    help="Count --max-time in CPU seconds of this process instead of wall-clock time "
    "(the same compute on a busy, shared machine).",
)


class HiddenAliases(click.Option):
    """An option with extra spellings that work but are not listed in ``--help``.

    The same setting is spelt the same way in every command
    (``--max-neighbors``, ``--lr``, ``--no-progress``, ``--output-dir``); the
    spellings older commands used stay accepted as hidden aliases::

        @click.option("--max-neighbors", "neighbors", cls=HiddenAliases, aliases=["--neighbors"])
    """

    def __init__(self, param_decls, aliases=(), **attrs) -> None:
        super().__init__([*param_decls, *aliases], **attrs)
        self.aliases = set(aliases)

    def get_help_record(self, ctx):
        shown = self.opts
        self.opts = [name for name in shown if name not in self.aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown
