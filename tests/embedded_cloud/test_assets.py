"""Tests room (stacks): the embedded cloud refuses assets and archives where the provider would.

A program that puts an Archive where pulumi-aws maps a file asset (or the reverse) previews
fine under plain mocks and fails on the first real `pulumi up`; here it fails the offline run
with the resource, the property and the bridge's own words.
"""

from __future__ import annotations

import ast
import hashlib
import textwrap
import zipfile
from pathlib import Path

import pulumi_aws
import pytest

from components.alarms import CANARY_SCRIPT, canary_zip, zip_bytes
from embedded_cloud import EmbeddedCloud, ProgramError, run_isolated
from embedded_cloud.assets import ASSET_PROPERTIES, asset_problems
from tests.conftest import Deployed


def _sdk_asset_inputs() -> dict[str, set[str]]:
    """Every input the installed pulumi-aws SDK types as an Asset or Archive, by type token."""
    found: dict[str, set[str]] = {}
    root = Path(pulumi_aws.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        if "pulumi.Asset" not in text and "pulumi.Archive" not in text:
            continue
        tree = ast.parse(text)
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")):
            token = next((c.value for c in ast.walk(cls) if isinstance(c, ast.Constant)
                          and isinstance(c.value, str) and c.value.startswith("aws:") and c.value.count(":") == 2),
                         None)
            init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "_internal_init"), None)
            if token is None or init is None:
                continue
            for arg in init.args.kwonlyargs + init.args.args:
                hint = ast.unparse(arg.annotation) if arg.annotation else ""
                if "pulumi.Asset" in hint or "pulumi.Archive" in hint:
                    camel = arg.arg.split("_")[0] + "".join(w.title() for w in arg.arg.split("_")[1:])
                    found.setdefault(token, set()).add(camel)
    return found


def test_the_table_covers_every_asset_typed_input_of_the_installed_provider() -> None:
    sdk = _sdk_asset_inputs()
    assert sdk, "no asset-typed input found: the scan is broken"
    assert {t: set(props) for t, props in ASSET_PROPERTIES.items()} == sdk


def test_the_kinds_follow_the_providers_mapping() -> None:
    import pulumi

    bad = asset_problems("aws:s3/bucketObjectv2:BucketObjectv2", "code",
                         {"source": pulumi.AssetArchive({"a.js": pulumi.StringAsset("x")})})
    assert len(bad) == 1 and "property 'source' is a file asset but got an archive" in bad[0]
    assert "'code'" in bad[0] and "FileAsset" in bad[0]
    bad = asset_problems("aws:lambda/function:Function", "fn", {"code": pulumi.FileAsset(__file__)})
    assert len(bad) == 1 and "expected an asset, but code is not an asset" in bad[0]
    bad = asset_problems("aws:s3/bucketPolicy:BucketPolicy", "p", {"policy": pulumi.StringAsset("{}")})
    assert len(bad) == 1 and "unexpected asset policy" in bad[0]
    assert asset_problems("aws:s3/bucketObjectv2:BucketObjectv2", "ok", {"source": pulumi.FileAsset(__file__)}) == []
    assert asset_problems("aws:lambda/function:Function", "ok", {"code": pulumi.FileArchive(".")}) == []


PROGRAM = """\
import pulumi
import pulumi_aws as aws

bucket = aws.s3.Bucket("b")
aws.s3.BucketObjectv2(
    "canary-code",
    bucket=bucket.id,
    key="code.zip",
    source=pulumi.AssetArchive({"nodejs/node_modules/x.js": pulumi.StringAsset("exports.handler = 1")}),
)
"""


def test_an_archive_in_an_asset_field_fails_the_offline_run_naming_resource_and_property(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text(PROGRAM)
    (tmp_path / "Pulumi.t.yaml").write_text("config:\n  aws:region: us-east-1\n")
    with EmbeddedCloud.serve() as cloud, pytest.raises(ProgramError) as exc:
        run_isolated("t", endpoint_url=cloud.endpoint_url or "", repo=tmp_path)
    msg = str(exc.value)
    assert "aws:s3/bucketObjectv2:BucketObjectv2 'canary-code'" in msg
    assert "property 'source' is a file asset but got an archive" in msg
    lambda_program = textwrap.dedent("""\
        import pulumi
        import pulumi_aws as aws

        aws.lambda_.Function("fn", role="arn:aws:iam::123456789012:role/r", runtime="python3.12",
                             handler="h.h", code=pulumi.FileAsset(__file__))
    """)
    (tmp_path / "__main__.py").write_text(lambda_program)
    with EmbeddedCloud.serve() as cloud, pytest.raises(ProgramError) as exc:
        run_isolated("t", endpoint_url=cloud.endpoint_url or "", repo=tmp_path)
    assert "aws:lambda/function:Function 'fn'" in str(exc.value)
    assert "expected an asset, but code is not an asset" in str(exc.value)


def test_the_canary_code_is_a_file_asset_of_a_reproducible_zip(prod: Deployed, tmp_path: Path) -> None:
    (code,) = [n for n in prod.graph.by_type("aws:s3/bucketObjectv2:BucketObjectv2") if "canary" in n.name]
    assert code.inputs["source"]["asset"] == "FileAsset"
    path = Path(code.inputs["source"]["path"])
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["nodejs/node_modules/apiHealth.js"]
        assert zf.read("nodejs/node_modules/apiHealth.js").decode() == CANARY_SCRIPT
    # Same bytes every run and in every directory: no diff on every `pulumi up`.
    again = canary_zip(tmp_path)
    assert again.read_bytes() == path.read_bytes()
    assert hashlib.sha256(zip_bytes({"a": "x"})).digest() == hashlib.sha256(zip_bytes({"a": "x"})).digest()
