/**
 * `ls`: every machine's state queried in parallel, each bounded by the timeout so that one slow or
 * unreachable machine shows "Timeout" instead of holding up the list. Broken records become Error rows.
 */
import { runningTunnel } from './background-tunnel.js';
import { engineRequest, engineTLSFrom, engineVersion } from './docker/engine.js';
import { MoorError, messageOf } from './errors.js';
import { matchesFilters, naturalSort, parseFilters } from './filter.js';
import { machineFromRecord } from './lifecycle.js';
import type { Logger } from './log.js';
import { MachineState, type MachineRecord, swarmColumn, swarmOf, type SwarmOptions, transportOf } from './machine.js';
import { type InfoSwarm, refreshedSwarm } from './swarm.js';
import type { LoadResult, Store } from './store.js';

/** One row of `ls`; field names are the ones docker-machine's --format templates use. */
export interface ListItem {
  Name: string;
  Active: string;
  ActiveHost: boolean;
  DriverName: string;
  State: string;
  URL: string;
  Swarm: string;
  DockerVersion: string;
  Error: string;
  ResponseTime: string;
  Labels: string[];
  /** DOCKER_HOST of the machine's background tunnel (moor tunnel --background), or ''. */
  Tunnel: string;
}

export interface ListOptions {
  filters?: string[];
  /** Per-machine budget for the state (and engine version) query. */
  timeoutMs: number;
  /** Ask each running engine for its version (the DOCKER column); skip it when the output does not show it. */
  queryDockerVersion: boolean;
  /** The current DOCKER_HOST, to mark the active machine. */
  dockerHost?: string | undefined;
  /** The docker CLI's current context, to mark the active machine when DOCKER_HOST is not set. */
  activeContext?: string | undefined;
}

const TIMED_OUT = Symbol('timeout');

export async function listMachines(store: Store, options: ListOptions, log: Logger): Promise<ListItem[]> {
  const filters = parseFilters(options.filters ?? []);
  const loaded = await store.loadAll();
  const items = await Promise.all(loaded.map((entry) => describe(store, entry, options, log)));
  const matching = items.filter((item) =>
    matchesFilters(
      {
        name: item.Name,
        driverName: item.DriverName,
        state: item.State,
        labels: item.Labels,
        swarm: item.Swarm.replace(/ \(manager\)$/, ''),
      },
      filters,
    ),
  );
  return naturalSort(matching, (item) => item.Name);
}

async function describe(store: Store, entry: LoadResult, options: ListOptions, log: Logger): Promise<ListItem> {
  const item: ListItem = {
    Name: entry.name,
    Active: '-',
    ActiveHost: false,
    DriverName: entry.record?.DriverName ?? 'not found',
    State: MachineState.Error,
    URL: '',
    Swarm: entry.record ? swarmColumn(entry.record) : '',
    DockerVersion: 'Unknown',
    Error: '',
    ResponseTime: '',
    Labels: entry.record?.HostOptions.EngineOptions.Labels ?? [],
    Tunnel: '',
  };
  if (entry.error) {
    item.Error = entry.error.message;
    return item;
  }
  const record = entry.record;
  if (record.Phase === 'error') {
    item.Error = record.LastError ?? 'create failed';
    return item;
  }
  if (record.Phase === 'creating') {
    item.State = MachineState.None;
    item.Error = 'Creation in progress (or interrupted: "moor rm" it if no moor create is running).';
    return item;
  }
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const outcome = await withDeadline(queryMachine(store, record, options, deadline, log), deadline);
  item.ResponseTime = `${Date.now() - started}ms`;
  if (outcome === TIMED_OUT) {
    item.State = MachineState.Timeout;
    return item;
  }
  Object.assign(item, outcome);
  const selected = options.dockerHost
    ? (item.URL !== '' && item.URL === options.dockerHost) || (item.Tunnel !== '' && item.Tunnel === options.dockerHost)
    : options.activeContext === `moor-${item.Name}`;
  item.ActiveHost = item.State === MachineState.Running && selected;
  item.Active = item.ActiveHost ? '*' : '-';
  return item;
}

async function queryMachine(
  store: Store,
  record: MachineRecord,
  options: ListOptions,
  deadline: number,
  log: Logger,
): Promise<Partial<ListItem>> {
  try {
    const name = record.Name;
    const { driver } = await machineFromRecord(store, record, log);
    const state = await driver.getState();
    if (state !== MachineState.Running) return { State: state };
    const tunnel = runningTunnel(store.machineDir(name), name)?.DockerHost ?? '';
    let result: Partial<ListItem>;
    let engineUrl: string;
    if (transportOf(record.HostOptions.EngineOptions) === 'ssh') {
      // No TCP listener to ask: the URL says how to reach it; the version comes through the background
      // tunnel when one runs, else it is what provisioning saw.
      const ssh = await driver.getSSHConfig();
      const version = record.Provision?.EngineVersion;
      result = {
        State: state,
        URL: `ssh://${ssh.user}@${ssh.host}:${ssh.port}`,
        Tunnel: tunnel,
        ...(version ? { DockerVersion: `v${version}` } : {}),
      };
      engineUrl = tunnel;
    } else {
      const url = await driver.getURL();
      result = { State: state, URL: url, Tunnel: tunnel };
      engineUrl = url.startsWith('tcp://') ? url : '';
    }
    if (options.queryDockerVersion && engineUrl !== '') {
      try {
        const tls = engineTLSFrom(store.machineDir(name));
        const swarm = swarmOf(record);
        if (swarm) {
          // A member: /info gives the version and the swarm state, and the record follows the engine.
          const info = (await engineRequest(engineUrl, '/info', tls, Math.max(1, deadline - Date.now()))) as {
            ServerVersion?: string;
            Swarm?: InfoSwarm;
          };
          if (info.ServerVersion) result.DockerVersion = `v${info.ServerVersion}`;
          const refreshed = refreshedSwarm(swarm, info.Swarm);
          if (refreshed !== undefined) {
            result.Swarm = refreshed ? swarmColumn(withSwarm(record, refreshed)) : '';
            await saveRefreshedSwarm(store, name, refreshed, log);
          }
        } else {
          const version = await engineVersion(engineUrl, tls, Math.max(1, deadline - Date.now()));
          result.DockerVersion = `v${version.Version}`;
        }
      } catch (error) {
        result.Error = `Unable to query docker version: ${messageOf(error)}`;
      }
    }
    return result;
  } catch (error) {
    return { State: MachineState.Error, Error: error instanceof MoorError ? error.message : messageOf(error) };
  }
}

function withSwarm(record: MachineRecord, swarm: SwarmOptions): MachineRecord {
  return { ...record, HostOptions: { ...record.HostOptions, SwarmOptions: swarm } };
}

/** Writes what the engine said into the record, if its lock is free now (ls never waits for one). */
async function saveRefreshedSwarm(store: Store, name: string, swarm: SwarmOptions | null, log: Logger): Promise<void> {
  try {
    await store.withMachineLock(
      name,
      'ls',
      async () => {
        const record = await store.load(name);
        if (swarm) record.HostOptions.SwarmOptions = swarm;
        else delete record.HostOptions.SwarmOptions;
        await store.save(record);
      },
      0,
    );
  } catch (error) {
    log.debug(`ls: the swarm membership of "${name}" was not updated: ${messageOf(error)}`);
  }
}

async function withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
