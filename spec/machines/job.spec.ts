import { expect } from 'chai';
import { SimulatedClock } from 'xstate';

import { current, startJob } from './fake-runner.js';
import { waitUntil } from './wait-until.js';

describe('job machine', () => {
  describe('running a chain', () => {
    it('waits for JOB.START before running anything', () => {
      const { actor, runs } = startJob();

      expect(actor.getSnapshot().value).to.equal('pending');
      expect(runs).to.have.length(0);
    });

    it('runs every command in order and ends done', () => {
      const { actor, runs } = startJob({ commands: ['a', 'b', 'c'] });
      actor.send({ type: 'JOB.START' });

      for (const pid of [101, 102, 103]) {
        current(runs).started(pid);
        current(runs).exited({ pid, exitCode: 0 });
      }

      const snapshot = actor.getSnapshot();
      expect(snapshot.value).to.equal('done');
      expect(snapshot.status).to.equal('done');
      expect(runs.map((run) => run.input)).to.deep.equal([
        { jobId: 'job-1', queue: 'main', index: 0, command: 'a' },
        { jobId: 'job-1', queue: 'main', index: 1, command: 'b' },
        { jobId: 'job-1', queue: 'main', index: 2, command: 'c' }
      ]);
      expect(snapshot.context.outcomes.map((o) => o.exitCode)).to.deep.equal(
        [0, 0, 0]
      );
      expect(snapshot.context.kill).to.equal(null);
    });

    it('starts each command only after the one before has exited', () => {
      const { actor, runs } = startJob({ commands: ['a', 'b'] });
      actor.send({ type: 'JOB.START' });
      current(runs).started(101);

      expect(runs).to.have.length(1);

      current(runs).exited({ pid: 101, exitCode: 0 });

      expect(runs).to.have.length(2);
      expect(runs[0].stopped).to.equal(true);
    });

    it('stops at the first non-zero exit and never starts the rest', () => {
      const { actor, runs } = startJob({ commands: ['a', 'b', 'c'] });
      actor.send({ type: 'JOB.START' });

      current(runs).exited({ pid: 101, exitCode: 0 });
      current(runs).exited({ pid: 102, exitCode: 3 });

      const snapshot = actor.getSnapshot();
      expect(snapshot.value).to.equal('done');
      expect(runs.map((run) => run.input.command)).to.deep.equal(['a', 'b']);
      expect(snapshot.context.outcomes.map((o) => o.exitCode)).to.deep.equal(
        [0, 3]
      );
    });

    it('stops when a command is ended by a signal it was not sent', () => {
      const { actor, runs } = startJob({ commands: ['a', 'b'] });
      actor.send({ type: 'JOB.START' });

      current(runs).exited({ exitCode: null, signal: 'SIGSEGV' });

      expect(actor.getSnapshot().value).to.equal('done');
      expect(runs).to.have.length(1);
      expect(actor.getSnapshot().context.kill).to.equal(null);
    });

    it('ends done with the start error of a command that could not start',
      () => {
        const { actor, runs } = startJob({ commands: ['nope', 'b'] });
        actor.send({ type: 'JOB.START' });

        current(runs).exited({
          pid: null,
          exitCode: null,
          error: 'spawn nope ENOENT'
        });

        const snapshot = actor.getSnapshot();
        expect(snapshot.value).to.equal('done');
        expect(runs).to.have.length(1);
        expect(snapshot.context.outcomes).to.have.length(1);
        expect(snapshot.context.outcomes[0]).to.deep.include({
          index: 0,
          command: 'nope',
          pid: null,
          exitCode: null,
          error: 'spawn nope ENOENT'
        });
      });

    it('keeps the pid of the running command and clears it on exit', () => {
      const { actor, runs } = startJob({ commands: ['a', 'b'] });
      actor.send({ type: 'JOB.START' });

      current(runs).started(4242);
      expect(actor.getSnapshot().context.pid).to.equal(4242);
      expect(actor.getSnapshot().context.index).to.equal(0);

      current(runs).exited({ pid: 4242, exitCode: 0 });
      expect(actor.getSnapshot().context.pid).to.equal(null);
      expect(actor.getSnapshot().context.index).to.equal(1);
    });

    it('stamps when it started and when it finished', () => {
      const { actor, runs } = startJob();
      expect(actor.getSnapshot().context.startedAt).to.equal(null);

      actor.send({ type: 'JOB.START' });
      const { startedAt } = actor.getSnapshot().context;
      expect(startedAt).to.be.a('number');

      current(runs).exited({ exitCode: 0 });
      const { finishedAt } = actor.getSnapshot().context;
      expect(finishedAt).to.be.at.least(startedAt!);
    });
  });

  describe('emitted events', () => {
    it('emits job.started, then job.command for each command', () => {
      const { actor, runs, emitted } = startJob({ commands: ['a', 'b'] });
      actor.send({ type: 'JOB.START' });
      current(runs).started(101);
      current(runs).exited({ pid: 101, exitCode: 0 });
      current(runs).started(102);

      expect(emitted).to.deep.equal([
        { type: 'job.started', id: 'job-1' },
        { type: 'job.command', id: 'job-1', index: 0, pid: 101 },
        { type: 'job.command', id: 'job-1', index: 1, pid: 102 }
      ]);
    });

    it('emits job.signalled for every signal it sends', () => {
      const { actor, runs, emitted } = startJob();
      actor.send({ type: 'JOB.START' });
      actor.send({ type: 'JOB.KILL', by: 'alice' });
      actor.send({ type: 'JOB.KILL', by: 'alice' });

      const signalled = emitted.filter((e) => e.type === 'job.signalled');
      expect(signalled).to.deep.equal([
        { type: 'job.signalled', id: 'job-1', signal: 'SIGTERM' },
        { type: 'job.signalled', id: 'job-1', signal: 'SIGKILL' }
      ]);
      expect(current(runs).signals).to.deep.equal(['SIGTERM', 'SIGKILL']);
    });

    it('emits nothing for a job killed before it started', () => {
      const { actor, emitted } = startJob();
      actor.send({ type: 'JOB.KILL', by: 'alice' });

      expect(emitted).to.deep.equal([]);
    });
  });

  describe('killing', () => {
    it('ends a pending job killed without ever running a command', () => {
      const { actor, runs } = startJob({ graceMs: 250 });

      actor.send({ type: 'JOB.KILL', by: 'alice' });

      const snapshot = actor.getSnapshot();
      expect(snapshot.value).to.equal('killed');
      expect(snapshot.status).to.equal('done');
      expect(runs).to.have.length(0);
      expect(snapshot.context.startedAt).to.equal(null);
      expect(snapshot.context.kill).to.deep.include({
        by: 'alice',
        graceMs: 250,
        signals: [],
        escalated: false
      });
    });

    it('ignores JOB.START once killed', () => {
      const { actor, runs } = startJob();
      actor.send({ type: 'JOB.KILL', by: 'alice' });

      actor.send({ type: 'JOB.START' });

      expect(actor.getSnapshot().value).to.equal('killed');
      expect(runs).to.have.length(0);
    });

    it('sends SIGTERM and stays running until the process has exited', () => {
      const { actor, runs } = startJob({ commands: ['a', 'b'] });
      actor.send({ type: 'JOB.START' });
      current(runs).started(101);

      actor.send({ type: 'JOB.KILL', by: 'alice' });

      expect(current(runs).signals).to.deep.equal(['SIGTERM']);
      expect(current(runs).stopped).to.equal(false);
      expect(actor.getSnapshot().status).to.equal('active');
      expect(actor.getSnapshot().matches('running')).to.equal(true);

      current(runs).exited({ pid: 101, exitCode: null, signal: 'SIGTERM' });

      const snapshot = actor.getSnapshot();
      expect(snapshot.value).to.equal('killed');
      expect(runs).to.have.length(1);
      expect(snapshot.context.kill).to.deep.include({
        by: 'alice',
        signals: ['SIGTERM'],
        escalated: false
      });
    });

    it('ends killed even when the killed command exits with status 0', () => {
      const { actor, runs } = startJob({ commands: ['a', 'b'] });
      actor.send({ type: 'JOB.START' });
      actor.send({ type: 'JOB.KILL', by: 'alice' });

      current(runs).exited({ exitCode: 0 });

      expect(actor.getSnapshot().value).to.equal('killed');
      expect(runs).to.have.length(1);
    });

    it('sends SIGKILL once the grace period is over', async () => {
      const { actor, runs } = startJob({ graceMs: 20 });
      actor.send({ type: 'JOB.START' });
      actor.send({ type: 'JOB.KILL', by: 'alice' });
      expect(current(runs).signals).to.deep.equal(['SIGTERM']);

      await waitUntil(
        () => current(runs).signals.length === 2,
        'SIGKILL after the grace period'
      );
      expect(current(runs).signals).to.deep.equal(['SIGTERM', 'SIGKILL']);
      expect(actor.getSnapshot().status).to.equal('active');

      current(runs).exited({ exitCode: null, signal: 'SIGKILL' });

      expect(actor.getSnapshot().value).to.equal('killed');
      expect(actor.getSnapshot().context.kill).to.deep.include({
        by: 'alice',
        graceMs: 20,
        signals: ['SIGTERM', 'SIGKILL'],
        escalated: true
      });
    });

    it('waits the whole grace period before SIGKILL, not a moment less',
      () => {
        const clock = new SimulatedClock();
        const { actor, runs } = startJob({ graceMs: 500, clock });
        actor.send({ type: 'JOB.START' });
        actor.send({ type: 'JOB.KILL', by: 'alice' });

        clock.increment(499);
        expect(current(runs).signals).to.deep.equal(['SIGTERM']);

        clock.increment(1);
        expect(current(runs).signals).to.deep.equal(['SIGTERM', 'SIGKILL']);
        expect(actor.getSnapshot().context.kill?.escalated).to.equal(true);
      });

    it('sends no SIGKILL when the process exits within the grace period',
      () => {
        const clock = new SimulatedClock();
        const { actor, runs } = startJob({ graceMs: 500, clock });
        actor.send({ type: 'JOB.START' });
        actor.send({ type: 'JOB.KILL', by: 'alice' });

        clock.increment(100);
        current(runs).exited({ exitCode: null, signal: 'SIGTERM' });
        clock.increment(10_000);

        expect(current(runs).signals).to.deep.equal(['SIGTERM']);
        expect(actor.getSnapshot().context.kill).to.deep.include({
          signals: ['SIGTERM'],
          escalated: false
        });
      });

    it('sends SIGKILL at once on a second kill within the grace period',
      () => {
        const clock = new SimulatedClock();
        const { actor, runs } = startJob({ graceMs: 60_000, clock });
        actor.send({ type: 'JOB.START' });
        actor.send({ type: 'JOB.KILL', by: 'alice' });

        actor.send({ type: 'JOB.KILL', by: 'bob' });

        expect(current(runs).signals).to.deep.equal(['SIGTERM', 'SIGKILL']);
        current(runs).exited({ exitCode: null, signal: 'SIGKILL' });
        expect(actor.getSnapshot().context.kill).to.deep.include({
          by: 'alice',
          signals: ['SIGTERM', 'SIGKILL'],
          escalated: true
        });
      });

    it('sends SIGKILL only once, whatever more kills and time follow',
      () => {
        const clock = new SimulatedClock();
        const { actor, runs } = startJob({ graceMs: 100, clock });
        actor.send({ type: 'JOB.START' });
        actor.send({ type: 'JOB.KILL', by: 'alice' });

        clock.increment(100);
        actor.send({ type: 'JOB.KILL', by: 'alice' });
        clock.increment(1000);

        expect(current(runs).signals).to.deep.equal(['SIGTERM', 'SIGKILL']);
      });

    it('lets a kill give its own grace period over the default', () => {
      const clock = new SimulatedClock();
      const { actor, runs } = startJob({ graceMs: 60_000, clock });
      actor.send({ type: 'JOB.START' });

      actor.send({ type: 'JOB.KILL', by: 'alice', graceMs: 50 });
      clock.increment(49);
      expect(current(runs).signals).to.deep.equal(['SIGTERM']);
      clock.increment(1);

      expect(current(runs).signals).to.deep.equal(['SIGTERM', 'SIGKILL']);
      expect(actor.getSnapshot().context.kill).to.deep.include({
        graceMs: 50,
        escalated: true
      });
    });

    it('records the grace period it used when a kill gives none', () => {
      const { actor } = startJob({ graceMs: 1234 });
      actor.send({ type: 'JOB.START' });

      actor.send({ type: 'JOB.KILL', by: 'alice' });

      expect(actor.getSnapshot().context.kill?.graceMs).to.equal(1234);
    });

    it('starts no further command of a chain once killed', () => {
      const { actor, runs } = startJob({ commands: ['a', 'b', 'c'] });
      actor.send({ type: 'JOB.START' });
      current(runs).exited({ exitCode: 0 });
      actor.send({ type: 'JOB.KILL', by: 'alice' });

      current(runs).exited({ exitCode: null, signal: 'SIGTERM' });

      expect(actor.getSnapshot().value).to.equal('killed');
      expect(runs.map((run) => run.input.command)).to.deep.equal(['a', 'b']);
      expect(actor.getSnapshot().context.outcomes).to.have.length(2);
    });

    it('stops its process actor once the job is over', () => {
      const { actor, runs } = startJob();
      actor.send({ type: 'JOB.START' });
      actor.send({ type: 'JOB.KILL', by: 'alice' });

      current(runs).exited({ exitCode: null, signal: 'SIGTERM' });

      expect(current(runs).stopped).to.equal(true);
      expect(actor.getSnapshot().children).to.deep.equal({});
    });
  });
});
