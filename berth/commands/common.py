"""Commands room: what every `berth` command shares -- the consoles, the argument types, how a
refusal is printed, how a question is asked."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from berth.operations.errors import OpsError
from berth.operations.stackfile import REPO

# soft_wrap: a sentence is never broken at the terminal's width (a CI log keeps each message on one
# line, greppable); tables are laid out by print_table.
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

StackArg = Annotated[str, typer.Argument(help="Stack name: a Pulumi.<stack>.yaml at the repo root.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask: for scripts and CI.")]
ConfigDirOpt = Annotated[Path, typer.Option("--config-dir", help="Where the Pulumi.<stack>.yaml files are.",
                                            hidden=True)]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON (its shape: docs/json.md).")]

__all__ = ["REPO", "ConfigDirOpt", "JsonOpt", "StackArg", "YesOpt", "confirm", "console", "echo", "echo_err", "err", "fail",
           "parse_set", "print_json", "print_table", "refusals", "show_diff"]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` (unwrapped, greppable, taken literally) and return the exit to raise."""
    err.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def refusals(fn: Callable[..., None]) -> Callable[..., None]:
    """An operation's refusal (OpsError) prints as `error: ...` and exits 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except OpsError as exc:
            raise fail(exc.message) from None

    return wrapper


def echo(text: str) -> None:
    """An operation's progress line, printed as given (no markup)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def print_table(table: Table, out: Console | None = None) -> None:
    """A table fitted to the terminal; where output is a log or a pipe, as wide as its data needs, so
    no cell cuts a digest, key or ARN (a CI log has no width to respect)."""
    out = out or console
    if out.is_terminal:
        out.print(table, soft_wrap=False)
        return
    needed = out.measure(table, options=out.options.update_width(100_000)).maximum
    width = out.width
    out.width = max(width, needed)  # print(width=) is capped at the console's own width
    try:
        out.print(table, crop=False, soft_wrap=False)
    finally:
        out.width = width


def print_json(data: Any) -> None:
    """A `--json` result on stdout: plain JSON, nothing else on that stream."""
    print(json.dumps(data, indent=1, default=str))


def echo_err(text: str) -> None:
    """Progress on stderr, for commands whose stdout is a --json document."""
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def confirm(question: str) -> bool:
    return typer.confirm(question, default=False)


def show_diff(diff: str) -> None:
    """A unified diff: coloured on a terminal (long lines wrapped, not cut), as plain lines in a log."""
    if not console.is_terminal:
        console.print(diff.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
        return
    console.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default", word_wrap=True))


def parse_set(values: list[str] | None) -> dict[str, Any]:
    """`--set KEY=VALUE` options as a dict (JSON values where they parse, strings otherwise)."""
    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or ":" not in key:
            raise OpsError(f"--set takes KEY=VALUE with a namespaced key such as berth:app.tlsCertificateArn=..., "
                           f"not {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
