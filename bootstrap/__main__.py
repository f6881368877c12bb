"""Bootstrap room: the berth-bootstrap Pulumi program: load the account's settings, build the foundation,
export what the workflows and the platform stacks take from it."""

import sys
from pathlib import Path

# The Pulumi CLI runs this file with bootstrap/ as the program directory; its modules import as the
# `bootstrap` package of the repository, which is therefore put on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bootstrap import foundation, inputs

settings = inputs.load()
foundation.export(settings, foundation.build(settings))
