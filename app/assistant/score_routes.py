"""The assistant's scores for editors (/staff/assistant/scores): the figures of the last report of
`witaj dialogues evaluate`, and a button that runs a new evaluation in the background."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import i18n
from app.assistant import evaluation
from app.auth.deps import StaffPrincipal
from app.auth.permissions import Action, Principal, require
from app.config import Settings
from app.content import ContentError, ContentErrors
from app.db import utcnow
from app.deps import AppSettings
from app.web import redirect, render, url_for

router = APIRouter()
log = logging.getLogger(__name__)
#: Seconds between reloads of the page while an evaluation runs (it takes about a minute).
RELOAD_SECONDS = 20


class Runner:
    """At most one evaluation at a time in this process, on a thread of its own (it takes a minute of
    CPU; a second press of the button while it runs starts nothing)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.started_at: datetime | None = None
        self.failure: str | None = None

    def running_since(self) -> datetime | None:
        """Return when the running evaluation started, or None when none runs."""
        with self._lock:
            return self.started_at if self._thread is not None and self._thread.is_alive() else None

    def start(self, settings: Settings, locale: str) -> bool:
        """Start an evaluation that replaces the report files; return False when one already runs."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            self.started_at, self.failure = utcnow(), None
            self._thread = threading.Thread(target=self._run, args=(settings, locale), name="evaluation", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        """Return once the running evaluation (if any) is done, or after timeout seconds."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, settings: Settings, locale: str) -> None:
        path = settings.evaluation_report
        try:
            result = evaluation.run(settings, before=evaluation.read(path))
            evaluation.write(result, json_path=path, html_path=path.with_suffix(".html"), settings=settings, locale=locale)
        except (ContentError, ContentErrors) as exc:
            self.failure = str(exc)
        except Exception as exc:  # a thread's error is lost unless it is kept for the page and logged
            log.exception("evaluation failed")
            self.failure = f"{type(exc).__name__}: {exc}"


runner = Runner()


def _allowed(principal: Principal) -> None:
    # Content editors, supervisors and admins of the office; raises PermissionDenied (403) otherwise.
    require(principal, Action.review_assistant, principal.organisation_id)


@router.get("/staff/assistant/scores", name="assistant_scores")
def scores_page(request: Request, settings: AppSettings, principal: StaffPrincipal) -> Response:
    """Show the figures of the last evaluation report, or how to make one."""
    _allowed(principal)
    found = evaluation.read(settings.evaluation_report)
    running_since = runner.running_since()
    context = {
        **(evaluation.view(found) if found else {"report": None}),
        "running_since": running_since,
        "failure": runner.failure,
    }
    headers = {"Refresh": str(RELOAD_SECONDS)} if running_since else None
    return render(request, "assistant/scores.html", context, headers=headers)


@router.post("/staff/assistant/scores/run", name="assistant_scores_run")
def run_evaluation(request: Request, settings: AppSettings, principal: StaffPrincipal) -> Response:
    """Start an evaluation in the background (unless one runs); back to the page, which says so."""
    _allowed(principal)
    runner.start(settings, i18n.get_locale())
    return redirect(request, url_for(request, "assistant_scores"))
