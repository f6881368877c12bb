"""Bootstrap room: the account foundation the delivery pipeline deploys through.

Made once per AWS account by `berth bootstrap up` (its own Pulumi project, `berth-bootstrap`):

- the GitHub Actions OIDC provider (token.actions.githubusercontent.com, audience sts.amazonaws.com);
- a deploy role per environment kind (staging, production, review, dr), each assumable only by a job
  of this repository running in that GitHub environment (`sub` = repo:OWNER/REPO:environment:NAME,
  StringEquals, no wildcard), allowed the services its stacks' resource types need
  (bootstrap/permissions.py), and a read-only preview role for pull requests (`:pull_request`);
- the app's ECR repository: immutable tags, scan on push, a customer KMS key, untagged images expired;
- CodeBuild-hosted GitHub Actions runners in a VPC of their own whose only way out is one NAT gateway:
  its Elastic IP is the address every platform stack's cluster endpoint admits
  (`berth:cluster.publicAccessCidrs`), so a job on the runner label reaches the cluster API by
  construction, whichever host CodeBuild picks.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from bootstrap import permissions
from bootstrap.inputs import RUNNER_PROJECT, BootstrapSettings

OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
# A deploy outlives the 1-hour default session (a first prod `up` takes ~40 minutes, a review
# environment's destroy waits on EKS and RDS): the workflows ask for this much.
SESSION_SECONDS = 7200
# The pushes CI makes with the staging role (aws-actions/amazon-ecr-login, docker push).
ECR_PUSH = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
)
# What every role needs of the registry: the preflight's digest check, a promotion's pull.
ECR_READ = ("ecr:DescribeImages", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeRepositories")


def subject(repository: str, environment: str | None) -> str:
    """The `sub` claim GitHub puts in a job's OIDC token: per environment, or the pull request's."""
    return f"repo:{repository}:environment:{environment}" if environment else f"repo:{repository}:pull_request"


def trust_policy(provider_arn: str, repository: str, environment: str | None) -> str:
    """Only this repository's jobs in this environment (or its pull requests), for STS's audience."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{OIDC_HOST}:aud": AUDIENCE,
                            f"{OIDC_HOST}:sub": subject(repository, environment),
                        }
                    },
                }
            ],
        }
    )


def role_policy(actions: list[str], regions: list[str], repository_arn: str, *, push: bool) -> str:
    """A deploy (or preview) role's permissions: its services in its regions, and the registry."""
    registry = sorted({*ECR_READ, *(ECR_PUSH if push else ())})
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "StackServices",
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": regions}},
                },
                {"Sid": "Registry", "Effect": "Allow", "Action": registry, "Resource": repository_arn},
                # GetAuthorizationToken has no resource-level permission: AWS requires "*".
                {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            ],
        }
    )


@dataclass
class Foundation:
    oidc_provider: aws.iam.OpenIdConnectProvider
    roles: dict[str, aws.iam.Role]
    repository: aws.ecr.Repository
    runner_project: aws.codebuild.Project
    egress_ip: aws.ec2.Eip


def _subnets(cidr: str) -> list[str]:
    return [str(n) for n in list(ipaddress.ip_network(cidr).subnets(new_prefix=24))[:3]]


