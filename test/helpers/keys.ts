/** SSH key pairs for tests, made by ssh2 (no ssh-keygen needed): plain, or protected by a passphrase. */
import { loadSsh2 } from '../../src/core/ssh/load.js';

export async function testKeyPair(passphrase?: string): Promise<{ private: string; public: string }> {
  const { utils } = await loadSsh2();
  return new Promise((resolve, reject) =>
    utils.generateKeyPair(
      'ed25519',
      passphrase ? { passphrase, cipher: 'aes256-ctr', rounds: 2, comment: 'moor-test' } : { comment: 'moor-test' },
      (error, keys) => (error ? reject(error) : resolve(keys)),
    ),
  );
}
