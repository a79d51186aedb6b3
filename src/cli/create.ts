/**
 * What `moor create` does once its command line is read: called by the oclif command (src/commands/create.ts)
 * and by the fast path (src/fast.ts, for a plain `create -d none --url URL NAME`), so that both create the
 * same machine and print the same bytes. No oclif here.
 */
import { DRIVERS, type DriverDefinition, type DriverFlagValues } from '../../drivers/registry.js';
import type { MachineRecord } from '../core/machine.js';
import type { SwarmMember } from '../core/swarm.js';
import type { EverydayContext } from './everyday.js';

/** Docker Machine's classic Swarm flags: parsed (hidden) only to be refused with the moor command to use. */
export const CLASSIC_SWARM_STRINGS = [
  'swarm-discovery',
  'swarm-strategy',
  'swarm-image',
  'swarm-host',
  'swarm-addr',
] as const;
export const CLASSIC_SWARM_LISTS = ['swarm-opt', 'swarm-join-opt'] as const;

/** The create command's own flags, as parsed (a flag left out is undefined; the driver flags sit beside them). */
export interface CreateFlags {
  driver?: string | undefined;
  'engine-install-url'?: string | undefined;
  'engine-opt'?: string[] | undefined;
  'engine-env'?: string[] | undefined;
  'engine-insecure-registry'?: string[] | undefined;
  'engine-registry-mirror'?: string[] | undefined;
  'engine-label'?: string[] | undefined;
  'engine-storage-driver'?: string | undefined;
  'engine-install-method'?: string | undefined;
  'engine-transport'?: string | undefined;
  'engine-socket'?: string | undefined;
  'engine-version'?: string | undefined;
  'ssh-timeout': number;
  'tls-san'?: string[] | undefined;
  'tls-ca-cert'?: string | undefined;
  'tls-ca-key'?: string | undefined;
  'tls-client-cert'?: string | undefined;
  'tls-client-key'?: string | undefined;
  'swarm-manager'?: boolean | undefined;
  'swarm-join'?: string | undefined;
  'swarm-role'?: string | undefined;
  'swarm-master'?: boolean | undefined;
  swarm?: boolean | undefined;
  'swarm-experimental'?: boolean | undefined;
}

export interface CreateContext extends EverydayContext {
  /** A line for stderr that is not progress (the hint at the end). */
  printErr(text: string): void;
  /** Prints an error as the command's catch() would and returns its exit code (a second Ctrl-C). */
  report(error: Error): number;
}

export async function createCommand(
  context: CreateContext,
  flags: CreateFlags,
  name: string,
  /** A driver installed beside moor (npm package, plugin binary), when --driver names one. */
  installed?: DriverDefinition,
): Promise<MachineRecord & { swarm?: SwarmMember }> {
  const given = flags as unknown as Record<string, unknown>;
  const classic = [...CLASSIC_SWARM_STRINGS, ...CLASSIC_SWARM_LISTS, 'swarm-experimental'].filter(
    (flag) => given[flag] !== undefined && given[flag] !== false,
  );
  const asksForSwarm =
    classic.length > 0 ||
    [flags['swarm-manager'], flags['swarm-master'], flags.swarm, flags['swarm-join'], flags['swarm-role']].some(
      Boolean,
    );
  // The swarm module (and what it imports) only for a create that names a swarm flag.
  const swarm = asksForSwarm
    ? (await import('../core/swarm.js')).swarmCreateRequest({
        swarmManager: flags['swarm-manager'] ?? false,
        swarmMaster: flags['swarm-master'] ?? false,
        swarm: flags.swarm ?? false,
        ...(flags['swarm-join'] ? { swarmJoin: flags['swarm-join'] } : {}),
        ...(flags['swarm-role'] ? { swarmRole: flags['swarm-role'] } : {}),
        classic,
      })
    : undefined;
  const moor = await context.moor();
  const [{ interruptible }, { MoorError, ExitCode }] = await Promise.all([
    import('./interrupts.js'),
    import('../core/errors.js'),
  ]);
  const atOnce = (signal: NodeJS.Signals) =>
    new MoorError(`Stopped at once (${signal}) while creating machine "${name}": it may be left half made.`, {
      code: 'INTERRUPTED',
      exitCode: ExitCode.interrupted,
      suggestions: [
        `Run "${context.bin} ls" to see what is there, and "${context.bin} rm -f -y ${name}" to remove the machine and what its driver made.`,
      ],
    });
  const record = await interruptible({ atOnce, report: context.report }, (signal) =>
    moor.create({
      ...(swarm ? { swarm } : {}),
      signal,
      name,
      ...(flags.driver ? { driver: flags.driver } : {}),
      driverFlags: givenDriverFlags(given, installed),
      engine: {
        ...(flags['engine-install-url'] ? { InstallURL: flags['engine-install-url'] } : {}),
        ...(flags['engine-storage-driver'] ? { StorageDriver: flags['engine-storage-driver'] } : {}),
        ...(flags['engine-install-method']
          ? { InstallMethod: flags['engine-install-method'] as 'packages' | 'script' | 'none' }
          : {}),
        ...(flags['engine-version'] ? { Version: flags['engine-version'] } : {}),
        ...(flags['engine-transport'] ? { Transport: flags['engine-transport'] as 'tls' | 'ssh' } : {}),
        ...(flags['engine-socket'] ? { Socket: flags['engine-socket'] } : {}),
        ArbitraryFlags: flags['engine-opt'] ?? [],
        Env: flags['engine-env'] ?? [],
        InsecureRegistry: flags['engine-insecure-registry'] ?? [],
        RegistryMirror: flags['engine-registry-mirror'] ?? [],
        Labels: flags['engine-label'] ?? [],
      },
      tlsSans: flags['tls-san'] ?? [],
      sshTimeoutMs: flags['ssh-timeout'] * 1000,
      certs: {
        ...(flags['tls-ca-cert'] ? { caCert: flags['tls-ca-cert'] } : {}),
        ...(flags['tls-ca-key'] ? { caKey: flags['tls-ca-key'] } : {}),
        ...(flags['tls-client-cert'] ? { clientCert: flags['tls-client-cert'] } : {}),
        ...(flags['tls-client-key'] ? { clientKey: flags['tls-client-key'] } : {}),
      },
    }),
  );
  context.print(`Machine "${record.Name}" created (${record.DriverName} driver).\n`);
  if (record.swarm) {
    const { swarm: joined } = record;
    context.print(
      joined.swarm === record.Name && swarm?.kind === 'init'
        ? `Swarm "${joined.swarm}" started on it (manager).\n`
        : `It joined swarm "${joined.swarm}" as a ${joined.role}.\n`,
    );
  }
  context.printErr(
    record.HostOptions.EngineOptions.Transport === 'ssh'
      ? `To use it: ${context.bin} docker ${record.Name} -- ps   (or ${context.bin} tunnel ${record.Name})\n`
      : `To point your Docker client at it, run: eval $(${context.bin} env ${record.Name})\n`,
  );
  return record;
}

/** The driver flags actually given on the command line (env and defaults are applied by the core). */
export function givenDriverFlags(
  parsed: Record<string, unknown>,
  extra: DriverDefinition | undefined = undefined,
): DriverFlagValues {
  const given: DriverFlagValues = {};
  for (const definition of [...DRIVERS.values(), ...(extra ? [extra] : [])]) {
    for (const flag of definition.flags) {
      const value = parsed[flag.name];
      if (value !== undefined) given[flag.name] = value as DriverFlagValues[string];
    }
  }
  return given;
}
