import { describe, expect, it } from "@effect/vitest"
import { AuthError, GrantSource, Permission, Policy, Principal, Scopes, Tenant } from "@warden/core"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const shop = Permission.catalogue(
  "orders:read",
  "orders:write",
  "tenant:user:list",
  "tenant:user:delete",
  "tenant:username:list"
)

const props = { fastCheck: { numRuns: 1000 } }

const scopeToken = FastCheck.constantFrom("a", "b", "A", "ab", "a.b", "orders:read")

const permissionGrants = FastCheck.array(
  FastCheck.constantFrom(
    "*",
    "orders:*",
    "tenant:*",
    "tenant:user:*",
    "orders:read",
    "tenant:user",
    "tenant:user:list",
    "orders*"
  ),
  { maxLength: 4 }
)

/** Provides `CurrentScopes` from a scope string ("" for none) and grants. */
const withGrants = (
  scopes: string,
  grants: { readonly allow?: ReadonlyArray<string>; readonly deny?: ReadonlyArray<string> } = {}
) =>
  Effect.provideService(Scopes.CurrentScopes, {
    scopes: scopes === "" ? Scopes.empty : Either.getOrThrow(Scopes.parse(scopes)),
    permissions: Permission.compile({ allow: grants.allow ?? [], deny: grants.deny ?? [] })
  })

const acme = Schema.decodeSync(Tenant.TenantId)("acme")
const withTenant = (tenant: Tenant.TenantId = acme) => Effect.provideService(Tenant.CurrentTenant, tenant)

const alice = Principal.make({ subject: "alice", tenant: "acme", issuer: "https://issuer.example" })
const billing = Principal.make({
  kind: "service",
  subject: "svc-billing",
  clientId: "billing",
  tenant: "acme",
  issuer: "https://issuer.example"
})
const anonymousService = Principal.make({
  kind: "service",
  subject: "svc-cron",
  tenant: "acme",
  issuer: "https://issuer.example"
})
const withUser = (principal: Principal.Principal) => Effect.provideService(Principal.CurrentUser, principal)

/** A policy that must never run: it dies if it does. */
const mustNotRun: Policy.Policy<never> = Effect.die("a policy ran that must not have run")

/** The refusal of a policy that must refuse. */
const refusal = <R>(policy: Policy.Policy<R>) => Effect.flip(policy)

const expectForbidden = (
  error: AuthError.Forbidden,
  expected: { reason: AuthError.ForbiddenReason; requirement: string; scope?: string | null }
) => {
  expect(error).toBeInstanceOf(AuthError.Forbidden)
  expect(error._tag).toBe("Forbidden")
  expect(error.code).toBe("insufficient_scope")
  expect(error.reason).toBe(expected.reason)
  expect(error.requirement).toBe(expected.requirement)
  expect(error.scope).toBe(expected.scope ?? null)
}

describe("Policy.authenticated", () => {
  it.effect("allows every request", () =>
    Effect.gen(function*() {
      const allowed = yield* Policy.authenticated
      expect(allowed).toBeInstanceOf(Policy.Allowed)
      expect(allowed.grant).toBe("authenticated")
    }))
})

