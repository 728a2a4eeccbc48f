"""Inputs and outputs of the appointments API (/api/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.appointments.service import EMAIL_PATTERN, PHONE_PATTERN
from app.cases.schemas import NOT_BLANK
from app.languages import LANGUAGES, PLANNED_LOCALES

ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"
#: As app/appointments/service.py checks them: what the description allows is accepted.
EMAIL, PHONE = EMAIL_PATTERN, PHONE_PATTERN
#: The interface's languages, and every language Witaj names (for an interpreter).
Locale = Literal[PLANNED_LOCALES]  # type: ignore[valid-type]
Spoken = Literal[tuple(LANGUAGES)]  # type: ignore[valid-type]


class ServiceOut(BaseModel):
    """A kind of visit; texts in the language of Accept-Language."""

    id: str
    name: str
    description: str
    minutes: int = Field(description="The visit's length")
    bring: list[str] = Field(description="What to bring")


class PlaceOut(BaseModel):
    """A place that takes visits, with its weekly hours (local time, closed on Polish public holidays)."""

    id: str
    name: str
    kind: str = Field(description="office, branch, kiosk or partner")
    address: str
    district: str
    lat: float
    lon: float
    map_url: str
    step_free: bool
    languages: list[str] = Field(description="Languages spoken at the desk (ISO 639-1)")
    desks: int = Field(description="Visits the place takes at the same time")
    services: list[str]
    hours: dict[str, list[str]] = Field(description='Weekday (MO...SU) -> opening spans "HH:MM-HH:MM"')
    evenings: bool = Field(description="Open after 17:00 on some day")
    weekends: bool = Field(description="Open on Saturday or Sunday")


class Places(BaseModel):
    """The services that can be booked and the places that offer them."""

    services: list[ServiceOut]
    places: list[PlaceOut]


class SlotOut(BaseModel):
    """A free time: a visit of the service can start then at the place."""

    place: str
    starts_at: datetime
    ends_at: datetime
    free_desks: int


class SlotList(BaseModel):
    """The free times of a service, in time order."""

    service: str
    items: list[SlotOut]


class BookingIn(BaseModel):
    """A visit to book for a client, at a free time (see /appointment-slots)."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(max_length=40, pattern=ID)
    place: str = Field(max_length=40, pattern=ID)
    starts_at: AwareDatetime = Field(description="A free time's starts_at, with its UTC offset")
    name: str = Field(min_length=1, max_length=120, pattern=NOT_BLANK, description="As the client gives it at the desk")
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL)
    phone: str | None = Field(default=None, max_length=21, pattern=PHONE, examples=["+48 600 123 456"])
    language: Locale = Field(default="pl", description="The client's language (reminders, pages)")
    interpreter_language: Spoken | None = Field(default=None, description="An interpreter needed for this language")


class MoveIn(BaseModel):
    """A new time (and, if given, another place offering the service) for a booked visit."""

    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime
    place: str | None = Field(default=None, max_length=40, pattern=ID)


class AppointmentOut(BaseModel):
    """A visit."""

    reference: str
    status: str = Field(description="booked, checked_in, no_show or cancelled")
    service: str
    place: str
    desk: int
    starts_at: datetime
    ends_at: datetime
    language: str
    interpreter_language: str | None
    name: str | None = Field(description="The client's name (null once erased after the retention period)")
    source: str = Field(description="web, chat, api or staff")
    version: int


class AppointmentList(BaseModel):
    """A page of visits in time order."""

    items: list[AppointmentOut]
    page: int
    has_next: bool
