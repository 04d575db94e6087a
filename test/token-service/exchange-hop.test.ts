/**
 * Orders calls Inventory with an exchanged token (RFC 8693), between real
 * servers over HTTP: Inventory sees the user, the tenant and Orders as the
 * actor, and its policy requires that actor; the user's own token, forwarded,
 * is refused there, since it was never meant for Inventory.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog, CurrentTenant, CurrentUser, Policy } from "@warden/core"
import { JwtVerifier, KeyStore, RevocationStore } from "@warden/jwt"
import { TokenExchange } from "@warden/oauth"
import { Outbound, Protected } from "@warden/rpc"
import { TokenService } from "@warden/token-service"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createServer } from "node:http"
import { post, serveTokens } from "./support.js"

const ordersAudience = "https://orders.shop.test"
const inventoryAudience = "https://inventory.shop.test"

const Seen = Schema.Struct({ subject: Schema.String, tenant: Schema.String, actor: Schema.NullOr(Schema.String) })

const Inventory = Protected.group(
  RpcGroup.make(Rpc.make("Reserve", { success: Seen })),
  { Reserve: Policy.all(Policy.scope("stock.read"), Policy.actor("orders")) }
)

const Orders = Protected.group(
  RpcGroup.make(
    Rpc.make("PlaceOrder", {
      payload: { mode: Schema.Literal("exchange", "forward") },
      success: Seen,
      error: Schema.String
    })
  ),
  { PlaceOrder: Policy.scope("stock.read") }
)

const reasonOf = (e: unknown) =>
  typeof e === "object" && e !== null && "reason" in e ? String(e.reason) : String((e as { _tag?: string })._tag)

const protocol = (url: string) =>
  RpcClient.layerProtocolHttp({ url }).pipe(
    Layer.provide(RpcSerialization.layerNdjson),
    Layer.provide(FetchHttpClient.layer)
  )

const serveRpc = (layer: Layer.Layer<never, unknown, HttpServer.HttpServer>) =>
  Effect.gen(function*() {
    const ctx = yield* Layer.build(
      layer.pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 })))
    )
    return yield* HttpServer.addressFormattedWith((a) => Effect.succeed(`${a}/rpc`)).pipe(Effect.provide(ctx))
  })

describe("a hop with an exchanged token", () => {
  it.scopedLive(
    "inventory sees the user, the tenant and orders as the actor; a forwarded token is refused there",
    () =>
      Effect.gen(function*() {
        const issuer = yield* serveTokens({
          audience: ordersAudience,
          audiences: [inventoryAudience],
          clients: [
            { clientId: "web", secret: Redacted.make("web-secret"), grants: ["password"] },
            { clientId: "orders", secret: Redacted.make("orders-secret"), grants: [TokenService.tokenExchange] }
          ]
        }, RevocationStore.layerMemory)
        const verifying = (audience: string) =>
          JwtVerifier.layerAuthenticator.pipe(
            Layer.provide(JwtVerifier.layer({ issuers: [issuer], audience })),
            Layer.provide(KeyStore.layer({ jwksUrl: `${issuer}/jwks`, allowInsecureLoopback: true })),
            Layer.provide(RevocationStore.layerMemory),
            Layer.provide(FetchHttpClient.layer),
            Layer.orDie
          )
        const seen = Effect.all({
          subject: Effect.map(CurrentUser, (u) => u.subject),
          tenant: CurrentTenant,
          actor: Effect.map(CurrentUser, (u) => u.actor)
        })
        const inventoryUrl = yield* serveRpc(
          HttpRouter.Default.serve().pipe(
            Layer.provide(RpcServer.layer(Inventory)),
            Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
            Layer.provide(Protected.toLayer(Inventory, { Reserve: () => seen })),
            Layer.provide(Protected.layer),
            Layer.provide(verifying(inventoryAudience)),
            Layer.provide(AuditLog.layerMemory),
            Layer.provide(RpcSerialization.layerNdjson)
          )
        )
        const exchanger = yield* TokenExchange.make({
          tokenEndpoint: `${issuer}/token`,
          clientId: "orders",
          clientSecret: Redacted.make("orders-secret"),
          audience: inventoryAudience,
          allowInsecureLoopback: true
        }).pipe(Effect.provide(FetchHttpClient.layer))
        const OrdersHandlers = Protected.toLayer(
          Orders,
          Effect.gen(function*() {
            const viaExchange = yield* Outbound.make(Inventory, {
              name: "inventory (exchange)",
              credentials: Outbound.exchange(exchanger)
            }).pipe(Effect.provide(protocol(inventoryUrl)))
            const viaForward = yield* Outbound.make(Inventory, {
              name: "inventory (forward)",
              credentials: Outbound.forward()
            }).pipe(Effect.provide(protocol(inventoryUrl)))
            return {
              PlaceOrder: ({ mode }) =>
                (mode === "exchange" ? viaExchange : viaForward).Reserve().pipe(Effect.mapError(reasonOf))
            }
          })
        )
        const ordersUrl = yield* serveRpc(
          HttpRouter.Default.serve().pipe(
            Layer.provide(RpcServer.layer(Orders)),
            Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
            Layer.provide(OrdersHandlers),
            Layer.provide(Protected.layer),
            Layer.provide(verifying(ordersAudience)),
            Layer.provide(AuditLog.layerMemory),
            Layer.provide(RpcSerialization.layerNdjson)
          )
        )
        const login = (yield* post(`${issuer}/token`, {
          grant_type: "password",
          username: "alice",
          password: "wonderland 42"
        })).body.access_token
        const orders = yield* RpcClient.make(Orders).pipe(
          Effect.provide(Outbound.layerManual),
          Effect.provide(protocol(ordersUrl))
        )
        const asAlice = RpcClient.withHeaders({ authorization: `Bearer ${login}` })
        expect(yield* orders.PlaceOrder({ mode: "exchange" }).pipe(asAlice)).toEqual({
          subject: "u-alice",
          tenant: "acme",
          actor: "orders"
        })
        // Forwarded as is, the user's token is for orders' audience only: inventory refuses it.
        expect(yield* Effect.flip(orders.PlaceOrder({ mode: "forward" }).pipe(asAlice))).toBe("audience")
        // The exchanged token is cached per subject token: the same one again, another for another subject.
        const once = yield* exchanger.exchange(Redacted.make(login))
        const twice = yield* exchanger.exchange(Redacted.make(login))
        expect(Redacted.value(twice.value)).toBe(Redacted.value(once.value))
      }),
    30_000
  )
})
