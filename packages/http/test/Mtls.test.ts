/**
 * mTLS service identity over a real TLS server on loopback: a test CA, a
 * server certificate and client certificates are made in the test with the
 * `openssl` command, in a temporary directory. The server asks for a client
 * certificate and lets Warden decide: no certificate, one from another CA,
 * an unknown SAN, an expired one, and a good one; a header claiming a
 * certificate counts for nothing.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog, CurrentTenant, CurrentUser, PeerIdentity, Policy } from "@warden/core"
import { Protected } from "@warden/http"
import { TestPki } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Http from "node:http"
import { createServer, request } from "node:https"

const Api = HttpApi.make("inventory").add(
  Protected.group(
    HttpApiGroup.make("stock").add(
      HttpApiEndpoint.get("read", "/stock").addSuccess(Schema.Struct({ subject: Schema.String, tenant: Schema.String }))
    ),
    { read: Policy.service("orders") }
  )
)
const StockLive = HttpApiBuilder.group(
  Api,
  "stock",
  (h) =>
    h.handle("read", () => Effect.all({ subject: Effect.map(CurrentUser, (u) => u.subject), tenant: CurrentTenant }))
)

const serve = Effect.gen(function*() {
  const pki = yield* TestPki.make({
    clients: {
      orders: { san: "URI:spiffe://shop.test/orders" },
      mallory: { san: "URI:spiffe://shop.test/mallory" },
      forged: { san: "URI:spiffe://shop.test/orders", otherCa: true },
      expired: { san: "URI:spiffe://shop.test/orders", days: -1 }
    }
  })
  const tls = () =>
    createServer({
      ...pki.server,
      ca: [pki.ca],
      requestCert: true,
      rejectUnauthorized: false
    }) as unknown as Http.Server
  const context = yield* Layer.build(
    HttpApiBuilder.serve().pipe(
      Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(StockLive), Layer.provide(Protected.layer(Api)))),
      Layer.provide(
        PeerIdentity.layerAuthenticator({
          "spiffe://shop.test/orders": { subject: "orders", tenant: "acme", tenants: ["globex"] }
        })
      ),
      Layer.provide(AuditLog.layerMemory),
      Layer.provideMerge(NodeHttpServer.layer(tls, { host: "127.0.0.1", port: 0 }))
    )
  )
  const address = yield* HttpServer.addressWith((a) => Effect.succeed(a)).pipe(Effect.provide(context))
  const port = address._tag === "TcpAddress" ? address.port : 0
  const get = (client: string | undefined, headers: Record<string, string> = {}) =>
    Effect.async<{ status: number; body: Record<string, unknown> }>((resume) => {
      const req = request({
        host: "127.0.0.1",
        port,
        path: "/stock",
        ca: pki.ca,
        headers,
        agent: false,
        ...(client === undefined ? {} : pki.client(client))
      }, (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => (text += chunk))
        res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body: JSON.parse(text) })))
      })
      req.on("error", (e) => resume(Effect.die(e)))
      req.end()
    })
  return { get }
})

describe("mTLS service identity over a real TLS server", () => {
  it.live(
    "a verified certificate naming a known service authenticates as it; anything else is refused",
    () =>
      Effect.gen(function*() {
        const { get } = yield* serve
        expect(yield* get("orders")).toEqual({ status: 200, body: { subject: "orders", tenant: "acme" } })
        expect(yield* get("orders", { "x-tenant": "globex" })).toEqual({
          status: 200,
          body: { subject: "orders", tenant: "globex" }
        })
        expect(yield* get(undefined)).toMatchObject({ status: 401, body: { reason: "missing_credentials" } })
        expect(yield* get("forged")).toMatchObject({ status: 401, body: { reason: "signature" } })
        expect(yield* get("mallory")).toMatchObject({ status: 401, body: { reason: "inactive" } })
        expect(yield* get("expired")).toMatchObject({ status: 401, body: { reason: "expired" } })
        // What a client can set counts for nothing: the identity is the socket's.
        const spoofed = yield* get(undefined, {
          "x-client-cert": "URI:spiffe://shop.test/orders",
          "x-forwarded-client-cert": "x"
        })
        expect(spoofed).toMatchObject({ status: 401, body: { reason: "missing_credentials" } })
      }).pipe(Effect.scoped),
    30_000
  )
})
