/**
 * Swarm mode clusters made of moor machines: init, join (in parallel), leave (drain, leave, remove the
 * node, so that the cluster keeps no Down node), ls, join-token and repair. Everything goes through each
 * machine's own Docker Engine API transport (docker/client.ts: TLS, or the SSH connection of an
 * ssh-transport machine); no docker CLI is needed anywhere. Each member's swarm (cluster ID, name, role,
 * node ID) is kept in its record's HostOptions.SwarmOptions; join tokens are read from a manager when
 * needed and never stored.
 */
import type { EngineClient } from './docker/client.js';
import { EngineStatusError } from './docker/engine.js';
import { MachineNotFoundError, MoorError, MultiError, UsageError, messageOf } from './errors.js';
import { forEachMachine, machineFromRecord, type Machine, openMachine } from './lifecycle.js';
import type { Logger } from './log.js';
import { MachineState, type MachineRecord, type SwarmOptions, swarmOf, transportOf } from './machine.js';
import type { Store } from './store.js';
import { notYet, waitFor } from './wait.js';
import { isIP } from './values.js';

export type SwarmRole = 'manager' | 'worker';
export const SWARM_ROLES: readonly SwarmRole[] = ['manager', 'worker'];

/** The swarm's name, kept in the swarm's own spec too, so that machines joining later learn it. */
export const SWARM_NAME_LABEL = 'io.moor.swarm.name';
/** Swarm mode's ports, for messages and drivers: what machines of one swarm must reach on each other. */
export const SWARM_PORTS = ['2377/tcp', '7946/tcp', '7946/udp', '4789/udp'] as const;

const MANAGER_PORT = 2377;
/** Swarm calls that wait for the cluster (init, join, leave) get longer than a plain query. */
const SWARM_CALL_TIMEOUT_MS = 120_000;
/** How long a forced leave of a member that came back may take before its engine counts as hung. */
const LEAVE_HANG_MS = 45_000;

export interface SwarmMember {
  machine: string;
  swarm: string;
  clusterId: string;
  role: SwarmRole;
  nodeId: string;
  address: string;
}

export interface SwarmNode {
  id: string;
  hostname: string;
  /** The moor machine this node is, or '' when none of the store's machines is it. */
  machine: string;
  role: SwarmRole;
  leader: boolean;
  availability: string;
  state: string;
  engineVersion: string;
  address: string;
  /** What is wrong with the node's machine: 'gone' (no such machine), 'stopped' (not running), or ''. */
  machineProblem: '' | 'gone' | 'stopped';
}

export interface SwarmView {
  name: string;
  clusterId: string;
  /** The manager the nodes were read from, or '' when none answered. */
  via: string;
  nodes: SwarmNode[];
  /** Machines recorded as members that no answering manager knows (or all of them when none answered). */
  error?: string;
}

export interface RepairResult {
  swarm: string;
  removed: { id: string; hostname: string }[];
  rejoined: string[];
  stopped: string[];
}

/** What `create --swarm-manager` / `--swarm-join` ask for once the machine exists. */
export type SwarmCreateRequest = { kind: 'init' } | { kind: 'join'; manager: string; role: SwarmRole };

/** The create flags of Docker Machine's classic Swarm, all refused except --swarm-master (and --swarm with it). */
export interface SwarmCreateFlags {
  swarmManager?: boolean;
  swarmJoin?: string;
  swarmRole?: string;
  swarmMaster?: boolean;
  swarm?: boolean;
  /** The classic flags given (their names, without dashes): discovery, strategy, image, ... */
  classic: string[];
}

/**
 * What the swarm flags of create ask for, checked before anything is created: Docker Machine's
 * --swarm-master means --swarm-manager; --swarm alone, or any flag of classic Swarm, is refused with the
 * moor command to use instead.
 */
export function swarmCreateRequest(flags: SwarmCreateFlags): SwarmCreateRequest | undefined {
  const instead = [
    'Create the first manager with "moor create --swarm-manager NAME" (or "moor swarm init NAME").',
    'Add machines with "moor create --swarm-join MANAGER NAME" (or "moor swarm join --manager MANAGER NAME...").',
  ];
  if (flags.classic.length > 0) {
    const given = flags.classic.map((flag) => `--${flag}`).join(', ');
    throw new UsageError(
      `${given}: classic Docker Swarm is gone (its discovery service shut down); moor makes Swarm mode clusters, which need no discovery, agent or image.`,
      instead,
      'CLASSIC_SWARM',
    );
  }
  const manager = flags.swarmManager || flags.swarmMaster;
  if (flags.swarm && !manager) {
    throw new UsageError(
      '--swarm: classic Docker Swarm is gone; moor makes Swarm mode clusters instead.',
      instead,
      'CLASSIC_SWARM',
    );
  }
  if (flags.swarmRole !== undefined && !flags.swarmJoin) {
    throw new UsageError('--swarm-role goes with --swarm-join MANAGER.', [], 'USAGE');
  }
  if (manager && flags.swarmJoin) {
    throw new UsageError(
      '--swarm-manager starts a new swarm and --swarm-join joins one: give one of them.',
      ['To add a manager to an existing swarm: --swarm-join MANAGER --swarm-role manager.'],
      'USAGE',
    );
  }
  if (manager) return { kind: 'init' };
  if (flags.swarmJoin) return { kind: 'join', manager: flags.swarmJoin, role: roleOf(flags.swarmRole) };
  return undefined;
}

/** A --role value checked: worker by default. */
export function roleOf(value: string | undefined): SwarmRole {
  if (value === undefined || value === '') return 'worker';
  if ((SWARM_ROLES as readonly string[]).includes(value)) return value as SwarmRole;
  throw new UsageError(`Unknown swarm role "${value}": use worker or manager.`, [], 'USAGE');
}

// ------------------------------------------------------------------------------------------- engine API shapes

interface InfoSwarm {
  NodeID?: string;
  NodeAddr?: string;
  LocalNodeState?: string;
  ControlAvailable?: boolean;
  Error?: string;
  RemoteManagers?: { NodeID: string; Addr: string }[] | null;
  Cluster?: { ID?: string; Spec?: { Labels?: Record<string, string> | null } };
}

interface SwarmInspect {
  ID: string;
  Spec?: { Labels?: Record<string, string> | null };
  JoinTokens?: { Worker?: string; Manager?: string };
}

interface JoinTarget {
  machine: Machine;
  address: string;
  client: EngineClient;
}

/** What machines need to join a swarm, read from one of its managers: never stored or printed. */
interface JoinInfo {
  role: SwarmRole;
  token: string;
  remoteAddrs: string[];
  cluster: { id: string; name: string };
}

