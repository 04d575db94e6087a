/**
 * The servers of the HTTP saturation benchmark, one per process so that the
 * load generator has the other core:
 *
 *   node --import tsx bench/lib/httpServers.ts <kind> <jwksUrl> <auditDir>
 *
 * Kinds: `rpc-plain` (Effect RPC over HTTP, no auth), `rpc-hand` (the same
 * group with one hand-written RPC middleware providing one service from a
 * map keyed by the authorization header), `rpc-warden` (the same
 * group under `Protected.group`, the JwtVerifier on the loopback JWKS, a
 * buffered counting audit sink), `rpc-warden-file` (the same with `AuditFile`),
 * `express-plain` and `express-jwt` (express with express-oauth2-jwt-bearer on
 * the same tokens). Prints `READY <url>` once listening; stops on SIGTERM.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import { AuditLog, CurrentTenant, Permission, Policy } from "@warden/core"
import { JwtVerifier } from "@warden/jwt"
import { AuditFile, Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import express from "express"
import { auth } from "express-oauth2-jwt-bearer"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import * as Hand from "./hand.js"
import { audience, issuer, verifierLayer } from "./identity.js"

const [kind, jwksUrl, auditDir] = process.argv.slice(2) as [string, string, string]

const Inventory = RpcGroup.make(Rpc.make("Reserve", { payload: { sku: Schema.String }, success: Schema.String }))
const Catalogue = Permission.catalogue("inventory:stock:reserve", "inventory:stock:read")
const Api = Protected.group(Inventory, { Reserve: Policy.permission(Catalogue, "inventory:stock:reserve") })

const serveRpc = <R extends Rpc.Any>(
  group: RpcGroup.RpcGroup<R>,
  handlers: Layer.Layer<Rpc.ToHandler<R> | Rpc.Middleware<R>>
) => {
  const server = HttpRouter.Default.serve().pipe(
    Layer.provide(RpcServer.layer(group)),
    Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
    Layer.provide(handlers),
    Layer.provide(RpcSerialization.layerNdjson),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
  ) as unknown as Layer.Layer<HttpServer.HttpServer>
  return Effect.runFork(
    Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(server)
      const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`)).pipe(
        Effect.provide(context)
      )
      console.log(`READY ${url}`)
      return yield* Effect.never
    }))
  )
}

// The hand-written baseline: a caller per distinct authorization header, made when first seen.
const callers = new Map<string, string>()
const callerOf = (authorization: string): string => {
  let caller = callers.get(authorization)
  if (caller === undefined) {
    caller = `caller-${callers.size}`
    callers.set(authorization, caller)
  }
  return caller
}

const counting = Layer.scoped(AuditLog.AuditLog, AuditLog.buffered(() => Effect.void))

// Warden's services are provided to its middlewares only: the handlers' context, which the RPC server copies for
// every request, holds only what the handlers use.
const wardenHandlers = (audit: Layer.Layer<AuditLog.AuditLog>) =>
  Protected.toLayer(Api, {
    Reserve: ({ sku }) => Effect.map(CurrentTenant, (tenant) => `reserved ${sku} for ${tenant}`)
  }).pipe(
    Layer.merge(
      Protected.layer.pipe(
        Layer.provide(JwtVerifier.layerAuthenticator),
        Layer.provide(verifierLayer(jwksUrl)),
        Layer.provide(audit)
      )
    ),
    Layer.orDie
  )

const listenExpress = (app: express.Express) => {
  const server = app.listen(0, "127.0.0.1", () => {
    console.log(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`)
  })
}

switch (kind) {
  case "rpc-plain":
    serveRpc(Inventory, Inventory.toLayer({ Reserve: ({ sku }) => Effect.succeed(`reserved ${sku}`) }))
    break
  case "rpc-hand":
    serveRpc(Hand.HandApi, Hand.layer(callerOf))
    break
  case "rpc-warden":
    serveRpc(Api, wardenHandlers(counting))
    break
  case "rpc-warden-file":
    serveRpc(
      Api,
      wardenHandlers(AuditFile.layer(join(auditDir, "audit.jsonl")).pipe(Layer.provide(NodeFileSystem.layer)))
    )
    break
  case "express-plain":
  case "express-jwt": {
    const app = express()
    app.use(express.text({ type: "*/*" }))
    if (kind === "express-jwt") {
      app.use(auth({ issuer, audience, jwksUri: jwksUrl, tokenSigningAlg: "ES256" }))
    }
    app.post("/rpc", (req, res) => {
      const tenant = (req as { auth?: { payload: { tid?: unknown } } }).auth?.payload.tid ?? "-"
      res.type("application/ndjson").send(
        `${
          JSON.stringify({ _tag: "Exit", requestId: "0", exit: { _tag: "Success", value: `reserved for ${tenant}` } })
        }\n`
      )
    })
    listenExpress(app)
    break
  }
  default:
    console.error(`unknown server kind ${kind}`)
    process.exit(2)
}
process.on("SIGTERM", () => process.exit(0))
