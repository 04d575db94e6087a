/**
 * Mutations do what they say: each family is refused for its own reason,
 * every hostile mutation changes the token, re-encodings keep the claims, and
 * a respelling keeps the bytes.
 */
import { expect, layer } from "@effect/vitest"
import type { UnauthenticatedReason } from "@warden/core/AuthError"
import { JwtVerifier } from "@warden/jwt"
import { Arbitraries, Mutation, TestIdentityProvider, TokenRecipe } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"

const Kit = TestIdentityProvider.layerVerifier().pipe(Layer.provideMerge(TestIdentityProvider.layer()))

const claims = { sub: "alice", client_id: "shop", tid: "acme", tenants: ["globex"], scope: "orders.write" }

const reasonOf = <A>(exit: Exit.Exit<A, { readonly _tag: string; readonly reason: string }>) =>
  Exit.isSuccess(exit) ?
    "ok" :
    exit.cause._tag === "Fail" && exit.cause.error._tag === "Unauthenticated" ?
    exit.cause.error.reason :
    `not an Unauthenticated failure: ${exit.cause._tag}`

const decode = (segment: string) => JSON.parse(Buffer.from(segment, "base64url").toString("utf8")) as unknown

const spelling: Mutation.Spelling = { rotate: 1, reverse: true, spaced: true, escapeEvery: 2 }

const cases: ReadonlyArray<readonly [Mutation.Mutation, UnauthenticatedReason | "ok"]> = [
  [{ _tag: "Truncated", segment: "signature", keep: 0 }, "malformed"],
  [{ _tag: "Truncated", segment: "claims", keep: 0 }, "malformed"],
  [{ _tag: "Respell", spelling: "padding", segment: "signature", position: 0 }, "malformed"],
  [{ _tag: "Respell", spelling: "standard-alphabet", segment: "header", position: 0 }, "malformed"],
  [{ _tag: "Respell", spelling: "trailing-bits", segment: "signature", position: 0 }, "malformed"],
  [{ _tag: "Respell", spelling: "space", segment: "header", position: 0 }, "malformed"],
  [{ _tag: "Respell", spelling: "line-break", segment: "header", position: 40 }, "malformed"],
  [{ _tag: "HeaderTamper", member: "alg", value: "none" }, "algorithm"],
  [{ _tag: "HeaderTamper", member: "alg", value: "HS256" }, "algorithm"],
  [{ _tag: "HeaderTamper", member: "kid", value: "forged-kid" }, "unknown_key"],
  [{ _tag: "HeaderTamper", member: "kid", value: undefined }, "signature"],
  [{ _tag: "HeaderTamper", member: "typ", value: undefined }, "signature"],
  [{ _tag: "HeaderTamper", member: "cty", value: "JWT" }, "malformed"],
  [{ _tag: "ClaimTamper", edit: "add-scope" }, "signature"],
  [{ _tag: "ClaimTamper", edit: "extend-expiry" }, "signature"],
  [{ _tag: "ClaimTamper", edit: "drop-token-id" }, "signature"],
  [{ _tag: "WrongTenant", claim: "tid", tenant: "globex" }, "signature"],
  [{ _tag: "WrongTenant", claim: "tid", tenant: "acme" }, "signature"],
  [{ _tag: "WrongTenant", claim: "tenants", tenant: "umbrella" }, "signature"],
  [{ _tag: "DuplicateMember", part: "claims", member: "tid", resigned: true }, "malformed"],
  [{ _tag: "DuplicateMember", part: "header", member: "kid", resigned: false }, "malformed"],
  [{ _tag: "Expired", secondsAgo: 31 }, "expired"],
  [{ _tag: "NotYetValid", claim: "nbf", secondsAhead: 31 }, "not_yet_valid"],
  [{ _tag: "NotYetValid", claim: "iat", secondsAhead: 31 }, "not_yet_valid"],
  [{ _tag: "Misissued", flaw: "audience-elsewhere" }, "audience"],
  [{ _tag: "Misissued", flaw: "audience-suffixed" }, "audience"],
  [{ _tag: "Misissued", flaw: "issuer-suffixed" }, "issuer"],
  [{ _tag: "Misissued", flaw: "no-expiry" }, "claims"],
  [{ _tag: "Misissued", flaw: "no-subject" }, "claims"],
  [{ _tag: "Misissued", flaw: "lifetime-too-long" }, "lifetime"],
  [{ _tag: "Misissued", flaw: "type-jwt" }, "type"],
  [{ _tag: "Misissued", flaw: "nested-jwt" }, "malformed"],
  [{ _tag: "Misissued", flaw: "unknown-critical-header" }, "malformed"],
  [{ _tag: "Misissued", flaw: "algorithm-mismatch" }, "unknown_key"],
  [{ _tag: "MalformedClaim", claim: "tid", value: 42 }, "claims"],
  [{ _tag: "MalformedClaim", claim: "scope", value: "orders.write  admin" }, "claims"],
  [{ _tag: "MalformedClaim", claim: "permissions", value: "inventory:*" }, "claims"],
  [{ _tag: "ForeignKey", kid: "issuer" }, "signature"],
  [{ _tag: "ForeignKey", kid: "own" }, "unknown_key"],
  [{ _tag: "KeyConfusion", secret: "jwk-json" }, "algorithm"],
  [{ _tag: "EmbeddedKey", member: "jwk", kid: "issuer" }, "signature"],
  [{ _tag: "EmbeddedKey", member: "jku", kid: "own" }, "unknown_key"],
  [{ _tag: "Resigned" }, "ok"],
  [{ _tag: "EcdsaTwin" }, "ok"],
  [{ _tag: "Reserialised", part: "header", spelling }, "ok"],
  [{ _tag: "Reserialised", part: "claims", spelling }, "ok"]
]