/** The join token of `role` and the managers' addresses, from a manager's /info and /swarm answers. */
function joinInfoOf(
  managerName: string,
  role: SwarmRole,
  info: InfoSwarm,
  inspect: SwarmInspect,
  cluster: { id: string; name: string },
): JoinInfo {
  const tokens = inspect.JoinTokens ?? {};
  const token = role === 'manager' ? tokens.Manager : tokens.Worker;
  if (!token) {
    throw new MoorError(`"${managerName}" did not give a ${role} join token.`, { code: 'SWARM_NO_TOKEN' });
  }
  const remoteAddrs = (info.RemoteManagers ?? []).map((remote) => remote.Addr).filter(Boolean);
  if (remoteAddrs.length === 0 && info.NodeAddr) remoteAddrs.push(`${info.NodeAddr}:${MANAGER_PORT}`);
  return { role, token, remoteAddrs, cluster };
}

/** Every target's engine client closed: after its join, or unused when something failed first. */
async function closeTargets(targets: Map<string, Promise<JoinTarget>>): Promise<void> {
  await Promise.all(
    [...targets.values()].map((target) =>
      target.then(
        ({ client }) => client.close().catch(() => undefined),
        () => undefined,
      ),
    ),
  );
}

export interface NodeObject {
  ID: string;
  Version: { Index: number };
  Spec: { Role?: SwarmRole; Availability?: string; Labels?: Record<string, string>; Name?: string };
  Description?: { Hostname?: string; Engine?: { EngineVersion?: string } };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string; Addr?: string };
}

/**
 * What a member's record should say after the engine's /info (ls asks it where it talks to the engine
 * anyway): null when the engine left the swarm, new options when its role, node or cluster changed,
 * undefined when the record is right (or the engine's state says nothing sure: pending, error, locked).
 */
export function refreshedSwarm(current: SwarmOptions, info: InfoSwarm | undefined): SwarmOptions | null | undefined {
  if (!info?.LocalNodeState) return undefined;
  if (info.LocalNodeState === 'inactive') return null;
  if (info.LocalNodeState !== 'active') return undefined;
  // Swarm.Cluster is only in a manager's answer: a worker keeps its recorded cluster.
  const clusterId = info.Cluster?.ID ?? current.ClusterID;
  const moved = clusterId !== current.ClusterID;
  const role: SwarmRole = info.ControlAvailable ? 'manager' : 'worker';
  const next: SwarmOptions = {
    ...current,
    ClusterID: clusterId,
    Name: moved ? (info.Cluster?.Spec?.Labels?.[SWARM_NAME_LABEL] ?? current.Name) : current.Name,
    Role: role,
    Master: role === 'manager',
    NodeID: info.NodeID || current.NodeID,
  };
  return JSON.stringify(next) === JSON.stringify(current) ? undefined : next;
}

/** The Swarm part of an engine's /info, as refreshedSwarm reads it. */
export type { InfoSwarm };

async function swarmInfo(client: EngineClient): Promise<InfoSwarm> {
  const info = await client.request<{ Swarm?: InfoSwarm }>('/info');
  return info.Swarm ?? {};
}

// ------------------------------------------------------------------------------------------------ the service

/** The swarm operations of one store. */
export class Swarms {
  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  /** `moor swarm init NAME`: NAME becomes the first manager of a new swarm named after it. */
  async init(name: string, options: { advertiseAddr?: string } = {}): Promise<SwarmMember> {
    const machine = await this.runningMember(name);
    assertNotMember(machine.record);
    const address = options.advertiseAddr ?? (await advertiseAddressOf(machine));
    this.log.step(`Initialising a swarm on "${name}" (advertised at ${address})`);
    await openPorts(machine, this.log);
    return this.withClient(machine, async (client) => {
      await assertEngineNotInSwarm(client);
      const { member } = await this.initOn(machine, client, address);
      await this.record(name, member);
      return member;
    });
  }

  /**
   * `moor swarm init NAME OTHER...`: a new swarm on NAME, which the others join at once (in parallel, as
   * workers or as `role`), in one go. Every machine is checked (running, in no swarm, its address, its
   * engine in no swarm) before anything changes, the others while NAME is; the others then join with the
   * token the init gave, from the manager's client already open. The manager's result comes first.
   */
  async initWith(
    name: string,
    others: string[],
    options: { advertiseAddr?: string; role?: SwarmRole } = {},
  ): Promise<{ name: string; result: SwarmMember }[]> {
    const role = options.role ?? 'worker';
    const unique = [...new Set(others)];
    if (unique.includes(name)) {
      throw new UsageError(`"${name}" starts the swarm: it cannot also be one of the machines that join it.`, [
        `Example: moor swarm init ${name} ${unique.filter((other) => other !== name).join(' ') || 'worker1 worker2'}`,
      ]);
    }
    // The first machine (with the address given for it) and the others, checked at the same time.
    const names = [name, ...unique];
    const targets = new Map(
      names.map((each) => [each, this.joinTarget(each, each === name ? options.advertiseAddr : undefined)]),
    );
    for (const target of targets.values()) target.catch(() => undefined); // awaited below
    try {
      // Nothing changes until every machine passed its checks: the failures of all of them are told at once
      // (and only those: nothing was done for the others).
      await forEachMachine(names, (each) => targets.get(each)!).catch((error: unknown) => {
        if (!(error instanceof MultiError)) throw error;
        throw error.errors.length === 1 ? error.errors[0]!.error : new MultiError(error.errors);
      });
      const { machine, address, client } = await targets.get(name)!;
      this.log.step(`Initialising a swarm on "${name}" (advertised at ${address})`);
      await openPorts(machine, this.log);
      const { member, join } = await this.initOn(machine, client, address, role);
      // The manager's membership is written while the others join; its result comes first.
      return await forEachMachine(names, (each) =>
        each === name ? this.record(name, member).then(() => member) : this.joinOne(each, targets.get(each)!, join),
      );
    } finally {
      await closeTargets(targets);
    }
  }

