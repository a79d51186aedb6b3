/**
 * The narrow EC2 interface the amazonec2 driver uses, and its implementation on @aws-sdk/client-ec2 (v3).
 * The SDK is imported on first use only, so that no other command pays for loading it. Errors come back
 * as Ec2Error (a MoorError with the API's error code), with suggestions for the usual causes.
 */
import { ExitCode, MoorError, messageOf } from '../api.js';

/** The bounds of every call: no EC2 call of moor's waits longer than callTimeoutMs. */
export interface Ec2HttpTiming {
  /** The TCP (and TLS) connection of one attempt. */
  connectTimeoutMs: number;
  /** One attempt, from sending the request to the end of the answer. */
  requestTimeoutMs: number;
  /** The whole call: every attempt and the pauses between them. */
  callTimeoutMs: number;
}

export interface Ec2ClientOptions {
  region: string;
  /** A custom endpoint (an EC2-compatible API, or a test emulator). */
  endpoint?: string;
  /** A named profile of the shared config/credentials files. */
  profile?: string;
  /** Explicit credentials (flags of create); otherwise the SDK's default chain. Never stored. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per call, the first included (the SDK's maxAttempts). */
  maxAttempts: number;
  /** Delay before retry n (1-based), in ms; the SDK's exponential backoff with jitter when not given. */
  retryDelayMs?: (attempt: number) => number;
  http: Ec2HttpTiming;
}

export type Ec2InstanceState = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';

export interface Ec2Instance {
  id: string;
  state: Ec2InstanceState;
  publicIp?: string;
  privateIp?: string;
  spotRequestId?: string;
  securityGroupIds: string[];
}

export interface Ec2Subnet {
  id: string;
  vpcId: string;
  zone: string;
}

export interface IngressRule {
  protocol: 'tcp' | 'udp';
  port: number;
  /** The source: this security group's members (a group rule); absent: the world (0.0.0.0/0). */
  sourceGroupId?: string;
}

export interface Ec2SecurityGroup {
  id: string;
  name: string;
  /** Rules open to 0.0.0.0/0, as protocol and port range. */
  openRules: { protocol: string; fromPort: number; toPort: number }[];
  /** Rules whose source is a security group, as protocol, port range and that group. */
  groupRules?: { protocol: string; fromPort: number; toPort: number; groupId: string }[];
  /** Tagged moor:managed: moor created it. */
  managed: boolean;
}

export interface Tag {
  key: string;
  value: string;
}

export interface RunInstanceParams {
  imageId: string;
  instanceType: string;
  keyName: string;
  subnetId: string;
  securityGroupIds: string[];
  associatePublicIp: boolean;
  rootSizeGiB: number;
  volumeType: string;
  encrypted: boolean;
  kmsKeyId?: string;
  iamInstanceProfile?: string;
  monitoring: boolean;
  ebsOptimized: boolean;
  userData?: string;
  metadataHttpTokens: 'required' | 'optional';
  metadataHopLimit: number;
  spot?: { maxPrice?: string };
  tags: Tag[];
  clientToken: string;
}

/** How the SDK's waiters poll, in milliseconds (the SDK takes seconds; fractions work, tests use 1 ms). */
export interface WaiterTiming {
  /** The whole budget. */
  timeoutMs: number;
  /** The first pause; each next one doubles (with jitter) up to maxDelayMs. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Ends the wait at once (an interrupt): its reason is thrown. */
  signal?: AbortSignal;
}

/** How waitUntilRunning ended; `instance` is the last one described. */
export type RunningWait =
  | { outcome: 'running'; instance: Ec2Instance }
  /** The SDK's failure acceptors: the instance is shutting down, terminated or stopping. */
  | { outcome: 'failed'; instance: Ec2Instance }
  | { outcome: 'timeout'; instance?: Ec2Instance };

