import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type * as Quickstart from "../src/quickstart.js"
import type { Report } from "../src/scenario.js"
import { scenario, withTelemetry } from "../src/scenario.js"
import type { SpanView } from "../src/telemetry.js"
import { serviceAttribute } from "../src/telemetry.js"

/** The RPC server spans of one trace, by service. */
const serverSpans = (report: Report, traceId: string, service: string): ReadonlyArray<SpanView> =>
  report.spans.filter((s) =>
    s.traceId === traceId && s.name.startsWith("RpcServer.") && s.attributes[serviceAttribute] === service
  )

/** The closest RpcServer span above `span`. */
const serverParent = (report: Report, span: SpanView): SpanView | undefined => {
  const byId = new Map(report.spans.map((s) => [s.spanId, s]))
  let parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId)
  for (let i = 0; parent !== undefined && i < 64; i++) {
    if (parent.name.startsWith("RpcServer.")) return parent
    parent = parent.parentSpanId === undefined ? undefined : byId.get(parent.parentSpanId)
  }
  return undefined
}

/** The gateway's REST span above `span`. */
const gatewayParent = (report: Report, span: SpanView): SpanView | undefined => {
  const byId = new Map(report.spans.map((s) => [s.spanId, s]))
  let parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId)
  for (let i = 0; parent !== undefined && i < 64; i++) {
    if (parent.name.startsWith("http.server") && parent.attributes[serviceAttribute] === "gateway") return parent
    parent = parent.parentSpanId === undefined ? undefined : byId.get(parent.parentSpanId)
  }
  return undefined
}

