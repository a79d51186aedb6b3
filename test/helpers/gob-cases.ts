/**
 * The cases of test/fixtures/go/gobdump, on moor's side: each case's Go types as gob schemas, the values
 * moor encodes for it, and what moor's decoder must produce from Go's stream of it.
 */
import * as gob from '../../drivers/plugin/gob/index.js';
import { Empty, RequestHeader } from '../../drivers/plugin/rpc.js';

const { string, int, uint } = gob;

export const Response = gob.struct('rpc.Response', [
  ['ServiceMethod', string],
  ['Seq', uint],
  ['Error', string],
]);

const flagFields = [
  ['Name', string],
  ['Usage', string],
  ['EnvVar', string],
] as const;
export const StringFlag = gob.struct('mcnflag.StringFlag', [...flagFields, ['Value', string]], {
  registeredName: '*mcnflag.StringFlag',
});
export const StringSliceFlag = gob.struct('mcnflag.StringSliceFlag', [...flagFields, ['Value', gob.slice(string)]], {
  registeredName: '*mcnflag.StringSliceFlag',
});
export const IntFlag = gob.struct('mcnflag.IntFlag', [...flagFields, ['Value', int]], {
  registeredName: '*mcnflag.IntFlag',
});
export const BoolFlag = gob.struct('mcnflag.BoolFlag', [...flagFields], { registeredName: '*mcnflag.BoolFlag' });
export const FlagSlice = gob.slice(gob.named('mcnflag.Flag', gob.iface));
export const RPCFlags = gob.struct('rpcdriver.RPCFlags', [['Values', gob.map(string, gob.iface)]], {
  registeredName: '*rpcdriver.RPCFlags',
});
export const DriverOptions = gob.named('drivers.DriverOptions', gob.iface);

const Inner = gob.struct('main.Inner', [
  ['Name', string],
  ['N', int],
]);
const Outer = gob.struct('main.Outer', [
  ['A', int],
  ['V', gob.iface],
]);
const Kinds = gob.struct('main.Kinds', [
  ['B', gob.bool],
  ['I', int],
  ['U', uint],
  ['F', gob.float],
  ['S', string],
  ['Bytes', gob.bytes],
  ['Ints', gob.slice(int)],
  ['Arr', gob.array(int, 3)],
  ['M', gob.map(string, int)],
  ['Nested', Inner],
  ['Ptr', gob.pointer(Inner)],
  ['NilPtr', gob.pointer(Inner)],
  ['Any', gob.iface],
  ['NilAny', gob.iface],
  ['Strs', gob.slice(string)],
  ['Zero', int],
  ['C', gob.complex],
  ['Inners', gob.slice(Inner)],
  ['Matrix', gob.slice(gob.slice(string))],
  ['Neg', int],
]);

const utf8 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text));
const MIN_INT64 = -(2n ** 63n);

/** A flag's decoded form: every field present, under its registered name. */
function decodedFlag(type: string, value: Record<string, gob.GobValue>): gob.GobValue {
  return { type, value: { Name: '', Usage: '', EnvVar: '', ...value } };
}
/** A value inside an interface, as decoded. */
const inside = (type: string, value: gob.GobValue): gob.GobValue => ({ type, value });
const request = (ServiceMethod: string, Seq: number) => ({ ServiceMethod, Seq });

export interface GobCase {
  readonly name: string;
  readonly items: readonly (readonly [gob.GobType, unknown])[];
  readonly decoded: readonly gob.GobValue[];
  /** False where Go's output is not deterministic (maps of several entries are sent in random order). */
  readonly byteExact: boolean;
}

const flags = [
  {
    type: StringFlag,
    value: { Name: 'hetzner-api-token', Usage: 'Project-specific API token', EnvVar: 'HETZNER_API_TOKEN' },
  },
  { type: StringSliceFlag, value: { Name: 'hetzner-volumes', Usage: 'Volumes to attach', Value: ['a', 'b'] } },
  { type: IntFlag, value: { Name: 'hetzner-port', Usage: 'SSH port', EnvVar: 'HETZNER_PORT', Value: 22 } },
  { type: BoolFlag, value: { Name: 'hetzner-use-private-network', Usage: 'Use the private network' } },
];

