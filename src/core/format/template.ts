/**
 * The subset of Go's text/template that `ls --format` and `inspect --format` accept, so that format strings
 * written for docker-machine keep working. Supported: `{{.}}`, field chains, `$`, string/number/bool/nil
 * literals, pipes, parentheses, `if`/`else if`/`else`, `range`, `with`, trim markers, comments and the
 * functions in FUNCTIONS. Every parse or evaluation problem is a UsageError whose message starts with
 * "Template error:".
 */
import { UsageError } from '../errors.js';
import { isDigit, isObject } from '../values.js';

export interface CompiledTemplate {
  readonly source: string;
  render(data: unknown): string;
}

export interface TableFormat {
  table: boolean;
  body: string;
}

/** `table` followed by whitespace or the end: the rest is the row template ('' means the default columns). */
export function splitTableFormat(source: string): TableFormat {
  if (!/^table(?:\s|$)/.test(source)) return { table: false, body: source };
  return { table: true, body: source.slice('table'.length).replace(/^\s+/, '') };
}

export function isTableFormat(source: string): boolean {
  return splitTableFormat(source).table;
}

export function compileTemplate(source: string): CompiledTemplate {
  const nodes = new Parser(scanSegments(source)).parseTemplate();
  return {
    source,
    render(data: unknown): string {
      const out: string[] = [];
      executeNodes(nodes, { dot: data, root: data }, out);
      return out.join('');
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Lexing

type Token = (
  | { kind: 'dot' }
  | { kind: 'field'; name: string }
  | { kind: 'variable'; name: string }
  | { kind: 'identifier'; name: string }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'open' }
  | { kind: 'close' }
  | { kind: 'pipe' }
  | { kind: 'comma' }
  | { kind: 'declare' }
) & { spaceBefore: boolean; text: string };

type Segment = { kind: 'text'; text: string } | { kind: 'action'; tokens: Token[]; source: string };

function templateError(message: string): UsageError {
  return new UsageError(
    `Template error: ${message}`,
    ['Format strings use Go template syntax, for example --format "{{.Name}}\\t{{.State}}".'],
    'INVALID_TEMPLATE',
  );
}

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

function isIdentifierStart(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z_]/.test(ch);
}

/** Like the docker CLI: a `\t` or `\n` typed as two characters in the text between actions is a tab or newline. */
function expandTextEscapes(text: string): string {
  return text.replace(/\\([tn])/g, (_match, letter: string) => (letter === 't' ? '\t' : '\n'));
}

function excerpt(source: string, start: number): string {
  const text = source.slice(start);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

function scanSegments(source: string): Segment[] {
  const segments: Segment[] = [];
  let pos = 0;
  let trimLeadingSpace = false;
  for (;;) {
    const open = source.indexOf('{{', pos);
    let text = expandTextEscapes(source.slice(pos, open === -1 ? source.length : open));
    if (trimLeadingSpace) text = text.replace(/^[ \t\r\n]+/, '');
    if (open === -1) {
      if (text) segments.push({ kind: 'text', text });
      return segments;
    }
    let inner = open + 2;
    if (source[inner] === '-' && isSpace(source[inner + 1])) {
      text = text.replace(/[ \t\r\n]+$/, '');
      inner += 2;
    }
    if (text) segments.push({ kind: 'text', text });

    if (source.startsWith('/*', inner)) {
      const close = source.indexOf('*/', inner + 2);
      if (close === -1) throw templateError(`unclosed comment ${excerpt(source, open)}`);
      const after = close + 2;
      if (source.startsWith('}}', after)) {
        trimLeadingSpace = false;
        pos = after + 2;
      } else if (isSpace(source[after]) && source.startsWith('-}}', after + 1)) {
        trimLeadingSpace = true;
        pos = after + 4;
      } else {
        throw templateError(`comment ends before closing delimiter in ${excerpt(source, open)}`);
      }
      continue;
    }

    const action = lexAction(source, open, inner);
    segments.push({ kind: 'action', tokens: action.tokens, source: source.slice(open, action.end) });
    trimLeadingSpace = action.trimRight;
    pos = action.end;
  }
}

const NUMBER = /[+-]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/y;

function lexAction(source: string, open: number, start: number): { tokens: Token[]; end: number; trimRight: boolean } {
  const tokens: Token[] = [];
  let pos = start;
  let spaceBefore = true;
  const push = (token: Token) => {
    tokens.push(token);
    spaceBefore = false;
  };
  for (;;) {
    const ch = source[pos];
    if (ch === undefined) throw templateError(`unclosed action ${excerpt(source, open)} (missing "}}")`);
    if (isSpace(ch)) {
      if (source.startsWith('-}}', pos + 1)) return { tokens, end: pos + 4, trimRight: true };
      pos++;
      spaceBefore = true;
      continue;
    }
    if (source.startsWith('}}', pos)) return { tokens, end: pos + 2, trimRight: false };

    const tokenStart = pos;
    const text = () => source.slice(tokenStart, pos);
    if (ch === '.' && isIdentifierStart(source[pos + 1])) {
      pos = scanIdentifier(source, pos + 1);
      push({ kind: 'field', name: source.slice(tokenStart + 1, pos), spaceBefore, text: text() });
    } else if (startsNumber(ch, source[pos + 1])) {
      NUMBER.lastIndex = pos;
      const match = NUMBER.exec(source);
      const literal = match?.[0] ?? '';
      pos += literal.length;
      const value = parseNumber(literal);
      if (!literal || Number.isNaN(value) || /[\w.]/.test(source[pos] ?? '')) {
        throw templateError(`bad number syntax in ${excerpt(source, open)}`);
      }
      push({ kind: 'number', value, spaceBefore, text: text() });
    } else if (ch === '.') {
      pos++;
      push({ kind: 'dot', spaceBefore, text: '.' });
    } else if (ch === '$') {
      pos = scanIdentifier(source, pos + 1);
      push({ kind: 'variable', name: text(), spaceBefore, text: text() });
    } else if (isIdentifierStart(ch)) {
      pos = scanIdentifier(source, pos);
      push({ kind: 'identifier', name: text(), spaceBefore, text: text() });
    } else if (ch === '"') {
      const literal = scanQuoted(source, pos, open);
      pos = literal.end;
      push({ kind: 'string', value: literal.value, spaceBefore, text: text() });
    } else if (ch === '`') {
      const close = source.indexOf('`', pos + 1);
      if (close === -1) throw templateError(`unterminated raw quoted string in ${excerpt(source, open)}`);
      pos = close + 1;
      push({ kind: 'string', value: source.slice(tokenStart + 1, close), spaceBefore, text: text() });
    } else if (ch === '(' || ch === ')' || ch === '|' || ch === ',') {
      pos++;
      const kind = ch === '(' ? 'open' : ch === ')' ? 'close' : ch === '|' ? 'pipe' : 'comma';
      push({ kind, spaceBefore, text: ch });
    } else if (ch === ':' && source[pos + 1] === '=') {
      pos += 2;
      push({ kind: 'declare', spaceBefore, text: ':=' });
    } else if (ch === '=') {
      pos++;
      push({ kind: 'declare', spaceBefore, text: '=' });
    } else {
      throw templateError(`unexpected character ${JSON.stringify(ch)} in ${excerpt(source, open)}`);
    }
  }
}

function startsNumber(ch: string, next: string | undefined): boolean {
  if (isDigit(ch)) return true;
  if (ch === '.') return isDigit(next);
  return (ch === '-' || ch === '+') && (isDigit(next) || next === '.');
}

function scanIdentifier(source: string, pos: number): number {
  while (pos < source.length && /[A-Za-z0-9_]/.test(source[pos] ?? '')) pos++;
  return pos;
}

function parseNumber(literal: string): number {
  const negative = literal.startsWith('-');
  const unsigned = literal.replace(/^[+-]/, '');
  const value = Number(unsigned);
  return negative ? -value : value;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
};

/** A Go interpreted string literal starting at `start` (the opening quote). */
function scanQuoted(source: string, start: number, open: number): { value: string; end: number } {
  let value = '';
  let pos = start + 1;
  for (;;) {
    const ch = source[pos];
    if (ch === undefined || ch === '\n') throw templateError(`unterminated quoted string in ${excerpt(source, open)}`);
    if (ch === '"') return { value, end: pos + 1 };
    if (ch !== '\\') {
      value += ch;
      pos++;
      continue;
    }
    const escape = source[pos + 1] ?? '';
    const simple = SIMPLE_ESCAPES[escape];
    if (simple !== undefined) {
      value += simple;
      pos += 2;
      continue;
    }
    const hexLength = escape === 'x' ? 2 : escape === 'u' ? 4 : escape === 'U' ? 8 : 0;
    const hex = source.slice(pos + 2, pos + 2 + hexLength);
    const octal = source.slice(pos + 1, pos + 4);
    if (hexLength > 0 && new RegExp(`^[0-9a-fA-F]{${hexLength}}$`).test(hex)) {
      value += String.fromCodePoint(parseInt(hex, 16));
      pos += 2 + hexLength;
    } else if (/^[0-7]{3}$/.test(octal)) {
      value += String.fromCharCode(parseInt(octal, 8));
      pos += 4;
    } else {
      throw templateError(`invalid escape sequence "\\${escape}" in ${excerpt(source, open)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

type Operand =
  | { kind: 'dot' }
  | { kind: 'root' }
  | { kind: 'literal'; value: unknown; text: string }
  | { kind: 'function'; name: string }
  | { kind: 'pipeline'; pipeline: Pipeline }
  | { kind: 'chain'; base: Operand; path: string[] };

interface Command {
  operands: Operand[];
}

interface Pipeline {
  commands: Command[];
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipeline: Pipeline }
  | { kind: 'if' | 'with' | 'range'; pipeline: Pipeline; body: Node[]; elseBody: Node[] };

type ActionSegment = Extract<Segment, { kind: 'action' }>;
type ControlKind = 'if' | 'with' | 'range';

const UNSUPPORTED_KEYWORDS = new Set(['define', 'template', 'block', 'break', 'continue']);

class Parser {
  private index = 0;
  constructor(private readonly segments: Segment[]) {}

  parseTemplate(): Node[] {
    const { nodes, stop } = this.parseList();
    if (stop) throw templateError(`unexpected ${stop.source} (there is no {{if}}, {{range}} or {{with}} to close)`);
    return nodes;
  }

  /** Nodes up to the next `{{end}}` or `{{else}}` at this level (returned as `stop`), or the end of the input. */
  private parseList(): { nodes: Node[]; stop: ActionSegment | undefined } {
    const nodes: Node[] = [];
    while (this.index < this.segments.length) {
      const segment = this.segments[this.index++]!;
      if (segment.kind === 'text') {
        nodes.push({ kind: 'text', text: segment.text });
        continue;
      }
      const keyword = keywordOf(segment.tokens);
      if (keyword === 'end' || keyword === 'else') return { nodes, stop: segment };
      if (keyword === 'if' || keyword === 'with' || keyword === 'range') {
        nodes.push(this.parseControl(keyword, segment, segment.tokens.slice(1)));
      } else if (keyword !== undefined && UNSUPPORTED_KEYWORDS.has(keyword)) {
        throw templateError(`{{${keyword}}} is not supported, in ${segment.source}`);
      } else {
        nodes.push({ kind: 'action', pipeline: parseActionPipeline(segment.tokens, segment) });
      }
    }
    return { nodes, stop: undefined };
  }

  private parseControl(kind: ControlKind, segment: ActionSegment, tokens: Token[]): Node {
    if (tokens.length === 0) throw templateError(`missing value for ${kind} in ${segment.source}`);
    const pipeline = parseActionPipeline(tokens, segment);
    const { nodes: body, stop } = this.parseList();
    if (!stop) throw templateError(`${segment.source} has no matching {{end}}`);
    if (keywordOf(stop.tokens) === 'end') {
      expectBareKeyword(stop);
      return { kind, pipeline, body, elseBody: [] };
    }

    // `{{else if ...}}` (and `{{else with ...}}` inside with) is an if nested in the else branch that shares
    // the outer {{end}}.
    const chained = keywordOf(stop.tokens.slice(1));
    if ((kind === 'if' && chained === 'if') || (kind === 'with' && chained === 'with')) {
      return { kind, pipeline, body, elseBody: [this.parseControl(chained, stop, stop.tokens.slice(2))] };
    }
    expectBareKeyword(stop);
    const { nodes: elseBody, stop: end } = this.parseList();
    if (!end) throw templateError(`${segment.source} has no matching {{end}}`);
    if (keywordOf(end.tokens) !== 'end') throw templateError(`unexpected ${end.source} after {{else}}`);
    expectBareKeyword(end);
    return { kind, pipeline, body, elseBody };
  }
}

function keywordOf(tokens: Token[]): string | undefined {
  const first = tokens[0];
  return first?.kind === 'identifier' ? first.name : undefined;
}

function expectBareKeyword(segment: ActionSegment): void {
  if (segment.tokens.length > 1) throw templateError(`unexpected arguments in ${segment.source}`);
}

function parseActionPipeline(tokens: Token[], segment: ActionSegment): Pipeline {
  if (tokens.length === 0) throw templateError(`empty action ${segment.source}`);
  if (tokens.some((token) => token.kind === 'declare')) {
    throw templateError(`variable declarations are not supported, in ${segment.source}`);
  }
  const cursor = { pos: 0 };
  const pipeline = parsePipeline(tokens, cursor, segment);
  const rest = tokens[cursor.pos];
  if (rest) throw templateError(`unexpected "${rest.text}" in ${segment.source}`);
  return pipeline;
}

function parsePipeline(tokens: Token[], cursor: { pos: number }, segment: ActionSegment): Pipeline {
  const commands: Command[] = [];
  for (;;) {
    const operands: Operand[] = [];
    for (let token = tokens[cursor.pos]; token && token.kind !== 'pipe' && token.kind !== 'close';) {
      operands.push(parseOperand(tokens, cursor, segment));
      token = tokens[cursor.pos];
    }
    if (operands.length === 0) throw templateError(`missing value for command in ${segment.source}`);
    commands.push({ operands });
    if (tokens[cursor.pos]?.kind !== 'pipe') return { commands };
    cursor.pos++;
  }
}

function parseOperand(tokens: Token[], cursor: { pos: number }, segment: ActionSegment): Operand {
  const token = tokens[cursor.pos++]!;
  let operand: Operand;
  switch (token.kind) {
    case 'dot':
      operand = { kind: 'dot' };
      break;
    case 'field':
      operand = { kind: 'chain', base: { kind: 'dot' }, path: [token.name] };
      break;
    case 'variable':
      if (token.name !== '$') {
        throw templateError(`variables other than $ are not supported (${token.name}), in ${segment.source}`);
      }
      operand = { kind: 'root' };
      break;
    case 'identifier':
      operand = identifierOperand(token.name, segment);
      break;
    case 'string':
    case 'number':
      operand = { kind: 'literal', value: token.value, text: token.text };
      break;
    case 'open': {
      const pipeline = parsePipeline(tokens, cursor, segment);
      if (tokens[cursor.pos]?.kind !== 'close') throw templateError(`unclosed "(" in ${segment.source}`);
      cursor.pos++;
      operand = { kind: 'pipeline', pipeline };
      break;
    }
    default:
      throw templateError(`unexpected "${token.text}" in ${segment.source}`);
  }

  const path: string[] = [];
  for (let next = tokens[cursor.pos]; next?.kind === 'field' && !next.spaceBefore; next = tokens[cursor.pos]) {
    path.push(next.name);
    cursor.pos++;
  }
  if (path.length > 0) {
    if (operand.kind === 'literal' || operand.kind === 'function') {
      throw templateError(`unexpected ".${path[0]}" after a constant or function in ${segment.source}`);
    }
    operand =
      operand.kind === 'chain'
        ? { ...operand, path: [...operand.path, ...path] }
        : { kind: 'chain', base: operand, path };
  }

  const next = tokens[cursor.pos];
  if (next && !next.spaceBefore && next.kind !== 'pipe' && next.kind !== 'close') {
    throw templateError(`unexpected "${next.text}" in ${segment.source} (separate arguments with spaces)`);
  }
  return operand;
}

function identifierOperand(name: string, segment: ActionSegment): Operand {
  if (name === 'true' || name === 'false') return { kind: 'literal', value: name === 'true', text: name };
  if (name === 'nil') return { kind: 'literal', value: null, text: name };
  if (Object.hasOwn(FUNCTIONS, name)) return { kind: 'function', name };
  if (['if', 'else', 'end', 'range', 'with'].includes(name) || UNSUPPORTED_KEYWORDS.has(name)) {
    throw templateError(`unexpected "${name}" in ${segment.source}`);
  }
  throw templateError(
    `function "${name}" is not defined, in ${segment.source} (available: ${Object.keys(FUNCTIONS).sort().join(', ')})`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

interface Scope {
  dot: unknown;
  root: unknown;
}

function executeNodes(nodes: Node[], scope: Scope, out: string[]): void {
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        out.push(node.text);
        break;
      case 'action':
        out.push(printValue(evalPipeline(node.pipeline, scope), false));
        break;
      case 'if': {
        const value = evalPipeline(node.pipeline, scope);
        executeNodes(isTrue(value) ? node.body : node.elseBody, scope, out);
        break;
      }
      case 'with': {
        const value = evalPipeline(node.pipeline, scope);
        if (isTrue(value)) executeNodes(node.body, { ...scope, dot: value }, out);
        else executeNodes(node.elseBody, scope, out);
        break;
      }
      case 'range': {
        const items = rangeItems(evalPipeline(node.pipeline, scope));
        if (items.length === 0) executeNodes(node.elseBody, scope, out);
        for (const item of items) executeNodes(node.body, { ...scope, dot: item }, out);
        break;
      }
    }
  }
}

function evalPipeline(pipeline: Pipeline, scope: Scope): unknown {
  let piped: { value: unknown } | undefined;
  for (const command of pipeline.commands) {
    piped = { value: evalCommand(command, scope, piped) };
  }
  return piped?.value;
}

/** `piped` is the value of the previous command in the pipeline, passed as the last argument. */
function evalCommand(command: Command, scope: Scope, piped: { value: unknown } | undefined): unknown {
  const first = command.operands[0]!;
  const args = command.operands.slice(1);
  if (first.kind === 'function') return callFunction(first.name, args, scope, piped);
  if (args.length > 0 || piped) {
    throw templateError(`${describeOperand(first)} is not a function, so it cannot take arguments`);
  }
  return evalOperand(first, scope);
}

function evalOperand(operand: Operand, scope: Scope): unknown {
  switch (operand.kind) {
    case 'dot':
      return scope.dot;
    case 'root':
      return scope.root;
    case 'literal':
      return operand.value;
    case 'function':
      return callFunction(operand.name, [], scope, undefined);
    case 'pipeline':
      return evalPipeline(operand.pipeline, scope);
    case 'chain':
      return operand.path.reduce<unknown>((value, name) => getField(value, name), evalOperand(operand.base, scope));
  }
}

function describeOperand(operand: Operand): string {
  switch (operand.kind) {
    case 'dot':
      return '"."';
    case 'root':
      return '"$"';
    case 'literal':
      return operand.text;
    case 'function':
      return operand.name;
    case 'pipeline':
      return 'a parenthesized pipeline';
    case 'chain':
      return `".${operand.path.join('.')}"`;
  }
}

function hasField(object: object, name: string): boolean {
  for (let current: object | null = object; current && current !== Object.prototype;) {
    if (Object.hasOwn(current, name)) return true;
    current = Object.getPrototypeOf(current) as object | null;
  }
  return false;
}

function getField(value: unknown, name: string): unknown {
  if (value === null || value === undefined) return undefined;
  if (!isObject(value)) {
    throw templateError(`cannot read field "${name}" of ${describeValue(value)}: only objects have fields`);
  }
  if (!hasField(value, name)) {
    const known = Object.keys(value);
    const hint = known.length > 0 ? `known fields: ${known.join(', ')}` : 'the object has no fields';
    throw templateError(`field "${name}" does not exist (${hint})`);
  }
  const field = value[name];
  // A method is called, as Go calls a method named in a field chain.
  return typeof field === 'function' ? (field as () => unknown).call(value) : field;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (Array.isArray(value)) return `a list (${printValue(value, false)})`;
  if (typeof value === 'string') return `a string (${JSON.stringify(value)})`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value} (${printValue(value, false)})`;
}

function rangeItems(value: unknown): unknown[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) {
    return Array.from({ length: value }, (_, index) => index);
  }
  if (isObject(value)) {
    return Object.keys(value)
      .sort()
      .map((key) => value[key]);
  }
  throw templateError(`range cannot iterate over ${describeValue(value)}`);
}

/** Go's truth: false, 0, nil and empty strings, lists and maps are false. */
function isTrue(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'number':
      return value !== 0;
    case 'bigint':
      return value !== 0n;
    case 'string':
      return value.length > 0;
    case 'object':
      if (Array.isArray(value)) return value.length > 0;
      if (value instanceof Date) return true;
      return Object.keys(value).length > 0;
    default:
      return true;
  }
}

/** How Go prints a value: `nested` is true inside lists and maps, where nil prints as `<nil>`. */
function printValue(value: unknown, nested: boolean): string {
  if (value === null || value === undefined) return nested ? '<nil>' : '<no value>';
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return formatNumber(value);
    case 'bigint':
    case 'boolean':
      return String(value);
    case 'function':
      return '<func>';
    case 'symbol':
      return value.toString();
  }
  if (Array.isArray(value)) return `[${value.map((item: unknown) => printValue(item, true)).join(' ')}]`;
  if (value instanceof Date) return value.toISOString();
  const object = value as Record<string, unknown>;
  const entries = Object.keys(object)
    .sort()
    .map((key) => `${key}:${printValue(object[key], true)}`);
  return `map[${entries.join(' ')}]`;
}

/** Integers print in full, like Go ints; other numbers like Go's %v for float64 (`1.5`, `1e-05`, `1.2345675e+06`). */
function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isInteger(value)) return String(value);
  const [mantissa = '', exponentText = '0'] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  if (exponent >= -4 && exponent < 6) return String(value);
  const digits = String(Math.abs(exponent)).padStart(2, '0');
  return `${mantissa}e${exponent < 0 ? '-' : '+'}${digits}`;
}

