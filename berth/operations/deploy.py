"""Operations room: real deployments through the Pulumi Automation API.

`up`, `preview_cloud` and `destroy` drive the Pulumi CLI on this repository's program
(`LocalWorkspace` with `work_dir` = the repo) with the policy pack attached, exactly as
`pulumi up --policy-pack policy -s STACK` would. Before anything touches a backend or a
cloud, `preflight` checks what a real deployment needs -- the Pulumi CLI (and the
Automation API's version check), a Pulumi backend login, AWS credentials that STS accepts,
the policy pack, the stack's config file and that it validates -- and refuses with one
message naming everything missing and how to fix it. Nothing is created, selected or
written before the preflight passes.

Operations never import a component: they read config files and stack outputs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from berth.operations import adopt, quotas
from berth.operations import preflight as placeholders
from berth.operations.errors import Confirm, OpsError, Printer
from berth.operations.stackfile import REPO, StackFile
from embedded_cloud import EmbeddedCloud, Graph, run_isolated
from stacks.config import ClusterSettings

POLICY_PACK_DIR = "policy"
INSTALL_PULUMI = "install the Pulumi CLI: curl -fsSL https://get.pulumi.com | sh (then add ~/.pulumi/bin to PATH)"
SET_AWS = (
    "set AWS credentials: AWS_PROFILE (a profile from ~/.aws/config, e.g. after `aws sso login`) or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary credentials)"
)
LOGIN_PULUMI = (
    "log in to a Pulumi backend: `pulumi login` (Pulumi Cloud; or set PULUMI_ACCESS_TOKEN), "
    "`pulumi login s3://<bucket>` or `pulumi login --local`"
)

@dataclass
class Preflight:
    """What a real deployment needs, and what is missing."""

    problems: list[str] = field(default_factory=list)
    pulumi: str | None = None
    pulumi_version: str | None = None
    aws_identity: str | None = None
    aws_arn: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def refusal(self, action: str) -> OpsError:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return OpsError(f"cannot {action}: nothing was changed.\n{lines}")


def _check_pulumi(pf: Preflight) -> None:
    exe = shutil.which("pulumi")
    if exe is None:
        pf.problems.append(f"the Pulumi CLI is not installed (no `pulumi` on PATH): {INSTALL_PULUMI}")
        return
    pf.pulumi = exe
    # Lazy: the Automation API costs ~0.7 s to import (python -X importtime -c "import pulumi.automation"),
    # which every `berth` command would pay; only real deployments need it.
    from pulumi.automation._cmd import PulumiCommand

    try:
        # The Automation API's own check: the CLI runs and is new enough for this SDK.
        cmd = PulumiCommand(root=str(Path(exe).resolve().parent.parent))
    except Exception as exc:  # any failure means the CLI is unusable
        pf.problems.append(f"the Pulumi CLI at {exe} is unusable ({exc}); {INSTALL_PULUMI}")
        return
    pf.pulumi_version = str(cmd.version) if cmd.version else None
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    try:
        who = subprocess.run([exe, "whoami"], capture_output=True, text=True, timeout=60, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pf.problems.append(f"`pulumi whoami` failed ({exc}); {LOGIN_PULUMI}")
        return
    if who.returncode != 0:
        detail = (who.stderr or who.stdout).strip().splitlines()
        pf.problems.append(f"not logged in to a Pulumi backend ({detail[-1] if detail else 'pulumi whoami failed'}); "
                           f"{LOGIN_PULUMI}")


def regional_session(region: str | None) -> boto3.session.Session:
    """A session whose STS client uses `region`'s own endpoint (sts.REGION.amazonaws.com), never
    the global one (sts.amazonaws.com, served from us-east-1), whatever AWS_STS_REGIONAL_ENDPOINTS
    or the profile say: a preflight must not depend on a region other than the one it deploys to."""
    core = botocore.session.get_session()
    core.set_config_variable("sts_regional_endpoints", "regional")
    return boto3.session.Session(botocore_session=core, region_name=region)


def sts_client(session: boto3.session.Session) -> Any:
    """STS of the session's region, one attempt: a preflight reports, it does not wait."""
    return session.client("sts", config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10))


def _check_aws(pf: Preflight, region: str | None) -> None:
    session = regional_session(region)
    creds = session.get_credentials()
    if creds is None:
        pf.problems.append(f"no AWS credentials found: {SET_AWS}")
        return
    try:
        sts = sts_client(session)
        ident = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        pf.problems.append(f"the AWS credentials found ({creds.method}) were not accepted by STS ({exc}): {SET_AWS}")
        return
    pf.aws_identity = f"{ident.get('Arn')} (account {ident.get('Account')})"
    pf.aws_arn = str(ident.get("Arn") or "")


