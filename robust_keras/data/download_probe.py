"""Is a tfds dataset's download host reachable? Asked before a download, so that an offline
machine fails in seconds instead of after tfds' minutes of retries.

The probe opens one TCP connection per distinct host of the dataset's download URLs (through the
proxy the environment names for that scheme, as ``requests`` would) and closes it at once: it
says nothing about bandwidth, so a slow but working network still downloads.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
import urllib.request

from robust_keras.errors import DataError
from robust_keras.network import connect_failure

PROBE_SECONDS = 8.0  # the whole probe, name resolution included


def _endpoint(url: str) -> tuple[str, int]:
    """(host, port) a connection for ``url`` goes to: its proxy's if the environment sets one."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname or "", parts.port or default


def unreachable(urls, seconds: float = PROBE_SECONDS) -> str | None:
    """``"host:port (reason)"`` of the first endpoint of ``urls`` no TCP connection reaches within
    ``seconds`` in all, or None when every one answers."""
    endpoints = sorted({_endpoint(u) for u in urls})
    if not endpoints:
        return None
    found: list[str | None] = [f"{endpoints[0][0]}:{endpoints[0][1]} (no answer within {seconds:.0f} s)"]

    def probe():
        for host, port in endpoints:
            failure = connect_failure(host, port, seconds)
            if failure:
                found[0] = f"{host}:{port} ({failure})"
                return
        found[0] = None

    worker = threading.Thread(target=probe, daemon=True)  # name resolution has no timeout of its own
    worker.start()
    worker.join(seconds)
    return found[0]


def require_reachable(builder, name: str) -> None:
    """Raises DataError if ``builder`` (a tfds builder, not prepared) would have to download and
    a host of its download URLs cannot be reached. Skipped when its download folder already
    holds files (a copied download tfds will use without the network)."""
    download_dir = os.path.join(builder.data_dir_root, "downloads")
    if os.path.isdir(download_dir) and os.listdir(download_dir):
        return
    cause = unreachable(list((builder.url_infos or {}).keys()))
    if cause:
        raise DataError(
            f"tfds dataset {name!r} is not prepared under {builder.data_dir} and its download host {cause} "
            "cannot be reached",
            f"prepare it with --experiment=prepare_data --dataset={name} --data_dir=... --prepare_from=<a download "
            "copied from a connected machine>, or use --dataset=mnist_sample",
        )
