import { describe, expect, it } from "@effect/vitest"
import { TokenIssuer } from "@warden/jwt"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { setup } from "./support/verifier.js"

const reasonOf = <A>(exit: Exit.Exit<A, { readonly reason: string }>) =>
  Exit.isSuccess(exit) ? "ok" : exit.cause._tag === "Fail" ? exit.cause.error.reason : `defect: ${exit.cause._tag}`

describe("JwtVerifier", () => {
  it.scoped("verifies a token from the issuer's JWKS into a principal", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const principal = yield* verifier.verify(yield* sign({ client_id: "web" }))
      expect(principal).toMatchObject({
        kind: "user",
        subject: "alice",
        tenant: "acme",
        tenants: ["acme"],
        clientId: "web",
        issuer: "https://identity.test",
        authenticatedBy: "jwt"
      })
      expect(principal.scopes.tokens).toEqual(["orders.write"])
    }))

  it.scoped("a client-credentials token (sub = client_id) is a service principal", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const principal = yield* verifier.verify(yield* sign({ sub: "orders", client_id: "orders" }))
      expect(principal.kind).toBe("service")
    }))

  it.scoped("refuses what it must, each with its reason", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const cases: Array<[string, Effect.Effect<string>]> = [
        ["issuer", sign({ iss: "https://evil.test" })],
        ["audience", sign({ aud: "https://other.test" })],
        ["expired", sign({ exp: -31 })],
        ["type", sign({}, { header: { typ: "JWT" } })],
        ["claims", sign({ tid: 42 })],
        ["claims", sign({ tid: "" })],
        ["claims", sign({ tid: undefined })],
        ["lifetime", sign({}, { lifetimeSeconds: 7 * 24 * 3600 })],
        ["claims", sign({ scope: "orders.write  orders.read" })]
      ]
      for (const [reason, token] of cases) {
        expect([reason, reasonOf(yield* Effect.exit(verifier.verify(yield* token)))]).toEqual([reason, reason])
      }
      expect(reasonOf(yield* Effect.exit(verifier.verify("a.b")))).toBe("malformed")
      expect(reasonOf(yield* Effect.exit(verifier.verify("x".repeat(9000))))).toBe("too_large")
    }))

  it.scoped("a revoked token stays revoked on the cached path", () =>
    Effect.gen(function*() {
      const { revocations, sign, verifier } = yield* setup()
      const token = yield* sign({ jti: "t-1" })
      yield* verifier.verify(token)
      yield* revocations.revoke({ issuer: "https://identity.test", tokenId: "t-1" }, 4_000_000_000)
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("revoked")
    }))

  it.scoped("a token signed by a key that is not in the set is unknown_key", () =>
    Effect.gen(function*() {
      const { claims, verifier } = yield* setup()
      const stranger = yield* TokenIssuer.generateKey("ES256")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* TokenIssuer.sign(stranger, claims))))).toBe(
        "unknown_key"
      )
    }))
})