describe("Policy.scope", () => {
  it.effect("allows when the token carries the scope, naming it", () =>
    Effect.gen(function*() {
      const allowed = yield* Policy.scope("orders.write")
      expect(allowed._tag).toBe("Allowed")
      expect(allowed.grant).toBe("scope orders.write")
    }).pipe(withGrants("orders.read orders.write")))

  it.effect("refuses when the scope is missing, with the scope to ask for", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.scope("orders.write"))
      expectForbidden(error, { reason: "missing_scope", requirement: "scope orders.write", scope: "orders.write" })
      expect(error.description).toBe("the token lacks the scope 'orders.write'")
    }).pipe(withGrants("orders.read")))

  it.effect("matches exactly: neither case nor prefix counts", () =>
    Effect.gen(function*() {
      expect((yield* refusal(Policy.scope("orders.Write"))).reason).toBe("missing_scope")
      expect((yield* refusal(Policy.scope("orders"))).reason).toBe("missing_scope")
      expect((yield* refusal(Policy.scope("orders.write.all"))).reason).toBe("missing_scope")
    }).pipe(withGrants("orders.write")))

  it.effect("refuses when the token has no scopes", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.scope("openid"))
      expectForbidden(error, { reason: "missing_scope", requirement: "scope openid", scope: "openid" })
    }).pipe(withGrants("")))

  it.each(["bad scope", "", "tab\there", "\u043erders", "quo\"te"])("throws at construction on %j", (bad) => {
    expect(() => Policy.scope(bad)).toThrow(/^Policy\.scope: /)
  })

  it("names the offending character when it throws", () => {
    const read: string = "bad scope"
    expect(() => Policy.scope(read)).toThrow("Policy.scope: a space in scope-token 0 is not allowed in a scope")
  })

  it.effect.prop(
    "allows exactly the scopes the token carries",
    [FastCheck.uniqueArray(scopeToken, { minLength: 1, maxLength: 5 }), scopeToken],
    ([tokens, required]) =>
      Effect.gen(function*() {
        const decision = yield* Policy.decide(Policy.scope(required))
        expect(decision._tag).toBe(tokens.includes(required) ? "Allowed" : "Denied")
        if (decision._tag === "Denied") expect(decision.error.scope).toBe(required)
      }).pipe(withGrants(tokens.join(" "))),
    props
  )
})

describe("Policy.permission", () => {
  it.effect("allows a permission covered by a wildcard grant, naming the grant", () =>
    Effect.gen(function*() {
      const allowed = yield* Policy.permission(shop, "tenant:user:list")
      expect(allowed.grant).toBe("permission tenant:*")
    }).pipe(withGrants("", { allow: ["tenant:*"] })))

  it.effect("allows a permission granted exactly, naming the grant", () =>
    Effect.gen(function*() {
      const allowed = yield* Policy.permission(shop, "orders:read")
      expect(allowed.grant).toBe("permission orders:read")
    }).pipe(withGrants("", { allow: ["orders:read"] })))

  it.effect("refuses a denied permission even when * is granted", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.permission(shop, "tenant:user:delete"))
      expectForbidden(error, { reason: "denied_permission", requirement: "permission tenant:user:delete" })
      expect(error.description).toBe("the permission 'tenant:user:delete' is denied by 'tenant:user:delete'")
      expect((yield* Policy.permission(shop, "tenant:user:list")).grant).toBe("permission *")
    }).pipe(withGrants("", { allow: ["*"], deny: ["tenant:user:delete"] })))

  it.effect("refuses an exactly granted permission under a wildcard deny", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.permission(shop, "tenant:user:delete"))
      expectForbidden(error, { reason: "denied_permission", requirement: "permission tenant:user:delete" })
    }).pipe(withGrants("", { allow: ["tenant:user:delete"], deny: ["tenant:*"] })))

  it.effect("refuses a permission that is not granted, with no scope to ask for", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.permission(shop, "tenant:username:list"))
      expectForbidden(error, { reason: "missing_permission", requirement: "permission tenant:username:list" })
      expect(error.description).toBe("the permission 'tenant:username:list' is not granted")
    }).pipe(withGrants("tenant:username:list", { allow: ["tenant:user", "tenant:user:*", "orders*"] })))

  it.effect("does not take a scope of the same name for a permission", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.permission(shop, "orders:read"))
      expect(error.reason).toBe("missing_permission")
    }).pipe(withGrants("orders:read")))

  it.effect("rejects at compile time a permission outside the catalogue", () =>
    Effect.gen(function*() {
      // @ts-expect-error "orders:delete" is not in the catalogue
      const policy = Policy.permission(shop, "orders:delete")
      expect((yield* refusal(policy)).reason).toBe("missing_permission")
    }).pipe(withGrants("", { allow: ["orders:read"] })))

  it.effect.prop(
    "refuses with the reason that matches the permission check",
    [FastCheck.constantFrom(...shop.permissions), permissionGrants, permissionGrants],
    ([required, allow, deny]) =>
      Effect.gen(function*() {
        const check = Permission.compile({ allow, deny }).check(required)
        const decision = yield* Policy.decide(Policy.permission(shop, required))
        switch (check._tag) {
          case "Allowed":
            expect(decision).toEqual({ _tag: "Allowed", grant: `permission ${check.grant}` })
            break
          case "Denied":
            expect(decision._tag === "Denied" && decision.reason).toBe("denied_permission")
            break
          case "NotGranted":
            expect(decision._tag === "Denied" && decision.reason).toBe("missing_permission")
            break
        }
      }).pipe(withGrants("", { allow, deny })),
    props
  )
})

