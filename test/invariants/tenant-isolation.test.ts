/**
 * Invariant 1: tenant isolation. For every pair of tenants A ≠ B, every
 * principal of A (user or service, single- or multi-tenant, but never
 * signing B) and every procedure of a protected group, nothing authorizes an
 * action on B's resources, and `CurrentTenant` is A (or another tenant A's
 * credential signs, when the request selects it with `x-tenant`).
 *
 * Each run calls every procedure once through Warden's middlewares with a
 * real token from the `TestIdentityProvider`, every payload naming B, and an
 * `x-tenant` header that is absent, A, B, another tenant the credential
 * signs, or any string. Handlers record what they did under `CurrentTenant`
 * in a ledger, emptied at the start of every run; the run's audit events are
 * the ones logged after it started.
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import { expect, layer } from "@effect/vitest"
import { AuditLog, CurrentTenant, Permission, Policy, Principal, Tenant } from "@warden/core"
import { Protected } from "@warden/rpc"
import { Arbitraries, TestIdentityProvider, TestRpc } from "@warden/testing"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { runs } from "./runs.js"

const Catalogue = Permission.catalogue("records:read", "records:admin", "records:export")

const Acted = Schema.Struct({ tenant: Schema.String, payloadTenant: Schema.String })
const payload = { tenant: Schema.String }

const Records = Protected.group(
  RpcGroup.make(
    Rpc.make("Read", { payload, success: Acted }),
    Rpc.make("Write", { payload: { ...payload, record: Schema.String }, success: Acted }),
    Rpc.make("Purge", { payload, success: Acted }),
    Rpc.make("Sync", { payload, success: Acted }),
    Rpc.make("Review", { payload, success: Acted }),
    Rpc.make("Export", { payload, success: Acted })
  ),
  {
    Read: Policy.authenticated,
    Write: Policy.scope("records.write"),
    Purge: Policy.permission(Catalogue, "records:admin"),
    Sync: Policy.service(),
    Review: Policy.any(Policy.scope("records.read"), Policy.permission(Catalogue, "records:read")),
    Export: Policy.all(Policy.user, Policy.permission(Catalogue, "records:export"))
  }
)

/** What the handlers did, by the tenant they did it in. */
class Ledger extends Context.Tag("test/Ledger")<Ledger, Map<string, Array<string>>>() {}

const act = (procedure: string, payloadTenant: string) =>
  Effect.gen(function*() {
    const tenant = yield* CurrentTenant
    const ledger = yield* Ledger
    ledger.set(tenant, [...(ledger.get(tenant) ?? []), procedure])
    return { tenant, payloadTenant }
  })

const Handlers = Protected.toLayer(Records, {
  Read: ({ tenant }) => act("Read", tenant),
  Write: ({ tenant }) => act("Write", tenant),
  Purge: ({ tenant }) => act("Purge", tenant),
  Sync: ({ tenant }) => act("Sync", tenant),
  Review: ({ tenant }) => act("Review", tenant),
  Export: ({ tenant }) => act("Export", tenant)
})

/** One server for the file: the handlers and their ledger, Warden's middlewares on the provider's verifier. */
const Server = Layer.mergeAll(Handlers, TestRpc.layerServer()).pipe(
  Layer.provideMerge(Layer.sync(Ledger, () => new Map())),
  Layer.provideMerge(TestIdentityProvider.layer())
)

/** The `x-tenant` a request carries. */
const Header = FastCheck.oneof(
  FastCheck.constant({ kind: "none" as const }),
  FastCheck.constant({ kind: "own" as const }),
  FastCheck.constant({ kind: "victim" as const }),
  FastCheck.constant({ kind: "signed" as const }),
  FastCheck.string({ maxLength: 12 }).map((text) => ({ kind: "any" as const, text }))
)

