"""Operations room: the app image a stack runs -- pin it, its history, roll it back.

`set_image(stack, ref)` pins a stack's `berth:app.image` to a digest reference (what CI does
after pushing an image: never a tag). `history(stack)` lists the images the stack was released
with, newest first: for real, from the Pulumi stack's update history (each successful update's
`berth:app` config); offline, from the git history of `Pulumi.<stack>.yaml`. `rollback()` returns
the stack to an earlier image (`steps` releases back, or `to` a digest it ran before) through the
promotion's gates except "the source runs it": the image is pinned by digest, it is in this
stack's history, the config still validates, and the stack with it passes the policy pack
offline. Only `berth:app.image` changes in the file; comments, order and quoting stay.
"""

from __future__ import annotations

import difflib
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from berth.operations import deploy
from berth.operations.errors import Confirm, OpsError, Printer
from berth.operations.policy import default_evaluator
from berth.operations.promote import deploy_offline, gate_policy, rewrite
from berth.operations.stackfile import REPO, StackFile
from embedded_cloud import ProgramError
from stacks.config import is_digest

IMAGE_KEY = "berth:app.image"


@dataclass
class Release:
    """One image a stack was released with, and where that fact comes from."""

    image: str
    source: str  # a git commit, or "update N" of the Pulumi stack
    when: str = ""


@dataclass
class Rollback:
    stack: str
    path: Path
    current: str
    target: str
    old_text: str
    new_text: str
    releases: list[Release]
    gates_passed: list[str] = field(default_factory=list)
    written: bool = False
    applied: bool = False


def _image_of(text: str) -> str | None:
    cfg = (yaml.safe_load(text) or {}).get("config") or {}
    app = cfg.get("berth:app")
    image = app.get("image") if isinstance(app, dict) else None
    return image if isinstance(image, str) else None


def current_image(stack: StackFile) -> str:
    """The image the stack file pins now."""
    app = stack.config.get("berth:app")
    image = app.get("image") if isinstance(app, dict) else None
    if not isinstance(image, str):
        raise OpsError(f"{stack.path.name} sets no {IMAGE_KEY}")
    return image


def set_image(stack: str, ref: str, *, config_dir: Path = REPO) -> tuple[str, str]:
    """Pin `berth:app.image` of a stack file to a digest reference; (old, new)."""
    if not is_digest(ref):
        raise OpsError(f"{IMAGE_KEY} = {ref!r}: a stack runs an image pinned by digest "
                       f"(repo/name@sha256:<64 hex>), never a tag")
    file = StackFile.read(stack, config_dir)
    old = current_image(file)
    if old != ref:
        file.path.write_text(rewrite(file.text, {IMAGE_KEY: ref}))
    return old, ref


def _distinct(releases: list[Release]) -> list[Release]:
    """Collapse consecutive entries with the same image (updates that changed something else)."""
    out: list[Release] = []
    for r in releases:
        if not out or out[-1].image != r.image:
            out.append(r)
    return out


def git_history(stack: StackFile) -> list[Release]:
    """Images in the committed versions of Pulumi.<stack>.yaml, newest first."""
    path = stack.path

    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(path.parent), *args], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise OpsError(f"cannot read the release history of {path.name} from git: {proc.stderr.strip()}")
        return proc.stdout

    top = Path(git("rev-parse", "--show-toplevel").strip())
    rel = path.resolve().relative_to(top.resolve()).as_posix()
    releases = []
    for line in git("log", "--format=%H %cI", "--", rel).splitlines():
        sha, _, when = line.partition(" ")
        image = _image_of(git("show", f"{sha}:{rel}"))
        if image:
            releases.append(Release(image, f"commit {sha[:12]}", when))
    return releases


def stack_history(stack: StackFile) -> list[Release]:
    """Images of the Pulumi stack's successful updates, newest first (needs the Pulumi CLI)."""
    deploy.require(stack, f"read the update history of {stack.name}", need_aws=False)
    st = deploy.workspace_stack(stack)
    releases = []
    for u in st.history():
        if u.kind != "update" or u.result != "succeeded" or not u.config:
            continue
        app = u.config.get("berth:app")
        raw = getattr(app, "value", None)
        try:
            obj = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            obj = None
        image = obj.get("image") if isinstance(obj, dict) else None
        if isinstance(image, str):
            releases.append(Release(image, f"update {u.version}", str(u.end_time or u.start_time)))
    return releases


