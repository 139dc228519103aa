"""The console in a real browser (headless Chromium + Selenium) against the real server over HTTPS."""

from __future__ import annotations

import os
import re
import shutil
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from tests.console.browser import CHROMEDRIVER, CHROMIUM, by_id, screenshot, start_browser, wait_for
from tests.support.bridge import ADMIN_PASSWORD, ADMIN_USER, KNOWN_SECRETS, REPO_ROOT, Bridge, auth, start_bridge

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs Debian chromium and chromium-driver"
)

GLOBAL = "/api/admin/configuration/v1/global/"
SIP = "/api/admin/configuration/v1/sip_credential/"
ADMIN = (ADMIN_USER, ADMIN_PASSWORD)
CUCM_USER = "cucm-Console"
OLD_PASSWORD = "Console-Old-pw 1"
NEW_PASSWORD = "Console-New-pw 2"
SIP_PASSWORD = "Console-Sip-pw 3"
KNOWN_SECRETS.update({OLD_PASSWORD, NEW_PASSWORD, SIP_PASSWORD})
# Shown exactly and case sensitive: markup and quotes are text, never HTML.
REALM = '<b>Console</b>.Realm & "Co"'
# Username and password free to change at run time; HTTP access pinned by the environment.
ENV: dict[str, str | None] = {
    "ADHOC_EXTERNAL_SYSTEM__USERNAME": None,
    "ADHOC_EXTERNAL_SYSTEM__PASSWORD": None,
    "ADHOC_EXTERNAL_SYSTEM__ENABLE_HTTP_ACCESS": "false",
}


@pytest.fixture(scope="module")
def console_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    instance = start_bridge(tmp_path_factory.mktemp("console"), env_overrides=ENV)
    with instance.client() as client:
        changes = {"legacy_api_username": CUCM_USER, "legacy_api_password": OLD_PASSWORD}
        assert client.patch(GLOBAL, auth=ADMIN, json=changes).status_code == 200
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    try:
        driver = start_browser()
    except WebDriverException as exc:  # pragma: no cover - a broken browser install
        pytest.fail(f"chromium could not start: {exc.msg}")
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def _rpc_fault(bridge: Bridge, password: str, method: str = "device.query", **params: Any) -> int | None:
    try:
        with bridge.rpc() as proxy:
            getattr(proxy, method)(auth(CUCM_USER, password, **params))
    except xmlrpc.client.Fault as fault:
        return int(fault.faultCode)
    return None


def _sign_in(browser: webdriver.Chrome, bridge: Bridge) -> None:
    browser.get(f"{bridge.https_url}/admin/")
    wait_for(lambda: browser.current_url.endswith("/admin/signin"), message="redirect to sign-in")
    by_id(browser, "username").send_keys(ADMIN_USER)
    by_id(browser, "password").send_keys(ADMIN_PASSWORD)
    by_id(browser, "signin").click()
    wait_for(lambda: browser.current_url.endswith("/admin/global/"), message="global settings page")


def _session_cookie(browser: webdriver.Chrome) -> str:
    cookie = browser.get_cookie("__Host-adhoc_console")
    assert cookie is not None
    assert cookie["secure"] is True
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    return str(cookie["value"])


def test_sign_in_page_refuses_wrong_credentials_and_keeps_the_username(
    browser: webdriver.Chrome, console_bridge: Bridge, screens: Path
) -> None:
    browser.get(f"{console_bridge.https_url}/admin/global/")
    wait_for(lambda: browser.current_url.endswith("/admin/signin"), message="redirect to sign-in")
    screenshot(browser, screens, "signin")
    by_id(browser, "username").send_keys(ADMIN_USER)
    by_id(browser, "password").send_keys("not-the-password")
    by_id(browser, "signin").click()
    assert "Wrong username or password" in wait_for(lambda: by_id(browser, "page-error").text)
    assert by_id(browser, "username").get_attribute("value") == ADMIN_USER
    assert by_id(browser, "password").get_attribute("value") == ""
    assert browser.get_cookie("__Host-adhoc_console") is None


def test_change_the_external_system_password_on_the_page(
    browser: webdriver.Chrome, console_bridge: Bridge, screens: Path
) -> None:
    _sign_in(browser, console_bridge)
    assert by_id(browser, "legacy_api_username").get_attribute("value") == CUCM_USER
    assert by_id(browser, "legacy_api_password").get_attribute("value") == ""
    assert _rpc_fault(console_bridge, OLD_PASSWORD) is None

    by_id(browser, "legacy_api_password").send_keys(NEW_PASSWORD)
    by_id(browser, "save").click()
    assert wait_for(lambda: browser.find_elements(By.CLASS_NAME, "notice"), message="saved notice")[0].text == "Saved."
    assert _rpc_fault(console_bridge, OLD_PASSWORD) == 15
    assert _rpc_fault(console_bridge, NEW_PASSWORD) is None
    assert NEW_PASSWORD not in browser.page_source
    screenshot(browser, screens, "global-settings")


