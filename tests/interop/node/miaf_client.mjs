#!/usr/bin/env node
// A small MIAF rc.3 WFM client that is not the harness's code (issue 20 acceptance: "interop without our code on
// the other end"). Node 20's built-in `tls`/`https`/`crypto` only, no npm package.
//
// What it does, as a device vendor's agent would:
//   - mutual TLS with its X.509-SVID (leaf + intermediates as the client certificate), trusting only the anchors
//     of its trust bundle (`ca:`, Node's root store is not used); TLS 1.3 preferred, 1.2 allowed, ALPN http/1.1;
//   - authenticates the WFM by SPIFFE ID in `checkServerIdentity`: exactly one URI SAN, equal to
//     spiffe://<td>/margo/wfm/<wfm-id> with <td> and <wfm-id> taken from its own SVID's URI SAN; leaf not a CA, no
//     keyCertSign/cRLSign; DNS names and the URL host play no part. The TLS connection is made and checked
//     before it is handed to `https` (an Agent whose createConnection answers only after 'secureConnect'), so
//     not one byte of HTTP reaches a WFM that fails the check;
//   - PUT /api/v1/capabilities/{deviceId} with a schema-valid rc.3 manifest (root `properties` + `labels`);
//   - follows the problem body: `retryable: false` / `backoffStrategy: none` / a 4xx without them -> never resent;
//     429/5xx -> wait at least `Retry-After` (delta-seconds or HTTP-date; the header wins over retryAfterSeconds),
//     `exponential` doubles the gap, `fixed` keeps it; the problem `type` is an opaque string (logged, never fetched);
//   - trust anchors from a bundle file (PEM, or a SPIFFE bundle JWK Set: its x509-svid keys only), or from the Margo
//     Identity Service: `--discovery-url` (/.well-known/margo -> trustBundleUri, which must be https) or
//     `--bundle-url`, fetched over HTTPS authenticated by `--mis-ca-file` with Node's host-name check (no
//     trust-on-first-use), refreshed at spiffe_refresh_hint with If-None-Match; a bundle without an X.509 anchor is
//     refused (the current anchors are kept, or exit 3 when there are none); new anchors replace the old ones;
//   - stays running until SIGTERM: re-PUTs when the labels file changes, reloads its SVID files when they change
//     (closes the connection, reconnects, re-PUTs), reloads the bundle file when it changes.
//
// `--hostname-check` swaps the SPIFFE check for Node's default host-name verification (tls.checkServerIdentity):
// the MID-05 negative the conformance suite must catch.
//
// Exit codes: 0 reported (--once) or SIGTERM; 1 the WFM refused the report as not retryable, or every attempt got
// a retryable error (--once); 2 usage or configuration error; 3 WFM not authenticated, unreachable, or no usable
// bundle (also as a daemon: it never talks to a WFM it could not authenticate).

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

const USAGE = `usage: node miaf_client.mjs --wfm-url URL --svid-cert F --svid-key F [--svid-chain F]
       (--bundle-file F | --discovery-url URL --mis-ca-file F | --bundle-url URL --mis-ca-file F)
       [--wfm-spiffe-id ID] [--trust-domain TD] [--device-id ID] [--labels-file F] [--state-dir D]
       [--gateway-children N] [--attempts N] [--timeout S] [--poll S] [--once] [--hostname-check] [--quiet]`;

const EXIT = { ok: 0, refusedByWfm: 1, usage: 2, notAuthenticated: 3 };
const UNRESERVED_ID = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const CONNECT_RETRIES = 3; // refused/reset TCP connects before giving up (exit 3)

class Fatal extends Error {
  constructor(code, message) {
    super(message);
    this.exitCode = code;
  }
}

class WfmRefused extends Error {} // the TLS layer or our identity check did not accept the WFM

let quiet = false;
function log(message) {
  if (!quiet) process.stderr.write(`${new Date().toISOString()} miaf-client: ${message}\n`);
}

// ----- options --------------------------------------------------------------------------------------------------

function readOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'wfm-url': { type: 'string' },
        'svid-cert': { type: 'string' },
        'svid-key': { type: 'string' },
        'svid-chain': { type: 'string' },
        'bundle-file': { type: 'string' },
        'discovery-url': { type: 'string' },
        'bundle-url': { type: 'string' },
        'mis-ca-file': { type: 'string' },
        'wfm-spiffe-id': { type: 'string' },
        'trust-domain': { type: 'string' },
        'device-id': { type: 'string', default: 'dut1' },
        'labels-file': { type: 'string' },
        'state-dir': { type: 'string' },
        'gateway-children': { type: 'string', default: '0' },
        attempts: { type: 'string', default: '5' },
        timeout: { type: 'string', default: '10' },
        poll: { type: 'string', default: '0.2' },
        once: { type: 'boolean', default: false },
        'hostname-check': { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    throw new Fatal(EXIT.usage, `${err.message}\n${USAGE}`);
  }
  const o = parsed.values;
  if (o.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(EXIT.ok);
  }
  for (const name of ['wfm-url', 'svid-cert', 'svid-key']) {
    if (!o[name]) throw new Fatal(EXIT.usage, `--${name} is required\n${USAGE}`);
  }
  const sources = ['bundle-file', 'discovery-url', 'bundle-url'].filter((name) => o[name]);
  if (sources.length !== 1) {
    throw new Fatal(EXIT.usage, `give exactly one of --bundle-file, --discovery-url, --bundle-url\n${USAGE}`);
  }
  if (!o['bundle-file'] && !o['mis-ca-file']) {
    throw new Fatal(EXIT.usage, `--${sources[0]} needs --mis-ca-file: the MIS origin is authenticated, never ` +
                    'trusted on first use (MTB-01)');
  }
  let misUrl = null;
  if (!o['bundle-file']) {
    try {
      misUrl = new URL(o[sources[0]]);
    } catch {
      throw new Fatal(EXIT.usage, `--${sources[0]} ${JSON.stringify(o[sources[0]])} is not a URL`);
    }
    if (misUrl.protocol !== 'https:') throw new Fatal(EXIT.usage, `--${sources[0]} must be an https URL`);
  }
  let url;
  try {
    url = new URL(o['wfm-url']);
  } catch {
    throw new Fatal(EXIT.usage, `--wfm-url ${JSON.stringify(o['wfm-url'])} is not a URL`);
  }
  if (url.protocol !== 'https:' || url.search || url.hash || url.username) {
    throw new Fatal(EXIT.usage, `--wfm-url must be https://host[:port][/prefix] without query, fragment or user`);
  }
  const number = (name, min) => {
    const v = Number(o[name]);
    if (!Number.isFinite(v) || v < min) throw new Fatal(EXIT.usage, `--${name} must be a number >= ${min}`);
    return v;
  };
  if (!UNRESERVED_ID.test(o['device-id'])) {
    throw new Fatal(EXIT.usage, `--device-id ${JSON.stringify(o['device-id'])} is not a MIAF deviceId`);
  }
  return {
    url,
    svidCert: o['svid-cert'],
    svidKey: o['svid-key'],
    svidChain: o['svid-chain'] || null,
    bundleFile: o['bundle-file'] || null,
    discoveryUrl: o['discovery-url'] ? misUrl : null,
    bundleUrl: o['bundle-url'] ? misUrl : null,
    misCaFile: o['mis-ca-file'] || null,
    wfmSpiffeId: o['wfm-spiffe-id'] || null,
    trustDomain: o['trust-domain'] || null,
    deviceId: o['device-id'],
    labelsFile: o['labels-file'] || null,
    stateDir: o['state-dir'] || null,
    gatewayChildren: Math.floor(number('gateway-children', 0)),
    attempts: Math.floor(number('attempts', 1)),
    timeoutMs: number('timeout', 0.1) * 1000,
    pollMs: Math.max(50, number('poll', 0.05) * 1000),
    once: o.once,
    hostnameCheck: o['hostname-check'],
    quiet: o.quiet,
  };
}

// ----- a few DER facts of a certificate (X509Certificate does not expose key usage or raw URI SANs) ------------

function tlv(buf, off) {
  if (off + 2 > buf.length) throw new Error('truncated DER');
  const tag = buf[off];
  let len = buf[off + 1];
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4 || off + 2 + n > buf.length) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[off + 2 + i];
    head += n;
  }
  const start = off + head;
  const end = start + len;
  if (end > buf.length) throw new Error('truncated DER');
  return { tag, start, end };
}

function children(buf, node) {
  const out = [];
  for (let off = node.start; off < node.end;) {
    const child = tlv(buf, off);
    out.push(child);
    off = child.end;
  }
  return out;
}

const OID_SAN = '551d11';
const OID_BASIC_CONSTRAINTS = '551d13';
const OID_KEY_USAGE = '551d0f';

