"""app room: request and response bodies; every input is strict, bounded and forbids unknown fields."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Status = Literal["created", "in_transit", "delivered", "cancelled"]


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded: refuse both here.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError("must be an email address")
    return value


Place = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_text)]
Weight = Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
Tracking = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")]

_STRICT = ConfigDict(extra="forbid", strict=True)


class ShipmentCreate(BaseModel):
    model_config = _STRICT
    tracking_number: Tracking
    origin: Place
    destination: Place
    weight_kg: Weight
    status: Status = "created"


class ShipmentUpdate(BaseModel):
    # Fields are optional but not nullable: the None defaults are never validated, an explicit
    # null is a type error naming the field.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"minProperties": 1})
    origin: Place = None  # type: ignore[assignment]
    destination: Place = None  # type: ignore[assignment]
    weight_kg: Weight = None  # type: ignore[assignment]
    status: Status = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _some_change(self) -> ShipmentUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of origin, destination, weight_kg, status")
        return self


class Shipment(BaseModel):
    id: UUID
    tracking_number: str
    origin: str
    destination: str
    weight_kg: float
    status: Status
    version: int
    created_at: datetime
    updated_at: datetime


class ShipmentPage(BaseModel):
    items: list[Shipment]
    next_cursor: str | None


class InquiryCreate(BaseModel):
    model_config = _STRICT
    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_text)]
    email: Annotated[str, Field(min_length=3, max_length=254), AfterValidator(_text), AfterValidator(_email)]
    message: Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(_text)]


class Inquiry(BaseModel):
    id: UUID
    name: str
    email: str
    message: str
    created_at: datetime


class InquiryCreated(BaseModel):
    id: UUID
    created_at: datetime


class InquiryPage(BaseModel):
    items: list[Inquiry]
    next_cursor: str | None


class ErrorItem(BaseModel):
    field: str
    location: str
    message: str
    type: str


class Error(BaseModel):
    error: str
    message: str
    field: str | None = None
    errors: list[ErrorItem] | None = None
    current_version: int | None = None
