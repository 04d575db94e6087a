import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcServer from "@effect/rpc/RpcServer"
import { AuditLog, CurrentTenant, CurrentUser, Policy } from "@warden/core"
import { Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const Inventory = RpcGroup.make(
  Rpc.make("Reserve", { payload: { sku: Schema.String }, success: Schema.String }),
  Rpc.make("Health", { success: Schema.String })
)

// Every procedure declares a policy or Public; leaving one out is a compile error.
const Api = Protected.group(Inventory, {
  Reserve: Policy.scope("orders.write"),
  Health: Protected.Public
})

const Handlers = Protected.toLayer(Api, {
  Reserve: ({ sku }) =>
    Effect.gen(function*() {
      const tenant = yield* CurrentTenant // from the verified token, never the payload
      const user = yield* CurrentUser
      return `${user.subject}@${tenant} reserved ${sku}`
    }),
  Health: () => Effect.succeed("ok") // using CurrentTenant here would not compile
})

export const Server = RpcServer.layer(Api).pipe(
  Layer.provide(Handlers),
  Layer.provide(Protected.layer), // Authentication, TenantContext, ScopeContext, Authorization
  Layer.provide(AuditLog.layerLogger)
) // then an Authenticator (JwtVerifier.layerAuthenticator from @warden/jwt) and an RPC protocol
