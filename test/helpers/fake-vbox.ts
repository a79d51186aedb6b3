/**
 * The fake VBoxManage (test/fixtures/fake-vboxmanage): a folder of state per test, the calls it received,
 * and the environment that points it at that folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FAKE_VBOXMANAGE = fileURLToPath(new URL('../fixtures/fake-vboxmanage/VBoxManage', import.meta.url));

export interface FakeVmState {
  uuid: string;
  cfg: string;
  state: string;
  settings: Record<string, string>;
  natpf: string[];
  storage: Record<string, { type: string; medium: string }>;
  shares: { name: string; hostpath: string }[];
  relayPid?: number;
}

export interface FakeState {
  vms: Record<string, FakeVmState>;
  disks: Record<string, { uuid: string; size: number }>;
  hostonlyifs: { name: string; ip: string; mask: string }[];
  dhcpservers: { network: string; ip: string; mask: string; lower: string; upper: string; enabled: boolean }[];
}

export class FakeVBox {
  private constructor(readonly dir: string) {}

  static async create(): Promise<FakeVBox> {
    return new FakeVBox(await mkdtemp(join(tmpdir(), 'moor-fake-vbox-')));
  }

  /** Every call so far, each as its argv. */
  calls(): string[][] {
    const file = join(this.dir, 'calls.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as string[]);
  }

  /** The calls made since `mark` (a previous calls().length). */
  callsSince(mark: number): string[][] {
    return this.calls().slice(mark);
  }

  state(): FakeState {
    const file = join(this.dir, 'state.json');
    if (!existsSync(file)) return { vms: {}, disks: {}, hostonlyifs: [], dhcpservers: [] };
    return JSON.parse(readFileSync(file, 'utf8')) as FakeState;
  }

  /** Runs the fake directly (to set up state as a user's VirtualBox would have it). */
  run(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(FAKE_VBOXMANAGE, args, {
      env: { ...process.env, FAKE_VBOX_DIR: this.dir },
      encoding: 'utf8',
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** Stops the relays of VMs left running. */
  stopRelays(): void {
    for (const vm of Object.values(this.state().vms)) {
      if (vm.relayPid) {
        try {
          process.kill(vm.relayPid);
        } catch {
          // gone
        }
      }
    }
  }
}