  /**
   * The swarm started on a checked machine (its engine in no swarm, its ports opened) through its open
   * client; with `joinAs`, also what machines need to join it as that role (the token, the manager's
   * address), read at once. The caller writes the membership to the record.
   */
  private async initOn(machine: Machine, client: EngineClient, address: string): Promise<{ member: SwarmMember }>;
  private async initOn(
    machine: Machine,
    client: EngineClient,
    address: string,
    joinAs: SwarmRole,
  ): Promise<{ member: SwarmMember; join: JoinInfo }>;
  private async initOn(
    machine: Machine,
    client: EngineClient,
    address: string,
    joinAs?: SwarmRole,
  ): Promise<{ member: SwarmMember; join?: JoinInfo }> {
    const name = machine.record.Name;
    let nodeId: string;
    try {
      nodeId = await client.request<string>(
        '/swarm/init',
        {
          method: 'POST',
          body: {
            ListenAddr: `0.0.0.0:${MANAGER_PORT}`,
            AdvertiseAddr: address,
            Spec: { Labels: { [SWARM_NAME_LABEL]: name } },
          },
        },
        SWARM_CALL_TIMEOUT_MS,
      );
    } catch (error) {
      throw swarmCallFailed(`Could not initialise a swarm on "${name}"`, error);
    }
    const known = typeof nodeId === 'string' && nodeId !== '';
    // Machines join at the advertised address when it is an IP; for an interface name (or an address with a
    // port) the engine's /info tells the address it listens on.
    const version = isIP(address);
    const joinAt = version === 0 ? undefined : `${version === 6 ? `[${address}]` : address}:${MANAGER_PORT}`;
    const [cluster, info] = await Promise.all([
      client.request<SwarmInspect>('/swarm'),
      !known || (joinAs && !joinAt) ? swarmInfo(client) : undefined,
    ]);
    const member: SwarmMember = {
      machine: name,
      swarm: name,
      clusterId: cluster.ID,
      role: 'manager',
      nodeId: known ? nodeId : (info?.NodeID ?? ''),
      address,
    };
    if (!joinAs) return { member };
    const managers: InfoSwarm = info ?? { RemoteManagers: [{ NodeID: member.nodeId, Addr: joinAt! }] };
    return { member, join: joinInfoOf(name, joinAs, managers, cluster, { id: cluster.ID, name }) };
  }

  /**
   * `moor swarm join --manager M NAME...`: the machines join M's swarm in parallel, with the token of
   * their role read from M (never stored or printed).
   */
  async join(
    managerName: string,
    names: string[],
    options: { role?: SwarmRole } = {},
  ): Promise<{ name: string; result: SwarmMember }[]> {
    const role = options.role ?? 'worker';
    // The joining machines' own checks (running, not a member, their address, their engine in no swarm) go
    // on while the manager is asked: nothing is changed until both are done.
    const targets = new Map([...new Set(names)].map((name) => [name, this.joinTarget(name)]));
    for (const target of targets.values()) target.catch(() => undefined); // awaited by joinOne, or below
    try {
      return await this.joinWith(managerName, role, targets);
    } finally {
      await closeTargets(targets);
    }
  }

  private async joinWith(
    managerName: string,
    role: SwarmRole,
    targets: Map<string, Promise<JoinTarget>>,
  ): Promise<{ name: string; result: SwarmMember }[]> {
    const manager = await this.createdMember(managerName);
    const managerSwarm = swarmOf(manager.record);
    // The manager's state and its engine are asked at the same time (an engine that answers is on a running
    // machine; a machine that is not running gets that error, whatever its engine said).
    const state = manager.driver.getState();
    const asked = this.withClient(manager, async (client) => {
      const [info, inspect] = await Promise.all([
        swarmInfo(client),
        client.request<SwarmInspect>('/swarm').then(
          (answer) => ({ answer }),
          (error: unknown) => ({ error }),
        ),
      ]);
      if (info.LocalNodeState !== 'active' || !info.ControlAvailable) throw notAManager(managerName, info);
      if ('error' in inspect) throw inspect.error;
      const cluster = {
        id: inspect.answer.ID,
        name: inspect.answer.Spec?.Labels?.[SWARM_NAME_LABEL] ?? managerSwarm?.Name ?? managerName,
      };
      return { info, join: joinInfoOf(managerName, role, info, inspect.answer, cluster) };
    });
    asked.catch(() => undefined); // awaited below, once the state is known
    const current = await state;
    if (current !== MachineState.Running) throw notRunning(managerName, current);
    const { info, join } = await asked;
    const { cluster } = join;
    if (!managerSwarm) {
      // A swarm made outside moor on a moor machine: record the manager as what it is.
      await this.record(managerName, {
        machine: managerName,
        swarm: cluster.name,
        clusterId: cluster.id,
        role: 'manager',
        nodeId: info.NodeID ?? '',
        address: info.NodeAddr ?? '',
      });
    }
    await openPorts(manager, this.log);
    return forEachMachine([...targets.keys()], (name) => this.joinOne(name, targets.get(name)!, join));
  }

  /**
   * A machine about to join (or start) a swarm: checked (running, in no swarm), with its address (the one
   * given, or advertiseAddressOf's) and an open engine client.
   */
  private async joinTarget(name: string, advertiseAddr?: string): Promise<JoinTarget> {
    const machine = await this.runningMember(name);
    assertNotMember(machine.record);
    const address = advertiseAddr ?? (await advertiseAddressOf(machine));
    const client = await engineClientOf(machine);
    try {
      await assertEngineNotInSwarm(client);
    } catch (error) {
      await client.close().catch(() => undefined);
      throw error;
    }
    return { machine, address, client };
  }

  private async joinOne(name: string, target: Promise<JoinTarget>, join: JoinInfo): Promise<SwarmMember> {
    const { machine, address, client } = await target;
    const joined = await (async () => {
      await openPorts(machine, this.log);
      this.log.step(`"${name}" joins swarm "${join.cluster.name}" as a ${join.role}`);
      try {
        await this.joinCall(client, name, address, join);
      } catch (error) {
        if (!lostTransport(error)) throw error;
        return { lost: error };
      }
      return { info: await swarmInfo(client) };
    })();
    // The way to the engine broke while it joined (a join can take long): ask it again whether it joined.
    const info = joined.info ?? (await this.joinOutcome(machine, joined.lost));
    const member: SwarmMember = {
      machine: name,
      swarm: join.cluster.name,
      clusterId: info.Cluster?.ID ?? join.cluster.id,
      role: join.role,
      nodeId: info.NodeID ?? '',
      address,
    };
    await this.record(name, member);
    return member;
  }

  /** After the connection was lost during a join: the engine's swarm state once it settled, or `lost` again. */
  private async joinOutcome(machine: Machine, lost: unknown): Promise<InfoSwarm> {
    const name = machine.record.Name;
    this.log.warn(`The connection to "${name}" broke during the join (${messageOf(lost)}): asking its engine again`);
    return this.withClient(machine, (client) =>
      waitFor(
        async () => {
          const info = await swarmInfo(client);
          if (info.LocalNodeState === 'active') return info;
          if (info.LocalNodeState === 'pending') return notYet('the join is pending');
          throw lost;
        },
        { what: `"${name}" to finish joining`, timeoutMs: SWARM_CALL_TIMEOUT_MS },
      ),
    );
  }

