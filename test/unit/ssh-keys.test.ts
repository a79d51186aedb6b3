/** Host key fingerprints and pins, the channel limiter, lazy loading of ssh2; no network and no sshd. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MoorError } from '../../src/core/errors.js';
import {
  checkPrivateKey,
  ed25519KeyPair,
  fingerprint,
  parseHostKeyPin,
  pinMatches,
  publicKeyLine,
  readPrivateKey,
} from '../../src/core/ssh/keys.js';
import { Limiter } from '../../src/core/ssh/limiter.js';
import { testKeyPair } from '../helpers/keys.js';

/** A syntactically valid ed25519 public key blob: string "ssh-ed25519", then 32 key bytes. */
function ed25519Blob(fill: number): Buffer {
  const type = Buffer.from('ssh-ed25519');
  const key = Buffer.alloc(32, fill);
  const blob = Buffer.alloc(4 + type.length + 4 + key.length);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(key.length, 4 + type.length);
  key.copy(blob, 8 + type.length);
  return blob;
}

describe('host keys', () => {
  const blob = ed25519Blob(7);
  const line = publicKeyLine(blob);

  it('writes the OpenSSH public key line of a key', () => {
    assert.equal(line, `ssh-ed25519 ${blob.toString('base64')}`);
    assert.match(line, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5/);
  });

  it('fingerprints like OpenSSH: SHA256 and unpadded base64, from a buffer, a line or a fingerprint', () => {
    const expected = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
    assert.equal(fingerprint(blob), expected);
    assert.equal(fingerprint(line), expected);
    assert.equal(fingerprint(`${line} root@host\n`), expected);
    assert.equal(fingerprint(expected), expected);
    assert.doesNotMatch(expected, /=$/);
  });

  it('matches a pin given as a key line (comment ignored) or as a fingerprint', () => {
    const other = ed25519Blob(8);
    for (const pin of [line, `${line} comment here`, fingerprint(blob)]) {
      const parsed = parseHostKeyPin(pin);
      assert.equal(pinMatches(parsed, blob), true, pin);
      assert.equal(pinMatches(parsed, other), false, pin);
    }
  });

  it('refuses a pin that is not a key', () => {
    for (const bad of ['', 'ssh-ed25519', 'ssh-ed25519 not-base64!', `ssh-rsa ${blob.toString('base64')}`]) {
      assert.throws(
        () => parseHostKeyPin(bad),
        (error: unknown) => error instanceof MoorError && error.code === 'SSH_BAD_HOST_KEY',
        bad,
      );
    }
  });
});

describe('new ed25519 key pairs (ed25519KeyPair)', () => {
  const execFileAsync = promisify(execFile);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moor-keypair-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Reads a pair back with ssh2 and checks that its two halves are one key. */
  async function assertUsable(pair: { private: string; public: string }) {
    const { utils } = await (await import('../../src/core/ssh/load.js')).loadSsh2();
    const privateKey = utils.parseKey(pair.private);
    const publicKey = utils.parseKey(pair.public);
    assert.ok(!(privateKey instanceof Error), `the private key parses: ${String(privateKey)}`);
    assert.ok(!(publicKey instanceof Error), `the public key parses: ${String(publicKey)}`);
    const [mine, theirs] = [privateKey, publicKey].map((key) => (Array.isArray(key) ? key[0]! : key));
    assert.ok(mine!.isPrivateKey());
    assert.deepEqual(mine!.getPublicSSH(), theirs!.getPublicSSH());
    const signature = mine!.sign(Buffer.from('moor'));
    assert.ok(theirs!.verify(Buffer.from('moor'), signature as Buffer), 'a signature of the private key verifies');
  }

  it('are in OpenSSH formats that ssh-keygen reads: the same public key from the private key file', async () => {
    const pair = ed25519KeyPair('moor-id_test');
    assert.match(
      pair.private,
      /^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,70}\n)+-----END OPENSSH PRIVATE KEY-----\n$/,
    );
    assert.match(pair.public, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} moor-id_test$/);
    const file = join(dir, 'id_test');
    await writeFile(file, pair.private, { mode: 0o600 });
    const { stdout } = await execFileAsync('ssh-keygen', ['-y', '-f', file]);
    assert.equal(stdout.trim().split(' ').slice(0, 2).join(' '), pair.public.split(' ').slice(0, 2).join(' '));
    await assertUsable(pair);
  });

  it('keep a public key that begins with zero bytes whole (ssh2 stripped them: one key in 256 unreadable)', async () => {
    // Made until one such key comes (about 1 in 256; bounded), then read back as any other.
    let pair: { private: string; public: string } | undefined;
    for (let i = 0; i < 100_000 && !pair; i++) {
      const candidate = ed25519KeyPair('moor-zero');
      const blob = Buffer.from(candidate.public.split(' ')[1]!, 'base64');
      if (blob[4 + 11 + 4] === 0) pair = candidate;
    }
    assert.ok(pair, 'a key beginning with a zero byte was made');
    const blob = Buffer.from(pair.public.split(' ')[1]!, 'base64');
    assert.equal(blob.readUInt32BE(15), 32, 'the public key is 32 bytes long');
    await assertUsable(pair);
    const file = join(dir, 'id_zero');
    await writeFile(file, pair.private, { mode: 0o600 });
    await checkPrivateKey(file);
  });

  it('are all readable: 500 pairs in a row', async () => {
    for (let i = 0; i < 500; i++) await assertUsable(ed25519KeyPair(`moor-${i}`));
  });
});

