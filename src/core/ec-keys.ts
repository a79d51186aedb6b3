/**
 * ECDSA P-256 private keys (moor's own: see generateKey in ./certs.ts) read from SEC 1 "EC PRIVATE KEY" PEM
 * without OpenSSL's decoders: for this one curve the form is a fixed layout around the key's numbers, which go
 * into node:crypto as a JWK. OpenSSL 3 sets up its decoder machinery on first use (0.5-1 ms of a create on
 * Node 20), where a JWK import takes about 0.1 ms. Any other key or form is left to node:crypto (undefined).
 *
 * Keys are not exported this way: on Node 20.20, exporting a freshly generated EC key as a JWK can deadlock
 * (the export holds the key's lock while it allocates; a garbage collection then finalizes the key generation
 * job, whose destructor takes the same lock). It hung a test that exported 200 new keys; exports stay
 * OpenSSL's.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';

const COORDINATE = 32;
/** SEC 1 ECPrivateKey, version 1, with the curve (prime256v1) and the public key: the bytes around d, then Q. */
const SEC1_HEAD = Buffer.from('307702010104' + '20', 'hex');
const SEC1_MIDDLE = Buffer.from('a00a06082a8648ce3d030107' + 'a14403420004', 'hex');
const SEC1_LENGTH = SEC1_HEAD.length + COORDINATE + SEC1_MIDDLE.length + 2 * COORDINATE;
const PEM = /^-----BEGIN EC PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END EC PRIVATE KEY-----\r?\n?$/;

/**
 * The private key of SEC 1 PEM in the form OpenSSL writes for a P-256 key, through a JWK; undefined for
 * anything else. node:crypto checks the point as it imports it.
 */
export function p256PrivateKeyFromPem(pem: string): KeyObject | undefined {
  const body = PEM.exec(pem)?.[1];
  if (body === undefined) return undefined;
  const der = Buffer.from(body.replace(/\r?\n/g, ''), 'base64');
  if (der.length !== SEC1_LENGTH) return undefined;
  const middleAt = SEC1_HEAD.length + COORDINATE;
  const qAt = middleAt + SEC1_MIDDLE.length;
  if (!der.subarray(0, SEC1_HEAD.length).equals(SEC1_HEAD)) return undefined;
  if (!der.subarray(middleAt, qAt).equals(SEC1_MIDDLE)) return undefined;
  const part = (from: number) => der.subarray(from, from + COORDINATE).toString('base64url');
  const jwk = { kty: 'EC', crv: 'P-256', d: part(SEC1_HEAD.length), x: part(qAt), y: part(qAt + COORDINATE) };
  return createPrivateKey({ key: jwk, format: 'jwk' });
}
