"""The certification record of a run (issue 21): evidence others can open, a signed manifest, re-judging.

- ``capture``: while the suite runs, every check call (its arguments, its verdict) and every exchange it judged;
- ``har``: those exchanges as ``evidence/exchanges.har`` (HAR 1.2) and read back into ``Exchange`` objects;
- ``manifest``: ``record.json`` (every file of the run directory with its SHA-256, the run's identity) and the
  in-toto Statement / DSSE envelope around it (``record.dsse.json``), signed with the lab's X.509 key;
- ``verify``: ``margo-conformance record verify`` (offline: signature, hashes, files added or removed);
- ``rejudge``: the current harness's checks on the recorded evidence, without the SUT.

``docs/RECORD.md`` describes the record for a certification body.
"""
