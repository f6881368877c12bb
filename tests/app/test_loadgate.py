"""app tests room: the load gate (`berth loadtest`, stacks/loadtest.py) against the real local
topology: wrk paced to a bounded rate for a bounded time, figures checked against the SLOs.
Passing with the default SLOs, failing (exit 1, figures printed) with one the app cannot meet,
and a promotion refused when its source misses the target's SLOs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from berth.commands import app as berth_app
from berth.operations import loadtest
from berth.operations import promote as promotion
from berth.operations.stackfile import StackFile
from embedded_cloud.runner import REPO
from local_topology.topology import Topology
from stacks.config import SloSettings
from tests.commands.test_json import keys_as_documented

SHORT = ["--rate", "40", "--duration", "4", "--connections", "4"]


def cli() -> typer.Typer:
    return berth_app


def test_loadtest_passes_with_the_default_slos(topo: Topology) -> None:
    defaults = SloSettings()
    assert (defaults.p50_ms, defaults.p95_ms, defaults.p99_ms, defaults.error_percent) == (50, 200, 500, 0.1)
    result = CliRunner().invoke(cli(), ["loadtest", topo.app_urls[0], "--stack", "staging", *SHORT],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "load gate passed" in result.output and "/api/health/ready" in result.output


def test_the_load_is_bounded_in_rate_and_time(topo: Topology) -> None:
    slo = SloSettings(rate=30, duration_seconds=3, connections=3)
    r = loadtest.run(loadtest.target_url(topo.app_urls[0], slo), slo)
    assert 2.5 <= r.duration_seconds <= 4.5
    # Paced: never above the target rate (a little slack for the first request of each connection).
    assert r.requests <= 30 * 3 + 3 and r.achieved_rate >= 15, r.as_dict()
    assert r.error_count == 0 and 0 < r.p50_ms <= r.p95_ms <= r.p99_ms <= r.max_ms


def test_loadtest_fails_with_the_figures_when_an_slo_is_missed(topo: Topology) -> None:
    result = CliRunner().invoke(cli(), ["loadtest", topo.app_urls[0], *SHORT, "--p50", "0.001", "--p95", "0.002",
                                        "--p99", "0.003"], terminal_width=200)
    assert result.exit_code == 1, result.output
    assert "the load gate failed" in result.output
    assert re.search(r"p99 \d+\.\d ms, target < 0\.003 ms", result.output), result.output
    assert re.search(r"\d+ requests in \d+\.\ds", result.output)


def test_errors_count_against_the_slo(topo: Topology) -> None:
    slo = SloSettings(rate=20, duration_seconds=2, connections=2, path="/api/no-such-route")
    verdict = loadtest.gate(topo.app_urls[0], slo)
    assert not verdict.ok and verdict.result.errors.get("status") == verdict.result.requests
    assert any(m.startswith("errors 100.000 %") for m in verdict.misses)


def test_a_promotion_whose_source_misses_the_slo_is_refused(topo: Topology, tmp_path: Path) -> None:
    for stack in ("staging", "prod"):
        shutil.copy(REPO / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    staging, prod = tmp_path / "Pulumi.staging.yaml", tmp_path / "Pulumi.prod.yaml"
    staging.write_text(staging.read_text().replace("    cacheTtlSeconds: 60", "    cacheTtlSeconds: 45"))
    # Prod's targets are the bar; an impossible p99 there and a short load.
    prod.write_text(prod.read_text() + "  berth:slo:\n    p50Ms: 0.001\n    p95Ms: 0.001\n    p99Ms: 0.001\n"
                    "    rate: 20\n    durationSeconds: 2\n    connections: 2\n")
    before = prod.read_text()
    image = StackFile.read("staging", tmp_path).config["berth:app"]["image"]
    with pytest.raises(promotion.PromotionRefused) as exc:
        promotion.promote("staging", "prod", config_dir=tmp_path, yes=True, skip_health=True,
                          source={"appImage": image}, load_url=topo.app_urls[0])
    assert exc.value.gates == ["load"]
    assert "staging misses prod's SLOs under load" in str(exc.value) and "p99" in str(exc.value)
    assert prod.read_text() == before


def test_errors_are_broken_down_by_status_code(topo: Topology) -> None:
    slo = SloSettings(rate=20, duration_seconds=2, connections=2, path="/api/shipments")
    verdict = loadtest.gate(topo.app_urls[0], slo)  # no key: every answer is a 401
    assert set(verdict.result.status_codes) == {"401"}
    assert verdict.result.status_codes["401"] == verdict.result.requests
    (miss,) = [m for m in verdict.misses if m.startswith("errors")]
    assert f"HTTP 401 x{verdict.result.requests}" in miss


def test_a_header_loads_an_authenticated_path(topo: Topology) -> None:
    key = topo.create_key("reader", "loadtest")
    result = CliRunner().invoke(cli(), ["loadtest", topo.app_urls[0], "--path", "/api/shipments", "--rate", "10",
                                        "--duration", "2", "--connections", "2", "-H", f"Authorization: Bearer {key}",
                                        "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    keys_as_documented("berth loadtest", figures)
    assert figures["status_codes"] == {"200": figures["requests"]} and figures["requests"] >= 10


def test_invalid_loadtest_options_are_each_named(topo: Topology) -> None:
    result = CliRunner().invoke(cli(), ["loadtest", topo.app_urls[0], "--rate", "0", "--path", "nope",
                                        "-H", "Authorization Bearer x"], terminal_width=200)
    assert result.exit_code == 1
    assert "--header 'Authorization Bearer x': give it as 'Name: value'" in result.output
    result = CliRunner().invoke(cli(), ["loadtest", topo.app_urls[0], "--rate", "0", "--path", "nope"],
                                terminal_width=200)
    assert result.exit_code == 1
    assert "--rate 0: Input should be greater than or equal to 1" in result.output
    assert "--path 'nope': not a URL path starting with /" in result.output


def test_the_promotion_load_gate_reads_the_api_with_the_key_it_is_given(topo: Topology, tmp_path: Path) -> None:
    for stack in ("staging", "prod"):
        shutil.copy(REPO / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    staging, prod = tmp_path / "Pulumi.staging.yaml", tmp_path / "Pulumi.prod.yaml"
    staging.write_text(staging.read_text().replace("    cacheTtlSeconds: 60", "    cacheTtlSeconds: 45"))
    prod.write_text(prod.read_text() + "  berth:slo:\n    rate: 20\n    durationSeconds: 2\n    connections: 2\n")
    image = StackFile.read("staging", tmp_path).config["berth:app"]["image"]
    with pytest.raises(promotion.PromotionRefused) as exc:
        promotion.promote("staging", "prod", config_dir=tmp_path, yes=True, skip_health=True,
                          source={"appImage": image}, load_url=topo.app_urls[0], load_key="not-a-key")
    assert exc.value.gates == ["load"]
    assert "under load on /api/shipments?limit=10" in str(exc.value) and "HTTP 401" in str(exc.value)
    key = topo.create_key("reader", "promotion-gate")
    p = promotion.promote("staging", "prod", config_dir=tmp_path, yes=True, skip_health=True,
                          source={"appImage": image}, load_url=topo.app_urls[0], load_key=key)
    assert "load" in p.gates_passed
