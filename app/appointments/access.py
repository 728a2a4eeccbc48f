"""Who sees which visits, in the query layer: the city office sees every place; a partner sees the
visits at its own desks (places.yml `organisation`) and those it booked itself. A visit outside
that is answered exactly like a missing one."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from app.appointments.content import catalogue
from app.appointments.exceptions import VisitNotFound
from app.appointments.models import Appointment
from app.auth import service as auth_service
from app.auth.permissions import Principal
from app.config import Settings


def own_places(*, db: Session, settings: Settings, principal: Principal) -> set[str] | None:
    """Return the places whose every visit principal sees: None for the office (all of them)."""
    if principal.is_office:
        return None
    organisation = auth_service.organisation(db=db, organisation_id=principal.organisation_id)
    slug = organisation.slug if organisation is not None else None
    return {place.id for place in catalogue(settings).places.values() if slug and place.organisation == slug}


def visible(*, db: Session, settings: Settings, principal: Principal) -> Select[tuple[Appointment]]:
    """Return a query of the visits principal may see."""
    places = own_places(db=db, settings=settings, principal=principal)
    query = select(Appointment)
    if places is not None:
        query = query.where(or_(Appointment.place_id.in_(sorted(places)), Appointment.booked_by_org_id == principal.organisation_id))
    return query


def get_visible(*, db: Session, settings: Settings, principal: Principal, reference: str) -> Appointment:
    """Return the visit with reference if principal may see it; raise VisitNotFound otherwise."""
    found = db.scalar(visible(db=db, settings=settings, principal=principal).where(Appointment.reference == reference.strip().upper()))
    if found is None:
        raise VisitNotFound()
    return found
