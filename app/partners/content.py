"""Reads partners/*.yml, the partner directory, as partners/README.md specifies: the one reader of
those files (organisations, their services, locations and opening hours), built on the shared
Checker, every problem reported as `file:line: message`."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.content import Checker, ContentError, ContentErrors, Key, Schedule, label, load_yaml

DEMO_COMMENT = "# DEMO DATA — invented organisation for the reference city; not a real partner"
DEMO_DOMAIN = "example.org"
ACCESSIBILITY = (
    "wheelchair",
    "elevator",
    "accessible_toilet",
    "hearing_loop",
    "braille",
    "sign_language",
    "quiet_room",
    "child_friendly",
)
COUNTRY = "PL"
#: Longest organisation slug (the organisation table's column).
MAX_SLUG = 80
ALL_DISTRICTS = "all"

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_POSTAL_CODE = re.compile(r"^[0-9]{2}-[0-9]{3}$")
_PHONE = re.compile(r"^\+[1-9][0-9]*( [0-9]+)*$")
_DEMO_PHONE = re.compile(r"^\+48 12 000 00 [0-9]{2}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_E164_MAX_DIGITS = 15


# --- shapes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phone:
    """A phone number in E.164 with spaces, and what it is for (English, gettext)."""

    number: str
    description: str | None


@dataclass(frozen=True)
class Location:
    """A place where services are given, with its weekly opening hours (closed on public holidays)."""

    id: str
    name: str
    address: dict[str, str]
    district: str
    latitude: float
    longitude: float
    accessibility: tuple[str, ...]
    schedule: Schedule


@dataclass(frozen=True)
class Service:
    """A service a partner offers: categories, languages, capacity and area (districts None = all)."""

    organisation_slug: str
    id: str
    name: str
    description: str
    categories: frozenset[str]
    languages: tuple[str, ...]
    eligibility: str | None
    fees: str
    max_open_referrals: int
    referral_response_hours: int | None
    districts: frozenset[str] | None
    location_ids: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        """Return (organisation slug, service id), the way a referral stores the service."""
        return (self.organisation_slug, self.id)

    @property
    def referable(self) -> bool:
        """Return whether the service takes referrals at all (max_open_referrals > 0)."""
        return self.max_open_referrals > 0

    def covers(self, district: str) -> bool:
        """Return whether a client living in district may use the service."""
        return self.districts is None or district in self.districts


@dataclass(frozen=True)
class PartnerOrganisation:
    """A partner organisation (one partners/<slug>.yml file; `organization.id` in the file)."""

    slug: str
    name: str
    alternate_name: str | None
    description: str
    email: str
    url: str
    phones: tuple[Phone, ...]
    is_demo: bool
    locations: dict[str, Location]
    services: tuple[Service, ...]
    referral_email: str
    referral_phone: str | None = None


@dataclass(frozen=True)
class Directory:
    """Every partner organisation (by slug) and service (by (organisation slug, service id))."""

    organisations: dict[str, PartnerOrganisation]
    services: dict[tuple[str, str], Service]

    def filter(
        self, *, category: str | None = None, language: str | None = None, district: str | None = None
    ) -> list[Service]:
        """Return the services matching every given criterion, by organisation slug then file order."""
        return [
            service
            for service in self.services.values()
            if (category is None or category in service.categories)
            and (language is None or language in service.languages)
            and (district is None or service.covers(district))
        ]

    def can_refer(self, *, organisation_slug: str, service_id: str, category: str) -> bool:
        """Return whether a case of category may be referred to the service (README: `requires: partner`)."""
        service = self.services.get((organisation_slug, service_id))
        return service is not None and service.referable and category in service.categories

    def locations_of(self, service: Service) -> list[Location]:
        """Return the locations where service is given, in the service's order."""
        locations = self.organisations[service.organisation_slug].locations
        return [locations[location_id] for location_id in service.location_ids]


# --- loading -------------------------------------------------------------------------------------


def load_directory(
    folder: Path, *, categories: Collection[str], districts: Collection[str], office_slug: str, city: str
) -> Directory:
    """Return the validated partner directory in folder; raise ContentErrors listing every problem."""
    errors: list[ContentError] = []
    organisations: dict[str, PartnerOrganisation] = {}
    if folder.is_dir():
        for stray in sorted(folder.glob("*.yaml")):
            errors.append(ContentError(stray, 1, f"partner files end in .yml: rename it to {stray.stem}.yml"))
        for path in sorted(folder.glob("*.yml")):
            try:
                doc = load_yaml(path)
            except ContentError as exc:
                errors.append(exc)
                continue
            reader = _PartnerReader(
                Checker(doc, errors),
                categories=sorted(categories),
                districts=sorted(districts),
                office_slug=office_slug,
                city=city,
            )
            organisation = reader.read()
            if organisation is not None:
                organisations[organisation.slug] = organisation
    if errors:
        raise ContentErrors(errors)
    return Directory(
        organisations=organisations,
        services={service.key: service for org in organisations.values() for service in org.services},
    )


