/**
 * The shop's REST edge, an HttpApi in front of the RPC services: `POST
 * /api/orders` places an order at orders and `GET /api/stock/:sku` reads the
 * caller's stock at the inventory, each forwarding the caller's token (and
 * the tenant the request acts for) over Effect RPC. The gateway verifies the
 * token itself first, and every service behind it verifies it again.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import { AuthError, CurrentTenant, CurrentUser, Policy } from "@warden/core"
import { Protected } from "@warden/http"
import { Outbound } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Inventory } from "./inventory.js"
import { Order, Orders } from "./orders.js"
import { serviceAttribute } from "./telemetry.js"

/** Something behind the gateway failed for a reason that is not the caller's credentials. */
export class Upstream extends Schema.TaggedError<Upstream>()(
  "Upstream",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 502 })
) {}

/** What the gateway saw of a request, beside what the services behind it saw. */
const Seen = Schema.Struct({ tenant: Schema.String, user: Schema.String })

/** A placed order, as the gateway answers `POST /api/orders`. */
export const PlacedOrder = Schema.Struct({ gateway: Seen, order: Order })

export const GatewayApi = HttpApi.make("shop").add(
  Protected.group(
    HttpApiGroup.make("api")
      .add(
        HttpApiEndpoint.post("placeOrder", "/api/orders")
          .setPayload(Schema.Struct({ sku: Schema.String, quantity: Schema.Int.pipe(Schema.positive()) }))
          .addSuccess(PlacedOrder)
          .addError(Upstream)
      )
      .add(
        HttpApiEndpoint.get("stock", "/api/stock/:sku")
          .setPath(Schema.Struct({ sku: Schema.String }))
          .addSuccess(
            Schema.Struct({ gateway: Seen, tenant: Schema.String, sku: Schema.String, available: Schema.Number })
          )
          .addError(Upstream)
      ),
    { placeOrder: Policy.scope("orders.write"), stock: Policy.scope("stock.read") }
  )
)

/** What the gateway saw, and its name on the request's span (the trace's REST hop). */
const seen = Effect.zipRight(
  Effect.annotateCurrentSpan(serviceAttribute, "gateway"),
  Effect.all({ tenant: CurrentTenant, user: Effect.map(CurrentUser, (u) => u.subject) })
)

/**
 * A refusal behind the gateway is answered as one (the same token was
 * refused); anything else is `Upstream`.
 */
const upstream = (error: unknown): Effect.Effect<never, AuthError.AuthError | Upstream> =>
  AuthError.isAuthError(error) ?
    Effect.fail(error) :
    Effect.fail(
      new Upstream({
        message: typeof error === "object" && error !== null && "message" in error ?
          String(error.message) :
          String(error)
      })
    )

const protocol = (url: string) =>
  RpcClient.layerProtocolHttp({ url }).pipe(
    Layer.provide(RpcSerialization.layerNdjson),
    Layer.provide(FetchHttpClient.layer)
  )

/** The gateway's handlers, calling orders and the inventory at their URLs. */
export const GatewayHandlers = (urls: { readonly orders: string; readonly inventory: string }) =>
  HttpApiBuilder.group(GatewayApi, "api", (handlers) =>
    Effect.gen(function*() {
      const orders = yield* Outbound.make(Orders, { name: "orders", credentials: Outbound.forward() }).pipe(
        Effect.provide(protocol(urls.orders))
      )
      const inventory = yield* Outbound.make(Inventory, { name: "inventory", credentials: Outbound.forward() }).pipe(
        Effect.provide(protocol(urls.inventory))
      )
      return handlers
        .handle("placeOrder", ({ payload }) =>
          Effect.gen(function*() {
            const gateway = yield* seen
            const order = yield* orders.PlaceOrder({ tenant: gateway.tenant, ...payload }).pipe(
              Effect.catchAll(upstream)
            )
            return { gateway, order }
          }))
        .handle("stock", ({ path }) =>
          Effect.gen(function*() {
            const gateway = yield* seen
            const available = yield* inventory.WatchStock({ sku: path.sku }).pipe(
              Stream.runHead,
              Effect.map((reading) => reading._tag === "Some" ? reading.value : 0),
              Effect.catchAll(upstream)
            )
            return { gateway, tenant: gateway.tenant, sku: path.sku, available }
          }))
    }))

/** The gateway's API with Warden's protection; needs an `Authenticator` and an `AuditLog`. */
export const GatewayLive = (urls: { readonly orders: string; readonly inventory: string }) =>
  HttpApiBuilder.api(GatewayApi).pipe(
    Layer.provide(GatewayHandlers(urls)),
    Layer.provide(Protected.layer(GatewayApi, { realm: "shop" }))
  )
