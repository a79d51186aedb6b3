/**
 * A stateful EC2 emulator for tests: an HTTP server on 127.0.0.1 speaking the EC2 Query protocol for the
 * calls moor makes (reached with --amazonec2-endpoint). It keeps VPCs, subnets, images, key pairs,
 * security groups with their rules, and instances with their tags; instances move pending -> running,
 * stopping -> stopped and shutting-down -> terminated after `transitionMs`.
 *
 *   const ec2 = await startEc2Emulator({ ipFor: () => host.ip, onImportKeyPair: (key) => install(key) });
 *   moor(['create', '-d', 'amazonec2', '--amazonec2-endpoint', ec2.url, 'web'])
 *   ec2.leftovers()   // what is still there: non-terminated instances, key pairs, security groups
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { defaultEngineOptions } from '../../src/core/machine.js';
import {
  ec2ErrorReply,
  ec2Reply,
  filtersOf,
  instanceXml,
  listOf,
  parseQuery,
  type QueryParams,
  type XmlValue,
} from './ec2-query.js';

/**
 * The environment for moor processes that talk to the emulator: static credentials of the emulator's, no
 * instance metadata lookups, no shared config or profile of the developer's, the default region.
 */
export const EMULATOR_AWS_ENV: Record<string, string | undefined> = {
  AWS_ACCESS_KEY_ID: 'AKIDEMULATOREMULATOR',
  AWS_SECRET_ACCESS_KEY: 'emulator-secret-from-env',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  AWS_PROFILE: undefined,
  AWS_DEFAULT_REGION: undefined,
  AWS_REGION: undefined,
};

export const EMULATOR_VPC = 'vpc-0emu0emu0emu0emu0';
export const EMULATOR_AMI = 'ami-0ubuntu2404newest';

interface Rule {
  protocol: string;
  from: number;
  to: number;
  /** The source: an address range, or (with sourceGroup) '' for a group-sourced rule. */
  cidr: string;
  /** The security group whose members are the source (UserIdGroupPairs). */
  sourceGroup?: string;
}

interface Group {
  id: string;
  name: string;
  vpcId: string;
  rules: Rule[];
  tags: Record<string, string>;
}

interface Instance {
  id: string;
  state: string;
  /** When the current transitional state becomes `next`. */
  until?: number;
  next?: string;
  publicIp?: string;
  privateIp: string;
  keyName: string;
  imageId: string;
  groups: string[];
  tags: Record<string, string>;
  spotRequestId?: string;
  params: QueryParams;
}

export interface Ec2EmulatorOptions {
  transitionMs?: number;
  /** The public IP an instance gets on each start (default: 203.0.113.<n>). */
  ipFor?: (instanceId: string, startCount: number) => string;
  /** Called when a key pair is imported (e.g. to install it on a real test host). */
  onImportKeyPair?: (name: string, publicKey: string) => Promise<void>;
  /** Actions that fail with this error code (fault injection). */
  failures?: Record<string, string>;
  /**
   * Called when a call arrives, before it is carried out; the reply waits until it resolves (fault
   * injection: signal or kill the caller while its call is on its way; the call is carried out anyway).
   */
  onCall?: (action: string, params: QueryParams) => Promise<void> | void;
}

export interface Ec2Emulator {
  url: string;
  /** Replaces the onCall hook of the options (undefined: none). */
  onCall: Ec2EmulatorOptions['onCall'];
  /** How many calls were answered (calls.length once no call is on its way). */
  answered(): number;
  calls: QueryParams[];
  keyPairs: Map<string, { publicKey: string; tags: Record<string, string> }>;
  groups: Map<string, Group>;
  instances: Map<string, Instance>;
  failures: Record<string, string>;
  /**
   * What a finished `moor create` of `name` leaves in the account (a running instance with its own key
   * pair and security group), made directly, for CLI tests of everything after create.
   */
  seedMachine(name: string): {
    instanceId: string;
    keyPairName: string;
    groupId: string;
    ip: string;
    privateIp: string;
  };
  /** Everything a moor create may leave: instances not terminated, key pairs, security groups. */
  leftovers(): { instances: string[]; keyPairs: string[]; groups: string[] };
  actions(): string[];
  close(): Promise<void>;
}