describe("Policy.tenant", () => {
  it.each(["", "-acme", "ac me", "x".repeat(129)])("throws at the call on a tenant id %j that is not one", (bad) => {
    expect(() => Policy.tenant(bad)).toThrow(/^Policy\.tenant: the tenant id /)
  })

  it.effect("allows the request's own tenant", () =>
    Effect.gen(function*() {
      expect((yield* Policy.tenant("acme")).grant).toBe("tenant acme")
    }).pipe(withTenant()))

  it.effect("refuses another tenant, compared exactly", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.tenant("globex"))
      expectForbidden(error, { reason: "tenant_mismatch", requirement: "tenant globex" })
      expect(error.description).toBe("the request is for another tenant")
      expect((yield* refusal(Policy.tenant("Acme"))).reason).toBe("tenant_mismatch")
    }).pipe(withTenant()))
})

describe("Policy.actor", () => {
  const viaOrders = Principal.make({
    subject: "alice",
    tenant: "acme",
    issuer: "https://issuer.example",
    actor: "orders"
  })

  it.effect("allows a token exchanged by a listed service, naming the actor", () =>
    Effect.gen(function*() {
      expect((yield* Policy.actor()).grant).toBe("actor orders")
      expect((yield* Policy.actor("billing", "orders")).grant).toBe("actor orders")
    }).pipe(withUser(viaOrders)))

  it.effect("refuses a token no service exchanged, and one exchanged by a service not listed", () =>
    Effect.gen(function*() {
      expectForbidden(yield* refusal(Policy.actor("orders")).pipe(withUser(alice)), {
        reason: "no_actor",
        requirement: "actor orders"
      })
      expectForbidden(yield* refusal(Policy.actor("billing")).pipe(withUser(viaOrders)), {
        reason: "wrong_actor",
        requirement: "actor billing"
      })
    }))
})

describe("Policy.service", () => {
  it.effect("allows any service, naming its client id", () =>
    Effect.gen(function*() {
      expect((yield* Policy.service()).grant).toBe("service billing")
    }).pipe(withUser(billing)))

  it.effect("allows a service without a client id, naming its subject", () =>
    Effect.gen(function*() {
      expect((yield* Policy.service()).grant).toBe("service svc-cron")
    }).pipe(withUser(anonymousService)))

  it.effect("allows one of the listed clients", () =>
    Effect.gen(function*() {
      expect((yield* Policy.service("shipping", "billing")).grant).toBe("service billing")
    }).pipe(withUser(billing)))

  it.effect("refuses a user", () =>
    Effect.gen(function*() {
      expectForbidden(yield* refusal(Policy.service()), { reason: "not_a_service", requirement: "a service" })
      expectForbidden(yield* refusal(Policy.service("billing")), {
        reason: "not_a_service",
        requirement: "service billing"
      })
    }).pipe(withUser(alice)))

  it.effect("refuses a service that is not listed", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.service("shipping", "audit"))
      expectForbidden(error, { reason: "wrong_service", requirement: "service shipping | audit" })
    }).pipe(withUser(billing)))

  it.effect("refuses a service without a client id when clients are listed", () =>
    Effect.gen(function*() {
      expectForbidden(yield* refusal(Policy.service("svc-cron")), {
        reason: "wrong_service",
        requirement: "service svc-cron"
      })
    }).pipe(withUser(anonymousService)))
})

describe("Policy.user", () => {
  it.effect("allows a user", () =>
    Effect.gen(function*() {
      expect((yield* Policy.user).grant).toBe("user")
    }).pipe(withUser(alice)))

  it.effect("refuses a service", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.user)
      expectForbidden(error, { reason: "not_a_user", requirement: "a user" })
    }).pipe(withUser(billing)))
})

