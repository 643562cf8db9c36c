"""Seed 003 (OpenSIPS tm), example 1.29: ``t_cancel_branch`` in an onreply route.

Seed configuration::

    onreply_route[3] {
    ...
            if (t_check_status("183")) {
                    # no support for early media
                    t_cancel_branch();
            }
    ...
    }

siptm.toml::

    # the defaults

Translation notes: the seed shows the onreply route only; the request route arming it
(``t_on_reply("3")`` then ``t_relay()``) is added so that the script runs.
``t_cancel_branch()`` without flags cancels the branch the reply came on; ``"a"`` all
pending branches, ``"o"`` all but this one.
"""

from siptm.script import Router

router = Router()


@router.request
def route(msg, tm):
    # added: arm the onreply route and relay
    tm.t_on_reply("3")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.onreply("3")
def onreply_3(reply, tm):
    # ...
    if tm.t_check_status("183"):
        # no support for early media
        tm.t_cancel_branch()
    # ...
