"""Components room: a workload's AWS identity on EKS, made one way -- ServiceAccount, IAM role, association.

EKS Pod Identity hands a pod the credentials of an IAM role when the pod's service account has an
association to it: so a workload that calls AWS gets a ServiceAccount, a role that only the Pod
Identity agent may assume (components/workload.py's trust policy), the role's inline policy when it
needs one, and the association. The resources are children of the owning component (their URNs
stay the owner's), named `<owner>-<suffix>` with the suffixes the owner passes.

The webhook injects credentials only into pods created after the association exists: whatever runs
the pods waits for `WorkloadIdentity.association` (and for the policy, when it must be readable
from the first call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import Component
from components.workload import POD_IDENTITY_TRUST_POLICY


@dataclass(frozen=True)
class IdentityNames:
    """The suffixes (after `<owner>-`) of the identity's resources' logical names."""

    service_account: str = "sa"
    role: str = "role"
    policy: str = "policy"
    association: str = "pod-identity"


@dataclass(frozen=True)
class WorkloadIdentity:
    service_account: k8s.core.v1.ServiceAccount
    role: aws.iam.Role
    policy: aws.iam.RolePolicy | None
    association: aws.eks.PodIdentityAssociation


def workload_identity(
    owner: Component,
    *,
    cluster_name: pulumi.Input[str],
    namespace: pulumi.Input[str],
    service_account: str,
    description: str,
    names: IdentityNames | None = None,
    policy: pulumi.Input[str] | None = None,
    automount_token: bool | None = False,
    association_waits_for_policy: bool = False,
    region_kw: Mapping[str, str] | None = None,
) -> WorkloadIdentity:
    """The ServiceAccount `service_account` (in `namespace`, with the owner's Kubernetes metadata)
    bound by an EKS Pod Identity association to a role described by `description`, with the inline
    `policy` if given.

    `automount_token`: the service account's automountServiceAccountToken (None leaves it unset: a
    workload that talks to the Kubernetes API). `association_waits_for_policy`: the association is
    made once the policy exists (a pod must not start with a role that may do nothing yet).
    `region_kw`: the association's per-resource region argument (IAM is global).
    """
    names = names or IdentityNames()
    sa_kw: dict[str, Any] = {} if automount_token is None else {"automount_service_account_token": automount_token}
    sa = k8s.core.v1.ServiceAccount(
        f"{owner.prefix}-{names.service_account}",
        metadata=owner.meta(service_account),
        opts=owner.k8s(),
        **sa_kw,
    )
    role = aws.iam.Role(
        f"{owner.prefix}-{names.role}",
        description=description,
        assume_role_policy=POD_IDENTITY_TRUST_POLICY,
        tags=owner.named(names.role),
        opts=owner.child(),
    )
    role_policy = None
    if policy is not None:
        role_policy = aws.iam.RolePolicy(f"{owner.prefix}-{names.policy}", role=role.id, policy=policy,
                                        opts=owner.child())
    waits_for: list[pulumi.Resource] = [sa]
    if association_waits_for_policy and role_policy is not None:
        waits_for.append(role_policy)
    association = aws.eks.PodIdentityAssociation(
        f"{owner.prefix}-{names.association}",
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role.arn,
        tags=owner.named(names.association),
        opts=owner.child(depends_on=waits_for),
        **dict(region_kw or {}),
    )
    return WorkloadIdentity(sa, role, role_policy, association)
