"""The routing script of the shared bench, line for line Kamailio's stateful.cfg:

    if (is_method("ACK") && !t_check_trans()) { forward(); exit; }
    if (!t_relay()) { sl_reply_error(); }
"""

from siptm.script import Router

router = Router()


@router.request
def route(msg, tm):
    if msg.method == "ACK" and not tm.t_check_trans():
        tm.forward()
        return
    if not tm.t_relay():
        tm.sl_reply_error()
