"""Templates render every field they are given, escaped (in process: no server, no browser)."""

from __future__ import annotations

from datetime import datetime

from app.console.common import _templates
from app.sip_registration.status_store import AliasStatus


def test_registration_rows_show_every_member_escaped() -> None:
    status = AliasStatus(
        alias="sip:7001@example.com",
        numeric_id="7001",
        conference_name="<b>conf</b>",
        state="failed",
        realm="Test.Realm",
        algorithm="SHA-256",
        expires_at=datetime(2026, 12, 1, 12, 30, 5),
        last_status=403,
        last_error='no SIP credential for realm "Test.Realm"',
        updated_at=datetime(2026, 12, 1, 12, 0, 0),
    )
    html = _templates.get_template("registrations.html").render(
        title="Registrations", registrar="sip:registrar.example.com", items=[status], total=1, user="admin", csrf="t"
    )
    for text in ("sip:7001@example.com", "&lt;b&gt;conf&lt;/b&gt;", "state-failed", "Test.Realm", "SHA-256"):
        assert text in html
    assert "2026-12-01 12:30:05" in html
    assert "403" in html
    assert "no SIP credential for realm &#34;Test.Realm&#34;" in html
    assert "<b>conf</b>" not in html
