/**
 * The X.509 v3 certificates moor issues, written in DER with node:crypto signing them (RFC 5280), and the
 * two fields of an issuer certificate that node:crypto's X509Certificate does not give: its subject name
 * as encoded (the new certificate's issuer must repeat it byte for byte) and its subject key identifier.
 * Only what moor's CA, client and server certificates use: an organization-only subject, basic constraints,
 * key usage, extended key usage, subject alternative names (IP, DNS), key identifiers; signatures with ECDSA
 * (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512) or RSA PKCS#1 v1.5 with SHA-256. Everything else about
 * certificates (parsing, validation, chains) is node:crypto's and OpenSSL's.
 */
import { createHash, type KeyObject, sign } from 'node:crypto';
import { isIP } from './values.js';

export const KeyUsage = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyAgreement: 4,
  keyCertSign: 5,
} as const;
export type KeyUsageName = keyof typeof KeyUsage;

export const ExtendedKeyUsage = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;
export type ExtendedKeyUsageName = keyof typeof ExtendedKeyUsage;

export interface CertificateRequest {
  /** Positive, at most 20 bytes (RFC 5280 4.1.2.2); a leading zero bit is added when needed. */
  serialNumber: Buffer;
  /** The subject's organization (O), its only attribute, as Docker Machine made it. */
  organization: string;
  notBefore: Date;
  notAfter: Date;
  /** The subject's public key as SubjectPublicKeyInfo DER (KeyObject.export({ type: 'spki', format: 'der' })). */
  publicKey: Buffer;
  /** The issuer's encoded subject name (issuerFields); none: self-signed, the subject's own name. */
  issuerName?: Buffer;
  /** The issuer's subject key identifier, repeated as the authority key identifier. */
  authorityKeyId?: Buffer;
  ca: boolean;
  keyUsage: KeyUsageName[];
  extendedKeyUsage: ExtendedKeyUsageName[];
  /** IP addresses and DNS names (subjectAltName); none: no extension. */
  ips?: string[];
  dnsNames?: string[];
  /** Adds a subject key identifier (SHA-1 of the public key, RFC 5280 4.2.1.2 method 1). */
  subjectKeyId?: boolean;
  signingKey: KeyObject;
}

/** Builds and signs a certificate; returns it in PEM. */
export function createCertificate(request: CertificateRequest): string {
  const algorithm = signatureAlgorithm(request.signingKey);
  const subject = organizationName(request.organization);
  const extensions: Buffer[] = [
    extension(OID.basicConstraints, true, sequence(...(request.ca ? [boolean(true)] : []))),
    extension(OID.keyUsage, true, namedBits(request.keyUsage.map((usage) => KeyUsage[usage]))),
    extension(
      OID.extKeyUsage,
      false,
      sequence(...request.extendedKeyUsage.map((usage) => oid(ExtendedKeyUsage[usage]))),
    ),
  ];
  const ips = request.ips ?? [];
  const dnsNames = request.dnsNames ?? [];
  if (ips.length + dnsNames.length > 0) {
    extensions.push(
      extension(
        OID.subjectAltName,
        false,
        sequence(
          ...ips.map((ip) => tlv(0x87, ipBytes(ip))),
          ...dnsNames.map((name) => tlv(0x82, Buffer.from(name, 'ascii'))),
        ),
      ),
    );
  }
  if (request.subjectKeyId) {
    extensions.push(extension(OID.subjectKeyId, false, tlv(0x04, keyIdentifier(request.publicKey))));
  }
  if (request.authorityKeyId) {
    extensions.push(extension(OID.authorityKeyId, false, sequence(tlv(0x80, request.authorityKeyId))));
  }
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))), // v3
    integer(request.serialNumber),
    algorithm.identifier,
    request.issuerName ?? subject,
    sequence(time(request.notBefore), time(request.notAfter)),
    subject,
    request.publicKey,
    tlv(0xa3, sequence(...extensions)),
  );
  const signature = sign(algorithm.hash, tbs, request.signingKey);
  const der = sequence(tbs, algorithm.identifier, bitString(signature));
  const base64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${base64}${base64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/** The issuer's fields a certificate it signs repeats: its subject name as encoded, its subject key id. */
export function issuerFields(certificateDer: Buffer): { name: Buffer; keyId?: Buffer } {
  const [tbsElement] = children(element(certificateDer, 0).value);
  if (tbsElement?.tag !== 0x30) throw new Error('not a certificate');
  const tbs = children(tbsElement.value);
  // version [0] is optional (v1); then serial, signature algorithm, issuer, validity, subject, key, ...
  const first = tbs[0]?.tag === 0xa0 ? 1 : 0;
  const name = tbs[first + 4];
  if (!name || name.tag !== 0x30) throw new Error('the certificate has no subject name');
  let keyId: Buffer | undefined;
  const extensions = tbs.find((field) => field.tag === 0xa3);
  if (extensions) {
    for (const entry of children(children(extensions.value)[0]!.value)) {
      const [id, ...rest] = children(entry.value);
      if (id?.tag !== 0x06 || !id.value.equals(oidContents(OID.subjectKeyId))) continue;
      const value = rest[rest.length - 1];
      if (value?.tag !== 0x04) break;
      const inner = children(value.value)[0];
      if (inner?.tag === 0x04) keyId = inner.value;
      break;
    }
  }
  return keyId ? { name: name.der, keyId } : { name: name.der };
}

const OID = {
  organization: '2.5.4.10',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
};

/** Node's curve names -> the signature algorithm Go's crypto/x509 pairs with each curve. */
const EC_SIGNATURES: Record<string, { oid: string; hash: string } | undefined> = {
  prime256v1: { oid: OID.ecdsaWithSha256, hash: 'sha256' },
  secp384r1: { oid: OID.ecdsaWithSha384, hash: 'sha384' },
  secp521r1: { oid: OID.ecdsaWithSha512, hash: 'sha512' },
};

export class UnsupportedKeyError extends Error {}

function signatureAlgorithm(key: KeyObject): { identifier: Buffer; hash: string } {
  if (key.asymmetricKeyType === 'rsa') {
    // RSA's AlgorithmIdentifier carries an explicit NULL parameter (RFC 4055); ECDSA's has none (RFC 5758).
    return { identifier: sequence(oid(OID.sha256WithRsa), Buffer.from([0x05, 0x00])), hash: 'sha256' };
  }
  const ec = key.asymmetricKeyType === 'ec' ? EC_SIGNATURES[key.asymmetricKeyDetails?.namedCurve ?? ''] : undefined;
  if (!ec) throw new UnsupportedKeyError(key.asymmetricKeyType ?? 'unknown');
  return { identifier: sequence(oid(ec.oid)), hash: ec.hash };
}

/** Name ::= SEQUENCE OF RDN: one RDN holding O, a PrintableString when it can be, else UTF8String (as Go). */
function organizationName(organization: string): Buffer {
  const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(organization);
  const value = tlv(printable ? 0x13 : 0x0c, Buffer.from(organization, 'utf8'));
  return sequence(tlv(0x31, sequence(oid(OID.organization), value)));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), tlv(0x04, value));
}

