import { expect } from 'chai';
import { createActor } from 'xstate';

import { queueMachine, type QueuedJob } from '../../machines/queue.js';
import {
  supervisorMachine,
  type KillResult,
  type RunResult
} from '../../machines/supervisor.js';

/** An effect one of the queues asked for, tagged with that queue. */
interface Effect {
  queue: string;
  type: 'jobsQueued' | 'startJob' | 'cancelJob' | 'killJob';
  ids: string[];
  by?: string;
  graceMs?: number;
}

/** Queues whose effects only write down what they were asked to do. */
function recordingQueue(effects: Effect[]) {
  return queueMachine.provide({
    actions: {
      jobsQueued: ({ context }, { jobs }) =>
        effects.push({
          queue: context.name,
          type: 'jobsQueued',
          ids: jobs.map((job) => job.id)
        }),
      startJob: ({ context }, { job }) =>
        effects.push({ queue: context.name, type: 'startJob', ids: [job.id] }),
      cancelJob: ({ context }, { job, by }) =>
        effects.push({
          queue: context.name,
          type: 'cancelJob',
          ids: [job.id],
          by
        }),
      killJob: ({ context }, { id, by, graceMs }) =>
        effects.push({
          queue: context.name,
          type: 'killJob',
          ids: [id],
          by,
          graceMs
        })
    }
  });
}

function startSupervisor(recentLimit = 100) {
  const effects: Effect[] = [];
  const logic = supervisorMachine.provide({
    actors: { queue: recordingQueue(effects) }
  });
  const actor = createActor(logic, {
    input: {
      queues: [
        { name: 'serial', concurrency: 1 },
        { name: 'wide', concurrency: Infinity }
      ],
      recentLimit
    }
  });
  actor.start();

  const run = (queue: string, ...ids: string[]): RunResult => {
    const answers: RunResult[] = [];
    actor.send({
      type: 'SUPERVISOR.RUN',
      queue,
      jobs: ids.map((id) => job(id, queue)),
      respond: (answer) => answers.push(answer)
    });
    expect(answers, 'answers to one run').to.have.length(1);
    return answers[0];
  };

  const kill = (ids: string[], graceMs?: number): KillResult => {
    const answers: KillResult[] = [];
    actor.send({
      type: 'SUPERVISOR.KILL',
      ids,
      by: 'bob',
      graceMs,
      respond: (answer) => answers.push(answer)
    });
    expect(answers, 'answers to one kill').to.have.length(1);
    return answers[0];
  };

  const end = (id: string, queue: string) =>
    actor.send({ type: 'JOB.ENDED', id, queue });

  return { actor, effects, run, kill, end };
}

function job(id: string, queue: string): QueuedJob {
  return { id, queue, commands: ['true'], submittedAt: 0, submittedBy: 'al' };
}

/** The reason a run was refused; fails the spec if it was accepted. */
function detail(result: RunResult): string {
  if (result.ok) throw new Error('the run was accepted');
  return result.detail;
}

function queued(effects: Effect[]): string[] {
  return effects.flatMap((e) => (e.type === 'jobsQueued' ? e.ids : []));
}