/** URI and DNS SANs, cA, keyCertSign and cRLSign of a DER certificate; a repeated extension is an error. */
function leafFacts(der) {
  const cert = tlv(der, 0);
  const tbs = children(der, cert)[0];
  const extsWrapper = children(der, tbs).find((n) => n.tag === 0xa3);
  const facts = { uris: [], dns: [], ca: false, keyCertSign: false, crlSign: false };
  if (!extsWrapper) return facts;
  const seen = new Set();
  for (const ext of children(der, children(der, extsWrapper)[0])) {
    const parts = children(der, ext);
    const oid = der.subarray(parts[0].start, parts[0].end).toString('hex');
    if (seen.has(oid)) throw new Error(`extension ${oid} appears twice`);
    seen.add(oid);
    const octets = parts[parts.length - 1];
    const value = tlv(der, octets.start);
    if (oid === OID_SAN) {
      for (const name of children(der, value)) {
        const text = der.subarray(name.start, name.end).toString('latin1');
        if (name.tag === 0x86) facts.uris.push(text);
        if (name.tag === 0x82) facts.dns.push(text);
      }
    } else if (oid === OID_BASIC_CONSTRAINTS) {
      const first = children(der, value)[0];
      facts.ca = Boolean(first && first.tag === 0x01 && der[first.start] !== 0);
    } else if (oid === OID_KEY_USAGE) {
      const bits = der[value.start + 1] || 0; // byte after the unused-bits count: bits 0..7
      facts.keyCertSign = Boolean(bits & 0x04);
      facts.crlSign = Boolean(bits & 0x02);
    }
  }
  return facts;
}

// ----- identities -----------------------------------------------------------------------------------------------

/** The WFM's SPIFFE ID this client expects, derived from the client's own SVID (MID-04). */
function expectedWfmId(certPem, options) {
  let own;
  try {
    own = new crypto.X509Certificate(certPem);
  } catch (err) {
    throw new Fatal(EXIT.usage, `--svid-cert holds no readable certificate: ${err.message}`);
  }
  const uris = leafFacts(own.raw).uris;
  if (uris.length !== 1) throw new Fatal(EXIT.usage, `own SVID has ${uris.length} URI SANs, exactly one expected`);
  const m = /^spiffe:\/\/([^/]+)\/margo\/wfm\/([^/]+)\/client\/([^/]+)$/.exec(uris[0]);
  if (!m || !TRUST_DOMAIN.test(m[1]) || !SEGMENT.test(m[2]) || !SEGMENT.test(m[3])) {
    throw new Fatal(EXIT.usage, `own SVID ${uris[0]} is not spiffe://<td>/margo/wfm/<wfm-id>/client/<client-id>`);
  }
  const expected = `spiffe://${m[1]}/margo/wfm/${m[2]}`;
  if (options.wfmSpiffeId && options.wfmSpiffeId !== expected) {
    throw new Fatal(EXIT.usage, `--wfm-spiffe-id ${options.wfmSpiffeId} is not the WFM of the own SVID (${expected})`);
  }
  if (options.trustDomain && options.trustDomain !== m[1]) {
    throw new Fatal(EXIT.usage, `--trust-domain ${options.trustDomain} is not the own SVID's (${m[1]})`);
  }
  return { own: uris[0], wfm: expected };
}

/** checkServerIdentity that authenticates the WFM by SPIFFE ID; the host name is deliberately ignored (MID-05). */
function spiffeIdentityCheck(expected) {
  return (_hostname, peer) => {
    let facts;
    try {
      facts = leafFacts(peer.raw);
    } catch (err) {
      return new WfmRefused(`unreadable WFM certificate (${err.message})`);
    }
    if (facts.uris.length !== 1) {
      return new WfmRefused(`WFM certificate has ${facts.uris.length} URI SANs, exactly one expected`);
    }
    if (facts.uris[0] !== expected) return new WfmRefused(`WFM SPIFFE ID ${facts.uris[0]} is not ${expected}`);
    if (facts.ca) return new WfmRefused('WFM leaf certificate has cA=true');
    if (facts.keyCertSign || facts.crlSign) return new WfmRefused('WFM leaf certificate may sign certificates or CRLs');
    return undefined;
  };
}

// ----- credentials and the TLS connection -------------------------------------------------------------------------

