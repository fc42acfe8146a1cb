@profile:miaf-rc3
Feature: MIAF client authentication by X.509-SVID in mutual TLS
  Every Management Interface request is authenticated by mutual TLS with a valid WFM-Client X.509-SVID of the
  WFM's own trust domain, shaped spiffe://<td>/margo/wfm/<wfm-id>/client/<id>. The harness is the MIS of a test
  trust domain (Q-40) and presents the client fixtures of DIGEST section 2. A WFM refuses a client without a
  valid SVID either with a fatal TLS alert or with HTTP 403 (Q-41): both are answers, and the layer it chose is
  recorded. A refused request leaves no record behind.

  @req:MTLS-01 @req:SVID-12 @req:MGEN-07 @req:MGEN-01 @level:MUST
  Scenario: A client with a valid P-256 SVID on the policy is served
    When the client C-OK reports the device "base"
    Then the WFM serves it (MTLS-01, SVID-12, MGEN-07, MGEN-01)

  @level:MUST @interpretation:Q-41 @req:MCAP-11
  Scenario Outline: A client without a valid SVID is refused (<fixture>)
    When the client <fixture> reports the device "probe"
    Then the request is refused without being served (<requirement>)
    And no record was made for the device "probe" under C-OK (<requirement>)

    @req:MTLS-02
    Examples: no certificate, or one the bundle does not anchor
      | fixture  | requirement |
      | C-NOCERT | MTLS-02     |
      | C-SELF   | MTLS-02     |
      | C-R2     | MTLS-02     |

    @req:SVID-10 @req:MTLS-02
    Examples: another trust domain that chains to R1
      | fixture | requirement      |
      | C-FTD   | SVID-10, MTLS-02 |

    @req:SVID-01 @req:SVID-02 @req:SVID-06 @req:MTLS-02
    Examples: not exactly one URI SAN
      | fixture | requirement               |
      | C-0URI  | SVID-02, SVID-06, MTLS-02 |
      | C-2URI  | SVID-02, SVID-06, SVID-01 |

    @req:SVID-03 @req:SVID-06
    Examples: not a SPIFFE ID with a path
      | fixture    | requirement      |
      | C-HTTP     | SVID-03, SVID-06 |
      | C-ROOTPATH | SVID-03, SVID-06 |

    @req:SVID-04 @req:SVID-06
    Examples: a CA leaf
      | fixture | requirement      |
      | C-CA    | SVID-04, SVID-06 |

    @req:SVID-05 @req:SVID-06
    Examples: a leaf that may sign certificates or CRLs
      | fixture | requirement      |
      | C-KCS   | SVID-05, SVID-06 |
      | C-CRL   | SVID-05, SVID-06 |

    @req:MTLS-07 @req:MTLS-02
    Examples: outside the validity period
      | fixture | requirement      |
      | C-EXP   | MTLS-07, MTLS-02 |
      | C-NYV   | MTLS-07, MTLS-02 |
      | C-IEXP  | MTLS-07, MTLS-02 |

    @req:SVID-09 @req:MTB-03 @interpretation:Q-56
    Examples: the intermediate is not sent
      | fixture    | requirement      |
      | C-LEAFONLY | SVID-09, MTB-03  |

    @req:MID-01 @req:MID-02
    Examples: a valid SVID of another shape in the same trust domain
      | fixture    | requirement    |
      | C-OTHWFM   | MID-01, MID-02 |
      | C-WFMSHAPE | MID-01, MID-02 |
      | C-EXTRA    | MID-01, MID-02 |
      | C-EMPTY    | MID-01, MID-02 |
      | C-CASE     | MID-01, MID-02 |

    @req:MID-01 @req:MID-02 @req:SVID-18
    Examples: a SPIFFE ID outside the /margo/ namespace
      | fixture   | requirement             |
      | C-NOMARGO | MID-01, MID-02, SVID-18 |

    @req:SVID-15
    Examples: a SHA-1 signed leaf
      | fixture | requirement |
      | C-SHA1  | SVID-15     |

  @level:MUST @interpretation:Q-H06 @req:SVID-03
  Scenario: A client SPIFFE ID with a query is refused (C-QUERY)
    Basis: text: SVID-03 forbids a query in a SPIFFE ID; the digest's test of it asks "should be rejected (strict: fail if accepted)", so it is judged under Q-H06
    When the client C-QUERY reports the device "probe"
    Then the request is refused, as Q-H06 reads it (SVID-03)

  @level:MUST @interpretation:Q-57
  Scenario Outline: A client SVID the profile reads as weak is refused (<fixture>)
    Basis: analogy Q-57: SVID-13/15 bind keys and issuance; rejecting them when validating is our reading
    When the client <fixture> reports the device "probe"
    Then the request is refused, as <question> reads it (<requirement>)

    @req:SVID-15
    Examples: an RSA key below 3072 bits
      | fixture   | requirement | question |
      | C-RSA2048 | SVID-15     | Q-57     |

    @req:SVID-13
    Examples: a P-521 key
      | fixture | requirement | question |
      | C-P521  | SVID-13     | Q-57     |

  @level:MAY @interpretation:Q-58
  Scenario Outline: What the WFM does with an optional algorithm or a KU/EKU variant is recorded (<fixture>)
    When the client <fixture> reports the device "probe"
    Then what the WFM did is recorded (<requirement>)

    @req:SVID-13 @req:SVID-14 @req:SVID-07
    Examples:
      | fixture       | requirement |
      | C-P384        | SVID-13     |
      | C-ED25519     | SVID-14     |
      | C-NODS        | SVID-07     |
      | C-EKUCLIENT   | SVID-07     |

  @req:SVID-16 @level:MUST
  Scenario: A WFM that accepts RSA SVIDs accepts PSS and PKCS#1 v1.5 certificate signatures alike
    When the client C-RSA3072-PSS reports the device "rsa-pss"
    And the client C-RSA3072-V15 reports the device "rsa-v15"
    Then both RSA signature schemes got the same answer (SVID-16)

  @req:SVID-11 @level:MUST
  Scenario: Every anchor of the bundle is accepted during a rotation, and a removed one no longer is
    Given the operator installs the bundle "R1+R2"
    When the client C-OK reports the device "rot-r1"
    Then the WFM serves it (SVID-11)
    When the client C-ROT reports the device "rot-r2"
    Then the WFM serves it (SVID-11)
    Given the operator installs the bundle "R2"
    When the client C-OK reports the device "rot-gone"
    Then the request is refused without being served (SVID-11)

  @req:SVID-09 @level:MUST @interpretation:Q-56
  Scenario: A client leaf whose AIA names where its intermediate is gets no fetch, only a refusal
    Basis: text: SVID-09 "A verifier MUST NOT use AIA fetching or any other out-of-band retrieval of intermediates"
    When the client C-AIA reports the device "aia"
    Then the request is refused without being served (SVID-09)
    And the harness's sink saw no fetch of the intermediate (SVID-09)
