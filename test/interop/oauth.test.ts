/**
 * Client credentials against a real OpenID provider: the token obtained for a
 * resource indicator verifies through @warden/jwt, tokens are kept per
 * (resource, scope), first callers share one request, and refresh happens
 * ahead of expiry on the provider's clock (real time).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { ClientCredentials, Introspection } from "@warden/oauth"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { OidcClients, OidcProvider } from "../support/oidcProvider.js"
import type { OidcProviderHandle } from "../support/oidcProvider.js"
import { verifierFor } from "../support/verifier.js"

const ordersClient = (provider: OidcProviderHandle) =>
  ClientCredentials.make({
    tokenEndpoint: provider.tokenEndpoint,
    clientId: "orders",
    clientSecret: Redacted.make(OidcClients.orders.secret),
    allowInsecureLoopback: true
  })

/** Real time passes (the provider stamps real times): bounded waits only. */
const realSleep = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

describe("client credentials against oidc-provider", () => {
  it.live("the token for a resource verifies through @warden/jwt as the client's service principal", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const client = yield* ordersClient(provider)
      const token = yield* client.source({ resource: provider.resource, scope: "orders.write" }).token
      const verifier = yield* verifierFor(provider, provider.resource)
      const principal = yield* verifier.verify(Redacted.value(token.value))
      expect(principal).toMatchObject({ kind: "service", clientId: "orders", tenant: "acme" })
      expect(principal.scopes.tokens).toEqual(["orders.write"])
      expect(token.scope).toBe("orders.write")
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live("tokens are kept per (resource, scope) and concurrent first callers share one request", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const client = yield* ordersClient(provider)
      const write = client.source({ resource: provider.resource, scope: "orders.write" })
      const read = client.source({ resource: provider.resource, scope: "orders.read" })
      expect(client.source({ resource: provider.resource, scope: "orders.write" })).toBe(write)
      const before = provider.tokenRequests()
      const tokens = yield* Effect.all(Array.from({ length: 1000 }, () => write.token), { concurrency: "unbounded" })
      expect(provider.tokenRequests() - before).toBe(1)
      expect(new Set(tokens.map((t) => Redacted.value(t.value))).size).toBe(1)
      const other = yield* read.token
      expect(Redacted.value(other.value)).not.toBe(Redacted.value(tokens[0]!.value))
      expect(provider.tokenRequests() - before).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live(
    "a short-lived token is refreshed ahead of its expiry, and callers never get an expired one",
    () =>
      Effect.gen(function*() {
        const provider = yield* OidcProvider
        const client = yield* ordersClient(provider)
        const source = client.source({ resource: provider.shortResource, scope: "orders.write" })
        const verifier = yield* verifierFor(provider, provider.shortResource)
        const first = yield* source.token
        const seen = new Set([Redacted.value(first.value)])
        // 4 s tokens refresh at half their lifetime; sample for 6 s: every token handed out still verifies.
        for (let i = 0; i < 12; i++) {
          yield* realSleep(500)
          const token = yield* source.token
          seen.add(Redacted.value(token.value))
          yield* verifier.verify(Redacted.value(token.value))
        }
        expect(seen.size).toBeGreaterThanOrEqual(3)
        expect(provider.tokenRequests()).toBeLessThanOrEqual(seen.size + 1)
      }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)),
    20_000
  )
})

describe("introspection against oidc-provider", () => {
  const introspector = (provider: OidcProviderHandle) =>
    Introspection.make({
      introspectionEndpoint: provider.introspectionEndpoint,
      clientId: "inventory",
      clientSecret: Redacted.make(OidcClients.inventory.secret),
      allowInsecureLoopback: true,
      issuer: provider.issuer
    })

  it.live("an opaque token maps to the same kind of principal as a JWT, tenant included, and is cached", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const client = yield* ordersClient(provider)
      const token = yield* client.source({ resource: provider.opaqueResource, scope: "orders.read" }).token
      expect(Redacted.value(token.value)).not.toContain(".")
      const authenticator = yield* introspector(provider)
      const before = provider.requests()
      const principal = yield* authenticator.authenticate({ _tag: "Bearer", token: token.value })
      expect(principal).toMatchObject({
        kind: "service",
        subject: "orders",
        clientId: "orders",
        tenant: "acme",
        issuer: provider.issuer,
        authenticatedBy: "introspection"
      })
      expect(principal.scopes.tokens).toEqual(["orders.read"])
      yield* Effect.all(
        Array.from({ length: 50 }, () => authenticator.authenticate({ _tag: "Bearer", token: token.value })),
        { concurrency: "unbounded" }
      )
      expect(provider.requests() - before).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live("an unknown token is inactive; a wrong introspection secret fails closed as unavailable", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const authenticator = yield* introspector(provider)
      const unknown = yield* Effect.flip(
        authenticator.authenticate({ _tag: "Bearer", token: Redacted.make("no-such-token") })
      )
      expect(unknown).toMatchObject({ reason: "inactive", code: "invalid_token" })
      const wrong = yield* Introspection.make({
        introspectionEndpoint: provider.introspectionEndpoint,
        clientId: "inventory",
        clientSecret: Redacted.make("not-the-secret"),
        allowInsecureLoopback: true
      })
      const refused = yield* Effect.flip(wrong.authenticate({ _tag: "Bearer", token: Redacted.make("t") }))
      expect(refused).toMatchObject({ reason: "unavailable" })
      expect(JSON.stringify(refused)).not.toContain("not-the-secret")
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))
})
