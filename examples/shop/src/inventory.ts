/**
 * The inventory service: stock kept per tenant and reachable only through
 * `CurrentTenant`. `Reserve` requires `orders.write` and a token that orders
 * exchanged for the inventory (RFC 8693: orders is its actor), so only an
 * order reserves stock, never a user calling directly; `WatchStock` streams a
 * tenant's stock level and ends when the caller's token expires. Those two are
 * decided by the token's scopes; `StockLevel`, `AdjustStock` and `RemoveSku`
 * by permissions from the roles a person holds in the tenant the request acts
 * for (the same person may be a clerk in one tenant and an auditor in another).
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import {
  CurrentScopes,
  CurrentTenant,
  CurrentUser,
  GrantsCache,
  GrantSource,
  Permission,
  Policy,
  Roles,
  RoleStore,
  Scopes
} from "@warden/core"
import { Protected } from "@warden/rpc"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

/** What the inventory saw of a reservation: whose, for which tenant, by which acting service, with which scopes. */
export const Reservation = Schema.Struct({
  tenant: Schema.String,
  user: Schema.String,
  actor: Schema.NullOr(Schema.String),
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
  Rpc.make("StockLevel", { payload: { sku: Schema.String }, success: Schema.Number }),
  Rpc.make("AdjustStock", {
    payload: { sku: Schema.String, delta: Schema.Int },
    success: Schema.Number,
    error: OutOfStock
  }),
  Rpc.make("RemoveSku", { payload: { sku: Schema.String }, success: Schema.Void }),
  Rpc.make("Health", { success: Schema.Literal("ok") })
)

/** What the inventory's roles are made of. */
export const Perms = Permission.catalogue("inventory:stock:read", "inventory:stock:adjust", "inventory:stock:delete")

/**
 * The inventory's roles. `admin` holds `*` but not `inventory:stock:delete`:
 * a deny wins even over `*`, so removing a SKU is left to the catalogue
 * import, never to a person.
 */
export const roles = Roles.define(Perms, {
  admin: { allow: ["*"], deny: ["inventory:stock:delete"] },
  clerk: { allow: ["inventory:stock:read", "inventory:stock:adjust"] },
  auditor: { allow: ["inventory:stock:read"] }
})

/**
 * Who holds which roles, per (user, tenant). dave works for both tenants: a
 * clerk in acme, only an auditor in globex.
 */
export const assignments: ReadonlyArray<RoleStore.Assignment> = [
  { subject: "alice", tenant: "acme", roles: ["admin"] },
  { subject: "carol", tenant: "acme", roles: ["auditor"] },
  { subject: "bob", tenant: "globex", roles: ["admin"] },
  { subject: "dave", tenant: "acme", roles: ["clerk"] },
  { subject: "dave", tenant: "globex", roles: ["auditor"] }
]

/** Every procedure declares its policy; leaving one out does not compile. */
export const policies = {
  Reserve: Policy.all(Policy.scope("orders.write"), Policy.actor("orders")),
  WatchStock: Policy.scope("stock.read"),
  StockLevel: Policy.permission(Perms, "inventory:stock:read"),
  AdjustStock: Policy.permission(Perms, "inventory:stock:adjust"),
  RemoveSku: Policy.permission(Perms, "inventory:stock:delete"),
  Health: Protected.Public
} satisfies Protected.Policies<RpcGroup.Rpcs<typeof InventoryRpcs>>

export const Inventory = Protected.group(InventoryRpcs, policies)

/**
 * The inventory's grants: scopes from the token, permissions from the roles
 * the store assigns the caller in the request's tenant. The shop's tokens
 * carry no permission claims of their own, so the roles are the only source.
 */
export const InventoryGrants = (
  stores: Context.Context<RoleStore.RoleStore | GrantsCache.GrantsCache>
): Layer.Layer<GrantSource.GrantSource> =>
  GrantSource.layerRoles(roles).pipe(Layer.provide(Layer.succeedContext(stores)))

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
          return { tenant, user: user.subject, actor: user.actor, scope: Scopes.render(scopes), sku, remaining }
        }),
      WatchStock: ({ sku }) =>
        Stream.unwrap(
          Effect.map(CurrentTenant, (tenant) =>
            Stream.repeatEffectWithSchedule(level(tenant, sku), Schedule.spaced("500 millis")))
        ),
      StockLevel: ({ sku }) => Effect.flatMap(CurrentTenant, (tenant) => level(tenant, sku)),
      AdjustStock: ({ delta, sku }) =>
        Effect.gen(function*() {
          const tenant = yield* CurrentTenant
          const next = yield* Ref.modify(stock, (all) => {
            const have = all.get(tenant)?.get(sku) ?? 0
            if (have + delta < 0) return [-1, all] as const
            const updated = new Map(all)
            updated.set(tenant, new Map(all.get(tenant)).set(sku, have + delta))
            return [have + delta, updated] as const
          })
          if (next < 0) return yield* new OutOfStock({ sku })
          return next
        }),
      RemoveSku: ({ sku }) =>
        Effect.flatMap(CurrentTenant, (tenant) =>
          Ref.update(stock, (all) => {
            const kept = new Map(all.get(tenant))
            kept.delete(sku)
            return new Map(all).set(tenant, kept)
          })),
      Health: () => Effect.succeed("ok" as const)
    }
  })
)