function read(file, what) {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Fatal(EXIT.usage, `cannot read ${what} ${file}: ${err.code || err.message}`);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The anchors of a bundle file, by content: PEM certificates, or a SPIFFE bundle (JWK Set) whose
 * `use: "x509-svid"` keys carry the anchor as base64 DER in `x5c[0]` (jwt-svid and other keys are ignored). */
function bundleAnchors(text) {
  if (!text.trimStart().startsWith('{')) return { anchors: text.match(PEM_CERT) || [], hint: null };
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    return { anchors: [], hint: null };
  }
  const keys = doc && Array.isArray(doc.keys) ? doc.keys : [];
  const anchors = [];
  for (const key of keys) {
    if (!key || key.use !== 'x509-svid' || !Array.isArray(key.x5c) || typeof key.x5c[0] !== 'string') continue;
    try {
      anchors.push(new crypto.X509Certificate(Buffer.from(key.x5c[0], 'base64')).toString());
    } catch {
      // not a certificate: not an anchor
    }
  }
  const hint = Number.isFinite(doc && doc.spiffe_refresh_hint) ? doc.spiffe_refresh_hint : null;
  return { anchors, hint };
}

/** TLS material from the files (anchors from the bundle file, or ``anchors`` as fetched from the MIS); throws
 * Fatal when a file is missing, unreadable, or the key does not fit. */
function loadCredentials(options, fetchedAnchors = null) {
  const certPem = read(options.svidCert, '--svid-cert').toString('latin1');
  const keyPem = read(options.svidKey, '--svid-key');
  const chainPem = options.svidChain ? read(options.svidChain, '--svid-chain').toString('latin1') : '';
  const certs = certPem.match(PEM_CERT) || [];
  if (certs.length === 0) throw new Fatal(EXIT.usage, `--svid-cert ${options.svidCert} has no PEM certificate`);
  // The presented chain: the leaf, then the intermediates (from the cert file after the leaf, or the chain file).
  const seen = new Set();
  const presented = [...certs, ...(chainPem.match(PEM_CERT) || [])].filter((c) => !seen.has(c) && seen.add(c));
  const anchors = fetchedAnchors || bundleAnchors(read(options.bundleFile, '--bundle-file').toString('latin1')).anchors;
  if (anchors.length === 0) {
    throw new Fatal(EXIT.notAuthenticated, `no usable bundle: ${options.bundleFile} holds no X.509 anchor`);
  }
  const ids = expectedWfmId(certs[0], options);
  const material = { cert: presented.join('\n'), key: keyPem, ca: anchors };
  try {
    tls.createSecureContext(material); // key/cert mismatch or unparsable PEM shows here, not mid-handshake
  } catch (err) {
    throw new Fatal(EXIT.usage, `the SVID files do not make a TLS identity: ${err.message}`);
  }
  return { ...material, ids, chainLength: presented.length, anchors: anchors.length };
}

/** An https.Agent whose sockets are handed to HTTP only after the handshake and the WFM check have passed. */
class VerifiedAgent extends https.Agent {
  constructor(credentials, options) {
    super({ keepAlive: true, maxSockets: 1 });
    this.credentials = credentials;
    this.options_ = options;
  }

  createConnection(connectOptions, oncreate) {
    const { credentials, options_: options } = this;
    const host = connectOptions.host;
    const socket = tls.connect({
      host,
      port: connectOptions.port,
      servername: net.isIP(host) ? undefined : host,
      cert: credentials.cert,
      key: credentials.key,
      ca: credentials.ca,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      ALPNProtocols: ['http/1.1'],
      rejectUnauthorized: true,
      checkServerIdentity: options.hostnameCheck ? tls.checkServerIdentity : spiffeIdentityCheck(credentials.ids.wfm),
    });
    let settled = false;
    const settle = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        socket.destroy();
        oncreate(err);
        return;
      }
      log(`connected: ${socket.getProtocol()}, ALPN ${socket.alpnProtocol || 'none'}, WFM ` +
          (options.hostnameCheck ? `host name ${host} verified` : `${credentials.ids.wfm} verified`));
      oncreate(null, socket);
    };
    const timer = setTimeout(() => settle(new Error(`TLS handshake with ${host} timed out`)), options.timeoutMs);
    // rejectUnauthorized: 'secureConnect' comes only after the chain and checkServerIdentity have passed.
    socket.once('secureConnect', () => settle(socket.authorized ? null
                                                               : new WfmRefused(`${socket.authorizationError}`)));
    socket.once('error', (err) => settle(err));
    return undefined;
  }
}

function isRefusal(err) {
  if (err instanceof WfmRefused) return true;
  const code = String(err.code || '');
  // Chain verification (UNABLE_TO_*, CERT_*, *SELF_SIGNED*), host name check, TLS alerts and protocol failures.
  return code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.startsWith('UNABLE_TO') ||
    code.startsWith('CERT_') || code.includes('SELF_SIGNED') || code === 'EPROTO';
}