describe("Policy.all", () => {
  it.effect("allows when every policy allows, naming every grant", () =>
    Effect.gen(function*() {
      const allowed = yield* Policy.all(Policy.scope("orders.read"), Policy.tenant("acme"), Policy.user)
      expect(allowed.grant).toBe("scope orders.read and tenant acme and user")
    }).pipe(withGrants("orders.read"), withTenant(), withUser(alice)))

  it.effect("fails with the first refusal and runs no policy after it", () =>
    Effect.gen(function*() {
      const error = yield* refusal(
        Policy.all(
          Policy.tenant("acme"),
          Policy.scope("orders.write"),
          Policy.tenant("globex"),
          mustNotRun
        )
      )
      expectForbidden(error, { reason: "missing_scope", requirement: "scope orders.write", scope: "orders.write" })
    }).pipe(withGrants("orders.read"), withTenant()))

  it("needs at least one policy", () => {
    // @ts-expect-error an empty `all` would allow without checking anything
    expect(() => Policy.all()).not.toThrow()
  })
})

describe("Policy.any", () => {
  it.effect("allows with the first policy that allows and runs no policy after it", () =>
    Effect.gen(function*() {
      const allowed = yield* Policy.any(
        Policy.scope("admin"),
        Policy.permission(shop, "orders:read"),
        mustNotRun
      )
      expect(allowed.grant).toBe("permission orders:*")
    }).pipe(withGrants("orders.read", { allow: ["orders:*"] })))

  it.effect("refuses with no_alternative when none allows, listing every requirement and the scope to ask for", () =>
    Effect.gen(function*() {
      const error = yield* refusal(
        Policy.any(Policy.tenant("globex"), Policy.scope("admin"), Policy.permission(shop, "orders:write"))
      )
      expectForbidden(error, {
        reason: "no_alternative",
        requirement: "any of (tenant globex | scope admin | permission orders:write)",
        scope: "admin"
      })
      expect(error.description).toBe(
        "none of the alternatives allowed: the request is for another tenant; " +
          "the token lacks the scope 'admin'; the permission 'orders:write' is denied by 'orders:write'"
      )
    }).pipe(withGrants("orders.read", { allow: ["*"], deny: ["orders:write"] }), withTenant()))

  it.effect("has no scope to ask for when no alternative is a scope", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.any(Policy.tenant("globex"), Policy.user))
      expectForbidden(error, { reason: "no_alternative", requirement: "any of (tenant globex | a user)" })
    }).pipe(withTenant(), withUser(billing)))

  it.effect("gives the same refusal each time it runs", () =>
    Effect.gen(function*() {
      const policy = Policy.any(Policy.scope("a"), Policy.scope("b"))
      const first = yield* refusal(policy)
      const second = yield* refusal(policy)
      expect(first.requirement).toBe("any of (scope a | scope b)")
      expect(second.requirement).toBe(first.requirement)
      expect(second.description).toBe(first.description)
    }).pipe(withGrants("c")))

  it("needs at least one policy", () => {
    // @ts-expect-error an empty `any` could never allow
    expect(() => Policy.any()).not.toThrow()
  })
})

describe("Policy.not", () => {
  it.effect("allows when the inner policy refuses, naming what was refused", () =>
    Effect.gen(function*() {
      expect((yield* Policy.not(Policy.scope("impersonate"))).grant).toBe("not (scope impersonate)")
    }).pipe(withGrants("orders.read")))

  it.effect("refuses with negated when the inner policy allows", () =>
    Effect.gen(function*() {
      const error = yield* refusal(Policy.not(Policy.scope("impersonate")))
      expectForbidden(error, { reason: "negated", requirement: "not (scope impersonate)" })
      expect(error.description).toBe("the request matches an excluded grant")
    }).pipe(withGrants("impersonate")))

  it.effect("composes with all: a user, on any tenant but globex", () =>
    Effect.gen(function*() {
      const policy = Policy.all(Policy.user, Policy.not(Policy.tenant("globex")))
      expect((yield* withUser(alice)(policy)).grant).toBe("user and not (tenant globex)")
      expect((yield* refusal(withUser(billing)(policy))).reason).toBe("not_a_user")
    }).pipe(withTenant()))
})

