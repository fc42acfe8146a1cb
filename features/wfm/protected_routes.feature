# GENERATED from src/margo_conformance/route_matrix.py: do not edit. Regenerate with
#   python -m margo_conformance.route_matrix > features/wfm/protected_routes.feature
Feature: Every protected route refuses every faulty request
  The onboarding POST and the capabilities PUT and DELETE each face the request faults that apply to them
  (DIGEST 2.7, 6.1): a WFM that checks signatures on one route but not on another must fail. Refusing at
  all is judged on the must axis; the code on the must axis where the spec states it, else against the
  preferred code of the question named (interpretation axis). A client the operator revoked or rejected is
  refused with 403 on every route.

  Background:
    Given the device knows the WFM root CA

  Scenario Outline: The <route> refuses <fault>
    Given the device is ready to send the <route>
    When the device sends the <route> with the fault "<fault>"
    Then the WFM refuses it as the route matrix says (<requirements>)

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: no signature at all
      | route           | fault    | requirements |
      | onboarding POST | unsigned | ONB-06       |

    @req:SIG-12 @level:MUST @interpretation:Q-14
    Examples: no signature at all
      | route               | fault    | requirements |
      | capabilities PUT    | unsigned | SIG-12       |
      | capabilities DELETE | unsigned | SIG-12       |

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: a Signature without Signature-Input
      | route           | fault                   | requirements |
      | onboarding POST | signature-without-input | ONB-06       |

    @req:SIG-12 @level:MUST @interpretation:Q-14
    Examples: a Signature without Signature-Input
      | route               | fault                   | requirements |
      | capabilities PUT    | signature-without-input | SIG-12       |
      | capabilities DELETE | signature-without-input | SIG-12       |

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: a Signature-Input without Signature
      | route           | fault                   | requirements |
      | onboarding POST | input-without-signature | ONB-06       |

    @req:SIG-12 @level:MUST @interpretation:Q-14
    Examples: a Signature-Input without Signature
      | route               | fault                   | requirements |
      | capabilities PUT    | input-without-signature | SIG-12       |
      | capabilities DELETE | input-without-signature | SIG-12       |

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: signed by a key the WFM does not know
      | route           | fault     | requirements |
      | onboarding POST | wrong-key | ONB-06       |

    @req:SIG-09 @req:SIG-10 @level:MUST
    Examples: signed by a key the WFM does not know
      | route               | fault     | requirements   |
      | capabilities PUT    | wrong-key | SIG-09, SIG-10 |
      | capabilities DELETE | wrong-key | SIG-09, SIG-10 |

    @req:ONB-14 @req:SIG-10 @level:MUST
    Examples: signed by another onboarded client's key
      | route               | fault            | requirements   |
      | capabilities PUT    | other-client-key | ONB-14, SIG-10 |
      | capabilities DELETE | other-client-key | ONB-14, SIG-10 |

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: a signature that does not cover "@target-uri"
      | route           | fault             | requirements |
      | onboarding POST | component-missing | ONB-06       |

    @req:SIG-09 @req:SIG-10 @level:MUST
    Examples: a signature that does not cover "@target-uri"
      | route               | fault             | requirements   |
      | capabilities PUT    | component-missing | SIG-09, SIG-10 |
      | capabilities DELETE | component-missing | SIG-09, SIG-10 |

    @req:ONB-06 @level:MUST @interpretation:Q-03
    Examples: a signature made for another URL
      | route           | fault               | requirements |
      | onboarding POST | tampered-target-uri | ONB-06       |

    @req:SIG-09 @req:SIG-10 @level:MUST
    Examples: a signature made for another URL
      | route               | fault               | requirements   |
      | capabilities PUT    | tampered-target-uri | SIG-09, SIG-10 |
      | capabilities DELETE | tampered-target-uri | SIG-09, SIG-10 |

    @req:SIG-11 @level:MUST @interpretation:Q-14
    Examples: created 600 s ago
      | route               | fault         | requirements |
      | onboarding POST     | created-stale | SIG-11       |
      | capabilities PUT    | created-stale | SIG-11       |
      | capabilities DELETE | created-stale | SIG-11       |

    @req:SIG-11 @level:MUST @interpretation:Q-14
    Examples: created 600 s ahead
      | route               | fault          | requirements |
      | onboarding POST     | created-future | SIG-11       |
      | capabilities PUT    | created-future | SIG-11       |
      | capabilities DELETE | created-future | SIG-11       |

    @req:SIG-14 @level:MUST @interpretation:Q-17
    Examples: a clientId the WFM never issued
      | route               | fault          | requirements |
      | capabilities PUT    | unknown-client | SIG-14       |
      | capabilities DELETE | unknown-client | SIG-14       |

    @req:DIG-03 @level:MUST
    Examples: no Content-Digest
      | route            | fault          | requirements |
      | onboarding POST  | digest-missing | DIG-03       |
      | capabilities PUT | digest-missing | DIG-03       |

    @req:DIG-03 @level:MUST
    Examples: a Content-Digest of other bytes
      | route            | fault        | requirements |
      | onboarding POST  | digest-wrong | DIG-03       |
      | capabilities PUT | digest-wrong | DIG-03       |

    @req:DIG-03 @level:MUST
    Examples: a Content-Digest that is no Byte Sequence
      | route            | fault            | requirements |
      | onboarding POST  | digest-malformed | DIG-03       |
      | capabilities PUT | digest-malformed | DIG-03       |

    @req:SIG-09 @req:DIG-03 @level:MUST @interpretation:Q-33
    Examples: a body changed after signing
      | route            | fault         | requirements   |
      | onboarding POST  | tampered-body | SIG-09, DIG-03 |
      | capabilities PUT | tampered-body | SIG-09, DIG-03 |

  Scenario Outline: A <state> client is refused on the <route>
    Given the device is ready to send the <route>
    And the operator has <state> the device's client
    When the device sends the <route> correctly signed
    Then the WFM refuses it as the route matrix says (<requirements>)

    @req:ONB-09 @level:MUST
    Examples: on the onboarding POST
      | route           | state    | requirements |
      | onboarding POST | revoked  | ONB-09       |
      | onboarding POST | rejected | ONB-09       |

    @req:SIG-13 @level:MUST
    Examples: on the capabilities PUT
      | route            | state    | requirements |
      | capabilities PUT | revoked  | SIG-13       |
      | capabilities PUT | rejected | SIG-13       |

    @req:SIG-13 @level:MUST
    Examples: on the capabilities DELETE
      | route               | state    | requirements |
      | capabilities DELETE | revoked  | SIG-13       |
      | capabilities DELETE | rejected | SIG-13       |
