"""app tests room: schemathesis fuzzes every operation of the app's own OpenAPI document against a
live app process of the real topology: no 5xx, documented status codes and content types, response
bodies matching their schemas, invalid input rejected."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from local_topology.topology import Topology

from .conftest import unique_ip

ORIGIN_SECRET = "schemathesis-origin-secret-0123456789"


def test_schemathesis_finds_no_server_error_and_no_contract_breach(topo: Topology, tmp_path: Path) -> None:
    # An app process of its own with limits out of the way: a 429 would hide what the fuzzer sends.
    huge = "1000000"
    url = topo.start_app(
        name="app-fuzz",
        env={
            "RATE_LIMIT_READS_PER_MINUTE": huge,
            "RATE_LIMIT_WRITES_PER_MINUTE": huge,
            "RATE_LIMIT_INQUIRIES_PER_MINUTE": huge,
            "RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": huge,
            # Reached as through the CDN, so the fuzzer's deliberate bad credentials count against a
            # viewer address of its own (below), not against the loopback address the other tests'
            # fresh keys are looked up from (the failed-authentication throttle is shared in Redis).
            "ORIGIN_VERIFY_SECRET": ORIGIN_SECRET,
        },
    )
    try:
        key = topo.create_key("admin", "schemathesis")
        report = tmp_path / "report.json"
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{url}/api/openapi.json",
                "--checks",
                "all",
                # Starlette's 405 names only the matching route's method; our validators are stricter than
                # JSON Schema can say (NUL, lone surrogates, blank text, email syntax).
                "--exclude-checks",
                "allow_header_conformance,positive_data_acceptance",
                "-H",
                f"Authorization: Bearer {key}",
                "-H",
                f"X-Origin-Verify: {ORIGIN_SECRET}",
                "-H",
                f"X-Viewer-Address: {unique_ip()}",
                "--max-examples",
                "30",
                "--workers",
                "1",
                "--seed",
                "20261122",
                "--request-timeout",
                "10",
                "--report",
                "json",
                "--report-json-path",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=240,
        )
        out = result.stdout + result.stderr
        (tmp_path / "schemathesis.out").write_text(out)
        assert result.returncode == 0, f"see {tmp_path / 'schemathesis.out'}:\n{out[-6000:]}"
        assert "500 Internal Server Error" not in out
        generated = re.search(r"(\d+) generated", out)
        assert generated and int(generated.group(1)) >= 200, f"too few cases were generated:\n{out[-3000:]}"
        app_log = Path(topo.services["app-fuzz"].log).read_text()
        assert '"status":500' not in app_log and '"level":"error"' not in app_log
    finally:
        topo.stop_service("app-fuzz")