export interface Ec2Api {
  defaultVpcId(): Promise<string | undefined>;
  /** The subnet with this id, or the default subnet (else any) of the VPC, in the zone when given. */
  findSubnet(options: { subnetId?: string; vpcId?: string; zone?: string }): Promise<Ec2Subnet | undefined>;
  /** The newest image of the owner whose name matches the pattern. */
  latestImage(owner: string, namePattern: string): Promise<string | undefined>;
  imageExists(imageId: string): Promise<boolean>;
  keyPairExists(name: string): Promise<boolean>;
  importKeyPair(name: string, publicKey: string, tags: Tag[]): Promise<void>;
  deleteKeyPair(name: string): Promise<void>;
  findSecurityGroup(vpcId: string, name: string): Promise<Ec2SecurityGroup | undefined>;
  /** The security group with this ID, or undefined. */
  findSecurityGroupById(groupId: string): Promise<Ec2SecurityGroup | undefined>;
  createSecurityGroup(vpcId: string, name: string, description: string, tags: Tag[]): Promise<string>;
  authorizeIngress(groupId: string, rules: IngressRule[]): Promise<void>;
  deleteSecurityGroup(groupId: string): Promise<void>;
  runInstance(params: RunInstanceParams): Promise<Ec2Instance>;
  /** The instances among these ids that exist (one DescribeInstances call). */
  describeInstances(ids: string[]): Promise<Ec2Instance[]>;
  /** The instance launched with this RunInstances client token, if any (a create killed during the call). */
  findInstanceByClientToken(token: string): Promise<Ec2Instance | undefined>;
  startInstance(id: string): Promise<void>;
  stopInstance(id: string, force: boolean): Promise<void>;
  rebootInstance(id: string): Promise<void>;
  terminateInstance(id: string): Promise<void>;
  cancelSpotRequest(id: string): Promise<void>;
  /**
   * Polls the instance with the SDK's InstanceRunning waiter (DescribeInstances filtered by instance-id): an
   * instance not described yet is waited for; an API error ends the wait and is thrown.
   */
  waitUntilRunning(id: string, timing: WaiterTiming): Promise<RunningWait>;
}

/** An error answered by the EC2 API (or by the SDK on its way there). */
export class Ec2Error extends MoorError {
  constructor(
    readonly awsCode: string,
    action: string,
    message: string,
    suggestions: string[] = [],
    cause?: unknown,
  ) {
    super(`EC2 ${action} failed: ${awsCode}: ${message}`, {
      code: 'EC2_API_ERROR',
      exitCode: ExitCode.failure,
      suggestions,
      cause,
    });
  }
}

/**
 * The endpoint did not answer (in time, or at all), or answered with something that is not the EC2 API's:
 * nothing is known about what the call did. A timeout exits 7, the rest 1.
 */
export class Ec2EndpointError extends MoorError {
  constructor(message: string, options: { timeout: boolean; suggestions: string[]; cause?: unknown }) {
    super(message, {
      code: options.timeout ? 'EC2_ENDPOINT_TIMEOUT' : 'EC2_ENDPOINT_UNREACHABLE',
      exitCode: options.timeout ? ExitCode.timeout : ExitCode.failure,
      suggestions: options.suggestions,
      cause: options.cause,
    });
  }
}

/** Whether the error is the EC2 API's answer with one of these codes. */
export function hasAwsCode(error: unknown, ...codes: string[]): error is Ec2Error {
  return error instanceof Ec2Error && codes.includes(error.awsCode);
}

const CREDENTIAL_CODES = new Set([
  'AuthFailure',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'CredentialsProviderError',
  'ExpiredToken',
  'RequestExpired',
]);

function suggestionsFor(code: string): string[] {
  if (CREDENTIAL_CODES.has(code)) {
    return [
      'Check your AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or AWS_PROFILE / --amazonec2-profile for a profile of ~/.aws/config, or run "aws sso login".',
    ];
  }
  if (code === 'UnauthorizedOperation')
    return ['Your AWS identity lacks an EC2 permission: see the README for the policy moor needs.'];
  if (code === 'RequestLimitExceeded' || code === 'Throttling') {
    return ['The EC2 API is throttling requests: try again later, or raise --amazonec2-retries.'];
  }
  return [];
}

