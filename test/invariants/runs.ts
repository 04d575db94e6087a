/**
 * How many times each invariant runs, and how to replay a failure.
 *
 * Every invariant runs at least 1,000 generated cases. When one fails,
 * fast-check prints the counterexample and `{ seed, path }` (vitest shows it
 * in the failure). To replay exactly that case, either pass them to the
 * property:
 *
 *   it.effect.prop("…", arbitraries, body, { fastCheck: { numRuns: 1000, seed: 1234, path: "12:3:0" } })
 *
 * or, without editing, set them in the environment for the one property:
 *
 *   FC_SEED=1234 FC_PATH=12:3:0 npx vitest run --project integration invariants -t "deny always wins"
 *
 * (`path` replays only the shrunk case; the seed alone replays the whole run.)
 * FC_RUNS raises the number of runs, for a longer search than CI's.
 */
const seed = process.env["FC_SEED"]
const path = process.env["FC_PATH"]
const more = Number(process.env["FC_RUNS"] ?? "0")

/** fast-check parameters: `numRuns` cases (1,000 by default, more with FC_RUNS), replaying FC_SEED / FC_PATH. */
export const runs = (numRuns = 1000) => {
  const total = Math.max(numRuns, Number.isSafeInteger(more) ? more : 0)
  return {
    // Well over what 1,000 runs of any invariant take on a 2-core machine, so a slow CI host does not fail them.
    timeout: 120 * Math.max(1000, total),
    fastCheck: {
      numRuns: total,
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      ...(path === undefined ? {} : { path, endOnFailure: true })
    }
  }
}
