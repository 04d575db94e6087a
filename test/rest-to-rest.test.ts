/**
 * HttpApi to HttpApi: a gateway whose handler calls an inventory service
 * through `@warden/http`'s `Outbound.client`, two real HTTP servers on
 * loopback. Forwarding carries the caller's token and the tenant the request
 * acts for; the inventory derives the tenant again; a client that would send
 * nothing inside an authenticated request fails before sending.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog, CurrentTenant, CurrentUser, Policy } from "@warden/core"
import { Outbound, Protected } from "@warden/http"
import { TokenSource } from "@warden/oauth"
import { TestIdentityProvider } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createServer } from "node:http"

const Seen = Schema.Struct({ subject: Schema.String, tenant: Schema.String })
const seen = Effect.all({ subject: Effect.map(CurrentUser, (u) => u.subject), tenant: CurrentTenant })

const InventoryApi = HttpApi.make("inventory").add(
  Protected.group(
    HttpApiGroup.make("stock").add(HttpApiEndpoint.get("read", "/api/stock").addSuccess(Seen)),
    { read: Policy.scope("stock.read") }
  )
)

const Via = Schema.Literal("forward", "service", "anonymous")
const GatewayApi = HttpApi.make("gateway").add(
  Protected.group(
    HttpApiGroup.make("orders").add(
      HttpApiEndpoint.get("place", "/api/orders/:via")
        .setPath(Schema.Struct({ via: Via }))
        .addSuccess(Schema.Struct({ gateway: Seen, inventory: Seen }))
        .addError(Schema.String, { status: 502 })
    ),
    { place: Policy.scope("orders.write") }
  )
)

const listen = NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 })
const baseUrl = HttpServer.addressFormattedWith((address) => Effect.succeed(address))

const setup = Effect.gen(function*() {
  const provider = yield* TestIdentityProvider.TestIdentityProvider
  // The gateway's own token: a service acting for acme and initech, not globex.
  const serviceToken = yield* provider.sign({
    sub: "gateway",
    client_id: "gateway",
    tid: "acme",
    tenants: ["initech"],
    scope: "stock.read"
  })
  const trust = Layer.mergeAll(TestIdentityProvider.layerAuthenticator(), AuditLog.layerMemory)
  const inventory = yield* Layer.build(
    HttpApiBuilder.serve().pipe(
      Layer.provide(
        HttpApiBuilder.api(InventoryApi).pipe(
          Layer.provide(HttpApiBuilder.group(InventoryApi, "stock", (handlers) => handlers.handle("read", () => seen))),
          Layer.provide(Protected.layer(InventoryApi))
        )
      ),
      Layer.provide(trust),
      Layer.provideMerge(listen)
    )
  )
  const inventoryUrl = `${yield* baseUrl.pipe(Effect.provide(inventory))}/api/stock`
  const OrdersLive = HttpApiBuilder.group(GatewayApi, "orders", (handlers) =>
    Effect.gen(function*() {
      const forwarding = yield* Outbound.client("inventory", Outbound.forward())
      const anonymous = yield* Outbound.client("inventory", Outbound.anonymous)
      const service = yield* Outbound.client(
        "inventory",
        Outbound.service(
          TokenSource.fixed("gateway", { value: Redacted.make(serviceToken), expiresAt: 1e15, scope: undefined })
        )
      )
      const clients = { forward: forwarding, service, anonymous }
      return handlers.handle("place", ({ path }) =>
        Effect.all({
          gateway: seen,
          inventory: clients[path.via].get(inventoryUrl).pipe(
            Effect.flatMap((response): Effect.Effect<typeof Seen.Type, unknown> =>
              response.status === 200 ?
                HttpClientResponse.schemaBodyJson(Seen)(response) :
                Effect.flatMap(response.text, (text) => Effect.fail(`inventory answered ${response.status}: ${text}`))
            )
          )
        }).pipe(Effect.catchAll((error) => Effect.fail(String(error)))))
    })).pipe(Layer.provide(NodeHttpClient.layerUndici))
  const gateway = yield* Layer.build(
    HttpApiBuilder.serve().pipe(
      Layer.provide(
        HttpApiBuilder.api(GatewayApi).pipe(Layer.provide(OrdersLive), Layer.provide(Protected.layer(GatewayApi)))
      ),
      Layer.provide(trust),
      Layer.provideMerge(listen)
    )
  )
  const gatewayUrl = yield* baseUrl.pipe(Effect.provide(gateway))
  const place = (via: string, headers: Record<string, string>) =>
    Effect.promise(async () => {
      const res = await fetch(`${gatewayUrl}/api/orders/${via}`, { headers })
      return { status: res.status, body: await res.json() as unknown }
    })
  return { provider, place }
}).pipe(Effect.provide(TestIdentityProvider.layer()))

describe("REST gateway to REST service, over HTTP", () => {
  it.scoped("a forwarding client carries the caller's token and selected tenant; the service derives it again", () =>
    Effect.gen(function*() {
      const { place, provider } = yield* setup
      const token = yield* provider.sign({
        sub: "dave",
        tid: "acme",
        tenants: ["initech"],
        scope: "orders.write stock.read"
      })
      const res = yield* place("forward", { authorization: `Bearer ${token}`, "x-tenant": "initech" })
      expect(res).toEqual({
        status: 200,
        body: { gateway: { subject: "dave", tenant: "initech" }, inventory: { subject: "dave", tenant: "initech" } }
      })
    }))

  it.scoped("a service-token client sends the service's token, acting for the request's tenant only if it signs it", () =>
    Effect.gen(function*() {
      const { place, provider } = yield* setup
      const token = yield* provider.sign({
        sub: "dave",
        tid: "acme",
        tenants: ["initech", "globex"],
        scope: "orders.write"
      })
      const signed = yield* place("service", { authorization: `Bearer ${token}`, "x-tenant": "initech" })
      expect(signed).toEqual({
        status: 200,
        body: { gateway: { subject: "dave", tenant: "initech" }, inventory: { subject: "gateway", tenant: "initech" } }
      })
      const unsigned = yield* place("service", { authorization: `Bearer ${token}`, "x-tenant": "globex" })
      expect(unsigned.status).toBe(502)
      expect(String(unsigned.body)).toContain("tenant_not_signed")
    }))

  it.scoped("a client that would send no token inside an authenticated request fails before sending", () =>
    Effect.gen(function*() {
      const { place, provider } = yield* setup
      const token = yield* provider.sign({ sub: "dave", tid: "acme", scope: "orders.write stock.read" })
      const res = yield* place("anonymous", { authorization: `Bearer ${token}` })
      expect(res.status).toBe(502)
      expect(String(res.body)).toContain("MissingCredentials")
    }))
})
