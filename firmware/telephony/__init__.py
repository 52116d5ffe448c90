"""The telephony core: pure call logic in Asterisk's vocabulary.

Nothing in this package imports pjsua2, serial, GPIO or any other adapter:
it takes events (each carrying its own timestamp) and returns decisions, so
it is tested fast and directly, with time fed in by the test.
"""
