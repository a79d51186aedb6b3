/**
 * The pure parts of Swarm mode: create's swarm flags, roles, the SWARM column, SwarmOptions in a record; the
 * order in which rm removes several members (records in a temporary store, no engine).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  defaultEngineOptions,
  type MachineRecord,
  swarmColumn,
  swarmOf,
  validateRecord,
} from '../../src/core/machine.js';
import {
  type NodeObject,
  refreshedSwarm,
  roleOf,
  SWARM_NAME_LABEL,
  swarmCreateRequest,
  Swarms,
  forceLeave,
  updateNode,
} from '../../src/core/swarm.js';
import type { Machine } from '../../src/core/lifecycle.js';
import type { EngineClient } from '../../src/core/docker/client.js';
import { EngineStatusError } from '../../src/core/docker/engine.js';
import { MoorError, MultiError } from '../../src/core/errors.js';
import { forEachMachineInWaves } from '../../src/core/lifecycle.js';
import { silentLogger } from '../../src/core/log.js';
import { Store } from '../../src/core/store.js';

function record(swarm?: Record<string, unknown>): MachineRecord {
  return {
    ConfigVersion: 1,
    Name: 'w1',
    DriverName: 'generic',
    CreatedAt: '2026-01-01T00:00:00.000Z',
    Phase: 'created',
    Driver: {},
    HostOptions: {
      EngineOptions: defaultEngineOptions(),
      AuthOptions: { ServerCertSANs: [] },
      ...(swarm ? { SwarmOptions: swarm as never } : {}),
    },
  };
}

const MEMBER = { IsSwarm: true, Master: false, ClusterID: 'c1', Name: 'm1', Role: 'worker', NodeID: 'n1' };

function refused(flags: Parameters<typeof swarmCreateRequest>[0], message: RegExp, code = 'CLASSIC_SWARM'): void {
  assert.throws(
    () => swarmCreateRequest(flags),
    (error: unknown) =>
      error instanceof MoorError && error.code === code && error.exitCode === 2 && message.test(error.message),
  );
}

describe('swarmCreateRequest: create --swarm-* flags', () => {
  it("--swarm-manager and Docker Machine's --swarm-master (with or without --swarm) start a swarm", () => {
    assert.deepEqual(swarmCreateRequest({ swarmManager: true, classic: [] }), { kind: 'init' });
    assert.deepEqual(swarmCreateRequest({ swarmMaster: true, classic: [] }), { kind: 'init' });
    assert.deepEqual(swarmCreateRequest({ swarmMaster: true, swarm: true, classic: [] }), { kind: 'init' });
  });

  it('--swarm-join M joins as a worker, or as --swarm-role says', () => {
    assert.deepEqual(swarmCreateRequest({ swarmJoin: 'm1', classic: [] }), {
      kind: 'join',
      manager: 'm1',
      role: 'worker',
    });
    assert.deepEqual(swarmCreateRequest({ swarmJoin: 'm1', swarmRole: 'manager', classic: [] }), {
      kind: 'join',
      manager: 'm1',
      role: 'manager',
    });
  });

  it('nothing asked: nothing to do', () => {
    assert.equal(swarmCreateRequest({ classic: [] }), undefined);
  });

  it('refuses classic Swarm: --swarm alone, and every classic flag, naming the moor way', () => {
    refused({ swarm: true, classic: [] }, /^--swarm: classic Docker Swarm is gone/);
    refused({ swarm: true, classic: ['swarm-discovery'] }, /^--swarm-discovery: classic Docker Swarm is gone/);
    refused({ swarmMaster: true, classic: ['swarm-strategy', 'swarm-opt'] }, /^--swarm-strategy, --swarm-opt:/);
    try {
      swarmCreateRequest({ swarm: true, classic: [] });
    } catch (error) {
      assert.ok((error as MoorError).suggestions.some((text) => text.includes('moor create --swarm-manager NAME')));
    }
  });

  it('refuses contradictions', () => {
    refused({ swarmManager: true, swarmJoin: 'm1', classic: [] }, /give one of them/, 'USAGE');
    refused({ swarmRole: 'manager', classic: [] }, /--swarm-role goes with --swarm-join/, 'USAGE');
    refused({ swarmJoin: 'm1', swarmRole: 'boss', classic: [] }, /Unknown swarm role "boss"/, 'USAGE');
  });

  it('roleOf: worker by default', () => {
    assert.equal(roleOf(undefined), 'worker');
    assert.equal(roleOf('manager'), 'manager');
  });
});

describe('SwarmOptions in the record', () => {
  it('the SWARM column in Docker Machine\'s form: the name, and " (manager)" on managers', () => {
    assert.equal(swarmColumn(record()), '');
    assert.equal(swarmColumn(record(MEMBER)), 'm1');
    assert.equal(swarmColumn(record({ ...MEMBER, Role: 'manager', Master: true })), 'm1 (manager)');
  });

  it('a Docker Machine classic-swarm record (no ClusterID) is no membership', () => {
    const classic = { IsSwarm: true, Master: true, Discovery: 'token://x', Address: 'tcp://0.0.0.0:3376' };
    assert.equal(validateRecord(record(classic), 'w1'), undefined);
    assert.equal(swarmOf(record(classic)), undefined);
    assert.equal(swarmColumn(record(classic)), '');
  });

  it('validates the fields moor reads', () => {
    assert.equal(validateRecord(record(MEMBER), 'w1'), undefined);
    assert.match(validateRecord(record({ ...MEMBER, Role: 'boss' }), 'w1')!, /SwarmOptions.Role/);
    assert.match(validateRecord(record({ ...MEMBER, ClusterID: 5 }), 'w1')!, /SwarmOptions.ClusterID must be a string/);
    assert.match(
      validateRecord(record({ ...MEMBER, IsSwarm: 'yes' }), 'w1')!,
      /SwarmOptions.IsSwarm must be a boolean/,
    );
  });
});

describe('refreshedSwarm: the record follows what ls heard from the engine', () => {
  const member = { IsSwarm: true, Master: false, ClusterID: 'c1', Name: 'm1', Role: 'worker' as const, NodeID: 'n1' };

  it('unchanged, or nothing sure: undefined', () => {
    assert.equal(refreshedSwarm(member, { LocalNodeState: 'active', NodeID: 'n1' }), undefined);
    assert.equal(refreshedSwarm(member, { LocalNodeState: 'pending' }), undefined);
    assert.equal(refreshedSwarm(member, undefined), undefined);
  });

  it('left the swarm: null', () => {
    assert.equal(refreshedSwarm(member, { LocalNodeState: 'inactive' }), null);
  });

  it('promoted: a manager now; moved to another swarm: its cluster and name', () => {
    assert.deepEqual(
      refreshedSwarm(member, { LocalNodeState: 'active', NodeID: 'n1', ControlAvailable: true, Cluster: { ID: 'c1' } }),
      { ...member, Role: 'manager', Master: true },
    );
    assert.deepEqual(
      refreshedSwarm(member, {
        LocalNodeState: 'active',
        NodeID: 'n9',
        ControlAvailable: true,
        Cluster: { ID: 'c2', Spec: { Labels: { [SWARM_NAME_LABEL]: 'other' } } },
      }),
      { ...member, ClusterID: 'c2', Name: 'other', Role: 'manager', Master: true, NodeID: 'n9' },
    );
  });
});

describe('moor rm of several members: the order their swarms survive', () => {
  it('removalWaves: machines in no swarm and workers together, then each manager alone, in the order given', async () => {
    const root = await mkdtemp(join(tmpdir(), 'moor-swarm-waves-'));
    try {
      const store = new Store(join(root, 'store'));
      const member = (name: string, role?: 'manager' | 'worker') => ({
        ...record(role ? { ...MEMBER, Role: role, Master: role === 'manager' } : undefined),
        Name: name,
      });
      for (const machine of [member('m1', 'manager'), member('w1', 'worker'), member('lone'), member('m2', 'manager')])
        await store.add(machine, []);
      const waves = await new Swarms(store, silentLogger).removalWaves(['m1', 'w1', 'lone', 'm2', 'missing']);
      assert.deepEqual(waves, [['w1', 'lone', 'missing'], ['m1'], ['m2']]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('forEachMachineInWaves: a wave starts once the one before settled; a failure stops nothing', async () => {
    const events: string[] = [];
    const work = async (name: string) => {
      events.push(`start ${name}`);
      await new Promise((resolve) => setImmediate(resolve));
      events.push(`end ${name}`);
      if (name === 'w2') throw new Error('w2 broke');
      return name.toUpperCase();
    };
    await assert.rejects(forEachMachineInWaves([['w1', 'w2'], ['m1'], ['m2']], work), (error: unknown) => {
      assert.ok(error instanceof MultiError);
      assert.deepEqual(
        error.errors.map((failure) => `${failure.name}: ${failure.error.message}`),
        ['w2: w2 broke'],
      );
      assert.deepEqual(error.results, [
        { name: 'w1', result: 'W1' },
        { name: 'm1', result: 'M1' },
        { name: 'm2', result: 'M2' },
      ]);
      return true;
    });
    assert.deepEqual(events, ['start w1', 'start w2', 'end w1', 'end w2', 'start m1', 'end m1', 'start m2', 'end m2']);
  });
});

/**
 * A manager that keeps node versions as swarmkit does: an update must name the node's current version, and
 * every accepted change (the caller's, or the swarm's own when `bumps` says so) moves it on.
 */
