/**
 * Go types as data, for the encoder: what a Go program would declare, reduced to what gob puts on the
 * wire (kinds, field names, and the Go spellings gob uses as type names). Pointers are transparent in
 * gob; they only matter for zero values (a nil pointer field is omitted, a struct field never is).
 */

/** Every error this module throws: malformed or truncated input, a value that does not fit its type. */
export class GobError extends Error {
  override name = 'GobError';
}

interface Named {
  /** Go's reflect Name(): "" for unnamed types such as []string. */
  readonly goName: string;
  /** Go's reflect String(): "[]string", "map[string]interface {}", "mcnflag.StringFlag". */
  readonly goString: string;
}

export type BasicKind = 'bool' | 'int' | 'uint' | 'float' | 'complex' | 'string' | 'bytes' | 'interface';

export interface BasicType extends Named {
  readonly kind: BasicKind;
}
export interface PointerType extends Named {
  readonly kind: 'pointer';
  readonly elem: GobType;
}
export interface SliceType extends Named {
  readonly kind: 'slice';
  readonly elem: GobType;
}
export interface ArrayType extends Named {
  readonly kind: 'array';
  readonly elem: GobType;
  readonly length: number;
}
export interface MapType extends Named {
  readonly kind: 'map';
  readonly key: GobType;
  readonly elem: GobType;
}
export interface StructField {
  readonly name: string;
  readonly type: GobType;
}
export interface StructType extends Named {
  readonly kind: 'struct';
  readonly fields: readonly StructField[];
  /** The name gob.Register gave this type, sent when a value of it sits in an interface. */
  readonly registeredName: string;
}

export type GobType = BasicType | PointerType | SliceType | ArrayType | MapType | StructType;

/**
 * A value to encode into an interface: its concrete type, the value, and the name the Go side registered
 * the type under (default: the type's registered name, which for unnamed and basic types is Go's own
 * spelling, as gob.Register uses: "string", "[]string", "int", "bool").
 */
export interface InterfaceValue {
  readonly type: GobType;
  readonly value: unknown;
  readonly name?: string;
}

/** An interface value as decoded: the registered name of the concrete type and its value. */
export interface DecodedInterface {
  readonly type: string;
  readonly value: GobValue;
}

/** A complex number (Go's complex64/complex128). */
export interface Complex {
  readonly real: number;
  readonly imag: number;
}

/** A value of a type with its own encoding (GobEncoder, BinaryMarshaler, TextMarshaler): its raw bytes. */
export interface Marshaled {
  readonly marshaler: 'GobEncoder' | 'BinaryMarshaler' | 'TextMarshaler';
  readonly typeName: string;
  readonly data: Uint8Array;
}

/**
 * What the decoder produces: structs as objects (every field present, zero values filled in, a struct
 * field that was a nil pointer as null), maps as Map, interfaces as { type, value } (nil: null), ints as
 * number when safe and bigint otherwise, []byte as Uint8Array.
 */
export type GobValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Complex
  | Marshaled
  | DecodedInterface
  | GobValue[]
  | Map<GobValue, GobValue>
  | { [field: string]: GobValue };

/** The ids every gob stream knows without a definition. */
export const BuiltinId = {
  bool: 1,
  int: 2,
  uint: 3,
  float: 4,
  bytes: 5,
  string: 6,
  complex: 7,
  interface: 8,
  wireType: 16,
  arrayType: 17,
  commonType: 18,
  sliceType: 19,
  structType: 20,
  fieldType: 21,
  fieldTypeSlice: 22,
  mapType: 23,
  gobEncoderType: 24,
} as const;

/** The longest name an interface value may carry (Go's decoder refuses longer ones). */
export const MAX_NAME_LENGTH = 1024;

/** The first id gob assigns to a user type (Go's firstUserId + 1). */
export const FIRST_USER_ID = 65;

function basic(kind: BasicKind, goString: string): BasicType {
  return { kind, goName: goString, goString };
}

export const bool = basic('bool', 'bool');
export const int = basic('int', 'int');
export const uint = basic('uint', 'uint');
export const float = basic('float', 'float64');
export const complex = basic('complex', 'complex128');
export const string = basic('string', 'string');
/** []byte: gob's own basic type, not a slice of uints. */
export const bytes: BasicType = { kind: 'bytes', goName: '', goString: '[]uint8' };
/** interface{}; for a named interface type use named('pkg.Name', iface). */
export const iface: BasicType = { kind: 'interface', goName: '', goString: 'interface {}' };

export function pointer(elem: GobType): PointerType {
  return { kind: 'pointer', elem, goName: '', goString: `*${elem.goString}` };
}

export function slice(elem: GobType): SliceType {
  return { kind: 'slice', elem, goName: '', goString: `[]${elem.goString}` };
}

export function array(elem: GobType, length: number): ArrayType {
  if (!Number.isSafeInteger(length) || length < 0) throw new GobError(`invalid array length ${length}`);
  return { kind: 'array', elem, length, goName: '', goString: `[${length}]${elem.goString}` };
}

