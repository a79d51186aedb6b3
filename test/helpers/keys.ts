/**
 * SSH key pairs for tests (no ssh-keygen needed): plain ones by moor's own writer, ones protected by a
 * passphrase by ssh2, whose generator makes about one key in 256 that it cannot read back (a public key
 * with its leading zero bytes stripped, mscdex/ssh2#1390): such a pair is made again.
 */
import { loadSsh2 } from '../../src/core/ssh/load.js';
import { ed25519KeyPair } from '../../src/core/ssh/keys.js';

export async function testKeyPair(passphrase?: string): Promise<{ private: string; public: string }> {
  if (!passphrase) return ed25519KeyPair('moor-test');
  const { utils } = await loadSsh2();
  for (let attempt = 1; attempt <= 20; attempt++) {
    const keys = await new Promise<{ private: string; public: string }>((resolve, reject) =>
      utils.generateKeyPair(
        'ed25519',
        { passphrase, cipher: 'aes256-ctr', rounds: 2, comment: 'moor-test' },
        (error, made) => (error ? reject(error) : resolve(made)),
      ),
    );
    if (
      !(utils.parseKey(keys.public) instanceof Error) &&
      !(utils.parseKey(keys.private, passphrase) instanceof Error)
    ) {
      return keys;
    }
  }
  throw new Error('ssh2 made 20 passphrase-protected key pairs in a row that it cannot read back');
}
