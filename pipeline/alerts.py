"""Alerts: a refresh failed, it recovered, or the data is older than it should be.

Each alert is a log line and, when ``ALERT_WEBHOOK_URL`` is set, a JSON POST to it
(``{"event", "text", "warehouse", ...}``: the ``text`` field makes it readable as is by Slack,
Mattermost or Teams incoming webhooks). Alerts fire on changes of state, not at every poll: one
``refresh_failed`` when refreshes start failing (not one per retry), one ``refresh_recovered``
when one succeeds again, one ``data_stale`` when the last successful refresh becomes older than
``ALERT_AFTER``. A webhook that is down costs a log line, never the refresh loop.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from .events import EventLog

MESSAGES = {
    "refresh_failed": "ventes-pme : l'actualisation de l'entrepôt a échoué",
    "refresh_recovered": "ventes-pme : l'actualisation de l'entrepôt fonctionne de nouveau",
    "data_stale": "ventes-pme : les données n'ont pas été actualisées depuis trop longtemps",
    "backup_failed": "ventes-pme : la sauvegarde de l'entrepôt a échoué (les données sont chargées)",
}


@dataclass
class Alerts:
    log: EventLog
    webhook_url: str | None
    warehouse: str
    timeout: float = 5.0
    failing: bool = False
    stale: bool = False

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
        request = urllib.request.Request(
            self.webhook_url,
            data=json.dumps(message, ensure_ascii=False, default=str).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self.log("alert", alert=event, webhook="not delivered: " + str(exc)[:200], **details)
        else:
            self.log("alert", alert=event, webhook="delivered", **details)
