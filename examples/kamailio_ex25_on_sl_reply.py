"""Seed 002 (Kamailio tm), example 25: the ``on_sl_reply`` parameter.

Seed configuration::

    modparam("tm", "on_sl_reply", "stateless_replies")
    ...
    onreply_route["stateless_replies"] {
        # do not allow stateless replies to be forwarded
        return 0;
    }

siptm.toml::

    [tm]
    on_sl_reply = "stateless_replies"

Translation notes: the onreply route runs for a reply that matches no transaction;
returning 0 drops it (any other return lets it be forwarded statelessly by its Via).
The seed shows no request route; a plain stateful relay is added so that the script
runs.
"""

from siptm.script import Router

router = Router()


@router.request
def route(msg, tm):
    # not in the seed: relay every request statefully
    if not tm.t_relay():
        tm.sl_reply_error()


@router.onreply("stateless_replies")
def stateless_replies(reply, tm):
    # do not allow stateless replies to be forwarded
    return 0