  private async joinCall(
    client: EngineClient,
    name: string,
    address: string,
    join: { token: string; remoteAddrs: string[]; cluster: { name: string } },
  ): Promise<void> {
    try {
      await client.request(
        '/swarm/join',
        {
          method: 'POST',
          body: {
            ListenAddr: `0.0.0.0:${MANAGER_PORT}`,
            AdvertiseAddr: address,
            RemoteAddrs: join.remoteAddrs,
            JoinToken: join.token,
          },
        },
        SWARM_CALL_TIMEOUT_MS,
      );
    } catch (error) {
      const reach = `"${name}" must reach ${join.remoteAddrs.join(', ')} and the other machines on ${SWARM_PORTS.join(', ')} (a host firewall or a cloud's security group may be in the way).`;
      if (!(error instanceof EngineStatusError)) {
        throw swarmCallFailed(`"${name}" could not join swarm "${join.cluster.name}"`, error, [reach]);
      }
      // The engine gave up waiting for a manager but goes on trying in the background ("pending"): it would
      // join later behind moor's back, and refuse the next join. It stops here.
      const state = (await swarmInfo(client).catch(() => ({}) as InfoSwarm)).LocalNodeState;
      if (state !== 'pending' && state !== 'error') {
        throw swarmCallFailed(`"${name}" could not join swarm "${join.cluster.name}"`, error, [reach]);
      }
      await leaveCall(client, name, true).catch(() => undefined);
      throw new MoorError(
        `"${name}" could not join swarm "${join.cluster.name}": no manager answered at ${join.remoteAddrs.join(', ')} before the engine stopped waiting (${error.engineMessage.split('.')[0]}); the join was cancelled.`,
        { code: 'SWARM_FAILED', suggestions: [reach], cause: error },
      );
    }
  }

  /**
   * `moor swarm leave NAME...`, one after the other (managers leaving together could cost the swarm its
   * quorum): each is demoted when it is a manager, drained, leaves, and its node is removed on a manager.
   */
  async leave(names: string[], options: { force?: boolean } = {}): Promise<string[]> {
    const left: string[] = [];
    const failures: { name: string; error: Error }[] = [];
    for (const name of names) {
      try {
        await this.leaveOne(name, { force: options.force ?? false });
        left.push(name);
      } catch (error) {
        failures.push({ name, error: error instanceof Error ? error : new Error(String(error)) });
      }
    }
    if (failures.length === 1 && names.length === 1) throw failures[0]!.error;
    if (failures.length > 0) throw new MultiError(failures, left);
    return left;
  }

  /**
   * The order in which `moor rm` removes machines so that their swarms survive it: first, in parallel,
   * the machines in no swarm and the workers; then the managers one at a time (each demoted while the
   * others keep the quorum, the last one leaving after every other node it had to remove is gone).
   */
  async removalWaves(names: string[]): Promise<string[][]> {
    const first: string[] = [];
    const managers: string[] = [];
    for (const name of names) {
      const record = await this.store.load(name).catch(() => undefined);
      if (record && swarmOf(record)?.Role === 'manager') managers.push(name);
      else first.push(name);
    }
    return [first, ...managers.map((name) => [name])].filter((wave) => wave.length > 0);
  }

  /**
   * Before `moor rm`: a member leaves its swarm (with force, a machine that cannot be reached only loses its
   * node on a manager, and a failure is a warning). The last manager with workers is refused without force.
   */
  async leaveBeforeRemove(name: string, force: boolean): Promise<void> {
    let record: MachineRecord;
    try {
      record = await this.store.load(name);
    } catch {
      return; // rm says what is wrong with it
    }
    const swarm = swarmOf(record);
    if (!swarm) return;
    this.log.step(`"${name}" leaves swarm "${swarm.Name}" first`);
    try {
      await this.leaveOne(name, { force, removing: true });
    } catch (error) {
      if (!force || (error instanceof MoorError && error.code === 'SWARM_LAST_MANAGER')) throw error;
      this.log.warn(`"${name}" could not leave swarm "${swarm.Name}" (${messageOf(error)}); removing it anyway.`);
    }
  }

  private async leaveOne(name: string, options: { force: boolean; removing?: boolean }): Promise<void> {
    const record = await this.store.load(name);
    const swarm = swarmOf(record);
    if (!swarm) {
      throw new MoorError(`Machine "${name}" is not in a swarm (as far as moor knows).`, {
        code: 'SWARM_NOT_MEMBER',
        suggestions: ['Run "moor swarm ls" to see the swarms and their machines.'],
      });
    }
    const machine = await machineFromRecord(this.store, record, this.log);
    // Another manager acts (demote, drain, remove the node); the machine itself when it is the only one.
    // The machine's own connection opens after the manager is found: an SSH connection left idle while
    // other hosts are asked can be dropped by its keepalive on a loaded host.
    const other = await this.reachableManager(swarm.ClusterID, { except: name });
    let self: { client?: EngineClient; problem?: MoorError } = {};
    try {
      self = await this.clientOrProblem(machine);
      // A connection that broke on the way (an SSH keepalive lost on a loaded host) gets one more try, as a
      // join does: "cannot be reached" would leave its engine in the swarm.
      if (!self.client && lostTransport(self.problem)) {
        this.log.debug(`The way to "${name}" broke (${messageOf(self.problem)}); connecting again`);
        self = await this.clientOrProblem(machine);
      }
      const actor = other?.client ?? (self.client && swarm.Role === 'manager' ? self.client : undefined);
      try {
        if (!actor) {
          throw new MoorError(`No manager of swarm "${swarm.Name}" answers, so "${name}" cannot leave it cleanly.`, {
            code: 'SWARM_NO_MANAGER',
            suggestions: ['Start a manager of the swarm and try again, or give -f to forget the membership anyway.'],
          });
        }
        const nodes = await actor.request<NodeObject[]>('/nodes');
        const node = nodes.find((n) => n.ID === swarm.NodeID);
        const lastManager =
          swarm.Role === 'manager' &&
          nodes.filter((n) => n.Spec.Role === 'manager' && n.ID !== swarm.NodeID).length === 0;
        if (lastManager) {
          const workers = nodes.filter((n) => n.ID !== swarm.NodeID);
          if (workers.length > 0 && !options.force) throw lastManagerError(name, swarm.Name, workers.length, options);
          if (!self.client) throw self.problem!;
          this.log.step(`"${name}" is the last manager: swarm "${swarm.Name}" ends`);
          await leaveCall(self.client, name, true);
        } else {
          if (node && other) await this.demoteAndDrain(other.client, node, name);
          if (self.client) await leaveCall(self.client, name, false);
          else if (!options.force && !options.removing) throw self.problem!;
          else this.log.warn(`"${name}" cannot be reached (${messageOf(self.problem)}): removing its node only.`);
          if (node && other) await removeNode(other.client, node.ID);
        }
      } catch (error) {
        if (!(options.force && !(error instanceof MoorError && error.code === 'SWARM_LAST_MANAGER'))) throw error;
        if (self.client) await leaveCall(self.client, name, true).catch(() => undefined);
        this.log.warn(`"${name}" left swarm "${swarm.Name}" by force: ${messageOf(error)}`);
      } finally {
        await other?.client.close();
      }
      await this.forget(name);
    } finally {
      await self.client?.close();
    }
  }

