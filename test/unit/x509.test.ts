/**
 * src/core/x509.ts, the certificate writer, checked by readers that are not moor's: node:crypto's
 * X509Certificate, @peculiar/x509 (a dev dependency, an ASN.1 parser of its own) and the openssl program
 * (`x509 -text`, `verify` of the chains, `asn1parse` of the encoding).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import 'reflect-metadata';
import * as peculiar from '@peculiar/x509';
import { createCertificate, type CertificateRequest, issuerFields, UnsupportedKeyError } from '../../src/core/x509.js';
import { canRun, programMissing } from '../helpers/prerequisites.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const scratch = mkdtempSync(join(tmpdir(), 'moor-x509-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function ecKeys(namedCurve = 'P-256') {
  return generateKeyPairSync('ec', { namedCurve });
}

const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
const validity = { notBefore: new Date('2026-01-02T03:04:05Z'), notAfter: new Date('2029-01-02T03:04:05Z') };

/** A CA as certs.ts makes it: self-signed, with a subject key identifier. */
function makeCa(keys = ecKeys(), organization = 'alice') {
  const pem = createCertificate({
    serialNumber: Buffer.from('0123456789abcdef0123456789abcdef', 'hex'),
    organization,
    ...validity,
    publicKey: spki(keys.publicKey),
    ca: true,
    keyUsage: ['keyCertSign', 'digitalSignature'],
    extendedKeyUsage: ['serverAuth', 'clientAuth'],
    subjectKeyId: true,
    signingKey: keys.privateKey,
  });
  return { pem, cert: new X509Certificate(pem), key: keys.privateKey };
}

function issued(
  ca: { cert: X509Certificate; key: KeyObject },
  overrides: Partial<CertificateRequest> = {},
): { pem: string; cert: X509Certificate } {
  const issuer = issuerFields(ca.cert.raw);
  const pem = createCertificate({
    serialNumber: Buffer.from('ff00', 'hex'),
    organization: 'alice.web',
    ...validity,
    publicKey: spki(ecKeys().publicKey),
    issuerName: issuer.name,
    ...(issuer.keyId ? { authorityKeyId: issuer.keyId } : {}),
    ca: false,
    keyUsage: ['digitalSignature', 'keyAgreement'],
    extendedKeyUsage: ['serverAuth'],
    ips: ['10.0.0.5', '2001:db8::1', '::1', '::ffff:10.1.2.3', 'fe80::1:2:3:4:5:6'],
    dnsNames: ['docker.example.com', 'localhost'],
    signingKey: ca.key,
    ...overrides,
  });
  return { pem, cert: new X509Certificate(pem) };
}

