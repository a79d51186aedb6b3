/**
 * `ls --filter key=value`, as in docker-machine: filters with the same key are ORed, different keys ANDed.
 */
import { UsageError } from './errors.js';
import { isDigit } from './values.js';

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
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (isDigit(a[i]) && isDigit(b[j])) {
      const endA = digitRunEnd(a, i);
      const endB = digitRunEnd(b, j);
      const order = compareDigitRuns(a.slice(i, endA), b.slice(j, endB));
      if (order !== 0) return order;
      i = endA;
      j = endB;
      continue;
    }
    const charA = a[i]!.toLowerCase();
    const charB = b[j]!.toLowerCase();
    if (charA !== charB) return charA < charB ? -1 : 1;
    i++;
    j++;
  }
  if (i < a.length) return 1;
  if (j < b.length) return -1;
  // Equal but for case or leading zeros: fall back to plain order so that sorting is deterministic.
  return a < b ? -1 : a > b ? 1 : 0;
}

function digitRunEnd(text: string, start: number): number {
  let end = start;
  while (isDigit(text[end])) end++;
  return end;
}

function compareDigitRuns(left: string, right: string): number {
  const a = left.replace(/^0+(?=\d)/, '');
  const b = right.replace(/^0+(?=\d)/, '');
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
