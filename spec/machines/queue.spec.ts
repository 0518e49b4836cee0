import { expect } from 'chai';
import { createActor, type StateValue } from 'xstate';

import {
  queueMachine,
  type KillParams,
  type QueuedJob
} from '../../machines/queue.js';
import { supervisorMachine } from '../../machines/supervisor.js';

/** One effect the queue asked for, in the order it asked. */
type Effect =
  | { type: 'jobsQueued'; ids: string[] }
  | { type: 'startJob'; id: string }
  | { type: 'cancelJob'; id: string; by: string }
  | ({ type: 'killJob' } & KillParams);

/** The queue machine with effects that only write down what was asked. */
function recordingQueue(effects: Effect[]) {
  return queueMachine.provide({
    actions: {
      jobsQueued: (_, { jobs }) =>
        effects.push({ type: 'jobsQueued', ids: jobs.map((job) => job.id) }),
      startJob: (_, { job }) => effects.push({ type: 'startJob', id: job.id }),
      cancelJob: (_, { job, by }) =>
        effects.push({ type: 'cancelJob', id: job.id, by }),
      killJob: (_, params) => effects.push({ type: 'killJob', ...params })
    }
  });
}

function startQueue(concurrency: number) {
  const effects: Effect[] = [];
  const actor = createActor(recordingQueue(effects), {
    input: { name: 'main', concurrency }
  });
  actor.start();
  return { actor, effects };
}

function job(id: string, queue = 'main'): QueuedJob {
  return {
    id,
    queue,
    commands: ['true'],
    submittedAt: 0,
    submittedBy: 'alice'
  };
}

function jobs(count: number, prefix = 'job'): QueuedJob[] {
  return Array.from({ length: count }, (_, n) => job(`${prefix}-${n}`));
}

/** The queue's innermost state, however deep the machine nests it. */
function stateOf(actor: { getSnapshot(): { value: StateValue } }): string {
  let value = actor.getSnapshot().value;
  while (typeof value !== 'string') value = Object.values(value)[0]!;
  return value;
}

function started(effects: Effect[]): string[] {
  return effects.flatMap((e) => (e.type === 'startJob' ? [e.id] : []));
}

