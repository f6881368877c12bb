"""Operations room: `berth bootstrap` -- the account foundation (bootstrap/, project berth-bootstrap).

- `preview` runs the bootstrap program offline in the embedded cloud, the same runner as the platform's
  `berth preview` (embedded_cloud.runner.run_stack with the project directory bootstrap/), evaluates
  the policy pack and writes build/bootstrap/ (graph.json, graph.mmd, policy.json);
- `up` runs it for real through the Automation API (work_dir bootstrap/), then writes the runners'
  egress address into every platform stack the environments name (`berth:cluster.publicAccessCidrs`,
  ruamel round-trip, the entry commented as the bootstrap's) and returns the repository variables;
- `variables` turns the stack outputs (real, or the offline run's) into the repository variables
  the workflows read.

Why the platform stacks take the egress address as a written config value rather than through a
StackReference: the platform stays previewable offline and in pull requests without the bootstrap's
state or credentials to read it, the address a cluster admits shows in the reviewed diff of
Pulumi.<stack>.yaml, and review environments copy it with the rest of staging's config. It is still
typed by no one: `berth bootstrap up` writes it and `berth bootstrap check` fails when a stack lacks it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from berth.operations import deploy, render
from berth.operations.errors import Confirm, OpsError, Printer
from berth.operations.policy import Report, evaluate
from berth.operations.preflight import config_findings
from berth.operations.stackfile import REPO, StackFile, round_trip_yaml
from bootstrap import permissions
from bootstrap.inputs import BootstrapConfigError, BootstrapSettings, settings_from_config_map
from embedded_cloud import Graph, ProgramError, run_stack
from embedded_cloud.runner import config_from_text

BOOTSTRAP_DIR = REPO / "bootstrap"
LINK_COMMENT = "CI runners' egress (berth bootstrap)"
# Output -> repository variable the workflows read (README, "Delivery").
ROLE_VARIABLES = {
    "staging": "AWS_STAGING_ROLE_ARN",
    "production": "AWS_PROD_ROLE_ARN",
    "review": "AWS_REVIEW_ROLE_ARN",
    "dr": "AWS_DR_ROLE_ARN",
    "preview": "AWS_PREVIEW_ROLE_ARN",
}


@dataclass
class BootstrapFile:
    """bootstrap/Pulumi.<stack>.yaml: its config map and its validated settings."""

    name: str
    path: Path
    config: dict[str, Any]
    settings: BootstrapSettings

    @property
    def directory(self) -> Path:
        return self.path.parent


def stacks(directory: Path = BOOTSTRAP_DIR) -> list[str]:
    return sorted(p.name.split(".")[1] for p in directory.glob("Pulumi.*.yaml"))


def read(stack: str | None = None, directory: Path = BOOTSTRAP_DIR) -> BootstrapFile:
    """The bootstrap stack's file, validated (OpsError naming every bad key: nothing is run or created)."""
    known = stacks(directory)
    if stack is None:
        if len(known) != 1:
            raise OpsError(f"name the bootstrap stack: {directory} holds {', '.join(known) or 'no stack file'}")
        stack = known[0]
    path = directory / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise OpsError(
            f"no bootstrap stack '{stack}': {path} does not exist (stacks there: {', '.join(known) or 'none'})"
        )
    try:
        config = config_from_text(path.read_text(), path.name)
        settings = settings_from_config_map(stack, config)
    except (ProgramError, BootstrapConfigError) as exc:
        raise OpsError(str(exc)) from None
    return BootstrapFile(stack, path, config, settings)


@dataclass
class BootstrapPreview:
    file: BootstrapFile
    graph: Graph
    report: Report
    variables: dict[str, str]
    egress: str
    written: list[Path] = field(default_factory=list)


def run_offline(file: BootstrapFile) -> Graph:
    """Run the bootstrap program in this process (once per process) in a fresh embedded cloud."""
    try:
        return run_stack(file.name, config=file.config, repo=file.directory).graph
    except ProgramError as exc:
        raise OpsError(f"the bootstrap program failed for stack '{file.name}':\n{exc}") from None


def preview(stack: str | None, out: Path, directory: Path = BOOTSTRAP_DIR) -> BootstrapPreview:
    """Validate, run offline, evaluate the policy pack, write out/bootstrap/ and derive the variables."""
    file = read(stack, directory)
    graph = run_offline(file)
    report = evaluate(graph)
    written = render.write_build(graph, out / "bootstrap", policy=report.to_dict())
    return BootstrapPreview(file, graph, report, variables(graph.outputs), egress(graph.outputs), written)


def variables(outputs: dict[str, Any]) -> dict[str, str]:
    """The repository variables the workflows read (.github/workflows), from the bootstrap stack's outputs.
    The runner label needs none: the CodeBuild project's name is fixed (bootstrap.inputs.RUNNER_PROJECT)."""
    missing = [
        k for k in ("region", "roleArns", "imageRepositoryUrl", "runnerProject", "runnerEgressCidr") if k not in outputs
    ]
    if missing:
        raise OpsError(f"the bootstrap stack has no output(s) {', '.join(missing)}: run `berth bootstrap up` first")
    roles = outputs["roleArns"]
    out = {"AWS_REGION": str(outputs["region"])}
    out.update({var: str(roles[kind]) for kind, var in ROLE_VARIABLES.items()})
    out["APP_IMAGE_REPOSITORY"] = str(outputs["imageRepositoryUrl"])
    return out


