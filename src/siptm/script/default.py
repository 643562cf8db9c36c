"""The bundled default routing script (what ``siptm run`` uses without ``--script``).

A stateful proxy in the shape of Kamailio's default configuration: sanity checks,
CANCEL through its INVITE transaction, retransmissions absorbed, in-dialog requests
loose-routed, dialog-creating requests record-routed, everything relayed statefully to
the Request-URI.
"""

from siptm.script import Router

router = Router()

DIALOG_CREATING = {"INVITE", "SUBSCRIBE", "REFER"}


@router.request
def route(msg, tm):
    # Sanity: Max-Forwards (RFC 3261 §16.3 step 3).
    if not tm.mf_process_maxfwd_header(10):
        tm.sl_send_reply(483, "Too Many Hops")
        return

    # OPTIONS to the proxy itself (a keepalive): answer it here, as Kamailio's default
    # configuration does, instead of relaying it to ourselves.
    if msg.method == "OPTIONS" and msg.to_tag is None and tm.is_myself() \
            and getattr(msg.uri, "user", None) is None:
        tm.sl_send_reply(200, "Keepalive")
        return

    # CANCEL: relay it to the branches of its INVITE (ends the route when found).
    if msg.method == "CANCEL":
        tm.t_relay_cancel()
        # no INVITE transaction: forward it as any other request (unmatched_cancel)

    # Retransmissions and ACKs for our negative replies are handled here.
    if msg.method != "ACK" and msg.method != "CANCEL":
        tm.t_check_trans()

    # In-dialog requests follow their Route set (a peer that ignored our
    # Record-Route sends them to the Request-URI, where they are relayed too).
    if msg.to_tag is not None:
        tm.loose_route()
        if not tm.t_relay():
            tm.sl_reply_error()
        return

    if msg.method in DIALOG_CREATING:
        tm.record_route()

    if not tm.t_relay():
        tm.sl_reply_error()
