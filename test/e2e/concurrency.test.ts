/**
 * 20 `moor create` processes started together on one fresh store while `ls --json` runs in a loop: every
 * create succeeds, ls never fails or prints broken JSON, one CA is made, and nothing temporary is left.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { assertExit, parseJson, type RunResult, TempStore, walk } from './helpers.js';

const COUNT = 20;
const NAMES = Array.from({ length: COUNT }, (_, index) => `node${index + 1}`);

describe('concurrent creates on one store', () => {
  let store: TempStore;
  let creates: RunResult[];
  const listings: RunResult[] = [];

  before(async () => {
    store = await TempStore.create();
    let done = false;
    const lister = (async () => {
      // At least a few listings, however fast the creates are.
      while (!done || listings.length < 3) listings.push(await store.moor(['ls', '--json']));
    })();
    try {
      creates = await Promise.all(
        NAMES.map((name, index) =>
          store.moor(['create', name, '-d', 'none', '--url', `tcp://127.0.0.1:${index + 1}`], {
            timeoutMs: 60_000,
          }),
        ),
      );
    } finally {
      done = true;
      await lister;
    }
  });
  after(() => store.cleanup());

  it(`all ${COUNT} creates exit 0`, () => {
    creates.forEach((result, index) => assertExit(result, 0, `create ${NAMES[index]}`));
  });

  it('ls --json never failed and always printed one JSON array of valid rows', () => {
    assert.ok(listings.length >= 3, `${listings.length} listings`);
    for (const result of listings) {
      assertExit(result, 0, 'ls --json during the creates');
      const rows = parseJson<{ Name: string; DriverName: string }[]>(result);
      assert.ok(Array.isArray(rows));
      for (const row of rows) {
        assert.ok(NAMES.includes(row.Name), `unexpected row ${row.Name}`);
        assert.notEqual(row.DriverName, 'not found', `a half-written record was listed: ${JSON.stringify(row)}`);
      }
    }
  });

  it(`afterwards exactly ${COUNT} valid records exist`, async () => {
    assert.deepEqual((await readdir(store.path('machines'))).sort(), [...NAMES].sort());
    for (const [index, name] of NAMES.entries()) {
      const config = JSON.parse(await readFile(store.path('machines', name, 'config.json'), 'utf8')) as {
        ConfigVersion: number;
        Name: string;
        Phase: string;
        Driver: { URL: string };
      };
      assert.equal(config.ConfigVersion, 1);
      assert.equal(config.Name, name);
      assert.equal(config.Phase, 'created');
      assert.equal(config.Driver.URL, `tcp://127.0.0.1:${index + 1}`);
    }
    const ls = await store.moor(['ls', '--json']);
    assertExit(ls, 0);
    const rows = parseJson<{ Name: string; State: string; Error: string }[]>(ls);
    assert.equal(rows.length, COUNT);
    for (const row of rows) assert.equal(row.State, 'Running', `${row.Name}: ${row.Error}`);
  });

  it('exactly one CA exists, and every machine uses it', async () => {
    assert.deepEqual((await readdir(store.path('certs'))).sort(), ['ca-key.pem', 'ca.pem', 'cert.pem', 'key.pem']);
    const caPem = await readFile(store.path('certs/ca.pem'), 'utf8');
    const ca = new X509Certificate(caPem);
    const client = new X509Certificate(await readFile(store.path('certs/cert.pem'), 'utf8'));
    assert.ok(client.verify(ca.publicKey), 'the client certificate is signed by the one CA');
    for (const name of NAMES) {
      assert.equal(await readFile(store.path('machines', name, 'ca.pem'), 'utf8'), caPem, `${name}/ca.pem`);
      const server = new X509Certificate(await readFile(store.path('machines', name, 'server.pem'), 'utf8'));
      assert.ok(server.verify(ca.publicKey), `${name}/server.pem is signed by the one CA`);
    }
  });

  it('no staging, temporary or lock files remain', async () => {
    const stray = (await walk(store.root)).filter((path) =>
      /(^|\/)\.new-|\.tmp-|(^|\/)\.rm-|\.stale-|\.lock$/.test(path),
    );
    assert.deepEqual(stray, []);
    assert.deepEqual(await readdir(store.path('locks')), []);
  });
});

describe('concurrent creates of the same name', () => {
  let store: TempStore;

  before(async () => {
    store = await TempStore.create();
  });
  after(() => store.cleanup());

  it('exactly one succeeds, the others exit 5, and the record is the one of the winner', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        store.moor(['create', 'same', '-d', 'none', '--url', `tcp://127.0.0.1:${index + 1}`], { timeoutMs: 60_000 }),
      ),
    );
    const winners = results.flatMap((result, index) => (result.code === 0 ? [index] : []));
    assert.equal(winners.length, 1, `exit codes: ${results.map((result) => result.code).join(', ')}`);
    for (const result of results.filter((r) => r.code !== 0)) {
      assertExit(result, 5);
      assert.ok(result.stderr.includes('Machine "same" already exists.'), result.stderr);
    }
    const config = JSON.parse(await readFile(store.path('machines/same/config.json'), 'utf8')) as {
      Phase: string;
      Driver: { URL: string };
    };
    assert.equal(config.Phase, 'created');
    assert.equal(config.Driver.URL, `tcp://127.0.0.1:${winners[0]! + 1}`);
    assert.deepEqual(await readdir(store.path('machines')), ['same']);
    assert.deepEqual(await readdir(store.path('locks')), []);
  });
});
