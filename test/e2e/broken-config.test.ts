/**
 * Broken records (invalid JSON, a config version from a newer moor): `ls` keeps listing the rest and shows
 * them as Error rows, `inspect` exits 4 naming the file, `rm -y` refuses them and `rm -f` removes them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { assertCleanError, assertExit, exists, parseJson, TempStore } from './helpers.js';

interface Row {
  Name: string;
  DriverName: string;
  State: string;
  URL: string;
  Error: string;
}

describe('broken machine records', () => {
  let store: TempStore;

  before(async () => {
    store = await TempStore.create();
    await store.createNone('good', 'tcp://127.0.0.1:1');
    const goodConfig = JSON.parse(await readFile(store.path('machines/good/config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    await mkdir(store.machineDir('broken'), { mode: 0o700 });
    await writeFile(store.path('machines/broken/config.json'), '{"ConfigVersion": 1, "Name": "broken",', {
      mode: 0o600,
    });
    await mkdir(store.machineDir('future'), { mode: 0o700 });
    await writeFile(
      store.path('machines/future/config.json'),
      JSON.stringify({ ...goodConfig, ConfigVersion: 99, Name: 'future' }, null, 2),
      { mode: 0o600 },
    );
  });
  after(() => store.cleanup());

  it('ls lists every machine, the broken ones as Error rows with driver "not found" (exit 0)', async () => {
    const [json, table] = await Promise.all([store.moor(['ls', '--json']), store.moor(['ls'])]);
    assertExit(json, 0);
    assertExit(table, 0);
    const rows = parseJson<Row[]>(json);
    assert.deepEqual(
      rows.map((row) => [row.Name, row.DriverName, row.State]),
      [
        ['broken', 'not found', 'Error'],
        ['future', 'not found', 'Error'],
        ['good', 'none', 'Running'],
      ],
    );
    const broken = rows.find((row) => row.Name === 'broken')!;
    assert.ok(broken.Error.includes('invalid JSON'), broken.Error);
    assert.ok(broken.Error.includes(store.path('machines/broken/config.json')), broken.Error);
    const future = rows.find((row) => row.Name === 'future')!;
    assert.ok(future.Error.includes('99'), future.Error);
    const lines = table.stdout.split('\n');
    assert.equal(lines[0], 'NAME     ACTIVE   DRIVER      STATE     URL                 SWARM   DOCKER    ERRORS');
    assert.ok(lines[1]!.startsWith('broken   -        not found   Error                                 Unknown   '));
    assert.ok(lines[1]!.includes('invalid JSON'), lines[1]);
    assert.ok(lines[2]!.startsWith('future   -        not found   Error                                 Unknown   '));
    assert.ok(lines[3]!.startsWith('good     -        none        Running   tcp://127.0.0.1:1           Unknown   '));
  });

  it('ls -q still lists all three', async () => {
    const result = await store.moor(['ls', '-q']);
    assertExit(result, 0);
    assert.equal(result.stdout, 'broken\nfuture\ngood\n');
  });

  it('inspect of invalid JSON exits 4 and names the file', async () => {
    const result = await store.moor(['inspect', 'broken']);
    assertCleanError(result, 4, store.path('machines/broken/config.json'), 'invalid JSON');
    assert.equal(result.stdout, '');
  });

  it('inspect of ConfigVersion 99 exits 4 and names the file and the version', async () => {
    const result = await store.moor(['inspect', 'future']);
    assertCleanError(result, 4, store.path('machines/future/config.json'), 'config version 99');
    assert.equal(result.stdout, '');
  });

  it('other commands on a broken record exit 4 too (status, url, env)', async () => {
    const results = await Promise.all([
      store.moor(['status', 'broken']),
      store.moor(['url', 'future']),
      store.moor(['env', 'broken']),
    ]);
    for (const result of results) assertCleanError(result, 4, 'config.json');
  });

  it('rm -y refuses a broken record and keeps it', async () => {
    const result = await store.moor(['rm', '-y', 'broken']);
    assert.notEqual(result.code, 0, 'rm -y of a broken record must fail');
    assertCleanError(result, 4, 'rm -f broken');
    assert.ok(await exists(store.path('machines/broken/config.json')));
  });

  it('rm -f removes the broken records; the good machine stays', async () => {
    const result = await store.moor(['rm', '-f', 'broken', 'future']);
    assertExit(result, 0);
    assert.equal(result.stdout, 'Successfully removed broken\nSuccessfully removed future\n');
    assert.equal(await exists(store.machineDir('broken')), false);
    assert.equal(await exists(store.machineDir('future')), false);
    const ls = await store.moor(['ls', '-q']);
    assert.equal(ls.stdout, 'good\n');
  });
});

describe('ls -q without a filter reads no record', () => {
  let store: TempStore;

  before(async () => {
    store = await TempStore.create();
    await store.createNone('good', 'tcp://127.0.0.1:1');
    // A record that cannot be read at all: a FIFO with no writer blocks whoever opens it.
    await mkdir(store.machineDir('blocked'), { mode: 0o700 });
    execFileSync('mkfifo', ['-m', '600', store.path('machines/blocked/config.json')]);
  });
  after(() => store.cleanup());

  it('lists both names, as Docker Machine does, without opening the records', async () => {
    for (const env of [{}, { MOOR_NO_FAST_PATH: '1' }]) {
      const result = await store.moor(['ls', '-q'], { env, timeoutMs: 60_000 });
      assertExit(result, 0, `ls -q ${JSON.stringify(env)}`);
      assert.equal(result.stdout, 'blocked\ngood\n');
    }
  });
});