  private async demoteAndDrain(manager: EngineClient, node: NodeObject, name: string): Promise<void> {
    this.log.step(
      node.Spec.Role === 'manager'
        ? `Demoting and draining "${name}"`
        : `Draining "${name}" (its tasks move elsewhere)`,
    );
    await updateNode(manager, node, (spec) => ({ ...spec, Role: 'worker', Availability: 'drain' }));
    if (node.Spec.Role === 'manager') {
      // A manager must have stepped down before it may leave without --force.
      await waitFor(
        async () => {
          const current = await manager.request<NodeObject>(`/nodes/${encodeURIComponent(node.ID)}`);
          return current.ManagerStatus ? notYet('still a manager') : true;
        },
        { what: `"${name}" to be demoted`, timeoutMs: 60_000 },
      );
    }
  }

  /** `moor swarm ls [M]`: the nodes of M's swarm, or of every swarm the store knows. */
  async list(name?: string): Promise<SwarmView[]> {
    const records = await this.memberRecords();
    let clusters: { id: string; name: string }[];
    if (name !== undefined) {
      const swarm = swarmOf(await this.store.load(name));
      if (!swarm) throw notMember(name);
      clusters = [{ id: swarm.ClusterID, name: swarm.Name }];
    } else {
      const seen = new Map<string, string>();
      for (const record of records) {
        const swarm = swarmOf(record)!;
        if (!seen.has(swarm.ClusterID)) seen.set(swarm.ClusterID, swarm.Name);
      }
      clusters = [...seen].map(([id, swarmName]) => ({ id, name: swarmName }));
    }
    return Promise.all(clusters.map((cluster) => this.view(cluster, records)));
  }

  private async view(cluster: { id: string; name: string }, records: MachineRecord[]): Promise<SwarmView> {
    const members = records.filter((record) => swarmOf(record)?.ClusterID === cluster.id);
    const manager = await this.reachableManager(cluster.id);
    if (!manager) {
      return {
        name: cluster.name,
        clusterId: cluster.id,
        via: '',
        nodes: [],
        error: `No manager of swarm "${cluster.name}" answers (its machines: ${members.map((r) => r.Name).join(', ')}).`,
      };
    }
    try {
      const nodes = await manager.client.request<NodeObject[]>('/nodes');
      const states = await this.machineStates(members);
      const byNode = new Map(members.map((record) => [swarmOf(record)!.NodeID, record.Name]));
      const views = nodes.map((node): SwarmNode => {
        const machine = byNode.get(node.ID) ?? '';
        const state = machine ? states.get(machine) : undefined;
        return {
          id: node.ID,
          hostname: node.Description?.Hostname ?? '',
          machine,
          role: node.Spec.Role ?? 'worker',
          leader: node.ManagerStatus?.Leader === true,
          availability: node.Spec.Availability ?? '',
          state: node.Status?.State ?? '',
          engineVersion: node.Description?.Engine?.EngineVersion ?? '',
          address: node.Status?.Addr ?? '',
          machineProblem: machine === '' ? 'gone' : state === MachineState.Running ? '' : 'stopped',
        };
      });
      return { name: cluster.name, clusterId: cluster.id, via: manager.name, nodes: views };
    } finally {
      await manager.client.close();
    }
  }

  /** `moor swarm join-token M`: the token of the role, read from a manager of M's swarm. */
  async joinToken(name: string, role: SwarmRole = 'worker'): Promise<string> {
    const record = await this.store.load(name);
    const swarm = swarmOf(record);
    if (!swarm) throw notMember(name);
    const manager = await this.reachableManager(swarm.ClusterID, { prefer: name });
    if (!manager) throw noManager(swarm.Name);
    try {
      const inspect = await manager.client.request<SwarmInspect>('/swarm');
      const token = role === 'manager' ? inspect.JoinTokens?.Manager : inspect.JoinTokens?.Worker;
      if (!token)
        throw new MoorError(`"${manager.name}" did not give a ${role} join token.`, { code: 'SWARM_NO_TOKEN' });
      return token;
    } finally {
      await manager.client.close();
    }
  }

  /**
   * `moor swarm repair M`: removes Down nodes whose machines no longer exist, and re-joins member machines
   * that run again but are no longer in the swarm as recorded (a cloud instance that came back with a new
   * address after stop and start).
   */
  async repair(name: string): Promise<RepairResult> {
    const swarm = swarmOf(await this.store.load(name));
    if (!swarm) throw notMember(name);
    const manager = await this.reachableManager(swarm.ClusterID, { prefer: name });
    if (!manager) throw noManager(swarm.Name);
    const result: RepairResult = { swarm: swarm.Name, removed: [], rejoined: [], stopped: [] };
    try {
      const members = (await this.memberRecords()).filter((record) => swarmOf(record)?.ClusterID === swarm.ClusterID);
      const known = new Set(members.map((record) => swarmOf(record)!.NodeID));
      const states = await this.machineStates(members);
      for (const member of members) {
        if (member.Name === manager.name || states.get(member.Name) === MachineState.Running) continue;
        result.stopped.push(member.Name);
      }
      const running = members.filter(
        (record) => record.Name !== manager.name && states.get(record.Name) === MachineState.Running,
      );
      const nodeIds = new Set((await manager.client.request<NodeObject[]>('/nodes')).map((node) => node.ID));
      const rejoins = await forEachMachine(
        running.map((record) => record.Name),
        (member) => this.rejoinIfNeeded(member, manager.client, nodeIds),
      );
      for (const { name: member, result: rejoined } of rejoins) {
        if (!rejoined) continue;
        result.rejoined.push(member);
        known.add(rejoined.nodeId);
      }
      const nodes = await manager.client.request<NodeObject[]>('/nodes');
      for (const node of nodes) {
        if (node.Status?.State !== 'down' || known.has(node.ID)) continue;
        this.log.step(`Removing node ${node.ID} (${node.Description?.Hostname ?? '?'}): its machine is gone`);
        await dropNode(manager.client, node);
        result.removed.push({ id: node.ID, hostname: node.Description?.Hostname ?? '' });
      }
    } finally {
      await manager.client.close();
    }
    return result;
  }

