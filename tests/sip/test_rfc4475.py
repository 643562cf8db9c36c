"""RFC 4475 torture messages: every valid one parses and reads back; every invalid one is
rejected with a ParseError or, where a proxy may forward it, parsed with the defect visible."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from siptm.sip import AbsoluteUri, ParseError, Request, Response, SipUri, parse, unescape

DATA = Path(__file__).parent / "data" / "rfc4475"


def _index() -> dict[str, tuple[str, str]]:
    rows = DATA.joinpath("index.tsv").read_text("utf-8").splitlines()
    assert rows[0].split("\t")[:3] == ["filename", "section", "validity"]
    out = {}
    for row in rows[1:]:
        name, section, validity, _what = row.split("\t")
        out[name] = (section, validity)
    return out


INDEX = _index()
VALID = sorted(n for n, (_, v) in INDEX.items() if v == "valid")
INVALID = sorted(n for n, (_, v) in INDEX.items() if v == "invalid")


def load(name: str) -> bytes:
    return DATA.joinpath(name).read_bytes()


def test_files_are_bit_exact():
    sums = {}
    for line in DATA.joinpath("SHA256SUMS").read_text("ascii").splitlines():
        digest, name = line.split()
        sums[name] = digest
    assert len(sums) == 50
    assert sorted(sums) == sorted(p.name for p in DATA.glob("*.dat"))
    for name, digest in sums.items():
        assert hashlib.sha256(load(name)).hexdigest() == digest, name
    assert sorted(INDEX) == sorted(sums)
    assert DATA.joinpath(".gitattributes").read_text() == "* -text\n"


def test_every_file_has_a_check():
    assert sorted(VALID) == sorted(VALID_CHECKS)
    assert sorted(INVALID) == sorted([*REJECTED, *FORWARDABLE])
    assert not set(REJECTED) & set(FORWARDABLE)
    assert len(VALID) + len(INVALID) == 50


# --- §3.1.1, §3.2 – §3.4: valid messages ---------------------------------------------------


def check_wsinv(msg: Request) -> None:
    assert msg.method == "INVITE"
    assert str(msg.uri) == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert msg.uri.user == "vivekg" and msg.uri.host == "chair-dnrc.example.com"
    assert dict(msg.uri.params) == {"unknownparam": None}
    assert msg.to_tag == "1918181833n" and msg.to.tag == "1918181833n"
    assert str(msg.to.uri) == "sip:vivekg@chair-dnrc.example.com"
    assert msg.from_tag == "98asjd8" and msg.from_.tag == "98asjd8"
    assert msg.from_.display_name == 'J Rosenberg \\"'
    assert str(msg.from_.uri) == "sip:jdrosen@example.com"
    assert msg.max_forwards == 68
    assert msg.cseq.number == 9 and msg.cseq.method == "INVITE"
    assert msg.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert msg.content_length == 150 and len(msg.body) == 150
    assert msg.body.startswith(b"v=0\r\n") and msg.body.endswith(b"a=rtpmap:31 LPC\r\n")
    vias = [(v.protocol, v.transport, v.host, v.port, v.branch) for v in msg.vias]
    assert vias == [
        ("SIP/2.0", "UDP", "192.0.2.2", None, "390skdjuw"),
        ("SIP/2.0", "TCP", "spindle.example.com", None, "z9hG4bK9ikj8"),
        ("SIP/2.0", "UDP", "192.168.255.111", None, "z9hG4bK30239"),
    ]
    assert msg.headers["Subject"] == ""
    assert msg.headers["NewFangledHeader"] == "newfangled value continued newfangled value"
    assert msg.headers["UnknownHeaderWithUnusualValue"] == ";;,,;;,;"
    (route,) = msg.routes
    assert route.uri.lr and route.uri.host == "services.example.com"
    assert route.uri.params["unknownwith"] == "value" and "unknown-no-value" in route.uri.params
    (contact,) = msg.contacts
    assert contact.display_name == 'Quoted string ""'
    assert str(contact.uri) == "sip:jdrosen@example.com"
    assert contact.params["newparam"] == "newvalue" and "secondparam" in contact.params
    assert contact.q == 0.33
    assert list(msg.headers) == [
        "TO", "from", "MaX-fOrWaRdS", "Call-ID", "Content-Length", "cseq", "Via", "s",
        "NewFangledHeader", "UnknownHeaderWithUnusualValue", "Content-Type", "Route", "v", "m",
    ]


def check_intmeth(msg: Request) -> None:
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.method == method and msg.cseq.method == method and msg.cseq.number == 139122385
    uri = msg.uri
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com" and uri.port is None and len(uri.params) == 0
    assert msg.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.to.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert msg.to.uri.password is None
    assert msg.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert msg.from_.params["fromParam''~+*_!.-%"] == '"работающий"'
    assert msg.from_tag == "_token~1'+`*%!-." == msg.from_.tag
    assert msg.to_tag is None
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.via.branch == "z9hG4bK-.!%66*_+`'~" and msg.via.transport == "TCP"
    assert msg.max_forwards == 255
    assert msg.headers["extensionHeader-!.%*+_`'~"] == "\ufeff大停電"


def check_esc01(msg: Request) -> None:
    assert msg.uri.user == "sips%3Auser%40example.com"
    assert unescape(msg.uri.user) == "sips:user@example.com"
    assert msg.uri.host == "example.net"
    assert msg.to.uri.user == "%75se%72" and unescape(msg.to.uri.user) == "user"
    assert unescape(msg.from_.uri.user) == "I have spaces"
    assert msg.from_tag == "938"
    assert msg.call_id == "esc01.239409asdfakjkn23onasd0-3234"
    assert msg.content_type == "application/sdp"
    (contact,) = msg.contacts
    assert unescape(contact.uri.user) == "caller"
    assert contact.uri.host == "host5.example.net"
    assert list(contact.uri.params) == ["%6C%72", "n%61me"]
    assert contact.uri.params["%6C%72"] is None
    assert unescape(contact.uri.params["n%61me"]) == "value%41"
    assert len(msg.body) == 150


def check_escnull(msg: Request) -> None:
    assert msg.method == "REGISTER"
    assert unescape(msg.to.uri.user) == "null-\x00-null"
    assert unescape(msg.from_.uri.user) == "null-\x00-null" and msg.from_tag == "839923423"
    first, second = msg.contacts
    assert first.uri.user == "%00" and second.uri.user == "%00%00"
    assert unescape(first.uri.user) == "\x00" and unescape(second.uri.user) == "\x00\x00"
    assert first.uri != second.uri
    assert msg.content_length == 0 and msg.body == b""


def check_esc02(msg: Request) -> None:
    assert msg.method == "RE%47IST%45R" and msg.method != "REGISTER"
    assert msg.cseq.method == "RE%47IST%45R" and msg.cseq.number == 29344
    assert msg.to.display_name == "%Z%45" and msg.from_.display_name == "%Z%45"
    assert msg.via.branch == "z9hG4bK209%fzsnel234" and msg.via.transport == "TCP"
    assert [c.uri.host for c in msg.contacts] == ["host1.example.com", "host3.example.com"]
    assert msg.headers["C%6Fntact"] == "<sip:alias2@host2.example.com>"
    assert msg.headers.count("contact") == 2


def check_lwsdisp(msg: Request) -> None:
    assert msg.from_.display_name == "caller"
    assert str(msg.from_.uri) == "sip:caller@example.com"
    assert msg.from_tag == "323" and msg.cseq.method == "OPTIONS"


def check_longreq(msg: Request) -> None:
    data = load("longreq.dat")
    assert len(data) == 3515
    vias = msg.vias
    assert len(vias) == 34
    assert [v.host for v in vias[:33]] == [f"sip{n}.example.com" for n in range(33, 0, -1)]
    assert all(v.transport == "TCP" and v.branch is None for v in vias[:33])
    last = vias[33]
    assert last.host == "host.example.com" and last.received == "192.0.2.5"
    assert last.branch == "very" + "long" * 50 + "branchvalue"
    assert msg.headers.count("via") == 34
    names = list(msg.headers)
    assert {"Via", "v", "V", "ViA", "VIa", "VIA", "via", "viA", "vIa", "vIA"} <= set(names)
    to = msg.to
    assert to.display_name == "I have a user name of " + "extreme" * 10 + " proportion"
    assert to.uri.port == 6000
    assert to.uri.params["unknownparam1"] == "very" + "long" * 20 + "value"
    assert to.uri.params["longparam" + "name" * 25] == "shortvalue"
    assert to.uri.params["very" + "long" * 25 + "ParameterNameWithNoValue"] is None
    assert msg.from_tag == "12" + "982" * 50 + "424"
    assert msg.from_.uri.user == "amazinglylongcallername" * 5
    assert msg.from_.params["unknownValueless" + "paramname" * 10] is None
    assert msg.call_id == "longreq.one" + "really" * 20 + "longcallid"
    (contact,) = msg.contacts
    assert contact.uri.user == "amazinglylongcallername" * 5
    name = "Unknown-" + "Long" * 20 + "-Name"
    assert msg.headers[name].startswith("unknown-" + "long" * 20 + "-value; ")
    assert msg.max_forwards == 70 and msg.content_length == 150


def check_dblreq(msg: Request) -> None:
    assert msg.method == "REGISTER"
    assert msg.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    assert msg.body == b"" and msg.content_length == 0
    assert [str(c.uri) for c in msg.contacts] == ["sip:j.user@host.example.com"]
    assert b"INVITE" not in bytes(msg)


def check_semiuri(msg: Request) -> None:
    assert msg.uri.user == "user;par=u%40example.net"
    assert unescape(msg.uri.user) == "user;par=u@example.net"
    assert msg.uri.host == "example.com" and len(msg.uri.params) == 0
    assert msg.headers["Accept"] == (
        "application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, "
        "message/sip, message/sipfrag"
    )


def check_transports(msg: Request) -> None:
    assert [v.transport for v in msg.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert [v.host for v in msg.vias] == [f"t{n}.example.com" for n in range(1, 6)]
    assert msg.call_id == "transports.kijh4akdnaqjkwendsasfdj"


def check_mpart01(msg: Request) -> None:
    assert msg.method == "MESSAGE"
    assert msg.content_length == 553 and len(msg.body) == 553
    assert msg.body.startswith(b"--7a9cbec02ceef655\r\n")
    assert msg.body.endswith(b"--7a9cbec02ceef655--\r\n")
    # the binary part carries raw NUL, lone LF and lone CR octets: framed by length only
    binary = msg.body[msg.body.index(b"octet-stream"):]
    assert b"\x00" in binary
    assert re.search(rb"[^\r]\n", binary) and re.search(rb"\r[^\n]", binary)
    assert msg.content_type == "multipart/mixed;boundary=7a9cbec02ceef655"
    assert msg.via.port == 5070 and msg.via.has_rport and msg.via.rport is None
    assert str(msg.routes[0].uri) == "sip:127.0.0.1:5080"
    assert msg.headers["y"].startswith("r5mwreLuyDRYBi/0TiPwEsY3rEVsk")


def check_unreason(msg: Response) -> None:
    assert msg.status == 200
    assert msg.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert len(msg.body) == 154


def check_noreason(msg: Response) -> None:
    assert msg.status == 100 and msg.reason == ""
    assert msg.to_tag == "902jndnke3" and msg.cseq.method == "INVITE"


def check_badbranch(msg: Request) -> None:
    assert msg.via.branch == "z9hG4bK"


def check_unkscm(msg: Request) -> None:
    assert isinstance(msg.uri, AbsoluteUri)
    assert msg.uri.scheme == "nobodyKnowsThisScheme"
    assert str(msg.uri) == "nobodyKnowsThisScheme:totallyopaquecontent"


def check_novelsc(msg: Request) -> None:
    assert isinstance(msg.uri, AbsoluteUri)
    assert msg.uri.scheme == "soap.beep" and str(msg.uri) == "soap.beep://192.0.2.103:3002"


def check_unksm2(msg: Request) -> None:
    assert isinstance(msg.to.uri, AbsoluteUri) and str(msg.to.uri) == "isbn:2983792873"
    assert str(msg.from_.uri) == "http://www.example.com" and msg.from_tag == "3234233"
    (contact,) = msg.contacts
    assert isinstance(contact.uri, AbsoluteUri) and str(contact.uri) == "name:John_Smith"


def check_bext01(msg: Request) -> None:
    assert msg.headers["Require"] == "nothingSupportsThis, nothingSupportsThisEither"
    assert msg.headers["proxy-require"] == "noProxiesSupportThis, norDoAnyProxiesSupportThis"
    assert msg.via.transport == "TLS"


def check_invut(msg: Request) -> None:
    assert msg.content_type == "application/unknownformat"
    assert msg.body == b'<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n'


def check_regaut01(msg: Request) -> None:
    assert msg.headers["Authorization"] == "NoOneKnowsThisScheme opaque-data=here"
    assert msg.content_length == 0 and msg.via.transport == "TCP"


def check_bcast(msg: Response) -> None:
    assert msg.status == 200 and msg.reason == "OK"
    assert [v.host for v in msg.vias] == ["192.0.2.198", "255.255.255.255"]
    assert msg.to_tag == "2229" and msg.from_tag == "11141343"


def check_zeromf(msg: Request) -> None:
    assert msg.max_forwards == 0


def check_cparam01(msg: Request) -> None:
    (contact,) = msg.contacts
    assert "unknownparam" in contact.params
    assert "unknownparam" not in contact.uri.params
    assert str(contact.uri) == "sip:+19725552222@gw1.example.net"


def check_cparam02(msg: Request) -> None:
    (contact,) = msg.contacts
    assert "unknownparam" not in contact.params
    assert "unknownparam" in contact.uri.params
    assert contact.uri.user == "+19725552222"


def check_regescrt(msg: Request) -> None:
    (contact,) = msg.contacts
    assert contact.uri.headers == {"Route": "%3Csip:sip.example.com%3E"}
    assert unescape(contact.uri.headers["Route"]) == "<sip:sip.example.com>"
    assert contact.uri.host == "example.com"
    assert msg.content_length == 0
    assert list(msg.headers)[-2:] == ["M", "L"]


def check_sdp01(msg: Request) -> None:
    assert msg.headers["Accept"] == "text/nobodyKnowsThis"
    assert msg.content_type == "application/sdp" and len(msg.body) == 150


def check_inv2543(msg: Request) -> None:
    assert msg.via.branch is None and msg.via.host == "iftgw.example.com"
    assert msg.max_forwards is None and msg.content_length is None
    assert msg.body.startswith(b"v=0\r\n") and msg.body.endswith(b"RTP/AVP 0\r\n")
    (rr,) = msg.record_routes
    assert rr.uri.maddr == "ss1.example.com"
    assert msg.to.params["user"] == "phone" and "user" not in msg.to.uri.params
    assert msg.from_.uri.params["user"] == "phone"
    assert msg.from_tag is None and msg.to_tag is None


VALID_CHECKS = {
    f"{name[len('check_'):]}.dat": fn for name, fn in globals().items() if name.startswith("check_")
}


@pytest.mark.parametrize("name", VALID)
def test_valid_message(name):
    data = load(name)
    msg = parse(data)
    assert isinstance(msg, Request if not data.startswith(b"SIP/") else Response)
    VALID_CHECKS[name](msg)
    if name == "dblreq.dat":
        first = data[: data.index(b"\r\n\r\n") + 4]
        assert bytes(msg) == first
        assert bytes(parse(first)) == first
    else:
        assert bytes(msg) == data
    for attr in ("via", "vias", "cseq", "call_id", "from_", "to", "contacts", "routes",
                 "record_routes", "max_forwards", "content_length"):
        getattr(msg, attr)  # every typed accessor reads without error
    assert bytes(msg) == bytes(parse(bytes(msg)))


# --- §3.1.2, §3.3.1, §3.3.8, §3.3.9: invalid messages -----------------------------------------

REJECTED = {
    "badinv01.dat": 400,
    "clerr.dat": 400,
    "ncl.dat": 400,
    "scalar02.dat": 400,
    "scalarlg.dat": 400,
    "quotbal.dat": 400,
    "ltgtruri.dat": 400,
    "lwsruri.dat": 400,
    "lwsstart.dat": 400,
    "trws.dat": 400,
    "escruri.dat": 400,
    "baddn.dat": 400,
    "badvers.dat": 505,
    "mismatch01.dat": 400,
    "mismatch02.dat": 400,
    "bigcode.dat": 400,
    "insuf.dat": 400,
    "multi01.dat": 400,
    "mcl01.dat": 400,
    "test.dat": 400,
}


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_invalid_message_rejected(name):
    with pytest.raises(ParseError) as info:
        parse(load(name))
    error = info.value
    assert isinstance(error, ValueError)
    assert error.status == REJECTED[name]
    reason = str(error)
    assert reason and len(reason) <= 64 and reason.isprintable() and reason.isascii()


def forward_baddate(msg: Request) -> None:
    # The time zone is wrong, but nothing a proxy needs reads Date: forwarded unchanged.
    assert msg.headers["Date"] == "Fri, 01 Jan 2010 16:00:00 EST"
    assert len(msg.body) == 150 and msg.contacts[0].uri.host == "host5.example.net"


def forward_badaspec(msg: Request) -> None:
    # Lenient: the spaces inside <> are tolerated when the To is read; the raw header keeps them.
    assert msg.headers["To"] == '"Watson, Thomas" < sip:t.watson@example.org >'
    assert msg.to.display_name == "Watson, Thomas"
    assert str(msg.to.uri) == "sip:t.watson@example.org"
    assert msg.from_.display_name == "Bell, Alexander" and msg.from_tag == "433423"


def forward_regbadct(msg: Request) -> None:
    # The unbracketed Contact with a '?' is the defect: visible when Contact is read.
    with pytest.raises(ParseError):
        msg.contacts  # noqa: B018
    assert msg.headers["Contact"] == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    assert msg.from_tag == "998332" and msg.via.branch == "z9hG4bKkdjuw"


FORWARDABLE = {
    "baddate.dat": forward_baddate,
    "badaspec.dat": forward_badaspec,
    "regbadct.dat": forward_regbadct,
}


@pytest.mark.parametrize("name", sorted(FORWARDABLE))
def test_invalid_but_forwardable(name):
    data = load(name)
    msg = parse(data)
    FORWARDABLE[name](msg)
    assert bytes(msg) == data
    # A proxy's edits leave the defective header as it came.
    msg.decrement_max_forwards()
    msg.push_via("SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKproxy")
    out = bytes(msg)
    for line in data.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        if not line.lower().startswith(b"max-forwards"):
            assert line in out.split(b"\r\n")


def test_escnull_distinct_contacts_stay_distinct_after_edit():
    msg = parse(load("escnull.dat"))
    first, _ = msg.contacts
    first.params["expires"] = "60"
    out = parse(bytes(msg))
    assert [c.uri.user for c in out.contacts] == ["%00", "%00%00"]
    assert out.contacts[0].expires == 60 and out.contacts[1].expires is None


def test_uri_types():
    msg = parse(load("cparam02.dat"))
    assert isinstance(msg.uri, SipUri)
    assert isinstance(msg.contacts[0].uri, SipUri)
