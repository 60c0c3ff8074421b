"""Alerts: a refresh failed, it recovered, or the data is older than it should be.

Each alert is a log line and, when ``ALERT_WEBHOOK_URL`` is set, a JSON POST to it
(``{"event", "text", "warehouse", ...}``: the ``text`` field makes it readable as is by Slack,
Mattermost or Teams incoming webhooks). Alerts fire on changes of state, not at every poll: one
``refresh_failed`` when refreshes start failing (not one per retry), one ``refresh_recovered``
when one succeeds again, one ``data_stale`` when the last successful refresh becomes older than
``ALERT_AFTER``. A webhook that is down costs a log line, never the refresh loop.

A receiver can never hold the loop: the POST runs in a thread the loop waits for at most
``deadline`` seconds in all (connect, status line, headers, answer: a server that drips its
headers a byte at a time is cut like one that never answers), and no longer once a stop was
asked (SIGTERM during an alert stops the service as promptly as during a wait). At most
``MAX_ANSWER`` bytes of the answer are read; a redirect is not followed and not "delivered";
only http(s) URLs with a host are accepted (checked at start, ``pipeline.cli.webhook_url``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from .events import EventLog

MESSAGES = {
    "refresh_failed": "ventes-pme : l'actualisation de l'entrepôt a échoué",
    "refresh_recovered": "ventes-pme : l'actualisation de l'entrepôt fonctionne de nouveau",
    "data_stale": "ventes-pme : les données n'ont pas été actualisées depuis trop longtemps",
    "backup_failed": "ventes-pme : la sauvegarde de l'entrepôt a échoué (les données sont chargées)",
}


MAX_ANSWER = 64 << 10  # bytes of a receiver's answer read, at most: it is only logged as delivered


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: it is reported, never followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, PLR0913 (urllib's signature)
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl} (not followed)", headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class Alerts:
    log: EventLog
    webhook_url: str | None
    warehouse: str
    deadline: float = 3.0  # seconds for the whole POST
    failing: bool = False
    stale: bool = False
    # set when the service is asked to stop: an alert under way is then abandoned at once
    abandon: threading.Event = field(default_factory=threading.Event)

    def refresh_ended(self, ok: bool, **details: object) -> None:
        if not ok and not self.failing:
            self.failing = True
            self._send("refresh_failed", **details)
        elif ok and self.failing:
            self.failing = False
            self._send("refresh_recovered", **details)
        if ok:
            self.stale = False

    def check_staleness(self, age_seconds: float | None, threshold: float, last_success: str | None) -> None:
        """``age_seconds``: since the last successful refresh (None: never succeeded)."""
        if age_seconds is not None and age_seconds <= threshold:
            self.stale = False
        elif not self.stale:
            self.stale = True
            self._send(
                "data_stale",
                last_success=last_success,
                age_seconds=None if age_seconds is None else round(age_seconds),
                threshold_seconds=round(threshold),
            )

    def notify(self, event: str, **details: object) -> None:
        """An alert outside the refresh's own states (a backup that failed)."""
        self._send(event, **details)

    def _send(self, event: str, **details: object) -> None:
        if not self.webhook_url:
            self.log("alert", alert=event, **details)
            return
        message = {"event": event, "text": MESSAGES[event], "warehouse": self.warehouse, **details}
        outcome: list[str] = []
        sender = threading.Thread(target=self._post, args=(message, outcome), daemon=True, name="alert")
        sender.start()
        ends = time.monotonic() + self.deadline
        while sender.is_alive() and time.monotonic() < ends and not self.abandon.is_set():
            sender.join(0.05)  # short joins: a signal's handler runs between them
        if outcome:
            self.log("alert", alert=event, webhook=outcome[0], **details)
        else:  # the thread is a daemon: a receiver that never answers holds it, not the loop
            why = (
                "the service is stopping"
                if self.abandon.is_set()
                else f"no answer within {self.deadline:g} s"
            )
            self.log("alert", alert=event, webhook=f"not delivered: {why}", **details)

    def _post(self, message: dict, outcome: list[str]) -> None:
        request = urllib.request.Request(
            self.webhook_url,
            data=json.dumps(message, ensure_ascii=False, default=str).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            # the socket's own timeout is a backstop: the caller's deadline comes first
            with _OPENER.open(request, timeout=self.deadline + 1) as response:
                response.read(MAX_ANSWER)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            outcome.append("not delivered: " + str(exc)[:200])
        else:
            outcome.append("delivered")