  /**
   * A running member whose engine is not in the swarm as recorded (not active, in another cluster, or
   * advertising an address that is no longer the machine's) leaves (force) and joins again. `nodeIds`: the
   * swarm's nodes, as the manager lists them.
   */
  private async rejoinIfNeeded(
    name: string,
    manager: EngineClient,
    nodeIds: Set<string>,
  ): Promise<SwarmMember | undefined> {
    const record = await this.store.load(name);
    const swarm = swarmOf(record)!;
    const machine = await machineFromRecord(this.store, record, this.log);
    const address = await advertiseAddressOf(machine);
    return this.withClient(machine, async (client) => {
      const info = await swarmInfo(client);
      // Only a manager's /info names its cluster: a worker is in this swarm when the manager lists its node.
      const inCluster = info.Cluster?.ID ? info.Cluster.ID === swarm.ClusterID : nodeIds.has(info.NodeID ?? '');
      const healthy = info.LocalNodeState === 'active' && inCluster && info.NodeAddr === address;
      if (healthy) return undefined;
      this.log.debug(
        `"${name}": state ${info.LocalNodeState ?? '?'}, node ${info.NodeID ?? '?'}, advertised at ${info.NodeAddr ?? '?'}; its address is ${address}`,
      );
      this.log.step(`"${name}" is not in swarm "${swarm.Name}" as it should be: joining it again`);
      if (inASwarm(info)) await forceLeave(machine, client, this.log);
      // Its old node goes first: a manager's is demoted, so that the raft cluster counts it out before the
      // machine joins again as another member.
      const old = await manager
        .request<NodeObject>(`/nodes/${encodeURIComponent(swarm.NodeID)}`)
        .catch((error: unknown) => {
          if (error instanceof EngineStatusError && error.status === 404) return undefined;
          throw error;
        });
      if (old) await dropNode(manager, old);
      const managerInfo = await swarmInfo(manager);
      const inspect = await manager.request<SwarmInspect>('/swarm');
      const token = swarm.Role === 'manager' ? inspect.JoinTokens?.Manager : inspect.JoinTokens?.Worker;
      if (!token) throw new MoorError(`No ${swarm.Role} join token from the manager.`, { code: 'SWARM_NO_TOKEN' });
      const remoteAddrs = (managerInfo.RemoteManagers ?? []).map((remote) => remote.Addr);
      await openPorts(machine, this.log);
      await this.joinCall(client, name, address, { token, remoteAddrs, cluster: { name: swarm.Name } });
      const after = await swarmInfo(client);
      const member: SwarmMember = {
        machine: name,
        swarm: swarm.Name,
        clusterId: swarm.ClusterID,
        role: swarm.Role,
        nodeId: after.NodeID ?? '',
        address,
      };
      await this.record(name, member);
      return member;
    });
  }

  /**
   * `moor env --swarm NAME` / `moor use --swarm NAME`: a running manager of NAME's swarm (NAME is a member
   * machine or the swarm's name) whose engine answers; NAME itself when it is one.
   */
  async managerOf(name: string): Promise<string> {
    const records = await this.memberRecords();
    const own = records.find((record) => record.Name === name);
    const swarm = own ? swarmOf(own) : records.map(swarmOf).find((options) => options?.Name === name);
    if (!swarm) {
      if (!(await this.store.exists(name))) throw new MachineNotFoundError(name);
      throw notMember(name);
    }
    const manager = await this.reachableManager(swarm.ClusterID, { prefer: name });
    if (!manager) throw noManager(swarm.Name);
    await manager.client.close();
    return manager.name;
  }

  // ------------------------------------------------------------------------------------------------ helpers

  private async memberRecords(): Promise<MachineRecord[]> {
    const loaded = await this.store.loadAll();
    return loaded.flatMap((entry) => (entry.record && swarmOf(entry.record) ? [entry.record] : []));
  }

  private async machineStates(records: MachineRecord[]): Promise<Map<string, string>> {
    const states = await Promise.all(
      records.map(async (record) => {
        try {
          const { driver } = await machineFromRecord(this.store, record, this.log);
          return [record.Name, await driver.getState()] as const;
        } catch {
          return [record.Name, MachineState.Error] as const;
        }
      }),
    );
    return new Map(states);
  }

  /**
   * A manager of the cluster whose engine answers as a manager, with an open client (close it): `prefer`
   * first, then the other recorded managers in order; `except` is never used.
   */
  private async reachableManager(
    clusterId: string,
    options: { prefer?: string; except?: string } = {},
  ): Promise<{ name: string; client: EngineClient } | undefined> {
    const managers = (await this.memberRecords())
      .filter((record) => {
        const swarm = swarmOf(record)!;
        return swarm.ClusterID === clusterId && swarm.Role === 'manager' && record.Name !== options.except;
      })
      .sort((a, b) => Number(b.Name === options.prefer) - Number(a.Name === options.prefer));
    for (const record of managers) {
      const machine = await machineFromRecord(this.store, record, this.log).catch(() => undefined);
      if (!machine) continue;
      const { client } = await this.clientOrProblem(machine, 5_000);
      if (!client) continue;
      try {
        const info = await swarmInfo(client);
        if (info.ControlAvailable && info.Cluster?.ID === clusterId) return { name: record.Name, client };
      } catch (error) {
        this.log.debug(`Manager "${record.Name}" did not answer: ${messageOf(error)}`);
      }
      await client.close();
    }
    return undefined;
  }

  /** An open client to the machine's engine, or why there is none (not running, unreachable). */
  private async clientOrProblem(
    machine: Machine,
    timeoutMs = 30_000,
  ): Promise<{ client?: EngineClient; problem?: MoorError }> {
    try {
      const state = await machine.driver.getState();
      if (state !== MachineState.Running) return { problem: notRunning(machine.record.Name, state) };
      return { client: await engineClientOf(machine, timeoutMs) };
    } catch (error) {
      return {
        problem:
          error instanceof MoorError
            ? error
            : new MoorError(messageOf(error), { code: 'ENGINE_UNREACHABLE', cause: error }),
      };
    }
  }

