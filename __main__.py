"""The berth Pulumi program: load this stack's settings, build the platform, export outputs."""

from stacks.config import load_settings
from stacks.platform import build

build(load_settings())
