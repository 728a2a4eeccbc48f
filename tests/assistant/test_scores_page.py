"""The editors' page of the assistant's scores (/staff/assistant/scores): the figures of the last
report for those who may review the assistant, a 403 for others, how to make a report when there is
none, and an evaluation started from the page that replaces the report when done."""

from __future__ import annotations

import pytest

from app.assistant import evaluation
from app.assistant.score_routes import runner
from app.auth.enums import Role
from app.config import get_settings
from tests.assistant.subset import content_with_languages
from tests.assistant.test_evaluation import crafted
from tests.conftest import csrf_from

PAGE = "/en/staff/assistant/scores"


@pytest.fixture
def settings(tmp_path):
    """The test settings with the report in a scratch folder."""
    return get_settings().model_copy(update={"evaluation_report": tmp_path / "var" / "evaluation.json"})


@pytest.fixture
def signed_in(client, login, make_user):
    def sign_in(role: Role):
        user, password = make_user(role)
        client.cookies.clear()
        assert login(user.email, password).status_code == 303
        return client

    return sign_in


def test_a_supervisor_sees_the_figures_of_the_last_report(signed_in, settings):
    result = crafted()
    evaluation.write(result, json_path=settings.evaluation_report, html_path=None, settings=settings)
    page = signed_in(Role.supervisor).get(PAGE)
    assert page.status_code == 200
    html = page.text.replace("\n    ", "")
    assert '<th scope="row">ask_when</th><td class="number">0.75</td><td class="number">0.6</td>' in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; kiedy?" in page.text
    assert 'alert("x")' not in page.text
    assert page.text.count('src="data:image/svg+xml;base64,') == 2
    assert "Evaluate the dialogues now" in page.text


def test_a_content_editor_sees_them_and_a_caseworker_may_not(signed_in, settings):
    evaluation.write(crafted(), json_path=settings.evaluation_report, html_path=None, settings=settings)
    assert "ask_when" in signed_in(Role.content_editor).get(PAGE).text
    caseworker = signed_in(Role.caseworker)
    assert caseworker.get(PAGE).status_code == 403
    token = csrf_from(caseworker.get("/en/staff/account").text)
    assert caseworker.post(PAGE + "/run", data={"csrf_token": token}).status_code == 403
    assert runner.running_since() is None


def test_without_a_report_the_page_says_how_to_make_one(signed_in):
    page = signed_in(Role.supervisor).get(PAGE)
    assert page.status_code == 200 and "No report yet" in page.text and "witaj dialogues evaluate" in page.text


def test_an_evaluation_started_on_the_page_runs_in_the_background_and_replaces_the_report(
    signed_in, settings, tmp_path
):
    # One language's examples: a 5-fold evaluation of them takes seconds, not a minute.
    settings.content_dir = content_with_languages(tmp_path / "content", ("pl",))
    client = signed_in(Role.content_editor)
    token = csrf_from(client.get(PAGE).text)
    started = client.post(PAGE + "/run", data={"csrf_token": token}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].endswith("/staff/assistant/scores")
    try:
        running = client.get(PAGE)
        if runner.running_since() is not None:
            assert "An evaluation is running since" in running.text and running.headers["Refresh"] == "20"
            assert client.post(PAGE + "/run", data={"csrf_token": token}).status_code == 200  # nothing more starts
    finally:
        runner.wait(120)
    assert runner.failure is None
    done = client.get(PAGE)
    assert "Refresh" not in done.headers
    assert set(evaluation.read(settings.evaluation_report)["languages"]) == {"pl"}
    assert settings.evaluation_report.with_suffix(".html").exists()
    assert 'id="lang-pl"' in done.text and "No report yet" not in done.text
