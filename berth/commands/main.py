"""Commands room: the `berth` command -- every group registered here, none optional."""

from __future__ import annotations

import typer

from berth.commands import bootstrap, deploy, dr, env, local, preview, release

app = typer.Typer(
    name="berth",
    help="The Shipments API platform: preview offline, compare environments, deploy, promote, recover.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for room in (preview, deploy, release, dr, env, local, bootstrap):
    room.register(app)


def main() -> None:  # pragma: no cover - console entry
    app()
