"""Imports every domain's tables so Base.metadata is complete (for Alembic, tests and the
conversation tests' database in memory)."""

from app.appointments.models import Appointment, AppointmentBlock, AppointmentEvent, AppointmentHold
from app.assistant.models import Conversation, ConversationMessage
from app.auth.models import (
    ApiToken,
    LoginThrottle,
    Organisation,
    PendingSignIn,
    RecoveryCode,
    TwoFactor,
    User,
    UserSession,
)
from app.cases.models import AuditEntry, CaseCounter, CaseEvent, CaseFile, CaseNote, Client, Consent, Referral
from app.db import Base
from app.forms.models import FormRevision, FormSubmission
from app.reports.models import ReportCase, ReportChatDay, ReportCursor, ReportReferral
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

#: Every table of Witaj.
METADATA = Base.metadata

__all__ = [
    "METADATA",
    "Appointment",
    "AppointmentBlock",
    "AppointmentEvent",
    "AppointmentHold",
    "Conversation",
    "ConversationMessage",
    "ApiToken",
    "AuditEntry",
    "CaseCounter",
    "CaseEvent",
    "CaseFile",
    "CaseNote",
    "Client",
    "Consent",
    "FormRevision",
    "FormSubmission",
    "LoginThrottle",
    "Organisation",
    "PendingSignIn",
    "RecoveryCode",
    "Referral",
    "ReportCase",
    "ReportChatDay",
    "ReportCursor",
    "ReportReferral",
    "TwoFactor",
    "User",
    "UserSession",
    "WebhookDelivery",
    "WebhookEndpoint",
]