def preflight(stack: StackFile, *, need_aws: bool = True, real_config: bool = False,
              aws_region: str | None = None) -> Preflight:
    """Check everything a real deployment of `stack` needs; never changes anything.

    `real_config` also refuses config that cannot be real (berth/operations/preflight.py:
    documentation ranges, example accounts and hosts, images whose digest the registry does not hold).
    `aws_region`: where the credentials are checked (default the stack's region); a DR rebuild
    checks them in the DR region, as the source region may be the one that is down.
    """
    pf = Preflight()
    try:
        stack.settings  # noqa: B018 - parsed for its refusal
    except OpsError as exc:
        pf.problems.append(exc.message)
    if real_config:
        found = placeholders.check(stack.name, stack.config).findings
        pf.problems += [f"{stack.path.name} cannot deploy as is: {f}" for f in found]
    repo = stack.path.parent
    if not (repo / POLICY_PACK_DIR / "PulumiPolicy.yaml").exists():
        pf.problems.append(f"the policy pack is missing: {repo / POLICY_PACK_DIR / 'PulumiPolicy.yaml'} does not exist")
    _check_pulumi(pf)
    if need_aws:
        _check_aws(pf, aws_region or stack.region)
        if pf.aws_arn:
            with contextlib.suppress(OpsError):  # a config that does not parse is a problem already
                problem = cluster_access_problem(pf.aws_arn, stack.settings.cluster)
                if problem:
                    pf.problems.append(problem)
        if real_config and pf.aws_arn and not pf.problems:
            # What `berth preflight` checks of the account, before an `up` that would otherwise stop
            # half-way (AddressLimitExceeded, a vCPU limit): only once everything else passes, as it
            # needs an offline run of the program (~10 s) when build/STACK/quotas.json is stale.
            fit = quotas.account_check(quotas.for_config(stack.name, stack.config, repo / "build"), aws_clients())
            pf.problems += [f"{stack.name} will not fit the account's quotas: {f}" for f in fit.findings]
            pf.warnings += fit.warnings
    return pf


def aws_clients() -> quotas.ClientFactory:
    """`(service, region) -> client` on the credentials `_check_aws` accepted."""
    session = boto3.session.Session()
    return lambda service, region: session.client(service, region_name=region)


def role_of(caller_arn: str) -> str | None:
    """The IAM role ARN behind an STS caller ARN (assumed-role session or the role itself), else None."""
    m = re.match(r"^arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/.+$", caller_arn)
    if m:
        return f"arn:{m[1]}:iam::{m[2]}:role/{m[3]}"
    return caller_arn if re.match(r"^arn:aws[\w-]*:iam::\d{12}:role/.+$", caller_arn) else None


def cluster_access_problem(caller_arn: str, cluster: ClusterSettings) -> str | None:
    """Why the identity running `pulumi up` could not drive the stack's Kubernetes resources, or None.

    The Kubernetes provider authenticates as this identity (`aws eks get-token` in its kubeconfig),
    and the cluster grants access only through its declared entries: the CI role and the admin
    roles hold cluster admin; anyone else (a read-only role, a user, another role) would see every
    Kubernetes call Unauthorized, late, after the AWS resources were made. STS reports an assumed
    role without its IAM path, so roles compare by account and name."""
    if cluster.existing:
        return None
    admins = [a for a in [cluster.ci_role_arn, *cluster.admin_role_arns] if a]

    def key(arn: str) -> tuple[str, str]:
        parts = arn.split(":")
        return parts[4], arn.rsplit("/", 1)[-1]

    role = role_of(caller_arn)
    if role is not None and key(role) in {key(a) for a in admins}:
        return None
    return (f"{caller_arn} has no cluster-admin access entry on this stack's cluster (berth:cluster.ciRoleArn and "
            f"adminRoleArns: {', '.join(admins) or 'none'}): its Kubernetes resources would be refused as "
            "Unauthorized; run as the CI deploy role (or an admin role), or add this role to adminRoleArns")


def tools(region: str | None, *, need_aws: bool = True) -> Preflight:
    """What any real Pulumi run needs, whatever the project: the CLI, a backend login, AWS credentials."""
    pf = Preflight()
    _check_pulumi(pf)
    if need_aws:
        _check_aws(pf, region)
    return pf


def workspace_stack(stack: StackFile) -> Any:
    """The Automation API's stack for this file (created or selected in its directory)."""
    from pulumi import automation as auto  # lazy: ~0.7 s to import, see _check_pulumi

    return auto.create_or_select_stack(stack_name=stack.name, work_dir=str(stack.path.parent))


def _policy_packs(repo: Path) -> list[str]:
    return [str(repo / POLICY_PACK_DIR)]


def require(stack: StackFile, action: str, need_aws: bool = True, real_config: bool = False,
            aws_region: str | None = None) -> Preflight:
    """The preflight, refusing (OpsError naming every problem) unless it passes."""
    pf = preflight(stack, need_aws=need_aws, real_config=real_config, aws_region=aws_region)
    if not pf.ok:
        raise pf.refusal(action)
    return pf


