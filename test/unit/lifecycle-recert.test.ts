/**
 * changeState after start: a host whose address changed (a cloud instance's new public IP after stop and
 * start) gets a new server certificate naming it; an unchanged address leaves the certificate alone.
 * Uses the fake driver (test/helpers/fake-driver.ts), whose host's address the test moves.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeCertificate } from '../../src/core/certs.js';
import { changeState, createMachine } from '../../src/core/lifecycle.js';
import { silentLogger } from '../../src/core/log.js';
import { Store } from '../../src/core/store.js';
import { fakeDriver } from '../helpers/fake-driver.js';

const moving = fakeDriver({ label: 'moving', ip: '203.0.113.10' });

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
      { name: 'cloud', driver: moving.name, driverFlags: {}, tlsSans: ['cloud.example'] },
      silentLogger,
    );
    const first = await serverCert('cloud');
    assert.deepEqual(first.info.ipAddresses, ['203.0.113.10']);

    await changeState(store, 'cloud', 'stop', silentLogger);
    await changeState(store, 'cloud', 'start', silentLogger);
    assert.equal((await serverCert('cloud')).pem, first.pem, 'same address: certificate untouched');

    await changeState(store, 'cloud', 'stop', silentLogger);
    moving.host('cloud').ip = '198.51.100.77';
    const steps: string[] = [];
    await changeState(store, 'cloud', 'start', { ...silentLogger, step: (message) => steps.push(message) });
    const second = await serverCert('cloud');
    assert.notEqual(second.pem, first.pem);
    assert.deepEqual(second.info.ipAddresses, ['198.51.100.77']);
    assert.ok(second.info.dnsNames.includes('cloud.example'));
    assert.ok(steps.some((step) => /new address \(198\.51\.100\.77\)/.test(step)));
    assert.deepEqual(
      moving.callsFor('cloud').filter((operation) => operation === 'start' || operation === 'stop'),
      ['stop', 'start', 'stop', 'start'],
    );
  });
});
