"""Environment layer: the composition root. Reads like the architecture diagram.

One call per component, in dependency order; the outputs of one are the inputs of the
next. Nothing else happens here: settings come validated from stacks.config, and every
resource lives in a component.
"""

from __future__ import annotations

import pulumi

from components.network import Network, NetworkArgs
from stacks.config import Settings, connection_budget


def build(s: Settings) -> None:
    """Build the whole platform for one environment and export its outputs."""
    network = Network(
        s.name_prefix,
        NetworkArgs(
            cidr=s.network.cidr,
            az_count=s.network.az_count,
            nat_gateways=s.network.nat_gateways,
            flow_logs_retention_days=s.network.flow_logs_retention_days,
            tags=s.standard_tags,
        ),
    )

    pulumi.export("environment", s.environment)
    pulumi.export("region", s.region)
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("privateSubnetIds", network.private_subnet_ids)
    pulumi.export("publicSubnetIds", network.public_subnet_ids)
    pulumi.export("connectionBudget", connection_budget(s).model_dump(exclude={"problems"}))