/** SHA-1 of the subjectPublicKey bits (the BIT STRING's contents without its unused-bits byte). */
function keyIdentifier(spki: Buffer): Buffer {
  const [, key] = children(children(spki)[0]!.value);
  if (key?.tag !== 0x03) throw new Error('not a SubjectPublicKeyInfo');
  return createHash('sha1').update(key.value.subarray(1)).digest();
}

/** A BIT STRING of named bits (bit 0 first), DER: trailing zero bits dropped. */
function namedBits(bits: number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return tlv(0x03, Buffer.concat([Buffer.from([7 - (highest & 7)]), bytes]));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  if (isIP(ip) !== 6) throw new Error(`not an IP address: ${ip}`);
  const [head = '', tail] = ip.split('::') as [string, string?];
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  let words = groups(head);
  let after = tail === undefined ? [] : groups(tail);
  // An IPv4 tail (::ffff:10.0.0.1) is two words.
  const v4 = (list: string[]) => {
    const last = list[list.length - 1];
    if (!last?.includes('.')) return list;
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    return [...list.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
  };
  if (tail === undefined) words = v4(words);
  else after = v4(after);
  const all = tail === undefined ? words : [...words, ...Array(8 - words.length - after.length).fill('0'), ...after];
  const bytes = Buffer.alloc(16);
  all.forEach((word, index) => bytes.writeUInt16BE(parseInt(word, 16), index * 2));
  return bytes;
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5); whole seconds, Zulu. */
function time(date: Date): Buffer {
  const text = date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:T]/g, '');
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(text.slice(2))) : tlv(0x18, Buffer.from(text));
}

function integer(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const bytes = unsigned.subarray(start);
  return tlv(0x02, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function boolean(value: boolean): Buffer {
  return Buffer.from([0x01, 0x01, value ? 0xff : 0x00]);
}

function bitString(bytes: Buffer): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([0]), bytes]));
}

function oid(id: string): Buffer {
  return tlv(0x06, oidContents(id));
}

function oidContents(id: string): Buffer {
  const [first = 0, second = 0, ...rest] = id.split('.').map(Number);
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const base128 = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) {
      base128.unshift((value & 0x7f) | 0x80);
    }
    bytes.push(...base128);
  }
  return Buffer.from(bytes);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function tlv(tag: number, value: Buffer): Buffer {
  const length = value.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else if (length < 0x10000) header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  else throw new Error('DER value too long');
  return Buffer.concat([header, value]);
}

interface Element {
  tag: number;
  /** The whole element: tag, length and value. */
  der: Buffer;
  value: Buffer;
}

/** The DER element at `offset` of `buffer` (definite lengths only, as DER has). */
function element(buffer: Buffer, offset: number): Element {
  const tag = buffer[offset];
  let length = buffer[offset + 1];
  if (tag === undefined || length === undefined || (tag & 0x1f) === 0x1f) throw new Error('malformed DER');
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || start + count > buffer.length) throw new Error('malformed DER');
    length = buffer.readUIntBE(start, count);
    start += count;
  }
  const end = start + length;
  if (end > buffer.length) throw new Error('malformed DER: truncated');
  return { tag, der: buffer.subarray(offset, end), value: buffer.subarray(start, end) };
}

/** The elements of a constructed value, in order. */
function children(value: Buffer): Element[] {
  const list: Element[] = [];
  for (let offset = 0; offset < value.length;) {
    const child = element(value, offset);
    list.push(child);
    offset += child.der.length;
  }
  return list;
}
