# GENERATED from src/margo_conformance/route_matrix.py: do not edit. Regenerate with
#   python -m margo_conformance.route_matrix > features/wfm/protected_routes.feature
@profile:httpsig-2026h1
Feature: Every protected route refuses every faulty request
  The onboarding POST and the capabilities PUT and DELETE each face the request faults that apply to them
  (DIGEST 2.7, 6.1): a WFM that checks signatures on one route but not on another must fail. Refusing at
  all is judged on the must axis; the code on the must axis where the spec states it, else against the
  preferred code of the question named (interpretation axis). A client the operator revoked or rejected is
  refused with 403 on every route the text names for it.

  Every row says in its basis column where its level comes from (DIGEST 6.1 rule 3): "text" when the spec
  names that route, state or fault for the requirement; "analogy Q-NN" when the row carries a rule to a case
  the text does not name, judged on the interpretation axis, with a check of its own for the MUST it could
  still break.

  Background:
    Given the device knows the WFM root CA

  Scenario Outline: The <route> refuses <fault>
    Given the device is ready to send the <route>
    When the device sends the <route> with the fault "<fault>"
    Then the WFM refuses it as the route matrix says (<requirements>)

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: no signature at all
      | route           | fault    | requirements | basis                                                                                                                                                 |
      | onboarding POST | unsigned | ONB-06       | text: ONB-06 "requests to this endpoint MUST be authenticated" with HTTP Message Signatures; with no clientId yet, refusing rests on Q-03 (which key) |

    @req:SIG-12 @level:MUST @interpretation:Q-14
    Examples: no signature at all
      | route               | fault    | requirements | basis                                                                                                                                              |
      | capabilities PUT    | unsigned | SIG-12       | text: SIG-12 "an unsigned request to a protected endpoint must fail"; the yaml protects PUT and DELETE (global security); no code is stated (Q-14) |
      | capabilities DELETE | unsigned | SIG-12       | text: SIG-12 "an unsigned request to a protected endpoint must fail"; the yaml protects PUT and DELETE (global security); no code is stated (Q-14) |

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: a Signature without Signature-Input
      | route           | fault                   | requirements | basis                                                                                                                                                 |
      | onboarding POST | signature-without-input | ONB-06       | text: ONB-06 "requests to this endpoint MUST be authenticated" with HTTP Message Signatures; with no clientId yet, refusing rests on Q-03 (which key) |

    @req:SIG-12 @level:MUST @interpretation:Q-14
    Examples: a Signature without Signature-Input
      | route               | fault                   | requirements | basis                                                                                                                                              |
      | capabilities PUT    | signature-without-input | SIG-12       | text: SIG-12 "an unsigned request to a protected endpoint must fail"; the yaml protects PUT and DELETE (global security); no code is stated (Q-14) |
      | capabilities DELETE | signature-without-input | SIG-12       | text: SIG-12 "an unsigned request to a protected endpoint must fail"; the yaml protects PUT and DELETE (global security); no code is stated (Q-14) |

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: a Signature-Input without Signature
      | route           | fault                   | requirements | basis                                                                                                                                                 |
      | onboarding POST | input-without-signature | ONB-06       | text: ONB-06 "requests to this endpoint MUST be authenticated" with HTTP Message Signatures; with no clientId yet, refusing rests on Q-03 (which key) |

    @req:SIG-12 @level:MUST @interpretation:Q-14
    Examples: a Signature-Input without Signature
      | route               | fault                   | requirements | basis                                                                                                                                              |
      | capabilities PUT    | input-without-signature | SIG-12       | text: SIG-12 "an unsigned request to a protected endpoint must fail"; the yaml protects PUT and DELETE (global security); no code is stated (Q-14) |
      | capabilities DELETE | input-without-signature | SIG-12       | text: SIG-12 "an unsigned request to a protected endpoint must fail"; the yaml protects PUT and DELETE (global security); no code is stated (Q-14) |

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: signed by a key the WFM does not know
      | route           | fault     | requirements | basis                                                                                                                                            |
      | onboarding POST | wrong-key | ONB-06       | text: ONB-06 (c) a signature that does not verify with the body certificate's key is refused; onboarding lists no 401, so the code rests on Q-03 |

    @req:SIG-09 @req:SIG-10 @level:MUST
    Examples: signed by a key the WFM does not know
      | route               | fault     | requirements   | basis                                                                                                                                                        |
      | capabilities PUT    | wrong-key | SIG-09, SIG-10 | text: SIG-09 process a request only if its signature verifies with the clientId's certificate; SIG-10 401 on a mismatch, the yaml lists it on PUT and DELETE |
      | capabilities DELETE | wrong-key | SIG-09, SIG-10 | text: SIG-09 process a request only if its signature verifies with the clientId's certificate; SIG-10 401 on a mismatch, the yaml lists it on PUT and DELETE |

    @req:ONB-14 @req:SIG-10 @level:MUST
    Examples: signed by another onboarded client's key
      | route               | fault            | requirements   | basis                                                                                                             |
      | capabilities PUT    | other-client-key | ONB-14, SIG-10 | text: ONB-14 a request signed with another key on this client's URL gets 401; the yaml lists it on PUT and DELETE |
      | capabilities DELETE | other-client-key | ONB-14, SIG-10 | text: ONB-14 a request signed with another key on this client's URL gets 401; the yaml lists it on PUT and DELETE |

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: a signature that does not cover "@target-uri"
      | route           | fault             | requirements | basis                                                                                                                                                                   |
      | onboarding POST | component-missing | ONB-06       | text: ONB-06 the onboarding request is signed like every request, and SIG-02 every signature covers "@method", "@target-uri" and content-digest; the code rests on Q-03 |

    @req:SIG-09 @req:SIG-10 @level:MUST
    Examples: a signature that does not cover "@target-uri"
      | route               | fault             | requirements   | basis                                                                                                                                                                   |
      | capabilities PUT    | component-missing | SIG-09, SIG-10 | text: SIG-02 every signature covers "@method", "@target-uri" and content-digest; SIG-09 verification of that signature; SIG-10 401, the yaml lists it on PUT and DELETE |
      | capabilities DELETE | component-missing | SIG-09, SIG-10 | text: SIG-02 every signature covers "@method", "@target-uri" and content-digest; SIG-09 verification of that signature; SIG-10 401, the yaml lists it on PUT and DELETE |

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: a signature made for another URL
      | route           | fault               | requirements | basis                                                                                                                                            |
      | onboarding POST | tampered-target-uri | ONB-06       | text: ONB-06 (c) a signature that does not verify with the body certificate's key is refused; onboarding lists no 401, so the code rests on Q-03 |

    @req:SIG-09 @req:SIG-10 @level:MUST
    Examples: a signature made for another URL
      | route               | fault               | requirements   | basis                                                                                                                                                        |
      | capabilities PUT    | tampered-target-uri | SIG-09, SIG-10 | text: SIG-09 process a request only if its signature verifies with the clientId's certificate; SIG-10 401 on a mismatch, the yaml lists it on PUT and DELETE |
      | capabilities DELETE | tampered-target-uri | SIG-09, SIG-10 | text: SIG-09 process a request only if its signature verifies with the clientId's certificate; SIG-10 401 on a mismatch, the yaml lists it on PUT and DELETE |

    @req:SIG-11 @level:MUST @interpretation:Q-14
    Examples: created 600 s ago
      | route               | fault         | requirements | basis                                                                                                                                               |
      | onboarding POST     | created-stale | SIG-11       | text: SIG-11 the WFM MUST reject requests whose created is outside the window (every signed request, onboarding included); no code is stated (Q-14) |
      | capabilities PUT    | created-stale | SIG-11       | text: SIG-11 the WFM MUST reject requests whose created is outside the window (every signed request, onboarding included); no code is stated (Q-14) |
      | capabilities DELETE | created-stale | SIG-11       | text: SIG-11 the WFM MUST reject requests whose created is outside the window (every signed request, onboarding included); no code is stated (Q-14) |

    @req:SIG-11 @level:MUST @interpretation:Q-14
    Examples: created 600 s ahead
      | route               | fault          | requirements | basis                                                                                                                                               |
      | onboarding POST     | created-future | SIG-11       | text: SIG-11 the WFM MUST reject requests whose created is outside the window (every signed request, onboarding included); no code is stated (Q-14) |
      | capabilities PUT    | created-future | SIG-11       | text: SIG-11 the WFM MUST reject requests whose created is outside the window (every signed request, onboarding included); no code is stated (Q-14) |
      | capabilities DELETE | created-future | SIG-11       | text: SIG-11 the WFM MUST reject requests whose created is outside the window (every signed request, onboarding included); no code is stated (Q-14) |

    @req:SIG-14 @level:MUST @interpretation:Q-17
    Examples: a clientId the WFM never issued
      | route               | fault          | requirements | basis                                                                                            |
      | capabilities PUT    | unknown-client | SIG-14       | text: SIG-14 404 for an unknown clientId, the yaml lists it on PUT and DELETE; 401 first is Q-17 |
      | capabilities DELETE | unknown-client | SIG-14       | text: SIG-14 404 for an unknown clientId, the yaml lists it on PUT and DELETE; 401 first is Q-17 |

    @req:DIG-03 @level:MUST @interpretation:Q-H03
    Examples: no Content-Digest
      | route           | fault          | requirements | basis                                                                                                                                                                                   |
      | onboarding POST | digest-missing | DIG-03       | text: DIG-03 the WFM recomputes the digest of the body it received for every signed request; its 400 is stated for the capability routes only, so the code on onboarding rests on Q-H03 |

    @req:DIG-03 @level:MUST
    Examples: no Content-Digest
      | route            | fault          | requirements | basis                                                                                                                 |
      | capabilities PUT | digest-missing | DIG-03       | text: DIG-03 a missing or invalid digest gets 400 "missing or invalid content-digest", stated on the capabilities PUT |

    @req:DIG-03 @level:MUST @interpretation:Q-H03
    Examples: a Content-Digest of other bytes
      | route           | fault        | requirements | basis                                                                                                                                                                                   |
      | onboarding POST | digest-wrong | DIG-03       | text: DIG-03 the WFM recomputes the digest of the body it received for every signed request; its 400 is stated for the capability routes only, so the code on onboarding rests on Q-H03 |

    @req:DIG-03 @level:MUST
    Examples: a Content-Digest of other bytes
      | route            | fault        | requirements | basis                                                                                                                 |
      | capabilities PUT | digest-wrong | DIG-03       | text: DIG-03 a missing or invalid digest gets 400 "missing or invalid content-digest", stated on the capabilities PUT |

    @req:DIG-03 @level:MUST @interpretation:Q-H03
    Examples: a Content-Digest that is no Byte Sequence
      | route           | fault            | requirements | basis                                                                                                                                                                                   |
      | onboarding POST | digest-malformed | DIG-03       | text: DIG-03 the WFM recomputes the digest of the body it received for every signed request; its 400 is stated for the capability routes only, so the code on onboarding rests on Q-H03 |

    @req:DIG-03 @level:MUST
    Examples: a Content-Digest that is no Byte Sequence
      | route            | fault            | requirements | basis                                                                                                                 |
      | capabilities PUT | digest-malformed | DIG-03       | text: DIG-03 a missing or invalid digest gets 400 "missing or invalid content-digest", stated on the capabilities PUT |

    @req:ONB-06 @req:DIG-03 @level:MUST @interpretation:Q-H01
    Examples: a body changed after signing
      | route           | fault         | requirements   | basis                                                                                                                                          |
      | onboarding POST | tampered-body | ONB-06, DIG-03 | text: DIG-03 the digest is recomputed from the body received, and ONB-06 the onboarding signature must verify; which code comes first is Q-H01 |

    @req:SIG-09 @req:DIG-03 @level:MUST @interpretation:Q-H01
    Examples: a body changed after signing
      | route            | fault         | requirements   | basis                                                                                                                          |
      | capabilities PUT | tampered-body | SIG-09, DIG-03 | text: SIG-09 a body changed after signing is refused, 400 (digest) or 401 (signature) as DIGEST 2.7 states; which one is Q-H01 |

  Scenario Outline: A <state> client is refused on the <route>
    Given the device is ready to send the <route>
    And the operator has <state> the device's client
    When the device sends the <route> correctly signed
    Then the WFM refuses it as the route matrix says (<requirements>)

    @req:ONB-09 @level:MUST
    Examples: on the onboarding POST
      | route           | state    | requirements | basis                                                   |
      | onboarding POST | rejected | ONB-09       | text: ONB-09 403 when "the operator rejects the client" |

    @req:SIG-13 @level:MUST
    Examples: on the capabilities PUT
      | route            | state   | requirements | basis                                                                                                         |
      | capabilities PUT | revoked | SIG-13       | text: SIG-13 403 "client certificate is not trusted or has been revoked", the yaml lists it on PUT and DELETE |

    @req:SIG-13 @level:MUST
    Examples: on the capabilities PUT
      | route            | state    | requirements | basis                                                                                                                                             |
      | capabilities PUT | rejected | SIG-13       | text: SIG-13 403 for a certificate that is not trusted, on PUT and DELETE; CERT-12 an operator's rejection is how the WFM decides not to trust it |

    @req:SIG-13 @level:MUST
    Examples: on the capabilities DELETE
      | route               | state   | requirements | basis                                                                                                         |
      | capabilities DELETE | revoked | SIG-13       | text: SIG-13 403 "client certificate is not trusted or has been revoked", the yaml lists it on PUT and DELETE |

    @req:SIG-13 @level:MUST
    Examples: on the capabilities DELETE
      | route               | state    | requirements | basis                                                                                                                                             |
      | capabilities DELETE | rejected | SIG-13       | text: SIG-13 403 for a certificate that is not trusted, on PUT and DELETE; CERT-12 an operator's rejection is how the WFM decides not to trust it |

  Scenario Outline: A <state> client that sends the <route> again does not get a working client back
    Given the device has reported its capabilities
    And the operator has <state> the device's client
    When the device sends the <route> correctly signed
    Then the WFM's answer is judged as the route matrix says (<requirements>), and <guard>

    @req:SIG-13 @level:MUST @interpretation:Q-33
    Examples: revoked on the onboarding POST
      | route           | state   | guard                                                                      | requirements | basis                                                                                                                                                  |
      | onboarding POST | revoked | the certificate's signed capabilities PUT and DELETE stay refused (SIG-13) | SIG-13       | analogy Q-33: SIG-13's 403 for a revoked certificate is stated for signed requests; onboarding lists 403 only for an untrusted or rejected certificate |
