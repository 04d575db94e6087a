import { describe, expect, it } from "@effect/vitest"
import { AuditLog, Tenant } from "@warden/core"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Schema from "effect/Schema"

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
