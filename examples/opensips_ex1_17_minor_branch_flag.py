"""Seed 003 (OpenSIPS tm), example 1.17: the ``minor_branch_flag`` parameter.

Seed configuration::

    ...
    modparam("tm", "minor_branch_flag", "MINOR_BFLAG")
    ...

siptm.toml::

    [tm]
    minor_branch_flag = "MINOR_BFLAG"

Translation notes: the seed sets the parameter only; its text gives the use: "fork a
branch to a media server for injecting (via 183 Early Media) some pre-call media".
The script added here does that: every new INVITE is forked to the callee (the R-URI)
and to ``MEDIA_SERVER``, whose branch the branch route marks with the minor flag
before it is sent. The minor branch does not count when the best reply is chosen:
once the callee's branch is negatively answered it is cancelled, not waited for.
"""

from siptm.script import Router

router = Router()

MEDIA_SERVER = "sip:announcement@192.0.2.80"


@router.request
def route(msg, tm):
    if msg.method == "CANCEL":
        tm.t_relay_cancel()
    if msg.method not in ("ACK", "CANCEL"):
        tm.t_check_trans()
    if msg.method == "INVITE" and msg.to_tag is None:
        tm.append_branch(MEDIA_SERVER)
        tm.t_on_branch("minor")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.branch("minor")
def minor(msg, tm):
    if msg.uri_text == MEDIA_SERVER:
        tm.setbflag("MINOR_BFLAG")  # mark the minor branch before it is sent
