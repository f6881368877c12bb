"""Components room: the KMS key-policy statements every component's keys share.

Each stateful tier owns its key (rotation on, 30-day deletion window); what differs is who
besides the account may use it. These build the statements so that the account-admin grant
and the CloudWatch Logs grant (scoped to one log group by encryption context) read the same
everywhere.
"""

from __future__ import annotations

import json
from typing import Any

LOGS_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]


def account_admin(partition: str, account_id: str) -> dict[str, Any]:
    """The account (through IAM) administers the key: without it the key can become unmanageable."""
    return {
        "Sid": "AccountAdmin",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def logs_for_group(partition: str, region: str, account_id: str, log_group_name: str,
                   *more: str) -> dict[str, Any]:
    """CloudWatch Logs in this region may use the key, for these log groups only (names may end in *)."""
    arns = [f"arn:{partition}:logs:{region}:{account_id}:log-group:{n}" for n in (log_group_name, *more)]
    return {
        "Sid": "CloudWatchLogs",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": LOGS_ACTIONS,
        "Resource": "*",
        "Condition": {
            "ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": arns[0] if len(arns) == 1 else arns
            }
        },
    }


def key_policy(*statements: dict[str, Any]) -> str:
    """A key policy document from statements."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
