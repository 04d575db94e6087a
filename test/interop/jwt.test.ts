/**
 * Interop with a real OpenID provider (oidc-provider on loopback): its JWT
 * access tokens, issued by client credentials for a resource indicator,
 * verify through Warden against its real JWKS, including after it rotates its
 * signing key. Runs on the real clock: the provider stamps real times.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { OidcProvider } from "../support/oidcProvider.js"
import type { OidcProviderHandle } from "../support/oidcProvider.js"
import { verifierFor } from "../support/verifier.js"

const token = (provider: OidcProviderHandle, clientId: "orders" | "inventory" | "audit", scope = "orders.write") =>
  Effect.promise(() => provider.clientCredentials({ clientId, scope, resource: provider.resource })).pipe(
    Effect.map((t) => t.accessToken)
  )

describe("interop with oidc-provider", () => {
  it.live("a client-credentials JWT for a resource verifies into a service principal of its tenant", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const verifier = yield* verifierFor(provider)
      const principal = yield* verifier.verify(yield* token(provider, "orders", "orders.write orders.read"))
      expect(principal).toMatchObject({
        kind: "service",
        subject: "orders",
        clientId: "orders",
        tenant: "acme",
        issuer: provider.issuer,
        authenticatedBy: "jwt"
      })
      expect(principal.scopes.tokens).toEqual(["orders.write", "orders.read"])
      expect((yield* verifier.verify(yield* token(provider, "inventory"))).tenant).toBe("globex")
    }).pipe(Effect.scoped))

  it.live("a token without a tenant claim is refused", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const verifier = yield* verifierFor(provider)
      const exit = yield* Effect.exit(verifier.verify(yield* token(provider, "audit")))
      expect(exit).toMatchObject(Exit.fail({ reason: "claims" }))
    }).pipe(Effect.scoped))

  it.live("after the provider rotates its key, old and new tokens both verify, with one refetch", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const verifier = yield* verifierFor(provider)
      const before = yield* token(provider, "orders")
      yield* verifier.verify(before)
      const fetchesBefore = provider.jwksRequests()
      const { kid } = yield* Effect.promise(() => provider.rotate())
      const after = yield* token(provider, "orders")
      expect(JSON.parse(Buffer.from(after.split(".")[0]!, "base64url").toString()).kid).toBe(kid)
      yield* verifier.verify(after)
      yield* verifier.verify(before)
      expect(provider.jwksRequests() - fetchesBefore).toBe(1)
    }).pipe(Effect.scoped))
})
