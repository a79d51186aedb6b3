/** Maps the drivers' framework-free flag declarations to oclif flags for `moor create`. */
import { Flags } from '@oclif/core';
import type { DriverFlag, DriverFlagValues } from '../../drivers/registry.js';
import { DRIVERS } from '../../drivers/registry.js';

export const DRIVER_HELP_GROUP_SUFFIX = ' DRIVER';

function toOclifFlag(driverName: string, flag: DriverFlag) {
  const envHint = flag.env?.length ? ` [env: ${flag.env.join(', ')}]` : '';
  const requiredHint = flag.required ? ' (required)' : '';
  const common = {
    description: `${flag.description}${requiredHint}${envHint}`,
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
      return Flags.string({ ...common, multiple: true, multipleNonGreedy: true });
    case 'string':
      return Flags.string({
        ...common,
        ...(flag.options ? { options: flag.options } : {}),
        ...(typeof flag.default === 'string' && flag.default !== '' ? { helpValue: flag.default } : {}),
      });
  }
}

/** Every driver's flags, for the create command's static flag list. */
export function allDriverFlags() {
  const flags: Record<string, ReturnType<typeof toOclifFlag>> = {};
  for (const definition of DRIVERS.values()) {
    for (const flag of definition.flags) flags[flag.name] = toOclifFlag(definition.name, flag);
  }
  return flags;
}

/** The driver flags actually given on the command line (env and defaults are applied by the core). */
export function givenDriverFlags(parsed: Record<string, unknown>): DriverFlagValues {
  const given: DriverFlagValues = {};
  for (const definition of DRIVERS.values()) {
    for (const flag of definition.flags) {
      const value = parsed[flag.name];
      if (value !== undefined) given[flag.name] = value as DriverFlagValues[string];
    }
  }
  return given;
}
