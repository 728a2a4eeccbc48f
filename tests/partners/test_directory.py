"""partners/*.yml: the directory loads, each kind of mistake is reported at its file and line, and
referral suggestions follow the formula of cases/README.md ("routing.yml")."""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from datetime import time
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from click.testing import CliRunner

from app.cases.content import load_case_content
from app.cases.content.routing import Routing, RoutingRule
from app.config import PROJECT_ROOT
from app.content import ContentError, ContentErrors
from app.partners.cli import partners
from app.partners.content import Directory, Location, PartnerOrganisation, Service, load_directory
from app.partners.service import suggest

PARTNERS = PROJECT_ROOT / "partners"


@pytest.fixture(scope="module")
def content():
    return load_case_content(PROJECT_ROOT / "cases")


@pytest.fixture(scope="module")
def directory(content) -> Directory:
    return load(PARTNERS, content)


def load(folder: Path, content) -> Directory:
    return load_directory(
        folder, categories=set(content.categories), districts=set(content.districts), office_slug="gup-krakow", city="Kraków"
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """Return a writable copy of the shipped partners/ folder."""
    return Path(shutil.copytree(PARTNERS, tmp_path / "partners"))


def edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {file}: the test no longer matches the content"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(folder: Path, file: str, marker: str) -> int:
    for number, line in enumerate((folder / file).read_text(encoding="utf-8").splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {file}")


def problems(folder: Path, content) -> list[ContentError]:
    with pytest.raises(ContentErrors) as info:
        load(folder, content)
    return info.value.errors


# --- the shipped directory ---------------------------------------------------------------------------


def test_shipped_directory(directory):
    assert sorted(directory.organisations) == [
        "dom-spotkan-pod-jaworem",
        "fundacja-alfabet-sasiedzki",
        "fundacja-przystan",
        "fundacja-zielony-most",
        "klub-mist",
        "stowarzyszenie-cieply-kat",
        "stowarzyszenie-prawo-na-start",
    ]
    assert len(directory.services) == 18
    assert all(org.is_demo for org in directory.organisations.values())

    mist = directory.organisations["klub-mist"]
    assert mist.alternate_name == "Міст" and mist.referral_email == "referrals@mist.example.org"
    assert [service.id for service in mist.services] == [
        "first-steps",
        "peer-support",
        "room-search",
        "community-sundays",
    ]
    room = directory.services[("klub-mist", "room-search")]
    assert room.districts == {"Nowa Huta", "Bieńczyce", "Mistrzejowice", "Czyżyny", "Wzgórza Krzesławickie"}
    assert room.languages == ("uk", "ru", "pl") and room.max_open_referrals == 10 and room.eligibility is None
    assert directory.services[("klub-mist", "first-steps")].districts is None  # all districts
    assert not directory.services[("klub-mist", "community-sundays")].referable

    przystan = directory.organisations["fundacja-przystan"]
    assert [phone.number for phone in przystan.phones] == ["+48 12 000 00 01", "+48 12 000 00 02"]
    nowa_huta = przystan.locations["nowa-huta"]
    assert nowa_huta.district == "Nowa Huta" and nowa_huta.address["address_2"] == "room 12"
    assert nowa_huta.schedule == {1: [(time(16), time(19))], 5: [(time(10), time(13))]}
    assert przystan.locations["main"].accessibility == ("wheelchair", "elevator", "accessible_toilet")


def test_filter_for_the_public_directory(directory):
    def ids(services):
        return [f"{s.organisation_slug}/{s.id}" for s in services]

    assert ids(directory.filter(category="housing", language="en")) == [
        "stowarzyszenie-cieply-kat/housing-counselling",
        "stowarzyszenie-prawo-na-start/tenancy-advice",
    ]
    # Open events are listed although they take no referrals.
    assert "klub-mist/community-sundays" in ids(directory.filter(category="culture"))
    assert ids(directory.filter(category="psychological_support", district="Podgórze", language="ru")) == [
        "fundacja-zielony-most/individual-counselling",
        "klub-mist/peer-support",
        "stowarzyszenie-cieply-kat/emergency-housing",
    ]
    assert len(directory.filter()) == 18


def test_can_refer_only_to_services_that_take_the_category(directory):
    assert directory.can_refer(organisation_slug="klub-mist", service_id="room-search", category="housing")
    assert not directory.can_refer(
        organisation_slug="klub-mist", service_id="room-search", category="legal_aid"
    )
    assert not directory.can_refer(
        organisation_slug="klub-mist", service_id="community-sundays", category="culture"
    )
    assert not directory.can_refer(organisation_slug="klub-mist", service_id="nothing", category="housing")


# --- one broken copy per kind of mistake -----------------------------------------------------------


@dataclass(frozen=True)
class Mistake:
    file: str
    old: str
    new: str
    marker: str  # text on the line the error must point at (after the edit)
    fragment: str


MIST = "klub-mist.yml"
PRZYSTAN = "fundacja-przystan.yml"

MISTAKES = {
    "unknown top-level key": Mistake(
        MIST, "demo: true\n", "demo: true\nverified: true\n", "verified", "`verified`"
    ),
    "demo not a bool": Mistake(MIST, "demo: true", "demo: maybe", "demo: maybe", "true or false"),
    "id is not the file name": Mistake(
        MIST, "id: klub-mist", "id: klub-most", "id: klub-most", "name it klub-most.yml"
    ),
    "id not a slug": Mistake(MIST, "id: klub-mist", "id: Klub_Mist", "id: Klub_Mist", "a slug"),
    "missing organization key": Mistake(
        MIST, "  url: https://mist.example.org\n", "", "organization:", "`url`"
    ),
    "website not https": Mistake(
        MIST, "url: https://mist.example.org", "url: http://mist.example.org", "url: http", "https://"
    ),
    "e-mail": Mistake(
        MIST, "email: hello@mist.example.org", "email: hello-at-mist", "hello-at-mist", "e-mail address"
    ),
    "no phones": Mistake(
        MIST,
        '  phones:\n    - {number: "+48 12 000 00 41", description: "club, Tuesday to Sunday"}',
        "  phones: []",
        "phones: []",
        "at least 1",
    ),
    "phone not international": Mistake(
        MIST, '"+48 12 000 00 41"', '"12 000 00 41"', "12 000 00 41", "international"
    ),
    "phone unquoted": Mistake(
        MIST, '{number: "+48 12 000 00 41"', "{number: 48120000041", "48120000041", "quoted"
    ),
    "referral contact without e-mail": Mistake(
        MIST,
        "contact_for_referrals: {email: referrals@mist.example.org}",
        "contact_for_referrals: {}",
        "contact_for_referrals",
        "`email`",
    ),
    "no services": Mistake(
        MIST,
        "services:\n  - id: first-steps",
        "services: []\nx:\n  - id: first-steps",
        "services: []",
        "at least 1",
    ),
    "unknown service key": Mistake(
        MIST, "    fees: free\n", "    fees: free\n    price: 0\n", "price: 0", "unknown key `price`"
    ),
    "service without fees": Mistake(
        PRZYSTAN,
        "    fees: free\n    capacity: {max_open_referrals: 40}",
        "    capacity: {max_open_referrals: 40}",
        "- id: legal-aid-residence",
        "`fees`",
    ),
    "duplicate service id": Mistake(
        MIST, "id: peer-support", "id: first-steps  # here", "# here", "used twice"
    ),
    "unknown category": Mistake(
        MIST, "categories: [housing]", "categories: [shelter]", "categories: [shelter]", "'shelter'"
    ),
    "no category": Mistake(MIST, "categories: [housing]", "categories: []", "categories: []", "at least 1"),
    "language in capitals": Mistake(
        MIST, "languages: [uk, ru]", "languages: [UK, ru]", "languages: [UK", "'UK'"
    ),
    "three-letter language": Mistake(
        MIST, "languages: [uk, ru]", "languages: [ukr, ru]", "ukr", "two lowercase"
    ),
    "unquoted no": Mistake(
        MIST, "languages: [uk, ru]", "languages: [uk, no]", "languages: [uk, no]", 'write "no"'
    ),
    "repeated language": Mistake(
        MIST, "languages: [uk, ru]", "languages: [uk, uk]", "languages: [uk, uk]", "twice"
    ),
    "negative capacity": Mistake(
        MIST, "{max_open_referrals: 10}", "{max_open_referrals: -1}", "max_open_referrals: -1", "at least 0"
    ),
    "capacity not a number": Mistake(
        MIST,
        "{max_open_referrals: 10}",
        "{max_open_referrals: ten}",
        "max_open_referrals: ten",
        "whole number",
    ),
    "response hours zero": Mistake(
        MIST,
        "referral_response_hours: 48",
        "referral_response_hours: 0",
        "referral_response_hours: 0",
        "at least 1",
    ),
    "area word": Mistake(
        MIST, "service_area: {districts: all}", "service_area: {districts: everywhere}", "everywhere", "`all`"
    ),
    "area district unknown": Mistake(
        MIST, "[Nowa Huta, Bieńczyce,", "[Nowa Huta, Bienczyce,", "Bienczyce", "'Bienczyce'"
    ),
    "service location unknown": Mistake(
        MIST,
        "    locations: [main]\n  - id: peer-support",
        "    locations: [club]\n  - id: peer-support",
        "locations: [club]",
        "'club'",
    ),
    "location used by no service": Mistake(
        PRZYSTAN,
        "    locations: [main, nowa-huta]",
        "    locations: [main]",
        "- id: nowa-huta",
        "used by no service",
    ),
    "duplicate location id": Mistake(
        PRZYSTAN, "- id: nowa-huta", "- id: main  # here", "# here", "used twice"
    ),
    "location id not a slug": Mistake(
        PRZYSTAN, "- id: nowa-huta", "- id: nowa huta", "- id: nowa huta", "a slug"
    ),
    "location district": Mistake(
        MIST, "district: Nowa Huta", "district: Nova Huta", "district: Nova Huta", "'Nova Huta'"
    ),
    "city": Mistake(
        MIST, "city: Kraków", "city: Krakow", "city: Krakow", "`city` is 'Krakow'; allowed: Kraków"
    ),
    "country": Mistake(MIST, "country: PL}", "country: Poland}", "country: Poland", "allowed: PL"),
    "postal code format": Mistake(MIST, '"31-931"', '"31931"', '"31931"', '"NN-NNN"'),
    "postal code unquoted": Mistake(MIST, 'postal_code: "31-931"', "postal_code: 31931", "31931", "quoted"),
    "address without street": Mistake(MIST, 'address_1: "os. Testowe 9", ', "", "address:", "`address_1`"),
    "latitude": Mistake(MIST, "latitude: 50.0771", "latitude: 150.0771", "latitude: 150", "from -90 to 90"),
    "longitude not a number": Mistake(
        MIST, "longitude: 20.0334", "longitude: east", "longitude: east", "a number"
    ),
    "accessibility": Mistake(
        PRZYSTAN,
        "accessibility: [wheelchair, elevator,",
        "accessibility: [ramp, elevator,",
        "[ramp",
        "'ramp'",
    ),
    "unquoted time": Mistake(MIST, 'closes_at: "20:00"', "closes_at: 20:00", "closes_at: 20:00", "quoted"),
    "opens after it closes": Mistake(
        MIST,
        '{days: [SA], opens_at: "10:00", closes_at: "16:00"}',
        '{days: [SA], opens_at: "17:00", closes_at: "16:00"}',
        'opens_at: "17:00"',
        "later than `opens_at`",
    ),
    "overlapping hours": Mistake(
        MIST, "{days: [SA], opens_at", "{days: [SA, TU], opens_at", "[SA, TU]", "opening hours on TU overlap"
    ),
    "unknown day": Mistake(MIST, "days: [SU]", "days: [SUN]", "days: [SUN]", "'SUN'"),
    "no days": Mistake(MIST, "days: [SU]", "days: []", "days: []", "at least 1"),
    "no schedule": Mistake(
        PRZYSTAN,
        '    schedule:\n      - {days: [TU], opens_at: "16:00", closes_at: "19:00"}\n'
        '      - {days: [SA], opens_at: "10:00", closes_at: "13:00"}',
        "    schedule: []",
        "schedule: []",
        "at least 1",
    ),
    "demo without its comment": Mistake(
        MIST,
        "# DEMO DATA — invented organisation for the reference city; not a real partner\n",
        "",
        "demo: true",
        "starts with the line",
    ),
    "demo name without (demo)": Mistake(
        MIST,
        "name: Ukraiński Klub Sąsiedzki Mist (demo)",
        "name: Ukraiński Klub Sąsiedzki Mist",
        "name: Ukraiński",
        '"(demo)"',
    ),
    "demo with a real-looking e-mail": Mistake(
        MIST,
        "{email: referrals@mist.example.org}",
        "{email: referrals@mist.org.pl}",
        "referrals@mist.org.pl",
        "example.org addresses",
    ),
    "demo with a real-looking website": Mistake(
        MIST,
        "url: https://mist.example.org",
        "url: https://mist.org.pl",
        "url: https://mist.org.pl",
        "on example.org",
    ),
    "demo with a real-looking phone": Mistake(
        MIST, '"+48 12 000 00 41"', '"+48 12 345 67 89"', "+48 12 345 67 89", '"+48 12 000 00 xx"'
    ),
    # Content is plain text (issue 11): a service name that a browser or htmx would act on.
    "service name with an htmx link": Mistake(
        PRZYSTAN,
        "name: Legal aid on residence and work permits",
        """name: '<a hx-post="/pl/staff/cases/x/notes" hx-trigger="load">x</a>'""",
        "hx-post",
        "content is plain text",
    ),
    "fees with a closing tag": Mistake(
        MIST, "fees: free\n", "fees: free</p>\n", "fees: free</p>", "markup '</p>'"
    ),
    "organisation description with an event attribute": Mistake(
        PRZYSTAN,
        "  description: >-\n",
        "  description: >-\n    onmouseover=alert(1)\n",
        "description: >-",  # a folded text's line
        "markup 'onmouseover='",
    ),
}


@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=MISTAKES.keys())
def test_each_mistake_is_reported_at_its_line(copy, content, mistake):
    edit(copy, mistake.file, mistake.old, mistake.new)
    errors = problems(copy, content)
    line = line_of(copy, mistake.file, mistake.marker)
    path = str(copy / mistake.file)
    assert any(e.path == path and e.line == line and mistake.fragment in e.message for e in errors), (
        f"expected {mistake.file}:{line}: ...{mistake.fragment}... among:\n" + "\n".join(map(str, errors))
    )


def test_a_less_than_sign_in_prose_is_plain_text(copy, content):
    edit(copy, MIST, "fees: free\n", "fees: free for children < 6 and 3<4 adults\n")
    assert load(copy, content).services[("klub-mist", "first-steps")].fees.startswith("free for children < 6")


def test_the_office_is_not_a_partner(copy, content):
    (copy / "gup-krakow.yml").write_text(
        (copy / "klub-mist.yml").read_text(encoding="utf-8").replace("id: klub-mist", "id: gup-krakow"),
        encoding="utf-8",
    )
    errors = problems(copy, content)
    assert any(e.path.endswith("gup-krakow.yml") and "the city office" in e.message for e in errors)


def test_a_file_with_another_extension_is_not_silently_ignored(copy, content):
    shutil.copy(copy / "klub-mist.yml", copy / "klub-nowy.yaml")
    errors = problems(copy, content)
    assert [(Path(e.path).name, e.line) for e in errors] == [("klub-nowy.yaml", 1)]


def test_problems_in_several_files_are_reported_at_once(copy, content):
    edit(copy, MIST, "languages: [uk, ru]", "languages: [UK, ru]")
    edit(copy, PRZYSTAN, "district: Stare Miasto", "district: Old Town")
    edit(copy, "fundacja-zielony-most.yml", "fees: free", "fees: 0")
    errors = problems(copy, content)
    assert sorted({Path(e.path).name for e in errors}) == sorted(
        [MIST, PRZYSTAN, "fundacja-zielony-most.yml"]
    )


def test_invalid_yaml_is_reported_and_the_other_files_still_checked(copy, content):
    edit(copy, MIST, "    fees: free\n", "    fees: [free\n")
    edit(copy, PRZYSTAN, "district: Stare Miasto", "district: Old Town")
    errors = problems(copy, content)
    assert {Path(e.path).name for e in errors} == {MIST, PRZYSTAN}
    assert any("not valid YAML" in e.message for e in errors)


def test_a_missing_folder_is_an_empty_directory(tmp_path, content):
    assert load(tmp_path / "nothing", content).organisations == {}


# --- ranking on the shipped partners ---------------------------------------------------------------


def ranked(suggestions):
    return [(s.organisation_slug, s.service_id, s.score) for s in suggestions]


def test_ukrainian_housing_case_in_nowa_huta(directory, content):
    # Housing weights: language 30, district 35, capacity 25, response_time 10; response time is
    # (72 - h) / 64 between 8 h and 72 h. All four housing services speak Ukrainian and are empty:
    #   klub-mist/room-search              located in Nowa Huta, 24 h: 30 + 35 + 25 + 7.5   = 97.5
    #   cieply-kat/emergency-housing       area only (Podgórze), 4 h:  30 + 17.5 + 25 + 10  = 82.5
    #   cieply-kat/housing-counselling     area only, 16 h:            30 + 17.5 + 25 + 8.75 = 81.25
    #   prawo-na-start/tenancy-advice      area only, 24 h:            30 + 17.5 + 25 + 7.5 = 80
    suggestions = suggest(
        directory=directory,
        routing=content.routing,
        category="housing",
        languages=["uk"],
        district="Nowa Huta",
        open_referrals={},
    )
    assert ranked(suggestions) == [
        ("klub-mist", "room-search", 97.5),
        ("stowarzyszenie-cieply-kat", "emergency-housing", 82.5),
        ("stowarzyszenie-cieply-kat", "housing-counselling", 81.25),
        ("stowarzyszenie-prawo-na-start", "tenancy-advice", 80.0),
    ]
    best = suggestions[0]
    assert best.factors == {"language": 1.0, "district": 1.0, "capacity": 1.0, "response_time": 0.75}
    assert best.weights == {"language": 30, "district": 35, "capacity": 25, "response_time": 10}
    assert not best.full and best.remaining == 10


def test_a_full_service_comes_last_flagged_or_is_dropped(directory, content):
    kwargs = dict(directory=directory, category="housing", languages=["uk"], district="Nowa Huta")
    full = {("klub-mist", "room-search"): 10, ("stowarzyszenie-cieply-kat", "housing-counselling"): 15}
    suggestions = suggest(routing=content.routing, open_referrals=full, **kwargs)
    # housing-counselling at half capacity loses 12.5 points: 81.25 - 12.5 = 68.75, below tenancy-advice.
    assert ranked(suggestions) == [
        ("stowarzyszenie-cieply-kat", "emergency-housing", 82.5),
        ("stowarzyszenie-prawo-na-start", "tenancy-advice", 80.0),
        ("stowarzyszenie-cieply-kat", "housing-counselling", 68.75),
        ("klub-mist", "room-search", 72.5),
    ]
    assert [s.full for s in suggestions] == [False, False, False, True]
    assert suggestions[-1].remaining == 0 and suggestions[-1].factors["capacity"] == 0

    dropping = dataclasses.replace(content.routing, exclude_full=True)
    assert "room-search" not in [
        s.service_id for s in suggest(routing=dropping, open_referrals=full, **kwargs)
    ]


def test_a_service_area_that_does_not_cover_the_client_is_not_suggested(directory, content):
    suggestions = suggest(
        directory=directory,
        routing=content.routing,
        category="housing",
        languages=["uk"],
        district="Stare Miasto",
        open_referrals={},
    )
    assert "room-search" not in [s.service_id for s in suggestions]
    assert len(suggestions) == 3


def test_counselling_only_in_a_language_the_client_speaks(directory, content):
    def for_languages(*languages):
        return [
            s.service_id
            for s in suggest(
                directory=directory,
                routing=content.routing,
                category="psychological_support",
                languages=list(languages),
                district=None,
                open_referrals={},
            )
        ]

    assert for_languages("ka") == []
    assert for_languages("ar") == ["individual-counselling"]
    # A Georgian speaker who also speaks Russian: all four services; the area-limited children's
    # groups are candidates because the district is unknown.
    assert sorted(for_languages("ka", "ru")) == [
        "children-families",
        "emergency-housing",
        "individual-counselling",
        "peer-support",
    ]


def test_services_without_capacity_are_never_suggested(directory, content):
    suggestions = suggest(
        directory=directory,
        routing=content.routing,
        category="culture",
        languages=["uk"],
        district=None,
        open_referrals={},
    )
    assert "community-sundays" not in [s.service_id for s in suggestions]


def test_an_unknown_district_scores_no_district_points(directory, content):
    [suggestion, *_] = suggest(
        directory=directory,
        routing=content.routing,
        category="legal_aid",
        languages=["be"],
        district=None,
        open_referrals={},
    )
    # legal_aid: language 45, district 5, capacity 25, response_time 25. Only legal-aid-residence
    # speaks Belarusian: 45 + 0 + 25 + 25 * (72 - 16) / 64 = 91.875.
    assert (suggestion.service_id, suggestion.score) == ("legal-aid-residence", 91.875)
    assert suggestion.factors["district"] == 0


# --- ranking on a synthetic directory: every factor and tie-breaker ------------------------------


def synthetic_routing(content, **changes) -> Routing:
    base = dataclasses.replace(
        content.routing,
        weights={"language": 40, "district": 20, "capacity": 25, "response_time": 15},
        other_language_factor=0.5,
        area_only_factor=0.5,
        exclude_full=False,
        best_hours=8,
        worst_hours=72,
        missing_response_score=0.25,
        tie_breakers=(
            "capacity_remaining_desc",
            "response_hours_asc",
            "organization_id_asc",
            "service_id_asc",
        ),
        max_suggestions=10,
        rules={},
    )
    return dataclasses.replace(base, **changes)


def service(
    org: str, sid: str, *, languages=("pl",), capacity=10, hours=None, districts=None, location="here"
):
    return Service(
        organisation_slug=org,
        id=sid,
        name=sid,
        description=sid,
        categories=frozenset({"housing"}),
        languages=tuple(languages),
        eligibility=None,
        fees="free",
        max_open_referrals=capacity,
        referral_response_hours=hours,
        districts=None if districts is None else frozenset(districts),
        location_ids=(location,),
    )


def synthetic_directory(*services: Service) -> Directory:
    organisations = {}
    for org_id in sorted({s.organisation_slug for s in services}):
        mine = tuple(s for s in services if s.organisation_slug == org_id)
        locations = {
            location_id: Location(
                id=location_id,
                name=location_id,
                address={},
                district={"here": "Podgórze", "there": "Czyżyny"}[location_id],
                latitude=50.0,
                longitude=20.0,
                accessibility=(),
                schedule={},
            )
            for location_id in {s.location_ids[0] for s in mine}
        }
        organisations[org_id] = PartnerOrganisation(
            slug=org_id,
            name=org_id,
            alternate_name=None,
            description=org_id,
            email="a@example.org",
            url="https://example.org",
            phones=(),
            is_demo=True,
            locations=locations,
            services=mine,
            referral_email="a@example.org",
        )
    return Directory(organisations=organisations, services={s.key: s for s in services})


def run(directory, routing, *, languages=("uk", "ru"), district="Podgórze", open_referrals=None):
    return suggest(
        directory=directory,
        routing=routing,
        category="housing",
        languages=list(languages),
        district=district,
        open_referrals=open_referrals or {},
    )


def test_each_factor(content):
    directory = synthetic_directory(
        service("a", "preferred", languages=("uk",), hours=8),
        service("a", "other-language", languages=("ru",), hours=40, location="there"),
        service("a", "no-language", languages=("pl",), hours=100),
        service("a", "half-full", languages=("en",), capacity=4),
    )
    scores = {
        s.service_id: s.factors
        for s in run(directory, synthetic_routing(content), open_referrals={("a", "half-full"): 2})
    }
    assert scores["preferred"] == {"language": 1.0, "district": 1.0, "capacity": 1.0, "response_time": 1.0}
    assert scores["other-language"] == {
        "language": 0.5,
        "district": 0.5,
        "capacity": 1.0,
        "response_time": 0.5,
    }
    assert scores["no-language"]["language"] == 0 and scores["no-language"]["response_time"] == 0
    assert scores["half-full"]["capacity"] == 0.5 and scores["half-full"]["response_time"] == 0.25  # missing


def test_score_is_the_weighted_sum_with_the_category_rule_merged(content):
    directory = synthetic_directory(service("a", "x", languages=("ru",), hours=40, location="there"))
    # language 0.5, district 0.5, capacity 1, response 0.5.
    [plain] = run(directory, synthetic_routing(content))
    assert plain.score == 40 * 0.5 + 20 * 0.5 + 25 * 1 + 15 * 0.5
    rule = RoutingRule(category="housing", weights={"district": 60}, language_required=False)
    [ruled] = run(directory, synthetic_routing(content, rules={"housing": rule}))
    assert ruled.weights == {"language": 40, "district": 60, "capacity": 25, "response_time": 15}
    assert ruled.score == 40 * 0.5 + 60 * 0.5 + 25 * 1 + 15 * 0.5


def test_full_services_come_after_better_scoring_ones(content):
    directory = synthetic_directory(
        service("a", "full-but-perfect", languages=("uk",), hours=1, capacity=2),
        service("b", "poor", languages=("pl",), hours=500, location="there"),
    )
    suggestions = run(directory, synthetic_routing(content), open_referrals={("a", "full-but-perfect"): 3})
    assert [(s.service_id, s.full, s.remaining) for s in suggestions] == [
        ("poor", False, 10),
        ("full-but-perfect", True, -1),
    ]
    assert suggestions[1].factors["capacity"] == 0  # clamped, not negative


def test_tie_breakers_in_order(content):
    directory = synthetic_directory(
        # All score the same: language 1, district 1, capacity 1, response 0.5 (40 h) or missing.
        service("b", "more-room", languages=("uk",), capacity=20, hours=40),
        service("a", "quick", languages=("uk",), hours=40),
        service("a", "slow", languages=("uk",), hours=41),
        service("c", "no-promise", languages=("uk",)),
        service("b", "same-as-quick-z", languages=("uk",), hours=40),
        service("b", "same-as-quick-a", languages=("uk",), hours=40),
    )
    routing = synthetic_routing(content, missing_response_score=0.5)
    suggestions = run(directory, routing)
    # 41 h scores 31/64 = 0.484... so "slow" is 0.23 points behind: not a tie.
    assert [s.service_id for s in suggestions] == [
        "more-room",  # capacity_remaining_desc: 20 left against 10
        "quick",  # response_hours_asc: 40 h; then organization a before b
        "same-as-quick-a",  # service_id_asc within organization b
        "same-as-quick-z",
        "no-promise",  # no promise counts as the slowest
        "slow",
    ]
    only_names = run(
        directory,
        synthetic_routing(content, missing_response_score=0.5, tie_breakers=("organization_id_asc",)),
    )
    assert [s.organisation_slug for s in only_names[:5]] == ["a", "b", "b", "b", "c"]


def test_scores_equal_to_two_decimals_are_a_tie(content):
    directory = synthetic_directory(
        service("a", "smaller", languages=("uk",), capacity=1000, hours=8),
        service("b", "roomier", languages=("uk",), capacity=10000, hours=8),
    )
    routing = synthetic_routing(content)
    # One open referral of 10000 costs 25 * 0.0001 = 0.0025 points: 99.9975 rounds to 100.00, a tie
    # with "smaller" (100), which the tie-breaker gives to the service with more room left.
    one_open = run(directory, routing, open_referrals={("b", "roomier"): 1})
    assert [(s.service_id, s.score) for s in one_open] == [
        ("roomier", pytest.approx(99.9975)),
        ("smaller", 100),
    ]
    # Three open cost 0.0075 points: 99.9925 rounds to 99.99, no longer a tie.
    three_open = run(directory, routing, open_referrals={("b", "roomier"): 3})
    assert [s.service_id for s in three_open] == ["smaller", "roomier"]


def test_max_suggestions(content):
    directory = synthetic_directory(
        *(service("a", f"s{i}", languages=("uk",), capacity=10 + i) for i in range(8))
    )
    suggestions = run(directory, synthetic_routing(content, max_suggestions=3))
    assert [s.service_id for s in suggestions] == ["s7", "s6", "s5"]


def test_language_required_drops_services_in_no_language_of_the_client(content):
    directory = synthetic_directory(
        service("a", "polish-only", languages=("pl",)), service("b", "ru", languages=("ru",))
    )
    rule = RoutingRule(category="housing", weights={}, language_required=True)
    assert [s.service_id for s in run(directory, synthetic_routing(content, rules={"housing": rule}))] == [
        "ru"
    ]
    assert len(run(directory, synthetic_routing(content))) == 2


# --- translation and the command -------------------------------------------------------------------


def test_english_texts_are_extracted_and_proper_names_are_not(directory):
    found = {}
    for filename, lineno, message, comments, _ in extract_from_dir(
        str(PARTNERS), method_map=[("**.yml", "app.content_extract:extract_yaml_labels")]
    ):
        found.setdefault(message, []).append((filename, lineno, comments))
    room = directory.services[("klub-mist", "room-search")]
    [(filename, lineno, comments)] = found[room.name]
    assert filename == "klub-mist.yml" and lineno == line_of(PARTNERS, "klub-mist.yml", f"name: {room.name}")
    assert comments == ["partners/klub-mist.yml service klub-mist/room-search: name"]
    for org in directory.organisations.values():
        assert org.description in found
        assert org.name not in found and (org.alternate_name or "") not in found
        # Locations are named in English ("Main office") and shown in every language.
        assert all(location.name in found for location in org.locations.values())
        for s in org.services:
            assert {s.name, s.description, s.fees} <= set(found)
            assert s.eligibility is None or s.eligibility in found
    assert len(found["free"]) > 10  # one message, translated once


def test_validate_command_on_the_shipped_content():
    result = CliRunner().invoke(partners, ["validate"], env={"WITAJ_CONTENT_DIR": str(PROJECT_ROOT)})
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 7 organisations, 18 services, 10 locations"


def test_validate_command_prints_every_problem_and_fails(tmp_path):
    shutil.copytree(PROJECT_ROOT / "cases", tmp_path / "cases")
    folder = Path(shutil.copytree(PARTNERS, tmp_path / "partners"))
    edit(folder, MIST, "categories: [housing]", "categories: [shelter]")
    edit(folder, PRZYSTAN, "district: Stare Miasto", "district: Old Town")
    result = CliRunner().invoke(partners, ["validate"], env={"WITAJ_CONTENT_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert (
        f"klub-mist.yml:{line_of(folder, MIST, 'categories: [shelter]')}: `categories` has 'shelter'"
        in result.stderr
    )
    assert f"fundacja-przystan.yml:{line_of(folder, PRZYSTAN, 'district: Old Town')}:" in result.stderr
    assert "2 problem(s)" in result.stderr


def test_validate_command_needs_valid_cases(tmp_path):
    cases = Path(shutil.copytree(PROJECT_ROOT / "cases", tmp_path / "cases"))
    shutil.copytree(PARTNERS, tmp_path / "partners")
    edit(cases, "routing.yml", "max_suggestions: 5", "max_suggestions: 0")
    result = CliRunner().invoke(partners, ["validate"], env={"WITAJ_CONTENT_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "routing.yml" in result.stderr and "needed to check partners/" in result.stderr
