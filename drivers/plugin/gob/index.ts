/**
 * Go's encoding/gob for TypeScript: what Docker Machine's driver plugins speak over net/rpc. No moor
 * imports. Declare Go types with the builders (`gob.struct('rpcdriver.RPCFlags', [['Values',
 * gob.map(gob.string, gob.iface)]])`), encode with one GobEncoder per stream, decode self-described values
 * with one GobDecoder per stream.
 */
export { GobEncoder } from './encoder.js';
export { GobDecoder, decodeAll, type DecoderOptions } from './decoder.js';
export {
  GobError,
  array,
  bool,
  bytes,
  complex,
  float,
  iface,
  int,
  map,
  named,
  pointer,
  slice,
  string,
  struct,
  uint,
  type Complex,
  type DecodedInterface,
  type GobType,
  type GobValue,
  type InterfaceValue,
  type Marshaled,
  type StructType,
} from './types.js';