function versionedManager(node: NodeObject, bumps: number[]): EngineClient & { calls: string[]; node: NodeObject } {
  const state = { ...node, Version: { ...node.Version }, Spec: { ...node.Spec } };
  const calls: string[] = [];
  let updates = 0;
  return {
    machine: 'm1',
    endpoint: 'fake://m1',
    calls,
    node: state,
    async request<T>(path: string, call?: { method?: string; body?: unknown }): Promise<T> {
      calls.push(`${call?.method ?? 'GET'} ${path}`);
      if (call?.method === 'POST') {
        updates++;
        // The swarm changed the node (a status update) just before this call arrived.
        if (bumps.includes(updates)) state.Version.Index++;
        const version = Number(new URL(path, 'http://x').searchParams.get('version'));
        if (version !== state.Version.Index) {
          throw new EngineStatusError('fake://m1', {
            status: 500,
            body: '{"message":"rpc error: code = Unknown desc = update out of sequence"}',
          });
        }
        state.Spec = call.body as NodeObject['Spec'];
        state.Version.Index++;
        return undefined as T;
      }
      return structuredClone(state) as T;
    },
    async close() {},
  };
}

describe('updateNode: a node whose version moved on is read again', () => {
  const node: NodeObject = {
    ID: 'n1',
    Version: { Index: 10 },
    Spec: { Role: 'manager', Availability: 'active', Labels: { keep: 'me' } },
  };

  it('applies the change to the fresh spec after "update out of sequence"', async () => {
    const manager = versionedManager(node, [1, 2]);
    await updateNode(manager, node, (spec) => ({ ...spec, Role: 'worker', Availability: 'drain' }));
    assert.deepEqual(manager.node.Spec, { Role: 'worker', Availability: 'drain', Labels: { keep: 'me' } });
    assert.deepEqual(manager.calls, [
      'POST /nodes/n1/update?version=10',
      'GET /nodes/n1',
      'POST /nodes/n1/update?version=11',
      'GET /nodes/n1',
      'POST /nodes/n1/update?version=12',
    ]);
  });

  it("gives up after five stale versions with the engine's error", async () => {
    const manager = versionedManager(node, [1, 2, 3, 4, 5, 6]);
    await assert.rejects(
      updateNode(manager, node, (spec) => ({ ...spec, Role: 'worker' })),
      (error: unknown) => error instanceof EngineStatusError && /update out of sequence/.test(error.engineMessage),
    );
    assert.equal(manager.calls.filter((call) => call.startsWith('POST')).length, 5);
    assert.equal(manager.node.Spec.Role, 'manager');
  });

  it('passes any other engine error on at once', async () => {
    const manager = versionedManager(node, []);
    manager.request = async () => {
      throw new EngineStatusError('fake://m1', { status: 404, body: '{"message":"node n1 not found"}' });
    };
    await assert.rejects(
      updateNode(manager, node, (spec) => spec),
      /node n1 not found/,
    );
  });
});

