"""Sending the messengers' answers on threads of their own, after the webhook has been answered.

A webhook's HTTP connection is not held while the provider's API is called: the server reads the
next update on it at once (uvicorn takes a connection's next request only when the last one's work
is over, so sending in a background task of the response would make every chat on that connection
wait for the provider). What a thread sends and records is in the outbox first; if the process
stops meanwhile, the jobs runner sends it when its claim runs out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class Sender:
    """A few threads that run sending work in the order it comes; `wait` returns when all is done."""

    def __init__(self, threads: int = 4) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="witaj-send")
        self.lock = threading.Lock()
        self.pending: set[Future[Any]] = set()

    def submit(self, work: Callable[..., Any], *args: Any) -> None:
        """Run work(*args) on a sending thread; an error is logged by its type (never the text)."""
        future = self.pool.submit(work, *args)
        with self.lock:
            self.pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        with self.lock:
            self.pending.discard(future)
        error = future.exception()
        if error is not None:
            # What failed is in the outbox: the jobs runner sends it when its claim runs out.
            log.error("sending a messenger's answer failed: %s", type(error).__name__)

    def wait(self, timeout: float = 60.0) -> None:
        """Return once everything submitted so far (and what it submitted) is done."""
        while True:
            with self.lock:
                pending = list(self.pending)
            if not pending:
                return
            for future in pending:
                future.exception(timeout=timeout)

    def close(self) -> None:
        """Finish what is running, then stop the threads."""
        self.pool.shutdown(wait=True)
