import { describe, expect, it } from "@effect/vitest"
import {
  AuditLog,
  Authenticator,
  Credential,
  GrantsCache,
  GrantSource,
  Guard,
  Permission,
  Policy,
  Principal,
  Roles,
  RoleStore
} from "@warden/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"

const Perms = Permission.catalogue(
  "inventory:stock:read",
  "inventory:stock:adjust",
  "inventory:stock:delete",
  "orders:order:read"
)
const roles = Roles.define(Perms, {
  admin: { allow: ["*"], deny: ["inventory:stock:delete"] },
  clerk: { allow: ["inventory:stock:*"], deny: ["inventory:stock:adjust"] },
  auditor: { allow: ["inventory:stock:read", "orders:order:read"] }
})

describe("Roles.define", () => {
  it("unites the grants of the roles held; a deny of one wins over a grant of another, even under *", () => {
    const check = (held: ReadonlyArray<string>, p: string) => roles.compiled(held).check(p)._tag
    expect(check(["clerk"], "inventory:stock:read")).toBe("Allowed")
    expect(check(["clerk"], "inventory:stock:adjust")).toBe("Denied")
    expect(check(["clerk", "auditor"], "orders:order:read")).toBe("Allowed")
    expect(check(["admin"], "orders:order:read")).toBe("Allowed")
    expect(check(["admin"], "inventory:stock:delete")).toBe("Denied")
    expect(check(["admin", "clerk"], "inventory:stock:adjust")).toBe("Denied")
    expect(check([], "inventory:stock:read")).toBe("NotGranted")
  })

  it("grants nothing for a name it does not declare, and a stored name cannot forge another set's", () => {
    expect(roles.grantsOf(["ghost"])).toEqual({ allow: [], deny: [] })
    // "auditor\nclerk" is the cache key of {auditor, clerk}; as a stored name it must grant nothing.
    expect(roles.compiled(["auditor", "clerk"]).check("inventory:stock:delete")._tag).toBe("Allowed")
    expect(roles.compiled(["auditor\nclerk"]).check("inventory:stock:delete")._tag).toBe("NotGranted")
    expect(roles.compiled(["__proto__", "constructor"]).check("orders:order:read")._tag).toBe("NotGranted")
  })

  it("throws on a malformed role name, a malformed grant, or a wildcard that covers no declared permission", () => {
    const loose = Permission.catalogue("a:b" as string)
    expect(() => Roles.define(loose, { "has space": {} })).toThrow(/not a role name/)
    expect(() => Roles.define(loose, { r: { allow: ["a::b"] } })).toThrow(/not a grant/)
    expect(() => Roles.define(loose, { r: { allow: ["x:*"] } })).toThrow(/covers no permission/)
    expect(() => Roles.define(loose, { r: { deny: ["a:*"] } })).not.toThrow()
    expect(roles.names).toEqual(["admin", "clerk", "auditor"])
  })
})

const issuer = "https://identity.test"
const dave = Principal.make({ subject: "dave", tenant: "acme", tenants: ["initech"], issuer, scopes: ["stock.read"] })
const Table = Authenticator.layerTest([["tok-dave", dave]])
const request = (
  permission: Parameters<typeof Policy.permission<typeof Perms.permissions[number]>>[1],
  tenant?: string
) =>
  ({
    credential: Either.right(Credential.bearer("tok-dave")),
    tenant,
    operation: { name: "Op", resolve: true, policy: Policy.permission(Perms, permission) }
  }) satisfies Guard.Request
const outcome = (r: Guard.Request) =>
  Effect.flatMap(Guard.Guard, (guard) => Effect.either(guard.run(r))).pipe(
    Effect.map((e) => Either.isLeft(e) ? e.left.reason : "allowed")
  )

/** One instance: its own grants cache and guard, over a role store it may share with others. */
const instance = (store: Layer.Layer<RoleStore.RoleStore>, cache = GrantsCache.layerMemory()) =>
  Guard.layer.pipe(
    Layer.provide(GrantSource.layerRoles(roles)),
    Layer.provideMerge(cache),
    Layer.provideMerge(store),
    Layer.provide(Table),
    Layer.provide(AuditLog.layerMemory)
  )

