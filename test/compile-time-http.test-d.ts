/**
 * The HttpApi adapter's compile-time promises. Each `@ts-expect-error` is a
 * promise: if the error it expects ever disappears, type-checking (and so
 * this test) fails.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { CurrentScopes, CurrentTenant, CurrentUser, Policy } from "@warden/core"
import type { Forbidden, Unauthenticated } from "@warden/core"
import { Protected } from "@warden/http"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { describe, expectTypeOf, it } from "vitest"

const Shop = HttpApiGroup.make("shop")
  .add(HttpApiEndpoint.get("stock", "/stock").addSuccess(Schema.String))
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Schema.String))

const usesAll = Effect.gen(function*() {
  const user = yield* CurrentUser
  const tenant = yield* CurrentTenant
  const grants = yield* CurrentScopes
  return `${user.subject}@${tenant} ${grants.scopes.size}`
})

describe("HttpApi: the policy map is exhaustive", () => {
  it("every endpoint must appear, and only the group's endpoints", () => {
    // @ts-expect-error "health" declares neither a policy nor Public
    Protected.group(Shop, { stock: Policy.authenticated })
    // @ts-expect-error "stok" is not an endpoint of the group
    Protected.group(Shop, { stock: Policy.authenticated, health: Protected.Public, stok: Policy.authenticated })
    Protected.group(Shop, { stock: Policy.authenticated, health: Protected.Public })
  })
})

describe("HttpApi: Warden's services only in protected endpoints", () => {
  const Api = HttpApi.make("shop").add(
    Protected.group(Shop, { stock: Policy.scope("stock.read"), health: Protected.Public })
  )

  it("a protected endpoint's handler may use CurrentUser, CurrentTenant and CurrentScopes", () => {
    const live = HttpApiBuilder.group(
      Api,
      "shop",
      (h) => h.handle("stock", () => usesAll).handle("health", () => Effect.succeed("ok"))
    )
    // The group needs Warden's middlewares (Protected.layer), and nothing of Warden's services.
    type Needs = Layer.Layer.Context<typeof live>
    expectTypeOf<CurrentUser extends Needs ? true : false>().toEqualTypeOf<false>()
    expectTypeOf<CurrentTenant extends Needs ? true : false>().toEqualTypeOf<false>()
    expectTypeOf<Protected.Authentication extends Needs ? true : false>().toEqualTypeOf<true>()
    const needsOnlyWarden: Layer.Layer<HttpApiGroup.ApiGroup<"shop", "shop">, never, Protected.Middlewares> = live
    void needsOnlyWarden
  })

  it("a public endpoint's handler that uses them leaves them unprovided: the API cannot be served", () => {
    const live = HttpApiBuilder.group(
      Api,
      "shop",
      (h) => h.handle("stock", () => usesAll).handle("health", () => usesAll)
    )
    type Needs = Layer.Layer.Context<typeof live>
    expectTypeOf<CurrentUser extends Needs ? true : false>().toEqualTypeOf<true>()
    expectTypeOf<CurrentTenant extends Needs ? true : false>().toEqualTypeOf<true>()
    // @ts-expect-error the group needs more than Warden's middlewares: CurrentUser, which nothing provides
    const _needsOnlyWarden: Layer.Layer<HttpApiGroup.ApiGroup<"shop", "shop">, never, Protected.Middlewares> = live
  })

  it("a protected endpoint's errors include Warden's refusals", () => {
    const Protect = Protected.group(Shop, { stock: Policy.scope("stock.read"), health: Protected.Public })
    type Endpoints = HttpApiGroup.HttpApiGroup.Endpoints<typeof Protect>
    type Stock = HttpApiEndpoint.HttpApiEndpoint.WithName<Endpoints, "stock">
    type Health = HttpApiEndpoint.HttpApiEndpoint.WithName<Endpoints, "health">
    expectTypeOf<Unauthenticated extends HttpApiEndpoint.HttpApiEndpoint.Error<Health> ? true : false>()
      .toEqualTypeOf<false>()
    expectTypeOf<Unauthenticated extends HttpApiEndpoint.HttpApiEndpoint.Error<Stock> ? true : false>()
      .toEqualTypeOf<true>()
    expectTypeOf<Forbidden extends HttpApiEndpoint.HttpApiEndpoint.Error<Stock> ? true : false>()
      .toEqualTypeOf<true>()
  })
})
