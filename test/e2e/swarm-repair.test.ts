/**
 * A swarm member whose server stops and comes back at another address, on three real test hosts: two tls
 * managers and a tls worker (generic). While the worker's host is down, `moor swarm ls` marks its node
 * "machine not running" and `moor swarm repair` leaves the node alone (it says to start the machine). The
 * host boots again, its disk (and Docker's swarm state) kept, at a new address, and the user tells moor the
 * way a user of generic does (the record's Driver.IPAddress, as a cloud driver updates it on start; then
 * regenerate-certs, the certificate naming the old address): `moor swarm repair` makes it join again, at its
 * new address, and the swarm keeps no Down node; a manager the same way. Then `moor rm` of the whole swarm in one command: the
 * worker leaves first, the managers one after the other, the last one ending the swarm.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import { createGeneric, hostOut, hostsOrPlaceholder, show } from './generic-helpers.js';
import { assertExit, TempStore, eventually as pollUntil } from './helpers.js';

interface NodeView {
  id: string;
  machine: string;
  hostname: string;
  role: string;
  state: string;
  address: string;
  machineProblem: string;
}

if (hostsOrPlaceholder('moor swarm repair of a machine back with a new address')) {
  describe('moor swarm repair of a machine back with a new address', () => {
    let store: TempStore;
    let manager: TestHost;
    let worker: TestHost;
    let second: TestHost;

    const nodes = async (): Promise<NodeView[]> => {
      const result = await store.moor(['swarm', 'ls', '--json', 'm'], { timeoutMs: 120_000 });
      assertExit(result, 0, 'swarm ls m');
      return (JSON.parse(result.stdout) as { nodes: NodeView[] }[])[0]!.nodes;
    };
    const record = async (name: string) =>
      JSON.parse(await readFile(join(store.machineDir(name), 'config.json'), 'utf8')) as {
        Driver: Record<string, unknown>;
        HostOptions: { SwarmOptions?: { NodeID: string } };
      };

    /** Polls `check` (no timing asserted: a bound of 240 s for a loaded machine). */
    const eventually = <T>(what: string, check: () => Promise<T | undefined>): Promise<T> =>
      pollUntil(what, check, 240);

    before(
      async () => {
        store = await TempStore.create();
        const up = async (base: string) => upHost({ name: hostName(base), ip: await allocateIp(), withDocker: true });
        [manager, worker, second] = await Promise.all([up('swr-m'), up('swr-w'), up('swr-v')]);
        const created = await Promise.all([
          createGeneric(store, 'm', manager, { extra: ['--swarm-manager'] }),
          createGeneric(store, 'w', worker),
        ]);
        for (const result of created) assertExit(result, 0, 'create');
        assertExit(
          await createGeneric(store, 'v', second, { extra: ['--swarm-join', 'm', '--swarm-role', 'manager'] }),
          0,
          'create --swarm-join m --swarm-role manager v',
        );
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    it("a join that cannot reach the manager's port fails naming the ports, and leaves nothing joining behind", async () => {
      // A host firewall on the manager that drops what comes to 2377/tcp (as ufw's default policy does).
      await hostOut(manager, 'iptables -I INPUT -p tcp --dport 2377 -j DROP && echo closed');
      let join;
      try {
        join = await store.moor(['swarm', 'join', '--manager', 'm', 'w'], { timeoutMs: 240_000 });
      } finally {
        await hostOut(manager, 'iptables -D INPUT -p tcp --dport 2377 -j DROP && echo open');
      }
      assertExit(join, 1, 'swarm join with 2377/tcp closed on the manager');
      assert.match(join.stderr, /no manager answered at .*2377 .*the join was cancelled/, show(join));
      assert.match(join.stderr, /2377\/tcp, 7946\/tcp, 7946\/udp, 4789\/udp \(a host firewall/, show(join));
      assert.equal((await record('w')).HostOptions.SwarmOptions, undefined, 'no membership recorded');
      assert.equal(await hostOut(worker, "docker info --format '{{.Swarm.LocalNodeState}}'"), 'inactive');
      assertExit(
        await store.moor(['swarm', 'join', '--manager', 'm', 'w'], { timeoutMs: 240_000 }),
        0,
        'swarm join --manager m w, the port open',
      );
    });

    it('a stopped machine: swarm ls marks its node, repair leaves it and says to start it', async () => {
      await worker.stop();
      const down = await eventually('the swarm to see w down', async () => {
        const list = await nodes();
        const node = list.find((n) => n.machine === 'w');
        return node?.state === 'down' ? node : undefined;
      });
      assert.equal(down.machineProblem, 'stopped');
      const table = await store.moor(['swarm', 'ls', 'm']);
      assertExit(table, 0, 'swarm ls m');
      const row = table.stdout.split('\n').find((line) => / w /.test(line));
      assert.match(row ?? '', /down .*machine not running$/, table.stdout);
      const repair = await store.moor(['swarm', 'repair', 'm'], { timeoutMs: 180_000 });
      assertExit(repair, 0, 'swarm repair m with w stopped');
      assert.match(repair.stderr, /"w" is not running: start it, then repair again/);
      assert.match(repair.stdout, /Swarm "m": nothing to repair/);
      assert.equal((await nodes()).length, 3, 'the stopped machine keeps its node');
    });

    it('back at a new address: the record told, repair makes it join again there, no Down node left', async () => {
      const oldIp = worker.ip;
      const oldNode = (await record('w')).HostOptions.SwarmOptions!.NodeID;
      await worker.boot(await allocateIp());
      assert.notEqual(worker.ip, oldIp);
      // What a user of generic does when the server's address changed (as Docker Machine's users do): the
      // record's address, then a server certificate naming it.
      const config = await record('w');
      config.Driver['IPAddress'] = worker.ip;
      await writeFile(join(store.machineDir('w'), 'config.json'), JSON.stringify(config, null, 2));
      assertExit(await store.moor(['regenerate-certs', '-f', 'w'], { timeoutMs: 240_000 }), 0, 'regenerate-certs -f w');

      const repair = await store.moor(['swarm', 'repair', 'm'], { timeoutMs: 240_000 });
      assertExit(repair, 0, 'swarm repair m');
      assert.match(repair.stdout, /"w" joined swarm "m" again/, show(repair));
      const newNode = (await record('w')).HostOptions.SwarmOptions!.NodeID;
      assert.notEqual(newNode, oldNode);
      const list = await eventually('w ready at its new address', async () => {
        const current = await nodes();
        return current.every((n) => n.state === 'ready') ? current : undefined;
      });
      assert.deepEqual(list.map((n) => `${n.machine} ${n.role} ${n.state} ${n.machineProblem}`).sort(), [
        'm manager ready ',
        'v manager ready ',
        'w worker ready ',
      ]);
      assert.equal(list.find((n) => n.machine === 'w')!.id, newNode);
      assert.equal(await hostOut(worker, "docker info --format '{{.Swarm.NodeAddr}}'"), worker.ip);
      const again = await store.moor(['swarm', 'repair', 'm'], { timeoutMs: 180_000 });
      assertExit(again, 0, 'swarm repair m again');
      assert.match(again.stdout, /Swarm "m": nothing to repair/);
    });

    it('a manager back at a new address: its old node demoted and removed, it joins again as a manager', async () => {
      // Three managers for the time of this test (w promoted outside moor), so that two keep the quorum.
      const wHostname = await hostOut(worker, 'hostname');
      await hostOut(manager, `docker node promote ${wHostname}`);
      await eventually('w to be a reachable manager', async () =>
        (await hostOut(manager, `docker node inspect --format '{{.ManagerStatus.Reachability}}' ${wHostname}`)) ===
        'reachable'
          ? true
          : undefined,
      );
      try {
        const oldNode = (await record('v')).HostOptions.SwarmOptions!.NodeID;
        await second.stop();
        await second.boot(await allocateIp());
        const config = await record('v');
        config.Driver['IPAddress'] = second.ip;
        await writeFile(join(store.machineDir('v'), 'config.json'), JSON.stringify(config, null, 2));
        assertExit(
          await store.moor(['regenerate-certs', '-f', 'v'], { timeoutMs: 240_000 }),
          0,
          'regenerate-certs -f v',
        );
        const repair = await store.moor(['swarm', 'repair', 'm'], { timeoutMs: 240_000 });
        assertExit(repair, 0, 'swarm repair m');
        assert.match(repair.stdout, /"v" joined swarm "m" again/, show(repair));
        const newNode = (await record('v')).HostOptions.SwarmOptions!.NodeID;
        assert.notEqual(newNode, oldNode);
        const list = await eventually('three ready managers, no Down node', async () => {
          const current = await nodes();
          return current.length === 3 && current.every((n) => n.state === 'ready') ? current : undefined;
        });
        assert.deepEqual(list.map((n) => `${n.machine} ${n.role}`).sort(), ['m manager', 'v manager', 'w manager']);
        assert.equal(list.find((n) => n.machine === 'v')!.id, newNode);
        assert.equal(await hostOut(second, "docker info --format '{{.Swarm.NodeAddr}}'"), second.ip);
        // The raft cluster has a leader again (it may elect one after the membership changes).
        await eventually('the swarm to have a leader', async () =>
          (await manager.exec("docker node ls --format '{{.ManagerStatus}}'")).stdout.includes('Leader')
            ? true
            : undefined,
        );
      } finally {
        await eventually('w demoted', async () =>
          (await manager.exec(`docker node demote ${wHostname}`)).code === 0 ? true : undefined,
        );
      }
    });

    it('rm of a whole swarm in one command: the worker first, then the managers one at a time; every engine leaves', async () => {
      const removed = await store.moor(['rm', '-y', 'm', 'v', 'w'], { timeoutMs: 300_000 });
      assertExit(removed, 0, 'rm -y m v w');
      const leaves = ['w', 'm', 'v'].map((name) => removed.stderr.indexOf(`"${name}" leaves swarm "m" first`));
      assert.ok(
        leaves.every((at) => at >= 0) && leaves[0]! < leaves[1]! && leaves[0]! < leaves[2]!,
        `the worker leaves before the managers:\n${removed.stderr}`,
      );
      assert.match(removed.stderr, /"v" is the last manager: swarm "m" ends/);
      for (const host of [manager, second, worker]) {
        assert.equal(
          await hostOut(host, "docker info --format '{{.Swarm.LocalNodeState}}'"),
          'inactive',
          `${host.name} left:\n${removed.stderr}`,
        );
      }
      assert.equal((await store.moor(['ls', '-q'])).stdout, '');
    });
  });
}
