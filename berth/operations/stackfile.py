"""Operations room: one stack's config file, read once and handed on.

An operation reads each stack it touches into one `StackFile` (the file's text, its `config:` map
and, parsed on first use and only once, its validated `Settings`) and passes that object to every
step; nothing re-reads or re-parses what it was given. A new text (a promotion's rewrite) is a new
StackFile of the same stack, `with_text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from berth.operations.errors import OpsError
from embedded_cloud.runner import REPO, ProgramError, config_from_text, stack_file
from stacks.config import ConfigError, Settings, settings_from_config_map

__all__ = ["REPO", "StackFile", "round_trip_yaml"]


def round_trip_yaml(preserve_quotes: bool = True) -> YAML:
    """The one ruamel.yaml set-up every operation that edits a stack file uses: comments, order and
    (by default) quoting kept, long values never folded, the files' 2/4/2 indentation."""
    y = YAML()
    y.preserve_quotes = preserve_quotes
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


@dataclass
class StackFile:
    """`Pulumi.<name>.yaml`: its path, text and config map; `settings` parses it (once)."""

    name: str
    path: Path
    text: str
    config: dict[str, Any]
    _settings: Settings | None = field(default=None, repr=False, compare=False)

    @classmethod
    def read(cls, stack: str, config_dir: Path = REPO) -> StackFile:
        """Read Pulumi.<stack>.yaml from config_dir; OpsError naming the stacks there when it is missing."""
        path = stack_file(stack, config_dir)
        if not path.exists():
            known = sorted(p.name.split(".")[1] for p in config_dir.glob("Pulumi.*.yaml"))
            raise OpsError(f"no stack '{stack}': {path.name} does not exist in {config_dir} "
                           f"(stacks here: {', '.join(known) or 'none'})")
        return cls.of_text(stack, path, path.read_text())

    @classmethod
    def of(cls, stack: str | StackFile, config_dir: Path = REPO) -> StackFile:
        """The given StackFile as is, or a stack name read from config_dir (entry points take either)."""
        return stack if isinstance(stack, StackFile) else cls.read(stack, config_dir)

    @classmethod
    def of_text(cls, stack: str, path: Path, text: str) -> StackFile:
        try:
            config = config_from_text(text, path.name)
        except ProgramError as exc:
            raise OpsError(str(exc)) from None
        return cls(stack, path, text, config)

    def with_text(self, text: str) -> StackFile:
        """The same stack with a new file text (not written)."""
        return StackFile.of_text(self.name, self.path, text)

    @property
    def settings(self) -> Settings:
        """The validated settings; an OpsError listing every bad key when the config is invalid."""
        if self._settings is None:
            try:
                self._settings = settings_from_config_map(self.name, self.config)
            except ConfigError as exc:
                raise OpsError(str(exc)) from None
        return self._settings

    @property
    def is_prod(self) -> bool:
        """Production (prod, prod-dr...): its config says berth:environment: prod."""
        return self.config.get("berth:environment") == "prod"

    @property
    def region(self) -> str | None:
        region = self.config.get("aws:region")
        return region if isinstance(region, str) else None