/** Like Go's json.Marshal, which escapes <, > and & (and U+2028/U+2029) inside strings. */
function goJson(value: unknown, indent: number | undefined): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? Number(item) : item), indent);
  } catch (error) {
    throw templateError(`cannot encode the value as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return (text ?? 'null').replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function textOf(value: unknown): string {
  return value === null || value === undefined ? '' : printValue(value, false);
}

interface TemplateFunction {
  minArgs: number;
  maxArgs: number;
  call(args: unknown[]): unknown;
}

function indexValue(collection: unknown, key: unknown): unknown {
  if (collection === null || collection === undefined) return undefined;
  if (Array.isArray(collection) || typeof collection === 'string') {
    if (typeof key !== 'number' || !Number.isInteger(key)) {
      throw templateError(`cannot index a list or string with ${JSON.stringify(key) ?? String(key)}: use an integer`);
    }
    const items = typeof collection === 'string' ? [...Buffer.from(collection)] : collection;
    if (key < 0 || key >= items.length) throw templateError(`index out of range: ${key}`);
    return items[key];
  }
  if (isObject(collection)) {
    if (typeof key !== 'string') throw templateError(`cannot index an object with ${String(key)}: use a string key`);
    return Object.hasOwn(collection, key) ? collection[key] : undefined;
  }
  throw templateError(`cannot index ${describeValue(collection)}`);
}

function isEqual(left: unknown, right: unknown): boolean {
  if ((left === null || left === undefined) && (right === null || right === undefined)) return true;
  return left === right;
}

const FUNCTIONS: Record<string, TemplateFunction> = {
  json: { minArgs: 1, maxArgs: 1, call: ([value]) => goJson(value, undefined) },
  prettyjson: { minArgs: 1, maxArgs: 1, call: ([value]) => goJson(value, 4) },
  upper: { minArgs: 1, maxArgs: 1, call: ([value]) => textOf(value).toUpperCase() },
  lower: { minArgs: 1, maxArgs: 1, call: ([value]) => textOf(value).toLowerCase() },
  join: {
    minArgs: 2,
    maxArgs: 2,
    call: ([list, separator]) => {
      if (typeof separator !== 'string') throw templateError('join needs a string separator, as in {{join .List ","}}');
      if (list === null || list === undefined) return '';
      if (!Array.isArray(list)) throw templateError(`join needs a list, not ${describeValue(list)}`);
      return list.map((item: unknown) => printValue(item, true)).join(separator);
    },
  },
  index: {
    minArgs: 1,
    maxArgs: Infinity,
    call: ([collection, ...keys]) => keys.reduce<unknown>((value, key) => indexValue(value, key), collection),
  },
  len: {
    minArgs: 1,
    maxArgs: 1,
    call: ([value]) => {
      if (value === null || value === undefined) return 0;
      if (typeof value === 'string') return Buffer.byteLength(value);
      if (Array.isArray(value)) return value.length;
      if (isObject(value)) return Object.keys(value).length;
      throw templateError(`len of ${describeValue(value)}`);
    },
  },
  not: { minArgs: 1, maxArgs: 1, call: ([value]) => !isTrue(value) },
  eq: {
    minArgs: 2,
    maxArgs: Infinity,
    call: ([first, ...others]) => others.some((other) => isEqual(first, other)),
  },
  ne: { minArgs: 2, maxArgs: 2, call: ([left, right]) => !isEqual(left, right) },
  // `and` and `or` are evaluated lazily in callFunction; these bodies only fix the arity.
  and: { minArgs: 1, maxArgs: Infinity, call: () => undefined },
  or: { minArgs: 1, maxArgs: Infinity, call: () => undefined },
};

function callFunction(
  name: string,
  argOperands: Operand[],
  scope: Scope,
  piped: { value: unknown } | undefined,
): unknown {
  const fn = FUNCTIONS[name]!;
  const thunks = argOperands.map((operand) => () => evalOperand(operand, scope));
  if (piped) thunks.push(() => piped.value);
  if (thunks.length < fn.minArgs || thunks.length > fn.maxArgs) {
    const expected = fn.minArgs === fn.maxArgs ? `${fn.minArgs}` : `at least ${fn.minArgs}`;
    throw templateError(`wrong number of arguments for ${name}: want ${expected}, got ${thunks.length}`);
  }
  if (name === 'and' || name === 'or') {
    // Like Go: the first argument that decides the result (falsy for and, truthy for or), else the last one.
    let value: unknown;
    for (const thunk of thunks) {
      value = thunk();
      if (isTrue(value) === (name === 'or')) return value;
    }
    return value;
  }
  return fn.call(thunks.map((thunk) => thunk()));
}