describe('x509 writer', () => {
  it('writes a CA that node:crypto and an independent ASN.1 parser read as such', () => {
    const ca = makeCa();
    assert.equal(ca.cert.subject, 'O=alice');
    assert.equal(ca.cert.issuer, 'O=alice');
    assert.ok(ca.cert.checkIssued(ca.cert) && ca.cert.verify(ca.cert.publicKey), 'self-signed');
    assert.equal(ca.cert.ca, true);
    assert.equal(ca.cert.serialNumber, '0123456789ABCDEF0123456789ABCDEF');
    assert.equal(Date.parse(ca.cert.validFrom), validity.notBefore.getTime());
    assert.equal(Date.parse(ca.cert.validTo), validity.notAfter.getTime());
    assert.deepEqual(ca.cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const parsed = new peculiar.X509Certificate(ca.pem);
    assert.equal(
      parsed.getExtension(peculiar.KeyUsagesExtension)?.usages,
      peculiar.KeyUsageFlags.keyCertSign | peculiar.KeyUsageFlags.digitalSignature,
    );
    assert.equal(parsed.getExtension(peculiar.KeyUsagesExtension)?.critical, true);
    assert.equal(parsed.getExtension(peculiar.BasicConstraintsExtension)?.ca, true);
    assert.equal(parsed.getExtension(peculiar.BasicConstraintsExtension)?.critical, true);
    assert.equal(parsed.getExtension(peculiar.ExtendedKeyUsageExtension)?.critical, false);
    const { keyId } = issuerFields(ca.cert.raw);
    assert.equal(parsed.getExtension(peculiar.SubjectKeyIdentifierExtension)?.keyId, keyId?.toString('hex'));
    assert.equal((parsed.signatureAlgorithm as { hash: { name: string } }).hash.name, 'SHA-256');
  });

  it('writes a server certificate with its SANs, CA:FALSE and the authority key id', async () => {
    const ca = makeCa();
    const { pem, cert } = issued(ca);
    assert.ok(cert.checkIssued(ca.cert) && cert.verify(ca.cert.publicKey), 'signed by the CA');
    assert.equal(cert.ca, false);
    assert.equal(cert.serialNumber, 'FF00');
    assert.equal(
      cert.subjectAltName,
      'IP Address:10.0.0.5, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:0:0:1, ' +
        'IP Address:0:0:0:0:0:FFFF:A01:203, IP Address:FE80:0:1:2:3:4:5:6, DNS:docker.example.com, DNS:localhost',
    );
    assert.equal(cert.checkIP('2001:db8::1'), '2001:db8::1');
    assert.equal(cert.checkHost('docker.example.com'), 'docker.example.com');
    const parsed = new peculiar.X509Certificate(pem);
    assert.equal(
      parsed.getExtension(peculiar.KeyUsagesExtension)?.usages,
      peculiar.KeyUsageFlags.digitalSignature | peculiar.KeyUsageFlags.keyAgreement,
    );
    assert.equal(parsed.getExtension(peculiar.BasicConstraintsExtension)?.ca, false);
    assert.equal(
      parsed.getExtension(peculiar.AuthorityKeyIdentifierExtension)?.keyId,
      issuerFields(ca.cert.raw).keyId?.toString('hex'),
    );
    assert.equal(parsed.getExtension(peculiar.SubjectKeyIdentifierExtension), null);
    assert.ok(await parsed.verify({ publicKey: await new peculiar.X509Certificate(ca.pem).publicKey.export() }));
  });

  it('encodes serial numbers as positive minimal INTEGERs', () => {
    const ca = makeCa();
    /** The serial number's INTEGER as encoded: it follows the version, [0] { INTEGER 2 }. */
    const serial = (hex: string) => {
      const der = issued(ca, { serialNumber: Buffer.from(hex, 'hex') }).cert.raw;
      const at = der.indexOf(Buffer.from('a003020102', 'hex')) + 5;
      return der.subarray(at, at + 2 + der[at + 1]!).toString('hex');
    };
    assert.equal(serial('80'), '02020080'); // high bit: a zero byte keeps it positive
    assert.equal(serial('00007f01'), '02027f01'); // leading zero bytes dropped
    assert.equal(serial('0000'), '020100');
  });

  it('takes the organization as PrintableString when it can, else UTF8String', () => {
    const ca = makeCa(ecKeys(), 'root');
    for (const organization of ['alice.<bootstrap>', 'bob_smith.web', 'jörg.dev']) {
      const { cert } = issued(ca, { organization });
      assert.deepEqual({ ...cert.toLegacyObject().subject }, { O: organization });
    }
  });

  it('writes dates from 2050 as GeneralizedTime', () => {
    const ca = makeCa();
    const { cert } = issued(ca, { notAfter: new Date('2051-06-07T08:09:10Z') });
    assert.equal(Date.parse(cert.validTo), Date.parse('2051-06-07T08:09:10Z'));
  });

  it('signs with P-384, P-521 and RSA keys, and refuses others', () => {
    for (const [keys, hash] of [
      [ecKeys('P-384'), 'SHA-384'],
      [ecKeys('P-521'), 'SHA-512'],
      [generateKeyPairSync('rsa', { modulusLength: 2048 }), 'SHA-256'],
    ] as const) {
      const ca = makeCa(keys);
      const { pem, cert } = issued(ca);
      assert.ok(cert.verify(ca.cert.publicKey));
      const algorithm = new peculiar.X509Certificate(pem).signatureAlgorithm as { hash: { name: string } };
      assert.equal(algorithm.hash.name, hash);
    }
    assert.throws(() => makeCa(generateKeyPairSync('ed25519')), UnsupportedKeyError);
  });

  if (
    canRun(
      'openssl reads and verifies the certificates',
      programMissing('openssl', ['version'], 'apt-get install openssl'),
    )
  ) {
    const openssl = (args: string[], input?: string) => {
      const result = spawnSync('openssl', args, { encoding: 'utf8', ...(input ? { input } : {}) });
      assert.equal(result.status, 0, `openssl ${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    };
    const file = (name: string, text: string) => {
      const path = join(scratch, name);
      writeFileSync(path, text);
      return path;
    };

    it('openssl x509 -text shows the extensions moor means, and openssl verify accepts the chains', () => {
      const ca = makeCa();
      const server = issued(ca);
      const client = issued(ca, {
        organization: 'alice.<bootstrap>',
        keyUsage: ['digitalSignature'],
        extendedKeyUsage: ['clientAuth'],
        ips: [],
        dnsNames: [],
      });
      const caText = openssl(['x509', '-noout', '-text'], ca.pem);
      assert.match(caText, /Version: 3 \(0x2\)/);
      assert.match(caText, /Signature Algorithm: ecdsa-with-SHA256/);
      assert.match(caText, /Not Before: Jan {2}2 03:04:05 2026 GMT\n\s+Not After : Jan {2}2 03:04:05 2029 GMT/);
      assert.match(caText, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
      assert.match(caText, /X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign\n/);
      assert.match(
        caText,
        /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/,
      );
      assert.match(caText, /X509v3 Subject Key Identifier: \n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}\n/);
      const serverText = openssl(['x509', '-noout', '-text'], server.pem);
      assert.match(serverText, /Subject: O = alice.web\n/);
      assert.match(serverText, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
      assert.match(serverText, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Agreement\n/);
      assert.match(serverText, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
      assert.match(
        serverText,
        /X509v3 Subject Alternative Name: \n\s+IP Address:10.0.0.5, IP Address:2001:DB8:0:0:0:0:0:1,/,
      );
      assert.match(serverText, /X509v3 Authority Key Identifier: \n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}\n/);
      assert.match(openssl(['x509', '-noout', '-text'], client.pem), /Subject: O = "alice.<bootstrap>"\n/);
      const caFile = file('ca.pem', ca.pem);
      const out = openssl([
        'verify',
        '-x509_strict',
        '-CAfile',
        caFile,
        file('server.pem', server.pem),
        file('client.pem', client.pem),
      ]);
      assert.match(out, /server.pem: OK\n.*client.pem: OK/);
      openssl(['verify', '-purpose', 'sslserver', '-CAfile', caFile, file('server.pem', server.pem)]);
      openssl(['verify', '-purpose', 'sslclient', '-CAfile', caFile, file('client.pem', client.pem)]);
    });

    it("a CA made by openssl: its subject name is repeated byte for byte, its key id as the authority's", () => {
      const key = file('other-ca-key.pem', '');
      const cert = file('other-ca.pem', '');
      openssl([
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '3',
        '-utf8',
        '-subj',
        '/C=DE/O=Beispiel Ä/CN=Test CA',
      ]);
      const caCert = new X509Certificate(openssl(['x509', '-in', cert]));
      const ca = { cert: caCert, key: createPrivateKey(openssl(['pkey', '-in', key])) };
      const server = issued(ca);
      assert.ok(server.cert.checkIssued(caCert), 'issuer name equals the CA subject');
      assert.equal(server.cert.issuer, caCert.subject);
      const caKeyId = openssl(['x509', '-noout', '-ext', 'subjectKeyIdentifier', '-in', cert]).split('\n')[1]?.trim();
      assert.match(
        openssl(['x509', '-noout', '-text'], server.pem),
        new RegExp(`Authority Key Identifier: \\n\\s+${caKeyId}\\n`),
      );
      assert.match(openssl(['verify', '-CAfile', cert, file('server-rsa.pem', server.pem)]), /OK/);
    });

    it('an issuer without a subject key identifier (version 1) gives its name and no key id', () => {
      const key = file('v1-key.pem', '');
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
      const csr = openssl(['req', '-new', '-key', key, '-subj', '/CN=version one']);
      const pem = openssl(['x509', '-req', '-signkey', key, '-days', '3'], csr);
      const cert = new X509Certificate(pem);
      assert.match(openssl(['x509', '-noout', '-text'], pem), /Version: 1 \(0x0\)/);
      const fields = issuerFields(cert.raw);
      assert.equal(fields.keyId, undefined);
      const server = issued({ cert, key: createPrivateKey(openssl(['pkey', '-in', key])) }, {});
      assert.equal(server.cert.issuer, 'CN=version one');
      assert.ok(server.cert.verify(cert.publicKey));
      assert.doesNotMatch(openssl(['x509', '-noout', '-text'], server.pem), /Authority Key Identifier/);
    });
  }

  it('issuerFields refuses what is not a certificate', () => {
    assert.throws(() => issuerFields(Buffer.from([0x30, 0x05, 0x02, 0x01])), /DER/);
    assert.throws(() => issuerFields(Buffer.from([0x04, 0x00])), /not a certificate/);
  });

  it('certificates live 1080 days in certs.ts: the writer keeps the dates it is given to the second', () => {
    const ca = makeCa();
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
    const { cert } = issued(ca, { notBefore, notAfter: new Date(notBefore.getTime() + 1080 * DAY_MS) });
    assert.equal(Date.parse(cert.validTo) - Date.parse(cert.validFrom), 1080 * DAY_MS);
  });
});
