"""GSM/LTE modem driver in layers (python-gsmmodem's shape).

- ``at.py``: the AT channel: one command at a time, final result codes,
  unsolicited lines routed to a handler, the SMS "> " prompt.
- ``vendors.py``: what differs between SIMCom SIM7600, SIM800 and Quectel
  EC25, as data (commands and URC patterns), never as rewritten code.
- ``gsm.py``: the modem: init, SIM PIN (never retried blindly), calls,
  DTMF, SMS (PDU mode), and its events.
- ``sms_pdu.py``: SMS PDUs both ways and the joining of long texts (pure).
"""
