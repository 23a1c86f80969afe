"""The pure core: frames → claims → ownership → judgement.

Owns decoding (:mod:`.frames`), the decode-count-collect step every source
uses (:mod:`.ingest`), the ownership tracker (:mod:`.tracker`), every
judgement — verdicts, exit statuses, what is a fight (:mod:`.verdicts`) —,
the event policy (:mod:`.event_policy`), the report document
(:mod:`.report`), the probe schedule and round-trip matching
(:mod:`.probe_plan`) and the announcer vocabulary (:mod:`.announcers`).

May import: the standard library and other ``core`` modules only.  No
sockets, no files, no clock: time comes from the frames.  A test
(``tests/test_layout.py``) reads the imports with ``ast`` and enforces it.
"""
