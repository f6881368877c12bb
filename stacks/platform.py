"""Environment layer: the composition root. Reads like the architecture diagram.

One call per component, in dependency order; the outputs of one are the inputs of the
next. Nothing else happens here: settings come validated from stacks.config, and every
resource lives in a component.
"""

from __future__ import annotations

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
    dns = Dns(s.name_prefix, DnsArgs(settings=s.dns))

    network = Network(s.name_prefix, NetworkArgs(settings=s.network, tags=s.standard_tags))

    # The recovery VPC in the DR region: the standby database lives there, and a rebuild brings
    # the platform up in it (so the promoted database and the new cluster share one network).
    recovery = (
        Network(f"{s.name_prefix}-recovery",
                NetworkArgs(settings=s.recovery_network, region=s.dr.region, tags=s.standard_tags))
        if s.database.cross_region_replica
        else None
    )

    cluster = Cluster(s.name_prefix, ClusterArgs(
        vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids, existing_kubeconfig=existing_kubeconfig(s),
        settings=s.cluster, require_digest=s.is_prod, tags=s.standard_tags,
    ))

    # The standby replica lives in the recovery VPC (its own subnet group, the VPC's range admitted).
    standby = {} if recovery is None else dict(
        dr_region=s.dr.region, dr_vpc_id=recovery.vpc_id, dr_subnet_ids=recovery.private_subnet_ids,
        dr_allowed_cidrs=[recovery.vpc_cidr],
    )
    database = Database(s.name_prefix, DatabaseArgs(
        vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids, availability_zones=network.azs,
        allowed_security_group_ids=[cluster.node_security_group_id], **standby,
        settings=s.database, protect=s.is_prod, tags=s.standard_tags,
    ))

    # The logins of the app and of its migrations, made by a Job that alone reads RDS's master secret.
    roles = DatabaseRoles(s.name_prefix, DatabaseRolesArgs(
        provider=cluster.provider, namespace=cluster.namespace, cluster_name=cluster.cluster_name,
        primary_address=database.primary_address, database_port=database.port,
        database_name=database.database_name, database_cidr=network.vpc_cidr,
        master_secret_arn=database.master_user_secret_arn,
        master_secret_kms_key_arn=database.master_user_secret_kms_key_arn,
        settings=s.database_roles, require_digest=s.is_prod, tags=s.standard_tags,
    ))

    pgbouncer = PgBouncer(s.name_prefix, PgBouncerArgs(
        provider=cluster.provider, namespace=cluster.namespace,
        primary_address=database.primary_address, replica_addresses=database.replica_addresses,
        database_port=database.port, database_name=database.database_name, database_cidr=network.vpc_cidr,
        database_connection_limit=database.connection_limit,
        app_username=roles.app_username, app_password=roles.app_password,
        owner_username=roles.owner_username, owner_password=roles.owner_password, wait_for=[roles.job],
        settings=s.pgbouncer,
    ))

    cache = Cache(s.name_prefix, CacheArgs(
        vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids,
        allowed_security_group_ids=[cluster.node_security_group_id],
        settings=s.cache, protect=s.is_prod, tags=s.standard_tags,
    ))

    app = App(s.name_prefix, AppArgs(
        provider=cluster.provider, namespace=cluster.namespace, cluster_name=cluster.cluster_name,
        db_host=pgbouncer.service_host, db_port=pgbouncer.port, pgbouncer_pod_labels=pgbouncer.pod_labels,
        rw_database=pgbouncer.rw_database, ro_database=pgbouncer.ro_database,
        migration_database=pgbouncer.migrate_database, wait_for=[pgbouncer.deployment],
        db_username=roles.app_username, db_password=roles.app_password,
        migration_username=roles.owner_username, migration_password=roles.owner_password,
        redis_host=cache.primary_endpoint, redis_port=cache.port, redis_auth_token=cache.auth_token,
        redis_cidrs=[network.vpc_cidr], load_balancer_source_cidrs=[network.vpc_cidr],
        origin_domain=s.origin_domain, hosted_zone_id=dns.zone_id,
        settings=s.app, require_digest=s.is_prod, tags=s.standard_tags,
    ))

    cdn = Cdn(s.name_prefix, CdnArgs(
        app_origin_domain=app.origin_hostname, origin_secret=app.origin_secret, hosted_zone_id=dns.zone_id,
        max_body_bytes=app.max_body_bytes,
        settings=s.cdn, protect=s.is_prod, force_destroy=not s.is_prod, tags=s.standard_tags,
    ))

    alarms = Alarms(s.name_prefix, AlarmsArgs(
        database_primary_id=database.primary_identifier, database_replica_ids=database.replica_identifiers,
        database_cross_region_replica_id=database.cross_region_replica_identifier,
        database_dr_region=database.cross_region_replica_region,
        allocated_storage_gib=database.allocated_storage_gib, max_connections=database.max_connections,
        cache_member_ids=cache.member_cluster_ids, cache_node_count=cache.node_count,
        distribution_id=cdn.distribution_id, cdn_domain=cdn.viewer_domain,
        cluster_name=cluster.cluster_name, cluster_dependencies=[cluster.provider],
        install_container_insights=not cluster.existing,  # an existing cluster brings its own
        settings=s.alarms, protect=s.is_prod, tags=s.standard_tags,
    ))

    backups = Backups(s.name_prefix, BackupsArgs(
        database_arn=database.primary_arn, assets_bucket_arn=cdn.assets_bucket_arn,
        notification_topic_arn=alarms.topic_arn,
        settings=s.backups, protect=s.is_prod, tags=s.standard_tags,
    ))

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
    pulumi.export("recoveryVpcId", recovery.vpc_id if recovery else None)
    pulumi.export("pgbouncerServiceHost", pgbouncer.service_host)
    pulumi.export("redisPrimaryEndpoint", cache.primary_endpoint)
    pulumi.export("appImage", app.image)
    pulumi.export("appServiceName", app.service_name)
    pulumi.export("appLoadBalancerHostname", app.load_balancer_hostname)
    pulumi.export("appOriginHostname", app.origin_hostname)
    pulumi.export("cdnDomainName", cdn.domain_name)
    pulumi.export("cdnDistributionId", cdn.distribution_id)
    pulumi.export("assetsBucketName", cdn.assets_bucket_name)
    pulumi.export("alarmTopicArn", alarms.topic_arn)
    pulumi.export("dashboardName", alarms.dashboard_name)
    pulumi.export("backupVaultArn", backups.vault_arn)
    pulumi.export("drBackupVaultArn", backups.dr_vault_arn)
    pulumi.export("backupPlanId", backups.plan_id)
    pulumi.export("connectionBudget", connection_budget(s).model_dump(exclude={"problems"}))
    cap = capacity(s)
    pulumi.export("capacity", cap.model_dump(exclude={"problems"}) if cap is not None else None)
