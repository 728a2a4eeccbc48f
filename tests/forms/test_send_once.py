"""A city form is sent once: POST/redirect/GET, an idempotency key per rendered page, and the case's
secret shown once on the page the redirect leads to (never in a URL)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app import integrity
from app.cases import once
from app.cases.models import CaseFile
from app.errors import Conflict
from app.forms import flows, service
from app.forms.models import FormSubmission
from tests.conftest import csrf_from
from tests.forms.answers import post_data

FORM = "biblioteka-karta"
CODE = re.compile(r"<dt>[^<]+</dt><dd><code>([^<]+)</code></dd>")


def cases(db) -> int:
    return db.scalar(select(func.count()).select_from(CaseFile))


def key_of(html: str) -> str:
    return re.search(r'name="_key" value="([^"]+)"', html).group(1)


def codes(html: str) -> list[str]:
    """Return the codes a sent page shows: the case number, and the secret when it is shown."""
    return CODE.findall(html)


def test_sending_redirects_and_a_reload_opens_no_second_case(client, db, world):
    page = client.get(f"/uk/forms/{FORM}")
    key = key_of(page.text)
    before = cases(db)
    answer = client.post(
        f"/uk/forms/{FORM}",
        data={**post_data(FORM, csrf_from(page.text)), "_key": key},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert re.fullmatch(rf"/uk/forms/{FORM}/sent/[A-Za-z0-9_-]+", location)
    assert cases(db) == before + 1
    cookie = answer.headers["set-cookie"]
    assert (
        cookie.startswith(f"{once.COOKIE}=")
        and "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
    )

    shown = client.get(location)
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    reference, secret = codes(shown.text)
    assert re.fullmatch(r"KRK-\d{4}-\d{6}", reference)
    assert secret not in location and secret not in cookie  # never in a URL, nor readable in the cookie
    case = db.scalar(select(CaseFile).where(CaseFile.reference == reference))
    db.refresh(case)
    assert case.secret_sealed is None  # shown: the seal is gone
    # Sealing and emptying the seal are plain updates: the case's version and history are untouched.
    assert case.version == 1 and integrity.check(db=db) == []

    again = client.get(location)  # a reload
    assert codes(again.text) == [reference] and secret not in again.text  # the number again, not the secret
    assert cases(db) == before + 1


def test_the_same_page_sent_twice_opens_one_case_and_shows_its_secret(client, db, world):
    """A double click or a retry: the second request has the same key and finds the first's case.
    The first request's answer may never reach the browser: the second one shows the secret."""
    page = client.get(f"/en/forms/{FORM}")
    data = {**post_data(FORM, csrf_from(page.text)), "_key": key_of(page.text)}
    before = cases(db)
    first = client.post(f"/en/forms/{FORM}", data=data, follow_redirects=False)
    client.cookies.delete(once.COOKIE)  # the first answer was lost (the browser cancelled it)
    second = client.post(f"/en/forms/{FORM}", data=data, follow_redirects=False)
    assert second.status_code == 303 and second.headers["location"] == first.headers["location"]
    assert cases(db) == before + 1
    shown = client.get(second.headers["location"])
    assert len(codes(shown.text)) == 2  # the secret, once
    third = client.post(f"/en/forms/{FORM}", data=data)
    assert len(codes(third.text)) == 1 and cases(db) == before + 1


def test_two_requests_at_once_with_the_same_key_store_one_submission(db, settings, world, monkeypatch):
    """Both requests miss each other's work when they look (a race): the link token, made from the
    page's key, is unique in the database, so the second one's insert fails and it is led to the first."""
    form = service.get_form(settings=settings, form_id=FORM)
    raw = service.raw_answers(
        form, {k: v if isinstance(v, list) else [v] for k, v in post_data(FORM, "x").items()}
    )
    key = once.new_key()
    token = service.token_for_key(settings, key)
    first = flows.submit(
        db=db, settings=settings, form=form, raw=raw, language="en", token=token, create=True, key=key
    )
    real = service.find_by_token
    calls = []

    def racing(**kwargs):
        calls.append(kwargs)
        return None if len(calls) == 1 else real(**kwargs)  # the race: the first look finds nothing

    monkeypatch.setattr(service, "find_by_token", racing)
    with pytest.raises(Conflict):
        flows.submit(
            db=db, settings=settings, form=form, raw=raw, language="en", token=token, create=True, key=key
        )
    count = db.scalar(
        select(func.count())
        .select_from(FormSubmission)
        .where(FormSubmission.case_id.is_not(None), FormSubmission.form_id == FORM)
    )
    assert count == 1 and first.submission.case is not None


def test_saving_a_draft_redirects_to_its_link_and_the_link_still_works(client, db, world):
    page = client.get(f"/pl/forms/{FORM}")
    data = {**post_data(FORM, csrf_from(page.text), action="save"), "_key": key_of(page.text)}
    saved = client.post(f"/pl/forms/{FORM}", data=data, follow_redirects=False)
    assert saved.status_code == 303
    link = saved.headers["location"]
    assert re.fullmatch(rf"/pl/forms/{FORM}/draft/[A-Za-z0-9_-]+\?saved=true", link)
    again = client.post(f"/pl/forms/{FORM}", data=data, follow_redirects=False)  # saved twice: one draft
    assert again.headers["location"] == link
    token = link.split("/draft/")[1].split("?")[0]
    assert (
        db.scalar(select(func.count()).select_from(FormSubmission).where(FormSubmission.form_id == FORM)) == 1
    )
    draft = client.get(link)
    assert draft.status_code == 200 and 'value="Melnyk"' in draft.text and 'class="draft-link"' in draft.text
    sent = client.post(
        f"/pl/forms/{FORM}/draft/{token}",
        data={**post_data(FORM, csrf_from(draft.text)), "_key": key_of(draft.text)},
    )
    assert str(sent.url).endswith(f"/pl/forms/{FORM}/sent/{token}") and len(codes(sent.text)) == 2
    # The draft's link now leads to the sent form, without the secret.
    later = client.get(f"/pl/forms/{FORM}/draft/{token}")
    assert str(later.url).endswith(f"/sent/{token}") and len(codes(later.text)) == 1


def test_the_secret_is_shown_only_to_the_browser_that_sent_the_form(client, db, world, app):
    from fastapi.testclient import TestClient

    page = client.get(f"/en/forms/{FORM}")
    answer = client.post(
        f"/en/forms/{FORM}",
        data={**post_data(FORM, csrf_from(page.text)), "_key": key_of(page.text)},
        follow_redirects=False,
    )
    with TestClient(app, base_url="http://testserver") as other:  # someone else with the link
        assert len(codes(other.get(answer.headers["location"]).text)) == 1
    assert len(codes(client.get(answer.headers["location"]).text)) == 2