def test_a_pinned_key_is_read_only_with_its_reason(browser: webdriver.Chrome, console_bridge: Bridge) -> None:
    browser.get(f"{console_bridge.https_url}/admin/global/")
    checkbox = by_id(browser, "legacy_api_http")
    assert checkbox.get_attribute("disabled") is not None
    assert checkbox.get_attribute("name") in (None, "")
    assert "ADHOC_EXTERNAL_SYSTEM__ENABLE_HTTP_ACCESS" in by_id(browser, "legacy_api_http-pinned").text
    assert by_id(browser, "legacy_api_username").get_attribute("disabled") is None


def test_a_bad_value_shows_the_api_error_and_keeps_what_was_typed(
    browser: webdriver.Chrome, console_bridge: Bridge
) -> None:
    browser.get(f"{console_bridge.https_url}/admin/global/")
    username = by_id(browser, "legacy_api_username")
    username.clear()
    by_id(browser, "legacy_api_password").send_keys("Typed-But-Not-Kept")
    by_id(browser, "save").click()
    message = wait_for(lambda: browser.find_elements(By.ID, "legacy_api_username-error"), message="field error")[0]
    assert "invalid value for legacy_api_username" in message.text
    assert by_id(browser, "legacy_api_password").get_attribute("value") == ""
    assert _rpc_fault(console_bridge, NEW_PASSWORD) is None  # nothing was stored


def _api_credentials(bridge: Bridge, realm: str | None = None) -> list[dict[str, Any]]:
    with bridge.client() as client:
        params = {"realm": realm} if realm is not None else {}
        response = client.get(SIP, auth=ADMIN, params=params)
    assert response.status_code == 200
    objects: list[dict[str, Any]] = response.json()["objects"]
    return objects


def test_add_edit_and_delete_a_sip_credential(browser: webdriver.Chrome, console_bridge: Bridge, screens: Path) -> None:
    base = console_bridge.https_url
    browser.get(f"{base}/admin/sip-credentials/")
    by_id(browser, "add").click()
    wait_for(lambda: browser.current_url.endswith("/admin/sip-credentials/new"), message="add form")
    screenshot(browser, screens, "sip-credential-form")
    by_id(browser, "realm").send_keys(REALM)
    by_id(browser, "username").send_keys("Bridge-User")
    by_id(browser, "password").send_keys(SIP_PASSWORD)
    by_id(browser, "save").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#credentials td.realm"), message="listed credential")
    assert browser.find_element(By.CSS_SELECTOR, "#credentials td.realm").text == REALM
    (created,) = _api_credentials(console_bridge, REALM)
    assert created["username"] == "Bridge-User"
    screenshot(browser, screens, "sip-credentials")

    # Same realm again: the API's refusal on the form, realm and username kept, password not.
    browser.get(f"{base}/admin/sip-credentials/new")
    by_id(browser, "realm").send_keys(REALM)
    by_id(browser, "username").send_keys("Someone-Else")
    by_id(browser, "password").send_keys(SIP_PASSWORD)
    by_id(browser, "save").click()
    error = wait_for(lambda: browser.find_elements(By.ID, "realm-error"), message="duplicate realm error")[0]
    assert "already exists" in error.text
    assert by_id(browser, "realm").get_attribute("value") == REALM
    assert by_id(browser, "username").get_attribute("value") == "Someone-Else"
    assert by_id(browser, "password").get_attribute("value") == ""

    # Search is exact and case sensitive.
    browser.get(f"{base}/admin/sip-credentials/")
    by_id(browser, "realm-search").send_keys(REALM.lower())
    by_id(browser, "search").click()
    wait_for(lambda: "No SIP credential for this realm." in browser.page_source, message="no match")
    by_id(browser, "realm-search").clear()
    by_id(browser, "realm-search").send_keys(REALM)
    by_id(browser, "search").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#credentials a.edit"), message="match")

    browser.find_element(By.CSS_SELECTOR, "#credentials a.edit").click()
    wait_for(lambda: browser.find_elements(By.ID, "credential-form"), message="edit form")
    assert by_id(browser, "password").get_attribute("value") == ""  # never pre-filled
    assert SIP_PASSWORD not in browser.page_source
    by_id(browser, "username").clear()
    by_id(browser, "username").send_keys("Bridge-User-2")
    by_id(browser, "save").click()
    wait_for(lambda: browser.find_elements(By.CLASS_NAME, "notice"), message="saved notice")
    (edited,) = _api_credentials(console_bridge, REALM)
    assert (edited["id"], edited["username"]) == (created["id"], "Bridge-User-2")

    browser.find_element(By.CSS_SELECTOR, "#credentials button.delete").click()
    wait_for(lambda: "SIP credential deleted." in browser.page_source, message="deleted notice")
    assert _api_credentials(console_bridge, REALM) == []


