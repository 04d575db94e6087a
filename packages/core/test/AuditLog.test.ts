import { describe, expect, it } from "@effect/vitest"
import { AuditLog, Tenant } from "@warden/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { isoTime } from "../src/internal/time.js"

const tenant = Schema.decodeSync(Tenant.TenantId)

const event = (
  id: string,
  tenantId: string,
  decision: AuditLog.AuditEvent["decision"] = "allowed"
): AuditLog.AuditEvent => ({
  time: "2025-01-01T00:00:00.000Z",
  tenant: tenant(tenantId),
  subject: `subject-${id}`,
  clientId: null,
  procedure: `Procedure${id}`,
  decision,
  reason: decision === "allowed" ? "scope orders.read" : "missing_scope",
  requirement: "scope orders.read",
  traceId: null
})

const record = (e: AuditLog.AuditEvent) => Effect.flatMap(AuditLog.AuditLog, (log) => log.record(e))

describe("AuditLog.layerMemory", () => {
  it.effect("gives back every recorded event, in order", () =>
    Effect.gen(function*() {
      const events = [event("1", "acme"), event("2", "globex", "denied"), event("3", "acme", "denied")]
      for (const e of events) yield* record(e)
      const trail = yield* AuditLog.AuditTrail
      expect(yield* trail.all).toEqual(events)
    }).pipe(Effect.provide(AuditLog.layerMemory)))

  it.effect("gives back the events of one tenant, in order", () =>
    Effect.gen(function*() {
      const first = event("1", "acme")
      const second = event("2", "globex", "denied")
      const third = event("3", "acme", "denied")
      yield* record(first)
      yield* record(second)
      yield* record(third)
      const trail = yield* AuditLog.AuditTrail
      expect(yield* trail.byTenant("acme")).toEqual([first, third])
      expect(yield* trail.byTenant("globex")).toEqual([second])
      expect(yield* trail.byTenant("initech")).toEqual([])
      expect(yield* trail.byTenant("Acme")).toEqual([])
    }).pipe(Effect.provide(AuditLog.layerMemory)))

  it.effect("starts empty", () =>
    Effect.gen(function*() {
      const trail = yield* AuditLog.AuditTrail
      expect(yield* trail.all).toEqual([])
      expect(yield* trail.byTenant("acme")).toEqual([])
    }).pipe(Effect.provide(AuditLog.layerMemory)))

  it.effect("keeps separate events for each build of the layer", () =>
    Effect.gen(function*() {
      yield* record(event("1", "acme")).pipe(Effect.provide(AuditLog.layerMemory))
      const all = yield* Effect.flatMap(AuditLog.AuditTrail, (trail) => trail.all).pipe(
        Effect.provide(AuditLog.layerMemory)
      )
      expect(all).toEqual([])
    }))
})

