"""Seed 002 (Kamailio tm), example 54: ``t_grep_status`` in an onreply route.

Seed configuration::

    onreply_route[0]{
        if (t_grep_status("486")){
            /* force a 486 reply, even if this is not the winning branch */
            t_reply("486", "Busy");
        }
    }

siptm.toml::

    # the defaults

Translation notes: the seed shows the onreply route only; the request route arming it
and forking to two destinations (so that another branch can be the winner) is added
so that the script runs. ``t_grep_status`` is true once any branch has the final
status, received or made up locally.
"""

from siptm.script import Router

router = Router()

# added: the second destination of the fork (any reachable UAS)
SECOND = "sip:voicemail@192.0.2.20"


@router.request
def route(msg, tm):
    # added: arm the onreply route, fork and relay
    tm.t_on_reply("0")
    tm.append_branch(SECOND)
    if not tm.t_relay():
        tm.sl_reply_error()


@router.onreply("0")
def onreply_0(reply, tm):
    if tm.t_grep_status("486"):
        # force a 486 reply, even if this is not the winning branch
        tm.t_reply(486, "Busy")
