"""SDP offer/answer with CUCM-like offers."""

from __future__ import annotations

import pytest

from app.sip.sdp import SdpError, build_answer, build_offer, negotiate, parse_sdp

CUCM_OFFER = (
    b"v=0\r\n"
    b"o=CiscoSystemsCCM-SIP 2000 1 IN IP4 10.0.0.5\r\n"
    b"s=SIP Call\r\n"
    b"c=IN IP4 10.0.0.20\r\n"
    b"b=TIAS:64000\r\n"
    b"t=0 0\r\n"
    b"m=audio 24580 RTP/AVP 9 0 8 101\r\n"
    b"b=TIAS:64000\r\n"
    b"a=rtpmap:9 G722/8000\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
    b"a=sendrecv\r\n"
    b"m=video 24582 RTP/AVP 126 97\r\n"
    b"a=rtpmap:126 H264/90000\r\n"
    b"a=rtpmap:97 H264/90000\r\n"
    b"m=application 24584 UDP/BFCP *\r\n"
)


def _answer(offer: bytes) -> bytes:
    parsed = parse_sdp(offer)
    choice = negotiate(parsed)
    return build_answer(parsed, choice, local_ip="127.0.0.1", local_port=40002, session_id=7, version=1)


def test_cucm_offer_with_g722_first_is_answered_in_g711_keeping_telephone_event() -> None:
    choice = negotiate(parse_sdp(CUCM_OFFER))
    assert (choice.codec, choice.payload_type, choice.telephone_event) == ("pcmu", 0, 101)
    assert (choice.remote_ip, choice.remote_port, choice.on_hold) == ("10.0.0.20", 24580, False)
    answer = parse_sdp(_answer(CUCM_OFFER))
    audio, video, app = answer.media
    assert (audio.port, audio.proto, audio.formats) == (40002, "RTP/AVP", ("0", "101"))
    assert audio.direction == "sendrecv"
    assert answer.connection == "127.0.0.1"
    assert (video.media, video.port) == ("video", 0)
    assert (app.media, app.port) == ("application", 0)


def test_pcma_preferred_when_offered_first() -> None:
    offer = CUCM_OFFER.replace(b"RTP/AVP 9 0 8 101", b"RTP/AVP 8 0")
    choice = negotiate(parse_sdp(offer))
    assert (choice.codec, choice.payload_type, choice.telephone_event) == ("pcma", 8, None)
    assert b"telephone-event" not in _answer(offer)


def test_opus_with_dynamic_payload_type() -> None:
    offer = (
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=audio 5004 RTP/AVP 96 0\r\na=rtpmap:96 opus/48000/2\r\n"
    )
    choice = negotiate(parse_sdp(offer))
    assert (choice.codec, choice.payload_type) == ("opus", 96)
    assert b"a=rtpmap:96 opus/48000/2" in _answer(offer)


@pytest.mark.parametrize(("direction", "answered"), [("sendonly", "recvonly"), ("inactive", "inactive")])
def test_hold_offers_are_answered_with_the_reverse_direction(direction: str, answered: str) -> None:
    offer = CUCM_OFFER.replace(b"a=sendrecv", b"a=" + direction.encode())
    choice = negotiate(parse_sdp(offer))
    assert choice.on_hold
    assert parse_sdp(_answer(offer)).media[0].direction == answered


def test_old_style_hold_with_zero_address() -> None:
    assert negotiate(parse_sdp(CUCM_OFFER.replace(b"c=IN IP4 10.0.0.20", b"c=IN IP4 0.0.0.0"))).on_hold


def test_srtp_only_offer_is_488() -> None:
    offer = CUCM_OFFER.replace(b"RTP/AVP 9 0 8 101", b"RTP/SAVP 9 0 8 101")
    offer = offer.replace(b"a=sendrecv", b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd\r\na=sendrecv")
    with pytest.raises(SdpError) as err:
        negotiate(parse_sdp(offer))
    assert err.value.status == 488
    assert "SRTP" in err.value.reason


def test_no_common_codec_is_488() -> None:
    offer = CUCM_OFFER.replace(b"RTP/AVP 9 0 8 101", b"RTP/AVP 9 18").replace(b"a=rtpmap:0 PCMU/8000\r\n", b"")
    with pytest.raises(SdpError) as err:
        negotiate(parse_sdp(offer))
    assert err.value.status == 488


def test_video_only_offer_is_488() -> None:
    offer = b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n"
    with pytest.raises(SdpError) as err:
        negotiate(parse_sdp(offer))
    assert err.value.status == 488


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"hello",
        b"\xff\xfe",
        b"v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN XX 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nthis is not sdp\r\n",
        b"v=0\r\n" + b"a=x\r\n" * 5000,
    ],
)
def test_malformed_sdp_is_400(body: bytes) -> None:
    with pytest.raises(SdpError) as err:
        negotiate(parse_sdp(body))
    assert err.value.status == 400


def test_our_offer_and_an_answer_to_it() -> None:
    offer = parse_sdp(build_offer(local_ip="127.0.0.1", local_port=40010, session_id=3, version=1))
    (audio,) = offer.media
    assert audio.formats == ("0", "8", "101")
    answer = (
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8 101\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\n"
    )
    choice = negotiate(parse_sdp(answer))
    assert (choice.codec, choice.remote_ip, choice.remote_port) == ("pcma", "127.0.0.9", 7000)
    assert choice.telephone_event == 101


def test_a_reinvite_keeps_the_running_codec_when_still_offered() -> None:
    assert negotiate(parse_sdp(CUCM_OFFER), prefer="pcma").codec == "pcma"
    assert negotiate(parse_sdp(CUCM_OFFER), prefer="opus").codec == "pcmu"