describe("AuditLog.layerLogger", () => {
  it.effect("logs one line per event, annotated with its fields", () =>
    Effect.gen(function*() {
      const lines: Array<{ readonly message: unknown; readonly annotations: Record<string, unknown> }> = []
      const capture = Logger.add(Logger.make(({ annotations, message }) => {
        lines.push({ message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
      }))
      yield* record(event("1", "acme", "denied")).pipe(Effect.provide(Layer.merge(AuditLog.layerLogger, capture)))
      expect(lines).toHaveLength(1)
      expect(lines[0]!.message).toEqual(["warden.audit denied Procedure1"])
      expect(lines[0]!.annotations).toEqual({
        "warden.audit.tenant": "acme",
        "warden.audit.subject": "subject-1",
        "warden.audit.procedure": "Procedure1",
        "warden.audit.decision": "denied",
        "warden.audit.reason": "missing_scope",
        "warden.audit.requirement": "scope orders.read",
        "warden.audit.trace_id": ""
      })
    }))
})

describe("decision times", () => {
  it.prop(
    "are formatted as toISOString formats them, in any order of calls",
    [FastCheck.array(FastCheck.integer({ min: 0, max: 253_402_300_799_999 }), { minLength: 1, maxLength: 50 })],
    ([times]) => {
      // Runs of nearby times exercise the per-second and per-millisecond reuse.
      for (
        const t of times.flatMap((t) => [t, t, t + 1, t + 999, t - 1].filter((x) => x >= 0 && x <= 253_402_300_799_999))
      ) {
        expect(isoTime(t)).toBe(new Date(t).toISOString())
      }
    },
    { fastCheck: { numRuns: 300 } }
  )
})

describe("AuditLog.buffered", () => {
  const droppedCount = Effect.map(Metric.value(AuditLog.metrics.dropped), (s) => s.count)
  const waitUntil = (done: () => boolean) =>
    Effect.gen(function*() {
      for (let i = 0; i < 2000 && !done(); i++) yield* Effect.sleep("1 millis")
      expect(done()).toBe(true)
    })

  it.live("loses nothing while a slow sink keeps up, writing in batches in the order recorded", () =>
    Effect.gen(function*() {
      const batches: Array<ReadonlyArray<AuditLog.AuditEvent>> = []
      const droppedBefore = yield* droppedCount
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* AuditLog.buffered((batch) =>
          Effect.andThen(Effect.sleep("2 millis"), () => void batches.push(batch))
        )
        yield* Effect.forEach(
          Array.from({ length: 8 }, (_, writer) => writer),
          (writer) =>
            Effect.forEach(
              Array.from({ length: 500 }, (_, i) => event(`${writer}-${i}`, "acme")),
              (e) => Effect.zipRight(log.record(e), Effect.yieldNow())
            ),
          { concurrency: "unbounded" }
        )
      }))
      const written = batches.flat()
      expect(written).toHaveLength(4000)
      for (let writer = 0; writer < 8; writer++) {
        const own = written.filter((e) => e.subject!.startsWith(`subject-${writer}-`)).map((e) => e.subject)
        expect(own).toEqual(Array.from({ length: 500 }, (_, i) => `subject-${writer}-${i}`))
      }
      expect(batches.length).toBeLessThan(4000)
      expect(yield* droppedCount).toBe(droppedBefore)
    }))

  it.scoped("wakes its writer once per batch: at flushAfter events, or flushInterval after the first, on a real timer", () =>
    Effect.gen(function*() {
      const batches: Array<number> = []
      const log = yield* AuditLog.buffered((batch) => Effect.sync(() => void batches.push(batch.length)), {
        flushAfter: 4,
        flushInterval: "20 millis"
      })
      // Under the test clock, which nothing here adjusts: the interval is real time, and so is the waiting.
      expect(yield* TestClock.currentTimeMillis).toBe(0)
      const realWaitUntil = (done: () => boolean) =>
        Effect.gen(function*() {
          for (let i = 0; i < 2000 && !done(); i++) {
            yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))
          }
          expect(done()).toBe(true)
        })
      for (let i = 0; i < 4; i++) yield* log.record(event(`${i}`, "acme"))
      yield* realWaitUntil(() => batches.length === 1)
      expect(batches).toEqual([4])
      yield* log.record(event("4", "acme"))
      yield* log.record(event("5", "acme"))
      const start = Date.now()
      yield* realWaitUntil(() => batches.length === 2)
      expect(batches).toEqual([4, 2])
      expect(Date.now() - start).toBeGreaterThanOrEqual(15)
    }))

  it.live("never waits on a stuck sink: past its capacity events are dropped and counted", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      let written = 0
      const droppedBefore = yield* droppedCount
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* AuditLog.buffered(
          (batch) => Effect.andThen(Deferred.await(release), () => void (written += batch.length)),
          { capacity: 10, maxBatch: 1 }
        )
        for (let i = 0; i < 25; i++) yield* log.record(event(String(i), "acme"))
        // Every record returned while the sink had written nothing.
        expect(written).toBe(0)
        yield* Deferred.succeed(release, undefined)
        yield* waitUntil(() => written > 0)
      }))
      const dropped = (yield* droppedCount) - droppedBefore
      expect(dropped).toBeGreaterThanOrEqual(14)
      expect(written + dropped).toBe(25)
    }))

  it.live("while the sink fails, records are refused as unavailable; the failed batch is written when it recovers", () =>
    Effect.gen(function*() {
      let healthy = false
      let attempts = 0
      const written: Array<AuditLog.AuditEvent> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* AuditLog.buffered(
          (batch) =>
            Effect.suspend(() => {
              attempts++
              return healthy ? Effect.sync(() => void written.push(...batch)) : Effect.fail("disk full")
            }),
          { retryBase: "5 millis" }
        )
        yield* log.record(event("1", "acme"))
        yield* waitUntil(() => attempts >= 1)
        yield* Effect.sleep("1 millis")
        expect(yield* Effect.flip(log.record(event("x", "acme")))).toMatchObject({ _tag: "AuditUnavailable" })
        healthy = true
        yield* waitUntil(() => written.length > 0)
        yield* log.record(event("2", "acme"))
      }))
      expect(written.map((e) => e.subject)).toEqual(["subject-1", "subject-2"])
    }))
})
