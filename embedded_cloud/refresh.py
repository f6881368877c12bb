"""Embedded cloud room: `pulumi refresh` offline -- a deployed stack's state as the cloud reports it.

A second `up` diffs the program against the state, and a refresh first overwrites that state with
what the provider reads back: values AWS filled in or normalised that the program never set (a
replica's inherited encryption and key, engine versions, lower-cased names). The first run's
outputs are what the cloud answered at create time; the readers here re-read, for the types where
AWS fills in or changes something later or differently, what the provider's Read sets. Each reader
is one function per type token, in this one place, and states what it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from embedded_cloud.cloud import EmbeddedCloud

State = dict[str, tuple[str, dict[str, Any]]]
Reader = Callable[[EmbeddedCloud, str, str, dict[str, Any]], dict[str, Any]]

READERS: dict[str, Reader] = {}


def reader(*tokens: str) -> Callable[[Reader], Reader]:
    def deco(fn: Reader) -> Reader:
        for tok in tokens:
            READERS[tok] = fn
        return fn

    return deco


@reader("aws:rds/instance:Instance")
def rds_instance(cloud: EmbeddedCloud, region: str, id_: str, outputs: dict[str, Any]) -> dict[str, Any]:
    """aws_db_instance's Read: encryption and its key as RDS reports them (a replica inherits its
    source's), identifiers lower-cased, Multi-AZ, the storage actually allocated."""
    # The provider's id is the DbiResourceId; the embedded cloud's is the identifier: ask by that.
    ident = str(outputs.get("identifier") or id_)
    db = cloud.client("rds", region).describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    read = {
        "identifier": db["DBInstanceIdentifier"].lower(),
        "storageEncrypted": bool(db.get("StorageEncrypted")),
        "multiAz": bool(db.get("MultiAZ")),
        "allocatedStorage": db.get("AllocatedStorage"),
    }
    if db.get("KmsKeyId"):
        read["kmsKeyId"] = db["KmsKeyId"]
    return read


@reader("aws:elasticache/replicationGroup:ReplicationGroup")
def replication_group(cloud: EmbeddedCloud, region: str, id_: str, outputs: dict[str, Any]) -> dict[str, Any]:
    """aws_elasticache_replication_group's Read: the id lower-cased, encryption flags as reported."""
    g = cloud.client("elasticache", region).describe_replication_groups(ReplicationGroupId=id_)["ReplicationGroups"][0]
    read: dict[str, Any] = {"replicationGroupId": g["ReplicationGroupId"].lower()}
    if "AtRestEncryptionEnabled" in g:
        read["atRestEncryptionEnabled"] = bool(g["AtRestEncryptionEnabled"])
    if "TransitEncryptionEnabled" in g:
        read["transitEncryptionEnabled"] = bool(g["TransitEncryptionEnabled"])
    return read


@reader("aws:eks/cluster:Cluster")
def eks_cluster(cloud: EmbeddedCloud, region: str, id_: str, outputs: dict[str, Any]) -> dict[str, Any]:
    """aws_eks_cluster's Read: the version the control plane runs (EKS upgrades it itself at the end of
    standard support under a STANDARD policy), and the upgrade policy EKS reports."""
    c = cloud.client("eks", region).describe_cluster(name=str(outputs.get("name") or id_))["cluster"]
    read: dict[str, Any] = {"version": c["version"]}
    if c.get("upgradePolicy"):
        read["upgradePolicy"] = {"supportType": c["upgradePolicy"]["supportType"]}
    return read


def refresh(state: Mapping[str, tuple[str, dict[str, Any]]], regions: Mapping[str, str], cloud: EmbeddedCloud,
            types: Mapping[str, str]) -> State:
    """The state after `pulumi refresh`: each resource's outputs with what its type's reader reads from
    the cloud over them. `regions` and `types` name each URN's region and type token; a resource the
    cloud no longer has is dropped (the refresh would drop it too)."""
    out: State = {}
    for urn, (id_, outputs) in state.items():
        read_back = READERS.get(types.get(urn, ""))
        if read_back is None or not id_:
            out[urn] = (id_, dict(outputs))
            continue
        try:
            fresh = read_back(cloud, regions.get(urn, ""), id_, outputs)
        except (ClientError, IndexError):
            continue
        out[urn] = (id_, {**outputs, **fresh})
    return out
