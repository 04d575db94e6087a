import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcTest from "@effect/rpc/RpcTest"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog } from "@warden/core"
import { Authorization } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { Api, ServerDeps, tokenOf } from "./fixture.js"

/** A tracer that keeps every span it makes, so a test can read their attributes. */
const recordingTracer = () => {
  const spans: Array<Tracer.Span> = []
  let next = 0
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const attributes = new Map<string, unknown>()
      const traceId = Option.match(parent, { onNone: () => `trace-${next}`, onSome: (p) => p.traceId })
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: `span-${next++}`,
        traceId,
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        end: () => {},
        attribute: (key, value) => {
          attributes.set(key, value)
        },
        event: () => {},
        addLinks: () => {}
      }
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  return { spans, layer: Layer.setTracer(tracer) }
}

describe("decisions on the current span", () => {
  it.scoped("the server span carries enduser.id, tenant.id, enduser.scope and the decision; the audit event its trace id", () => {
    const recorded = recordingTracer()
    return Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      yield* client.Reserve({ tenant: "globex", sku: "a", quantity: 1 }).pipe(
        RpcClient.withHeaders({ authorization: `Bearer ${tokenOf("alice")}` })
      )
      yield* Effect.exit(
        client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(
          RpcClient.withHeaders({ authorization: `Bearer ${tokenOf("carol")}` })
        )
      )
      const server = recorded.spans.filter((s) => s.name === "RpcServer.Reserve")
      expect(server.map((s) => Object.fromEntries(s.attributes))).toMatchObject([
        {
          "enduser.id": "alice",
          "tenant.id": "acme",
          "enduser.scope": "orders.write openid",
          "warden.decision": "allowed",
          "warden.reason": "scope orders.write"
        },
        {
          "enduser.id": "carol",
          "tenant.id": "acme",
          "enduser.scope": "orders.read",
          "warden.decision": "denied",
          "warden.reason": "missing_scope",
          "warden.requirement": "scope orders.write"
        }
      ])
      const events = yield* (yield* AuditLog.AuditTrail).all
      expect(events.map((e) => e.traceId)).toEqual(server.map((s) => s.traceId))
    }).pipe(Effect.provide(ServerDeps), Effect.provide(recorded.layer))
  })

  it.scoped("a refused unauthenticated caller leaves the procedure and the reason on the span and in the audit log", () => {
    const recorded = recordingTracer()
    const forged = "forged.token-Zq9_never-logged"
    return Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      yield* Effect.exit(client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }))
      yield* Effect.exit(
        client.ReadStock({ tenant: "acme" }).pipe(RpcClient.withHeaders({ authorization: `Bearer ${forged}` }))
      )
      const server = recorded.spans.filter((s) => s.name.startsWith("RpcServer."))
      expect(server.map((s) => Object.fromEntries(s.attributes))).toMatchObject([
        { "warden.decision": "denied", "warden.reason": "missing_credentials" },
        { "warden.decision": "denied", "warden.reason": "inactive" }
      ])
      for (const span of server) expect(span.attributes.has("enduser.id")).toBe(false)
      const events = yield* (yield* AuditLog.AuditTrail).all
      expect(events).toMatchObject([
        { tenant: null, subject: null, procedure: "Reserve", decision: "denied", reason: "missing_credentials" },
        { tenant: null, subject: null, procedure: "ReadStock", decision: "denied", reason: "inactive" }
      ])
      expect(events.map((e) => e.traceId)).toEqual(server.map((s) => s.traceId))
      expect(JSON.stringify(events)).not.toContain(forged)
    }).pipe(Effect.provide(ServerDeps), Effect.provide(recorded.layer))
  })

  it.scoped("refusals are counted by reason, unauthenticated ones included", () =>
    Effect.gen(function*() {
      const count = (reason: string) =>
        Effect.map(Metric.value(Metric.tagged(Authorization.metrics.refusals, "reason", reason)), (s) => s.count)
      const before = { missing: yield* count("missing_credentials"), scope: yield* count("missing_scope") }
      const client = yield* RpcTest.makeClient(Api)
      yield* Effect.exit(client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }))
      yield* Effect.exit(client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }))
      yield* Effect.exit(
        client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(
          RpcClient.withHeaders({ authorization: `Bearer ${tokenOf("carol")}` })
        )
      )
      expect(yield* count("missing_credentials")).toBe(before.missing + 2)
      expect(yield* count("missing_scope")).toBe(before.scope + 1)
    }).pipe(Effect.provide(ServerDeps)))
})