def egress(outputs: dict[str, Any]) -> str:
    """The runners' one egress address (CIDR), which every platform stack's cluster endpoint admits."""
    if "runnerEgressCidr" not in outputs:
        raise OpsError("the bootstrap stack has no output runnerEgressCidr: run `berth bootstrap up` first")
    return str(outputs["runnerEgressCidr"])


# ---- the platform stacks admit the runners' egress -----------------------------------------------
def _bootstrap_entries(seq: CommentedSeq) -> list[int]:
    """Indexes of the list entries an earlier `berth bootstrap up` wrote (its comment marks them)."""
    out = []
    for i, comment in seq.ca.items.items():
        text = "".join(c.value for c in comment if c is not None and hasattr(c, "value"))
        if LINK_COMMENT in text:
            out.append(i)
    return sorted(out)


def link_text(text: str, cidr: str, source: str) -> str:
    """The stack file's text with `cidr` in berth:cluster.publicAccessCidrs (replacing the entry an
    earlier bootstrap wrote), comments and order kept."""
    y = round_trip_yaml()
    doc = y.load(text)
    config = doc.get("config") if isinstance(doc, CommentedMap) else None
    cluster = config.get("berth:cluster") if isinstance(config, CommentedMap) else None
    if not isinstance(cluster, CommentedMap):
        raise OpsError(f"{source} has no `berth:cluster` map to admit the runners' egress in")
    cidrs = cluster.get("publicAccessCidrs")
    if cidrs is None:
        cidrs = CommentedSeq()
        cluster["publicAccessCidrs"] = cidrs
    if not isinstance(cidrs, CommentedSeq):
        raise OpsError(f"{source}: berth:cluster.publicAccessCidrs must be a list, not {cidrs!r}")
    for i in reversed(_bootstrap_entries(cidrs)):
        if cidrs[i] != cidr:
            del cidrs[i]
            cidrs.ca.items.pop(i, None)
    if cidr not in cidrs:
        cidrs.append(cidr)
        cidrs.yaml_add_eol_comment(LINK_COMMENT, len(cidrs) - 1, column=0)
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()


# Which platform config key each environment kind's role goes to (in each stack the kind names): the
# deploy role holds the cluster's admin entry (berth:cluster.ciRoleArn), review environments are made
# from staging's config with its reviewCiRoleArn, a DR rebuild deploys as berth:dr.ciRoleArn, and the
# read-only preview role (pulumi-kubernetes reads the cluster during `preview`) gets a view entry.
ROLE_KEYS = {
    "staging": ("berth:cluster", "ciRoleArn"),
    "production": ("berth:cluster", "ciRoleArn"),
    "review": ("berth:cluster", "reviewCiRoleArn"),
    "dr": ("berth:dr", "ciRoleArn"),
}
ROLE_COMMENT = "berth bootstrap's role"


def role_assignments(file: BootstrapFile, role_arns: dict[str, str]) -> dict[str, dict[tuple[str, str], str]]:
    """stack -> {(area, key): role ARN} for every platform stack the environments name."""
    out: dict[str, dict[tuple[str, str], str]] = {}
    for kind, env in file.settings.environments.items():
        if kind in ROLE_KEYS and kind in role_arns:
            for stack in env.stacks:
                out.setdefault(stack, {})[ROLE_KEYS[kind]] = str(role_arns[kind])
    return out


def roles_text(text: str, assignments: dict[tuple[str, str], str], preview_role: str | None, source: str) -> str:
    """The stack file's text with each role ARN at its key (and the preview role among readOnlyRoleArns,
    once), comments and order kept."""
    y = round_trip_yaml()
    doc = y.load(text)
    config = doc.get("config") if isinstance(doc, CommentedMap) else None
    if not isinstance(config, CommentedMap):
        raise OpsError(f"{source} has no `config:` map")
    for (area, key), arn in assignments.items():
        block = config.get(area)
        if block is None:
            block = config[area] = CommentedMap()
        if not isinstance(block, CommentedMap):
            raise OpsError(f"{source}: {area} must be a map to take {key}")
        if block.get(key) != arn:
            block[key] = arn
            block.yaml_add_eol_comment(ROLE_COMMENT, key, column=0)
    if preview_role:
        cluster = config.get("berth:cluster")
        if isinstance(cluster, CommentedMap):
            viewers = cluster.get("readOnlyRoleArns")
            if viewers is None:
                viewers = cluster["readOnlyRoleArns"] = CommentedSeq()
            if preview_role not in viewers:
                viewers.append(preview_role)
                viewers.yaml_add_eol_comment(ROLE_COMMENT + " (preview)", len(viewers) - 1, column=0)
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()


