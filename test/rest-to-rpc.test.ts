/**
 * A REST gateway (HttpApi, `@warden/http`) in front of an RPC service
 * (`@warden/rpc`): two real HTTP servers on loopback. The gateway's handler
 * calls the service with `Outbound.forward`, which sends the caller's token
 * and the tenant the REST request acts for; the service verifies the token
 * again and derives the tenant again from it.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog, CurrentTenant, CurrentUser, Policy } from "@warden/core"
import { Protected as Rest } from "@warden/http"
import { Outbound, Protected } from "@warden/rpc"
import { TestIdentityProvider } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { createServer } from "node:http"

const Seen = Schema.Struct({ subject: Schema.String, tenant: Schema.String })
const seen = Effect.all({ subject: Effect.map(CurrentUser, (u) => u.subject), tenant: CurrentTenant })

const Inventory = Protected.group(RpcGroup.make(Rpc.make("Reserve", { success: Seen })), {
  Reserve: Policy.scope("stock.reserve")
})

const Gateway = HttpApi.make("gateway").add(
  Rest.group(
    HttpApiGroup.make("orders").add(
      HttpApiEndpoint.post("place", "/api/orders").addSuccess(
        Schema.Struct({ gateway: Seen, inventory: Seen })
      ).addError(Schema.String, { status: 502 })
    ),
    { place: Policy.scope("orders.write") }
  )
)

const listen = NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 })
const urlOf = (path: string) => HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}${path}`))

/** Inventory over RPC, the gateway over REST, both trusting the same identity provider. */
const setup = Effect.gen(function*() {
  const provider = yield* TestIdentityProvider.TestIdentityProvider
  const trust = Layer.mergeAll(TestIdentityProvider.layerAuthenticator(), AuditLog.layerMemory)
  const inventory = yield* Layer.build(
    HttpRouter.Default.serve().pipe(
      Layer.provide(RpcServer.layer(Inventory)),
      Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
      Layer.provide(Protected.toLayer(Inventory, { Reserve: () => seen })),
      Layer.provide(Protected.layer),
      Layer.provide(trust),
      Layer.provide(RpcSerialization.layerNdjson),
      Layer.provideMerge(listen)
    )
  )
  const inventoryUrl = yield* urlOf("/rpc").pipe(Effect.provide(inventory))
  const OrdersLive = HttpApiBuilder.group(Gateway, "orders", (handlers) =>
    Effect.gen(function*() {
      const client = yield* Outbound.make(Inventory, { name: "inventory", credentials: Outbound.forward() })
      return handlers.handle("place", () =>
        Effect.all({ gateway: seen, inventory: client.Reserve() }).pipe(
          Effect.catchAll((error) => Effect.fail(String(error)))
        ))
    }).pipe(
      Effect.provide(
        RpcClient.layerProtocolHttp({ url: inventoryUrl }).pipe(
          Layer.provide(RpcSerialization.layerNdjson),
          Layer.provide(FetchHttpClient.layer)
        )
      )
    ))
  const gateway = yield* Layer.build(
    HttpApiBuilder.serve().pipe(
      Layer.provide(HttpApiBuilder.api(Gateway).pipe(Layer.provide(OrdersLive), Layer.provide(Rest.layer(Gateway)))),
      Layer.provide(trust),
      Layer.provideMerge(listen)
    )
  )
  const gatewayUrl = yield* urlOf("/api/orders").pipe(Effect.provide(gateway))
  const place = (headers: Record<string, string>) =>
    Effect.promise(async () => {
      const res = await fetch(gatewayUrl, { method: "POST", headers })
      return { status: res.status, body: await res.json() as unknown }
    })
  return { provider, place }
}).pipe(Effect.provide(TestIdentityProvider.layer()))

describe("REST gateway to RPC service, over HTTP", () => {
  it.scoped("the tenant the REST request acts for is the one the RPC service sees, derived again from the token", () =>
    Effect.gen(function*() {
      const { place, provider } = yield* setup
      const token = yield* provider.sign({
        sub: "dave",
        tid: "acme",
        tenants: ["initech"],
        scope: "orders.write stock.reserve"
      })
      const own = yield* place({ authorization: `Bearer ${token}` })
      expect(own).toEqual({
        status: 200,
        body: { gateway: { subject: "dave", tenant: "acme" }, inventory: { subject: "dave", tenant: "acme" } }
      })
      const selected = yield* place({ authorization: `Bearer ${token}`, "x-tenant": "initech" })
      expect(selected).toEqual({
        status: 200,
        body: { gateway: { subject: "dave", tenant: "initech" }, inventory: { subject: "dave", tenant: "initech" } }
      })
    }))

  it.scoped("the service decides again: a token the gateway accepts but the service's policy refuses fails there", () =>
    Effect.gen(function*() {
      const { place, provider } = yield* setup
      const token = yield* provider.sign({ sub: "erin", tid: "acme", scope: "orders.write" })
      const res = yield* place({ authorization: `Bearer ${token}` })
      // The gateway's handler maps the service's refusal to its own 502; the service's reason travels with it.
      expect(res.status).toBe(502)
      expect(String(res.body)).toContain("missing_scope")
    }))

  it.scoped("a tenant the token does not sign is refused at the gateway, before any call is made", () =>
    Effect.gen(function*() {
      const { place, provider } = yield* setup
      const token = yield* provider.sign({ sub: "dave", tid: "acme", scope: "orders.write stock.reserve" })
      const res = yield* place({ authorization: `Bearer ${token}`, "x-tenant": "globex" })
      expect(res.status).toBe(403)
      expect(res.body).toMatchObject({ reason: "tenant_not_signed" })
    }))
})
