"""Operations room: the refusal every operation raises, and the callbacks commands hand in."""

from __future__ import annotations

from collections.abc import Callable

try:  # typer vendors click: its main loop prints (no traceback) only its own copy's exceptions
    from typer._click.exceptions import ClickException as _CliError
except ImportError:  # pragma: no cover - typer releases that still use click itself
    from click import ClickException as _CliError

Confirm = Callable[[str], bool]
Printer = Callable[[str], None]


class OpsError(_CliError):
    """An operation refused or failed; the message says what and how to fix it.

    A click exception so that any `berth` command calling an operation prints the message
    without a traceback and exits 1.
    """

    exit_code = 1
