/**
 * Swarm mode on three real test hosts, one cluster taken through its life in order: a tls manager and
 * two workers (one tls, one ssh-transport) joined in parallel; a service of 3 replicas on an overlay
 * network, reached task by task from a container on another node; ls's SWARM column and --filter swarm=;
 * env --swarm; the last manager refused; a worker leaving and one removed; three managers, then one
 * manager's engine killed and the swarm still answering through the others.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxImageTar } from '../helpers/image.js';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import { createGeneric, docker, hostOut, hostsOrPlaceholder, lsRow, machineEnv, show } from './generic-helpers.js';
import { assertExit, TempStore, eventually as pollUntil } from './helpers.js';

interface NodeRow {
  machine: string;
  role: string;
  availability: string;
  state: string;
  note: string;
}

if (hostsOrPlaceholder('moor swarm on three test hosts')) {
  describe('moor swarm on three test hosts', () => {
    let store: TempStore;
    const hosts: Record<string, TestHost> = {};
    let image: string;

    /** `moor swarm ls --json` of NAME's swarm: its nodes by machine name (or hostname for unknown ones). */
    const nodes = async (name: string): Promise<NodeRow[]> => {
      const result = await store.moor(['swarm', 'ls', '--json', name], { timeoutMs: 120_000 });
      assertExit(result, 0, `swarm ls ${name}`);
      const views = JSON.parse(result.stdout) as {
        nodes: {
          machine: string;
          hostname: string;
          role: string;
          availability: string;
          state: string;
          machineProblem: string;
        }[];
      }[];
      return views[0]!.nodes.map((node) => ({
        machine: node.machine || `?${node.hostname}`,
        role: node.role,
        availability: node.availability,
        state: node.state,
        note: node.machineProblem,
      }));
    };

    /** Polls `check` (no timing asserted: a bound of 300 s for a loaded machine). */
    const eventually = <T>(what: string, check: () => Promise<T | undefined>): Promise<T> =>
      pollUntil(what, check, 300);

    before(
      async () => {
        store = await TempStore.create();
        image = await buildBusyboxImageTar(store.path());
        const [m1, w1, w2] = await Promise.all(
          ['sw-m1', 'sw-w1', 'sw-w2'].map(async (base) =>
            upHost({ name: hostName(base), ip: await allocateIp(), withDocker: true }),
          ),
        );
        Object.assign(hosts, { m1, w1, w2 });
        const created = await Promise.all([
          createGeneric(store, 'm1', m1!),
          createGeneric(store, 'w1', w1!),
          createGeneric(store, 'w2', w2!, { extra: ['--engine-transport', 'ssh'] }),
        ]);
        for (const result of created) assertExit(result, 0, 'create');
        await Promise.all(
          ['m1', 'w1', 'w2'].map(async (name) =>
            assertExit(
              await store.moor(['docker', name, '--', 'import', image, 'moor-test/busybox'], { timeoutMs: 120_000 }),
              0,
              `docker import on ${name}`,
            ),
          ),
        );
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    it('create refuses classic Swarm flags before anything is created', async () => {
      for (const flags of [
        ['--swarm'],
        ['--swarm', '--swarm-discovery', 'token://abc'],
        ['--swarm-strategy', 'spread'],
      ]) {
        const result = await store.moor([
          'create',
          '-d',
          'none',
          '--url',
          'tcp://10.123.0.1:2376',
          ...flags,
          'classic',
        ]);
        assertExit(result, 2, `create ${flags.join(' ')}`);
        assert.match(result.stderr, /classic Docker Swarm is gone/);
        assert.match(result.stderr, /moor create --swarm-manager NAME/);
      }
      const listed = await store.moor(['ls', '-q']);
      assert.doesNotMatch(listed.stdout, /classic/, 'no record was written');
    });

    it('init on a tls machine, then a tls and an ssh-transport worker join in parallel', async () => {
      const init = await store.moor(['swarm', 'init', 'm1'], { timeoutMs: 180_000 });
      assertExit(init, 0, 'swarm init m1');
      assert.match(init.stdout, /Swarm "m1" started on "m1"/);
      const joined = await store.moor(['swarm', 'join', '--manager', 'm1', 'w1', 'w2'], { timeoutMs: 240_000 });
      assertExit(joined, 0, 'swarm join');
      assert.match(joined.stdout, /"w1" joined swarm "m1" as a worker/);
      assert.match(joined.stdout, /"w2" joined swarm "m1" as a worker/);
      // Tokens are secrets: never printed, never stored.
      assert.doesNotMatch(init.stdout + init.stderr + joined.stdout + joined.stderr, /SWMTKN/);
      for (const name of ['m1', 'w1', 'w2']) {
        const config = await readFile(join(store.root, 'machines', name, 'config.json'), 'utf8');
        assert.doesNotMatch(config, /SWMTKN/);
        const swarm = (JSON.parse(config) as { HostOptions: { SwarmOptions: Record<string, unknown> } }).HostOptions
          .SwarmOptions;
        assert.equal(swarm['Name'], 'm1');
        assert.equal(swarm['Role'], name === 'm1' ? 'manager' : 'worker');
        assert.equal(swarm['Master'], name === 'm1');
        assert.match(String(swarm['ClusterID']), /^[a-z0-9]{25}$/);
      }
      const list = await nodes('m1');
      assert.deepEqual(
        list.map((node) => `${node.machine} ${node.role} ${node.availability} ${node.state} ${node.note}`).sort(),
        ['m1 manager active ready ', 'w1 worker active ready ', 'w2 worker active ready '],
      );
      // The engines agree: the docker CLI on the manager's host sees three ready nodes.
      const onHost = await hostOut(hosts['m1']!, "docker node ls --format '{{.Status}}'");
      assert.deepEqual(onHost.split('\n'), ['Ready', 'Ready', 'Ready']);
    });

    it("ls shows the SWARM column in Docker Machine's form and filters with swarm=NAME", async () => {
      const table = await store.moor(['ls']);
      assertExit(table, 0, 'ls');
      assert.equal(lsRow(table.stdout, 'm1')['SWARM'], 'm1 (manager)');
      assert.equal(lsRow(table.stdout, 'w1')['SWARM'], 'm1');
      assert.equal(lsRow(table.stdout, 'w2')['SWARM'], 'm1');
      const formatted = await store.moor(['ls', '--format', '{{.Name}}={{.Swarm}}', '--filter', 'swarm=m1']);
      assertExit(formatted, 0, 'ls --format');
      assert.equal(formatted.stdout, 'm1=m1 (manager)\nw1=m1\nw2=m1\n');
      const none = await store.moor(['ls', '-q', '--filter', 'swarm=other']);
      assert.equal(none.stdout, '');
    });

    it('env --swarm points the docker CLI at a manager; a 3-replica service on an overlay network answers across nodes', async () => {
      const vars = await (async () => {
        const result = await store.moor(['env', '--swarm', 'w2']);
        assertExit(result, 0, 'env --swarm w2');
        return machineEnv(store, 'm1').then((m1) => ({ printed: result.stdout, m1 }));
      })();
      assert.match(vars.printed, /DOCKER_MACHINE_NAME="m1"/);
      assert.match(vars.printed, new RegExp(`DOCKER_HOST="${vars.m1['DOCKER_HOST']!.replace(/[.]/g, '\\.')}"`));
      const env = vars.m1;
      assertExit(
        await docker(['network', 'create', '-d', 'overlay', '--attachable', 'appnet'], env),
        0,
        'network create',
      );
      const service = await docker(
        [
          'service',
          'create',
          '--detach',
          '--no-resolve-image',
          '--name',
          'web',
          '--replicas',
          '3',
          '--replicas-max-per-node',
          '1',
          '--network',
          'appnet',
          '--hostname',
          '{{.Node.Hostname}}',
          'moor-test/busybox',
          'sh',
          '-c',
          'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec busybox httpd -f -p 8080 -h /www',
        ],
        env,
      );
      assertExit(service, 0, 'service create');
      const running = await eventually('3 tasks running on 3 nodes', async () => {
        const ps = await docker(
          ['service', 'ps', 'web', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}'],
          env,
        );
        const lines = ps.stdout
          .trim()
          .split('\n')
          .filter((line) => / Running /.test(` ${line} `));
        if (lines.length === 3) return lines.map((line) => line.split(' ')[0]!);
        const all = await docker(
          ['service', 'ps', 'web', '--no-trunc', '--format', '{{.Node}} {{.CurrentState}} {{.Error}}'],
          env,
        );
        throw new Error(`service ps:\n${all.stdout}${all.stderr}`);
      });
      assert.equal(new Set(running).size, 3, `one task per node: ${running.join(', ')}`);
      // A container on the manager asks every task by its overlay address (tasks.web).
      const probe = await docker(
        [
          'run',
          '--rm',
          '--network',
          'appnet',
          'moor-test/busybox',
          'sh',
          '-c',
          "for ip in $(busybox nslookup tasks.web 2>/dev/null | busybox awk '/^Address/ && !/127\\.0\\.0\\.11/ {print $2}'); do busybox wget -qO- http://$ip:8080/; done",
        ],
        env,
      );
      assertExit(probe, 0, 'probe over the overlay');
      const answers = probe.stdout.trim().split('\n').sort();
      const hostnames = await Promise.all(['m1', 'w1', 'w2'].map((name) => hostOut(hosts[name]!, 'hostname')));
      assert.deepEqual(answers, hostnames.map((hostname) => `hello from ${hostname}`).sort(), show(probe));
    });

    it('the last manager is refused while workers remain (swarm leave and rm), and stays', async () => {
      const leave = await store.moor(['swarm', 'leave', 'm1']);
      assertExit(leave, 1, 'swarm leave m1');
      assert.match(leave.stderr, /"m1" is the last manager of swarm "m1", which has 2 other nodes/);
      const rm = await store.moor(['rm', '-y', 'm1']);
      assertExit(rm, 1, 'rm -y m1');
      assert.match(rm.stderr, /Removing it would end the swarm/);
      assert.equal((await nodes('m1')).length, 3);
    });

    it('ls follows the engine where it asks it anyway: a promotion made outside moor shows and is recorded', async () => {
      const w1Hostname = await hostOut(hosts['w1']!, 'hostname');
      await hostOut(hosts['m1']!, `docker node promote ${w1Hostname}`);
      // The default table asks each engine (its DOCKER column): that is where the swarm state comes along.
      const swarmCell = async () => lsRow((await store.moor(['ls'])).stdout, 'w1')['SWARM'];
      await eventually('ls to show w1 as a manager', async () =>
        (await swarmCell()) === 'm1 (manager)' ? true : undefined,
      );
      const config = JSON.parse(await readFile(join(store.machineDir('w1'), 'config.json'), 'utf8')) as {
        HostOptions: { SwarmOptions: { Role: string; Master: boolean } };
      };
      assert.deepEqual(
        [config.HostOptions.SwarmOptions.Role, config.HostOptions.SwarmOptions.Master],
        ['manager', true],
      );
      await hostOut(hosts['m1']!, `docker node demote ${w1Hostname}`);
      await eventually('ls to show w1 as a worker again', async () =>
        (await swarmCell()) === 'm1' ? true : undefined,
      );
    });

    it('a worker leaves: gone from the node list, its record forgets the swarm', async () => {
      const leave = await store.moor(['swarm', 'leave', 'w1'], { timeoutMs: 180_000 });
      assertExit(leave, 0, 'swarm leave w1');
      assert.deepEqual((await nodes('m1')).map((node) => node.machine).sort(), ['m1', 'w2']);
      const table = await store.moor(['ls']);
      assert.equal(lsRow(table.stdout, 'w1')['SWARM'], '');
      assert.equal(await hostOut(hosts['w1']!, "docker info --format '{{.Swarm.LocalNodeState}}'"), 'inactive');
    });

    it('rm of a worker (the ssh-transport one) leaves the swarm first', async () => {
      const rm = await store.moor(['rm', '-y', 'w2'], { timeoutMs: 180_000 });
      assertExit(rm, 0, 'rm -y w2');
      assert.deepEqual(
        (await nodes('m1')).map((node) => node.machine),
        ['m1'],
      );
      // generic rm leaves the server running: its engine is out of the swarm.
      assert.equal(
        await hostOut(hosts['w2']!, "docker info --format '{{.Swarm.LocalNodeState}}'"),
        'inactive',
        `rm's output:\n${rm.stderr}`,
      );
    });

    it('three managers (a join as manager, a create --swarm-join); losing one engine keeps the swarm', async () => {
      const promoted = await store.moor(['swarm', 'join', '--manager', 'm1', '--role', 'manager', 'w1'], {
        timeoutMs: 180_000,
      });
      assertExit(promoted, 0, 'join w1 as a manager');
      const created = await createGeneric(store, 'w2', hosts['w2']!, {
        extra: ['--engine-transport', 'ssh', '--swarm-join', 'm1', '--swarm-role', 'manager'],
      });
      assertExit(created, 0, 'create --swarm-join m1 --swarm-role manager w2');
      assert.match(created.stdout, /It joined swarm "m1" as a manager/);
      const managers = await nodes('w1');
      assert.deepEqual(managers.map((node) => `${node.machine} ${node.role}`).sort(), [
        'm1 manager',
        'w1 manager',
        'w2 manager',
      ]);
      const table = await store.moor(['ls', '--format', '{{.Name}}={{.Swarm}}']);
      assert.equal(table.stdout, 'm1=m1 (manager)\nw1=m1 (manager)\nw2=m1 (manager)\n');

      // m1's engine dies: the other two managers keep the quorum and answer.
      await hostOut(hosts['m1']!, 'systemctl stop docker.socket docker.service && echo stopped');
      const survivors = await eventually('the swarm to see m1 down', async () => {
        const list = await nodes('w1');
        const m1 = list.find((node) => node.machine === 'm1');
        return m1 && m1.state === 'down' ? list : undefined;
      });
      assert.deepEqual(
        survivors
          .filter((node) => node.state === 'ready')
          .map((node) => node.machine)
          .sort(),
        ['w1', 'w2'],
      );
      const manager = await store.moor(['env', '--swarm', 'm1']);
      assertExit(manager, 0, 'env --swarm m1 with m1 down');
      assert.doesNotMatch(manager.stdout, /DOCKER_MACHINE_NAME="m1"/, 'a manager that answers is chosen');
      const token = await store.moor(['swarm', 'join-token', 'm1']);
      assertExit(token, 0, 'join-token through another manager');
      assert.match(token.stdout, /^SWMTKN-1-\S+\n$/);
    });

    it('a machine gone for good: swarm ls marks its node, swarm repair removes it; the swarm keeps its name', async () => {
      // m1 (engine stopped above) disappears from the store as if removed elsewhere.
      await rm(store.machineDir('m1'), { recursive: true, force: true });
      const marked = await nodes('w1');
      const orphan = marked.find((node) => node.machine.startsWith('?'));
      assert.ok(orphan, `a node without a machine: ${JSON.stringify(marked)}`);
      assert.equal(orphan.note, 'gone');
      assert.equal(orphan.state, 'down');
      const table = await store.moor(['swarm', 'ls', 'w1']);
      assertExit(table, 0, 'swarm ls w1');
      assert.match(table.stdout, /no such machine/);
      const repair = await store.moor(['swarm', 'repair', 'w1'], { timeoutMs: 180_000 });
      assertExit(repair, 0, 'swarm repair w1');
      assert.match(repair.stdout, /Removed node \S+ \(.*\): its machine is gone/);
      assert.deepEqual((await nodes('w1')).map((node) => node.machine).sort(), ['w1', 'w2']);
      const again = await store.moor(['swarm', 'repair', 'w1']);
      assert.match(again.stdout, /Swarm "m1": nothing to repair/);
      const listed = await store.moor(['ls', '--format', '{{.Name}}={{.Swarm}}', '--filter', 'swarm=m1']);
      assert.equal(listed.stdout, 'w1=m1 (manager)\nw2=m1 (manager)\n');
      // The swarm's name still finds a manager, and swarm ls without a name lists every known swarm.
      const env = await store.moor(['env', '--swarm', 'm1']);
      assertExit(env, 0, 'env --swarm m1 (the swarm of a machine that is gone)');
      assert.match(env.stdout, /DOCKER_MACHINE_NAME="w[12]"/);
      const all = await store.moor(['swarm', 'ls', '--json']);
      assertExit(all, 0, 'swarm ls');
      const views = JSON.parse(all.stdout) as { name: string; nodes: { machine: string }[] }[];
      assert.deepEqual(
        views.map(
          (view) =>
            `${view.name}: ${view.nodes
              .map((node) => node.machine)
              .sort()
              .join(' ')}`,
        ),
        ['m1: w1 w2'],
      );
    });

    it('init with the machines that join at once; one that fails its checks stops it before anything changes', async () => {
      const left = await store.moor(['swarm', 'leave', '-f', 'w2', 'w1'], { timeoutMs: 240_000 });
      assertExit(left, 0, 'swarm leave -f w2 w1');
      const refused = await store.moor(['swarm', 'init', 'w1', 'w2', 'ghost'], { timeoutMs: 180_000 });
      assertExit(refused, 1, 'swarm init w1 w2 ghost');
      assert.match(refused.stderr, /Machine "ghost" does not exist/);
      // Nothing changed: neither engine is in a swarm, neither record says so.
      for (const name of ['w1', 'w2']) {
        assert.equal(await hostOut(hosts[name]!, "docker info --format '{{.Swarm.LocalNodeState}}'"), 'inactive');
      }
      assert.equal((await store.moor(['ls', '--format', '{{.Name}}={{.Swarm}}'])).stdout, 'w1=\nw2=\n');
      const itself = await store.moor(['swarm', 'init', 'w1', 'w1']);
      assertExit(itself, 2, 'swarm init w1 w1');
      assert.match(itself.stderr, /"w1" starts the swarm: it cannot also be one of the machines that join it/);

      const init = await store.moor(['swarm', 'init', 'w1', 'w2'], { timeoutMs: 240_000 });
      assertExit(init, 0, 'swarm init w1 w2');
      assert.equal(
        init.stdout,
        `Swarm "w1" started on "w1" (manager, ${hosts['w1']!.ip}).\n"w2" joined swarm "w1" as a worker.\n`,
      );
      assert.doesNotMatch(init.stdout + init.stderr, /SWMTKN/);
      assert.deepEqual((await nodes('w1')).map((node) => `${node.machine} ${node.role} ${node.state}`).sort(), [
        'w1 manager ready',
        'w2 worker ready',
      ]);
      const listed = await store.moor(['ls', '--format', '{{.Name}}={{.Swarm}}']);
      assert.equal(listed.stdout, 'w1=w1 (manager)\nw2=w1\n');
    });
  });
}
