/** Pure parts of the virtualbox driver: host-only CIDR rules, VBoxManage output parsing, states, share folders. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseShareFolder, stateFromVMState } from '../../drivers/virtualbox/driver.js';
import { parseHostOnlyCidr, pickFreeAddress } from '../../drivers/virtualbox/network.js';
import {
  isSupportedVersion,
  parseBlocks,
  parseMachineReadable,
  parseVersion,
} from '../../drivers/virtualbox/vboxmanage.js';
import { UsageError } from '../../src/core/errors.js';

describe('host-only CIDR', () => {
  it('splits a /24 into static addresses (lower half) and a DHCP range (upper half)', () => {
    const network = parseHostOnlyCidr('192.168.56.1/24');
    assert.equal(network.netmask, '255.255.255.0');
    assert.equal(network.staticPool[0], '192.168.56.2');
    assert.equal(network.staticPool.at(-1), '192.168.56.127');
    assert.equal(network.staticPool.length, 126);
    assert.deepEqual(network.dhcp, {
      serverIp: '192.168.56.128',
      lowerIp: '192.168.56.129',
      upperIp: '192.168.56.254',
    });
    assert.equal(pickFreeAddress(network, new Set(['192.168.56.2', '192.168.56.3'])), '192.168.56.4');
  });

  it('accepts any network inside 192.168.56.0/21 and a host address other than the first', () => {
    const network = parseHostOnlyCidr('192.168.63.10/28');
    assert.equal(network.network, '192.168.63.0');
    assert.equal(network.netmask, '255.255.255.240');
    assert.ok(!network.staticPool.includes('192.168.63.10'));
    assert.equal(parseHostOnlyCidr('192.168.56.1/21').broadcast, '192.168.63.255');
  });

  for (const [cidr, message] of [
    ['192.168.99.1/24', /outside 192\.168\.56\.0\/21/],
    ['10.0.0.1/24', /outside 192\.168\.56\.0\/21/],
    ['192.168.56.1/16', /prefix must be \/21 to \/29/],
    ['192.168.56.0/24', /the address part is the host's own address/],
    ['192.168.56.255/24', /the address part is the host's own address/],
    ['192.168.56.1', /must look like 192\.168\.56\.1\/24/],
    ['192.168.56.300/24', /must look like/],
  ] as const) {
    it(`rejects ${cidr} with a usage error`, () => {
      assert.throws(
        () => parseHostOnlyCidr(cidr),
        (error: Error) => error instanceof UsageError && message.test(error.message),
      );
    });
  }
});

describe('VBoxManage output', () => {
  it('parses showvminfo --machinereadable, quoted keys and escapes included', () => {
    const info = parseMachineReadable(
      'name="web"\nmemory=2048\nVMState="running"\n"SATA-0-0"="/v/disk.vdi"\nForwarding(0)="ssh,tcp,127.0.0.1,2222,,22"\ndescription="a \\"quoted\\" word"\n',
    );
    assert.deepEqual(info, {
      name: 'web',
      memory: '2048',
      VMState: 'running',
      'SATA-0-0': '/v/disk.vdi',
      'Forwarding(0)': 'ssh,tcp,127.0.0.1,2222,,22',
      description: 'a "quoted" word',
    });
  });

  it('parses list blocks (hostonlyifs, dhcpservers)', () => {
    const blocks = parseBlocks(
      'Name:            vboxnet0\nIPAddress:       192.168.56.1\nNetworkMask:     255.255.255.0\n\nName:            vboxnet1\nIPAddress:       192.168.57.1\n\n',
    );
    assert.deepEqual(blocks, [
      { Name: 'vboxnet0', IPAddress: '192.168.56.1', NetworkMask: '255.255.255.0' },
      { Name: 'vboxnet1', IPAddress: '192.168.57.1' },
    ]);
  });

  it('parses versions and knows the oldest supported one (6.1)', () => {
    assert.deepEqual(parseVersion('7.0.20r163906\n'), [7, 0, 20]);
    assert.deepEqual(parseVersion('6.1.50_Ubuntur161033'), [6, 1, 50]);
    assert.equal(parseVersion('WARNING: The vboxdrv kernel module is not loaded'), undefined);
    assert.equal(isSupportedVersion([6, 1, 0]), true);
    assert.equal(isSupportedVersion([7, 1, 4]), true);
    assert.equal(isSupportedVersion([6, 0, 24]), false);
    assert.equal(isSupportedVersion([5, 2, 44]), false);
  });

  it('maps VMState to moor states', () => {
    const cases: Record<string, string> = {
      running: 'Running',
      paused: 'Paused',
      saved: 'Saved',
      poweroff: 'Stopped',
      aborted: 'Stopped',
      starting: 'Starting',
      restoring: 'Starting',
      stopping: 'Stopping',
      gurumeditation: 'Error',
    };
    for (const [vmState, state] of Object.entries(cases)) assert.equal(stateFromVMState(vmState), state, vmState);
  });
});

describe('share folders', () => {
  it('splits HOST:GUEST at the last colon and names the share after the guest path', () => {
    assert.deepEqual(parseShareFolder('/home/me/src:/src'), {
      hostPath: '/home/me/src',
      guestPath: '/src',
      name: 'src',
    });
    assert.deepEqual(parseShareFolder('/a b:/mnt/a b'), { hostPath: '/a b', guestPath: '/mnt/a b', name: 'mnt_a_b' });
    assert.throws(() => parseShareFolder('/only-host'), UsageError);
    assert.throws(() => parseShareFolder('relative:/x'), UsageError);
    assert.throws(() => parseShareFolder('/x:relative'), UsageError);
  });
});
