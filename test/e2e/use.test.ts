/**
 * `moor use`: the machine becomes a docker context in the docker CLI's own store, which the real docker
 * CLI reads; `--unset` restores the context that was current before; `rm` removes the context.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertExit, run, TempStore } from './helpers.js';

describe('moor use (docker contexts)', () => {
  let store: TempStore;
  let dockerConfig: string;
  const env = () => ({ DOCKER_CONFIG: dockerConfig });

  before(async () => {
    store = await TempStore.create();
    dockerConfig = store.path('docker-config');
    await mkdir(dockerConfig, { recursive: true });
    // A config the user already has: moor must keep its other keys.
    await writeFile(
      join(dockerConfig, 'config.json'),
      JSON.stringify({ auths: { 'registry.example': {} }, currentContext: 'mine' }),
    );
    assertExit(await store.createNone('web', 'tcp://127.0.0.1:1'), 0, 'create web');
    assertExit(await store.createNone('db', 'tcp://127.0.0.1:2'), 0, 'create db');
  });
  after(() => store.cleanup());

  it('writes a context the docker CLI reads, with the machine TLS material, and makes it current', async () => {
    const used = await store.moor(['use', 'web'], { env: env() });
    assertExit(used, 0, 'use web');
    assert.equal(used.stdout.trim(), 'Current docker context: moor-web');

    const id = createHash('sha256').update('moor-web').digest('hex');
    const meta = JSON.parse(await readFile(join(dockerConfig, 'contexts', 'meta', id, 'meta.json'), 'utf8'));
    assert.deepEqual(meta.Endpoints.docker, { Host: 'tcp://127.0.0.1:1', SkipTLSVerify: false });
    const tls = join(dockerConfig, 'contexts', 'tls', id, 'docker');
    assert.equal(
      await readFile(join(tls, 'ca.pem'), 'utf8'),
      await readFile(store.path('machines', 'web', 'ca.pem'), 'utf8'),
    );
    assert.equal((await stat(join(tls, 'key.pem'))).mode & 0o777, 0o600);

    const config = JSON.parse(await readFile(join(dockerConfig, 'config.json'), 'utf8'));
    assert.equal(config.currentContext, 'moor-web');
    assert.deepEqual(config.auths, { 'registry.example': {} }, 'other keys of config.json are kept');

    const inspect = await run('docker', ['context', 'inspect', '--format', '{{.Endpoints.docker.Host}}', 'moor-web'], {
      env: { DOCKER_CONFIG: dockerConfig, PATH: process.env['PATH'] ?? '' },
    });
    assertExit(inspect, 0, 'docker context inspect');
    assert.equal(inspect.stdout.trim(), 'tcp://127.0.0.1:1');
    const list = await run('docker', ['context', 'ls', '--format', '{{.Name}} {{.Current}}'], {
      env: { DOCKER_CONFIG: dockerConfig, PATH: process.env['PATH'] ?? '' },
    });
    assert.match(list.stdout, /^moor-web true$/m);
  });

  it('ls and active follow the current context when DOCKER_HOST is not set', async () => {
    const ls = await store.moor(['ls', '--format', '{{.Name}} {{.Active}}'], { env: env() });
    assert.deepEqual(ls.stdout.trim().split('\n').sort(), ['db -', 'web *']);
    const active = await store.moor(['active'], { env: env() });
    assertExit(active, 0, 'active');
    assert.equal(active.stdout.trim(), 'web');
    const overridden = await store.moor(['ls', '--format', '{{.Name}} {{.Active}}'], {
      env: { ...env(), DOCKER_HOST: 'tcp://127.0.0.1:2' },
    });
    assert.deepEqual(overridden.stdout.trim().split('\n').sort(), ['db *', 'web -'], 'DOCKER_HOST wins');
  });

  it('switching machines keeps the first previous context; --unset restores it', async () => {
    assertExit(await store.moor(['use', 'db'], { env: env() }), 0, 'use db');
    let config = JSON.parse(await readFile(join(dockerConfig, 'config.json'), 'utf8'));
    assert.equal(config.currentContext, 'moor-db');
    const unset = await store.moor(['use', '--unset'], { env: env() });
    assertExit(unset, 0, 'use --unset');
    assert.equal(unset.stdout.trim(), 'Current docker context: mine');
    config = JSON.parse(await readFile(join(dockerConfig, 'config.json'), 'utf8'));
    assert.equal(config.currentContext, 'mine');
  });

  it('rm removes the machine context, and restores the previous one if it was current', async () => {
    assertExit(await store.moor(['use', 'web'], { env: env() }), 0, 'use web');
    assertExit(await store.moor(['rm', '-y', 'web'], { env: env() }), 0, 'rm web');
    const id = createHash('sha256').update('moor-web').digest('hex');
    assert.equal(await stat(join(dockerConfig, 'contexts', 'meta', id)).catch(() => undefined), undefined);
    const config = JSON.parse(await readFile(join(dockerConfig, 'config.json'), 'utf8'));
    assert.equal(config.currentContext, 'mine');
  });
});
