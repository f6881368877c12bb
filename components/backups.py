"""Components room: the recovery material, kept where a regional disaster cannot reach it.

AWS Backup takes daily (and optionally monthly) recovery points of the database and the
static-assets bucket into a KMS-encrypted vault, with continuous backup for point-in-time
restore, and copies them to a vault in the DR region. A vault lock stops anyone (an
attacker with admin rights included) from deleting recovery points early. RDS
automated-backup replication keeps point-in-time restore possible in the DR region, a
restore testing plan proves every month that the backups actually restore, and failed
or aborted backup, copy and restore jobs reach the alarm topic through EventBridge.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import kms
from components.base import Component
from components.placement import locate, region_kw
from components.settings import BackupAndDrSettings

MANAGED_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)
# UTC; after the RDS backup window (03:00-04:00) so the two do not compete.
DAILY_SCHEDULE = "cron(0 5 * * ? *)"
MONTHLY_SCHEDULE = "cron(0 5 1 * ? *)"
# The first Monday of the month, 06:00 UTC.
RESTORE_TESTING_SCHEDULE = "cron(0 6 ? * 2#1 *)"
# None: governance mode (privileged users may still remove the lock). A number would be
# compliance mode, immutable for everyone, AWS included, once that many days have passed.
VAULT_LOCK_CHANGEABLE_DAYS: int | None = None


@dataclass
class BackupsArgs:
    """What to protect (wiring), for how long and where the copies go (the settings)."""

    # Wiring: the primary database (Database.primary_arn) and the static-assets bucket
    # (Cdn.assets_bucket_arn), if any.
    database_arn: pulumi.Input[str]
    # Retention, continuous backup, vault lock, restore tests (`berth:backup`); the DR region,
    # copies there and RDS automated-backup replication (`berth:dr`).
    settings: BackupAndDrSettings
    assets_bucket_arn: pulumi.Input[str] | None = None
    # Failed backup, copy and restore jobs are published here (Alarms.topic_arn).
    notification_topic_arn: pulumi.Input[str] | None = None
    # Vaults, their keys and locks are protected and retained on delete when true (and a vault then
    # keeps its recovery points on destroy: no force_destroy).
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    # Build in this region instead of the provider's (pulumi-aws v7 per-resource region).
    region: str | None = None

    def __post_init__(self) -> None:
        dr_region = self.settings.dr.region
        if dr_region is not None and dr_region == self.region:
            raise ValueError(f"dr_region ({dr_region}) must differ from region")


class Backups(Component):
    """Vaults (home and DR), backup plan and selection, replication, restore tests, alerts."""

    vault_arn: pulumi.Output[str]
    vault_name: pulumi.Output[str]
    dr_vault_arn: pulumi.Output[str] | None
    plan_id: pulumi.Output[str]
    selection_id: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    restore_testing_plan_name: pulumi.Output[str] | None
    automated_backups_replication_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags, protect=args.protect)
        s = args.settings
        self._args = args
        self._where = locate(self, args.region)

        vault = self._vault("vault", self._key("backup-key", self._where.region, self._where.kw), self._where.kw)
        self.vault_arn, self.vault_name = vault.arn, vault.name
        dr_key, dr_vault = None, None
        if s.dr.region:
            dr_key = self._key("backup-key-dr", s.dr.region, region_kw(s.dr.region))
            dr_vault = self._vault("vault-dr", dr_key, region_kw(s.dr.region))
        self.dr_vault_arn = dr_vault.arn if dr_vault is not None else None
        if s.backup.vault_lock:
            self._vault_lock("vault", vault, self._where.kw)
            if dr_vault is not None:
                self._vault_lock("vault-dr", dr_vault, region_kw(s.dr.region))
        role, attachments = self._role()
        plan = self._plan(vault, dr_vault if s.backup.copy_to_dr else None)
        self._selection(plan, role, attachments)
        self.automated_backups_replication_id = (
            self._automated_backups_replication(dr_key) if s.dr.automated_backup_replication else None
        )
        self.restore_testing_plan_name = (
            self._restore_testing(vault, role, attachments) if s.backup.restore_testing else None
        )
        if args.notification_topic_arn is not None:
            self._job_alerts()

        self.register_outputs({
            "vaultArn": self.vault_arn,
            "drVaultArn": self.dr_vault_arn,
            "planId": self.plan_id,
            "selectionId": self.selection_id,
            "roleArn": self.role_arn,
            "restoreTestingPlanName": self.restore_testing_plan_name,
            "automatedBackupsReplicationId": self.automated_backups_replication_id,
        })

    # ---- steps, in dependency order --------------------------------------------------------
    def _key(self, suffix: str, region: str, kw: dict[str, str]) -> aws.kms.Key:
        """A vault's key: RDS and AWS Backup use it on the account's behalf (grants for copies)."""
        w, logical = self._where, f"{self.prefix}-{suffix}"
        key = aws.kms.Key(
            logical,
            description=f"{self.prefix} AWS Backup vault ({region})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=kms.key_policy(
                kms.account_admin(w.partition, w.account),
                {"Sid": "ServicesInAccount", "Effect": "Allow", "Principal": {"AWS": "*"},
                 "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                            "kms:DescribeKey", "kms:CreateGrant"],
                 "Resource": "*",
                 "Condition": {"StringEquals": {"kms:CallerAccount": w.account},
                               "StringLike": {"kms:ViaService": [f"backup.{region}.amazonaws.com",
                                                                 f"rds.{region}.amazonaws.com"]}}},
            ),
            tags=self.named(suffix),
            opts=self.stateful(),
            **kw,
        )
        aws.kms.Alias(f"{logical}-alias", name=f"alias/{logical}", target_key_id=key.key_id, opts=self.child(), **kw)
        return key

    def _vault(self, suffix: str, key: aws.kms.Key, kw: dict[str, str]) -> aws.backup.Vault:
        logical = f"{self.prefix}-{suffix}"
        return aws.backup.Vault(
            logical,
            name=logical,
            kms_key_arn=key.arn,
            force_destroy=not self.protected,
            tags=self.named(suffix),
            opts=self.stateful(),
            **kw,
        )

    def _vault_lock(self, suffix: str, vault: aws.backup.Vault, kw: dict[str, str]) -> None:
        b = self._args.settings.backup
        aws.backup.VaultLockConfiguration(
            f"{self.prefix}-{suffix}-lock",
            backup_vault_name=vault.name,
            min_retention_days=b.vault_lock_min_days,
            max_retention_days=b.vault_lock_max_days,
            changeable_for_days=VAULT_LOCK_CHANGEABLE_DAYS,
            opts=self.stateful(),
            **kw,
        )

    def _role(self) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
        """The role AWS Backup runs jobs and restore tests as: AWS's managed policies for both."""
        name = self.prefix
        role = aws.iam.Role(
            f"{name}-backup-role",
            description=f"{name}: AWS Backup jobs and restore tests",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
                               "Action": "sts:AssumeRole"}],
            }),
            tags=self.named("backup-role"),
            opts=self.child(),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-backup-role-{_slug(p)}",
                role=role.name,
                policy_arn=f"arn:{self._where.partition}:iam::aws:policy/{p}",
                opts=self.child(),
            )
            for p in MANAGED_POLICIES
        ]
        self.role_arn = role.arn
        return role, attachments

    def _plan(self, vault: aws.backup.Vault, copy_to: aws.backup.Vault | None) -> aws.backup.Plan:
        """Daily (continuous) and optionally monthly rules, each copied to `copy_to` if given."""
        name, args, b = self.prefix, self._args, self._args.settings.backup

        def copy_actions(days: int) -> list[aws.backup.PlanRuleCopyActionArgs] | None:
            if copy_to is None:
                return None
            return [aws.backup.PlanRuleCopyActionArgs(
                destination_vault_arn=copy_to.arn,
                lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=days),
            )]

        rules = [aws.backup.PlanRuleArgs(
            rule_name="daily",
            target_vault_name=vault.name,
            schedule=DAILY_SCHEDULE,
            start_window=60,
            completion_window=360,
            enable_continuous_backup=b.continuous,
            lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=b.daily_retention_days),
            copy_actions=copy_actions(b.daily_retention_days),
            recovery_point_tags={**args.tags, "BackupRule": "daily"},
        )]
        if b.monthly_retention_days:
            rules.append(aws.backup.PlanRuleArgs(
                rule_name="monthly",
                target_vault_name=vault.name,
                schedule=MONTHLY_SCHEDULE,
                start_window=60,
                completion_window=720,
                lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=b.monthly_retention_days),
                copy_actions=copy_actions(b.monthly_retention_days),
                recovery_point_tags={**args.tags, "BackupRule": "monthly"},
            ))
        plan = aws.backup.Plan(f"{name}-plan", name=f"{name}-plan", rules=rules, tags=self.named("plan"),
                               opts=self.child(), **self._where.kw)
        self.plan_id = plan.id
        return plan

    def _selection(self, plan: aws.backup.Plan, role: aws.iam.Role,
                   attachments: list[aws.iam.RolePolicyAttachment]) -> None:
        args = self._args
        resources = [args.database_arn] + ([args.assets_bucket_arn] if args.assets_bucket_arn is not None else [])
        selection = aws.backup.Selection(
            f"{self.prefix}-selection",
            name=f"{self.prefix}-selection",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=resources,
            # The role must carry its policies before the first job assumes it.
            opts=self.child(depends_on=attachments),
            **self._where.kw,
        )
        self.selection_id = selection.id

    def _automated_backups_replication(self, dr_key: aws.kms.Key | None) -> pulumi.Output[str]:
        """RDS's own automated backups, replicated into the DR region (point-in-time restore there)."""
        dr = self._args.settings.dr
        assert dr_key is not None  # BackupAndDrSettings: replication needs dr.region, which made the key
        replication = aws.rds.InstanceAutomatedBackupsReplication(
            f"{self.prefix}-rds-backup-replication",
            source_db_instance_arn=self._args.database_arn,
            kms_key_id=dr_key.arn,
            retention_period=dr.automated_backup_retention_days,
            region=dr.region,
            opts=self.child(),
        )
        return replication.id

    def _restore_testing(self, vault: aws.backup.Vault, role: aws.iam.Role,
                         attachments: list[aws.iam.RolePolicyAttachment]) -> pulumi.Output[str]:
        """Every month AWS Backup restores the latest recovery points and checks they come up."""
        args, kw = self._args, self._where.kw
        # Restore testing names allow letters, digits and underscores only.
        plan_name = re.sub(r"[^A-Za-z0-9_]", "_", f"{self.prefix}_monthly_restore_test")[:50]
        plan = aws.backup.RestoreTestingPlan(
            f"{self.prefix}-restore-testing",
            name=plan_name,
            schedule_expression=RESTORE_TESTING_SCHEDULE,
            schedule_expression_timezone="Etc/UTC",
            start_window_hours=24,
            recovery_point_selection={
                "algorithm": "LATEST_WITHIN_WINDOW",
                "include_vaults": [vault.arn],
                "recovery_point_types": ["SNAPSHOT", "CONTINUOUS"],
                "selection_window_days": 31,
            },
            tags=self.named("restore-testing"),
            opts=self.child(),
            **kw,
        )
        aws.backup.RestoreTestingSelection(
            f"{self.prefix}-restore-testing-rds",
            name=re.sub(r"[^A-Za-z0-9_]", "_", "database")[:50],
            restore_testing_plan_name=plan.name,
            protected_resource_type="RDS",
            protected_resource_arns=[args.database_arn],
            iam_role_arn=role.arn,
            validation_window_hours=4,
            opts=self.child(depends_on=attachments),
            **kw,
        )
        if args.assets_bucket_arn is not None:
            aws.backup.RestoreTestingSelection(
                f"{self.prefix}-restore-testing-s3",
                name="static_assets",
                restore_testing_plan_name=plan.name,
                protected_resource_type="S3",
                protected_resource_arns=[args.assets_bucket_arn],
                iam_role_arn=role.arn,
                validation_window_hours=4,
                opts=self.child(depends_on=attachments),
                **kw,
            )
        return plan.name

    def _job_alerts(self) -> None:
        """Failed, aborted or expired backup/copy/restore jobs page the alarm topic."""
        name, args, kw = self.prefix, self._args, self._where.kw
        rule = aws.cloudwatch.EventRule(
            f"{name}-backup-job-failures",
            name=f"{name}-backup-job-failures",
            description="AWS Backup backup, copy and restore jobs that failed, aborted or expired",
            event_pattern=json.dumps({
                "source": ["aws.backup"],
                "detail-type": ["Backup Job State Change", "Copy Job State Change", "Restore Job State Change"],
                "detail": {"state": ["FAILED", "ABORTED", "EXPIRED"]},
            }),
            tags=self.named("backup-job-failures"),
            opts=self.child(),
            **kw,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-backup-job-failures-topic",
            rule=rule.name,
            arn=args.notification_topic_arn,
            target_id="alarm-topic",
            input_transformer={
                "input_paths": {"type": "$.detail-type", "state": "$.detail.state",
                                "resource": "$.detail.resourceArn", "region": "$.region",
                                "job": "$.detail.backupJobId", "time": "$.time"},
                "input_template": (
                    '"AWS Backup: <type> is <state> for <resource> in <region> at <time> (job <job>)"'
                ),
            },
            retry_policy={"maximum_retry_attempts": 10, "maximum_event_age_in_seconds": 86400},
            opts=self.child(),
            **kw,
        )


def _slug(policy: str) -> str:
    return policy.rsplit("/", 1)[-1].removeprefix("AWSBackupServiceRolePolicy").lower()
