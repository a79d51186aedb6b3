/**
 * src/core/ec-keys.ts: P-256 keys written and read without OpenSSL's encoders, byte for byte what OpenSSL
 * writes, and every other key or form left to node:crypto.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { p256PrivateKeyFromPem, p256PrivateKeyPem, p256SpkiDer } from '../../src/core/ec-keys.js';

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

describe('P-256 keys without OpenSSL encoders (ec-keys)', () => {
  it('writes SEC 1 PEM and SubjectPublicKeyInfo DER exactly as OpenSSL does (200 keys, leading zero bytes among them)', () => {
    let leadingZero = 0;
    for (let index = 0; index < 200; index++) {
      const { privateKey, publicKey } = p256();
      const openssl = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
      assert.equal(p256PrivateKeyPem(privateKey), openssl);
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      assert.deepEqual(p256SpkiDer(publicKey), spki);
      assert.deepEqual(p256SpkiDer(privateKey), spki, "a private key's public half");
      const jwk = privateKey.export({ format: 'jwk' });
      if ([jwk.d, jwk.x, jwk.y].some((value) => Buffer.from(value!, 'base64url')[0] === 0)) leadingZero++;
    }
    // Fixed-width numbers: about 3 keys in 200 have a coordinate or d starting with a zero byte.
    assert.ok(leadingZero > 0, 'some keys had a number with a leading zero byte');
  });

  it('reads back what it writes (and what OpenSSL writes): the same key, signing as the original', () => {
    for (let index = 0; index < 50; index++) {
      const { privateKey, publicKey } = p256();
      const pem = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
      const read = p256PrivateKeyFromPem(pem);
      assert.ok(read, 'the PEM is read');
      assert.deepEqual(read.export({ format: 'jwk' }), privateKey.export({ format: 'jwk' }));
      const signature = sign('sha256', Buffer.from('moor'), read);
      assert.ok(verify('sha256', Buffer.from('moor'), publicKey, signature));
    }
  });

  it('reads CRLF line ends too', () => {
    const { privateKey } = p256();
    const pem = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    const read = p256PrivateKeyFromPem(pem.replace(/\n/g, '\r\n'));
    assert.deepEqual(read?.export({ format: 'jwk' }), privateKey.export({ format: 'jwk' }));
  });

  it('leaves every other key and form to node:crypto (undefined)', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const ed = generateKeyPairSync('ed25519');
    const brainpool = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }); // no JWK name: not exported
    for (const { privateKey, publicKey } of [rsa, p384, ed, brainpool]) {
      assert.equal(p256PrivateKeyPem(privateKey), undefined);
      assert.equal(p256SpkiDer(publicKey), undefined);
    }
    assert.equal(p256PrivateKeyPem(p256().publicKey), undefined, 'a public key has no private PEM');
    const { privateKey } = p256();
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.equal(p256PrivateKeyFromPem(pkcs8), undefined, 'PKCS#8 ("PRIVATE KEY")');
    assert.equal(p256PrivateKeyFromPem(p384.privateKey.export({ type: 'sec1', format: 'pem' }).toString()), undefined);
    assert.equal(p256PrivateKeyFromPem(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), undefined);
    const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    assert.equal(p256PrivateKeyFromPem(`${sec1}trailing text\n`), undefined);
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
    assert.ok(createPublicKey(privateKey), 'the original is fine');
  });
});
