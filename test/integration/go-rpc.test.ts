/**
 * moor's net/rpc client against a real Go plugin (test/fixtures/go/rpcplugin: libmachine's RPCServerDriver
 * methods and gob type names, served over HTTP CONNECT on 127.0.0.1): every method, concurrent calls, the
 * error reply, the per-call deadline on a call that never returns, and the plugin killed mid-call.
 * Needs Go (Debian's golang-go): skipped without it, except in CI where that is a failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as gob from '../../drivers/plugin/gob/index.js';
import { GoRpcClient, parsePluginAddress, RpcError, type RpcErrorCode } from '../../drivers/plugin/rpc.js';
import { DriverOptions, RPCFlags } from '../helpers/gob-cases.js';
import { goPrograms, goSkip, startPlugin, type GoPrograms, type PluginHandle } from '../helpers/go.js';

const SERVICE = 'RPCServerDriver.';

async function rejectsWith(promise: Promise<unknown>, code: RpcErrorCode, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RpcError, `expected an RpcError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('net/rpc client against a Go plugin', { skip: goSkip }, () => {
  let programs: GoPrograms;
  const plugins: PluginHandle[] = [];
  const clients: GoRpcClient[] = [];

  async function connected(): Promise<{ plugin: PluginHandle; client: GoRpcClient }> {
    const plugin = await startPlugin(programs);
    plugins.push(plugin);
    const client = await GoRpcClient.connect(parsePluginAddress(plugin.address));
    clients.push(client);
    return { plugin, client };
  }

  before(async () => {
    programs = await goPrograms();
  });
  after(async () => {
    for (const client of clients) client.close();
    await Promise.all(plugins.map((plugin) => plugin.kill()));
  });

  it('answers every method as libmachine’s RPCServerDriver does', async () => {
    const { client } = await connected();
    assert.equal(await client.call(`${SERVICE}GetVersion`), 1);
    assert.equal(await client.call(`${SERVICE}GetState`), 1);
    assert.equal(await client.call(`${SERVICE}GetURL`), 'tcp://10.0.0.5:2376');
    assert.equal(await client.call(`${SERVICE}GetSSHPort`), 22);
    assert.deepStrictEqual(await client.call(`${SERVICE}Heartbeat`), {});
    assert.deepStrictEqual(await client.call(`${SERVICE}GetCreateFlags`), [
      {
        type: '*mcnflag.StringFlag',
        value: { Name: 'fake-api-token', Usage: 'API token', EnvVar: 'FAKE_API_TOKEN', Value: '' },
      },
      {
        type: '*mcnflag.StringSliceFlag',
        value: { Name: 'fake-volumes', Usage: 'Volumes', EnvVar: '', Value: ['data'] },
      },
      {
        type: '*mcnflag.IntFlag',
        value: { Name: 'fake-disk-size', Usage: 'Disk size in GB', EnvVar: 'FAKE_DISK_SIZE', Value: 20 },
      },
      {
        type: '*mcnflag.BoolFlag',
        value: { Name: 'fake-private-network', Usage: 'Use the private network', EnvVar: '' },
      },
    ]);

    const config = { MachineName: 'web', StorePath: '/store', SSHPort: 22 };
    assert.deepStrictEqual(
      await client.call(`${SERVICE}SetConfigRaw`, gob.bytes, new Uint8Array(Buffer.from(JSON.stringify(config)))),
      {},
    );
    const values = {
      'fake-api-token': { type: gob.string, value: 'secret' },
      'fake-volumes': { type: gob.slice(gob.string), value: ['a', 'b'] },
      'fake-disk-size': { type: gob.int, value: 40 },
      'fake-private-network': { type: gob.bool, value: true },
      'swarm-discovery': { type: gob.string, value: '' },
    };
    await client.call(`${SERVICE}SetConfigFromFlags`, DriverOptions, { type: RPCFlags, value: { Values: values } });
    const raw = await client.call(`${SERVICE}GetConfigRaw`);
    assert.ok(raw instanceof Uint8Array);
    assert.deepStrictEqual(JSON.parse(Buffer.from(raw).toString()), {
      Config: config,
      Flags: {
        'fake-api-token': 'string: secret',
        'fake-volumes': '[]string: [a b]',
        'fake-disk-size': 'int: 40',
        'fake-private-network': 'bool: true',
        'swarm-discovery': 'string: ',
      },
    });
  });

  it('returns the plugin’s error, and an unknown method’s, and stays usable', async () => {
    const { client } = await connected();
    await rejectsWith(client.call(`${SERVICE}PreCreateCheck`), 'remote', /^PreCreateCheck: the API token is missing$/);
    await rejectsWith(client.call(`${SERVICE}NoSuchMethod`), 'remote', /can't find method/);
    await rejectsWith(
      client.call(`${SERVICE}SetConfigRaw`, gob.bytes, new Uint8Array(Buffer.from('{not json'))),
      'remote',
      /invalid character/,
    );
    assert.equal(await client.call(`${SERVICE}GetVersion`), 1);
  });

  it('matches concurrent replies to their calls while one call hangs; close() rejects it', async () => {
    const { client } = await connected();
    const hung = client.call(`${SERVICE}Create`);
    const methods = ['GetVersion', 'GetURL', 'GetState', 'GetSSHPort', 'PreCreateCheck'] as const;
    const expected = {
      GetVersion: 1,
      GetURL: 'tcp://10.0.0.5:2376',
      GetState: 1,
      GetSSHPort: 22,
      PreCreateCheck: 'error',
    };
    const calls = Array.from({ length: 60 }, (_, index) => methods[index % methods.length]!);
    const results = await Promise.all(
      calls.map((method) =>
        client.call(`${SERVICE}${method}`).catch((error: RpcError) => (error.code === 'remote' ? 'error' : error)),
      ),
    );
    assert.deepStrictEqual(
      results,
      calls.map((method) => expected[method]),
    );
    client.close();
    await rejectsWith(hung, 'connection', /RPCServerDriver\.Create: the RPC client was closed/);
    await rejectsWith(client.call(`${SERVICE}GetVersion`), 'connection', /closed/);
  });

  it('gives up on a call past its deadline and keeps the connection', async () => {
    const { client } = await connected();
    await rejectsWith(
      client.call(`${SERVICE}Create`, undefined, undefined, { timeoutMs: 200 }),
      'timeout',
      /did not answer within 200 ms/,
    );
    assert.equal(await client.call(`${SERVICE}GetURL`), 'tcp://10.0.0.5:2376');
  });

  it('rejects every pending call when the plugin dies mid-call', async () => {
    const { plugin, client } = await connected();
    assert.equal(await client.call(`${SERVICE}GetVersion`), 1);
    // The assertions are attached before the kill: the rejections arrive while kill() is awaited.
    const rejected = [client.call(`${SERVICE}Create`), client.call(`${SERVICE}Create`)].map((call) =>
      rejectsWith(call, 'connection', /closed the connection|ECONNRESET/),
    );
    await plugin.kill();
    await Promise.all(rejected);
    assert.equal(client.open, false);
    assert.equal(plugin.child.exitCode !== null || plugin.child.signalCode !== null, true);
  });

  it('refuses an argument that does not fit its type without sending anything', async () => {
    const { client } = await connected();
    await rejectsWith(
      client.call(`${SERVICE}SetConfigRaw`, gob.bytes, 'not bytes'),
      'protocol',
      /expected a Uint8Array/,
    );
    assert.equal(await client.call(`${SERVICE}GetVersion`), 1);
  });

  it('connects to loopback only and reports a dead port', async () => {
    await rejectsWith(GoRpcClient.connect({ host: '10.0.0.5', port: 1 }), 'connection', /loopback only/);
    assert.throws(() => parsePluginAddress('10.0.0.5:80'), /127\.0\.0\.1:PORT/);
    const plugin = await startPlugin(programs);
    plugins.push(plugin);
    const { port } = parsePluginAddress(plugin.address);
    await plugin.kill();
    await rejectsWith(GoRpcClient.connect({ port }), 'connection', /cannot connect/);
  });
});
