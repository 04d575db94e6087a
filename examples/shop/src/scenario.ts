/**
 * The scenario `npm start` runs: an inventory server over real HTTP on
 * loopback, called as an allowed caller, a caller of another tenant, a caller
 * missing a scope, and an anonymous caller.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import { AuditLog, Authenticator, AuthError, Principal } from "@warden/core"
import { Authentication, Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import { Inventory, InventoryHandlers, Stock, stockOf } from "./inventory.js"

const issuer = "https://identity.shop.example"

/**
 * The callers. Until `@warden/jwt` verifies signed tokens, the example uses
 * Warden's test authenticator: a fixed table of opaque tokens.
 */
const people = {
  "alice@acme": Principal.make({ subject: "alice", tenant: "acme", issuer, scopes: ["orders.write", "orders.read"] }),
  "bob@globex": Principal.make({ subject: "bob", tenant: "globex", issuer, scopes: ["orders.write"] }),
  "carol@acme": Principal.make({ subject: "carol", tenant: "acme", issuer, scopes: ["orders.read"] })
} as const

type Person = keyof typeof people

const tokenOf = (person: Person) => `demo-token-${person.replace("@", "-at-")}`

const AuthenticatorLive = Authenticator.layerTest(
  (Object.keys(people) as Array<Person>).map((p) => [tokenOf(p), people[p]] as const)
)

/** The inventory server on a free loopback port, with Warden's middlewares and an in-memory audit log. */
const ServerLive = HttpRouter.Default.serve(Authentication.transportHeaders).pipe(
  Layer.provide(RpcServer.layer(Inventory)),
  Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
  Layer.provide(InventoryHandlers),
  Layer.provide(Protected.layer),
  Layer.provide(AuthenticatorLive),
  Layer.provideMerge(AuditLog.layerMemory),
  Layer.provideMerge(Stock.Default),
  Layer.provide(RpcSerialization.layerNdjson),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
)

/** One step of the scenario, as printed. */
export interface Step {
  readonly title: string
  readonly caller: string
  readonly outcome: "allowed" | "refused"
  readonly detail: string
  readonly http: string
}

const describeFailure = (error: unknown): { detail: string; http: string } => {
  if (AuthError.isAuthError(error)) {
    return {
      detail: `${error._tag} (${error.code ?? "no error code"}, ${error.reason}): ${error.description}`,
      http: `${AuthError.httpStatus(error)} WWW-Authenticate: ${AuthError.wwwAuthenticate(error, { realm: "shop" })}`
    }
  }
  return { detail: String(error), http: "-" }
}

/** Runs the four calls against a live server and returns what happened. */
export const scenario = Effect.gen(function*() {
  const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`))
  const client = yield* RpcClient.make(Inventory).pipe(
    Effect.provide(
      RpcClient.layerProtocolHttp({ url }).pipe(
        Layer.provide(RpcSerialization.layerNdjson),
        Layer.provide(FetchHttpClient.layer)
      )
    )
  )
  const as = (person: Person | undefined) =>
    RpcClient.withHeaders(person === undefined ? {} : { authorization: `Bearer ${tokenOf(person)}` })

  const step = (title: string, caller: string, call: Effect.Effect<string, unknown>) =>
    Effect.match(call, {
      onSuccess: (detail): Step => ({ title, caller, outcome: "allowed", detail, http: "200" }),
      onFailure: (error): Step => ({ title, caller, outcome: "refused", ...describeFailure(error) })
    })

  const reserve = (person: Person | undefined, tenant: string) =>
    client.Reserve({ tenant, sku: "anvil", quantity: 1 }).pipe(
      as(person),
      Effect.map((r) =>
        `reserved 1 ${r.sku} for tenant=${r.tenant} user=${r.user} (payload named tenant=${tenant}); ${r.remaining} left`
      )
    )

  const steps: Array<Step> = []
  steps.push(yield* step("An allowed caller reserves stock", "alice@acme", reserve("alice@acme", "acme")))
  const globexBefore = yield* stockOf("globex", "anvil")
  const acmeBefore = yield* stockOf("acme", "anvil")
  steps.push(
    yield* step(
      "A caller of another tenant names acme in the payload",
      "bob@globex",
      reserve("bob@globex", "acme")
    )
  )
  const acmeAfter = yield* stockOf("acme", "anvil")
  steps.push(yield* step("A caller without the orders.write scope", "carol@acme", reserve("carol@acme", "acme")))
  steps.push(yield* step("An anonymous caller", "(no token)", reserve(undefined, "acme")))
  const audit = yield* (yield* AuditLog.AuditTrail).byTenant("acme")
  return {
    url,
    steps,
    acmeUntouchedByGlobex: acmeBefore === acmeAfter,
    globexBefore,
    globexAfter: yield* stockOf("globex", "anvil"),
    audit
  }
}).pipe(Effect.provide(ServerLive), Effect.scoped)
