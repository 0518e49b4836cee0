/**
 * Running a job's commands as real processes: splitting command strings,
 * spawning each command in its own process group, capturing its output
 * within a limit, and stopping its whole process tree.
 */

export { CommandLineError, splitCommand } from './command-line.js';
export { CommandProcess } from './command-process.js';
export {
  DEFAULT_DRAIN_MS,
  type CommandOptions,
  type CommandResult,
  type CommandSignal,
} from './command-types.js';
export {
  commonEnvironment,
  JOB_PATH,
  jobEnvironment,
  serverUser,
  type JobUser,
} from './environment.js';
export { DEFAULT_MAX_OUTPUT_BYTES, OutputBuffer } from './output.js';
export {
  groupAlive,
  groupMembers,
  signalDescendants,
  signalGroup,
  type GroupMember,
} from './process-tree.js';
export { lookupUser, spawnAs, type RunAs } from './run-as.js';
export { sharedSpawner, Spawner, type SpawnListener } from './spawner.js';
