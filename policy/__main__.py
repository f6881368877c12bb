"""Policy room: the CrossGuard policy pack the Pulumi CLI runs (`pulumi preview --policy-pack policy`).

The ONLY place a PolicyPack is built: constructing one starts the analyzer's gRPC server
and blocks forever, so nothing may import this module (tests and `berth` use
policy.evaluator / policy.adapter instead).
"""

import sys
from pathlib import Path

# The CLI runs this file from policy/; the rules live in the `policy` package next to it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.adapter import policies

PolicyPack(
    name="berth",
    description="Guardrails for the berth platform: encryption, exposure, resilience, backups, alarms, "
    "Kubernetes workload hardening and the connection budget.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=policies(),
)
