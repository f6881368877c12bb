"""Benchmarks room: the program of one stack under bare Pulumi mocks -- the floor `berth preview` is
measured against (benchmarks/preview.py --vs-bare).

Usage: uv run python benchmarks/bare_mocks.py STACK

The same `__main__.py`, the same stack config, Pulumi's own `MockMonitor` with mocks that answer
every resource with its inputs and every invoke with a fixed, plausible value: no cloud, no
recording, no policy, no files. What is left is the interpreter, the SDK imports, the program and
the Pulumi runtime registering its resources -- the part no embedded cloud can remove.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as rt_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"


class Bare(pulumi.runtime.Mocks):
    """Inputs echoed as outputs; invokes answered from a fixed table (the program needs some answer)."""

    def __init__(self, region: str, zone: str) -> None:
        self.region, self.zone = region, zone
        self.count = 0

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.count += 1
        out = dict(args.inputs)
        # The few computed outputs the program reads back to plan more resources.
        if args.typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            n = int(out.get("numCacheClusters") or 1)
            out["memberClusters"] = [f"{args.name}-{i + 1:03d}" for i in range(n)]
        if args.typ == "aws:eks/cluster:Cluster":
            out.update(endpoint="https://bench.eks.amazonaws.com", certificateAuthority={"data": "Y2E="},
                       vpcConfig={**(out.get("vpcConfig") or {}), "clusterSecurityGroupId": "sg-bench"})
        if args.typ == "aws:synthetics/canary:Canary":
            out.update(engineArn=f"arn:aws:lambda:us-east-1:123456789012:function:cwsyn-{args.name}-bench:1")
        if args.typ.startswith("random:"):
            out.update(result="bench-password-0123456789", hex="00ff", b64Url="AP8")
        if args.typ == "aws:rds/instance:Instance":
            out.update(address=f"{args.name}.bench.rds.amazonaws.com", port=5432, identifier=args.name,
                       endpoint=f"{args.name}.bench.rds.amazonaws.com:5432",
                       masterUserSecrets=[{"secretArn": "arn:aws:secretsmanager:bench", "kmsKeyId": "k"}])
        if args.typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            out.update(primaryEndpointAddress="primary.bench.cache.amazonaws.com",
                       readerEndpointAddress="reader.bench.cache.amazonaws.com")
        if args.typ == "kubernetes:core/v1:Service":
            out["status"] = {"loadBalancer": {"ingress": [{"hostname": "nlb.bench.elb.amazonaws.com"}]}}
        if args.typ == "aws:acm/certificate:Certificate":
            out["domainValidationOptions"] = [{"domainName": out.get("domainName"), "resourceRecordName": "_x.bench.",
                                               "resourceRecordType": "CNAME", "resourceRecordValue": "_y.acm."}]
        if args.typ.startswith("aws:"):
            out.setdefault("arn", f"arn:aws:bench:{self.region}:{ACCOUNT}:{args.name}")
        return f"{args.name}-id", out

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        region = args.args.get("region") or self.region
        tok = args.token
        if tok == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{region}{c}" for c in "abc"]
            return {"names": names, "zoneIds": [f"z{i}" for i in range(3)], "id": region}
        if tok == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/bench", "userId": "bench",
                    "id": ACCOUNT}
        if tok == "aws:index/getRegion:getRegion":
            return {"region": region, "name": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com"}
        if tok == "aws:index/getPartition:getPartition":
            return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}
        if tok == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"id": "doc", "json": "{}", "minifiedJson": "{}"}
        if tok == "aws:route53/getZone:getZone":
            return {"id": "Z123", "zoneId": "Z123", "name": self.zone, "arn": "arn:aws:route53:::hostedzone/Z123"}
        return {"id": "bench", "etag": "E1"}


def main() -> int:
    stack = sys.argv[1]
    cfg = (yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text()) or {}).get("config") or {}
    cfg = {k: v for k, v in cfg.items() if not (isinstance(v, dict) and set(v) == {"secure"})}
    flat = {k: v if isinstance(v, str) else json.dumps(v) if not isinstance(v, bool) else str(v).lower()
            for k, v in cfg.items()}
    set_all_config(flat, [])
    zone = str((cfg.get("berth:dns") or {}).get("zone") or "example.com")
    mocks = Bare(str(cfg["aws:region"]), zone)
    pulumi.runtime.set_mocks(mocks, project="berth", stack=stack, preview=False)
    rt_settings.SETTINGS.root_directory = str(REPO)
    sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")))
    print(f"{stack}: {mocks.count} custom resources under bare mocks", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
