/**
 * changeState after start: a host whose address changed (a cloud instance's new public IP after stop and
 * start) gets a new server certificate naming it; an unchanged address leaves the certificate alone.
 * Uses a driver registered for the test, whose address the test moves.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BaseDriver, type DriverContext } from '../../drivers/api.js';
import { registerDriver } from '../../drivers/registry.js';
import { describeCertificate } from '../../src/core/certs.js';
import { changeState, createMachine } from '../../src/core/lifecycle.js';
import { silentLogger } from '../../src/core/log.js';
import { MachineState, type MachineStateValue } from '../../src/core/machine.js';
import { Store } from '../../src/core/store.js';

/** Where the test's "hosts" are: machine name -> address and power state. */
const hosts = new Map<string, { ip: string; running: boolean }>();

class MovingDriver extends BaseDriver {
  readonly driverName = 'moving-test';
  override readonly provisions = false;
  constructor(context: DriverContext) {
    super(context);
  }
  private host() {
    return hosts.get(this.context.machineName)!;
  }
  async create(): Promise<void> {
    hosts.set(this.context.machineName, { ip: '203.0.113.10', running: true });
  }
  async getState(): Promise<MachineStateValue> {
    return this.host().running ? MachineState.Running : MachineState.Stopped;
  }
  override async start(): Promise<void> {
    this.host().running = true;
  }
  override async stop(): Promise<void> {
    this.host().running = false;
  }
  async getIP(): Promise<string> {
    return this.host().ip;
  }
  async getURL(): Promise<string> {
    return `tcp://${this.host().ip}:2376`;
  }
  toJSON(): Record<string, unknown> {
    return {};
  }
}

registerDriver({
  name: 'moving-test',
  description: 'test driver whose address moves',
  flags: [],
  load: async () => ({
    fromFlags: (context) => new MovingDriver(context),
    fromRecord: (context) => new MovingDriver(context),
  }),
});

describe('start re-issues the server certificate when the address changed', () => {
  let store: Store;
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'moor-recert-'));
    store = new Store(root);
  });
  after(() => rm(root, { recursive: true, force: true }));

  async function serverCert(name: string) {
    const pem = await readFile(join(store.machineDir(name), 'server.pem'), 'utf8');
    return { pem, info: describeCertificate(pem) };
  }

  it('a new address gets a new certificate; the same address keeps the old one', async () => {
    await createMachine(
      store,
      { name: 'cloud', driver: 'moving-test', driverFlags: {}, tlsSans: ['cloud.example'] },
      silentLogger,
    );
    const first = await serverCert('cloud');
    assert.deepEqual(first.info.ipAddresses, ['203.0.113.10']);

    await changeState(store, 'cloud', 'stop', silentLogger);
    await changeState(store, 'cloud', 'start', silentLogger);
    assert.equal((await serverCert('cloud')).pem, first.pem, 'same address: certificate untouched');

    await changeState(store, 'cloud', 'stop', silentLogger);
    hosts.get('cloud')!.ip = '198.51.100.77';
    const steps: string[] = [];
    await changeState(store, 'cloud', 'start', { ...silentLogger, step: (message) => steps.push(message) });
    const second = await serverCert('cloud');
    assert.notEqual(second.pem, first.pem);
    assert.deepEqual(second.info.ipAddresses, ['198.51.100.77']);
    assert.ok(second.info.dnsNames.includes('cloud.example'));
    assert.ok(steps.some((step) => /new address \(198\.51\.100\.77\)/.test(step)));
  });
});
