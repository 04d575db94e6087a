import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import { AuditLog, Authenticator, Permission, Policy, Principal } from "@warden/core"
import { CurrentScopes, CurrentTenant, CurrentUser } from "@warden/core"
import { Outbound, Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"

export const Catalogue = Permission.catalogue("inventory:stock:read", "inventory:stock:reserve", "tenant:user:list")

/** What a handler saw: the tenant, user and scopes Warden gave it. */
export const Seen = Schema.Struct({
  tenant: Schema.String,
  subject: Schema.String,
  scopes: Schema.Array(Schema.String),
  payloadTenant: Schema.String
})

export const Inventory = RpcGroup.make(
  Rpc.make("Reserve", {
    payload: { tenant: Schema.String, sku: Schema.String, quantity: Schema.Number },
    success: Seen
  }),
  Rpc.make("ReadStock", { payload: { tenant: Schema.String }, success: Seen }),
  Rpc.make("Health", { success: Schema.String }),
  Rpc.make("Unguarded", { success: Schema.String })
)

export const Api = Protected.group(Inventory, {
  Reserve: Policy.scope("orders.write"),
  ReadStock: Policy.permission(Catalogue, "inventory:stock:read"),
  Health: Protected.Public,
  Unguarded: Policy.authenticated
})

const seen = (payloadTenant: string) =>
  Effect.gen(function*() {
    const tenant = yield* CurrentTenant
    const user = yield* CurrentUser
    const { scopes } = yield* CurrentScopes
    return { tenant, subject: user.subject, scopes: scopes.tokens, payloadTenant }
  })

export const HandlersLive = Protected.toLayer(Api, {
  Reserve: (payload) => seen(payload.tenant),
  ReadStock: (payload) => seen(payload.tenant),
  // A public procedure never sees a caller, whatever ran before it on the same connection.
  Health: () => Effect.map(Effect.serviceOption(CurrentUser), (user) => user._tag === "Some" ? "leaked" : "ok"),
  Unguarded: () => Effect.map(CurrentUser, (user) => user.subject)
})

const issuer = "https://identity.test"

export const principals = {
  alice: Principal.make({ subject: "alice", tenant: "acme", issuer, scopes: ["orders.write", "openid"] }),
  bob: Principal.make({ subject: "bob", tenant: "globex", issuer, scopes: ["orders.write"] }),
  carol: Principal.make({ subject: "carol", tenant: "acme", issuer, scopes: ["orders.read"] }),
  dave: Principal.make({
    subject: "dave",
    tenant: "acme",
    tenants: ["acme", "initech"],
    issuer,
    scopes: ["orders.write"],
    permissions: { allow: ["inventory:*"], deny: ["inventory:stock:reserve"] }
  }),
  erin: Principal.make({
    subject: "erin",
    tenant: "acme",
    issuer,
    permissions: { allow: ["inventory:stock:*"], deny: ["inventory:stock:read"] }
  })
} as const

export type Who = keyof typeof principals

/** The bearer token each test principal is known by. */
export const tokenOf = (who: Who): string => `token-of-${who}.abc_DEF-123`

/** Counts calls to the authenticator, to prove a request is authenticated once. */
export class AuthCount extends Effect.Service<AuthCount>()("test/AuthCount", {
  effect: Ref.make(0)
}) {}

export const AuthenticatorLive = Layer.effect(
  Authenticator.Authenticator,
  Effect.gen(function*() {
    const count = yield* AuthCount
    const inner = yield* Authenticator.Authenticator
    return {
      authenticate: (credentials) => Effect.zipRight(Ref.update(count, (n) => n + 1), inner.authenticate(credentials))
    }
  })
).pipe(
  Layer.provide(
    Authenticator.layerTest(
      (Object.keys(principals) as Array<Who>).map((who) => [tokenOf(who), principals[who]] as const)
    )
  )
)

/**
 * Everything a server of `Api` needs except a protocol: handlers, middlewares, authenticator, audit log; and
 * for the test's client, the client half of Authentication that leaves headers to the test.
 */
export const ServerDeps = HandlersLive.pipe(
  Layer.merge(Protected.layer),
  Layer.merge(Outbound.layerManual),
  Layer.provideMerge(AuthenticatorLive),
  Layer.provideMerge(AuditLog.layerMemory),
  Layer.provideMerge(AuthCount.Default)
)
