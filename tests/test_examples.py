"""Every routing script under ``examples/`` (the seeds' forking and route-block examples
in Python) loads, names only tm functions that exist, carries a valid ``siptm.toml``
block in its docstring, and handles a call on the sans-IO harness without a route
error, each transaction freed at the end; the forking ones are checked for what they
do (which branches, which reply reaches the caller).

A call here: the UAC (``siptm.testing.UAC``) sends an INVITE; every INVITE the proxy
sends to a branch is answered by the case's ``answer`` policy (status codes in order;
none: the branch stays silent); a CANCEL of the proxy is answered 200, then 487 on its
INVITE; the UAC ACKs a negative final response. Timers run on the manual clock until
nothing is left to do.
"""

from __future__ import annotations

import ast
import itertools
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from siptm.config import Config
from siptm.script.runner import load_router
from siptm.script.tm import Tm
from siptm.sip import Request, Response, parse
from siptm.testing import UAC, ProxyHarness, make_request, make_response

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def example_config(path: Path, **tm: object) -> Config:
    """The ``siptm.toml::`` block of the example's docstring, validated (``tm``: more
    ``[tm]`` settings on top, for a test)."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert "Seed configuration::" in doc or "Seed text" in doc, "the seed's original is missing"
    assert "siptm.toml::" in doc, "no siptm.toml:: block"
    lines = []
    for line in doc.split("siptm.toml::", 1)[1].splitlines()[1:]:
        if line.strip() and not line.startswith("    "):
            break
        lines.append(line[4:])
    data = tomllib.loads("\n".join(lines))
    if tm:
        data.setdefault("tm", {}).update(tm)
    return Config.from_mapping(data)


def tm_names(path: Path) -> set[str]:
    """Every ``tm.<name>`` the example uses."""
    tree = ast.parse(path.read_text())
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "tm"}


# --- one call on the harness -------------------------------------------------------------

# status codes, or (status, extra headers) pairs
Answer = Callable[[Request], list[int | tuple[int, list[tuple[str, str]]]]]


def always(*codes: int) -> Answer:
    return lambda invite: list(codes)


BUSY = always(180, 486)


@dataclass
class Call:
    """What one call did: the INVITEs each branch got (in order), what the UAC got."""

    harness: ProxyHarness
    invites: list[Request] = field(default_factory=list)
    invite_dests: list[str] = field(default_factory=list)  # "udp:host:port"
    cancels: list[Request] = field(default_factory=list)
    to_uac: list[Response] = field(default_factory=list)
    to_uac_times: list[float] = field(default_factory=list)

    @property
    def finals(self) -> list[int]:
        """Final responses to the INVITE (not the 200 of a CANCEL)."""
        return [r.status for r in self.to_uac if r.status >= 200 and r.cseq.method == "INVITE"]

    @property
    def provisionals(self) -> list[int]:
        """Relayed provisional replies (the proxy's own 100 left out)."""
        return [r.status for r in self.to_uac if 100 < r.status < 200]

    @property
    def uris(self) -> list[str]:
        return [m.uri_text for m in self.invites]


def place_call(path: Path, ruri: str = "sip:bob@192.0.2.9", answer: Answer = BUSY,
               extra: tuple[str, ...] = (), cancel: bool = False,
               tm: dict[str, object] | None = None) -> Call:
    """One call through the example; ``cancel``: the UAC cancels on the first relayed
    provisional reply."""
    router = load_router(str(path))
    h = ProxyHarness(router, example_config(path, **(tm or {})))
    call = Call(h)
    tags = itertools.count(1)
    pending: dict[str, tuple[Request, object, str]] = {}  # branch -> INVITE, dest, tag
    h.inject(make_request("INVITE", ruri=ruri, extra=extra), UAC)
    for _ in range(200):
        sent = h.take_sent()
        for s in sent:
            msg = s.msg
            if s.dest == UAC:
                assert isinstance(msg, Response)
                call.to_uac.append(msg)
                call.to_uac_times.append(s.time)
                if msg.status >= 300 and msg.cseq.method == "INVITE":
                    h.inject(make_request("ACK", ruri=ruri, to_tag=msg.to_tag), UAC)
                if cancel and 100 < msg.status < 200:
                    cancel = False
                    h.inject(make_request("CANCEL", ruri=ruri), UAC)
                continue
            if not isinstance(msg, Request):
                continue  # a reply forwarded elsewhere (on_sl_reply examples)
            branch = msg.via.branch
            if msg.method == "INVITE":
                if branch in pending:
                    continue  # a retransmission
                tag = f"uas{next(tags)}"
                pending[branch] = (msg, s.dest, tag)
                call.invites.append(msg)
                call.invite_dests.append(str(s.dest))
                for item in answer(msg):
                    code, headers = item if isinstance(item, tuple) else (item, [])
                    h.inject(make_response(msg, code, to_tag=tag, extra=headers), s.dest)
            elif msg.method == "CANCEL":
                call.cancels.append(msg)
                h.inject(make_response(msg, 200), s.dest)
                invite, dest, tag = pending[branch]
                h.inject(make_response(invite, 487, to_tag=tag), dest)
        if not sent:
            deadline = h.engine.next_deadline()
            if deadline is None:
                break
            h.run_until(deadline)
    return call


def assert_clean(call: Call) -> None:
    h = call.harness
    assert h.runner.route_errors == 0, "a route raised (see the log)"
    assert len(call.finals) == 1, call.to_uac
    h.settle()
    assert h.in_use == 0


# --- every example --------------------------------------------------------------------------

def test_every_example_is_listed_in_the_readme():
    readme = (EXAMPLES / "README.md").read_text()
    missing = [p.name for p in SCRIPTS if p.name not in readme]
    assert not missing


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_example_loads(path):
    router = load_router(str(path))
    assert router.request_route is not None
    example_config(path)
    unknown = sorted(name for name in tm_names(path) if not hasattr(Tm, name))
    assert not unknown, f"tm has no {unknown}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_example_handles_a_call(path):
    call = place_call(path)
    assert call.invites, "nothing was relayed"
    assert_clean(call)


# --- what the forking examples do ------------------------------------------------------------

def example(stem: str) -> Path:
    return EXAMPLES / f"{stem}.py"


def test_ex33_failure_route_sends_one_branch_to_voicemail():
    call = place_call(example("kamailio_ex33_t_on_failure"))
    assert call.uris == ["sip:bob@192.0.2.9", "sip:voicemail@192.0.2.9"]
    assert call.finals == [486]  # the voicemail was busy too here
    assert_clean(call)


def test_ex35_branch_route_marks_numeric_uris():
    call = place_call(example("kamailio_ex35_t_on_branch"), ruri="sip:4930123@192.0.2.9")
    (invite,) = call.invites
    assert invite.headers.get_all("P-Warn") == ["numeric uri"]
    call = place_call(example("kamailio_ex35_t_on_branch"))
    assert call.invites[0].headers.get_all("P-Warn") == []


def test_ex36_two_parallel_branches_john_and_alice():
    call = place_call(example("kamailio_ex36_append_branch"), answer=always(180))
    assert sorted(call.uris) == ["sip:alice@192.0.2.9", "sip:john@192.0.2.9"]
    assert call.provisionals.count(180) == 2
    assert call.finals == [408]  # nobody answered: fr_inv_timer


def test_ex43_branch_route_sets_the_no_reply_timeout_of_numeric_branches():
    # the numeric branch has fr_timer 2 s: unanswered, the caller gets 408 after 2 s
    call = place_call(example("kamailio_ex43_t_set_fr"), ruri="sip:4930123@192.0.2.9",
                      answer=always())
    assert call.finals == [408]
    assert call.to_uac_times[-1] == pytest.approx(2.0)  # not fr_timer's 30 s
    assert_clean(call)


def test_ex54_a_486_on_any_branch_is_replied_at_once():
    call = place_call(example("kamailio_ex54_t_grep_status"),
                      answer=lambda inv: [180, 486] if inv.uri.user == "bob" else [180])
    assert call.finals == [486]
    assert len(call.cancels) == 1  # the other branch
    assert_clean(call)


def test_ex59_5xx_replies_are_dropped_and_foobar_gets_a_chance():
    call = place_call(example("kamailio_ex59_t_drop_replies"),
                      answer=lambda inv: [503] if inv.uri.host != "foobar.com" else [404])
    assert call.uris == ["sip:bob@192.0.2.9", "sip:bob@foobar.com"]
    assert call.finals == [404]
    assert_clean(call)


def test_ex60_failure_branch_has_the_saved_headers_only():
    call = place_call(example("kamailio_ex60_t_save_lumps"))
    first, second = call.invites
    assert first.headers.get_all("hf1") and first.headers.get_all("hf2")
    assert not first.headers.get_all("hf3")
    assert second.headers.get_all("hf1") and second.headers.get_all("hf3")
    assert not second.headers.get_all("hf2")
    assert_clean(call)


@pytest.mark.parametrize("stem", ["kamailio_ex26_fr_inv_timer_next",
                                  "kamailio_ex27_contacts_avp",
                                  "kamailio_ex61_t_load_contacts",
                                  "kamailio_ex62_t_next_contacts"])
def test_serial_forking_goes_by_q_value_groups(stem):
    call = place_call(example(stem))
    hosts = [m.uri.host for m in call.invites]
    assert sorted(hosts[:2]) == ["192.0.2.41", "192.0.2.42"]  # q 1.0, in parallel
    assert hosts[2:] == ["192.0.2.43", "192.0.2.44"]  # then q 0.5, then q 0.1
    assert call.finals == [408]  # nobody left: the failure route's t_reply
    assert_clean(call)


def test_ex14_without_aggregation_only_the_401_goes_up():
    def answer(invite):
        return [401] if invite.uri.user == "bob" else [407]

    path = example("kamailio_ex14_aggregate_challenges")
    router = load_router(str(path))
    h = ProxyHarness(router, example_config(path))
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    invites = [s for s in h.take_sent() if isinstance(s.msg, Request)]
    assert len(invites) == 2
    for s in invites:
        code = answer(s.msg)[0]
        header = ("WWW-Authenticate" if code == 401 else "Proxy-Authenticate",
                  f'Digest realm="{s.msg.uri.host}", nonce="1"')
        h.inject(make_response(s.msg, code, to_tag="t", extra=[header]), s.dest)
    (final,) = [m for m in h.take(UAC) if m.status >= 200]
    assert final.status == 401
    assert final.headers.get_all("WWW-Authenticate") and not final.headers.get_all(
        "Proxy-Authenticate")


def test_opensips_1_15_a_6xx_may_go_to_the_announcement():
    call = place_call(example("opensips_ex1_15_disable_6xx_block"),
                      answer=lambda inv: [603] if inv.uri.user == "bob" else [180, 200])
    assert call.uris == ["sip:bob@192.0.2.9", "sip:declined@192.0.2.30"]
    assert call.finals == [200]


def test_opensips_1_17_the_minor_branch_is_cancelled_when_the_callee_fails():
    call = place_call(example("opensips_ex1_17_minor_branch_flag"),
                      answer=lambda inv: [180, 486] if inv.uri.user == "bob" else [183])
    assert sorted(call.uris) == ["sip:announcement@192.0.2.80", "sip:bob@192.0.2.9"]
    assert call.finals == [486]
    (cancel,) = call.cancels
    assert cancel.uri_text == "sip:announcement@192.0.2.80"
    assert_clean(call)


def test_opensips_1_31_failure_route_sends_to_voicemail():
    call = place_call(example("opensips_ex1_31_t_on_failure"),
                      answer=lambda inv: [486] if inv.uri.user == "bob" else [180, 200])
    assert call.uris == ["sip:bob@192.0.2.9", "sip:user@voicemail"]
    assert call.finals == [200]


def test_opensips_1_32_the_183_is_dropped_and_alice_has_her_reply_route(caplog):
    caplog.set_level("INFO", "siptm.script")
    call = place_call(example("opensips_ex1_32_t_on_reply"),
                      answer=lambda inv: [183, 180, 486])
    assert sorted(call.uris) == ["sip:alice@opensips.org", "sip:bob@opensips.org"]
    # bob's 183 is dropped by the global route; alice's branch runs only "alice"
    assert call.provisionals.count(183) == 1 and call.provisionals.count(180) == 2
    assert caplog.text.count("received reply from alice") == 3
    assert caplog.text.count("provisional reply received") == 2
    assert_clean(call)


def test_opensips_1_33_a_bad_uri_branch_is_dropped():
    path = example("opensips_ex1_33_t_on_branch")
    call = place_call(path, ruri="sip:bad_uri@192.0.2.9")
    assert call.invites == []
    assert call.finals and call.finals[0] >= 400  # no branch left to send


def test_opensips_1_35_replicas_get_the_request_and_their_replies_stay_here():
    replicas = {"udp:1.2.3.4:5060", "tcp:1.2.3.4:5060"}
    call = place_call(example("opensips_ex1_35_t_replicate"),
                      answer=lambda inv: [180, 486])
    # three copies (the R-URI kept, sent to the URI given) and the call itself
    assert sorted(call.invite_dests) == sorted([*replicas, "udp:1.2.3.4:5060",
                                                "udp:192.0.2.9:5060"])
    assert call.uris == ["sip:bob@192.0.2.9"] * 4
    # the replicas' replies never reach the caller: one 180 and one 486, the call's
    assert call.provisionals == [180] and call.finals == [486]
    assert_clean(call)


def test_opensips_s1_1_1_the_gw_branch_flag_is_seen_in_its_routes_only(caplog):
    caplog.set_level("INFO", "siptm.script")
    call = place_call(example("opensips_s1_1_1_per_branch_flags"),
                      answer=lambda inv: [480] if inv.uri.user == "bob" else [180, 503])
    assert sorted(call.uris) == ["sip:+4930123456@192.0.2.50", "sip:bob@192.0.2.9"]
    assert "reply 480 from the user branch" in caplog.text
    assert "reply 180 from the GW branch" in caplog.text
    assert "reply 503 from the GW branch" in caplog.text
    assert "the final negative reply came from the user" in caplog.text  # 480 beats 503
    assert call.finals == [480]


def test_opensips_s1_1_2_a_silent_gateway_fails_over_to_the_next():
    call = place_call(example("opensips_s1_1_2_timeout_failover"),
                      ruri="sip:4930123@192.0.2.9",
                      answer=lambda inv: [] if inv.uri.host == "192.0.2.61" else [180, 200])
    assert [m.uri.host for m in call.invites] == ["192.0.2.61", "192.0.2.62"]
    assert call.finals == [200]
    # after fr_timeout (3 s) without any reply
    assert call.harness.now >= 3


# --- the seeds' checks, each where its example puts it ----------------------------------------

SILENT = always()
RINGING = always(180)


@pytest.mark.parametrize(("stem", "answer", "line"), [
    ("kamailio_ex50_t_branch_timeout", SILENT, "timeout"),
    ("kamailio_ex51_t_branch_replied", SILENT, "timeout, remote side seems to be down"),
    ("kamailio_ex51_t_branch_replied", RINGING,
     "timeout after receiving a reply (no answer?)"),
    ("opensips_ex1_26_t_check_status", SILENT, "487 or 408 negative reply"),
    ("opensips_ex1_27_t_local_replied", SILENT, "no reply received"),
])
def test_failure_route_checks_after_a_timeout(caplog, stem, answer, line):
    caplog.set_level("INFO", "siptm.script")
    call = place_call(example(stem), answer=answer)
    assert line in caplog.messages
    assert call.finals == [408]
    assert_clean(call)


@pytest.mark.parametrize("stem", ["kamailio_ex50_t_branch_timeout",
                                  "kamailio_ex51_t_branch_replied",
                                  "opensips_ex1_26_t_check_status",
                                  "opensips_ex1_27_t_local_replied"])
def test_failure_route_checks_stay_quiet_on_a_busy_callee(caplog, stem):
    caplog.set_level("INFO", "siptm.script")
    call = place_call(example(stem))
    assert caplog.messages == []
    assert call.finals == [486]


@pytest.mark.parametrize(("stem", "line"), [
    ("kamailio_ex55_t_is_canceled", "transaction canceled"),
    ("opensips_ex1_28_t_was_cancelled", "transaction was cancelled by UAC"),
    ("opensips_ex1_26_t_check_status", "487 or 408 negative reply"),
])
def test_failure_route_checks_after_the_callers_cancel(caplog, stem, line):
    caplog.set_level("INFO", "siptm.script")
    call = place_call(example(stem), answer=RINGING, cancel=True)
    assert line in caplog.messages
    assert len(call.cancels) == 1
    assert call.finals == [487]
    assert_clean(call)


def test_ex56_t_is_expired_after_max_inv_lifetime(caplog):
    caplog.set_level("INFO", "siptm.script")
    call = place_call(example("kamailio_ex56_t_is_expired"), answer=RINGING,
                      tm={"max_inv_lifetime": 5000})
    assert "transaction expired" in caplog.messages
    assert call.finals == [408]
    assert call.to_uac_times[-1] == pytest.approx(5.0)
    assert_clean(call)


def test_ex53_t_any_replied_sees_the_first_reply_only(caplog):
    caplog.set_level("INFO", "siptm.script")
    call = place_call(example("kamailio_ex53_t_any_replied"), answer=always(100, 180, 486))
    assert caplog.messages.count("first reply received") == 1
    assert call.finals == [486]


def test_ex25_a_stray_reply_is_dropped():
    path = example("kamailio_ex25_on_sl_reply")
    h = ProxyHarness(load_router(str(path)), example_config(path))
    stray = make_request("INVITE", via="SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnone, "
                         "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac9")
    h.inject(make_response(parse(stray), 180), UAC)
    assert h.take() == []  # not forwarded statelessly by its Via
    assert h.runner.route_errors == 0


def test_ex34_the_contact_of_a_183_or_2xx_gets_nat_yes():
    def answer(invite):
        contact = [("Contact", f"<{invite.uri_text}:5060>")]
        return [(180, contact), (183, contact), (200, contact)]

    call = place_call(example("kamailio_ex34_t_on_reply"), answer=answer)
    contacts = {r.status: r.headers.get_all("Contact") for r in call.to_uac}
    assert contacts[183] == ["<sip:bob@192.0.2.9:5060;nat=yes>"]
    assert contacts[200] == ["<sip:bob@192.0.2.9:5060;nat=yes>"]
    assert contacts[180] == ["<sip:bob@192.0.2.9:5060>"]


def test_ex47_t_set_retr_per_branch():
    def first_gap(stem_ruri):
        call = place_call(example("kamailio_ex47_t_set_retr"), ruri=stem_ruri, answer=SILENT)
        times = [s.time for s in call.harness.sent
                 if s.dest != UAC and isinstance(s.msg, Request) and s.msg.method == "INVITE"]
        return times[1] - times[0]

    assert first_gap("sip:bob@192.0.2.9") == pytest.approx(0.25)  # the route's T1
    assert first_gap("sip:4930123@192.0.2.9") == pytest.approx(0.5)  # the branch's


def test_opensips_1_29_a_branch_sending_183_is_cancelled():
    call = place_call(example("opensips_ex1_29_t_cancel_branch"), answer=always(183))
    assert len(call.cancels) == 1  # the branch that sent 183
    assert call.finals == [487]
    assert_clean(call)