// ----- the manifest -----------------------------------------------------------------------------------------------

const ARCH = { x64: 'amd64', arm64: 'arm64', arm: 'arm' };
const DEFAULT_LABELS = { 'interop.example.org/agent': 'node-miaf-client' };

function labelValueOk(v) {
  if (['string', 'boolean'].includes(typeof v) || (typeof v === 'number' && Number.isFinite(v))) return true;
  if (!Array.isArray(v) || v.length === 0) return false; // an empty array matches both oneOf branches (Q-51)
  return v.every((x) => typeof x === 'string') || v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Labels from the labels file: a JSON object, or `key=value` lines; null when absent or unusable. */
function readLabels(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  let labels = null;
  try {
    labels = JSON.parse(text);
  } catch {
    labels = {};
    for (const line of text.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (!trimmed || trimmed.startsWith('#')) continue;
      const eq = trimmed.indexOf('=');
      if (eq <= 0) return null;
      labels[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
    }
  }
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) return null;
  if (!Object.values(labels).every(labelValueOk)) return null;
  return labels;
}

/** A see-thru gateway that hosts nothing: the identity fields only, no hosting field, no otelCollector (MCAP-23). */
function gatewayManifest(deviceId) {
  return { properties: { id: deviceId, vendor: 'Interop Example (Node)', modelNumber: 'node-miaf-gateway-1',
                         serialNumber: `NODE-GW-${deviceId.replaceAll('/', '-')}` } };
}

/** A hosting device's rc.3 manifest: root `properties` (+ `labels`), no apiVersion/kind (MCAP-12..19, 22). */
function manifest(deviceId, labels) {
  const doc = {
    properties: {
      id: deviceId,
      vendor: 'Interop Example (Node)',
      modelNumber: 'node-miaf-client-1',
      serialNumber: `NODE-${deviceId.replaceAll('/', '-')}`,
      cpus: [{ cores: Math.max(1, Math.min(os.cpus().length, 2)), architecture: ARCH[process.arch] || 'amd64' }],
      memory: '1Gi',
      storage: '8Gi',
      peripherals: [],
      interfaces: [{ type: 'ethernet' }],
      otelCollector: true,
      supportedRuntimes: ['oci'],
      supportedDeploymentTypes: ['compose'],
    },
  };
  if (labels && Object.keys(labels).length > 0) doc.labels = labels;
  return doc;
}

// ----- retry advice from an answer --------------------------------------------------------------------------------

/** Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), or null when absent/unparsable. */
function retryAfterSeconds(value, receivedAt) {
  if (value === undefined) return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text);
  const when = Date.parse(text);
  if (Number.isNaN(when)) return null;
  return Math.max(0, (when - receivedAt) / 1000);
}

