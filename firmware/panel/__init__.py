"""The front panel: what the LEDs and the small display say about the box."""