def build(s: BootstrapSettings) -> Foundation:
    """Register the whole foundation; outputs feed the workflows and the platform stacks."""
    tags = s.tags()
    root = pulumi.ComponentResource("berth:bootstrap:Foundation", "foundation", None)
    opts = pulumi.ResourceOptions(parent=root)

    provider = aws.iam.OpenIdConnectProvider(
        "github", url=f"https://{OIDC_HOST}", client_id_lists=[AUDIENCE], tags=tags, opts=opts
    )

    key = aws.kms.Key(
        "registry",
        description="berth: encrypts the app's images in ECR",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        tags=tags,
        opts=opts,
    )
    repository = aws.ecr.Repository(
        "app",
        name=s.registry.repository,
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=root, protect=True),
    )
    aws.ecr.LifecyclePolicy(
        "app-untagged",
        repository=repository.name,
        policy=json.dumps(
            {
                "rules": [
                    {
                        "rulePriority": 1,
                        "description": f"expire untagged images after {s.registry.untagged_expiry_days} days",
                        "selection": {
                            "tagStatus": "untagged",
                            "countType": "sinceImagePushed",
                            "countUnit": "days",
                            "countNumber": s.registry.untagged_expiry_days,
                        },
                        "action": {"type": "expire"},
                    }
                ]
            }
        ),
        opts=opts,
    )

    kinds: dict[str, tuple[str | None, list[str], bool]] = {
        kind: (env.github_environment, permissions.types_of(env.stacks), kind == "staging")
        for kind, env in s.environments.items()
    }
    every = permissions.types_of({st for env in s.environments.values() for st in env.stacks})
    roles: dict[str, aws.iam.Role] = {}
    for kind, (environment, types, push) in [*kinds.items(), ("preview", (None, every, False))]:
        actions = permissions.read_actions(types) if kind == "preview" else sorted(
            {*permissions.deploy_actions(types), *permissions.KIND_ACTIONS.get(kind, ())})
        role = aws.iam.Role(
            f"ci-{kind}",
            name=f"berth-ci-{kind}",
            description=(
                f"berth CI: {subject(s.repository, environment)}"
                + (" (read-only preview)" if kind == "preview" else "")
            ),
            assume_role_policy=provider.arn.apply(lambda arn, env=environment: trust_policy(arn, s.repository, env)),
            max_session_duration=SESSION_SECONDS,
            tags=tags,
            opts=opts,
        )
        aws.iam.RolePolicy(
            f"ci-{kind}",
            role=role.id,
            policy=repository.arn.apply(lambda arn, a=actions, p=push: role_policy(a, s.allowed_regions, arn, push=p)),
            opts=opts,
        )
        roles[kind] = role

    project, eip = _runners(s, tags, opts)
    return Foundation(provider, roles, repository, project, eip)


