"""Environment layer: the composition root. Reads like the architecture diagram.

One call per component, in dependency order; the outputs of one are the inputs of the
next. Nothing else happens here: settings come validated from stacks.config, and every
resource lives in a component.
"""

from __future__ import annotations

import pulumi

from components.cluster import Cluster, ClusterArgs
from components.database import Database, DatabaseArgs
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

    cluster = Cluster(
        s.name_prefix,
        ClusterArgs(
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            version=s.cluster.version,
            public_access_cidrs=s.cluster.public_access_cidrs,
            instance_types=s.cluster.instance_types,
            capacity_type=s.cluster.capacity_type,
            node_min=s.cluster.node_min,
            node_max=s.cluster.node_max,
            node_desired=s.cluster.node_desired,
            node_disk_gib=s.cluster.node_disk_gib,
            log_retention_days=s.cluster.log_retention_days,
            admin_role_arns=s.cluster.admin_role_arns,
            deletion_protection=s.cluster.deletion_protection,
            existing_kubeconfig=(
                pulumi.Config("berth").require_secret("kubeconfig") if s.cluster.existing else None
            ),
            existing_cluster_name=s.cluster.existing_cluster_name,
            existing_node_security_group_id=s.cluster.existing_node_security_group_id,
            tags=s.standard_tags,
        ),
    )

    database = Database(
        s.name_prefix,
        DatabaseArgs(
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            allowed_security_group_ids=[cluster.node_security_group_id],
            availability_zones=network.azs,
            settings=s.database,
            dr_region=s.dr.region if s.database.cross_region_replica else None,
            protect=s.is_prod,
            tags=s.standard_tags,
        ),
    )

    pulumi.export("environment", s.environment)
    pulumi.export("region", s.region)
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("privateSubnetIds", network.private_subnet_ids)
    pulumi.export("publicSubnetIds", network.public_subnet_ids)
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("clusterEndpoint", cluster.endpoint)
    pulumi.export("databasePrimaryIdentifier", database.primary_identifier)
    pulumi.export("databasePrimaryEndpoint", database.primary_address)
    pulumi.export("databaseReplicaIdentifiers", database.replica_identifiers)
    pulumi.export("databaseCrossRegionReplicaIdentifier", database.cross_region_replica_identifier)
    pulumi.export("connectionBudget", connection_budget(s).model_dump(exclude={"problems"}))
