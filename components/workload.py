"""Components room: what every workload berth runs on the cluster shares, written once: the
hardened container and pod security contexts (Kubernetes' restricted Pod Security Standard and
checkov's rules), and the trust policy of a role handed to pods by EKS Pod Identity.
"""

from __future__ import annotations

import json
from typing import Any

# Who may assume a Pod Identity role: the EKS Pod Identity agent, which also tags the session with
# the cluster, namespace and service account (sts:TagSession), so policies can condition on them.
POD_IDENTITY_TRUST_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                   "Action": ["sts:AssumeRole", "sts:TagSession"]}],
})


def hardened_container(uid: int) -> dict[str, Any]:
    """A container's security context: unprivileged `uid`, read-only root, no capabilities."""
    return {
        "allow_privilege_escalation": False,
        "privileged": False,
        "read_only_root_filesystem": True,
        "run_as_non_root": True,
        "run_as_user": uid,
        "run_as_group": uid,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def restricted_pod(uid: int) -> dict[str, Any]:
    """A pod's security context: every container as `uid`, volumes owned by it, RuntimeDefault seccomp."""
    return {
        "run_as_non_root": True,
        "run_as_user": uid,
        "run_as_group": uid,
        "fs_group": uid,
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def checkov_skips(*checks: tuple[str, str]) -> dict[str, str]:
    """checkov skip annotations for (check id, reason) pairs: each skip names its reason, on the
    object itself, so a reviewer of the manifest sees why."""
    return {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(checks, start=1)}
