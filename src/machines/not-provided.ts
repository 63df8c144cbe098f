/**
 * The stand-in for an effect a machine names but does not implement: machines here are pure, so
 * every actor, guard and delay that touches the world is provided by src/actors (machine.provide).
 * Running a machine without providing one is a programming error, said loudly.
 */
export function notProvided(machine: string, name: string): never {
  throw new Error(`${machine} machine: ${name} must be provided by the runtime (machine.provide)`);
}
