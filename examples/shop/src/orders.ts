/**
 * The orders service: `PlaceOrder` reserves stock at the inventory over
 * Effect RPC with the user's token exchanged for one meant for the inventory
 * alone (RFC 8693), so the inventory verifies the user again, sees the user's
 * tenant, and sees orders as the acting service, which its `Reserve` policy
 * requires. `PlaceOrderForwarded` sends the user's own token instead: the
 * inventory accepts it as the user's but refuses the reservation (no actor).
 * `PlaceOrderForgetful` is the mistake Warden exists to stop: its client was
 * built to send no token, and the call fails at Orders before anything
 * reaches the inventory.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import { CurrentScopes, CurrentTenant, CurrentUser, Forbidden, Policy, Scopes, Unauthenticated } from "@warden/core"
import { TokenExchange } from "@warden/oauth"
import { Outbound, Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { clients, resources } from "./identity.js"
import { Inventory, OutOfStock, Reservation } from "./inventory.js"

/** The inventory could not be reached or refused for a reason that is not the caller's. */
export class InventoryUnavailable extends Schema.TaggedError<InventoryUnavailable>()("InventoryUnavailable", {
  message: Schema.String
}) {}

export const Order = Schema.Struct({
  /** What Orders saw of the request. */
  orders: Schema.Struct({ tenant: Schema.String, user: Schema.String, scope: Schema.String }),
  /** What the inventory saw of the forwarded call. */
  inventory: Reservation
})

const PlaceOrderPayload = { tenant: Schema.String, sku: Schema.String, quantity: Schema.Int.pipe(Schema.positive()) }
const PlaceOrderErrors = Schema.Union(
  OutOfStock,
  Outbound.MissingCredentials,
  Unauthenticated,
  Forbidden,
  InventoryUnavailable
)

export const Orders = Protected.group(
  RpcGroup.make(
    Rpc.make("PlaceOrder", { payload: PlaceOrderPayload, success: Order, error: PlaceOrderErrors }),
    Rpc.make("PlaceOrderForwarded", { payload: PlaceOrderPayload, success: Order, error: PlaceOrderErrors }),
    Rpc.make("PlaceOrderForgetful", { payload: PlaceOrderPayload, success: Order, error: PlaceOrderErrors })
  ),
  {
    PlaceOrder: Policy.scope("orders.read"),
    PlaceOrderForwarded: Policy.scope("orders.read"),
    PlaceOrderForgetful: Policy.scope("orders.read")
  }
)

/**
 * Orders' handlers, calling the inventory at `inventoryUrl`; tokens are exchanged at the identity service's
 * `tokenEndpoint` with orders' own client credentials.
 */
export const OrdersHandlers = (inventoryUrl: string, tokenEndpoint: string) =>
  Protected.toLayer(
    Orders,
    Effect.gen(function*() {
      const protocol = RpcClient.layerProtocolHttp({ url: inventoryUrl }).pipe(
        Layer.provide(RpcSerialization.layerNdjson),
        Layer.provide(FetchHttpClient.layer)
      )
      // One exchange per user token, kept until shortly before it expires.
      const exchanger = yield* TokenExchange.make({
        tokenEndpoint,
        clientId: clients.orders.clientId,
        clientSecret: clients.orders.clientSecret,
        audience: resources.inventory,
        allowInsecureLoopback: true
      }).pipe(Effect.provide(FetchHttpClient.layer), Effect.orDie)
      const exchanging = yield* Outbound.make(Inventory, {
        name: "inventory",
        credentials: Outbound.exchange(exchanger)
      }).pipe(Effect.provide(protocol))
      const forwarding = yield* Outbound.make(Inventory, {
        name: "inventory (forwarded)",
        credentials: Outbound.forward()
      }).pipe(Effect.provide(protocol))
      const forgetful = yield* Outbound.make(Inventory, {
        name: "inventory (no token)",
        credentials: Outbound.anonymous
      })
        .pipe(Effect.provide(protocol))
      const place = (client: typeof exchanging) => (payload: { tenant: string; sku: string; quantity: number }) =>
        Effect.gen(function*() {
          const orders = {
            tenant: yield* CurrentTenant,
            user: (yield* CurrentUser).subject,
            scope: Scopes.render((yield* CurrentScopes).scopes)
          }
          const inventory = yield* client.Reserve(payload).pipe(
            Effect.catchTags({
              RpcClientError: (e) => Effect.fail(new InventoryUnavailable({ message: e.message })),
              TokenError: (e) => Effect.fail(new InventoryUnavailable({ message: e.message }))
            })
          )
          return { orders, inventory }
        })
      return {
        PlaceOrder: place(exchanging),
        PlaceOrderForwarded: place(forwarding),
        PlaceOrderForgetful: place(forgetful)
      }
    })
  )
