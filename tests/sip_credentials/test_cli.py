"""``python -m app sip-credential ...`` as an operator runs it, on the same database the API serves."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.sip_credentials.conftest import COLLECTION, admin_client, delete_all, local_service
from tests.support.bridge import REPO_ROOT, SIP_TEST_PASSWORDS, Bridge

ALPHA, BRAVO, UNICODE, _, _ = SIP_TEST_PASSWORDS


def cli(bridge: Bridge, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "app", "sip-credential", *args],
        cwd=REPO_ROOT,
        env=bridge.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for password in SIP_TEST_PASSWORDS:
        assert password not in result.stdout + result.stderr
    return result


@pytest.fixture(autouse=True)
def _empty(bridge: Bridge) -> None:
    with admin_client(bridge) as api:
        delete_all(api)


async def test_add_list_set_password_delete(bridge: Bridge) -> None:
    added = cli(bridge, "add", "Cli.Example", "operator", stdin=f"{ALPHA}\n")
    assert added.returncode == 0, added.stderr
    assert "created sip credential" in added.stdout
    assert "adhoc.audit" in added.stderr
    assert "admin_user=cli:" in added.stderr
    assert "realm=Cli.Example" in added.stderr
    assert cli(bridge, "add", "cli.example", "other", stdin=f"{BRAVO}\r\n").returncode == 0

    with admin_client(bridge) as api:  # the API serves what the CLI wrote
        realms = [item["realm"] for item in api.get(COLLECTION).json()["objects"]]
    assert realms == ["Cli.Example", "cli.example"]

    listing = cli(bridge, "list")
    assert listing.stdout.splitlines()[0] == "id\trealm\tusername"
    assert [line.split("\t")[1:] for line in listing.stdout.splitlines()[1:]] == [
        ["Cli.Example", "operator"],
        ["cli.example", "other"],
    ]
    as_json = json.loads(cli(bridge, "list", "--json", "--realm", "cli.example").stdout)
    assert [(item["realm"], item["username"]) for item in as_json] == [("cli.example", "other")]

    async with local_service(bridge) as service:
        assert await service.credential_for("Cli.Example") == ("operator", ALPHA)
        assert await service.credential_for("cli.example") == ("other", BRAVO)  # only the line end is removed
        changed = cli(bridge, "set-password", "Cli.Example", stdin=f"{UNICODE}\n")
        assert changed.returncode == 0, changed.stderr
        assert "changed=password" in changed.stderr
        assert await service.credential_for("Cli.Example") == ("operator", UNICODE)
        deleted = cli(bridge, "delete", "Cli.Example")
        assert deleted.returncode == 0
        assert "sip credential deleted" in deleted.stderr
        assert await service.credential_for("Cli.Example") is None
    assert cli(bridge, "list", "--realm", "Cli.Example").stdout.splitlines() == ["id\trealm\tusername"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "", "user"), f"{ALPHA}\n", "invalid value for realm: must not be empty"),
        (("add", "r" * 251, "user"), f"{ALPHA}\n", "invalid value for realm: must be at most 250 characters"),
        (("add", "realm.example", "u\x7f"), f"{ALPHA}\n", "invalid value for username: must not contain control"),
        (("add", "realm.example", "user"), "\n", "invalid value for password: must not be empty"),
        (("add", "realm.example", "user"), "p" * 101 + "\n", "invalid value for password: must be at most 100"),
        (("add", "realm.example", "user"), "tab\there\n", "invalid value for password: must not contain control"),
        (("set-password", "missing.example"), f"{ALPHA}\n", "no sip credential for this realm"),
        (("delete", "missing.example"), "", "no sip credential for this realm"),
    ],
)
def test_refusals_are_one_clear_line(bridge: Bridge, args: tuple[str, ...], stdin: str, message: str) -> None:
    result = cli(bridge, *args, stdin=stdin)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicate_realm_is_refused_but_case_is_not_folded(bridge: Bridge) -> None:
    assert cli(bridge, "add", "dup.example", "a", stdin=f"{ALPHA}\n").returncode == 0
    duplicate = cli(bridge, "add", "dup.example", "b", stdin=f"{BRAVO}\n")
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    assert cli(bridge, "add", "DUP.example", "b", stdin=f"{BRAVO}\n").returncode == 0
