"""Seed 003 (OpenSIPS tm), section 1.1.2: timeout-based failover.

Seed text (no route is given)::

    Timeouts can be used to trigger failover behavior. E.g. if we send a call to a
    gateway and the gateway does not send a provisional response within 3 seconds,
    we want to cancel this call and send the call to another gateway. Another
    example is to ring a SIP client only for 30 seconds and then redirect the call
    to the voicemail.
    ...
    For example: You want to have failover if there is no provisional response
    after 3 seconds, but you want to ring for 60 seconds. Thus, set the fr_timeout
    to 3 and fr_inv_timeout to 60.

siptm.toml::

    [tm.opensips]
    fr_timeout = 3
    fr_inv_timeout = 60

Translation notes: the text as a script. Numeric Request-URIs go to ``GW1``; when it
sends no provisional reply within fr_timeout (3 s) the failure route tries ``GW2``.
Other calls ring for 30 s (``t_set_fr(30000)``), then go to ``VOICEMAIL``. OpenSIPS
names its timer parameters in seconds; in ``[tm.opensips]`` siptm reads them so.
"""

import re

from siptm.script import Router

router = Router()

GW1 = "192.0.2.61"
GW2 = "192.0.2.62"
VOICEMAIL = "sip:voicemail@192.0.2.70"


@router.request
def route(msg, tm):
    if msg.method == "CANCEL":
        tm.t_relay_cancel()
    if msg.method not in ("ACK", "CANCEL"):
        tm.t_check_trans()
    if msg.method == "INVITE" and msg.to_tag is None:
        if re.fullmatch(r"\+?[0-9]+", msg.uri.user or ""):
            msg.uri.host, msg.uri.port = GW1, None  # PSTN: the first gateway
            tm.t_on_failure("next_gateway")
        else:
            tm.t_set_fr(30000)  # ring a SIP client only for 30 seconds
            tm.t_on_failure("voicemail")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.failure("next_gateway")
def next_gateway(msg, tm):
    # no provisional response within fr_timeout: cancel (done) and try another gateway
    if tm.t_branch_timeout() and not tm.t_branch_replied() and msg.uri.host == GW1:
        msg.uri.host, msg.uri.port = GW2, None
        tm.t_relay()


@router.failure("voicemail")
def voicemail(msg, tm):
    if tm.t_branch_timeout():  # rang for 30 s: redirect to the voicemail
        msg.uri = VOICEMAIL
        tm.t_relay()
