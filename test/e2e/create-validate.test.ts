/**
 * create checks what it can before anything exists, through the built CLI: an SSH key the driver could not
 * use (a public key, garbage, a passphrase) fails the pre-create check naming the file given, with nothing
 * written; and generic takes a refused SSH port on an existing host as the answer after its grace period
 * (MOOR_SSH_REFUSED_GRACE, small here), showing the last error while it waits. Loopback only: the port is
 * one nothing listens on.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testKeyPair } from '../helpers/keys.js';
import { assertCleanError, exists, parseJson, TempStore } from './helpers.js';

/** A loopback port nobody listens on (taken from the OS, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('create validates before it acts (CLI)', () => {
  let store: TempStore;
  let keys: string;
  let port: number;
  let goodKey: string;

  before(async () => {
    store = await TempStore.create();
    keys = store.path('user-keys');
    await mkdir(keys, { recursive: true });
    port = await freePort();
    const plain = await testKeyPair();
    const locked = await testKeyPair('a passphrase');
    const files: [string, string][] = [
      ['id_ed25519', plain.private],
      ['id_ed25519.pub', plain.public],
      ['garbage', 'this is not a key\n'],
      ['id_locked', locked.private],
    ];
    for (const [name, content] of files) {
      await writeFile(join(keys, name), content);
      await chmod(join(keys, name), 0o600);
    }
    goodKey = join(keys, 'id_ed25519');
  });
  after(() => store?.cleanup());

  const createGeneric = (name: string, key: string, env: Record<string, string> = {}) =>
    store.moor(
      [
        'create',
        '-d',
        'generic',
        '--generic-ip-address',
        '127.0.0.1',
        '--generic-ssh-port',
        String(port),
        '--generic-ssh-key',
        key,
        '--ssh-timeout',
        '600',
        name,
      ],
      { env: { SSH_AUTH_SOCK: '', ...env }, timeoutMs: 60_000 },
    );

  async function assertNothingWritten(name: string) {
    assert.equal(await exists(store.machineDir(name)), false, `machines/${name} must not exist`);
    const machines = (await exists(store.path('machines'))) ? await readdir(store.path('machines')) : [];
    assert.deepEqual(
      machines.filter((entry) => entry.includes(name)),
      [],
    );
  }

  const cases: [string, string, string[]][] = [
    ['a public key', 'id_ed25519.pub', ['is a public key, not a private one', `Give the private key: `]],
    ['garbage', 'garbage', ['is not a private key moor can read']],
    ['a key with a passphrase', 'id_locked', ['is protected by a passphrase', 'ssh-keygen -p -N "" -f KEY', 'ssh-add']],
  ];
  for (const [title, file, parts] of cases) {
    it(`generic with ${title}: exit 3 naming the file given, nothing written`, async () => {
      const key = join(keys, file);
      const result = await createGeneric('badkey', key);
      assertCleanError(result, 3, 'Pre-create check failed', `SSH private key ${key} `, ...parts);
      assert.doesNotMatch(result.stderr, /moor's copy/);
      await assertNothingWritten('badkey');
    });
  }

  it('generic, a refused SSH port: the answer after the grace period, with the port, a hint and the last error', async () => {
    const result = await createGeneric('refused', goodKey, { MOOR_SSH_REFUSED_GRACE: '1' });
    assertCleanError(
      result,
      1,
      `127.0.0.1:${port} refused the SSH connection for 1 s`,
      `nothing accepts connections on port ${port}`,
      'sshd is running',
      '--generic-ssh-port',
    );
    // While waiting, progress showed why.
    assert.match(result.stderr, new RegExp(`Still waiting for SSH on 127\\.0\\.0\\.1:${port}: connection refused`));
    // generic keeps the record of a failed create in Error, for "moor rm" (as documented).
    const ls = await store.moor(['ls', '--json']);
    const rows = parseJson<{ Name: string; State: string }[]>(ls);
    assert.deepEqual(
      rows.filter((row) => row.Name === 'refused').map((row) => row.State),
      ['Error'],
    );
    const rm = await store.moor(['rm', '-y', 'refused']);
    assert.equal(rm.code, 0, rm.stderr);
  });

  it('generic, a refused SSH port with no grace: the answer at the first refusal', async () => {
    const result = await createGeneric('refused0', goodKey, { MOOR_SSH_REFUSED_GRACE: '0' });
    assertCleanError(result, 1, `127.0.0.1:${port} refused the SSH connection:`, 'sshd is running');
    await store.moor(['rm', '-y', '-f', 'refused0']);
  });

  it('a bad MOOR_SSH_REFUSED_GRACE: exit 2 before anything is written', async () => {
    const result = await createGeneric('badgrace', goodKey, { MOOR_SSH_REFUSED_GRACE: 'soon' });
    assertCleanError(result, 2, 'MOOR_SSH_REFUSED_GRACE must be a number of seconds; got "soon".');
    await assertNothingWritten('badgrace');
  });
});
