/**
 * The inventory service: stock kept per tenant, reachable only through
 * `CurrentTenant`. The payload may name any tenant; it is never read as one.
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import { CurrentTenant, CurrentUser, Policy } from "@warden/core"
import { Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"

export const Reservation = Schema.Struct({
  tenant: Schema.String,
  user: Schema.String,
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
  Rpc.make("Stock", { payload: { sku: Schema.String }, success: Schema.Number }),
  Rpc.make("Health", { success: Schema.Literal("ok") })
)

/** Every procedure declares its policy; leaving one out does not compile. */
export const Inventory = Protected.group(InventoryRpcs, {
  Reserve: Policy.scope("orders.write"),
  Stock: Policy.scope("orders.read"),
  Health: Protected.Public
})

/** Stock per tenant, then per sku. */
export class Stock extends Effect.Service<Stock>()("shop/Stock", {
  effect: Ref.make<ReadonlyMap<string, ReadonlyMap<string, number>>>(
    new Map([
      ["acme", new Map([["anvil", 10]])],
      ["globex", new Map([["anvil", 5]])]
    ])
  )
}) {}

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
          const have = yield* level(tenant, sku)
          if (have < quantity) return yield* new OutOfStock({ sku })
          yield* Ref.update(stock, (all) => {
            const next = new Map(all)
            next.set(tenant, new Map(all.get(tenant)).set(sku, have - quantity))
            return next
          })
          return { tenant, user: user.subject, sku, remaining: have - quantity }
        }),
      Stock: ({ sku }) => Effect.flatMap(CurrentTenant, (tenant) => level(tenant, sku)),
      Health: () => Effect.succeed("ok" as const)
    }
  })
)

/** Reads a tenant's stock directly, for the scenario's checks (not an RPC). */
export const stockOf = (tenant: string, sku: string) =>
  Effect.map(Stock, (stock) => stock).pipe(
    Effect.flatMap(Ref.get),
    Effect.map((all) => all.get(tenant)?.get(sku) ?? 0)
  )
