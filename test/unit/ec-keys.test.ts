/**
 * src/core/ec-keys.ts: P-256 private keys read from SEC 1 PEM without OpenSSL's decoders, the same keys as
 * OpenSSL reads, and every other key or form left to node:crypto. No test exports a new key as a JWK: on
 * Node 20.20 that can deadlock in a garbage collection (see ec-keys.ts).
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { p256PrivateKeyFromPem } from '../../src/core/ec-keys.js';

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const sec1 = (key: import('node:crypto').KeyObject) => key.export({ type: 'sec1', format: 'pem' }).toString();

describe('P-256 keys without OpenSSL decoders (ec-keys)', () => {
  it('reads what OpenSSL writes: the same key (written back the same), signing as the original', () => {
    for (let index = 0; index < 50; index++) {
      const { privateKey, publicKey } = p256();
      const pem = sec1(privateKey);
      const read = p256PrivateKeyFromPem(pem);
      assert.ok(read, 'the PEM is read');
      assert.equal(sec1(read), pem);
      const signature = sign('sha256', Buffer.from('moor'), read);
      assert.ok(verify('sha256', Buffer.from('moor'), publicKey, signature));
    }
  });

  it('reads CRLF line ends too', () => {
    const { privateKey } = p256();
    const pem = sec1(privateKey);
    const read = p256PrivateKeyFromPem(pem.replace(/\n/g, '\r\n'));
    assert.ok(read);
    assert.equal(sec1(read), pem);
  });

  it('leaves every other key and form to node:crypto (undefined)', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const { privateKey } = p256();
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.equal(p256PrivateKeyFromPem(pkcs8), undefined, 'PKCS#8 ("PRIVATE KEY")');
    assert.equal(p256PrivateKeyFromPem(sec1(p384.privateKey)), undefined);
    assert.equal(p256PrivateKeyFromPem(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), undefined);
    assert.equal(p256PrivateKeyFromPem(`${sec1(privateKey)}trailing text\n`), undefined);
    // SEC 1 without the public key (OpenSSL reads it; the fixed form here does not): node:crypto's.
    const der = privateKey.export({ type: 'sec1', format: 'der' });
    const withoutPublic = Buffer.concat([Buffer.from('3031', 'hex'), der.subarray(2, 2 + 3 + 34 + 12)]);
    const pemWithoutPublic = `-----BEGIN EC PRIVATE KEY-----\n${withoutPublic.toString('base64')}\n-----END EC PRIVATE KEY-----\n`;
    assert.ok(createPrivateKey(pemWithoutPublic), 'OpenSSL reads the short form');
    assert.equal(p256PrivateKeyFromPem(pemWithoutPublic), undefined);
  });

  it('a damaged point is refused by node:crypto, not read as a key', () => {
    const { privateKey } = p256();
    const der = privateKey.export({ type: 'sec1', format: 'der' });
    der[der.length - 1]! ^= 0x01; // y no longer on the curve
    const pem = `-----BEGIN EC PRIVATE KEY-----\n${der
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n')}\n-----END EC PRIVATE KEY-----\n`;
    assert.throws(() => p256PrivateKeyFromPem(pem));
  });
});
