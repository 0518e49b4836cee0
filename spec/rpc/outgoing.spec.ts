import { expect } from 'chai';

import { OutputEvent, PlainEvent } from '../../lib/rpc/outgoing.js';
import type { QueuedJob } from '../../machines/queue.js';

const TIME = '2026-12-03T13:14:38.605Z';

function outputEvent(command: string, text: string, offset = 7) {
  const job = { id: 'build "7"', queue: 'no_queue', commands: [command] };
  return new OutputEvent({
    job: job as unknown as QueuedJob, index: 0, text,
    bytes: Buffer.byteLength(text), chars: text.length, offset
  }, 3, TIME);
}

/** The message as JSON.stringify writes it, text keyed twice. */
function expected(command: string, args: Record<string, unknown>) {
  const compatible = command === 'output' ? {} : { [command]: args.output };
  return JSON.stringify({
    namespace: 'events', name: 'dispatcher', id: '',
    args: { ...compatible, event: 'output', state: 'running',
      process_id: 'build "7"', queue: 'no_queue', current_cmd: command,
      command_index: 0, ...args, seq: 3, time: TIME }
  });
}

describe('outgoing events', function () {
  it('write output as JSON.stringify would, whatever the text holds',
    function () {
      const texts = ['hello\n', 'zero \0 quote " backslash \\ tab \t',
        'é ✓ 😀 \u2028', '\0'.repeat(70000) + 'é', 'a\ud800b'];
      for (const text of texts) {
        for (const command of ['make', 'output']) {
          const message = outputEvent(command, text).whole().toString();
          expect(message).to.equal(
            expected(command, { output: text, offset: 7 }));
        }
      }
    });

  it('say what a lean output event left out', function () {
    const event = outputEvent('make', 'é\n', 100);
    expect(JSON.parse(event.lean().toString())).to.deep.equal(JSON.parse(
      expected('make', { output: '', offset: 100, skipped_bytes: 3,
        skipped_chars: 2 })));
  });

  it('keep the form that went out once settled', function () {
    const sent = outputEvent('make', 'x'.repeat(1000));
    const whole = sent.whole();
    expect(sent.settle()).to.equal(whole.length);
    expect(sent.whole()).to.equal(whole);
    const withheld = outputEvent('make', 'x'.repeat(1000));
    expect(withheld.settle()).to.equal(withheld.lean().length);
    expect(withheld.whole()).to.equal(withheld.lean());
    // Megabytes are not kept for resuming.
    const large = outputEvent('make', 'x'.repeat(1 << 20));
    large.whole();
    expect(large.settle()).to.equal(large.lean().length);
    expect(large.whole()).to.equal(large.lean());
  });

  it('stamp other events with their number and time', function () {
    const event = new PlainEvent({ event: 'queued', process_id: 'a' }, 9,
      TIME);
    expect(JSON.parse(event.whole().toString())).to.deep.equal({
      namespace: 'events', name: 'dispatcher', id: '',
      args: { event: 'queued', process_id: 'a', seq: 9, time: TIME }
    });
    expect(event.lean()).to.equal(event.whole());
  });
});
