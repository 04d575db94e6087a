import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcTest from "@effect/rpc/RpcTest"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog } from "@warden/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
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
})
