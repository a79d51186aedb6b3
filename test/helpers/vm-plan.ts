/** A qemu VmPlan of machine "dev" (user network, tcg) for the tests of the argument lists: spread and change it. */
import type { VmPlan } from '../../drivers/qemu/args.js';

export const VM_PLAN: VmPlan = {
  name: 'dev',
  arch: 'x86_64',
  accel: 'tcg',
  memoryMb: 2048,
  cpus: 2,
  disk: '/m/dev/disk.qcow2',
  seed: '/m/dev/seed.iso',
  mac: '52:54:00:12:34:56',
  network: { kind: 'user', sshPort: 40022 },
  qmpSocket: '/m/dev/qmp.sock',
  pidFile: '/m/dev/qemu.pid',
  serialLog: '/m/dev/console.log',
};
