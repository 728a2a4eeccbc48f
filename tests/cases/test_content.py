"""cases/*.yml: the shipped content loads, and each kind of mistake is reported at its file and line."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import time
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from click.testing import CliRunner

from app.cases.cli import cases
from app.cases.content import load_case_content
from app.cases.content.contract import CATEGORY_IDS, STATUS_IDS
from app.config import PROJECT_ROOT
from app.content import ContentError, ContentErrors

CASES = PROJECT_ROOT / "cases"


@pytest.fixture(scope="module")
def content():
    return load_case_content(CASES)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """Return a writable copy of the shipped cases/ folder."""
    return Path(shutil.copytree(CASES, tmp_path / "cases"))


def edit(folder: Path, file: str, old: str, new: str, *, count: int = 1) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {file}: the test no longer matches the content"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def drop_transitions(folder: Path, *names: str) -> None:
    path = folder / "workflow.yml"
    text = path.read_text(encoding="utf-8")
    for name in names:
        text, found = re.subn(rf"  - name: {name}\n(?:    .*\n)*", "", text)
        assert found == 1, name
    path.write_text(text, encoding="utf-8")


def line_of(folder: Path, file: str, marker: str) -> int:
    """Return the number of the first line of file that contains marker."""
    for number, line in enumerate((folder / file).read_text(encoding="utf-8").splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {file}")


def problems(folder: Path) -> list[ContentError]:
    with pytest.raises(ContentErrors) as info:
        load_case_content(folder)
    return info.value.errors


def assert_reported(folder: Path, file: str, marker: str, fragment: str) -> None:
    errors = problems(folder)
    line = line_of(folder, file, marker)
    path = str(folder / file)
    assert any(e.path == path and e.line == line and fragment in e.message for e in errors), (
        f"expected {file}:{line}: ...{fragment}... among:\n" + "\n".join(map(str, errors))
    )


# --- the shipped content ---------------------------------------------------------------------------


def test_shipped_categories_are_the_contract_in_ui_order(content):
    assert list(content.categories) == list(CATEGORY_IDS)
    housing = content.categories["housing"]
    assert housing.owner == "partner"
    assert housing.deadlines == {"first_response": 4, "referral_answer": 8, "resolution": 40}
    assert housing.label == "Housing and a place to stay"
    assert content.categories["labour_registration"].owner == "office"


def test_shipped_workflow(content):
    workflow = content.workflow
    assert workflow.initial == "new"
    assert set(workflow.statuses) == set(STATUS_IDS)
    assert [s.id for s in workflow.statuses.values() if s.terminal] == ["closed"]
    assert workflow.statuses["new"].clock == "first_response"
    assert workflow.statuses["referred"].clock == "referral_answer"
    assert workflow.statuses["waiting_on_client"].clock is None
    assert not workflow.statuses["resolved"].is_open and workflow.statuses["declined"].is_open
    assert (
        len(workflow.outcomes) == 7
        and workflow.outcomes["no_contact"].label == "The client could not be reached"
    )

    refer = workflow.transitions["refer"]
    assert refer.from_ == {"triaged", "declined", "in_progress"} and refer.to == "referred"
    assert refer.requires == {"partner", "consent"} and refer.resets_clocks == {"referral_answer"}
    assert refer.scope == "holder" and refer.roles == {"caseworker", "supervisor", "admin"}
    assert workflow.transitions["accept"].holder == "referral"
    assert workflow.transitions["recall"].scope == "office"

    escalate = workflow.transitions["escalate"]
    assert escalate.is_system and escalate.scope is None
    assert (escalate.trigger.kind, escalate.trigger.clock) == ("deadline", "referral_answer")
    silent = workflow.transitions["client_silent"]
    assert (silent.trigger.kind, silent.trigger.days, silent.outcome) == ("after", 30, "no_contact")
    assert workflow.transitions["client_replied"].trigger.event == "client_message"


def test_workflow_helpers_list_transitions_in_file_order(content):
    workflow = content.workflow
    assert [t.name for t in workflow.transitions_from("referred")] == [
        "accept",
        "decline",
        "withdraw_referral",
        "escalate",
    ]
    assert [t.name for t in workflow.human_transitions_from("referred")] == [
        "accept",
        "decline",
        "withdraw_referral",
    ]
    assert [t.name for t in workflow.human_transitions_from("closed")] == ["reopen", "reopen_for_triage"]
    assert [t.name for t in workflow.system_transitions()] == [
        "escalate",
        "client_replied",
        "client_silent",
        "auto_close",
    ]


def test_shipped_calendar_is_the_reference_office(content):
    calendar = content.workflow.calendar
    assert calendar.zone.key == "Europe/Warsaw" and calendar.holidays == "PL"
    assert sorted(calendar.schedule) == [0, 1, 2, 3, 4]
    assert calendar.schedule[4] == [(time(8, 0), time(16, 0))]


def test_shipped_routing_merges_rules_over_the_weights(content):
    routing = content.routing
    assert routing.weights == {"language": 40, "district": 20, "capacity": 25, "response_time": 15}
    assert routing.weights_for("housing") == {
        "language": 30,
        "district": 35,
        "capacity": 25,
        "response_time": 10,
    }
    assert routing.weights_for("library") == routing.weights
    assert routing.language_required("psychological_support")
    assert not routing.language_required("housing") and not routing.language_required("library")
    assert routing.open_statuses == {"referred", "accepted", "in_progress", "waiting_on_client"}
    assert (routing.best_hours, routing.worst_hours, routing.missing_response_score) == (8, 72, 0.0)
    assert routing.tie_breakers[0] == "capacity_remaining_desc" and routing.max_suggestions == 5
    assert len(content.districts) == 18
    assert content.districts[0] == "Stare Miasto" and content.districts[-1] == "Nowa Huta"
    assert routing.districts[8].number == 9 and routing.districts[8].name == "Łagiewniki-Borek Fałęcki"


# --- one broken copy per kind of mistake -------------------------------------------------------------


@dataclass(frozen=True)
class Mistake:
    file: str
    old: str
    new: str
    marker: str  # text on the line the error must point at (after the edit)
    fragment: str  # part of the message


CATEGORY_MISTAKES = {
    "unknown key": Mistake(
        "categories.yml",
        "    owner: office\n",
        "    owner: office\n    colour: red\n",
        "colour: red",
        "unknown key `colour`",
    ),
    "id not in the contract": Mistake(
        "categories.yml", "id: training", "id: trainings", "id: trainings", "`id` is 'trainings'"
    ),
    "contract id missing": Mistake(
        "categories.yml", "id: training", "id: trainings", "categories:", "missing categories: training"
    ),
    "id not snake_case": Mistake(
        "categories.yml", "id: library", "id: Library", "id: Library", "`id` is 'Library'"
    ),
    "duplicate id": Mistake("categories.yml", "id: other", "id: housing  # here", "# here", "used twice"),
    "owner": Mistake("categories.yml", "owner: partner", "owner: ngo", "owner: ngo", "`owner` is 'ngo'"),
    "deadline without h": Mistake(
        "categories.yml", "first_response: 4h", "first_response: 4 hours", "first_response: 4 hours", "8h"
    ),
    "deadline zero": Mistake(
        "categories.yml", "resolution: 40h", "resolution: 0h", "resolution: 0h", "`resolution`"
    ),
    "deadline a number": Mistake(
        "categories.yml",
        "referral_answer: 16h",
        "referral_answer: 16",
        "referral_answer: 16,",
        "not a number",
    ),
    "deadline missing": Mistake(
        "categories.yml",
        "{first_response: 8h, referral_answer: 16h, resolution: 80h}",
        "{first_response: 8h, referral_answer: 16h}",
        "{first_response: 8h, referral_answer: 16h}",
        "lacks the required key `resolution`",
    ),
    "blank label": Mistake("categories.yml", "label: Something else", 'label: ""', 'label: ""', "blank"),
    # Labels are plain text (issue 11): no tag, no attribute a browser or htmx would act on.
    "label with markup": Mistake(
        "categories.yml",
        "label: Something else",
        """label: '<b hx-get="/pl/staff/cases/" hx-trigger="load">Something else</b>'""",
        "hx-get",
        "content is plain text",
    ),
}

WORKFLOW_MISTAKES = {
    "unknown top-level key": Mistake(
        "workflow.yml", "initial: new\n", "initial: new\nfinal: closed\n", "final:", "`final`"
    ),
    "initial unknown": Mistake(
        "workflow.yml", "initial: new", "initial: start", "initial: start", "`initial` is 'start'"
    ),
    "initial terminal": Mistake(
        "workflow.yml", "initial: new", "initial: closed", "initial: closed", "terminal"
    ),
    "time zone": Mistake(
        "workflow.yml",
        "time_zone: Europe/Warsaw",
        "time_zone: Europe/Warschau",
        "time_zone:",
        "IANA time zone",
    ),
    "unquoted time": Mistake(
        "workflow.yml", 'closes_at: "16:00"', "closes_at: 16:00", "closes_at: 16:00", "quoted"
    ),
    "time out of range": Mistake(
        "workflow.yml", 'closes_at: "16:00"', 'closes_at: "24:00"', "closes_at", '"HH:MM"'
    ),
    "opens after it closes": Mistake(
        "workflow.yml",
        'closes_at: "16:00"',
        'closes_at: "07:30"',
        "closes_at",
        "must be later than `opens_at`",
    ),
    "overlapping spans": Mistake(
        "workflow.yml",
        'closes_at: "16:00"}\n',
        'closes_at: "16:00"}\n    - {days: [FR], opens_at: "15:00", closes_at: "18:00"}\n',
        'opens_at: "15:00"',
        "opening hours on FR overlap: 08:00-16:00 and 15:00-18:00",
    ),
    "unknown day": Mistake("workflow.yml", "[MO, TU, WE, TH, FR]", "[MO, TU, WE, TH, FRI]", "FRI", "'FRI'"),
    "repeated day": Mistake(
        "workflow.yml", "[MO, TU, WE, TH, FR]", "[MO, TU, WE, TH, TU]", "[MO, TU", "lists 'TU' twice"
    ),
    "holidays": Mistake(
        "workflow.yml", "holidays: PL", "holidays: DE", "holidays: DE", "`holidays` is 'DE'; allowed: PL"
    ),
    "status not in the contract": Mistake(
        "workflow.yml", "  - id: waiting_on_client", "  - id: waiting", "- id: waiting", "`id` is 'waiting'"
    ),
    "status missing": Mistake(
        "workflow.yml",
        "  - id: waiting_on_client",
        "  - id: waiting",
        "statuses:",
        "missing statuses: waiting_on_client",
    ),
    "only closed is terminal": Mistake(
        "workflow.yml",
        "label: Resolved\n    terminal: false",
        "label: Resolved\n    terminal: true",
        "terminal: true",
        "only `closed` is terminal",
    ),
    "clock": Mistake(
        "workflow.yml", "clock: first_response", "clock: first_responce", "first_responce", "`clock`"
    ),
    "terminal runs no clock": Mistake(
        "workflow.yml",
        "terminal: true\n    clock: none",
        "terminal: true\n    clock: resolution  # here",
        "# here",
        "none",
    ),
    "outcome id": Mistake(
        "workflow.yml", "{id: duplicate,", "{id: duplicated,", "duplicated", "'duplicated'"
    ),
    "transition name": Mistake(
        "workflow.yml", "name: triage", "name: Triage", "name: Triage", "a name of a-z and _"
    ),
    "duplicate transition name": Mistake(
        "workflow.yml", "name: auto_close", "name: close  # here", "# here", "'close' is used twice"
    ),
    "from unknown status": Mistake(
        "workflow.yml", "from: [new]", "from: [nowy]", "from: [nowy]", "`from` has 'nowy'"
    ),
    "to equals from": Mistake(
        "workflow.yml",
        "from: [new]\n    to: triaged",
        "from: [new]\n    to: new",
        "to: new",
        "must change the status",
    ),
    "unknown role": Mistake(
        "workflow.yml",
        "roles: [partner_staff, partner_admin]",
        "roles: [partner_staff, volunteer]",
        "volunteer",
        "'volunteer'",
    ),
    "system beside staff roles": Mistake(
        "workflow.yml",
        "roles: [system]\n    trigger: {deadline",
        "roles: [system, supervisor]\n    trigger: {deadline",
        "[system, supervisor]",
        "exactly `roles: [system]`",
    ),
    "staff transition without scope": Mistake(
        "workflow.yml",
        "    to: triaged\n    roles: [caseworker, supervisor, admin]\n    scope: holder\n",
        "    to: triaged\n    roles: [caseworker, supervisor, admin]\n",
        "- name: triage",
        "needs a `scope`",
    ),
    "system transition with scope": Mistake(
        "workflow.yml",
        "trigger: {deadline: referral_answer}\n",
        "trigger: {deadline: referral_answer}\n    scope: office  # here\n",
        "# here",
        "has no `scope`",
    ),
    "system transition with requires": Mistake(
        "workflow.yml",
        "trigger: {event: client_message}\n",
        "trigger: {event: client_message}\n    requires: [reason]  # here\n",
        "# here",
        "has no `requires`",
    ),
    "system transition without trigger": Mistake(
        "workflow.yml", "    trigger: {after: 14d}\n", "", "- name: auto_close", "needs a `trigger`"
    ),
    "staff transition with trigger": Mistake(
        "workflow.yml",
        "  - name: resume\n",
        "  - name: resume\n    trigger: {after: 2d}\n",
        "trigger: {after: 2d}",
        "only system transitions",
    ),
    "staff transition with outcome": Mistake(
        "workflow.yml",
        "  - name: close\n",
        "  - name: close\n    outcome: helped\n",
        "outcome: helped",
        "`requires: [outcome]`",
    ),
    "trigger with two keys": Mistake(
        "workflow.yml",
        "{after: 14d}",
        "{after: 14d, event: client_message}",
        "{after: 14d, event",
        "exactly one key",
    ),
    "trigger days as a number": Mistake(
        "workflow.yml", "{after: 14d}", "{after: 14}", "{after: 14}", "write `14d`"
    ),
    "trigger days format": Mistake("workflow.yml", "{after: 14d}", "{after: 2w}", "{after: 2w}", "14d"),
    "trigger unknown event": Mistake(
        "workflow.yml", "{event: client_message}", "{event: client_call}", "client_call", "'client_call'"
    ),
    "deadline of a clock that does not run": Mistake(
        "workflow.yml",
        "{deadline: referral_answer}",
        "{deadline: resolution}",
        "{deadline: resolution}",
        "the resolution clock does not run in referred",
    ),
    "unknown requirement": Mistake(
        "workflow.yml", "requires: [category]", "requires: [category, signature]", "signature", "'signature'"
    ),
    "refer without consent": Mistake(
        "workflow.yml",
        "requires: [partner, consent]",
        "requires: [partner]",
        "- name: refer",
        "partner and consent",
    ),
    "consent without partner": Mistake(
        "workflow.yml",
        "requires: [category]",
        "requires: [category, consent]",
        "requires: [category, consent]",
        "require `partner` too",
    ),
    "finishing without an outcome": Mistake(
        "workflow.yml",
        "requires: [outcome, reason]",
        "requires: [reason]",
        "- name: dismiss",
        "must record why",
    ),
    "outcome on a move that finishes nothing": Mistake(
        "workflow.yml",
        "requires: [category]",
        "requires: [category, outcome]",
        "- name: triage",
        "only recorded when a case is resolved or closed",
    ),
    "referral scope with office roles": Mistake(
        "workflow.yml",
        "    roles: [partner_staff, partner_admin]\n    scope: referral\n    holder: referral",
        "    roles: [partner_staff, partner_admin, caseworker]\n    scope: referral\n    holder: referral",
        "[partner_staff, partner_admin, caseworker]",
        "office roles cannot use it: caseworker",
    ),
    "office scope with partner roles": Mistake(
        "workflow.yml",
        "    roles: [supervisor, admin]\n    scope: office",
        "    roles: [supervisor, admin, partner_admin]\n    scope: office",
        "[supervisor, admin, partner_admin]",
        "partner roles cannot use it: partner_admin",
    ),
    "referral scope outside referred": Mistake(
        "workflow.yml",
        "    from: [referred]\n    to: declined\n    roles: [partner_staff, partner_admin]\n"
        "    scope: referral",
        "    from: [referred, triaged]\n    to: declined\n    roles: [partner_staff, partner_admin]\n"
        "    scope: referral  # here",
        "# here",
        "`from` must be [referred]",
    ),
    "holder value": Mistake(
        "workflow.yml", "holder: referral", "holder: partner", "holder: partner", "'partner'"
    ),
    "leaving a terminal status without reopening": Mistake(
        "workflow.yml",
        "name: reopen_for_triage\n    label: Reopen for triage\n    from: [resolved, closed]",
        "name: revive\n    label: Reopen for triage\n    from: [resolved, closed]  # here",
        "# here",
        "only a reopen transition",
    ),
    "transition label with markup": Mistake(
        "workflow.yml",
        "    label: Triage\n",
        "    label: Triage <!-- hidden -->\n",
        "<!--",
        "markup '<!-- hidden -->'",
    ),
}

ROUTING_MISTAKES = {
    "unknown top-level key": Mistake(
        "routing.yml",
        "max_suggestions: 5\n",
        "max_suggestions: 5\nmin_score: 10\n",
        "min_score",
        "`min_score`",
    ),
    "category weight": Mistake(
        "routing.yml", "{category: required,", "{category: 10,", "weights: {category: 10", "always `required`"
    ),
    "negative weight": Mistake(
        "routing.yml",
        "language: 40, district: 20",
        "language: -5, district: 20",
        "language: -5",
        "at least 0",
    ),
    "weight not a number": Mistake(
        "routing.yml",
        "language: 40, district: 20",
        "language: high, district: 20",
        "language: high",
        "whole number",
    ),
    "factor out of range": Mistake(
        "routing.yml",
        "other_language_factor: 0.5",
        "other_language_factor: 1.5",
        "other_language_factor: 1.5",
        "from 0 to 1",
    ),
    "open status unknown": Mistake(
        "routing.yml",
        "open_statuses: [referred,",
        "open_statuses: [pending,",
        "open_statuses: [pending",
        "'pending'",
    ),
    "exclude_full not a bool": Mistake(
        "routing.yml", "exclude_full: false", 'exclude_full: "no"', "exclude_full:", "true or false"
    ),
    "worst not after best": Mistake(
        "routing.yml", "worst_hours: 72", "worst_hours: 8", "worst_hours: 8", "greater than `best_hours` (8)"
    ),
    "missing score out of range": Mistake(
        "routing.yml", "missing: 0.0", "missing: -1", "missing: -1", "from 0 to 1"
    ),
    "tie breaker": Mistake(
        "routing.yml", "  - service_id_asc", "  - service_name_asc", "service_name_asc", "'service_name_asc'"
    ),
    "max_suggestions": Mistake(
        "routing.yml", "max_suggestions: 5", "max_suggestions: 0", "max_suggestions: 0", "at least 1"
    ),
    "rule for an unknown category": Mistake(
        "routing.yml", "  - category: housing", "  - category: shelter", "category: shelter", "'shelter'"
    ),
    "two rules for a category": Mistake(
        "routing.yml",
        "  - category: legal_aid",
        "  - category: housing  # here",
        "# here",
        "second rule",
    ),
    "rule weight of an unknown factor": Mistake(
        "routing.yml",
        "weights: {language: 15, district: 40,",
        "weights: {language: 15, distance: 40,",
        "distance: 40",
        "unknown key `distance`",
    ),
    "rule language_required": Mistake(
        "routing.yml",
        "language_required: true",
        "language_required: sometimes",
        "language_required",
        "true or false",
    ),
    "district missing": Mistake(
        "routing.yml",
        "districts:\n  - {number: 1, name: Stare Miasto}\n",
        "districts:  # here\n",
        "# here",
        "missing: 1",
    ),
    "district number out of range": Mistake(
        "routing.yml",
        "{number: 18, name: Nowa Huta}",
        "{number: 19, name: Nowa Huta}",
        "number: 19",
        "from 1 to 18",
    ),
    "district listed twice": Mistake(
        "routing.yml",
        "{number: 17, name: Wzgórza Krzesławickie}",
        "{number: 17, name: Nowa Huta}",
        "number: 18",
        "twice",
    ),
    "district name with an event attribute": Mistake(
        "routing.yml",
        "{number: 1, name: Stare Miasto}",
        "{number: 1, name: Stare Miasto onfocus=alert(1)}",
        "onfocus",
        "content is plain text",
    ),
}

MISTAKES = {
    **{f"categories: {name}": m for name, m in CATEGORY_MISTAKES.items()},
    **{f"workflow: {name}": m for name, m in WORKFLOW_MISTAKES.items()},
    **{f"routing: {name}": m for name, m in ROUTING_MISTAKES.items()},
}


@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=MISTAKES.keys())
def test_each_mistake_is_reported_at_its_line(copy, mistake):
    edit(copy, mistake.file, mistake.old, mistake.new)
    assert_reported(copy, mistake.file, mistake.marker, mistake.fragment)


def test_a_missing_required_key_points_at_its_item(copy):
    edit(copy, "categories.yml", "    owner: office\n", "")
    assert_reported(copy, "categories.yml", "- id: labour_registration", "lacks the required key `owner`")


def test_a_status_nobody_can_reach(copy):
    drop_transitions(copy, "decline")
    assert_reported(copy, "workflow.yml", "- id: declined", "cannot be reached from `new`")


def test_a_status_from_which_closed_cannot_be_reached(copy):
    drop_transitions(copy, "dismiss", "close", "auto_close")
    errors = problems(copy)
    for status in ("new", "triaged", "in_progress", "resolved"):
        line = line_of(copy, "workflow.yml", f"- id: {status}")
        assert any(e.line == line and "no transitions lead from" in e.message for e in errors), status


def test_every_problem_in_every_file_is_reported_at_once(copy):
    edit(copy, "categories.yml", "owner: partner", "owner: ngo")
    edit(copy, "categories.yml", "resolution: 40h", "resolution: 40")
    edit(copy, "workflow.yml", "clock: first_response", "clock: never")
    edit(copy, "routing.yml", "max_suggestions: 5", "max_suggestions: many")
    with pytest.raises(ContentErrors) as info:
        load_case_content(copy)
    files = [Path(e.path).name for e in info.value.errors]
    assert files.count("categories.yml") == 2 and "workflow.yml" in files and "routing.yml" in files
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.errors)
    assert all(re.match(r"^.+\.yml:\d+: .+", line) for line in lines)


def test_a_missing_file_is_named(copy):
    (copy / "routing.yml").unlink()
    errors = problems(copy)
    assert [Path(e.path).name for e in errors] == ["routing.yml"]


def test_invalid_yaml_is_reported_with_its_line(copy):
    edit(copy, "workflow.yml", "  - name: start\n", "  - name: start\n    label: [unclosed\n")
    errors = problems(copy)
    assert (
        len(errors) == 1 and errors[0].path.endswith("workflow.yml") and "not valid YAML" in errors[0].message
    )
    assert errors[0].line >= line_of(copy, "workflow.yml", "label: [unclosed")


# --- translation ---------------------------------------------------------------------------------


def test_every_label_and_description_is_extracted_for_translators(content):
    found = {}
    for filename, lineno, message, comments, _ in extract_from_dir(
        str(CASES), method_map=[("**.yml", "app.content_extract:extract_yaml_labels")]
    ):
        found.setdefault(message, []).append((filename, lineno, comments))
    shown = [c.label for c in content.categories.values()] + [
        c.description for c in content.categories.values()
    ]
    shown += [s.label for s in content.workflow.statuses.values()]
    shown += [s.description for s in content.workflow.statuses.values() if s.description]
    shown += [o.label for o in content.workflow.outcomes.values()]
    shown += [t.label for t in content.workflow.transitions.values()]
    assert set(shown) == set(found)

    [(filename, lineno, comments)] = found["Refer to a partner"]
    assert filename == "workflow.yml" and lineno == line_of(
        CASES, "workflow.yml", "label: Refer to a partner"
    )
    assert comments == ["cases/workflow.yml transition refer: label"]
    [(_, _, comments)] = found[content.categories["housing"].description]
    assert comments == ["cases/categories.yml category housing: description"]
    assert "Nowa Huta" not in found  # district names are proper names


# --- the command ---------------------------------------------------------------------------------


def test_validate_command_on_the_shipped_content():
    result = CliRunner().invoke(cases, ["validate"], env={"WITAJ_CONTENT_DIR": str(PROJECT_ROOT)})
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 11 categories, 9 statuses, 19 transitions"


def test_validate_command_prints_every_problem_and_fails(copy):
    edit(copy, "workflow.yml", "clock: first_response", "clock: never")
    edit(copy, "routing.yml", "max_suggestions: 5", "max_suggestions: 0")
    result = CliRunner().invoke(cases, ["validate"], env={"WITAJ_CONTENT_DIR": str(copy.parent)})
    assert result.exit_code == 1
    workflow_line = line_of(copy, "workflow.yml", "clock: never")
    routing_line = line_of(copy, "routing.yml", "max_suggestions: 0")
    assert f"workflow.yml:{workflow_line}: `clock` is 'never'" in result.stderr
    assert f"routing.yml:{routing_line}: `max_suggestions` is 0" in result.stderr
    assert "2 problem(s)" in result.stderr


def test_validate_command_refuses_an_office_time_zone_other_than_witaj_time_zone():
    env = {"WITAJ_CONTENT_DIR": str(PROJECT_ROOT), "WITAJ_TIME_ZONE": "Europe/Kyiv"}
    result = CliRunner().invoke(cases, ["validate"], env=env)
    assert result.exit_code == 1
    line = line_of(PROJECT_ROOT / "cases", "workflow.yml", "time_zone: Europe/Warsaw")
    assert f"workflow.yml:{line}: the office time zone Europe/Warsaw differs from WITAJ_TIME_ZONE=Europe/Kyiv" in result.stderr