describe("Policy.decide", () => {
  it.effect("gives an allowed decision with the grant", () =>
    Effect.gen(function*() {
      const decision = yield* Policy.decide(Policy.scope("orders.read"))
      expect(decision).toEqual({ _tag: "Allowed", grant: "scope orders.read" })
    }).pipe(withGrants("orders.read")))

  it.effect("gives a denied decision with the reason, the requirement and the error, without failing", () =>
    Effect.gen(function*() {
      const decision = yield* Policy.decide(Policy.permission(shop, "tenant:user:delete"))
      expect(decision._tag).toBe("Denied")
      if (decision._tag !== "Denied") return
      expect(decision.reason).toBe("denied_permission")
      expect(decision.requirement).toBe("permission tenant:user:delete")
      expectForbidden(decision.error, { reason: "denied_permission", requirement: "permission tenant:user:delete" })
    }).pipe(withGrants("", { allow: ["*"], deny: ["tenant:user:delete"] })))
})

describe("Policy.evaluate: policies as data", () => {
  const tenants = ["acme", "globex"] as const
  const leaf = FastCheck.oneof(
    FastCheck.constant(Policy.authenticated),
    FastCheck.constant(Policy.user),
    scopeToken.map((s) => Policy.scope(s)),
    FastCheck.constantFrom(...shop.permissions).map((p) => Policy.permission(shop, p)),
    FastCheck.constantFrom(...tenants).map((t) => Policy.tenant(t)),
    FastCheck.constantFrom([], ["billing"], ["cron", "billing"]).map((ids) => Policy.service(...ids))
  )
  const { policy } = FastCheck.letrec<{ policy: Policy.AnyPolicy }>((tie) => ({
    policy: FastCheck.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      FastCheck.tuple(tie("policy"), FastCheck.array(tie("policy"), { maxLength: 2 })).map(([p, ps]) =>
        Policy.all(p, ...ps)
      ),
      FastCheck.tuple(tie("policy"), FastCheck.array(tie("policy"), { maxLength: 2 })).map(([p, ps]) =>
        Policy.any(p, ...ps)
      ),
      tie("policy").map((p) => Policy.not(p))
    )
  }))
  const input = FastCheck.record({
    principal: FastCheck.constantFrom(alice, billing, anonymousService),
    tenant: FastCheck.constantFrom(...tenants).map((t) => Schema.decodeSync(Tenant.TenantId)(t)),
    scopes: FastCheck.uniqueArray(scopeToken, { maxLength: 3 }),
    allow: permissionGrants,
    deny: permissionGrants.map((d) => d.filter((g) => Either.isRight(Permission.validateGrant(g))))
  })

  it.prop(
    "decides exactly what running the policy as an Effect decides, for any tree of data policies",
    [policy, input],
    ([p, i]) => {
      const grants = {
        scopes: Either.getOrThrow(Scopes.fromTokens(i.scopes)),
        permissions: Permission.compile({ allow: i.allow, deny: i.deny })
      }
      const pure = Policy.evaluate(p, { principal: i.principal, tenant: i.tenant, grants })
      const run = Effect.runSync(
        Policy.decide(p as Policy.Policy).pipe(
          Effect.provideService(Scopes.CurrentScopes, grants),
          Effect.provideService(Tenant.CurrentTenant, i.tenant),
          Effect.provideService(Principal.CurrentUser, i.principal)
        )
      )
      expect(pure).toBeDefined()
      expect(pure?._tag).toBe(run._tag)
      if (pure?._tag === "Allowed" && run._tag === "Allowed") expect(pure.grant).toBe(run.grant)
      if (pure?._tag === "Denied" && run._tag === "Denied") {
        expect([pure.reason, pure.requirement, pure.error.description]).toEqual([
          run.reason,
          run.requirement,
          run.error.description
        ])
      }
    },
    props
  )

  it("a custom Effect policy is not data, and neither is a combination that holds one", () => {
    const custom: Policy.Policy<never> = Effect.succeed(new Policy.Allowed({ grant: "custom" }))
    const grants = { scopes: Scopes.empty, permissions: Permission.emptySet }
    const at = { principal: alice, tenant: acme, grants }
    expect(Policy.evaluate(custom, at)).toBeUndefined()
    expect(Policy.evaluate(Policy.all(Policy.user, custom), at)).toBeUndefined()
    expect(Policy.evaluate(Policy.not(custom), at)).toBeUndefined()
    expect(Policy.evaluate(Policy.all(Policy.user, Policy.authenticated), at)).toMatchObject({
      _tag: "Allowed",
      grant: "user and authenticated"
    })
  })

  it("reads only what it needs: a scope policy runs with CurrentScopes alone", () => {
    const decision = Effect.runSync(
      Policy.decide(Policy.scope("a")).pipe(
        Effect.provideService(Scopes.CurrentScopes, {
          scopes: Either.getOrThrow(Scopes.parse("a")),
          permissions: Permission.emptySet
        })
      )
    )
    expect(decision).toMatchObject({ _tag: "Allowed", grant: "scope a" })
  })
})

