/**
 * ECDSA P-256 keys (moor's own: see generateKey in ./certs.ts) in and out of the two DER forms moor stores
 * and signs, without OpenSSL's encoders and decoders: SEC 1 "EC PRIVATE KEY" PEM and SubjectPublicKeyInfo.
 * For this one curve both are a fixed layout around the key's numbers, and the numbers go in and out of
 * node:crypto as a JWK. OpenSSL 3 sets up its encoder and decoder machinery on first use, 0.5-1 ms each in
 * a `create` (Node 20 and 24 alike), where a JWK import or export takes about 0.1 ms. The bytes are the ones
 * OpenSSL writes (test/unit/ec-keys.test.ts compares them); any other key or form is left to node:crypto
 * (each function then returns undefined).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';

const COORDINATE = 32;
/** SEC 1 ECPrivateKey, version 1, with the curve (prime256v1) and the public key: the bytes around d, then Q. */
const SEC1_HEAD = Buffer.from('307702010104' + '20', 'hex');
const SEC1_MIDDLE = Buffer.from('a00a06082a8648ce3d030107' + 'a14403420004', 'hex');
const SEC1_LENGTH = SEC1_HEAD.length + COORDINATE + SEC1_MIDDLE.length + 2 * COORDINATE;
/** SubjectPublicKeyInfo of id-ecPublicKey on prime256v1: the bytes before Q (uncompressed: 04 x y). */
const SPKI_HEAD = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200' + '04', 'hex');
const PEM = /^-----BEGIN EC PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END EC PRIVATE KEY-----\r?\n?$/;

interface P256Jwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  d?: string;
}

/** The key's JWK when it is a P-256 key, else undefined. */
function p256Jwk(key: KeyObject): P256Jwk | undefined {
  // A JWK export throws for curves JWK has no name for (brainpool): the curve is checked first.
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return undefined;
  const jwk = key.export({ format: 'jwk' });
  return jwk.crv === 'P-256' && jwk.x && jwk.y ? (jwk as P256Jwk) : undefined;
}

const bytes = (base64url: string) => Buffer.from(base64url, 'base64url');

/** A P-256 private key as SEC 1 PEM ("EC PRIVATE KEY"), as key.export({ type: 'sec1', format: 'pem' }). */
export function p256PrivateKeyPem(key: KeyObject): string | undefined {
  if (key.type !== 'private') return undefined;
  const jwk = p256Jwk(key);
  if (!jwk?.d) return undefined;
  const der = Buffer.concat([SEC1_HEAD, bytes(jwk.d), SEC1_MIDDLE, bytes(jwk.x), bytes(jwk.y)]);
  if (der.length !== SEC1_LENGTH) return undefined;
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN EC PRIVATE KEY-----\n${lines.join('\n')}\n-----END EC PRIVATE KEY-----\n`;
}

/** A P-256 key's public half as SubjectPublicKeyInfo DER, as key.export({ type: 'spki', format: 'der' }). */
export function p256SpkiDer(key: KeyObject): Buffer | undefined {
  const jwk = p256Jwk(key);
  if (!jwk) return undefined;
  const der = Buffer.concat([SPKI_HEAD, bytes(jwk.x), bytes(jwk.y)]);
  return der.length === SPKI_HEAD.length + 2 * COORDINATE ? der : undefined;
}

/**
 * The private key of SEC 1 PEM in the form p256PrivateKeyPem writes (OpenSSL's, for a P-256 key), through a
 * JWK; undefined for anything else. node:crypto checks the point as it imports it.
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