def test_conferences_refresh_live_and_hang_up(browser: webdriver.Chrome, console_bridge: Bridge, screens: Path) -> None:
    browser.get(f"{console_bridge.https_url}/admin/conferences/")
    browser.execute_script("window.__notReloaded = true;")
    with console_bridge.rpc() as proxy:
        proxy.conference.create(auth(CUCM_USER, NEW_PASSWORD, conferenceName="console-live", numericId="7770001"))
        for name in ("alice", "bob"):
            proxy.participant.add(
                auth(
                    CUCM_USER,
                    NEW_PASSWORD,
                    conferenceName="console-live",
                    participantName=name,
                    # H.323: the bridge records it as connected and places no call (a SIP one would be dialled).
                    address=f"{name}.example.com",
                    participantProtocol="h323",
                )
            )
    selector = 'tr.participant[data-participant="alice"] button.hangup'
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, selector), message="live refresh")
    assert browser.execute_script("return window.__notReloaded === true;") is True
    assert by_id(browser, "conference-count").text == "1 conference"
    screenshot(browser, screens, "conferences")
    target = os.environ.get("ADHOC_CONSOLE_SCREENSHOT")  # e.g. docs/console.png, the README's picture
    if target:
        shutil.copy(screens / "conferences.png", REPO_ROOT / target)

    browser.find_element(By.CSS_SELECTOR, selector).click()
    wait_for(lambda: "Participant hung up." in browser.page_source, message="hang-up notice")
    with console_bridge.rpc() as proxy:
        status = proxy.participant.status(
            auth(
                CUCM_USER,
                NEW_PASSWORD,
                conferenceName="console-live",
                participantName="alice",
                operationScope=["currentState"],
            )
        )
    assert status["currentState"]["callState"] == "disconnected"  # type: ignore[index,call-overload]
    state = 'tr.participant[data-participant="bob"] td.state'
    assert browser.find_element(By.CSS_SELECTOR, state).text == "connected"

    browser.find_element(By.CSS_SELECTOR, 'tr.conference[data-conference="console-live"] button.destroy').click()
    wait_for(lambda: "Conference ended and removed." in browser.page_source, message="destroy notice")
    assert _rpc_fault(console_bridge, NEW_PASSWORD, "conference.status", conferenceName="console-live") == 4


def test_registrations_page(browser: webdriver.Chrome, console_bridge: Bridge, screens: Path) -> None:
    browser.get(f"{console_bridge.https_url}/admin/registrations/")
    wait_for(lambda: browser.find_elements(By.ID, "registrations"), message="registrations table")
    assert "No registrar is configured" in browser.page_source
    screenshot(browser, screens, "registrations")


def test_forms_without_their_csrf_token_are_refused(browser: webdriver.Chrome, console_bridge: Bridge) -> None:
    browser.get(f"{console_bridge.https_url}/admin/global/")
    cookie = _session_cookie(browser)
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.page_source)
    assert token is not None
    with console_bridge.client(cookies={"__Host-adhoc_console": cookie}) as client:
        for data in ({"legacy_api_password": "Forged-pw-1"}, {"legacy_api_password": "Forged-pw-1", "csrf_token": "x"}):
            response = client.post("/admin/global/", data=data)
            assert response.status_code == 403
            assert "security token" in response.text
        forged = client.post("/admin/sip-credentials/new", data={"realm": "r", "username": "u", "password": "p"})
        assert forged.status_code == 403
        # The same session with its token is accepted (so the refusals above were for the token alone).
        unchanged = client.post("/admin/global/", data={"csrf_token": token.group(1)})
        assert (unchanged.status_code, unchanged.headers["location"]) == (303, "/admin/global/?done=unchanged")
    assert _rpc_fault(console_bridge, NEW_PASSWORD) is None
    with console_bridge.client() as anonymous:
        signin = anonymous.post("/admin/signin", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
        assert signin.status_code == 403
        assert "__Host-adhoc_console=" not in signin.headers.get("set-cookie", "")


def test_plain_http_is_refused(console_bridge: Bridge) -> None:
    with console_bridge.client(http=True) as client:
        for path in ("/admin/", "/admin/signin", "/admin/static/console.css"):
            assert client.get(path).status_code == 403


def test_signing_out_ends_the_session(browser: webdriver.Chrome, console_bridge: Bridge) -> None:
    browser.get(f"{console_bridge.https_url}/admin/global/")
    cookie = _session_cookie(browser)
    by_id(browser, "signout").click()
    wait_for(lambda: browser.current_url.endswith("/admin/signin"), message="signed out")
    with console_bridge.client(cookies={"__Host-adhoc_console": cookie}) as client:
        after = client.get("/admin/global/")
        assert (after.status_code, after.headers["location"]) == (303, "/admin/signin")
        assert client.get("/admin/conferences.json").status_code == 401
    browser.get(f"{console_bridge.https_url}/admin/sip-credentials/")
    wait_for(lambda: browser.current_url.endswith("/admin/signin"), message="sign-in again")


def test_no_secret_reached_the_pages_or_the_log(console_bridge: Bridge) -> None:
    log = console_bridge.log_text()
    for secret in (OLD_PASSWORD, NEW_PASSWORD, SIP_PASSWORD, ADMIN_PASSWORD, "Typed-But-Not-Kept"):
        assert secret not in log
    assert "console sign-in" in log
    assert "global settings changed" in log
