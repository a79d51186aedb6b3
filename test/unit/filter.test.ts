import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ExitCode, UsageError } from '../../src/core/errors.js';
import {
  type FilterableMachine,
  matchesFilters,
  naturalCompare,
  naturalSort,
  parseFilters,
} from '../../src/core/filter.js';

const machines: FilterableMachine[] = [
  { name: 'web1', driverName: 'virtualbox', state: 'Running', labels: ['env=prod', 'team=core'] },
  { name: 'web2', driverName: 'virtualbox', state: 'Stopped', labels: ['env=staging'] },
  { name: 'db', driverName: 'amazonec2', state: 'Running', labels: ['env=prod', 'gpu'] },
  { name: 'cache', driverName: 'generic', state: 'Error', labels: [] },
];

function select(...specs: string[]): string[] {
  const filters = parseFilters(specs);
  return machines.filter((machine) => matchesFilters(machine, filters)).map((machine) => machine.name);
}

function assertFilterError(specs: string[], message: RegExp | string): void {
  assert.throws(
    () => parseFilters(specs),
    (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.exitCode, ExitCode.usage);
      if (typeof message === 'string') assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    },
  );
}

describe('parseFilters', () => {
  it('groups values by key', () => {
    const filters = parseFilters([
      'driver=virtualbox',
      'state=Running',
      'driver=generic',
      'label=env=prod',
      'label=gpu',
    ]);
    assert.deepEqual(filters.driver, ['virtualbox', 'generic']);
    assert.deepEqual(filters.state, ['Running']);
    assert.deepEqual(filters.name, []);
    assert.deepEqual(filters.label, [{ key: 'env', value: 'prod' }, { key: 'gpu' }]);
  });

  it('keeps everything after the first = as the value', () => {
    assert.deepEqual(parseFilters(['label=url=http://x/?a=b']).label, [{ key: 'url', value: 'http://x/?a=b' }]);
    assert.deepEqual(parseFilters(['label=k=']).label, [{ key: 'k', value: '' }]);
  });

  it('accepts keys in any case', () => {
    assert.deepEqual(parseFilters(['DRIVER=none']).driver, ['none']);
  });

  it('compiles name filters as regular expressions', () => {
    const [pattern] = parseFilters(['name=^web[0-9]+$']).name;
    assert.ok(pattern instanceof RegExp);
    assert.equal(pattern.test('web12'), true);
    assert.equal(pattern.test('aweb1'), false);
  });

  it('rejects unknown keys', () => {
    assertFilterError(['discovery=x'], 'Unsupported filter key "discovery": use driver, state, name, label or swarm.');
    assertFilterError(['=x'], 'Unsupported filter key "": use driver, state, name, label or swarm.');
  });

  it('swarm=NAME keeps the members of the swarm named NAME', () => {
    const filters = parseFilters(['swarm=alpha']);
    const machine = { name: 'w1', driverName: 'generic', state: 'Running', labels: [] };
    assert.equal(matchesFilters({ ...machine, swarm: 'alpha' }, filters), true);
    assert.equal(matchesFilters({ ...machine, swarm: 'beta' }, filters), false);
    assert.equal(matchesFilters({ ...machine, swarm: '' }, filters), false);
    assert.equal(matchesFilters(machine, filters), false);
  });

  it('rejects filters without =', () => {
    assertFilterError(['driver'], 'Invalid filter "driver": use key=value.');
  });

  it('rejects invalid regular expressions, naming them', () => {
    assertFilterError(
      ['name=web[0-9'],
      /^Invalid filter "name=web\[0-9": "web\[0-9" is not a valid regular expression/,
    );
    assertFilterError(['name=(?U)x'], /"\(\?U\)x" is not a valid regular expression/);
  });

  it('rejects label filters without a key', () => {
    assertFilterError(['label='], /Invalid filter "label=": use label=key or label=key=value\./);
    assertFilterError(['label==v'], /Invalid filter "label==v"/);
  });
});

