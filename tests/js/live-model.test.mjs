// JS unit tests of the live page's pure parts: ordering, the list line, ages and clocks.
import assert from 'node:assert/strict';
import { it, describe } from 'mocha';
import { age, clock, describe as describeLine, fill, ordered, STATE_COLOURS } from '../../gridsvc/static/live/live-model.js';

const messages = {
  online: 'online', stale: 'stale', offline: 'offline', individual: 'Individual patrol', group: 'Group patrol',
  last_seen: 'last seen {ago} ago', never_seen: 'no position yet', elapsed: 'out for {elapsed}',
};

function patroller(id, state, elapsed, position = { age_seconds: 30 }, task = null) {
  return { volunteer: { id, name: `P${id}` }, state, position,
    session: { kind: task ? 'group' : 'individual', task, elapsed_seconds: elapsed, station: { name: 'S1' } } };
}

describe('live page model', () => {
  it('orders online first, then stale, then offline, the longest out first within a state', () => {
    const out = ordered([patroller(1, 'offline', 900), patroller(2, 'online', 60), patroller(3, 'stale', 10),
      patroller(4, 'online', 600)]);
    assert.deepEqual(out.map((p) => p.volunteer.id), [4, 2, 3, 1]);
  });

  it('describes a patroller with station, kind or task, time out and last seen', () => {
    const line = describeLine(patroller(5, 'stale', 3900, { age_seconds: 200 }, { id: 9, title: 'Night watch' }), messages);
    assert.equal(line.detail, 'S1 · Group patrol: Night watch · out for 1:05 · last seen 3 min ago');
    assert.equal(line.colour, STATE_COLOURS.stale);
    assert.equal(describeLine(patroller(6, 'offline', 0, null), messages).detail,
      'S1 · Individual patrol · out for 0:00 · no position yet');
  });

  it('writes ages and clocks short', () => {
    assert.deepEqual([age(0), age(59), age(60), age(3599), age(7200)], ['0 s', '59 s', '1 min', '59 min', '2 h']);
    assert.deepEqual([clock(0), clock(59), clock(60), clock(3660)], ['0:00', '0:00', '0:01', '1:01']);
    assert.equal(fill('{a} and {b}', { a: 1 }), '1 and ');
  });
});
