/**
 * Warden's compile-time promises. Each `@ts-expect-error` is a promise: if the
 * error it expects ever disappears, type-checking (and so this test) fails.
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import type * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as RpcServer from "@effect/rpc/RpcServer"
import { CurrentScopes, CurrentTenant, CurrentUser, Permission, Policy, Roles } from "@warden/core"
import { Authentication, Authorization, Outbound, Protected, ScopeContext, TenantContext } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { describe, expectTypeOf, it } from "vitest"

/** Exact type equality, for types (such as Context tags) that expect-type's deep comparison mishandles. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false

const Inventory = RpcGroup.make(
  Rpc.make("Reserve", { payload: { sku: Schema.String }, success: Schema.String }),
  Rpc.make("Health", { success: Schema.String })
)

const usesTenant = () => Effect.map(CurrentTenant, (tenant): string => tenant)
const usesUser = () => Effect.map(CurrentUser, (user): string => user.subject)
const usesScopes = () => Effect.map(CurrentScopes, (s): string => s.scopes.toString())

describe("1. a handler needing a Warden service in an unprotected procedure does not compile", () => {
  it("the server layer still requires CurrentTenant, so it cannot be launched", () => {
    const handlers = Inventory.toLayer({ Reserve: usesTenant, Health: () => Effect.succeed("ok") })
    expectTypeOf<Equals<Layer.Layer.Context<typeof handlers>, CurrentTenant>>().toEqualTypeOf<true>()
    const server = RpcServer.layer(Inventory).pipe(Layer.provide(handlers))
    expectTypeOf<CurrentTenant extends Layer.Layer.Context<typeof server> ? true : false>().toEqualTypeOf<true>()
    // @ts-expect-error the layer cannot run: CurrentTenant is never provided
    const _launch: Effect.Effect<never, unknown, RpcServer.Protocol> = Layer.launch(server)
  })

  it("Protected.toLayer names the procedure and the missing service, and yields no layer", () => {
    const Api = Protected.group(Inventory, { Reserve: Policy.scope("orders.write"), Health: Protected.Public })
    const healthUsesTenant = Protected.toLayer(Api, { Reserve: usesTenant, Health: usesTenant })
    expectTypeOf(healthUsesTenant).toEqualTypeOf<
      Protected.MissingMiddlewareError<
        "Warden: procedure \"Health\" uses CurrentTenant (provided by TenantContext) but is not protected by that middleware"
      >
    >()
    // @ts-expect-error not a layer: the server cannot be composed with it
    RpcServer.layer(Api).pipe(Layer.provide(healthUsesTenant))

    const unprotected = Protected.toLayer(Inventory, {
      Reserve: (payload) => Effect.as(usesUser(), payload.sku),
      Health: usesScopes
    })
    expectTypeOf(unprotected).toEqualTypeOf<
      Protected.MissingMiddlewareError<
        | "Warden: procedure \"Reserve\" uses CurrentUser (provided by Authentication) but is not protected by that middleware"
        | "Warden: procedure \"Health\" uses CurrentScopes (provided by ScopeContext) but is not protected by that middleware"
      >
    >()

    const built = Protected.toLayer(
      Api,
      Effect.succeed({ Reserve: usesTenant, Health: usesUser })
    )
    expectTypeOf(built).toEqualTypeOf<
      Protected.MissingMiddlewareError<
        "Warden: procedure \"Health\" uses CurrentUser (provided by Authentication) but is not protected by that middleware"
      >
    >()
  })
})

describe("2. the same handler with the middleware attached type-checks", () => {
  it("Protected.group provides all three services to protected procedures", () => {
    const Api = Protected.group(Inventory, { Reserve: Policy.scope("orders.write"), Health: Protected.Public })
    const handlers = Protected.toLayer(Api, {
      Reserve: () => Effect.zipRight(Effect.all([usesUser(), usesScopes()]), usesTenant()),
      Health: () => Effect.succeed("ok")
    })
    expectTypeOf<Equals<Layer.Layer.Context<typeof handlers>, never>>().toEqualTypeOf<true>()
  })

  it("a single middleware provides exactly its own service", () => {
    const Group = RpcGroup.make(Rpc.make("Reserve", { success: Schema.String })).middleware(TenantContext.TenantContext)
    const handlers = Group.toLayer({ Reserve: usesTenant })
    expectTypeOf<Equals<Layer.Layer.Context<typeof handlers>, never>>().toEqualTypeOf<true>()
    const stillNeedsUser = Group.toLayer({ Reserve: usesUser })
    expectTypeOf<Equals<Layer.Layer.Context<typeof stillNeedsUser>, CurrentUser>>().toEqualTypeOf<true>()
  })
})

describe("3. a protected group's policy map is exhaustive", () => {
  it("leaving a procedure out does not compile", () => {
    // @ts-expect-error Health declares neither a policy nor Public
    Protected.group(Inventory, { Reserve: Policy.scope("orders.write") })
  })

  it("naming a procedure the group does not have does not compile", () => {
    Protected.group(Inventory, {
      Reserve: Policy.scope("orders.write"),
      Health: Protected.Public,
      // @ts-expect-error Refund is not a procedure of the group
      Refund: Protected.Public
    })
  })

  it("a Public procedure carries no Warden middleware; a protected one carries all four", () => {
    const Api = Protected.group(Inventory, { Reserve: Policy.authenticated, Health: Protected.Public })
    type Rpcs = RpcGroup.Rpcs<typeof Api>
    expectTypeOf<Rpc.Middleware<Rpc.ExtractTag<Rpcs, "Health">>>().toEqualTypeOf<never>()
    expectTypeOf<
      Equals<
        Rpc.Middleware<Rpc.ExtractTag<Rpcs, "Reserve">>,
        | Authentication.Authentication
        | TenantContext.TenantContext
        | ScopeContext.ScopeContext
        | Authorization.Authorization
      >
    >().toEqualTypeOf<true>()
  })
})

describe("4. permissions come from a typed catalogue", () => {
  const Catalogue = Permission.catalogue("orders:order:create", "tenant:user:list")

  it("a permission in the catalogue compiles; one outside it does not", () => {
    Policy.permission(Catalogue, "orders:order:create")
    // @ts-expect-error misspelt permission
    Policy.permission(Catalogue, "orders:order:crate")
    // @ts-expect-error a wildcard is a grant, not a requirement
    Policy.permission(Catalogue, "orders:*")
  })

  it("grants are checked against the catalogue, wildcards included", () => {
    Catalogue.grants({ allow: ["orders:*", "tenant:user:*", "*"], deny: ["tenant:user:list"] })
    // @ts-expect-error `orders*` is not a wildcard grant
    Catalogue.grants({ allow: ["orders*"] })
    // @ts-expect-error `billing:*` covers nothing in the catalogue
    Catalogue.grants({ allow: ["billing:*"] })
    expectTypeOf<Permission.Grant<"a:b:c">>().toEqualTypeOf<"a:b:c" | "a:b:*" | "a:*" | "*">()
  })

  it("a role grants and denies only what the catalogue declares, and keeps the union of its names", () => {
    const roles = Roles.define(Catalogue, {
      admin: { allow: ["*"], deny: ["tenant:user:list"] },
      clerk: { allow: ["orders:*"] }
    })
    expectTypeOf<(typeof roles.names)[number]>().toEqualTypeOf<"admin" | "clerk">()
    roles.role("clerk")
    // @ts-expect-error not a declared role
    roles.role("ghost")
    // @ts-expect-error a permission outside the catalogue
    Roles.define(Catalogue, { clerk: { allow: ["billing:invoice:pay"] } })
    // @ts-expect-error a deny outside the catalogue
    Roles.define(Catalogue, { clerk: { deny: ["orders:order:crate"] } })
  })
})

describe("5. no Warden middleware combines optional with provides", () => {
  it("every middleware is non-optional", () => {
    expectTypeOf(Authentication.Authentication.optional).toEqualTypeOf<false>()
    expectTypeOf(TenantContext.TenantContext.optional).toEqualTypeOf<false>()
    expectTypeOf(ScopeContext.ScopeContext.optional).toEqualTypeOf<false>()
    expectTypeOf(Authorization.Authorization.optional).toEqualTypeOf<false>()
  })

  it("and each provides exactly its service", () => {
    expectTypeOf(Authentication.Authentication.provides).toEqualTypeOf<typeof CurrentUser>()
    expectTypeOf(TenantContext.TenantContext.provides).toEqualTypeOf<typeof CurrentTenant>()
    expectTypeOf(ScopeContext.ScopeContext.provides).toEqualTypeOf<typeof CurrentScopes>()
    expectTypeOf(Authorization.Authorization.provides).toEqualTypeOf<undefined>()
  })
})

describe("6. every client of a protected procedure says how it authenticates", () => {
  it("a plain RpcClient of a protected group requires the client half of Authentication", () => {
    const Api = Protected.group(Inventory, { Reserve: Policy.scope("orders.write"), Health: Protected.Public })
    const client = RpcClient.make(Api)
    expectTypeOf<
      RpcMiddleware.ForClient<Authentication.Authentication> extends Effect.Effect.Context<typeof client> ? true : false
    >().toEqualTypeOf<true>()
    const publicOnly = RpcClient.make(Inventory)
    expectTypeOf<Effect.Effect.Context<typeof publicOnly>>().toEqualTypeOf<RpcClient.Protocol | Scope.Scope>()
  })

  it("Outbound.make chooses the credentials and so needs nothing more", () => {
    const Api = Protected.group(Inventory, { Reserve: Policy.scope("orders.write"), Health: Protected.Public })
    const client = Outbound.make(Api, { name: "inventory", credentials: Outbound.forward() })
    expectTypeOf<Effect.Effect.Context<typeof client>>().toEqualTypeOf<RpcClient.Protocol | Scope.Scope>()
  })
})

describe("7. a malformed literal scope, permission or tenant does not compile", () => {
  it("Policy.scope takes only a scope-token literal", () => {
    Policy.scope("orders.write")
    Policy.scope("urn:example:read!")
    // @ts-expect-error a space separates scope-tokens; one token has none
    Policy.scope("orders write")
    // @ts-expect-error the empty string is not a scope-token
    Policy.scope("")
    // @ts-expect-error a look-alike letter outside ASCII
    Policy.scope("\u043erders")
    // @ts-expect-error quotes and backslashes are outside the grammar
    Policy.scope("quo\"te")
    const read: string = "from configuration"
    // A string that is not a literal is checked when the call runs.
    Policy.scope(read)
  })

  it("Permission.catalogue takes only permission literals, and keeps their union", () => {
    const catalogue = Permission.catalogue("orders:order:create", "x")
    expectTypeOf<(typeof catalogue.permissions)[number]>().toEqualTypeOf<"orders:order:create" | "x">()
    // @ts-expect-error a segment has no space
    Permission.catalogue("orders:order create")
    // @ts-expect-error no empty segment
    Permission.catalogue("orders::create")
    // @ts-expect-error a wildcard is a grant, not a permission
    Permission.catalogue("orders:*")
    // @ts-expect-error at most eight segments
    Permission.catalogue("a:b:c:d:e:f:g:h:i")
  })

  it("Policy.tenant takes only a tenant id literal", () => {
    Policy.tenant("acme-2.eu_west")
    // @ts-expect-error a tenant id starts with a letter or digit
    Policy.tenant("-acme")
    // @ts-expect-error no spaces
    Policy.tenant("ac me")
  })
})
