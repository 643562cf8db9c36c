"""Seed 003 (OpenSIPS tm), example 1.35: ``t_replicate``.

Seed configuration::

    ...
    t_replicate("sip:1.2.3.4:5060");
    t_replicate("sip:1.2.3.4:5060;transport=tcp");
    t_replicate("sip:1.2.3.4","0x4");
    ...

siptm.toml::

    # the defaults

Translation notes: each ``t_replicate`` sends a copy of the request to the URI; its
replies never reach the caller. The flags argument is an int (0x4: no DNS failover).
The seed's lines stand in the request route; relaying the request itself afterwards
(``t_relay()``) is added so that the caller gets an answer.
"""

from siptm.script import Router

router = Router()


@router.request
def route(msg, tm):
    # ...
    tm.t_replicate("sip:1.2.3.4:5060")
    tm.t_replicate("sip:1.2.3.4:5060;transport=tcp")
    tm.t_replicate("sip:1.2.3.4", 0x4)
    # ...
    if not tm.t_relay():  # added
        tm.sl_reply_error()
