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

MANAGED_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)
# Continuous backups (point-in-time restore) are kept at most 35 days by AWS Backup.
CONTINUOUS_MAX_DAYS = 35


@dataclass
class BackupsArgs:
    """What to protect, for how long, and where the copies go."""

    database_arn: pulumi.Input[str]
    assets_bucket_arn: pulumi.Input[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # Build in this region instead of the provider's (pulumi-aws v7 per-resource region).
    region: str | None = None
    daily_retention_days: int = 7
    monthly_retention_days: int | None = None
    continuous: bool = True
    # UTC; after the RDS backup window (03:00-04:00) so the two do not compete.
    daily_schedule: str = "cron(0 5 * * ? *)"
    monthly_schedule: str = "cron(0 5 1 * ? *)"
    vault_lock: bool = False
    vault_lock_min_days: int = 7
    vault_lock_max_days: int = 400
    # None: governance mode (privileged users may still remove the lock). A number: compliance
    # mode, immutable for everyone, AWS included, once that many days have passed.
    vault_lock_changeable_days: int | None = None
    dr_region: str | None = None
    copy_to_dr: bool = False
    automated_backup_replication: bool = False
    automated_backup_retention_days: int = 7
    restore_testing: bool = False
    restore_testing_schedule: str = "cron(0 6 ? * 2#1 *)"  # first Monday of the month, 06:00 UTC
    notification_topic_arn: pulumi.Input[str] | None = None
    # Vaults and keys get `protect` (and the vault keeps its recovery points on destroy).
    protect: bool = False

    def __post_init__(self) -> None:
        needs_dr = self.copy_to_dr or self.automated_backup_replication
        if needs_dr and not self.dr_region:
            raise ValueError("copy_to_dr and automated_backup_replication need dr_region")
        if self.dr_region is not None and self.dr_region == self.region:
            raise ValueError(f"dr_region ({self.dr_region}) must differ from region")
        if self.continuous and self.daily_retention_days > CONTINUOUS_MAX_DAYS:
            raise ValueError(
                f"continuous backups are kept at most {CONTINUOUS_MAX_DAYS} days; "
                f"daily_retention_days is {self.daily_retention_days}"
            )
        if self.vault_lock:
            longest = max(self.daily_retention_days, self.monthly_retention_days or 0)
            if not self.vault_lock_min_days <= self.daily_retention_days:
                raise ValueError("vault_lock_min_days must not exceed daily_retention_days")
            if longest > self.vault_lock_max_days:
                raise ValueError(f"vault_lock_max_days ({self.vault_lock_max_days}) is below the longest "
                                 f"retention ({longest} days)")


class Backups(pulumi.ComponentResource):
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
        super().__init__("berth:backups:Backups", name, None, opts)
        self._name = name
        self._args = args
        invoke_opts = pulumi.InvokeOptions(parent=self)
        self._account = aws.get_caller_identity(opts=invoke_opts).account_id
        self._partition = aws.get_partition(opts=invoke_opts).partition
        home = args.region or aws.get_region(opts=invoke_opts).region
        region_kw = {"region": args.region} if args.region else {}
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        child = pulumi.ResourceOptions(parent=self)

        key = self._key(f"{name}-backup-key", home, region_kw, stateful)
        vault = aws.backup.Vault(
            f"{name}-vault",
            name=f"{name}-vault",
            kms_key_arn=key.arn,
            force_destroy=not args.protect,
            tags=args.tags,
            opts=stateful,
            **region_kw,
        )
        self.vault_arn = vault.arn
        self.vault_name = vault.name
        vaults = [(f"{name}-vault", vault, region_kw)]

        self.dr_vault_arn = None
        dr_key = None
        dr_vault = None
        if args.dr_region:
            dr_kw = {"region": args.dr_region}
            dr_key = self._key(f"{name}-backup-key-dr", args.dr_region, dr_kw, stateful)
            dr_vault = aws.backup.Vault(
                f"{name}-vault-dr",
                name=f"{name}-vault-dr",
                kms_key_arn=dr_key.arn,
                force_destroy=not args.protect,
                tags=args.tags,
                opts=stateful,
                **dr_kw,
            )
            self.dr_vault_arn = dr_vault.arn
            vaults.append((f"{name}-vault-dr", dr_vault, dr_kw))

        if args.vault_lock:
            for logical, v, kw in vaults:
                aws.backup.VaultLockConfiguration(
                    f"{logical}-lock",
                    backup_vault_name=v.name,
                    min_retention_days=args.vault_lock_min_days,
                    max_retention_days=args.vault_lock_max_days,
                    changeable_for_days=args.vault_lock_changeable_days,
                    opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
                    **kw,
                )

        role = aws.iam.Role(
            f"{name}-backup-role",
            description=f"{name}: AWS Backup jobs and restore tests",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
                               "Action": "sts:AssumeRole"}],
            }),
            tags=args.tags,
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-backup-role-{_slug(p)}",
                role=role.name,
                policy_arn=f"arn:{self._partition}:iam::aws:policy/{p}",
                opts=child,
            )
            for p in MANAGED_POLICIES
        ]
        self.role_arn = role.arn

        copy = args.copy_to_dr and dr_vault is not None

        def copy_actions(days: int) -> list[aws.backup.PlanRuleCopyActionArgs] | None:
            if not copy:
                return None
            return [aws.backup.PlanRuleCopyActionArgs(
                destination_vault_arn=dr_vault.arn,  # type: ignore[union-attr]
                lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=days),
            )]

        rules = [aws.backup.PlanRuleArgs(
            rule_name="daily",
            target_vault_name=vault.name,
            schedule=args.daily_schedule,
            start_window=60,
            completion_window=360,
            enable_continuous_backup=args.continuous,
            lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=args.daily_retention_days),
            copy_actions=copy_actions(args.daily_retention_days),
            recovery_point_tags={**args.tags, "BackupRule": "daily"},
        )]
        if args.monthly_retention_days:
            rules.append(aws.backup.PlanRuleArgs(
                rule_name="monthly",
                target_vault_name=vault.name,
                schedule=args.monthly_schedule,
                start_window=60,
                completion_window=720,
                lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=args.monthly_retention_days),
                copy_actions=copy_actions(args.monthly_retention_days),
                recovery_point_tags={**args.tags, "BackupRule": "monthly"},
            ))
        plan = aws.backup.Plan(f"{name}-plan", name=f"{name}-plan", rules=rules, tags=args.tags, opts=child,
                               **region_kw)
        self.plan_id = plan.id

        resources = [args.database_arn] + ([args.assets_bucket_arn] if args.assets_bucket_arn is not None else [])
        selection = aws.backup.Selection(
            f"{name}-selection",
            name=f"{name}-selection",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=resources,
            # The role must carry its policies before the first job assumes it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
            **region_kw,
        )
        self.selection_id = selection.id

        self.automated_backups_replication_id = None
        if args.automated_backup_replication:
            assert dr_key is not None
            replication = aws.rds.InstanceAutomatedBackupsReplication(
                f"{name}-rds-backup-replication",
                source_db_instance_arn=args.database_arn,
                kms_key_id=dr_key.arn,
                retention_period=args.automated_backup_retention_days,
                region=args.dr_region,
                opts=child,
            )
            self.automated_backups_replication_id = replication.id

        self.restore_testing_plan_name = None
        if args.restore_testing:
            self.restore_testing_plan_name = self._restore_testing(vault, role, attachments, region_kw)

        if args.notification_topic_arn is not None:
            self._job_alerts(region_kw)

        self.register_outputs({
            "vaultArn": self.vault_arn,
            "drVaultArn": self.dr_vault_arn,
            "planId": self.plan_id,
            "selectionId": self.selection_id,
            "roleArn": self.role_arn,
            "restoreTestingPlanName": self.restore_testing_plan_name,
            "automatedBackupsReplicationId": self.automated_backups_replication_id,
        })

    def _key(self, logical: str, region: str, region_kw: dict[str, str],
             opts: pulumi.ResourceOptions) -> aws.kms.Key:
        key = aws.kms.Key(
            logical,
            description=f"{self._name} AWS Backup vault ({region})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=kms.key_policy(
                kms.account_admin(self._partition, self._account),
                # RDS and AWS Backup use the key on the account's behalf (grants for copies).
                {"Sid": "ServicesInAccount", "Effect": "Allow", "Principal": {"AWS": "*"},
                 "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                            "kms:DescribeKey", "kms:CreateGrant"],
                 "Resource": "*",
                 "Condition": {"StringEquals": {"kms:CallerAccount": self._account},
                               "StringLike": {"kms:ViaService": [f"backup.{region}.amazonaws.com",
                                                                 f"rds.{region}.amazonaws.com"]}}},
            ),
            tags=self._args.tags,
            opts=opts,
            **region_kw,
        )
        aws.kms.Alias(f"{logical}-alias", name=f"alias/{logical}", target_key_id=key.key_id,
                      opts=pulumi.ResourceOptions(parent=self), **region_kw)
        return key

    def _restore_testing(self, vault: aws.backup.Vault, role: aws.iam.Role,
                         attachments: list[aws.iam.RolePolicyAttachment], region_kw: dict[str, str]) -> pulumi.Output[str]:
        args = self._args
        child = pulumi.ResourceOptions(parent=self, depends_on=attachments)
        # Restore testing names allow letters, digits and underscores only.
        plan_name = re.sub(r"[^A-Za-z0-9_]", "_", f"{self._name}_monthly_restore_test")[:50]
        plan = aws.backup.RestoreTestingPlan(
            f"{self._name}-restore-testing",
            name=plan_name,
            schedule_expression=args.restore_testing_schedule,
            schedule_expression_timezone="Etc/UTC",
            start_window_hours=24,
            recovery_point_selection={
                "algorithm": "LATEST_WITHIN_WINDOW",
                "include_vaults": [vault.arn],
                "recovery_point_types": ["SNAPSHOT", "CONTINUOUS"],
                "selection_window_days": 31,
            },
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
            **region_kw,
        )
        aws.backup.RestoreTestingSelection(
            f"{self._name}-restore-testing-rds",
            name=re.sub(r"[^A-Za-z0-9_]", "_", "database")[:50],
            restore_testing_plan_name=plan.name,
            protected_resource_type="RDS",
            protected_resource_arns=[args.database_arn],
            iam_role_arn=role.arn,
            validation_window_hours=4,
            opts=child,
            **region_kw,
        )
        if args.assets_bucket_arn is not None:
            aws.backup.RestoreTestingSelection(
                f"{self._name}-restore-testing-s3",
                name="static_assets",
                restore_testing_plan_name=plan.name,
                protected_resource_type="S3",
                protected_resource_arns=[args.assets_bucket_arn],
                iam_role_arn=role.arn,
                validation_window_hours=4,
                opts=child,
                **region_kw,
            )
        return plan.name

    def _job_alerts(self, region_kw: dict[str, str]) -> None:
        """Failed, aborted or expired backup/copy/restore jobs page the alarm topic."""
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{name}-backup-job-failures",
            name=f"{name}-backup-job-failures",
            description="AWS Backup backup, copy and restore jobs that failed, aborted or expired",
            event_pattern=json.dumps({
                "source": ["aws.backup"],
                "detail-type": ["Backup Job State Change", "Copy Job State Change", "Restore Job State Change"],
                "detail": {"state": ["FAILED", "ABORTED", "EXPIRED"]},
            }),
            tags=args.tags,
            opts=child,
            **region_kw,
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
            opts=child,
            **region_kw,
        )


def _slug(policy: str) -> str:
    return policy.rsplit("/", 1)[-1].removeprefix("AWSBackupServiceRolePolicy").lower()
