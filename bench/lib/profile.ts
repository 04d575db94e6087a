/**
 * A quick CPU profile of one workload, taken in-process with the V8 inspector
 * (the same sampler as `node --cpu-prof`), summarised as the functions with
 * the most self time.
 */
import { Session } from "node:inspector/promises"
import { relative } from "node:path"
import { fileURLToPath } from "node:url"

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface Hotspot {
  readonly fn: string
  readonly where: string
  readonly selfPercent: number
}

export interface ProfileSummary {
  readonly hotspots: ReadonlyArray<Hotspot>
  /** Self time by area: Warden's sources, effect, jose, node internals, ... */
  readonly areas: ReadonlyArray<{ readonly area: string; readonly selfPercent: number }>
  readonly samples: number
}

const root = fileURLToPath(new URL("../..", import.meta.url))

const where = (url: string, line: number): string => {
  if (url === "") return "(native)"
  const path = url.startsWith("file://") ? relative(root, fileURLToPath(url)) : url
  return `${path.replace(/^node_modules\//, "")}:${line + 1}`
}

const areaOf = (url: string, fn: string): string => {
  if (url === "") {
    if (fn === "(garbage collector)") return "garbage collector"
    if (fn === "(idle)") return "idle (waiting: timers, I/O, the crypto thread pool)"
    if (fn === "run" || fn === "SignJob") return "signature checks (node:crypto, native)"
    return "native/V8"
  }
  if (url.startsWith("node:")) return "node internals"
  if (url.includes("/packages/jwt/")) return "@warden/jwt"
  if (url.includes("/packages/core/")) return "@warden/core"
  if (url.includes("/packages/rpc/")) return "@warden/rpc"
  if (url.includes("/node_modules/effect/")) return "effect"
  if (url.includes("/node_modules/@effect/rpc/")) return "@effect/rpc"
  if (url.includes("/node_modules/@effect/platform")) return "@effect/platform"
  if (url.includes("/node_modules/jose/")) return "jose"
  if (url.includes("/bench/")) return "bench harness"
  return "other"
}

/** Profiles `work` (called in a loop) for about `durationMs`. */
export const profile = async (
  work: () => unknown,
  durationMs: number,
  topN = 12
): Promise<ProfileSummary> => {
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 100 })
  await session.post("Profiler.start")
  const deadline = performance.now() + durationMs
  for (let i = 0; i < 10_000_000 && performance.now() < deadline; i++) await work()
  const { profile: raw } = await session.post("Profiler.stop") as unknown as { profile: Profile }
  await session.post("Profiler.disable")
  session.disconnect()

  const byId = new Map(raw.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  let total = 0
  let samples = 0
  raw.samples.forEach((id, i) => {
    const { functionName, url } = byId.get(id)!.callFrame
    // The inspector's native `dispatch` is the profiler serialising its own profile on `Profiler.stop` (it shows
    // up in a profile of a plain arithmetic loop too): not the workload's time.
    if (url === "" && functionName === "dispatch") return
    const dt = raw.timeDeltas[i] ?? 0
    self.set(id, (self.get(id) ?? 0) + dt)
    total += dt
    samples++
  })
  const byFunction = new Map<string, { fn: string; where: string; time: number }>()
  const byArea = new Map<string, number>()
  for (const [id, time] of self) {
    const { functionName, lineNumber, url } = byId.get(id)!.callFrame
    const fn = functionName === "" ? "(anonymous)" : functionName
    const key = `${fn}@${url}:${lineNumber}`
    const entry = byFunction.get(key) ?? { fn, where: where(url, lineNumber), time: 0 }
    entry.time += time
    byFunction.set(key, entry)
    const area = areaOf(url, fn)
    byArea.set(area, (byArea.get(area) ?? 0) + time)
  }
  const pct = (t: number) => total === 0 ? 0 : (100 * t) / total
  return {
    hotspots: [...byFunction.values()]
      .sort((a, b) => b.time - a.time)
      .slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, selfPercent: pct(e.time) })),
    areas: [...byArea.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, time]) => ({ area, selfPercent: pct(time) })),
    samples
  }
}
