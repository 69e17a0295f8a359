"""The download probe: a closed port is unreachable at once, a listening host that never answers
is reachable (a slow network still downloads), and a proxy in the environment is what is probed."""

import socket
import time

from conftest import free_port

from robust_keras.data import download_probe


def test_closed_port_is_unreachable_in_well_under_the_probe_time():
    port = free_port()
    start = time.monotonic()
    cause = download_probe.unreachable([f"http://127.0.0.1:{port}/cifar-10-binary.tar.gz"])
    assert cause.startswith(f"127.0.0.1:{port} (") and time.monotonic() - start < 2.0


def test_a_listening_host_that_never_sends_a_byte_is_reachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # the kernel completes the handshake; nothing is ever accepted or sent
        port = server.getsockname()[1]
        assert download_probe.unreachable([f"https://127.0.0.1:{port}/a", f"https://127.0.0.1:{port}/b"]) is None


def test_the_proxy_the_environment_names_is_probed(monkeypatch):
    port = free_port()
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("no_proxy", "")
    cause = download_probe.unreachable(["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"])
    assert cause.startswith(f"127.0.0.1:{port} (")
