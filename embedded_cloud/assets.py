"""Embedded cloud room: assets and archives only where the provider takes them, as it takes them.

The Pulumi engine carries `pulumi.Asset` (one file's bytes) and `pulumi.Archive` (a tree of
files) as distinct values, and the Terraform bridge under pulumi-aws translates each property
by the asset kind its mapping declares: `aws.s3.BucketObjectv2.source` is a *file asset*,
`aws.lambda_.Function.code` a *file archive*. The Python SDK types both as
`Union[Asset, Archive]`, so nothing before the provider notices a mix-up; moto never sees the
value at all. The bridge then fails (`pulumi-terraform-bridge` `MakeTerraformInput`): an asset
where an archive is expected with "expected an asset, but <name> is not an asset", an archive
where an asset is expected by asserting in `TranslateArchive` (a provider crash), and either
where no asset is expected with "unexpected asset/archive <name>". This module makes the same
refusals here, with the bridge's own words and the fix.

ASSET_PROPERTIES lists every asset-typed input of the installed pulumi-aws (a test checks it
against the SDK), with the kind pulumi-aws' `provider/resources.go` maps it to.

Lazy pulumi/moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

from typing import Any, Literal

Kind = Literal["asset", "archive"]

ASSET_PROPERTIES: dict[str, dict[str, Kind]] = {
    "aws:s3/bucketObjectv2:BucketObjectv2": {"source": "asset"},
    "aws:s3/bucketObject:BucketObject": {"source": "asset"},
    "aws:lambda/function:Function": {"code": "archive"},
    "aws:lambda/layerVersion:LayerVersion": {"code": "archive"},
}

_FIX: dict[Kind, str] = {
    "asset": "pass one file: pulumi.FileAsset(path) (e.g. a zip built by the program) or pulumi.StringAsset(text)",
    "archive": "pass a tree of files: pulumi.FileArchive(path or dir) or pulumi.AssetArchive({...})",
}


def _kind(value: Any) -> Kind | None:
    import pulumi

    if isinstance(value, pulumi.Archive):
        return "archive"
    if isinstance(value, pulumi.Asset):
        return "asset"
    return None


def asset_problems(type_: str, name: str, props: dict[str, Any]) -> list[str]:
    """What the provider would refuse about the assets and archives in a resource's inputs."""
    expected = ASSET_PROPERTIES.get(type_, {})
    out: list[str] = []

    def walk(key: str, path: str, value: Any) -> None:
        kind = _kind(value)
        if kind is not None:
            want = expected.get(key) if path == key else None
            if want is None:
                out.append(f"{type_} '{name}': property '{path}' takes no asset or archive (the bridge: "
                           f"\"unexpected {kind} {key}\")")
            elif want != kind and want == "archive":
                out.append(f"{type_} '{name}': property '{path}' is a file archive but got an asset (the bridge: "
                           f"\"expected an asset, but {key} is not an asset\"): {_FIX['archive']}")
            elif want != kind:
                out.append(f"{type_} '{name}': property '{path}' is a file asset but got an archive (the bridge "
                           f"asserts in TranslateArchive and the provider crashes): {_FIX['asset']}")
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(key, f"{path}.{k}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(key, f"{path}[{i}]", v)

    for key, value in props.items():
        walk(key, key, value)
    return out
