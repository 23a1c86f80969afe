"""One module per command; :mod:`arpwatch_lb.cli` registers them."""
