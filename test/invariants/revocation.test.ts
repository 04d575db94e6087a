/**
 * Invariant 4: revocation holds under every re-encoding of a revoked token.
 *
 * A token is revoked by (issuer, `jti`), never by its string, so every other
 * string for the same claims must be refused once it is revoked: re-signed
 * (a fresh ECDSA signature), the signature's ECDSA twin, header or claims
 * reordered, spaced or escaped (then re-signed), or the same bytes spelt
 * non-canonically. Each run checks the re-encoding before the revocation (an
 * equivalent one verifies, so the refusal afterwards is the revocation's
 * doing), revokes, then refuses the original, that re-encoding (cached or
 * not) and a second one made after the revocation.
 */
import { expect, layer } from "@effect/vitest"
import { JwtVerifier } from "@warden/jwt"
import { Arbitraries, Mutation, TestIdentityProvider, TokenRecipe } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { runs } from "./runs.js"

const Kit = TestIdentityProvider.layerVerifier().pipe(Layer.provideMerge(TestIdentityProvider.layer()))

const reasonOf = <A>(exit: Exit.Exit<A, { readonly reason: string }>) =>
  Exit.isSuccess(exit) ? "ok" : exit.cause._tag === "Fail" ? exit.cause.error.reason : `defect: ${exit.cause._tag}`

/** What a re-encoding must come to: the revocation's refusal, or the strict form's. */
const expected = (mutation: Mutation.ReEncoding, revoked: boolean) =>
  Mutation.isEquivalent(mutation) ? (revoked ? "revoked" : "ok") : "malformed"

layer(Kit)("invariant: revocation", (it) => {
  it.effect.prop(
    "a revoked token stays refused under every re-encoding, before or after it is made",
    [Arbitraries.reEncodedToken(), Arbitraries.reEncoding],
    ([recipe, later]) =>
      Effect.gen(function*() {
        const verifier = yield* JwtVerifier.JwtVerifier
        const { token: reEncoded, valid } = yield* TokenRecipe.bake(recipe)
        const principal = yield* verifier.verify(valid)
        expect(principal.tokenId).not.toBeNull()
        expect(reasonOf(yield* Effect.exit(verifier.verify(reEncoded)))).toBe(expected(recipe.mutation, false))

        yield* Effect.orDie(verifier.revoke(principal))
        const afterwards = yield* Mutation.apply(valid, later)
        expect([
          reasonOf(yield* Effect.exit(verifier.verify(valid))),
          reasonOf(yield* Effect.exit(verifier.verify(reEncoded))),
          reasonOf(yield* Effect.exit(verifier.verify(afterwards)))
        ]).toEqual(["revoked", expected(recipe.mutation, true), expected(later, true)])
      }),
    runs()
  )
})
