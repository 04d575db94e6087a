import { describe, expect, it } from "@effect/vitest"
import {
  AuditLog,
  Authenticator,
  Credential,
  GrantSource,
  Guard,
  Permission,
  Policy,
  Principal,
  Scopes,
  Unauthenticated
} from "@warden/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"

const issuer = "https://identity.test"
const people = {
  alice: Principal.make({ subject: "alice", tenant: "acme", issuer, scopes: ["orders.write"] }),
  dave: Principal.make({
    subject: "dave",
    tenant: "acme",
    tenants: ["initech"],
    issuer,
    scopes: ["orders.read"],
    permissions: { allow: ["orders:*"], deny: ["orders:delete"] }
  })
} as const
const Table = Authenticator.layerTest(Object.entries(people).map(([who, p]) => [`tok-${who}`, p] as const))
const Catalogue = Permission.catalogue("orders:read", "orders:delete")

const request = (
  token: string | Either.Either<Credential.Credential, Unauthenticated>,
  operation: Partial<Guard.Operation> = {},
  tenant?: string
): Guard.Request => ({
  credential: typeof token === "string" ? Either.right(Credential.bearer(token)) : token,
  tenant,
  operation: { name: "Op", resolve: true, policy: Policy.authenticated, ...operation }
})

const run = (r: Guard.Request) => Effect.flatMap(Guard.Guard, (guard) => Effect.either(guard.run(r)))
const trail = Effect.flatMap(AuditLog.AuditTrail, (t) => t.all)
const Live = Guard.layer.pipe(Layer.provideMerge(Table), Layer.provideMerge(AuditLog.layerMemory))

describe("Guard.selectTenant (pure)", () => {
  it("is the principal's own without a selector, a signed one when selected, and refused otherwise", () => {
    expect(Guard.selectTenant(people.dave, undefined)).toEqual(Either.right("acme"))
    expect(Guard.selectTenant(people.dave, "initech")).toEqual(Either.right("initech"))
    for (const bad of ["globex", "Initech", "init ech", ""]) {
      const refused = Guard.selectTenant(people.dave, bad)
      expect(Either.isLeft(refused) && refused.left.reason).toBe("tenant_not_signed")
    }
  })
})

describe("Guard.run", () => {
  it.effect("returns the principal, the selected tenant and the grants, and records one allowed decision", () =>
    Effect.gen(function*() {
      const passed = yield* run(request("tok-dave", { policy: Policy.permission(Catalogue, "orders:read") }, "initech"))
      expect(Either.isRight(passed)).toBe(true)
      if (Either.isLeft(passed)) return
      expect(passed.right.principal.subject).toBe("dave")
      expect(passed.right.tenant).toEqual(Either.right("initech"))
      expect(passed.right.grants?.permissions.check("orders:read")).toEqual({ _tag: "Allowed", grant: "orders:*" })
      expect(passed.right.allowed?.grant).toBe("permission orders:*")
      expect(yield* trail).toMatchObject([
        { tenant: "initech", subject: "dave", procedure: "Op", decision: "allowed", reason: "permission orders:*" }
      ])
    }).pipe(Effect.provide(Live)))

  it.effect("refuses in order: no credentials, a bad token, an unsigned tenant, the policy; each recorded once", () =>
    Effect.gen(function*() {
      const reasons = [
        yield* run(request(Either.left(Credential.missing))),
        yield* run(request("tok-nobody")),
        yield* run(request("tok-alice", {}, "globex")),
        yield* run(request("tok-dave", { policy: Policy.permission(Catalogue, "orders:delete") })),
        yield* run(request("tok-alice", { policy: Policy.undeclared }))
      ].map((r) => Either.isLeft(r) ? r.left.reason : "passed")
      expect(reasons).toEqual([
        "missing_credentials",
        "inactive",
        "tenant_not_signed",
        "denied_permission",
        "no_policy"
      ])
      expect((yield* trail).map((e) => [e.tenant, e.subject, e.reason])).toEqual([
        [null, null, "missing_credentials"],
        [null, null, "inactive"],
        ["acme", "alice", "tenant_not_signed"],
        ["acme", "dave", "denied_permission"],
        ["acme", "alice", "no_policy"]
      ])
    }).pipe(Effect.provide(Live)))

  it.effect("an operation that does not resolve reports a refused selection without refusing, and records nothing", () =>
    Effect.gen(function*() {
      const passed = yield* run(request("tok-alice", { resolve: false, policy: undefined }, "globex"))
      expect(Either.isRight(passed) && Either.isLeft(passed.right.tenant)).toBe(true)
      expect(Either.isRight(passed) && passed.right.grants).toBeUndefined()
      expect(yield* trail).toEqual([])
    }).pipe(Effect.provide(Live)))

  it.effect("asks the GrantSource for (principal, tenant), and refuses as unavailable when it cannot answer", () =>
    Effect.gen(function*() {
      const asked: Array<string> = []
      const source = GrantSource.layer({
        grants: (principal, tenant) => {
          asked.push(`${principal.subject}@${tenant}`)
          return tenant === "initech" ?
            Effect.fail(Unauthenticated.of("unavailable", "the role store did not answer")) :
            Effect.succeed({ scopes: Scopes.empty, permissions: Permission.compile({ allow: ["*"], deny: [] }) })
        }
      })
      const policy = Policy.permission(Catalogue, "orders:delete")
      const results = yield* Effect.all([
        run(request("tok-dave", { policy })),
        run(request("tok-dave", { policy }, "initech"))
      ]).pipe(Effect.provide(Guard.layer.pipe(Layer.provide(source), Layer.provide(Table))))
      expect(asked).toEqual(["dave@acme", "dave@initech"])
      expect(results.map((r) => Either.isLeft(r) ? r.left.reason : "passed")).toEqual(["passed", "unavailable"])
    }).pipe(Effect.provide(AuditLog.layerMemory)))

  it.effect("fails closed when the audit log cannot record: unavailable, not allowed", () =>
    Effect.gen(function*() {
      const broken = Layer.succeed(AuditLog.AuditLog, {
        record: () => Effect.fail(new AuditLog.AuditUnavailable({ message: "down" }))
      })
      const result = yield* run(request("tok-alice")).pipe(
        Effect.provide(Guard.layer.pipe(Layer.provide(Table), Layer.provide(broken)))
      )
      expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "Unauthenticated", reason: "unavailable" })
    }))

  it.effect("runs a custom Effect policy with the request's services", () =>
    Effect.gen(function*() {
      const custom = Effect.flatMap(
        Scopes.CurrentScopes,
        (grants) => Effect.succeed(new Policy.Allowed({ grant: `custom ${grants.scopes.size}` }))
      )
      const passed = yield* run(request("tok-alice", { policy: Policy.all(Policy.user, custom) }))
      expect(Either.isRight(passed) && passed.right.allowed?.grant).toBe("user and custom 1")
    }).pipe(Effect.provide(Live)))
})
