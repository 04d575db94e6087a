/**
 * Timing helpers on mitata: each case is measured in several rounds, the
 * cases of a group interleaved (the order rotates each round, so drift and
 * warm-up do not favour one), and the reported figure is the median of the
 * per-round medians.
 */
import { measure } from "mitata"

/** One thing to time. `ops` is how many operations one call of `fn` performs (for batched loops). */
export interface Case {
  readonly name: string
  readonly fn: () => unknown
  readonly ops?: number
}

/** The result of a case: nanoseconds per operation, one figure per round. */
export interface Timing {
  readonly name: string
  /** Per round: mitata's p50 over samples, each sample the mean of one batch of calls. */
  readonly rounds: ReadonlyArray<number>
  /** Median of the round figures, ns per operation. */
  readonly median: number
  readonly min: number
  readonly max: number
  /** Operations timed over all rounds. */
  readonly ops: number
  /** Calls per sample. */
  readonly batch: number
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!
}

/** One figure per pair of an alternating run, summarised. */
export interface Paired {
  readonly pairs: number
  readonly median: number
  readonly p25: number
  readonly p75: number
}

/**
 * Measures the workloads in `turns` rotations: each rotation runs every workload once, adjacent, starting one
 * further along each time, so none always runs right after another (its garbage, its warm caches). Returns each
 * workload's figure per rotation, in workload order; figures of one rotation are taken side by side, so the
 * machine's drift between rotations cancels out of any comparison made within one.
 */
export const rotating = async (
  turns: number,
  workloads: ReadonlyArray<() => Promise<number> | number>
): Promise<Array<Array<number>>> => {
  const figures = workloads.map((): Array<number> => [])
  for (let k = 0; k < turns; k++) {
    for (let j = 0; j < workloads.length; j++) {
      const index = (j + k) % workloads.length
      figures[index]!.push(await workloads[index]!())
    }
  }
  return figures
}

/** A series of per-rotation figures, summarised. */
export const summarise = (figures: ReadonlyArray<number>): Paired => ({
  pairs: figures.length,
  median: median(figures),
  p25: percentile(figures, 0.25),
  p75: percentile(figures, 0.75)
})

/**
 * Measures `a` and `b` in `pairs` adjacent turns, which goes first alternating so neither always runs right after
 * the other, and turns each pair into one figure with `combine` (a difference, a ratio): the machine's drift
 * between pairs cancels out of each.
 */
export const alternating = async (
  pairs: number,
  a: () => Promise<number> | number,
  b: () => Promise<number> | number,
  combine: (a: number, b: number) => number
): Promise<Paired> => {
  const [xs, ys] = await rotating(pairs, [a, b])
  return summarise(xs!.map((x, i) => combine(x, ys![i]!)))
}

/** CPU time mitata spends on one measurement of one case, in ns. */
const budgetNs = 150e6
/** The time one sample (one batch of calls) should take, in ns: long enough to include its share of GC. */
const sampleNs = 2e6

/** Calls `fn` for about 25 ms (at most 5,000 times) and returns the mean ns per call. */
const calibrate = async (fn: () => unknown): Promise<number> => {
  const start = performance.now()
  let calls = 0
  while (calls < 5_000 && (calls < 3 || performance.now() - start < 25)) {
    await fn()
    calls++
  }
  return ((performance.now() - start) * 1e6) / calls
}

/** How `timeCases` measures. */
export interface TimeOptions {
  /**
   * Whether mitata runs a full collection before each measurement (its default). A full collection shrinks the
   * young generation, and a case that allocates a lot (an RPC call) then runs its whole measurement collecting
   * more often than it ever does in a running service; `false` measures such a case in the heap's steady state.
   */
  readonly forcedGc?: boolean
}

/**
 * Times the cases, `roundsCount` rounds each, interleaved (the order rotates
 * each round). Every sample is a batch of calls lasting about 2 ms, so GC and
 * the scheduler's work are amortised into the figure as they are in a
 * service; mitata's p50 over the samples is the round's figure, and the
 * result is the median over rounds. Each case is called first while
 * calibrating, so a failing case fails the run before anything is timed.
 */
export const timeCases = async (
  cases: ReadonlyArray<Case>,
  roundsCount: number,
  options: TimeOptions = {}
): Promise<Array<Timing>> => {
  const batches: Array<number> = []
  for (const c of cases) {
    const perCall = await calibrate(c.fn)
    batches.push(Math.min(4096, Math.max(4, 4 * Math.round(sampleNs / perCall / 4))))
  }
  const perRound: Array<Array<number>> = cases.map(() => [])
  const ticks = cases.map(() => 0)
  for (let round = 0; round < roundsCount; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (k + round) % cases.length
      const c = cases[index]!
      const stats = await measure(c.fn, {
        batch_samples: batches[index]!,
        batch_threshold: Infinity,
        warmup_threshold: Infinity,
        min_samples: 12,
        min_cpu_time: budgetNs,
        ...(options.forcedGc === false ? { gc: false } : {})
      })
      const ops = c.ops ?? 1
      perRound[index]!.push(stats.p50 / ops)
      ticks[index]! += stats.ticks * ops
    }
  }
  return cases.map((c, i) => {
    const rounds = perRound[i]!
    return {
      name: c.name,
      rounds,
      median: median(rounds),
      min: Math.min(...rounds),
      max: Math.max(...rounds),
      ops: ticks[i]!,
      batch: batches[i]!
    }
  })
}

/** Finds a timing by name (throws if absent: a bench bug). */
export const byName = (timings: ReadonlyArray<Timing>, name: string): Timing => {
  const found = timings.find((t) => t.name === name)
  if (found === undefined) throw new Error(`no timing named ${name}`)
  return found
}

/** Runs the garbage collector (the run needs --expose-gc). */
export const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run with node --expose-gc (npm run bench does)")
  collect()
  collect()
}

/** A fatal disagreement or broken promise: the run fails. */
export class BenchFailure extends Error {}

export const check = (condition: boolean, message: string): void => {
  if (!condition) throw new BenchFailure(message)
}

/** A small deterministic PRNG (mulberry32), so the data set is the same on every run. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (n: number): number => Math.floor(next() * n),
    pick: <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!
  }
}
