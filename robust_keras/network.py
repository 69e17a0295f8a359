"""One TCP connection attempt, the cheap reachability probe shared by the tfds download check
(data/download_probe.py) and the MLflow tracking-server check (tracking/store.py)."""

from __future__ import annotations

import socket


def connect_failure(host: str, port: int, timeout: float) -> str | None:
    """None if a TCP connection to (host, port) opens within ``timeout`` seconds (it is closed at
    once), else why not ("Connection refused", "timed out", ...)."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        return e.strerror or type(e).__name__
    return None
