"""Seed 003 (OpenSIPS tm), example 1.32: ``t_on_reply``, for the transaction and for
one branch.

Seed configuration::

    route {
            seturi("sip:bob@opensips.org");  # first branch
            append_branch("sip:alice@opensips.org"); # second branch

            t_on_reply("global"); # the "global" reply route
                                  # is set the whole transaction
            t_on_branch("1");

            t_relay();
    }

    branch_route[1] {
            if ($rU=="alice")
                    t_on_reply("alice"); # the "alice" reply route
                                          # is set only for second branch
    }

    onreply_route[alice] {
            xlog("received reply from alice\\n");
    }

    onreply_route[global] {
            if (t_check_status("1[0-9][0-9]")) {
                    setflag(LOG_FLAG);
                    log("provisional reply received\\n");
                    if (t_check_status("183"))
                            drop;
            }
    }

siptm.toml::

    # the defaults

Translation notes: ``$rU`` is the user part of the branch's Request-URI
(``msg.uri.user``); a flag may be named (``"LOG_FLAG"``) or numbered. ``drop`` of a
provisional reply in an onreply route (``tm.drop()``) keeps it from the caller.
``opensips.org`` must be reachable as written (or replace ``BOB`` and ``ALICE``).
"""

import logging

from siptm.script import Router

router = Router()
log = logging.getLogger("siptm.script")

BOB = "sip:bob@opensips.org"
ALICE = "sip:alice@opensips.org"


@router.request
def route(msg, tm):
    msg.uri = BOB  # first branch
    tm.append_branch(ALICE)  # second branch

    tm.t_on_reply("global")  # the "global" reply route
    #                          is set the whole transaction
    tm.t_on_branch("1")

    tm.t_relay()


@router.branch("1")
def branch_1(msg, tm):
    if msg.uri.user == "alice":
        tm.t_on_reply("alice")  # the "alice" reply route
        #                         is set only for second branch


@router.onreply("alice")
def alice(reply, tm):
    log.info("received reply from alice")


@router.onreply("global")
def global_(reply, tm):
    if tm.t_check_status("1[0-9][0-9]"):
        tm.setflag("LOG_FLAG")
        log.info("provisional reply received")
        if tm.t_check_status("183"):
            tm.drop()