  private async withClient<T>(machine: Machine, fn: (client: EngineClient) => Promise<T>): Promise<T> {
    const client = await engineClientOf(machine);
    try {
      return await fn(client);
    } finally {
      await client.close().catch(() => undefined); // a connection that broke closes as it can
    }
  }

  private async runningMember(name: string): Promise<Machine> {
    const machine = await this.createdMember(name);
    const state = await machine.driver.getState();
    if (state !== MachineState.Running) throw notRunning(name, state);
    return machine;
  }

  /** The machine, once its create finished (its state not asked). */
  private async createdMember(name: string): Promise<Machine> {
    const machine = await openMachine(this.store, name, this.log);
    if (machine.record.Phase !== 'created') {
      throw new MoorError(
        `Machine "${name}" is not ready (its create ${machine.record.Phase === 'error' ? 'failed' : 'is not finished'}).`,
        {
          code: 'MACHINE_ERROR',
        },
      );
    }
    return machine;
  }

  /** Writes the membership into the machine's record (under its lock). */
  private async record(name: string, member: SwarmMember): Promise<void> {
    await this.store.withMachineLock(name, 'swarm', async () => {
      const record = await this.store.load(name);
      const options: SwarmOptions = {
        IsSwarm: true,
        Master: member.role === 'manager',
        ClusterID: member.clusterId,
        Name: member.swarm,
        Role: member.role,
        NodeID: member.nodeId,
      };
      record.HostOptions.SwarmOptions = options;
      await this.store.save(record);
    });
  }

  private async forget(name: string): Promise<void> {
    await this.store.withMachineLock(name, 'swarm', async () => {
      const record = await this.store.load(name);
      delete record.HostOptions.SwarmOptions;
      await this.store.save(record);
    });
  }
}

/** The machine's engine over its own transport: TLS to its URL, or its SSH connection. */
export async function engineClientOf(machine: Machine, timeoutMs = 30_000): Promise<EngineClient> {
  const { driver, record, dir } = machine;
  const engine = record.HostOptions.EngineOptions;
  if (transportOf(engine) === 'ssh') {
    const [{ sshEngineClient }, { sshTargetOf }] = await Promise.all([
      import('./docker/client.js'),
      import('./ssh/target.js'),
    ]);
    const target = sshTargetOf(await driver.getSSHConfig(), {
      machineName: record.Name,
      ...(record.SSHHostKey ? { hostKey: record.SSHHostKey } : {}),
    });
    return sshEngineClient(record.Name, target, {
      ...(engine.Socket ? { socket: engine.Socket } : {}),
      connectTimeoutMs: timeoutMs,
    });
  }
  const [{ tlsEngineClient }, { engineTLSFrom }] = await Promise.all([
    import('./docker/client.js'),
    import('./docker/engine.js'),
  ]);
  return tlsEngineClient(record.Name, await driver.getURL(), engineTLSFrom(dir));
}

/**
 * The address other machines reach this one on: the driver's swarm address (a cloud instance's private
 * one), else its IP. A loopback address (a VM on user-mode networking, reached through a forwarded port)
 * cannot be reached by other machines.
 */
export async function advertiseAddressOf(machine: Machine): Promise<string> {
  const name = machine.record.Name;
  const { driver } = machine;
  const ip = await (driver.getSwarmAddress ? driver.getSwarmAddress() : driver.getIP()).catch(() => '');
  if (!ip) {
    throw new MoorError(`Machine "${name}" has no address that other machines could reach.`, {
      code: 'SWARM_NO_ADDRESS',
      suggestions: [`Give one: moor swarm init --advertise-addr ADDRESS ${name}`],
    });
  }
  if (ip === 'localhost' || (isIP(ip) === 4 && ip.startsWith('127.')) || ip === '::1') {
    throw new MoorError(
      `Machine "${name}" is reachable only at ${ip} (user-mode networking, through forwarded ports): other machines cannot reach it, so it cannot be in a swarm.`,
      {
        code: 'SWARM_UNREACHABLE_ADDRESS',
        suggestions: [
          'Create the machines on a network they share: for qemu, the bridge network (see "moor create --help" for the driver\'s network flag).',
        ],
      },
    );
  }
  return ip;
}

async function openPorts(machine: Machine, log: Logger): Promise<void> {
  if (!machine.driver.openSwarmPorts) return;
  log.debug(
    `Asking the ${machine.record.DriverName} driver to open ${SWARM_PORTS.join(', ')} for "${machine.record.Name}"`,
  );
  await machine.driver.openSwarmPorts();
}

/** Whether an engine's /info says it is in a swarm (active, pending, error or locked: anything but inactive). */
function inASwarm(info: InfoSwarm): boolean {
  return info.LocalNodeState !== undefined && info.LocalNodeState !== '' && info.LocalNodeState !== 'inactive';
}

async function assertEngineNotInSwarm(client: EngineClient): Promise<void> {
  const info = await swarmInfo(client);
  if (inASwarm(info)) {
    throw new MoorError(
      `The engine of "${client.machine}" is in a swarm already (state ${info.LocalNodeState}${info.Cluster?.ID ? `, cluster ${info.Cluster.ID}` : ''}).`,
      {
        code: 'SWARM_ALREADY_MEMBER',
        suggestions: [`Make it leave that swarm first: moor ssh ${client.machine} -- docker swarm leave --force`],
      },
    );
  }
}

function assertNotMember(record: MachineRecord): void {
  const swarm = swarmOf(record);
  if (!swarm) return;
  throw new MoorError(`Machine "${record.Name}" is in swarm "${swarm.Name}" already (as a ${swarm.Role}).`, {
    code: 'SWARM_ALREADY_MEMBER',
    suggestions: [`Make it leave first: moor swarm leave ${record.Name}`],
  });
}

async function leaveCall(
  client: EngineClient,
  name: string,
  force: boolean,
  timeoutMs = SWARM_CALL_TIMEOUT_MS,
): Promise<void> {
  try {
    await client.request(`/swarm/leave${force ? '?force=true' : ''}`, { method: 'POST' }, timeoutMs);
  } catch (error) {
    if (error instanceof EngineStatusError && /not part of a swarm/i.test(error.engineMessage)) return;
    throw swarmCallFailed(`"${name}" could not leave its swarm`, error);
  }
}

