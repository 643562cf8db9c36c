"""Seed 002 (Kamailio tm), example 59: ``t_drop_replies`` in a failure route.

Seed configuration::

    failure_route[0]{
        if (t_check_status("5[0-9][0-9]")){
            # I do not like the 5xx responses,
            # so I give another chance to "foobar.com",
            # and I drop all the replies to make sure that
            # they are not forwarded to the caller.
            t_drop_replies();

            rewritehostport("foobar.com");
            append_branch();
            t_relay();
        }
    }

siptm.toml::

    # the defaults

Translation notes: the seed shows the failure route only; the request route arming it
is added so that the script runs. ``rewritehostport("foobar.com")`` sets the host and
removes the port of the Request-URI; ``append_branch()`` takes that URI as the new
branch (siptm resolves no names: ``foobar.com`` must be reachable as written, or
replace ``FALLBACK``).
"""

from siptm.script import Router

router = Router()

FALLBACK = "foobar.com"


@router.request
def route(msg, tm):
    # added: arm the failure route and relay
    tm.t_on_failure("0")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.failure("0")
def failure_0(msg, tm):
    if tm.t_check_status("5[0-9][0-9]"):
        # I do not like the 5xx responses,
        # so I give another chance to "foobar.com",
        # and I drop all the replies to make sure that
        # they are not forwarded to the caller.
        tm.t_drop_replies()

        msg.uri.host, msg.uri.port = FALLBACK, None  # rewritehostport("foobar.com")
        tm.append_branch()
        tm.t_relay()
