/**
 * The amazonec2 driver against the EC2 Query API as nock declares it: every test lists the exact calls
 * (Action, in order) and the XML replies (shapes from the EC2 API reference), and asserts the parameters
 * moor sent. No request leaves the process.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import nock from 'nock';
import { amazonec2Driver } from '../../drivers/amazonec2/definition.js';
import { resetEc2Clients } from '../../drivers/amazonec2/client-cache.js';
import { factory } from '../../drivers/amazonec2/driver.js';
import { ec2Timing, httpTiming } from '../../drivers/amazonec2/timing.js';
import type { Driver, DriverFlagValues } from '../../drivers/api.js';
import { driverContext } from '../../src/core/driver-context.js';
import { resolveDriverFlags } from '../../src/core/driver-flags.js';
import { MoorError } from '../../src/core/errors.js';
import { Store } from '../../src/core/store.js';
import { testKeyPair } from '../helpers/keys.js';
import { EC2_ENDPOINT, ec2Script, fakeAwsEnv, type Step } from '../helpers/ec2-nock.js';
import { instanceXml, type QueryParams } from '../helpers/ec2-query.js';

fakeAwsEnv();

const VPC = 'vpc-0def0def0def0def0';
const describeVpcs: Step = {
  action: 'DescribeVpcs',
  reply: { vpcSet: [{ vpcId: VPC, isDefault: true, state: 'available', cidrBlock: '172.31.0.0/16' }] },
};
const describeSubnets: Step = {
  action: 'DescribeSubnets',
  reply: {
    subnetSet: [
      { subnetId: 'subnet-bbbb', vpcId: VPC, availabilityZone: 'us-east-1b', defaultForAz: true, state: 'available' },
      { subnetId: 'subnet-aaaa', vpcId: VPC, availabilityZone: 'us-east-1a', defaultForAz: true, state: 'available' },
      { subnetId: 'subnet-cccc', vpcId: VPC, availabilityZone: 'us-east-1a', defaultForAz: false, state: 'available' },
    ],
  },
};
const describeImages: Step = {
  action: 'DescribeImages',
  reply: {
    imagesSet: [
      {
        imageId: 'ami-old',
        name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250101',
        creationDate: '2025-01-01T10:00:00.000Z',
        imageState: 'available',
      },
      {
        imageId: 'ami-newest',
        name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250901',
        creationDate: '2025-09-01T10:00:00.000Z',
        imageState: 'available',
      },
      {
        imageId: 'ami-middle',
        name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250501',
        creationDate: '2025-05-01T10:00:00.000Z',
        imageState: 'available',
      },
    ],
  },
};
const importKeyPair: Step = {
  action: 'ImportKeyPair',
  reply: { keyFingerprint: 'ab:cd', keyName: 'moor-web-x', keyPairId: 'key-0123' },
};
const noSecurityGroup: Step = { action: 'DescribeSecurityGroups', reply: { securityGroupInfo: [] } };
const createSecurityGroup: Step = { action: 'CreateSecurityGroup', reply: { return: true, groupId: 'sg-new' } };
const authorize: Step = { action: 'AuthorizeSecurityGroupIngress', reply: { return: true } };

function runInstances(extra: Partial<Parameters<typeof instanceXml>[0]> = {}): Step {
  return {
    action: 'RunInstances',
    reply: {
      reservationId: 'r-1',
      ownerId: '123456789012',
      instancesSet: [
        instanceXml({ id: 'i-0abc', state: 'pending', privateIp: '172.31.5.6', groups: ['sg-new'], ...extra }),
      ],
    },
  };
}

function describeInstances(...instances: Parameters<typeof instanceXml>[0][]): Step {
  return {
    action: 'DescribeInstances',
    reply: {
      reservationSet: instances.map((instance, index) => ({
        reservationId: `r-${index}`,
        ownerId: '123456789012',
        instancesSet: [instanceXml(instance)],
      })),
    },
  };
}

const running = (extra: Partial<Parameters<typeof instanceXml>[0]> = {}) =>
  describeInstances({ id: 'i-0abc', state: 'running', publicIp: '203.0.113.10', privateIp: '172.31.5.6', ...extra });

interface TestDriver {
  driver: Driver;
  logs: string[];
  machineDir: string;
}

let root: string;
let counter = 0;

async function newDriver(
  given: DriverFlagValues = {},
  name = 'web',
  engineTransport: 'tls' | 'ssh' = 'tls',
): Promise<TestDriver> {
  const store = new Store(join(root, `m${++counter}`));
  const machineDir = store.machineDir(name);
  await mkdir(machineDir, { recursive: true });
  const logs: string[] = [];
  const log = {
    step: (message: string) => logs.push(message),
    info: (message: string) => logs.push(message),
    warn: (message: string) => logs.push(message),
    debug: () => {},
  };
  const flags = resolveDriverFlags(amazonec2Driver, given, {});
  const driver = factory.fromFlags(driverContext(store, name, log, { engineTransport }), flags);
  return { driver, logs, machineDir };
}

function fromRecord(state: Record<string, unknown>, name = 'web'): Driver {
  const log = { step() {}, info() {}, warn() {}, debug() {} };
  return factory.fromRecord(driverContext(new Store(root), name, log), {
    Region: 'us-east-1',
    SSHUser: 'ubuntu',
    SSHPort: 22,
    SSHKeyPath: 'id_ed25519',
    ...state,
  });
}

async function createFully(test: TestDriver): Promise<void> {
  await test.driver.preCreateCheck();
  await test.driver.create();
}

/** `{ Tag: [{Key, Value}] }` of a TagSpecification as a plain object. */
function tagsOf(params: QueryParams, resourceType: string): Record<string, string> {
  const specs = params['TagSpecification'] as { ResourceType: string; Tag: { Key: string; Value: string }[] }[];
  const spec = specs.find((item) => item.ResourceType === resourceType);
  assert.ok(spec, `no TagSpecification for ${resourceType}`);
  return Object.fromEntries(spec.Tag.map((tag) => [tag.Key, tag.Value]));
}

function ingressOf(params: QueryParams): string[] {
  const permissions = params['IpPermissions'] as {
    IpProtocol: string;
    FromPort: string;
    ToPort: string;
    IpRanges: { CidrIp: string }[];
  }[];
  return permissions.map((permission) => {
    assert.equal(permission.FromPort, permission.ToPort);
    assert.equal(permission.IpRanges[0]!.CidrIp, '0.0.0.0/0');
    return `${permission.FromPort}/${permission.IpProtocol}`;
  });
}

