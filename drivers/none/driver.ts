/** The `none` driver: a Docker engine that already exists at a URL. Always Running; nothing to manage. */
import {
  BaseDriver,
  type DriverContext,
  type DriverFactory,
  type DriverFlagValues,
  MachineState,
  type MachineStateValue,
  UsageError,
} from '../api.js';

const SUPPORTED_SCHEMES = ['tcp:', 'unix:', 'ssh:', 'http:', 'https:', 'npipe:'];

export class NoneDriver extends BaseDriver {
  readonly driverName = 'none';
  override readonly provisions = false;
  readonly recordsOnly = true;

  constructor(
    context: DriverContext,
    private readonly url: string,
  ) {
    super(context);
  }

  async create(): Promise<void> {}

  async getState(): Promise<MachineStateValue> {
    return MachineState.Running;
  }

  async getIP(): Promise<string> {
    return hostOf(this.url);
  }

  async getURL(): Promise<string> {
    return this.url;
  }

  toJSON(): Record<string, unknown> {
    return { MachineName: this.context.machineName, URL: this.url, IPAddress: hostOf(this.url) };
  }
}

/** Checks a --url value: it must be a URL with a scheme the docker CLI understands. */
export function parseEngineURL(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`Invalid --url "${value}": expected a URL such as tcp://192.168.1.10:2376.`);
  }
  if (!SUPPORTED_SCHEMES.includes(url.protocol)) {
    throw new UsageError(
      `Invalid --url "${value}": the scheme must be one of ${SUPPORTED_SCHEMES.map((s) => s.slice(0, -1)).join(', ')}.`,
    );
  }
  if (url.protocol !== 'unix:' && url.protocol !== 'npipe:' && url.hostname === '') {
    throw new UsageError(`Invalid --url "${value}": it has no host.`);
  }
  return value;
}

function hostOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return '';
  }
}

export const factory: DriverFactory = {
  fromFlags(context: DriverContext, flags: DriverFlagValues) {
    const url = flags['url'];
    if (typeof url !== 'string' || url === '') {
      throw new UsageError('The none driver needs --url, the address of an existing Docker engine.', [
        'Example: moor create -d none --url tcp://192.168.1.10:2376 NAME',
      ]);
    }
    return new NoneDriver(context, parseEngineURL(url));
  },
  fromRecord(context: DriverContext, state: Record<string, unknown>) {
    const url = state['URL'];
    if (typeof url !== 'string') throw new UsageError('Driver.URL is missing from the machine record.');
    return new NoneDriver(context, url);
  },
};
