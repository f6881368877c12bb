"""Embedded cloud room: pulumi_random resources, deterministic per URN (no cloud behind them)."""

from __future__ import annotations

import base64
import hashlib
import string

from embedded_cloud.handlers import Ctx, Out, Res, resource


def password_alphabet(r: Res) -> str:
    alphabet = string.ascii_letters + string.digits
    if r.inputs.get("special", True) is not False:
        alphabet += r.inputs.get("overrideSpecial") or "!#$%&*()-_=+[]{}<>:?"
    return alphabet


def derive(r: Res, length: int, alphabet: str) -> str:
    seed = hashlib.sha256(("berth-offline/" + r.urn).encode()).digest()
    out = []
    while len(out) < length:
        seed = hashlib.sha256(seed).digest()
        out.extend(alphabet[b % len(alphabet)] for b in seed)
    return "".join(out[:length])


@resource("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString")
def password(ctx: Ctx, r: Res) -> Out:
    length = int(r.inputs.get("length") or 16)
    value = derive(r, length, password_alphabet(r))
    return "none", {"result": value, "bcryptHash": "$2a$10$" + base64.b64encode(value.encode()).decode()[:53]}


@resource("random:index/randomId:RandomId")
def random_id(ctx: Ctx, r: Res) -> Out:
    n = int(r.inputs.get("byteLength") or 8)
    raw = hashlib.sha256(r.urn.encode()).digest()[:n]
    b64 = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return b64, {"hex": raw.hex(), "b64Url": b64, "b64Std": base64.b64encode(raw).decode(), "dec": str(int.from_bytes(raw))}
