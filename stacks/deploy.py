"""Environment layer (operations): real deployments through the Pulumi Automation API.

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

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks.config import ConfigError, parse_settings, raw_from_config_map
from stacks.offline.runner import REPO, ProgramError, read_stack_config

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

try:  # typer vendors click: its main loop prints (no traceback) only its own copy's exceptions
    from typer._click.exceptions import ClickException as _CliError
except ImportError:  # pragma: no cover - typer releases that still use click itself
    from click import ClickException as _CliError

Confirm = Callable[[str], bool]
Printer = Callable[[str], None]


class OpsError(_CliError):
    """An operation refused or failed; the message says what and how to fix it.

    A click exception so that any `berth` command calling an operation (e.g. the lead's
    `preview --cloud`) prints the message without a traceback and exits 1.
    """

    exit_code = 1


@dataclass
class Preflight:
    """What a real deployment needs, and what is missing."""

    problems: list[str] = field(default_factory=list)
    pulumi: str | None = None
    pulumi_version: str | None = None
    aws_identity: str | None = None

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


def _check_aws(pf: Preflight, region: str | None) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.session.Session(region_name=region)
    creds = session.get_credentials()
    if creds is None:
        pf.problems.append(f"no AWS credentials found: {SET_AWS}")
        return
    try:
        sts = session.client("sts", config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10))
        ident = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        pf.problems.append(f"the AWS credentials found ({creds.method}) were not accepted by STS ({exc}): {SET_AWS}")
        return
    pf.aws_identity = f"{ident.get('Arn')} (account {ident.get('Account')})"


def _stack_config(stack: str, repo: Path) -> dict[str, Any]:
    try:
        return read_stack_config(stack, repo)
    except ProgramError as exc:
        raise OpsError(str(exc)) from None


def preflight(stack: str, repo: Path = REPO, *, need_aws: bool = True, real_config: bool = False) -> Preflight:
    """Check everything a real deployment of `stack` needs; never changes anything.

    `real_config` also refuses config that cannot be real (stacks/preflight.py: documentation
    ranges, example accounts and hosts, images whose digest the registry does not hold).
    """
    pf = Preflight()
    config: dict[str, Any] = {}
    try:
        config = read_stack_config(stack, repo)
    except ProgramError as exc:
        pf.problems.append(str(exc))
    else:
        try:
            parse_settings(stack, raw_from_config_map(config))
        except ConfigError as exc:
            pf.problems.append(str(exc))
        if real_config:
            from stacks import preflight as placeholders

            found = placeholders.check(stack, config).findings
            pf.problems += [f"Pulumi.{stack}.yaml cannot deploy as is: {f}" for f in found]
    if not (repo / POLICY_PACK_DIR / "PulumiPolicy.yaml").exists():
        pf.problems.append(f"the policy pack is missing: {repo / POLICY_PACK_DIR / 'PulumiPolicy.yaml'} does not exist")
    _check_pulumi(pf)
    if need_aws:
        region = config.get("aws:region")
        _check_aws(pf, region if isinstance(region, str) else None)
    return pf


def is_prod(stack: str, repo: Path = REPO) -> bool:
    """Whether a stack is production (prod, prod-dr...): its config says berth:environment: prod."""
    return _stack_config(stack, repo).get("berth:environment") == "prod"


def _workspace_stack(stack: str, repo: Path) -> Any:
    from pulumi import automation as auto

    return auto.create_or_select_stack(stack_name=stack, work_dir=str(repo))


def _policy_packs(repo: Path) -> list[str]:
    return [str(repo / POLICY_PACK_DIR)]


def _require(stack: str, repo: Path, action: str, need_aws: bool = True, real_config: bool = False) -> Preflight:
    pf = preflight(stack, repo, need_aws=need_aws, real_config=real_config)
    if not pf.ok:
        raise pf.refusal(action)
    return pf


def preview_cloud(stack: str, *, repo: Path = REPO, echo: Printer = print) -> Mapping[str, int]:
    """`pulumi preview -s STACK --policy-pack policy` against the real cloud; the change summary."""
    _require(stack, repo, f"preview {stack} against the cloud", real_config=True)
    st = _workspace_stack(stack, repo)
    result = st.preview(policy_packs=_policy_packs(repo), on_output=echo, diff=True)
    return {str(k): int(v) for k, v in (result.change_summary or {}).items()}


def up(
    stack: str,
    *,
    yes: bool = False,
    confirm: Confirm | None = None,
    repo: Path = REPO,
    echo: Printer = print,
) -> Mapping[str, Any]:
    """Deploy `stack` for real with the policy pack attached; prod previews and asks first.

    Returns the stack outputs. Refuses (OpsError) before any work when the CLI, the backend
    login, AWS credentials, the policy pack or a valid config is missing.
    """
    _require(stack, repo, f"deploy {stack}", real_config=True)
    st = _workspace_stack(stack, repo)
    if is_prod(stack, repo) and not yes:
        st.preview(policy_packs=_policy_packs(repo), on_output=echo, diff=True)
        if confirm is None or not confirm(f"Deploy these changes to production stack '{stack}'?"):
            raise OpsError(f"not deployed: {stack} was left as it is (pass --yes to skip the question)")
    result = st.up(policy_packs=_policy_packs(repo), on_output=echo)
    return {k: v.value for k, v in result.outputs.items()}


def destroy(
    stack: str,
    *,
    yes: bool = False,
    confirm: Confirm | None = None,
    repo: Path = REPO,
    echo: Printer = print,
) -> None:
    """Destroy every resource of `stack` (protected prod resources stay: Pulumi refuses them)."""
    _require(stack, repo, f"destroy {stack}")
    if not yes:
        what = "production " if is_prod(stack, repo) else ""
        if confirm is None or not confirm(f"Destroy every resource of {what}stack '{stack}'?"):
            raise OpsError(f"not destroyed: {stack} was left as it is (pass --yes to skip the question)")
    st = _workspace_stack(stack, repo)
    st.destroy(on_output=echo)


def stack_outputs(stack: str, *, repo: Path = REPO) -> dict[str, Any]:
    """The outputs of a deployed stack (from its Pulumi backend; needs the CLI, not AWS)."""
    _require(stack, repo, f"read the outputs of {stack}", need_aws=False)
    st = _workspace_stack(stack, repo)
    return {k: v.value for k, v in st.outputs().items()}
