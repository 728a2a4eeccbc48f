"""A visit as an iCalendar file (RFC 5545), made with the icalendar library: one VEVENT with the
place's address and map link, what to bring, and a reminder alarm the day before."""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event

from app.appointments.content import Place
from app.appointments.models import Appointment

PRODID = "-//Witaj//appointments//EN"


def calendar_file(
    *, appointment: Appointment, place: Place, service_name: str, bring: list[str], link: str | None, host: str, now: datetime
) -> bytes:
    """Return the .ics bytes of appointment: times in UTC (every calendar converts them to its own
    zone), the summary and description in the person's language (given translated)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{appointment.reference}@{host}")
    event.add("dtstamp", now)
    event.add("sequence", appointment.version)
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.ends_at)
    event.add("summary", f"{service_name} — {place.name}")
    event.add("location", f"{place.name}, {place.address}")
    event.add("geo", (place.lat, place.lon))
    lines = [f"{appointment.reference}", *[f"• {item}" for item in bring], place.map_url]
    if link:
        lines.append(link)
        event.add("url", link)
    event.add("description", "\n".join(lines))
    event.add("status", "CANCELLED" if appointment.status == "cancelled" else "CONFIRMED")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", service_name)
    alarm.add("trigger", timedelta(days=-1))
    event.add_component(alarm)
    cal.add_component(event)
    return cal.to_ical()