/** How many times updateNode reads the node again after its version went stale. */
const NODE_UPDATE_ATTEMPTS = 5;

/**
 * Updates a node's spec to `change(spec)`. An update names the node's version: when the swarm changed the
 * node in between (its status moves while other members leave or drain), the manager answers "update out of
 * sequence"; the node is read again and the change applied to the fresh spec, a bounded number of times.
 */
export async function updateNode(
  manager: EngineClient,
  node: NodeObject,
  change: (spec: NodeObject['Spec']) => NodeObject['Spec'],
): Promise<void> {
  const path = `/nodes/${encodeURIComponent(node.ID)}`;
  let current = node;
  for (let attempt = 1; ; attempt++) {
    try {
      await manager.request(`${path}/update?version=${current.Version.Index}`, {
        method: 'POST',
        body: change(current.Spec),
      });
      return;
    } catch (error) {
      const stale = error instanceof EngineStatusError && /update out of sequence/i.test(error.engineMessage);
      if (!stale || attempt >= NODE_UPDATE_ATTEMPTS) throw error;
      current = await manager.request<NodeObject>(path);
    }
  }
}

/** Restarts a machine's engine and waits until it answers (provision/provision.ts). */
export type EngineRestarter = (machine: Machine, log: Logger) => Promise<unknown>;

const restartOverSsh: EngineRestarter = async ({ record, driver, dir }, log) => {
  const { restartEngine } = await import('./provision/provision.js');
  return restartEngine(record, driver, dir, { sshTimeoutMs: 60_000 }, log);
};

/**
 * A forced leave of a member that came back in a state the swarm no longer knows. Docker's engine can hang in
 * that leave and never answer (docker/for-linux#499; seen here on a worker back at a new address): after
 * LEAVE_HANG_MS without an answer the engine is restarted over SSH, which ends the stuck call, and the leave is
 * asked again of the restarted engine if it is still in a swarm.
 */
export async function forceLeave(
  machine: Machine,
  client: EngineClient,
  log: Logger,
  restart: EngineRestarter = restartOverSsh,
): Promise<void> {
  const name = machine.record.Name;
  try {
    await leaveCall(client, name, true, LEAVE_HANG_MS);
    return;
  } catch (error) {
    if (!lostTransport(error)) throw error;
    log.warn(
      `The engine of "${name}" did not finish leaving its old swarm within ${LEAVE_HANG_MS / 1000} s (${messageOf(error)}): restarting it.`,
    );
  }
  await restart(machine, log);
  const info = await swarmInfo(client);
  if (inASwarm(info)) await leaveCall(client, name, true);
}

/** Removes a node that has left (force: its state may still read Ready for a moment). */
async function removeNode(manager: EngineClient, nodeId: string): Promise<void> {
  try {
    await manager.request(`/nodes/${encodeURIComponent(nodeId)}?force=true`, { method: 'DELETE' });
  } catch (error) {
    if (error instanceof EngineStatusError && error.status === 404) return;
    throw swarmCallFailed(`Could not remove node ${nodeId} from the swarm`, error);
  }
}

/** Removes a node that is down or stale: a manager is demoted first, and removed once raft let it go. */
async function dropNode(manager: EngineClient, node: NodeObject): Promise<void> {
  if (node.Spec.Role === 'manager') await updateNode(manager, node, (spec) => ({ ...spec, Role: 'worker' }));
  await waitFor(
    async () => {
      try {
        await removeNode(manager, node.ID);
        return true;
      } catch (error) {
        return notYet(error);
      }
    },
    { what: `node ${node.ID} to be removed`, timeoutMs: 60_000 },
  );
}

/** The transport to the engine broke (not an answer of the engine's). */
function lostTransport(error: unknown): boolean {
  return (
    error instanceof MoorError &&
    ['SSH_CONNECTION_LOST', 'SSH_CHANNEL_FAILED', 'ENGINE_UNREACHABLE'].includes(error.code)
  );
}

function swarmCallFailed(what: string, error: unknown, suggestions: string[] = []): MoorError {
  if (error instanceof EngineStatusError) {
    return new MoorError(`${what}: ${error.engineMessage}`, { code: 'SWARM_FAILED', suggestions, cause: error });
  }
  if (error instanceof MoorError) {
    return new MoorError(`${what}: ${error.message}`, {
      code: error.code,
      exitCode: error.exitCode,
      suggestions: [...suggestions, ...error.suggestions],
      cause: error,
    });
  }
  return new MoorError(`${what}: ${messageOf(error)}`, { code: 'SWARM_FAILED', suggestions, cause: error });
}

function lastManagerError(name: string, swarm: string, workers: number, options: { removing?: boolean }): MoorError {
  const verb = options.removing ? 'Removing' : 'Leaving';
  return new MoorError(
    `"${name}" is the last manager of swarm "${swarm}", which has ${workers} other node${workers === 1 ? '' : 's'}. ${verb} it would end the swarm: the others would be left without a manager and take no more orders.`,
    {
      code: 'SWARM_LAST_MANAGER',
      suggestions: [
        `Promote another machine first (moor swarm leave NODE, then moor swarm join --manager ${name} --role manager NODE), or make the others leave first.`,
        `Or give -f to ${options.removing ? 'remove' : 'leave'} anyway.`,
      ],
    },
  );
}

function notMember(name: string): MoorError {
  return new MoorError(`Machine "${name}" is not in a swarm.`, {
    code: 'SWARM_NOT_MEMBER',
    suggestions: [`Start one with "moor swarm init ${name}", or run "moor swarm ls" to see the swarms.`],
  });
}

function notAManager(name: string, info: InfoSwarm): MoorError {
  return new MoorError(
    info.LocalNodeState === 'active'
      ? `Machine "${name}" is a worker, not a manager of its swarm: join through a manager.`
      : `Machine "${name}" is not in a swarm.`,
    {
      code: 'SWARM_NOT_MANAGER',
      suggestions: [`Run "moor swarm ls" to see the managers, or start a swarm with "moor swarm init ${name}".`],
    },
  );
}

function noManager(swarm: string): MoorError {
  return new MoorError(`No manager of swarm "${swarm}" answers.`, {
    code: 'SWARM_NO_MANAGER',
    suggestions: ['Start a manager of the swarm ("moor start NAME"), then try again: moor swarm ls shows them.'],
  });
}

function notRunning(name: string, state: string): MoorError {
  return new MoorError(`Machine "${name}" is not running (state: ${state || 'unknown'}).`, {
    code: 'NOT_RUNNING',
    suggestions: [`Start it with "moor start ${name}".`],
  });
}