layer(Kit)("Mutation", (it) => {
  it.effect("each family is refused for its own reason; equivalent re-encodings verify", () =>
    Effect.gen(function*() {
      const verifier = yield* JwtVerifier.JwtVerifier
      const outcomes: Array<readonly [Mutation.Mutation, string]> = []
      for (const [mutation] of cases) {
        const { token, valid } = yield* TokenRecipe.bake({ claims, mutation })
        expect(reasonOf(yield* Effect.exit(verifier.verify(valid)))).toBe("ok")
        outcomes.push([mutation, reasonOf(yield* Effect.exit(verifier.verify(token)))])
      }
      expect(outcomes).toEqual(cases)
    }))

  it.effect.prop(
    "every hostile mutation changes the token",
    [Arbitraries.hostileToken()],
    ([recipe]) =>
      Effect.gen(function*() {
        const { token, valid } = yield* TokenRecipe.bake(recipe)
        expect(token).not.toBe(valid)
      }),
    { fastCheck: { numRuns: 300 } }
  )

  it.effect.prop(
    "an equivalent re-encoding is another string, with the same claims, verifying to the same principal",
    [Arbitraries.claims(), Arbitraries.equivalentReEncoding],
    ([claims, mutation]) =>
      Effect.gen(function*() {
        const verifier = yield* JwtVerifier.JwtVerifier
        const { token, valid } = yield* TokenRecipe.bake({ claims, mutation })
        // ES256 signs with a fresh nonce each time, and the twin differs from the signature: never the same string.
        expect(token).not.toBe(valid)
        expect(decode(token.split(".")[1]!)).toEqual(decode(valid.split(".")[1]!))
        expect(decode(token.split(".")[0]!)).toEqual(decode(valid.split(".")[0]!))
        const [original, reEncoded] = [yield* verifier.verify(valid), yield* verifier.verify(token)]
        expect(reEncoded).toEqual(original)
      }),
    { fastCheck: { numRuns: 300 } }
  )

  it.effect.prop(
    "a respelling is the same bytes: decoded leniently it is the original token",
    [Arbitraries.claims(), Arbitraries.reEncoding.filter((m) => m._tag === "Respell")],
    ([claims, mutation]) =>
      Effect.gen(function*() {
        const { token, valid } = yield* TokenRecipe.bake({ claims, mutation })
        const lenient = token.replace(/\s/g, "").split(".").map((s) => Buffer.from(s, "base64").toString("base64url"))
        expect(token).not.toBe(valid)
        expect(lenient.join(".")).toBe(valid)
      }),
    { fastCheck: { numRuns: 300 } }
  )

  it.effect("mutations sign with the key that signed the token, even after a rotation", () =>
    Effect.gen(function*() {
      const provider = yield* TestIdentityProvider.TestIdentityProvider
      const verifier = yield* JwtVerifier.JwtVerifier
      const valid = yield* provider.sign(claims)
      const kid = (decode(valid.split(".")[0]!) as { kid: string }).kid
      yield* provider.rotate
      const resigned = yield* Mutation.apply(valid, { _tag: "Resigned" })
      expect((decode(resigned.split(".")[0]!) as { kid: string }).kid).toBe(kid)
      expect(reasonOf(yield* Effect.exit(verifier.verify(resigned)))).toBe("ok")
    }))

  it.effect("the hostile arbitrary reaches every segment with its bit flips", () =>
    Effect.sync(() => {
      const flips = FastCheck.sample(Arbitraries.hostileMutation, { numRuns: 3000, seed: 11 }).flatMap((m) =>
        m._tag === "BitFlip" ? [m.segment] : []
      )
      expect(new Set(flips)).toEqual(new Set(["header", "claims", "signature"]))
    }))
})
