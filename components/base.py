"""Components room: what every component gives its children the same way -- names, tags, options.

`Component` is the base of every ComponentResource in components/. It derives the type token
(`berth:<module>:<Class>`) and keeps one rule for each thing the components used to write for
themselves (and let drift apart):

- `named(suffix)`: the stack's tags plus `Name = <name>-<suffix>`, for every taggable AWS resource;
- `child(**kw)`: options of an ordinary child (`parent=self`);
- `stateful(**kw)`: options of a resource whose loss loses data or the key to it: `protect` and
  `retain_on_delete` together, both on when the component is protected (production), so an
  accidental destroy is refused and, once unprotected on purpose, leaves the data in the cloud;
- `k8s(**kw)` and `meta(...)`: a Kubernetes object's options (the cluster's provider) and its
  metadata (the component's namespace and common labels), once `use_kubernetes()` named them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi


class Component(pulumi.ComponentResource):
    """A berth component: `berth:<module>:<Class>`, with one way to name, tag and guard its children."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None, *,
                 tags: Mapping[str, str] | None = None, protect: bool = False) -> None:
        super().__init__(self.type_token(), name, None, opts)
        self._berth_prefix = name
        self._berth_tags = dict(tags or {})
        self._berth_protect = protect
        self._berth_k8s: tuple[pulumi.ProviderResource | None, pulumi.Input[str] | None, dict[str, str]] | None = None

    @classmethod
    def type_token(cls) -> str:
        """`berth:<module>:<Class>`: the module the class lives in, the class's own name."""
        return f"berth:{cls.__module__.rsplit('.', 1)[-1]}:{cls.__name__}"

    # ---- names and tags ------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        """The component's name: every child's logical name and physical name start with it."""
        return self._berth_prefix

    @property
    def protected(self) -> bool:
        """Whether stateful children are guarded (production)."""
        return self._berth_protect

    def named(self, suffix: str) -> dict[str, str]:
        """The stack's tags plus `Name = <prefix>-<suffix>` (the console's name column)."""
        return {**self._berth_tags, "Name": f"{self._berth_prefix}-{suffix}"}

    # ---- options -----------------------------------------------------------------------------
    def child(self, **kw: Any) -> pulumi.ResourceOptions:
        """Options of an ordinary child."""
        return pulumi.ResourceOptions(parent=self, **kw)

    def stateful(self, **kw: Any) -> pulumi.ResourceOptions:
        """Options of a child whose deletion loses data (or the key that decrypts it): guarded
        when the component is protected -- `protect` (the engine refuses to delete it) and
        `retain_on_delete` (unprotected on purpose, a destroy still leaves it in the cloud)."""
        return pulumi.ResourceOptions(parent=self, protect=self._berth_protect,
                                      retain_on_delete=self._berth_protect, **kw)

    # ---- Kubernetes --------------------------------------------------------------------------
    def use_kubernetes(self, provider: pulumi.ProviderResource | None, *, namespace: pulumi.Input[str] | None = None,
                       labels: Mapping[str, str] | None = None) -> None:
        """Where this component's Kubernetes objects go: the cluster's provider, the namespace
        (None: cluster-scoped objects only) and the labels every object carries."""
        self._berth_k8s = (provider, namespace, dict(labels or {}))

    def k8s(self, **kw: Any) -> pulumi.ResourceOptions:
        """Options of a Kubernetes child: through the cluster's provider."""
        provider, _, _ = self._berth_kubernetes()
        return pulumi.ResourceOptions(parent=self, provider=provider, **kw)

    def meta(self, name: str | None = None, *, namespaced: bool = True, labels: Mapping[str, str] | None = None,
             **extra: Any) -> dict[str, Any]:
        """A Kubernetes object's metadata: the common labels (plus `labels`), the namespace unless
        cluster-scoped, `name` when given (else the provider auto-names it), and `extra`
        (annotations)."""
        _, namespace, common = self._berth_kubernetes()
        m: dict[str, Any] = {"labels": {**common, **(labels or {})}, **extra}
        if name is not None:
            m["name"] = name
        if namespaced:
            m["namespace"] = namespace
        return m

    def _berth_kubernetes(self) -> tuple[pulumi.ProviderResource | None, pulumi.Input[str] | None, dict[str, str]]:
        if self._berth_k8s is None:
            raise TypeError(f"{type(self).__name__} creates Kubernetes objects before use_kubernetes() named "
                            "the provider and namespace")
        return self._berth_k8s
