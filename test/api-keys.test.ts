/**
 * API keys over real HTTP: a REST gateway and an RPC inventory, both
 * accepting the identity provider's tokens and API keys from one store
 * (`Authenticator.layerByKind`). A key authenticates as the service it names,
 * in `x-api-key` or as the `ApiKey` authorization scheme; a forwarding
 * client carries it to the next hop, which checks it again; two credentials
 * at once, a doubled header and a revoked key are refused.
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
import { ApiKey, AuditLog, Authenticator, Credential, CurrentTenant, CurrentUser, Policy } from "@warden/core"
import { Protected as Rest } from "@warden/http"
import { Outbound, Protected } from "@warden/rpc"
import { TestIdentityProvider } from "@warden/testing"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createServer, request as httpRequest } from "node:http"

const Seen = Schema.Struct({ subject: Schema.String, tenant: Schema.String, via: Schema.String })
const seen = Effect.all({
  subject: Effect.map(CurrentUser, (u) => u.subject),
  tenant: CurrentTenant,
  via: Effect.map(CurrentUser, (u) => u.authenticatedBy)
})

const Inventory = Protected.group(RpcGroup.make(Rpc.make("Stock", { success: Seen })), {
  Stock: Policy.scope("stock.read")
})

const Gateway = HttpApi.make("gateway").add(
  Rest.group(
    HttpApiGroup.make("api").add(
      HttpApiEndpoint.get("stock", "/api/stock")
        .addSuccess(Schema.Struct({ gateway: Seen, inventory: Seen }))
        .addError(Schema.String, { status: 502 })
    ),
    { stock: Policy.scope("stock.read") }
  )
)

const listen = NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 })
const address = HttpServer.addressFormattedWith((a) => Effect.succeed(a))

const setup = Effect.suspend(() => setupWith(undefined))
const setupWith = (header: string | undefined) =>
  Effect.gen(function*() {
    const named = header === undefined ? Layer.empty : Credential.layerApiKeyHeader(header).pipe(Layer.orDie)
    const provider = yield* TestIdentityProvider.TestIdentityProvider
    const store = yield* Layer.build(ApiKey.layerMemory)
    const accepted = Layer.mergeAll(
      Authenticator.layerByKind({
        Bearer: TestIdentityProvider.layerAuthenticator(),
        ApiKey: ApiKey.layerAuthenticator.pipe(Layer.provide(Layer.succeedContext(store)))
      }),
      AuditLog.layerMemory
    )
    const inventory = yield* Layer.build(
      HttpRouter.Default.serve().pipe(
        Layer.provide(RpcServer.layer(Inventory)),
        Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
        Layer.provide(Protected.toLayer(Inventory, { Stock: () => seen })),
        Layer.provide(Protected.layer),
        Layer.provide(accepted),
        Layer.provide(RpcSerialization.layerNdjson),
        Layer.provide(named),
        Layer.provideMerge(listen)
      )
    )
    const inventoryUrl = `${yield* address.pipe(Effect.provide(inventory))}/rpc`
    const ApiLive = HttpApiBuilder.group(Gateway, "api", (handlers) =>
      Effect.gen(function*() {
        const client = yield* Outbound.make(Inventory, { name: "inventory", credentials: Outbound.forward() })
        return handlers.handle("stock", () =>
          Effect.all({ gateway: seen, inventory: client.Stock() }).pipe(
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
        Layer.provide(HttpApiBuilder.api(Gateway).pipe(Layer.provide(ApiLive), Layer.provide(Rest.layer(Gateway)))),
        Layer.provide(accepted),
        Layer.provide(named),
        Layer.provideMerge(listen)
      )
    )
    const port = Number(new URL(yield* address.pipe(Effect.provide(gateway))).port)
    const send = (headers: Record<string, string | ReadonlyArray<string>>) =>
      Effect.async<{ status: number; body: unknown }>((resume) => {
        const req = httpRequest({ host: "127.0.0.1", port, path: "/api/stock", headers: headers as never }, (res) => {
          let text = ""
          res.setEncoding("utf8")
          res.on("data", (chunk: string) => (text += chunk))
          res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body: JSON.parse(text) })))
        })
        req.on("error", (e) => resume(Effect.die(e)))
        req.end()
      })
    const issue = (options: ApiKey.IssueOptions) =>
      Effect.gen(function*() {
        const issued = yield* ApiKey.issue(options)
        yield* Context.get(store, ApiKey.ApiKeyStore).save(issued.stored)
        return issued
      })
    return { provider, send, issue, store }
  }).pipe(Effect.provide(TestIdentityProvider.layer()))

describe("API keys between two real servers", () => {
  it.scoped("a key authenticates as its service at both hops, in x-api-key or the ApiKey scheme", () =>
    Effect.gen(function*() {
      const { issue, send } = yield* setup
      const { key } = yield* issue({ prefix: "wk_test", subject: "billing", tenant: "acme", scopes: ["stock.read"] })
      const expected = {
        status: 200,
        body: {
          gateway: { subject: "billing", tenant: "acme", via: "api_key" },
          inventory: { subject: "billing", tenant: "acme", via: "api_key" }
        }
      }
      expect(yield* send({ "x-api-key": Redacted.value(key) })).toEqual(expected)
      expect(yield* send({ authorization: `ApiKey ${Redacted.value(key)}` })).toEqual(expected)
    }))

  it.scoped("a service that names its own key header reads keys there, and forwards them there", () =>
    Effect.gen(function*() {
      const { issue, send } = yield* setupWith("x-service-key")
      const { key } = yield* issue({ subject: "billing", tenant: "acme", scopes: ["stock.read"] })
      const res = yield* send({ "x-service-key": Redacted.value(key) })
      expect(res).toMatchObject({ status: 200, body: { inventory: { subject: "billing", via: "api_key" } } })
      expect((yield* send({ "x-api-key": Redacted.value(key) })).status).toBe(401)
    }))

  it.scoped("tokens still work beside keys; both at once, or a doubled key header, are refused", () =>
    Effect.gen(function*() {
      const { issue, provider, send } = yield* setup
      const { key } = yield* issue({ subject: "billing", tenant: "acme", scopes: ["stock.read"] })
      const token = yield* provider.sign({ sub: "alice", tid: "acme", scope: "stock.read" })
      expect((yield* send({ authorization: `Bearer ${token}` })).status).toBe(200)
      const both = yield* send({ authorization: `Bearer ${token}`, "x-api-key": Redacted.value(key) })
      expect(both).toMatchObject({ status: 400, body: { reason: "conflicting_credentials" } })
      const twice = yield* send({ "x-api-key": [Redacted.value(key), Redacted.value(key)] })
      expect(twice).toMatchObject({ status: 400, body: { reason: "conflicting_credentials" } })
    }))

  it.scoped("a revoked key, or one without the scope, is refused at the first hop", () =>
    Effect.gen(function*() {
      const { issue, send, store } = yield* setup
      const weak = yield* issue({ subject: "reports", tenant: "acme", scopes: ["reports.read"] })
      expect(yield* send({ "x-api-key": Redacted.value(weak.key) })).toMatchObject({
        status: 403,
        body: { reason: "missing_scope" }
      })
      const { key, stored } = yield* issue({ subject: "billing", tenant: "acme", scopes: ["stock.read"] })
      yield* ApiKey.revoke(stored.id).pipe(Effect.provide(Layer.succeedContext(store)))
      expect(yield* send({ "x-api-key": Redacted.value(key) })).toMatchObject({
        status: 401,
        body: { reason: "revoked" }
      })
    }))
})