describe('matchesFilters', () => {
  it('matches everything without filters', () => {
    assert.deepEqual(select(), ['web1', 'web2', 'db', 'cache']);
  });

  it('matches driver and state case-insensitively', () => {
    assert.deepEqual(select('driver=VirtualBox'), ['web1', 'web2']);
    assert.deepEqual(select('state=running'), ['web1', 'db']);
    assert.deepEqual(select('state=ERROR'), ['cache']);
    assert.deepEqual(select('driver=virtual'), []);
  });

  it('matches names as unanchored regular expressions', () => {
    assert.deepEqual(select('name=web'), ['web1', 'web2']);
    assert.deepEqual(select('name=^d'), ['db']);
    assert.deepEqual(select('name=a'), ['cache']);
    assert.deepEqual(select('name=2$'), ['web2']);
    assert.deepEqual(select('name=WEB'), []);
  });

  it('understands Go inline flags and named groups in name filters', () => {
    assert.deepEqual(select('name=(?i)WEB'), ['web1', 'web2']);
    assert.deepEqual(select('name=^(?P<kind>web)1$'), ['web1']);
  });

  it('matches labels by key=value exactly, or by key alone', () => {
    assert.deepEqual(select('label=env=prod'), ['web1', 'db']);
    assert.deepEqual(select('label=env'), ['web1', 'web2', 'db']);
    assert.deepEqual(select('label=gpu'), ['db']);
    assert.deepEqual(select('label=env=Prod'), []);
    assert.deepEqual(select('label=env=pro'), []);
    assert.deepEqual(select('label=team=core'), ['web1']);
  });

  it('matches a bare label on the machine as a label with an empty value', () => {
    assert.deepEqual(select('label=gpu='), ['db']);
  });

  it('ORs values of the same key', () => {
    assert.deepEqual(select('driver=generic', 'driver=amazonec2'), ['db', 'cache']);
    assert.deepEqual(select('state=Stopped', 'state=Error'), ['web2', 'cache']);
    assert.deepEqual(select('name=^db$', 'name=^cache$'), ['db', 'cache']);
    assert.deepEqual(select('label=team', 'label=env=staging'), ['web1', 'web2']);
  });

  it('ANDs different keys', () => {
    assert.deepEqual(select('driver=virtualbox', 'state=Running'), ['web1']);
    assert.deepEqual(select('label=env=prod', 'state=running', 'name=^d'), ['db']);
    assert.deepEqual(select('driver=virtualbox', 'label=gpu'), []);
  });

  it('combines OR within a key and AND across keys', () => {
    assert.deepEqual(select('driver=virtualbox', 'driver=amazonec2', 'state=Running'), ['web1', 'db']);
    assert.deepEqual(select('state=Running', 'state=Stopped', 'label=env=staging', 'label=team'), ['web1', 'web2']);
  });
});

describe('naturalCompare', () => {
  it('orders digit runs by value, ignoring case', () => {
    assert.ok(naturalCompare('web2', 'web10') < 0);
    assert.ok(naturalCompare('web10', 'Web11') < 0);
    assert.ok(naturalCompare('Web11', 'web2') > 0);
    assert.equal(naturalCompare('web', 'web'), 0);
  });

  it('sorts a list of machine names naturally', () => {
    const names = ['web10', 'db', 'Web11', 'web2', 'web1', 'cache-b', 'Cache-a', 'web'];
    assert.deepEqual([...names].sort(naturalCompare), [
      'Cache-a',
      'cache-b',
      'db',
      'web',
      'web1',
      'web2',
      'web10',
      'Web11',
    ]);
  });

  it('compares long digit runs without losing precision', () => {
    assert.ok(naturalCompare('n99999999999999999999', 'n100000000000000000000') < 0);
    assert.ok(naturalCompare('n100000000000000000001', 'n100000000000000000000') > 0);
  });

  it('puts a prefix first', () => {
    assert.ok(naturalCompare('web', 'web1') < 0);
    assert.ok(naturalCompare('a1b', 'a1') > 0);
  });

  it('breaks ties deterministically for names equal but for case or leading zeros', () => {
    assert.ok(naturalCompare('Web', 'web') < 0);
    assert.ok(naturalCompare('web', 'Web') > 0);
    assert.ok(naturalCompare('web01', 'web1') < 0);
    assert.ok(naturalCompare('web1', 'web01') > 0);
  });

  it('agrees with a character-by-character comparison on every pair of many generated names', () => {
    /** The definition: digit runs by value (then leading zeros), other characters lower-cased, then plain order. */
    function byCharacters(a: string, b: string): number {
      const runs = (text: string) => text.toLowerCase().match(/\d+|\D/g) ?? [];
      const left = runs(a);
      const right = runs(b);
      for (let index = 0; index < Math.min(left.length, right.length); index++) {
        const [x, y] = [left[index]!, right[index]!];
        if (/\d/.test(x[0]!) && /\d/.test(y[0]!)) {
          const [p, q] = [BigInt(x), BigInt(y)];
          if (p !== q) return p < q ? -1 : 1;
        } else if (x !== y) return x < y ? -1 : 1;
      }
      if (left.length !== right.length) return left.length < right.length ? -1 : 1;
      return a < b ? -1 : a > b ? 1 : 0;
    }
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const alphabet = ['a', 'B', 'b', '0', '1', '9', '-', '.'];
    const names = Array.from({ length: 300 }, () =>
      Array.from({ length: 1 + random(7) }, () => alphabet[random(alphabet.length)]).join(''),
    );
    for (const a of names) {
      for (const b of names) assert.equal(Math.sign(naturalCompare(a, b)), byCharacters(a, b), `${a} vs ${b}`);
    }
    assert.deepEqual(
      naturalSort(names, (name) => name),
      [...names].sort(byCharacters),
    );
  });
});
