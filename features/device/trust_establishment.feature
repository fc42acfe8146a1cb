@profile:httpsig-2026h1
Feature: The device establishes trust in the WFM before it sends anything
  A device trusts the WFM server only through the WFM root CA it was given out of band or downloaded over
  a channel it already trusts. It refuses a server whose chain does not lead to that root, whose
  certificate has expired or names another host, and then sends no application request at all. The
  handshake alert it sends is the evidence.

  Background:
    Given the simulated WFM is running

  @req:TLS-03 @level:MUST
  Scenario: The device refuses a WFM whose chain leads to another root CA
    Given the WFM presents a certificate chain from an unrelated CA
    When the device runs
    Then the device sends no application request (TLS-03)

  @req:TLS-04 @level:MUST
  Scenario: The device refuses an expired WFM certificate
    Given the WFM presents an expired certificate
    When the device runs
    Then the device sends no application request (TLS-04)

  @req:TLS-04 @level:MUST
  Scenario: The device refuses a WFM certificate that is not yet valid
    Given the WFM presents a certificate that is not yet valid
    When the device runs
    Then the device sends no application request (TLS-04)

  @req:TLS-04 @level:MUST @interpretation:Q-07
  Scenario: The device refuses a WFM certificate issued for another host name
    Given the WFM presents a certificate for another host name
    When the device runs
    Then the device sends no application request (TLS-04)

  @req:TLS-04 @level:MUST
  Scenario: The device refuses a chain that leaves out the intermediate CA
    Given the WFM presents its certificate without the intermediate CA
    When the device runs
    Then the device sends no application request (TLS-04)

  @req:TLS-02 @level:MUST @interpretation:Q-08
  Scenario: The device refuses a WFM that offers only TLS 1.2
    Given the WFM accepts only TLS 1.2
    When the device runs
    Then the device sends no application request over TLS 1.2 (TLS-02)

  @req:CERT-06 @req:CERT-07 @level:MUST @interpretation:Q-31
  Scenario: A device that downloads the root CA over a trusted bootstrap channel uses it from then on
    Given the device downloads the WFM root CA over a bootstrap channel it trusts
    When the device runs until it has reported its capabilities
    Then the device fetched the root CA from the bootstrap channel (CERT-06)
    And the device onboarded over a connection verified against the downloaded root CA (CERT-07)

  @req:CERT-06 @level:MUST @interpretation:Q-31
  Scenario: A device does not download the root CA over a channel it cannot verify
    Given the device downloads the WFM root CA over a bootstrap channel it trusts
    And the bootstrap channel presents a certificate from an unrelated CA
    When the device runs
    Then the device sends no application request to the WFM (CERT-06)
