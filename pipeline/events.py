"""One line per event on stdout: what the refresh service did, for a person or a log shipper.

Text (the default) reads as ``2026-11-29T08:00:00.000Z refresh outcome=refreshed ...``; with
``--log-format json`` each line is one JSON object (``{"ts": ..., "event": ..., ...}``), so
that `docker compose logs refresh | jq` works. Lines are flushed at once: a container killed
right after an event still shows it.
"""

from __future__ import annotations

import json
import sys
from typing import Literal, TextIO

from loader.audit import utc_now

LogFormat = Literal["text", "json"]


class EventLog:
    def __init__(self, log_format: LogFormat = "text", stream: TextIO | None = None):
        self.format = log_format
        self.stream = stream or sys.stdout

    def __call__(self, event: str, **fields: object) -> None:
        now = utc_now()
        if self.format == "json":
            line = json.dumps({"ts": now, "event": event, **fields}, ensure_ascii=False, default=str)
        else:
            line = " ".join([now, event, *(f"{k}={_text(v)}" for k, v in fields.items() if v is not None)])
        print(line, file=self.stream, flush=True)


def _text(value: object) -> str:
    text = str(value).replace("\n", " ")
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text
