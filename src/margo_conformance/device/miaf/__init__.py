"""The reference MIAF device (profile miaf-rc3): a WFM client over mutual TLS with X.509-SVIDs.

``margo-conformance device run --profile miaf-rc3 ...`` (MIAF-DEVICE-CONTRACT section 1). One module, one job:

- ``defects.py``       the named defects, each one switch of ``Behaviour`` (registered for ``defects --role device``)
- ``identity.py``      the device's own SVID files: the client shape, the expected WFM ID (MID-04), rotation
- ``anchors.py``       trust anchors from PEM or a SPIFFE JWK Set; an empty bundle is rejected (MTB-06)
- ``mis.py``           the discovery / bundle origin, authenticated by CA + host name or SPKI pin (MTB-01)
- ``bundle.py``        the bundle source (file, discovery, URL): ETag refresh, replace-not-merge (MTB-02..05)
- ``tls.py``           the MI client context and the WFM's SPIFFE-ID check before any HTTP (MID-04/05, MTLS-*)
- ``wire.py``          one trust generation of MI connections; every attempt recorded
- ``capabilities.py``  the manifests and routes to report (gateway first, labels file)
- ``retry.py``         Retry-After and the problem's retry members (MRTY-05..08)
- ``device.py``        MiafDevice: report first, then watch SVID, labels and bundle
- ``command.py``       options to exit codes for ``device run``
"""

from __future__ import annotations

from .defects import DEFECTS, Behaviour, behaviour_for

__all__ = ["DEFECTS", "Behaviour", "behaviour_for"]