def preview_cloud(stack: StackFile, *, echo: Printer = print) -> Mapping[str, int]:
    """`pulumi preview -s STACK --policy-pack policy` against the real cloud; the change summary."""
    for warning in require(stack, f"preview {stack.name} against the cloud", real_config=True).warnings:
        echo(f"warning: {warning}")
    st = workspace_stack(stack)
    result = st.preview(policy_packs=_policy_packs(stack.path.parent), on_output=echo, diff=True)
    return {str(k): int(v) for k, v in (result.change_summary or {}).items()}


def up(
    stack: StackFile,
    *,
    yes: bool = False,
    confirm: Confirm | None = None,
    echo: Printer = print,
) -> Mapping[str, Any]:
    """Deploy `stack` for real with the policy pack attached; prod previews and asks first.

    Returns the stack outputs. Refuses (OpsError) before any work when the CLI, the backend
    login, AWS credentials, the policy pack or a valid config is missing.
    """
    for warning in require(stack, f"deploy {stack.name}", real_config=True).warnings:
        echo(f"warning: {warning}")
    st = workspace_stack(stack)
    packs = _policy_packs(stack.path.parent)
    # Before the preview, so what is approved is what runs (imports, then in-place updates).
    adopt_service_log_groups(stack, st, echo=echo)
    if stack.is_prod and not yes:
        st.preview(policy_packs=packs, on_output=echo, diff=True)
        if confirm is None or not confirm(f"Deploy these changes to production stack '{stack.name}'?"):
            raise OpsError(f"not deployed: {stack.name} was left as it is (pass --yes to skip the question)")
    result = st.up(policy_packs=packs, on_output=echo)
    return {k: v.value for k, v in result.outputs.items()}


def _log_group_exists(region: str | None, name: str) -> bool:
    logs = boto3.client("logs", region_name=region, config=Config(retries={"mode": "standard"}))
    found = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return any(g["logGroupName"] == name for g in found)


def _offline_graph(stack: StackFile) -> Graph:
    with EmbeddedCloud.serve() as cloud:
        return run_isolated(stack.name, endpoint_url=cloud.endpoint_url or "", config=stack.config, repo=REPO)


def adopt_service_log_groups(stack: StackFile, st: Any, *, echo: Printer = print,
                             exists: Any = _log_group_exists, graph: Graph | None = None) -> list[str]:
    """Import the service log groups AWS already made for a deployed stack that now declares them
    (berth/operations/adopt.py); a new stack has none to adopt. The names imported."""
    deployment = st.export_stack().deployment or {}
    managed, engines = adopt.state_of(deployment)
    graph = graph if graph is not None else _offline_graph(stack)
    todo = adopt.pending(adopt.service_log_groups(graph, engines), managed, lambda r, n: exists(r or stack.region, n))
    if not managed:
        # A new stack has no parent to import under; the program itself imports an adopted replica's
        # groups (components/database.py). Anything else is a leftover its create would collide with.
        restore = stack.settings.database.restore
        mine = f"/aws/rds/instance/{str(restore.replica_identifier).lower()}/" if restore and \
            restore.kind == "replica" else None
        left = [a.group for a in todo if not (mine and a.group.startswith(mine))]
        if left:
            raise OpsError(f"cannot deploy {stack.name}: log groups it would create already exist (left by an earlier "
                           f"stack of this name, or made by AWS): {', '.join(left)}. Delete them if their events "
                           "are not needed (aws logs delete-log-group --log-group-name NAME), or export them first; "
                           "nothing was changed")
        return []
    if not todo:
        return []
    resources, table = adopt.import_request(todo, stack.region)
    echo(f"adopting {len(todo)} log group(s) AWS made before {stack.name} declared them: "
         + ", ".join(a.group for a in todo))
    # Unprotected (the CLI's import protects by default): the `up` then applies the program's options.
    st.import_resources(message=f"berth: adopt {len(todo)} service log group(s)", resources=resources,
                        name_table=table, protect=False, generate_code=False, on_output=echo)
    return [a.group for a in todo]


def destroy(
    stack: StackFile,
    *,
    yes: bool = False,
    confirm: Confirm | None = None,
    echo: Printer = print,
) -> None:
    """Destroy every resource of `stack` (protected prod resources stay: Pulumi refuses them)."""
    require(stack, f"destroy {stack.name}")
    if not yes:
        what = "production " if stack.is_prod else ""
        if confirm is None or not confirm(f"Destroy every resource of {what}stack '{stack.name}'?"):
            raise OpsError(f"not destroyed: {stack.name} was left as it is (pass --yes to skip the question)")
    workspace_stack(stack).destroy(on_output=echo)


def remove_stack(stack: StackFile) -> None:
    """Remove the stack (its history and config) from the Pulumi backend, after a destroy."""
    workspace_stack(stack).workspace.remove_stack(stack.name)


def stack_outputs(stack: StackFile) -> dict[str, Any]:
    """The outputs of a deployed stack (from its Pulumi backend; needs the CLI, not AWS)."""
    require(stack, f"read the outputs of {stack.name}", need_aws=False)
    return {k: v.value for k, v in workspace_stack(stack).outputs().items()}
