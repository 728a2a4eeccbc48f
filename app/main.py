"""create_app(): routers, static files, middleware and exception handlers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from app import __version__, errors, jobs
from app.appointments.api import router as visits_api
from app.appointments.routes import router as visits_router
from app.appointments.staff_routes import router as agenda_router
from app.assistant.channels.sender import Sender
from app.assistant.flows import dialogue_engine
from app.assistant.review_routes import router as review_router
from app.assistant.routes import router as assistant_router
from app.assistant.score_routes import router as scores_router
from app.auth.routes import router as auth_router
from app.cases.api import describe as describe_api
from app.cases.api import router as cases_api
from app.cases.routes import router as cases_router
from app.config import Settings, get_settings
from app.db import check_connection, get_engine, session_factory
from app.follow.routes import router as follow_router
from app.forms.routes import router as forms_router
from app.home.routes import router as home_router
from app.languages import preload
from app.middleware import CsrfMiddleware, InputMiddleware, LocaleMiddleware, SecurityHeadersMiddleware
from app.partners.routes import router as partners_router
from app.reports.api import router as reports_api
from app.reports.routes import router as reports_router
from app.web import STATIC_DIR

log = logging.getLogger("witaj")
# httpx logs each request line at INFO, urllib3 at DEBUG: a Telegram API address carries the bot's token, and a
# translation service's may carry a key. Nothing of it reaches a log, whatever the root level is.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("urllib3").setLevel(logging.WARNING)

#: Paths that take state-changing requests from other sites by design (a channel with its own
#: authentication); everything else needs the CSRF token.
CSRF_EXEMPT: tuple[str, ...] = ("/webhooks/rest/", "/webhooks/telegram", "/webhooks/whatsapp", "/webhooks/viber")


def create_app(settings: Settings | None = None, engine: Engine | None = None, *, check_db: bool = True) -> FastAPI:
    """Return the Witaj ASGI app for settings (the environment's by default)."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if check_db:
            check_connection(engine)
        task = None
        if settings.environment != "test":
            # Load the assistant (NLU model, language detector) now, not on the first message.
            asyncio.get_running_loop().run_in_executor(None, _warm_up_assistant, settings)
        if settings.jobs_interval_seconds and settings.environment != "test":
            task = asyncio.create_task(jobs.loop(engine=engine, settings=settings))
        yield
        if task is not None:
            task.cancel()
        app.state.channel_sender.wait()  # the answers being sent go out before the process ends

    app = FastAPI(
        title="Witaj",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )

    def api_description() -> dict[str, Any]:
        # /api/v1/openapi.json describes the API alone (not the pages), built once.
        if app.openapi_schema is None:
            app.openapi_schema = describe_api(settings, more=[*visits_api.routes, *reports_api.routes])
        return app.openapi_schema

    app.openapi = api_description  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.write_session_factory = session_factory(engine, write=True)
    # The messengers' answers are sent on threads of their own, each with a session of this factory.
    app.state.channel_sender = Sender()
    app.state.channel_sessions = app.state.write_session_factory

    # Routes are matched in order: the chat, the busiest, first (no path of the others overlaps).
    app.include_router(assistant_router)
    app.include_router(home_router)
    app.include_router(auth_router)
    app.include_router(cases_router)
    app.include_router(cases_api)
    app.include_router(visits_api)
    app.include_router(partners_router)
    app.include_router(forms_router)
    app.include_router(follow_router)
    app.include_router(visits_router)
    app.include_router(agenda_router)
    app.include_router(reports_router)
    app.include_router(reports_api)
    app.include_router(scores_router)
    app.include_router(review_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    errors.install(app)
    # Starlette runs the last added middleware first: headers wrap everything, the locale is
    # known before input is checked and before the CSRF check, so their refusals are in the user's
    # language; input is read and checked once, before the CSRF check reads the form from it.
    app.add_middleware(CsrfMiddleware, settings=settings, exempt_prefixes=CSRF_EXEMPT)
    app.add_middleware(InputMiddleware, settings=settings)
    app.add_middleware(LocaleMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    return app


def _warm_up_assistant(settings: Settings) -> None:
    try:
        dialogue_engine(settings)
        preload(enabled=list(settings.locales))
    except Exception as exc:  # noqa: BLE001 - the chat will report it on first use
        log.error("assistant warm-up failed: %s", type(exc).__name__)


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory app.main:app_factory`."""
    return create_app()