class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function tagsFrom(params: QueryParams, resourceType: string): Record<string, string> {
  const specs =
    (params['TagSpecification'] as { ResourceType: string; Tag?: { Key: string; Value: string }[] }[]) ?? [];
  const spec = specs.find((item) => item.ResourceType === resourceType);
  return Object.fromEntries((spec?.Tag ?? []).map((tag) => [tag.Key, tag.Value ?? '']));
}

function tagXml(tags: Record<string, string>): XmlValue {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

export async function startEc2Emulator(options: Ec2EmulatorOptions = {}): Promise<Ec2Emulator> {
  const transitionMs = options.transitionMs ?? 300;
  const calls: QueryParams[] = [];
  const keyPairs = new Map<string, { publicKey: string; tags: Record<string, string> }>();
  const groups = new Map<string, Group>();
  const instances = new Map<string, Instance>();
  const starts = new Map<string, number>();
  const failures: Record<string, string> = { ...(options.failures ?? {}) };
  let serial = 0;
  let answered = 0;
  const nextId = (prefix: string) => `${prefix}-${(++serial).toString(16).padStart(17, '0')}`;
  const subnets = [
    {
      subnetId: 'subnet-0emua',
      vpcId: EMULATOR_VPC,
      availabilityZone: 'us-east-1a',
      defaultForAz: true,
      state: 'available',
    },
    {
      subnetId: 'subnet-0emub',
      vpcId: EMULATOR_VPC,
      availabilityZone: 'us-east-1b',
      defaultForAz: true,
      state: 'available',
    },
  ];
  const images = [
    {
      imageId: 'ami-0ubuntu2404older',
      name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250101',
      creationDate: '2025-01-01T00:00:00.000Z',
    },
    {
      imageId: EMULATOR_AMI,
      name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250901',
      creationDate: '2025-09-01T00:00:00.000Z',
    },
  ];

  const publicIp = (id: string) => {
    const count = (starts.get(id) ?? 0) + 1;
    starts.set(id, count);
    return options.ipFor ? options.ipFor(id, count) : `203.0.113.${(serial % 200) + count}`;
  };

  /** Moves an instance through its transitional states as time passes. */
  const settle = (instance: Instance) => {
    if (instance.next && instance.until !== undefined && Date.now() >= instance.until) {
      instance.state = instance.next;
      delete instance.next;
      delete instance.until;
      if (instance.state === 'running' && !instance.publicIp && instance.params['NetworkInterface']) {
        const nic = (instance.params['NetworkInterface'] as { AssociatePublicIpAddress?: string }[])[0];
        if (nic?.AssociatePublicIpAddress !== 'false') instance.publicIp = publicIp(instance.id);
      }
      if (instance.state === 'stopped' || instance.state === 'terminated') delete instance.publicIp;
    }
  };
  const transition = (instance: Instance, now: string, next: string) => {
    instance.state = now;
    instance.next = next;
    instance.until = Date.now() + transitionMs;
  };
  const instanceOf = (id: string) => {
    const instance = instances.get(id);
    if (!instance) throw new ApiError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    settle(instance);
    return instance;
  };
  const stateChange = (ids: string[], change: (instance: Instance) => void) => ({
    instancesSet: ids.map((id) => {
      const instance = instanceOf(id);
      const previous = instance.state;
      change(instance);
      return { instanceId: id, previousState: { name: previous }, currentState: { name: instance.state } };
    }),
  });

  const handlers: Record<
    string,
    (params: QueryParams) => Promise<Record<string, XmlValue>> | Record<string, XmlValue>
  > = {
    DescribeVpcs: (params) => {
      const filters = filtersOf(params);
      const isDefault = filters.get('is-default');
      return {
        vpcSet:
          !isDefault || isDefault.includes('true')
            ? [{ vpcId: EMULATOR_VPC, isDefault: true, state: 'available' }]
            : [],
      };
    },
    DescribeSubnets: (params) => {
      const filters = filtersOf(params);
      return {
        subnetSet: subnets.filter(
          (subnet) =>
            (!filters.has('subnet-id') || filters.get('subnet-id')!.includes(subnet.subnetId)) &&
            (!filters.has('vpc-id') || filters.get('vpc-id')!.includes(subnet.vpcId)) &&
            (!filters.has('availability-zone') || filters.get('availability-zone')!.includes(subnet.availabilityZone)),
        ),
      };
    },
    DescribeImages: (params) => {
      const filters = filtersOf(params);
      const owners = listOf(params, 'Owner');
      return {
        imagesSet: images
          .filter(
            (image) =>
              (owners.length === 0 || owners.includes('099720109477')) &&
              (!filters.has('name') || filters.get('name')!.some((pattern) => wildcard(pattern).test(image.name))) &&
              (!filters.has('image-id') || filters.get('image-id')!.includes(image.imageId)),
          )
          .map((image) => ({ ...image, imageState: 'available', imageOwnerId: '099720109477' })),
      };
    },
    DescribeKeyPairs: (params) => {
      const names = filtersOf(params).get('key-name');
      return {
        keySet: [...keyPairs.keys()].filter((name) => !names || names.includes(name)).map((keyName) => ({ keyName })),
      };
    },
    ImportKeyPair: async (params) => {
      const name = String(params['KeyName']);
      if (keyPairs.has(name)) throw new ApiError('InvalidKeyPair.Duplicate', `The keypair '${name}' already exists.`);
      const publicKey = Buffer.from(String(params['PublicKeyMaterial']), 'base64').toString();
      await options.onImportKeyPair?.(name, publicKey);
      keyPairs.set(name, { publicKey, tags: tagsFrom(params, 'key-pair') });
      return { keyName: name, keyFingerprint: 'emulated', keyPairId: nextId('key') };
    },
    DeleteKeyPair: (params) => {
      keyPairs.delete(String(params['KeyName']));
      return { return: true };
    },
    DescribeSecurityGroups: (params) => {
      const filters = filtersOf(params);
      return {
        securityGroupInfo: [...groups.values()]
          .filter(
            (group) =>
              (!filters.has('vpc-id') || filters.get('vpc-id')!.includes(group.vpcId)) &&
              (!filters.has('group-name') || filters.get('group-name')!.includes(group.name)) &&
              (!filters.has('group-id') || filters.get('group-id')!.includes(group.id)),
          )
          .map((group) => ({
            ownerId: '123456789012',
            groupId: group.id,
            groupName: group.name,
            vpcId: group.vpcId,
            ipPermissions: group.rules.map((rule) => ({
              ipProtocol: rule.protocol,
              fromPort: rule.from,
              toPort: rule.to,
              ...(rule.sourceGroup
                ? { groups: [{ userId: '123456789012', groupId: rule.sourceGroup }] }
                : { ipRanges: [{ cidrIp: rule.cidr }] }),
            })),
            tagSet: tagXml(group.tags),
          })),
      };
    },
    CreateSecurityGroup: (params) => {
      const name = String(params['GroupName']);
      const vpcId = String(params['VpcId']);
      if ([...groups.values()].some((group) => group.name === name && group.vpcId === vpcId)) {
        throw new ApiError('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpcId}'`);
      }
      const id = nextId('sg');
      groups.set(id, { id, name, vpcId, rules: [], tags: tagsFrom(params, 'security-group') });
      return { return: true, groupId: id };
    },
    AuthorizeSecurityGroupIngress: (params) => {
      const group = groups.get(String(params['GroupId']));
      if (!group)
        throw new ApiError('InvalidGroup.NotFound', `The security group '${String(params['GroupId'])}' does not exist`);
      for (const permission of params['IpPermissions'] as {
        IpProtocol: string;
        FromPort: string;
        ToPort: string;
        IpRanges?: { CidrIp: string }[];
        Groups?: { GroupId: string }[];
      }[]) {
        const sourceGroup = permission.Groups?.[0]?.GroupId;
        if (sourceGroup !== undefined && !groups.has(sourceGroup)) {
          throw new ApiError('InvalidGroup.NotFound', `The security group '${sourceGroup}' does not exist`);
        }
        const rule: Rule = {
          protocol: permission.IpProtocol,
          from: Number(permission.FromPort),
          to: Number(permission.ToPort),
          cidr: permission.IpRanges?.[0]?.CidrIp ?? '',
          ...(sourceGroup !== undefined ? { sourceGroup } : {}),
        };
        if (group.rules.some((have) => JSON.stringify(have) === JSON.stringify(rule))) {
          throw new ApiError('InvalidPermission.Duplicate', 'the specified rule already exists');
        }
        group.rules.push(rule);
      }
      return { return: true };
    },
    DeleteSecurityGroup: (params) => {
      const id = String(params['GroupId']);
      if (!groups.has(id)) throw new ApiError('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
      const user = [...instances.values()].find((instance) => {
        settle(instance);
        return instance.state !== 'terminated' && instance.groups.includes(id);
      });
      if (user) throw new ApiError('DependencyViolation', `resource ${id} has a dependent object`);
      groups.delete(id);
      return { return: true };
    },
    RunInstances: (params) => {
      const keyName = String(params['KeyName']);
      if (!keyPairs.has(keyName))
        throw new ApiError('InvalidKeyPair.NotFound', `The key pair '${keyName}' does not exist`);
      const nic = (params['NetworkInterface'] as { SecurityGroupId?: string[] }[] | undefined)?.[0];
      const groupIds = nic?.SecurityGroupId ?? listOf(params, 'SecurityGroupId');
      for (const id of groupIds) {
        if (!groups.has(id)) throw new ApiError('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
      }
      const id = nextId('i');
      const market = params['InstanceMarketOptions'] as { MarketType?: string } | undefined;
      const instance: Instance = {
        id,
        state: 'pending',
        privateIp: `172.31.${serial % 250}.${(serial * 7) % 250}`,
        keyName,
        imageId: String(params['ImageId']),
        groups: groupIds,
        tags: tagsFrom(params, 'instance'),
        params,
        ...(market?.MarketType === 'spot' ? { spotRequestId: nextId('sir') } : {}),
      };
      transition(instance, 'pending', 'running');
      instances.set(id, instance);
      return {
        reservationId: nextId('r'),
        ownerId: '123456789012',
        instancesSet: [instanceXml({ ...instance, ...(instance.publicIp ? { publicIp: instance.publicIp } : {}) })],
      };
    },
    DescribeInstances: (params) => {
      const ids = filtersOf(params).get('instance-id') ?? listOf(params, 'InstanceId');
      const tokens = filtersOf(params).get('client-token');
      const found = [...instances.values()].filter(
        (instance) =>
          (ids.length === 0 || ids.includes(instance.id)) &&
          (!tokens || tokens.includes(String(instance.params['ClientToken']))),
      );
      return {
        reservationSet: found.map((instance) => {
          settle(instance);
          return {
            reservationId: `r-${instance.id}`,
            ownerId: '123456789012',
            instancesSet: [{ ...(instanceXml(instance) as Record<string, XmlValue>), tagSet: tagXml(instance.tags) }],
          };
        }),
      };
    },
    StartInstances: (params) =>
      stateChange(listOf(params, 'InstanceId'), (instance) => {
        if (instance.state === 'stopped') transition(instance, 'pending', 'running');
        else if (instance.state !== 'running' && instance.state !== 'pending') {
          throw new ApiError(
            'IncorrectInstanceState',
            `The instance '${instance.id}' is not in a state from which it can be started.`,
          );
        }
      }),
    StopInstances: (params) =>
      stateChange(listOf(params, 'InstanceId'), (instance) => {
        if (instance.state === 'running' || instance.state === 'pending') transition(instance, 'stopping', 'stopped');
      }),
    RebootInstances: (params) => {
      for (const id of listOf(params, 'InstanceId')) instanceOf(id);
      return { return: true };
    },
    TerminateInstances: (params) =>
      stateChange(listOf(params, 'InstanceId'), (instance) => {
        if (instance.state !== 'terminated') transition(instance, 'shutting-down', 'terminated');
      }),
    CancelSpotInstanceRequests: (params) => ({
      spotInstanceRequestSet: listOf(params, 'SpotInstanceRequestId').map((id) => ({
        spotInstanceRequestId: id,
        state: 'cancelled',
      })),
    }),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const params = parseQuery(Buffer.concat(chunks).toString());
    calls.push(params);
    const action = String(params.Action);
    await emulator.onCall?.(action, params);
    let status = 200;
    let body: string;
    try {
      if (!String(req.headers['authorization'] ?? '').startsWith('AWS4-HMAC-SHA256 Credential=')) {
        throw new ApiError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401);
      }
      const failure = failures[action];
      if (failure) throw new ApiError(failure, `injected failure of ${action}`);
      const handler = handlers[action];
      if (!handler) throw new ApiError('InvalidAction', `The action ${action} is not valid for this web service.`);
      body = ec2Reply(action, await handler(params));
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError('InternalError', String(error), 500);
      status = apiError.status;
      body = ec2ErrorReply(apiError.code, apiError.message);
    }
    answered += 1;
    res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8' });
    res.end(body);
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const emulator: Ec2Emulator = {
    url: `http://127.0.0.1:${port}`,
    onCall: options.onCall,
    answered: () => answered,
    calls,
    keyPairs,
    groups,
    instances,
    failures,
    seedMachine(name) {
      const keyPairName = `moor-${name}-seeded`;
      keyPairs.set(keyPairName, { publicKey: 'ssh-ed25519 AAAA seeded', tags: { 'moor:machine': name } });
      const groupId = nextId('sg');
      groups.set(groupId, {
        id: groupId,
        name: `moor-${name}`,
        vpcId: EMULATOR_VPC,
        rules: [{ protocol: 'tcp', from: 22, to: 22, cidr: '0.0.0.0/0' }],
        tags: { 'moor:machine': name },
      });
      const instanceId = nextId('i');
      const instance: Instance = {
        id: instanceId,
        state: 'running',
        privateIp: `172.31.9.${serial % 250}`,
        publicIp: publicIp(instanceId),
        keyName: keyPairName,
        imageId: EMULATOR_AMI,
        groups: [groupId],
        tags: { Name: name, 'moor:machine': name },
        params: { NetworkInterface: [{ AssociatePublicIpAddress: 'true' }] },
      };
      instances.set(instanceId, instance);
      return { instanceId, keyPairName, groupId, ip: instance.publicIp!, privateIp: instance.privateIp };
    },
    leftovers() {
      return {
        instances: [...instances.values()]
          .filter((instance) => {
            settle(instance);
            return instance.state !== 'terminated';
          })
          .map((instance) => instance.id),
        keyPairs: [...keyPairs.keys()],
        groups: [...groups.keys()],
      };
    },
    actions: () => calls.map((params) => String(params.Action)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return emulator;
}

export interface Amazonec2RecordFields {
  endpoint: string;
  retries: number;
  instanceId: string;
  ip: string;
  /** The instance's private address, as create records it (left out: a record without one). */
  privateIp?: string;
  keyPairName: string;
  vpcId: string;
  groupId: string;
}

/** Writes the record a finished `create -d amazonec2` leaves in machine folder `dir` (created 0700, config 0600). */
export async function writeAmazonec2Record(dir: string, name: string, fields: Amazonec2RecordFields): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const record = {
    ConfigVersion: 1,
    Name: name,
    DriverName: 'amazonec2',
    CreatedAt: new Date().toISOString(),
    Phase: 'created',
    Driver: {
      MachineName: name,
      Region: 'us-east-1',
      Endpoint: fields.endpoint,
      Retries: fields.retries,
      InstanceId: fields.instanceId,
      IPAddress: fields.ip,
      ...(fields.privateIp ? { PrivateIPAddress: fields.privateIp } : {}),
      UsePrivateAddress: false,
      SSHUser: 'ubuntu',
      SSHPort: 22,
      SSHKeyPath: 'id_ed25519',
      KeyPairName: fields.keyPairName,
      KeyPairUserSupplied: false,
      VpcId: fields.vpcId,
      InstanceType: 't3.micro',
      SecurityGroupIds: [fields.groupId],
      MoorSecurityGroupIds: [fields.groupId],
    },
    HostOptions: { EngineOptions: defaultEngineOptions(), AuthOptions: { ServerCertSANs: [] } },
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(record, null, 2));
  await chmod(join(dir, 'config.json'), 0o600);
}
