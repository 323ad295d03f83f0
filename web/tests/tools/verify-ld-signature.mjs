// Checks a Linked-Data signature (RsaSignature2017) the way PeerTube and Mastodon do, with jsonld.js
// (the library PeerTube uses): reads `{ "document": …, "publicKeyPem": "…" }` on standard input and
// prints `{ "peertube": bool, "mastodon": bool }`. PeerTube hashes the signature's options with the
// security context, Mastodon with the identity context; both then the document without its
// signature, in URDNA2015 canonical N-Quads (safe mode: a term no context defines is an error, as in
// PeerTube 7). Contexts are read from the server's preloaded copies (crates/federation/src/contexts):
// the canonicalization and the RSA check are this file's, independent of the server's code.
import { createHash, createVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import jsonld from 'jsonld';

const dir = new URL('../../../crates/federation/src/contexts/', import.meta.url);
const contexts = {
  'https://www.w3.org/ns/activitystreams': 'activitystreams.jsonld',
  'https://w3id.org/security/v1': 'security-v1.jsonld',
  'https://w3id.org/identity/v1': 'identity-v1.jsonld'
};

const documentLoader = async (url) => {
  const file = contexts[url];
  if (!file) throw new Error(`context not preloaded: ${url}`);
  return { contextUrl: null, documentUrl: url, document: JSON.parse(readFileSync(new URL(file, dir), 'utf8')) };
};

async function hash(obj) {
  const nquads = await jsonld.canonize(obj, {
    safe: true,
    algorithm: 'URDNA2015',
    format: 'application/n-quads',
    documentLoader
  });
  return createHash('sha256').update(nquads).digest('hex');
}

async function verified(doc, key, optionsContext) {
  const { signature, ...rest } = doc;
  if (!signature || signature.type !== 'RsaSignature2017') return false;
  const { type: _t, id: _i, signatureValue, ...options } = signature;
  const toVerify = (await hash({ '@context': optionsContext, ...options })) + (await hash(rest));
  const v = createVerify('RSA-SHA256');
  v.update(toVerify, 'utf8');
  return v.verify(key, signatureValue, 'base64');
}

const input = JSON.parse(readFileSync(0, 'utf8'));
const peertube = await verified(input.document, input.publicKeyPem, [
  'https://w3id.org/security/v1',
  { RsaSignature2017: 'https://w3id.org/security#RsaSignature2017' }
]);
const mastodon = await verified(input.document, input.publicKeyPem, 'https://w3id.org/identity/v1');
process.stdout.write(JSON.stringify({ peertube, mastodon }) + '\n');
