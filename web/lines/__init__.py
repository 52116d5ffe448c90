"""The lines and trunks page: phone lines, outbound routes and texts."""