describe("policies bound from Config", () => {
  const Catalogue = Permission.catalogue("orders:order:create", "orders:order:read")
  const read = (entries: ReadonlyArray<readonly [string, string]>) =>
    Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries)))
  const principal = Principal.make({
    subject: "alice",
    tenant: "acme",
    issuer: "i",
    scopes: ["orders.staging"],
    permissions: { allow: ["orders:order:read"] }
  })
  const input = { principal, tenant: principal.tenant, grants: GrantSource.fromClaims(principal) }

  it.effect("read at start-up, so staging and production differ by configuration", () =>
    Effect.gen(function*() {
      const scope = Policy.scopeFromConfig(Config.string("ORDERS_SCOPE"))
      const permission = Policy.permissionFromConfig(Catalogue, Config.string("ORDERS_PERMISSION"))
      // Never read: refused, never allowed.
      expect(Policy.evaluate(scope, input)).toMatchObject({ _tag: "Denied", reason: "no_policy" })
      yield* Layer.build(
        Policy.layerConfigured(scope, permission).pipe(
          Layer.provide(read([["ORDERS_SCOPE", "orders.staging"], ["ORDERS_PERMISSION", "orders:order:read"]]))
        )
      )
      expect(Policy.evaluate(scope, input)).toMatchObject({ _tag: "Allowed", grant: "scope orders.staging" })
      expect(Policy.evaluate(permission, input)).toMatchObject({ _tag: "Allowed" })
      yield* Layer.build(
        Policy.layerConfigured(scope).pipe(Layer.provide(read([["ORDERS_SCOPE", "orders.production"]])))
      )
      expect(Policy.evaluate(scope, input)).toMatchObject({ _tag: "Denied", reason: "missing_scope" })
    }).pipe(Effect.scoped))

  it.effect("a name the catalogue does not have, a malformed scope or a missing setting stops start-up, clearly", () =>
    Effect.gen(function*() {
      const permission = Policy.permissionFromConfig(Catalogue, Config.string("ORDERS_PERMISSION"))
      const wrong = yield* Effect.flip(
        Layer.build(
          Policy.layerConfigured(permission).pipe(Layer.provide(read([["ORDERS_PERMISSION", "orders:order:delete"]])))
        )
      )
      expect(wrong).toMatchObject({ _tag: "InvalidPolicyConfig" })
      expect(String((wrong as { message: string }).message)).toContain("'orders:order:delete' is not a permission")
      const scope = Policy.scopeFromConfig(Config.string("ORDERS_SCOPE"))
      const malformed = yield* Effect.flip(
        Layer.build(Policy.layerConfigured(scope).pipe(Layer.provide(read([["ORDERS_SCOPE", "orders write"]]))))
      )
      expect(malformed).toMatchObject({ _tag: "InvalidPolicyConfig" })
      const missing = yield* Effect.flip(Layer.build(Policy.layerConfigured(scope).pipe(Layer.provide(read([])))))
      expect(missing._tag).not.toBe("InvalidPolicyConfig")
      // Still unread: it refuses.
      expect(Policy.evaluate(scope, input)).toMatchObject({ _tag: "Denied", reason: "no_policy" })
    }).pipe(Effect.scoped))
})
