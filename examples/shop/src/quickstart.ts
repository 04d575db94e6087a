import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcServer from "@effect/rpc/RpcServer"
import { AuditLog, CurrentTenant, CurrentUser, Policy } from "@warden/core"
import { JwtVerifier } from "@warden/jwt"
import { Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const Inventory = RpcGroup.make(
  Rpc.make("Reserve", { payload: { sku: Schema.String }, success: Schema.String }),
  Rpc.make("Health", { success: Schema.String })
)
// Every procedure declares a policy or Public; leaving one out is a compile error.
const Api = Protected.group(Inventory, { Reserve: Policy.scope("orders.write"), Health: Protected.Public })

const Handlers = Protected.toLayer(Api, {
  Reserve: ({ sku }) =>
    Effect.map(Effect.all([CurrentUser, CurrentTenant]), ([user, tenant]) => `${user.subject}@${tenant}: ${sku}`),
  Health: () => Effect.succeed("ok") // CurrentTenant here would not compile: Health is Public
})

export const Server = RpcServer.layer(Api).pipe(
  Layer.provide(Handlers),
  Layer.provide(Protected.layer), // Authentication, TenantContext, ScopeContext, Authorization
  Layer.provide(JwtVerifier.layerAuthenticator), // every request's token verified (JwtVerifier.layer, KeyStore.layer)
  Layer.provide(AuditLog.layerLogger)
)