describe('queue machine', () => {
  describe('admission', () => {
    it('starts only the first of 20 jobs when one may run at once', () => {
      const { actor, effects } = startQueue(1);

      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(20) });

      const { context } = actor.getSnapshot();
      expect(started(effects)).to.deep.equal(['job-0']);
      expect([...context.running]).to.deep.equal(['job-0']);
      expect(context.pending.size).to.equal(19);
    });

    it('starts the next job as soon as the running one ends', () => {
      const { actor, effects } = startQueue(1);
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(3) });

      actor.send({ type: 'JOB.ENDED', id: 'job-0' });

      // Checked right after send returns: no timer, no microtask.
      expect(started(effects)).to.deep.equal(['job-0', 'job-1']);
      expect([...actor.getSnapshot().context.running]).to.deep.equal([
        'job-1'
      ]);
    });

    it('starts jobs in the order they were enqueued', () => {
      const { actor, effects } = startQueue(1);
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(10).slice(0, 4) });
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(10).slice(4) });

      for (let n = 0; n < 10; n++) {
        actor.send({ type: 'JOB.ENDED', id: `job-${n}` });
      }

      expect(started(effects)).to.deep.equal(jobs(10).map((j) => j.id));
    });

    it('never runs more jobs at once than its concurrency', () => {
      const { actor, effects } = startQueue(3);
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(10) });
      expect(started(effects)).to.deep.equal(['job-0', 'job-1', 'job-2']);

      actor.send({ type: 'JOB.ENDED', id: 'job-1' });

      expect(started(effects)).to.have.length(4);
      expect(actor.getSnapshot().context.running.size).to.equal(3);
    });

    it('starts every job at once when concurrency is unlimited', () => {
      const { actor, effects } = startQueue(Infinity);

      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(20) });

      expect(started(effects)).to.deep.equal(jobs(20).map((j) => j.id));
      expect(actor.getSnapshot().context.pending.size).to.equal(0);
    });

    it('reports jobs as queued before it starts any of them', () => {
      const { actor, effects } = startQueue(1);

      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(2) });

      expect(effects).to.deep.equal([
        { type: 'jobsQueued', ids: ['job-0', 'job-1'] },
        { type: 'startJob', id: 'job-0' }
      ]);
    });

    it('ignores the end of a job it does not run', () => {
      const { actor, effects } = startQueue(1);
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(2) });

      actor.send({ type: 'JOB.ENDED', id: 'elsewhere' });

      expect(started(effects)).to.deep.equal(['job-0']);
    });
  });

  describe('kills', () => {
    it('cancels a pending job, which then never starts', () => {
      const { actor, effects } = startQueue(1);
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(3) });

      actor.send({ type: 'QUEUE.KILL', id: 'job-1', by: 'bob' });
      actor.send({ type: 'JOB.ENDED', id: 'job-0' });
      actor.send({ type: 'JOB.ENDED', id: 'job-2' });

      expect(effects).to.deep.include({
        type: 'cancelJob',
        id: 'job-1',
        by: 'bob'
      });
      expect(effects.some((e) => e.type === 'killJob')).to.equal(false);
      expect(started(effects)).to.deep.equal(['job-0', 'job-2']);
    });

    it('forwards a kill of a running job with its grace period', () => {
      const { actor, effects } = startQueue(1);
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(2) });

      actor.send({ type: 'QUEUE.KILL', id: 'job-0', by: 'bob', graceMs: 5 });

      expect(effects.at(-1)).to.deep.equal({
        type: 'killJob',
        id: 'job-0',
        by: 'bob',
        graceMs: 5
      });
      expect(effects.some((e) => e.type === 'cancelJob')).to.equal(false);
    });

    it('keeps a killed running job in its slot until it ends', () => {
      const { actor, effects } = startQueue(1);
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(2) });

      actor.send({ type: 'QUEUE.KILL', id: 'job-0', by: 'bob' });
      expect(started(effects)).to.deep.equal(['job-0']);

      actor.send({ type: 'JOB.ENDED', id: 'job-0' });
      expect(started(effects)).to.deep.equal(['job-0', 'job-1']);
    });

    it('does nothing for a kill of a job it does not hold', () => {
      const { actor, effects } = startQueue(1);
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(2) });
      const before = effects.length;

      actor.send({ type: 'QUEUE.KILL', id: 'elsewhere', by: 'bob' });

      expect(effects).to.have.length(before);
    });
  });

  describe('states', () => {
    it('goes from idle to busy to idle as jobs come and go', () => {
      const { actor } = startQueue(1);
      expect(stateOf(actor)).to.equal('idle');

      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(2) });
      expect(stateOf(actor)).to.equal('busy');

      actor.send({ type: 'JOB.ENDED', id: 'job-0' });
      expect(stateOf(actor)).to.equal('busy');

      actor.send({ type: 'JOB.ENDED', id: 'job-1' });
      expect(stateOf(actor)).to.equal('idle');
    });

    it('turns idle when its last pending job is cancelled', () => {
      const { actor } = startQueue(0);
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(1) });
      expect(stateOf(actor)).to.equal('busy');

      actor.send({ type: 'QUEUE.KILL', id: 'job-0', by: 'bob' });

      expect(stateOf(actor)).to.equal('idle');
    });

    it('stays idle after an empty enqueue', () => {
      const { actor, effects } = startQueue(1);

      actor.send({ type: 'QUEUE.ENQUEUE', jobs: [] });

      expect(stateOf(actor)).to.equal('idle');
      expect(started(effects)).to.deep.equal([]);
    });
  });

  describe('scaling', () => {
    it('keeps the very same pending list and running set, never copies',
      () => {
        const { actor } = startQueue(1);
        actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(1000, 'old') });
        const { pending, running } = actor.getSnapshot().context;

        for (const queued of jobs(10_000)) {
          actor.send({ type: 'QUEUE.ENQUEUE', jobs: [queued] });
        }
        actor.send({ type: 'JOB.ENDED', id: 'old-0' });

        const { context } = actor.getSnapshot();
        expect(context.pending).to.equal(pending);
        expect(context.running).to.equal(running);
        // 1 000 old and 10 000 new, less the two that have started.
        expect(context.pending.size).to.equal(10_998);
      });

    it('does the same work per enqueue however many jobs wait', () => {
      const { actor, effects } = startQueue(1);
      actor.send({ type: 'QUEUE.ENQUEUE', jobs: jobs(1000, 'old') });
      const { pending } = actor.getSnapshot().context;
      const work = { walks: 0, pushes: 0, shifts: 0 };
      const push = pending.push.bind(pending);
      const shift = pending.shift.bind(pending);
      const walk = pending[Symbol.iterator].bind(pending);
      pending.push = (item) => {
        work.pushes++;
        push(item);
      };
      pending.shift = () => {
        work.shifts++;
        return shift();
      };
      pending[Symbol.iterator] = () => {
        work.walks++;
        return walk();
      };
      const effectsBefore = effects.length;

      for (const queued of jobs(10_000)) {
        actor.send({ type: 'QUEUE.ENQUEUE', jobs: [queued] });
      }

      // One push and one report per job; the list is never walked and
      // no job is admitted while the only slot is taken.
      expect(work).to.deep.equal({ walks: 0, pushes: 10_000, shifts: 0 });
      expect(effects.length - effectsBefore).to.equal(10_000);
    });

    it('spawns no job actors: only the queues are children', () => {
      const effects: Effect[] = [];
      const logic = supervisorMachine.provide({
        actors: { queue: recordingQueue(effects) }
      });
      const supervisor = createActor(logic, {
        input: {
          queues: [
            { name: 'serial', concurrency: 1 },
            { name: 'wide', concurrency: Infinity }
          ],
          recentLimit: 10
        }
      });
      supervisor.start();

      for (const name of ['serial', 'wide']) {
        supervisor.send({
          type: 'SUPERVISOR.RUN',
          queue: name,
          jobs: jobs(5000, name).map((j) => ({ ...j, queue: name })),
          respond: () => {}
        });
      }

      const snapshot = supervisor.getSnapshot();
      expect(Object.keys(snapshot.children)).to.have.length(2);
      for (const queue of snapshot.context.queues.values()) {
        expect(queue.getSnapshot().children).to.deep.equal({});
      }
      expect(started(effects)).to.have.length(5001);
    });
  });
});