class _PartnerReader:
    """Validates one partner file and builds its PartnerOrganisation."""

    def __init__(
        self, c: Checker, *, categories: Sequence[str], districts: Sequence[str], office_slug: str, city: str
    ) -> None:
        self.c = c
        self.city = city
        self.categories = categories
        self.districts = districts
        self.office_slug = office_slug

    def read(self) -> PartnerOrganisation | None:
        c = self.c
        start = c.error_count
        top = c.mapping(
            (),
            c.doc.data,
            required=("organization", "contact_for_referrals", "services", "locations"),
            optional=("demo",),
        )
        if top is None:
            return None
        is_demo = c.field(top, (), "demo", c.boolean) if "demo" in top else False
        organization = c.field(top, (), "organization", self._organization)
        contact = c.field(
            top, (), "contact_for_referrals", c.mapping, required=("email",), optional=("phone",)
        )
        referral_email = (
            c.field(contact, ("contact_for_referrals",), "email", self._email) if contact else None
        )
        referral_phone = (
            c.field(contact, ("contact_for_referrals",), "phone", self._phone) if contact else None
        )
        locations = c.field(top, (), "locations", self._locations)
        org_id = organization["slug"] if organization else None
        services = c.field(top, (), "services", self._services, org_id, self._raw_location_ids(top))
        if is_demo:
            self._check_demo(top)
        if c.error_count > start or organization is None or referral_email is None:
            return None
        if locations is None or services is None or is_demo is None:
            return None
        return PartnerOrganisation(
            **organization,
            is_demo=is_demo,
            locations=locations,
            services=services,
            referral_email=referral_email,
            referral_phone=referral_phone,
        )

    # --- organization ---

    def _organization(self, key: Key, value: object) -> dict[str, Any] | None:
        c = self.c
        start = c.error_count
        org = c.mapping(
            key,
            value,
            required=("id", "name", "description", "email", "url", "phones"),
            optional=("alternate_name",),
        )
        if org is None:
            return None
        org_id = c.field(org, key, "id", self._slug)
        if org_id is not None and org_id != c.doc.path.stem:
            c.fail(
                (*key, "id"), f"`id` is {org_id!r} but the file is {c.doc.path.name}: name it {org_id}.yml"
            )
        if org_id is not None and org_id == self.office_slug:
            c.fail((*key, "id"), f"{org_id!r} is the city office, not a partner; it has no file here")
        fields = {
            "slug": org_id,
            "name": c.field(org, key, "name", c.text),
            "alternate_name": c.field(org, key, "alternate_name", c.text),
            "description": c.field(org, key, "description", c.text),
            "email": c.field(org, key, "email", self._email),
            "url": c.field(org, key, "url", self._url),
            "phones": c.field(org, key, "phones", self._phones),
        }
        return fields if c.error_count == start else None

    def _phones(self, key: Key, value: object) -> tuple[Phone, ...] | None:
        c = self.c
        entries = c.sequence(key, value, min_items=1)
        if entries is None:
            return None
        phones: list[Phone] = []
        for index, entry in enumerate(entries):
            item = c.mapping((*key, index), entry, required=("number",), optional=("description",))
            if item is None:
                continue
            number = c.field(item, (*key, index), "number", self._phone)
            description = c.field(item, (*key, index), "description", c.text)
            if number is not None and ("description" not in item or description is not None):
                phones.append(Phone(number=number, description=description))
        return tuple(phones) if len(phones) == len(entries) else None

    # --- services ---

    def _raw_location_ids(self, top: dict[str, Any]) -> list[str]:
        """Return the location ids as written, so a broken location does not also break every service."""
        entries = top.get("locations")
        if not isinstance(entries, list):
            return []
        ids = [
            entry["id"] for entry in entries if isinstance(entry, dict) and isinstance(entry.get("id"), str)
        ]
        return list(dict.fromkeys(ids))

    def _services(
        self, key: Key, value: object, org_id: str | None, location_ids: list[str]
    ) -> tuple[Service, ...] | None:
        c = self.c
        entries = c.sequence(key, value, min_items=1)
        if entries is None:
            return None
        start = c.error_count
        services: list[Service] = []
        first_lines: dict[str, int] = {}
        for index, entry in enumerate(entries):
            service = self._service((*key, index), entry, org_id or "", location_ids)
            if service is None:
                continue
            if service.id in first_lines:
                c.fail(
                    (*key, index, "id"),
                    f"service id {service.id!r} is used twice (first on line {first_lines[service.id]})",
                )
                continue
            first_lines[service.id] = c.doc.line(*key, index, "id")
            services.append(service)
        used = {location_id for service in services for location_id in service.location_ids}
        for index, location_id in enumerate(location_ids):
            if location_id not in used and c.error_count == start:
                c.fail(
                    ("locations", index, "id"), f"location {location_id!r} is used by no service: remove it"
                )
        return tuple(services) if c.error_count == start else None

    def _service(self, key: Key, entry: object, org_id: str, location_ids: list[str]) -> Service | None:
        c = self.c
        start = c.error_count
        item = c.mapping(
            key,
            entry,
            required=(
                "id",
                "name",
                "description",
                "categories",
                "languages",
                "fees",
                "capacity",
                "service_area",
                "locations",
            ),
            optional=("eligibility", "referral_response_hours"),
        )
        if item is None:
            return None
        service_id = c.field(item, key, "id", self._slug)
        name = c.field(item, key, "name", c.text)
        description = c.field(item, key, "description", c.text)
        categories = c.field(item, key, "categories", c.choices, self.categories)
        languages = c.field(item, key, "languages", c.items, self._language)
        eligibility = c.field(item, key, "eligibility", c.text)
        fees = c.field(item, key, "fees", c.text)
        capacity = c.field(item, key, "capacity", c.mapping, required=("max_open_referrals",))
        max_open = (
            c.field(capacity, (*key, "capacity"), "max_open_referrals", c.integer, minimum=0)
            if capacity
            else None
        )
        response_hours = c.field(item, key, "referral_response_hours", c.integer, minimum=1)
        area = c.field(item, key, "service_area", c.mapping, required=("districts",))
        districts = c.field(area, (*key, "service_area"), "districts", self._area) if area else None
        service_locations = c.field(item, key, "locations", c.choices, location_ids)
        if c.error_count > start or service_id is None or name is None or description is None:
            return None
        if categories is None or languages is None or fees is None or max_open is None:
            return None
        if districts is None or service_locations is None:
            return None
        return Service(
            organisation_slug=org_id,
            id=service_id,
            name=name,
            description=description,
            categories=frozenset(categories),
            languages=languages,
            eligibility=eligibility,
            fees=fees,
            max_open_referrals=max_open,
            referral_response_hours=response_hours,
            districts=None if districts == ALL_DISTRICTS else frozenset(districts),
            location_ids=service_locations,
        )

    def _area(self, key: Key, value: object) -> str | tuple[str, ...] | None:
        if value == ALL_DISTRICTS:
            return ALL_DISTRICTS
        if isinstance(value, str):
            self.c.fail(key, f"`districts` is {value!r}; write `all` or a list of district names")
            return None
        return self.c.choices(key, value, self.districts)

    def _language(self, key: Key, value: object) -> str | None:
        if isinstance(value, bool):
            # YAML 1.1 reads an unquoted `no` (Norwegian) as false, `yes` as true.
            self.c.fail(key, 'a language code must be quoted when YAML reads it as true/false: write "no"')
            return None
        return self.c.matching(key, value, _LANGUAGE, "an ISO 639-1 code of two lowercase letters such as uk")

    # --- locations ---

    def _locations(self, key: Key, value: object) -> dict[str, Location] | None:
        c = self.c
        entries = c.sequence(key, value, min_items=1)
        if entries is None:
            return None
        start = c.error_count
        locations: dict[str, Location] = {}
        first_lines: dict[str, int] = {}
        for index, entry in enumerate(entries):
            location = self._location((*key, index), entry)
            if location is None:
                continue
            if location.id in first_lines:
                c.fail(
                    (*key, index, "id"),
                    f"location id {location.id!r} is used twice (first on line {first_lines[location.id]})",
                )
                continue
            first_lines[location.id] = c.doc.line(*key, index, "id")
            locations[location.id] = location
        return locations if c.error_count == start else None

    def _location(self, key: Key, entry: object) -> Location | None:
        c = self.c
        start = c.error_count
        item = c.mapping(
            key,
            entry,
            required=("id", "name", "address", "district", "latitude", "longitude", "schedule"),
            optional=("accessibility",),
        )
        if item is None:
            return None
        location_id = c.field(item, key, "id", self._slug)
        name = c.field(item, key, "name", c.text)
        address = c.field(item, key, "address", self._address)
        district = c.field(item, key, "district", c.choice, self.districts)
        latitude = c.field(item, key, "latitude", c.number, minimum=-90, maximum=90)
        longitude = c.field(item, key, "longitude", c.number, minimum=-180, maximum=180)
        accessibility = c.field(item, key, "accessibility", c.choices, ACCESSIBILITY, min_items=0) or ()
        schedule = c.field(item, key, "schedule", c.schedule)
        if c.error_count > start or location_id is None or name is None or address is None:
            return None
        if district is None or latitude is None or longitude is None or schedule is None:
            return None
        return Location(
            id=location_id,
            name=name,
            address=address,
            district=district,
            latitude=latitude,
            longitude=longitude,
            accessibility=accessibility,
            schedule=schedule,
        )

    def _address(self, key: Key, value: object) -> dict[str, str] | None:
        c = self.c
        start = c.error_count
        address = c.mapping(
            key, value, required=("address_1", "city", "postal_code", "country"), optional=("address_2",)
        )
        if address is None:
            return None
        fields = {
            "address_1": c.field(address, key, "address_1", c.text),
            "address_2": c.field(address, key, "address_2", c.text),
            "city": c.field(address, key, "city", c.choice, (self.city,)),
            "postal_code": c.field(address, key, "postal_code", self._postal_code),
            "country": c.field(address, key, "country", c.choice, (COUNTRY,)),
        }
        if c.error_count > start:
            return None
        return {name: text for name, text in fields.items() if text is not None}

    def _postal_code(self, key: Key, value: object) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            self.c.fail(key, 'a postal code must be quoted, such as "30-312"')
            return None
        return self.c.matching(key, value, _POSTAL_CODE, 'a quoted Polish postal code "NN-NNN"')

    # --- shared values ---

    def _slug(self, key: Key, value: object) -> str | None:
        slug = self.c.matching(key, value, _SLUG, "a slug of a-z, 0-9 and single hyphens such as main-office")
        if slug is not None and len(slug) > MAX_SLUG:
            self.c.fail(key, f"{label(key)} has {len(slug)} characters; at most {MAX_SLUG} are allowed")
            return None
        return slug

    def _email(self, key: Key, value: object) -> str | None:
        return self.c.matching(key, value, _EMAIL, "an e-mail address such as info@example.org")

    def _url(self, key: Key, value: object) -> str | None:
        text = self.c.text(key, value)
        if text is None:
            return None
        parts = urlsplit(text)
        if parts.scheme != "https" or not parts.hostname:
            self.c.fail(key, f"{text!r} is not an https:// address of a website")
            return None
        return text

    def _phone(self, key: Key, value: object) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            self.c.fail(key, 'a phone number must be quoted, such as "+48 12 000 00 01"')
            return None
        number = self.c.matching(
            key, value, _PHONE, 'an international number with spaces such as "+48 12 345 67 89"'
        )
        if number is not None and sum(char.isdigit() for char in number) > _E164_MAX_DIGITS:
            self.c.fail(key, f"{number!r} has more than {_E164_MAX_DIGITS} digits, the E.164 maximum")
            return None
        return number

    # --- demo data ---

    def _check_demo(self, top: dict[str, Any]) -> None:
        """Record what makes a `demo: true` file look like a real organisation (README: "Demo data")."""
        c = self.c
        first_line = c.doc.path.read_text(encoding="utf-8").split("\n", 1)[0].rstrip()
        if first_line != DEMO_COMMENT:
            c.fail(("demo",), f"a demo file starts with the line: {DEMO_COMMENT}")
        org = top.get("organization")
        org = org if isinstance(org, dict) else {}
        name = org.get("name")
        if isinstance(name, str) and not name.rstrip().endswith("(demo)"):
            c.fail(("organization", "name"), 'the name of a demo organisation ends in "(demo)"')
        contact = top.get("contact_for_referrals")
        contact = contact if isinstance(contact, dict) else {}
        for key, address in (
            (("organization", "email"), org.get("email")),
            (("contact_for_referrals", "email"), contact.get("email")),
        ):
            if isinstance(address, str) and "@" in address and not _is_demo_host(address.rsplit("@", 1)[1]):
                c.fail(key, f"a demo organisation uses {DEMO_DOMAIN} addresses, not {address!r}")
        url = org.get("url")
        if isinstance(url, str) and not _is_demo_host(urlsplit(url).hostname or ""):
            c.fail(("organization", "url"), f"a demo organisation's website is on {DEMO_DOMAIN}, not {url!r}")
        numbers: list[tuple[Key, object]] = [(("contact_for_referrals", "phone"), contact.get("phone"))]
        phones = org.get("phones")
        if isinstance(phones, list):
            numbers += [
                (("organization", "phones", index, "number"), phone.get("number"))
                for index, phone in enumerate(phones)
                if isinstance(phone, dict)
            ]
        for key, number in numbers:
            if isinstance(number, str) and not _DEMO_PHONE.match(number):
                c.fail(key, f'a demo organisation uses the numbers "+48 12 000 00 xx", not {number!r}')


def _is_demo_host(host: str) -> bool:
    host = host.lower()
    return host == DEMO_DOMAIN or host.endswith("." + DEMO_DOMAIN)