describe("the shop scenario: identity, orders and inventory over HTTP on loopback", () => {
  it.live("every step decides as the story says, and the spans and audit files agree", () =>
    Effect.gen(function*() {
      const report = yield* withTelemetry(scenario(mkdtempSync(join(tmpdir(), "warden-shop-"))))
      const step = (n: number) => report.steps.find((s) => s.n === n)!
      expect(report.steps.map((s) => [s.n, s.outcome])).toEqual([
        [1, "allowed"],
        [2, "refused"],
        [3, "refused"],
        [4, "refused"],
        [5, "refused"],
        [6, "allowed"],
        [7, "refused"],
        [8, "allowed"],
        [9, "refused"],
        [10, "refused"],
        [11, "refused"],
        [12, "refused"]
      ])

      // 1. The happy path: both services see tenant acme, user alice, scope orders.write; the inventory sees orders as
      //    the acting service (the token orders exchanged for it).
      expect(step(1).detail).toContain(
        "orders saw tenant=acme user=alice; inventory saw tenant=acme user=alice actor=orders"
      )
      for (const service of ["orders", "inventory"]) {
        const [span] = serverSpans(report, step(1).traceId, service)
        expect(span?.attributes).toMatchObject({
          "enduser.id": "alice",
          "tenant.id": "acme",
          "warden.decision": "allowed"
        })
        expect(String(span?.attributes["enduser.scope"]).split(" ")).toContain("orders.write")
      }
      const [reserve] = serverSpans(report, step(1).traceId, "inventory")
      expect(serverParent(report, reserve!)?.attributes[serviceAttribute]).toBe("orders")
      // The REST hop is above the RPC hops, and every hop agrees on the tenant.
      expect(step(1).detail).toContain("gateway saw tenant=acme user=alice")
      const [placeOrder] = serverSpans(report, step(1).traceId, "orders")
      const gateway = gatewayParent(report, placeOrder!)
      expect(gateway?.attributes).toMatchObject({
        [serviceAttribute]: "gateway",
        "url.path": "/api/orders",
        "enduser.id": "alice",
        "tenant.id": "acme",
        "warden.decision": "allowed"
      })
      expect(report.audit.gateway).toContainEqual(
        expect.objectContaining({ tenant: "acme", subject: "alice", procedure: "api.placeOrder", decision: "allowed" })
      )

      // The REST stock read: the gateway forwards to the inventory, which answers for alice's own tenant.
      expect(report.restStock).toEqual({
        status: 200,
        body: {
          gateway: { tenant: "acme", user: "alice" },
          tenant: "acme",
          sku: "anvil",
          available: expect.any(Number)
        }
      })

      // The reports service with an API key: allowed at the gateway and, forwarded, at the inventory.
      expect(report.apiKeyStock).toEqual({
        status: 200,
        body: {
          gateway: { tenant: "acme", user: "reports" },
          tenant: "acme",
          sku: "anvil",
          available: expect.any(Number)
        }
      })
      expect(report.audit.inventory).toContainEqual(
        expect.objectContaining({ subject: "reports", tenant: "acme", decision: "allowed" })
      )

      // Orders over mTLS, by its certificate alone; refused without one.
      expect(report.mtls.withCertificate).toEqual({
        status: 200,
        body: { caller: "orders", tenant: "acme", available: expect.any(Number) }
      })
      expect(report.mtls.without).toMatchObject({ status: 401, body: { reason: "missing_credentials" } })

      // 2. The leak attempt: refused at orders, audited under acme, globex's stock untouched.
      expect(step(2).reason).toBe("Forbidden (insufficient_scope, tenant_not_signed)")
      expect(report.stock.globexAfter).toBe(report.stock.globexBefore)
      expect(serverSpans(report, step(2).traceId, "inventory")).toEqual([])
      expect(serverSpans(report, step(2).traceId, "orders")[0]?.attributes).toMatchObject({
        "enduser.id": "alice",
        "tenant.id": "acme",
        "warden.decision": "denied",
        "warden.reason": "tenant_not_signed"
      })
      expect(report.audit.orders).toContainEqual(
        expect.objectContaining({ tenant: "acme", subject: "alice", decision: "denied", reason: "tenant_not_signed" })
      )
      expect(report.audit.orders.some((e) => e.tenant === "globex" && e.subject === "alice")).toBe(false)

      // 3. Missing scope: orders allows, inventory refuses with insufficient_scope.
      expect(step(3).reason).toBe("Forbidden (insufficient_scope, missing_scope)")
      expect(serverSpans(report, step(3).traceId, "inventory")[0]?.attributes).toMatchObject({
        "enduser.id": "carol",
        "warden.decision": "denied",
        "warden.reason": "missing_scope"
      })

      // 4. and 5. Refused at orders before anything reaches the inventory.
      expect(step(4).reason).toBe("MissingCredentials")
      expect(step(4).detail).toContain("inventory (no token)")
      expect(step(5).reason).toBe("Unauthenticated (invalid_token, expired)")
      for (const n of [4, 5]) expect(serverSpans(report, step(n).traceId, "inventory")).toEqual([])

      // 6. Key rotation mid-burst: no failure, and the new key is published beside the old.
      expect(report.burst).toMatchObject({ orders: 40, failed: 0 })
      expect(report.burst.kids).toHaveLength(2)
      expect(report.burst.signedByNewKey).toBe(20)

      // 7. The stream ran, then ended with its token.
      expect(step(7).reason).toBe("Unauthenticated (invalid_token, expired)")
      expect(step(7).detail).toMatch(/^[1-9]\d* stock readings, then: the token expired during the stream$/)

      // 8. and 9. The same token, the same call: allowed in acme where dave is a clerk, refused in globex where he is
      // only an auditor, by the permission his role there lacks; globex's stock untouched.
      expect(step(8).detail).toBe(`acme anvils ${report.adjusted.acme.before} -> ${report.adjusted.acme.before + 10}`)
      expect(report.adjusted.acme.after).toBe(report.adjusted.acme.before + 10)
      expect(step(9).reason).toBe("Forbidden (insufficient_scope, missing_permission)")
      expect(step(9).detail).toBe("the permission 'inventory:stock:adjust' is not granted")
      expect(report.adjusted.globex.after).toBe(report.adjusted.globex.before)
      expect(serverSpans(report, step(8).traceId, "inventory")[0]?.attributes).toMatchObject({
        "enduser.id": "dave",
        "tenant.id": "acme",
        "warden.decision": "allowed",
        "warden.reason": "permission inventory:stock:adjust"
      })
      expect(serverSpans(report, step(9).traceId, "inventory")[0]?.attributes).toMatchObject({
        "enduser.id": "dave",
        "tenant.id": "globex",
        "warden.decision": "denied",
        "warden.reason": "missing_permission",
        "warden.requirement": "permission inventory:stock:adjust"
      })
      expect(report.audit.inventory).toContainEqual(
        expect.objectContaining({
          tenant: "globex",
          subject: "dave",
          procedure: "AdjustStock",
          decision: "denied",
          reason: "missing_permission"
        })
      )

      // 10. The user's own token, forwarded: accepted by the inventory as alice's, refused for want of an actor.
      expect(step(10).reason).toBe("Forbidden (insufficient_scope, no_actor)")
      expect(serverSpans(report, step(10).traceId, "inventory")[0]?.attributes).toMatchObject({
        "enduser.id": "alice",
        "tenant.id": "acme",
        "warden.decision": "denied",
        "warden.reason": "no_actor",
        "warden.requirement": "actor orders"
      })

      // 11. A logout at identity, then the token at each service: refused everywhere, as revoked.
      expect(step(11).reason).toBe("Unauthenticated (invalid_token, revoked)")
      expect(step(11).detail).toBe(
        "before the logout orders allowed it; logout answered 200; then gateway, orders, inventory: " +
          "revoked, revoked, revoked"
      )
      for (const service of ["orders", "inventory"]) {
        expect(serverSpans(report, step(11).traceId, service)[0]?.attributes).toMatchObject({
          "warden.decision": "denied",
          "warden.reason": "revoked"
        })
      }

      // 12. The replayed refresh token is refused, and the whole session ends with it: the access token the refresh
      //     had just issued (which worked) and the newest refresh token are refused too.
      expect(step(12).reason).toBe("replay invalid_grant; Unauthenticated (invalid_token, revoked)")
      expect(step(12).detail).toBe(
        "the refreshed token worked (allowed) until the replay (400 invalid_grant); then her newest refresh token: " +
          "400 invalid_grant, her newest access token at orders: the token has been revoked"
      )

      // Both services' spans agree on tenant.id for every request that reached the inventory.
      const reservations = report.spans.filter((s) =>
        s.name === "RpcServer.Reserve" && s.attributes[serviceAttribute] === "inventory"
      )
      expect(reservations.length).toBeGreaterThanOrEqual(42)
      for (const span of reservations) {
        expect(serverParent(report, span)?.attributes["tenant.id"]).toBe(span.attributes["tenant.id"])
      }

      // Every audit line carries the trace of its request.
      const traces = new Set(report.spans.map((s) => s.traceId))
      for (const event of [...report.audit.orders, ...report.audit.inventory]) {
        expect(traces.has(event.traceId!)).toBe(true)
      }
    }), 60_000)
})

describe("the README", () => {
  it("quick start is examples/shop/src/quickstart.ts, which type-checks with the workspace", () => {
    const root = fileURLToPath(new URL("../../..", import.meta.url))
    const readme = readFileSync(`${root}/README.md`, "utf8")
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(block).toBe(readFileSync(`${root}/examples/shop/src/quickstart.ts`, "utf8"))
    expect(block?.trimEnd().split("\n").length).toBeLessThan(30)
    // Complete: nothing is left to provide, so Layer.launch(Server) runs as it is.
    expectTypeOf<Layer.Layer.Context<typeof Quickstart.Server>>().toEqualTypeOf<never>()
  })
})