async function rejection(promise: Promise<unknown>): Promise<MoorError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof MoorError, `expected a MoorError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'moor-ec2-unit-'));
  nock.disableNetConnect();
  ec2Timing.pollInitialMs = 1;
  ec2Timing.pollMaxMs = 2;
  ec2Timing.retryDelayMs = () => 1;
});
after(async () => {
  nock.enableNetConnect();
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => resetEc2Clients());
afterEach(() => nock.cleanAll());

describe('amazonec2 create', () => {
  it('discovers the default VPC and subnet, the newest Ubuntu image, creates the group with its rules and runs the instance', async () => {
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      runInstances(),
      describeInstances({ id: 'i-0abc', state: 'pending', privateIp: '172.31.5.6' }),
      running(),
    ]);
    const test = await newDriver();
    await createFully(test);
    script.assertDone();

    assert.deepEqual(script.call('DescribeVpcs')['Filter'], [{ Name: 'is-default', Value: ['true'] }]);
    assert.deepEqual(script.call('DescribeSubnets')['Filter'], [{ Name: 'vpc-id', Value: [VPC] }]);
    const images = script.call('DescribeImages');
    assert.deepEqual(images['Owner'], ['099720109477']);
    assert.deepEqual(images['Filter'], [
      { Name: 'name', Value: ['ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*'] },
      { Name: 'state', Value: ['available'] },
    ]);

    const imported = script.call('ImportKeyPair');
    assert.match(String(imported['KeyName']), /^moor-web-[0-9a-f]{8}$/);
    const publicKey = (await readFile(join(test.machineDir, 'id_ed25519.pub'), 'utf8')).trim();
    assert.equal(Buffer.from(String(imported['PublicKeyMaterial']), 'base64').toString(), publicKey);
    assert.deepEqual(tagsOf(imported, 'key-pair'), { 'moor:machine': 'web' });

    assert.deepEqual(script.call('DescribeSecurityGroups')['Filter'], [
      { Name: 'vpc-id', Value: [VPC] },
      { Name: 'group-name', Value: ['moor'] },
    ]);
    const group = script.call('CreateSecurityGroup');
    assert.equal(group['GroupName'], 'moor');
    assert.equal(group['VpcId'], VPC);
    const ingress = script.call('AuthorizeSecurityGroupIngress');
    assert.equal(ingress['GroupId'], 'sg-new');
    assert.deepEqual(ingressOf(ingress), ['22/tcp', '2376/tcp']);

    const run = script.call('RunInstances');
    assert.equal(run['ImageId'], 'ami-newest');
    assert.equal(run['InstanceType'], 't3.micro');
    assert.equal(run['KeyName'], imported['KeyName']);
    assert.deepEqual(run['NetworkInterface'], [
      {
        DeviceIndex: '0',
        SubnetId: 'subnet-aaaa',
        SecurityGroupId: ['sg-new'],
        AssociatePublicIpAddress: 'true',
        DeleteOnTermination: 'true',
      },
    ]);
    assert.deepEqual(run['MetadataOptions'], {
      HttpTokens: 'required',
      HttpEndpoint: 'enabled',
      HttpPutResponseHopLimit: '1',
    });
    assert.deepEqual(run['BlockDeviceMapping'], [
      { DeviceName: '/dev/sda1', Ebs: { VolumeSize: '16', VolumeType: 'gp3', DeleteOnTermination: 'true' } },
    ]);
    assert.deepEqual(tagsOf(run, 'instance'), { Name: 'web', 'moor:machine': 'web' });
    assert.equal(run['InstanceMarketOptions'], undefined);

    assert.equal(await test.driver.getIP(), '203.0.113.10');
    assert.equal(await test.driver.getURL(), 'tcp://203.0.113.10:2376');
    const ssh = await test.driver.getSSHConfig();
    assert.deepEqual(ssh, {
      host: '203.0.113.10',
      port: 22,
      user: 'ubuntu',
      keyPath: join(test.machineDir, 'id_ed25519'),
    });
    const state = test.driver.toJSON();
    assert.equal(state['InstanceId'], 'i-0abc');
    assert.equal(state['KeyPairName'], imported['KeyName']);
    assert.deepEqual(state['MoorSecurityGroupIds'], ['sg-new']);
    assert.deepEqual(state['SecurityGroupIds'], ['sg-new']);
    assert.equal(state['VpcId'], VPC);
    assert.equal(state['AMI'], 'ami-newest');
  });

  it('adds only the missing rules to an existing group, and none with --amazonec2-security-group-readonly', async () => {
    const existing: Step = {
      action: 'DescribeSecurityGroups',
      reply: {
        securityGroupInfo: [
          {
            ownerId: '123456789012',
            groupId: 'sg-have',
            groupName: 'moor',
            vpcId: VPC,
            ipPermissions: [
              { ipProtocol: 'tcp', fromPort: 20, toPort: 25, ipRanges: [{ cidrIp: '0.0.0.0/0' }] },
              // Open to one address only: does not count for 8080.
              { ipProtocol: 'tcp', fromPort: 8080, toPort: 8080, ipRanges: [{ cidrIp: '198.51.100.7/32' }] },
            ],
          },
        ],
      },
    };
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      existing,
      authorize,
      runInstances({ groups: ['sg-have'] }),
      running(),
    ]);
    const test = await newDriver({ 'amazonec2-open-port': ['8080', '53/udp'] });
    await createFully(test);
    script.assertDone();
    assert.deepEqual(ingressOf(script.call('AuthorizeSecurityGroupIngress')), ['2376/tcp', '8080/tcp', '53/udp']);
    assert.deepEqual(test.driver.toJSON()['MoorSecurityGroupIds'], []);

    resetEc2Clients();
    nock.cleanAll();
    const readonly = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      existing,
      runInstances({ groups: ['sg-have'] }),
      running(),
    ]);
    const second = await newDriver({ 'amazonec2-security-group-readonly': true });
    await createFully(second);
    readonly.assertDone();
  });

  it('uses a given AMI, subnet and tags; no VPC or image discovery', async () => {
    const script = ec2Script([
      {
        action: 'DescribeSubnets',
        reply: {
          subnetSet: [
            { subnetId: 'subnet-mine', vpcId: 'vpc-mine', availabilityZone: 'us-east-1c', state: 'available' },
          ],
        },
      },
      { action: 'DescribeImages', reply: { imagesSet: [{ imageId: 'ami-custom', imageState: 'available' }] } },
      importKeyPair,
      { ...noSecurityGroup },
      createSecurityGroup,
      authorize,
      runInstances(),
      running(),
    ]);
    const test = await newDriver({
      'amazonec2-ami': 'ami-custom',
      'amazonec2-subnet-id': 'subnet-mine',
      'amazonec2-tags': ['team=web', 'env=prod'],
      'amazonec2-instance-type': 't3.large',
      'amazonec2-root-size': 40,
      'amazonec2-encrypt-ebs-volume': true,
    });
    await createFully(test);
    script.assertDone();
    assert.deepEqual(script.call('DescribeSubnets')['Filter'], [{ Name: 'subnet-id', Value: ['subnet-mine'] }]);
    assert.deepEqual(script.call('DescribeImages')['Filter'], [{ Name: 'image-id', Value: ['ami-custom'] }]);
    assert.equal(script.call('CreateSecurityGroup')['VpcId'], 'vpc-mine');
    const run = script.call('RunInstances');
    assert.equal(run['ImageId'], 'ami-custom');
    assert.equal(run['InstanceType'], 't3.large');
    assert.equal((run['NetworkInterface'] as Record<string, unknown>[])[0]!['SubnetId'], 'subnet-mine');
    assert.deepEqual((run['BlockDeviceMapping'] as Record<string, unknown>[])[0]!['Ebs'], {
      VolumeSize: '40',
      VolumeType: 'gp3',
      DeleteOnTermination: 'true',
      Encrypted: 'true',
    });
    assert.deepEqual(tagsOf(run, 'instance'), { Name: 'web', team: 'web', env: 'prod', 'moor:machine': 'web' });
    assert.deepEqual(tagsOf(run, 'volume'), { Name: 'web', team: 'web', env: 'prod', 'moor:machine': 'web' });
  });

  it('requests a spot instance and records its request', async () => {
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      runInstances({ spotRequestId: 'sir-123' }),
      running({ spotRequestId: 'sir-123' }),
    ]);
    const test = await newDriver({ 'amazonec2-request-spot-instance': true, 'amazonec2-spot-price': '0.05' });
    await createFully(test);
    script.assertDone();
    assert.deepEqual(script.call('RunInstances')['InstanceMarketOptions'], {
      MarketType: 'spot',
      SpotOptions: { SpotInstanceType: 'persistent', InstanceInterruptionBehavior: 'stop', MaxPrice: '0.05' },
    });
    assert.equal(test.driver.toJSON()['SpotRequestId'], 'sir-123');
  });

  it('with --amazonec2-private-address-only: no public IP asked, the private one is used', async () => {
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      runInstances(),
      describeInstances({ id: 'i-0abc', state: 'running', privateIp: '172.31.5.6' }),
    ]);
    const test = await newDriver({ 'amazonec2-private-address-only': true });
    await createFully(test);
    script.assertDone();
    assert.equal(
      (script.call('RunInstances')['NetworkInterface'] as Record<string, unknown>[])[0]!['AssociatePublicIpAddress'],
      'false',
    );
    assert.equal(await test.driver.getIP(), '172.31.5.6');
    assert.equal(await test.driver.getURL(), 'tcp://172.31.5.6:2376');
  });

  it('retries a throttled call (RequestLimitExceeded, then Throttling) and goes on', async () => {
    const script = ec2Script([
      {
        action: 'DescribeVpcs',
        reply: { error: 'RequestLimitExceeded', message: 'Request limit exceeded.', status: 503 },
      },
      { action: 'DescribeVpcs', reply: { error: 'Throttling', message: 'Rate exceeded', status: 400 } },
      describeVpcs,
      describeSubnets,
      describeImages,
    ]);
    const test = await newDriver();
    await test.driver.preCreateCheck();
    script.assertDone();
  });

  it('gives up after --amazonec2-retries attempts with a clear error', async () => {
    const throttled: Step = {
      action: 'DescribeVpcs',
      reply: { error: 'RequestLimitExceeded', message: 'Request limit exceeded.', status: 503 },
    };
    const script = ec2Script([throttled, throttled]);
    const test = await newDriver({ 'amazonec2-retries': 2 });
    const error = await rejection(test.driver.preCreateCheck());
    script.assertDone();
    assert.match(error.message, /DescribeVpcs failed: RequestLimitExceeded/);
    assert.match(error.suggestions.join('\n'), /--amazonec2-retries/);
  });

  it('reports bad credentials with what to set, before anything is created', async () => {
    const script = ec2Script([
      {
        action: 'DescribeVpcs',
        reply: {
          error: 'AuthFailure',
          message: 'AWS was not able to validate the provided access credentials',
          status: 401,
        },
      },
    ]);
    const test = await newDriver();
    const error = await rejection(test.driver.preCreateCheck());
    script.assertDone();
    assert.match(error.message, /AuthFailure/);
    assert.match(error.suggestions.join('\n'), /AWS_ACCESS_KEY_ID/);
  });

  it('uses explicit credential flags for the calls, and never puts them in its state', async () => {
    let authorization = '';
    nock('https://ec2.us-east-1.amazonaws.com')
      .post('/')
      .reply(function () {
        authorization = String(this.req.headers['authorization']);
        return [200, '<DescribeVpcsResponse><vpcSet/></DescribeVpcsResponse>'];
      });
    const test = await newDriver({
      'amazonec2-access-key': 'AKIAFLAGFLAGFLAGFLAG',
      'amazonec2-secret-key': 'flag-secret-value',
      'amazonec2-session-token': 'flag-session-token',
    });
    const error = await rejection(test.driver.preCreateCheck());
    assert.match(error.message, /has no default VPC/);
    assert.match(authorization, /Credential=AKIAFLAGFLAGFLAGFLAG\//);
    const json = JSON.stringify(test.driver.toJSON());
    assert.doesNotMatch(json, /AKIAFLAG|flag-secret|flag-session/);
  });
});

describe('amazonec2 create rolls back what it made', () => {
  const failure = (action: string, code: string): Step => ({
    action,
    reply: { error: code, message: `${action} broke` },
  });

  it('fails at ImportKeyPair: nothing to remove', async () => {
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      failure('ImportKeyPair', 'InvalidKeyPair.Duplicate'),
    ]);
    const test = await newDriver();
    const error = await rejection(createFully(test));
    script.assertDone();
    assert.match(error.message, /ImportKeyPair failed: InvalidKeyPair.Duplicate/);
    assert.doesNotMatch(error.message, /Rolled back/);
  });

  it('fails at CreateSecurityGroup: the key pair is deleted', async () => {
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      noSecurityGroup,
      failure('CreateSecurityGroup', 'InvalidParameterValue'),
      { action: 'DeleteKeyPair', reply: { return: true } },
    ]);
    const test = await newDriver();
    const error = await rejection(createFully(test));
    script.assertDone();
    const keyName = String(script.call('ImportKeyPair')['KeyName']);
    assert.equal(script.call('DeleteKeyPair')['KeyName'], keyName);
    assert.match(error.message, new RegExp(`Rolled back: removed key pair ${keyName}\\.`));
    assert.ok(test.logs.includes(`Rolled back: removed key pair ${keyName}`));
  });

  it('fails at AuthorizeSecurityGroupIngress: the new group and the key pair are deleted', async () => {
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      failure('AuthorizeSecurityGroupIngress', 'RulesPerSecurityGroupLimitExceeded'),
      { action: 'DeleteSecurityGroup', reply: { return: true } },
      { action: 'DeleteKeyPair', reply: { return: true } },
    ]);
    const error = await rejection(createFully(await newDriver()));
    script.assertDone();
    assert.equal(script.call('DeleteSecurityGroup')['GroupId'], 'sg-new');
    assert.match(
      error.message,
      /RulesPerSecurityGroupLimitExceeded.*Rolled back: removed security group sg-new, key pair moor-web-/,
    );
  });

  it('fails at RunInstances: group and key pair are deleted, an existing group is left alone', async () => {
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      {
        action: 'DescribeSecurityGroups',
        reply: {
          securityGroupInfo: [
            {
              groupId: 'sg-have',
              groupName: 'moor',
              vpcId: VPC,
              ipPermissions: [{ ipProtocol: '-1', ipRanges: [{ cidrIp: '0.0.0.0/0' }] }],
            },
          ],
        },
      },
      failure('RunInstances', 'InsufficientInstanceCapacity'),
      { action: 'DeleteKeyPair', reply: { return: true } },
    ]);
    const error = await rejection(createFully(await newDriver()));
    script.assertDone();
    assert.match(error.message, /InsufficientInstanceCapacity/);
    assert.match(error.message, /Rolled back: removed key pair moor-web-[0-9a-f]{8}\.$/);
  });

  it('instance terminated while starting: it is terminated and waited for, then group and key pair go', async () => {
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      runInstances({ spotRequestId: 'sir-9' }),
      describeInstances({ id: 'i-0abc', state: 'terminated', spotRequestId: 'sir-9' }),
      {
        action: 'CancelSpotInstanceRequests',
        reply: { spotInstanceRequestSet: [{ spotInstanceRequestId: 'sir-9', state: 'cancelled' }] },
      },
      { action: 'TerminateInstances', reply: { instancesSet: [] } },
      describeInstances({ id: 'i-0abc', state: 'terminated' }),
      { action: 'DeleteSecurityGroup', reply: { return: true } },
      { action: 'DeleteKeyPair', reply: { return: true } },
    ]);
    const test = await newDriver({ 'amazonec2-request-spot-instance': true });
    const error = await rejection(createFully(test));
    script.assertDone();
    assert.deepEqual(script.call('TerminateInstances')['InstanceId'], ['i-0abc']);
    assert.match(error.message, /Instance i-0abc was terminated while starting/);
    assert.match(
      error.message,
      /Rolled back: removed instance i-0abc \(spot request sir-9\), security group sg-new, key pair moor-web-/,
    );
    const state = test.driver.toJSON();
    assert.equal(state['InstanceId'], undefined);
    assert.deepEqual(state['MoorSecurityGroupIds'], []);
  });

  it('a failed rollback step: the error names the resource left behind', async () => {
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      failure('RunInstances', 'Unsupported'),
      failure('DeleteSecurityGroup', 'DependencyViolation'),
      { action: 'DeleteKeyPair', reply: { return: true } },
    ]);
    const error = await rejection(createFully(await newDriver()));
    script.assertDone();
    assert.match(error.message, /Rolled back: removed key pair moor-web-[0-9a-f]{8}\./);
    assert.match(
      error.message,
      /Rollback failed, left behind in us-east-1: security-group sg-new \(.*DependencyViolation/,
    );
    assert.match(error.suggestions.join('\n'), /EC2 console/);
  });
});

describe('amazonec2 create: keys, groups shared with other creates, options', () => {
  const base = [describeVpcs, describeSubnets, describeImages];

  it('an existing key pair (--amazonec2-keypair-name): checked, not imported, its key copied 0600, kept by rm', async () => {
    const keyDir = await mkdtemp(join(root, 'key-'));
    const keyPath = join(keyDir, 'mine');
    const privateKey = (await testKeyPair()).private;
    await writeFile(keyPath, privateKey, { mode: 0o600 });
    const script = ec2Script([
      ...base,
      { action: 'DescribeKeyPairs', reply: { keySet: [{ keyName: 'mine', keyPairId: 'key-9' }] } },
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      runInstances(),
      running(),
    ]);
    const test = await newDriver({ 'amazonec2-keypair-name': 'mine', 'amazonec2-ssh-keypath': keyPath });
    await createFully(test);
    script.assertDone();
    assert.deepEqual(script.call('DescribeKeyPairs')['Filter'], [{ Name: 'key-name', Value: ['mine'] }]);
    assert.equal(script.call('RunInstances')['KeyName'], 'mine');
    const state = test.driver.toJSON();
    assert.equal(state['KeyPairName'], 'mine');
    assert.equal(state['KeyPairUserSupplied'], true);
    assert.equal(await readFile(join(test.machineDir, 'id_ssh'), 'utf8'), privateKey);
    assert.equal((await stat(join(test.machineDir, 'id_ssh'))).mode & 0o777, 0o600);
  });

  it('a key pair name that does not exist: the pre-create check fails, nothing is created', async () => {
    const keyPath = join(await mkdtemp(join(root, 'key-')), 'mine');
    await writeFile(keyPath, (await testKeyPair()).private, { mode: 0o600 });
    const script = ec2Script([...base, { action: 'DescribeKeyPairs', reply: { keySet: [] } }]);
    const test = await newDriver({ 'amazonec2-keypair-name': 'gone', 'amazonec2-ssh-keypath': keyPath });
    const error = await rejection(test.driver.preCreateCheck());
    script.assertDone();
    assert.match(error.message, /Key pair "gone" does not exist in region us-east-1/);
  });

  it('an unusable --amazonec2-ssh-keypath fails the pre-create check before any EC2 call, naming the file given', async () => {
    const dir = await mkdtemp(join(root, 'key-'));
    const pair = await testKeyPair('passphrase');
    const cases: [string, string, RegExp][] = [
      ['id_pub.pub', pair.public, /is a public key, not a private one/],
      ['garbage', 'not a key at all\n', /is not a private key moor can read/],
      ['locked', pair.private, /is protected by a passphrase/],
    ];
    // No EC2 traffic is scripted: any call would be recorded and answered with an error.
    const script = ec2Script([]);
    for (const [file, content, message] of cases) {
      const keyPath = join(dir, file);
      await writeFile(keyPath, content, { mode: 0o600 });
      const test = await newDriver({ 'amazonec2-ssh-keypath': keyPath });
      const error = await rejection(test.driver.preCreateCheck());
      assert.match(error.message, new RegExp(`SSH private key ${keyPath} `));
      assert.match(error.message, message);
    }
    assert.deepEqual(script.calls, [], 'no EC2 call, so no RunInstances');
    script.assertDone();
  });

  it('--amazonec2-ssh-keypath alone: its .pub is imported as a new key pair', async () => {
    const keyPath = join(await mkdtemp(join(root, 'key-')), 'id_test');
    await writeFile(keyPath, (await testKeyPair()).private, { mode: 0o600 });
    await writeFile(`${keyPath}.pub`, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMINE user@laptop\n');
    const script = ec2Script([
      ...base,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      runInstances(),
      running(),
    ]);
    const test = await newDriver({ 'amazonec2-ssh-keypath': keyPath });
    await createFully(test);
    script.assertDone();
    const imported = script.call('ImportKeyPair');
    assert.equal(
      Buffer.from(String(imported['PublicKeyMaterial']), 'base64').toString(),
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMINE user@laptop',
    );
    assert.equal(test.driver.toJSON()['KeyPairUserSupplied'], false);
  });

  it('a group moor created earlier (tagged moor:managed) is remembered for rm; a new group is tagged', async () => {
    const script = ec2Script([
      ...base,
      importKeyPair,
      {
        action: 'DescribeSecurityGroups',
        reply: {
          securityGroupInfo: [
            {
              groupId: 'sg-moor',
              groupName: 'moor',
              vpcId: VPC,
              ipPermissions: [
                { ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: [{ cidrIp: '0.0.0.0/0' }] },
                { ipProtocol: 'tcp', fromPort: 2376, toPort: 2376, ipRanges: [{ cidrIp: '0.0.0.0/0' }] },
              ],
              tagSet: [{ key: 'moor:managed', value: 'true' }],
            },
          ],
        },
      },
      noSecurityGroup,
      { action: 'CreateSecurityGroup', reply: { return: true, groupId: 'sg-extra' } },
      authorize,
      runInstances(),
      running(),
    ]);
    const test = await newDriver({ 'amazonec2-security-group': ['moor', 'extra'] });
    await createFully(test);
    script.assertDone();
    assert.equal(script.call('DescribeSecurityGroups', 1)['Filter'] !== undefined, true);
    assert.deepEqual(tagsOf(script.call('CreateSecurityGroup'), 'security-group'), { 'moor:managed': 'true' });
    assert.deepEqual(
      (script.call('RunInstances')['NetworkInterface'] as Record<string, unknown>[])[0]!['SecurityGroupId'] as string[],
      ['sg-moor', 'sg-extra'],
    );
    const state = test.driver.toJSON();
    assert.deepEqual(state['SecurityGroupIds'], ['sg-moor', 'sg-extra']);
    assert.deepEqual(state['MoorSecurityGroupIds'], ['sg-moor', 'sg-extra']);
  });

  it('two creates at once: a group or a rule the other create just made is used, not an error', async () => {
    const script = ec2Script([
      ...base,
      importKeyPair,
      noSecurityGroup,
      {
        action: 'CreateSecurityGroup',
        reply: { error: 'InvalidGroup.Duplicate', message: "The security group 'moor' already exists" },
      },
      {
        action: 'DescribeSecurityGroups',
        reply: {
          securityGroupInfo: [
            { groupId: 'sg-theirs', groupName: 'moor', vpcId: VPC, tagSet: [{ key: 'moor:managed', value: 'true' }] },
          ],
        },
      },
      {
        action: 'AuthorizeSecurityGroupIngress',
        reply: { error: 'InvalidPermission.Duplicate', message: 'the specified rule already exists' },
      },
      {
        action: 'AuthorizeSecurityGroupIngress',
        reply: { error: 'InvalidPermission.Duplicate', message: 'the specified rule already exists' },
      },
      authorize,
      runInstances(),
      running(),
    ]);
    const test = await newDriver();
    await createFully(test);
    script.assertDone();
    assert.deepEqual(ingressOf(script.call('AuthorizeSecurityGroupIngress', 0)), ['22/tcp', '2376/tcp']);
    assert.deepEqual(ingressOf(script.call('AuthorizeSecurityGroupIngress', 1)), ['22/tcp']);
    assert.deepEqual(ingressOf(script.call('AuthorizeSecurityGroupIngress', 2)), ['2376/tcp']);
    assert.deepEqual(test.driver.toJSON()['MoorSecurityGroupIds'], ['sg-theirs']);
  });

  it('--engine-transport ssh: no 2376 rule; zone letter picks the subnet filter', async () => {
    const script = ec2Script([
      describeVpcs,
      { ...describeSubnets },
      describeImages,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      runInstances(),
      running(),
    ]);
    const test = await newDriver({ 'amazonec2-zone': 'b', 'amazonec2-ssh-port': 2222 }, 'web', 'ssh');
    await createFully(test);
    script.assertDone();
    assert.deepEqual(script.call('DescribeSubnets')['Filter'], [
      { Name: 'vpc-id', Value: [VPC] },
      { Name: 'availability-zone', Value: ['us-east-1b'] },
    ]);
    assert.deepEqual(ingressOf(script.call('AuthorizeSecurityGroupIngress')), ['2222/tcp']);
    assert.equal((await test.driver.getSSHConfig()).port, 2222);
  });

  it('user data, instance profile, monitoring, EBS optimization, KMS key and metadata options reach RunInstances', async () => {
    const userdata = join(await mkdtemp(join(root, 'ud-')), 'cloud-init.yaml');
    await writeFile(userdata, '#cloud-config\npackages: [htop]\n');
    const script = ec2Script([
      ...base,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      runInstances(),
      running(),
    ]);
    const test = await newDriver({
      'amazonec2-userdata': userdata,
      'amazonec2-iam-instance-profile': 'docker-host',
      'amazonec2-monitoring': true,
      'amazonec2-use-ebs-optimized-instance': true,
      'amazonec2-kms-key': 'alias/moor',
      'amazonec2-volume-type': 'io2',
      'amazonec2-metadata-http-tokens': 'optional',
      'amazonec2-metadata-hop-limit': 2,
    });
    await createFully(test);
    script.assertDone();
    const run = script.call('RunInstances');
    assert.equal(Buffer.from(String(run['UserData']), 'base64').toString(), '#cloud-config\npackages: [htop]\n');
    assert.deepEqual(run['IamInstanceProfile'], { Name: 'docker-host' });
    assert.deepEqual(run['Monitoring'], { Enabled: 'true' });
    assert.equal(run['EbsOptimized'], 'true');
    assert.deepEqual((run['BlockDeviceMapping'] as Record<string, unknown>[])[0]!['Ebs'], {
      VolumeSize: '16',
      VolumeType: 'io2',
      DeleteOnTermination: 'true',
      Encrypted: 'true',
      KmsKeyId: 'alias/moor',
    });
    assert.deepEqual(run['MetadataOptions'], {
      HttpTokens: 'optional',
      HttpEndpoint: 'enabled',
      HttpPutResponseHopLimit: '2',
    });
  });

  it('an instance that never runs: timeout (exit 7), and it is terminated with the rest', async () => {
    const saved = ec2Timing.waitTimeoutMs;
    // A budget of a few polls (1-2 ms apart): the instance stays pending, however many looks fit in it.
    ec2Timing.waitTimeoutMs = 20;
    try {
      const pending: Step = { ...describeInstances({ id: 'i-0abc', state: 'pending' }), repeat: true };
      const script = ec2Script([
        ...base,
        importKeyPair,
        noSecurityGroup,
        createSecurityGroup,
        authorize,
        runInstances(),
        pending,
        { action: 'TerminateInstances', reply: { instancesSet: [] } },
        describeInstances({ id: 'i-0abc', state: 'terminated' }),
        { action: 'DeleteSecurityGroup', reply: { return: true } },
        { action: 'DeleteKeyPair', reply: { return: true } },
      ]);
      const error = await rejection(createFully(await newDriver()));
      script.assertDone();
      assert.equal(error.exitCode, 7);
      assert.match(
        error.message,
        /Instance i-0abc did not reach the expected state .* \(it is pending\)\. Rolled back: removed instance i-0abc, security group sg-new, key pair/,
      );
    } finally {
      ec2Timing.waitTimeoutMs = saved;
    }
  });

  it('an API error while waiting for the instance ends the wait at once, and it is terminated with the rest', async () => {
    const script = ec2Script([
      ...base,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      runInstances(),
      describeInstances({ id: 'i-0abc', state: 'pending' }),
      { action: 'DescribeInstances', reply: { error: 'UnauthorizedOperation', message: 'DescribeInstances broke' } },
      { action: 'TerminateInstances', reply: { instancesSet: [] } },
      describeInstances({ id: 'i-0abc', state: 'terminated' }),
      { action: 'DeleteSecurityGroup', reply: { return: true } },
      { action: 'DeleteKeyPair', reply: { return: true } },
    ]);
    const error = await rejection(createFully(await newDriver()));
    script.assertDone();
    assert.match(
      error.message,
      /EC2 DescribeInstances failed: UnauthorizedOperation: .* Rolled back: removed instance i-0abc, security group sg-new, key pair/,
    );
  });

  it('an instance running before its public IP shows is waited for until it has one', async () => {
    const script = ec2Script([
      ...base,
      importKeyPair,
      noSecurityGroup,
      createSecurityGroup,
      authorize,
      runInstances(),
      describeInstances({ id: 'i-0abc', state: 'running', privateIp: '172.31.5.6' }),
      running(),
    ]);
    const test = await newDriver();
    await createFully(test);
    script.assertDone();
    assert.equal(await test.driver.getIP(), '203.0.113.10');
  });

  it('a profile of the shared credentials file (--amazonec2-profile) signs the calls and is remembered', async () => {
    const dir = await mkdtemp(join(root, 'aws-'));
    await writeFile(
      join(dir, 'credentials'),
      '[work]\naws_access_key_id = AKIDPROFILEWORK00000\naws_secret_access_key = work-secret\n',
    );
    const saved = { ...process.env };
    process.env['AWS_SHARED_CREDENTIALS_FILE'] = join(dir, 'credentials');
    delete process.env['AWS_ACCESS_KEY_ID'];
    delete process.env['AWS_SECRET_ACCESS_KEY'];
    try {
      let authorization = '';
      nock(EC2_ENDPOINT)
        .post('/')
        .reply(function () {
          authorization = String(this.req.headers['authorization']);
          return [200, '<DescribeVpcsResponse><vpcSet/></DescribeVpcsResponse>'];
        });
      const test = await newDriver({ 'amazonec2-profile': 'work' });
      await rejection(test.driver.preCreateCheck());
      assert.match(authorization, /Credential=AKIDPROFILEWORK00000\//);
      assert.equal(test.driver.toJSON()['Profile'], 'work');
      assert.doesNotMatch(JSON.stringify(test.driver.toJSON()), /work-secret/);
    } finally {
      process.env['AWS_SHARED_CREDENTIALS_FILE'] = saved['AWS_SHARED_CREDENTIALS_FILE'];
      process.env['AWS_ACCESS_KEY_ID'] = saved['AWS_ACCESS_KEY_ID'];
      process.env['AWS_SECRET_ACCESS_KEY'] = saved['AWS_SECRET_ACCESS_KEY'];
    }
  });
});

describe('amazonec2 rm', () => {
  it('terminates, waits, deletes the generated key pair and the group moor created', async () => {
    const script = ec2Script([
      { action: 'TerminateInstances', reply: { instancesSet: [] } },
      describeInstances({ id: 'i-0abc', state: 'shutting-down' }),
      describeInstances({ id: 'i-0abc', state: 'terminated' }),
      { action: 'DeleteKeyPair', reply: { return: true } },
      { action: 'DeleteSecurityGroup', reply: { return: true } },
    ]);
    const driver = fromRecord({
      InstanceId: 'i-0abc',
      KeyPairName: 'moor-web-12345678',
      KeyPairUserSupplied: false,
      SecurityGroupIds: ['sg-new'],
      MoorSecurityGroupIds: ['sg-new'],
    });
    await driver.remove();
    script.assertDone();
    assert.equal(script.call('DeleteKeyPair')['KeyName'], 'moor-web-12345678');
    assert.equal(script.call('DeleteSecurityGroup')['GroupId'], 'sg-new');
  });

  it('keeps a user-supplied key pair and a group still in use; cancels the spot request first', async () => {
    const script = ec2Script([
      { action: 'CancelSpotInstanceRequests', reply: { spotInstanceRequestSet: [] } },
      { action: 'TerminateInstances', reply: { instancesSet: [] } },
      { action: 'DescribeInstances', reply: { reservationSet: [] } },
      {
        action: 'DeleteSecurityGroup',
        reply: { error: 'DependencyViolation', message: 'resource sg-new has a dependent object' },
      },
    ]);
    const logs: string[] = [];
    const driver = factory.fromRecord(
      driverContext(new Store(root), 'web', {
        step() {},
        info: (message) => logs.push(message),
        warn() {},
        debug() {},
      }),
      {
        Region: 'us-east-1',
        InstanceId: 'i-0abc',
        SpotRequestId: 'sir-1',
        KeyPairName: 'my-own-key',
        KeyPairUserSupplied: true,
        MoorSecurityGroupIds: ['sg-new'],
      },
    );
    await driver.remove();
    script.assertDone();
    assert.deepEqual(script.call('CancelSpotInstanceRequests')['SpotInstanceRequestId'], ['sir-1']);
    assert.ok(logs.some((line) => /sg-new is still used by other instances: kept/.test(line)));
  });

  it('an instance already gone is not an error', async () => {
    const script = ec2Script([
      {
        action: 'TerminateInstances',
        reply: { error: 'InvalidInstanceID.NotFound', message: "The instance ID 'i-0abc' does not exist" },
      },
      { action: 'DeleteKeyPair', reply: { return: true } },
    ]);
    await fromRecord({ InstanceId: 'i-0abc', KeyPairName: 'moor-web-1' }).remove();
    script.assertDone();
  });
});

describe('amazonec2 state, start and IP', () => {
  it('maps every EC2 state with one DescribeInstances for all machines', async () => {
    const states = ['pending', 'running', 'stopping', 'shutting-down', 'stopped', 'terminated'];
    const script = ec2Script([
      describeInstances(
        ...states.map((state, index) => ({
          id: `i-${index}`,
          state,
          ...(state === 'running' ? { publicIp: '198.51.100.1' } : {}),
        })),
      ),
    ]);
    const drivers = [...states, 'missing'].map((_, index) => fromRecord({ InstanceId: `i-${index}` }, `m${index}`));
    const results = await Promise.allSettled(drivers.map((driver) => driver.getState()));
    script.assertDone();
    assert.deepEqual(script.call('DescribeInstances')['Filter'], [
      { Name: 'instance-id', Value: ['i-0', 'i-1', 'i-2', 'i-3', 'i-4', 'i-5', 'i-6'] },
    ]);
    assert.deepEqual(
      results.slice(0, 5).map((result) => (result.status === 'fulfilled' ? result.value : 'rejected')),
      ['Starting', 'Running', 'Stopping', 'Stopping', 'Stopped'],
    );
    for (const result of results.slice(5)) {
      assert.equal(result.status, 'rejected');
      assert.match((result as PromiseRejectedResult).reason.message, /Instance i-[56] was terminated outside moor/);
    }
    assert.equal(await drivers[1]!.getIP(), '198.51.100.1');
  });

  it('machines in two regions: one DescribeInstances per region', async () => {
    const east = ec2Script([
      describeInstances({ id: 'i-east1', state: 'running' }, { id: 'i-east2', state: 'stopped' }),
    ]);
    const west = ec2Script(
      [describeInstances({ id: 'i-west', state: 'running' })],
      'https://ec2.eu-west-1.amazonaws.com',
    );
    const states = await Promise.all([
      fromRecord({ InstanceId: 'i-east1' }, 'a').getState(),
      fromRecord({ InstanceId: 'i-west', Region: 'eu-west-1' }, 'b').getState(),
      fromRecord({ InstanceId: 'i-east2' }, 'c').getState(),
    ]);
    east.assertDone();
    west.assertDone();
    assert.deepEqual(states, ['Running', 'Running', 'Stopped']);
  });

  it('start: StartInstances, and the new public IP is picked up', async () => {
    const script = ec2Script([
      { action: 'StartInstances', reply: { instancesSet: [] } },
      describeInstances({ id: 'i-0abc', state: 'pending' }),
      describeInstances({ id: 'i-0abc', state: 'running', publicIp: '203.0.113.99', privateIp: '172.31.5.6' }),
    ]);
    const driver = fromRecord({ InstanceId: 'i-0abc', IPAddress: '203.0.113.10' });
    await driver.start();
    assert.equal(await driver.getState(), 'Starting');
    assert.equal(await driver.getState(), 'Running');
    script.assertDone();
    assert.equal(await driver.getIP(), '203.0.113.99');
    assert.equal(driver.toJSON()['IPAddress'], '203.0.113.99');
  });

  it('stop, kill (forced stop) and restart (reboot)', async () => {
    const script = ec2Script([
      { action: 'StopInstances', reply: { instancesSet: [] } },
      { action: 'StopInstances', reply: { instancesSet: [] } },
      { action: 'RebootInstances', reply: { return: true } },
    ]);
    const driver = fromRecord({ InstanceId: 'i-0abc' });
    await driver.stop();
    await driver.kill();
    await driver.restart();
    script.assertDone();
    assert.equal(script.call('StopInstances', 0)['Force'], undefined);
    assert.equal(script.call('StopInstances', 1)['Force'], 'true');
    assert.deepEqual(script.call('RebootInstances')['InstanceId'], ['i-0abc']);
  });
});

describe('amazonec2 flags', () => {
  const bad: [DriverFlagValues, RegExp][] = [
    [{ 'amazonec2-region': 'moon-1' }, /not an AWS region/],
    [{ 'amazonec2-tags': ['novalue'] }, /must be KEY=VALUE/],
    [{ 'amazonec2-tags': ['moor:machine=x'] }, /reserved/],
    [{ 'amazonec2-open-port': ['99999'] }, /PORT or PORT\/udp/],
    [{ 'amazonec2-keypair-name': 'k' }, /needs --amazonec2-ssh-keypath/],
    [{ 'amazonec2-spot-price': '0.1' }, /needs --amazonec2-request-spot-instance/],
    [{ 'amazonec2-access-key': 'AKIA' }, /go together/],
    [{ 'amazonec2-endpoint': 'ftp://x' }, /http\(s\) URL/],
    [{ 'amazonec2-root-size': 0 }, /root-size must be a size in GiB/],
  ];
  for (const [flags, message] of bad) {
    it(`rejects ${JSON.stringify(flags)} with a usage error`, async () => {
      const error = await rejection(newDriver(flags));
      assert.equal(error.exitCode, 2);
      assert.match(error.message, message);
    });
  }

  it('reads Docker Machine environment variables', () => {
    const flags = resolveDriverFlags(
      amazonec2Driver,
      {},
      {
        AWS_DEFAULT_REGION: 'eu-west-1',
        AWS_INSTANCE_TYPE: 't3.small',
        MOOR_AMAZONEC2_ROOT_SIZE: '30',
        AWS_SECURITY_GROUP: 'a,b',
      },
    );
    assert.equal(flags['amazonec2-region'], 'eu-west-1');
    assert.equal(flags['amazonec2-instance-type'], 't3.small');
    assert.equal(flags['amazonec2-root-size'], 30);
    assert.deepEqual(flags['amazonec2-security-group'], ['a', 'b']);
  });

  it('a missing --amazonec2-userdata file is a usage error before any call', async () => {
    const test = await newDriver({ 'amazonec2-userdata': join(root, 'missing.yaml') });
    const error = await rejection(test.driver.preCreateCheck());
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /Cannot read --amazonec2-userdata/);
  });
});

describe('amazonec2 against an endpoint that fails (every call bounded)', () => {
  const saved = { ...ec2Timing };
  afterEach(() => Object.assign(ec2Timing, saved));

  const instanceRecord = {
    InstanceId: 'i-0abc',
    KeyPairName: 'moor-web-1',
    KeyPairUserSupplied: false,
    SecurityGroupIds: ['sg-new'],
    MoorSecurityGroupIds: ['sg-new'],
  };

  it('500 InternalError on every attempt: the API error, with the number of attempts (exit 1)', async () => {
    const failing: Step = {
      action: 'DescribeVpcs',
      reply: { error: 'InternalError', message: 'An internal error has occurred.', status: 500 },
    };
    const script = ec2Script([failing, failing]);
    const test = await newDriver({ 'amazonec2-retries': 2 });
    const error = await rejection(test.driver.preCreateCheck());
    script.assertDone();
    assert.equal(error.code, 'EC2_API_ERROR');
    assert.equal(error.exitCode, 1);
    assert.match(
      error.message,
      /DescribeVpcs failed: InternalError: An internal error has occurred\. \(after 2 attempts\)/,
    );
  });

  it('a 500, then throttling, then an answer: the call succeeds', async () => {
    const script = ec2Script([
      { action: 'DescribeInstances', reply: { error: 'InternalError', message: 'internal', status: 500 } },
      { action: 'DescribeInstances', reply: { error: 'RequestLimitExceeded', message: 'slow down', status: 503 } },
      running(),
    ]);
    assert.equal(await fromRecord(instanceRecord).getState(), 'Running');
    script.assertDone();
  });

  it('malformed XML: the answer is not the EC2 API, named with endpoint and region (exit 1)', async () => {
    nock(EC2_ENDPOINT)
      .post('/')
      .reply(200, '<?xml version="1.0"?>\n<DescribeVpcsResponse><vpcSet><item><vpcId>vpc-1</vpcId></item', {
        'content-type': 'text/xml',
      });
    const test = await newDriver();
    const error = await rejection(test.driver.preCreateCheck());
    assert.equal(error.code, 'EC2_ENDPOINT_UNREACHABLE');
    assert.equal(error.exitCode, 1);
    assert.match(
      error.message,
      /^EC2 DescribeVpcs: the answer of https:\/\/ec2\.us-east-1\.amazonaws\.com \(region us-east-1\) \(HTTP 200\) is not the EC2 API's/,
    );
    assert.doesNotMatch(error.message, /Deserialization error/);
  });

  it('an endpoint that never answers: a time-out (exit 7) naming endpoint and region and what to check', async () => {
    Object.assign(ec2Timing, { connectTimeoutMs: 50, requestTimeoutMs: 50, callTimeoutMs: 200 });
    // Accepted, never answered.
    nock(EC2_ENDPOINT)
      .persist()
      .post('/')
      .reply(() => new Promise<never>(() => undefined));
    const test = await newDriver();
    const error = await rejection(test.driver.preCreateCheck());
    assert.equal(error.code, 'EC2_ENDPOINT_TIMEOUT');
    assert.equal(error.exitCode, 7);
    assert.match(
      error.message,
      /^EC2 DescribeVpcs got no answer from https:\/\/ec2\.us-east-1\.amazonaws\.com \(region us-east-1\) in time/,
    );
    const suggestions = error.suggestions.join('\n');
    assert.match(suggestions, /network path/);
    assert.match(suggestions, /--amazonec2-region \(us-east-1\), or give --amazonec2-endpoint/);
    assert.match(suggestions, /MOOR_AMAZONEC2_HTTP_TIMEOUT_MS/);
  });

  it('throttled until the budget ends in a pause between attempts: the last answer is reported, not a time-out', async () => {
    // The budget (1 s) ends in the pause (10 s) after the first answer, however slow a loaded machine is.
    Object.assign(ec2Timing, { callTimeoutMs: 1_000, retryDelayMs: () => 10_000 });
    const script = ec2Script([
      { action: 'DescribeInstances', reply: { error: 'RequestLimitExceeded', message: 'slow down', status: 503 } },
    ]);
    const error = await rejection(fromRecord({ ...instanceRecord, Retries: 5 }).getState());
    script.assertDone();
    assert.equal(error.code, 'EC2_API_ERROR');
    assert.match(error.message, /DescribeInstances failed: RequestLimitExceeded: slow down/);
    assert.match(error.suggestions.join('\n'), /--amazonec2-retries/);
  });

  it('a create whose endpoint stalls at RunInstances: one rollback call waits, the rest are listed as not tried', async () => {
    // The calls before RunInstances are answered: their bounds are far above what a loaded machine needs.
    Object.assign(ec2Timing, { connectTimeoutMs: 1_000, requestTimeoutMs: 1_000, callTimeoutMs: 1_500 });
    const script = ec2Script([
      describeVpcs,
      describeSubnets,
      describeImages,
      importKeyPair,
      noSecurityGroup,
      { action: 'CreateSecurityGroup', reply: { groupId: 'sg-new' } },
      { action: 'AuthorizeSecurityGroupIngress', reply: { return: true } },
      { action: 'RunInstances', stall: true, repeat: true },
      { action: 'DeleteSecurityGroup', stall: true, repeat: true },
    ]);
    const error = await rejection(createFully(await newDriver()));
    script.assertDone();
    assert.equal(error.exitCode, 7);
    assert.match(error.message, /^EC2 RunInstances got no answer from https:\/\/ec2\.us-east-1\.amazonaws\.com/);
    assert.match(
      error.message,
      /Rollback failed, left behind in us-east-1: security-group sg-new \(EC2 DeleteSecurityGroup got no answer .*\); key-pair moor-web-[0-9a-f]{8} \(not tried: the endpoint failed the previous call\)\.$/,
    );
  });

  it('rm that fails at the first call: everything is listed as left, with the aws commands', async () => {
    const throttled: Step = {
      action: 'TerminateInstances',
      reply: { error: 'RequestLimitExceeded', message: 'slow down', status: 503 },
    };
    const script = ec2Script([throttled, throttled]);
    const error = await rejection(fromRecord({ ...instanceRecord, Retries: 2 }).remove());
    script.assertDone();
    assert.match(
      error.message,
      /RequestLimitExceeded: slow down \(after 2 attempts\) Not removed in us-east-1: instance i-0abc, key pair moor-web-1, security group sg-new \(unless another instance uses it\)\.$/,
    );
    const last = error.suggestions.at(-1) ?? '';
    assert.match(last, /aws ec2 terminate-instances --instance-ids i-0abc --region us-east-1;/);
    assert.match(last, /aws ec2 delete-key-pair --key-name moor-web-1 --region us-east-1;/);
    assert.match(last, /aws ec2 delete-security-group --group-id sg-new --region us-east-1\.$/);
  });

  it('rm that fails after the instance is gone: only the key pair and the group are listed', async () => {
    const script = ec2Script([
      { action: 'TerminateInstances', reply: { instancesSet: [] } },
      describeInstances({ id: 'i-0abc', state: 'terminated' }),
      { action: 'DeleteKeyPair', reply: { error: 'UnauthorizedOperation', message: 'not allowed' } },
    ]);
    const error = await rejection(fromRecord({ ...instanceRecord, Retries: 1 }).remove());
    script.assertDone();
    assert.match(error.message, /Not removed in us-east-1: key pair moor-web-1, security group sg-new/);
    assert.doesNotMatch(error.message, /instance i-0abc/);
  });

  it('MOOR_AMAZONEC2_HTTP_TIMEOUT_MS sets the request time-out and twice that per call; a bad value is a usage error', () => {
    assert.deepEqual(httpTiming({}), { connectTimeoutMs: 10_000, requestTimeoutMs: 30_000, callTimeoutMs: 60_000 });
    assert.deepEqual(httpTiming({ MOOR_AMAZONEC2_HTTP_TIMEOUT_MS: '500' }), {
      connectTimeoutMs: 500,
      requestTimeoutMs: 500,
      callTimeoutMs: 1_000,
    });
    assert.equal(httpTiming({ MOOR_AMAZONEC2_HTTP_TIMEOUT_MS: '120000' }).connectTimeoutMs, 10_000);
    for (const bad of ['abc', '0', '-5', '1.5']) {
      assert.throws(
        () => httpTiming({ MOOR_AMAZONEC2_HTTP_TIMEOUT_MS: bad }),
        (error: unknown) => error instanceof MoorError && error.exitCode === 2,
      );
    }
  });
});
