/** `moor ls` (table, --quiet, --format, --filter, --json) and `moor active`. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertCleanError, assertExit, parseJson, tabwrite, TempStore, walk } from './helpers.js';

interface Row {
  Name: string;
  Active: string;
  ActiveHost: boolean;
  DriverName: string;
  State: string;
  URL: string;
  Swarm: string;
  DockerVersion: string;
  Error: string;
  Labels: string[];
}

const HEADER = ['NAME', 'ACTIVE', 'DRIVER', 'STATE', 'URL', 'SWARM', 'DOCKER', 'ERRORS'];
const MACHINES: { name: string; url: string; labels: string[] }[] = [
  { name: 'web10', url: 'tcp://127.0.0.1:1', labels: ['env=prod', 'tier=fe'] },
  { name: 'web2', url: 'tcp://127.0.0.1:2', labels: ['env=prod'] },
  { name: 'db', url: 'tcp://127.0.0.1:3', labels: ['env=dev'] },
  { name: 'web1', url: 'tcp://127.0.0.1:4', labels: [] },
];
const SORTED = ['db', 'web1', 'web2', 'web10'];

function cells(row: Row): string[] {
  return [row.Name, row.Active, row.DriverName, row.State, row.URL, row.Swarm, row.DockerVersion, row.Error];
}

describe('ls', () => {
  let store: TempStore;
  let rows: Row[];

  before(async () => {
    store = await TempStore.create();
    // The first create makes the CA; the others then run together.
    const [first, ...rest] = MACHINES;
    const create = (m: (typeof MACHINES)[number]) =>
      store.createNone(
        m.name,
        m.url,
        m.labels.flatMap((label) => ['--engine-label', label]),
      );
    await create(first!);
    await Promise.all(rest.map(create));
    const result = await store.moor(['ls', '--json']);
    assertExit(result, 0);
    rows = parseJson<Row[]>(result);
  });
  after(() => store.cleanup());

  it('--json prints exactly one JSON document: an array of rows, naturally sorted', () => {
    assert.ok(Array.isArray(rows));
    assert.deepEqual(
      rows.map((row) => row.Name),
      SORTED,
    );
    for (const row of rows) {
      const machine = MACHINES.find((m) => m.name === row.Name)!;
      assert.equal(row.DriverName, 'none');
      assert.equal(row.State, 'Running');
      assert.equal(row.URL, machine.url);
      assert.equal(row.Active, '-');
      assert.equal(row.ActiveHost, false);
      assert.deepEqual(row.Labels, machine.labels);
    }
  });

  it('prints the default table with tabwriter alignment (minwidth 5, padding 3), web2 before web10', async () => {
    const result = await store.moor(['ls']);
    assertExit(result, 0);
    assert.equal(result.stdout, tabwrite([HEADER, ...rows.map(cells)]));
    const lines = result.stdout.split('\n');
    assert.equal(lines[0], 'NAME    ACTIVE   DRIVER   STATE     URL                 SWARM   DOCKER    ERRORS');
    assert.deepEqual(
      lines.slice(1, -1).map((line) => line.split(' ')[0]),
      SORTED,
    );
    assert.match(lines[1]!, /^db {6}- {8}none {5}Running {3}tcp:\/\/127\.0\.0\.1:3 {3} {8}Unknown {3}/);
  });

  it('pads a column to at least 5 + 3 when its cells are short (one machine "db")', async () => {
    const result = await store.moor(['ls', '--filter', 'name=^db$']);
    assertExit(result, 0);
    const [header, row, end] = result.stdout.split('\n');
    assert.equal(header, 'NAME   ACTIVE   DRIVER   STATE     URL                 SWARM   DOCKER    ERRORS');
    assert.ok(row!.startsWith('db     -        none     Running   tcp://127.0.0.1:3           Unknown   '), row);
    assert.equal(end, '');
  });

  it('--quiet prints only the names, in natural order', async () => {
    const result = await store.moor(['ls', '--quiet']);
    assertExit(result, 0);
    assert.equal(result.stdout, `${SORTED.join('\n')}\n`);
  });

  it('--format "{{.Name}} {{.DriverName}}" prints one line per machine, without a header', async () => {
    const result = await store.moor(['ls', '--format', '{{.Name}} {{.DriverName}}']);
    assertExit(result, 0);
    assert.equal(result.stdout, SORTED.map((name) => `${name} none\n`).join(''));
  });

  it('--format "table {{.Name}}\\t{{.State}}" prints an aligned table with headers', async () => {
    const result = await store.moor(['ls', '--format', 'table {{.Name}}\t{{.State}}']);
    assertExit(result, 0);
    assert.equal(result.stdout, 'NAME    STATE\ndb      Running\nweb1    Running\nweb2    Running\nweb10   Running\n');
  });

  const filters: { title: string; args: string[]; expected: string[] }[] = [
    { title: 'driver=none', args: ['--filter', 'driver=none'], expected: SORTED },
    { title: 'driver=other', args: ['--filter', 'driver=virtualbox'], expected: [] },
    { title: 'name=^web (regex)', args: ['--filter', 'name=^web'], expected: ['web1', 'web2', 'web10'] },
    { title: 'label=env=prod', args: ['--filter', 'label=env=prod'], expected: ['web2', 'web10'] },
    { title: 'label=tier (key only)', args: ['--filter', 'label=tier'], expected: ['web10'] },
    { title: 'state=running (case-insensitive)', args: ['--filter', 'state=running'], expected: SORTED },
    { title: 'state=RUNNING (case-insensitive)', args: ['--filter', 'state=RUNNING'], expected: SORTED },
    { title: 'state=Stopped', args: ['--filter', 'state=Stopped'], expected: [] },
    {
      title: 'two name filters (OR)',
      args: ['--filter', 'name=^db$', '--filter', 'name=^web1$'],
      expected: ['db', 'web1'],
    },
    {
      title: 'two label filters (OR)',
      args: ['--filter', 'label=env=dev', '--filter', 'label=tier=fe'],
      expected: ['db', 'web10'],
    },
    {
      title: 'name and label filters (AND)',
      args: ['--filter', 'name=^web', '--filter', 'label=env=prod'],
      expected: ['web2', 'web10'],
    },
    {
      title: 'driver and label filters (AND)',
      args: ['--filter', 'driver=none', '--filter', 'label=env=dev'],
      expected: ['db'],
    },
    {
      title: 'name and label filters that exclude each other (AND)',
      args: ['--filter', 'name=^web', '--filter', 'label=env=dev'],
      expected: [],
    },
  ];

  it('--filter: same key ORs, different keys AND', async () => {
    const results = await Promise.all(filters.map((f) => store.moor(['ls', '-q', ...f.args])));
    filters.forEach((f, index) => {
      const result = results[index]!;
      assertExit(result, 0, f.title);
      assert.equal(result.stdout, f.expected.map((name) => `${name}\n`).join(''), f.title);
    });
  });

  it('rejects a bad filter key or a filter without "=" with exit 2', async () => {
    const [badKey, noEquals] = await Promise.all([
      store.moor(['ls', '--filter', 'foo=bar']),
      store.moor(['ls', '--filter', 'nofilter']),
    ]);
    assertCleanError(badKey, 2, 'foo');
    assertCleanError(noEquals, 2, 'nofilter');
    assert.equal(badKey.stdout, '');
    assert.equal(noEquals.stdout, '');
  });

  it('marks the machine whose URL is DOCKER_HOST as active (*)', async () => {
    const env = { DOCKER_HOST: 'tcp://127.0.0.1:2' };
    const [table, json] = await Promise.all([store.moor(['ls'], { env }), store.moor(['ls', '--json'], { env })]);
    assertExit(table, 0);
    assertExit(json, 0);
    const activeRows = parseJson<Row[]>(json);
    assert.deepEqual(
      activeRows.map((row) => [row.Name, row.Active, row.ActiveHost]),
      [
        ['db', '-', false],
        ['web1', '-', false],
        ['web2', '*', true],
        ['web10', '-', false],
      ],
    );
    assert.equal(table.stdout, tabwrite([HEADER, ...activeRows.map(cells)]));
    assert.match(table.stdout, /^web2 {4}\* {8}none /m);
  });

  it('active prints the machine DOCKER_HOST points at (exit 0)', async () => {
    const result = await store.moor(['active'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:4' } });
    assertExit(result, 0);
    assert.equal(result.stdout, 'web1\n');
  });

  it('active without DOCKER_HOST fails with exit 1', async () => {
    const result = await store.moor(['active']);
    assertCleanError(result, 1, 'DOCKER_HOST');
    assert.equal(result.stdout, '');
  });

  it('active with a DOCKER_HOST that no machine has fails with exit 1', async () => {
    const result = await store.moor(['active'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    assertCleanError(result, 1, 'tcp://127.0.0.1:9');
    assert.equal(result.stdout, '');
  });

  it('lists an empty store as a header only, and creates nothing', async () => {
    const empty = await TempStore.create();
    try {
      const result = await empty.moor(['ls']);
      assertExit(result, 0);
      assert.equal(result.stdout, 'NAME   ACTIVE   DRIVER   STATE   URL   SWARM   DOCKER   ERRORS\n');
      const json = await empty.moor(['ls', '--json']);
      assertExit(json, 0);
      assert.deepEqual(parseJson(json), []);
      assert.deepEqual(await walk(empty.root), [], 'ls must not write to the store');
    } finally {
      await empty.cleanup();
    }
  });
});
