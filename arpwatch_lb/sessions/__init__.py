"""Sessions: one per command (replay, probe, watch) — wire sources to the core, the core to sinks.

A session owns the loop and the clock (injected, so tests drive it); it
makes no judgement of its own (that is :mod:`arpwatch_lb.core.verdicts`)
and formats nothing (that is :mod:`arpwatch_lb.sinks`).

May import: core, sources, sinks, and ``kube`` lazily (optional extra).
Never the CLI.
"""
