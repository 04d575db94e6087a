/**
 * The helpers run a protected group as a given principal, in memory and over
 * real loopback HTTP, with the same outcomes on both, and with the TestClock
 * deciding when tokens expire.
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import { expect, layer } from "@effect/vitest"
import { AuditLog, CurrentScopes, CurrentTenant, CurrentUser, Policy, Principal } from "@warden/core"
import { Protected } from "@warden/rpc"
import { Mutation, TestIdentityProvider, TestRpc } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

const Seen = Schema.Struct({ subject: Schema.String, tenant: Schema.String, scopes: Schema.Array(Schema.String) })

const Api = Protected.group(
  RpcGroup.make(
    Rpc.make("Whoami", { success: Seen }),
    Rpc.make("Reserve", { payload: { sku: Schema.String }, success: Schema.String }),
    Rpc.make("Health", { success: Schema.String }),
    Rpc.make("Ticks", { success: Schema.Number, stream: true })
  ),
  {
    Whoami: Policy.authenticated,
    Reserve: Policy.scope("orders.write"),
    Health: Protected.Public,
    Ticks: Policy.authenticated
  }
)

const Handlers = Protected.toLayer(Api, {
  Whoami: () =>
    Effect.gen(function*() {
      const user = yield* CurrentUser
      const { scopes } = yield* CurrentScopes
      return { subject: user.subject, tenant: yield* CurrentTenant, scopes: scopes.tokens }
    }),
  Reserve: ({ sku }) => Effect.map(CurrentTenant, (tenant) => `${tenant}:${sku}`),
  Health: () => Effect.succeed("ok"),
  Ticks: () => Stream.fromSchedule(Schedule.spaced("1 second"))
})

const Server = Layer.mergeAll(Handlers, TestRpc.layerServer()).pipe(Layer.provideMerge(TestIdentityProvider.layer()))

const issuer = "https://identity.test"
const alice = Principal.make({
  subject: "alice",
  tenant: "acme",
  tenants: ["initech"],
  issuer,
  scopes: ["orders.write"]
})
const carol = Principal.make({ subject: "carol", tenant: "acme", issuer, scopes: ["orders.read"] })

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : `not a typed failure: ${String(exit)}`

const transports = [
  ["in memory", TestRpc.inMemory(Api)],
  ["over HTTP", TestRpc.overHttp(Api)]
] as const

layer(Server)("TestRpc", (it) => {
  for (const [name, makeClient] of transports) {
    it.scoped(`${name}: a call as a principal reaches the handler with its tenant, subject and scopes`, () =>
      Effect.gen(function*() {
        const client = yield* makeClient
        expect(yield* client.Whoami().pipe(TestRpc.as(alice))).toEqual({
          subject: "alice",
          tenant: "acme",
          scopes: ["orders.write"]
        })
        expect(yield* client.Reserve({ sku: "anvil" }).pipe(TestRpc.as(alice, { tenant: "initech" }))).toBe(
          "initech:anvil"
        )
        expect(yield* client.Health()).toBe("ok")
      }))

    it.scoped(`${name}: refusals arrive typed, for the scope, the tenant, no token and a tampered one`, () =>
      Effect.gen(function*() {
        const client = yield* makeClient
        const provider = yield* TestIdentityProvider.TestIdentityProvider
        const tampered = yield* Mutation.apply(yield* provider.issue(alice), {
          _tag: "WrongTenant",
          claim: "tid",
          tenant: "globex"
        })
        const outcomes = [
          failureOf(yield* Effect.exit(client.Reserve({ sku: "a" }).pipe(TestRpc.as(carol)))),
          failureOf(yield* Effect.exit(client.Whoami().pipe(TestRpc.as(alice, { tenant: "globex" })))),
          failureOf(yield* Effect.exit(client.Whoami())),
          failureOf(yield* Effect.exit(client.Whoami().pipe(TestRpc.withToken(tampered))))
        ]
        expect(outcomes).toMatchObject([
          { _tag: "Forbidden", reason: "missing_scope" },
          { _tag: "Forbidden", reason: "tenant_not_signed" },
          { _tag: "Unauthenticated", reason: "missing_credentials", code: null },
          { _tag: "Unauthenticated", reason: "signature", code: "invalid_token" }
        ])
      }))

    it.scoped(`${name}: a token expires when the TestClock passes its exp and the verifier's skew`, () =>
      Effect.gen(function*() {
        const client = yield* makeClient
        const provider = yield* TestIdentityProvider.TestIdentityProvider
        const token = yield* provider.issue(alice, { lifetime: "60 seconds" })
        expect((yield* client.Whoami().pipe(TestRpc.withToken(token))).subject).toBe("alice")
        yield* TestRpc.advance("89 seconds")
        expect((yield* client.Whoami().pipe(TestRpc.withToken(token))).subject).toBe("alice")
        yield* TestRpc.advance("1 second", { steps: 1 })
        expect(failureOf(yield* Effect.exit(client.Whoami().pipe(TestRpc.withToken(token))))).toMatchObject({
          _tag: "Unauthenticated",
          reason: "expired"
        })
      }))

    it.scoped(`${name}: a stream ends with Unauthenticated (expired) once the TestClock passes its token's expiry`, () =>
      Effect.gen(function*() {
        const client = yield* makeClient
        const fiber = yield* client.Ticks().pipe(
          Stream.take(100),
          Stream.runCollect,
          TestRpc.as(alice, { lifetime: "10 seconds" }),
          Effect.exit,
          Effect.fork
        )
        yield* TestRpc.advance("30 seconds", { steps: 30 })
        const exit = yield* Fiber.join(fiber)
        expect(Exit.isFailure(exit) && failureOf(exit)).toMatchObject({ _tag: "Unauthenticated", reason: "expired" })
      }))
  }

  it.effect("the audit trail records each decision under the tenant it was made in", () =>
    Effect.gen(function*() {
      const trail = yield* AuditLog.AuditTrail
      const initech = yield* trail.byTenant("initech")
      expect(initech.length).toBeGreaterThan(0)
      expect(initech.every((e) => e.subject === "alice")).toBe(true)
      expect(yield* trail.byTenant("globex")).toEqual([])
    }))
})