function problemOf(answer) {
  const type = String(answer.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (!type.endsWith('json')) return null;
  try {
    const doc = JSON.parse(answer.body.toString('utf8'));
    return doc && typeof doc === 'object' && !Array.isArray(doc) ? doc : null;
  } catch {
    return null;
  }
}

/** {retry: false, why} or {retry: true, delay, strategy}: what the answer allows (MRTY-05..08). */
function advice(answer) {
  const problem = problemOf(answer) || {};
  const status = answer.status;
  const label = `${status}${problem.type ? ` ${problem.type}` : ''}`; // the type is an opaque string (MERR-07)
  if (problem.retryable === false) return { retry: false, why: `${label}: retryable false` };
  if (problem.backoffStrategy === 'none') return { retry: false, why: `${label}: backoffStrategy none` };
  const header = retryAfterSeconds(answer.headers['retry-after'], answer.receivedAt);
  const advised = problem.retryAfterSeconds;
  const member = Number.isInteger(advised) && advised >= 0 ? advised : null;
  const transient = status === 429 || status >= 500;
  if (!transient && problem.retryable !== true) return { retry: false, why: `${label}: a client error, not resent` };
  const delay = header ?? member ?? 1;
  const strategy = problem.backoffStrategy === 'fixed' ? 'fixed' : 'exponential';
  return { retry: true, delay, strategy, why: `${label}: retry after ${delay} s (${strategy})` };
}

// ----- the trust bundle from the Margo Identity Service (discovery, or a configured bundle URL) -------------------

const REFRESH_FLOOR_S = 0.5; // a refresh hint below this (or 0) is read as this, so tests can rotate quickly
const REFRESH_DEFAULT_S = 300;

/** Fetches the SPIFFE bundle over HTTPS authenticated by --mis-ca-file with Node's host-name check (RFC 9525
 * style, MTB-01): never by the bundle it fetches, never trust-on-first-use. Remembers the ETag (MTB-05). */
class MisTrust {
  constructor(options) {
    this.options = options;
    const pem = read(options.misCaFile, '--mis-ca-file').toString('latin1');
    this.ca = pem.match(PEM_CERT) || [];
    if (this.ca.length === 0) throw new Fatal(EXIT.usage, `--mis-ca-file ${options.misCaFile} has no PEM certificate`);
    this.bundleUrl = options.bundleUrl;
    this.etag = null;
    this.hint = null;
  }

  get(url, headers = {}) {
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method: 'GET', agent: false, ca: this.ca, minVersion: 'TLSv1.2',
                                       headers: { accept: 'application/json', ...headers },
                                       timeout: this.options.timeoutMs }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                      text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      const late = () => new Error(`no answer from ${url.origin} within ${this.options.timeoutMs} ms`);
      req.on('timeout', () => req.destroy(late()));
      req.on('error', reject);
      req.end();
    });
  }

  /** The discovery document names the bundle URI; it must be https (MTB-04) and of our own trust domain. */
  async discover(trustDomain) {
    const url = this.options.discoveryUrl;
    let answer;
    try {
      answer = await this.get(url);
    } catch (err) {
      throw new Fatal(EXIT.notAuthenticated,
                      `no usable bundle: discovery ${url.href} failed: ${err.code || ''} ${err.message}`);
    }
    let doc = null;
    try {
      doc = JSON.parse(answer.text);
    } catch {
      // reported below
    }
    if (answer.status !== 200 || !doc || typeof doc.trustBundleUri !== 'string') {
      throw new Fatal(EXIT.notAuthenticated, `no usable bundle: discovery ${url.href} answered ${answer.status} ` +
                      'without a trustBundleUri');
    }
    if (doc.trustDomain !== trustDomain) {
      throw new Fatal(EXIT.notAuthenticated, `no usable bundle: discovery names trust domain ${doc.trustDomain}, ` +
                      `the own SVID is of ${trustDomain}`);
    }
    let bundleUrl;
    try {
      bundleUrl = new URL(doc.trustBundleUri);
    } catch {
      throw new Fatal(EXIT.notAuthenticated, `no usable bundle: trustBundleUri ${doc.trustBundleUri} is not a URL`);
    }
    if (bundleUrl.protocol !== 'https:') {
      throw new Fatal(EXIT.notAuthenticated,
                      `no usable bundle: refused trustBundleUri ${doc.trustBundleUri}: not https`);
    }
    log(`discovery: trust domain ${doc.trustDomain}, bundle at ${bundleUrl.href}`);
    this.bundleUrl = bundleUrl;
  }

  /** New anchors, or null to keep the current ones (304, 404, an error, or a bundle without X.509 anchors). */
  async fetch() {
    const headers = this.etag ? { 'if-none-match': this.etag } : {};
    const answer = await this.get(this.bundleUrl, headers);
    if (answer.status === 304) return null;
    if (answer.status !== 200) {
      log(`bundle ${this.bundleUrl.href} answered ${answer.status}: keeping the current anchors`);
      return null;
    }
    const { anchors, hint } = bundleAnchors(answer.text.trimStart().startsWith('{') ? answer.text : '{}');
    if (anchors.length === 0) {
      log('bundle without an x509-svid key refused: keeping the current anchors');
      return null;
    }
    this.etag = answer.headers.etag || null;
    this.hint = hint;
    return anchors;
  }

  /** The first bundle: without one there is nothing to authenticate a WFM with (exit 3). */
  async initial(trustDomain) {
    if (this.options.discoveryUrl) await this.discover(trustDomain);
    let anchors;
    try {
      anchors = await this.fetch();
    } catch (err) {
      throw new Fatal(EXIT.notAuthenticated,
                      `no usable bundle: ${this.bundleUrl.href} failed: ${err.code || ''} ${err.message}`);
    }
    if (!anchors) throw new Fatal(EXIT.notAuthenticated, `no usable bundle from ${this.bundleUrl.href}`);
    log(`bundle: ${anchors.length} anchor(s), refresh hint ${this.hint ?? 'none'}`);
    return anchors;
  }

  /** Refresh at spiffe_refresh_hint; new anchors replace the old ones (never merged) on the next connection. */
  refreshLoop(client) {
    const delay = Math.max(REFRESH_FLOOR_S, this.hint ?? REFRESH_DEFAULT_S) * 1000;
    setTimeout(async () => {
      try {
        const anchors = await this.fetch();
        if (anchors) {
          client.setAnchors(anchors);
          log(`bundle refreshed: ${anchors.length} anchor(s)`);
        }
      } catch (err) {
        log(`bundle refresh failed: ${err.code || ''} ${err.message}; keeping the current anchors`);
      }
      this.refreshLoop(client);
    }, delay);
  }
}

