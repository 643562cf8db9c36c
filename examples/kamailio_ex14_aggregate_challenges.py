"""Seed 002 (Kamailio tm), example 14: the ``aggregate_challenges`` parameter.

Seed configuration::

    ...
    modparam("tm", "aggregate_challenges", 0)
    ...

siptm.toml::

    [tm]
    aggregate_challenges = false

Translation notes: the seed sets the parameter only. With the default (on), when the
best final response of a forked request is a 401 or 407 and several branches
challenged, the reply sent upstream carries the WWW-Authenticate and
Proxy-Authenticate headers of all of them; with 0, as here, only the first 401 (or,
without one, the first 407) goes up unchanged. The request route, added so that the
script runs, forks each INVITE to the R-URI and to a second registrar-protected
domain, where both may challenge.
"""

from siptm.script import Router

router = Router()

# added: a second destination that may challenge too
SECOND = "sip:alice@192.0.2.21"


@router.request
def route(msg, tm):
    # added: fork dialog-creating INVITEs to two destinations
    if msg.method == "INVITE" and msg.to_tag is None:
        tm.append_branch(SECOND)
    if not tm.t_relay():
        tm.sl_reply_error()
