"""The lab in a browser (`invoke web`): a page with the design's diagram coloured live by the lab's state,
and a terminal on each node, closed by default (loopback, a token, TLS when listening elsewhere)."""