def link_roles(file: BootstrapFile, role_arns: dict[str, str], config_dir: Path = REPO) -> list[Path]:
    """Write the bootstrap's roles into the platform stacks' files; the files that changed."""
    changed = []
    previewed = set(file.settings.environments["staging"].stacks) if "staging" in file.settings.environments else set()
    for name, assignments in sorted(role_assignments(file, role_arns).items()):
        sf = StackFile.read(name, config_dir)
        preview = str(role_arns["preview"]) if name in previewed and "preview" in role_arns else None
        new = roles_text(sf.text, assignments, preview, sf.path.name)
        if new != sf.text:
            sf.path.write_text(new)
            changed.append(sf.path)
    return changed


def unlinked_roles(file: BootstrapFile, role_arns: dict[str, str], config_dir: Path = REPO) -> list[str]:
    """`stack: key` for each role the platform stacks do not name as the bootstrap made it."""
    out = []
    for name, assignments in sorted(role_assignments(file, role_arns).items()):
        config = StackFile.read(name, config_dir).config
        for (area, key), arn in assignments.items():
            if (config.get(area) or {}).get(key) != arn:
                out.append(f"{name}: {area}.{key}")
    return out


def platform_stacks(file: BootstrapFile) -> list[str]:
    """The platform stacks the bootstrap's environments deploy (their files must admit the runners)."""
    return sorted({s for env in file.settings.environments.values() for s in env.stacks})


def unlinked(cidr: str, names: list[str], config_dir: Path = REPO) -> list[str]:
    """The platform stacks whose cluster endpoint does not admit the runners' egress address."""
    out = []
    for name in names:
        cluster = StackFile.read(name, config_dir).config.get("berth:cluster") or {}
        if cidr not in (cluster.get("publicAccessCidrs") or []):
            out.append(name)
    return out


def link(cidr: str, names: list[str], config_dir: Path = REPO) -> list[Path]:
    """Write the egress address into each named platform stack's file; the files that changed."""
    changed = []
    for name in names:
        sf = StackFile.read(name, config_dir)
        new = link_text(sf.text, cidr, sf.path.name)
        if new != sf.text:
            sf.path.write_text(new)
            changed.append(sf.path)
    return changed


# ---- for real -------------------------------------------------------------------------------------
def _require(file: BootstrapFile, action: str, need_aws: bool = True) -> None:
    problems = [f"{file.path.name} cannot deploy as is: {f}" for f in config_findings(file.config, is_prod=False)]
    pf = deploy.tools(file.settings.region, need_aws=need_aws)
    problems += pf.problems
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise OpsError(f"cannot {action}: nothing was changed.\n{lines}")


def _workspace(file: BootstrapFile) -> Any:
    from pulumi import automation as auto  # lazy: ~0.7 s to import (berth/operations/deploy.py)

    return auto.create_or_select_stack(stack_name=file.name, work_dir=str(file.directory))


@dataclass
class Applied:
    variables: dict[str, str]
    egress: str
    linked: list[Path]


def up(
    stack: str | None,
    *,
    yes: bool = False,
    confirm: Confirm | None = None,
    echo: Printer = print,
    directory: Path = BOOTSTRAP_DIR,
    config_dir: Path = REPO,
) -> Applied:
    """`pulumi up` of the bootstrap stack (policy pack attached), then the platform stacks admit its egress."""
    file = read(stack, directory)
    _require(file, f"bootstrap the account with {file.path.name}")
    st = _workspace(file)
    packs = [str(REPO / deploy.POLICY_PACK_DIR)]
    if not yes:
        st.preview(policy_packs=packs, on_output=echo, diff=True)
        if confirm is None or not confirm(f"Create or update the account foundation '{file.name}'?"):
            raise OpsError(
                f"not applied: bootstrap stack {file.name} was left as it is (pass --yes to skip the question)"
            )
    result = st.up(policy_packs=packs, on_output=echo)
    outs = {k: v.value for k, v in result.outputs.items()}
    cidr = egress(outs)
    linked = link(cidr, platform_stacks(file), config_dir)
    linked += [p for p in link_roles(file, dict(outs.get("roleArns") or {}), config_dir) if p not in linked]
    return Applied(variables(outs), cidr, linked)


def outputs(stack: str | None, directory: Path = BOOTSTRAP_DIR) -> dict[str, Any]:
    """The deployed bootstrap stack's outputs (needs the CLI and a backend login, not AWS)."""
    file = read(stack, directory)
    _require(file, f"read the outputs of bootstrap stack {file.name}", need_aws=False)
    return {k: v.value for k, v in _workspace(file).outputs().items()}


def custom_types(graph: Graph) -> list[str]:
    """The custom resource types a graph registers (what its deploy role must be able to make)."""
    return sorted({n.type for n in graph.nodes if n.custom})


def record_types(names: list[str], build_dir: Path, target: Path = permissions.STACK_TYPES_FILE) -> Path:
    """Write bootstrap/stack_types.json from build/STACK/graph.json of each named platform stack."""
    out: dict[str, list[str]] = {}
    for name in names:
        path = build_dir / name / "graph.json"
        if not path.exists():
            raise OpsError(f"{path} does not exist: run `berth preview {name}` first")
        out[name] = custom_types(Graph.read(path))
    target.write_text(json.dumps(out, indent=2) + "\n")
    return target