describe('forceLeave: an engine that hangs in a swarm leave is restarted', () => {
  const machine = { record: { Name: 'w' } } as unknown as Machine;

  /** An engine whose leave answers with `leave` in turn; /info says `state`. */
  function engine(leave: (() => unknown)[], state: () => string) {
    const calls: string[] = [];
    const client: EngineClient = {
      machine: 'w',
      endpoint: 'fake://w',
      async request<T>(path: string): Promise<T> {
        calls.push(path);
        if (path.startsWith('/swarm/leave')) return leave.shift()!() as T;
        if (path === '/info') return { Swarm: { LocalNodeState: state() } } as T;
        throw new Error(`unexpected ${path}`);
      },
      async close() {},
    };
    return { client, calls };
  }
  const hung = () => {
    throw new MoorError('Cannot reach the Docker engine at tcp://10.123.0.13:2376: no answer within 45000 ms', {
      code: 'ENGINE_UNREACHABLE',
    });
  };
  const logged = () => {
    const lines: string[] = [];
    const log = { ...silentLogger, warn: (text: string) => lines.push(text) };
    return { log, lines };
  };

  it('a leave that answers: no restart', async () => {
    const { client, calls } = engine([() => ''], () => 'inactive');
    let restarts = 0;
    await forceLeave(machine, client, silentLogger, async () => restarts++);
    assert.equal(restarts, 0);
    assert.deepEqual(calls, ['/swarm/leave?force=true']);
  });

  it('no answer: the engine is restarted, and asked to leave again while it is still in a swarm', async () => {
    let state = 'active';
    const { client, calls } = engine([hung, () => ((state = 'inactive'), '')], () => state);
    const { log, lines } = logged();
    let restarts = 0;
    await forceLeave(machine, client, log, async () => restarts++);
    assert.equal(restarts, 1);
    assert.deepEqual(calls, ['/swarm/leave?force=true', '/info', '/swarm/leave?force=true']);
    assert.match(lines.join('\n'), /"w" did not finish leaving its old swarm within 45 s .*: restarting it\./);
  });

  it('a restarted engine that is out of the swarm already is not asked again', async () => {
    const { client, calls } = engine([hung], () => 'inactive');
    await forceLeave(machine, client, logged().log, async () => undefined);
    assert.deepEqual(calls, ['/swarm/leave?force=true', '/info']);
  });

  it("an engine's own error is no hang: it is passed on, nothing restarted", async () => {
    const { client } = engine(
      [
        () => {
          throw new EngineStatusError('fake://w', { status: 503, body: '{"message":"context deadline exceeded"}' });
        },
      ],
      () => 'active',
    );
    let restarts = 0;
    await assert.rejects(
      forceLeave(machine, client, silentLogger, async () => restarts++),
      /"w" could not leave its swarm: context deadline exceeded/,
    );
    assert.equal(restarts, 0);
  });

  it('a restart that fails is the error', async () => {
    const { client } = engine([hung], () => 'active');
    await assert.rejects(
      forceLeave(machine, client, logged().log, async () => {
        throw new MoorError('Cannot connect over SSH', { code: 'SSH_CONNECT_FAILED' });
      }),
      /Cannot connect over SSH/,
    );
  });
});
