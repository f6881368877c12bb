"""Commands room: the `berth` command. Each module parses one group's options, asks its questions
and prints its results (typer + rich); the work is the operations' (berth/operations)."""

from berth.commands.main import app

__all__ = ["app"]
