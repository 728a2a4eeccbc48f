"""The case tracker's input and output shapes, one set for the staff pages, the JSON API and the
other domains (chat, forms, demo) that open and change cases.

Inputs carry only types and the limits a client of the API can be told up front; the rules that
need the content or the database (known category, district, partner service...) are checked by the
services, which answer with field messages in the user's language (InvalidInput).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.cases.enums import DeclineReason, Priority, Source
from app.errors import InvalidInput, field_errors_of

#: Longest note, reason or description (characters).
MAX_NOTE = 10_000
MAX_DESCRIPTION = 10_000

#: The largest integer the API takes: what an INTEGER column holds on PostgreSQL (SQLite's hold
#: 2**63-1), so a number both databases store is never a server error.
MAX_INT = 2**31 - 1

#: What str.strip() removes (str.isspace), spelled out: `\s` means three different sets in Python,
#: in pydantic's Rust regex and in the JSON Schema (ECMA) regex that API clients use.
SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: Any text without NUL, which PostgreSQL refuses in text and JSON.
TEXT = r"^[^\x00]*$"
#: Text without NUL that is not only spaces.
NOT_BLANK = rf"^[^\x00]*[^\x00{SPACE}][^\x00]*$"

BaseModelT = TypeVar("BaseModelT", bound=BaseModel)


def parsed(model: type[BaseModelT], **values: object) -> BaseModelT:
    """Return model built from values (a page's form fields); raise InvalidInput with field messages."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise InvalidInput(
            {e["field"] or "form": e["message"] for e in field_errors_of(list(exc.errors()))}
        ) from None


# --- inputs --------------------------------------------------------------------------------------


class ClientIn(BaseModel):
    """What we know of a newcomer when a case is opened."""

    display_name: str
    preferred_language: str
    other_languages: list[str] = Field(default_factory=list)
    district: str | None = None
    email: str | None = None
    phone: str | None = None
    preferred_contact: str | None = None


class CaseIn(BaseModel):
    """A new case."""

    category: str
    subject: str
    description: str = ""
    source: Source = Source.staff
    priority: Priority = Priority.normal
    tags: list[str] = Field(default_factory=list)


class TransitionIn(BaseModel):
    """A workflow transition (see cases/workflow.yml); only what the transition `requires` is used.
    expected_version guards against lost updates: a stale one is refused with what changed meanwhile."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=40, pattern=TEXT, examples=["accept"])
    expected_version: int | None = Field(default=None, ge=1, le=MAX_INT)
    category: str | None = Field(default=None, max_length=40, pattern=TEXT)
    reason: str | None = Field(default=None, max_length=MAX_NOTE, pattern=TEXT)
    outcome: str | None = Field(default=None, max_length=40, pattern=TEXT)
    organisation: str | None = Field(
        default=None, max_length=80, pattern=TEXT, description="partner organisation slug"
    )
    service: str | None = Field(
        default=None, max_length=80, pattern=TEXT, description="the partner's service id"
    )
    consent_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    decline_reason: DeclineReason | None = Field(
        default=None, description="why a partner declines a referral (counted in the open statistics)"
    )


class TransitionRequest(TransitionIn):
    """A transition through the API, where expected_version is required (systems must not overwrite
    each other's changes), and a field the API does not know is refused rather than silently dropped."""

    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=1, le=MAX_INT)  # type: ignore[assignment]


class NoteIn(BaseModel):
    """A note; partners' notes are always shared with the office. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_NOTE, pattern=NOT_BLANK)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")


class InboxFilter(BaseModel):
    """Inbox filters and order; every field optional."""

    status: str | None = None
    category: str | None = None
    language: str | None = None
    partner: str | None = None  # organisation slug of the live referral
    overdue: bool = False
    mine: bool = False
    query: str | None = None
    sort: str = "-updated"
    page: int = 1
    per_page: int = 25


# --- outputs (the JSON API) ------------------------------------------------------------------------


class CaseSummary(BaseModel):
    """A case as listed."""

    reference: str
    status: str
    category: str
    priority: str
    language: str
    district: str | None
    subject: str
    due_at: datetime | None
    overdue: bool
    version: int
    updated_at: datetime


class NoteOut(BaseModel):
    """A shared note: the original body, and machine translations by language (engine, model version)."""

    id: int
    body: str
    language: str | None
    translations: dict[str, dict[str, str]] = Field(default_factory=dict)
    author_organisation: str
    created_at: datetime


class EventOut(BaseModel):
    """One entry of the case history."""

    kind: str
    name: str | None
    at: datetime
    before: dict
    after: dict
    reason: str | None = None


class ClientOut(BaseModel):
    """What the consent lets the partner know of the client."""

    display_name: str
    preferred_language: str
    other_languages: list[str]
    district: str | None
    contact: dict[str, str] | None = Field(
        description="Only when the client's consent covers contact details"
    )


class CaseDetail(CaseSummary):
    """A case with its client, shared notes and history."""

    description: str
    client: ClientOut
    notes: list[NoteOut]
    history: list[EventOut]
    allowed_transitions: list[str]


class CaseList(BaseModel):
    """One page of cases."""

    items: list[CaseSummary]
    page: int
    has_next: bool
