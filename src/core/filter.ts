/**
 * `ls --filter key=value`, as in docker-machine: filters with the same key are ORed, different keys ANDed.
 */
import { UsageError } from './errors.js';

export interface FilterableMachine {
  name: string;
  driverName: string;
  state: string;
  /** "key=value" strings (a bare "key" is a label with an empty value). */
  labels: string[];
  /** The name of the swarm the machine is in, or ''. */
  swarm?: string;
}

export interface LabelFilter {
  readonly key: string;
  /** Absent: any label with this key matches. */
  readonly value?: string;
}

export interface ParsedFilters {
  readonly driver: readonly string[];
  readonly state: readonly string[];
  readonly name: readonly RegExp[];
  readonly label: readonly LabelFilter[];
  /** swarm=NAME: the members of the swarm named NAME (the machine it was initialised on). */
  readonly swarm: readonly string[];
}

function filterError(message: string): UsageError {
  return new UsageError(message, ['Example: --filter driver=virtualbox --filter state=Running'], 'INVALID_FILTER');
}

export function parseFilters(specs: string[]): ParsedFilters {
  const driver: string[] = [];
  const state: string[] = [];
  const name: RegExp[] = [];
  const label: LabelFilter[] = [];
  const swarm: string[] = [];
  for (const spec of specs) {
    const equals = spec.indexOf('=');
    if (equals === -1) throw filterError(`Invalid filter "${spec}": use key=value.`);
    const key = spec.slice(0, equals);
    const value = spec.slice(equals + 1);
    switch (key.toLowerCase()) {
      case 'driver':
        driver.push(value);
        break;
      case 'state':
        state.push(value);
        break;
      case 'name':
        name.push(compileGoRegExp(value, spec));
        break;
      case 'label':
        label.push(parseLabelFilter(value, spec));
        break;
      case 'swarm':
        swarm.push(value);
        break;
      default:
        throw filterError(`Unsupported filter key "${key}": use driver, state, name, label or swarm.`);
    }
  }
  return { driver, state, name, label, swarm };
}

function parseLabelFilter(value: string, spec: string): LabelFilter {
  const equals = value.indexOf('=');
  const key = equals === -1 ? value : value.slice(0, equals);
  if (key === '') throw filterError(`Invalid filter "${spec}": use label=key or label=key=value.`);
  return equals === -1 ? { key } : { key, value: value.slice(equals + 1) };
}

/**
 * Go's regexp syntax is close to JavaScript's; translate the two differences people actually type:
 * leading flags such as `(?i)` and named groups written `(?P<name>...)`.
 */
function compileGoRegExp(pattern: string, spec: string): RegExp {
  let source = pattern;
  let flags = '';
  const leadingFlags = /^\(\?([ims]+)\)/.exec(source);
  if (leadingFlags) {
    flags = [...new Set(leadingFlags[1])].join('');
    source = source.slice(leadingFlags[0].length);
  }
  source = source.replace(/\(\?P</g, '(?<');
  try {
    return new RegExp(source, flags);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw filterError(`Invalid filter "${spec}": "${pattern}" is not a valid regular expression (${reason}).`);
  }
}

function sameText(left: string, right: string): boolean {
  return left.toLowerCase() === right.toLowerCase();
}

function parseLabel(label: string): { key: string; value: string } {
  const equals = label.indexOf('=');
  return equals === -1 ? { key: label, value: '' } : { key: label.slice(0, equals), value: label.slice(equals + 1) };
}

export function matchesFilters(machine: FilterableMachine, filters: ParsedFilters): boolean {
  const anyOf = <T>(values: readonly T[], matches: (value: T) => boolean) =>
    values.length === 0 || values.some(matches);
  const labels = machine.labels.map(parseLabel);
  return (
    anyOf(filters.driver, (driver) => sameText(driver, machine.driverName)) &&
    anyOf(filters.state, (state) => sameText(state, machine.state)) &&
    anyOf(filters.name, (pattern) => pattern.test(machine.name)) &&
    anyOf(filters.label, (wanted) =>
      labels.some((label) => label.key === wanted.key && (wanted.value === undefined || label.value === wanted.value)),
    ) &&
    anyOf(filters.swarm, (swarm) => machine.swarm !== undefined && machine.swarm !== '' && swarm === machine.swarm)
  );
}

/** Case-insensitive natural order: runs of digits compare as numbers, so web2 < web10 < Web11. */
export function naturalCompare(a: string, b: string): number {
  return compareText(naturalKey(a), naturalKey(b)) || compareText(a, b);
}

/** `items` in the natural order of their names (each name's key computed once). */
export function naturalSort<T>(items: T[], nameOf: (item: T) => string): T[] {
  return items
    .map((item) => ({ item, name: nameOf(item), key: naturalKey(nameOf(item)) }))
    .sort((a, b) => compareText(a.key, b.key) || compareText(a.name, b.name))
    .map(({ item }) => item);
}

/**
 * naturalCompare's order as a key that plain comparison sorts right: lower case, each run of digits (leading
 * zeros dropped) as "0", its length in four digits and the digits. "0" sorts against any other character as
 * every digit does, and among runs the length decides first. (Sorting `ls` of many machines by comparing
 * characters one by one made V8 compile that loop with its optimizing compiler: 4 MB more memory.)
 */
function naturalKey(text: string): string {
  return text.toLowerCase().replace(/\d+/g, (run) => {
    const digits = run.replace(/^0+(?=\d)/, '');
    return `0${String(digits.length).padStart(4, '0')}${digits}`;
  });
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
