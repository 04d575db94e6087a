/**
 * The inventory service: stock kept per tenant and reachable only through
 * `CurrentTenant`. `Reserve` requires `orders.write`; `WatchStock` streams a
 * tenant's stock level and ends when the caller's token expires.
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import { CurrentScopes, CurrentTenant, CurrentUser, Policy, Scopes } from "@warden/core"
import { Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

/** What the inventory saw of a reservation: whose, for which tenant, with which scopes. */
export const Reservation = Schema.Struct({
  tenant: Schema.String,
  user: Schema.String,
  scope: Schema.String,
  sku: Schema.String,
  remaining: Schema.Number
})

export class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", { sku: Schema.String }) {}

export const InventoryRpcs = RpcGroup.make(
  Rpc.make("Reserve", {
    payload: { tenant: Schema.String, sku: Schema.String, quantity: Schema.Int.pipe(Schema.positive()) },
    success: Reservation,
    error: OutOfStock
  }),
  Rpc.make("WatchStock", { payload: { sku: Schema.String }, success: Schema.Number, stream: true }),
  Rpc.make("Health", { success: Schema.Literal("ok") })
)

/** Every procedure declares its policy; leaving one out does not compile. */
export const Inventory = Protected.group(InventoryRpcs, {
  Reserve: Policy.scope("orders.write"),
  WatchStock: Policy.scope("stock.read"),
  Health: Protected.Public
})

/** Stock per tenant, then per sku. */
export class Stock extends Effect.Service<Stock>()("shop/Stock", {
  effect: Ref.make<ReadonlyMap<string, ReadonlyMap<string, number>>>(
    new Map([
      ["acme", new Map([["anvil", 1000]])],
      ["globex", new Map([["anvil", 500]])]
    ])
  )
}) {}

/** Reads a tenant's stock directly, for the scenario's checks (not an RPC). */
export const stockOf = (tenant: string, sku: string) =>
  Effect.map(Effect.flatMap(Stock, Ref.get), (all) => all.get(tenant)?.get(sku) ?? 0)

export const InventoryHandlers = Protected.toLayer(
  Inventory,
  Effect.gen(function*() {
    const stock = yield* Stock
    const level = (tenant: string, sku: string) => Effect.map(Ref.get(stock), (all) => all.get(tenant)?.get(sku) ?? 0)
    return {
      // `payload.tenant` is deliberately ignored: the tenant is CurrentTenant.
      Reserve: ({ quantity, sku }) =>
        Effect.gen(function*() {
          const tenant = yield* CurrentTenant
          const user = yield* CurrentUser
          const { scopes } = yield* CurrentScopes
          const remaining = yield* Ref.modify(stock, (all) => {
            const have = all.get(tenant)?.get(sku) ?? 0
            if (have < quantity) return [-1, all] as const
            const next = new Map(all)
            next.set(tenant, new Map(all.get(tenant)).set(sku, have - quantity))
            return [have - quantity, next] as const
          })
          if (remaining < 0) return yield* new OutOfStock({ sku })
          return { tenant, user: user.subject, scope: Scopes.render(scopes), sku, remaining }
        }),
      WatchStock: ({ sku }) =>
        Stream.unwrap(
          Effect.map(CurrentTenant, (tenant) =>
            Stream.repeatEffectWithSchedule(level(tenant, sku), Schedule.spaced("500 millis")))
        ),
      Health: () => Effect.succeed("ok" as const)
    }
  })
)
