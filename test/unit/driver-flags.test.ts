import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DriverDefinition } from '../../drivers/api.js';
import { getDriverDefinition } from '../../drivers/registry.js';
import { resolveDriverFlags } from '../../src/core/driver-flags.js';
import { UsageError } from '../../src/core/errors.js';

const fake: DriverDefinition = {
  name: 'fake',
  description: 'test',
  flags: [
    { name: 'fake-ip', type: 'string', description: 'ip', env: ['FAKE_IP'], required: true },
    { name: 'fake-port', type: 'integer', description: 'port', env: ['FAKE_PORT'], default: 22 },
    { name: 'fake-spot', type: 'boolean', description: 'spot', env: ['FAKE_SPOT'] },
    { name: 'fake-tag', type: 'strings', description: 'tags', env: ['FAKE_TAGS'] },
    { name: 'fake-size', type: 'string', description: 'size', options: ['s', 'm'] },
  ],
  load: async () => {
    throw new Error('not used');
  },
};

describe('driver flag resolution', () => {
  it('takes given values over env over defaults', () => {
    assert.deepEqual(resolveDriverFlags(fake, { 'fake-ip': '10.0.0.1' }, { FAKE_IP: 'x', FAKE_PORT: '2222' }), {
      'fake-ip': '10.0.0.1',
      'fake-port': 2222,
    });
    assert.deepEqual(resolveDriverFlags(fake, {}, { FAKE_IP: '10.0.0.2', FAKE_SPOT: 'true', FAKE_TAGS: 'a=1, b=2' }), {
      'fake-ip': '10.0.0.2',
      'fake-port': 22,
      'fake-spot': true,
      'fake-tag': ['a=1', 'b=2'],
    });
  });
  it('names the missing required flag and its env variable', () => {
    assert.throws(
      () => resolveDriverFlags(fake, {}, {}),
      (error: Error) => {
        assert.ok(error instanceof UsageError);
        assert.equal(error.message, 'The fake driver needs --fake-ip (or set FAKE_IP).');
        assert.equal(error.exitCode, 2);
        return true;
      },
    );
  });
  it('rejects bad env values, bad options and flags of another driver', () => {
    assert.throws(
      () => resolveDriverFlags(fake, { 'fake-ip': 'a' }, { FAKE_PORT: 'abc' }),
      /FAKE_PORT must be a whole number/,
    );
    assert.throws(
      () => resolveDriverFlags(fake, { 'fake-ip': 'a' }, { FAKE_SPOT: 'maybe' }),
      /FAKE_SPOT must be true or false/,
    );
    assert.throws(() => resolveDriverFlags(fake, { 'fake-ip': 'a', 'fake-size': 'xl' }, {}), /must be one of s, m/);
    assert.throws(
      () => resolveDriverFlags(fake, { 'fake-ip': 'a', url: 'tcp://x' }, {}),
      /--url does not belong to the fake driver/,
    );
  });
  it('knows the none driver and rejects unknown drivers clearly', () => {
    assert.equal(getDriverDefinition('none').name, 'none');
    assert.throws(() => getDriverDefinition('vmware'), /Driver "vmware" not found. Available drivers: none/);
  });
});