const Case = Arbitraries.tenantPair.chain(([a, b]) =>
  FastCheck.record({
    a: FastCheck.constant(a),
    b: FastCheck.constant(b),
    principal: Arbitraries.principal({
      tenant: FastCheck.constant(a),
      otherTenants: FastCheck.uniqueArray(Arbitraries.tenantId, { maxLength: 3 }).map((ts) =>
        ts.filter((t) => t !== b)
      ),
      scopes: Arbitraries.scopes({ from: ["records.read", "records.write", "records.admin"] }),
      permissions: Arbitraries.grants({ from: Catalogue.permissions, malformed: true })
    }),
    header: Header,
    payloadTenant: FastCheck.oneof(FastCheck.constant(b), FastCheck.string({ maxLength: 12 }))
  })
)

const headerOf = (
  header: typeof Header extends FastCheck.Arbitrary<infer H> ? H : never,
  principal: Principal.Principal,
  b: string
): string | undefined => {
  switch (header.kind) {
    case "none":
      return undefined
    case "own":
      return principal.tenant
    case "victim":
      return b
    case "signed":
      return principal.tenants.at(-1)
    case "any":
      return header.text
  }
}

const policyReasons = [
  "missing_scope",
  "missing_permission",
  "denied_permission",
  "not_a_service",
  "not_a_user",
  "no_alternative"
]

layer(Server)("invariant: tenant isolation", (it) => {
  it.effect.prop(
    "a principal of A never acts on B's resources, through any procedure, and CurrentTenant is A unless A's credential selects another of its own",
    [Case],
    ([{ a, b, header, payloadTenant, principal }]) =>
      Effect.gen(function*() {
        const provider = yield* TestIdentityProvider.TestIdentityProvider
        const token = yield* provider.issue(principal)
        const xTenant = headerOf(header, principal, b)
        const selected = xTenant === undefined ?
          a :
          Option.isSome(Tenant.decodeOption(xTenant)) && principal.signs(xTenant) ?
          xTenant :
          undefined
        expect(principal.signs(b)).toBe(false)

        const ledger = yield* Ledger
        ledger.clear()
        const trail = yield* AuditLog.AuditTrail
        const before = (yield* trail.all).length
        const client = yield* TestRpc.inMemory(Records)
        const calls = {
          Read: client.Read({ tenant: payloadTenant }),
          Write: client.Write({ tenant: payloadTenant, record: "r" }),
          Purge: client.Purge({ tenant: payloadTenant }),
          Sync: client.Sync({ tenant: payloadTenant }),
          Review: client.Review({ tenant: payloadTenant }),
          Export: client.Export({ tenant: payloadTenant })
        }
        for (const [procedure, call] of Object.entries(calls)) {
          const exit = yield* Effect.exit(
            call.pipe(TestRpc.withToken(token, xTenant === undefined ? {} : { tenant: xTenant }))
          )
          const label = `${procedure} with x-tenant ${JSON.stringify(xTenant)}`
          if (Exit.isSuccess(exit)) {
            expect(exit.value, label).toEqual({ tenant: selected, payloadTenant })
          } else {
            const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
            expect(error?._tag, `${label}: ${String(exit.cause)}`).toBe("Forbidden")
            const reason = error?._tag === "Forbidden" ? error.reason : undefined
            if (selected === undefined) expect(reason, label).toBe("tenant_not_signed")
            else expect(policyReasons, label).toContain(reason)
          }
          if (procedure === "Read" && selected !== undefined) expect(Exit.isSuccess(exit), label).toBe(true)
        }

        expect([...ledger.keys()].every((t) => t === selected)).toBe(true)
        expect(ledger.has(b)).toBe(false)
        const events = (yield* trail.all).slice(before)
        expect(events.length).toBe(Object.keys(calls).length)
        expect(events.filter((e) => e.tenant === b)).toEqual([])
        expect(events.every((e) => e.tenant === (selected ?? a) && e.subject === principal.subject)).toBe(true)
      }).pipe(Effect.scoped),
    runs()
  )
})
