"""A progress bar on stderr for long loads, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Redrawn at most ten times a second; the loader calls ``update`` every few thousand rows."""

    def __init__(self, label: str, total_bytes: int, enabled: bool, stream: TextIO | None = None):
        self._label = label
        self._total = max(total_bytes, 1)
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def update(self, bytes_done: int) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._last_draw < 0.1 and bytes_done < self._total:
            return
        self._last_draw = now
        fraction = min(bytes_done / self._total, 1.0)
        filled = int(fraction * 30)
        rate = bytes_done / max(now - self._started, 1e-9) / 2**20
        self._stream.write(
            f"\r{self._label:<9} [{'#' * filled}{'.' * (30 - filled)}] {fraction:6.1%} {rate:6.1f} MiB/s"
        )
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\r\033[K")
            self._stream.flush()