/** Node's codes for a connection that could not be made or was cut. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ECONNABORTED',
]);

/** Where a client sends its calls, for messages. */
interface Target {
  endpoint: string;
  region: string;
  custom: boolean;
  http: Ec2HttpTiming;
}

function seconds(ms: number): string {
  return ms >= 1_000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

function endpointSuggestions(target: Target): string[] {
  return [
    `Check the network path to ${target.endpoint} (connection, DNS, a firewall or proxy in between).`,
    target.custom
      ? `Check the endpoint ${target.endpoint}: it comes from --amazonec2-endpoint (MOOR_AMAZONEC2_ENDPOINT, AWS_ENDPOINT) at create and is kept in the machine's record.`
      : `Check --amazonec2-region (${target.region}), or give --amazonec2-endpoint for an EC2-compatible API.`,
    `On a slow link, raise MOOR_AMAZONEC2_HTTP_TIMEOUT_MS (now ${target.http.requestTimeoutMs} ms per request; a call with its retries gets twice that).`,
  ];
}

/** The SDK's error for an answer it could not parse (not XML, or not EC2's), with the answer's status. */
function isUnparsable(error: Error): boolean {
  const status = ($metadataOf(error)?.httpStatusCode ?? 0) as number;
  const name = error.name;
  return (
    name === 'SyntaxError' ||
    (name === 'Error' && /deserializ|XML|parse|Unexpected/i.test(error.message)) ||
    (name === 'UnknownError' && status >= 200 && status < 300)
  );
}

function $metadataOf(error: unknown): { httpStatusCode?: number; attempts?: number } | undefined {
  return (error as { $metadata?: { httpStatusCode?: number; attempts?: number } }).$metadata;
}

function toEc2Error(action: string, error: unknown, target?: Target): MoorError {
  if (error instanceof Ec2Error || error instanceof Ec2EndpointError) return error;
  if (target && error instanceof Error) {
    const where = `${target.endpoint} (region ${target.region})`;
    const nodeCode = (error as { code?: string }).code ?? '';
    if (error.name === 'TimeoutError' || error.name === 'AbortError' || nodeCode === 'ETIMEDOUT') {
      const connect = /establish a connection/.test(error.message);
      const what = connect
        ? `could not connect to ${where} within ${seconds(target.http.connectTimeoutMs)}`
        : `got no answer from ${where} in time (${seconds(target.http.requestTimeoutMs)} per request, ${seconds(target.http.callTimeoutMs)} per call with its retries)`;
      return new Ec2EndpointError(`EC2 ${action} ${what}.`, {
        timeout: true,
        suggestions: endpointSuggestions(target),
        cause: error,
      });
    }
    if (CONNECTION_CODES.has(nodeCode)) {
      return new Ec2EndpointError(`EC2 ${action} could not reach ${where}: ${nodeCode}.`, {
        timeout: false,
        suggestions: endpointSuggestions(target),
        cause: error,
      });
    }
    if (isUnparsable(error)) {
      const status = $metadataOf(error)?.httpStatusCode;
      return new Ec2EndpointError(
        `EC2 ${action}: the answer of ${where}${status ? ` (HTTP ${status})` : ''} is not the EC2 API's (${abbreviate(error.message.split(/\.?\s*Deserialization error/)[0] ?? '')}).`,
        { timeout: false, suggestions: endpointSuggestions(target).slice(0, 2), cause: error },
      );
    }
  }
  const code =
    (error as { Code?: string }).Code ??
    (error as { name?: string }).name ??
    (error as { code?: string }).code ??
    'Error';
  const attempts = $metadataOf(error)?.attempts;
  const message = `${messageOf(error)}${attempts && attempts > 1 ? ` (after ${attempts} attempts)` : ''}`;
  return new Ec2Error(code, action, message, suggestionsFor(code), error);
}

function abbreviate(text: string, max = 120): string {
  const line = text.replaceAll(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

/** A bundler may hand over a CommonJS package as a default export only. */
function commonJs<T extends object>(imported: T, member: string): T {
  return (member in imported ? imported : (imported as { default: T }).default) as T;
}

/** A client of the EC2 API (the SDK is loaded by the first call of this function). */
export async function createEc2Api(options: Ec2ClientOptions): Promise<Ec2Api> {
  const sdk = commonJs(await import('@aws-sdk/client-ec2'), 'EC2Client');
  const { ConfiguredRetryStrategy } = commonJs(await import('@smithy/core/retry'), 'ConfiguredRetryStrategy');
  const { http } = options;
  const client = new sdk.EC2Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts,
    ...(options.retryDelayMs
      ? { retryStrategy: new ConfiguredRetryStrategy(options.maxAttempts, options.retryDelayMs) }
      : {}),
    // NodeHttpHandler's options: without them a connection that is accepted and never answered waits forever.
    requestHandler: {
      connectionTimeout: http.connectTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
  const target: Target = {
    endpoint: options.endpoint ?? `https://ec2.${options.region}.amazonaws.com`,
    region: options.region,
    custom: Boolean(options.endpoint),
    http,
  };
  type Send = typeof client.send;
  /**
   * Runs one API call (fn sends its requests through `send`) within http.callTimeoutMs: the SDK's retries
   * stop there (their requests are aborted), and so does a pause between two attempts.
   */
  const call = async <T>(action: string, fn: (send: Send) => Promise<T>): Promise<T> => {
    const controller = new AbortController();
    // The last answer of the endpoint that failed an attempt (a 500, throttling): when the budget ends in the
    // pause before the next attempt, that answer is the error to report, not a time-out.
    let lastAnswer: unknown;
    let attempts = 0;
    const send = ((command: Parameters<Send>[0]) => {
      command.middlewareStack.add(
        (next) => async (args) => {
          attempts += 1;
          try {
            return await next(args);
          } catch (error) {
            const metadata = $metadataOf(error);
            if (metadata?.httpStatusCode) {
              metadata.attempts ??= attempts;
              lastAnswer = error;
            }
            throw error;
          }
        },
        { step: 'deserialize', priority: 'high' },
      );
      return client.send(command as never, { abortSignal: controller.signal });
    }) as unknown as Send;
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(
          lastAnswer ?? Object.assign(new Error(`no answer within ${http.callTimeoutMs} ms`), { name: 'TimeoutError' }),
        );
      }, http.callTimeoutMs);
    });
    try {
      return await Promise.race([fn(send), budget]);
    } catch (error) {
      throw toEc2Error(action, error, target);
    } finally {
      clearTimeout(timer);
    }
  };
  const tagSpec = (resourceType: 'instance' | 'volume' | 'key-pair' | 'security-group', tags: Tag[]) => ({
    ResourceType: resourceType,
    Tags: tags.map((tag) => ({ Key: tag.key, Value: tag.value })),
  });
  const instanceFilter = (ids: string[]) => [{ Name: 'instance-id', Values: ids }];
  const toInstance = (item: import('@aws-sdk/client-ec2').Instance): Ec2Instance => ({
    id: item.InstanceId ?? '',
    state: (item.State?.Name ?? 'pending') as Ec2InstanceState,
    ...(item.PublicIpAddress ? { publicIp: item.PublicIpAddress } : {}),
    ...(item.PrivateIpAddress ? { privateIp: item.PrivateIpAddress } : {}),
    ...(item.SpotInstanceRequestId ? { spotRequestId: item.SpotInstanceRequestId } : {}),
    securityGroupIds: (item.SecurityGroups ?? []).map((group) => group.GroupId ?? '').filter(Boolean),
  });

  return {
    defaultVpcId: () =>
      call('DescribeVpcs', async (send) => {
        const out = await send(new sdk.DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }));
        return out.Vpcs?.[0]?.VpcId;
      }),
    findSubnet: ({ subnetId, vpcId, zone }) =>
      call('DescribeSubnets', async (send) => {
        const filters = [
          ...(subnetId ? [{ Name: 'subnet-id', Values: [subnetId] }] : []),
          ...(vpcId ? [{ Name: 'vpc-id', Values: [vpcId] }] : []),
          ...(zone ? [{ Name: 'availability-zone', Values: [zone] }] : []),
        ];
        const out = await send(new sdk.DescribeSubnetsCommand({ Filters: filters }));
        const subnets = (out.Subnets ?? [])
          .filter((subnet) => subnet.State === undefined || subnet.State === 'available')
          .sort(
            (a, b) =>
              Number(Boolean(b.DefaultForAz)) - Number(Boolean(a.DefaultForAz)) ||
              (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? '') ||
              (a.SubnetId ?? '').localeCompare(b.SubnetId ?? ''),
          );
        const subnet = subnets[0];
        return subnet?.SubnetId
          ? { id: subnet.SubnetId, vpcId: subnet.VpcId ?? '', zone: subnet.AvailabilityZone ?? '' }
          : undefined;
      }),
    latestImage: (owner, namePattern) =>
      call('DescribeImages', async (send) => {
        const out = await send(
          new sdk.DescribeImagesCommand({
            Owners: [owner],
            Filters: [
              { Name: 'name', Values: [namePattern] },
              { Name: 'state', Values: ['available'] },
            ],
          }),
        );
        const images = (out.Images ?? []).sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''));
        return images[0]?.ImageId;
      }),
    imageExists: (imageId) =>
      call('DescribeImages', async (send) => {
        const out = await send(new sdk.DescribeImagesCommand({ Filters: [{ Name: 'image-id', Values: [imageId] }] }));
        return (out.Images ?? []).length > 0;
      }),
    keyPairExists: (name) =>
      call('DescribeKeyPairs', async (send) => {
        const out = await send(new sdk.DescribeKeyPairsCommand({ Filters: [{ Name: 'key-name', Values: [name] }] }));
        return (out.KeyPairs ?? []).length > 0;
      }),
    importKeyPair: (name, publicKey, tags) =>
      call('ImportKeyPair', async (send) => {
        await send(
          new sdk.ImportKeyPairCommand({
            KeyName: name,
            PublicKeyMaterial: new TextEncoder().encode(publicKey),
            TagSpecifications: [tagSpec('key-pair', tags)],
          }),
        );
      }),
    deleteKeyPair: (name) =>
      call('DeleteKeyPair', async (send) => {
        await send(new sdk.DeleteKeyPairCommand({ KeyName: name }));
      }),
    findSecurityGroup: (vpcId, name) =>
      call('DescribeSecurityGroups', async (send) => {
        const out = await send(
          new sdk.DescribeSecurityGroupsCommand({
            Filters: [
              { Name: 'vpc-id', Values: [vpcId] },
              { Name: 'group-name', Values: [name] },
            ],
          }),
        );
        return securityGroupOf(out.SecurityGroups?.[0], name);
      }),
    findSecurityGroupById: (groupId) =>
      call('DescribeSecurityGroups', async (send) => {
        const out = await send(
          new sdk.DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
        );
        return securityGroupOf(out.SecurityGroups?.[0], '');
      }),
    createSecurityGroup: (vpcId, name, description, tags) =>
      call('CreateSecurityGroup', async (send) => {
        const out = await send(
          new sdk.CreateSecurityGroupCommand({
            VpcId: vpcId,
            GroupName: name,
            Description: description,
            TagSpecifications: [tagSpec('security-group', tags)],
          }),
        );
        if (!out.GroupId) throw new Ec2Error('MissingGroupId', 'CreateSecurityGroup', 'the reply had no GroupId');
        return out.GroupId;
      }),
    authorizeIngress: (groupId, rules) =>
      call('AuthorizeSecurityGroupIngress', async (send) => {
        await send(
          new sdk.AuthorizeSecurityGroupIngressCommand({
            GroupId: groupId,
            IpPermissions: rules.map((rule) => ({
              IpProtocol: rule.protocol,
              FromPort: rule.port,
              ToPort: rule.port,
              ...(rule.sourceGroupId
                ? { UserIdGroupPairs: [{ GroupId: rule.sourceGroupId, Description: 'moor swarm' }] }
                : { IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'moor' }] }),
            })),
          }),
        );
      }),
    deleteSecurityGroup: (groupId) =>
      call('DeleteSecurityGroup', async (send) => {
        await send(new sdk.DeleteSecurityGroupCommand({ GroupId: groupId }));
      }),
    runInstance: (params) =>
      call('RunInstances', async (send) => {
        const out = await send(
          new sdk.RunInstancesCommand({
            ImageId: params.imageId,
            InstanceType: params.instanceType as import('@aws-sdk/client-ec2')._InstanceType,
            MinCount: 1,
            MaxCount: 1,
            KeyName: params.keyName,
            ClientToken: params.clientToken,
            NetworkInterfaces: [
              {
                DeviceIndex: 0,
                SubnetId: params.subnetId,
                Groups: params.securityGroupIds,
                AssociatePublicIpAddress: params.associatePublicIp,
                DeleteOnTermination: true,
              },
            ],
            BlockDeviceMappings: [
              {
                DeviceName: '/dev/sda1',
                Ebs: {
                  VolumeSize: params.rootSizeGiB,
                  VolumeType: params.volumeType as import('@aws-sdk/client-ec2').VolumeType,
                  DeleteOnTermination: true,
                  ...(params.encrypted ? { Encrypted: true } : {}),
                  ...(params.kmsKeyId ? { KmsKeyId: params.kmsKeyId } : {}),
                },
              },
            ],
            ...(params.iamInstanceProfile ? { IamInstanceProfile: { Name: params.iamInstanceProfile } } : {}),
            Monitoring: { Enabled: params.monitoring },
            EbsOptimized: params.ebsOptimized,
            ...(params.userData ? { UserData: Buffer.from(params.userData).toString('base64') } : {}),
            MetadataOptions: {
              HttpTokens: params.metadataHttpTokens,
              HttpEndpoint: 'enabled',
              HttpPutResponseHopLimit: params.metadataHopLimit,
            },
            ...(params.spot
              ? {
                  InstanceMarketOptions: {
                    MarketType: 'spot',
                    SpotOptions: {
                      SpotInstanceType: 'persistent',
                      InstanceInterruptionBehavior: 'stop',
                      ...(params.spot.maxPrice ? { MaxPrice: params.spot.maxPrice } : {}),
                    },
                  },
                }
              : {}),
            TagSpecifications: [tagSpec('instance', params.tags), tagSpec('volume', params.tags)],
          }),
        );
        const instance = out.Instances?.[0];
        if (!instance?.InstanceId) throw new Ec2Error('MissingInstanceId', 'RunInstances', 'the reply had no instance');
        return toInstance(instance);
      }),
    findInstanceByClientToken: (token) =>
      call('DescribeInstances', async (send) => {
        const out = await send(
          new sdk.DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: [token] }] }),
        );
        const item = out.Reservations?.flatMap((reservation) => reservation.Instances ?? [])[0];
        return item ? toInstance(item) : undefined;
      }),
    describeInstances: (ids) =>
      call('DescribeInstances', async (send) => {
        if (ids.length === 0) return [];
        const instances: Ec2Instance[] = [];
        let nextToken: string | undefined;
        do {
          const out = await send(
            new sdk.DescribeInstancesCommand({
              Filters: instanceFilter(ids),
              ...(nextToken ? { NextToken: nextToken } : {}),
            }),
          );
          for (const reservation of out.Reservations ?? []) {
            for (const item of reservation.Instances ?? []) instances.push(toInstance(item));
          }
          nextToken = out.NextToken;
        } while (nextToken);
        return instances;
      }),
    startInstance: (id) =>
      call('StartInstances', async (send) => {
        await send(new sdk.StartInstancesCommand({ InstanceIds: [id] }));
      }),
    stopInstance: (id, force) =>
      call('StopInstances', async (send) => {
        await send(new sdk.StopInstancesCommand({ InstanceIds: [id], ...(force ? { Force: true } : {}) }));
      }),
    rebootInstance: (id) =>
      call('RebootInstances', async (send) => {
        await send(new sdk.RebootInstancesCommand({ InstanceIds: [id] }));
      }),
    terminateInstance: (id) =>
      call('TerminateInstances', async (send) => {
        await send(new sdk.TerminateInstancesCommand({ InstanceIds: [id] }));
      }),
    cancelSpotRequest: (id) =>
      call('CancelSpotInstanceRequests', async (send) => {
        await send(new sdk.CancelSpotInstanceRequestsCommand({ SpotInstanceRequestIds: [id] }));
      }),
    waitUntilRunning: async (id, timing) => {
      let last: Ec2Instance | undefined;
      let failure: MoorError | undefined;
      const stop = new AbortController();
      const interrupt = () => stop.abort();
      timing.signal?.addEventListener('abort', interrupt, { once: true });
      // The waiter sees the client through this: it keeps the last instance described (the waiter's
      // time-out result carries none, and moor's message names the state), and ends the wait on an API
      // error (the waiter would retry every error until the time-out; moor fails at once, as for any call).
      const watched = {
        config: client.config,
        send: async (command: import('@aws-sdk/client-ec2').DescribeInstancesCommand) => {
          // Each look is one bounded call; the waiter's own budget bounds the looks.
          try {
            const out = await call('DescribeInstances', (send) => send(command));
            const item = out.Reservations?.[0]?.Instances?.[0];
            if (item) last = toInstance(item);
            return out;
          } catch (error) {
            const moorError = error as MoorError;
            if (!hasAwsCode(moorError, 'InvalidInstanceID.NotFound')) {
              failure = moorError;
              stop.abort();
            }
            // The waiter matches its acceptors on the SDK's own error.
            throw moorError.cause ?? moorError;
          }
        },
      };
      try {
        await sdk.waitUntilInstanceRunning(
          {
            client: watched as unknown as import('@aws-sdk/client-ec2').EC2Client,
            maxWaitTime: timing.timeoutMs / 1000,
            minDelay: timing.minDelayMs / 1000,
            maxDelay: timing.maxDelayMs / 1000,
            abortSignal: stop.signal,
          },
          { Filters: instanceFilter([id]) },
        );
        return { outcome: 'running', instance: last! };
      } catch (error) {
        if (failure) throw failure;
        timing.signal?.throwIfAborted();
        const name = (error as Error).name;
        if (name === 'TimeoutError') return { outcome: 'timeout', ...(last ? { instance: last } : {}) };
        // A failure acceptor matched (the waiter's error is the JSON of its result; `last` is that reply).
        if (last && name !== 'AbortError') return { outcome: 'failed', instance: last };
        throw error;
      } finally {
        timing.signal?.removeEventListener('abort', interrupt);
      }
    },
  };
}

/** A DescribeSecurityGroups item in moor's terms: its world-open rules and its group-sourced rules. */
function securityGroupOf(
  group: import('@aws-sdk/client-ec2').SecurityGroup | undefined,
  name: string,
): Ec2SecurityGroup | undefined {
  if (!group?.GroupId) return undefined;
  const permissions = group.IpPermissions ?? [];
  const ports = (permission: import('@aws-sdk/client-ec2').IpPermission) => ({
    protocol: permission.IpProtocol ?? '',
    fromPort: permission.FromPort ?? -1,
    toPort: permission.ToPort ?? -1,
  });
  return {
    id: group.GroupId,
    name: group.GroupName ?? name,
    managed: (group.Tags ?? []).some((tag) => tag.Key === 'moor:managed' && tag.Value === 'true'),
    openRules: permissions
      .filter((permission) => (permission.IpRanges ?? []).some((range) => range.CidrIp === '0.0.0.0/0'))
      .map(ports),
    groupRules: permissions.flatMap((permission) =>
      (permission.UserIdGroupPairs ?? []).flatMap((pair) =>
        pair.GroupId ? [{ ...ports(permission), groupId: pair.GroupId }] : [],
      ),
    ),
  };
}
