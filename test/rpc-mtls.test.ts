/**
 * mTLS for an Effect RPC server: the RPC protocol over HTTPS on loopback,
 * the server asking for client certificates (made in the test by TestPki),
 * Warden authenticating the peer certificate the socket verified when the
 * request carries no token. Requests are written as the RPC HTTP protocol's
 * ndjson by node:https, so the client certificate is the only credential.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog, CurrentTenant, CurrentUser, PeerIdentity, Policy } from "@warden/core"
import { Protected } from "@warden/rpc"
import { TestPki } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Http from "node:http"
import { createServer, request } from "node:https"

const Inventory = Protected.group(
  RpcGroup.make(Rpc.make("Stock", { success: Schema.Struct({ subject: Schema.String, tenant: Schema.String }) })),
  { Stock: Policy.service("orders") }
)

const serve = Effect.gen(function*() {
  const pki = yield* TestPki.make({
    clients: {
      orders: { san: "URI:spiffe://shop.test/orders" },
      mallory: { san: "URI:spiffe://shop.test/mallory" },
      forged: { san: "URI:spiffe://shop.test/orders", otherCa: true }
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
    HttpRouter.Default.serve().pipe(
      Layer.provide(RpcServer.layer(Inventory)),
      Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
      Layer.provide(
        Protected.toLayer(Inventory, {
          Stock: () => Effect.all({ subject: Effect.map(CurrentUser, (u) => u.subject), tenant: CurrentTenant })
        })
      ),
      Layer.provide(Protected.layer),
      Layer.provide(
        PeerIdentity.layerAuthenticator({ "spiffe://shop.test/orders": { subject: "orders", tenant: "acme" } })
      ),
      Layer.provide(AuditLog.layerMemory),
      Layer.provide(RpcSerialization.layerNdjson),
      Layer.provideMerge(NodeHttpServer.layer(tls, { host: "127.0.0.1", port: 0 }))
    )
  )
  const address = yield* HttpServer.addressWith((a) => Effect.succeed(a)).pipe(Effect.provide(context))
  const port = address._tag === "TcpAddress" ? address.port : 0
  const body = `${JSON.stringify({ _tag: "Request", id: "0", tag: "Stock", payload: {}, headers: [] })}\n`
  /** The exit of one Stock call, as the server wrote it. */
  const call = (client: string | undefined) =>
    Effect.async<unknown>((resume) => {
      const req = request({
        host: "127.0.0.1",
        port,
        path: "/rpc",
        method: "POST",
        ca: pki.ca,
        agent: false,
        headers: { "content-type": "application/ndjson" },
        ...(client === undefined ? {} : pki.client(client))
      }, (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => (text += chunk))
        res.on("end", () => {
          const exit = text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as { _tag: string })
            .find((m) => m._tag === "Exit") as { exit?: unknown } | undefined
          resume(Effect.succeed(exit?.exit))
        })
      })
      req.on("error", (e) => resume(Effect.die(e)))
      req.end(body)
    })
  return { call }
})

describe("mTLS for Effect RPC over HTTPS", () => {
  it.live(
    "the verified client certificate authenticates the call; none, an unknown one or another CA's do not",
    () =>
      Effect.gen(function*() {
        const { call } = yield* serve
        expect(yield* call("orders")).toEqual({ _tag: "Success", value: { subject: "orders", tenant: "acme" } })
        const reasonOf = (exit: unknown) =>
          JSON.stringify(exit).match(/"reason":"([a-z_]+)"/)?.[1] ?? JSON.stringify(exit)
        expect(reasonOf(yield* call(undefined))).toBe("missing_credentials")
        expect(reasonOf(yield* call("mallory"))).toBe("inactive")
        expect(reasonOf(yield* call("forged"))).toBe("signature")
      }).pipe(Effect.scoped),
    30_000
  )
})
