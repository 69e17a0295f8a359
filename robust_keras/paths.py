"""Output paths checked before any expensive work: one line naming the path and the fix."""

from __future__ import annotations

import os

from robust_keras.errors import ConfigError


def ensure_dir(flag: str, path: str, create: bool = True) -> str:
    """Creates directory ``path`` (given by ``--flag``) if needed; returns it. ``create=False``
    only checks that it could be created (its nearest existing ancestor is a writable directory).

    Refuses, with a :class:`ConfigError`: a path under a regular file; a path whose creation would
    start at the filesystem root (a typo such as ``/nonexistent/x`` must not litter ``/``); and any
    directory the OS will not create or let us write.
    """
    path = os.path.abspath(path)
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ConfigError(f"--{flag}={path} lies under {existing}, which is a file", f"pick another --{flag}")
    if existing != path and existing == os.path.dirname(existing):  # would create a new top-level dir
        raise ConfigError(
            f"--{flag}={path} would create a new directory at the filesystem root",
            f"create its parent first or pick a --{flag} under an existing directory",
        )
    if not create:
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError(
                f"--{flag}={path} cannot be created ({existing} is not writable)", f"pick a writable --{flag}"
            )
        return path
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--{flag}={path} cannot be created ({e.strerror})", f"pick a writable --{flag}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"--{flag}={path} is not writable", f"fix its permissions or pick another --{flag}")
    return path