// ----- the client -------------------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class MiafClient {
  constructor(options, anchors = null) {
    this.options = options;
    this.fetchedAnchors = anchors;
    this.credentials = loadCredentials(options, anchors);
    this.agent = new VerifiedAgent(this.credentials, options);
    this.labels = (options.labelsFile && readLabels(options.labelsFile)) || DEFAULT_LABELS;
    this.prefix = options.url.pathname.replace(/\/+$/, '');
    this.reported = 0;
    this.refused = new Map(); // deviceId -> the body the WFM refused as not retryable
  }

  setAnchors(anchors) {
    this.fetchedAnchors = anchors;
    this.credentials = { ...this.credentials, ca: anchors, anchors: anchors.length };
    this.reconnect('the trust bundle changed');
  }

  reconnect(reason) {
    log(`closing the WFM connection: ${reason}`);
    this.agent.destroy();
    this.agent = new VerifiedAgent(this.credentials, this.options);
  }

  /** What to report, in order: the device; or a see-thru gateway, then each of its children (MCAP-08). */
  documents() {
    const id = this.options.deviceId;
    if (this.options.gatewayChildren === 0) return [[id, manifest(id, this.labels)]];
    const children = Array.from({ length: this.options.gatewayChildren }, (_, i) => `${id}/child-${i + 1}`);
    return [[id, gatewayManifest(id)], ...children.map((child) => [child, manifest(child, this.labels)])];
  }

  /** Report every document in order; a child is never sent when its gateway was not accepted. */
  async report(why) {
    for (const [deviceId, doc] of this.documents()) {
      const outcome = await this.reportOne(deviceId, Buffer.from(JSON.stringify(doc)), why);
      if (outcome !== 'reported') return outcome;
    }
    return 'reported';
  }

  /** One PUT; resolves with the answer, rejects with the connection error. */
  put(target, body) {
    return new Promise((resolve, reject) => {
      const req = https.request(target, {
        method: 'PUT',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length, accept: 'application/json' },
        timeout: this.options.timeoutMs,
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks),
                                      receivedAt: Date.now() }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Report one document, retrying as the answers allow. Returns 'reported' | 'refused' | 'gave-up'. */
  async reportOne(deviceId, body, why) {
    const refused = this.refused.get(deviceId);
    if (refused && body.equals(refused)) {
      log(`not sending ${deviceId} (${why}): the WFM refused this very body as not retryable`);
      return 'refused';
    }
    const target = new URL(`${this.prefix}/api/v1/capabilities/${deviceId}`, this.options.url.origin);
    log(`PUT ${target.pathname} (${why})`);
    let gap = null;
    let connectFailures = 0;
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      let answer;
      try {
        answer = await this.put(target, body);
      } catch (err) {
        if (isRefusal(err)) {
          throw new Fatal(EXIT.notAuthenticated, `refused the WFM: ${err.code ? `${err.code}: ` : ''}${err.message}`);
        }
        connectFailures += 1;
        log(`connection failed: ${err.code || ''} ${err.message}`);
        if (connectFailures >= CONNECT_RETRIES) {
          throw new Fatal(EXIT.notAuthenticated, `WFM unreachable: ${err.message}`);
        }
        await sleep(500);
        attempt -= 1; // a failed connection is not an answer: it does not use up an attempt
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) {
        this.reported += 1;
        log(`reported: ${answer.status}`);
        this.writeState({ status: answer.status, at: new Date().toISOString() });
        return 'reported';
      }
      const next = advice(answer);
      log(`answer ${next.why}`);
      this.writeState({ status: answer.status, at: new Date().toISOString(), advice: next.why });
      if (!next.retry) {
        this.refused.set(deviceId, body); // MRTY-07: never resent, not even on a new connection after an SVID renewal
        return 'refused';
      }
      if (attempt === this.options.attempts) break;
      gap = next.strategy === 'exponential' && gap !== null ? Math.max(next.delay, gap * 2) : next.delay;
      const wait = gap * 1000 - (Date.now() - answer.receivedAt) + 50;
      await sleep(Math.max(0, wait));
    }
    log(`gave up after ${this.options.attempts} attempts`);
    return 'gave-up';
  }

  writeState(state) {
    if (!this.options.stateDir) return;
    try {
      fs.mkdirSync(this.options.stateDir, { recursive: true });
      fs.writeFileSync(path.join(this.options.stateDir, 'miaf-client-state.json'), `${JSON.stringify(state)}\n`);
    } catch (err) {
      log(`cannot write the state file: ${err.message}`);
    }
  }
}