export function map(key: GobType, elem: GobType): MapType {
  return { kind: 'map', key, elem, goName: '', goString: `map[${key.goString}]${elem.goString}` };
}

/** The short name gob uses for a type ("pkg.Name" -> "Name"; an anonymous "struct {...}" has none). */
function shortName(qualified: string): string {
  return qualified.startsWith('struct {') ? '' : qualified.slice(qualified.lastIndexOf('.') + 1);
}

/**
 * A struct type. `qualifiedName` is Go's "package.Name" (as in "mcnflag.StringFlag"); gob sends the part
 * after the dot as the type's name. An anonymous struct is spelled as Go prints it ("struct {}"). `registeredName` is what gob.Register recorded (libmachine registers
 * pointers, so "*mcnflag.StringFlag"); it defaults to the qualified name.
 */
export function struct(
  qualifiedName: string,
  fields: readonly (readonly [name: string, type: GobType])[],
  options: { registeredName?: string } = {},
): StructType {
  const seen = new Set<string>();
  for (const [name] of fields) {
    if (!/^\p{Lu}/u.test(name))
      throw new GobError(`struct ${qualifiedName}: field ${JSON.stringify(name)} is not exported`);
    if (seen.has(name)) throw new GobError(`struct ${qualifiedName}: duplicate field ${name}`);
    seen.add(name);
  }
  return {
    kind: 'struct',
    fields: fields.map(([name, type]) => ({ name, type })),
    goName: shortName(qualifiedName),
    goString: qualifiedName,
    registeredName: options.registeredName ?? qualifiedName,
  };
}

/** A named Go type over another one, as `type State int` or `type Flag interface{...}` in package "pkg". */
export function named<T extends GobType>(qualifiedName: string, type: T): T {
  if (type.kind === 'struct' || type.kind === 'pointer') throw new GobError('named() is for non-struct types');
  return { ...type, goName: shortName(qualifiedName), goString: qualifiedName };
}

/** The type under any number of pointers. */
export function base(type: GobType): Exclude<GobType, PointerType> {
  let current = type;
  while (current.kind === 'pointer') current = current.elem;
  return current;
}

/** The name a value of this type carries inside an interface, as gob.Register would record it. */
export function registeredNameOf(type: GobType): string {
  const resolved = base(type);
  return resolved.kind === 'struct' ? resolved.registeredName : type.goString;
}

/** Gob's own description types (ids 16-24), used to send and read type definitions. */
const commonType = struct('gob.CommonType', [
  ['Name', string],
  ['Id', int],
]);
const fieldType = struct('gob.fieldType', [
  ['Name', string],
  ['Id', int],
]);
const gobEncoderType = struct('gob.gobEncoderType', [['CommonType', commonType]]);
export const bootstrap = {
  wireType: struct('gob.wireType', [
    [
      'ArrayT',
      pointer(
        struct('gob.arrayType', [
          ['CommonType', commonType],
          ['Elem', int],
          ['Len', int],
        ]),
      ),
    ],
    [
      'SliceT',
      pointer(
        struct('gob.sliceType', [
          ['CommonType', commonType],
          ['Elem', int],
        ]),
      ),
    ],
    [
      'StructT',
      pointer(
        struct('gob.structType', [
          ['CommonType', commonType],
          ['Field', slice(pointer(fieldType))],
        ]),
      ),
    ],
    [
      'MapT',
      pointer(
        struct('gob.mapType', [
          ['CommonType', commonType],
          ['Key', int],
          ['Elem', int],
        ]),
      ),
    ],
    ['GobEncoderT', pointer(gobEncoderType)],
    ['BinaryMarshalerT', pointer(gobEncoderType)],
    ['TextMarshalerT', pointer(gobEncoderType)],
  ]),
  commonType,
  fieldType,
  gobEncoderType,
};

/** The id of a basic type, or undefined for the composite ones a stream must define. */
export function builtinIdOf(type: Exclude<GobType, PointerType>): number | undefined {
  switch (type.kind) {
    case 'bool':
    case 'int':
    case 'uint':
    case 'float':
    case 'complex':
    case 'string':
    case 'bytes':
    case 'interface':
      return BuiltinId[type.kind];
    default:
      return undefined;
  }
}

/** A type definition as it travels (gob's wireType), already resolved to one variant. */
export type WireType =
  | { readonly kind: 'array'; readonly name: string; readonly elem: number; readonly length: number }
  | { readonly kind: 'slice'; readonly name: string; readonly elem: number }
  | { readonly kind: 'struct'; readonly name: string; readonly fields: readonly { name: string; id: number }[] }
  | { readonly kind: 'map'; readonly name: string; readonly key: number; readonly elem: number }
  | { readonly kind: 'marshaler'; readonly name: string; readonly marshaler: Marshaled['marshaler'] };
