"""app tests room: who the client is, on the real topology. The per-address limits key on the TCP peer,
except that a request carrying the origin secret from a trusted peer (the VPC range in the cluster; the
loopback range here) is keyed by the X-Viewer-Address CloudFront's function sets. No header a client
writes can choose the address: every test connects from a loopback address of its own (its real peer)
and forges the rest."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from local_topology.topology import Topology

from .conftest import from_address, unique_ip

SECRET = "client-address-test-origin-secret-0123"
# Every loopback peer stands for a node of the VPC, the range the cluster's ConfigMap trusts.
VPC = "127.0.0.0/8"


def _inquiry(tag: str) -> dict[str, str]:
    return {"name": "Eve", "email": "eve@example.com", "message": f"{tag} {uuid.uuid4().hex}"}


def _stored_address(topo: Topology, message: str) -> str:
    return topo.primary_sql(f"SELECT client_ip FROM inquiries WHERE message = '{message}'", db="shipments")


@pytest.fixture(scope="module")
def cdn_app(topo: Topology) -> Iterator[str]:
    """An app process as the cluster runs it: origin secret set, forwarded headers believed from the VPC."""
    url = topo.start_app(name="app-cdn", env={"ORIGIN_VERIFY_SECRET": SECRET, "FORWARDED_ALLOW_IPS": VPC})
    try:
        yield url
    finally:
        topo.stop_service("app-cdn")


@pytest.fixture(scope="module")
def no_cdn_app(topo: Topology) -> Iterator[str]:
    """The same without a CDN in front (no origin secret), every peer still a trusted proxy."""
    url = topo.start_app(name="app-no-cdn", env={"FORWARDED_ALLOW_IPS": VPC})
    try:
        yield url
    finally:
        topo.stop_service("app-no-cdn")


def test_without_a_cdn_forged_forwarded_for_or_viewer_address_is_limited_by_the_real_address(
    topo: Topology, no_cdn_app: str
) -> None:
    real = unique_ip()
    codes, messages = [], []
    with from_address(real) as forger:
        for _ in range(6):
            body = _inquiry("forged")
            headers = {"X-Forwarded-For": f"{unique_ip()}, {unique_ip()}", "X-Real-IP": unique_ip(),
                       "X-Viewer-Address": unique_ip(), "CloudFront-Viewer-Address": f"{unique_ip()}:443",
                       "Forwarded": f"for={unique_ip()}"}
            codes.append(forger.post(f"{no_cdn_app}/api/inquiries", json=body, headers=headers).status_code)
            messages.append(body["message"])
    assert codes == [201] * 5 + [429]
    assert _stored_address(topo, messages[0]) == real


def test_through_the_cdn_the_viewer_cloudfront_names_is_the_client(topo: Topology, cdn_app: str) -> None:
    with from_address(unique_ip()) as node:  # the load balancer's path: one peer, many viewers
        viewers = [unique_ip() for _ in range(6)]
        bodies = [_inquiry("viewer") for _ in viewers]
        codes = [
            node.post(f"{cdn_app}/api/inquiries", json=body,
                      headers={"X-Origin-Verify": SECRET, "X-Viewer-Address": v}).status_code
            for v, body in zip(viewers, bodies, strict=True)
        ]
        assert codes == [201] * 6
        assert _stored_address(topo, bodies[3]["message"]) == viewers[3]
        # One viewer forging X-Forwarded-For on every request: still one viewer.
        viewer = unique_ip()
        codes = [
            node.post(f"{cdn_app}/api/inquiries", json=_inquiry("xff"),
                      headers={"X-Origin-Verify": SECRET, "X-Viewer-Address": viewer,
                               "X-Forwarded-For": f"{unique_ip()}, {unique_ip()}"}).status_code
            for _ in range(6)
        ]
        assert codes == [201] * 5 + [429]
        # An IPv6 viewer, as CloudFront's function writes it (event.viewer.ip).
        body = _inquiry("v6")
        r = node.post(f"{cdn_app}/api/inquiries", json=body,
                      headers={"X-Origin-Verify": SECRET, "X-Viewer-Address": "2001:db8:77::5"})
        assert r.status_code == 201 and _stored_address(topo, body["message"]) == "2001:db8:77::5"


def test_a_cdn_request_without_a_viewer_address_is_keyed_by_its_peer_not_by_forwarded_for(
    topo: Topology, cdn_app: str
) -> None:
    """A distribution without the viewer-address function: X-Forwarded-For is still not
    believed (the app says so in its log), the request counts against its peer."""
    real = unique_ip()
    codes, messages = [], []
    with from_address(real) as node:
        for _ in range(6):
            body = _inquiry("no-viewer")
            headers = {"X-Origin-Verify": SECRET, "X-Forwarded-For": f"{unique_ip()}, {unique_ip()}"}
            codes.append(node.post(f"{cdn_app}/api/inquiries", json=body, headers=headers).status_code)
            messages.append(body["message"])
    assert codes == [201] * 5 + [429]
    assert _stored_address(topo, messages[0]) == real
    log = open(topo.services["app-cdn"].log).read()  # noqa: SIM115 - read once
    assert "the distribution's viewer-request function must set X-Viewer-Address" in log


def test_a_viewer_address_without_the_origin_secret_gets_nowhere(cdn_app: str) -> None:
    with from_address(unique_ip()) as stranger:
        forged = {"X-Viewer-Address": unique_ip()}
        assert stranger.post(f"{cdn_app}/api/inquiries", json=_inquiry("none"), headers=forged).status_code == 403
        wrong = {"X-Origin-Verify": "not-the-secret-0123456789", **forged}
        assert stranger.post(f"{cdn_app}/api/inquiries", json=_inquiry("wrong"), headers=wrong).status_code == 403
