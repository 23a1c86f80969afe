"""Sources: where frames come from.

Owns capture files (:mod:`.capture_files`: pcap/pcapng/gzip → claims), the
AF_PACKET socket layer (:mod:`.link_socket`) and the live reader over
several interfaces (:mod:`.live_capture`).  Every source hands its frames
to :mod:`arpwatch_lb.core.ingest`, the one decode-count-collect step.

May import: :mod:`arpwatch_lb.core`.  Never sinks, sessions, ``kube`` or
the CLI: a source that must tee frames somewhere takes a callback.
"""
