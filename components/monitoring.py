"""Components room: what a component asks the alarms to watch -- one `Watch` per alarm.

Each component that has metrics worth paging on declares them (`Database.watches(settings)`,
`Cache.watches(...)`, `Cdn.watches(...)`, `Cluster.watches(...)`), from the thresholds in
`AlarmSettings`; `stacks/platform.py` hands the lot to `Alarms` (`AlarmsArgs.watches`), which
makes one CloudWatch alarm per watch (named `<name>-<key>`, notifying the topic of the watch's
region on ALARM and OK), draws the dashboard from the watches' graphs and builds the
"users cannot reach the API" composite from the watches marked `down`. A new tier brings its
watches and Alarms needs no new field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

COMPARISONS = ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold",
               "LessThanOrEqualToThreshold")
# How an alarm counts periods without data: said explicitly on every alarm, so nobody has to
# guess whether silence means healthy.
MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")


@dataclass(frozen=True)
class Graph:
    """A graph of the alarms' dashboard. Sections (a tier's graphs) come in the order their first
    watch comes; within a section, graphs by `place`."""

    title: str
    section: str
    place: int = 0


@dataclass(frozen=True)
class Watch:
    """One threshold alarm on one metric; Alarms adds the actions and the tags."""

    # Unique among the stack's watches: the alarm is named `<name>-<key>`.
    key: str
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    comparison: str
    threshold: float
    description: str
    # `extended_statistic` (a percentile such as "p95") wins over `statistic` when given.
    statistic: str | None = "Average"
    extended_statistic: str | None = None
    period: int = 300
    evaluation_periods: int = 3
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"
    unit: str | None = None
    # Where the metric is published (CloudFront's: us-east-1; a DR replica's: the DR region).
    # None: the region Alarms builds in.
    region: str | None = None
    # The dashboard graph that draws this metric (None: alarmed, not drawn).
    graph: Graph | None = None
    # Its ALARM means users cannot reach the service: it joins the "shipments-api-down" composite.
    down: bool = False

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"watch {self.key}: comparison {self.comparison!r} is not one of {', '.join(COMPARISONS)}")
        if self.treat_missing_data not in MISSING_DATA:
            raise ValueError(f"watch {self.key}: treat_missing_data {self.treat_missing_data!r} is not one of "
                             f"{', '.join(MISSING_DATA)}")
        if self.statistic is None and self.extended_statistic is None:
            raise ValueError(f"watch {self.key}: needs a statistic or an extended_statistic")
        if self.datapoints_to_alarm is not None and not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValueError(f"watch {self.key}: datapoints_to_alarm ({self.datapoints_to_alarm}) must lie within "
                             f"1..evaluation_periods ({self.evaluation_periods})")
