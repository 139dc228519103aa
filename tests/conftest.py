"""Shared fixtures: a real bridge subprocess per module (or per test), and the final log scan for secrets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.bridge import KNOWN_SECRETS, SERVER_LOGS, Bridge, start_bridge

BridgeFactory = Callable[..., Bridge]


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_any_server_log() -> Iterator[None]:
    """After the whole suite, no configured secret may appear in anything a server logged."""
    yield
    leaks: list[str] = []
    for path in SERVER_LOGS:
        if not path.exists():
            continue
        text = path.read_text(errors="replace")
        leaks.extend(f"{path.name}: {secret!r}" for secret in KNOWN_SECRETS if secret and secret in text)
    assert not leaks, f"secrets found in server logs: {leaks}"


@pytest.fixture
def bridge_factory(tmp_path: Path) -> Iterator[BridgeFactory]:
    """Start bridges with overrides; each is stopped (by PID) when the test ends."""
    started: list[Bridge] = []

    def start(**kwargs: object) -> Bridge:
        data_dir = kwargs.pop("data_dir", None) or tmp_path / f"bridge{len(started)}"
        bridge = start_bridge(Path(str(data_dir)), **kwargs)  # type: ignore[arg-type]
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        bridge.stop()


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """One bridge shared by a test module: HTTPS only (HTTP access for external systems off)."""
    instance = start_bridge(tmp_path_factory.mktemp("bridge"))
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def http_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """One bridge shared by a test module with HTTP access for external systems enabled."""
    instance = start_bridge(
        tmp_path_factory.mktemp("http-bridge"), env_overrides={"ADHOC_EXTERNAL_SYSTEM__ENABLE_HTTP_ACCESS": "true"}
    )
    yield instance
    instance.stop()
