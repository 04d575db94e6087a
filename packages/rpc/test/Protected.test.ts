import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcTest from "@effect/rpc/RpcTest"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog } from "@warden/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import { Api, AuthCount, ServerDeps, tokenOf } from "./fixture.js"
import type { Who } from "./fixture.js"

const as = (who: Who | undefined, extra: Record<string, string> = {}) =>
  RpcClient.withHeaders(who === undefined ? extra : { authorization: `Bearer ${tokenOf(who)}`, ...extra })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return failure
}

describe("Protected.group over the in-memory protocol", () => {
  it.scoped("an allowed caller sees its own tenant, user and scopes", () =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      const seen = yield* client.Reserve({ tenant: "acme", sku: "apple", quantity: 1 }).pipe(as("alice"))
      expect(seen).toEqual({
        tenant: "acme",
        subject: "alice",
        scopes: ["orders.write", "openid"],
        payloadTenant: "acme"
      })
    }).pipe(Effect.provide(ServerDeps)))

  it.scoped("each call sees only its own caller: nothing carries over to the next call, protected or public", () =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      const reserve = (who: Who) => client.Reserve({ tenant: "x", sku: "a", quantity: 1 }).pipe(as(who))
      const calls = Array.from({ length: 40 }, (_, i) =>
        i % 3 === 0 ?
          Effect.map(client.Health().pipe(as(i % 2 === 0 ? "alice" : undefined)), (health) => ({ health, i })) :
          Effect.map(reserve(i % 2 === 0 ? "alice" : "bob"), (seen) => ({ seen, i })))
      for (const concurrency of [1, 8]) {
        for (const result of yield* Effect.all(calls, { concurrency })) {
          if ("health" in result) expect(result.health).toBe("ok")
          else expect(result.seen.subject).toBe(result.i % 2 === 0 ? "alice" : "bob")
        }
      }
    }).pipe(Effect.provide(ServerDeps)))

  it.scoped("a payload naming another tenant changes nothing: CurrentTenant is the caller's", () =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      const seen = yield* client.Reserve({ tenant: "globex", sku: "apple", quantity: 1 }).pipe(as("alice"))
      expect(seen.tenant).toBe("acme")
      expect(seen.payloadTenant).toBe("globex")
    }).pipe(Effect.provide(ServerDeps)))

  it.scoped("an x-tenant header naming an unsigned tenant is Forbidden, and audited", () =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      const error = failureOf(
        yield* Effect.exit(
          client.Reserve({ tenant: "globex", sku: "a", quantity: 1 }).pipe(as("alice", { "x-tenant": "globex" }))
        )
      )
      expect(error).toMatchObject({ _tag: "Forbidden", reason: "tenant_not_signed", code: "insufficient_scope" })
      const trail = yield* AuditLog.AuditTrail
      expect(yield* trail.byTenant("acme")).toMatchObject([
        { decision: "denied", reason: "tenant_not_signed", subject: "alice", procedure: "Reserve" }
      ])
      expect(yield* trail.byTenant("globex")).toEqual([])
    }).pipe(Effect.provide(ServerDeps)))

  it.scoped("a credential signing several tenants may select one of them with x-tenant, and only those", () =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      const own = yield* client.Reserve({ tenant: "x", sku: "a", quantity: 1 }).pipe(as("dave"))
      const selected = yield* client.Reserve({ tenant: "x", sku: "a", quantity: 1 }).pipe(
        as("dave", { "x-tenant": "initech" })
      )
      expect([own.tenant, selected.tenant]).toEqual(["acme", "initech"])
      for (const header of ["globex", "Initech", "initech ", "acme, initech", ""]) {
        const error = failureOf(
          yield* Effect.exit(
            client.Reserve({ tenant: "x", sku: "a", quantity: 1 }).pipe(as("dave", { "x-tenant": header }))
          )
        )
        expect(error).toMatchObject({ _tag: "Forbidden", reason: "tenant_not_signed" })
      }
    }).pipe(Effect.provide(ServerDeps)))

  it.scoped("a caller without the required scope is refused with insufficient_scope naming the scope", () =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      const error = failureOf(
        yield* Effect.exit(client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(as("carol")))
      )
      expect(error).toMatchObject({
        _tag: "Forbidden",
        code: "insufficient_scope",
        reason: "missing_scope",
        requirement: "scope orders.write",
        scope: "orders.write"
      })
      const trail = yield* AuditLog.AuditTrail
      expect(yield* trail.byTenant("acme")).toMatchObject([
        { decision: "denied", reason: "missing_scope", requirement: "scope orders.write", subject: "carol" }
      ])
    }).pipe(Effect.provide(ServerDeps)))

  it.scoped("permissions: a wildcard grant allows, a deny wins over it", () =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      const allowed = yield* client.ReadStock({ tenant: "acme" }).pipe(as("dave"))
      expect(allowed.subject).toBe("dave")
      const error = failureOf(yield* Effect.exit(client.ReadStock({ tenant: "acme" }).pipe(as("erin"))))
      expect(error).toMatchObject({ _tag: "Forbidden", reason: "denied_permission" })
      const trail = yield* AuditLog.AuditTrail
      expect((yield* trail.byTenant("acme")).map((e) => [e.subject, e.decision, e.reason])).toEqual([
        ["dave", "allowed", "permission inventory:*"],
        ["erin", "denied", "denied_permission"]
      ])
    }).pipe(Effect.provide(ServerDeps)))

  it.scoped("an anonymous caller is Unauthenticated with no error code; a bad token is invalid_token", () =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      const anonymous = failureOf(
        yield* Effect.exit(client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(as(undefined)))
      )
      expect(anonymous).toMatchObject({ _tag: "Unauthenticated", code: null, reason: "missing_credentials" })
      const unknown = failureOf(
        yield* Effect.exit(
          client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(
            RpcClient.withHeaders({ authorization: "Bearer nope" })
          )
        )
      )
      expect(unknown).toMatchObject({ _tag: "Unauthenticated", code: "invalid_token" })
      const basic = failureOf(
        yield* Effect.exit(
          client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(
            RpcClient.withHeaders({ authorization: "Basic YTpi" })
          )
        )
      )
      expect(basic).toMatchObject({ _tag: "Unauthenticated", code: "invalid_request", reason: "malformed_header" })
    }).pipe(Effect.provide(ServerDeps)))

  it.scoped("a Public procedure needs no credentials", () =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      expect(yield* client.Health()).toBe("ok")
      expect(yield* Ref.get(yield* AuthCount)).toBe(0)
    }).pipe(Effect.provide(ServerDeps)))

  it.scoped("the credentials are authenticated once per request, though four Warden middlewares run", () =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Api)
      const count = yield* AuthCount
      yield* client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(as("alice"))
      expect(yield* Ref.get(count)).toBe(1)
      yield* client.Unguarded().pipe(as("bob"))
      expect(yield* Ref.get(count)).toBe(2)
      yield* Effect.exit(client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(as("carol")))
      expect(yield* Ref.get(count)).toBe(3)
      yield* Effect.exit(client.Reserve({ tenant: "acme", sku: "a", quantity: 1 }).pipe(as(undefined)))
      expect(yield* Ref.get(count)).toBe(3)
    }).pipe(Effect.provide(ServerDeps)))
})
