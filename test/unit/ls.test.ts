import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BaseDriver, type DriverContext } from '../../drivers/api.js';
import { registerDriver } from '../../drivers/registry.js';
import { MoorError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { CONFIG_VERSION, defaultEngineOptions, MachineState, type MachineStateValue } from '../../src/core/machine.js';
import { Moor } from '../../src/core/moor.js';

/** How many state queries are running at once, and the most seen: proves that ls queries in parallel. */
const queries = { running: 0, most: 0 };

/** A driver whose state answers after a delay taken from its record, or never. */
class SlowDriver extends BaseDriver {
  readonly driverName = 'slow';
  constructor(
    context: DriverContext,
    private readonly delayMs: number,
    private readonly state: MachineStateValue,
  ) {
    super(context);
  }
  async create(): Promise<void> {}
  async getState(): Promise<MachineStateValue> {
    queries.running += 1;
    queries.most = Math.max(queries.most, queries.running);
    if (this.delayMs < 0) return new Promise(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    queries.running -= 1;
    return this.state;
  }
  async getIP(): Promise<string> {
    return '127.0.0.1';
  }
  async getURL(): Promise<string> {
    return 'tcp://127.0.0.1:1';
  }
  toJSON() {
    return { DelayMs: this.delayMs, State: this.state };
  }
}

registerDriver({
  name: 'slow',
  description: 'test driver',
  flags: [],
  load: async () => ({
    fromFlags: (context) => new SlowDriver(context, 0, MachineState.Running),
    fromRecord: (context, state) =>
      new SlowDriver(context, state['DelayMs'] as number, state['State'] as MachineStateValue),
  }),
});

describe('ls', () => {
  let root: string;
  let moor: Moor;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'moor-ls-'));
    moor = new Moor({ storagePath: root, log: silentLogger, env: {} });
    const add = (name: string, delay: number, state: MachineStateValue, labels: string[] = []) =>
      moor.store.add({
        ConfigVersion: CONFIG_VERSION,
        Name: name,
        DriverName: 'slow',
        CreatedAt: new Date().toISOString(),
        Phase: 'created',
        Driver: { DelayMs: delay, State: state },
        HostOptions: {
          EngineOptions: { ...defaultEngineOptions(), Labels: labels },
          AuthOptions: { ServerCertSANs: [] },
        },
      });
    await Promise.all([
      add('fast10', 0, MachineState.Running, ['env=prod']),
      add('fast2', 10, MachineState.Stopped),
      add('hang', -1, MachineState.Running),
      add('slow', 5_000, MachineState.Running),
    ]);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('queries every machine at once and shows Timeout for those that do not answer in time', async () => {
    const items = await moor.list({ timeoutMs: 300, queryDockerVersion: false });
    assert.deepEqual(
      items.map((item) => [item.Name, item.State]),
      [
        ['fast2', 'Stopped'],
        ['fast10', 'Running'],
        ['hang', 'Timeout'],
        ['slow', 'Timeout'],
      ],
    );
    // All four machines were being queried at the same moment: one timeout, not one per slow machine.
    assert.equal(queries.most, 4);
  });

  it('filters on state and label after querying', async () => {
    const running = await moor.list({ timeoutMs: 300, queryDockerVersion: false, filters: ['state=running'] });
    assert.deepEqual(
      running.map((item) => item.Name),
      ['fast10'],
    );
    const labelled = await moor.list({
      timeoutMs: 300,
      queryDockerVersion: false,
      filters: ['label=env=prod', 'driver=SLOW'],
    });
    assert.deepEqual(
      labelled.map((item) => item.Name),
      ['fast10'],
    );
  });

  it('marks the machine whose URL is DOCKER_HOST as active', async () => {
    const items = await moor.list({ timeoutMs: 300, queryDockerVersion: false, dockerHost: 'tcp://127.0.0.1:1' });
    assert.deepEqual(
      items.filter((item) => item.Active === '*').map((item) => item.Name),
      ['fast10'],
    );
  });

  it('reports the DOCKER column error for an engine that refuses connections', async () => {
    const items = await moor.list({ timeoutMs: 2_000, queryDockerVersion: true, filters: ['name=^fast10$'] });
    assert.equal(items.length, 1);
    assert.equal(items[0]!.DockerVersion, 'Unknown');
    assert.match(items[0]!.Error, /^Unable to query docker version: /);
  });

  it('rejects a bad filter before querying anything', async () => {
    await assert.rejects(
      moor.list({ timeoutMs: 300, queryDockerVersion: false, filters: ['colour=red'] }),
      (error: Error) => {
        assert.ok(error instanceof MoorError);
        assert.equal(error.exitCode, 2);
        return true;
      },
    );
  });
});