describe('supervisor machine', () => {
  describe('runs', () => {
    it('queues the jobs on the named queue and lists them as started', () => {
      const { effects, run } = startSupervisor();

      const result = run('wide', 'a', 'b');

      expect(result).to.deep.equal({
        ok: true,
        queue: 'wide',
        started: ['a', 'b']
      });
      expect(effects).to.deep.equal([
        { queue: 'wide', type: 'jobsQueued', ids: ['a', 'b'] },
        { queue: 'wide', type: 'startJob', ids: ['a'] },
        { queue: 'wide', type: 'startJob', ids: ['b'] }
      ]);
    });

    it('refuses a run into an unknown queue and names the known ones', () => {
      const { effects, run } = startSupervisor();

      const result = run('nowhere', 'a');

      expect(result).to.deep.include({ ok: false, error: 'unknown_queue' });
      expect(detail(result)).to.match(/nowhere/);
      expect(detail(result)).to.match(/serial, wide/);
      expect(effects).to.deep.equal([]);
    });

    it('refuses a whole run when one id is live, queueing none of it', () => {
      const { effects, run } = startSupervisor();
      run('serial', 'a');

      const result = run('serial', 'b', 'a', 'c');

      expect(result).to.deep.include({ ok: false, error: 'job_id_in_use' });
      expect(detail(result)).to.match(/'a'.*serial/);
      expect(queued(effects)).to.deep.equal(['a']);
      expect(run('serial', 'b', 'c')).to.deep.include({ ok: true });
    });

    it('refuses an id live in another queue', () => {
      const { run } = startSupervisor();
      run('serial', 'a', 'b');

      expect(run('wide', 'b')).to.deep.include({
        ok: false,
        error: 'job_id_in_use'
      });
    });

    it('takes an id again once its job has ended', () => {
      const { effects, run, end } = startSupervisor();
      run('serial', 'a');
      end('a', 'serial');

      expect(run('serial', 'a')).to.deep.include({ ok: true });
      expect(queued(effects)).to.deep.equal(['a', 'a']);
    });

    it('starts the next job of a queue in the step that ends the last',
      () => {
        const { effects, run, end } = startSupervisor();
        run('serial', 'a', 'b');

        end('a', 'serial');

        expect(effects.at(-1)).to.deep.equal({
          queue: 'serial',
          type: 'startJob',
          ids: ['b']
        });
      });

    it('ignores the end of a job reported for another queue', () => {
      const { effects, run, end } = startSupervisor();
      run('serial', 'a', 'b');

      end('a', 'wide');

      expect(run('serial', 'a')).to.deep.include({ error: 'job_id_in_use' });
      expect(effects.filter((e) => e.type === 'startJob')).to.have.length(1);
    });

    // Queued as asked, the second copy would make the queue's FIFO
    // throw, and that error would stop the supervisor.
    it('refuses a run that names the same id twice', () => {
      const { actor, effects, run } = startSupervisor();

      const result = run('serial', 'a', 'b', 'a');

      expect(result).to.deep.include({ ok: false, error: 'job_id_in_use' });
      expect(detail(result)).to.match(/'a'/);
      expect(effects).to.deep.equal([]);
      expect(actor.getSnapshot().status).to.equal('active');
    });
  });

  describe('kills', () => {
    it('routes a kill of a pending job to its queue, which cancels it',
      () => {
        const { effects, run, kill } = startSupervisor();
        run('wide', 'w');
        run('serial', 'a', 'b');

        const result = kill(['b']);

        expect(result).to.deep.equal({
          killed: ['b'],
          finished: [],
          unknown: []
        });
        expect(effects.at(-1)).to.deep.equal({
          queue: 'serial',
          type: 'cancelJob',
          ids: ['b'],
          by: 'bob'
        });
      });

    it('routes a kill of a running job to its queue with the grace period',
      () => {
        const { effects, run, kill } = startSupervisor();
        run('serial', 's');
        run('wide', 'a');

        kill(['a'], 250);

        expect(effects.at(-1)).to.deep.equal({
          queue: 'wide',
          type: 'killJob',
          ids: ['a'],
          by: 'bob',
          graceMs: 250
        });
      });

    it('still counts a killed job as live until it has ended', () => {
      const { run, kill } = startSupervisor();
      run('serial', 'a');
      kill(['a']);

      expect(run('serial', 'a')).to.deep.include({ error: 'job_id_in_use' });
      expect(kill(['a']).killed).to.deep.equal(['a']);
    });

    it('reports an ended job under finished', () => {
      const { effects, run, kill, end } = startSupervisor();
      run('serial', 'a');
      end('a', 'serial');
      const before = effects.length;

      const result = kill(['a']);

      expect(result).to.deep.equal({
        killed: [],
        finished: ['a'],
        unknown: []
      });
      expect(effects).to.have.length(before);
    });

    it('reports ids it never saw under unknown', () => {
      const { effects, run, kill } = startSupervisor();
      run('serial', 'a');

      const result = kill(['ghost', 'a', 'phantom']);

      expect(result).to.deep.equal({
        killed: ['a'],
        finished: [],
        unknown: ['ghost', 'phantom']
      });
      expect(effects.filter((e) => e.type === 'killJob')).to.have.length(1);
    });

    it('acts once on an id named twice in one kill', () => {
      const { effects, run, kill } = startSupervisor();
      run('serial', 'a');

      expect(kill(['a', 'a']).killed).to.deep.equal(['a']);
      expect(effects.filter((e) => e.type === 'killJob')).to.have.length(1);
    });

    it('kills a job again, not as finished, once its id is reused', () => {
      const { run, kill, end } = startSupervisor();
      run('serial', 'a');
      end('a', 'serial');
      run('serial', 'a');

      expect(kill(['a'])).to.deep.equal({
        killed: ['a'],
        finished: [],
        unknown: []
      });
    });
  });

  describe('recent jobs', () => {
    it('remembers only the last recentLimit ended ids', () => {
      const { run, kill, end } = startSupervisor(2);
      run('wide', 'a', 'b', 'c');
      for (const id of ['a', 'b', 'c']) end(id, 'wide');

      expect(kill(['a', 'b', 'c'])).to.deep.equal({
        killed: [],
        finished: ['b', 'c'],
        unknown: ['a']
      });
    });

    it('never holds more than recentLimit ids however many end', () => {
      const { actor, run, end } = startSupervisor(10);
      for (let n = 0; n < 1000; n++) {
        run('serial', `job-${n}`);
        end(`job-${n}`, 'serial');
      }

      const { recent, index } = actor.getSnapshot().context;
      expect([...recent]).to.deep.equal(
        Array.from({ length: 10 }, (_, n) => `job-${990 + n}`)
      );
      expect(index.size).to.equal(0);
    });

    it('forgets an id as recent once it is live again', () => {
      const { actor, run, end } = startSupervisor();
      run('serial', 'a');
      end('a', 'serial');

      run('serial', 'a');

      expect(actor.getSnapshot().context.recent.has('a')).to.equal(false);
    });
  });
});
