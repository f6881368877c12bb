"""Environment layer: the composition root. Reads like the architecture diagram.

One call per component, in dependency order; each takes its settings section (validated in
stacks.config) and the outputs of the components it sits on. Nothing else happens here: every
resource lives in a component, and the stack's outputs are exported in one place (`_export`).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.alarms import Alarms, AlarmsArgs
from components.app import App, AppArgs
from components.backups import Backups, BackupsArgs
from components.cache import Cache, CacheArgs
from components.cdn import Cdn, CdnArgs
from components.cluster import Cluster, ClusterArgs
from components.database import Database, DatabaseArgs
from components.database_roles import DatabaseRoles, DatabaseRolesArgs
from components.dns import Dns, DnsArgs
from components.network import Network, NetworkArgs
from components.pgbouncer import PgBouncer, PgBouncerArgs
from stacks.config import Settings, capacity, connection_budget, existing_kubeconfig


def build(s: Settings) -> None:
    """Build the whole platform for one environment and export its outputs."""
    prefix, prod, tags = s.name_prefix, s.is_prod, s.standard_tags

    dns = Dns(prefix, DnsArgs(settings=s.dns))
    network = Network(prefix, NetworkArgs(settings=s.network, tags=tags))
    # The recovery VPC in the DR region: the standby database lives there, and a rebuild brings
    # the platform up in it (so the promoted database and the new cluster share one network).
    recovery = (Network(f"{prefix}-recovery", NetworkArgs(settings=s.recovery_network, region=s.dr.region, tags=tags))
                if s.database.cross_region_replica else None)

    cluster = Cluster(prefix, ClusterArgs(
        vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids, existing_kubeconfig=existing_kubeconfig(s),
        settings=s.cluster, require_digest=prod, tags=tags))

    database = Database(prefix, DatabaseArgs(
        vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids, availability_zones=network.azs,
        allowed_security_group_ids=[cluster.node_security_group_id], **_standby(s, recovery),
        settings=s.database, protect=prod, tags=tags))
    # The logins of the app and of its migrations, made by a Job that alone reads RDS's master secret.
    roles = DatabaseRoles(prefix, DatabaseRolesArgs(
        provider=cluster.provider, namespace=cluster.namespace, cluster_name=cluster.cluster_name,
        primary_address=database.primary_address, database_port=database.port,
        database_name=database.database_name, database_cidr=network.vpc_cidr,
        master_secret_arn=database.master_user_secret_arn,
        master_secret_kms_key_arn=database.master_user_secret_kms_key_arn,
        settings=s.database_roles, require_digest=prod, tags=tags))
    pgbouncer = PgBouncer(prefix, PgBouncerArgs(
        provider=cluster.provider, namespace=cluster.namespace,
        primary_address=database.primary_address, replica_addresses=database.replica_addresses,
        database_port=database.port, database_name=database.database_name, database_cidr=network.vpc_cidr,
        database_connection_limit=database.connection_limit,
        app_username=roles.app_username, app_password=roles.app_password,
        owner_username=roles.owner_username, owner_password=roles.owner_password, wait_for=[roles.job],
        settings=s.pgbouncer))

    cache = Cache(prefix, CacheArgs(
        vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids,
        allowed_security_group_ids=[cluster.node_security_group_id],
        settings=s.cache, protect=prod, tags=tags))

    app = App(prefix, AppArgs(
        provider=cluster.provider, namespace=cluster.namespace, cluster_name=cluster.cluster_name,
        db_host=pgbouncer.service_host, db_port=pgbouncer.port, pgbouncer_pod_labels=pgbouncer.pod_labels,
        rw_database=pgbouncer.rw_database, ro_database=pgbouncer.ro_database,
        migration_database=pgbouncer.migrate_database, wait_for=[pgbouncer.deployment],
        db_username=roles.app_username, db_password=roles.app_password,
        migration_username=roles.owner_username, migration_password=roles.owner_password,
        redis_host=cache.primary_endpoint, redis_port=cache.port, redis_auth_token=cache.auth_token,
        redis_cidrs=[network.vpc_cidr], load_balancer_source_cidrs=[network.vpc_cidr],
        origin_domain=s.origin_domain, hosted_zone_id=dns.zone_id,
        settings=s.app, require_digest=prod, tags=tags))

    cdn = Cdn(prefix, CdnArgs(
        app_origin_domain=app.origin_hostname, origin_secret=app.origin_secret, max_body_bytes=app.max_body_bytes,
        hosted_zone_id=dns.zone_id,
        settings=s.cdn, protect=prod, force_destroy=not prod, tags=tags))

    # Each tier says what to watch; the alarms page on it and draw the dashboard.
    alarms = Alarms(prefix, AlarmsArgs(
        watches=[*database.watches(s.alarms), *cache.watches(s.alarms), *cdn.watches(s.alarms),
                 *cluster.watches(s.alarms)],
        cdn_domain=cdn.viewer_domain,
        settings=s.alarms, protect=prod, tags=tags))

    backups = Backups(prefix, BackupsArgs(
        database_arn=database.primary_arn, assets_bucket_arn=cdn.assets_bucket_arn,
        notification_topic_arn=alarms.topic_arn,
        settings=s.backups, protect=prod, tags=tags))

    _export(s, network=network, recovery=recovery, cluster=cluster, database=database, pgbouncer=pgbouncer,
            cache=cache, app=app, cdn=cdn, alarms=alarms, backups=backups)


def _standby(s: Settings, recovery: Network | None) -> dict[str, Any]:
    """Where the cross-region standby lives: the recovery VPC (its own subnet group, the VPC's range
    admitted); nothing without one."""
    if recovery is None:
        return {}
    return dict(dr_region=s.dr.region, dr_vpc_id=recovery.vpc_id, dr_subnet_ids=recovery.private_subnet_ids,
                dr_allowed_cidrs=[recovery.vpc_cidr])


def _export(s: Settings, *, network: Network, recovery: Network | None, cluster: Cluster, database: Database,
            pgbouncer: PgBouncer, cache: Cache, app: App, cdn: Cdn, alarms: Alarms, backups: Backups) -> None:
    """The stack's outputs: what operations (promote, dr, preflight) and people read from it."""
    cap = capacity(s)
    outputs: dict[str, Any] = {
        "environment": s.environment,
        "region": s.region,
        "vpcId": network.vpc_id,
        "privateSubnetIds": network.private_subnet_ids,
        "publicSubnetIds": network.public_subnet_ids,
        "clusterName": cluster.cluster_name,
        "clusterEndpoint": cluster.endpoint,
        "databasePrimaryIdentifier": database.primary_identifier,
        "databasePrimaryEndpoint": database.primary_address,
        "databaseReplicaIdentifiers": database.replica_identifiers,
        "databaseCrossRegionReplicaIdentifier": database.cross_region_replica_identifier,
        "recoveryVpcId": recovery.vpc_id if recovery else None,
        "pgbouncerServiceHost": pgbouncer.service_host,
        "redisPrimaryEndpoint": cache.primary_endpoint,
        "appImage": app.image,
        "appServiceName": app.service_name,
        "appLoadBalancerHostname": app.load_balancer_hostname,
        "appOriginHostname": app.origin_hostname,
        "cdnDomainName": cdn.domain_name,
        "cdnDistributionId": cdn.distribution_id,
        "assetsBucketName": cdn.assets_bucket_name,
        "alarmTopicArn": alarms.topic_arn,
        "dashboardName": alarms.dashboard_name,
        "backupVaultArn": backups.vault_arn,
        "drBackupVaultArn": backups.dr_vault_arn,
        "backupPlanId": backups.plan_id,
        "connectionBudget": connection_budget(s).model_dump(exclude={"problems"}),
        "capacity": cap.model_dump(exclude={"problems"}) if cap is not None else None,
    }
    for key, value in outputs.items():
        pulumi.export(key, value)
