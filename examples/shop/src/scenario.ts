/**
 * The scenario `npm start` runs: an identity service publishing its keys, and
 * an inventory server over real HTTP on loopback that verifies every JWT
 * against them, called as an allowed caller, a caller of another tenant, a
 * caller missing a scope, an anonymous caller and a forger.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import { AuditLog, AuthError } from "@warden/core"
import { JwtVerifier, KeyStore, RevocationStore, TokenIssuer } from "@warden/jwt"
import { Authentication, Outbound, Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import { Identity } from "./identity.js"
import { Inventory, InventoryHandlers, Stock, stockOf } from "./inventory.js"

/** The shop's people: who they are, their tenant, and the scopes their tokens carry. */
const people = {
  "alice@acme": { subject: "alice", tenant: "acme", scope: "orders.write orders.read" },
  "bob@globex": { subject: "bob", tenant: "globex", scope: "orders.write" },
  "carol@acme": { subject: "carol", tenant: "acme", scope: "orders.read" }
} as const

type Person = keyof typeof people

const audience = "https://inventory.shop.test"

/** The inventory server on a free loopback port, verifying JWTs against the identity service's JWKS. */
const inventoryServer = (identity: Identity) =>
  HttpRouter.Default.serve(Authentication.transportHeaders).pipe(
    Layer.provide(RpcServer.layer(Inventory)),
    Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
    Layer.provide(InventoryHandlers),
    Layer.provide(Protected.layer),
    Layer.provide(JwtVerifier.layerAuthenticator),
    Layer.provide(JwtVerifier.layer({ issuers: [identity.issuer], audience })),
    Layer.provide(KeyStore.layer({ jwksUrl: identity.jwksUrl, allowInsecureLoopback: true })),
    Layer.provide(RevocationStore.layerMemory),
    Layer.provide(NodeHttpClient.layerUndici),
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

/** Runs the calls against a live server and returns what happened. */
export const scenario = Effect.gen(function*() {
  const identity = yield* Identity
  const result = yield* calls(identity).pipe(Effect.provide(inventoryServer(identity)))
  return { ...result, identity: identity.issuer }
}).pipe(Effect.scoped)

const calls = (identity: Identity) =>
  Effect.gen(function*() {
    const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`))
    // The scenario plays several people, so it sets each call's authorization header itself.
    const client = yield* RpcClient.make(Inventory).pipe(
      Effect.provide(Outbound.layerManual),
      Effect.provide(
        RpcClient.layerProtocolHttp({ url }).pipe(
          Layer.provide(RpcSerialization.layerNdjson),
          Layer.provide(FetchHttpClient.layer)
        )
      )
    )
    const tokens = {
      "alice@acme": yield* identity.tokenFor(people["alice@acme"], audience),
      "bob@globex": yield* identity.tokenFor(people["bob@globex"], audience),
      "carol@acme": yield* identity.tokenFor(people["carol@acme"], audience)
    }
    const as = (person: Person | undefined) =>
      RpcClient.withHeaders(person === undefined ? {} : { authorization: `Bearer ${tokens[person]}` })

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
    const forger = yield* TokenIssuer.generateKey("ES256")
    const forged = yield* TokenIssuer.sign(forger, {
      iss: identity.issuer,
      aud: audience,
      sub: "mallory",
      tid: "acme",
      scope: "orders.write"
    })
    steps.push(
      yield* step(
        "A token signed by a key the identity service never published",
        "mallory",
        client.Reserve({ tenant: "acme", sku: "anvil", quantity: 1 }).pipe(
          RpcClient.withHeaders({ authorization: `Bearer ${forged}` }),
          Effect.map(() => "reserved")
        )
      )
    )
    const audit = yield* (yield* AuditLog.AuditTrail).byTenant("acme")
    return {
      url,
      steps,
      acmeUntouchedByGlobex: acmeBefore === acmeAfter,
      globexBefore,
      globexAfter: yield* stockOf("globex", "anvil"),
      audit
    }
  })