const kindsZero = {
  B: false,
  I: 0,
  U: 0,
  F: 0,
  S: '',
  Bytes: new Uint8Array(0),
  Ints: [],
  Arr: [0, 0, 0],
  M: new Map(),
  Nested: { Name: '', N: 0 },
  Ptr: null,
  NilPtr: null,
  Any: null,
  NilAny: null,
  Strs: [],
  Zero: 0,
  C: { real: 0, imag: 0 },
  Inners: [],
  Matrix: [],
  Neg: 0,
};

export const GOB_CASES: readonly GobCase[] = [
  {
    name: 'request',
    items: [[RequestHeader, request('RPCServerDriver.GetVersion', 7)]],
    decoded: [request('RPCServerDriver.GetVersion', 7)],
    byteExact: true,
  },
  {
    name: 'response-error',
    items: [
      [Response, { ServiceMethod: 'RPCServerDriver.PreCreateCheck', Seq: 300, Error: 'boom' }],
      [Empty, {}],
    ],
    decoded: [{ ServiceMethod: 'RPCServerDriver.PreCreateCheck', Seq: 300, Error: 'boom' }, {}],
    byteExact: true,
  },
  { name: 'empty', items: [[Empty, {}]], decoded: [{}], byteExact: true },
  {
    name: 'bytes',
    items: [[gob.bytes, utf8('{"MachineName":"web"}')]],
    decoded: [utf8('{"MachineName":"web"}')],
    byteExact: true,
  },
  { name: 'int', items: [[int, 42]], decoded: [42], byteExact: true },
  {
    name: 'ints',
    items: [
      ...[0, -1, 127, 128, -129, 256, MIN_INT64, 2n ** 63n - 1n].map((value) => [int, value] as const),
      [uint, 2n ** 64n - 1n],
      [uint, 2 ** 53],
    ],
    decoded: [0, -1, 127, 128, -129, 256, MIN_INT64, 2n ** 63n - 1n, 2n ** 64n - 1n, 2n ** 53n],
    byteExact: true,
  },
  {
    name: 'floats',
    items: [17, -0.5, Infinity, Number.MAX_VALUE, Number.MIN_VALUE].map((value) => [gob.float, value] as const),
    decoded: [17, -0.5, Infinity, Number.MAX_VALUE, Number.MIN_VALUE],
    byteExact: true,
  },
  { name: 'string', items: [[string, 'héllo, wörld']], decoded: ['héllo, wörld'], byteExact: true },
  { name: 'bool', items: [[gob.bool, true]], decoded: [true], byteExact: true },
  { name: 'strings', items: [[gob.slice(string), ['a', '', 'c']]], decoded: [['a', '', 'c']], byteExact: true },
  {
    name: 'rpcflags',
    items: [
      [
        DriverOptions,
        { type: RPCFlags, value: { Values: new Map([['amazonec2-region', { type: string, value: 'eu-west-1' }]]) } },
      ],
    ],
    decoded: [
      inside('*rpcdriver.RPCFlags', { Values: new Map([['amazonec2-region', inside('string', 'eu-west-1')]]) }),
    ],
    byteExact: true,
  },
  {
    name: 'rpcflags-many',
    items: [
      [
        DriverOptions,
        {
          type: RPCFlags,
          value: {
            Values: {
              'hetzner-api-token': { type: string, value: 'secret' },
              'hetzner-volumes': { type: gob.slice(string), value: ['a', 'b'] },
              'hetzner-port': { type: int, value: 2222 },
              'swarm-master': { type: gob.bool, value: true },
              'swarm-discovery': { type: string, value: '' },
            },
          },
        },
      ],
    ],
    decoded: [
      inside('*rpcdriver.RPCFlags', {
        Values: new Map<gob.GobValue, gob.GobValue>([
          ['hetzner-api-token', inside('string', 'secret')],
          ['hetzner-volumes', inside('[]string', ['a', 'b'])],
          ['hetzner-port', inside('int', 2222)],
          ['swarm-master', inside('bool', true)],
          ['swarm-discovery', inside('string', '')],
        ]),
      }),
    ],
    byteExact: false,
  },
  {
    name: 'flags',
    items: [[FlagSlice, flags]],
    decoded: [
      [
        decodedFlag('*mcnflag.StringFlag', { ...flags[0]!.value, Value: '' }),
        decodedFlag('*mcnflag.StringSliceFlag', flags[1]!.value),
        decodedFlag('*mcnflag.IntFlag', flags[2]!.value),
        decodedFlag('*mcnflag.BoolFlag', flags[3]!.value),
      ],
    ],
    byteExact: true,
  },
  {
    name: 'kinds',
    items: [
      [
        Kinds,
        {
          B: true,
          I: -5,
          U: 300,
          F: 17,
          S: 'héllo',
          Bytes: new Uint8Array([0, 1, 255]),
          Ints: [1, -1, 1000],
          Arr: [1, 0, 3],
          M: { one: 1 },
          Nested: { Name: 'n', N: 2 },
          Ptr: { N: -3 },
          Any: { type: Inner, value: { Name: 'inside' } },
          Strs: ['x', ''],
          C: { real: 1.5, imag: -2 },
          Inners: [{}, { Name: 'b' }],
          Matrix: [['a'], null],
          Neg: MIN_INT64,
        },
      ],
    ],
    decoded: [
      {
        ...kindsZero,
        B: true,
        I: -5,
        U: 300,
        F: 17,
        S: 'héllo',
        Bytes: new Uint8Array([0, 1, 255]),
        Ints: [1, -1, 1000],
        Arr: [1, 0, 3],
        M: new Map([['one', 1]]),
        Nested: { Name: 'n', N: 2 },
        Ptr: { Name: '', N: -3 },
        Any: inside('main.Inner', { Name: 'inside', N: 0 }),
        Strs: ['x', ''],
        C: { real: 1.5, imag: -2 },
        Inners: [
          { Name: '', N: 0 },
          { Name: 'b', N: 0 },
        ],
        Matrix: [['a'], []],
        Neg: MIN_INT64,
      },
    ],
    byteExact: true,
  },
  { name: 'kinds-zero', items: [[Kinds, {}]], decoded: [kindsZero], byteExact: true },
  {
    name: 'nested-interface',
    items: [[Outer, { A: 1, V: { type: Outer, value: { A: 2, V: { type: gob.slice(string), value: ['z'] } } } }]],
    decoded: [{ A: 1, V: inside('main.Outer', { A: 2, V: inside('[]string', ['z']) }) }],
    byteExact: true,
  },
  {
    name: 'map-many',
    items: [[gob.map(string, int), { a: 1, b: 2, c: 3 }]],
    decoded: [
      new Map([
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ]),
    ],
    byteExact: false,
  },
  {
    name: 'request-stream',
    items: [
      [RequestHeader, request('RPCServerDriver.GetVersion', 0)],
      [Empty, {}],
      [RequestHeader, request('RPCServerDriver.SetConfigRaw', 1)],
      [gob.bytes, utf8('{}')],
      [RequestHeader, request('RPCServerDriver.SetConfigFromFlags', 2)],
      [DriverOptions, { type: RPCFlags, value: { Values: { 'hetzner-port': { type: int, value: 22 } } } }],
      [RequestHeader, request('RPCServerDriver.Create', 3)],
      [Empty, {}],
    ],
    decoded: [
      request('RPCServerDriver.GetVersion', 0),
      {},
      request('RPCServerDriver.SetConfigRaw', 1),
      utf8('{}'),
      request('RPCServerDriver.SetConfigFromFlags', 2),
      inside('*rpcdriver.RPCFlags', { Values: new Map([['hetzner-port', inside('int', 22)]]) }),
      request('RPCServerDriver.Create', 3),
      {},
    ],
    byteExact: true,
  },
];
