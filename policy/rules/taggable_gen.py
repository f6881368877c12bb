"""Policy room: regenerate policy/rules/taggable.py from the installed pulumi-aws SDK.

Run `uv run python -m policy.rules.taggable_gen` after upgrading pulumi-aws: a resource
type is taggable when its class takes a `tags` map and exposes `tags_all`.
"""

from __future__ import annotations

import re
from pathlib import Path

_TOKEN = re.compile(
    r'@pulumi\.type_token\("(aws:[^"]+)"\)\nclass \w+\(pulumi\.CustomResource\):(.*?)(?=\n@pulumi\.type_token|\Z)',
    re.S,
)
_TAGS = re.compile(r"\n\s+tags: pulumi\.Input\[Optional\[Mapping\[str")


def taggable_types(sdk: Path) -> list[str]:
    out: set[str] = set()
    for path in sdk.rglob("*.py"):
        for m in _TOKEN.finditer(path.read_text()):
            if "def tags_all(self)" in m.group(2) and _TAGS.search(m.group(2)):
                out.add(m.group(1))
    return sorted(out)


def main() -> None:
    import pulumi_aws

    target = Path(__file__).with_name("taggable.py")
    head = target.read_text().split("TAGGABLE_AWS_TYPES", 1)[0]
    body = "".join(f'        "{t}",\n' for t in taggable_types(Path(pulumi_aws.__file__).parent))
    target.write_text(f"{head}TAGGABLE_AWS_TYPES: frozenset[str] = frozenset(\n    {{\n{body}    }}\n)\n")


if __name__ == "__main__":
    main()
