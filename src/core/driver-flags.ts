/** Resolves a driver's create flags: given value, else environment variable, else default; then validates. */
import type { DriverDefinition, DriverFlag, DriverFlagValue, DriverFlagValues } from './driver.js';
import { UsageError } from './errors.js';

export function resolveDriverFlags(
  definition: DriverDefinition,
  given: DriverFlagValues,
  env: NodeJS.ProcessEnv = process.env,
): DriverFlagValues {
  const known = new Set(definition.flags.map((flag) => flag.name));
  for (const name of Object.keys(given)) {
    if (given[name] !== undefined && !known.has(name)) {
      throw new UsageError(`Flag --${name} does not belong to the ${definition.name} driver.`, [
        `Run "moor create --driver ${definition.name} --help" to list its flags.`,
      ]);
    }
  }
  const resolved: DriverFlagValues = {};
  for (const flag of definition.flags) {
    const value = given[flag.name] ?? fromEnv(flag, env) ?? flag.default;
    if (value === undefined || (Array.isArray(value) && value.length === 0 && flag.required)) {
      if (flag.required) {
        const envHint = flag.env?.length ? ` (or set ${flag.env.join(' or ')})` : '';
        throw new UsageError(
          `The ${definition.name} driver needs --${flag.name}${envHint}.`,
          [`Run "moor create --driver ${definition.name} --help" to list its flags.`],
          'MISSING_FLAG',
        );
      }
      continue;
    }
    if (flag.options && typeof value === 'string' && !flag.options.includes(value)) {
      throw new UsageError(`--${flag.name} must be one of ${flag.options.join(', ')}; got "${value}".`);
    }
    resolved[flag.name] = value;
  }
  return resolved;
}

function fromEnv(flag: DriverFlag, env: NodeJS.ProcessEnv): DriverFlagValue | undefined {
  for (const name of flag.env ?? []) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    return convert(flag, raw, name);
  }
  return undefined;
}

function convert(flag: DriverFlag, raw: string, source: string): DriverFlagValue {
  switch (flag.type) {
    case 'string':
      return raw;
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new UsageError(`${source} must be true or false; got "${raw}".`);
    case 'integer': {
      const value = Number(raw);
      if (!Number.isInteger(value)) throw new UsageError(`${source} must be a whole number; got "${raw}".`);
      return value;
    }
    case 'strings':
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
  }
}