describe('Limiter', () => {
  it('runs at most N tasks at once, in order, and passes results and errors through', async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    // Every task waits until three run at once (a barrier, not a delay); from then on they pass.
    let full!: () => void;
    const threeRunning = new Promise<void>((resolve) => (full = resolve));
    const task = (i: number) =>
      limiter.run(async () => {
        running += 1;
        peak = Math.max(peak, running);
        order.push(i);
        if (running === 3) full();
        await threeRunning;
        running -= 1;
        if (i === 4) throw new Error('four');
        return i * 2;
      });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => task(i)));
    assert.equal(peak, 3);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(results[4]?.status, 'rejected');
    assert.deepEqual(
      results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value),
      [0, 2, 4, 6, 10, 12, 14, 16, 18],
    );
    assert.equal(limiter.running, 0);
  });

  it('rejects a limit below 1', () => {
    assert.throws(() => new Limiter(0), RangeError);
  });
});

describe('loading', () => {
  it('importing src/core/ssh does not load ssh2 (commands without SSH do not pay for it)', async () => {
    const index = fileURLToPath(new URL('../../src/core/ssh/index.ts', import.meta.url));
    const script = [
      "import { createRequire } from 'node:module';",
      'const require = createRequire(import.meta.url);',
      `const ssh = await import(${JSON.stringify(index)});`,
      "if (typeof ssh.connect !== 'function') throw new Error('no connect');",
      "const loaded = Object.keys(require.cache).filter((path) => path.includes('node_modules/ssh2/'));",
      'console.log(loaded.length);',
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      script,
    ]);
    assert.equal(stdout.trim(), '0');
  });
});

describe('private keys are checked before anything uses them', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moor-keys-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function keyFile(name: string, content: string, mode = 0o600): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    await chmod(path, mode);
    return path;
  }

  async function refused(path: string, code: string, message: RegExp, given?: string): Promise<MoorError> {
    const error = await readPrivateKey(path, given).then(
      () => assert.fail(`${path} was accepted`),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof MoorError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return error;
  }

  it('accepts a private key without a passphrase', async () => {
    const path = await keyFile('good', (await testKeyPair()).private);
    await checkPrivateKey(path);
    assert.match((await readPrivateKey(path)).toString(), /BEGIN OPENSSH PRIVATE KEY/);
  });

  it('refuses a public key, naming the file and the private key to give instead', async () => {
    const path = await keyFile('id_test.pub', (await testKeyPair()).public);
    const error = await refused(path, 'SSH_KEY_INVALID', new RegExp(`SSH private key ${path} is a public key`));
    assert.deepEqual(error.suggestions, [`Give the private key: ${join(dir, 'id_test')}.`]);
  });

  it('refuses garbage', async () => {
    const path = await keyFile('garbage', 'this is not a key\n');
    const error = await refused(path, 'SSH_KEY_INVALID', /is not a private key moor can read/);
    assert.match(error.suggestions.join('\n'), /ssh-keygen -t ed25519/);
  });

  it('refuses a key with a passphrase, saying how to remove it or to use the agent', async () => {
    const path = await keyFile('locked', (await testKeyPair('secret')).private);
    const error = await refused(path, 'SSH_KEY_ENCRYPTED', /is protected by a passphrase/);
    const hints = error.suggestions.join('\n');
    assert.match(hints, /ssh-keygen -p -N "" -f KEY/);
    assert.match(hints, /SSH agent \(ssh-add\)/);
  });

  it("names the file the user gave when the path is moor's copy", async () => {
    const copy = await keyFile('copy', (await testKeyPair('secret')).private);
    const error = await refused(
      copy,
      'SSH_KEY_ENCRYPTED',
      /SSH private key \/home\/me\/id_locked \(moor's copy: /,
      '/home/me/id_locked',
    );
    assert.match(error.suggestions.join('\n'), /cp \/home\/me\/id_locked KEY/);
  });

  it('still refuses a missing key and one others can read (checked before the content)', async () => {
    await refused(join(dir, 'nope'), 'SSH_KEY_MISSING', /does not exist/);
    const open = await keyFile('open', 'not even a key', 0o644);
    await refused(open, 'SSH_KEY_PERMISSIONS', /chmod 600/);
  });
});
