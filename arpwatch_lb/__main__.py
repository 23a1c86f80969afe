"""``python -m arpwatch_lb``."""

from .cli import main

main()