def releases_of(stack: StackFile, *, offline: bool = False) -> list[Release]:
    """What the stack ran, newest first, the file's current image on top."""
    found = git_history(stack) if offline else stack_history(stack)
    current = current_image(stack)
    if not found or found[0].image != current:
        found.insert(0, Release(current, "the working copy of " + stack.path.name))
    return _distinct(found)


def _digest_of(ref: str) -> str:
    return ref.rsplit("@", 1)[-1]


def choose(releases: list[Release], *, to: str | None, steps: int | None, stack: str) -> str:
    """The image to return to; refuses a tag, an unknown digest, or more steps than releases."""
    current = releases[0].image
    if to is not None:
        digest = _digest_of(to)
        if not is_digest(f"x@{digest}") or ("@" in to and not is_digest(to)):
            raise OpsError(f"--to {to!r} is not a digest: a rollback returns to an image pinned by digest "
                           f"(sha256:<64 hex> or repo/name@sha256:<64 hex>), never a tag")
        matches = [r.image for r in releases[1:] if _digest_of(r.image) == digest and ("@" not in to or r.image == to)]
        if not matches:
            if _digest_of(current) == digest:
                raise OpsError(f"{stack} already runs {current}: nothing to roll back")
            known = "\n".join(f"  - {r.image} ({r.source})" for r in releases)
            raise OpsError(f"{to} is not in {stack}'s release history; it ran:\n{known}")
        return matches[0]
    n = 1 if steps is None else steps
    if n < 1:
        raise OpsError(f"--steps must be at least 1, not {n}")
    if n >= len(releases):
        raise OpsError(f"{stack} has {len(releases) - 1} earlier release(s); cannot go back {n}")
    return releases[n].image


def rollback(
    stack: str,
    *,
    to: str | None = None,
    steps: int | None = None,
    config_dir: Path = REPO,
    offline: bool = False,
    yes: bool = False,
    apply: bool = False,
    confirm: Confirm | None = None,
    echo: Printer = print,
    show_diff: Callable[[str], None] | None = None,
    evaluate: Callable[[Any], Any] | None = None,
) -> Rollback:
    """Return `stack` to an earlier image from its release history, behind the gates."""
    if to is not None and steps is not None:
        raise OpsError("give --to or --steps, not both")
    file = StackFile.read(stack, config_dir)
    if apply:
        deploy.require(file, f"roll {stack} back and apply it")
    releases = releases_of(file, offline=offline)
    target = choose(releases, to=to, steps=steps, stack=stack)
    rolled = file.with_text(rewrite(file.text, {IMAGE_KEY: target}))
    path = file.path
    rb = Rollback(stack, path, releases[0].image, target, file.text, rolled.text, releases,
                  gates_passed=["digest", "history"])
    rolled.settings  # noqa: B018 - parsed for its refusal
    rb.gates_passed.append("config")
    try:
        graph = deploy_offline(stack, rolled.config)
    except ProgramError as exc:
        raise OpsError(f"rollback refused, nothing was written: {stack} with {target} does not deploy "
                       f"offline: {exc}") from None
    if (f := gate_policy(graph, stack, evaluate or default_evaluator())) is not None:
        raise OpsError(f"rollback refused, nothing was written: {f[1]}")
    rb.gates_passed.append("policy")

    diff = "".join(difflib.unified_diff(file.text.splitlines(keepends=True), rolled.text.splitlines(keepends=True),
                                        fromfile=f"{path.name} (now)", tofile=f"{path.name} (rolled back)"))
    (show_diff or echo)(diff)
    if not yes and (confirm is None or not confirm(f"Write {path.name}?")):
        raise OpsError(f"not rolled back: {path.name} was left as it is (pass --yes to skip the question)")
    path.write_text(rolled.text)
    rb.written = True
    echo(f"rolled {stack} back from {rb.current} to {target}")
    if apply:
        deploy.up(rolled, yes=yes, confirm=confirm, echo=echo)
        rb.applied = True
    return rb
