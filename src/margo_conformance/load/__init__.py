"""Fleet load mode (``margo-conformance load``): how a WFM holds up when a whole fleet onboards and reports.

Locust does the scheduling, distribution (master/worker over ZeroMQ), statistics and its HTML report; the
harness supplies the simulated device (signing, pre-minted identities) and judges every answer:

- ``classify.py``  every response: expected, an error the profile allows (429/503 with Retry-After) or a
                   violation; the per-route tally that workers send to the master (pure, unit-tested)
- ``fleet.py``     the Locust user: one simulated device that onboards once, reports its capabilities at a
                   pace, deletes them at the end and stops
- ``run.py``       the command: pre-flight, the builtin WFM, local / multi-process / master / worker runners,
                   the live progress line and the sampler of the time series
- ``report.py``    load-summary.json (schemas/report/load-summary.schema.json), load-summary.md, the SVG plot,
                   Locust's HTML report

Nothing here is imported by the conformance suites: Locust runs under gevent, which monkey-patches the
standard library, so ``cli`` patches first and only for ``load``.
"""
