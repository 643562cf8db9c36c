"""Seed 003 (OpenSIPS tm), section 1.1.1: per-branch flags (a call forked to a gateway
and to a user).

Seed text (no configuration is given)::

    For example: I have a call parallel forking to GW and to a user. And I would
    like to know from which branch I will get the final negative reply (if so). I
    will set a branch route before relaying the calls (with the 2 branches). The
    branch route will be separately executed for each branch; in the branch going
    to GW (I can identified it by looking to RURI), I will set a branch flag. This
    flag will appear only in the onreply route run for replied from GW. It will be
    also be visible in failure route if the final elected reply belongs to the GW
    branch. This flags will not be visible in the other branch (in routes executing
    replies from the other branch).

siptm.toml::

    # the defaults

Translation notes: the text as a script. ``GW`` and the R-URI's user are the two
branches; the branch route recognises the gateway by its Request-URI and sets branch
flag ``GW_FLAG`` there, which the onreply and failure routes then read.
"""

import logging

from siptm.script import Router

router = Router()
log = logging.getLogger("siptm.script")

GW = "sip:+4930123456@192.0.2.50"
GW_FLAG = "GW_FLAG"


@router.request
def route(msg, tm):
    if msg.method == "CANCEL":
        tm.t_relay_cancel()
    if msg.method not in ("ACK", "CANCEL"):
        tm.t_check_trans()
    if msg.method == "INVITE" and msg.to_tag is None:
        tm.append_branch(GW)  # parallel forking to GW and to the user (the R-URI)
        tm.t_on_branch("mark_gw")
        tm.t_on_reply("replies")
        tm.t_on_failure("negative")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.branch("mark_gw")
def mark_gw(msg, tm):
    if msg.uri_text == GW:  # the branch going to GW, identified by its RURI
        tm.setbflag(GW_FLAG)


@router.onreply("replies")
def replies(reply, tm):
    if tm.isbflagset(GW_FLAG):
        log.info("reply %d from the GW branch", reply.status)
    else:
        log.info("reply %d from the user branch", reply.status)


@router.failure("negative")
def negative(msg, tm):
    if tm.isbflagset(GW_FLAG):
        log.info("the final negative reply came from the GW")
    else:
        log.info("the final negative reply came from the user")
