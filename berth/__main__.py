"""`python -m berth`: the same as the `berth` command."""

from berth.commands import app

app(prog_name="berth")
