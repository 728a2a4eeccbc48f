"""Schema-driven fuzzing of /api/v1 with schemathesis: requests generated from the API description
(valid ones, and invalid ones that must be refused) go to the app in process, with a partner's
token and real cases referred to it, on each database. Every response must be documented, match
its schema, and refuse invalid input; valid input must not be refused; no server errors.

Checks: all of schemathesis's `--checks all` that apply to a stateless run. Left out:
use_after_free and ensure_resource_availability (checks of the stateful phase, which needs
operations that create and delete resources: the API creates no case), and
object_level_authorization (needs several identities through a Web Fuzzing Commons login file;
one partner never seeing another's cases is tested directly in test_api.py)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from app.auth import service as auth_service
from app.cases import flows
from app.cases.schemas import TransitionIn
from app.main import create_app
from tests.cases.fixtures import refer_to_a

#: Examples per operation and generation mode: enough to reach every documented status, few
#: enough that the four operations take seconds on each database.
EXAMPLES = 15

CONFIG = schemathesis.Config.from_dict(
    {
        # The token is the test's own (a live one, sent with every request); ignored_auth checks
        # that requests without it, or with a forged one, are refused.
        "generation": {"max-examples": EXAMPLES, "mode": "all", "with-security-parameters": False},
        # Off: the stateful phase (see above); the examples phase, which only replays the
        # description's one example reference, cannot be combined with drawing real cases below.
        "phases": {"stateful": {"enabled": False}, "examples": {"enabled": False}},
    }
)

#: Derandomized on CI (CI set): the same requests every run, so that a red build is never luck.
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
    database=None,
)

#: The description as the app serves it, loaded once at collection (it needs no database): one test
#: per operation and database, each run against the test's own app and rolled-back database.
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(check_db=False), config=CONFIG)


@pytest.fixture
def partner_token(db, world) -> str:
    """Return a live API token of partner A."""
    _, value = auth_service.create_api_token(db=db, organisation=world.partner_a, name="Fuzz CRM")
    db.commit()
    return value


@pytest.fixture
def references(db, settings, world, open_case) -> dict[str, int]:
    """Return the references and versions of cases referred to partner A (one waiting for its answer,
    one accepted, one in progress), and of one that is not referred."""
    cases = []
    for moves in ([], ["accept"], ["accept", "start"]):
        case, _ = open_case(subject="Karta pobytu")
        refer_to_a(db, settings, world, case)
        for name in moves:
            flows.transition(
                db=db,
                settings=settings,
                case=case,
                request=TransitionIn(name=name),
                actor=world.actor(world.staff_a),
            )
        cases.append(case)
    hidden, _ = open_case(subject="Nie dla partnera")
    return {case.reference: case.version for case in [*cases, hidden]}


def call_and_validate(case, app, db, token: str) -> None:
    """Send case to app with token and run the checks, in a savepoint rolled back afterwards: every
    example starts from the same cases, and the database does not grow with the examples."""
    db.close()  # the session's own savepoint ends; its next one nests inside this example's
    savepoint = db.get_bind().begin_nested()
    try:
        case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}"})
    finally:
        db.close()
        savepoint.rollback()


@schema.parametrize()
@HYPOTHESIS
def test_api_answers_as_described(case, app, db, partner_token, references):
    """Boundary values, wrong types, missing and extra fields, other methods (coverage phase), then
    random valid and invalid requests (fuzzing phase)."""
    call_and_validate(case, app, db, partner_token)


@schema.parametrize()
@schema.given(data=st.data())
@HYPOTHESIS
def test_api_answers_as_described_on_real_cases(case, data, app, db, partner_token, references):
    """Random valid and invalid requests, the valid ones mostly about the partner's real cases at
    their current version, so that transitions and notes succeed as well as fail."""
    if case.meta.generation.mode.is_positive:
        reference = (case.path_parameters or {}).get("reference")
        if reference is not None:
            reference = data.draw(st.sampled_from(list(references)) | st.just(reference), label="reference")
            case.path_parameters["reference"] = reference
            body = case.body if isinstance(case.body, dict) else {}
            if (
                "expected_version" in body
                and reference in references
                and data.draw(st.booleans(), label="current")
            ):
                body["expected_version"] = references[reference]
    call_and_validate(case, app, db, partner_token)
