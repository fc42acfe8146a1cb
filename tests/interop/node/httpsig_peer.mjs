// A second RFC 9421 implementation on another stack (Node crypto + the npm package http-message-signatures),
// driven by tests/interop/test_node_httpsig.py: one JSON job on stdin, one JSON answer on stdout.
//
//   {"op": "sign", "alg", "privateKeyPem", "keyid", "method", "url", "bodyB64"}
//     -> {"headers": {...}}                       Content-Digest from Node's sha-256, then signed
//   {"op": "verify", "alg", "publicKeyPem", "method", "url", "headers", "bodyB64"}
//     -> {"signatureValid", "digestValid", "error"}
import { createHash } from 'node:crypto';
import httpsig from 'http-message-signatures';

const { httpbis, createSigner, createVerifier } = httpsig;
const MARGO_FIELDS = ['@method', '@target-uri', 'content-digest'];
const ALGS = new Set(['ecdsa-p256-sha256', 'ecdsa-p384-sha384', 'rsa-v1_5-sha256']);

function contentDigest(body) {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

async function sign(job, body) {
  const headers = { 'content-type': 'application/json', 'content-digest': contentDigest(body) };
  const signed = await httpbis.signMessage({
    key: createSigner(job.privateKeyPem, job.alg, job.keyid),
    name: 'sig1',
    fields: MARGO_FIELDS,
    params: ['created', 'keyid'], // the Margo parameters; no alg, no expires
  }, { method: job.method, url: job.url, headers, body });
  return { headers: signed.headers };
}

async function verify(job, body) {
  // The library judges the signature only; the body is bound through Content-Digest, checked here.
  const received = Object.entries(job.headers).find(([name]) => name.toLowerCase() === 'content-digest');
  const digestValid = received !== undefined && received[1] === contentDigest(body);
  let signatureValid = false;
  let error = null;
  try {
    const result = await httpbis.verifyMessage({
      keyLookup: async () => ({ id: 'peer', algs: [job.alg], verify: createVerifier(job.publicKeyPem, job.alg) }),
      requiredFields: MARGO_FIELDS,
      requiredParams: ['created', 'keyid'],
      maxAge: 300,
      tolerance: 60,
    }, { method: job.method, url: job.url, headers: job.headers });
    signatureValid = result === true;
  } catch (exc) {
    error = `${exc.name}: ${exc.message}`;
  }
  return { signatureValid, digestValid, error };
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const job = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (!ALGS.has(job.alg)) throw new Error(`unsupported alg ${job.alg}`);
  const body = Buffer.from(job.bodyB64 ?? '', 'base64');
  const answer = job.op === 'sign' ? await sign(job, body) : job.op === 'verify' ? await verify(job, body) : null;
  if (answer === null) throw new Error(`unknown op ${job.op}`);
  process.stdout.write(JSON.stringify(answer));
}

main().catch((exc) => {
  process.stderr.write(`${exc.stack ?? exc}\n`);
  process.exit(1);
});