def _runners(s: BootstrapSettings, tags: dict[str, str], opts: pulumi.ResourceOptions) -> tuple[Any, Any]:
    r = s.runners
    zones = aws.get_availability_zones(state="available").names[:2]
    public_cidr, *private_cidrs = _subnets(r.vpc_cidr)
    vpc = aws.ec2.Vpc(
        "runners",
        cidr_block=r.vpc_cidr,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        tags={**tags, "Name": "berth-runners"},
        opts=opts,
    )
    igw = aws.ec2.InternetGateway("runners", vpc_id=vpc.id, tags=tags, opts=opts)
    public = aws.ec2.Subnet(
        "runners-public",
        vpc_id=vpc.id,
        cidr_block=public_cidr,
        availability_zone=zones[0],
        tags={**tags, "Name": "berth-runners-public"},
        opts=opts,
    )
    public_rt = aws.ec2.RouteTable("runners-public", vpc_id=vpc.id, tags=tags, opts=opts)
    aws.ec2.Route(
        "runners-public-default",
        route_table_id=public_rt.id,
        destination_cidr_block="0.0.0.0/0",
        gateway_id=igw.id,
        opts=opts,
    )
    aws.ec2.RouteTableAssociation("runners-public", subnet_id=public.id, route_table_id=public_rt.id, opts=opts)
    # The fixed egress: every runner leaves through this address. Protected: the clusters admit it.
    eip = aws.ec2.Eip(
        "runners-egress",
        domain="vpc",
        tags={**tags, "Name": "berth-runners-egress"},
        opts=pulumi.ResourceOptions(parent=opts.parent, protect=True, depends_on=[igw]),
    )
    nat = aws.ec2.NatGateway(
        "runners",
        allocation_id=eip.allocation_id,
        subnet_id=public.id,
        connectivity_type="public",
        tags=tags,
        opts=pulumi.ResourceOptions(parent=opts.parent, depends_on=[igw]),
    )
    private_rt = aws.ec2.RouteTable("runners-private", vpc_id=vpc.id, tags=tags, opts=opts)
    aws.ec2.Route(
        "runners-private-default",
        route_table_id=private_rt.id,
        destination_cidr_block="0.0.0.0/0",
        nat_gateway_id=nat.id,
        opts=opts,
    )
    private = []
    for i, (cidr, zone) in enumerate(zip(private_cidrs, zones, strict=True)):
        sn = aws.ec2.Subnet(
            f"runners-private-{i}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            tags={**tags, "Name": f"berth-runners-private-{i}"},
            opts=opts,
        )
        aws.ec2.RouteTableAssociation(f"runners-private-{i}", subnet_id=sn.id, route_table_id=private_rt.id, opts=opts)
        private.append(sn)
    # Runners only dial out (GitHub, package indexes, AWS APIs, the clusters): no ingress at all.
    sg = aws.ec2.SecurityGroup(
        "runners",
        vpc_id=vpc.id,
        description="berth CI runners: outbound HTTPS and HTTP only",
        egress=[
            {
                "protocol": "tcp",
                "from_port": p,
                "to_port": p,
                "cidr_blocks": ["0.0.0.0/0"],
                "description": f"outbound tcp/{p}",
            }
            for p in (443, 80)
        ],
        tags=tags,
        opts=opts,
    )

    logs = aws.cloudwatch.LogGroup(
        "runners", name=f"/aws/codebuild/{RUNNER_PROJECT}", retention_in_days=30, tags=tags, opts=opts
    )
    service_role = aws.iam.Role(
        "runners",
        name=f"{RUNNER_PROJECT}-service",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
        tags=tags,
        opts=opts,
    )
    subnet_arns = pulumi.Output.all(*[sn.arn for sn in private])
    aws.iam.RolePolicy(
        "runners",
        role=service_role.id,
        policy=pulumi.Output.all(logs.arn, subnet_arns).apply(
            lambda a: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "Logs",
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": [a[0], f"{a[0]}:*"],
                        },
                        # CodeBuild places each build's network interface in the VPC (no resource-level scoping
                        # exists for these describe/create calls but the permission below).
                        {
                            "Sid": "VpcInterfaces",
                            "Effect": "Allow",
                            "Resource": "*",
                            "Action": [
                                "ec2:CreateNetworkInterface",
                                "ec2:DescribeDhcpOptions",
                                "ec2:DescribeNetworkInterfaces",
                                "ec2:DeleteNetworkInterface",
                                "ec2:DescribeSubnets",
                                "ec2:DescribeSecurityGroups",
                                "ec2:DescribeVpcs",
                            ],
                        },
                        {
                            "Sid": "VpcInterfacePermission",
                            "Effect": "Allow",
                            "Action": "ec2:CreateNetworkInterfacePermission",
                            "Resource": f"arn:aws:ec2:{s.region}:*:network-interface/*",
                            "Condition": {
                                "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                                "ArnEquals": {"ec2:Subnet": a[1]},
                            },
                        },
                        {
                            "Sid": "GitHubConnection",
                            "Effect": "Allow",
                            "Resource": r.connection_arn,
                            "Action": [
                                "codeconnections:GetConnectionToken",
                                "codeconnections:GetConnection",
                                "codestar-connections:GetConnectionToken",
                                "codestar-connections:GetConnection",
                                "codeconnections:UseConnection",
                                "codestar-connections:UseConnection",
                            ],
                        },
                    ],
                }
            )
        ),
        opts=opts,
    )
    project = aws.codebuild.Project(
        "runners",
        name=RUNNER_PROJECT,
        description=f"GitHub Actions runners for {s.repository}, egress through one NAT address",
        service_role=service_role.arn,
        source={
            "type": "GITHUB",
            "location": f"https://github.com/{s.repository}.git",
            "auth": {"type": "CODECONNECTIONS", "resource": r.connection_arn},
        },
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "compute_type": r.compute_type,
            "image": r.image,
            "type": "LINUX_CONTAINER",
            "image_pull_credentials_type": "CODEBUILD",
            # No job on these runners builds images (that job only needs ECR, not a cluster).
            "privileged_mode": False,
        },
        vpc_config={"vpc_id": vpc.id, "subnets": [sn.id for sn in private], "security_group_ids": [sg.id]},
        logs_config={"cloudwatch_logs": {"group_name": logs.name, "status": "ENABLED"}},
        build_timeout=r.build_timeout_minutes,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=opts.parent, depends_on=[nat]),
    )
    aws.codebuild.Webhook(
        "runners",
        project_name=project.name,
        build_type="BUILD",
        filter_groups=[{"filters": [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]}],
        opts=opts,
    )
    return project, eip


def export(s: BootstrapSettings, f: Foundation) -> None:
    """The outputs `berth bootstrap` prints as repository variables and writes into the platform stacks."""
    pulumi.export("repository", s.repository)
    pulumi.export("region", s.region)
    pulumi.export("oidcProviderArn", f.oidc_provider.arn)
    pulumi.export("roleArns", {kind: role.arn for kind, role in f.roles.items()})
    pulumi.export("imageRepositoryUrl", f.repository.repository_url)
    pulumi.export("runnerProject", f.runner_project.name)
    pulumi.export("runnerEgressCidr", f.egress_ip.public_ip.apply(lambda ip: f"{ip}/32"))
