/**
 * Invariant 2: every mutation of a valid token is rejected with
 * `Unauthenticated` (`invalid_token`), never accepted, never a defect, and
 * never with a description that repeats the token or its signature.
 *
 * Tokens are `TokenRecipe`s: claims of an arbitrary principal, signed by the
 * `TestIdentityProvider` (one per file, with its verifier), then one hostile
 * `Mutation`: tampering without the key, non-canonical spellings, forgeries,
 * and tokens the issuer's key signed wrongly (expired, not yet valid, another
 * audience, a malformed claim...). The unmutated token is verified first in
 * every run: the mutation, not the recipe, is what gets refused.
 */
import { expect, layer } from "@effect/vitest"
import { Unauthenticated } from "@warden/core"
import { JwtVerifier } from "@warden/jwt"
import { Arbitraries, TestIdentityProvider, TokenRecipe } from "@warden/testing"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { runs } from "./runs.js"

const Kit = TestIdentityProvider.layerVerifier().pipe(Layer.provideMerge(TestIdentityProvider.layer()))

layer(Kit)("invariant: tamper rejection", (it) => {
  it.effect.prop(
    "every hostile mutation of a valid token is refused with Unauthenticated, never a defect",
    [Arbitraries.hostileToken()],
    ([recipe]) =>
      Effect.gen(function*() {
        const verifier = yield* JwtVerifier.JwtVerifier
        const { token, valid } = yield* TokenRecipe.bake(recipe)
        expect(Exit.isSuccess(yield* Effect.exit(verifier.verify(valid)))).toBe(true)

        const exit = yield* Effect.exit(verifier.verify(token))
        expect(Exit.isFailure(exit), "the mutated token was accepted").toBe(true)
        if (Exit.isSuccess(exit)) return
        expect(Cause.isFailType(exit.cause), `not a plain failure: ${Cause.pretty(exit.cause)}`).toBe(true)
        const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
        expect(error).toBeInstanceOf(Unauthenticated)
        expect(error?.code).toBe("invalid_token")
        const told = `${error?.description} ${error?.message}`
        const signature = token.split(".")[2] ?? ""
        if (signature.length >= 8) expect(told).not.toContain(signature)
        expect(told).not.toContain(token)
      }),
    runs()
  )
})
