"""Components room: the public Route 53 zone the platform's names live in.

The zone is an account-level prerequisite (created and delegated once, by whoever owns the
parent domain), never made or deleted by a stack: this component looks it up by name and hands
its id to the components that write records in it -- the app's origin name and its certificate
validation, the CDN's domain and its certificate validation. A zone that does not exist fails
the lookup (and `berth up`'s preflight) before anything is created.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Component
from components.settings import DnsSettings


@dataclass
class DnsArgs:
    # No wiring: the zone's name (e.g. shipments.example.com, a public hosted zone in this account).
    settings: DnsSettings


class Dns(Component):
    """A handle on an existing public hosted zone: `zone_id`, `zone_name`."""

    zone_id: str
    zone_name: str

    def __init__(self, name: str, args: DnsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        # Looked up while the program runs (not as an Output): an absent zone stops the program
        # before any resource is registered, with the provider's "no matching Route 53 Hosted Zone".
        zone_name = args.settings.zone
        zone = aws.route53.get_zone(name=zone_name, private_zone=False, opts=pulumi.InvokeOptions(parent=self))
        self.zone_id = zone.zone_id
        self.zone_name = zone_name
        self.register_outputs({"zoneId": self.zone_id, "zoneName": self.zone_name})