describe("GrantSource.fromRoles", () => {
  it.effect("gives each (subject, tenant) the roles assigned there", () =>
    Effect.gen(function*() {
      expect(yield* outcome(request("inventory:stock:read"))).toBe("allowed")
      expect(yield* outcome(request("inventory:stock:adjust"))).toBe("denied_permission")
      expect(yield* outcome(request("inventory:stock:read", "initech"))).toBe("missing_permission")
    }).pipe(Effect.provide(instance(RoleStore.layerMemory([{ subject: "dave", tenant: "acme", roles: ["clerk"] }])))))

  it.effect("caches per (subject, tenant) and sees an assignment at once on the instance that makes it", () =>
    Effect.gen(function*() {
      expect(yield* outcome(request("orders:order:read"))).toBe("missing_permission")
      yield* GrantSource.assign("dave", "acme", ["auditor"])
      expect(yield* outcome(request("orders:order:read"))).toBe("allowed")
      yield* GrantSource.assign("dave", "acme", [])
      expect(yield* outcome(request("orders:order:read"))).toBe("missing_permission")
    }).pipe(Effect.provide(instance(RoleStore.layerMemory()))))

  it.effect("another instance sees the change when its cached entry is invalidated or expires", () =>
    Effect.gen(function*() {
      const shared = yield* Layer.build(
        RoleStore.layerMemory([{ subject: "dave", tenant: "acme", roles: ["auditor"] }])
      )
      const store = Layer.succeedContext(shared)
      const a = yield* Layer.build(instance(store))
      const b = yield* Layer.build(instance(store, GrantsCache.layerMemory({ ttl: "30 millis" })))
      expect(yield* outcome(request("orders:order:read")).pipe(Effect.provide(b))).toBe("allowed")
      yield* GrantSource.assign("dave", "acme", []).pipe(Effect.provide(a))
      expect(yield* outcome(request("orders:order:read")).pipe(Effect.provide(a))).toBe("missing_permission")
      // b's memory cache is its own: it holds the old roles until its time to live (30 ms) runs out.
      expect(yield* outcome(request("orders:order:read")).pipe(Effect.provide(b))).toBe("allowed")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 60)))
      expect(yield* outcome(request("orders:order:read")).pipe(Effect.provide(b))).toBe("missing_permission")
    }).pipe(Effect.scoped))

  it.effect("does not cache roles read before an invalidation (a stale read cannot outlive the change)", () =>
    Effect.gen(function*() {
      const cache = yield* GrantsCache.GrantsCache
      const miss = yield* cache.get("dave", "acme")
      expect(miss._tag).toBe("Miss")
      yield* cache.invalidate("dave")
      if (miss._tag === "Miss") yield* cache.set("dave", "acme", ["admin"], miss.stamp)
      expect((yield* cache.get("dave", "acme"))._tag).toBe("Miss")
      const again = yield* cache.get("dave", "acme")
      if (again._tag === "Miss") yield* cache.set("dave", "acme", ["auditor"], again.stamp)
      expect(yield* cache.get("dave", "acme")).toEqual({ _tag: "Hit", roles: ["auditor"] })
      yield* cache.invalidate("dave")
      expect((yield* cache.get("dave", "acme"))._tag).toBe("Miss")
    }).pipe(Effect.provide(GrantsCache.layerMemory())))

  it.effect("refuses as unavailable, never allows, when the role store or the cache cannot answer", () =>
    Effect.gen(function*() {
      const down = { message: "down" }
      const brokenStore = Layer.succeed(RoleStore.RoleStore, {
        rolesOf: () => Effect.fail(new RoleStore.RoleStoreUnavailable(down)),
        assign: () => Effect.fail(new RoleStore.RoleStoreUnavailable(down))
      })
      const brokenCache = Layer.succeed(GrantsCache.GrantsCache, {
        get: () => Effect.fail(new GrantsCache.GrantsCacheUnavailable(down)),
        set: () => Effect.fail(new GrantsCache.GrantsCacheUnavailable(down)),
        invalidate: () => Effect.fail(new GrantsCache.GrantsCacheUnavailable(down))
      })
      const admin = RoleStore.layerMemory([{ subject: "dave", tenant: "acme", roles: ["admin"] }])
      expect(yield* outcome(request("orders:order:read")).pipe(Effect.provide(instance(brokenStore)))).toBe(
        "unavailable"
      )
      expect(yield* outcome(request("orders:order:read")).pipe(Effect.provide(instance(admin, brokenCache)))).toBe(
        "unavailable"
      )
    }))

  it.effect("adds the token's own grants when asked to, and its denies still win", () =>
    Effect.gen(function*() {
      const carol = Principal.make({
        subject: "carol",
        tenant: "acme",
        issuer,
        permissions: { allow: ["orders:order:read"], deny: ["inventory:stock:read"] }
      })
      const source = yield* GrantSource.fromRoles(roles, { withClaims: true })
      const grants = yield* source.grants(carol, carol.tenant)
      expect(grants.permissions.check("orders:order:read")._tag).toBe("Allowed")
      expect(grants.permissions.check("inventory:stock:read")._tag).toBe("Denied")
      expect(grants.permissions.check("inventory:stock:delete")._tag).toBe("Allowed")
    }).pipe(
      Effect.provide(GrantsCache.layerMemory()),
      Effect.provide(RoleStore.layerMemory([{ subject: "carol", tenant: "acme", roles: ["clerk"] }]))
    ))
})
