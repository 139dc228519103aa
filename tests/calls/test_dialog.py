"""Header helpers of the call dialogs."""

from __future__ import annotations

import pytest

from app.calls.dialog import display_name, header_param, name_addr_uri


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ('"Alice Smith" <sip:1001@cucm.example.com>;tag=abc', "Alice Smith"),
        ('"Al \\"the\\" one" <sip:1001@h>;tag=a', 'Al "the" one'),
        ("Bob <sip:1002@h>;tag=x", "Bob"),
        ("<sip:1003@h>;tag=x", "1003"),
        ("sip:1004@h;tag=x", "1004"),
        ('"" <sip:h>', "h"),
    ],
)
def test_display_name_from_the_from_header(value: str, name: str) -> None:
    assert display_name(value) == name


def test_uri_and_parameters_of_name_addr_values() -> None:
    value = '"A" <sip:1001@h:5060;transport=tcp>;tag=7f;x=1'
    assert name_addr_uri(value) == "sip:1001@h:5060;transport=tcp"
    assert header_param(value, "tag") == "7f"
    assert header_param(value, "transport") is None  # a URI parameter, not a header parameter
    assert header_param("1800;refresher=uac", "refresher") == "uac"
    assert name_addr_uri("sip:1001@h;tag=1") == "sip:1001@h"
