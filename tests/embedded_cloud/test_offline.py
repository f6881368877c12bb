"""Tests room (stacks): the embedded cloud itself — isolation, determinism, secrets, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from embedded_cloud import EmbeddedCloud, ProgramError, run_isolated
from embedded_cloud.graph import Graph
from embedded_cloud.handlers import RESOURCES, generic, load_all
from embedded_cloud.runner import REPO
from tests.conftest import Deployed


def test_stacks_run_in_one_session_match_stacks_run_alone(staging: Deployed, prod: Deployed) -> None:
    # `prod` ran after `staging` in this session; a fresh process and cloud must give the same graph.
    with EmbeddedCloud.serve() as cloud:
        alone = run_isolated("prod", endpoint_url=cloud.endpoint_url or "")
    assert alone.signature() == prod.graph.signature()
    assert staging.graph.signature() != prod.graph.signature()


@pytest.mark.slow
def test_a_second_program_in_one_process_is_refused_not_silently_merged() -> None:
    code = (
        "from embedded_cloud import run_stack\n"
        "run_stack('staging')\n"
        "try:\n    run_stack('prod')\nexcept RuntimeError as e:\n    print('REFUSED', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert "REFUSED" in out.stdout and "run_isolated" in out.stdout


def test_graph_json_round_trips(prod: Deployed, tmp_path) -> None:
    path = tmp_path / "g.json"
    prod.graph.write(path)
    again = Graph.read(path)
    assert again.signature() == prod.graph.signature()
    assert again.outputs == prod.graph.outputs


def test_no_secret_value_reaches_the_recorded_graph(prod: Deployed) -> None:
    secret_nodes = [n for n in prod.graph.nodes if n.secret_keys]
    text = json.dumps(prod.graph.to_dict())
    assert secret_nodes
    for n in secret_nodes:
        for key in n.secret_keys:
            # Redacted where the secret sits: the whole value, or the leaves inside a structure.
            assert "[secret]" in json.dumps(n.outputs.get(key, "[secret]"))
    # pulumi_random passwords are derived from their URN offline: none may appear anywhere.
    from embedded_cloud.handlers import Res
    from embedded_cloud.handlers.randomness import derive, password_alphabet

    for n in prod.graph.by_type("random:index/randomPassword:RandomPassword"):
        res = Res(n.type, n.name, n.urn, n.inputs, "us-east-1", "prod")
        assert derive(res, int(n.inputs.get("length") or 16), password_alphabet(res)) not in text


def test_bad_config_fails_before_any_resource_is_registered() -> None:
    with EmbeddedCloud.serve() as cloud, pytest.raises(ProgramError) as exc:
        run_isolated("staging", endpoint_url=cloud.endpoint_url or "", overrides={"berth:database.replicas": 9})
    assert "berth:database.replicas" in str(exc.value)
    assert exc.value.graph is not None
    assert [n.type for n in exc.value.graph.nodes] == ["pulumi:pulumi:Stack"]


def test_unknown_stack_names_the_stacks_that_exist() -> None:
    with EmbeddedCloud.serve() as cloud, pytest.raises(ProgramError) as exc:
        run_isolated("qa", endpoint_url=cloud.endpoint_url or "")
    assert "Pulumi.qa.yaml does not exist" in str(exc.value) and "prod" in str(exc.value)


def test_generic_handler_fills_a_stable_id_and_arn_for_types_moto_lacks() -> None:
    from embedded_cloud.handlers import Ctx, Res

    load_all()
    assert "aws:ec2/vpc:Vpc" in RESOURCES
    cloud = EmbeddedCloud.__new__(EmbeddedCloud)
    cloud.account_id = "123456789012"
    ctx = Ctx(cloud=cloud, stack="t", default_region="eu-west-1")
    r = Res("aws:foo/barBaz:BarBaz", "thing", "urn:pulumi:t::berth::aws:foo/barBaz:BarBaz::thing", {}, "eu-west-1", "t")
    id1, out1 = generic(ctx, r)
    id2, _ = generic(ctx, r)
    assert id1 == id2 and id1.startswith("thing-")
    assert out1["arn"] == f"arn:aws:foo:eu-west-1:123456789012:bar-baz/{id1}"


def test_an_in_process_cloud_never_reaches_real_aws() -> None:
    # A fresh process, moto not yet imported: the cloud's clients must still be mocked.
    code = (
        "from embedded_cloud.cloud import EmbeddedCloud\n"
        "c = EmbeddedCloud()\n"
        "kms = c.client('kms', 'us-east-1')\n"
        "kms.create_key()\n"
        "print('KEYS', len(kms.list_keys()['Keys']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "KEYS 1" in out.stdout, out.stderr[-2000:]
