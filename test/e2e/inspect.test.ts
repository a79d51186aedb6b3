/** inspect, config, url, ip and status of none machines. */
import assert from 'node:assert/strict';
import { isAbsolute } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertCleanError, assertExit, exists, parseJson, TempStore } from './helpers.js';

const WEB_URL = 'tcp://127.0.0.1:2376';
const DB_URL = 'tcp://127.0.0.1:2377';

describe('inspect, config, url, ip, status', () => {
  let store: TempStore;

  before(async () => {
    store = await TempStore.create();
    await store.createNone('web', WEB_URL, ['--engine-label', 'env=prod', '--engine-label', 'tier=fe']);
    await store.createNone('db', DB_URL);
  });
  after(() => store.cleanup());

  it('inspect prints the record as JSON indented by 4 spaces, with absolute certificate paths', async () => {
    const result = await store.moor(['inspect', 'web']);
    assertExit(result, 0);
    const view = parseJson<{
      ConfigVersion: number;
      Name: string;
      DriverName: string;
      Driver: { URL: string };
      StorePath: string;
      HostOptions: {
        EngineOptions: { Labels: string[] };
        AuthOptions: Record<string, string | string[]>;
      };
    }>(result);
    assert.equal(result.stdout, `${JSON.stringify(view, null, 4)}\n`, 'indented with 4 spaces');
    assert.ok(result.stdout.startsWith('{\n    "ConfigVersion": 1,\n'), result.stdout);
    assert.equal(view.Name, 'web');
    assert.equal(view.DriverName, 'none');
    assert.equal(view.Driver.URL, WEB_URL);
    assert.equal(view.StorePath, store.root);
    assert.deepEqual(view.HostOptions.EngineOptions.Labels, ['env=prod', 'tier=fe']);
    const dir = store.machineDir('web');
    const auth = view.HostOptions.AuthOptions;
    const expected: Record<string, string> = {
      CertDir: dir,
      CaCertPath: `${dir}/ca.pem`,
      ClientCertPath: `${dir}/cert.pem`,
      ClientKeyPath: `${dir}/key.pem`,
      ServerCertPath: `${dir}/server.pem`,
      ServerKeyPath: `${dir}/server-key.pem`,
    };
    for (const [key, path] of Object.entries(expected)) {
      assert.equal(auth[key], path, key);
      assert.ok(isAbsolute(path), `${key} is absolute`);
      assert.ok(await exists(path), `${key} ${path} exists`);
    }
  });

  it('inspect --format evaluates Go templates', async () => {
    const [url, labels, engine] = await Promise.all([
      store.moor(['inspect', '--format', '{{.Driver.URL}}', 'web']),
      store.moor(['inspect', '--format', '{{json .HostOptions.EngineOptions.Labels}}', 'web']),
      store.moor(['inspect', '-f', '{{.DriverName}} {{.HostOptions.EngineOptions.TlsVerify}}', 'db']),
    ]);
    for (const result of [url, labels, engine]) assertExit(result, 0);
    assert.equal(url.stdout, `${WEB_URL}\n`);
    assert.equal(labels.stdout, '["env=prod","tier=fe"]\n');
    assert.equal(engine.stdout, 'none true\n');
  });

  it('inspect --format with an unknown field exits 2 with a template error', async () => {
    const result = await store.moor(['inspect', '--format', '{{.Nope}}', 'web']);
    assertCleanError(result, 2, 'Nope');
    assert.equal(result.stdout, '');
  });

  it('inspect of a missing machine exits 1', async () => {
    const result = await store.moor(['inspect', 'nope']);
    assertCleanError(result, 1, 'Machine "nope" does not exist. Run "moor ls" to list machines.');
  });

  it('config prints exactly the five docker flags, and warns on stderr that nothing answers', async () => {
    const result = await store.moor(['config', 'web']);
    assertExit(result, 0);
    const dir = store.machineDir('web');
    assert.equal(
      result.stdout,
      [
        '--tlsverify',
        `--tlscacert="${dir}/ca.pem"`,
        `--tlscert="${dir}/cert.pem"`,
        `--tlskey="${dir}/key.pem"`,
        `-H=${WEB_URL}`,
        '',
      ].join('\n'),
    );
    assert.match(result.stderr, /Warning: .*"web".*not answering/);
  });

  it('url prints the Docker URL', async () => {
    const result = await store.moor(['url', 'web']);
    assertExit(result, 0);
    assert.equal(result.stdout, `${WEB_URL}\n`);
  });

  it('ip of two machines prints two lines, in the order given', async () => {
    const [text, json] = await Promise.all([
      store.moor(['ip', 'web', 'db']),
      store.moor(['ip', 'db', 'web', '--json']),
    ]);
    assertExit(text, 0);
    assert.equal(text.stdout, '127.0.0.1\n127.0.0.1\n');
    assertExit(json, 0);
    assert.deepEqual(parseJson(json), [
      { name: 'db', ip: '127.0.0.1' },
      { name: 'web', ip: '127.0.0.1' },
    ]);
  });

  it('ip of an existing and a missing machine prints the existing IP, reports the missing one, exit 1', async () => {
    const result = await store.moor(['ip', 'web', 'nope']);
    assertExit(result, 1);
    assert.equal(result.stdout, '127.0.0.1\n');
    assertCleanError(result, 1, 'Machine "nope" does not exist. Run "moor ls" to list machines.');
  });

  it('status prints Running', async () => {
    const [one, two] = await Promise.all([store.moor(['status', 'web']), store.moor(['status', 'web', 'db'])]);
    assertExit(one, 0);
    assert.equal(one.stdout, 'Running\n');
    assertExit(two, 0);
    assert.equal(two.stdout, 'Running\nRunning\n');
  });

  it('commands without a name use "default", and say so when it does not exist (exit 2)', async () => {
    const result = await store.moor(['url']);
    assertCleanError(result, 2, '"default"');
  });
});
