/**
 * Maps the drivers' framework-free flag declarations to oclif flags for `moor create`: the built-in
 * drivers' statically, a driver installed beside moor (an npm package, a Docker Machine plugin binary)
 * when `--driver` names it (a plugin binary is started for its GetCreateFlags).
 */
import { Flags } from '@oclif/core';
import type { DriverDefinition, DriverFlag } from '../../drivers/registry.js';
import { DRIVERS } from '../../drivers/registry.js';

export const DRIVER_HELP_GROUP_SUFFIX = ' DRIVER';

function envHint(flag: DriverFlag): string {
  return flag.env?.length ? ` [env: ${flag.env.join(', ')}]` : '';
}

function toOclifFlag(driverName: string, flag: DriverFlag) {
  const requiredHint = flag.required ? ' (required)' : '';
  const common = {
    description: `${flag.description}${requiredHint}${envHint(flag)}`,
    helpGroup: `${driverName}${DRIVER_HELP_GROUP_SUFFIX}`,
  };
  switch (flag.type) {
    case 'boolean':
      return Flags.boolean({ ...common, allowNo: true });
    case 'integer':
      return Flags.integer({
        ...common,
        ...(typeof flag.default === 'number' ? { helpValue: String(flag.default) } : {}),
      });
    case 'strings':
      return Flags.string({
        ...common,
        multiple: true,
        multipleNonGreedy: true,
        ...(Array.isArray(flag.default) ? { helpValue: flag.default.join(',') } : {}),
      });
    case 'string':
      return Flags.string({
        ...common,
        ...(flag.options ? { options: flag.options } : {}),
        ...(typeof flag.default === 'string' && flag.default !== '' ? { helpValue: flag.default } : {}),
      });
  }
}

/** Every built-in driver's flags, for the create command's static flag list. */
export function allDriverFlags() {
  const flags: Record<string, ReturnType<typeof toOclifFlag>> = {};
  for (const definition of DRIVERS.values()) {
    for (const flag of definition.flags) flags[flag.name] = toOclifFlag(definition.name, flag);
  }
  return flags;
}

/** The flags of one driver that is not built in, leaving out names create already has. */
export function installedDriverFlags(definition: DriverDefinition, taken: Record<string, unknown>) {
  const flags: Record<string, ReturnType<typeof toOclifFlag>> = {};
  for (const flag of definition.flags) {
    if (!(flag.name in taken)) flags[flag.name] = toOclifFlag(definition.name, flag);
  }
  return flags;
}

/**
 * The same flags as oclif's help prints them from its manifest (for `create -d NAME --help` of a driver
 * that is not built in, whose flags are not in the manifest).
 */
export function helpFlags(definition: DriverDefinition, taken: Record<string, unknown>) {
  return Object.fromEntries(
    Object.entries(installedDriverFlags(definition, taken)).map(([name, flag]) => [
      name,
      {
        name,
        type: flag.type,
        description: flag.description,
        helpGroup: flag.helpGroup,
        ...(flag.type === 'option' ? { multiple: flag.multiple ?? false, helpValue: flag.helpValue } : {}),
        ...(flag.type === 'boolean' ? { allowNo: true } : {}),
      },
    ]),
  );
}

/** The driver `moor create` was asked for (--driver, -d, MOOR_DRIVER), read before oclif parses. */
export function requestedDriver(argv: string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--') break;
    if (arg === '--driver' || arg === '-d') return argv[index + 1];
    if (arg.startsWith('--driver=')) return arg.slice('--driver='.length);
    if (arg.startsWith('-d') && arg.length > 2) return arg.slice(2).replace(/^=/, '');
  }
  return env['MOOR_DRIVER'] || undefined;
}

/** The store --storage-path, -s or MOOR_STORAGE_PATH names, read before oclif parses (undefined: the default). */
export function requestedStoragePath(argv: string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--') break;
    if (arg === '--storage-path' || arg === '-s') return argv[index + 1];
    if (arg.startsWith('--storage-path=')) return arg.slice('--storage-path='.length);
  }
  return env['MOOR_STORAGE_PATH'] || undefined;
}

/** The lookup of drivers installed beside moor for this command line (its store, this environment). */
export async function driverLookup(argv: string[]) {
  const { defaultStoragePath } = await import('../core/store.js');
  return { storePath: requestedStoragePath(argv) ?? defaultStoragePath(), env: process.env };
}