function digest(files) {
  const h = crypto.createHash('sha256');
  for (const f of files) {
    try {
      h.update(fs.readFileSync(f));
    } catch {
      h.update(`missing:${f}`);
    }
    h.update('\0');
  }
  return h.digest('hex');
}

/** Poll the watched files; run reports one at a time (a change during a report queues one more). */
function watch(client, options) {
  const svidFiles = [options.svidCert, options.svidKey, ...(options.svidChain ? [options.svidChain] : [])];
  const bundleFiles = options.bundleFile ? [options.bundleFile] : [];
  let seen = { labels: options.labelsFile ? digest([options.labelsFile]) : '', svid: digest(svidFiles),
               bundle: digest(bundleFiles) };
  let busy = Promise.resolve();
  let unusable = '';
  const queue = (why) => {
    busy = busy.then(() => client.report(why)).catch((err) => stop(err));
  };
  const credentialsChanged = (now) => {
    if (now.svid === seen.svid && now.bundle === seen.bundle) return;
    let loaded;
    try {
      loaded = loadCredentials(options, client.fetchedAnchors);
    } catch (err) {
      // Half-written files (the new cert before its key) or a bundle without an X.509 anchor: keep what works
      // (MTB-02/06), look again on the next tick.
      const key = `${now.svid}/${now.bundle}`;
      if (key !== unusable) log(`keeping the current SVID and anchors: ${err.message}`);
      unusable = key;
      return;
    }
    const svidChanged = now.svid !== seen.svid;
    client.credentials = loaded;
    client.reconnect(svidChanged ? 'the SVID files changed' : 'the bundle file changed');
    if (svidChanged) queue('SVID renewed');
    seen = { ...seen, svid: now.svid, bundle: now.bundle };
  };
  const labelsChanged = (now) => {
    if (now.labels === seen.labels) return;
    seen = { ...seen, labels: now.labels };
    const labels = readLabels(options.labelsFile);
    if (labels === null) {
      log(`labels file ${options.labelsFile} is not a JSON object of label values or key=value lines; ignored`);
      return;
    }
    client.labels = labels;
    queue('labels changed');
  };
  setInterval(() => {
    const now = { labels: options.labelsFile ? digest([options.labelsFile]) : '', svid: digest(svidFiles),
                  bundle: digest(bundleFiles) };
    credentialsChanged(now);
    labelsChanged(now);
  }, options.pollMs);
  return queue;
}

function stop(err) {
  if (err instanceof Fatal) {
    process.stderr.write(`${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`miaf-client: unexpected error: ${err && err.stack ? err.stack : err}\n`);
  process.exit(EXIT.notAuthenticated);
}

async function main() {
  process.on('SIGTERM', () => {
    log('SIGTERM: stopping');
    process.exit(EXIT.ok);
  });
  const options = readOptions(process.argv.slice(2));
  quiet = options.quiet;
  let mis = null;
  let anchors = null;
  if (!options.bundleFile) {
    mis = new MisTrust(options);
    const leaf = (read(options.svidCert, '--svid-cert').toString('latin1').match(PEM_CERT) || [''])[0];
    const ids = expectedWfmId(leaf, options);
    anchors = await mis.initial(ids.wfm.split('/')[2]);
  }
  const client = new MiafClient(options, anchors);
  log(`own SVID ${client.credentials.ids.own}, presenting ${client.credentials.chainLength} certificate(s); ` +
      `${client.credentials.anchors} anchor(s); WFM must be ` +
      (options.hostnameCheck ? `valid for host name ${options.url.hostname} (--hostname-check)`
                             : client.credentials.ids.wfm));
  if (options.once) {
    const outcome = await client.report('start');
    client.agent.destroy();
    process.exit(outcome === 'reported' ? EXIT.ok : EXIT.refusedByWfm); // refused, or retries used up
  }
  const queue = watch(client, options);
  queue('start');
  if (mis) mis.refreshLoop(client);
}

main().catch(stop);
