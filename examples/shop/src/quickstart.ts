import { HttpRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Rpc, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { AuditLog, CurrentTenant, CurrentUser, Policy } from "@warden/core"
import { JwtVerifier } from "@warden/jwt"
import { Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { createServer } from "node:http"

const Inventory = RpcGroup.make(Rpc.make("Reserve", { payload: { sku: Schema.String }, success: Schema.String }))
// Every procedure declares a policy or Protected.Public; leaving one out is a compile error.
const Api = Protected.group(Inventory, { Reserve: Policy.scope("orders.write") })
const Handlers = Protected.toLayer(Api, { // a handler of a Public procedure could not use CurrentUser
  Reserve: ({ sku }) => Effect.map(Effect.all([CurrentUser, CurrentTenant]), ([u, t]) => `${u.subject}@${t} ${sku}`)
})

const issuer = "https://id.example.com" // tokens from this issuer, for this audience, keys from its JWKS
export const Server = HttpRouter.Default.serve().pipe(
  Layer.provide(RpcServer.layer(Api)),
  Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
  Layer.provide([Handlers, Protected.layer]), // Protected.layer: Warden's four middlewares
  Layer.provide(
    JwtVerifier.layerIssuer({ issuer, audience: "https://inventory.example.com", jwksUrl: `${issuer}/jwks` })
  ),
  Layer.provide([AuditLog.layerLogger, RpcSerialization.layerNdjson]),
  Layer.provide(NodeHttpServer.layer(createServer, { port: 3000 }))
)
