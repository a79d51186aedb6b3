/**
 * libmachine's types on the wire, as gob schemas: the create flags a plugin declares (mcnflag) and the
 * flag values moor sends back (rpcdriver.RPCFlags inside the drivers.DriverOptions interface), plus their
 * mapping to and from moor's DriverFlag. Names as libmachine registers them (through pointers: "*mcnflag.StringFlag").
 */
import type { DriverFlag, DriverFlagValues } from '../api.js';
import * as gob from './gob/index.js';

const { string, int } = gob;

/** libmachine's rpcdriver.RPCFlags, sent as a drivers.DriverOptions interface value. */
export const RPCFlags = gob.struct('rpcdriver.RPCFlags', [['Values', gob.map(string, gob.iface)]], {
  registeredName: '*rpcdriver.RPCFlags',
});
export const DriverOptions = gob.named('drivers.DriverOptions', gob.iface);

/** The registered names of the flag types GetCreateFlags returns, and moor's flag type for each. */
const FLAG_TYPES = {
  '*mcnflag.StringFlag': 'string',
  '*mcnflag.StringSliceFlag': 'strings',
  '*mcnflag.IntFlag': 'integer',
  '*mcnflag.BoolFlag': 'boolean',
} as const;

/** Global flags Docker Machine adds to every plugin's values (plugins read them, as libmachine's base driver does). */
const GLOBAL_VALUES = {
  'swarm-master': { type: gob.bool, value: false },
  'swarm-host': { type: string, value: '' },
  'swarm-discovery': { type: string, value: '' },
};

/** A plugin's GetCreateFlags reply as moor's driver flags; throws on anything that is not an mcnflag.Flag. */
export function toDriverFlags(reply: gob.GobValue): DriverFlag[] {
  if (!Array.isArray(reply)) throw new Error('GetCreateFlags did not return a list of flags');
  const flags: DriverFlag[] = [];
  for (const item of reply) {
    const entry = item as gob.DecodedInterface | null;
    const type =
      entry && typeof entry === 'object' && 'type' in entry
        ? FLAG_TYPES[entry.type as keyof typeof FLAG_TYPES]
        : undefined;
    const value = entry?.value as { Name?: unknown; Usage?: unknown; EnvVar?: unknown; Value?: unknown } | undefined;
    if (!type || !value || typeof value.Name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(value.Name)) {
      throw new Error(`GetCreateFlags returned something that is not a flag (${JSON.stringify(entry?.type ?? entry)})`);
    }
    const flag: DriverFlag = {
      name: value.Name,
      type,
      description: typeof value.Usage === 'string' ? value.Usage : '',
    };
    if (typeof value.EnvVar === 'string' && value.EnvVar !== '') flag.env = [value.EnvVar];
    if (type === 'string' && typeof value.Value === 'string' && value.Value !== '') flag.default = value.Value;
    if (type === 'integer' && typeof value.Value === 'number') flag.default = value.Value;
    if (type === 'strings' && Array.isArray(value.Value) && value.Value.length > 0)
      flag.default = value.Value.map(String);
    flags.push(flag);
  }
  return flags;
}

/**
 * The SetConfigFromFlags argument: every flag of the plugin with its value (as given, from its env var,
 * or its default; Docker Machine's getDriverOpts sends false for a bool flag not given, an empty value
 * for the others), plus the global swarm flags.
 */
export function rpcFlagValues(flags: readonly DriverFlag[], values: DriverFlagValues): gob.InterfaceValue {
  const entries: Record<string, gob.InterfaceValue> = { ...GLOBAL_VALUES };
  for (const flag of flags) {
    const value = values[flag.name];
    switch (flag.type) {
      case 'boolean':
        entries[flag.name] = { type: gob.bool, value: value === true };
        break;
      case 'integer':
        entries[flag.name] = { type: int, value: typeof value === 'number' ? value : 0 };
        break;
      case 'strings':
        entries[flag.name] = { type: gob.slice(string), value: Array.isArray(value) ? value : [] };
        break;
      case 'string':
        entries[flag.name] = { type: string, value: typeof value === 'string' ? value : '' };
        break;
    }
  }
  return { type: RPCFlags, value: { Values: entries } };
}
