"""Commands room: the `berth` command -- every group registered here, none optional."""

from __future__ import annotations

import sys
from importlib.metadata import version
from typing import Annotated

import typer
import typer.core

from berth.commands import bootstrap, deploy, dr, env, local, preview, release

app = typer.Typer(
    name="berth",
    help="The Shipments API platform: preview offline, compare environments, deploy, promote, recover.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    # Usage errors as plain `Error: ...` lines where stderr is a log, not boxes that wrap at 80 columns.
    rich_markup_mode="rich" if sys.stderr.isatty() else None,
)

_typed = typer.core.TyperOption.display_type_rich


def _flag_untyped(self: typer.core.TyperOption, ctx: typer.Context) -> str | None:
    """typer 0.29 labels every option with its type in rich help, flags too (`--json <bool>`), which
    reads as if they took a value (`--json true` is then refused): a flag shows none."""
    return None if self.is_flag else _typed(self, ctx)


typer.core.TyperOption.display_type_rich = _flag_untyped  # type: ignore[method-assign]


def _version(value: bool) -> None:
    if value:
        print(f"berth {version('berth')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool, typer.Option("--version", help="Print berth's version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """The Shipments API platform: preview offline, compare environments, deploy, promote, recover."""


for room in (preview, deploy, release, dr, env, local, bootstrap):
    room.register(app)


def main() -> None:  # pragma: no cover - console entry
    app()
